"""Team play: decision rules through which a team of players, not the model, chooses an actor's moves.

In the class exercise (``sim.ui.game``) a team plays Seoul, Tokyo or Washington. Before each turn it picks one
move (``impose``); the rule holds it until the agent asks for its move, which is the turn's first month, and
then records what became of it (``result``: a ``MoveResult`` with a ``MoveOutcome`` and, for a move not made,
the reason). The agents do not know they are played by a team: they ask the rule for a move and tell it the
result through the hooks every rule has (``sim.agents.decision.DecisionRule``,
``sim.agents.washington.WashingtonRule``).

A capital's team (``TeamRule``) makes its move in the turn's first month and holds for the rest of the turn, so
its government makes no move of its own (not even a regular summit of its levers) and draws nothing. Its move is
checked when it is due and not made if something rules it out then (``BLOCKED``); one outside the win-set is made
at its approval cost (``MoveResult.approval_cost``). The team does not weigh utilities, so US brokering reaches
its government through the win-set (``sim.agents.government.US_PRESSURE_SHARE``), and its government joins a
partner's joint move only inside the win-set (the team chose no such move). When both capitals propose the same
joint move in a month it is put forward once, as Seoul's, and Tokyo's team hears ``MADE_JOINTLY`` or
``REBUFFED_JOINTLY``.

Washington's team (``WashingtonTeam``) takes its action in the turn's first month and does nothing else in the
turn (no random trilateral summits); the action is ``MADE`` or, if the state no longer allows it, ``DROPPED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from sim.agents.decision import DecisionRule, MoveOption, MoveOutcome, MoveResult
from sim.agents.washington import WashingtonAction, WashingtonRule
from sim.moves import Move

if TYPE_CHECKING:
    from sim.agents.government import GovernmentAgent
    from sim.agents.washington import WashingtonAgent


class TeamPlay[M: StrEnum]:
    """A team's move for the coming turn and what became of the last one.

    Attributes:
        name: who plays (in error messages).
        moves: the moves the team may choose.
        pending: the move chosen for the coming turn, until the agent asks for it (None: none).
        result: what became of the move of the turn played last (None until it was due, and again once a new
            move is chosen).
    """

    def __init__(self, name: str, moves: Iterable[M]) -> None:
        """A team playing ``name`` that may choose among ``moves``."""
        self.name = name
        self.moves = frozenset(moves)
        self.pending: M | None = None
        self.result: MoveResult | None = None

    def impose(self, move: M) -> None:
        """Choose ``move`` for the coming turn (it replaces a move chosen before and clears the last result).

        Raises ``ValueError`` for a move the team may not make."""
        if move not in self.moves:
            raise ValueError(f"{self.name} cannot make the move {move}")
        self.pending = move
        self.result = None

    def _take(self) -> M | None:
        """The pending move, handed over once (None in the turn's later months)."""
        move, self.pending = self.pending, None
        return move

    def hear(self, move: M, result: MoveResult) -> None:
        """Record what became of the team's move."""
        self.result = result

    @property
    def outcome(self) -> MoveOutcome | None:
        """What became of the last move (None if nothing yet)."""
        return None if self.result is None else self.result.outcome

    @property
    def reason(self) -> str | None:
        """Why the last move was blocked, rebuffed or dropped (None otherwise)."""
        return None if self.result is None else self.result.reason


class TeamRule(TeamPlay[Move], DecisionRule):
    """A capital's team as its government's decision rule: the team's move, made in the turn's first month."""

    @property
    def autonomous(self) -> bool:
        """False: the government never weighs options for a team (its moves come as directives)."""
        return False

    @property
    def pressure_in_win_set(self) -> bool:
        """True: a team weighs no utilities, so US brokering reaches its government through the win-set."""
        return True

    def choose(self, options: Sequence[MoveOption], rng: np.random.Generator) -> Move:
        """HOLD (never asked: the team's directive always settles the month)."""
        return Move.HOLD

    def directive(self) -> Move:
        """The team's move in the turn's first month, HOLD in the others (a chosen hold is ``HELD`` at once)."""
        move = self._take()
        if move is Move.HOLD:
            self.result = MoveResult(MoveOutcome.HELD)
        return Move.HOLD if move is None else move

    def joins(self, option: MoveOption) -> bool:
        """False: the team chose no joint move outside the win-set."""
        return False

    @classmethod
    def install(cls, government: GovernmentAgent) -> TeamRule:
        """A team rule for ``government``'s capital (the moves it may make), put in place of its own rule."""
        side = government.side
        rule = cls(side.value, [move for move, spec in government.model.moves.items() if side in spec.actors])
        government.rule = rule
        return rule


class WashingtonTeam(TeamPlay[WashingtonAction], WashingtonRule):
    """Washington's team as Washington's rule: the team's action, taken in the turn's first month."""

    def act(self, washington: WashingtonAgent) -> WashingtonAction | None:
        """The team's action in the turn's first month, none in the others."""
        return self._take()

    @classmethod
    def install(cls, washington: WashingtonAgent) -> WashingtonTeam:
        """A team rule for Washington (every action), put in place of its own rule."""
        rule = cls("washington", WashingtonAction)
        washington.rule = rule
        return rule
