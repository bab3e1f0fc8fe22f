"""A class exercise: teams play Seoul, Tokyo and Washington turn by turn, and the model adjudicates.

A game is one run of a scenario, cut into turns of ``turn_months`` months. Before each turn every team picks a move
for its capital (Seoul and Tokyo: a ``Move``, which outside their domestic win-set costs approval in proportion to
the shortfall; Washington: a ``WashingtonAction``) and the facilitator may add injects. ``advance`` then plays the
turn: the injects happen in the turn's first month, each team's move is made in that month in place of the
government's own choice (the government makes no other move in the turn), and the actors no team plays follow the
model's own rules. A team that has not chosen holds (Washington: ``steady``). Each move is checked again when it is
made, after the month's injects and events (an inject may have made it already): a ruled-out move is not made, a
move outside the win-set is made at its approval cost, and the turn's record says what became of every team move
(``TurnRecord.results``, in words ``TurnRecord.outcomes``). A team plays its actor through a decision rule
installed in place of the actor's own (``sim.agents.team``). Washington's team reaches a team-played capital
through its win-set
(``sim.agents.government.US_PRESSURE_SHARE``); the capitals' choices are weighed under Washington's choice so far
(``Game.us_factor``).

The game is replication 0 of a batch with the game's seed as root seed (``sim.runner.run_seeds``: its sampled
parameters and model seed); the debrief's simulated futures start from exactly the same state and parameters
(``sim.ui.debrief.simulate_futures``), with the facilitator's injects played so far. Its saved state is the
scenario, the seed and the list of turns played (moves and injects): replaying them reproduces the game bit for
bit, which is how ``--resume`` continues a game; this turn's choices so far are checked again as they are read.
"""

from __future__ import annotations

import fcntl
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sim.agents.decision import MoveOutcome, MoveResult
from sim.agents.team import TeamRule, WashingtonTeam
from sim.agents.washington import BROKERING_FACTORS, ENGAGEMENT_STEP, WashingtonAction
from sim.errors import RapprochementError
from sim.files import write_atomic
from sim.model import NO_EFFECT_EVENTS, classify_run
from sim.moves import MOVES, Move, MoveSpec, Side
from sim.outcomes import OUTCOMES, OutcomeClass
from sim.runner import build_model, run_seeds, sample_uncertainties
from sim.scenario import (
    GOVERNMENT_EVENTS,
    SEOUL_EVENTS,
    Event,
    EventActor,
    EventKind,
    Scenario,
    Team,
    add_months,
    months_between,
)

#: Version of the saved-game format.
STATE_FORMAT = 1

#: The capital each government team plays.
TEAM_SIDES: dict[Team, Side] = {Team.SEOUL: Side.SEOUL, Team.TOKYO: Side.TOKYO}

#: What a team that has not chosen does.
DEFAULT_CHOICE: dict[Team, str] = {
    Team.SEOUL: Move.HOLD.value,
    Team.TOKYO: Move.HOLD.value,
    Team.WASHINGTON: WashingtonAction.STEADY.value,
}


#: What each Washington action does, as the team page says it.
WASHINGTON_EFFECTS: dict[WashingtonAction, str] = {
    WashingtonAction.STEADY: "nothing new: engagement keeps moving toward its target; no summit this turn",
    WashingtonAction.BROKER: (
        f"US pressure on Seoul and Tokyo to cooperate x{BROKERING_FACTORS[WashingtonAction.BROKER]:g} this turn"
    ),
    WashingtonAction.TRILATERAL_SUMMIT: "a summit in the turn's first month: institutions, security, climate up",
    WashingtonAction.RAISE_ENGAGEMENT: f"engagement target +{ENGAGEMENT_STEP:g}; engagement follows monthly",
    WashingtonAction.LOWER_ENGAGEMENT: f"engagement target -{ENGAGEMENT_STEP:g}; engagement follows monthly",
    WashingtonAction.STAND_BACK: "no US pressure on either capital this turn",
}


