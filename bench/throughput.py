"""Measure throughput and scaling of the model, all in one run on one machine, and print tables and ratios.

    python bench/throughput.py [--quick] [--clock {cpu,wall}] [--scenario scenarios/baseline.yaml]
                               [--sections N [N ...]]

``--sections`` runs only the sections named by number (default: all), e.g. ``--sections 5`` for the end-to-end
timings alone. Every figure is the median of several repetitions; the repetitions are printed beside it. In
sections 1-4 times are taken inside the process doing the work, so interpreter start-up and imports are never
counted; section 5 times whole commands and counts them on purpose. Work done in one process -
sections 1 and 3 - is timed by default with that process's CPU time (``time.process_time``, all its threads):
on a shared virtual machine the wall clock also counts the time other tenants hold the cores, which made
repetitions of one measurement differ by up to 40 %, while the CPU time a computation needs does not depend on
them. ``--clock wall`` times those sections with ``time.perf_counter`` instead. Section 2 compares one and two
worker processes and is always timed on the wall clock, since that is what a user waits for.
This script reports; it asserts nothing (targets that are not met are marked, not failed).

1. Citizen-updates per second at 2 x 20,000 citizens (one citizen-update = one citizen's monthly opinion
   update, so one month of the model is 40,000 updates):

   (w) the whole model: ``RapprochementModel`` built once (construction and its burn-in are not timed), then
       ``model.step()`` timed for a number of months. This is what a user gets, drivers, governments,
       Washington and data collection included.
   (a) a naive Mesa version of the same opinion update, defined here: one ``mesa.Agent`` per citizen, the
       forcing of ``PublicOpinion.absorb`` applied agent by agent (with representative constant forcing), a
       Deffuant round on a random matching built by shuffling each country's ``AgentSet`` and pairing
       consecutive agents in Python, then the Friedkin-Johnsen pull to each agent's anchor. It is what the
       model would cost without vectorisation, so w/a shows what the array design buys (target >= 50x).
   (b) the bare numpy kernel: per month and country, the forcing arithmetic of ``absorb`` plus
       ``sim.opinion.deffuant_step`` and ``sim.opinion.friedkin_johnsen_step``, nothing else. w/b shows how
       much of the model's time is overhead around the opinion kernel (target >= 1.0x).

   The naive and bare versions start from the citizens of a freshly built model, so all three update the same
   population with the same parameters.

   (w1) is a diagnostic, not a target: (w) again, in a subprocess whose BLAS and OpenMP pools are capped at one
   thread. The model keeps its reductions out of BLAS (a multithreaded ``np.dot`` on 20,000-long vectors
   stalled badly when other processes held the cores), so w/w1 should stay close to 1.

2. Batch scaling with workers: a baseline batch of 200 runs (default citizens) run and streamed to Parquet with
   ``sim.results.compute_batch`` (the command line's path: workers serialise runs, one process writes parts)
   into a temporary folder, W = 1 and W = 2
   (process-pool start-up included, since a user pays it). Target speed-up >= 1.8x.

3. Growth exponents: batch time (workers=1) as a function of the number of runs, of citizens per country (fixed
   runs) and of months (``meta.months``, fixed runs). The exponent is the slope of log(time) on log(size)
   fitted with ``numpy.polyfit`` is printed (fixed per-run and per-batch costs pull it below 1), and so is the
   exponent p of a least-squares fit of ``time = a + b * size**p``, which separates those fixed costs; linear
   growth is p = 1 and the target (0.9-1.1) applies to p. Sizes span 32x so that the size-dependent part is
   well determined.

4. Peak memory: a 400-run and a 100-run batch (workers=1, plots=False), each in a fresh subprocess that prints
   its peak resident memory. Results stream to disk, so the peak should hardly grow with runs (target ratio
   <= 1.3x). The ratio uses the child's ``VmHWM`` rather than ``ru_maxrss``, which on Linux also counts the
   parent's peak (see ``measure_memory``); both are printed. The peak of a subprocess that only imports the
   package is printed for context (not subtracted).

5. End to end: the commands as a user runs them. Each command is started in a fresh process
   (``subprocess.run``, timed on the wall clock with ``time.perf_counter`` from start to exit), through the
   ``rapprochement`` entry point installed beside this interpreter; every batch is ``--quiet`` and writes with
   ``--out`` into a temporary folder made for that one repetition, so no run finds results already complete.
   The reference is ``python -c "import numpy, pandas"``, the least a command of this package can cost; ratios
   are taken between medians of the same invocation, and the commands are interleaved repetition by repetition
   like every other section. Timed, with their targets:

   - ``--help`` and ``validate scenarios/baseline.yaml``: <= 1.5x the reference; ``--version``: reported.
   - ``run --runs 1`` with plots: reported.
   - 400 small runs (``--no-plots``, 200 citizens per country, 24 months), ``--workers 1`` and ``--workers 2``:
     speed-up of 2 workers >= 1.8x. Such runs are cheap, so this measures the per-run costs of the batch
     machinery (dispatch, collection, writing) rather than the model.
   - 200 baseline runs with ``--no-plots``, with plots and with plots + ``--report``, each at 1 and 2 workers:
     speed-up >= 1.6x for plots + ``--report``; the other two speed-ups are reported.
   - the command of ``make baseline`` (``run --runs 200 --seed 1 --report``, default workers): < 5 s.

   The figures are those of a set-up installation: a scenario with ``meta.start_state`` derives its start
   states on first use (about 4 s) and caches them in ``$RAPPROCHEMENT_CACHE`` or
   ``~/.cache/rapprochement/start_states``, and the first run after a change to the package compiles its
   bytecode. So the section first runs one untimed warm-up batch (``--runs 1 --report``) and one untimed
   ``validate``, printing their times, and only then times anything.

``--quick`` uses fewer repetitions and smaller batches so that sections 1-4 finish in about a minute; their
figures are coarser and the batch sizes used are printed with them. Section 5 keeps its commands as listed (their
sizes are part of the targets) and uses 3 repetitions instead of 5 under ``--quick``; it takes several minutes
either way.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

import mesa
import numpy as np
from mesa.agent import AgentSet
from numpy.typing import NDArray

from sim.agents.public import PublicOpinion
from sim.model import RapprochementModel
from sim.opinion import deffuant_step, friedkin_johnsen_step
from sim.results import compute_batch
from sim.runner import BatchPlan
from sim.scenario import OpinionDynamics, Scenario, load_scenario
from sim.start_state import cache_folder

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
#: Citizens per country for the throughput measurements.
CITIZENS = 20_000
#: Seed of every model and generator built here (identical work in every repetition).
SEED = 1


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions of one invocation (full or ``--quick``)."""

    repeats: int  # repetitions of the fast measurements (whole model, bare kernel)
    model_months: int  # months timed for (w) and (b)
    naive_repeats: int
    naive_months: int
    naive_citizens: int  # per country; 20,000 unless that is prohibitively slow
    batch_runs: int
    batch_repeats: int
    growth_runs: tuple[int, ...]
    growth_citizens: tuple[int, ...]
    growth_months: tuple[int, ...]
    growth_fixed_runs: int  # runs per batch in the citizens and months series
    growth_repeats: int
    memory_runs: tuple[int, int]  # (large, small)
    memory_repeats: int
    end_repeats: int  # repetitions of every command of section 5


