"""Likelihood-free Bayesian calibration: ABC-SMC (pyabc) of the model's parameters to the polls.

Why ABC, and why pyabc. The model has no likelihood we can write down (thousands of citizens, discrete moves and
random incidents), but it runs in tens of milliseconds, so a posterior can be had by simulation. ABC-SMC
(Toni et al. 2009; Del Moral et al. 2012) fits that case: a sequence of populations of parameter vectors
("particles"), each accepted when its simulated polls lie within a shrinking distance of the observed ones.
pyabc (Schaelte et al. 2022) is the maintained implementation of it in Python: adaptive thresholds and
kernels, a resumable SQLite history of every generation, and samplers for a process pool and for Dask. elfi's
ABC-SMC is less maintained and does not resume from a database; sbi learns a neural posterior, which needs
torch and many more simulations than a 10-parameter model on two cores warrants.

**Prior.** Each parameter's prior is the calibration's judgement (:data:`sim.validation.calibrate.
DEFAULT_PARAMETERS`): a normal distribution centred at the judged start, with a standard deviation of
``prior_sd_share`` of its range, truncated to the range. The same prior the least-squares fit penalises with.

**Distance.** Every observed poll value of the training years is compared with the run's reading of it through
the instrument's observation operator (:mod:`sim.validation.observe`). A residual is scaled by
``sqrt(se^2 + discrepancy^2)``: the poll's sampling error (``100 sqrt(p (1 - p) / n)`` at the instrument's
sample size) and a model-discrepancy term (``discrepancy_pp``: what no parameter of the model can reproduce,
e.g. question wording or events outside the model). Series breaks are handled as in the backtest: after a
break (the Cabinet Office's 2020 mode change, the 2025 EAI instrument) the segment's offset is profiled out
(the mean residual of its training points), so the segment informs the fit through its changes. The distance
is the root of the mean over series of each series' mean squared scaled residual (divided by its points less
its profiled offsets): the 13-point Cabinet Office series does not outweigh the shorter Genron/EAI series.

**Stochasticity.** Each particle is one run with its own seed: ABC treats the model's randomness as part of
what the distance sees, so the posterior carries the run-to-run spread instead of averaging it away.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.executors import Executor
from sim.posterior import posterior_frame
from sim.scenario import Scenario
from sim.validation.backtest import fieldwork_text
from sim.validation.calibrate import CalibrationError, Parameter, calibration_points, file_sha256
from sim.validation.observe import INSTRUMENTS, ObservationSettings, PollPoint
from sim.validation.simulate import PollTask, simulate_polls

#: Particles per generation, generations at most, and the budget of runs (the command line's defaults).
POPULATION = 200
GENERATIONS = 10
MAX_SIMULATIONS = 20_000
#: Stop when fewer than this share of proposals is accepted: later generations would cost more than they gain.
MIN_ACCEPTANCE = 0.02
#: Posterior draws (one run each) of a posterior-predictive check.
PPC_DRAWS = 200
METHOD = (
    "ABC-SMC (pyabc): truncated-normal priors at the judgement starts, adaptive median-quantile thresholds, "
    "multivariate normal kernels at twice Silverman's width; one run per particle; distance = root mean over "
    "series of the mean squared residual scaled by sqrt(sampling se^2 + discrepancy^2), segment offsets profiled"
)


@dataclass(frozen=True)
class AbcSettings:
    """How the ABC-SMC runs: population, stopping rules, the distance's discrepancy, the fit's years."""

    population: int = POPULATION
    generations: int = GENERATIONS
    max_simulations: int = MAX_SIMULATIONS
    min_acceptance: float = MIN_ACCEPTANCE
    discrepancy_pp: float = 4.0
    prior_sd_share: float = 0.25
    citizens: int | None = 500
    train_until: int | None = None
    seed: int = 1


def sampling_error_pp(points: Sequence[PollPoint]) -> NDArray[np.float64]:
    """Each observed point's sampling standard error in percentage points, at its instrument's sample size."""
    out = []
    for p in points:
        share = min(max((p.observed or 0.0) / 100.0, 0.01), 0.99)
        out.append(100.0 * np.sqrt(share * (1.0 - share) / INSTRUMENTS[p.series].sample_size))
    return np.array(out)


class PollDistance:
    """The ABC distance between a run's readings and the observed polls (module docstring, 'Distance')."""

    def __init__(self, points: Sequence[PollPoint], train: NDArray[np.bool_], discrepancy_pp: float) -> None:
        """``points`` all have observed values; ``train`` marks those the distance uses."""
        self.train = np.asarray(train, dtype=bool)
        self.sigma = np.sqrt(sampling_error_pp(points) ** 2 + discrepancy_pp**2)
        series = np.array([p.series for p in points])
        segments = np.array([f"{p.series}/{p.segment}" for p in points])
        self.offsets = [(segments == s) & self.train for s in sorted(set(segments)) if not s.endswith("/base")]
        self.offsets = [mask for mask in self.offsets if mask.any()]
        self.series = []
        for name in sorted(set(series)):
            mask = (series == name) & self.train
            profiled = sum(1 for offset in self.offsets if (offset & mask).any())
            if mask.sum() > profiled:
                self.series.append((mask, int(mask.sum()) - profiled))

    def residuals(self, simulated: NDArray[np.float64], observed: NDArray[np.float64]) -> NDArray[np.float64]:
        """Simulated minus observed (pp) with each segment's offset profiled out on its training points."""
        residual = np.asarray(simulated, dtype=float) - np.asarray(observed, dtype=float)
        for mask in self.offsets:
            residual = residual - mask * residual[mask].mean()
        return residual

    def __call__(self, x: dict[str, Any], x0: dict[str, Any]) -> float:
        """pyabc's distance: ``x`` and ``x0`` hold the readings under ``"polls"``."""
        z = self.residuals(x["polls"], x0["polls"]) / self.sigma
        per_series = [float(np.sum(z[mask] ** 2)) / dof for mask, dof in self.series]
        return float(np.sqrt(np.mean(per_series)))


