"""History disputes and territorial incidents: the salience of the colonial past.

Court rulings on forced labour, the fate of the 2015 comfort-women agreement, textbook approvals, shrine visits
and Dokdo/Takeshima incidents raise a single ``history_salience`` stock (0-1) that decays each month, and hit
each public with a country-specific weight (the essay's sections on the colonial legacy and on Dokdo). Random
incidents arrive as Poisson processes whose rates are in the scenario; an open forced-labour dispute multiplies
the rate of rulings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import EventKind, HistoryDriver


@dataclass(frozen=True)
class HistoryImpact:
    """Salience added by one incident of unit magnitude, and the shock felt by each public."""

    salience: float
    korea: float
    japan: float


#: Who is offended by what. Court rulings against Japanese firms and the dissolution of the 2015 foundation
#: angered the Japanese public most; shrine visits and textbooks the Korean public.
HISTORY_IMPACTS: dict[EventKind, HistoryImpact] = {
    EventKind.COURT_RULING: HistoryImpact(0.15, korea=0.3, japan=1.0),
    # Its salience comes through the repudiation move it triggers (sim.moves: repudiate_settlement).
    EventKind.HISTORY_AGREEMENT_DISSOLVED: HistoryImpact(0.0, korea=0.3, japan=1.0),
    EventKind.SHRINE_VISIT: HistoryImpact(0.1, korea=1.0, japan=0.1),
    EventKind.TEXTBOOK: HistoryImpact(0.06, korea=0.8, japan=0.1),
    EventKind.TERRITORIAL_INCIDENT: HistoryImpact(0.08, korea=0.8, japan=0.6),
}


class HistoryDisputes:
    """The history-salience stock, the open-dispute flag and the random incident processes."""

    def __init__(self, spec: HistoryDriver) -> None:
        """Start from the scenario's salience and dispute state."""
        self.spec = spec
        self.salience = spec.salience
        self.dispute_open = spec.dispute_open
        # The rates take two values in a run (dispute open or settled): kept as arrays for the monthly draw.
        self._kinds = tuple(self.rates())
        self._rate_arrays = {
            is_open: np.array(list(self.rates(dispute_open=is_open).values())) for is_open in (False, True)
        }

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
