"""The robust policy search: a known optimum found through the command, common random numbers, resume, fresh
re-evaluation seeds, and the command's refusals."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim.robust
from sim.cli import main
from sim.errors import EXIT_USAGE
from sim.robust import REEVALUATION_OFFSET, EvaluationTask, evaluate_policy, pareto_front, policy_levers
from sim.runner import run_seeds

pytest.importorskip("pymoo")

#: The constructed problem's optimum: the relations index peaks at cooperation priority 0.3 with summits every
#: 6 months, while Seoul's approval cost grows with the priority. Its Pareto set is therefore "summits every 6
#: months, priority from -1 up to 0.3".
OPTIMUM = 0.3
PEAK = 85.0

ANALYTIC = """
meta: {name: analytic, start: 2025-07, months: 12}
search:
  levers:
    levers.seoul.cooperation_priority: {low: -1.0, high: 1.0}
    levers.seoul.summit_every_months: {choices: [null, 6, 12]}
  metrics: [p10_relations_index, approval_cost_seoul]
"""

TINY = """
meta: {name: tiny, start: 2025-07, months: 12}
publics: {korea: {citizens: 40}, japan: {citizens: 40}}
uncertainties:
  drivers.security.nk_provocation_rate: {low: 0.3, high: 3.0}
  actors.washington.target_engagement: {low: 0.2, high: 0.8}
search:
  levers:
    levers.seoul.cooperation_priority: {low: -0.5, high: 0.8}
    levers.seoul.summit_every_months: {choices: [null, 6]}
  metrics: [durable_share, p10_relations_index, regret]