#: What each Seoul or Tokyo move is, in a few words, for the team pages (``move_effect`` adds its numbers from the
#: scenario's move table). ``{partner}`` is the other capital, ``{gesture}`` the capital's own nationalist gesture.
MOVE_WORDS: dict[Move, str] = {
    Move.HOLD: "no move this turn",
    Move.SUMMIT: "a leaders' summit ({partner}'s government must join)",
    Move.JOINT_STATEMENT: "a joint declaration ({partner}'s government must join)",
    Move.COMPENSATION_PLAN: "compensate the forced-labour plaintiffs: closes the open dispute, sets up a fund",
    Move.REMORSE_STATEMENT: "a statement of remorse for the colonial past: a history agreement in force",
    Move.HARDLINE_GESTURE: "{gesture}: a history incident both publics feel",
    Move.REPUDIATE_SETTLEMENT: "repudiate the settlement: reopens the compensation dispute",
    Move.IMPOSE_EXPORT_CONTROLS: "export controls on {partner}: trade falls, {partner}'s public feels threatened",
    Move.LIFT_EXPORT_CONTROLS: "lift your export controls",
    Move.REMOVE_WHITE_LIST: "take {partner} off your white list of trusted trading partners",
    Move.RESTORE_WHITE_LIST: "put {partner} back on your white list",
    Move.END_GSOMIA: "give notice to end GSOMIA, the military-intelligence pact",
    Move.RESTORE_GSOMIA: "restore GSOMIA",
    Move.FILE_WTO_CASE: "file a WTO case against {partner}'s trade measures",
    Move.DROP_WTO_CASE: "drop your WTO case",
}
#: Each capital's nationalist gesture (docs/ODD.md section 8: a shrine visit by Tokyo, a Dokdo landing by Seoul).
GESTURES: dict[Side, str] = {Side.SEOUL: "a landing on Dokdo/Takeshima", Side.TOKYO: "a Yasukuni shrine visit"}
#: The direct effects a move's line names, with their words (the expected gains are the government's hopes).
_EFFECT_NAMES: tuple[tuple[str, str], ...] = (
    ("climate", "climate"),
    ("salience", "history salience"),
    ("institutions", "institutions"),
    ("trade", "trade"),
    ("security", "security"),
)


def move_effect(move: Move, side: Side, spec: MoveSpec) -> str:
    """One line on what a capital's move does: its words and the direct changes of the scenario's move table
    (``a leaders' summit (Tokyo's government must join); climate +0.06, history salience -0.02``)."""
    words = MOVE_WORDS[move].format(partner=side.partner.value.capitalize(), gesture=GESTURES[side])
    numbers = [
        f"{name} {value:+.2f}".replace("-", "\u2212")
        for field_name, name in _EFFECT_NAMES
        if (value := getattr(spec, field_name)) != 0.0
    ]
    return f"{words}; {', '.join(numbers)}" if numbers else words


#: The words for each outcome of a team's move (``outcome_words``).
OUTCOME_WORDS: dict[MoveOutcome, str] = {
    MoveOutcome.HELD: "held",
    MoveOutcome.MADE: "made",
    MoveOutcome.BLOCKED: "blocked",
    MoveOutcome.REBUFFED: "rebuffed",
    MoveOutcome.MADE_JOINTLY: "made (proposed by both)",
    MoveOutcome.REBUFFED_JOINTLY: "rebuffed (proposed by both)",
    MoveOutcome.DROPPED: "dropped",
}


def outcome_words(result: MoveResult) -> str:
    """What became of a team's move, in words: the outcome, why (``blocked: already in place``), and the approval
    a move outside the win-set cost (``made, approval -1.8 pp (outside the win-set)``)."""
    words = OUTCOME_WORDS[result.outcome]
    if result.reason is not None:
        words += f": {result.reason}"
    if result.approval_cost > 0:
        words += f", approval -{100 * result.approval_cost:.1f} pp (outside the win-set)"
    return words


