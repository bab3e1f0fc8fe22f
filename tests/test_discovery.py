"""Tests of sim.analysis.discovery: the rule found where the true box is known, its numbers, and the command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.common import AnalysisError
from sim.analysis.discovery import Rule, discover, short_names
from tests.test_compare import cli, write_results


def synthetic_runs(n: int = 2000, flip: float = 0.05, seed: int = 7) -> pd.DataFrame:
    """Three parameters on [0, 1]; runs relapse iff a < 0.4 and b > 0.6, with a share ``flip`` of labels flipped.

    The true box holds 24 % of the runs; ``c`` is irrelevant.
    """
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(size=(3, n))
    relapse = (a < 0.4) & (b > 0.6)
    relapse ^= rng.uniform(size=n) < flip
    return pd.DataFrame(
        {
            "run": np.arange(n),
            "status": "ok",
            "outcome_class": np.where(relapse, "relapse", "fragile_thaw"),
            "param:drivers.security.a": a,
            "param:actors.seoul.b": b,
            "param:actors.tokyo.c": c,
            "param:fixed": 1.0,  # does not vary: never a factor
        }
    )


def test_the_rule_found_is_the_true_box() -> None:
    runs = synthetic_runs()
    found = discover(runs, "relapse")
    rule = found.rules[0]
    assert set(rule.limits) == {"drivers.security.a", "actors.seoul.b"}
    a_low, a_high = rule.limits["drivers.security.a"]
    b_low, b_high = rule.limits["actors.seoul.b"]
    assert a_low == -math.inf and a_high == pytest.approx(0.4, abs=0.03)
    assert b_low == pytest.approx(0.6, abs=0.03) and b_high == math.inf
    # with 5 % of labels flipped the true box has density about 0.95 and coverage about 0.85
    assert rule.density > 0.88
    assert rule.coverage > 0.75
    assert found.factors == ["drivers.security.a", "actors.seoul.b", "actors.tokyo.c"]
    assert max(found.importances, key=lambda f: found.importances[f]) in rule.limits


def test_density_and_coverage_are_the_shares_they_claim() -> None:
    runs = synthetic_runs(n=1000, flip=0.1, seed=3)
    found = discover(runs, "relapse")
    params = runs.rename(columns=lambda c: c.removeprefix("param:"))
    relapse = (runs["outcome_class"] == "relapse").to_numpy()
    for rule in found.rules:
        inside = rule.contains(params)
        assert rule.runs == inside.sum()
        assert rule.density == pytest.approx(relapse[inside].mean())
        assert rule.coverage == pytest.approx(relapse[inside].sum() / relapse.sum())
        assert rule.density > found.base_rate
    table = found.table()
    assert list(table["rule"]) == list(range(1, len(found.rules) + 1))
    assert table["text"].iloc[0].startswith(found.rules[0].conditions(found.names))


def test_rule_in_plain_language() -> None:
    rule = Rule(
        {"drivers.security.nk_provocation_rate": (-math.inf, 1.2), "actors.washington.engagement": (0.1, 0.4)},
        90,
        64,
        64 / 90,
        0.64,
    )
    names = short_names(["drivers.security.nk_provocation_rate", "actors.washington.engagement"])
    assert rule.sentence("relapse", names) == (
        "nk_provocation_rate <= 1.2 and 0.1 < engagement <= 0.4 → relapse in 71 % of runs, covering 64 % of "
        "relapses (90 runs in the box)"
    )


def test_short_names_stay_distinct() -> None:
    paths = ["actors.seoul.nationalist_weight", "actors.tokyo.nationalist_weight", "drivers.history.decay"]
    assert short_names(paths) == {
        "actors.seoul.nationalist_weight": "seoul.nationalist_weight",
        "actors.tokyo.nationalist_weight": "tokyo.nationalist_weight",
        "drivers.history.decay": "decay",
    }


def test_same_runs_and_seed_give_the_same_rules() -> None:
    runs = synthetic_runs(n=600, seed=11)
    first, second = discover(runs, "relapse"), discover(runs.sample(frac=1.0, random_state=1), "relapse")
    assert first.table()["text"].tolist() == discover(runs, "relapse").table()["text"].tolist()
    assert first.rules[0].limits.keys() == second.rules[0].limits.keys()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.assign(outcome_class="fragile_thaw"), "no run ends in relapse"),
        (lambda r: r.drop(columns=[c for c in r.columns if c.startswith("param:")]), "no sampled parameters"),
    ],
)
def test_discover_refuses_what_it_cannot_explain(change: object, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        discover(change(synthetic_runs(n=100)), "relapse")  # type: ignore[operator]


def test_discover_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = synthetic_runs(n=400, seed=5)
    folder = write_results(
        tmp_path / "sweep",
        {"relations_index": np.where(runs["outcome_class"] == "relapse", 40.0, 60.0)},
        classes=list(runs["outcome_class"]),
        params={c.removeprefix("param:"): runs[c].to_numpy() for c in runs.columns if c.startswith("param:")},
    )
    code, stdout, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    out = tmp_path / "sweep_discovery_relapse"
    assert "rule 1: " in stdout and "→ relapse in" in stdout
    rules = pd.read_csv(out / "rules.csv")
    assert rules["density"].iloc[0] > 0.8
    assert (out / "discovery.png").exists() and (out / "discovery.svg").exists()
    code, _, stderr = cli(capsys, "discover", folder, "--target", "collapse", "--out", tmp_path / "x")
    assert code == 2 and "--target 'collapse'" in stderr and "relapse" in stderr
    assert not (tmp_path / "x").exists()
    code, _, stderr = cli(capsys, "discover", folder)
    assert code == 2 and "--force" in stderr


def test_two_true_boxes_give_disjoint_rules_whose_coverages_add_up() -> None:
    rng = np.random.default_rng(21)
    a, b, c = rng.uniform(size=(3, 3000))
    relapse = ((a < 0.3) & (b > 0.7)) | ((a > 0.8) & (c < 0.3))
    runs = pd.DataFrame({"outcome_class": np.where(relapse, "relapse", "fragile_thaw"), "param:a": a})
    runs = runs.assign(**{"param:b": b, "param:c": c})
    found = discover(runs, "relapse", min_leaf=0.02)
    first, second = found.rules[:2]
    assert set(first.limits) == {"a", "b"}
    assert first.limits["a"][1] == pytest.approx(0.3, abs=0.02) and first.limits["b"][0] == pytest.approx(
        0.7, abs=0.02
    )
    # A tree splits the whole space, so the second box is cut by the first split too (on b): still pure.
    assert second.limits["a"][0] == pytest.approx(0.8, abs=0.02) and second.limits["c"][1] == pytest.approx(
        0.3, abs=0.02
    )
    assert first.density == second.density == 1.0
    params = runs.rename(columns=lambda col: col.removeprefix("param:"))
    boxes = [rule.contains(params) for rule in found.rules]
    assert not any((x & y).any() for i, x in enumerate(boxes) for y in boxes[i + 1 :])
    assert sum(rule.coverage for rule in found.rules) == pytest.approx(np.any(boxes, axis=0)[relapse].mean())
