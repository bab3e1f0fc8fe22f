"""Security threats and security cooperation: North Korea, China, GSOMIA.

North Korean provocations arrive as a Poisson process (launch events per month; 2022 had about 31 launch events,
Japan MOD via Nikkei 2023-01-21) and feed a decaying threat stock mapped to 0-1 by saturation
``s / (s + half_saturation)``. China's pressure is a slow random walk with drift. The combined threat raises the
value both capitals place on security cooperation (the essay's security section). Security cooperation is a stock
that moves toward a target set by GSOMIA, US engagement, the threat met by a good climate, and institutions.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.moves import DispatchError, GsomiaState, Move, Side
from sim.scenario import SecurityDriver


class SecurityEnvironment:
    """Threat processes, the GSOMIA state and the security-cooperation stock."""

    #: The moves whose change of state this driver applies (``sim.model.MOVE_DRIVERS`` is built from it).
    MOVES: ClassVar[frozenset[Move]] = frozenset({Move.END_GSOMIA, Move.RESTORE_GSOMIA})

    def __init__(self, spec: SecurityDriver) -> None:
        """Start from the scenario's threat, GSOMIA and cooperation levels."""
        self.spec = spec
        # Start from the scenario's threat level: invert nk_threat = s / (s + half_saturation).
        self.nk_stock = spec.threat_half_saturation * spec.nk_threat / (1.0 - spec.nk_threat)
        self.china = spec.china_pressure
        self.gsomia = GsomiaState.ACTIVE if spec.gsomia_active else GsomiaState.INACTIVE
        self.notice_months_left = 0
        self.notice_given_this_month = False
        self.cooperation = spec.cooperation
        self._recorded = {row.year: row.launch_events for row in spec.observed_launches}
        # Normalised once, so the target stays within 0-1 whatever weights a scenario gives.
        weights = spec.target_weights.model_dump()
        total = sum(weights.values())
        self._target_weights = {name: weight / total for name, weight in weights.items()}

    @property
    def nk_threat(self) -> float:
        """North Korean threat, 0-1."""
        return self.nk_stock / (self.nk_stock + self.spec.threat_half_saturation)

    @property
    def threat(self) -> float:
        """Combined threat from North Korea and China, 0-1."""
        w = self.spec.china_weight
        return (1.0 - w) * self.nk_threat + w * self.china

    def draw_provocations(self, rng: np.random.Generator, year: int) -> int:
        """This month's launch events (at the year's recorded rate, if the scenario records it); each adds to
        the threat stock."""
        recorded = self._recorded.get(year)
        rate = self.spec.nk_provocation_rate if recorded is None else recorded / 12.0
        n = int(rng.poisson(rate))
        self.provoke(n)
        return n

    def provoke(self, weight: float) -> None:
        """Add provocations (an overflight or a nuclear test counts as several)."""
        self.nk_stock += self.spec.provocation_impact * weight

    def drift_china(self, rng: np.random.Generator) -> None:
        """Monthly random walk of China's pressure."""
        step = self.spec.china_trend + self.spec.china_volatility * rng.standard_normal()
        self.china = min(1.0, max(0.0, self.china + step))

    def feasible(self, side: Side, move: Move) -> str | None:
        """Why a GSOMIA move cannot be made in the current state, or None if it can.

        ``side`` is unused (GSOMIA is Seoul's to end or restore) but keeps one signature for every driver.
        """
        if move is Move.END_GSOMIA and self.gsomia is not GsomiaState.ACTIVE:
            return "GSOMIA is not in force"
        if move is Move.RESTORE_GSOMIA and self.gsomia is GsomiaState.ACTIVE:
            return "GSOMIA is already in force"
        return None

    def apply(self, side: Side, move: Move) -> None:
        """Give notice of termination, or restore (which also withdraws a pending notice).

        Idempotent, so injects may repeat a state: notice given while GSOMIA is not in force changes nothing. A
        move outside :attr:`MOVES` raises :class:`~sim.moves.DispatchError`; ``side`` is unused, as in
        :meth:`feasible`.
        """
        if move is Move.END_GSOMIA:
            if self.gsomia is GsomiaState.ACTIVE:
                self.gsomia = GsomiaState.TERMINATION_NOTICE
                self.notice_months_left = self.spec.gsomia_notice_months
                self.notice_given_this_month = True
        elif move is Move.RESTORE_GSOMIA:
            self.gsomia = GsomiaState.ACTIVE
            self.notice_months_left = 0
        else:
            raise DispatchError(f"the security environment has no state change for move {move.value!r}")

    def update(self, us_engagement: float, climate: float, institutions: float) -> None:
        """Run down a termination notice, decay the threat stock and move cooperation toward its target."""
        if self.gsomia is GsomiaState.TERMINATION_NOTICE and not self.notice_given_this_month:
            # The notice runs for whole months after the month it was given in.
            self.notice_months_left -= 1
            if self.notice_months_left <= 0:
                self.gsomia = GsomiaState.INACTIVE
        self.notice_given_this_month = False
        self.nk_stock *= 1.0 - self.spec.threat_decay
        w = self._target_weights
        target = (
            w["gsomia"] * self.gsomia.value
            + w["us"] * us_engagement
            + w["threat"] * self.threat * climate
            + w["institutions"] * institutions
        )
        self.cooperation += self.spec.adjustment_rate * (target - self.cooperation)

    def boost(self, delta: float) -> None:
        """A direct step in cooperation (a trilateral summit's exercises)."""
        self.cooperation = min(1.0, max(0.0, self.cooperation + delta))