class ExerciseError(RapprochementError, ValueError):
    """An action the game refuses (a move ruled out, a bad inject, a turn after the last)."""


#: Words written in capitals wherever a name is shown.
_ACRONYMS = {"us": "US", "wto": "WTO", "gsomia": "GSOMIA"}


def label(name: str) -> str:
    """A move, action, event kind or outcome name as shown to players (``joint_statement`` -> ``joint
    statement``, ``file_wto_case`` -> ``file WTO case``)."""
    return " ".join(_ACRONYMS.get(word, word) for word in name.split("_"))


#: Who an inject's actor is, in words ("" for the world at large).
ACTOR_WORDS: dict[EventActor, str] = {
    EventActor.SEOUL: "Seoul",
    EventActor.TOKYO: "Tokyo",
    EventActor.SEOUL_TOKYO: "Seoul and Tokyo",
    EventActor.WASHINGTON: "Washington",
    EventActor.PYONGYANG: "Pyongyang",
    EventActor.BEIJING: "Beijing",
    EventActor.KOREA_PUBLIC: "the Korean public",
    EventActor.JAPAN_PUBLIC: "the Japanese public",
    EventActor.WORLD: "",
}


def event_words(event: Event, *, describe: bool = True) -> str:
    """An event in plain words: its description when it has one (``describe``), else its kind, its actor and any
    size other than the usual (``missile launch by Pyongyang, x3``; ``US policy shift by Washington: engagement
    target 0.40``)."""
    if describe and event.description and not event.description.startswith("facilitator inject"):
        return event.description
    actor = ACTOR_WORDS[event.actor]
    text = label(event.kind.value) + (f" by {actor}" if actor else "")
    if event.kind is EventKind.US_POLICY_SHIFT and event.engagement is not None:
        text += f": engagement target {event.engagement:.2f}"
    if event.kind is EventKind.LEADERSHIP_CHANGE and event.leader:
        text += f": {event.leader}"
    if event.magnitude != 1.0:
        text += f", magnitude {event.magnitude:g}"
    return text[0].upper() + text[1:]


def inject_label(event: Event) -> str:
    """An inject as the pages show it: its kind, actor and size (``Missile launch by Pyongyang, magnitude 3``)."""
    return event_words(event, describe=False)


#: The actor an inject of each kind has when the facilitator does not choose another: the one the kind needs
#: (Seoul's GSOMIA and compensation moves), or who usually acts (Pyongyang's missiles, Washington's summits).
_INJECT_ACTORS: dict[EventKind, EventActor] = {
    EventKind.MISSILE_LAUNCH: EventActor.PYONGYANG,
    EventKind.MISSILE_OVERFLIGHT: EventActor.PYONGYANG,
    EventKind.NUCLEAR_TEST: EventActor.PYONGYANG,
    EventKind.TRILATERAL_SUMMIT: EventActor.WASHINGTON,
    EventKind.US_POLICY_SHIFT: EventActor.WASHINGTON,
    EventKind.SHRINE_VISIT: EventActor.TOKYO,
    EventKind.TEXTBOOK: EventActor.TOKYO,
    EventKind.COURT_RULING: EventActor.SEOUL,
    EventKind.BOYCOTT: EventActor.KOREA_PUBLIC,
    EventKind.TERRITORIAL_INCIDENT: EventActor.SEOUL_TOKYO,
    EventKind.HISTORY_AGREEMENT: EventActor.SEOUL_TOKYO,
    EventKind.SUMMIT: EventActor.SEOUL_TOKYO,
}


def inject_actor(kind: EventKind) -> EventActor:
    """The actor the inject form proposes for ``kind`` (Seoul for the moves either government may make)."""
    if kind in SEOUL_EVENTS or kind in GOVERNMENT_EVENTS:
        return EventActor.SEOUL
    return _INJECT_ACTORS.get(kind, EventActor.WORLD)