"""


def analytic(task: EvaluationTask) -> list[dict[str, Any]]:
    """The constructed problem: per future, an index that every candidate shares the same shock of (its seeds'),
    peaking at the optimum; an approval cost rising with the priority."""
    levers = dict(task.levers)
    x, every = levers["levers.seoul.cooperation_priority"], levers["levers.seoul.summit_every_months"]
    records = []
    for future, replication in task.futures:
        seeds = run_seeds(task.root_seed, replication)
        shock = (seeds.params % 1000) / 100.0  # 0-10, the same for every candidate in this future
        index = PEAK - 100.0 * (x - OPTIMUM) ** 2 - (0.0 if every == 6 else 5.0) - shock
        records.append(
            {
                "candidate": task.candidate,
                "future": future,
                "replication": replication,
                "seed": seeds.model,
                "outcome_class": "durable_rapprochement"
                if index >= 75
                else "relapse"
                if index < 60
                else "fragile_thaw",
                "window_relations_index": index,
                "approval_cost_seoul": 10.0 * (x + 1.0),
                "approval_cost_tokyo": 0.0,
                "param:shock": shock,
                "param:other": float(seeds.model % 97),
            }
        )
    return records


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def robust(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["robust", *argv, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


SMALL = (
    "--population",
    "16",
    "--futures",
    "10",
    "--check-futures",
    "30",
    "--check-policies",
    "3",
    "--workers",
    "1",
)


def test_the_command_finds_the_known_optimum_and_its_pareto_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.robust, "evaluate_task", analytic)
    scenario = write(tmp_path, "analytic", ANALYTIC)
    code, out, err = robust(capsys, str(scenario), "--generations", "25", *SMALL, "--out", str(tmp_path))
    assert code == 0, err
    front = pareto_front(tmp_path / "analytic_robust")
    best = front.iloc[0]  # best first on the first metric
    assert best["levers.seoul.summit_every_months"] == "6"
    assert float(best["levers.seoul.cooperation_priority"]) == pytest.approx(OPTIMUM, abs=0.05)
    # p10 of the index at the optimum: the peak less the 90th percentile of the shared shock.
    shocks = np.array([(run_seeds(1, f).params % 1000) / 100.0 for f in range(10)])
    assert best["p10_relations_index"] == pytest.approx(PEAK - np.quantile(shocks, 0.9), abs=0.3)
    # The whole front: summits every 6 months and no priority beyond the optimum (more would cost approval and
    # lower the index), spread down to the cheapest end.
    priorities = front["levers.seoul.cooperation_priority"].astype(float)
    assert (front["levers.seoul.summit_every_months"] == "6").mean() >= 0.9
    assert priorities.max() <= OPTIMUM + 0.05
    assert priorities.min() <= -0.8
    assert len(front) >= 5
    assert "policy 1 on 30 fresh futures" in out


def test_resume_after_an_interruption_gives_identical_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.robust, "evaluate_task", analytic)
    scenario = write(tmp_path, "analytic", ANALYTIC)
    out = tmp_path / "results"
    folder = out / "analytic_robust"
    argv = (str(scenario), "--generations", "6", *SMALL, "--out", str(out), "--no-plots")
    assert robust(capsys, *argv)[0] == 0
    uninterrupted = files(folder)
    shutil.rmtree(folder)

    # Killed while computing its fourth generation: three are kept, nothing is in the results folder.
    def interrupted(task: EvaluationTask) -> list[dict[str, Any]]:
        if task.candidate >= 3 * 16:
            raise KeyboardInterrupt
        return analytic(task)

    monkeypatch.setattr(sim.robust, "evaluate_task", interrupted)
    code, _, err = robust(capsys, *argv)
    assert code == 130, err
    assert not folder.exists()
    staging = out / ".analytic_robust.partial"
    assert sorted(p.name for p in (staging / "generations").iterdir()) == [
        f"generation-{g:04d}.parquet" for g in range(3)
    ]
    monkeypatch.setattr(sim.robust, "evaluate_task", analytic)
    code, printed, err = robust(capsys, *argv)
    assert code == 0, err
    assert "continuing the search from generation 4 of 6" in printed
    assert files(folder) == uninterrupted
    assert not staging.exists()

    # A finished search of 3 generations continued to 6 is the same search too.
    assert robust(capsys, *argv[:2], "3", *argv[3:], "--force")[0] == 0
    code, printed, _ = robust(capsys, *argv)
    assert code == 0 and "continuing the search from generation 4 of 6" in printed
    assert files(folder) == uninterrupted
    # And the same command once more computes nothing.
    code, printed, _ = robust(capsys, *argv)
    assert code == 0 and "already complete" in printed


def test_candidates_meet_identical_futures_and_the_recheck_fresh_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, "tiny", TINY)
    argv = ("--generations", "2", "--population", "4", "--futures", "3", "--check-futures", "5")
    code, _, err = robust(
        capsys, str(scenario), *argv, "--check-policies", "2", "--workers", "1", "--out", str(tmp_path)
    )
    assert code == 0, err
    folder = tmp_path / "tiny_robust"
    evaluations = pd.read_parquet(folder / "evaluations.parquet")
    assert evaluations["candidate"].nunique() == 8
    futures = evaluations.groupby("future")
    # Every candidate met future f on replication f's seeds and its sampled parameters (common random numbers).
    params = [c for c in evaluations.columns if c.startswith("param:")]
    assert params == ["param:actors.washington.target_engagement", "param:drivers.security.nk_provocation_rate"]
    assert (futures[["seed", "replication", *params]].nunique() == 1).all().all()
    for future, part in futures:
        assert part["seed"].iloc[0] == run_seeds(1, int(future)).model
    # ... while the candidates themselves differ, and so do their outcomes.
    assert evaluations.groupby("candidate")["window_relations_index"].mean().nunique() > 1

    fresh = pd.read_parquet(folder / "reevaluation_runs.parquet")
    assert (fresh["replication"] >= REEVALUATION_OFFSET).all()
    assert set(fresh["seed"]).isdisjoint(set(evaluations["seed"]))
    assert (fresh.groupby("future")["seed"].nunique() == 1).all()  # the fresh futures are shared, too
    recheck = pd.read_csv(folder / "reevaluation.csv")
    assert set(recheck["futures"]) == {5}

    # A policy evaluated on its own on the stored futures gets the metrics the search gave it.
    front = pareto_front(folder)
    levers = policy_levers(folder, 1)
    mine = evaluate_policy(folder, levers)
    for metric in ("durable_share", "p10_relations_index", "regret"):
        assert mine[metric].iloc[0] == pytest.approx(front[metric].iloc[0], rel=1e-5)  # pareto.csv: 6 digits
    assert mine["levers"].iloc[0] == front["levers"].iloc[0]

    # Two workers write the same files as one.
    code, _, err = robust(
        capsys, str(scenario), *argv, "--check-policies", "2", "--workers", "2", "--out", str(tmp_path / "two")
    )
    assert code == 0, err
    one, two = files(folder), files(tmp_path / "two" / "tiny_robust")
    for name in ("evaluations.parquet", "pareto.csv", "reevaluation.csv", "reevaluation_runs.parquet"):
        assert one[name] == two[name], name


def test_bad_input_is_refused_naming_file_and_field_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.robust, "evaluate_task", analytic)
    out = tmp_path / "results"
    good = write(tmp_path, "analytic", ANALYTIC)
    code, _, err = robust(capsys, str(good), "--metric", "durability", "--out", str(out))
    assert code == EXIT_USAGE and "--metric 'durability'" in err and "durable_share" in err
    bad = write(tmp_path, "bad", ANALYTIC.replace("high: 1.0", "high: 1.5").replace("analytic", "bad"))
    code, _, err = robust(capsys, str(bad), "--out", str(out))
    assert code == EXIT_USAGE
    assert f"{bad}:" in err and "search" in err and "levers.seoul.cooperation_priority" in err and "1.5" in err
    foreign = write(
        tmp_path,
        "foreign",
        ANALYTIC.replace("levers.seoul.cooperation_priority", "actors.seoul.win_set_share").replace(
            "analytic", "foreign"
        ),
    )
    code, _, err = robust(capsys, str(foreign), "--out", str(out))
    assert code == EXIT_USAGE and "not something a capital controls" in err
    plain = write(tmp_path, "plain", "meta: {name: plain, start: 2025-07, months: 12}\n")
    code, _, err = robust(capsys, str(plain), "--out", str(out))
    assert code == EXIT_USAGE and "no search block" in err
    assert "Traceback" not in err
    assert not out.exists()

    # A finished search is replaced only with --force.
    argv = (str(good), "--generations", "1", *SMALL, "--out", str(out), "--no-plots")
    assert robust(capsys, *argv)[0] == 0
    before = files(out / "analytic_robust")
    code, _, err = robust(capsys, *argv, "--seed", "2")
    assert code == EXIT_USAGE and "--force" in err
    assert files(out / "analytic_robust") == before
    assert robust(capsys, *argv, "--seed", "2", "--force")[0] == 0
    assert json.loads((out / "analytic_robust" / "search.json").read_text())["root_seed"] == 2


def test_without_pymoo_the_command_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pymoo", None)  # as if the optional extra were not installed
    code, _, err = robust(capsys, str(write(tmp_path, "analytic", ANALYTIC)), "--out", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert "pip install '.[robust]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
