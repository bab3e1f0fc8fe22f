"""The vocabulary of the two-level game: the capitals, their moves, and what each move does.

A move's ``conciliation`` (-1 hard-line ... +1 conciliatory toward the partner) decides which citizens at home
accept it, and so whether it lies inside the government's domestic win-set (Putnam 1988, "Diplomacy and
domestic politics: the logic of two-level games", International Organization 42(3)). Its other numbers are the
direct effects on the bilateral state; ``security`` and ``trade`` are also what a government expects to gain
from the move when it weighs it (see ``sim.agents.government``).

The effect sizes are judgements scaled against the 2019 spiral and the 2023 thaw (the essay's sections on
export controls and on the Yoon–Kishida initiative); docs/ODD.md lists them with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Side(StrEnum):
    """The two capitals that choose moves each month."""

    SEOUL = "seoul"
    TOKYO = "tokyo"

    @property
    def partner(self) -> Side:
        """The other capital."""
        return Side.TOKYO if self is Side.SEOUL else Side.SEOUL

    @property
    def public(self) -> str:
        """Name of the public this government answers to (``korea`` or ``japan``)."""
        return "korea" if self is Side.SEOUL else "japan"


class Move(StrEnum):
    """A government's monthly choice."""

    HOLD = "hold"
    SUMMIT = "summit"
    JOINT_STATEMENT = "joint_statement"
    COMPENSATION_PLAN = "compensation_plan"
    REMORSE_STATEMENT = "remorse_statement"
    HARDLINE_GESTURE = "hardline_gesture"
    REPUDIATE_SETTLEMENT = "repudiate_settlement"
    IMPOSE_EXPORT_CONTROLS = "impose_export_controls"
    LIFT_EXPORT_CONTROLS = "lift_export_controls"
    REMOVE_WHITE_LIST = "remove_white_list"
    RESTORE_WHITE_LIST = "restore_white_list"
    END_GSOMIA = "end_gsomia"
    RESTORE_GSOMIA = "restore_gsomia"
    FILE_WTO_CASE = "file_wto_case"
    DROP_WTO_CASE = "drop_wto_case"


class GsomiaState(Enum):
    """The General Security of Military Information Agreement, as Seoul holds it."""

    ACTIVE = 1.0
    TERMINATION_NOTICE = 0.5
    INACTIVE = 0.0


BOTH = frozenset({Side.SEOUL, Side.TOKYO})
SEOUL_ONLY = frozenset({Side.SEOUL})
TOKYO_ONLY = frozenset({Side.TOKYO})


@dataclass(frozen=True)
class MoveSpec:
    """What a move is and does.

    Attributes:
        conciliation: -1 (hard-line) .. +1 (conciliatory); sets domestic acceptance and the partner's reaction.
        actors: which capitals may make it.
        climate: change in the diplomatic climate (0-1 stock).
        salience: change in history salience (0-1 stock).
        institutions: change in the institutionalisation stock.
        security: expected change in security cooperation, weighed by the threat.
        trade: expected change in trade normalisation, weighed by interdependence.
        needs_partner: the move only happens if the partner's public would accept it too (summits, statements).
        cooldown: months before the same government may make it again.
    """

    conciliation: float
    actors: frozenset[Side]
    climate: float = 0.0
    salience: float = 0.0
    institutions: float = 0.0
    security: float = 0.0
    trade: float = 0.0
    needs_partner: bool = False
    cooldown: int = 0

    @property
    def hostile(self) -> bool:
        """A hard-line move (negative conciliation)."""
        return self.conciliation < 0

    @property
    def cooperative(self) -> bool:
        """A conciliatory move (positive conciliation)."""
        return self.conciliation > 0


MOVES: dict[Move, MoveSpec] = {
    Move.HOLD: MoveSpec(0.0, BOTH),
    Move.SUMMIT: MoveSpec(
        0.3,
        BOTH,
        climate=0.06,
        salience=-0.02,
        institutions=0.03,
        security=0.05,
        needs_partner=True,
        cooldown=3,
    ),
    Move.JOINT_STATEMENT: MoveSpec(
        0.4,
        BOTH,
        climate=0.05,
        institutions=0.08,
        security=0.03,
        trade=0.02,
        needs_partner=True,
        cooldown=12,
    ),
    Move.COMPENSATION_PLAN: MoveSpec(0.8, SEOUL_ONLY, climate=0.12, salience=-0.2, cooldown=24),
    Move.REMORSE_STATEMENT: MoveSpec(0.7, TOKYO_ONLY, climate=0.08, salience=-0.12, cooldown=24),
    Move.HARDLINE_GESTURE: MoveSpec(-0.5, BOTH, climate=-0.06, salience=0.12, cooldown=6),
    Move.REPUDIATE_SETTLEMENT: MoveSpec(-0.7, SEOUL_ONLY, climate=-0.12, salience=0.2),
    Move.IMPOSE_EXPORT_CONTROLS: MoveSpec(-0.7, BOTH, climate=-0.15, trade=-0.3),
    Move.LIFT_EXPORT_CONTROLS: MoveSpec(0.4, BOTH, climate=0.06, trade=0.3),
    Move.REMOVE_WHITE_LIST: MoveSpec(-0.5, BOTH, climate=-0.08, trade=-0.2),
    Move.RESTORE_WHITE_LIST: MoveSpec(0.3, BOTH, climate=0.04, trade=0.2),
    Move.END_GSOMIA: MoveSpec(-0.6, SEOUL_ONLY, climate=-0.1, security=-0.4),
    Move.RESTORE_GSOMIA: MoveSpec(0.4, SEOUL_ONLY, climate=0.06, security=0.4),
    Move.FILE_WTO_CASE: MoveSpec(-0.3, BOTH, climate=-0.04, trade=-0.1),
    Move.DROP_WTO_CASE: MoveSpec(0.2, BOTH, climate=0.02, trade=0.1),
}
