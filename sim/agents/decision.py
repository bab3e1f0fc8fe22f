"""Decision rules: how a government turns its weighed options into one move.

A rule is a small object with one method, chosen per government in the scenario file
(``actors.<capital>.decision_rule``), so a team, a script or another theory of choice can stand in for the
default without touching the government agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from sim.moves import Move
from sim.scenario import DecisionRuleName, Government


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
    """

    @property
    def autonomous(self) -> bool:
        """Whether the rule ever chooses a move by itself."""
        ...

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Return the chosen move."""
        ...


@dataclass(frozen=True)
class ExpectedUtility:
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
class BestResponse:
    """Always the open move of highest utility (ties to the earlier move); draws nothing."""

    autonomous: bool = True

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """Return the argmax of utility over open moves."""
        open_options = [o for o in options if o.open]
        return max(open_options, key=lambda o: o.utility).move


@dataclass(frozen=True)
class Scripted:
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