FULL = Settings(
    repeats=11,
    model_months=60,
    naive_repeats=3,
    naive_months=6,
    naive_citizens=CITIZENS,
    batch_runs=200,
    batch_repeats=7,
    growth_runs=(25, 50, 100, 200),
    growth_citizens=(1000, 2000, 4000, 8000, 16000, 32000),
    growth_months=(15, 30, 60, 120, 240, 480),
    growth_fixed_runs=20,
    growth_repeats=9,
    memory_runs=(400, 100),
    memory_repeats=3,
    end_repeats=5,
)

QUICK = Settings(
    repeats=3,
    model_months=24,
    naive_repeats=2,
    naive_months=2,
    naive_citizens=CITIZENS,
    batch_runs=60,
    batch_repeats=2,
    growth_runs=(10, 20, 40),
    growth_citizens=(1000, 2000, 4000),
    growth_months=(15, 30, 60),
    growth_fixed_runs=4,
    growth_repeats=2,
    memory_runs=(100, 25),
    memory_repeats=1,
    end_repeats=3,
)


@dataclass(frozen=True)
class MonthForcing:
    """Representative constant forcing for the naive and bare versions (typical baseline magnitudes).

    The cost of ``absorb`` does not depend on these values: every term is computed whatever they are.
    """

    history: float = 0.2
    trade: float = 0.0
    goodwill: float = 0.3
    salience: float = 0.5
    threat: float = 0.6
    exchange_ratio: float = 0.9


FORCING = MonthForcing()


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one measurement, in seconds."""

    label: str
    seconds: list[float]

    @property
    def median(self) -> float:
        """Median over the repetitions."""
        return statistics.median(self.seconds)

    def reps(self) -> str:
        """The repetitions, for printing."""
        return ", ".join(f"{t:.3f}" for t in self.seconds)


@dataclass(frozen=True)
class Target:
    """One line of the summary: a measured value against its target."""

    measurement: str
    value: str
    target: str
    met: bool


def repeat[K](measures: Mapping[K, Callable[[], float]], repeats: int) -> dict[K, list[float]]:
    """Call every measure ``repeats`` times, interleaved (A, B, A, B, ...), garbage-collecting before each.

    Each measure returns the seconds it timed itself (setup excluded). Interleaving spreads any drift in the
    machine's background load evenly over the variants being compared.
    """
    times: dict[K, list[float]] = {key: [] for key in measures}
    for _ in range(repeats):
        for key, measure in measures.items():
            gc.collect()
            times[key].append(measure())
    return times


def load() -> str:
    """The 1-, 5- and 15-minute load averages, to judge how busy the machine was during a section."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def verdict(met: bool) -> str:
    """How a target is marked in the tables."""
    return "met" if met else "NOT met"


def big_scenario(path: Path, citizens: int) -> Scenario:
    """The scenario with ``citizens`` per country, as with ``--set publics.<country>.citizens=N``."""
    return load_scenario(path, [f"publics.korea.citizens={citizens}", f"publics.japan.citizens={citizens}"])


def populations(scenario: Scenario) -> list[PublicOpinion]:
    """The two publics of a freshly built model (after its burn-in): the common starting population."""
    model = RapprochementModel(scenario, rng=SEED)
    return list(model.publics.values())


# ------------------------------------------------------------------------------------------------------------
# 1 (w): the whole model


#: The clock of the single-process measurements (sections 1 and 3), set by ``--clock``.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock: Callable[[], float] = time.process_time


def time_whole_model(scenario: Scenario, months: int) -> float:
    """Seconds for ``months`` calls of ``model.step()`` on a model built (and burnt in) beforehand."""
    if months > scenario.meta.months:
        raise ValueError(f"the scenario has {scenario.meta.months} months, asked to time {months}")
    model = RapprochementModel(scenario, rng=SEED)
    started = clock()
    for _ in range(months):
        model.step()
    return clock() - started