@dataclass(frozen=True)
class Choice:
    """One move a team may consider this turn.

    Attributes:
        name: the move (or Washington action) value.
        acceptance: voice-weighted share of the capital's public that would accept it (None for Washington,
            NaN when something else rules the move out first).
        in_win_set: whether that share reaches what the government needs.
        reason: why the move is unavailable, or None.
        effect: what the move does, in one line.
        approval_cost: the approval (0-1) the move would cost if made now: 0 inside the win-set, more the
            further outside (None for Washington, NaN when ruled out).
    """

    name: str
    acceptance: float | None
    in_win_set: bool
    reason: str | None
    effect: str = ""
    approval_cost: float | None = None

    @property
    def available(self) -> bool:
        """Whether the team may choose it."""
        return self.reason is None

    @property
    def label(self) -> str:
        """Name shown on the page."""
        return label(self.name)


@dataclass
class TurnRecord:
    """A turn played: its number (from 1), first month, each team's move, the facilitator's injects and what
    became of each move."""

    turn: int
    month: int
    moves: dict[Team, str]
    injects: list[Event] = field(default_factory=list)
    #: What became of each team's move when it was due; not saved: replaying the turn finds it again.
    results: dict[Team, MoveResult] = field(default_factory=dict)
    #: The capitals whose leader changed during the turn: (capital, leader before, leader after); not saved.
    leader_changes: list[tuple[Side, str, str]] = field(default_factory=list)

    @property
    def outcomes(self) -> dict[Team, str]:
        """What became of each team's move, in words (``made``, ``held``, ``blocked: why``...)."""
        return {team: outcome_words(result) for team, result in self.results.items()}

    def remark(self, team: Team, *, unsaid: frozenset[MoveOutcome] = frozenset({MoveOutcome.MADE})) -> str:
        """What became of a team's move, in words, where a page points it out: "" when there is no result or
        it is one of ``unsaid`` with no reason and no approval cost (by default a move made as chosen)."""
        result = self.results.get(team)
        if result is None:
            return ""
        if result.outcome in unsaid and result.reason is None and not result.approval_cost > 0:
            return ""
        return outcome_words(result)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "turn": self.turn,
            "month": self.month,
            "moves": {team.value: move for team, move in self.moves.items()},
            "injects": [e.model_dump(mode="json", exclude_defaults=True) for e in self.injects],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TurnRecord:
        """Read a dict written by ``to_json``."""
        return cls(
            int(data["turn"]),
            int(data["month"]),
            {Team(team): str(move) for team, move in data["moves"].items()},
            [Event.model_validate(e) for e in data.get("injects", [])],
        )


def game_scenario(scenario: Scenario, months: int) -> Scenario:
    """The scenario cut to the game's ``months`` (its injects after them dropped), so the played path and the
    simulated futures cover the same months and are classified on the same last window."""
    if months > scenario.meta.months:
        raise ExerciseError(
            f"meta.months: the exercise needs {months} months (turns x turn_months) but the scenario has "
            f"{scenario.meta.months}"
        )
    if months < scenario.outcomes.window_months:
        raise ExerciseError(
            f"the exercise covers {months} months, fewer than outcomes.window_months "
            f"({scenario.outcomes.window_months}) needed to classify its outcome"
        )
    data = scenario.model_dump(mode="json")
    data["meta"]["months"] = months
    start = scenario.meta.start
    data["events"] = [e for e in data["events"] if months_between(start, e["date"]) < months]
    return Scenario.model_validate(data)