@dataclass(frozen=True)
class PollModel:
    """One particle's run: the scenario with the particle's values, read at the points (picklable for workers)."""

    scenario: Scenario
    points: tuple[PollPoint, ...]
    names: tuple[str, ...]  # pyabc's parameter names, in the order of ``paths``
    paths: tuple[str, ...]
    citizens: int | None

    def values(self, parameters: dict[str, float]) -> dict[str, float]:
        """A particle's values by scenario path."""
        return {path: float(parameters[name]) for name, path in zip(self.names, self.paths, strict=True)}

    def __call__(self, parameters: dict[str, float]) -> dict[str, NDArray[np.float64]]:
        """Simulate one run with its own seed (from pyabc's generator, reseeded in every worker job)."""
        # pyabc's samplers seed the legacy global generator (per job, from the OS, in parallel ones).
        seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
        return {"polls": read_polls_at(self.scenario, self.points, self.values(parameters), seed, self.citizens)}


def read_polls_at(
    scenario: Scenario, points: Sequence[PollPoint], values: dict[str, float], seed: int, citizens: int | None
) -> NDArray[np.float64]:
    """One run of ``scenario`` with ``values`` (model parameters and ``observe.*``) under root seed ``seed``, read
    at ``points``."""
    model_values = {k: v for k, v in values.items() if not k.startswith("observe.")}
    if citizens is not None:
        model_values |= {f"publics.{c}.citizens": citizens for c in ("korea", "japan")}
    settings = ObservationSettings().with_values(values)
    run = simulate_polls(PollTask(scenario.with_values(model_values), 0, seed, tuple(points), settings))
    return np.array(run.values, dtype=float)


def priors(parameters: Sequence[Parameter], sd_share: float) -> Any:
    """pyabc's prior: truncated normals at each judgement (the range's middle without one), by safe name."""
    import pyabc

    rvs = {}
    for i, p in enumerate(parameters):
        centre = p.start if p.start is not None else (p.low + p.high) / 2
        scale = sd_share * (p.high - p.low)
        rvs[f"x{i}"] = pyabc.RV("truncnorm", (p.low - centre) / scale, (p.high - centre) / scale, centre, scale)
    return pyabc.Distribution(**rvs)


