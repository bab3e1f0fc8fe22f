"""Youth and cultural exchange: the flow of Korean visitors to Japan as the channel of people-to-people contact.

The flow (million a year; 8.81 million in 2024, Japan Tourism Agency, sim/data/context_series.csv) moves
toward its potential, cut by a boycott (2019: -25.9 % for the year, -65 % y/y by November) and all but closed by a
pandemic (1.01 million in 2022). Its ratio to the reference level lifts young citizens' opinions (the essay's
section on youth exchange and pop culture).
"""

from __future__ import annotations

import numpy as np

from sim.scenario import ExchangeDriver


class ExchangeFlow:
    """Visitor flow, pandemic closures and the lift they give young citizens."""

    def __init__(self, spec: ExchangeDriver) -> None:
        """Start from the scenario's flow."""
        self.spec = spec
        self.visitors = spec.visitors
        self.pandemic_months_left = 0

    def start_pandemic(self, months: int | None = None) -> None:
        """Close borders for the scenario's pandemic length (or ``months``)."""
        self.pandemic_months_left = months if months is not None else self.spec.pandemic_months

    def update(self, rng: np.random.Generator, boycott: float) -> None:
        """Draw a pandemic outbreak, then move the flow toward its current potential."""
        s = self.spec
        if self.pandemic_months_left == 0 and s.pandemic_rate > 0 and rng.random() < s.pandemic_rate:
            self.start_pandemic()
        target = s.potential_visitors * (1.0 - s.boycott_cut * boycott)
        if self.pandemic_months_left > 0:
            target *= s.pandemic_flow
            self.pandemic_months_left -= 1
        self.visitors += s.adjustment_rate * (target - self.visitors)

    @property
    def ratio(self) -> float:
        """Exchange reaching citizens relative to the reference level, scaled by youth programmes."""
        return self.spec.program_scale * self.visitors / self.spec.reference_visitors
