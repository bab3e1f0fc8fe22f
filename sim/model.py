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
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any, ClassVar, Literal, Protocol

import mesa
import numpy as np
import pandas as pd

from sim.agents.government import GovernmentAgent
from sim.agents.public import Leader, PublicOpinion
from sim.agents.washington import WashingtonAgent
from sim.drivers.exchange import ExchangeFlow
from sim.drivers.history import HISTORY_KINDS, HistoryDisputes
from sim.drivers.institutions import Institutions
from sim.drivers.security import SecurityEnvironment
from sim.drivers.trade import TradeRegime
from sim.moves import DispatchError, GsomiaState, Move, MoveSpec, Side, dispatch_table, move_table, require_every
from sim.outcomes import EVENT_COUNTS, OUTCOMES, REGIME_STATES, OutcomeClass
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

#: History incidents an inject brings as such. The dissolution of an agreement is one too, but it is first Seoul's
#: repudiation, so it has a handler of its own.
INCIDENT_KINDS = frozenset(HISTORY_KINDS) - {EventKind.HISTORY_AGREEMENT_DISSOLVED}

#: Event kinds that are recorded and have no effect on the model, each with the reason. They stay in a scenario's
#: events (marked on plots and in the dashboard's event log) but ``apply_event`` changes nothing for them.
NO_EFFECT_EVENTS: dict[EventKind, str] = {
    EventKind.ELECTION: (
        "a dated marker of the vote: the winner takes office on a later date, by a leadership_change inject or "
        "the scheduled change of leader, and changing the government at the vote as well would change it twice"
    ),
}

#: The model attributes holding the drivers that moves change the state of.
DriverName = Literal["history", "security", "trade"]


class MoveDriver(Protocol):
    """A driver whose state some moves change: it says which, whether the state allows each, and applies it."""

    MOVES: ClassVar[frozenset[Move]]

    def feasible(self, side: Side, move: Move) -> str | None:
        """Why the current state rules out ``move`` by ``side``, or None."""

    def apply(self, side: Side, move: Move) -> None:
        """Change the state as ``move`` by ``side`` does."""


#: Moves that change no driver's own state, each with the reason: their whole effect is their move-table numbers
#: (climate, salience, institutions, the publics, reciprocity, approval), which ``enact`` applies to every move.
NO_STATE_CHANGE: dict[Move, str] = {
    Move.HOLD: "the government does nothing this month",
    Move.SUMMIT: "a meeting leaves no standing arrangement behind; what it builds is its institutions number",
    Move.JOINT_STATEMENT: "a statement leaves no standing arrangement behind; what it builds is its institutions "
    "number",
    Move.HARDLINE_GESTURE: "a gesture (a shrine visit, a Dokdo landing) is a history incident felt by the "
    "publics, which enact adds, not a change to a dispute, a trade measure or GSOMIA",
}

# What a missing entry of each table should be, ending the error that names it.
_MOVE_HINT = " (add it to a driver's MOVES, or to NO_STATE_CHANGE with the reason)"
_EVENT_HINT = " (add a handler to EVENT_HANDLERS, or the kind to NO_EFFECT_EVENTS with the reason)"

#: The driver whose state each move changes (by the model attribute that holds it), or None for the moves of
#: ``NO_STATE_CHANGE``. Built from the drivers' own ``MOVES``, with exactly one entry per move.
MOVE_DRIVERS: dict[Move, DriverName | None] = dispatch_table(
    Move,
    "MOVE_DRIVERS",
    (
        (HistoryDisputes.MOVES, "history"),
        (SecurityEnvironment.MOVES, "security"),
        (TradeRegime.MOVES, "trade"),
        (NO_STATE_CHANGE, None),
    ),
    _MOVE_HINT,
)

#: The columns recorded every month: the outcome contract, the event counts, then the regime states.
MONTHLY_COLUMNS: tuple[str, ...] = (*OUTCOMES, *EVENT_COUNTS, *REGIME_STATES)
#: Reads a month's outcomes and counts off the model in one call (``MONTHLY_COLUMNS`` order).
_read_month = attrgetter(*OUTCOMES, *EVENT_COUNTS)


