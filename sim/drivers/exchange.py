"""Youth and cultural exchange: visitors each way, and the contact each public has had with the other country.

Two flows (million a year): Korean visitors to Japan (JNTO: 2.46 million in 2013, 7.54 in 2018, 0.02 in 2021,
8.82 in 2024) and Japanese visitors to Korea (KTO: 2.75 million in 2013, 1.84 in 2015, 3.27 in 2019, 3.65 in 2025;
sim/data/context_series.csv). Each moves toward its potential; a Korean boycott cuts the Korean flow (2019:
-25.9 % for the year, -65 % y/y by November) and a pandemic all but closes both (2021). In years a scenario
records (``observed``, the historical replay's data), the recorded flow replaces the model's own, and the
model's own dynamics take over from the last recorded flow.

A public's **contact** is the visits its own citizens make to the other country per adult a year (times
``program_scale`` for youth programmes), remembered over ``contact_memory_months``. Its change since the start
is what lifts the young (the essay's section on youth exchange and pop culture): Korean contact tripled from
2013 to 2018 (0.06 to 0.17 visits per adult), Japanese contact stayed near 0.03, which is one reason the two
publics drifted apart before 2019.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import ExchangeDriver, ObservedFlows

#: The two flows, keyed by the public that travels (and feels the contact).
FLOWS = ("korea", "japan")


class ExchangeFlow:
    """Visitor flows, pandemic closures and each public's contact with the other country."""

    def __init__(self, spec: ExchangeDriver, adults: dict[str, float]) -> None:
        """Start from the scenario's flows; ``adults`` is each public's adult population (million)."""
        self.spec = spec
        self.adults = adults
        self.visitors = {"korea": spec.korea_to_japan.visitors, "japan": spec.japan_to_korea.visitors}
        self.potential = {"korea": spec.korea_to_japan.potential, "japan": spec.japan_to_korea.potential}
        self._observed: dict[int, ObservedFlows] = {row.year: row for row in spec.observed}
        self.pandemic_months_left = 0
        # The start is a stationary state: contact equals the flows at programmes' current level (scale 1), so
        # a scenario that scales programmes up from the start feels the difference.
        self.start_contact = {public: self.visitors[public] / adults[public] for public in FLOWS}
        self.contact = {public: self.start_contact[public] * spec.program_scale for public in FLOWS}

    def start_pandemic(self, months: int | None = None) -> None:
        """Close borders for the scenario's pandemic length (or ``months``)."""
        self.pandemic_months_left = months if months is not None else self.spec.pandemic_months

    def update(self, rng: np.random.Generator, boycott: float, year: int) -> None:
        """Draw a pandemic outbreak, move each flow toward its potential (or to the year's recorded flow), and
        update contact."""
        s = self.spec
        if self.pandemic_months_left == 0 and s.pandemic_rate > 0 and rng.random() < s.pandemic_rate:
            self.start_pandemic()
        closed = self.pandemic_months_left > 0
        if closed:
            self.pandemic_months_left -= 1
        recorded = self._observed.get(year)
        memory = 1.0 / s.contact_memory_months
        for public in FLOWS:
            value = None
            if recorded is not None:
                value = recorded.korea_to_japan if public == "korea" else recorded.japan_to_korea
            if value is not None:
                self.visitors[public] = value
            else:
                target = self.potential[public]
                if public == "korea":
                    target *= 1.0 - s.boycott_cut * boycott
                if closed:
                    target *= s.pandemic_flow
                self.visitors[public] += s.adjustment_rate * (target - self.visitors[public])
            felt = s.program_scale * self.visitors[public] / self.adults[public]
            self.contact[public] += memory * (felt - self.contact[public])

    def change(self, public: str) -> float:
        """Contact of ``public`` now minus at the start, in visits per adult a year."""
        return self.contact[public] - self.start_contact[public]