class Game:
    """A class exercise in progress: the model, the teams, the turns played and this turn's choices."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        teams: Sequence[Team],
        turn_months: int,
        turns: int,
        source: str = "",
    ) -> None:
        """Start a game of ``turns`` turns of ``turn_months`` months; ``teams`` are the capitals played (none: the
        model plays every capital, as in the debrief's counterfactuals)."""
        if len(set(teams)) != len(teams):
            raise ExerciseError(f"--teams: a team is named twice in {', '.join(t.value for t in teams)}")
        if turn_months < 1 or turns < 1:
            raise ExerciseError(f"turns ({turns}) and turn_months ({turn_months}) must be at least 1")
        self.scenario = game_scenario(scenario, turns * turn_months)
        self.seed = seed
        self.teams = tuple(teams)
        self.turn_months = turn_months
        self.turns = turns
        self.source = source
        seeds = run_seeds(seed, 0)
        params = sample_uncertainties(self.scenario, seeds.params)
        self.model_seed = seeds.model
        self.model, self.draw = build_model(self.scenario, seeds, params)
        # Installed after the model is built: the model judged from the scenario's own rules whether it replays
        # the historical record (``replays_record``), and the futures of the debrief keep those rules.
        self.rules: dict[Team, TeamRule | WashingtonTeam] = {
            team: WashingtonTeam.install(self.model.washington)
            if team is Team.WASHINGTON
            else TeamRule.install(self.model.governments[TEAM_SIDES[team]])
            for team in self.teams
        }
        #: Every indicator at the start, before the first month (the model keeps no record of it).
        self.start_indicators = self.indicators()
        self.history: list[TurnRecord] = []
        self.pending: dict[Team, str] = {}
        self.pending_injects: list[Event] = []

    # ----------------------------------------------------------------------------------------------
    # Where the game stands
    @property
    def turn(self) -> int:
        """Number (from 1) of the turn being prepared; ``turns + 1`` once the game is over."""
        return len(self.history) + 1

    @property
    def finished(self) -> bool:
        """Whether every turn has been played."""
        return len(self.history) >= self.turns

    def date(self, month: int | None = None) -> str:
        """The calendar month (YYYY-MM) of a model month (default: the first month of the coming turn)."""
        return f"{add_months(self.scenario.meta.start, self.model.month if month is None else month):%Y-%m}"

    def indicators(self) -> dict[str, float]:
        """Every monthly outcome as it stands now (the state at the end of the last turn played)."""
        return {name: float(getattr(self.model, name)) for name in OUTCOMES}

    def indicators_after(self, turns: int) -> dict[str, float]:
        """Every monthly outcome at the end of turn ``turns`` (0: the start), a turn played so far."""
        if not 0 <= turns <= len(self.history):
            raise ExerciseError(f"turn {turns} has not been played ({len(self.history)} played)")
        if turns == 0:
            return dict(self.start_indicators)
        monthly = self.model.monthly()
        row = turns * self.turn_months - 1
        return {name: float(monthly[name][row]) for name in OUTCOMES}

    def leaders(self) -> dict[Side, str]:
        """Who leads each capital now."""
        return {side: government.leader for side, government in self.model.governments.items()}

    def played(self) -> pd.DataFrame:
        """The months played so far: ``month``, ``date`` and one column per outcome."""
        frame = self.model.outcomes_frame()[[*OUTCOMES]]
        frame.insert(0, "month", range(len(frame)))
        frame.insert(1, "date", pd.date_range(self.date(0), periods=len(frame), freq="MS"))
        return frame

    def outcome_class(self) -> OutcomeClass | None:
        """The outcome class the played path reached (None until the game is over)."""
        if not self.finished:
            return None
        return classify_run(self.played(), self.scenario)[0]

    def injects_played(self) -> tuple[Event, ...]:
        """The facilitator's injects of the turns played so far, in the order they happened."""
        return tuple(e for r in self.history for e in r.injects)

    def futures_scenario(self, injects: Sequence[Event] | None = None) -> Scenario:
        """The game's parametrised scenario with the injects played so far (or ``injects``) among its events:
        what the debrief's futures run, so they face the same shocks as the played path and differ only in who
        chooses."""
        injects = self.injects_played() if injects is None else injects
        if not injects:
            return self.model.spec
        data = self.model.spec.model_dump(mode="json")
        data["events"] = [*data["events"], *(e.model_dump(mode="json") for e in injects)]
        return Scenario.model_validate(data)

    def moves_made(self, record: TurnRecord) -> list[tuple[str, str, str]]:
        """What the two governments actually did in a played turn: (date, capital, move), team or model."""
        end = record.month + self.turn_months
        return [
            (self.date(month), side.value, move.value)
            for month, side, move in self.model.moves_log
            if record.month <= month < end
        ]

    # ----------------------------------------------------------------------------------------------
    # Choices
    def choices(self, team: Team) -> list[Choice]:
        """This turn's moves for a team's capital, each with its acceptance at home and why it is unavailable.

        Weighed on the state at the end of the last turn (reading it draws no random numbers)."""
        if team is Team.WASHINGTON:
            washington = self.model.washington
            return [
                Choice(action.value, None, reason is None, reason, WASHINGTON_EFFECTS[action])
                for action in WashingtonAction
                for reason in [washington.unavailable(action)]
            ]
        government = self.model.governments[TEAM_SIDES[team]]
        factor = self.us_factor()
        choices = []
        for option in government.options(us_factor=factor):
            if government.side not in MOVES[option.move].actors:
                continue  # the partner's own moves (GSOMIA, compensation...) are not this team's to consider
            needed = government.required_share(option.move, factor)
            in_win_set = not math.isnan(option.acceptance) and option.acceptance >= needed
            choices.append(
                Choice(
                    option.move.value,
                    float(option.acceptance),
                    bool(in_win_set),
                    option.blocked,
                    move_effect(option.move, government.side, self.model.moves[option.move]),
                    approval_cost=float(option.approval_cost),
                )
            )
        return choices

    def us_factor(self) -> float:
        """Washington's brokering factor for the coming turn: its team's choice so far (1 without a US team)."""
        if Team.WASHINGTON not in self.teams:
            return 1.0
        return BROKERING_FACTORS.get(WashingtonAction(self.pending.get(Team.WASHINGTON, "steady")), 1.0)

    def required_share(self, team: Team, *, cooperative: bool = False) -> float | None:
        """Share of its public a government team's move needs this turn (None for Washington); with
        ``cooperative``, what a cooperative move needs under the US pressure of the coming turn."""
        if team is Team.WASHINGTON:
            return None
        government = self.model.governments[TEAM_SIDES[team]]
        return government.required_share(Move.SUMMIT if cooperative else None, self.us_factor())

    def submit(self, team: Team, name: str) -> Choice:
        """Record a team's move for this turn (replacing an earlier one); refuse one that is unavailable."""
        if self.finished:
            raise ExerciseError("the exercise is over: no more moves")
        if team not in self.teams:
            raise ExerciseError(f"no team plays {team.value} in this exercise")
        for choice in self.choices(team):
            if choice.name == name:
                if not choice.available:
                    raise ExerciseError(f"{choice.label} is unavailable: {choice.reason}")
                self.pending[team] = name
                return choice
        raise ExerciseError(f"{name!r} is not a move {team.value} can make")

    def add_inject(
        self, kind: str, actor: str = "world", magnitude: float = 1.0, engagement: float | None = None
    ) -> Event:
        """A facilitator's inject, dated the first month of the coming turn (validated like a scenario event)."""
        if self.finished:
            raise ExerciseError("the exercise is over: no more injects")
        data: dict[str, Any] = {"date": self.date(), "kind": kind, "actor": actor, "magnitude": magnitude}
        if engagement is not None:
            data["engagement"] = engagement
        data["description"] = f"facilitator inject, turn {self.turn}"
        try:
            event = Event.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'inject'}: {e['msg']}" for e in exc.errors()
            )
            raise ExerciseError(f"inject refused: {problems}") from None
        if event.kind in NO_EFFECT_EVENTS:
            raise ExerciseError(
                f"inject refused: {event.kind} changes nothing in the model ({NO_EFFECT_EVENTS[event.kind]})"
            )
        self.pending_injects.append(event)
        return event

    def remove_inject(self, index: int) -> Event:
        """Take back a pending inject of the coming turn (``index``: its place in ``pending_injects``)."""
        if not 0 <= index < len(self.pending_injects):
            raise ExerciseError(f"no pending inject number {index + 1} ({len(self.pending_injects)} pending)")
        return self.pending_injects.pop(index)

    # ----------------------------------------------------------------------------------------------
    # Playing
    def advance(self) -> TurnRecord:
        """Play the coming turn with the teams' moves and the facilitator's injects."""
        if self.finished:
            raise ExerciseError(f"the exercise is over: all {self.turns} turns have been played")
        moves = {team: self.pending.get(team, DEFAULT_CHOICE[team]) for team in self.teams}
        record = TurnRecord(self.turn, self.model.month, moves, list(self.pending_injects))
        self._play(record)
        self.pending = {}
        self.pending_injects = []
        return record

    def _play(self, record: TurnRecord) -> None:
        if record.turn != self.turn or record.month != self.model.month:
            raise ExerciseError(
                f"turn {record.turn} (month {record.month}) does not follow turn {self.turn - 1} "
                f"(month {self.model.month})"
            )
        for team, name in record.moves.items():
            rule = self.rules[team]
            if isinstance(rule, WashingtonTeam):
                rule.impose(WashingtonAction(name))
            else:
                rule.impose(Move(name))
        for event in record.injects:
            self.model.schedule(event)
        before = self.leaders()
        for month in range(self.turn_months):
            self.model.step()
            if month == 0:
                # Every team's move was due in the turn's first month.
                record.results = {
                    team: result for team in record.moves if (result := self.rules[team].result) is not None
                }
        after = self.leaders()
        record.leader_changes = [
            (side, before[side], after[side]) for side in before if before[side] != after[side]
        ]
        self.history.append(record)

    def replay_without(self, team: Team) -> Game:
        """The game played again with the model's own government in place of ``team``: the same seed, start,
        injects and other teams' moves, turn by turn ("if the model had played your capital")."""
        if team not in self.teams:
            raise ExerciseError(f"no team plays {team.value} in this exercise")
        others = tuple(t for t in self.teams if t is not team)
        game = Game(self.scenario, seed=self.seed, teams=others, turn_months=self.turn_months, turns=self.turns)
        for record in self.history:
            moves = {t: move for t, move in record.moves.items() if t is not team}
            game._play(TurnRecord(record.turn, record.month, moves, list(record.injects)))
        return game

    # ----------------------------------------------------------------------------------------------
    # Saving and resuming
    def state(self) -> dict[str, Any]:
        """The saved game: scenario, seed, settings, turns played, this turn's choices so far, and the
        indicators reached (checked when the game is replayed)."""
        return {
            "format": STATE_FORMAT,
            "source": self.source,
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.seed,
            "teams": [t.value for t in self.teams],
            "turn_months": self.turn_months,
            "turns": self.turns,
            "played": [r.to_json() for r in self.history],
            "pending": {
                "moves": {t.value: m for t, m in self.pending.items()},
                "injects": [e.model_dump(mode="json", exclude_defaults=True) for e in self.pending_injects],
            },
            "indicators": self.indicators(),
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> Game:
        """Rebuild a game by replaying its saved turns; refuse a state the replay does not reproduce."""
        if data.get("format") != STATE_FORMAT:
            raise ExerciseError(f"format: expected {STATE_FORMAT}, got {data.get('format')!r}")
        game = cls(
            Scenario.model_validate(data["scenario"]),
            seed=int(data["seed"]),
            teams=[Team(t) for t in data["teams"]],
            turn_months=int(data["turn_months"]),
            turns=int(data["turns"]),
            source=str(data.get("source", "")),
        )
        for record in data["played"]:
            game._play(TurnRecord.from_json(record))
        game._restore_pending(data.get("pending", {}))
        saved = data.get("indicators")
        if saved is not None:
            game._check_indicators(saved)
        return game

    def _restore_pending(self, pending: Any) -> None:
        """This turn's saved choices, each checked again as when it was first submitted."""
        if not isinstance(pending, Mapping):
            raise ExerciseError("pending: expected the turn's moves and injects (an object)")
        moves, injects = pending.get("moves", {}), pending.get("injects", [])
        if not isinstance(moves, Mapping) or not isinstance(injects, list):
            raise ExerciseError("pending: expected moves (an object) and injects (a list)")
        teams = {}
        for name, move in moves.items():
            try:
                teams[Team(name)] = str(move)
            except ValueError:
                raise ExerciseError(f"pending.moves: {name!r} is not a team") from None
        # Washington first: the capitals' approval costs are weighed under its choice, as when submitted.
        for team in sorted(teams, key=lambda t: t is not Team.WASHINGTON):
            try:
                self.submit(team, teams[team])
            except ExerciseError as exc:
                raise ExerciseError(f"pending.moves.{team.value}: {exc}") from None
        for data in injects:
            try:
                event = Event.model_validate(data)
            except ValidationError as exc:
                raise ExerciseError(f"pending.injects: not a valid inject ({exc.errors()[0]['msg']})") from None
            if event.date != self.date():
                raise ExerciseError(f"pending.injects: an inject dated {event.date}, not the coming turn's month")
            self.pending_injects.append(event)

    def _check_indicators(self, saved: Any) -> None:
        """The replay must reach the saved indicators, to a relative 1e-9 (the same build replays bit for bit;
        the tolerance only forgives the last bits of another numpy build, never a changed model)."""
        now = self.indicators()
        same = isinstance(saved, Mapping) and set(saved) == set(now)
        same = same and all(
            isinstance(saved[k], int | float) and math.isclose(saved[k], v, rel_tol=1e-9, abs_tol=1e-12)
            for k, v in now.items()
        )
        if not same:
            raise ExerciseError(
                "indicators: replaying the saved turns does not reach the saved state (the model or numpy "
                f"(now {np.__version__}) has changed since the game was saved)"
            )


def save_state(path: Path, game: Game, extra: Mapping[str, Any] | None = None) -> None:
    """Write the game (and ``extra``, e.g. the server's tokens) atomically, readable by the owner only.

    A temporary file in the same folder is renamed over the target, so a crash never leaves half a file."""
    data = game.state() | ({"server": dict(extra)} if extra else {})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1) + "\n", mode=0o600)


