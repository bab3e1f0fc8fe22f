"""Runs and batches: seeds, sampled uncertainties, and the executor that runs them.

One root seed per batch. Replication ``r`` gets ``SeedSequence(root, spawn_key=(r,))`` in every scenario
(common random numbers), so differences between scenarios on the same replication are policy, not noise. That
sequence spawns two children: one draws the run's uncertain parameters, the other seeds the model. Results are
yielded in replication order whatever the number of workers, so the files written are identical for 1 or N
workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.model import RapprochementModel, classify
from sim.outcomes import EVENT_COUNTS, OUTCOMES
from sim.scenario import Scenario, add_months


@dataclass(frozen=True)
class RunSeeds:
    """The two seeds of one replication."""

    params: int
    model: int


def run_seeds(root_seed: int, replication: int) -> RunSeeds:
    """Seeds of replication ``replication`` under ``root_seed`` (the same in every scenario)."""
    params_ss, model_ss = np.random.SeedSequence(root_seed, spawn_key=(replication,)).spawn(2)
    return RunSeeds(
        params=int(params_ss.generate_state(1, np.uint32)[0]),
        model=int(model_ss.generate_state(1, np.uint32)[0]),
    )


def sample_uncertainties(scenario: Scenario, seed: int) -> dict[str, float]:
    """One uniform draw per uncertain parameter, in sorted path order so the draw is stable."""
    rng = np.random.default_rng(seed)
    values: dict[str, float] = {}
    for path in sorted(scenario.uncertainties):
        spec = scenario.uncertainties[path]
        values[path] = float(rng.uniform(spec.low, spec.high))
    return values


@dataclass(frozen=True)
class RunResult:
    """One finished replication: its monthly outcomes and its one-row summary."""

    timeseries: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def simulate_run(scenario: Scenario, replication: int, root_seed: int) -> RunResult:
    """Run one replication of a scenario and summarise it.

    The summary holds the scenario name, replication, model seed, sampled parameters (as ``param:<path>``
    columns), the final value of every outcome (``final_<outcome>``), the last-window mean of the relations
    index and the outcome class.
    """
    seeds = run_seeds(root_seed, replication)
    params = sample_uncertainties(scenario, seeds.params)
    model = RapprochementModel(scenario.with_values(params), rng=seeds.model)
    model.run()
    frame = model.outcomes_frame()
    months = len(frame)
    start = add_months(scenario.meta.start, 0)
    frame.insert(0, "date", pd.date_range(start, periods=months, freq="MS"))
    frame.insert(0, "month", np.arange(months, dtype=np.int64))
    frame.insert(0, "run", np.full(months, replication, dtype=np.int64))
    frame.insert(0, "scenario", scenario.meta.name)
    frame = frame.astype({name: "float64" for name in OUTCOMES} | dict.fromkeys(EVENT_COUNTS, "int64"))

    window = scenario.outcomes.window_months
    window_index = float(frame["relations_index"].iloc[-window:].mean())
    final = frame.iloc[-1]
    outcome = classify(window_index, float(final["institutionalization"]), scenario)
    summary: dict[str, Any] = {
        "scenario": scenario.meta.name,
        "run": replication,
        "seed": seeds.model,
        "outcome_class": outcome.value,
        "window_relations_index": window_index,
    }
    summary |= {f"final_{name}": float(final[name]) for name in OUTCOMES}
    summary |= {f"total_{name}": int(frame[name].sum()) for name in EVENT_COUNTS}
    summary |= {f"param:{path}": value for path, value in params.items()}
    return RunResult(frame, summary)


def _simulate_task(task: tuple[Scenario, int, int]) -> RunResult:
    scenario, replication, root_seed = task
    return simulate_run(scenario, replication, root_seed)


def default_workers() -> int:
    """All the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_batch(
    scenario: Scenario,
    runs: int,
    root_seed: int,
    *,
    workers: int = 1,
) -> Iterator[RunResult]:
    """Yield the replications 0..runs-1 of a scenario in order, computed by ``workers`` processes.

    Results stream: each is yielded as soon as it and every earlier replication are done, so a caller can
    write them to disk one by one instead of holding the batch.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    tasks = ((scenario, r, root_seed) for r in range(runs))
    if workers == 1 or runs == 1:
        yield from map(_simulate_task, tasks)
        return
    chunk = max(1, min(16, runs // (workers * 4)))
    # forkserver, not fork: forking a process that already runs threads (pyarrow, BLAS) can deadlock.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(_simulate_task, tasks, chunksize=chunk)
