"""Washington: the US as broker between Seoul and Tokyo.

Engagement (0-1) moves toward a target the scenario sets (a policy shift inject can change it) with small noise.
Engagement times ``brokering`` is the pressure for cooperation each capital feels in its choices; the pressure
grows as the climate between them worsens (US brokering in 2019 and 2023, the essay's US section). Trilateral
summits happen at a monthly rate proportional to engagement when the climate allows, and build institutions and
security cooperation (Camp David, 2023-08-18).

What Washington does in a month beyond that is its rule's choice (``WashingtonRule``), a ``WashingtonAction`` or
nothing. The model's own rule, ``Convening``, only ever convenes those random summits. Another rule (the class
exercise's ``sim.agents.team.WashingtonTeam``) may take any action, each mapped onto the mechanisms above: a
trilateral summit (if the climate allows), a higher or lower engagement target, or a brokering weight doubled
(``broker``) or set to zero (``stand_back``) until the next action. A capital whose rule does not weigh
utilities feels the brokering factor through its win-set instead (``sim.agents.government.US_PRESSURE_SHARE``).
An action is checked when it is taken (``unavailable``) and the rule hears whether it was made or dropped.
Engagement moves toward its target, with noise, every month whatever the rule.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import mesa

from sim.agents.decision import MoveOutcome, MoveResult
from sim.scenario import Washington

if TYPE_CHECKING:
    from sim.model import RapprochementModel

#: How far a raise or lower of engagement moves the engagement target.
ENGAGEMENT_STEP = 0.2


class WashingtonAction(StrEnum):
    """What Washington may do in a month beyond its engagement drift (the model's own rule only convenes
    summits; a team may take any)."""

    STEADY = "steady"
    BROKER = "broker"
    TRILATERAL_SUMMIT = "trilateral_summit"
    RAISE_ENGAGEMENT = "raise_engagement"
    LOWER_ENGAGEMENT = "lower_engagement"
    STAND_BACK = "stand_back"


#: Multiplier of the brokering weight an action sets until the next action (1 for the others).
BROKERING_FACTORS = {WashingtonAction.BROKER: 2.0, WashingtonAction.STAND_BACK: 0.0}


class WashingtonRule(Protocol):
    """Chooses Washington's action for the month, if any, and hears what became of it.

    ``hear`` has a default (nothing), inherited by a rule that subclasses this protocol."""

    def act(self, washington: WashingtonAgent) -> WashingtonAction | None:
        """This month's action, or None for none (engagement follows its target either way)."""
        ...

    def hear(self, action: WashingtonAction, result: MoveResult) -> None:
        """Learn what became of ``action``, which this rule chose (made or dropped); by default nothing."""
        return None


class Convening(WashingtonRule):
    """The model's Washington: a trilateral summit with probability rate x engagement when the climate allows,
    no other action."""

    def act(self, washington: WashingtonAgent) -> WashingtonAction | None:
        """Draw whether to convene a summit this month (no draw when the rate or the climate rules it out)."""
        spec = washington.spec
        model = washington.model
        chance = spec.trilateral_summit_rate * washington.engagement
        if chance <= 0 or model.institutions.climate < spec.trilateral_min_climate:
            return None
        if model.rng.random() >= chance:
            return None
        return WashingtonAction.TRILATERAL_SUMMIT


class WashingtonAgent(mesa.Agent["RapprochementModel"]):
    """US engagement and brokering."""

    def __init__(self, model: RapprochementModel, spec: Washington) -> None:
        """Start from the scenario's engagement."""
        super().__init__(model)
        self.spec = spec
        self.engagement = spec.engagement
        self.target = spec.target_engagement
        self.rule: WashingtonRule = Convening()
        #: Multiplier of the brokering weight set by the last action (``BROKERING_FACTORS``).
        self.brokering_factor = 1.0

    def pressure(self, climate: float) -> float:
        """Brokering pressure on each capital: engagement x brokering x (1.5 - climate).

        A ``broker`` or ``stand_back`` action scales the brokering weight (the factor is exactly 1 otherwise:
        ``Convening`` takes neither)."""
        return self.engagement * self.spec.brokering * self.brokering_factor * (1.5 - climate)

    def adjust(self) -> None:
        """Move engagement toward its target, with noise."""
        s = self.spec
        noise = s.volatility * self.model.rng.standard_normal() if s.volatility > 0 else 0.0
        step = s.adjustment_rate * (self.target - self.engagement) + noise
        self.engagement = min(1.0, max(0.0, self.engagement + step))

    def convene(self) -> bool:
        """Take the action the rule chooses this month, if any (by default a random trilateral summit); True if
        a summit was held."""
        action = self.rule.act(self)
        return False if action is None else self.take(action)

    def hold_trilateral(self, magnitude: float = 1.0) -> None:
        """A trilateral summit's effects."""
        m = self.model
        s = self.spec
        m.institutions.build(s.trilateral_institutions * magnitude)
        m.security.boost(s.trilateral_security * magnitude)
        m.institutions.shift_climate(s.trilateral_climate * magnitude)

    def unavailable(self, action: WashingtonAction) -> str | None:
        """Why an action cannot be taken now, or None (the analogue of a capital's check of its moves)."""
        climate = self.model.institutions.climate
        needed = self.spec.trilateral_min_climate
        if action is WashingtonAction.TRILATERAL_SUMMIT and climate < needed:
            return f"the Seoul-Tokyo climate ({climate:.2f}) is below the {needed:.2f} needed"
        if action is WashingtonAction.RAISE_ENGAGEMENT and self.target >= 1.0:
            return "the engagement target is already at its maximum"
        if action is WashingtonAction.LOWER_ENGAGEMENT and self.target <= 0.0:
            return "the engagement target is already at zero"
        return None

    def take(self, action: WashingtonAction) -> bool:
        """Take ``action`` and tell the rule what became of it; True if a summit was held.

        The action is checked now (the month's injects come first and may have soured the climate since it was
        chosen): an unavailable one is dropped, though it still sets the brokering factor (to 1 for any action
        but ``broker`` and ``stand_back``)."""
        reason = self.unavailable(action)
        self.rule.hear(action, MoveResult(MoveOutcome.MADE if reason is None else MoveOutcome.DROPPED, reason))
        self.brokering_factor = BROKERING_FACTORS.get(action, 1.0)
        if action is WashingtonAction.RAISE_ENGAGEMENT:
            self.target = min(1.0, self.target + ENGAGEMENT_STEP)
        elif action is WashingtonAction.LOWER_ENGAGEMENT:
            self.target = max(0.0, self.target - ENGAGEMENT_STEP)
        elif action is WashingtonAction.TRILATERAL_SUMMIT and reason is None:
            self.hold_trilateral()
            return True
        return False