class RapprochementModel(mesa.Model):
    """The Seoul-Tokyo-Washington rapprochement model for one scenario and one seed."""

    # The month's event counts (``sim.outcomes.EVENT_COUNTS``), zeroed at the start of every month.
    history_events: int
    nk_provocations: int
    cooperative_moves: int
    hostile_moves: int

    def __init__(self, scenario: Scenario, *, rng: int | None = None, start: StartState | None = None) -> None:
        """Build agents and driver states from a validated scenario; ``rng`` is the run's integer seed.

        As everywhere in Mesa, ``rng=None`` draws a fresh seed; it is kept in ``seed``, so such a run can be
        repeated. ``start`` is a handed-over state (``sim.start_state``) that replaces the scenario's drawn
        publics, the levels opinion answers changes from, and the stocks the scenario does not keep.
        """
        if rng is None:
            rng = int(np.random.SeedSequence().entropy) % 2**63  # type: ignore[arg-type]
        if not isinstance(rng, int | np.integer) or isinstance(rng, bool):
            raise ValueError(f"rng must be an integer seed or None, got {rng!r}")
        #: The integer seed of this run's generator (the one drawn when ``rng`` was None).
        self.seed = int(rng)
        super().__init__(rng=self.seed)
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
        # Mesa's batch_run steps a model while it is running: this one runs for the scenario's months.
        self.running = scenario.meta.months > 0

    # ----------------------------------------------------------------------------------------------
    # The month
    def step(self) -> None:
        """Advance one month (activation order in the module docstring)."""
        self._reset_counts()
        if self.date.month == 1 and self.month > 0:
            for public in self.publics.values():
                public.age_one_year()
        for event in self.injects.get(self.month, ()):
            if self.applies(event):
                self.apply_event(event)
        self._run_drivers()
        self.washington.adjust()
        self.washington.convene()
        chosen = {side: gov.decide() for side, gov in self.governments.items()}
        proposed = chosen[Side.TOKYO]
        by_both = chosen[Side.SEOUL] is proposed and self.moves[proposed].needs_partner
        if by_both:
            chosen[Side.TOKYO] = Move.HOLD  # both proposed the same summit or statement: it happens once
        made = False
        for side, move in chosen.items():
            if move is not Move.HOLD:
                made = self.enact(side, move)
                self.governments[side].settle(move, made)  # each rule hears what became of its choice
        if by_both:
            # Tokyo's proposal happened (or not) once, as Seoul's, the one move enacted above.
            self.governments[Side.TOKYO].settle(proposed, made, merged=True)
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
        self._months.append(_read_month(self) + self.regime_states())
        self.month += 1
        self.running = self.month < self.spec.meta.months

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
    def driver_of(self, move: Move) -> MoveDriver | None:
        """The driver whose state ``move`` changes (``MOVE_DRIVERS``), or None for a move of ``NO_STATE_CHANGE``.

        Raises :class:`~sim.moves.DispatchError` for a move the table lacks, rather than treating it as no change.
        """
        try:
            name = MOVE_DRIVERS[move]
        except KeyError:
            raise DispatchError(f"MOVE_DRIVERS has no entry for move {move.value!r}{_MOVE_HINT}") from None
        driver: MoveDriver | None = None if name is None else getattr(self, name)
        return driver

    def state_blocks(self, side: Side, move: Move) -> str | None:
        """Why the bilateral state rules out a move for this side (nothing to lift, GSOMIA already on...)."""
        driver = self.driver_of(move)
        return None if driver is None else driver.feasible(side, move)

    def enact(self, side: Side, move: Move, *, magnitude: float = 1.0, inject: bool = False) -> bool:
        """Carry out a move by ``side``; return False if a joint move was rebuffed by the partner's public.

        Government choices and injects go through here alike, so a move has one set of effects.
        """
        spec = self.moves[move]
        government = self.governments[side]
        partner = self.governments[side.partner]
        if spec.needs_partner and not inject and not partner.consents(move):
            return False
        driver = self.driver_of(move)
        if driver is not None:
            driver.apply(side, move)
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

    def applies(self, event: Event) -> bool:
        """Whether this model applies a dated event when its month comes: a move the governments made in history
        (``recorded_move``) only in a replay of the record; governments that decide for themselves make it or
        not."""
        return self.replays_record or not event.recorded_move

    def apply_event(self, event: Event) -> None:
        """Apply a dated inject (from the scenario or a facilitator) with its kind's handler (``EVENT_HANDLERS``).

        A kind of ``NO_EFFECT_EVENTS`` changes nothing; a kind the table lacks raises
        :class:`~sim.moves.DispatchError` rather than being skipped.
        """
        try:
            handler = EVENT_HANDLERS[event.kind]
        except KeyError:
            raise DispatchError(
                f"EVENT_HANDLERS has no entry for event kind {event.kind.value!r}{_EVENT_HINT}"
            ) from None
        if handler is not None:
            handler(self, event)

    # One handler per event kind (the table after the class says which); each takes the event as given.
    def _inject_move(self, event: Event) -> None:
        """An inject that is a government's move (``EVENT_MOVES``), made by Tokyo if the actor is Tokyo, else
        Seoul."""
        side = Side.TOKYO if event.actor is EventActor.TOKYO else Side.SEOUL
        if event.kind is EventKind.HISTORY_AGREEMENT:
            side = Side.TOKYO  # the remorse of a history agreement is Japan's, whoever the row names
        self.enact(side, EVENT_MOVES[event.kind], magnitude=event.magnitude, inject=True)

    def _dissolve_agreement(self, event: Event) -> None:
        """Seoul repudiates the settlement, and the publics feel it as a history incident."""
        # The repudiation move already raises salience; the incident adds the publics' shock only.
        self.enact(Side.SEOUL, Move.REPUDIATE_SETTLEMENT, magnitude=event.magnitude, inject=True)
        self._history_incident(event.kind, event.magnitude, salience=False)

    def _incident(self, event: Event) -> None:
        """A history or territorial incident, as a random one of its kind."""
        self._history_incident(event.kind, event.magnitude)

    def _provocation(self, event: Event) -> None:
        """A North Korean provocation, weighted by its kind."""
        weight = getattr(self.spec.drivers.security.provocation_weights, event.kind.value) * event.magnitude
        self.security.provoke(weight)
        self.nk_provocations += 1

    def _boycott(self, event: Event) -> None:
        """A Korean consumer boycott of at least the inject's intensity."""
        self.trade.start_boycott(self.spec.drivers.trade.boycott_inject * event.magnitude)

    def _leadership_change(self, event: Event) -> None:
        """The actor's government changes leader (drawn as at a scheduled change where the event gives none)."""
        self._government_of(event).change_leader(event.orientation, event.leader, camp=event.camp)

    def _domestic_crisis(self, event: Event) -> None:
        """The actor's government loses approval."""
        gov = self._government_of(event)
        gov.approval = max(0.05, gov.approval - gov.spec.crisis_approval_loss * event.magnitude)

    def _pandemic(self, event: Event) -> None:
        """Borders close for the scenario's pandemic length."""
        self.exchange.start_pandemic()

    def _trilateral_summit(self, event: Event) -> None:
        """Washington holds a trilateral summit."""
        self.washington.hold_trilateral(event.magnitude)

    def _us_policy_shift(self, event: Event) -> None:
        """Washington's target engagement becomes the event's."""
        if event.engagement is None:
            # The scenario schema requires it, so only an event built without validation gets here.
            raise ValueError(f"us_policy_shift on {event.date} needs engagement (Washington's new target, 0-1)")
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

    def regime_states(self) -> tuple[bool, ...]:
        """Whether each measure of ``REGIME_STATES`` is in force now, in that order."""
        flags, history, gsomia = self.trade.flags, self.history, self.security.gsomia
        return (
            flags["jp_export_controls"],
            flags["jp_white_list_removed"],
            flags["kr_export_controls"],
            flags["kr_white_list_removed"],
            flags["wto_case"],
            gsomia is not GsomiaState.INACTIVE,  # a notice leaves the agreement in force until it runs out
            gsomia is GsomiaState.TERMINATION_NOTICE,
            history.dispute_open,
            history.compensation_fund,
        )

    def monthly(self) -> dict[str, np.ndarray]:
        """The months recorded so far: one array per outcome (float64), per event count (int64) and per regime
        state (bool).

        Row ``m`` is the state at the end of month ``m``; the arrays are fresh copies the caller may keep.
        """
        rows = list(self._months)  # one snapshot: the dashboard may read while its play thread steps
        table = np.array(rows, dtype=np.float64).reshape(len(rows), len(MONTHLY_COLUMNS))
        columns = {name: table[:, i].copy() for i, name in enumerate(OUTCOMES)}
        offset = len(OUTCOMES)
        columns |= {name: table[:, offset + i].astype(np.int64) for i, name in enumerate(EVENT_COUNTS)}
        offset += len(EVENT_COUNTS)
        columns |= {name: table[:, offset + i].astype(bool) for i, name in enumerate(REGIME_STATES)}
        return columns

    @property
    def datacollector(self) -> mesa.DataCollector:
        """The months recorded so far as Mesa's ``DataCollector`` holds them, built when asked for.

        One model reporter per outcome and event count (``MONTHLY_COLUMNS``), collected after each step (steps
        1, 2, ...), so Mesa's tools - ``mesa.batch_run``, ``get_model_vars_dataframe`` - work on the model. It is
        built from the rows the model records anyway, not collected as the model runs: collecting costs a
        deepcopy of every reporter every month, a tenth of a month's time.
        """
        collector = mesa.DataCollector(model_reporters={name: name for name in MONTHLY_COLUMNS})
        rows = list(self._months)
        for i, name in enumerate(MONTHLY_COLUMNS):
            collector.model_vars[name] = [row[i] for row in rows]
        # What DataCollector.collect appends at each collection: the model's time, one per step.
        collector._collection_steps = list(range(1, len(rows) + 1))
        return collector

    def outcomes_frame(self) -> pd.DataFrame:
        """The recorded monthly outcomes and event counts (one row per month, ``MONTHLY_COLUMNS`` order)."""
        return pd.DataFrame(self.monthly())


