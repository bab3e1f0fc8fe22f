"""Screening: which parameters the polls can move (Morris over the scripted replay's error)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.designs import Factor
from sim.executors import SerialExecutor
from sim.validation.calibrate import CALIBRATED_FILE, document_values, read_document
from sim.validation.observe import DEFAULT_POLLS, ObservationSettings, read_polls
from sim.validation.screen import OUTPUTS, behavioural_factors, identifiability, screen
from tests.conftest import shipped


def test_behavioural_factors_leave_out_policy_outcomes_data_and_whole_numbers() -> None:
    history = shipped("historical_2013_2025")
    factors = {f.path: f for f in behavioural_factors(history, 0.25)}
    assert len(factors) > 200
    assert not [p for p in factors if p.split(".")[0] in ("levers", "outcomes", "meta", "events")]
    assert "publics.korea.citizens" not in factors and "moves.summit.cooldown" not in factors
    assert "drivers.exchange.observed" not in factors
    push = factors["publics.dynamics.history_push"]
    value = history.publics.dynamics.history_push
    assert (push.low, push.high) == pytest.approx((0.75 * value, 1.25 * value))
    # A parameter at zero varies over [0, relative].
    rulings = factors["drivers.history.court_ruling_rate"]
    assert (rulings.low, rulings.high) == (0.0, 0.25)
    for factor in factors.values():
        history.with_values({factor.path: factor.low})
        history.with_values({factor.path: factor.high})


def test_the_polls_see_the_publics_not_a_scripted_governments_rationality() -> None:
    scenario = shipped("historical_2013_2025", "publics.korea.citizens=80", "publics.japan.citizens=80")
    settings = ObservationSettings().with_values(document_values(read_document(CALIBRATED_FILE)))
    factors = [
        Factor("publics.dynamics.history_push", 0.01, 0.05),
        Factor("actors.seoul.rationality", 5.0, 15.0),
    ]
    with SerialExecutor() as executor:
        polls = read_polls(DEFAULT_POLLS)
        result = screen(scenario, polls, settings, executor, trajectories=2, replications=1, factors=factors)
    assert set(result.indices["output"]) == set(OUTPUTS)
    assert len(result.errors) == 2 * (len(factors) + 1)
    verdicts = identifiability(result.indices).set_index("factor")
    assert verdicts.loc["actors.seoul.rationality", "verdict"] == "cannot identify"
    assert verdicts.loc["publics.dynamics.history_push", "mu_star"] > 0.05


def test_identifiability_verdicts() -> None:
    indices = pd.DataFrame(
        {
            "factor": ["a", "b", "c", "d"],
            "output": "all",
            "mu_star": [1.0, 0.04, 0.0, 0.5],
            "mu_star_conf": [0.2, 0.01, 0.0, 0.9],
            "sigma": [0.5, 0.02, 0.0, 0.7],
        }
    )
    verdicts = identifiability(indices).set_index("factor")["verdict"].to_dict()
    assert verdicts == {"a": "moves the polls", "b": "weak", "c": "cannot identify", "d": "weak"}


def test_screen_command_writes_indices_verdicts_and_the_design(tmp_path: Path) -> None:
    args = ["screen", "--trajectories", "2", "--replications", "1", "--citizens", "40", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path), "--no-plots"]) == 0
    folder = tmp_path / "screen_historical_2013_2025"
    verdicts = pd.read_csv(folder / "verdicts.csv")
    assert set(verdicts["verdict"]) <= {"moves the polls", "weak", "cannot identify"}
    design = pd.read_csv(folder / "design.csv")
    assert {"design_point", "all", "kr_good_impression_of_jp"} <= set(design.columns)
    assert main([*args, "--out", str(tmp_path), "--no-plots"]) == 2  # replaced only with --force
