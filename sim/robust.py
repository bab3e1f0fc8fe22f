"""Robust policy search: which levers keep rapprochement durable across the futures we cannot rule out?

Robust Decision Making (Lempert, Popper & Bankes 2003) and many-objective robust decision making (Kasprzyk et al.
2013) turn "what if" into "what should a capital do so that it works whatever happens": search the levers for
policies that perform acceptably across a large ensemble of futures, re-evaluate the best on futures the search
never saw, and ask in which futures even they fail (scenario discovery).

* **Levers** are a scenario's ``search.levers`` (:class:`sim.scenario.SearchSpec`): ranges of numbers and lists of
  choices over what a capital controls (``sim.scenario.CONTROLLED_PATHS``).
* **Futures** are what a batch's replications are: future ``f`` is replication ``f`` under the root seed, with its
  sampled ``uncertainties``, its posterior draw and its model seed (:func:`sim.runner.run_seeds`). Every candidate
  policy meets the same futures - common random numbers - so two candidates differ by their levers, not by luck.
* **Metrics** (:class:`sim.scenario.RobustMetric`), each over a candidate's futures: ``durable_share`` (share
  ending in ``durable_rapprochement``, maximised); ``p10_relations_index`` (10th percentile of the last-window mean
  relations index, maximised: how bad the bad futures get); ``approval_cost_seoul`` / ``approval_cost_tokyo`` (mean
  over futures and months of the approval the government has lost against its starting approval, in points,
  minimised); ``regret`` (90th percentile over futures of the shortfall of the last-window relations index from the
  best candidate evaluated so far in that future - Savage's regret against the archive - minimised).
* **Search**: NSGA-II (Deb et al. 2002) from pymoo, driven ask-and-tell so that this module evaluates each
  generation - every candidate on every future - as one batch on the project's executors, stores it, and can
  replay it: an interrupted search continues from its last stored generation with results identical to an
  uninterrupted one, because the algorithm's only randomness is its own generator, seeded from the root seed.
* **Re-evaluation** of the chosen policies on ``check_futures`` fresh futures, replications
  ``REEVALUATION_OFFSET + j``: a seed stream disjoint from the search's, so the search's selection of lucky
  futures is not mistaken for robustness.
* **Discovery** (:func:`sim.analysis.discovery.discover`) on the fresh futures in which the chosen policy fails.

The module imports pymoo, matplotlib and scikit-learn only where a search, a figure or a discovery needs them:
:func:`pareto_front` reads a finished search without them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import RapprochementError
from sim.files import atomic_path, write_atomic
from sim.outcomes import OutcomeClass
from sim.results import ResultsConflict
from sim.runner import run_seeds, sample_uncertainties, simulate_run
from sim.scenario import RobustMetric, Scenario, load_scenario

if TYPE_CHECKING:
    from sim.executors import Executor

__all__ = [
    "DEFAULT_METRICS",
    "REEVALUATION_OFFSET",
    "EvaluationTask",
    "Lever",
    "SearchPlan",
    "SearchResult",
    "SearchStore",
    "describe_levers",
    "evaluate_policy",
    "evaluate_task",
    "lever_space",
    "objectives",
    "pareto_front",
    "policy_levers",
    "run_search",
]

#: The metrics judged when neither the command line nor the scenario names any.
DEFAULT_METRICS: tuple[RobustMetric, ...] = (RobustMetric.DURABLE_SHARE, RobustMetric.P10_RELATIONS_INDEX)
#: Metrics that are better high (the others are costs, better low).
MAXIMISED = frozenset({RobustMetric.DURABLE_SHARE, RobustMetric.P10_RELATIONS_INDEX})
#: The quantiles behind the two percentile metrics.
LOW_QUANTILE = 0.10
REGRET_QUANTILE = 0.90
#: Re-evaluation future ``j`` is replication ``REEVALUATION_OFFSET + j``: far beyond any batch's replications
#: (at most a million), so its seeds come from spawn keys no search future and no batch uses.
REEVALUATION_OFFSET = 2**32
#: The spawn key of the algorithm's own generator under the root seed (disjoint from every replication's).
ALGORITHM_KEY = 2**33
#: The folder of a search being run, beside its results folder (as a batch's ``.partial``).
STAGING_SUFFIX = ".partial"
MANIFEST = "search.json"
GENERATIONS = "generations"
#: The per-future results every evaluation returns, beside the future's sampled ``param:`` columns.
RECORD_COLUMNS = (
    "candidate",
    "future",
    "replication",
    "seed",
    "outcome_class",
    "window_relations_index",
    "approval_cost_seoul",
    "approval_cost_tokyo",
)
#: NSGA-II's variation operators (pymoo's defaults for NSGA-II): simulated binary crossover, polynomial mutation.
CROSSOVER_ETA = 15.0
CROSSOVER_PROB = 0.9
MUTATION_ETA = 20.0
#: How many parameters a discovery rule may limit: two reads as a sentence ("when A exceeds ... and B ...").
DISCOVERY_DEPTH = 2
#: Tasks a generation is cut into per worker, so that no worker idles while another finishes a long task.
TASKS_PER_WORKER = 16

METRIC_TEXT: dict[RobustMetric, tuple[str, str]] = {
    RobustMetric.DURABLE_SHARE: ("share of futures ending in durable rapprochement", "share of futures"),
    RobustMetric.P10_RELATIONS_INDEX: (
        "10th percentile of the relations index (last-year mean) across futures",
        "index 0-100",
    ),
    RobustMetric.APPROVAL_COST_SEOUL: ("Seoul's approval lost against its start, mean over futures", "points"),
    RobustMetric.APPROVAL_COST_TOKYO: ("Tokyo's approval lost against its start, mean over futures", "points"),
    RobustMetric.REGRET: (
        "90th percentile across futures of the relations index's shortfall from the best policy in that future",
        "index points",
    ),
}


class SearchError(RapprochementError, ValueError):
    """A robust search that cannot be run as asked; the message names the file or option and what was expected."""


# --------------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Lever:
    """One searched lever: its path and its values, a range (``low``, ``high``; ``integer`` for whole numbers)
    or ``choices``.

    The search sees every lever as one real gene: a range is its own gene; a whole-number range and a choice are
    genes over ``[first - 0.5, last + 0.5]`` rounded to the nearest whole number (each value then has the same
    share of the gene's range), which is what NSGA-II's real-valued operators (SBX and polynomial mutation) need.
    """

    path: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    integer: bool = False

    @property
    def discrete(self) -> bool:
        """Whether the gene is rounded (a choice or a whole-number range)."""
        return self.choices is not None or self.integer

    def bounds(self) -> tuple[float, float]:
        """The gene's range."""
        if self.choices is not None:
            return -0.5, len(self.choices) - 0.5
        assert self.low is not None and self.high is not None  # a range by construction (lever_space)
        if self.integer:
            return self.low - 0.5, self.high + 0.5
        return self.low, self.high

    def snap(self, gene: float) -> float:
        """The gene as the search keeps it: rounded to a whole number for a discrete lever, within bounds."""
        if not self.discrete:
            low, high = self.bounds()
            return float(min(max(gene, low), high))
        first, last = (0, len(self.choices) - 1) if self.choices is not None else (self.low, self.high)
        return float(min(max(math.floor(gene + 0.5), first or 0), last or 0))

    def value(self, gene: float) -> Any:
        """The lever's value for a gene, as the scenario takes it."""
        snapped = self.snap(gene)
        if self.choices is not None:
            return self.choices[int(snapped)]
        return int(snapped) if self.integer else snapped


def lever_space(scenario: Scenario) -> tuple[Lever, ...]:
    """The levers of ``scenario``'s ``search`` block, sorted by path (the order of the genes); SearchError when
    it has none."""
    if scenario.search is None:
        raise SearchError(
            f"scenario {scenario.meta.name!r} has no search block: name the levers to search under search.levers "
            "(see docs/analysis.md, 'Robust policy search')"
        )
    levers = []
    for path in sorted(scenario.search.levers):
        spec = scenario.search.levers[path]
        if spec.choices is not None:
            levers.append(Lever(path, choices=tuple(spec.choices)))
        else:
            current = scenario.locate(path)
            field = type(current.parent).model_fields[str(current.keys[-1])]
            integer = field.annotation in (int, int | None)
            levers.append(Lever(path, low=spec.low, high=spec.high, integer=integer))
    return tuple(levers)


def _capital(path: str) -> str:
    parts = path.split(".")
    return parts[1] if parts[0] in ("levers", "actors") else "exchange"


#: How each lever's value reads in a policy's description (other levers: their name and value).
_LEVER_WORDS: dict[str, Callable[[Any], str]] = {
    "cooperation_priority": lambda value: f"doctrine {value:+.2f}",
    "summit_every_months": lambda value: (
        "no regular summits" if value is None else f"a summit every {value} months"
    ),
    "forbidden_moves": lambda value: (
        "rules out " + " and ".join(str(m).replace("_", " ") for m in value) if value else "rules out no move"
    ),
    "capital_weight": lambda value: f"weighs approval costs ×{value:.2f}",
    "initiative": lambda value: f"takes the initiative in {100 * value:.0f} % of months",
    "program_scale": lambda value: f"youth exchange programmes ×{value:.2f}",
}


def _lever_words(path: str, value: Any) -> str:
    """One lever's value in words."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf in _LEVER_WORDS:
        return _LEVER_WORDS[leaf](value)
    return f"{leaf.replace('_', ' ')} {value:.3g}" if isinstance(value, float) else f"{leaf} {value}"


def describe_levers(values: Mapping[str, Any]) -> str:
    """A policy's levers in words, grouped by capital: ``Seoul: doctrine +0.42; a summit every 6 months``."""
    groups: dict[str, list[str]] = {}
    for path, value in values.items():
        groups.setdefault(_capital(path), []).append(_lever_words(path, value))
    return ". ".join(f"{who.capitalize()}: {'; '.join(words)}" for who, words in groups.items())


def lever_text(value: Any) -> str:
    """A lever's value as a table cell: numbers as they are, none as ``none``, lists of moves joined by ``+``."""
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return "+".join(str(v) for v in value) or "none"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- evaluating candidates on futures


@dataclass(frozen=True)
class EvaluationTask:
    """One candidate policy on a block of futures: what a worker needs (it carries its own seeds).

    ``futures`` pairs each future's index with its replication: ``(f, f)`` for the search's futures,
    ``(j, REEVALUATION_OFFSET + j)`` for the fresh ones of a re-evaluation.
    """

    scenario: Scenario
    candidate: int
    levers: tuple[tuple[str, Any], ...]
    futures: tuple[tuple[int, int], ...]
    root_seed: int


def evaluate_task(task: EvaluationTask) -> list[dict[str, Any]]:
    """Run one candidate on its block of futures; one record per future (see ``RECORD_COLUMNS``).

    Future ``f`` is replication ``r`` of a batch: its uncertainties sampled from the replication's parameter seed,
    its posterior draw and model seed - the same for every candidate. The levers are applied over the sampled
    values (a lever is never also uncertain: the scenario refuses it). The approval costs are in points: the mean
    over the months of the government's starting approval minus its approval.
    """
    levers = dict(task.levers)
    records = []
    for future, replication in task.futures:
        seeds = run_seeds(task.root_seed, replication)
        values = sample_uncertainties(task.scenario, seeds.params) | levers
        result = simulate_run(task.scenario, replication, task.root_seed, values=values)
        summary = result.summary
        record: dict[str, Any] = {
            "candidate": task.candidate,
            "future": future,
            "replication": replication,
            "seed": int(summary["seed"]),
            "outcome_class": summary["outcome_class"],
            "window_relations_index": float(summary["window_relations_index"]),
        }
        for capital in ("seoul", "tokyo"):
            start = summary.get(
                f"param:actors.{capital}.approval", getattr(task.scenario.actors, capital).approval
            )
            record[f"approval_cost_{capital}"] = 100.0 * (
                start - float(np.mean(result.columns[f"{capital}_approval"]))
            )
        record |= {
            key: value
            for key, value in summary.items()
            if key.startswith("param:") and key.removeprefix("param:") not in levers
        }
        records.append(record)
    return records


def _tasks(
    scenario: Scenario,
    root_seed: int,
    candidates: Sequence[tuple[int, dict[str, Any]]],
    futures: Sequence[tuple[int, int]],
    workers: int,
) -> list[EvaluationTask]:
    """Every candidate on every future, cut into enough tasks (blocks of futures) to keep ``workers`` busy."""
    wanted = TASKS_PER_WORKER * max(workers, 1)
    blocks = min(len(futures), max(1, math.ceil(wanted / max(len(candidates), 1))))
    size = math.ceil(len(futures) / blocks)
    return [
        EvaluationTask(scenario, candidate, tuple(levers.items()), tuple(futures[i : i + size]), root_seed)
        for candidate, levers in candidates
        for i in range(0, len(futures), size)
    ]


def evaluate_all(
    executor: Executor,
    tasks: Sequence[EvaluationTask],
    evaluate: Callable[[EvaluationTask], list[dict[str, Any]]],
    progress: Callable[[int], Any] | None = None,
) -> pd.DataFrame:
    """Every task's records as one table in (candidate, future) order, whatever order the workers finished in."""
    rows: list[dict[str, Any]] = []
    for records in executor.imap_unordered(evaluate, tasks, total=len(tasks)):
        rows.extend(records)
        if progress is not None:
            progress(len(records))
    return _tidy(pd.DataFrame(rows))


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Records with fixed column order and types, sorted by candidate and future."""
    missing = [c for c in RECORD_COLUMNS if c not in frame.columns]
    if missing:
        raise SearchError(f"evaluation records lack {', '.join(missing)}")
    params = sorted(c for c in frame.columns if c.startswith("param:"))
    frame = frame[[*RECORD_COLUMNS, *params]].copy()
    for column in ("candidate", "future", "replication", "seed"):
        frame[column] = frame[column].astype(np.int64)
    frame["outcome_class"] = frame["outcome_class"].astype(str)
    for column in ("window_relations_index", "approval_cost_seoul", "approval_cost_tokyo", *params):
        frame[column] = frame[column].astype(np.float64)
    return frame.sort_values(["candidate", "future"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def _order_statistic_interval(
    values: np.ndarray, quantile: float, confidence: float = 0.95
) -> tuple[float, float]:
    """A distribution-free interval for a quantile from order statistics (the binomial count below it)."""
    from scipy.stats import binom

    n = len(values)
    ordered = np.sort(values)
    tail = (1.0 - confidence) / 2.0
    low = int(binom.ppf(tail, n, quantile))
    high = int(binom.ppf(1.0 - tail, n, quantile)) + 1
    return float(ordered[max(low - 1, 0)]), float(ordered[min(high - 1, n - 1)])


def _matrix(evaluations: pd.DataFrame, column: str) -> pd.DataFrame:
    """Candidates x futures of one per-future column."""
    return evaluations.pivot(index="candidate", columns="future", values=column).sort_index()


def objectives(
    evaluations: pd.DataFrame, metrics: Sequence[RobustMetric], reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each candidate's metrics (rows by candidate id, a column per metric, in the metrics' own units).

    ``evaluations`` holds one row per candidate and future. Regret is measured against the best relations index
    in each future among the candidates of ``reference`` (default: ``evaluations`` itself), so that every candidate
    of a search is judged against the same archive.
    """
    index = _matrix(evaluations, "window_relations_index")
    columns: dict[str, pd.Series] = {}
    for metric in metrics:
        if metric is RobustMetric.DURABLE_SHARE:
            durable = evaluations["outcome_class"] == OutcomeClass.DURABLE_RAPPROCHEMENT.value
            columns[metric.value] = durable.groupby(evaluations["candidate"]).mean().sort_index()
        elif metric is RobustMetric.P10_RELATIONS_INDEX:
            columns[metric.value] = index.quantile(LOW_QUANTILE, axis=1)
        elif metric in (RobustMetric.APPROVAL_COST_SEOUL, RobustMetric.APPROVAL_COST_TOKYO):
            columns[metric.value] = evaluations.groupby("candidate")[metric.value].mean().sort_index()
        else:
            pool = index if reference is None else _matrix(reference, "window_relations_index")
            pooled = pool.max(axis=0).reindex(index.columns).to_numpy(dtype=np.float64)
            best = np.maximum(pooled, index.max(axis=0).to_numpy(dtype=np.float64))
            regrets = pd.DataFrame(best[None, :] - index.to_numpy(dtype=np.float64), index=index.index)
            columns[metric.value] = regrets.quantile(REGRET_QUANTILE, axis=1)
    return pd.DataFrame(columns).astype(np.float64)


def minimised(table: pd.DataFrame, metrics: Sequence[RobustMetric]) -> np.ndarray:
    """The metrics as the costs the search minimises (maximised ones negated)."""
    return np.column_stack([-table[m.value] if m in MAXIMISED else table[m.value] for m in metrics])


def non_dominated(costs: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``costs`` that no other row dominates (pymoo's non-dominated sorting)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    return np.sort(np.asarray(NonDominatedSorting().do(costs, only_non_dominated_front=True), dtype=np.int64))


# --------------------------------------------------------------------------- the plan and its folder


@dataclass(frozen=True)
class SearchPlan:
    """A robust search: the scenario (with its ``search`` block), the metrics, the sizes and the root seed.

    ``generations`` is how far to search; it is not part of the search's identity, so a search can be continued
    to more generations. ``check_futures`` fresh futures re-evaluate up to ``check_policies`` chosen policies.
    """

    scenario: Scenario
    metrics: tuple[RobustMetric, ...]
    futures: int
    population: int
    generations: int
    root_seed: int
    check_futures: int
    check_policies: int

    def __post_init__(self) -> None:
        for name in ("futures", "population", "generations", "check_futures", "check_policies"):
            if getattr(self, name) < 1:
                raise SearchError(f"{name}: expected a whole number >= 1, got {getattr(self, name)}")
        if self.population < 4:
            raise SearchError(
                f"population: NSGA-II needs at least 4 candidates a generation, got {self.population}"
            )
        if not self.metrics:
            raise SearchError("metrics: expected at least one metric")
        if len(set(self.metrics)) != len(self.metrics):
            raise SearchError("metrics: each metric may be named once")
        lever_space(self.scenario)  # a scenario without levers is refused here

    @property
    def levers(self) -> tuple[Lever, ...]:
        """The searched levers, in gene order."""
        return lever_space(self.scenario)

    def identity(self) -> dict[str, Any]:
        """What must match for a stored search to be continued (everything but the number of generations)."""
        from importlib import metadata

        return {
            "scenario_hash": self.scenario.digest(),
            "root_seed": self.root_seed,
            "futures": self.futures,
            "population": self.population,
            "metrics": [m.value for m in self.metrics],
            "check_futures": self.check_futures,
            "check_policies": self.check_policies,
            "algorithm": f"NSGA-II (pymoo {metadata.version('pymoo')})",
        }

    def algorithm_seed(self) -> int:
        """The seed of the algorithm's own generator, from the root seed."""
        sequence = np.random.SeedSequence(self.root_seed, spawn_key=(ALGORITHM_KEY,))
        return int(sequence.generate_state(1, np.uint32)[0])


@dataclass
class SearchStore:
    """A search on its way to ``out_dir``: one Parquet file per finished generation in a hidden staging folder
    (``.<name>.partial``), whose manifest says which search it holds; the finished results replace ``out_dir``
    at once (:func:`sim.analysis.common.fresh_folder`), so an interrupted search never leaves half its files where
    results are expected.

    :meth:`open` decides what to do with what is there: a finished search with the same identity and number of
    generations is complete (nothing to compute); one with fewer generations is continued; an interrupted one is
    continued from its last stored generation; anything else is replaced only with ``force``.
    """

    out_dir: Path
    plan: SearchPlan
    created: str = ""
    #: What ``open`` found: "new", "resumed", "extended" or "complete"; and the generations already stored.
    state: str = "new"
    stored: int = 0

    @property
    def staging(self) -> Path:
        """The folder of the search while it runs."""
        return self.out_dir.parent / f".{self.out_dir.name}{STAGING_SUFFIX}"

    def _held(self, folder: Path) -> dict[str, Any] | None:
        try:
            return dict(json.loads((folder / MANIFEST).read_text()))
        except (OSError, json.JSONDecodeError):
            return None

    def open(self, *, force: bool = False) -> str:
        """Check the target and staging folders and prepare the staging folder; return the state found.

        Refuses (``ResultsConflict``) a file in the way, a folder this program did not write (even with
        ``force``), and without ``force`` a finished or interrupted search that differs in anything but a larger
        number of generations. Nothing is written before every check has passed.
        """
        identity = self.plan.identity()
        for folder in (self.out_dir.parent, self.out_dir, self.staging):
            if folder.exists() and not folder.is_dir():
                raise ResultsConflict(f"{folder} is a file, not a folder; choose another --out")
        finished = self._held(self.out_dir) if self.out_dir.exists() else None
        if self.out_dir.exists() and finished is None and any(self.out_dir.iterdir()):
            raise ResultsConflict(
                f"{self.out_dir} exists and does not hold a robust search (no {MANIFEST}); choose another --out"
            )
        interrupted = self._held(self.staging) if self.staging.exists() else None
        if force:
            shutil.rmtree(self.staging, ignore_errors=True)
            interrupted = finished = None
        if interrupted is not None:
            if interrupted.get("identity") != identity:
                raise ResultsConflict(
                    f"the interrupted search in {self.staging} is a different search (scenario, seed, futures, "
                    "population, metrics or checks changed); use the settings it was started with, or --force "
                    "to start over"
                )
            self.created = str(interrupted.get("created", ""))
            self.stored = self._count_stored()
            self.state = "resumed"
            return self.state
        if finished is not None:
            done = int(finished.get("generations", 0))
            if finished.get("identity") == identity and done == self.plan.generations:
                self.state = "complete"
                return self.state
            if finished.get("identity") != identity or done > self.plan.generations:
                raise ResultsConflict(
                    f"{self.out_dir} holds another finished search ({done} generations, identity "
                    f"{_differences(finished.get('identity') or {}, identity)}); pass --force to replace it, or "
                    "--out to write elsewhere"
                )
            self.created = str(finished.get("created", ""))
            self._unpack(self.out_dir / "evaluations.parquet")
            self.stored = done
            self.state = "extended"
            return self.state
        self.created = dt.datetime.now(dt.UTC).date().isoformat()
        self._start()
        self.state = "new"
        return self.state

    def _start(self) -> None:
        (self.staging / GENERATIONS).mkdir(parents=True, exist_ok=True)
        manifest = {"status": "running", "identity": self.plan.identity(), "created": self.created}
        write_atomic(self.staging / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def _unpack(self, evaluations: Path) -> None:
        """Split a finished search's evaluations back into generation files, to continue it."""
        self._start()
        table = pd.read_parquet(evaluations)
        for generation, part in table.groupby("generation", sort=True):
            self.write(int(str(generation)), part.reset_index(drop=True))

    def _count_stored(self) -> int:
        count = 0
        while self._path(count).is_file():
            count += 1
        return count

    def _path(self, generation: int) -> Path:
        return self.staging / GENERATIONS / f"generation-{generation:04d}.parquet"

    def read(self, generation: int) -> pd.DataFrame | None:
        """A stored generation's evaluations, or None."""
        path = self._path(generation)
        return pd.read_parquet(path) if path.is_file() else None

    def write(self, generation: int, frame: pd.DataFrame) -> None:
        """Store a finished generation atomically (a killed search keeps only whole generations)."""
        with atomic_path(self._path(generation)) as temporary:
            frame.to_parquet(temporary, index=False)

    def discard(self) -> None:
        """Remove the staging folder (once the finished results are in place)."""
        shutil.rmtree(self.staging, ignore_errors=True)


def _differences(held: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    changed = [key for key in sorted(set(held) | set(wanted)) if held.get(key) != wanted.get(key)]
    return "the same" if not changed else "differs in " + ", ".join(changed)


# --------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class SearchResult:
    """What a search found: every candidate with its genes, levers and metrics; the Pareto set; the chosen
    policies re-evaluated on fresh futures; and the evaluations behind them."""

    plan: SearchPlan
    candidates: pd.DataFrame  # one row per candidate: generation, gene:<path>, lever:<path>, metrics
    pareto: pd.DataFrame  # the non-dominated candidates, best on the first metric first
    evaluations: pd.DataFrame  # one row per candidate and future of the search
    reevaluation: pd.DataFrame  # one row per chosen policy and metric: search value, fresh value, interval
    fresh: pd.DataFrame  # one row per chosen policy and fresh future
    chosen: int  # the candidate the discovery explains (best fresh value of the first metric)


def _pymoo_algorithm(levers: Sequence[Lever], plan: SearchPlan) -> tuple[Any, Any]:
    """An NSGA-II set up for the levers' genes (discrete ones rounded by a repair), and its problem."""
    try:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem
        from pymoo.core.repair import Repair
        from pymoo.core.termination import NoTermination
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.sampling.rnd import FloatRandomSampling
    except ImportError:
        raise SearchError(
            "rapprochement robust needs pymoo: pip install '.[robust]' (or 'pymoo>=0.6.2,<0.7')"
        ) from None

    class Snap(Repair):
        """Round discrete genes to whole numbers, so equal policies are equal genomes (duplicates are caught)."""

        def _do(self, problem: Any, X: np.ndarray, **kwargs: Any) -> np.ndarray:
            return np.array([[lever.snap(g) for lever, g in zip(levers, row, strict=True)] for row in X])

    bounds = np.array([lever.bounds() for lever in levers], dtype=np.float64)
    problem = Problem(n_var=len(levers), n_obj=len(plan.metrics), xl=bounds[:, 0], xu=bounds[:, 1])
    algorithm = NSGA2(
        pop_size=plan.population,
        sampling=FloatRandomSampling(),
        crossover=SBX(eta=CROSSOVER_ETA, prob=CROSSOVER_PROB),
        mutation=PM(eta=MUTATION_ETA),
        repair=Snap(),
        eliminate_duplicates=True,
    )
    algorithm.setup(problem, termination=NoTermination(), seed=plan.algorithm_seed(), verbose=False)
    return algorithm, problem


def _tell(algorithm: Any, problem: Any, pop: Any, costs: np.ndarray) -> None:
    from pymoo.core.evaluator import Evaluator
    from pymoo.problems.static import StaticProblem

    Evaluator().eval(StaticProblem(problem, F=costs), pop)
    algorithm.tell(infills=pop)


def run_search(
    plan: SearchPlan,
    store: SearchStore,
    executor: Executor,
    *,
    evaluate: Callable[[EvaluationTask], list[dict[str, Any]]] | None = None,
    progress: Callable[[int], Any] | None = None,
    on_generation: Callable[[int, bool], Any] | None = None,
) -> SearchResult:
    """Search the levers of ``plan`` generation by generation into ``store`` (opened), then re-evaluate.

    Each generation's candidates are evaluated on every future as one batch of tasks on ``executor`` and stored
    before the algorithm is told their metrics; a generation already in the store is read instead (and its
    candidates checked against those the algorithm asks for now, which a deterministic replay reproduces
    exactly). A candidate equal to one evaluated before reuses its evaluations. With ``regret`` among the metrics,
    the surviving population's regret is brought up to date with the archive before every survival, so all the
    candidates NSGA-II compares are judged against the same best-per-future.

    ``evaluate`` replaces :func:`evaluate_task` (a constructed test problem); ``progress`` hears the number of
    runs done, ``on_generation`` each generation's number and whether it was read from the store.
    """
    evaluate = evaluate or evaluate_task
    levers = plan.levers
    algorithm, problem = _pymoo_algorithm(levers, plan)
    futures = [(f, f) for f in range(plan.futures)]
    gene_columns = [f"gene:{lever.path}" for lever in levers]
    archive: list[pd.DataFrame] = []
    known: dict[tuple[float, ...], int] = {}  # a candidate's genes -> the first candidate evaluated with them
    next_id = 0
    for generation in range(plan.generations):
        pop = algorithm.ask()
        genes = np.asarray(pop.get("X"), dtype=np.float64)
        candidate_ids = list(range(next_id, next_id + len(genes)))
        next_id += len(genes)
        stored = store.read(generation)
        if stored is not None:
            held = stored.drop_duplicates("candidate").sort_values("candidate")
            if held["candidate"].tolist() != candidate_ids or not np.array_equal(
                held[gene_columns].to_numpy(dtype=np.float64), genes
            ):
                raise ResultsConflict(
                    f"{store.staging}: generation {generation} holds other candidates than this search asks for "
                    "(written by another version of the search?); pass --force to start over"
                )
            frame = stored
            if progress is not None:
                progress(len(frame))
        else:
            new, reused = [], []
            for candidate, row in zip(candidate_ids, genes, strict=True):
                key = tuple(float(g) for g in row)
                if key in known:
                    reused.append((candidate, known[key]))
                else:
                    values = {lever.path: lever.value(g) for lever, g in zip(levers, row, strict=True)}
                    new.append((candidate, values))
            tasks = _tasks(plan.scenario, plan.root_seed, new, futures, executor.workers)
            parts = [evaluate_all(executor, tasks, evaluate, progress)] if tasks else []
            for candidate, earlier in reused:  # only earlier generations: NSGA-II removes duplicates within one
                history = pd.concat(archive)
                copy = history[history["candidate"] == earlier].drop(columns=["generation", *gene_columns])
                parts.append(copy.assign(candidate=candidate))
                if progress is not None:
                    progress(len(copy))
            frame = _tidy(pd.concat(parts))
            frame.insert(0, "generation", generation)
            genome = pd.DataFrame(genes, columns=gene_columns).assign(candidate=candidate_ids)
            frame = frame.merge(genome, on="candidate", how="left")
            store.write(generation, frame)
        for candidate, row in zip(candidate_ids, genes, strict=True):
            known.setdefault(tuple(float(g) for g in row), candidate)
        archive.append(frame)
        everything = pd.concat(archive, ignore_index=True)
        table = objectives(frame, plan.metrics, reference=everything)
        pop.set("candidate", np.array(candidate_ids))
        if RobustMetric.REGRET in plan.metrics and algorithm.pop is not None and algorithm.is_initialized:
            survivors = [int(c) for c in algorithm.pop.get("candidate")]
            current = objectives(everything[everything["candidate"].isin(survivors)], plan.metrics, everything)
            algorithm.pop.set("F", minimised(current.loc[survivors], plan.metrics))
        _tell(algorithm, problem, pop, minimised(table.loc[candidate_ids], plan.metrics))
        if on_generation is not None:
            on_generation(generation, stored is not None)
    evaluations = pd.concat(archive, ignore_index=True)
    return _conclude(plan, evaluations, executor, evaluate, progress)


def _candidates(plan: SearchPlan, evaluations: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate: its generation, genes, levers (as table text) and metrics against the archive."""
    levers = plan.levers
    gene_columns = [f"gene:{lever.path}" for lever in levers]
    first = evaluations.drop_duplicates("candidate").set_index("candidate").sort_index()
    table = first[["generation", *gene_columns]].copy()
    for lever, column in zip(levers, gene_columns, strict=True):
        table[lever.path] = [lever_text(lever.value(g)) for g in table[column]]
    table["levers"] = [
        describe_levers({lv.path: lv.value(g) for lv, g in zip(levers, row, strict=True)})
        for row in table[gene_columns].to_numpy()
    ]
    return table.join(objectives(evaluations, plan.metrics))


def pareto_set(plan: SearchPlan, candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidates no other dominates on the metrics; of several with the same metrics, the first evaluated
    stands for them. Sorted best first on the first metric (then by candidate), numbered ``policy`` 1, 2, ..."""
    metrics = [m.value for m in plan.metrics]
    distinct = candidates.drop_duplicates(metrics)
    front = distinct.iloc[non_dominated(minimised(distinct, plan.metrics))]
    first = plan.metrics[0]
    front = front.assign(_key=-front[first.value] if first in MAXIMISED else front[first.value])
    front = front.rename_axis("candidate").reset_index()
    front = front.sort_values(["_key", "candidate"], kind="stable").drop(columns="_key").reset_index(drop=True)
    front.insert(0, "policy", np.arange(1, len(front) + 1))
    return front


def choose_policies(plan: SearchPlan, pareto: pd.DataFrame) -> list[int]:
    """The candidates to re-evaluate: the best on each metric, then the compromise (closest to the ideal point,
    each metric scaled to the Pareto set's range), then the next closest, up to ``check_policies``."""
    costs = minimised(pareto, plan.metrics)
    span = np.ptp(costs, axis=0)
    scaled = (costs - costs.min(axis=0)) / np.where(span > 0, span, 1.0)
    distance = np.sqrt((scaled**2).sum(axis=1))
    order = [int(np.argmin(costs[:, j])) for j in range(costs.shape[1])]
    order += [int(i) for i in np.argsort(distance, kind="stable")]
    chosen = list(dict.fromkeys(order))[: plan.check_policies]
    return [int(pareto["candidate"].iloc[i]) for i in chosen]


def _interval(
    metric: RobustMetric, evaluations: pd.DataFrame, value: float, fresh: pd.DataFrame
) -> tuple[float, float]:
    """A 95 % interval of one policy's fresh metric: Wilson for the share, order statistics for the percentiles,
    Student's t for the mean approval costs."""
    if metric is RobustMetric.DURABLE_SHARE:
        from sim.plots import wilson_interval

        hits = int((evaluations["outcome_class"] == OutcomeClass.DURABLE_RAPPROCHEMENT.value).sum())
        return wilson_interval(hits, len(evaluations))
    if metric is RobustMetric.P10_RELATIONS_INDEX:
        return _order_statistic_interval(evaluations["window_relations_index"].to_numpy(), LOW_QUANTILE)
    if metric is RobustMetric.REGRET:
        index = _matrix(fresh, "window_relations_index")
        regrets = (index.max(axis=0) - index.loc[int(evaluations["candidate"].iloc[0])]).to_numpy()
        return _order_statistic_interval(regrets, REGRET_QUANTILE)
    from scipy.stats import t

    costs = evaluations[metric.value].to_numpy()
    half = (
        float(t.ppf(0.975, len(costs) - 1) * costs.std(ddof=1) / math.sqrt(len(costs))) if len(costs) > 1 else 0.0
    )
    return value - half, value + half


def _conclude(
    plan: SearchPlan,
    evaluations: pd.DataFrame,
    executor: Executor,
    evaluate: Callable[[EvaluationTask], list[dict[str, Any]]],
    progress: Callable[[int], Any] | None,
) -> SearchResult:
    """The candidates' table, the Pareto set, and the chosen policies re-evaluated on fresh futures."""
    candidates = _candidates(plan, evaluations)
    pareto = pareto_set(plan, candidates)
    chosen = choose_policies(plan, pareto)
    levers = plan.levers
    settings = [
        (
            c,
            {
                lv.path: lv.value(g)
                for lv, g in zip(levers, candidates.loc[c, [f"gene:{lv.path}" for lv in levers]], strict=True)
            },
        )
        for c in chosen
    ]
    futures = [(j, REEVALUATION_OFFSET + j) for j in range(plan.check_futures)]
    fresh = evaluate_all(
        executor, _tasks(plan.scenario, plan.root_seed, settings, futures, executor.workers), evaluate, progress
    )
    fresh_table = objectives(fresh, plan.metrics)
    fresh_values, search_values = (
        fresh_table.to_dict("index"),
        candidates[[m.value for m in plan.metrics]].to_dict("index"),
    )
    rows = []
    for rank, candidate in enumerate(chosen, start=1):
        mine = fresh[fresh["candidate"] == candidate]
        policy = int(pareto.loc[pareto["candidate"] == candidate, "policy"].iloc[0])
        for metric in plan.metrics:
            value = float(fresh_values[candidate][metric.value])
            low, high = _interval(metric, mine, value, fresh)
            rows.append(
                {
                    "policy": policy,
                    "candidate": candidate,
                    "rank": rank,
                    "metric": metric.value,
                    "search": float(search_values[candidate][metric.value]),
                    "fresh": value,
                    "ci_low": low,
                    "ci_high": high,
                    "futures": len(mine),
                }
            )
    reevaluation = pd.DataFrame(rows)
    first = plan.metrics[0]
    ranked = fresh_table[first.value].sort_values(ascending=first not in MAXIMISED, kind="stable")
    best = next(c for c in chosen if fresh_table.loc[c, first.value] == ranked.iloc[0])
    return SearchResult(plan, candidates, pareto, evaluations, reevaluation, fresh, best)


# --------------------------------------------------------------------------- reading a finished search


def pareto_front(results_dir: str | Path) -> pd.DataFrame:
    """The Pareto set of a finished search (``pareto.csv``): ``policy``, ``candidate``, ``generation``, one column
    per lever path (its value as text), ``levers`` (in words) and one column per metric."""
    folder, manifest, _ = _finished(results_dir)
    levers = {path: str for path in manifest["levers"]}  # as written: "none", "6", "hardline_gesture+end_gsomia"
    return pd.read_csv(folder / "pareto.csv", dtype=levers | {"levers": str}, keep_default_na=False)


def _finished(results_dir: str | Path) -> tuple[Path, dict[str, Any], Scenario]:
    folder = Path(results_dir)
    try:
        manifest = dict(json.loads((folder / MANIFEST).read_text()))
        scenario = load_scenario(folder / "scenario.yaml")
    except (OSError, json.JSONDecodeError) as exc:
        raise SearchError(f"{folder}: not a finished robust search ({exc})") from None
    return folder, manifest, scenario


def policy_levers(results_dir: str | Path, policy: int) -> dict[str, Any]:
    """The lever values of Pareto policy ``policy`` of a finished search, exactly (from its genes), as
    :func:`evaluate_policy` and ``Scenario.with_values`` take them."""
    folder, _, scenario = _finished(results_dir)
    front = pareto_front(folder)
    chosen = front.loc[front["policy"] == policy, "candidate"]
    if chosen.empty:
        raise SearchError(f"{folder}: no policy {policy} in the Pareto set (it has {len(front)})")
    levers = lever_space(scenario)
    genes = pd.read_parquet(
        folder / "evaluations.parquet", columns=["candidate", *(f"gene:{lv.path}" for lv in levers)]
    )
    row = genes[genes["candidate"] == int(chosen.iloc[0])].iloc[0]
    return {lever.path: lever.value(float(row[f"gene:{lever.path}"])) for lever in levers}


def evaluate_policy(
    results_dir: str | Path,
    levers: Mapping[str, Any],
    *,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Evaluate one fixed lever setting on the futures a finished search used (the same seeds), so that a
    class's or an analyst's policy can be set beside the Pareto set.

    ``levers`` maps lever paths to values (those the search varies; any not given keep the scenario's value).
    Returns one row like those of :func:`pareto_front`: the levers as text and in words, and the search's metrics,
    regret measured against the best of the search's archive in each future (and this policy).
    """
    from sim.executors import SerialExecutor

    folder, manifest, scenario = _finished(results_dir)
    identity = manifest["identity"]
    metrics = [RobustMetric(m) for m in identity["metrics"]]
    scenario.with_values(dict(levers))  # a path or value the scenario refuses raises here, before any run
    futures = [(f, f) for f in range(int(identity["futures"]))]
    task_candidate = -1
    tasks = _tasks(scenario, int(identity["root_seed"]), [(task_candidate, dict(levers))], futures, 1)
    runner = executor or SerialExecutor()
    mine = evaluate_all(runner, tasks, evaluate_task)
    archive = pd.read_parquet(
        folder / "evaluations.parquet", columns=["candidate", "future", "window_relations_index"]
    )
    table = objectives(mine, metrics, reference=archive)
    row: dict[str, Any] = {lever: lever_text(value) for lever, value in levers.items()}
    row["levers"] = describe_levers(levers)
    values = table.to_dict("index")[task_candidate]
    row |= {m.value: float(values[m.value]) for m in metrics}
    return pd.DataFrame([row])


def fresh_runs(result: SearchResult, candidate: int) -> pd.DataFrame:
    """One chosen policy's fresh futures as a runs table for :func:`sim.analysis.discovery.discover`."""
    return result.fresh[result.fresh["candidate"] == candidate].reset_index(drop=True)


def discovery_target(runs: pd.DataFrame) -> str | None:
    """The failure to explain: relapse if some but not all fresh futures relapse, else a fragile thaw (the
    policy never relapses but does not always reach durable rapprochement), else None (nothing to tell apart)."""
    for target in (OutcomeClass.RELAPSE.value, OutcomeClass.FRAGILE_THAW.value):
        hits = int((runs["outcome_class"] == target).sum())
        if 0 < hits < len(runs):
            return target
    return None


def scenario_yaml(scenario: Scenario) -> str:
    """The resolved scenario as it is saved beside the results."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