#: Environment variables that cap the BLAS / OpenMP thread pools, set to 1 for the diagnostic run (w1).
ONE_THREAD = dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1")

ONE_THREAD_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import throughput as bench
scenario = bench.big_scenario(Path(sys.argv[2]), bench.CITIZENS)
months, repeats = int(sys.argv[3]), int(sys.argv[4])
bench.clock = bench.CLOCKS[sys.argv[5]]
print(*bench.repeat({"w1": lambda: bench.time_whole_model(scenario, months)}, repeats)["w1"])
"""


def time_whole_model_one_thread(path: Path, months: int, repeats: int) -> list[float]:
    """Repetitions of :func:`time_whole_model` in a subprocess whose BLAS may use only one thread.

    A diagnostic beside (w), not a target: numpy hands ``np.dot`` of two 1-D float arrays to BLAS, which may
    split it over threads; on a machine whose cores are busy those threads can cost far more than they save.
    The child is started with the same interpreter and times inside itself, like (w).
    """
    here = Path(__file__).resolve().parent
    done = subprocess.run(
        [sys.executable, "-c", ONE_THREAD_SCRIPT, str(here), str(path), str(months), str(repeats), clock_name()],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=os.environ | ONE_THREAD,
    )
    return [float(v) for v in done.stdout.split()]


# ------------------------------------------------------------------------------------------------------------
# 1 (a): a naive Mesa model, one agent per citizen


class Citizen(mesa.Agent["NaiveOpinionModel"]):
    """One citizen as a Mesa agent: the per-citizen state of ``PublicOpinion`` as Python floats."""

    def __init__(
        self,
        model: NaiveOpinionModel,
        opinion: float,
        anchor: float,
        nationalism: float,
        susceptibility: float,
        exchange_reach: float,
    ) -> None:
        """Register with the model and take over one citizen's state."""
        super().__init__(model)
        self.opinion = opinion
        self.anchor = anchor
        self.nationalism = nationalism
        self.susceptibility = susceptibility
        self.exchange_reach = exchange_reach

    def absorb(self, f: MonthForcing, d: OpinionDynamics) -> None:
        """The forcing formula of ``PublicOpinion.absorb`` for this one citizen (opinion and anchor)."""
        nat = self.nationalism
        x = self.opinion
        delta = -(d.history_push * f.history) * (0.2 + nat)
        delta -= (d.trade_push * f.trade) * (0.3 + nat)
        delta -= d.salience_mobilization * f.salience * nat
        delta += (d.goodwill_lift * f.goodwill) * (1.0 - nat)
        delta += (d.exchange_lift * f.exchange_ratio) * self.exchange_reach * (1.0 - x)
        delta += (d.threat_rally * f.threat) * (1.0 - nat)
        self.opinion = min(1.0, max(0.0, x + delta))
        self.anchor = min(1.0, max(0.0, self.anchor + d.anchor_absorption * delta))

    def anchor_pull(self) -> None:
        """Friedkin-Johnsen pull toward the anchor, clipped between opinion and anchor like the kernel."""
        s = self.susceptibility
        x = self.opinion
        x0 = self.anchor
        pulled = s * x + (1.0 - s) * x0
        self.opinion = min(max(x, x0), max(min(x, x0), pulled))


class NaiveOpinionModel(mesa.Model):
    """The opinion update of both publics with one ``Citizen`` agent per citizen and Python loops."""

    def __init__(self, publics: Sequence[PublicOpinion], forcing: MonthForcing, *, rng: int = SEED) -> None:
        """Create one agent per citizen of each public, copying its current state."""
        super().__init__(rng=rng)
        self.forcing = forcing
        self.dynamics = publics[0].dynamics
        self.countries: list[AgentSet[Citizen]] = []
        for public in publics:
            citizens = [
                Citizen(self, float(x), float(x0), float(nat), float(s), float(reach))
                for x, x0, nat, s, reach in zip(
                    public.opinions,
                    public.anchors,
                    public.nationalism,
                    public.susceptibility,
                    public.exchange_reach,
                    strict=True,
                )
            ]
            self.countries.append(AgentSet(citizens, random=self.random))

    def step(self) -> None:
        """One month: forcing, Deffuant rounds within each country, then the anchor pull."""
        d = self.dynamics
        self.agents.do("absorb", self.forcing, d)
        for country in self.countries:
            for _ in range(d.rounds_per_month):
                self.deffuant_round(country, d.confidence, d.convergence)
        self.agents.do("anchor_pull")

    @staticmethod
    def deffuant_round(country: AgentSet[Citizen], confidence: float, convergence: float) -> None:
        """Shuffle the agents, pair consecutive ones, and let each pair within ``confidence`` converge."""
        shuffled = iter(country.shuffle())
        for a, b in zip(shuffled, shuffled, strict=False):  # odd one out sits the round out
            gap = b.opinion - a.opinion
            if abs(gap) < confidence:
                shift = convergence * gap
                a.opinion += shift
                b.opinion -= shift

    def mean_opinion(self) -> float:
        """Mean opinion over all citizens (a sanity check beside the vectorised versions)."""
        return statistics.fmean(self.agents.get("opinion"))


def time_naive(publics: Sequence[PublicOpinion], months: int) -> tuple[float, float]:
    """Seconds for ``months`` steps of the naive Mesa model built from ``publics``, and its final mean opinion."""
    model = NaiveOpinionModel(publics, FORCING)
    gc.collect()
    started = clock()
    for _ in range(months):
        model.step()
    elapsed = clock() - started
    return elapsed, model.mean_opinion()


