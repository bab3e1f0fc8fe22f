"""The model: invariants, determinism, and the direction of each driver's effect on the same seed."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sim.agents.decision import BestResponse, ExpectedUtility, MoveOption, Scripted
from sim.model import RapprochementModel, classify
from sim.moves import MOVES, GsomiaState, Move, Side
from sim.outcomes import EVENT_COUNTS, OUTCOMES, REGIME_STATES, OutcomeClass
from sim.scenario import Event, Scenario

SCRIPTED = {"actors.seoul.decision_rule": "scripted", "actors.tokyo.decision_rule": "scripted"}


def run(scenario: Scenario, seed: int = 7) -> tuple[RapprochementModel, pd.DataFrame]:
    """Run a model to the end and return it with its monthly frame."""
    model = RapprochementModel(scenario, rng=seed)
    model.run()
    return model, model.outcomes_frame()


def with_events(scenario: Scenario, *events: dict[str, object]) -> Scenario:
    """The scenario with extra dated injects."""
    return scenario.model_copy(update={"events": (*scenario.events, *(Event.model_validate(e) for e in events))})


def mean_after(frame: pd.DataFrame, column: str, month: int) -> float:
    """Mean of a column from ``month`` on."""
    return float(frame[column].iloc[month:].mean())


# --------------------------------------------------------------------------------------------------
# Invariants and reproducibility


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outcomes_stay_within_their_documented_ranges(small_baseline: Scenario, seed: int) -> None:
    model, frame = run(small_baseline, seed)
    assert len(frame) == small_baseline.meta.months
    for name, info in OUTCOMES.items():
        values = frame[name].to_numpy()
        assert np.all(np.isfinite(values)), name
        assert values.min() >= info.low and values.max() <= info.high, name
    for name in EVENT_COUNTS:
        assert (frame[name] >= 0).all()
    # Citizens are conserved: nobody is born or dies within a scenario.
    assert model.publics["korea"].size == small_baseline.publics.korea.citizens
    assert model.publics["japan"].size == small_baseline.publics.japan.citizens
    for public in model.publics.values():
        assert public.opinions.min() >= 0.0 and public.opinions.max() <= 1.0


def test_same_seed_same_results_different_seed_different(small_baseline: Scenario) -> None:
    _, a = run(small_baseline, 11)
    _, b = run(small_baseline, 11)
    _, c = run(small_baseline, 12)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


def test_model_uses_only_its_own_generator(small_baseline: Scenario) -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking the legacy global generator is untouched
    run(small_baseline, 3)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("bad", [1.5, "3", True])  # None is Mesa's "draw a fresh seed" (tests/test_mesa.py)
def test_rng_must_be_an_integer_seed(small_baseline: Scenario, bad: object) -> None:
    with pytest.raises(ValueError, match="integer seed"):
        RapprochementModel(small_baseline, rng=bad)  # type: ignore[arg-type]


def test_relations_index_is_the_documented_weighted_sum(small_baseline: Scenario) -> None:
    model, frame = run(small_baseline, 5)
    last = frame.iloc[-1]
    expected = 100 * (
        0.25 * model.institutions.climate
        + 0.15 * last.security_cooperation
        + 0.15 * last.trade_normalization
        + 0.15 * last.institutionalization
        + 0.15 * (1 - last.history_salience)
        + 0.15 * (last.kr_favorability + last.jp_favorability) / 200
    )
    assert last.relations_index == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# Driver effects: the same seed with and without one inject, governments scripted so only the driver acts.


@pytest.fixture(scope="module")
def calm(small_baseline: Scenario) -> Scenario:
    return small_baseline.with_values(SCRIPTED)


def test_court_ruling_raises_salience_and_lowers_japanese_opinion(calm: Scenario) -> None:
    unsettled = calm.with_values({"drivers.history.compensation_fund": False})
    _, control = run(unsettled)
    _, shocked = run(
        with_events(unsettled, {"date": "2025-09", "kind": "court_ruling", "actor": "seoul", "magnitude": 3.0})
    )
    assert shocked.history_salience.iloc[2] > control.history_salience.iloc[2] + 0.3
    assert mean_after(shocked, "jp_favorability", 2) < mean_after(control, "jp_favorability", 2)


def test_a_compensation_fund_absorbs_a_ruling(calm: Scenario) -> None:
    """While the 2023 plan's fund pays the awards, a final ruling neither reopens the dispute nor weighs fully."""
    ruling = {"date": "2025-09", "kind": "court_ruling", "actor": "seoul"}
    covered, covered_frame = run(with_events(calm, ruling))
    open_, open_frame = run(with_events(calm.with_values({"drivers.history.compensation_fund": False}), ruling))
    assert not covered.history.dispute_open and open_.history.dispute_open
    share = calm.drivers.history.covered_ruling_share
    rise = calm.drivers.history.impacts.court_ruling.salience
    before = covered_frame.history_salience.iloc[0]
    assert covered_frame.history_salience.iloc[2] < open_frame.history_salience.iloc[2]
    assert covered_frame.history_salience.iloc[2] == pytest.approx(
        (before * (1 - calm.drivers.history.decay) + share * rise) * (1 - calm.drivers.history.decay), abs=0.02
    )


