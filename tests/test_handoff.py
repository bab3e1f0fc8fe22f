"""Posterior draws per replication and the start-state hand-off (sim.posterior, sim.start_state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.loading import ScenarioError
from sim.posterior import DRAWS, PosteriorError, load_posterior, posterior_draw
from sim.runner import build_model, run_batch, run_seeds
from sim.scenario import POSTERIOR_FILE, load_scenario
from sim.start_state import _states, adopt, capture, derive, start_states
from sim.validation.observe import DEFAULT_POLLS, INSTRUMENTS, ObservationSettings, measure_point, read_polls
from sim.validation.observe import poll_points as points_of
from tests.conftest import SCENARIOS, shipped

SMALL = ("meta.months=6", "publics.korea.citizens=200", "publics.japan.citizens=200")


def _posterior_copy(folder: Path, shift: dict[str, float] | None = None) -> Path:
    """The package's posterior, written to ``folder`` with some parameters shifted."""
    frame = pd.read_csv(POSTERIOR_FILE)
    for path, delta in (shift or {}).items():
        frame[path] = frame[path] + delta
    target = folder / "posterior.csv"
    frame.to_csv(target, index=False)
    return target


def _scenario_with(folder: Path, posterior: Path, *extra: str) -> Path:
    """A scenario file in ``folder`` that extends the baseline and reads ``posterior``."""
    text = f"extends: {SCENARIOS / 'baseline.yaml'}\nmeta:\n  name: variant\n"
    text += f"  start_state: {{scenario: {SCENARIOS / 'historical_2013_2025.yaml'}, date: 2025-07}}\n"
    text += f"parameters: {{from: {posterior.name}}}\n" + "".join(extra)
    path = folder / "variant.yaml"
    path.write_text(text)
    return path


def test_the_shipped_posterior_is_readable_and_resamples_by_weight() -> None:
    posterior = load_posterior(str(POSTERIOR_FILE))
    assert len(posterior.draws) == DRAWS
    assert np.isclose(posterior.weights.sum(), 1.0)
    # Systematic resampling: each particle is drawn about weight x DRAWS times (never more than one away).
    counts = np.bincount(posterior.draws, minlength=len(posterior.weights))
    assert np.all(np.abs(counts - posterior.weights * DRAWS) < 1.0 + 1e-9)
    values = posterior.model_values(0)
    assert "publics.dynamics.exchange_lift" in values
    assert not any(p.startswith("observe.") or p.endswith("mean_opinion") for p in values)


def test_a_damaged_posterior_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "posterior.csv"
    bad.write_text("publics.dynamics.trade_push,weight\n0.1,-1\n")
    with pytest.raises(PosteriorError, match=str(bad)):
        load_posterior(str(bad))


def test_a_missing_posterior_is_a_scenario_error_naming_the_field(tmp_path: Path) -> None:
    path = _scenario_with(tmp_path, tmp_path / "nowhere.csv")
    with pytest.raises(ScenarioError, match=r"parameters.from: no posterior file"):
        load_scenario(path)


def test_each_replication_draws_with_its_own_seed() -> None:
    draws = [posterior_draw(run_seeds(7, r).posterior) for r in range(40)]
    assert draws == [posterior_draw(run_seeds(7, r).posterior) for r in range(40)]
    assert len(set(draws)) > 20  # replications see different parts of the posterior
    # Adding the posterior's seed left the parameter and model seeds of every replication as they were.
    first, second = np.random.SeedSequence(7, spawn_key=(3,)).spawn(2)
    assert run_seeds(7, 3).params == int(first.generate_state(1, np.uint32)[0])
    assert run_seeds(7, 3).model == int(second.generate_state(1, np.uint32)[0])


def test_posterior_runs_are_identical_across_worker_counts() -> None:
    scenario = shipped("baseline", *SMALL)
    serial = [r.summary for r in run_batch(scenario, 4, 11, workers=1)]
    pooled = [r.summary for r in run_batch(scenario, 4, 11, workers=2)]
    assert serial == pooled
    assert {s["posterior_draw"] for s in serial} == {posterior_draw(run_seeds(11, r).posterior) for r in range(4)}
    lifts = {s["param:publics.dynamics.exchange_lift"] for s in serial}
    assert len(lifts) > 1  # the posterior's spread reaches the runs


def test_a_projection_starts_from_the_replay_state_of_its_draw() -> None:
    scenario = shipped("baseline", *SMALL)
    seeds = run_seeds(1, 0)
    model, draw = build_model(scenario, seeds, {})
    assert draw.index is not None and draw.start is not None
    states = start_states(
        scenario.meta.start_state.source, scenario.meta.start_state.date, scenario.parameters.source
    )
    handed = states[draw.index].citizens["korea"]["opinions"]
    korea = model.publics["korea"]
    # Citizens are resampled from the state: every opinion is one of the state's, and the mean is close.
    assert np.isin(korea.opinions, handed).all()
    assert abs(korea.opinions.mean() - handed.mean()) < 0.03
    # The levels opinion answers changes from are the replay's (January 2013), not the projection's.
    assert model.exchange.start_contact["korea"] == pytest.approx(
        states[draw.index].scalars["reference.contact.korea"]
    )
    assert model.exchange.start_contact["korea"] < model.exchange.contact["korea"]


