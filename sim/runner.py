"""Runs and batches: seeds, sampled uncertainties, and the executor that runs them.

One root seed per batch. Replication ``r`` gets ``SeedSequence(root, spawn_key=(r,))`` in every scenario
(common random numbers), so differences between scenarios on the same replication are policy, not noise. That
sequence spawns two children: one draws the run's uncertain parameters, the other seeds the model. A run's
result depends only on its task, never on which worker computed it or when, so the results store (which puts
them in run order) writes identical files for any executor and number of workers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.executors import make_executor
from sim.model import RapprochementModel, classify_run
from sim.outcomes import EVENT_COUNTS, OUTCOMES
from sim.posterior import load_posterior, posterior_draw
from sim.scenario import Scenario, add_months
from sim.start_state import StartState, prepare_start_states, state_for

if TYPE_CHECKING:
    from sim.designs import Design


@dataclass(frozen=True)
class RunSeeds:
    """The seeds of one replication: its uncertain parameters, its model, and its posterior draw."""

    params: int
    model: int
    posterior: int


def run_seeds(root_seed: int, replication: int) -> RunSeeds:
    """Seeds of replication ``replication`` under ``root_seed`` (the same in every scenario).

    The third child (the posterior draw) came later than the first two; spawning three keeps the first two as
    they were, so adding it changed no earlier seed.
    """
    params_ss, model_ss, posterior_ss = np.random.SeedSequence(root_seed, spawn_key=(replication,)).spawn(3)
    return RunSeeds(
        params=int(params_ss.generate_state(1, np.uint32)[0]),
        model=int(model_ss.generate_state(1, np.uint32)[0]),
        posterior=int(posterior_ss.generate_state(1, np.uint32)[0]),
    )


@dataclass(frozen=True)
class Draw:
    """What a replication's posterior draw fixes: the draw's index, its parameters and its start state."""

    index: int | None
    values: dict[str, float]
    start: StartState | None


def posterior_values(scenario: Scenario, seeds: RunSeeds) -> Draw:
    """The posterior draw of a replication of ``scenario``: none unless the scenario reads a posterior
    (``parameters``) or hands over a start state (``meta.start_state``), which share the draw."""
    if scenario.parameters is None and scenario.meta.start_state is None:
        return Draw(None, {}, None)
    draw = posterior_draw(seeds.posterior)
    values = load_posterior(scenario.parameters.source).model_values(draw) if scenario.parameters else {}
    return Draw(draw, values, state_for(scenario, draw))


def build_model(scenario: Scenario, seeds: RunSeeds, params: dict[str, float]) -> tuple[RapprochementModel, Draw]:
    """The model of one replication: the posterior draw's parameters, then ``params`` (sampled uncertainties or a
    design point, which win over the posterior), the draw's start state, the model seed. Every run, replay,
    exercise and dashboard builds its model here."""
    draw = posterior_values(scenario, seeds)
    applied = scenario.with_values(draw.values | params)
    return RapprochementModel(applied, rng=seeds.model, start=draw.start), draw


def sample_uncertainties(scenario: Scenario, seed: int) -> dict[str, float]:
    """One uniform draw per uncertain parameter, in sorted path order so the draw is stable."""
    rng = np.random.default_rng(seed)
    values: dict[str, float] = {}
    for path in sorted(scenario.uncertainties):
        spec = scenario.uncertainties[path]
        values[path] = float(rng.uniform(spec.low, spec.high))
    return values


def replication_model(scenario: Scenario, replication: int, root_seed: int) -> RapprochementModel:
    """The model of replication ``replication`` of a batch under ``root_seed``: its uncertainties sampled from
    the replication's parameter seed, the model seeded with its model seed (as every batch runs it)."""
    seeds = run_seeds(root_seed, replication)
    model, _ = build_model(scenario, seeds, sample_uncertainties(scenario, seeds.params))
    return model