def lock_state(path: Path) -> IO[str]:
    """Hold an exclusive lock on ``<path>.lock`` for as long as the returned file stays open.

    Two servers saving one game would overwrite each other's turns; the second is refused with
    ``ExerciseError``. The lock (``fcntl.flock``) is released when the process ends, however it ends."""
    lock_path = path.with_name(f"{path.name}.lock")
    handle = lock_path.open("a", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ExerciseError(f"{path}: another server is using this game (it holds {lock_path})") from None
    return handle


def load_state(path: Path) -> tuple[Game, dict[str, Any]]:
    """Read a saved game and replay it; returns the game and its ``server`` block (empty if none).

    Raises ``ExerciseError`` naming the file when it cannot be read or replayed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExerciseError(f"{path}: cannot read a saved exercise ({exc})") from None
    if not isinstance(data, dict):
        raise ExerciseError(f"{path}: expected a saved exercise (a JSON object)")
    try:
        game = Game.from_state(data)
    except ExerciseError as exc:
        raise ExerciseError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ExerciseError(f"{path}: not a valid saved exercise ({type(exc).__name__}: {exc})") from None
    server = data.get("server", {})
    return game, server if isinstance(server, dict) else {}


#: Injects a facilitator can add: every scenario event kind that does something (an election is only a dated
#: marker in a scenario; a facilitator changes a government with a leadership change).
INJECT_KINDS: tuple[EventKind, ...] = tuple(k for k in EventKind if k not in NO_EFFECT_EVENTS)