@dataclass
class AbcResult:
    """A finished ABC-SMC: the final population (weighted), per-generation diagnostics and its provenance."""

    parameters: tuple[Parameter, ...]
    posterior: pd.DataFrame  # one column per path, weight, distance, generation
    generations: pd.DataFrame  # t, epsilon, samples, particles, acceptance_rate, wall_time
    simulations: int
    wall_time_s: float
    settings: AbcSettings
    resumed_from: int | None

    def mean_sd(self) -> pd.DataFrame:
        """Posterior mean, sd and 5/50/95 % quantiles (weighted) of each parameter."""
        w = self.posterior["weight"].to_numpy()
        rows = []
        for p in self.parameters:
            x = self.posterior[p.path].to_numpy(dtype=float)
            order = np.argsort(x)
            cdf = np.cumsum(w[order])
            q = [float(x[order][min(int(np.searchsorted(cdf, level)), len(x) - 1)]) for level in (0.05, 0.5, 0.95)]
            mean = float(w @ x)
            rows.append(
                {
                    "parameter": p.path,
                    "prior_centre": p.start,
                    "low": p.low,
                    "high": p.high,
                    "mean": mean,
                    "sd": float(np.sqrt(w @ (x - mean) ** 2)),
                    "q05": q[0],
                    "median": q[1],
                    "q95": q[2],
                }
            )
        return pd.DataFrame(rows)