def test_capture_and_adopt_hand_over_everything_listed(small_baseline) -> None:
    historical = shipped("historical_2013_2025", "publics.korea.citizens=300", "publics.japan.citizens=300")
    replay, _ = build_model(historical, run_seeds(3, 0), {})
    for _ in range(30):
        replay.step()
    state = capture(replay)
    scenario = shipped("baseline", "meta.months=6", "meta.start_state=null", "parameters=null")
    fresh, draw = build_model(scenario, run_seeds(3, 1), {})
    assert draw.index is None and draw.start is None
    adopt(fresh, state, keep=("drivers.history.salience",))
    assert fresh.security.cooperation == pytest.approx(state.scalars["drivers.security.cooperation"])
    assert fresh.security.nk_threat == pytest.approx(state.scalars["drivers.security.nk_threat"])
    assert fresh.history.salience == pytest.approx(scenario.drivers.history.salience)  # kept
    # Approvals and institutions are the scenario's own (measured approvals; nothing measures institutions).
    assert fresh.institutions.stock == pytest.approx(scenario.drivers.institutions.stock)
    assert fresh._start_threat == pytest.approx(state.scalars["reference.threat"])
    assert fresh.exchange.contact["japan"] == pytest.approx(state.scalars["contact.japan"])


def test_a_new_calibration_changes_the_starting_state(tmp_path: Path) -> None:
    original = load_scenario(_scenario_with(tmp_path, _posterior_copy(tmp_path)), SMALL)
    other_folder = tmp_path / "other"
    other_folder.mkdir()
    shifted = _posterior_copy(other_folder, {"publics.dynamics.exchange_lift": 0.15})
    changed = load_scenario(_scenario_with(other_folder, shifted), SMALL)
    seeds = run_seeds(2, 0)
    before, _ = build_model(original, seeds, {})
    after, _ = build_model(changed, seeds, {})
    # More lift from contact over 2013-2025: warmer Koreans at the hand-off.
    assert after.publics["korea"].opinions.mean() > before.publics["korea"].opinions.mean() + 0.005


def test_the_hand_off_is_derived_per_draw_and_cached(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAPPROCHEMENT_CACHE", str(tmp_path / "cache"))
    _states.cache_clear()
    scenario = shipped("baseline")
    spec = scenario.meta.start_state
    posterior = load_posterior(scenario.parameters.source)
    first = start_states(spec.source, spec.date, scenario.parameters.source)
    assert len(first) == DRAWS
    assert len(list((tmp_path / "cache" / "start_states").glob("*.npz"))) == 1
    _states.cache_clear()
    again = start_states(spec.source, spec.date, scenario.parameters.source)  # read back from the file
    assert np.array_equal(again[5].citizens["japan"]["opinions"], first[5].citizens["japan"]["opinions"])
    direct = derive(spec, posterior, range(2))
    assert np.array_equal(direct[1].citizens["korea"]["base"], first[1].citizens["korea"]["base"])
    _states.cache_clear()


def _first_month_readings(scenario_name: str, runs: int = 12) -> dict[str, float]:
    """Median over runs of the first simulated month's reading by each poll instrument (its own threshold and
    the calibrated mode offsets), at the scenario's first month."""
    from sim.posterior import load_posterior as read

    scenario = shipped(scenario_name, "meta.months=4")
    settings = ObservationSettings().with_values(read(scenario.parameters.source).mean())
    polls = read_polls(DEFAULT_POLLS)
    year = 2025
    points = {p.series: p for p in points_of(polls, [year])}
    readings: dict[str, list[float]] = {series: [] for series in INSTRUMENTS}
    for r in range(runs):
        model, _ = build_model(scenario, run_seeds(1, r), {})
        model.step()
        for series, instrument in INSTRUMENTS.items():
            public = model.publics[instrument.country]
            point = points.get(series)
            if point is None:
                continue
            month = {(2025, 7): public.opinions}
            ages = {(2025, 7): public.age}
            single = type(point)(series, year, ((2025, 7),), point.observed, "", "")
            readings[series].append(measure_point(single, month, ages, settings))
    return {series: float(np.median(values)) for series, values in readings.items() if values}


def test_the_baseline_starts_inside_the_observed_band() -> None:
    """The first month's reading by each instrument lies within two noise sds (the calibration's: the poll's
    sampling error and the 4 pp discrepancy) of the band spanned by the last two observed values of its series,
    which for the Korean and Japanese Genron/EAI series span the 2025 series break (EAI with API, online)."""
    readings = _first_month_readings("baseline")
    polls = read_polls(DEFAULT_POLLS)
    for series, reading in readings.items():
        last_two = polls[polls["series"] == series].sort_values("year")["value_pct"].tail(2)
        share = last_two.mean() / 100
        noise = np.hypot(100 * np.sqrt(share * (1 - share) / INSTRUMENTS[series].sample_size), 4.0)
        low, high = last_two.min() - 2 * noise, last_two.max() + 2 * noise
        assert low <= reading <= high, (series, reading, (low, high))


def test_a_hand_off_date_the_replay_does_not_reach_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "later.yaml"
    path.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\n"
        "meta:\n  name: later\n  start: 2027-01\n"
        f"  start_state: {{scenario: {SCENARIOS / 'historical_2013_2025.yaml'}, date: 2027-01}}\n"
        "events: []\n"
    )
    with pytest.raises(ScenarioError, match=r"meta.start_state.date: 2027-01 is not a month .* reaches"):
        load_scenario(path)


def test_a_posterior_for_another_model_is_refused_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "posterior.csv"
    bad.write_text("publics.dynamics.no_such_push,weight\n0.1,1\n")
    with pytest.raises(ScenarioError, match=r"parameters.from: .*holds parameters this scenario lacks"):
        load_scenario(_scenario_with(tmp_path, bad))
    bad.write_text("publics.dynamics.trade_push,weight\nx,1\n")
    with pytest.raises(ScenarioError, match=r"parameters.from: .*every parameter and weight must be a number"):
        load_scenario(_scenario_with(tmp_path, bad))