# ------------------------------------------------------------------------------------------------------------
# 1 (b): the bare numpy kernel


@dataclass
class BarePublic:
    """One country's arrays, as held by ``PublicOpinion``."""

    opinions: NDArray[np.float64]
    anchors: NDArray[np.float64]
    nationalism: NDArray[np.float64]
    susceptibility: NDArray[np.float64]
    exchange_reach: NDArray[np.float64]


def bare_month(public: BarePublic, f: MonthForcing, d: OpinionDynamics, rng: np.random.Generator) -> None:
    """The forcing arithmetic of ``absorb``, then ``deffuant_step`` rounds and ``friedkin_johnsen_step``."""
    nat = public.nationalism
    x = public.opinions
    delta = -(d.history_push * f.history) * (0.2 + nat)
    delta -= (d.trade_push * f.trade) * (0.3 + nat)
    delta -= d.salience_mobilization * f.salience * nat
    delta += (d.goodwill_lift * f.goodwill) * (1.0 - nat)
    delta += (d.exchange_lift * f.exchange_ratio) * public.exchange_reach * (1.0 - x)
    delta += (d.threat_rally * f.threat) * (1.0 - nat)
    x = np.clip(x + delta, 0.0, 1.0)
    public.anchors = np.clip(public.anchors + d.anchor_absorption * delta, 0.0, 1.0)
    for _ in range(d.rounds_per_month):
        x = deffuant_step(x, d.confidence, d.convergence, rng)
    public.opinions = friedkin_johnsen_step(x, public.anchors, public.susceptibility)


def time_bare(publics: Sequence[PublicOpinion], months: int) -> tuple[float, float]:
    """Seconds for ``months`` bare-kernel months on copies of ``publics``, and the final mean opinion."""
    state = [
        BarePublic(
            p.opinions.copy(),
            p.anchors.copy(),
            p.nationalism.copy(),
            p.susceptibility.copy(),
            p.exchange_reach.copy(),
        )
        for p in publics
    ]
    d = publics[0].dynamics
    rng = np.random.default_rng(SEED)
    gc.collect()
    started = clock()
    for _ in range(months):
        for public in state:
            bare_month(public, FORCING, d, rng)
    elapsed = clock() - started
    return elapsed, float(np.mean(np.concatenate([p.opinions for p in state])))


def measure_updates(path: Path, s: Settings) -> list[Target]:
    """Section 1: citizen-updates per second of the whole model, the naive Mesa model and the bare kernel."""
    print(f"\n## 1. Citizen-updates per second, 2 x {CITIZENS:,} citizens ({path.name})")
    print(f"load average now (1, 5, 15 min): {load()}")
    scenario = big_scenario(path, CITIZENS)
    publics = populations(scenario)
    updates = 2 * CITIZENS  # per month

    fast = repeat(
        {
            "(w) whole model": lambda: time_whole_model(scenario, s.model_months),
            "(b) bare numpy kernel": lambda: time_bare(publics, s.model_months)[0],
        },
        s.repeats,
    )
    whole, kernel = (Timing(label, times) for label, times in fast.items())
    one_thread = Timing(
        "(w1) whole model, 1 BLAS thread [diag]", time_whole_model_one_thread(path, s.model_months, s.repeats)
    )

    naive_publics = publics if s.naive_citizens == CITIZENS else populations(big_scenario(path, s.naive_citizens))
    naive_updates = 2 * s.naive_citizens
    naive_means: list[float] = []

    def naive() -> float:
        elapsed, mean = time_naive(naive_publics, s.naive_months)
        naive_means.append(mean)
        return elapsed

    label = "(a) naive Mesa, agent per citizen"
    naive_timing = Timing(label, repeat({label: naive}, s.naive_repeats)[label])

    rows = [
        (whole, s.model_months, updates),
        (naive_timing, s.naive_months, naive_updates),
        (kernel, s.model_months, updates),
        (one_thread, s.model_months, updates),
    ]
    rate = {}
    print(f"{'version':38} {'citizens':>9} {'months':>6} {'median s':>9} {'updates/s':>12}  repetitions (s)")
    for timing, months, per_month in rows:
        rate[timing.label] = per_month * months / timing.median
        print(
            f"{timing.label:38} {per_month:>9,} {months:>6} {timing.median:>9.3f} "
            f"{rate[timing.label]:>12,.0f}  {timing.reps()}"
        )
    if s.naive_citizens != CITIZENS:
        print(
            f"(a) was run at 2 x {s.naive_citizens:,} citizens (2 x {CITIZENS:,} is prohibitively slow); its "
            "cost is O(citizens), so updates/s are comparable per citizen-update."
        )
    _, bare_check = time_bare(naive_publics, s.naive_months)
    start = float(np.mean(np.concatenate([p.opinions for p in naive_publics])))
    print(
        f"sanity: mean opinion after {s.naive_months} month(s) from the same start ({start:.4f}): "
        f"naive {statistics.fmean(naive_means):.4f}, bare {bare_check:.4f}"
    )
    print(f"[diag] (w1) = (w) in a subprocess with {', '.join(f'{k}=1' for k in ONE_THREAD)}; not a target")
    w_a = rate[whole.label] / rate[naive_timing.label]
    w_b = rate[whole.label] / rate[kernel.label]
    w1_a = rate[one_thread.label] / rate[naive_timing.label]
    w1_b = rate[one_thread.label] / rate[kernel.label]
    print(f"w/a = {w_a:,.1f}x (target >= 50x: {verdict(w_a >= 50)})")
    print(f"w/b = {w_b:.2f}x (target >= 1.0x: {verdict(w_b >= 1.0)})")
    print(
        f"[diag] w1/a = {w1_a:,.1f}x, w1/b = {w1_b:.2f}x, w/w1 = {rate[whole.label] / rate[one_thread.label]:.2f}x"
    )
    return [
        Target("(w) whole model, citizen-updates/s", f"{rate[whole.label]:,.0f}", "-", True),
        Target("(a) naive Mesa, citizen-updates/s", f"{rate[naive_timing.label]:,.0f}", "-", True),
        Target("(b) bare kernel, citizen-updates/s", f"{rate[kernel.label]:,.0f}", "-", True),
        Target("w/a (whole model vs naive Mesa)", f"{w_a:,.1f}x", ">= 50x", w_a >= 50),
        Target("w/b (whole model vs bare kernel)", f"{w_b:.2f}x", ">= 1.0x", w_b >= 1.0),
        Target("[diag] (w1) 1 BLAS thread, citizen-updates/s", f"{rate[one_thread.label]:,.0f}", "-", True),
        Target("[diag] w1/a", f"{w1_a:,.1f}x", "-", True),
        Target("[diag] w1/b", f"{w1_b:.2f}x", "-", True),
    ]


