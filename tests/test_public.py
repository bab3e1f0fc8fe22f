"""The publics: camps and elite cues, a long-run equilibrium, contact from visitor flows, ageing and
replacement. Each mechanism's direction is checked on common random numbers (the same seed with and without
the cause), as the driver tests of test_model.py are."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.public import COHORT_AGES, Cohort
from sim.model import RapprochementModel
from sim.moves import Move, Side
from sim.scenario import Camp, Scenario
from tests.test_model import SCRIPTED, run, with_events


@pytest.fixture(scope="module")
def quiet(small_baseline: Scenario) -> Scenario:
    """Scripted governments and no random incidents, threats, pandemics or China drift: only what a test adds."""
    return small_baseline.with_values(
        SCRIPTED
        | {
            "drivers.history.court_ruling_rate": 0.0,
            "drivers.history.shrine_visit_rate": 0.0,
            "drivers.history.textbook_rate": 0.0,
            "drivers.history.territorial_incident_rate": 0.0,
            "drivers.security.nk_provocation_rate": 0.0,
            "drivers.security.china_volatility": 0.0,
            "drivers.security.china_trend": 0.0,
            "drivers.exchange.pandemic_rate": 0.0,
            "actors.washington.volatility": 0.0,
            "actors.washington.trilateral_summit_rate": 0.0,
        }
    )


def camp_means(model: RapprochementModel, public: str) -> dict[Camp, float]:
    p = model.publics[public]
    return {
        camp: float(p.opinions[p.camp == code].mean())
        for camp, code in ((Camp.PROGRESSIVE, 0), (Camp.CONSERVATIVE, 1))
    }


def test_a_leaders_stance_moves_its_own_camp_and_pushes_the_other_away(quiet: Scenario) -> None:
    """Seoul's progressive leader gives way to a conservative dove: conservatives warm, progressives cool."""
    change = {
        "date": "2025-09",
        "kind": "leadership_change",
        "actor": "seoul",
        "orientation": 0.9,
        "camp": "conservative",
        "leader": "Dove",
    }
    control, _ = run(quiet)
    changed, _ = run(with_events(quiet, change))
    before, after = camp_means(control, "korea"), camp_means(changed, "korea")
    assert after[Camp.CONSERVATIVE] > before[Camp.CONSERVATIVE] + 0.02
    assert after[Camp.PROGRESSIVE] < before[Camp.PROGRESSIVE]
    # The other camp cools only by polarisation: without it, mixing with warmer conservatives even warms it.
    no_polarisation = quiet.with_values({"publics.dynamics.polarisation": 0.0})
    flat, _ = run(with_events(no_polarisation, change))
    assert (
        camp_means(flat, "korea")[Camp.PROGRESSIVE]
        >= camp_means(run(no_polarisation)[0], "korea")[Camp.PROGRESSIVE]
    )


def test_a_governments_move_cues_its_own_camp(quiet: Scenario) -> None:
    model = RapprochementModel(quiet, rng=3)
    control = RapprochementModel(quiet, rng=3)
    model.enact(Side.SEOUL, Move.COMPENSATION_PLAN, inject=True)  # Lee (progressive) makes a conciliatory move
    assert model.publics["korea"].forcing.cue == pytest.approx(model.moves[Move.COMPENSATION_PLAN].conciliation)
    model.step()
    control.step()
    assert camp_means(model, "korea")[Camp.PROGRESSIVE] > camp_means(control, "korea")[Camp.PROGRESSIVE]


def test_camp_loyalty_raises_the_own_camps_support_for_its_leaders_move(quiet: Scenario) -> None:
    model = RapprochementModel(quiet, rng=5)
    korea = model.publics["korea"]  # Lee Jae-myung: progressive
    c = model.moves[Move.COMPENSATION_PLAN].conciliation
    own, other = korea.support(c, Camp.PROGRESSIVE), korea.support(c, Camp.CONSERVATIVE)
    disloyal = RapprochementModel(quiet.with_values({"publics.dynamics.camp_loyalty": 0.0}), rng=5)
    plain = disloyal.publics["korea"]
    assert own > plain.support(c, Camp.PROGRESSIVE)
    assert other < plain.support(c, Camp.CONSERVATIVE)
    assert 0.0 <= korea.support(c) <= 1.0


def test_without_events_opinion_converges_instead_of_drifting(quiet: Scenario) -> None:
    """After a shock the settled attitudes return to their long-run level: the opinion converges back."""
    long = quiet.with_values({"meta.months": 120})
    shock = {"date": "2025-08", "kind": "court_ruling", "actor": "seoul", "magnitude": 5.0}
    _, control_frame = run(long)
    _, shocked_frame = run(with_events(long.with_values({"drivers.history.compensation_fund": False}), shock))
    gap = (control_frame.jp_favorability - shocked_frame.jp_favorability).to_numpy()
    assert gap[3] > 5  # the shock hurt
    assert abs(gap[-12:].mean()) < 0.25 * gap[3]  # and has mostly healed
    # Without events the settled attitudes come to rest (at the equilibrium of the drivers, not a trend).
    model = RapprochementModel(long, rng=7)
    anchors = []
    while model.month < long.meta.months:
        model.step()
        if model.month in (72, 84, 108, 120):
            anchors.append(model.publics["japan"].anchors.mean())
    assert abs(anchors[3] - anchors[2]) < 0.5 * abs(anchors[1] - anchors[0]) + 1e-3
    assert abs(anchors[3] - anchors[2]) < 0.005
    last_years = control_frame.jp_favorability.to_numpy()[-36:]
    assert abs(np.polyfit(np.arange(36), last_years, 1)[0]) * 12 < 1.5  # under 1.5 points a year


