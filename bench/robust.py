"""Time the robust policy search against the same search driven through the EMA Workbench, in one run.

    python bench/robust.py [--generations 50] [--population 40] [--futures 100] [--workers 2]
                           [--citizens 100] [--months 12] [--repeats 3] [--rate-candidates 10] [--skip-ema]

Two measurements, each of this project's machinery beside the EMA Workbench's (``pip install '.[bench]'``):

1. **Candidate evaluations per second**: ``--rate-candidates`` lever settings, each on ``--futures`` futures, on
   ``--workers`` processes - through ``sim.robust``'s batch of tasks on the project's process pool, and through
   ``MultiprocessingEvaluator.perform_experiments`` calling ``sim.simulate`` once per candidate and future (its
   futures are ``--futures`` seeds). Medians of ``--repeats``; the serial rate of ours is the reference of the
   speed-up.
2. **A whole search**: ``--generations`` x ``--population`` candidates x ``--futures`` futures - through the
   ``rapprochement robust`` command (without figures; one fresh future re-checks one policy, so the figure is the
   search), and through ``MultiprocessingEvaluator.robust_optimize`` with platypus' NSGA-II of the same population
   and number of candidate evaluations (``nfe``), its robustness functions the same three metrics from
   ``sim.simulate``'s outcomes. Run once each (they take minutes).

The scenario is ``scenarios/robust_seoul.yaml`` with ``--citizens`` per public and ``--months`` months, so that one
run takes a few milliseconds and the machinery, not the model, is what is compared. Without the EMA Workbench the
benchmark says so and reports this project's figures alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim.api import simulate
from sim.cli import main as cli_main
from sim.executors import make_executor
from sim.robust import SearchPlan, _tasks, evaluate_all, evaluate_task
from sim.scenario import RobustMetric, Scenario, load_scenario
from sim.start_state import prepare_start_states

SCENARIO = Path("scenarios/robust_seoul.yaml")
SUMMITS = (None, 6, 12)
FORBIDDEN: tuple[tuple[str, ...], ...] = ((), ("hardline_gesture",), ("hardline_gesture", "end_gsomia"))
_loaded: dict[tuple[str, ...], Scenario] = {}
_overrides: tuple[str, ...] = ()


def scenario(overrides: tuple[str, ...]) -> Scenario:
    """The benchmark's scenario, loaded once per process."""
    if overrides not in _loaded:
        _loaded[overrides] = load_scenario(SCENARIO, overrides)
    return _loaded[overrides]


def ema_model(
    future: int = 0,
    cooperation_priority: float = 0.0,
    summit: int = 0,
    forbidden: int = 0,
    capital_weight: float = 1.0,
    program_scale: float = 1.0,
) -> dict[str, float]:
    """One candidate in one future, as the EMA Workbench calls a model: through ``sim.simulate``."""
    result = simulate(
        scenario(_overrides),
        seed=int(future),
        levers__seoul__cooperation_priority=float(cooperation_priority),
        levers__seoul__summit_every_months=SUMMITS[int(summit)],
        levers__seoul__forbidden_moves=list(FORBIDDEN[int(forbidden)]),
        actors__seoul__capital_weight=float(capital_weight),
        drivers__exchange__program_scale=float(program_scale),
    )
    return {
        "window_relations_index": result["window_relations_index"],
        "durable": result["is_durable_rapprochement"],
        "approval_cost": 100.0 * (0.55 - result["seoul_approval"]),
    }