#: What an inject of each kind does: a handler called with the model and the event.
EventHandler = Callable[[RapprochementModel, Event], None]

#: The handler of each event kind, or None for the kinds of ``NO_EFFECT_EVENTS``; exactly one entry per kind.
#: docs/ODD.md section 9 describes each.
EVENT_HANDLERS: dict[EventKind, EventHandler | None] = dispatch_table(
    EventKind,
    "EVENT_HANDLERS",
    (
        (EVENT_MOVES, RapprochementModel._inject_move),
        ((EventKind.HISTORY_AGREEMENT_DISSOLVED,), RapprochementModel._dissolve_agreement),
        (INCIDENT_KINDS, RapprochementModel._incident),
        (PROVOCATION_KINDS, RapprochementModel._provocation),
        ((EventKind.BOYCOTT,), RapprochementModel._boycott),
        ((EventKind.LEADERSHIP_CHANGE,), RapprochementModel._leadership_change),
        ((EventKind.DOMESTIC_CRISIS,), RapprochementModel._domestic_crisis),
        ((EventKind.PANDEMIC,), RapprochementModel._pandemic),
        ((EventKind.TRILATERAL_SUMMIT,), RapprochementModel._trilateral_summit),
        ((EventKind.US_POLICY_SHIFT,), RapprochementModel._us_policy_shift),
        (NO_EFFECT_EVENTS, None),
    ),
    _EVENT_HINT,
)


def check_dispatch(event_kinds: Iterable[EventKind] = EventKind, moves: Iterable[Move] = Move) -> None:
    """Check that every event kind has a handler and every move a driver, each given or declared as no effect.

    Run when this module is imported, so a member added to ``EventKind`` or ``Move`` without its entries stops the
    import with a :class:`~sim.moves.DispatchError` naming it. The arguments default to the enums; a test passes
    an enum with an extra member to see the check fail.
    """
    require_every(event_kinds, EVENT_HANDLERS, "EVENT_HANDLERS", _EVENT_HINT)
    require_every(moves, MOVE_DRIVERS, "MOVE_DRIVERS", _MOVE_HINT)
    for kind, handler in EVENT_HANDLERS.items():
        if handler is None and not NO_EFFECT_EVENTS.get(kind):
            raise DispatchError(f"event kind {kind.value!r} has no handler and no reason in NO_EFFECT_EVENTS")
    for move, driver in MOVE_DRIVERS.items():
        if driver is None and not NO_STATE_CHANGE.get(move):
            raise DispatchError(f"move {move.value!r} has no driver and no reason in NO_STATE_CHANGE")


check_dispatch()


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