def test_without_relaxation_a_shock_leaves_a_lasting_mark(quiet: Scenario) -> None:
    """The equilibrium is the relaxation's doing: with none, the shock's share absorbed into anchors stays."""
    frozen = quiet.with_values({"meta.months": 120, "publics.dynamics.anchor_relaxation": 0.0})
    shock = {"date": "2025-08", "kind": "court_ruling", "actor": "seoul", "magnitude": 5.0}
    frozen = frozen.with_values({"drivers.history.compensation_fund": False})
    _, control = run(frozen)
    _, shocked = run(with_events(frozen, shock))
    assert (control.jp_favorability - shocked.jp_favorability).iloc[-12:].mean() > 3


def test_more_visitors_lift_the_young_most(quiet: Scenario) -> None:
    more = quiet.with_values({"drivers.exchange.korea_to_japan.potential": 18.0})
    control, _ = run(quiet)
    boosted, _ = run(more)
    assert boosted.exchange.change("korea") > 0.05 > abs(control.exchange.change("korea"))
    before, after = control.publics["korea"], boosted.publics["korea"]
    lift = {
        cohort: float(
            after.opinions[after.cohort == cohort].mean() - before.opinions[before.cohort == cohort].mean()
        )
        for cohort in Cohort
    }
    assert lift[Cohort.YOUNG] > 0.01
    assert lift[Cohort.YOUNG] > lift[Cohort.MIDDLE] > lift[Cohort.OLD]
    # Japanese visitors to Korea reach the Japanese public, not the Korean one.
    japanese = quiet.with_values({"drivers.exchange.japan_to_korea.potential": 9.0})
    lifted, _ = run(japanese)
    assert lifted.exchange.change("japan") > 0 and lifted.exchange.change("korea") == pytest.approx(
        control.exchange.change("korea")
    )
    assert lifted.publics["japan"].opinions.mean() > control.publics["japan"].opinions.mean()


def test_recorded_flows_replace_the_models_own_and_projection_starts_from_the_last(quiet: Scenario) -> None:
    recorded = quiet.with_values(
        {
            "drivers.exchange.observed": [
                {"year": 2025, "korea_to_japan": 1.0, "japan_to_korea": 0.5},
                {"year": 2026, "korea_to_japan": 2.0},
            ]
        }
    )
    model = RapprochementModel(recorded, rng=1)
    while model.date.year < 2027:
        model.step()
        if model.date.year == 2026 and model.date.month == 6:
            assert model.exchange.visitors["korea"] == 2.0
    # 2027 is not recorded: the Korean flow moves from 2.0 toward its potential, the Japanese from its own.
    model.step()
    assert 2.0 < model.exchange.visitors["korea"] < recorded.drivers.exchange.korea_to_japan.potential


def test_a_boycott_lowers_korean_opinion(quiet: Scenario) -> None:
    boycott = {"date": "2025-08", "kind": "boycott", "actor": "korea_public"}
    _, control = run(quiet)
    _, boycotted = run(with_events(quiet, boycott))
    assert boycotted.kr_favorability.iloc[6] < control.kr_favorability.iloc[6]
    assert boycotted.jp_favorability.iloc[6] == pytest.approx(control.jp_favorability.iloc[6], abs=2.0)


def test_citizens_age_and_are_replaced_by_the_entering_generation(quiet: Scenario) -> None:
    long = quiet.with_values({"meta.months": 120, "publics.korea.max_age": 70})
    model = RapprochementModel(long, rng=2)
    korea = model.publics["korea"]
    start_ages = korea.age.copy()
    model.run()
    assert korea.age.min() >= COHORT_AGES[0] and korea.age.max() < 70
    # Ten Januaries: everyone who has not left is ten years older; those who left were 60 or older.
    stayed = start_ages + 10 < 70
    assert np.allclose(korea.age[stayed], start_ages[stayed] + 10)
    assert (korea.age[~stayed] < COHORT_AGES[0] + 10).all()
    assert (korea.cohort == (korea.age >= 30).astype(int) + (korea.age >= 60)).all()
    assert 0.1 < (~stayed).mean() < 0.5


def test_the_young_are_warmer(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    for public in model.publics.values():
        young = public.opinions[public.cohort == Cohort.YOUNG].mean()
        old = public.opinions[public.cohort == Cohort.OLD].mean()
        assert young > old