@dataclass(frozen=True)
class RunResult:
    """One finished run: its monthly outcomes (column name -> array, one entry per month) and its summary."""

    columns: dict[str, np.ndarray]
    summary: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def timeseries(self) -> pd.DataFrame:
        """The monthly outcomes as a DataFrame (built on first use: batches never need it)."""
        return pd.DataFrame(self.columns)

    def table(self) -> pa.Table:
        """The monthly outcomes as an Arrow table, built straight from the arrays."""
        return pa.table(self.columns)

    @property
    def run(self) -> int:
        """The run's id within its batch."""
        return int(self.summary["run"])


@dataclass(frozen=True)
class RunFailure:
    """A run that raised: recorded with its seed and error so the batch can go on and report it."""

    run: int
    replication: int
    seed: int
    error: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to compute one run; it carries its own seeds.

    ``values`` fixes parameters (a design point of a sweep); without it the scenario's uncertainties are sampled
    from the replication's parameter seed.
    """

    scenario: Scenario
    run: int
    replication: int
    root_seed: int
    values: tuple[tuple[str, float], ...] | None = None
    design_point: int | None = None


def simulate_run(
    scenario: Scenario,
    replication: int,
    root_seed: int,
    *,
    run: int | None = None,
    values: dict[str, float] | None = None,
    design_point: int | None = None,
) -> RunResult:
    """Run one replication of a scenario and summarise it.

    The summary holds the scenario name, run id, replication, model seed, the parameters sampled or fixed (as
    ``param:<path>`` columns), the final value of every outcome (``final_<outcome>``), the last-window mean of
    the relations index and the outcome class.
    """
    seeds = run_seeds(root_seed, replication)
    run_id = replication if run is None else run
    params = sample_uncertainties(scenario, seeds.params) if values is None else dict(values)
    model, draw = build_model(scenario, seeds, params)
    model.run()
    collected = model.monthly()
    months = len(collected["relations_index"])
    columns: dict[str, Any] = {
        "scenario": np.full(months, scenario.meta.name, dtype=object),
        "run": np.full(months, run_id, dtype=np.int64),
        "month": np.arange(months, dtype=np.int64),
        "date": pd.date_range(add_months(scenario.meta.start, 0), periods=months, freq="MS").to_numpy(),
    }
    columns |= collected

    outcome, window_index = classify_run(columns, scenario)
    summary: dict[str, Any] = {"scenario": scenario.meta.name, "run": run_id, "replication": replication}
    if design_point is not None:
        summary["design_point"] = design_point
    summary |= {
        "seed": seeds.model,
        "status": "ok",
        "outcome_class": outcome.value,
        "window_relations_index": window_index,
    }
    summary |= {f"final_{name}": float(columns[name][-1]) for name in OUTCOMES}
    summary |= {f"total_{name}": int(columns[name].sum()) for name in EVENT_COUNTS}
    if draw.index is not None:
        summary["posterior_draw"] = draw.index
    summary |= {f"param:{path}": value for path, value in (draw.values | params).items()}
    return RunResult(columns, summary)


@dataclass(frozen=True)
class RunRecord:
    """A finished run as the results store keeps it: its summary, and its months and summary as bytes.

    The worker serialises the months itself, so the one process that writes results does almost nothing per
    run and never becomes the bottleneck of a parallel batch. ``data`` is an Arrow IPC stream of the months with
    the summary in its schema metadata, so the results store keeps a finished run as one file: a staging format
    that costs less than half of Parquet's encoding to write and a seventh of its reading, while only the
    assembled ``timeseries.parquet`` is meant to last.
    """

    run: int
    summary: dict[str, Any]
    data: bytes


#: Key of the run's summary (JSON) in the schema metadata of ``RunRecord.data``.
SUMMARY_KEY = b"rapprochement.summary"


def to_record(result: RunResult) -> RunRecord:
    """Serialise a run (months and summary) to the bytes ``read_record`` reads back."""
    table = result.table().replace_schema_metadata({SUMMARY_KEY: json.dumps(result.summary)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return RunRecord(result.run, result.summary, sink.getvalue().to_pybytes())


def read_record(data: bytes) -> tuple[pa.Table, dict[str, Any]]:
    """A run's months (without metadata) and its summary, back from the bytes of ``RunRecord.data``."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    summary = json.loads(table.schema.metadata[SUMMARY_KEY])
    return table.replace_schema_metadata(None), summary