# ------------------------------------------------------------------------------------------------------------
# 2 and 3: batches


def time_batch(
    scenario: Scenario, runs: int, workers: int, timer: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds to run a batch and stream it to a fresh temporary folder (no plots), on ``timer``.

    Only the wall clock sees the worker processes' time: a CPU clock is for ``workers=1`` (run in this process).
    """
    with tempfile.TemporaryDirectory() as tmp:
        started = timer()
        compute_batch(
            BatchPlan(scenario, runs, SEED), Path(tmp) / scenario.meta.name, workers=workers, plots=False
        )
        return timer() - started


def measure_workers(path: Path, s: Settings) -> list[Target]:
    """Section 2: the same batch with 1 and with 2 worker processes."""
    print(f"\n## 2. Batch scaling with workers ({s.batch_runs} runs, default citizens, plots off)")
    print(f"load average now (1, 5, 15 min): {load()}")
    scenario = load_scenario(path)
    measures = {workers: partial(time_batch, scenario, s.batch_runs, workers) for workers in (1, 2)}
    timings = {
        workers: Timing(f"workers={workers}", t) for workers, t in repeat(measures, s.batch_repeats).items()
    }
    print(f"{'workers':>7} {'median s':>9} {'runs/s':>8}  repetitions (s)")
    for workers, timing in timings.items():
        print(f"{workers:>7} {timing.median:>9.2f} {s.batch_runs / timing.median:>8.1f}  {timing.reps()}")
    speedup = timings[1].median / timings[2].median
    print(f"speed-up W=2 over W=1 = {speedup:.2f}x (target >= 1.8x: {verdict(speedup >= 1.8)})")
    return [Target(f"speed-up 2 vs 1 workers ({s.batch_runs} runs)", f"{speedup:.2f}x", ">= 1.8x", speedup >= 1.8)]


def fit_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float:
    """Slope of log(time) on log(size): the raw growth exponent, fixed costs included (1 = linear)."""
    slope, _ = np.polyfit(np.log(np.asarray(sizes, dtype=float)), np.log(np.asarray(seconds, dtype=float)), 1)
    return float(slope)


def fit_variable_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """Exponent p of ``time = a + b * size**p`` (least squares, a >= 0) and its standard error.

    p says how the size-dependent part grows. A cost that does not depend on the size (building a model,
    writing a run, per-month bookkeeping that does not touch citizens) bends the raw log-log slope below 1 even
    when the work that does depend on the size grows exactly linearly; fitting the constant separately measures
    the scaling itself. The standard error (from the fit's covariance) shows how far timing noise alone can
    move p: with six sizes and three parameters, a few per cent of noise in one median moves it by about 0.05.
    """
    from scipy.optimize import curve_fit

    x = np.asarray(sizes, dtype=float)
    y = np.asarray(seconds, dtype=float)
    scale = x.max()

    def model(size: NDArray[np.float64], a: float, b: float, p: float) -> NDArray[np.float64]:
        return a + b * (size / scale) ** p

    guess = (float(y.min()) / 2, float(y.max()), 1.0)
    params, covariance = curve_fit(
        model, x, y, p0=guess, bounds=([0.0, 0.0, 0.1], [np.inf, np.inf, 3.0]), maxfev=20000
    )
    return float(params[2]), float(np.sqrt(covariance[2, 2]))


def growth_series(
    name: str, sizes: Sequence[int], make: Callable[[int], tuple[Scenario, int]], repeats: int
) -> Target:
    """Time batches over ``sizes`` (``make`` gives the scenario and run count of a size) and fit the exponents.

    Prints the raw log-log slope and the exponent of the size-dependent part (``fit_variable_exponent``); the
    target applies to the latter, which is what scaling means once fixed costs are separated.
    """
    print(f"{name}:")
    print(f"  {'size':>6} {'runs':>5} {'median s':>9}  repetitions (s)")
    batches = {size: make(size) for size in sizes}
    measures = {size: partial(time_batch, sc, runs, 1, clock) for size, (sc, runs) in batches.items()}
    medians = []
    for size, times in repeat(measures, repeats).items():
        timing = Timing(str(size), times)
        medians.append(timing.median)
        print(f"  {size:>6} {batches[size][1]:>5} {timing.median:>9.3f}  {timing.reps()}")
    raw = fit_exponent(sizes, medians)
    exponent, error = fit_variable_exponent(sizes, medians)
    met = 0.9 <= exponent <= 1.1
    print(
        f"  raw log-log slope {raw:.3f}; exponent of the size-dependent part {exponent:.3f} "
        f"(standard error {error:.3f}; target 0.9-1.1: {verdict(met)})"
    )
    value = f"{exponent:.3f} ± {error:.3f}"
    return Target(f"growth exponent in {name} (raw slope {raw:.2f})", value, "0.9-1.1", met)


def measure_growth(path: Path, s: Settings) -> list[Target]:
    """Section 3: growth of batch time with runs, citizens per country and months (workers=1)."""
    print(f"\n## 3. Growth exponents (workers=1, plots off, median of {s.growth_repeats})")
    print(f"load average now (1, 5, 15 min): {load()}")
    baseline = load_scenario(path)
    fixed = s.growth_fixed_runs
    return [
        growth_series("runs", s.growth_runs, lambda n: (baseline, n), s.growth_repeats),
        growth_series(
            f"citizens per country ({fixed} runs)",
            s.growth_citizens,
            lambda n: (big_scenario(path, n), fixed),
            s.growth_repeats,
        ),
        growth_series(
            f"months ({fixed} runs)",
            s.growth_months,
            lambda n: (load_scenario(path, [f"meta.months={n}"]), fixed),
            s.growth_repeats,
        ),
    ]


# ------------------------------------------------------------------------------------------------------------
# 4: peak memory

MEMORY_SCRIPT = """
import resource, sys, tempfile
from pathlib import Path
from sim.results import compute_batch
from sim.runner import BatchPlan
from sim.scenario import load_scenario
scenario, runs = load_scenario(sys.argv[1]), int(sys.argv[2])
if runs:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / scenario.meta.name
        compute_batch(BatchPlan(scenario, runs, 1), out, workers=1, plots=False)
status = Path("/proc/self/status")
hwm = [line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm[0] if hwm else -1)
"""


@dataclass(frozen=True)
class Peak:
    """Peak memory of one subprocess, in MiB, as two counters report it."""

    maxrss: float  # getrusage(RUSAGE_SELF).ru_maxrss: also counts the parent's peak (see measure_memory)
    hwm: float | None  # VmHWM of /proc/self/status: this process image only (None where there is no /proc)


def peak_memory(path: Path, runs: int) -> Peak:
    """Peak resident memory of a fresh Python process that runs a batch of ``runs`` (0 = imports only)."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(runs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    maxrss, hwm = (int(v) for v in done.stdout.split()[-2:])
    return Peak(maxrss / 1024, hwm / 1024 if hwm >= 0 else None)  # both are KiB on Linux


def measure_memory(path: Path, s: Settings) -> list[Target]:
    """Section 4: peak RSS of a large and a small batch, each in its own subprocess.

    On Linux a child's ``ru_maxrss`` is at least the parent's own peak RSS at the time it started the child (the
    kernel carries the high-water mark of the address space replaced by ``exec`` into the child's counter), and
    this benchmark's parent, having built the 40,000-agent naive model, can peak above a whole small batch. So
    the ratio uses ``VmHWM``, the peak of the child's own address space, with ``ru_maxrss`` printed beside it.
    """
    large, small = s.memory_runs
    print(f"\n## 4. Peak memory (fresh subprocess each, workers=1, plots off, median of {s.memory_repeats})")
    print(f"load average now (1, 5, 15 min): {load()}")
    sizes = (0, small, large)
    measured = {runs: [peak_memory(path, runs) for _ in range(s.memory_repeats)] for runs in sizes}
    use_hwm = all(p.hwm is not None for peaks in measured.values() for p in peaks)
    print(f"{'runs':>5} {'VmHWM MiB':>10} {'ru_maxrss MiB':>14}  repetitions VmHWM (ru_maxrss) MiB")
    medians = {}
    for runs, peaks in measured.items():
        hwm = [p.hwm if p.hwm is not None else float("nan") for p in peaks]
        maxrss = [p.maxrss for p in peaks]
        medians[runs] = statistics.median(hwm if use_hwm else maxrss)
        reps = ", ".join(f"{h:.1f} ({m:.1f})" for h, m in zip(hwm, maxrss, strict=True))
        label = "0*" if runs == 0 else str(runs)
        print(f"{label:>5} {statistics.median(hwm):>10.1f} {statistics.median(maxrss):>14.1f}  {reps}")
    print("* imports only, for context; nothing is subtracted")
    counter = "VmHWM" if use_hwm else "ru_maxrss (no /proc: may include the parent's peak)"
    ratio = medians[large] / medians[small]
    print(
        f"peak {large} runs / {small} runs by {counter} = {ratio:.3f}x (target <= 1.3x: {verdict(ratio <= 1.3)})"
    )
    return [Target(f"peak memory {large} vs {small} runs", f"{ratio:.3f}x", "<= 1.3x", ratio <= 1.3)]


# ------------------------------------------------------------------------------------------------------------
# 5: end to end, the commands as a user runs them

#: Overrides that make the runs of the "many small runs" batch cheap, so the batch is dominated by per-run costs
#: (dispatch, collection, writing) rather than by the model.
SMALL_RUN = (
    "--set",
    "publics.korea.citizens=200",
    "--set",
    "publics.japan.citizens=200",
    "--set",
    "meta.months=24",
)

#: Label of the reference command, the start-up every other command is compared with.
REFERENCE = "reference: import numpy, pandas"


@dataclass(frozen=True)
class Command:
    """One command line timed end to end, in a fresh process per repetition."""

    label: str
    argv: tuple[str, ...]
    writes: bool  # gets ``--out`` with a fresh temporary folder each time (batches)

    def shown(self) -> str:
        """The command line as a user would type it, the temporary output folder written as ``<tmp>``."""
        return shlex.join([*self.argv, *(("--out", "<tmp>") if self.writes else ())])


def launcher() -> list[str]:
    """How a user starts the command line: the installed ``rapprochement`` entry point beside this interpreter.

    The entry point is what ``make baseline`` and users run, so it is timed rather than ``python -m sim`` (which
    also imports ``sim/__main__.py``); ``python -m sim`` is the fallback where no entry point is installed.
    """
    script = Path(sys.executable).parent / "rapprochement"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sim"]


def end_to_end_commands(path: Path) -> dict[str, Command]:
    """The commands of section 5, by label, in the order they are run and printed."""
    cli = launcher()
    scenario = str(path)

    def run(label: str, *options: str) -> Command:
        return Command(label, (*cli, "run", scenario, *options, "--quiet"), writes=True)

    commands = [
        Command(REFERENCE, (sys.executable, "-c", "import numpy, pandas"), writes=False),
        Command("--help", (*cli, "--help"), writes=False),
        Command("--version", (*cli, "--version"), writes=False),
        Command("validate", (*cli, "validate", scenario), writes=False),
        run("run --runs 1, plots", "--runs", "1"),
        *(
            run(f"400 small runs, W={w}", "--runs", "400", "--no-plots", *SMALL_RUN, "--workers", str(w))
            for w in (1, 2)
        ),
        *(run(f"200 runs no plots, W={w}", "--runs", "200", "--no-plots", "--workers", str(w)) for w in (1, 2)),
        *(run(f"200 runs plots, W={w}", "--runs", "200", "--workers", str(w)) for w in (1, 2)),
        *(run(f"200 runs plots+report, W={w}", "--runs", "200", "--report", "--workers", str(w)) for w in (1, 2)),
        run("make baseline (default W)", "--runs", "200", "--seed", str(SEED), "--report"),
    ]
    return {c.label: c for c in commands}


class CommandFailed(RuntimeError):
    """A timed command exited with an error: its time means nothing, so the section stops."""


def time_command(command: Command) -> float:
    """Wall-clock seconds of one run of ``command`` in a fresh process, from start to exit.

    A batch writes into a temporary folder made for this repetition alone, so no run finds results already
    there; making and deleting the folder is not timed. Output is captured (a user's terminal would show it,
    but the batches are ``--quiet``, so there is little) and shown only if the command fails.
    """
    with tempfile.TemporaryDirectory(prefix="rapprochement-bench-") as tmp:
        argv = [*command.argv, *(("--out", tmp) if command.writes else ())]
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-20:])
        raise CommandFailed(f"{command.shown()} exited with {done.returncode}:\n{tail}")
    return elapsed


