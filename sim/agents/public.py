"""Public opinion: one Mesa agent per country holding all its citizens as numpy arrays.

Each citizen has an opinion of the other country in [0, 1], a settled attitude (anchor) and a long-run level the
anchor returns to, an age, a political camp with a strength of attachment (partisanship) and a nationalist
predisposition. Every month the agent applies, in order: the month's forcing (history shocks, trade fights, the
partner's conciliation, changes in contact, threat and salience since the start, and the cues of its own
government), of which a share also moves each citizen's anchor; the anchor's relaxation toward its long-run level,
which gives opinion an equilibrium (nothing drifts without events); bounded-confidence social influence
(Deffuant et al. 2000); and anchoring to each citizen's own anchor (Friedkin & Johnsen 1999). Every January
citizens age a year; those reaching ``max_age`` leave and 18-year-olds of the entering generation take their
place. The poll-like observable is the share of citizens above a favourable threshold, so it can be set beside
real polls. No Python object per citizen: the update is a handful of vectorised array operations.

**Camps and elite cues.** Korean opinion of Japan splits by camp: in January 2016, 80 % of Minjoo supporters
called the 2015 agreement wrong while most Saenuri supporters approved of it; in March 2023, 67-77 % of PPP
supporters backed the compensation plan that 59 % of all Koreans opposed; in August 2019, 86 % of progressives and
34 % of conservatives backed ending GSOMIA (sim/data/patterns.csv, sources per row). A government's stance moves
its own camp's opinion (Zaller 1992: partisans follow their own elites' cues) and, by ``polarisation``, pushes the
other camp the other way; and a citizen's bar for accepting a move is lower when their own camp's leader makes it
(``camp_loyalty``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import mesa
import numpy as np
from numpy.typing import NDArray

from sim.opinion import anchor_pull, deffuant_round
from sim.scenario import Camp, OpinionDynamics, Public

if TYPE_CHECKING:
    from sim.model import RapprochementModel


class Cohort(IntEnum):
    """Age cohorts: exchange and pop culture reach the young most (the essay's youth-exchange section)."""

    YOUNG = 0
    MIDDLE = 1
    OLD = 2


#: Youngest age of each cohort (the public is adults from 18; the old cohort runs to ``max_age``).
COHORT_AGES = (18, 30, 60)
#: The camps' codes in the ``camp`` array.
CAMP_CODES = {Camp.PROGRESSIVE: 0, Camp.CONSERVATIVE: 1}


def cohort_of(age: NDArray[np.float64]) -> NDArray[np.int8]:
    """The cohort of each age (young below 30, old from 60)."""
    cohort: NDArray[np.int8] = (age >= COHORT_AGES[1]).astype(np.int8) + (age >= COHORT_AGES[2])
    return cohort


@dataclass
class Forcing:
    """What one public felt this month, accumulated by the model before the opinion update.

    ``cue`` is the summed conciliation of its own government's moves this month (an elite cue).
    """

    history: float = 0.0
    trade: float = 0.0
    goodwill: float = 0.0
    cue: float = 0.0


@dataclass(frozen=True)
class Leader:
    """Who leads the government a public answers to: camp and stance toward the partner (0 hawk, 1 dove)."""

    camp: Camp
    orientation: float


class PublicOpinion(mesa.Agent["RapprochementModel"]):
    """All citizens of one country, as arrays."""

    def __init__(
        self,
        model: RapprochementModel,
        country: str,
        spec: Public,
        dynamics: OpinionDynamics,
        leader: Leader,
    ) -> None:
        """Draw the initial population from the scenario's distributions using the model's generator.

        ``leader`` is the government in office at the start: cues are measured against its stance.
        """
        super().__init__(model)
        self.country = country
        self.spec = spec
        self.dynamics = dynamics
        reach = model.spec.drivers.exchange.reach
        self._reach_by_cohort = np.array([reach.young, reach.middle, reach.old])
        n = spec.citizens
        rng = model.rng
        middle = 1.0 - spec.young_share - spec.old_share
        cohort = rng.choice(3, size=n, p=[spec.young_share, middle, spec.old_share])
        low = np.array([COHORT_AGES[0], COHORT_AGES[1], COHORT_AGES[2]], dtype=np.float64)[cohort]
        high = np.array([COHORT_AGES[1], COHORT_AGES[2], spec.max_age], dtype=np.float64)[cohort]
        self.age: NDArray[np.float64] = low + (high - low) * rng.random(n)
        self.nationalism: NDArray[np.float64] = np.empty(n)
        self.camp: NDArray[np.int8] = np.empty(n, dtype=np.int8)
        self.partisanship: NDArray[np.float64] = np.empty(n)
        self.base: NDArray[np.float64] = np.empty(n)
        self._draw(np.arange(n), cohort == Cohort.YOUNG)
        self._shift_nationalism()
        self._hostility: float | None = None
        self.opinions = self.base.copy()
        self.anchors: NDArray[np.float64] = self.base.copy()
        self._scratch = np.empty((2, n))
        self.forcing = Forcing()
        self._start_leader = leader
        self.leader = leader
        self._refresh()
        # Spin-up: let social influence settle the drawn population before the first month, so the start
        # is not a transient of the initial draw.
        for _ in range(dynamics.burn_in_months):
            self.interact()

    def _draw(self, who: NDArray[np.intp], young: NDArray[np.bool_]) -> None:
        """Draw nationalism, camp, partisanship and long-run opinion for the citizens ``who`` (in place)."""
        spec, rng, n = self.spec, self.model.rng, who.size
        k = spec.nationalism_concentration
        self.nationalism[who] = rng.beta(
            spec.nationalism_mean * k + 1e-9, (1 - spec.nationalism_mean) * k + 1e-9, size=n
        )
        self.camp[who] = rng.random(n) < spec.conservative_share
        k = spec.partisanship_concentration
        self.partisanship[who] = rng.beta(
            spec.partisanship_mean * k + 1e-9, (1 - spec.partisanship_mean) * k + 1e-9, size=n
        )
        c = spec.concentration
        base = rng.beta(spec.mean_opinion * c + 1e-9, (1 - spec.mean_opinion) * c + 1e-9, size=n)
        base += spec.young_offset * young
        base -= spec.nationalism_opinion_link * (self.nationalism[who] - spec.nationalism_mean)
        base += spec.camp_offset * (self.camp[who] - 0.5)
        self.base[who] = np.clip(base, 0.0, 1.0)

    def _shift_nationalism(self) -> None:
        """Add the scenario's ``nationalism_shift`` to every citizen's predisposition (kept in [0, 1])."""
        if self.spec.nationalism_shift:
            self.nationalism = np.clip(self.nationalism + self.spec.nationalism_shift, 0.0, 1.0)

    def adopt(self, citizens: dict[str, NDArray[np.float64]], reference: Leader) -> None:
        """Take over handed-over citizens (``sim.start_state``): their arrays by name, one entry per citizen of
        this public, and the leader whose stance the replay's equilibrium included (cues are measured from it)."""
        self.age = citizens["age"].astype(np.float64)
        self.camp = citizens["camp"].astype(np.int8)
        self.partisanship = citizens["partisanship"].astype(np.float64)
        self.nationalism = citizens["nationalism"].astype(np.float64)
        self._shift_nationalism()
        self.base = citizens["base"].astype(np.float64)
        self.anchors = citizens["anchors"].astype(np.float64)
        self.opinions = citizens["opinions"].astype(np.float64)
        self._start_leader = reference
        self._refresh()

    def _refresh(self) -> None:
        """Recompute what follows from who the citizens are and who leads (after a draw, ageing or a new
        leader): cohorts, exchange reach, susceptibility, the cue and loyalty vectors."""
        d = self.dynamics
        self.cohort = cohort_of(self.age)
        self.exchange_reach: NDArray[np.float64] = self._reach_by_cohort[self.cohort]
        # Nationalists hold on to their anchor more: lower susceptibility to social influence.
        self.susceptibility: NDArray[np.float64] = d.susceptibility * (
            1.0 - d.nationalist_stubbornness * self.nationalism
        )
        self._nationalism_total = float(self.nationalism.sum())
        self._relaxed_base = d.anchor_relaxation * self.base
        # How each citizen answers the cues of the leader in office: +partisanship in the leader's camp,
        # -polarisation x partisanship in the other.
        self._cue_response = self._camp_response(self.leader.camp)
        stance = self._cue_response * (self.leader.orientation - 0.5)
        start = self._camp_response(self._start_leader.camp) * (self._start_leader.orientation - 0.5)
        # Cues are measured against the stance in office at the start, which the start's equilibrium includes.
        stance -= start
        stance *= d.stance_cue
        self._stance_forcing: NDArray[np.float64] | None = stance if np.any(stance) else None
        self._loyalty: NDArray[np.float64] | None = (
            d.camp_loyalty * self._cue_response if d.camp_loyalty > 0 else None
        )

    def _camp_response(self, camp: Camp) -> NDArray[np.float64]:
        own = self.camp == CAMP_CODES[camp]
        response: NDArray[np.float64] = np.where(own, 1.0, -self.dynamics.polarisation) * self.partisanship
        return response

    @property
    def size(self) -> int:
        """Number of citizens."""
        return int(self.opinions.size)

    def follow(self, leader: Leader) -> None:
        """A new leader took office: its camp and stance are now the cues this public hears."""
        self.leader = leader
        self._refresh()

    def age_one_year(self) -> int:
        """Every citizen ages a year; those reaching ``max_age`` are replaced by 18-year-olds of the entering
        generation (drawn afresh, at their long-run opinion). Returns how many were replaced."""
        self.age += 1.0
        leaving = np.flatnonzero(self.age >= self.spec.max_age)
        if leaving.size:
            self.age[leaving] = float(COHORT_AGES[0])
            self._draw(leaving, np.ones(leaving.size, dtype=bool))
            self.opinions[leaving] = self.base[leaving]
            self.anchors[leaving] = self.base[leaving]
            self._hostility = None  # opinions changed in place
        self._refresh()
        return int(leaving.size)

    def favourability(self) -> float:
        """Percentage of citizens whose opinion exceeds the favourable threshold (a poll's 'favourable')."""
        return 100.0 * np.count_nonzero(self.opinions > self.dynamics.favourable_threshold) / self.size

    def acceptance(self, conciliation: float, salience: float) -> float:
        """Voice-weighted share of citizens who would accept a move of this conciliation by their government.

        A conciliatory move (c > 0) is accepted by those whose opinion is at least ``scale * c``; a hard-line
        move (c < 0) by those whose opinion is at most ``1 + scale * c``; doing nothing by all. A citizen of the
        leader's camp meets the move ``camp_loyalty x partisanship`` of the way (a citizen of the other camp
        stands ``polarisation`` times as far back). Each citizen's political weight is ``1 + k * nationalism``
        with ``k = nationalist_voice * (0.5 + salience)``: nationalists count for more when history is salient.
        """
        return self.acceptances([conciliation], salience)[conciliation]

    def acceptances(self, conciliations: Iterable[float], salience: float) -> dict[float, float]:
        """``acceptance`` of several moves, each distinct conciliation measured once.

        The weighted count is an ``einsum`` over a boolean mask: it allocates no temporary of the population's
        size (at tens of thousands of citizens every temporary costs fresh pages) and, unlike ``np.dot``, never
        goes to a multithreaded BLAS that stalls when other processes hold the cores.
        """
        k = self.dynamics.nationalist_voice * (0.5 + salience)
        total = self.size + k * self._nationalism_total
        result = {}
        for c, accepts in self._accepting(set(conciliations)):
            if accepts is None:
                result[c] = 1.0
                continue
            weighted = np.count_nonzero(accepts) + k * float(np.einsum("i,i->", self.nationalism, accepts))
            result[c] = weighted / total
        return result

    def _accepting(self, conciliations: set[float]) -> Iterator[tuple[float, NDArray[np.bool_] | None]]:
        """Each conciliation with the mask of citizens who accept a move of it by their own leader (None for
        holding, which everyone accepts): the rule of ``acceptance``, loyalty to the leader's camp included."""
        scale = self.dynamics.acceptance_scale
        warm = cool = self.opinions
        if self._loyalty is not None:
            # Loyal citizens read their own leader's move as more acceptable than their opinion alone says. The
            # shifted opinions go into the scratch rows (free outside ``absorb``), only for the signs weighed.
            if any(c > 0 for c in conciliations):
                warm = np.add(self.opinions, self._loyalty, out=self._scratch[0])
            if any(c < 0 for c in conciliations):
                cool = np.subtract(self.opinions, self._loyalty, out=self._scratch[1])
        for c in conciliations:
            if c == 0.0:
                yield c, None
            else:
                yield c, (warm >= scale * c if c > 0 else cool <= 1.0 + scale * c)

    def support(self, conciliation: float, camp: Camp | None = None) -> float:
        """Unweighted share of citizens (of one ``camp``, if given) who would accept a move of this conciliation
        by their own government: what a poll of support for the move measures (``acceptance`` without the
        nationalists' extra voice)."""
        [(_, accepts)] = self._accepting({conciliation})
        if accepts is None:
            return 1.0
        if camp is None:
            return float(np.count_nonzero(accepts)) / self.size
        members = self.camp == CAMP_CODES[camp]
        return float(np.count_nonzero(accepts & members)) / max(1, int(np.count_nonzero(members)))

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

    def absorb(
        self, salience_change: float, threat_change: float, contact_change: float, boycott: float = 0.0
    ) -> None:
        """Apply this month's forcing to opinions (and, in part, to anchors), relax anchors, then clear it.

        The changes are measured from the start (the start is the equilibrium of its conditions). Per citizen
        with nationalism ``v``, reach of exchange ``r`` (by cohort), opinion ``x`` and cue response ``p``
        (partisanship in the leader's camp, ``-polarisation x`` it in the other)::

            delta = - history_push * H * (b_h + v)          history shocks, worst for nationalists
                    - trade_push * T * (b_t + v)            the partner's hostile trade moves
                    - boycott_push * B * (b_t + v)          a boycott this public wages
                    - salience_mobilization * dS * v        salience keeps nationalists mobilised
                    + goodwill_lift * G * (1 - v)           the partner's conciliation reaches moderates
                    + threat_rally * dThreat * (1 - v)      a shared threat rallies toward the partner
                    + exchange_lift * dContact * r * (1 - x)  contact lifts the young, less near the top
                    + move_cue * K * p + stance forcing     the own government's cues

        (``b_h``, ``b_t``: ``history_base_response`` and ``trade_base_response``; ``K``: the conciliation of the
        own government's moves this month.) The affine part in ``v`` is computed as ``a + b * v``. A share
        ``anchor_absorption`` of ``delta`` also moves each anchor, and every anchor then closes
        ``anchor_relaxation`` of its gap to its long-run level.
        """
        d = self.dynamics
        f = self.forcing
        history = d.history_push * f.history
        trade = d.trade_push * f.trade + d.boycott_push * boycott
        goodwill, rally = d.goodwill_lift * f.goodwill, d.threat_rally * threat_change
        constant = -d.history_base_response * history - d.trade_base_response * trade + goodwill + rally
        per_nationalism = -history - trade - d.salience_mobilization * salience_change - goodwill - rally
        # Two scratch arrays reused every month: at tens of thousands of citizens a fresh temporary per term
        # costs more in page faults than the arithmetic itself.
        delta = np.multiply(self.nationalism, per_nationalism, out=self._scratch[0])
        delta += constant
        exchange = d.exchange_lift * contact_change
        if exchange:
            room = np.subtract(1.0, self.opinions, out=self._scratch[1])
            room *= self.exchange_reach
            room *= exchange
            delta += room
        if f.cue:
            delta += (d.move_cue * f.cue) * self._cue_response
        if self._stance_forcing is not None:
            delta += self._stance_forcing
        # In place: the opinion array belongs to this agent alone (readers take copies), and a fresh array of
        # the population's size every month costs page faults.
        opinions = self.opinions
        opinions += delta
        # The method form of clip skips np.clip's dispatch layers, a measurable share at small populations.
        self.opinions = opinions.clip(0.0, 1.0, out=opinions)  # the setter clears the cached hostility
        # Part of what people live through changes their settled attitude, not just today's mood; and settled
        # attitudes return toward their long-run level: a' = (1 - relax) a + relax * base + absorption * delta.
        delta *= d.anchor_absorption
        delta += self._relaxed_base
        anchors = self.anchors
        anchors *= 1.0 - d.anchor_relaxation
        anchors += delta
        anchors.clip(0.0, 1.0, out=anchors)
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
