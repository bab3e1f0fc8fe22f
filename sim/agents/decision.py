"""Decision rules: how a government turns its weighed options into one move.

A rule is a small object chosen per government in the scenario file (``actors.<capital>.decision_rule``). Its one
required method, ``choose``, picks among the weighed options; its other hooks have defaults, so a rule that
subclasses ``DecisionRule`` needs only what it changes. Through them another source of moves stands in for the
government's own choice without the government agent knowing what it is: a rule may hand the government a
``directive`` (a move settled outside the model, made in place of levers, the initiative draw and weighing),
decide whether it ``joins`` a partner's joint move outside the win-set, and ``hear`` what became of the move it
chose (a ``MoveResult``: made, held, blocked, rebuffed...). The class exercise's ``sim.agents.team.TeamRule`` is
such a rule; the three below keep every default, and none of the hooks draws a random number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

import numpy as np

from sim.moves import Move
from sim.scenario import DecisionRuleName, Government


class MoveOutcome(StrEnum):
    """What became of a move a rule chose (or a Washington action), when the month it was due was played."""

    #: The rule chose to hold.
    HELD = "held"
    #: The move was made.
    MADE = "made"
    #: Something ruled the move out when it was due (state, cooldown, levers; an inject may have made it
    #: already), so it was not made.
    BLOCKED = "blocked"
    #: A joint move the partner's government declined to join.
    REBUFFED = "rebuffed"
    #: A joint move both capitals proposed in the same month: it was made once, as Seoul's.
    MADE_JOINTLY = "made_jointly"
    #: A joint move both capitals proposed in the same month: Seoul's proposal of it was rebuffed.
    REBUFFED_JOINTLY = "rebuffed_jointly"
    #: A Washington action the state no longer allowed when it was due, so it was not taken.
    DROPPED = "dropped"


@dataclass(frozen=True)
class MoveResult:
    """What became of a chosen move.

    Attributes:
        outcome: what became of it.
        reason: why it was blocked, rebuffed or dropped (None otherwise).
        approval_cost: approval (0-1) making or joining it cost: 0 inside the win-set and when it was not made.
    """

    outcome: MoveOutcome
    reason: str | None = None
    approval_cost: float = 0.0


class MoveOption(NamedTuple):
    """One move as the government sees it this month (a named tuple: built for every move most months).

    Attributes:
        move: the move.
        acceptance: voice-weighted share of the own public that would accept it (NaN when the move is ruled
            out, so acceptance was not measured).
        blocked: why the move is not open (who may make it, state, cooldown, levers), or None. Being outside
            the win-set does not block a move: it costs approval.
        utility: expected utility relative to doing nothing, approval cost included (meaningful only when open).
        approval_cost: approval the move would cost if made now (0 inside the win-set; NaN when ruled out).
    """

    move: Move
    acceptance: float
    blocked: str | None
    utility: float
    approval_cost: float = 0.0

    @property
    def open(self) -> bool:
        """Whether the move may be chosen."""
        return self.blocked is None


class DecisionRule(Protocol):
    """Chooses a move from the options (at least HOLD is always open).

    ``autonomous`` is False for a rule that never moves on its own, so the government skips weighing options.
    The other members have defaults, inherited by a rule that subclasses this protocol: no directive, US pressure
    felt through the utility, a joint move outside the win-set joined when its utility is positive, and nothing
    done with the result of a move.
    """

    @property
    def autonomous(self) -> bool:
        """Whether the rule ever chooses a move by itself."""
        ...

    @property
    def pressure_in_win_set(self) -> bool:
        """Whether Washington's brokering reaches the government through its win-set rather than its utility.

        True for a rule that does not weigh utilities (the US pressure term is part of them): a cooperative move
        then needs less of the public under brokering (``sim.agents.government.US_PRESSURE_SHARE``).
        """
        return False

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Return the chosen move."""
        ...

    def directive(self) -> Move | None:
        """This month's move if it is settled outside the model, or None to let the government decide.

        A directive replaces the government's whole choice (no regular summit of its levers, no initiative draw,
        no weighing): HOLD is a month without a move. The government still checks a move against the state and
        makes it only if nothing rules it out (the rule then hears ``BLOCKED``)."""
        return None

    def joins(self, option: MoveOption) -> bool:
        """Whether to join the partner's joint move ``option`` although it lies outside the win-set.

        ``option.utility`` is the utility of joining (making the move, without the fixed cost of taking the
        initiative). By default: when it is positive, i.e. the move is worth its approval cost."""
        return option.utility > 0.0

    def hear(self, move: Move, result: MoveResult) -> None:
        """Learn what became of ``move``, which this rule chose (made, blocked, rebuffed...); by default
        nothing."""
        return None


@dataclass(frozen=True)
class ExpectedUtility(DecisionRule):
    """Logit (quantal-response) choice: P(move) proportional to exp(rationality x utility).

    Bounded rationality keeps choices responsive to utility without being deterministic (McKelvey & Palfrey
    1995, quantal response equilibria).
    """

    rationality: float
    autonomous: bool = True

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Draw a move by its logit probability."""
        open_options = [o for o in options if o.open]
        utilities = np.array([o.utility for o in open_options])
        weights = np.exp(self.rationality * (utilities - utilities.max()))
        index = int(rng.choice(len(open_options), p=weights / weights.sum()))
        return open_options[index].move


@dataclass(frozen=True)
class BestResponse(DecisionRule):
    """Always the open move of highest utility (ties to the earlier move); draws nothing."""

    autonomous: bool = True

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Return the argmax of utility over open moves."""
        open_options = [o for o in options if o.open]
        return max(open_options, key=lambda o: o.utility).move


@dataclass(frozen=True)
class Scripted(DecisionRule):
    """Never moves on its own: the government acts only through dated injects (used for backtests)."""

    autonomous: bool = False

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Return HOLD."""
        return Move.HOLD


def make_rule(spec: Government) -> DecisionRule:
    """The rule a government block names."""
    match spec.decision_rule:
        case DecisionRuleName.EXPECTED_UTILITY:
            return ExpectedUtility(spec.rationality)
        case DecisionRuleName.BEST_RESPONSE:
            return BestResponse()
        case DecisionRuleName.SCRIPTED:
            return Scripted()
