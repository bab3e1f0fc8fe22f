"""What a class reads after each turn: what became of every move, what else happened, how the indicators moved.

The pages of the exercise tell the story of the game in words, from the game's own record: each team's move and
its fate (made, blocked and why, rebuffed by the partner, Washington's actions too), the moves of the capitals
the model plays, the turn's scheduled events, the facilitator's injects, changes of leader and the incidents
drawn, and each indicator's change since the turn before (``turn_story``). Before a turn the facilitator sees the
scheduled events still to come (``upcoming``). Nothing here changes the game: every function reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.agents.decision import MoveOutcome, MoveResult
from sim.agents.washington import WashingtonAction
from sim.analysis.formats import number
from sim.model import NO_EFFECT_EVENTS
from sim.moves import MOVES, Move, Side
from sim.outcomes import KEY_OUTCOMES, OUTCOMES
from sim.scenario import Event, EventKind, Team, months_between
from sim.ui.game import WASHINGTON_EFFECTS, Game, TurnRecord, event_words, label

#: The indicators every page shows, in order: the key outcomes, then the domestic side of the two-level game
#: (nationalist pressure and approval, which the briefings tell teams to watch), then Washington and Pyongyang.
INDICATORS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *KEY_OUTCOMES,
            "nationalist_pressure_kr",
            "nationalist_pressure_jp",
            "seoul_approval",
            "tokyo_approval",
            "us_engagement",
            "nk_threat",
        )
    )
)

#: The capital each team plays, by name.
CAPITALS: dict[Team, str] = {Team.SEOUL: "Seoul", Team.TOKYO: "Tokyo", Team.WASHINGTON: "Washington"}

UP, DOWN = "\u25b2", "\u25bc"


@dataclass(frozen=True)
class Fate:
    """What became of one capital's move in a turn.

    Attributes:
        capital: ``Seoul``, ``Tokyo`` or ``Washington``.
        move: the move or action, in words.
        verdict: ``made``, ``held``, ``not made``, ``rebuffed`` or ``dropped``.
        detail: why, and what it cost or did, in a sentence ("" when there is nothing to add).
        team: whether a team chose it (else the model's government did).
    """

    capital: str
    move: str
    verdict: str
    detail: str
    team: bool

    @property
    def css(self) -> str:
        """The page's class for the verdict (``made``, ``held``, ``refused``)."""
        if self.verdict == "made":
            return "made"
        return "held" if self.verdict == "held" else "refused"


def _cost(result: MoveResult) -> str:
    if result.approval_cost > 0:
        return f"it cost {100 * result.approval_cost:.1f} points of approval (outside the win-set)"
    return ""


def _joined(*parts: str) -> str:
    text = "; ".join(part for part in parts if part)
    return text[0].upper() + text[1:] if text else ""


def fate(team: Team, name: str, result: MoveResult | None, partner: MoveResult | None = None) -> Fate:
    """What became of a team's move ``name``, in words, from its ``result`` (``partner``: the other capital's
    result the same turn, which says why a move both proposed was rebuffed)."""
    capital, move = CAPITALS[team], label(name)
    if result is None:  # not due yet: cannot happen for a played turn
        return Fate(capital, move, "not played", "", True)
    outcome = result.outcome
    if team is Team.WASHINGTON:
        if outcome is MoveOutcome.DROPPED:
            return Fate(capital, move, "dropped", _joined(result.reason or ""), True)
        effect = WASHINGTON_EFFECTS[WashingtonAction(name)]
        return Fate(capital, move, "held" if name == WashingtonAction.STEADY else "made", _joined(effect), True)
    other = CAPITALS[Team.TOKYO if team is Team.SEOUL else Team.SEOUL]
    if outcome is MoveOutcome.HELD:
        return Fate(capital, move, "held", "No move this turn", True)
    if outcome is MoveOutcome.MADE:
        joined = f"{other}'s government joined it" if MOVES[Move(name)].needs_partner else ""
        if partner is not None and partner.outcome is MoveOutcome.MADE_JOINTLY:
            joined = f"{other} proposed it too: held once, by both"
        return Fate(capital, move, "made", _joined(joined, _cost(result)), True)
    if outcome is MoveOutcome.MADE_JOINTLY:
        return Fate(
            capital, move, "made", _joined(f"{other} proposed it too: held once, by both", _cost(result)), True
        )
    if outcome is MoveOutcome.BLOCKED:
        return Fate(capital, move, "not made", _joined(result.reason or "", f"{capital} held"), True)
    if outcome is MoveOutcome.REBUFFED:
        return Fate(capital, move, "rebuffed", _joined(f"{other} declined: {result.reason}"), True)
    if outcome is MoveOutcome.REBUFFED_JOINTLY:
        why = f": {partner.reason}" if partner is not None and partner.reason else ""
        return Fate(capital, move, "rebuffed", _joined(f"{other} proposed it too, but it was not made{why}"), True)
    return Fate(capital, move, label(outcome.value), _joined(result.reason or ""), True)


@dataclass(frozen=True)
class Happening:
    """Something that happened (or will) in a turn: its month, what, and where it comes from.

    ``origin`` is ``scheduled`` (the scenario's events), ``inject`` (the facilitator's), ``leader`` (a change of
    leader) or ``model`` (what the model drew: incidents and provocations)."""

    date: str
    text: str
    origin: str


@dataclass(frozen=True)
class Change:
    """One indicator at the end of a turn against the end of the turn before, formatted for the page."""

    name: str
    label: str
    now: str
    before: str
    change: str
    #: ``up``, ``down`` or ``flat`` (a change that rounds to zero has no direction).
    direction: str

    @property
    def arrow(self) -> str:
        """The direction as an arrow (empty when flat)."""
        return {"up": UP, "down": DOWN}.get(self.direction, "")


def _scale(name: str) -> tuple[float, int, str, str]:
    """How an indicator is written: its factor, decimals, and the unit of a value and of a change.

    Percentages of citizens and approval shares read as ``%`` (changes in ``pp``), the relations index in points,
    0-1 scales with two decimals and no unit."""
    unit = OUTCOMES[name].unit
    if unit.startswith("%"):
        return 1.0, 1, " %", " pp"
    if unit.startswith("share"):
        return 100.0, 1, " %", " pp"
    if unit.startswith("index"):
        return 1.0, 1, "", ""
    return 1.0, 2, "", ""


def value_text(name: str, value: float) -> str:
    """An indicator's value as the pages show it (``47.2 %``, ``61.3``, ``0.43``)."""
    factor, decimals, unit, _ = _scale(name)
    return number(factor * value, decimals=decimals) + unit


def change_text(name: str, change: float) -> str:
    """A change of an indicator, signed (``+2.1 pp``, ``\u22121.3``, ``+0.03``)."""
    factor, decimals, _, unit = _scale(name)
    return number(factor * change, decimals=decimals, signed=True) + unit


def changes(now: dict[str, float], before: dict[str, float]) -> list[Change]:
    """Every shown indicator now against ``before``, with the change and its direction as the page rounds it (a
    change that rounds to zero is flat)."""
    rows = []
    for name in INDICATORS:
        factor, decimals, _, _ = _scale(name)
        shown = round(factor * (now[name] - before[name]), decimals)
        direction = "up" if shown > 0 else "down" if shown < 0 else "flat"
        rows.append(
            Change(
                name,
                OUTCOMES[name].label,
                value_text(name, now[name]),
                value_text(name, before[name]),
                change_text(name, now[name] - before[name]),
                direction,
            )
        )
    return rows


@dataclass(frozen=True)
class TurnStory:
    """What happened in a played turn: the fates of the moves, the happenings, and the indicators' changes."""

    turn: int
    first: str
    last: str
    fates: list[Fate]
    happenings: list[Happening]
    changes: list[Change]

    @property
    def period(self) -> str:
        """The turn's months (``2026-01 to 2026-06``)."""
        return self.first if self.first == self.last else f"{self.first} to {self.last}"


def scheduled_events(game: Game, first: int, end: int) -> list[tuple[int, Event]]:
    """The scenario's own events the game applies in months ``first`` to ``end - 1``, by month."""
    start = game.scenario.meta.start
    found = [(months_between(start, e.date), e) for e in game.scenario.events if game.model.applies(e)]
    return sorted(((m, e) for m, e in found if first <= m < end), key=lambda item: item[0])


def turn_story(game: Game, record: TurnRecord) -> TurnStory:
    """What happened in a played turn, in words."""
    first, end = record.month, record.month + game.turn_months
    fates = []
    for team, name in record.moves.items():
        partner_team = Team.SEOUL if team is Team.TOKYO else Team.TOKYO
        fates.append(fate(team, name, record.results.get(team), record.results.get(partner_team)))
    played = {Side(t.value) for t in record.moves if t is not Team.WASHINGTON}
    for date, side, move in game.moves_made(record):
        if Side(side) not in played:
            fates.append(Fate(side.capitalize(), label(move), "made", f"By the model's government, {date}", False))
    happenings = []
    events = scheduled_events(game, first, end)
    for month, event in events:
        text = event_words(event)
        if event.kind in NO_EFFECT_EVENTS:
            text += " (a marker: it changes nothing by itself)"
        happenings.append(Happening(game.date(month), text, "scheduled"))
    for event in record.injects:
        happenings.append(
            Happening(event.date, f"Facilitator's inject: {event_words(event, describe=False)}", "inject")
        )
    announced = {e.actor.value for _, e in events if e.kind is EventKind.LEADERSHIP_CHANGE}
    announced |= {e.actor.value for e in record.injects if e.kind is EventKind.LEADERSHIP_CHANGE}
    for side, before, after in record.leader_changes:
        if side.value not in announced:
            happenings.append(
                Happening(
                    game.date(first), f"{side.value.capitalize()}: {after} takes office after {before}", "leader"
                )
            )
    happenings.sort(key=lambda h: h.date)
    monthly = game.model.monthly()
    incidents = int(monthly["history_events"][first:end].sum())
    provocations = int(monthly["nk_provocations"][first:end].sum())
    happenings.append(
        Happening(
            f"{game.date(first)} to {game.date(end - 1)}",
            f"{_count(incidents, 'history or territorial incident')} and "
            f"{_count(provocations, 'North Korean provocation')} in all (scheduled, injected or drawn at random)",
            "model",
        )
    )
    rows = changes(game.indicators_after(record.turn), game.indicators_after(record.turn - 1))
    return TurnStory(record.turn, game.date(first), game.date(end - 1), fates, happenings, rows)


def _count(n: int, what: str) -> str:
    if n == 0:
        return f"no {what}"
    return f"{n} {what}{'' if n == 1 else 's'}"


def upcoming(game: Game) -> list[tuple[int, Happening]]:
    """The scheduled events still to come in the game, each with the turn it falls in: the scenario's events and
    the governments' scheduled changes of leader."""
    month, end = game.model.month, game.turns * game.turn_months
    found = [
        (m // game.turn_months + 1, Happening(game.date(m), event_words(e), "scheduled"))
        for m, e in scheduled_events(game, month, end)
    ]
    for side, government in game.model.governments.items():
        change = government.next_change
        if change is not None and month <= change < end:
            text = f"{side.value.capitalize()}: scheduled change of leader (end of {government.leader}'s term)"
            found.append((change // game.turn_months + 1, Happening(game.date(change), text, "leader")))
    return sorted(found, key=lambda item: item[1].date)