def random_levers(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` lever settings drawn uniformly (ours and the Workbench's rate use the same ones)."""
    rng = np.random.default_rng(seed)
    return [
        {
            "levers.seoul.cooperation_priority": float(rng.uniform(-0.3, 0.8)),
            "levers.seoul.summit_every_months": SUMMITS[int(rng.integers(3))],
            "levers.seoul.forbidden_moves": list(FORBIDDEN[int(rng.integers(3))]),
            "actors.seoul.capital_weight": float(rng.uniform(0.3, 3.0)),
            "drivers.exchange.program_scale": float(rng.uniform(1.0, 3.0)),
        }
        for _ in range(count)
    ]


def our_rate(loaded: Scenario, settings: list[dict[str, Any]], futures: int, workers: int) -> float:
    """Seconds to evaluate the settings on the futures with ``sim.robust``'s tasks on ``workers`` processes."""
    with make_executor(workers) as executor:
        tasks = _tasks(loaded, 1, list(enumerate(settings)), [(f, f) for f in range(futures)], executor.workers)
        started = time.perf_counter()
        evaluate_all(executor, tasks, evaluate_task)
        return time.perf_counter() - started


def ema_parts(futures: int) -> tuple[Any, Any, list[Any]]:
    """The Workbench's model (levers, a future parameter, outcomes) and the futures as samples."""
    from ema_workbench import IntegerParameter, Model, RealParameter, Sample, ScalarOutcome

    model = Model("rapprochement", function=ema_model)
    model.uncertainties = [IntegerParameter("future", 0, futures - 1)]
    model.levers = [
        RealParameter("cooperation_priority", -0.3, 0.8),
        IntegerParameter("summit", 0, 2),
        IntegerParameter("forbidden", 0, 2),
        RealParameter("capital_weight", 0.3, 3.0),
        RealParameter("program_scale", 1.0, 3.0),
    ]
    model.outcomes = [
        ScalarOutcome("window_relations_index"),
        ScalarOutcome("durable"),
        ScalarOutcome("approval_cost"),
    ]
    samples = [Sample(name=f"future {f}", future=f) for f in range(futures)]
    return model, ScalarOutcome, samples


def ema_rate(settings: list[dict[str, Any]], futures: int, workers: int) -> float:
    """Seconds for the Workbench's multiprocessing evaluator to run the same settings on ``futures`` seeds."""
    from ema_workbench import MultiprocessingEvaluator, Sample

    model, _, samples = ema_parts(futures)
    policies = [
        Sample(
            name=f"policy {i}",
            cooperation_priority=s["levers.seoul.cooperation_priority"],
            summit=SUMMITS.index(s["levers.seoul.summit_every_months"]),
            forbidden=FORBIDDEN.index(tuple(s["levers.seoul.forbidden_moves"])),
            capital_weight=s["actors.seoul.capital_weight"],
            program_scale=s["drivers.exchange.program_scale"],
        )
        for i, s in enumerate(settings)
    ]
    with MultiprocessingEvaluator(model, n_processes=workers) as evaluator:
        started = time.perf_counter()
        evaluator.perform_experiments(scenarios=samples, policies=policies)
        return time.perf_counter() - started


def our_search(args: argparse.Namespace, overrides: tuple[str, ...]) -> float:
    """Seconds of ``rapprochement robust`` (no figures) for the benchmark's sizes."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["robust", str(SCENARIO), "--generations", str(args.generations), "--population"]
        argv += [str(args.population), "--futures", str(args.futures), "--check-futures", "1"]
        argv += ["--check-policies", "1", "--workers", str(args.workers), "--out", tmp, "--no-plots", "--quiet"]
        for override in overrides:
            argv += ["--set", override]
        started = time.perf_counter()
        code = cli_main(argv)
        seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"rapprochement robust exited with {code}")
    return seconds


def ema_search(args: argparse.Namespace) -> float:
    """Seconds of the Workbench's robust_optimize with platypus' NSGA-II, the same sizes and metrics."""
    from ema_workbench import MultiprocessingEvaluator
    from platypus import NSGAII, Archive

    model, scalar, samples = ema_parts(args.futures)
    metrics = [
        scalar("durable_share", kind=scalar.MAXIMIZE, variable_name="durable", function=np.mean),
        scalar(
            "p10_relations_index",
            kind=scalar.MAXIMIZE,
            variable_name="window_relations_index",
            function=lambda x: float(np.quantile(x, 0.1)),
        ),
        scalar("approval_cost", kind=scalar.MINIMIZE, variable_name="approval_cost", function=np.mean),
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        MultiprocessingEvaluator(model, n_processes=args.workers) as evaluator,
    ):
        started = time.perf_counter()
        evaluator.robust_optimize(
            metrics,
            samples,
            algorithm=NSGAII,
            archive=Archive(),  # the Workbench stores the archive of non-dominated solutions
            nfe=args.generations * args.population,
            population_size=args.population,
            rng=1,
            convergence_freq=10**9,
            logging_freq=10**9,
            filename="archives.tar.gz",  # the Workbench insists on storing its convergence archives
            directory=tmp,
        )
        return time.perf_counter() - started


def main() -> None:
    """Run the measurements and print medians and ratios."""
    global _overrides
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--population", type=int, default=40)
    parser.add_argument("--futures", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate-candidates", type=int, default=10)
    parser.add_argument("--skip-ema", action="store_true", help="report this project's figures only")
    parser.add_argument("--skip-search", action="store_true", help="only the evaluation rates")
    args = parser.parse_args()
    _overrides = (
        f"publics.korea.citizens={args.citizens}",
        f"publics.japan.citizens={args.citizens}",
        f"meta.months={args.months}",
    )
    loaded = scenario(_overrides)
    prepare_start_states(loaded)
    SearchPlan(loaded, (RobustMetric.DURABLE_SHARE,), args.futures, 4, 1, 1, 1, 1)  # the scenario is searchable
    ema = not args.skip_ema
    if ema:
        try:
            import ema_workbench  # noqa: F401
        except ImportError:
            ema = False
            print("EMA Workbench not installed (pip install '.[bench]'): reporting this project's figures only")
    settings = random_levers(args.rate_candidates, seed=7)
    runs = args.rate_candidates * args.futures
    print(
        f"scenario {SCENARIO} with {args.citizens} citizens a public, {args.months} months; "
        f"{args.rate_candidates} candidates x {args.futures} futures = {runs} runs a repeat, "
        f"{args.repeats} repeats"
    )
    our_rate(loaded, settings[:1], 2, 1)  # warm up: this process's first run reads the start states
    serial = statistics.median(our_rate(loaded, settings, args.futures, 1) for _ in range(args.repeats))
    ours = statistics.median(our_rate(loaded, settings, args.futures, args.workers) for _ in range(args.repeats))
    print("| evaluator | candidates/s | runs/s | ms/run | vs ours, 1 process |")
    print("|---|---|---|---|---|")
    for name, seconds in (("ours, 1 process", serial), (f"ours, {args.workers} processes", ours)):
        rate = args.rate_candidates / seconds
        print(
            f"| {name} | {rate:.2f} | {runs / seconds:.0f} | {1000 * seconds / runs:.2f} | "
            f"{serial / seconds:.2f}x |"
        )
    if ema:
        theirs = statistics.median(ema_rate(settings, args.futures, args.workers) for _ in range(args.repeats))
        rate = args.rate_candidates / theirs
        print(
            f"| EMA Workbench, {args.workers} processes | {rate:.2f} | {runs / theirs:.0f} | "
            f"{1000 * theirs / runs:.2f} | {serial / theirs:.2f}x |"
        )
        print(
            f"ours / EMA Workbench, {args.workers} processes: {theirs / ours:.2f}x the candidate evaluations "
            "a second"
        )
    if args.skip_search:
        return
    size = f"{args.generations} generations x {args.population} candidates x {args.futures} futures"
    seconds = our_search(args, _overrides)
    print(f"search of {size}: rapprochement robust {seconds:.1f} s")
    if ema:
        theirs = ema_search(args)
        print(f"search of {size}: EMA Workbench robust_optimize (platypus NSGA-II) {theirs:.1f} s")
        print(f"EMA Workbench / ours: {theirs / seconds:.2f}x the wall time")


if __name__ == "__main__":
    main()
