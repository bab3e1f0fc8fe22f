"""Simulated polls: run the model and keep the polled publics at the fieldwork months.

A run is seeded exactly as replication ``r`` of a batch (``sim.runner.run_seeds``: common random numbers), so
replication 3 of a calibration evaluation, of the backtest and of ``rapprochement run`` see the same draws. A
task either returns the measured poll values (the backtest: thresholds known, thousands of citizens, nothing
large crosses the process boundary) or the opinion snapshots themselves (the calibration: thresholds are being
fitted, so the same runs are re-measured at many thresholds without being re-simulated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.executors import Executor
from sim.runner import replication_model
from sim.scenario import Scenario, add_months
from sim.validation.observe import ObservationSettings, PollPoint, measure_point, poll_points

Month = tuple[int, int]


@dataclass(frozen=True)
class PollTask:
    """One replication to simulate and the poll points to read from it (``settings`` None: keep snapshots)."""

    scenario: Scenario
    replication: int
    root_seed: int
    points: tuple[PollPoint, ...]
    settings: ObservationSettings | None = None


@dataclass(frozen=True)
class PollRun:
    """What one replication gave: measured values per point, or the snapshots to measure them from."""

    replication: int
    values: tuple[float, ...] | None = None
    snapshots: dict[str, dict[Month, NDArray[np.float64]]] | None = None
    ages: dict[str, dict[Month, NDArray[np.float64]]] | None = None

    def measure(self, points: Sequence[PollPoint], settings: ObservationSettings) -> NDArray[np.float64]:
        """Each point's reading under ``settings`` (from the snapshots; NaN where the run does not cover it)."""
        if self.snapshots is None or self.ages is None:
            raise ValueError("this run kept no snapshots (it was measured in the worker)")
        out = np.full(len(points), np.nan)
        for i, point in enumerate(points):
            country = point.instrument.country
            months = self.snapshots[country]
            if all(m in months for m in point.fieldwork):
                out[i] = measure_point(point, months, self.ages[country], settings)
        return out


def simulate_polls(task: PollTask) -> PollRun:
    """Run one replication of the scenario and read the poll points from it (a worker's function)."""
    scenario = task.scenario
    model = replication_model(scenario, task.replication, task.root_seed)
    wanted: dict[str, set[Month]] = {"korea": set(), "japan": set()}
    for point in task.points:
        wanted[point.instrument.country].update(point.fieldwork)
    snapshots: dict[str, dict[Month, NDArray[np.float64]]] = {country: {} for country in wanted}
    ages: dict[str, dict[Month, NDArray[np.float64]]] = {country: {} for country in wanted}
    while model.month < scenario.meta.months:
        date = add_months(scenario.meta.start, model.month)
        model.step()  # the snapshot is the public at the end of the month, as the model records it
        for country, months in wanted.items():
            if (date.year, date.month) in months:
                public = model.publics[country]
                snapshots[country][(date.year, date.month)] = public.opinions.copy()
                # Ages change only each January: months of one year share one copy.
                same_year = next((a for (y, _), a in ages[country].items() if y == date.year), None)
                ages[country][(date.year, date.month)] = public.age.copy() if same_year is None else same_year
    run = PollRun(task.replication, snapshots=snapshots, ages=ages)
    if task.settings is None:
        return run
    return PollRun(task.replication, values=tuple(float(v) for v in run.measure(task.points, task.settings)))


def run_polls(
    scenario: Scenario,
    points: Sequence[PollPoint],
    replications: int,
    root_seed: int,
    executor: Executor,
    settings: ObservationSettings | None = None,
) -> list[PollRun]:
    """Replications ``0..replications-1`` of ``scenario``, read at ``points``, in replication order."""
    tasks = [PollTask(scenario, r, root_seed, tuple(points), settings) for r in range(replications)]
    runs = sorted(executor.imap_unordered(simulate_polls, tasks), key=lambda run: run.replication)
    return runs


def scenario_years(scenario: Scenario) -> list[int]:
    """Calendar years the scenario covers in full or in part."""
    first = add_months(scenario.meta.start, 0).year
    last = add_months(scenario.meta.start, scenario.meta.months - 1).year
    return list(range(first, last + 1))


def covered_points(polls: pd.DataFrame, scenario: Scenario) -> list[PollPoint]:
    """Every instrument-year whose fieldwork months all lie inside the scenario's months.

    The one selection the calibration and the backtest share: a point whose fieldwork runs past the scenario's
    last month (a scenario ending mid-year) would have no simulated reading.
    """
    start = add_months(scenario.meta.start, 0)
    end = add_months(scenario.meta.start, scenario.meta.months - 1)
    return [
        p
        for p in poll_points(polls, scenario_years(scenario))
        if (start.year, start.month) <= p.fieldwork[0] and p.fieldwork[-1] <= (end.year, end.month)
    ]
