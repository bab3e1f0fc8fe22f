"""Batches at scale: executors give identical files, a killed or interrupted batch resumes to the same results,
a failing run is recorded and does not stop the batch, sweeps write their design into the runs table."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.designs import Design, DesignKind, Factor
from sim.executors import MAX_CHUNK, DaskExecutor, ProcessExecutor, SerialExecutor, chunk_size
from sim.posterior import load_posterior
from sim.results import BatchStore, drive, load_batch
from sim.runner import BatchPlan, RunTask, execute, run_seeds
from sim.scenario import POSTERIOR_FILE, Scenario, load_scenario
from tests.conftest import ROOT, SCENARIOS

FILES = ("timeseries.parquet", "runs.parquet", "summary.csv", "scenario.yaml")
SERIAL_QUIET = ("--workers", "1", "--quiet", "--no-plots")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_file(tmp_path: Path, months: int = 24, citizens: int = 300) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(
        f"extends: {json.dumps(str(SCENARIOS / 'baseline.yaml'))}\n"
        f"meta: {{name: small, months: {months}}}\n"
        f"publics: {{korea: {{citizens: {citizens}}}, japan: {{citizens: {citizens}}}}}\n"
    )
    return path


def run_store(scenario: Scenario, out: Path, executor: object, runs: int = 6, seed: int = 3) -> None:
    store = BatchStore(out, BatchPlan(scenario, runs, seed))
    store.open()
    drive(store, executor)  # type: ignore[arg-type]
    store.finalize(plots=False)


def test_serial_process_pool_and_dask_write_identical_files(small_baseline: Scenario, tmp_path: Path) -> None:
    # The baseline draws each replication's parameters and start state from the posterior: the draws too must
    # not depend on the executor.
    assert small_baseline.parameters is not None and small_baseline.meta.start_state is not None
    with SerialExecutor() as serial:
        run_store(small_baseline, tmp_path / "serial", serial)
    with ProcessExecutor(2) as pool:
        run_store(small_baseline, tmp_path / "pool", pool)
    with DaskExecutor("local", 2) as dask:
        run_store(small_baseline, tmp_path / "dask", dask)
    for name in FILES:
        assert digest(tmp_path / "serial" / name) == digest(tmp_path / "pool" / name), name
        assert digest(tmp_path / "serial" / name) == digest(tmp_path / "dask" / name), name


def test_chunk_sizes_keep_every_worker_busy_to_the_end() -> None:
    assert chunk_size(None, 2) == 1  # unknown length: one task a message
    assert chunk_size(6, 2) == 1  # a few tasks: one each, so no worker waits on a long last chunk
    assert chunk_size(40, 2) == 2
    assert chunk_size(200, 2) == MAX_CHUNK
    assert chunk_size(10**6, 64) == MAX_CHUNK


def test_chunked_tasks_give_the_files_of_a_serial_batch(small_baseline: Scenario, tmp_path: Path) -> None:
    # 40 runs on 2 workers travel in chunks of 2 (the identity test above is small enough for chunks of 1).
    assert chunk_size(40, 2) > 1
    run_store(small_baseline, tmp_path / "serial", SerialExecutor(), runs=40)
    with ProcessExecutor(2) as pool:
        run_store(small_baseline, tmp_path / "pool", pool, runs=40)
    for name in FILES:
        assert digest(tmp_path / "serial" / name) == digest(tmp_path / "pool" / name), name


def test_a_run_whose_part_is_lost_is_computed_again(small_baseline: Scenario, tmp_path: Path) -> None:
    # A part file is the whole record of a finished run: without it (lost, half-written under its temporary
    # name, or left empty by a power cut) the run is pending again, and computing it again gives the same files.
    whole = tmp_path / "whole"
    run_store(small_baseline, whole, SerialExecutor(), runs=4)
    store = BatchStore(tmp_path / "out", BatchPlan(small_baseline, 4, 3))
    store.open()
    drive(store, SerialExecutor())
    parts = sorted(store.parts.glob("ok-*"))
    assert [p.suffix for p in parts] == [".arrow"] * 4
    parts[2].rename(parts[2].with_name(f".{parts[2].name}.1234abcd.tmp"))
    parts[0].write_bytes(b"")
    assert store.pending() == [0, 2]
    drive(store, SerialExecutor())
    store.finalize(plots=False)
    for name in FILES:
        assert digest(tmp_path / "out" / name) == digest(whole / name), name


def test_dask_tasks_are_not_merged_when_arguments_repeat(small_baseline: Scenario) -> None:
    # Two equal tasks must both run (pure=False); their results are equal because their seeds are.
    task = RunTask(small_baseline, 0, 0, 5)
    with DaskExecutor("local", 1) as dask:
        results = list(dask.imap_unordered(execute, [task, task]))
    assert len(results) == 2
    assert results[0].data == results[1].data


def test_a_failing_run_is_recorded_and_the_batch_goes_on(small_baseline: Scenario, tmp_path: Path) -> None:
    # Design point 1 asks for a value the schema refuses, so its runs raise inside the worker.
    factor = Factor("drivers.history.decay", 0.0, 1.0)
    design = Design(DesignKind.LHS, (factor,), np.array([[0.05], [1.5], [0.1]]), seed=0)
    store = BatchStore(tmp_path / "out", BatchPlan(small_baseline, 2, 9, design))
    store.open()
    with SerialExecutor() as serial:
        drive(store, serial)
    manifest = store.finalize(plots=False)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert list(runs["status"]) == ["ok", "ok", "failed", "failed", "ok", "ok"]
    failed = runs[runs["status"] == "failed"]
    assert failed["error"].str.contains("decay").all()
    assert runs.loc[runs["status"] == "ok", "error"].isna().all()
    assert list(failed["seed"]) == [run_seeds(9, r).model for r in (0, 1)]
    assert manifest["status"] == "complete_with_failures"
    assert [f["run"] for f in manifest["failed_runs"]] == [2, 3]
    timeseries = pd.read_parquet(tmp_path / "out" / "timeseries.parquet")
    assert sorted(timeseries["run"].unique()) == [0, 1, 4, 5]


def test_error_column_is_there_when_no_run_failed(small_baseline: Scenario, tmp_path: Path) -> None:
    # Readers select on it without asking whether it exists; it is text, placed after the status, like a failure's.
    store = BatchStore(tmp_path / "out", BatchPlan(small_baseline, 2, 9))
    store.open()
    with SerialExecutor() as serial:
        drive(store, serial)
    store.finalize(plots=False)
    schema = pq.read_schema(tmp_path / "out" / "runs.parquet")
    assert schema.field("error").type == pa.string()
    assert schema.names.index("error") == schema.names.index("status") + 1
    assert pd.read_parquet(tmp_path / "out" / "runs.parquet")["error"].isna().all()


def test_cli_exits_non_zero_with_a_summary_when_runs_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sim.runner

    original = sim.runner.simulate_run

    def flaky(scenario: Scenario, replication: int, root_seed: int, **kwargs: object) -> object:
        if replication == 1:
            raise RuntimeError("model diverged")
        return original(scenario, replication, root_seed, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.runner, "simulate_run", flaky)
    code = main(
        [
            "run",
            str(small_file(tmp_path)),
            "--runs",
            "3",
            *SERIAL_QUIET,
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "1 runs FAILED" in err and "run 1 (seed" in err and "RuntimeError: model diverged" in err
    assert load_batch(tmp_path / "out" / "small").manifest["failed_runs"][0]["run"] == 1


SUBPROCESS_ENV = os.environ | {"PYTHONPATH": str(ROOT), "RAPPROCHEMENT_START_METHOD": ""}  # the real default
INTERRUPTED_RUNS = 60


def _command(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, env=SUBPROCESS_ENV, **kwargs
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A scenario slow enough to interrupt, its command line, and its results from one uninterrupted batch."""
    folder = tmp_path_factory.mktemp("interrupt")
    scenario = small_file(folder, months=60, citizens=2000)
    args = [
        "run",
        str(scenario),
        "--runs",
        str(INTERRUPTED_RUNS),
        "--seed",
        "4",
        "--workers",
        "2",
        "--quiet",
        "--no-plots",
    ]
    whole = _command([*args, "--out", str(folder / "whole")], folder, check=True)
    assert f"{INTERRUPTED_RUNS} runs".encode() in whole.stdout
    return folder / "whole" / "small", args


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_parts(staging: Path, at_least: int, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = len(list((staging / "parts").glob("ok-*.arrow"))) if (staging / "parts").exists() else 0
        if done >= at_least:
            return done
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("the batch made no progress")


@pytest.mark.parametrize("how", ["kill-9", "ctrl-c"])
def test_an_interrupted_batch_resumes_to_identical_results(
    tmp_path: Path, uninterrupted: tuple[Path, list[str]], how: str
) -> None:
    whole, args = uninterrupted
    out = tmp_path / "broken"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *args, "--out", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so kill -9 takes its workers too
        env=SUBPROCESS_ENV,
        # As in a terminal. A test run started in the background by a non-interactive shell inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler: the batch would ignore the Ctrl-C.
        preexec_fn=_default_sigint,
    )
    staging = out / ".small.partial"
    _wait_for_parts(staging, 5, process)
    if how == "kill-9":
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    else:
        process.send_signal(signal.SIGINT)  # the main process only, as a terminal's Ctrl-C reaches it first
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert b"--resume" in err
    assert not (out / "small").exists()  # nothing half-written where results are expected
    done_before = len(list((staging / "parts").glob("ok-*.arrow")))
    assert 0 < done_before < INTERRUPTED_RUNS

    refused = _command([*args, "--out", str(out)], tmp_path)
    assert refused.returncode == 2 and b"--resume" in refused.stderr

    resumed = _command([*args, "--out", str(out), "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{INTERRUPTED_RUNS - done_before} runs".encode() in resumed.stdout
    for name in FILES:
        assert digest(out / "small" / name) == digest(whole / name), name
    assert not staging.exists()


def test_resume_refuses_a_different_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = small_file(tmp_path)
    store = BatchStore(tmp_path / "out" / "small", BatchPlan(load_scenario(scenario), 4, 1))
    store.open()  # leaves an interrupted (empty) batch of 4 runs behind
    code = main(
        [
            "run",
            str(scenario),
            "--runs",
            "5",
            "--seed",
            "1",
            "--quiet",
            "--no-plots",
            "--resume",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "different batch" in capsys.readouterr().err


def test_resume_refuses_parts_of_an_earlier_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Earlier versions staged a finished run as ok-<run>.json beside its months; this one cannot read them, and
    # says so rather than quietly computing every run again.
    scenario = small_file(tmp_path)
    store = BatchStore(tmp_path / "out" / "small", BatchPlan(load_scenario(scenario), 4, 1))
    store.open()
    (store.parts / "ok-00000000.json").write_text("{}")
    args = ["run", str(scenario), "--runs", "4", "--seed", "1", *SERIAL_QUIET, "--out", str(tmp_path / "out")]
    assert main([*args, "--resume"]) == 2
    assert "earlier version" in capsys.readouterr().err
    assert (store.parts / "ok-00000000.json").exists()  # nothing lost
    assert main([*args, "--force"]) == 0
    assert load_batch(tmp_path / "out" / "small").runs["status"].eq("ok").sum() == 4


def test_resume_skips_finished_scenarios_and_starts_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = small_file(tmp_path)
    args = ["run", str(scenario), "--runs", "2", *SERIAL_QUIET, "--out", str(tmp_path / "out"), "--resume"]
    assert main(args) == 0  # nothing interrupted: the batch simply runs
    assert "2 runs in" in capsys.readouterr().out
    before = digest(tmp_path / "out" / "small" / "runs.parquet")
    assert main(args) == 0  # complete already: nothing to do, nothing rewritten
    assert "already complete" in capsys.readouterr().out
    assert digest(tmp_path / "out" / "small" / "runs.parquet") == before


def test_a_folder_runs_every_scenario_in_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("alpha", "beta"):
        (folder / f"{name}.yaml").write_text(
            f"extends: {json.dumps(str(SCENARIOS / 'baseline.yaml'))}\n"
            f"meta: {{name: {name}, months: 12}}\n"
            "publics: {korea: {citizens: 200}, japan: {citizens: 200}}\n"
        )
    code = main(
        [
            "run",
            str(folder),
            "--runs",
            "2",
            *SERIAL_QUIET,
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alpha", "beta"]
    alpha = pd.read_parquet(tmp_path / "out" / "alpha" / "runs.parquet")
    beta = pd.read_parquet(tmp_path / "out" / "beta" / "runs.parquet")
    assert list(alpha["seed"]) == list(beta["seed"])  # common random numbers across the batch


@pytest.mark.parametrize(
    ("design", "extra", "points"),
    [("lhs", ["--samples", "5"], 5), ("factorial", ["--levels", "2"], None), ("morris", ["--samples", "2"], None)],
)
def test_sweep_writes_its_design_into_the_runs_table(
    tmp_path: Path, design: str, extra: list[str], points: int | None
) -> None:
    scenario = small_file(tmp_path, months=12, citizens=200)
    out = tmp_path / "out"
    code = main(
        [
            "sweep",
            str(scenario),
            "--design",
            design,
            *extra,
            "--runs",
            "2",
            *SERIAL_QUIET,
            "--out",
            str(out),
            "--factor",
            "levers.seoul.cooperation_priority=-0.5:0.5",
        ]
    )
    assert code == 0
    runs = pd.read_parquet(out / f"small_sweep_{design}" / "runs.parquet")
    params = [c for c in runs.columns if c.startswith("param:")]
    assert "param:levers.seoul.cooperation_priority" in params
    assert len(params) == 14  # baseline's six uncertainties, the lever and the posterior's seven behavioural ones
    n_points = runs["design_point"].nunique()
    if points is not None:
        assert n_points == points
    if design == "factorial":
        assert n_points == 2**7
    if design == "morris":
        assert n_points == 2 * (7 + 1)
    assert len(runs) == 2 * n_points
    # Both replications of a point share its design values; replication r has the same seed, and the same
    # posterior draw, at every point.
    drawn = [f"param:{path}" for path in load_posterior(str(POSTERIOR_FILE)).model_values(0)]
    design_columns = [c for c in params if c not in drawn]
    assert len(design_columns) == 7
    assert (runs.groupby("design_point")[design_columns].nunique() == 1).all().all()
    assert (runs.groupby("replication")[[*drawn, "seed", "posterior_draw"]].nunique() == 1).all().all()
    lever = runs["param:levers.seoul.cooperation_priority"]
    assert lever.between(-0.5, 0.5).all()
