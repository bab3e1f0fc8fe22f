"""The vocabulary of the two-level game: the capitals, their moves, and what each move does.

A move's ``conciliation`` (-1 hard-line ... +1 conciliatory toward the partner) decides which citizens at home
accept it, and so whether it lies inside the government's domestic win-set (Putnam 1988, "Diplomacy and
domestic politics: the logic of two-level games", International Organization 42(3)). Its other numbers are the
direct effects on the bilateral state; ``security`` and ``trade`` are also what a government expects to gain
from the move when it weighs it (see ``sim.agents.government``).

The effect sizes are judgements scaled against the 2019 spiral and the 2023 thaw (the essay's sections on
export controls and on the Yoon–Kishida initiative); docs/ODD.md lists them with their sources.

The module also holds the checks that keep every table keyed by a move or an event kind complete
(:class:`DispatchError`, :func:`require_every`, :func:`dispatch_table`; docs/extending.md shows them at work).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any


class DispatchError(LookupError):
    """A move or event kind that a dispatch table does not cover: a gap in the code, not in a scenario.

    The tables are checked against their enums when their module is imported, so a member added to ``Move`` or
    ``EventKind`` without its entries stops the import; a table changed at run time raises when the missing
    entry is first needed.
    """


def require_every[K: Enum](members: Iterable[K], table: Container[Any], table_name: str, hint: str = "") -> None:
    """Raise :class:`DispatchError` naming every member of ``members`` (an enum) that ``table`` lacks.

    ``hint`` ends the message: what the missing entry should be.
    """
    missing = [member for member in members if member not in table]
    if missing:
        kind = type(missing[0]).__name__
        names = ", ".join(repr(member.value) for member in missing)
        raise DispatchError(f"{table_name} has no entry for {kind} {names}: every member needs one{hint}")


def dispatch_table[K: Enum, V](
    members: Iterable[K], table_name: str, groups: Iterable[tuple[Iterable[K], V]], hint: str = ""
) -> dict[K, V]:
    """A table with exactly one entry per member of ``members``, from ``(keys, value)`` groups.

    A member in two groups or in none raises :class:`DispatchError` (``hint`` as in :func:`require_every`): a
    merged dictionary would let the later group win silently, and a missing member would do nothing at run time.
    """
    table: dict[K, V] = {}
    for keys, value in groups:
        for key in keys:
            if key in table:
                raise DispatchError(f"{table_name} has two entries for {type(key).__name__} {key.value!r}")
            table[key] = value
    require_every(members, table, table_name, hint)
    return table


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

#: Who may make each move: the structure of the game, not a parameter.
MOVE_ACTORS: dict[Move, frozenset[Side]] = {
    Move.HOLD: BOTH,
    Move.SUMMIT: BOTH,
    Move.JOINT_STATEMENT: BOTH,
    Move.COMPENSATION_PLAN: SEOUL_ONLY,
    Move.REMORSE_STATEMENT: TOKYO_ONLY,
    Move.HARDLINE_GESTURE: BOTH,
    Move.REPUDIATE_SETTLEMENT: SEOUL_ONLY,
    Move.IMPOSE_EXPORT_CONTROLS: BOTH,
    Move.LIFT_EXPORT_CONTROLS: BOTH,
    Move.REMOVE_WHITE_LIST: BOTH,
    Move.RESTORE_WHITE_LIST: BOTH,
    Move.END_GSOMIA: SEOUL_ONLY,
    Move.RESTORE_GSOMIA: SEOUL_ONLY,
    Move.FILE_WTO_CASE: BOTH,
    Move.DROP_WTO_CASE: BOTH,
}

#: Moves both capitals make together, so the partner must join (summits, statements).
JOINT_MOVES = frozenset({Move.SUMMIT, Move.JOINT_STATEMENT})


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
        needs_partner: the move only happens if the partner's government joins it (summits, statements).
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


#: The effect sizes of each move before any scenario changes them (the defaults of a scenario's ``moves``
#: block): judgements scaled against the 2019 spiral and the 2023 thaw.
DEFAULT_EFFECTS: dict[Move, dict[str, float]] = {
    Move.HOLD: {"conciliation": 0.0},
    Move.SUMMIT: {
        "conciliation": 0.3,
        "climate": 0.06,
        "salience": -0.02,
        "institutions": 0.03,
        "security": 0.05,
        "cooldown": 3,
    },
    Move.JOINT_STATEMENT: {
        "conciliation": 0.4,
        "climate": 0.05,
        "institutions": 0.08,
        "security": 0.03,
        "trade": 0.02,
        "cooldown": 12,
    },
    # Settling the compensation dispute is what unlocks the rest: expected (not direct) security and trade gains.
    Move.COMPENSATION_PLAN: {
        "conciliation": 0.8,
        "climate": 0.12,
        "salience": -0.2,
        "security": 0.1,
        "trade": 0.15,
        "cooldown": 24,
    },
    Move.REMORSE_STATEMENT: {"conciliation": 0.7, "climate": 0.08, "salience": -0.12, "cooldown": 24},
    Move.HARDLINE_GESTURE: {"conciliation": -0.5, "climate": -0.06, "salience": 0.12, "cooldown": 6},
    Move.REPUDIATE_SETTLEMENT: {"conciliation": -0.7, "climate": -0.12, "salience": 0.2},
    # Japanese support for the 2019 controls (56-71 %) and for the white-list removal (59-68 %) was alike
    # (sim/data/patterns.csv): the two trade measures sit at one conciliation.
    Move.IMPOSE_EXPORT_CONTROLS: {"conciliation": -0.6, "climate": -0.15, "trade": -0.3},
    Move.LIFT_EXPORT_CONTROLS: {"conciliation": 0.4, "climate": 0.06, "trade": 0.3},
    Move.REMOVE_WHITE_LIST: {"conciliation": -0.6, "climate": -0.08, "trade": -0.2},
    Move.RESTORE_WHITE_LIST: {"conciliation": 0.3, "climate": 0.04, "trade": 0.2},
    # Ending GSOMIA divided Koreans more than the trade measures did Japanese (47-55 % support, August 2019).
    Move.END_GSOMIA: {"conciliation": -0.7, "climate": -0.1, "security": -0.4},
    Move.RESTORE_GSOMIA: {"conciliation": 0.4, "climate": 0.06, "security": 0.4},
    Move.FILE_WTO_CASE: {"conciliation": -0.3, "climate": -0.04, "trade": -0.1},
    Move.DROP_WTO_CASE: {"conciliation": 0.2, "climate": 0.02, "trade": 0.1},
}

# Checked here, so a new move without its actors or default effects stops the import with its name, rather than
# as a KeyError inside ``move_table``.
require_every(Move, MOVE_ACTORS, "MOVE_ACTORS", " (the capitals that may make it)")
require_every(Move, DEFAULT_EFFECTS, "DEFAULT_EFFECTS", " (its effects, at least its conciliation)")

_EFFECT_FIELDS = ("conciliation", "climate", "salience", "institutions", "security", "trade")


def move_table(effects: Mapping[Move, Any]) -> dict[Move, MoveSpec]:
    """The move table from per-move effects (a scenario's ``moves`` block, or :data:`DEFAULT_EFFECTS`).

    ``effects[move]`` is a mapping or an object with the fields of :data:`_EFFECT_FIELDS` and ``cooldown``; who
    may make a move and whether the partner must join are fixed by the game (:data:`MOVE_ACTORS`,
    :data:`JOINT_MOVES`).
    """
    table = {}
    for move in Move:
        source = effects[move]
        get = source.get if isinstance(source, Mapping) else lambda name, default, s=source: getattr(s, name)
        table[move] = MoveSpec(
            actors=MOVE_ACTORS[move],
            needs_partner=move in JOINT_MOVES,
            cooldown=int(get("cooldown", 0)),
            **{name: float(get(name, 0.0)) for name in _EFFECT_FIELDS},
        )
    return table


#: The default move table (a scenario's own is ``RapprochementModel.moves``).
MOVES: dict[Move, MoveSpec] = move_table(DEFAULT_EFFECTS)
