"""Shipped scenarios: each variant moves the outcomes the way the essay argues, against baseline on the same
seeds (common random numbers), and each matches its golden summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.runner import run_batch, simulate_run
from sim.scenario import Scenario, load_scenario
from tests.conftest import SCENARIOS, SHIPPED, shipped

RUNS = 24
ROOT_SEED = 20250701
GOLDEN = Path(__file__).parent / "golden"


def batch(name: str) -> pd.DataFrame:
    """Per-run summaries of a shipped scenario, replications 0..RUNS-1 of the common root seed."""
    scenario = shipped(name)
    return pd.DataFrame([r.summary for r in run_batch(scenario, RUNS, ROOT_SEED, workers=2)])


@pytest.fixture(scope="module")
def runs() -> dict[str, pd.DataFrame]:
    names = [
        "baseline",
        "nk_escalation",
        "trade_relapse",
        "nationalist_surge",
        "us_disengagement",
        "leadership_change",
        "institutionalized",
    ]
    return {name: batch(name) for name in names}


def paired(runs: dict[str, pd.DataFrame], variant: str, column: str) -> np.ndarray:
    """Per-replication difference variant - baseline (same seeds)."""
    return (runs[variant][column] - runs["baseline"][column]).to_numpy()


def assert_lower(diff: np.ndarray) -> None:
    """The paired mean difference is negative by more than two standard errors."""
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() < -2 * se, (diff.mean(), se)


def assert_higher(diff: np.ndarray) -> None:
    assert_lower(-diff)


def relapse_share(frame: pd.DataFrame) -> float:
    return float((frame["outcome_class"] == "relapse").mean())


def test_replications_share_seeds_across_scenarios(runs: dict[str, pd.DataFrame]) -> None:
    assert (runs["baseline"]["seed"] == runs["trade_relapse"]["seed"]).all()


def test_trade_relapse_lowers_trade_and_korean_opinion(runs: dict[str, pd.DataFrame]) -> None:
    assert_lower(paired(runs, "trade_relapse", "final_trade_normalization"))
    assert_lower(paired(runs, "trade_relapse", "final_kr_favorability"))
    assert_lower(paired(runs, "trade_relapse", "window_relations_index"))


def test_nk_escalation_raises_threat_and_security_cooperation(
    runs: dict[str, pd.DataFrame],
) -> None:
    assert_higher(paired(runs, "nk_escalation", "final_nk_threat"))
    assert_higher(paired(runs, "nk_escalation", "final_security_cooperation"))


def test_us_disengagement_lowers_engagement_and_security_cooperation(
    runs: dict[str, pd.DataFrame],
) -> None:
    assert_lower(paired(runs, "us_disengagement", "final_us_engagement"))
    assert_lower(paired(runs, "us_disengagement", "final_security_cooperation"))


def test_nationalist_surge_raises_pressure_and_lowers_relations(
    runs: dict[str, pd.DataFrame],
) -> None:
    assert_higher(paired(runs, "nationalist_surge", "final_nationalist_pressure_kr"))
    assert_higher(paired(runs, "nationalist_surge", "final_nationalist_pressure_jp"))
    assert_lower(paired(runs, "nationalist_surge", "window_relations_index"))


def test_hawkish_leadership_change_lowers_relations(runs: dict[str, pd.DataFrame]) -> None:
    assert_lower(paired(runs, "leadership_change", "window_relations_index"))
    assert relapse_share(runs["leadership_change"]) > relapse_share(runs["baseline"])


def test_institutionalization_lowers_the_share_of_relapse(runs: dict[str, pd.DataFrame]) -> None:
    assert_higher(paired(runs, "institutionalized", "final_institutionalization"))
    assert relapse_share(runs["institutionalized"]) <= relapse_share(runs["baseline"])
    assert relapse_share(runs["institutionalized"]) < relapse_share(runs["leadership_change"])
    assert_higher(paired(runs, "institutionalized", "window_relations_index"))


def test_an_inert_change_gives_identical_rows(baseline: Scenario) -> None:
    # Common random numbers: replication r of two scenarios that differ only in their description.
    other = baseline.with_values({"meta.description": "the same scenario, described differently"})
    for r in range(3):
        a, b = simulate_run(baseline, r, 99), simulate_run(other, r, 99)
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
        assert a.summary == b.summary


def test_historical_scenario_replays_the_record() -> None:
    scenario = load_scenario(SCENARIOS / "historical_2013_2025.yaml")
    result = simulate_run(scenario, 0, ROOT_SEED).timeseries.set_index("date")
    trade = result["trade_normalization"]
    # Normal before July 2019, export controls and white-list removals until 2023, normal again after.
    assert trade["2019-01"].iloc[0] == pytest.approx(1.0)
    assert trade["2019-10"].iloc[0] < 0.5
    assert trade["2024-01"].iloc[0] > trade["2020-06"].iloc[0]
    security = result["security_cooperation"]
    assert security["2018-06"].iloc[0] > security["2016-06"].iloc[0]  # GSOMIA signed 2016-11
    assert result["history_salience"]["2018-12"].iloc[0] > result["history_salience"]["2018-06"].iloc[0]


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_summary(name: str) -> None:
    """Fixed seed, few runs: the summary must match the committed one (regenerate on purpose with
    ``make golden``)."""
    from scripts.regenerate_golden import golden_summary

    expected = pd.read_csv(GOLDEN / f"{name}.csv")
    actual = golden_summary(name)
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        expected,
        check_exact=False,
        rtol=1e-6,
        atol=1e-9,
        check_dtype=False,
    )
