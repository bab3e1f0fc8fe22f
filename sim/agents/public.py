"""Public opinion: one Mesa agent per country holding all its citizens as numpy arrays.

Each citizen has an opinion of the other country in [0, 1], an age cohort and a nationalist predisposition.
Every month the agent applies, in order: the month's forcing (history shocks, trade fights, the partner's
conciliation, exchange, threat), of which a share also moves each citizen's anchor (lasting attitude change);
bounded-confidence social influence (Deffuant et al. 2000); and anchoring to each citizen's own anchor
(Friedkin & Johnsen 1999). The poll-like
observable is the share of citizens above a favourable threshold, so it can be set beside real polls.
No Python object per citizen: the update is a handful of vectorised array operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import mesa
import numpy as np
from numpy.typing import NDArray

from sim.opinion import anchor_pull, deffuant_round
from sim.scenario import OpinionDynamics, Public

if TYPE_CHECKING:
    from sim.model import RapprochementModel


class Cohort(IntEnum):
    """Age cohorts: exchange and pop culture reach the young most (the essay's youth-exchange section)."""

    YOUNG = 0
    MIDDLE = 1
    OLD = 2


@dataclass
class Forcing:
    """What one public felt this month, accumulated by the model before the opinion update."""

    history: float = 0.0
    trade: float = 0.0
    goodwill: float = 0.0


class PublicOpinion(mesa.Agent["RapprochementModel"]):
    """All citizens of one country, as arrays."""

    def __init__(self, model: RapprochementModel, country: str, spec: Public, dynamics: OpinionDynamics) -> None:
        """Draw the initial population from the scenario's distributions using the model's generator."""
        super().__init__(model)
        rng = model.rng
        n = spec.citizens
        self.country = country
        self.dynamics = dynamics
        middle = 1.0 - spec.young_share - spec.old_share
        self.cohort: NDArray[np.int8] = rng.choice(3, size=n, p=[spec.young_share, middle, spec.old_share]).astype(
            np.int8
        )
        k = spec.nationalism_concentration
        self.nationalism: NDArray[np.float64] = rng.beta(
            spec.nationalism_mean * k + 1e-9, (1 - spec.nationalism_mean) * k + 1e-9, size=n
        )
        c = spec.concentration
        base = rng.beta(spec.mean_opinion * c + 1e-9, (1 - spec.mean_opinion) * c + 1e-9, size=n)
        base += spec.young_offset * (self.cohort == Cohort.YOUNG)
        base -= spec.nationalism_opinion_link * (self.nationalism - spec.nationalism_mean)
        self._nationalism_total = float(self.nationalism.sum())
        self._hostility: float | None = None
        self.opinions = np.clip(base, 0.0, 1.0)
        self.anchors: NDArray[np.float64] = self.opinions.copy()
        # Nationalists hold on to their anchor more: lower susceptibility to social influence.
        self.susceptibility: NDArray[np.float64] = dynamics.susceptibility * (
            1.0 - dynamics.nationalist_stubbornness * self.nationalism
        )
        reach = model.spec.drivers.exchange.reach
        self.exchange_reach: NDArray[np.float64] = np.array([reach.young, reach.middle, reach.old])[self.cohort]
        self._scratch = np.empty((2, n))
        self.forcing = Forcing()
        # Spin-up: let social influence settle the drawn population before the first month, so the start
        # is not a transient of the initial draw.
        for _ in range(dynamics.burn_in_months):
            self.interact()

    @property
    def size(self) -> int:
        """Number of citizens."""
        return int(self.opinions.size)

    def favourability(self) -> float:
        """Percentage of citizens whose opinion exceeds the favourable threshold (a poll's 'favourable')."""
        return 100.0 * np.count_nonzero(self.opinions > self.dynamics.favourable_threshold) / self.size

    def acceptance(self, conciliation: float, salience: float) -> float:
        """Voice-weighted share of citizens who would accept a move of this conciliation.

        A conciliatory move (c > 0) is accepted by those whose opinion is at least ``scale * c``; a hard-line
        move (c < 0) by those whose opinion is at most ``1 + scale * c``; doing nothing by all. Each citizen's
        political weight is ``1 + k * nationalism`` with ``k = nationalist_voice * (0.5 + salience)``:
        nationalists count for more when history is salient.
        """
        return self.acceptances([conciliation], salience)[conciliation]

    def acceptances(self, conciliations: Iterable[float], salience: float) -> dict[float, float]:
        """``acceptance`` of several moves, each distinct conciliation measured once.

        The weighted count is an ``einsum`` over a boolean mask: it allocates no temporary of the population's
        size (at tens of thousands of citizens every temporary costs fresh pages) and, unlike ``np.dot``, never
        goes to a multithreaded BLAS that stalls when other processes hold the cores.
        """
        scale = self.dynamics.acceptance_scale
        k = self.dynamics.nationalist_voice * (0.5 + salience)
        total = self.size + k * self._nationalism_total
        result = {}
        for c in set(conciliations):
            if c == 0.0:
                result[c] = 1.0
                continue
            accepts = self.opinions >= scale * c if c > 0 else self.opinions <= 1.0 + scale * c
            weighted = np.count_nonzero(accepts) + k * float(np.einsum("i,i->", self.nationalism, accepts))
            result[c] = weighted / total
        return result

    def nationalist_pressure(self, salience: float) -> float:
        """Mobilised nationalist hostility, 0-1: 2 x mean(nationalism x (1 - opinion)) x (0.5 + salience)."""
        if self._hostility is None:  # depends on opinions only: computed once per opinion update
            # sum(v * (1 - x)) without a temporary of the population's size
            hostility = self._nationalism_total - float(np.einsum("i,i->", self.nationalism, self.opinions))
            self._hostility = hostility / self.size
        return min(1.0, 2.0 * self._hostility * (0.5 + salience))

    @property
    def opinions(self) -> NDArray[np.float64]:
        """Each citizen's opinion of the other country, 0-1."""
        return self._opinions

    @opinions.setter
    def opinions(self, value: NDArray[np.float64]) -> None:
        self._opinions = value
        self._hostility = None

    def absorb(self, salience: float, threat: float, exchange_ratio: float) -> None:
        """Apply this month's forcing to opinions (and, in part, to anchors), then clear it.

        Per citizen with nationalism ``v``, reach of exchange ``r`` (by cohort) and opinion ``x``::

            delta = - history_push * H * (b_h + v)          history shocks, worst for nationalists
                    - trade_push * T * (b_t + v)            the partner's hostile trade moves
                    - salience_mobilization * S * v         salience keeps nationalists mobilised
                    + goodwill_lift * G * (1 - v)           the partner's conciliation reaches moderates
                    + threat_rally * threat * (1 - v)       a shared threat rallies toward the partner
                    + exchange_lift * E * r * (1 - x)       exchange lifts the young, less near the top

        (``b_h``, ``b_t``: ``history_base_response`` and ``trade_base_response``.) Everything but the exchange
        term is affine in ``v``, so it is computed as ``a + b * v``: two array
        operations instead of ten, on the path every run takes every month.
        """
        d = self.dynamics
        f = self.forcing
        history, trade = d.history_push * f.history, d.trade_push * f.trade
        goodwill, rally = d.goodwill_lift * f.goodwill, d.threat_rally * threat
        constant = -d.history_base_response * history - d.trade_base_response * trade + goodwill + rally
        per_nationalism = -history - trade - d.salience_mobilization * salience - goodwill - rally
        # Two scratch arrays reused every month: at tens of thousands of citizens a fresh temporary per term
        # costs more in page faults than the arithmetic itself.
        delta = np.multiply(self.nationalism, per_nationalism, out=self._scratch[0])
        delta += constant
        exchange = d.exchange_lift * exchange_ratio
        if exchange:
            room = np.subtract(1.0, self.opinions, out=self._scratch[1])
            room *= self.exchange_reach
            room *= exchange
            delta += room
        # In place: the opinion array belongs to this agent alone (readers take copies), and a fresh array of
        # the population's size every month costs page faults.
        opinions = self.opinions
        opinions += delta
        # The method form of clip skips np.clip's dispatch layers, a measurable share at small populations.
        self.opinions = opinions.clip(0.0, 1.0, out=opinions)  # the setter clears the cached hostility
        # Part of what people live through changes their settled attitude, not just today's mood.
        delta *= d.anchor_absorption
        self.anchors += delta
        self.anchors.clip(0.0, 1.0, out=self.anchors)
        self.forcing = Forcing()

    def interact(self) -> None:
        """Social influence then anchoring: Deffuant rounds, then the Friedkin-Johnsen pull to anchors.

        Uses the kernels' unchecked cores: the arrays and parameters were validated when the population was
        built, and this runs every month.
        """
        d = self.dynamics
        # Updated in place: the constructor made this array, and nothing else holds it.
        x = self.opinions
        for _ in range(d.rounds_per_month):
            deffuant_round(x, d.confidence, d.convergence, self.model.rng, out=x)
        self.opinions = anchor_pull(x, self.anchors, self.susceptibility, out=x)
