"""Screening: which behavioural parameters can the polls move, and which can they not identify?

A Morris design (Morris 1991; Campolongo et al. 2007, through :mod:`sim.designs`) varies every behavioural
parameter of the historical replay, one at a time along each trajectory, over ``value x (1 +- relative)`` (clipped
to what the schema accepts; a parameter at zero over ``[0, relative]``), and records the replay's error against
the polls: the RMSE of the mean reading of ``replications`` runs (common random numbers: every design point sees
the same seeds) at every observed point, per series and over all. A parameter whose mean absolute elementary
effect ``mu_star`` on that error is clearly above its bootstrap interval moves the polls; one whose effects are
all zero cannot be identified by them at all (in the scripted replay the governments' decision parameters, for
instance, change nothing the polls see).

"Behavioural" is every numeric field of the scenario except the levers (policy, not behaviour), the outcome
definitions (thresholds and index weights, which no poll sees), whole numbers (Morris needs continuous factors),
and the recorded data (events, flows, launches).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pydantic

from sim.designs import Design, DesignKind, Factor, analyze, make_design
from sim.executors import Executor
from sim.scenario import Scenario
from sim.validation.observe import INSTRUMENTS, ObservationSettings, PollPoint, rmse
from sim.validation.simulate import PollRun, PollTask, covered_points, simulate_polls

#: Top-level blocks that hold no behavioural parameter.
NOT_BEHAVIOURAL = ("meta", "events", "levers", "outcomes", "uncertainties", "exercise")
#: The outputs screened: the replay's RMSE against the polls per series, and over all of them.
OUTPUTS = (*INSTRUMENTS, "all")


def behavioural_factors(scenario: Scenario, relative: float = 0.25) -> list[Factor]:
    """Every continuous behavioural parameter of ``scenario`` as a Morris factor (see the module docstring)."""
    factors = []
    for path, value in _numeric_leaves(scenario.model_dump(mode="json")):
        if path.split(".")[0] in NOT_BEHAVIOURAL:
            continue
        if value == 0:
            low, high = 0.0, relative
        else:
            low, high = sorted((value * (1 - relative), value * (1 + relative)))
        low, high = _admissible(scenario, path, value, low), _admissible(scenario, path, value, high)
        if high > low:
            factors.append(Factor(path, low, high))
    return factors


def _numeric_leaves(node: Any, prefix: str = "") -> list[tuple[str, float]]:
    """(dotted path, value) of every float leaf of a dumped scenario, lists and whole numbers left out."""
    if isinstance(node, Mapping):
        leaves = []
        for key, child in node.items():
            leaves += _numeric_leaves(child, f"{prefix}{key}.")
        return leaves
    if isinstance(node, float):
        return [(prefix.rstrip("."), node)]
    return []


def _admissible(scenario: Scenario, path: str, value: float, end: float) -> float:
    """``end`` if the schema accepts it for ``path``; otherwise the value itself (the range becomes one-sided)."""
    try:
        scenario.with_values({path: end})
    except (pydantic.ValidationError, ValueError):
        return value
    return end


@dataclass(frozen=True)
class Screening:
    """A finished screening: the design, the error at each point (points x outputs) and the Morris indices."""

    design: Design
    errors: pd.DataFrame
    indices: pd.DataFrame


@dataclass(frozen=True)
class ScreenTask:
    """One replication at one design point."""

    point: int
    poll: PollTask


def simulate_point(task: ScreenTask) -> tuple[int, PollRun]:
    """Run one replication of a design point and read the polls from it (a worker's function)."""
    return task.point, simulate_polls(task.poll)


def screen(
    scenario: Scenario,
    polls: pd.DataFrame,
    settings: ObservationSettings,
    executor: Executor,
    *,
    trajectories: int = 10,
    replications: int = 2,
    seed: int = 1,
    relative: float = 0.25,
    factors: Sequence[Factor] | None = None,
    train_until: int | None = None,
) -> Screening:
    """Run the Morris screening of the replay's poll error over ``factors`` (default: every behavioural one),
    on the observed points up to ``train_until`` (all when None)."""
    factors = list(factors) if factors is not None else behavioural_factors(scenario, relative)
    design = make_design(DesignKind.MORRIS, factors, samples=trajectories, seed=seed)
    points = tuple(
        p
        for p in covered_points(polls, scenario)
        if p.observed is not None and (train_until is None or p.year <= train_until)
    )
    tasks = [
        ScreenTask(i, PollTask(scenario.with_values(design.values(i)), r, seed, points, settings))
        for i in range(len(design.points))
        for r in range(replications)
    ]
    by_point: dict[int, dict[int, tuple[float, ...]]] = {}
    for point, run in executor.imap_unordered(simulate_point, tasks):
        if run.values is None:
            raise ValueError("a screening run must be measured in its worker")
        by_point.setdefault(point, {})[run.replication] = run.values
    rows = []
    for i in range(len(design.points)):
        # Replications in order, so the mean is the same sum whatever order the workers finished in.
        readings = np.mean([by_point[i][r] for r in sorted(by_point[i])], axis=0)
        rows.append(_errors(readings, points))
    errors = pd.DataFrame(rows)
    tables = []
    for output in OUTPUTS:
        table = analyze(design, errors[output].to_numpy())
        table.insert(1, "output", output)
        tables.append(table)
    return Screening(design, errors, pd.concat(tables, ignore_index=True))


def _errors(readings: np.ndarray, points: Sequence[PollPoint]) -> dict[str, float]:
    errors = readings - np.array([p.observed for p in points], dtype=float)
    result = {series: rmse(errors[[p.series == series for p in points]]) for series in INSTRUMENTS}
    result["all"] = rmse(errors)
    return result


def identifiability(indices: pd.DataFrame, *, output: str = "all", floor: float = 0.05) -> pd.DataFrame:
    """Each factor's verdict on ``output``: ``moves the polls`` when ``mu_star`` exceeds both ``floor`` (pp of
    RMSE over the factor's range) and its bootstrap half-width, ``cannot identify`` when every elementary effect
    is zero (``mu_star`` and ``sigma`` both 0), else ``weak``."""
    part = indices[indices["output"] == output].copy()
    moves = (part["mu_star"] > floor) & (part["mu_star"] > part["mu_star_conf"])
    none = (part["mu_star"] == 0) & (part["sigma"] == 0)
    part["verdict"] = np.where(moves, "moves the polls", np.where(none, "cannot identify", "weak"))
    return part.reset_index(drop=True)