def test_a_lower_court_ruling_does_not_open_the_dispute(calm: Scenario) -> None:
    unsettled = calm.with_values({"drivers.history.compensation_fund": False})
    lower, _ = run(with_events(unsettled, {"date": "2025-09", "kind": "court_ruling", "magnitude": 0.5}))
    final, _ = run(with_events(unsettled, {"date": "2025-09", "kind": "court_ruling", "magnitude": 1.0}))
    assert not lower.history.dispute_open and final.history.dispute_open


def test_export_controls_lower_trade_and_korean_opinion(calm: Scenario) -> None:
    _, control = run(calm)
    model, shocked = run(with_events(calm, {"date": "2025-09", "kind": "export_controls", "actor": "tokyo"}))
    assert control.trade_normalization.iloc[-1] == pytest.approx(1.0)
    assert shocked.trade_normalization.iloc[2] <= 1.0 - 0.30 + 1e-12
    assert model.trade.flags["jp_export_controls"]
    assert mean_after(shocked, "kr_favorability", 2) < mean_after(control, "kr_favorability", 2)


def test_boycott_grows_only_while_japan_restricts_and_pressure_is_high(calm: Scenario) -> None:
    hot = calm.with_values({"drivers.trade.boycott_threshold": 0.0})
    model, _ = run(with_events(hot, {"date": "2025-08", "kind": "export_controls", "actor": "tokyo"}))
    assert model.trade.boycott > 0.5
    quiet, _ = run(hot)
    assert quiet.trade.boycott == 0.0


def test_gsomia_notice_expires_and_cooperation_falls(calm: Scenario) -> None:
    _, control = run(calm)
    model, ended = run(
        with_events(calm, {"date": "2025-08", "kind": "gsomia_termination_notice", "actor": "seoul"})
    )
    assert model.security.gsomia is GsomiaState.INACTIVE
    assert ended.security_cooperation.iloc[-1] < control.security_cooperation.iloc[-1] - 0.2


def test_missile_overflight_raises_threat_and_security_cooperation(calm: Scenario) -> None:
    _, control = run(calm)
    _, alarmed = run(
        with_events(
            calm,
            {
                "date": "2025-08",
                "kind": "missile_overflight",
                "actor": "pyongyang",
                "magnitude": 3.0,
            },
        )
    )
    assert alarmed.nk_threat.iloc[1] > control.nk_threat.iloc[1]
    assert alarmed.security_cooperation.iloc[3] > control.security_cooperation.iloc[3]


