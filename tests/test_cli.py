"""Tests for the ``rapprochement`` command (sim.cli): user mistakes, results store, schema.

A user's mistake must end in exit code 2, one readable message on stderr naming the file, the
field and what was expected, no traceback, and nothing written to the results folder. Most tests
call ``sim.cli.main`` in-process; one runs the command in a subprocess end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.cli import COMMANDS, build_parser, main
from sim.outcomes import OUTCOMES
from sim.scenario import load_scenario
from tests.shipped import SHIPPED as SHIPPED_NAMES

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SHIPPED = [ROOT / "scenarios" / f"{name}.yaml" for name in SHIPPED_NAMES]
DOCS = ROOT / "docs" / "scenarios.md"
MONTHS = 6
FAST = ("--runs", "2", "--workers", "1", "--no-plots", "--quiet")


# --------------------------------------------------------------------------- helpers


def write(folder: Path, filename: str, text: str) -> Path:
    path = folder / filename
    path.write_text(text, encoding="utf-8")
    return path


def scenario(folder: Path, name: str, *, meta: str = "", body: str = "", filename: str | None = None) -> Path:
    """A small scenario extending the shipped baseline: 6 months, 200 citizens per public.

    ``meta`` adds lines inside the ``meta:`` block (indented by two spaces); ``body`` adds
    top-level blocks after ``publics``.
    """
    meta_lines = "".join(f"  {line}\n" for line in meta.splitlines() if line)
    months = "" if "months:" in meta else f"  months: {MONTHS}\n"
    publics = (
        "" if body.startswith("publics:") else "publics:\n  korea: {citizens: 200}\n  japan: {citizens: 200}\n"
    )
    text = f"extends: {json.dumps(str(BASELINE))}\nmeta:\n  name: {name}\n{months}{meta_lines}{publics}{body}"
    return write(folder, filename or f"{name}.yaml", text)


def evil_scenario(folder: Path, pwned: Path) -> Path:
    """A scenario whose description is a !!python tag that would create ``pwned`` if it were ever executed."""
    return write(
        folder,
        "evil.yaml",
        f"extends: {BASELINE}\nmeta:\n  name: evil\n"
        f'  description: !!python/object/apply:os.system ["touch {pwned}"]\n',
    )


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run ``rapprochement argv`` in-process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def run_refused(capsys: pytest.CaptureFixture[str], out: Path, *paths: Path, extra: tuple[str, ...] = ()) -> str:
    """``run`` that must be refused: exit 2, no traceback, nothing written; returns stderr."""
    code, stdout, stderr = cli(capsys, "run", *paths, *FAST, "--out", out, *extra)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.strip(), "a refused run must say why"
    assert stdout == ""
    assert_nothing_written(out)
    return stderr


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


# --------------------------------------------------------------------------- bad scenario files


def test_wrong_type(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "wrong_type", meta='months: "sixty"')
    err = run_refused(capsys, out, path)
    assert f"{path}:4: meta.months: expected a whole number, got 'sixty'" in err


def test_unknown_nested_key_lists_valid_fields(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, "typo", body="drivers:\n  security:\n    nk_provocaton_rate: 2\n")
    err = run_refused(capsys, out, path)
    assert str(path) in err
    assert "drivers.security.nk_provocaton_rate: unknown field" in err
    assert "valid fields here:" in err
    assert "china_pressure" in err  # the list names the block's real fields
    assert "did you mean 'nk_provocation_rate'?" in err


def test_out_of_range_value(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "negative", body="drivers:\n  security:\n    nk_provocation_rate: -1\n")
    err = run_refused(capsys, out, path)
    assert re.search(
        rf"{re.escape(str(path))}:\d+: drivers\.security\.nk_provocation_rate: "
        r"expected a number >= 0, got -1",
        err,
    ), err


def test_bad_date(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "bad_date", meta="start: 2025-13")
    err = run_refused(capsys, out, path)
    assert f"{path}:5: meta.start:" in err
    assert "not a calendar date" in err and "'2025-13'" in err
    assert "month must be in 1..12" in err


def test_event_past_horizon(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "late_event", body="events:\n  - date: 2026-01\n    kind: summit\n")
    err = run_refused(capsys, out, path)
    assert str(path) in err
    assert "events[0].date 2026-01 is outside the scenario's months 2025-07 to 2025-12" in err


def test_event_actor_must_fit_its_kind(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(
        tmp_path,
        "bad_actor",
        body="events:\n  - date: 2025-09\n    kind: leadership_change\n    actor: washington\n",
    )
    err = run_refused(capsys, out, path)
    assert f"{path}:" in err and "events[0]" in err
    assert "a leadership_change event needs actor seoul or tokyo, got washington" in err


def test_missing_parent(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "orphan.yaml", "extends: nowhere.yaml\nmeta:\n  name: orphan\n")
    err = run_refused(capsys, out, path)
    assert f"{path}:1: extends: the parent file {tmp_path / 'nowhere.yaml'} does not exist" in err


def test_circular_extends(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nmeta:\n  name: a\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\nmeta:\n  name: b\n")
    err = run_refused(capsys, out, a)
    assert "extends: circular 'extends'" in err
    assert str(a) in err and str(b) in err


def test_yaml_syntax_error_has_line(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "broken.yaml",
        f"extends: {BASELINE}\nmeta:\n  name: broken\n  months: [6\n",
    )
    err = run_refused(capsys, out, path)
    assert re.search(rf"{re.escape(str(path))}:\d+: YAML syntax error", err), err
    assert "line 4" in err  # where the unclosed list starts


def test_python_tag_is_refused_not_executed(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pwned = tmp_path / "pwned"
    path = evil_scenario(tmp_path, pwned)
    err = run_refused(capsys, out, path)
    assert f"{path}:4: meta.description:" in err
    assert "!!python/object/apply:os.system is not allowed" in err
    assert not pwned.exists()


@pytest.mark.parametrize(
    ("meta", "body", "expected"),
    [
        (
            "",
            "publics:\n  korea: {citizens: 1000000000}\n",
            "publics.korea.citizens: expected a number <= 1000000, got 1000000000",
        ),
        ("months: 100000", "", "meta.months: expected a number <= 600, got 100000"),
    ],
    ids=["citizens", "months"],
)
def test_absurd_sizes(
    tmp_path: Path,
    out: Path,
    capsys: pytest.CaptureFixture[str],
    meta: str,
    body: str,
    expected: str,
) -> None:
    path = scenario(tmp_path, "huge", meta=meta, body=body)
    err = run_refused(capsys, out, path)
    assert str(path) in err
    assert expected in err


def test_file_over_one_megabyte(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "padded", body="# " + "x" * 1_100_000 + "\n")
    err = run_refused(capsys, out, path)
    assert f"{path}: the file is too large" in err
    assert "limit is 1,000,000" in err


def test_missing_file_and_folder(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_refused(capsys, out, tmp_path / "absent.yaml")
    assert f"{tmp_path / 'absent.yaml'}: file not found" in err
    err = run_refused(capsys, out, tmp_path)
    assert f"{tmp_path}: folder holds no scenario files (*.yaml)" in err


def test_one_mistake_gives_one_message(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "negative", body="drivers:\n  security:\n    nk_provocation_rate: -1\n")
    err = run_refused(capsys, out, path)
    assert "uncertainties" not in err
    assert str(BASELINE) not in err
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- --set


def test_set_unknown_path_suggests(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "tiny")
    err = run_refused(capsys, out, path, extra=("--set", "drivers.security.nk_provocaton_rate=2"))
    assert "--set: drivers.security.nk_provocaton_rate: unknown field 'nk_provocaton_rate'" in err
    assert "did you mean drivers.security.nk_provocation_rate" in err
    assert "valid fields here:" in err


def test_set_bad_value(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "tiny")
    err = run_refused(capsys, out, path, extra=("--set", "drivers.security.nk_provocation_rate=abc"))
    assert "--set: drivers.security.nk_provocation_rate: expected a number, got 'abc'" in err


@pytest.mark.parametrize("override", ["drivers.security.nk_provocation_rate", "=3"])
def test_set_malformed(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str], override: str) -> None:
    path = scenario(tmp_path, "tiny")
    err = run_refused(capsys, out, path, extra=("--set", override))
    assert f"--set: expected dotted.path=value, got {override!r}" in err


# --------------------------------------------------------------------------- argparse


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--runs", "0", "argument --runs: expected a number >= 1, got 0"),
        ("--runs", "many", "argument --runs: expected a whole number, got 'many'"),
        ("--seed", "-1", "argument --seed: expected a seed between 0 and 2**63-1, got -1"),
        ("--workers", "0", "argument --workers: expected a number >= 1, got 0"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path,
    out: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    expected: str,
) -> None:
    path = scenario(tmp_path, "tiny")
    code, stdout, stderr = cli(capsys, "run", path, "--no-plots", "--quiet", "--out", out, option, value)
    assert code == 2
    assert "usage: rapprochement run" in stderr
    assert expected in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert_nothing_written(out)


# --------------------------------------------------------------------------- batches


def test_duplicate_names_in_one_batch(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = scenario(tmp_path, "same", filename="first.yaml")
    second = scenario(tmp_path, "same", filename="second.yaml")
    err = run_refused(capsys, out, first, second)
    assert f"{first}, {second}: meta.name: 'same' is used by more than one scenario" in err


def test_broken_file_after_good_one_runs_nothing(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = scenario(tmp_path, "good")
    bad = scenario(tmp_path, "bad", meta='months: "sixty"')
    err = run_refused(capsys, out, good, bad)
    assert str(bad) in err and "meta.months" in err
    assert str(good) not in err


def test_every_broken_file_is_reported(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = scenario(tmp_path, "one", meta='months: "sixty"')
    two = scenario(tmp_path, "two", meta="start: 2025-13")
    err = run_refused(capsys, out, one, two)
    assert f"{one}:" in err and f"{two}:" in err


def test_results_conflict_is_found_before_any_run(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = scenario(tmp_path, "first"), scenario(tmp_path, "second")
    assert cli(capsys, "run", second, *FAST, "--out", out, "--seed", "1")[0] == 0
    code, _, err = cli(capsys, "run", first, second, *FAST, "--out", out, "--seed", "3")
    assert code == 2 and "--force" in err
    assert not (out / "first").exists()


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "tiny")
    not_a_folder = write(tmp_path, "results", "")
    code, _, err = cli(capsys, "run", path, *FAST, "--out", not_a_folder)
    assert code == 2
    assert str(not_a_folder) in err


def test_out_folder_that_is_not_results_is_kept(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, "tiny")
    precious = out / "tiny" / "notes.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("keep me")
    code, _, err = cli(capsys, "run", path, *FAST, "--out", out)
    assert code == 2
    assert "is not a results folder" in err and "choose another --out" in err
    # Even --force never deletes a folder the program did not write.
    code, _, err = cli(capsys, "run", path, *FAST, "--out", out, "--force")
    assert code == 2 and "is not a results folder" in err
    assert precious.read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


def test_subprocess_end_to_end(tmp_path: Path, out: Path) -> None:
    pwned = tmp_path / "pwned"
    path = evil_scenario(tmp_path, pwned)
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), *FAST, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {path}:4: meta.description:")
    assert done.stdout == ""
    assert not pwned.exists()
    assert_nothing_written(out)


# --------------------------------------------------------------------------- validate and schema


def test_validate_shipped_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(SHIPPED) >= 2
    code, stdout, stderr = cli(capsys, "validate", *SHIPPED)
    assert code == 0, stderr
    assert stderr == ""
    lines = stdout.splitlines()
    assert len(lines) == len(SHIPPED)
    for path, line in zip(SHIPPED, lines, strict=True):
        assert line.startswith(f"{path}: ok ("), line


def test_schema_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "schema")
    assert code == 0
    schema = json.loads(stdout)
    assert "meta" in schema["properties"]
    assert "extends" in schema["properties"]
    assert "meta" in schema["required"]
    assert schema["additionalProperties"] is False
    blocks = {name: d for name, d in schema["$defs"].items() if "properties" in d}
    assert {"Meta", "SecurityDriver", "Event", "Uncertainty"} <= set(blocks)
    for name, block in blocks.items():
        assert block.get("additionalProperties") is False, name


def test_schema_markdown_matches_docs(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "schema", "--format", "markdown")
    assert code == 0
    assert stdout.startswith("# Scenario file reference")
    assert DOCS.exists(), f"{DOCS} is missing: generate it with `rapprochement schema --format markdown > {DOCS}`"
    assert stdout == DOCS.read_text(encoding="utf-8"), (
        f"{DOCS} is out of date: regenerate it with `rapprochement schema --format markdown`"
    )


# --------------------------------------------------------------------------- successful runs


def test_run_writes_complete_results(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "tiny")
    code, stdout, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--seed", "7")
    assert code == 0, stderr
    folder = out / "tiny"
    assert stdout.startswith("tiny: 2 runs in ")
    assert str(folder) in stdout
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]  # no hidden staging folder left
    names = {p.name for p in folder.iterdir()}
    assert names == {"timeseries.parquet", "runs.parquet", "manifest.json", "scenario.yaml", "summary.csv"}

    manifest = json.loads((folder / "manifest.json").read_text())
    expected = load_scenario(path)
    assert manifest["scenario_hash"] == expected.digest()
    assert manifest["root_seed"] == 7
    assert manifest["runs"] == 2
    assert manifest["months"] == MONTHS
    assert {"python", "rapprochement", "numpy", "pandas"} <= set(manifest["versions"])
    assert sum(manifest["outcome_classes"].values()) == 2

    runs = pd.read_parquet(folder / "runs.parquet")
    assert len(runs) == 2
    assert sorted(runs["run"]) == [0, 1]
    required = {"seed", "outcome_class"} | {f"final_{name}" for name in OUTCOMES}
    assert required <= set(runs.columns)
    assert runs["outcome_class"].isin(manifest["outcome_classes"]).all()
    assert runs["outcome_class"].value_counts().to_dict() == {
        k: v for k, v in manifest["outcome_classes"].items() if v
    }

    timeseries = pd.read_parquet(folder / "timeseries.parquet")
    assert len(timeseries) == 2 * MONTHS
    assert set(OUTCOMES) <= set(timeseries.columns)
    assert set(zip(timeseries["run"], timeseries["month"], strict=True)) == {
        (r, m) for r in range(2) for m in range(MONTHS)
    }
    assert timeseries[list(OUTCOMES)].notna().all().all()

    summary = pd.read_csv(folder / "summary.csv")
    assert {f"final_{name}" for name in OUTCOMES} <= set(summary["statistic"])

    # The resolved scenario.yaml is itself a valid scenario and is exactly what was run.
    assert load_scenario(folder / "scenario.yaml").digest() == manifest["scenario_hash"]


def test_run_with_plots(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "plotted")
    code, _, stderr = cli(capsys, "run", path, "--runs", "2", "--workers", "1", "--quiet", "--out", out)
    assert code == 0, stderr
    pngs = sorted((out / "plotted" / "plots").glob("*.png"))
    assert pngs
    assert all(p.stat().st_size > 1000 for p in pngs)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_run_with_report(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "reported", meta="description: A scenario made for the report test.")
    code, stdout, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--report")
    assert code == 0, stderr
    page = out / "reported" / "report" / "report.html"
    assert f"report -> {page}" in stdout
    html = page.read_text(encoding="utf-8")
    assert "A scenario made for the report test." in html
    assert "data:image/png;base64," in html
    # A second run of the same batch replaces the report it wrote before.
    assert cli(capsys, "run", path, *FAST, "--out", out, "--report")[0] == 0
    assert page.read_text(encoding="utf-8") == html


def test_overwrite_protection(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "tiny")
    folder = out / "tiny"
    assert cli(capsys, "run", path, *FAST, "--out", out, "--seed", "1")[0] == 0
    before = {n: (folder / n).read_bytes() for n in ("manifest.json", "runs.parquet", "timeseries.parquet")}

    # The same batch again is reported as done and not computed again: not a byte changes.
    code, stdout, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--seed", "1")
    assert code == 0, stderr
    assert "tiny: already complete" in stdout and "--force" in stdout
    assert {n: (folder / n).read_bytes() for n in before} == before

    # Another seed is refused and leaves the files untouched.
    code, stdout, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--seed", "2")
    assert code == 2
    assert "Traceback" not in stderr
    assert stdout == ""
    assert str(folder) in stderr
    assert "--force" in stderr
    assert "seed 1" in stderr and "seed 2" in stderr
    assert {n: (folder / n).read_bytes() for n in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]

    # With --force it replaces them.
    code, _, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--seed", "2", "--force")
    assert code == 0, stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["root_seed"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


def test_smaller_batch_never_replaces_a_larger_one(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, "kept")
    folder = out / "kept"
    code, _, stderr = cli(
        capsys, "run", path, "--runs", "3", "--workers", "1", "--quiet", "--out", out, "--report"
    )
    assert code == 0, stderr
    files = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert Path("report/report.html") in files

    # Fewer runs, the same scenario and seed: refused, naming both batches; the report and results are intact.
    code, stdout, stderr = cli(capsys, "run", path, *FAST, "--out", out)
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    assert "3 runs" in stderr and "2 runs" in stderr and "its report" in stderr and "--force" in stderr
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files
    assert sorted(p.name for p in out.iterdir()) == ["kept"]


def test_plots_are_part_of_what_a_batch_is(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "drawn")
    assert cli(capsys, "run", path, *FAST, "--out", out)[0] == 0  # FAST: without plots
    manifest = json.loads((out / "drawn" / "manifest.json").read_text())
    assert manifest["plots"] is False
    with_plots = [a for a in FAST if a != "--no-plots"]
    code, _, stderr = cli(capsys, "run", path, *with_plots, "--out", out)
    assert code == 2 and "without plots" in stderr and "with plots" in stderr
    assert cli(capsys, "run", path, *with_plots, "--out", out, "--force")[0] == 0
    assert json.loads((out / "drawn" / "manifest.json").read_text())["plots"] is True
    # A batch with plots serves a request without them.
    code, stdout, _ = cli(capsys, "run", path, *FAST, "--out", out)
    assert code == 0 and "already complete" in stdout


def test_dask_without_dask_is_refused_before_any_write(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the optional extra were not installed
    path = scenario(tmp_path, "nodask")
    stderr = run_refused(capsys, out, path, extra=("--dask", "local"))
    assert "--dask local: Dask is not installed" in stderr and "pip install" in stderr
    assert not out.exists()  # no results folder and no staging folder beside it
    # The next plain run is not mistaken for the resumption of an interrupted batch.
    assert cli(capsys, "run", path, *FAST, "--out", out)[0] == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "--version")
    assert code == 0
    assert re.fullmatch(r"rapprochement \d+\.\d+\S*\n", stdout), stdout


def test_set_fixes_an_uncertain_parameter(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = "drivers.security.security_value"
    assert fixed in load_scenario(BASELINE).uncertainties
    path = scenario(tmp_path, "tiny")
    code, _, stderr = cli(capsys, "run", path, *FAST, "--out", out, "--set", f"{fixed}=2.2")
    assert code == 0, stderr
    folder = out / "tiny"
    runs = pd.read_parquet(folder / "runs.parquet")
    sampled = {c for c in runs.columns if c.startswith("param:")}
    assert f"param:{fixed}" not in sampled
    assert "param:drivers.trade.economic_value" in sampled  # the others are still sampled
    resolved = yaml.safe_load((folder / "scenario.yaml").read_text())
    assert resolved["drivers"]["security"]["security_value"] == 2.2
    assert fixed not in resolved["uncertainties"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["overrides"] == [f"{fixed}=2.2"]


def test_shipped_list_names_real_scenarios_with_golden_files() -> None:
    for name in SHIPPED_NAMES:
        assert (ROOT / "scenarios" / f"{name}.yaml").is_file(), name
        assert (ROOT / "tests" / "golden" / f"{name}.csv").is_file(), name


SCENARIO_TESTS = ("tests/test_scenarios.py", "tests/test_cli.py", "tests/test_replay.py")


def test_a_users_own_scenario_in_the_folder_does_not_change_the_suite() -> None:
    # The README invites users to save their scenarios in scenarios/: one that is broken (or simply new) must
    # neither add tests nor break collection. The modules that test scenarios one by one, collected in a fresh
    # process while such a file is there.
    mine = ROOT / "scenarios" / f"zz_users_own_{os.getpid()}.yaml"
    mine.write_text("meta:\n  name: [not, a, name]\n", encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *SCENARIO_TESTS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        mine.unlink()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert any("test_golden_summary[baseline]" in line for line in collected)
    assert not [line for line in collected if "zz_users_own" in line]


#: What a command must not import unless it needs it: each costs from a tenth of a second to a second at start-up.
HEAVY = (
    "pandas",
    "pyarrow",
    "matplotlib",
    "mesa",
    "scipy",
    "SALib",
    "sklearn",
    "dask",
    "solara",
    "jinja2",
    "pyabc",
    "pymoo",
)


def imported_after(*argv: str) -> set[str]:
    """The heavy packages a fresh process has imported after running ``rapprochement argv``."""
    code = (
        "import sys\nfrom sim.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.splitlines()[-1].split()) if done.stdout.strip() else set()


@pytest.mark.parametrize(
    "argv", [("--help",), ("--version",), ("validate", "scenarios/baseline.yaml"), ("run", "--help")]
)
def test_light_commands_import_nothing_heavy(argv: tuple[str, ...]) -> None:
    assert imported_after(*argv) == set()


def test_every_command_is_listed_and_each_parses_its_own_options() -> None:
    full = build_parser(every=True)
    [sub] = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == list(COMMANDS)
    for name in COMMANDS:  # each command's options are there when it is the one named
        [action] = [a for a in build_parser([name])._actions if isinstance(a, argparse._SubParsersAction)]
        assert any(a.dest != "help" for a in action.choices[name]._actions), name