def warm_up(path: Path) -> None:
    """Run, untimed, what a first use sets up, so that section 5 times commands "once set up".

    A scenario with ``meta.start_state`` derives its start states on first use (a few seconds) and caches them;
    the cache is keyed on the model's source, so any change to the model derives them again. The first run
    after a change to the package also compiles its bytecode. One batch with plots and a report, and one
    ``validate``, touch all of that; their times are printed so a slow first use is visible.
    """
    cli = launcher()
    steps = [
        Command("warm-up run", (*cli, "run", str(path), "--runs", "1", "--report", "--quiet"), writes=True),
        Command("warm-up validate", (*cli, "validate", str(path)), writes=False),
    ]
    for step in steps:
        print(f"{step.label} (untimed): {step.shown()} ... {time_command(step):.2f} s")


@dataclass(frozen=True)
class Row:
    """One line of the end-to-end table: a command's timing, its ratio and its target."""

    timing: Timing
    ratio: str
    target: str
    met: bool | None  # None: reported only, no target

    @property
    def verdict(self) -> str:
        """``met``, ``NOT met``, or ``-`` for a command that is reported only."""
        return "-" if self.met is None else verdict(self.met)


def measure_end_to_end(path: Path, s: Settings) -> list[Target]:
    """Section 5: whole commands in fresh processes on the wall clock, against the start-up of numpy + pandas."""
    print(f"\n## 5. End to end: the commands as a user runs them (wall clock, median of {s.end_repeats})")
    print(f"load average now (1, 5, 15 min): {load()}")
    print(f"launcher: {shlex.join(launcher())}; start-state cache: {cache_folder()}")
    warm_up(path)
    commands = end_to_end_commands(path)
    measures = {label: partial(time_command, command) for label, command in commands.items()}
    timing = {label: Timing(label, t) for label, t in repeat(measures, s.end_repeats).items()}
    median = {label: t.median for label, t in timing.items()}
    reference = median[REFERENCE]

    def versus_reference(label: str, limit: float | None) -> Row:
        ratio = median[label] / reference
        if limit is None:
            return Row(timing[label], f"{ratio:.2f}x ref", "-", None)
        return Row(timing[label], f"{ratio:.2f}x ref", f"<= {limit}x", ratio <= limit)

    def speed_up(kind: str, limit: float | None) -> list[Row]:
        one, two = f"{kind}, W=1", f"{kind}, W=2"
        ratio = median[one] / median[two]
        target, met = ("-", None) if limit is None else (f">= {limit}x", ratio >= limit)
        return [Row(timing[one], "", "", None), Row(timing[two], f"{ratio:.2f}x W1/W2", target, met)]

    baseline = "make baseline (default W)"
    rows = [
        Row(timing[REFERENCE], "1.00x ref", "-", None),
        versus_reference("--help", 1.5),
        versus_reference("--version", None),
        versus_reference("validate", 1.5),
        versus_reference("run --runs 1, plots", None),
        *speed_up("400 small runs", 1.8),
        *speed_up("200 runs no plots", None),
        *speed_up("200 runs plots", None),
        *speed_up("200 runs plots+report", 1.6),
        Row(timing[baseline], "", "< 5 s", median[baseline] < 5.0),
    ]

    print("commands (each repetition writes into a fresh temporary folder <tmp>):")
    for label, command in commands.items():
        print(f"  {label}: {command.shown()}")
    label_width = max(len(label) for label in commands)
    reps_width = max(len(t.reps()) for t in timing.values())
    print(
        f"{'command':{label_width}} {'median s':>9}  {'repetitions (s)':{reps_width}}  "
        f"{'ratio':>14}  {'target':>12}  verdict"
    )
    for row in rows:
        t = row.timing
        print(
            f"{t.label:{label_width}} {t.median:>9.2f}  {t.reps():{reps_width}}  "
            f"{row.ratio:>14}  {row.target or '':>12}  {row.verdict if row.target else ''}"
        )
    print("ratio: median over the reference's median, or W=1's median over W=2's (speed-up), both from this run")

    def summary(label: str, row: Row, value: str | None = None) -> Target:
        met = True if row.met is None else row.met
        return Target(f"end to end: {label}", value or row.ratio, row.target or "-", met)

    by_label = {row.timing.label: row for row in rows}
    return [
        summary("--help vs reference", by_label["--help"]),
        summary("--version vs reference", by_label["--version"]),
        summary("validate vs reference", by_label["validate"]),
        summary("run --runs 1, plots", by_label["run --runs 1, plots"], f"{median['run --runs 1, plots']:.2f} s"),
        summary("400 small runs, speed-up W=2", by_label["400 small runs, W=2"]),
        summary("200 runs no plots, speed-up W=2", by_label["200 runs no plots, W=2"]),
        summary("200 runs plots, speed-up W=2", by_label["200 runs plots, W=2"]),
        summary("200 runs plots+report, speed-up W=2", by_label["200 runs plots+report, W=2"]),
        summary("make baseline", by_label[baseline], f"{median[baseline]:.2f} s"),
    ]