def test_pandemic_closes_exchange_and_costs_the_young(calm: Scenario) -> None:
    control, _ = run(calm)
    closed, _ = run(with_events(calm, {"date": "2025-08", "kind": "pandemic"}))
    assert closed.exchange.visitors["korea"] < 0.5 * control.exchange.visitors["korea"]
    assert closed.exchange.visitors["japan"] < 0.5 * control.exchange.visitors["japan"]
    young = closed.publics["japan"].cohort == 0
    assert closed.publics["japan"].opinions[young].mean() < control.publics["japan"].opinions[young].mean()


def test_exchange_programmes_lift_opinion(calm: Scenario) -> None:
    _, control = run(calm)
    _, boosted = run(calm.with_values({"drivers.exchange.program_scale": 3.0}))
    assert mean_after(boosted, "kr_favorability", 6) > mean_after(control, "kr_favorability", 6)
    assert mean_after(boosted, "jp_favorability", 6) > mean_after(control, "jp_favorability", 6)


def test_institutions_damp_the_climate_loss_of_a_hostile_move(calm: Scenario) -> None:
    def climate_drop(stock: float) -> float:
        model = RapprochementModel(calm.with_values({"drivers.institutions.stock": stock}), rng=1)
        before = model.institutions.climate
        model.enact(Side.TOKYO, Move.IMPOSE_EXPORT_CONTROLS, inject=True)
        return before - model.institutions.climate

    assert climate_drop(0.0) == pytest.approx(-MOVES[Move.IMPOSE_EXPORT_CONTROLS].climate)
    assert climate_drop(0.9) < climate_drop(0.0)


def test_leader_change_by_inject_sets_orientation_and_honeymoon(calm: Scenario) -> None:
    model, _ = run(
        with_events(
            calm,
            {
                "date": "2025-09",
                "kind": "leadership_change",
                "actor": "seoul",
                "orientation": 0.1,
                "leader": "Hawk",
            },
        )
    )
    assert model.governments[Side.SEOUL].leader == "Hawk"
    assert model.governments[Side.SEOUL].orientation == pytest.approx(0.1)


def test_scheduled_leader_change_draws_a_successor(calm: Scenario) -> None:
    scenario = calm.with_values(
        {
            "actors.seoul.next_leadership_change": "2026-01",
            "actors.seoul.successor.mean": 0.0,
            "actors.seoul.successor.sd": 0.0,
            "drivers.institutions.damping": 0.0,
        }
    )
    model, _ = run(scenario)
    assert model.governments[Side.SEOUL].orientation == 0.0
    assert model.governments[Side.SEOUL].next_change == 6 + scenario.actors.seoul.term_months


# --------------------------------------------------------------------------------------------------
# The two-level game


def test_a_move_outside_the_win_set_is_open_and_costs_approval_in_proportion_to_the_shortfall(
    small_baseline: Scenario,
) -> None:
    """The win-set is a cost, not a veto: a hostile public makes the compensation plan dear, not impossible."""
    model = RapprochementModel(small_baseline, rng=2)
    model.history.dispute_open = True
    korea = model.publics["korea"]
    korea.opinions = np.full(korea.size, 0.05)  # a uniformly hostile public
    seoul = model.governments[Side.SEOUL]
    options = {o.move: o for o in seoul.options()}
    plan = options[Move.COMPENSATION_PLAN]
    assert plan.open and plan.acceptance == 0.0
    shortfall = seoul.required_share(Move.COMPENSATION_PLAN) - plan.acceptance
    assert plan.approval_cost == pytest.approx(seoul.spec.winset_cost * shortfall)
    assert options[Move.HARDLINE_GESTURE].open and options[Move.HARDLINE_GESTURE].approval_cost == 0.0
    assert "only tokyo" in (options[Move.REMORSE_STATEMENT].blocked or "")
    # Made anyway, it costs its approval cost on top of the (negative) reception.
    before = seoul.approval
    model.enact(Side.SEOUL, Move.COMPENSATION_PLAN)
    reception = seoul.spec.move_approval * (0.0 - 0.5)
    assert seoul.approval == pytest.approx(before + reception - plan.approval_cost)
    # In proportion to the shortfall: each further tenth of the public short costs winset_cost / 10.
    seoul.approval = 0.5
    needed = seoul.required_share(Move.COMPENSATION_PLAN)
    costs = [seoul.approval_cost(Move.COMPENSATION_PLAN, needed - gap) for gap in (0.1, 0.2, 0.4)]
    assert costs == pytest.approx([seoul.spec.winset_cost * gap for gap in (0.1, 0.2, 0.4)])


