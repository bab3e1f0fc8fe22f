"""Washington: the US as broker between Seoul and Tokyo.

Engagement (0-1) moves toward a target the scenario sets (a policy shift inject can change it) with small noise.
Engagement times ``brokering`` is the pressure for cooperation each capital feels in its choices; the pressure
grows as the climate between them worsens (US brokering in 2019 and 2023, the essay's US section). Trilateral
summits happen at a monthly rate proportional to engagement when the climate allows, and build institutions and
security cooperation (Camp David, 2023-08-18).

In a class exercise a team may play Washington (``team_controlled``): its ``WashingtonAction`` for a turn, set
with ``impose``, replaces the random convening of trilateral summits. It is taken in the turn's first month and
maps onto the mechanisms above: a trilateral summit (if the climate allows), a higher or lower engagement target,
or a brokering weight doubled (``broker``) or set to zero (``stand_back``) until the next action. A capital a
team plays does not weigh utilities, so the brokering factor reaches it through its win-set instead
(``sim.agents.government.US_PRESSURE_SHARE``). Engagement still moves toward its target, with noise, every
month. Without a team nothing of this is used.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import mesa

from sim.scenario import Washington

if TYPE_CHECKING:
    from sim.model import RapprochementModel

#: How far a team's raise or lower of engagement moves the engagement target.
ENGAGEMENT_STEP = 0.2


class WashingtonAction(StrEnum):
    """What a Washington team does in a turn."""

    STEADY = "steady"
    BROKER = "broker"
    TRILATERAL_SUMMIT = "trilateral_summit"
    RAISE_ENGAGEMENT = "raise_engagement"
    LOWER_ENGAGEMENT = "lower_engagement"
    STAND_BACK = "stand_back"


#: Multiplier of the brokering weight an action sets until the next action (1 for the others).
BROKERING_FACTORS = {WashingtonAction.BROKER: 2.0, WashingtonAction.STAND_BACK: 0.0}


class WashingtonAgent(mesa.Agent["RapprochementModel"]):
    """US engagement and brokering."""

    def __init__(self, model: RapprochementModel, spec: Washington) -> None:
        """Start from the scenario's engagement."""
        super().__init__(model)
        self.spec = spec
        self.engagement = spec.engagement
        self.target = spec.target_engagement
        self.team_controlled = False
        self.imposed: WashingtonAction | None = None
        self.brokering_factor = 1.0
        #: What became of the last imposed action: ``made`` or ``dropped: why``.
        self.team_outcome: str | None = None

    def pressure(self, climate: float) -> float:
        """Brokering pressure on each capital: engagement x brokering x (1.5 - climate).

        A team's ``broker`` or ``stand_back`` scales the brokering weight (the factor is exactly 1 otherwise, so
        runs without a team are unchanged)."""
        return self.engagement * self.spec.brokering * self.brokering_factor * (1.5 - climate)

    def adjust(self) -> None:
        """Move engagement toward its target, with noise."""
        s = self.spec
        noise = s.volatility * self.model.rng.standard_normal() if s.volatility > 0 else 0.0
        step = s.adjustment_rate * (self.target - self.engagement) + noise
        self.engagement = min(1.0, max(0.0, self.engagement + step))

    def convene(self) -> bool:
        """Hold a trilateral summit this month with probability rate x engagement, if the climate allows.

        A team-controlled Washington takes its imposed action instead (see ``act``)."""
        if self.team_controlled:
            return self.act()
        m = self.model
        chance = self.spec.trilateral_summit_rate * self.engagement
        if chance <= 0 or m.institutions.climate < self.spec.trilateral_min_climate:
            return False
        if m.rng.random() >= chance:
            return False
        self.hold_trilateral()
        return True

    def hold_trilateral(self, magnitude: float = 1.0) -> None:
        """A trilateral summit's effects."""
        m = self.model
        s = self.spec
        m.institutions.build(s.trilateral_institutions * magnitude)
        m.security.boost(s.trilateral_security * magnitude)
        m.institutions.shift_climate(s.trilateral_climate * magnitude)

    def unavailable(self, action: WashingtonAction) -> str | None:
        """Why a team's action cannot be taken now, or None (the analogue of a capital's win-set check)."""
        climate = self.model.institutions.climate
        needed = self.spec.trilateral_min_climate
        if action is WashingtonAction.TRILATERAL_SUMMIT and climate < needed:
            return f"the Seoul-Tokyo climate ({climate:.2f}) is below the {needed:.2f} needed"
        if action is WashingtonAction.RAISE_ENGAGEMENT and self.target >= 1.0:
            return "the engagement target is already at its maximum"
        if action is WashingtonAction.LOWER_ENGAGEMENT and self.target <= 0.0:
            return "the engagement target is already at zero"
        return None

    def impose(self, action: WashingtonAction) -> None:
        """Make ``action`` Washington's next action (a team's choice for the turn)."""
        if not self.team_controlled:
            raise ValueError("Washington is not played by a team")
        self.imposed = action
        self.team_outcome = None

    def act(self) -> bool:
        """Take the imposed action once (later months of the turn: nothing); True if a summit was held."""
        action, self.imposed = self.imposed, None
        if action is None:
            return False
        # Checked again now: the turn's injects come first and may have soured the climate since it was chosen.
        reason = self.unavailable(action)
        self.team_outcome = "made" if reason is None else f"dropped: {reason}"
        self.brokering_factor = BROKERING_FACTORS.get(action, 1.0)
        if action is WashingtonAction.RAISE_ENGAGEMENT:
            self.target = min(1.0, self.target + ENGAGEMENT_STEP)
        elif action is WashingtonAction.LOWER_ENGAGEMENT:
            self.target = max(0.0, self.target - ENGAGEMENT_STEP)
        elif action is WashingtonAction.TRILATERAL_SUMMIT and self.unavailable(action) is None:
            self.hold_trilateral()
            return True
        return False