def execute(task: RunTask, *, as_record: bool = True) -> RunRecord | RunResult | RunFailure:
    """Compute one task; an exception becomes a ``RunFailure`` so one bad run does not stop the batch.

    Returns a ``RunRecord`` ready for the results store, or the ``RunResult`` itself with ``as_record=False``.
    """
    values = dict(task.values) if task.values is not None else None
    try:
        result = simulate_run(
            task.scenario,
            task.replication,
            task.root_seed,
            run=task.run,
            values=values,
            design_point=task.design_point,
        )
        return to_record(result) if as_record else result
    except Exception as exc:  # recorded with its seed, reported at the end of the batch
        return RunFailure(
            task.run,
            task.replication,
            run_seeds(task.root_seed, task.replication).model,
            f"{type(exc).__name__}: {exc}",
            values or {},
        )


def default_workers() -> int:
    """All the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class BatchPlan:
    """The runs of a batch: ``runs`` replications of the scenario, or of every point of a design.

    Run ``point * runs + r`` is replication ``r`` of design point ``point``; replication ``r`` has the same seeds
    at every point and in every scenario (common random numbers).
    """

    scenario: Scenario
    runs: int
    root_seed: int
    design: Design | None = None

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise ValueError(f"runs must be at least 1, got {self.runs}")

    @property
    def total(self) -> int:
        """Number of runs in the batch."""
        points = 1 if self.design is None else len(self.design.points)
        return points * self.runs

    def task(self, run: int) -> RunTask:
        """The task of run ``run``."""
        point, replication = divmod(run, self.runs)
        if self.design is None:
            return RunTask(self.scenario, run, replication, self.root_seed)
        values = tuple(self.design.values(point).items())
        return RunTask(self.scenario, run, replication, self.root_seed, values, point)

    def identity(self) -> dict[str, Any]:
        """What must match for an interrupted batch to be resumed."""
        identity: dict[str, Any] = {
            "scenario_hash": self.scenario.digest(),
            "root_seed": self.root_seed,
            "runs": self.runs,
        }
        if self.design is not None:
            d = self.design
            identity["design"] = {
                "kind": str(d.kind),
                "seed": d.seed,
                "factors": [[f.path, f.low, f.high] for f in d.factors],
                "points_sha256": hashlib.sha256(np.ascontiguousarray(d.points).tobytes()).hexdigest(),
            }
        return identity


def run_batch(scenario: Scenario, runs: int, root_seed: int, *, workers: int = 1) -> Iterator[RunResult]:
    """Yield the replications 0..runs-1 of a scenario in run order (a convenience for tests and notebooks).

    A failed run raises here; the command line's batches go through the results store instead, which records
    failures and holds nothing but the run being written.
    """
    plan = BatchPlan(scenario, runs, root_seed)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    buffer: dict[int, RunResult] = {}
    following = 0
    prepare_start_states(scenario)
    with make_executor(workers) as executor:
        compute = functools.partial(execute, as_record=False)
        for outcome in executor.imap_unordered(compute, map(plan.task, range(plan.total)), total=plan.total):
            if isinstance(outcome, RunFailure):
                raise RuntimeError(f"run {outcome.run} (seed {outcome.seed}) failed: {outcome.error}")
            assert isinstance(outcome, RunResult)
            buffer[outcome.run] = outcome
            while following in buffer:
                yield buffer.pop(following)
                following += 1
