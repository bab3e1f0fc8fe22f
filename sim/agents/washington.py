"""Washington: the US as broker between Seoul and Tokyo.

Engagement (0-1) moves toward a target the scenario sets (a policy shift inject can change it) with small noise.
Engagement times ``brokering`` is the pressure for cooperation each capital feels in its choices; the pressure
grows as the climate between them worsens (US brokering in 2019 and 2023, the essay's US section). Trilateral
summits happen at a monthly rate proportional to engagement when the climate allows, and build institutions and
security cooperation (Camp David, 2023-08-18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.scenario import Washington

if TYPE_CHECKING:
    from sim.model import RapprochementModel

#: A trilateral summit needs at least this diplomatic climate between Seoul and Tokyo.
TRILATERAL_MIN_CLIMATE = 0.4
TRILATERAL_INSTITUTIONS = 0.04
TRILATERAL_SECURITY = 0.05
TRILATERAL_CLIMATE = 0.03


class WashingtonAgent(mesa.Agent["RapprochementModel"]):
    """US engagement and brokering."""

    def __init__(self, model: RapprochementModel, spec: Washington) -> None:
        """Start from the scenario's engagement."""
        super().__init__(model)
        self.spec = spec
        self.engagement = spec.engagement
        self.target = spec.target_engagement

    def pressure(self, climate: float) -> float:
        """Brokering pressure on each capital: engagement x brokering x (1.5 - climate)."""
        return self.engagement * self.spec.brokering * (1.5 - climate)

    def adjust(self) -> None:
        """Move engagement toward its target, with noise."""
        s = self.spec
        noise = s.volatility * self.model.rng.standard_normal() if s.volatility > 0 else 0.0
        step = s.adjustment_rate * (self.target - self.engagement) + noise
        self.engagement = min(1.0, max(0.0, self.engagement + step))

    def convene(self) -> bool:
        """Hold a trilateral summit this month with probability rate x engagement, if the climate allows."""
        m = self.model
        chance = self.spec.trilateral_summit_rate * self.engagement
        if chance <= 0 or m.institutions.climate < TRILATERAL_MIN_CLIMATE:
            return False
        if m.rng.random() >= chance:
            return False
        self.hold_trilateral()
        return True

    def hold_trilateral(self, magnitude: float = 1.0) -> None:
        """A trilateral summit's effects."""
        m = self.model
        m.institutions.build(TRILATERAL_INSTITUTIONS * magnitude)
        m.security.boost(TRILATERAL_SECURITY * magnitude)
        m.institutions.shift_climate(TRILATERAL_CLIMATE * magnitude)
