"""History disputes and territorial incidents: the salience of the colonial past.

Court rulings on forced labour, the fate of the 2015 comfort-women agreement, textbook approvals, shrine visits
and Dokdo/Takeshima incidents raise a single ``history_salience`` stock (0-1) that decays each month, and hit
each public with a country-specific weight (the essay's sections on the colonial legacy and on Dokdo). Random
incidents arrive as Poisson processes whose rates are in the scenario; an open forced-labour dispute multiplies
the rate of rulings.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.moves import DispatchError, Move, Side
from sim.scenario import EventKind, HistoryDriver, HistoryImpact

#: The incidents whose impacts a scenario's ``drivers.history.impacts`` gives (who is offended by what).
HISTORY_KINDS: tuple[EventKind, ...] = (
    EventKind.COURT_RULING,
    EventKind.HISTORY_AGREEMENT_DISSOLVED,
    EventKind.SHRINE_VISIT,
    EventKind.TEXTBOOK,
    EventKind.TERRITORIAL_INCIDENT,
)


#: Moves that change the state of the history dispute (the rest of their effects are the move table's).
HISTORY_MOVES = frozenset({Move.COMPENSATION_PLAN, Move.REPUDIATE_SETTLEMENT, Move.REMORSE_STATEMENT})


class HistoryDisputes:
    """The history-salience stock, the open-dispute flag and the random incident processes."""

    #: The moves whose change of state this driver applies (``sim.model.MOVE_DRIVERS`` is built from it).
    MOVES: ClassVar[frozenset[Move]] = HISTORY_MOVES

    def __init__(self, spec: HistoryDriver) -> None:
        """Start from the scenario's salience and dispute state."""
        self.spec = spec
        self.salience = spec.salience
        self.dispute_open = spec.dispute_open
        self.compensation_fund = spec.compensation_fund
        self.agreement_in_force = spec.agreement_in_force
        # The rates take two values in a run (dispute open or settled): kept as arrays for the monthly draw.
        self._kinds = tuple(self.rates())
        self._rate_arrays = {
            is_open: np.array(list(self.rates(dispute_open=is_open).values())) for is_open in (False, True)
        }

    @property
    def settlement_in_force(self) -> bool:
        """Whether a settlement exists that Seoul could repudiate (an agreement, or a compensation fund)."""
        return self.agreement_in_force or self.compensation_fund

    def impact(self, kind: EventKind) -> HistoryImpact:
        """Salience and public shocks of one incident of ``kind`` (a kind of :data:`HISTORY_KINDS`)."""
        impact: HistoryImpact = getattr(self.spec.impacts, kind.value)
        return impact

    def feasible(self, side: Side, move: Move) -> str | None:
        """Why a history move cannot be made in the current state, or None if it can (``side`` is unused: each
        history move belongs to one capital, which ``MOVE_ACTORS`` enforces)."""
        if move is Move.COMPENSATION_PLAN and not self.dispute_open:
            return "no open compensation dispute"
        if move is Move.REPUDIATE_SETTLEMENT and not self.settlement_in_force:
            return "no settlement in force to repudiate"
        return None

    def apply(self, side: Side, move: Move) -> None:
        """A history move's change of state: a compensation plan settles the dispute and sets up its fund; a
        remorse statement (the 2015 agreement) puts an agreement in force; a repudiation undoes both and opens
        the dispute. A move outside :attr:`MOVES` raises :class:`~sim.moves.DispatchError`; ``side`` is unused,
        as in :meth:`feasible`."""
        if move is Move.COMPENSATION_PLAN:
            self.dispute_open = False
            self.compensation_fund = True
        elif move is Move.REPUDIATE_SETTLEMENT:
            self.dispute_open = True
            self.compensation_fund = False
            self.agreement_in_force = False
        elif move is Move.REMORSE_STATEMENT:
            self.agreement_in_force = True
        else:
            raise DispatchError(f"the history disputes have no state change for move {move.value!r}")

    def rates(self, *, dispute_open: bool | None = None) -> dict[EventKind, float]:
        """Monthly Poisson rates of the random incidents in the current state (or with ``dispute_open``)."""
        s = self.spec
        is_open = self.dispute_open if dispute_open is None else dispute_open
        ruling = s.court_ruling_rate * (s.open_dispute_multiplier if is_open else 1.0)
        return {
            EventKind.COURT_RULING: ruling,
            EventKind.SHRINE_VISIT: s.shrine_visit_rate,
            EventKind.TEXTBOOK: s.textbook_rate,
            EventKind.TERRITORIAL_INCIDENT: s.territorial_incident_rate,
        }

    def draw_incidents(self, rng: np.random.Generator) -> list[EventKind]:
        """This month's random incidents, in a fixed kind order (one Poisson draw for all kinds)."""
        counts = rng.poisson(self._rate_arrays[bool(self.dispute_open)])
        if not counts.any():
            return []
        return [kind for kind, n in zip(self._kinds, counts.tolist(), strict=True) for _ in range(n)]

    def shift(self, delta: float) -> None:
        """Raise or lower salience, kept within 0-1."""
        self.salience = min(1.0, max(0.0, self.salience + delta))

    def decay(self) -> None:
        """Monthly fading of salience."""
        self.salience *= 1.0 - self.spec.decay