def _sampler(executor: Executor, population: int) -> Any:
    """pyabc's sampler on the project's executor: its process pool, its Dask client, or this process."""
    import pyabc

    client = executor.futures_client()
    if client is None:
        return pyabc.SingleCoreSampler()
    # A job evaluates a few particles, so the pickling of pyabc's sampling closure is paid once per batch.
    batch = max(1, min(10, population // (4 * executor.workers)))
    if hasattr(client, "scheduler_info"):
        return pyabc.sampler.DaskDistributedSampler(client, client_max_jobs=2 * executor.workers, batch_size=batch)
    return pyabc.sampler.ConcurrentFutureSampler(client, client_max_jobs=2 * executor.workers, batch_size=batch)


class _ProgressBridge(logging.Handler):
    """Turns pyabc's per-generation log lines into one progress line per generation."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.started = time.perf_counter()
        self.epsilon = ""

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the generation and threshold of 't: T, eps: E.'; print them with 'Accepted: N / M = R'."""
        text = record.getMessage()
        generation = re.match(r"t: (\d+), eps: ([0-9.e+-]+)", text)
        accepted = re.match(r"Accepted: (\d+) / (\d+)", text)
        if generation:
            self.epsilon = f"generation {generation[1]}: threshold {float(generation[2].rstrip('.')):.3f}"
        elif accepted:
            n, m = int(accepted[1]), int(accepted[2])
            elapsed = time.perf_counter() - self.started
            self.progress(f"{self.epsilon}, accepted {n} of {m} runs ({n / m:.0%}), {elapsed:.0f} s")


def run_abc(
    scenario: Scenario,
    polls: pd.DataFrame,
    parameters: Sequence[Parameter],
    settings: AbcSettings,
    executor: Executor,
    work: Path,
    *,
    progress: Callable[[str], None] = print,
) -> AbcResult:
    """Run (or resume) an ABC-SMC calibration whose history lives in ``work/abc.db``.

    A ``work`` folder that holds the history of a run with the same settings, parameters and data is resumed
    from its last complete generation (the stopping rules may differ: a run can be continued with more
    generations); one with other settings is refused (CalibrationError).
    """
    import pyabc

    points = calibration_points(polls, scenario)
    if not points:
        raise CalibrationError(f"{scenario.meta.name}: no observed poll value falls inside the scenario's months")
    limit = settings.train_until
    train = np.array([limit is None or p.year <= limit for p in points], dtype=bool)
    # Fewer points than parameters is allowed: the prior carries what the polls cannot (an early origin has 9).
    if not train.any():
        raise CalibrationError(f"no observed poll value up to {limit} to fit on")
    observed = np.array([p.observed for p in points], dtype=float)
    names = tuple(f"x{i}" for i in range(len(parameters)))
    paths = tuple(p.path for p in parameters)
    model = PollModel(scenario, tuple(points), names, paths, settings.citizens)
    distance = PollDistance(points, train, settings.discrepancy_pp)
    # What makes two runs the same calibration; the stopping rules are left out, so a finished or interrupted
    # run can be continued with more generations or a larger budget.
    stopping = ("generations", "max_simulations", "min_acceptance")
    fingerprint = {
        "settings": {k: v for k, v in asdict(settings).items() if k not in stopping},
        "parameters": [asdict(p) for p in parameters],
        "scenario": scenario.digest(),
        "observed": observed.round(3).tolist(),
    }
    work.mkdir(parents=True, exist_ok=True)
    stamp, db_file = work / "fingerprint.json", work / "abc.db"
    np.random.seed(settings.seed)  # noqa: NPY002  (pyabc's single-core sampler draws from the global generator)
    abc = pyabc.ABCSMC(
        model,
        priors(parameters, settings.prior_sd_share),
        distance,
        population_size=settings.population,
        sampler=_sampler(executor, settings.population),
        eps=pyabc.QuantileEpsilon(alpha=0.5),
        # A normal kernel twice as wide as Silverman's rule: at Silverman's width (and with local covariances)
        # the importance weights of 200 particles in ten dimensions degenerated to an effective sample size
        # of 1-6 within five generations; at twice the width it stays near 80-100 (docs/validation.md).
        transitions=pyabc.MultivariateNormalTransition(scaling=2.0),
    )
    logging.getLogger("ABC.History").setLevel(logging.WARNING)  # its 'Start <ABCSMC ...>' line says nothing new
    resumed_from = None
    db = f"sqlite:///{db_file}"
    if db_file.exists() and stamp.exists() and json.loads(stamp.read_text()) == fingerprint:
        history = abc.load(db, 1, {"polls": observed})
        resumed_from = int(history.max_t) + 1
        progress(f"resuming from generation {resumed_from} ({work})")
    else:
        if db_file.exists():
            raise CalibrationError(
                f"{work}: holds a calibration with other settings or data; pass --force to start over"
            )
        history = abc.new(db, {"polls": observed})
        stamp.write_text(json.dumps(fingerprint))
    remaining = settings.generations - (int(history.max_t) + 1)
    started = time.perf_counter()
    if remaining > 0 and int(history.total_nr_simulations) < settings.max_simulations:
        # One call for all generations: pyabc adapts the threshold between the generations of one run; a
        # generation's summary line comes from its log.
        log = logging.getLogger("ABC")
        saved = (log.handlers[:], log.level, log.propagate)
        log.handlers, log.level, log.propagate = [_ProgressBridge(progress)], logging.INFO, False
        try:
            history = abc.run(
                max_nr_populations=remaining,
                min_acceptance_rate=settings.min_acceptance,
                max_total_nr_simulations=settings.max_simulations,
            )
        finally:
            log.handlers, log.level, log.propagate = saved
    wall = time.perf_counter() - started
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    distances = history.get_weighted_distances(t=history.max_t)
    particles = frame[list(names)].to_numpy(dtype=float)
    posterior = posterior_frame(paths, particles, np.asarray(weights, dtype=float))
    posterior["distance"] = distances["distance"].to_numpy()[: len(posterior)]
    posterior["generation"] = int(history.max_t)
    generations = history.get_all_populations()
    generations = generations[generations["t"] >= 0].copy()
    generations["acceptance_rate"] = generations["particles"] / generations["samples"].clip(lower=1)
    return AbcResult(
        tuple(parameters),
        posterior,
        generations[["t", "epsilon", "samples", "particles", "acceptance_rate", "wall_time"]],
        int(history.total_nr_simulations),
        wall,
        settings,
        resumed_from,
    )


def provenance(
    result: AbcResult, *, scenario: Scenario, polls_path: Path, workers: int, executor: str
) -> dict[str, Any]:
    """The calibration's record: data and its SHA-256, priors, settings, date, acceptance, wall time."""
    import pyabc

    s = result.settings
    return {
        "scenario": scenario.meta.name,
        "scenario_sha256": scenario.digest(),
        "method": METHOD,
        "library": f"pyabc {pyabc.__version__}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {"file": polls_path.name, "sha256": file_sha256(polls_path), "train_until": s.train_until},
        "settings": asdict(s) | {"workers": workers, "executor": executor},
        "priors": {
            p.path: {
                "distribution": "normal truncated to [low, high]",
                "centre": p.start,
                "sd": round(s.prior_sd_share * (p.high - p.low), 6),
                "low": p.low,
                "high": p.high,
                "description": p.description,
            }
            for p in result.parameters
        },
        "generations": [
            {
                "t": int(row["t"]),
                "epsilon": round(float(row["epsilon"]), 4),
                "runs": int(row["samples"]),
                "acceptance_rate": round(float(row["acceptance_rate"]), 4),
            }
            for row in result.generations.to_dict("records")
        ],
        "simulations": result.simulations,
        "wall_time_s": round(result.wall_time_s, 1),
        "resumed_from_generation": result.resumed_from,
        "posterior": {
            str(row["parameter"]): {key: round(float(row[key]), 5) for key in ("mean", "sd", "q05", "q95")}
            for row in result.mean_sd().to_dict("records")
        },
    }


@dataclass(frozen=True)
class PredictiveTask:
    """One posterior-predictive run: a draw's values and the seed of its run."""

    scenario: Scenario
    points: tuple[PollPoint, ...]
    values: tuple[tuple[str, float], ...]
    seed: int
    citizens: int | None
    index: int


def _predictive_run(task: PredictiveTask) -> tuple[int, NDArray[np.float64]]:
    return task.index, read_polls_at(task.scenario, task.points, dict(task.values), task.seed, task.citizens)


def posterior_predictive(
    scenario: Scenario,
    points: Sequence[PollPoint],
    posterior: pd.DataFrame,
    paths: Sequence[str],
    executor: Executor,
    settings: AbcSettings,
    *,
    draws: int = PPC_DRAWS,
    train: NDArray[np.bool_] | None = None,
) -> pd.DataFrame:
    """The posterior-predictive distribution of every point (observed or not): ``draws`` particles resampled by
    weight, one run each, each segment's offset profiled on that run's training points, then each reading plus
    a poll's noise (sampling error at the simulated median, and the discrepancy). Returns, per point, the median
    and the 5-95 % interval of the noisy readings and the median of the noiseless ones (``model_median``). The
    seed, citizens and discrepancy are the calibration's ``settings``.
    """
    seed, citizens, discrepancy_pp = settings.seed, settings.citizens, settings.discrepancy_pp
    rng = np.random.default_rng(seed)
    weights = posterior["weight"].to_numpy(dtype=float)
    chosen = rng.choice(len(posterior), size=draws, p=weights / weights.sum())
    seeds = rng.integers(0, 2**31 - 1, size=draws)
    tasks = [
        PredictiveTask(
            scenario,
            tuple(points),
            tuple((path, float(posterior[path].iloc[i])) for path in paths),
            int(seeds[k]),
            citizens,
            k,
        )
        for k, i in enumerate(chosen)
    ]
    readings = np.empty((draws, len(points)))
    for index, values in executor.imap_unordered(_predictive_run, tasks, total=len(tasks)):
        readings[index] = values
    observed = np.array([np.nan if p.observed is None else p.observed for p in points])
    if train is None:
        train = ~np.isnan(observed)
    fit_mask = np.asarray(train, dtype=bool) & ~np.isnan(observed)
    segments = np.array([f"{p.series}/{p.segment}" for p in points])
    for name in sorted(set(segments)):
        if name.endswith("/base"):
            continue
        member, fitted = segments == name, (segments == name) & fit_mask
        if fitted.any():  # no training point: the offset is unknown, 0 (as the backtest does)
            readings[:, member] += (observed[fitted] - readings[:, fitted]).mean(axis=1, keepdims=True)
    # The poll's sampling error at the simulated level, never at the observed one: a held-out value must not
    # shape its own interval.
    level = np.median(readings, axis=0)
    fake = [replace(p, observed=float(v)) for p, v in zip(points, level, strict=True)]
    sigma = np.sqrt(sampling_error_pp(fake) ** 2 + discrepancy_pp**2)
    noisy = readings + rng.normal(size=readings.shape) * sigma
    p5, median, p95 = np.quantile(noisy, [0.05, 0.5, 0.95], axis=0)
    return pd.DataFrame(
        {
            "series": [p.series for p in points],
            "year": [p.year for p in points],
            "segment": [p.segment for p in points],
            "fieldwork": [fieldwork_text(p) for p in points],
            "observed": observed,
            "median": median,
            "p5": p5,
            "p95": p95,
            "model_median": np.median(readings, axis=0),
        }
    )