def test_a_thin_approval_buffer_makes_an_unpopular_move_less_attractive(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    seoul = model.governments[Side.SEOUL]
    seoul.approval = 0.6
    comfortable = seoul.utility(Move.COMPENSATION_PLAN, 0.2)
    popular_cost = seoul.approval_cost(Move.COMPENSATION_PLAN, 0.2)
    seoul.approval = 0.2
    assert seoul.utility(Move.COMPENSATION_PLAN, 0.2) < comfortable
    assert seoul.approval_cost(Move.COMPENSATION_PLAN, 0.2) > popular_cost
    # Inside the win-set there is no cost, whatever the buffer.
    assert seoul.approval_cost(Move.COMPENSATION_PLAN, 0.95) == 0.0


def test_a_convinced_leader_values_a_move_more(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    seoul = model.governments[Side.SEOUL]
    seoul.orientation = 0.2
    hawk = seoul.utility(Move.COMPENSATION_PLAN, 0.3)
    seoul.orientation = 0.9
    assert seoul.utility(Move.COMPENSATION_PLAN, 0.3) > hawk


def test_a_popular_government_has_a_wider_win_set(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    seoul = model.governments[Side.SEOUL]
    seoul.approval = 0.2
    unpopular = seoul.required_share()
    seoul.approval = 0.8
    assert seoul.required_share() < unpopular


def test_nationalist_pressure_makes_hard_line_more_attractive(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    tokyo = model.governments[Side.TOKYO]
    calm_utility = tokyo.utility(Move.HARDLINE_GESTURE, 0.9)
    model.history.salience = 1.0
    model.publics["japan"].opinions = np.zeros(model.publics["japan"].size)
    assert tokyo.utility(Move.HARDLINE_GESTURE, 0.9) > calm_utility


def test_threat_raises_the_value_of_restoring_gsomia(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=2)
    seoul = model.governments[Side.SEOUL]
    low = seoul.utility(Move.RESTORE_GSOMIA, 0.8)
    model.security.provoke(50)
    assert seoul.utility(Move.RESTORE_GSOMIA, 0.8) > low


def test_decision_rules() -> None:
    options = [
        MoveOption(Move.HOLD, 1.0, None, 0.0),
        MoveOption(Move.SUMMIT, 0.9, None, 0.4),
        MoveOption(Move.END_GSOMIA, 0.9, "GSOMIA is not in force", float("nan")),
        MoveOption(Move.JOINT_STATEMENT, 0.9, None, 0.1),
    ]
    rng = np.random.default_rng(0)
    assert BestResponse().choose(options, rng) is Move.SUMMIT
    assert Scripted().choose(options, rng) is Move.HOLD
    picks = [ExpectedUtility(0.0).choose(options, rng) for _ in range(3000)]
    assert Move.END_GSOMIA not in picks  # a blocked move is never chosen
    shares = pd.Series(picks).value_counts(normalize=True)
    assert shares.to_dict() == pytest.approx({m: 1 / 3 for m in shares.index}, abs=0.04)
    sharp = [ExpectedUtility(100.0).choose(options, rng) for _ in range(200)]
    assert set(sharp) == {Move.SUMMIT}


def test_scripted_governments_never_move_on_their_own(calm: Scenario) -> None:
    model, frame = run(calm)
    assert model.moves_log == []
    assert frame.cooperative_moves.sum() == frame.hostile_moves.sum() == 0


def test_forbidden_moves_are_never_made(small_baseline: Scenario) -> None:
    hostile = [m.value for m, spec in MOVES.items() if spec.hostile]
    scenario = small_baseline.with_values(
        {
            "levers.seoul.forbidden_moves": hostile,
            "levers.tokyo.forbidden_moves": hostile,
            "drivers.history.salience": 0.9,
        }
    )
    for seed in range(5):
        model, _ = run(scenario, seed)
        assert all(not MOVES[move].hostile for _, _, move in model.moves_log)


def test_regular_summit_lever_holds_summits(calm: Scenario) -> None:
    scenario = calm.with_values({"levers.seoul.summit_every_months": 6})
    model, _ = run(scenario)
    summits = [t for t, _, move in model.moves_log if move is Move.SUMMIT]
    assert len(summits) >= 3
    assert all(later - earlier >= 6 for earlier, later in itertools.pairwise(summits))


# --------------------------------------------------------------------------------------------------
# Outcome classes


@pytest.mark.parametrize(
    ("index", "institutions", "expected"),
    [
        (80.0, 0.9, OutcomeClass.DURABLE_RAPPROCHEMENT),
        (80.0, 0.1, OutcomeClass.FRAGILE_THAW),
        (55.0, 0.9, OutcomeClass.FRAGILE_THAW),
        (50.0, 0.9, OutcomeClass.RELAPSE),
        (20.0, 0.0, OutcomeClass.RELAPSE),
    ],
)
def test_outcome_class_thresholds(
    baseline: Scenario, index: float, institutions: float, expected: OutcomeClass
) -> None:
    # baseline.yaml: durable >= 65 with institutionalisation >= 0.35; relapse <= 50
    assert classify(index, institutions, baseline) is expected


# --------------------------------------------------------------------------------------------------
# Calendar and bookkeeping details


def test_gsomia_notice_runs_whole_months_before_lapsing(calm: Scenario) -> None:
    months = calm.drivers.security.gsomia_notice_months
    model = RapprochementModel(
        with_events(calm, {"date": "2025-08", "kind": "gsomia_termination_notice", "actor": "seoul"}), rng=1
    )
    states = []
    for _ in range(1 + months + 1):
        model.step()
        states.append(model.security.gsomia)
    # Notice given in month 1 (2025-08); in force through month 1 + months - 1; lapsed from month 1 + months.
    assert states[1 : 1 + months] == [GsomiaState.TERMINATION_NOTICE] * months
    assert states[1 + months] is GsomiaState.INACTIVE


def test_an_injected_leader_change_keeps_the_scheduled_calendar(baseline: Scenario) -> None:
    # baseline: Takaichi by inject in 2025-10, Tokyo's next scheduled change stays 2028-10 (month 39).
    model = RapprochementModel(baseline, rng=3)
    for _ in range(6):
        model.step()
    tokyo = model.governments[Side.TOKYO]
    assert tokyo.leader == "Takaichi Sanae"
    assert tokyo.next_change == 39


def test_a_summit_both_sides_propose_happens_once(calm: Scenario) -> None:
    scenario = calm.with_values({"levers.seoul.summit_every_months": 6, "levers.tokyo.summit_every_months": 6})
    model, frame = run(scenario)
    months = [t for t, _, move in model.moves_log if move is Move.SUMMIT]
    assert len(months) == len(set(months))
    assert frame.cooperative_moves.max() == 1


def test_only_the_filer_can_drop_a_wto_case(calm: Scenario) -> None:
    model = RapprochementModel(calm, rng=1)
    model.enact(Side.SEOUL, Move.FILE_WTO_CASE, inject=True)
    assert model.state_blocks(Side.TOKYO, Move.DROP_WTO_CASE) is not None
    assert model.state_blocks(Side.SEOUL, Move.DROP_WTO_CASE) is None


def test_a_random_court_ruling_reopens_the_compensation_dispute(calm: Scenario) -> None:
    scenario = calm.with_values(
        {"drivers.history.court_ruling_rate": 5.0, "drivers.history.compensation_fund": False}
    )
    model = RapprochementModel(scenario, rng=1)
    assert not model.history.dispute_open
    model.step()
    assert model.history.dispute_open


@pytest.mark.parametrize(("side", "offended"), [(Side.TOKYO, "korea"), (Side.SEOUL, "japan")])
def test_a_hard_line_gesture_offends_the_partner_public_most(calm: Scenario, side: Side, offended: str) -> None:
    model = RapprochementModel(calm, rng=1)
    model.enact(side, Move.HARDLINE_GESTURE, inject=True)
    own = "korea" if offended == "japan" else "japan"
    assert model.publics[offended].forcing.history > model.publics[own].forcing.history


def test_batched_acceptances_equal_the_direct_count(small_baseline: Scenario) -> None:
    model = RapprochementModel(small_baseline, rng=4)
    public = model.publics["korea"]
    conciliations = sorted({spec.conciliation for spec in MOVES.values()})
    batched = public.acceptances(conciliations, 0.4)
    scale, k = public.dynamics.acceptance_scale, public.dynamics.nationalist_voice * 0.9
    weight = 1 + k * public.nationalism
    # A citizen meets their own leader's move camp_loyalty x partisanship of the way; the other camp stands back.
    own = public.camp == (1 if public.leader.camp == "conservative" else 0)
    loyalty = (
        public.dynamics.camp_loyalty * public.partisanship * np.where(own, 1.0, -public.dynamics.polarisation)
    )
    for c in conciliations:
        if c > 0:
            accepts = public.opinions + loyalty >= scale * c
        elif c < 0:
            accepts = public.opinions - loyalty <= 1 + scale * c
        else:
            accepts = np.ones(public.size, dtype=bool)
        assert batched[c] == pytest.approx(weight[accepts].sum() / weight.sum(), rel=1e-12), c
    # Opinions exactly on a threshold count as accepting, from both sides.
    low, high = scale * 0.2, 1 + scale * -0.5  # the thresholds of c = 0.2 (>=) and c = -0.5 (<=)
    public.opinions = np.array([low, low, high, high])
    public.nationalism = np.zeros(4)
    public._nationalism_total = 0.0
    public._loyalty = None
    shares = public.acceptances([0.2, -0.5], 0.0)
    assert shares[0.2] == 1.0 and shares[-0.5] == 1.0


def test_regime_states_are_recorded_each_in_its_own_column(small_baseline: Scenario) -> None:
    # Each state read from the driver that holds it, in REGIME_STATES order: switching one switches its column
    # alone.
    switches = {
        "jp_export_controls": lambda m: m.trade.flags.__setitem__("jp_export_controls", True),
        "jp_white_list_removed": lambda m: m.trade.flags.__setitem__("jp_white_list_removed", True),
        "kr_export_controls": lambda m: m.trade.flags.__setitem__("kr_export_controls", True),
        "kr_white_list_removed": lambda m: m.trade.flags.__setitem__("kr_white_list_removed", True),
        "wto_case": lambda m: m.trade.flags.__setitem__("wto_case", True),
        "gsomia_in_force": lambda m: setattr(m.security, "gsomia", GsomiaState.INACTIVE),
        "gsomia_notice": lambda m: setattr(m.security, "gsomia", GsomiaState.TERMINATION_NOTICE),
        "dispute_open": lambda m: setattr(m.history, "dispute_open", not m.history.dispute_open),
        "compensation_fund": lambda m: setattr(m.history, "compensation_fund", not m.history.compensation_fund),
    }
    assert list(switches) == list(REGIME_STATES)
    before = RapprochementModel(small_baseline, rng=1).regime_states()
    for name, switch in switches.items():
        model = RapprochementModel(small_baseline, rng=1)
        switch(model)
        after = model.regime_states()
        changed = [n for n, a, b in zip(REGIME_STATES, after, before, strict=True) if a != b]
        # A notice of termination leaves GSOMIA in force: only the notice column moves.
        assert changed == [name], (name, changed)
    model = RapprochementModel(small_baseline, rng=1)
    model.step()
    columns = model.monthly()
    assert all(columns[name].dtype == bool and len(columns[name]) == 1 for name in REGIME_STATES)