# ------------------------------------------------------------------------------------------------------------


def version_of(package: str) -> str:
    """Installed version of a package, or a note that it is missing."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_context(path: Path, quick: bool, sections: Sequence[int]) -> None:
    """The machine and software the figures were measured on, and how the script was invoked."""
    print("# Throughput benchmark" + (" (--quick)" if quick else ""))
    print(f"sections: {', '.join(map(str, sections))}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"cwd: {Path.cwd()}")
    print(f"scenario: {path}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}")
    print(f"cores available (sched_getaffinity): {len(os.sched_getaffinity(0))} (os.cpu_count: {os.cpu_count()})")
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    limits = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in ONE_THREAD)
    print(f"numpy BLAS: {blas.get('name')} {blas.get('version')}; thread limits: {limits}")
    print(f"load average at start (1, 5, 15 min): {load()}")
    print(f"clock of sections 1 and 3: {clock_name()}; sections 2 and 5: wall")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), numpy {np.__version__}, "
        f"mesa {mesa.__version__}, pandas {version_of('pandas')}, pyarrow {version_of('pyarrow')}"
    )


def clock_name() -> str:
    """The ``--clock`` name of the current single-process clock."""
    return next(name for name, c in CLOCKS.items() if c is clock)


def print_summary(targets: Sequence[Target]) -> None:
    """The closing table: measurement, value, target, met?"""
    print("\n## Summary")
    width = max(len(t.measurement) for t in targets)
    print(f"{'measurement':{width}}  {'value':>14}  {'target':>9}  met?")
    for t in targets:
        met = "-" if t.target == "-" else ("yes" if t.met else "NO")
        print(f"{t.measurement:{width}}  {t.value:>14}  {t.target:>9}  {met}")


#: The sections by number, in the order they run.
SECTIONS: dict[int, Callable[[Path, Settings], list[Target]]] = {
    1: measure_updates,
    2: measure_workers,
    3: measure_growth,
    4: measure_memory,
    5: measure_end_to_end,
}


def main() -> None:
    """Run the chosen sections (all by default) in order and print their tables and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and smaller batches (sections 1-4 in ~1 minute)"
    )
    parser.add_argument("--scenario", type=Path, default=BASELINE, help="scenario file (default: baseline)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="clock of sections 1 and 3: the process's CPU time (default) or the wall clock",
    )
    parser.add_argument(
        "--sections",
        type=int,
        nargs="+",
        choices=sorted(SECTIONS),
        default=sorted(SECTIONS),
        metavar="N",
        help="run only these sections, e.g. --sections 5 or --sections 2 5 (default: all, in order)",
    )
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    path = args.scenario.resolve()
    settings = QUICK if args.quick else FULL
    sections = sorted(set(args.sections))
    print_context(path, args.quick, sections)
    started = time.perf_counter()
    targets = [target for n in sections for target in SECTIONS[n](path, settings)]
    print_summary(targets)
    print(f"\nload average at end (1, 5, 15 min): {load()}")
    print(f"total wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
