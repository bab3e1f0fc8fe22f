"""RapprochementModel: Seoul, Tokyo, Washington and two publics, stepped month by month.

Activation order within a month (``step``), spelled out because it matters:

1. **Injects**: the scenario's dated events for this month.
2. **Drivers**: scheduled leader changes, random history and territorial incidents, North Korean provocations,
   China's drift.
3. **Washington** adjusts its engagement and may convene a trilateral summit.
4. **Seoul and Tokyo** choose simultaneously (both see the same state), then their moves are enacted, Seoul
   first. Summits and joint statements need the partner's public to accept them too.
5. **Stocks**: trade (boycott), exchange flow, security cooperation, institutions and climate, salience decay.
6. **Publics** absorb the month's forcing, then interact (Deffuant, Friedkin-Johnsen).
7. **Approval** of both governments; then outcomes are computed and collected.

All randomness comes from the model's generator, seeded by one integer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.agents.government import GovernmentAgent
from sim.agents.public import Leader, PublicOpinion
from sim.agents.washington import WashingtonAgent
from sim.drivers.exchange import ExchangeFlow
from sim.drivers.history import HISTORY_KINDS, HISTORY_MOVES, HistoryDisputes
from sim.drivers.institutions import Institutions
from sim.drivers.security import SecurityEnvironment
from sim.drivers.trade import TradeRegime
from sim.moves import Move, MoveSpec, Side, move_table
from sim.outcomes import EVENT_COUNTS, OUTCOMES, OutcomeClass
from sim.scenario import Event, EventActor, EventKind, PublicShock, Scenario, add_months, months_between
from sim.start_state import StartState, adopt

#: Injects that are a government's move, made by the event's actor.
EVENT_MOVES: dict[EventKind, Move] = {
    EventKind.EXPORT_CONTROLS: Move.IMPOSE_EXPORT_CONTROLS,
    EventKind.EXPORT_CONTROLS_LIFTED: Move.LIFT_EXPORT_CONTROLS,
    EventKind.WHITE_LIST_REMOVAL: Move.REMOVE_WHITE_LIST,
    EventKind.WHITE_LIST_RESTORED: Move.RESTORE_WHITE_LIST,
    EventKind.WTO_COMPLAINT: Move.FILE_WTO_CASE,
    EventKind.WTO_WITHDRAWN: Move.DROP_WTO_CASE,
    EventKind.GSOMIA_TERMINATION_NOTICE: Move.END_GSOMIA,
    EventKind.GSOMIA_SUSPENSION_OF_TERMINATION: Move.RESTORE_GSOMIA,
    EventKind.GSOMIA_RESTORED: Move.RESTORE_GSOMIA,
    EventKind.GSOMIA_SIGNED: Move.RESTORE_GSOMIA,
    EventKind.COMPENSATION_PLAN: Move.COMPENSATION_PLAN,
    EventKind.HISTORY_AGREEMENT: Move.REMORSE_STATEMENT,
    EventKind.SUMMIT: Move.SUMMIT,
}

#: North Korean events counted as provocations; their threat weights are ``drivers.security.provocation_weights``.
PROVOCATION_KINDS = frozenset({EventKind.MISSILE_LAUNCH, EventKind.MISSILE_OVERFLIGHT, EventKind.NUCLEAR_TEST})

#: The columns recorded every month: the outcome contract, then the event counts.
MONTHLY_COLUMNS: tuple[str, ...] = (*OUTCOMES, *EVENT_COUNTS)
#: Reads one month's row off the model in one call (``MONTHLY_COLUMNS`` order).
_read_month = attrgetter(*MONTHLY_COLUMNS)


class RapprochementModel(mesa.Model):
    """The Seoul-Tokyo-Washington rapprochement model for one scenario and one seed."""

    def __init__(self, scenario: Scenario, *, rng: int = 0, start: StartState | None = None) -> None:
        """Build agents and driver states from a validated scenario; ``rng`` is the run's integer seed.

        ``start`` is a handed-over state (``sim.start_state``) that replaces the scenario's drawn publics, the
        levels opinion answers changes from, and the stocks the scenario does not keep.
        """
        if not isinstance(rng, int | np.integer) or isinstance(rng, bool):
            raise ValueError(f"rng must be an integer seed, got {rng!r}")
        super().__init__(rng=int(rng))
        self.spec = scenario
        self.month = 0
        self.moves: dict[Move, MoveSpec] = move_table({move: scenario.moves.row(move) for move in Move})
        weights = scenario.outcomes.relations_weights.model_dump()
        total = sum(weights.values())
        self._relations_weights = {name: weight / total for name, weight in weights.items()}
        d = scenario.drivers
        self.history = HistoryDisputes(d.history)
        self.security = SecurityEnvironment(d.security)
        self.trade = TradeRegime(d.trade)
        p = scenario.publics
        self.exchange = ExchangeFlow(
            d.exchange, {"korea": p.korea.adult_population, "japan": p.japan.adult_population}
        )
        self.institutions = Institutions(d.institutions)
        a, levers = scenario.actors, scenario.levers
        self.publics: dict[str, PublicOpinion] = {
            "korea": PublicOpinion(self, "korea", p.korea, p.dynamics, Leader(a.seoul.camp, a.seoul.orientation)),
            "japan": PublicOpinion(self, "japan", p.japan, p.dynamics, Leader(a.tokyo.camp, a.tokyo.orientation)),
        }
        # Opinion answers changes of threat and salience since the start: the start is the equilibrium of its
        # own conditions (docs/ODD.md, section 5.11).
        self._start_threat = self.security.threat
        self._start_salience = self.history.salience
        self.washington = WashingtonAgent(self, a.washington)
        self.governments: dict[Side, GovernmentAgent] = {
            Side.SEOUL: GovernmentAgent(self, Side.SEOUL, a.seoul, levers.seoul),
            Side.TOKYO: GovernmentAgent(self, Side.TOKYO, a.tokyo, levers.tokyo),
        }
        self.injects: dict[int, list[Event]] = {}
        for event in scenario.events:
            self.injects.setdefault(months_between(scenario.meta.start, event.date), []).append(event)
        self.moves_log: list[tuple[int, Side, Move]] = []
        # A replay whose governments decide for themselves skips the moves they made in history.
        self.replays_record = all(not g.rule.autonomous for g in self.governments.values())

        if start is not None:
            keep = scenario.meta.start_state.keep if scenario.meta.start_state is not None else ()
            adopt(self, start, keep)
        self._measure()  # the starting state, so every outcome attribute exists and month 0 can read them
        self._reset_counts()
        # One tuple per month, read off the model's attributes. Mesa's DataCollector does the same job with a
        # deepcopy of every reporter every month, which was a tenth of a month's time at the default population.
        self._months: list[tuple[float, ...]] = []

    # ----------------------------------------------------------------------------------------------
    # The month
    def step(self) -> None:
        """Advance one month (activation order in the module docstring)."""
        self._reset_counts()
        if self.date.month == 1 and self.month > 0:
            for public in self.publics.values():
                public.age_one_year()
        for event in self.injects.get(self.month, ()):
            if self.replays_record or not event.recorded_move:
                self.apply_event(event)
        self._run_drivers()
        self.washington.adjust()
        self.washington.convene()
        chosen = {side: gov.decide() for side, gov in self.governments.items()}
        if chosen[Side.SEOUL] is chosen[Side.TOKYO] and self.moves[chosen[Side.SEOUL]].needs_partner:
            chosen[Side.TOKYO] = Move.HOLD  # both proposed the same summit or statement: it happens once
        for side, move in chosen.items():
            if move is not Move.HOLD and not self.enact(side, move):
                self.governments[side].rebuffed(move)
        tokyo = self.governments[Side.TOKYO]
        if tokyo.team_controlled and tokyo.team_outcome == "made" and chosen[Side.TOKYO] is Move.HOLD:
            # Tokyo's team proposed the joint move Seoul proposed too: it happened (or not) once, as Seoul's.
            made = bool(self.moves_log) and self.moves_log[-1][:2] == (self.month, Side.SEOUL)
            tokyo.team_outcome = "made (proposed by both)" if made else "rebuffed (proposed by both)"
        self._update_stocks()
        # Korea then Japan, Seoul then Tokyo: the order the agents were created in, written out.
        publics = self.publics.values()
        salience_change = self.history.salience - self._start_salience
        threat_change = self.security.threat - self._start_threat
        for name, public in self.publics.items():
            # Only a Korean boycott of Japanese goods exists (the 2019 'No Japan' campaign).
            boycott = self.trade.boycott if name == "korea" else 0.0
            public.absorb(salience_change, threat_change, self.exchange.change(name), boycott)
        for public in publics:
            public.interact()
        for government in self.governments.values():
            government.end_month()
        self._measure()
        self._months.append(_read_month(self))
        self.month += 1

    @property
    def date(self) -> dt.date:
        """First day of the calendar month of the current tick (the next one, between steps)."""
        return add_months(self.spec.meta.start, self.month)

    def run(self) -> None:
        """Run every month of the scenario."""
        while self.month < self.spec.meta.months:
            self.step()

    def _reset_counts(self) -> None:
        for name in EVENT_COUNTS:
            setattr(self, name, 0)

    def _run_drivers(self) -> None:
        for gov in self.governments.values():
            if gov.next_change is not None and self.month >= gov.next_change:
                gov.change_leader(scheduled=True)
        for kind in self.history.draw_incidents(self.rng):
            self._history_incident(kind, 1.0)
        self.nk_provocations += self.security.draw_provocations(self.rng, self.date.year)
        self.security.drift_china(self.rng)

    def _update_stocks(self) -> None:
        # The boycott answers the Korean mood as last measured (end of the previous month).
        self.trade.update(self.nationalist_pressure_kr)
        self.exchange.update(self.rng, self.trade.boycott, self.date.year)
        self.security.update(self.washington.engagement, self.institutions.climate, self.institutions.stock)
        self.institutions.update()
        self.history.decay()

    # ----------------------------------------------------------------------------------------------
    # Moves and events
    def state_blocks(self, side: Side, move: Move) -> str | None:
        """Why the bilateral state rules out a move for this side (nothing to lift, GSOMIA already on...)."""
        if move in (Move.END_GSOMIA, Move.RESTORE_GSOMIA):
            return self.security.feasible(move)
        if move is Move.COMPENSATION_PLAN and not self.history.dispute_open:
            return "no open compensation dispute"
        if move is Move.REPUDIATE_SETTLEMENT and not self.history.settlement_in_force:
            return "no settlement in force to repudiate"
        return self.trade.feasible(side, move)

    def enact(self, side: Side, move: Move, *, magnitude: float = 1.0, inject: bool = False) -> bool:
        """Carry out a move by ``side``; return False if a joint move was rebuffed by the partner's public.

        Government choices and injects go through here alike, so a move has one set of effects.
        """
        spec = self.moves[move]
        government = self.governments[side]
        partner = self.governments[side.partner]
        if spec.needs_partner and not inject and not partner.consents(move):
            return False
        if move in (Move.END_GSOMIA, Move.RESTORE_GSOMIA):
            self.security.apply(move)
        elif move in HISTORY_MOVES:
            self.history.apply(move)
        else:
            self.trade.apply(side, move)
        self.institutions.shift_climate(spec.climate * magnitude)
        self.institutions.build(spec.institutions * magnitude)
        self.history.shift(spec.salience * magnitude)

        partner_public = self.publics[side.partner.public].forcing
        c = spec.conciliation * magnitude
        # Elite cues: the leaders who make a move signal it to their own camps.
        self.publics[side.public].forcing.cue += c
        if spec.needs_partner:
            partner_public.cue += c
        if spec.cooperative:
            partner_public.goodwill += c
            if spec.needs_partner:
                self.publics[side.public].forcing.goodwill += c
            self.cooperative_moves += 1
        elif spec.hostile:
            if spec.trade < 0:
                partner_public.trade += magnitude
            if move is Move.HARDLINE_GESTURE:
                shock = getattr(self.spec.drivers.history.hardline_shocks, side.value)
                self._history_incident(shock, magnitude, salience=False)
            self.hostile_moves += 1
        partner.hear(c)
        if spec.needs_partner:
            government.hear(c)
            partner.record(move)
        government.record(move)
        self.moves_log.append((self.month, side, move))
        return True

    def _history_incident(self, kind: EventKind | PublicShock, magnitude: float, *, salience: bool = True) -> None:
        """A history incident of ``kind`` (or a government's hard-line gesture, given as its public shock)."""
        impact: PublicShock
        if isinstance(kind, EventKind):
            incident = self.history.impact(kind)
            impact = incident
            if kind is EventKind.COURT_RULING:
                if self.history.compensation_fund:
                    # The fund pays the award: the ruling stays a smaller story and settles nothing anew.
                    magnitude *= self.spec.drivers.history.covered_ruling_share
                elif magnitude >= self.spec.drivers.history.dispute_opening_magnitude:
                    self.history.dispute_open = True  # a final ruling is a new unsettled compensation claim
            if salience:
                self.history.shift(incident.salience * magnitude)
        else:
            impact = kind
        self.publics["korea"].forcing.history += impact.korea * magnitude
        self.publics["japan"].forcing.history += impact.japan * magnitude
        self.history_events += 1

    def apply_event(self, event: Event) -> None:
        """Apply a dated inject (from the scenario or a facilitator)."""
        kind, magnitude = event.kind, event.magnitude
        if kind in EVENT_MOVES:
            side = Side.TOKYO if event.actor is EventActor.TOKYO else Side.SEOUL
            if kind is EventKind.HISTORY_AGREEMENT:
                side = Side.TOKYO
            self.enact(side, EVENT_MOVES[kind], magnitude=magnitude, inject=True)
        elif kind is EventKind.HISTORY_AGREEMENT_DISSOLVED:
            # The repudiation move already raises salience; the incident adds the publics' shock only.
            self.enact(Side.SEOUL, Move.REPUDIATE_SETTLEMENT, magnitude=magnitude, inject=True)
            self._history_incident(kind, magnitude, salience=False)
        elif kind in HISTORY_KINDS:
            self._history_incident(kind, magnitude)
        elif kind in PROVOCATION_KINDS:
            weight = getattr(self.spec.drivers.security.provocation_weights, kind.value) * magnitude
            self.security.provoke(weight)
            self.nk_provocations += 1
        elif kind is EventKind.BOYCOTT:
            self.trade.start_boycott(self.spec.drivers.trade.boycott_inject * magnitude)
        elif kind is EventKind.LEADERSHIP_CHANGE:
            self._government_of(event).change_leader(event.orientation, event.leader, camp=event.camp)
        elif kind is EventKind.DOMESTIC_CRISIS:
            gov = self._government_of(event)
            gov.approval = max(0.05, gov.approval - gov.spec.crisis_approval_loss * magnitude)
        elif kind is EventKind.PANDEMIC:
            self.exchange.start_pandemic()
        elif kind is EventKind.TRILATERAL_SUMMIT:
            self.washington.hold_trilateral(magnitude)
        elif kind is EventKind.US_POLICY_SHIFT and event.engagement is not None:
            self.washington.target = event.engagement

    def schedule(self, event: Event) -> None:
        """Add an inject at its date (a facilitator's inject during a class exercise)."""
        self.injects.setdefault(months_between(self.spec.meta.start, event.date), []).append(event)

    def _government_of(self, event: Event) -> GovernmentAgent:
        if event.actor is EventActor.TOKYO:
            return self.governments[Side.TOKYO]
        if event.actor is EventActor.SEOUL:
            return self.governments[Side.SEOUL]
        raise ValueError(f"event {event.kind} on {event.date} needs actor seoul or tokyo")

    # ----------------------------------------------------------------------------------------------
    # Outcomes
    def _measure(self) -> None:
        korea, japan = self.publics["korea"], self.publics["japan"]
        salience = self.history.salience
        self.kr_favorability = korea.favourability()
        self.jp_favorability = japan.favourability()
        self.security_cooperation = self.security.cooperation
        self.trade_normalization = self.trade.normalization
        self.nationalist_pressure_kr = korea.nationalist_pressure(salience)
        self.nationalist_pressure_jp = japan.nationalist_pressure(salience)
        self.history_salience = salience
        self.us_engagement = self.washington.engagement
        self.institutionalization = self.institutions.stock
        self.seoul_approval = self.governments[Side.SEOUL].approval
        self.tokyo_approval = self.governments[Side.TOKYO].approval
        self.nk_threat = self.security.nk_threat
        parts = {
            "climate": self.institutions.climate,
            "security_cooperation": self.security_cooperation,
            "trade_normalization": self.trade_normalization,
            "institutionalization": self.institutionalization,
            "calm_history": 1.0 - salience,
            "public_opinion": (self.kr_favorability + self.jp_favorability) / 200.0,
        }
        self.relations_index = 100.0 * sum(self._relations_weights[k] * v for k, v in parts.items())

    def monthly(self) -> dict[str, np.ndarray]:
        """The months recorded so far: one array per outcome (float64) and per event count (int64).

        Row ``m`` is the state at the end of month ``m``; the arrays are fresh copies the caller may keep.
        """
        rows = list(self._months)  # one snapshot: the dashboard may read while its play thread steps
        table = np.array(rows, dtype=np.float64).reshape(len(rows), len(MONTHLY_COLUMNS))
        columns = {name: table[:, i].copy() for i, name in enumerate(OUTCOMES)}
        offset = len(OUTCOMES)
        columns |= {name: table[:, offset + i].astype(np.int64) for i, name in enumerate(EVENT_COUNTS)}
        return columns

    def outcomes_frame(self) -> pd.DataFrame:
        """The recorded monthly outcomes and event counts (one row per month, ``MONTHLY_COLUMNS`` order)."""
        return pd.DataFrame(self.monthly())


def classify(relations_window_mean: float, final_institutionalization: float, scenario: Scenario) -> OutcomeClass:
    """Outcome class of a run from its last-window mean relations index and final institutionalisation."""
    t = scenario.outcomes
    if relations_window_mean <= t.relapse_max_index:
        return OutcomeClass.RELAPSE
    if (
        relations_window_mean >= t.durable_min_index
        and final_institutionalization >= t.durable_min_institutionalization
    ):
        return OutcomeClass.DURABLE_RAPPROCHEMENT
    return OutcomeClass.FRAGILE_THAW


def classify_run(columns: Mapping[str, Any] | Any, scenario: Scenario) -> tuple[OutcomeClass, float]:
    """Outcome class of a run from its monthly ``relations_index`` and ``institutionalization`` (``columns``: a
    mapping of arrays or a DataFrame), with the mean relations index over the last ``outcomes.window_months``
    it was classified on."""
    window = scenario.outcomes.window_months
    window_mean = float(np.asarray(columns["relations_index"], dtype=np.float64)[-window:].mean())
    final = float(np.asarray(columns["institutionalization"], dtype=np.float64)[-1])
    return classify(window_mean, final, scenario), window_mean
