"""Institutionalised cooperation and the diplomatic climate between the capitals.

Regular summits, joint statements and trilateral mechanisms (Camp David 2023: annual summits, a 'commitment to
consult') build an institutionalisation stock that decays slowly without maintenance. Institutions damp
reversals: they slow the erosion of the diplomatic climate, blunt hostile moves and pull a new leader's
orientation toward the predecessor's (the essay's section on institutionalising cooperation).
"""

from __future__ import annotations

from sim.scenario import InstitutionsDriver


class Institutions:
    """The institutionalisation stock and the government-to-government climate (both 0-1)."""

    def __init__(self, spec: InstitutionsDriver) -> None:
        """Start from the scenario's levels."""
        self.spec = spec
        self.stock = spec.stock
        self.climate = spec.climate

    @property
    def restraint(self) -> float:
        """Share by which institutions damp a hostile shock (damping x stock)."""
        return self.spec.damping * self.stock

    def build(self, delta: float) -> None:
        """Add institutional ties with diminishing returns (each new council adds less to a dense web)."""
        self.stock = min(1.0, max(0.0, self.stock + delta * (1.0 - self.stock)))

    def shift_climate(self, delta: float) -> None:
        """Warm or cool the climate; cooling is damped by institutions."""
        if delta < 0:
            delta *= 1.0 - self.restraint
        self.climate = min(1.0, max(0.0, self.climate + delta))

    def update(self) -> None:
        """Monthly decay of institutions and the pull of the climate toward neutral (slowed by institutions)."""
        s = self.spec
        self.stock *= 1.0 - s.decay
        self.climate += s.climate_reversion * (1.0 - self.restraint) * (0.5 - self.climate)
