"""Tests of sim.analysis.discovery: the rule found where the true box is known, its numbers, and the command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim.analysis.common import AnalysisError
from sim.analysis.discovery import Rule, discover, short_names
from tests.test_compare import cli, write_results
from tests.test_report import external_references


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


def test_same_runs_give_the_same_rules_in_any_row_order() -> None:
    runs = synthetic_runs(n=600, seed=11)
    first = discover(runs, "relapse").table()
    shuffled = discover(runs.sample(frac=1.0, random_state=1), "relapse").table()
    assert len(first) >= 1
    pd.testing.assert_frame_equal(first, shuffled)  # texts, densities, coverages, counts and limits


def test_no_rule_when_the_parameters_do_not_matter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(99)  # not the parameters' generator
    runs = synthetic_runs(n=1000, seed=4).assign(
        outcome_class=np.where(rng.uniform(size=1000) < 0.5, "relapse", "fragile_thaw")  # a coin, whatever a, b, c
    )
    found = discover(runs, "relapse")
    assert found.rules == [] and found.table().empty
    folder = write_results(
        tmp_path / "coin",
        {"relations_index": np.full(1000, 50.0)},
        classes=list(runs["outcome_class"]),
        params={c.removeprefix("param:"): runs[c].to_numpy() for c in runs.columns if c.startswith("param:")},
    )
    code, stdout, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    assert "no box of parameters leads to relapse" in stdout
    assert (tmp_path / "coin_discovery_relapse" / "discovery.png").is_file()


def test_discovery_on_a_sweep_with_replications_keeps_design_points_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replications of a design point share its parameters, so a box holds all of a point's runs or none."""
    rng = np.random.default_rng(12)
    points, reps = 150, 4
    a, b = rng.uniform(size=(2, points))
    share = np.where(a < 0.3, 0.9, 0.05)  # relapse is likely only where a < 0.3
    relapse = rng.uniform(size=(points, reps)) < share[:, None]
    classes = np.where(relapse.ravel(), "relapse", "fragile_thaw").tolist()
    design = {"kind": "lhs", "seed": 1, "factors": [["a", 0, 1], ["b", 0, 1]], "points_sha256": "x"}
    params = {"drivers.security.a": np.repeat(a, reps), "actors.seoul.b": np.repeat(b, reps)}
    folder = write_results(
        tmp_path / "sweep",
        {"relations_index": np.full(points * reps, 50.0)},
        classes=classes,
        params=params,
        replications=reps,
        design=design,
    )
    code, _, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    rules = pd.read_csv(tmp_path / "sweep_discovery_relapse" / "rules.csv")
    first = rules.iloc[0]
    assert first["high:drivers.security.a"] == pytest.approx(0.3, abs=0.03)
    assert first["runs"] % reps == 0  # whole design points
    inside = np.repeat(a, reps) <= first["high:drivers.security.a"]
    assert first["runs"] == int(inside.sum())
    assert first["hits"] == int(relapse.ravel()[inside].sum())  # density and coverage count runs, not points
    assert first["density"] == pytest.approx(first["hits"] / first["runs"])
    assert first["coverage"] == pytest.approx(first["hits"] / relapse.sum())


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


def synthetic_sweep(folder: Path, n: int = 400, seed: int = 5) -> tuple[pd.DataFrame, Path]:
    """:func:`synthetic_runs` written as a results folder (relapses at index 40, the rest at 60): the runs and the
    folder."""
    runs = synthetic_runs(n=n, seed=seed)
    written = write_results(
        folder,
        {"relations_index": np.where(runs["outcome_class"] == "relapse", 40.0, 60.0)},
        classes=list(runs["outcome_class"]),
        params={c.removeprefix("param:"): runs[c].to_numpy() for c in runs.columns if c.startswith("param:")},
    )
    return runs, written


def test_discover_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, folder = synthetic_sweep(tmp_path / "sweep")
    code, stdout, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    out = tmp_path / "sweep_discovery_relapse"
    assert "rule 1: " in stdout and "→ relapse in" in stdout
    rules = pd.read_csv(out / "rules.csv")
    assert rules["density"].iloc[0] > 0.8
    assert (out / "discovery.png").exists() and (out / "discovery.svg").exists()
    # The figure names the sweep it analyses, as a batch's own figures do.
    metadata = Image.open(out / "discovery.png").text  # type: ignore[attr-defined]
    assert metadata["Source"] == f"rapprochement discover {folder}" and "runs" in metadata["Description"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"report -> {out / 'report.html'}" in stdout
    assert external_references(page) == [] and 'src="data:image/png;base64,' in page
    assert f"{100 * rules['density'].iloc[0]:.1f} %" in page and f"{100 * rules['coverage'].iloc[0]:.1f} %" in page
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
