"""The ``robust`` subcommand: a many-objective search over a scenario's levers for policies that keep
rapprochement durable across its futures, their re-evaluation on fresh futures and where they fail.

A thin shell over :mod:`sim.robust`: it checks every input (scenario, metrics, sizes, the output folder, the
executor, pymoo) before anything is written, drives the search with a progress bar, and prints what was found.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from sim.cli import EXIT_INTERRUPTED, UsageError, batch_options, command_parser, load_all, positive_int


def _metrics(names: list[str], path: Path, declared: tuple[object, ...]) -> tuple[object, ...]:
    from sim.robust import DEFAULT_METRICS
    from sim.scenario import RobustMetric

    if not names:
        return tuple(declared) or DEFAULT_METRICS
    known = [m.value for m in RobustMetric]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"--metric {unknown[0]!r}: expected one of {', '.join(known)}")
    if len(set(names)) != len(names):
        raise UsageError(f"--metric: each metric may be named once, got {', '.join(names)}")
    return tuple(RobustMetric(n) for n in names)


def _cmd_robust(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.analysis.robust import metric_estimate, write_results
    from sim.executors import make_executor
    from sim.robust import SearchError, SearchPlan, SearchStore, run_search
    from sim.runner import default_workers
    from sim.scenario import RobustMetric
    from sim.start_state import prepare_start_states

    [(path, scenario)] = load_all([args.scenario], args.overrides)
    declared = scenario.search.metrics if scenario.search is not None else ()
    metrics = _metrics(args.metrics, path, declared)
    try:
        import pymoo  # noqa: F401  (refused here, before any folder is touched)
    except ImportError:
        raise UsageError(
            "rapprochement robust needs pymoo: pip install '.[robust]' (or 'pymoo>=0.6.2,<0.7')"
        ) from None
    try:
        plan = SearchPlan(
            scenario,
            metrics,  # type: ignore[arg-type]
            futures=args.futures,
            population=args.population,
            generations=args.generations,
            root_seed=args.seed,
            check_futures=args.check_futures or 4 * args.futures,
            check_policies=args.check_policies,
        )
    except SearchError as exc:
        raise UsageError(f"{path}: {exc}") from None
    out_dir = args.out / f"{scenario.meta.name}_robust"
    command = shlex.join(["rapprochement", *sys.argv[1:]]) if sys.argv[1:2] == ["robust"] else ""
    with make_executor(args.workers or default_workers(), args.dask) as executor:
        store = SearchStore(out_dir, plan)
        state = store.open(force=args.force)
        name = scenario.meta.name
        if state == "complete":
            print(
                f"{name}: the search is already complete in {out_dir}/ ({plan.generations} generations); "
                "--force computes it again, --generations N continues it"
            )
            return 0
        if state in ("resumed", "extended"):
            print(f"{name}: continuing the search from generation {store.stored + 1} of {plan.generations}")
        prepare_start_states(scenario)
        total = plan.generations * plan.population * plan.futures + plan.check_policies * plan.check_futures
        started = time.perf_counter()
        with tqdm(total=total, desc=name, unit="run", disable=args.quiet, file=sys.stderr, smoothing=0.1) as bar:

            def generation_done(generation: int, stored: bool) -> None:
                bar.set_postfix_str(f"generation {generation + 1}/{plan.generations}")

            try:
                result = run_search(plan, store, executor, progress=bar.update, on_generation=generation_done)
            except KeyboardInterrupt:
                print(
                    f"interrupted: {name} has its finished generations saved in {store.staging}; run the same "
                    "command to continue",
                    file=sys.stderr,
                )
                return EXIT_INTERRUPTED
        written = write_results(
            result,
            store,
            plots=not args.no_plots,
            command=command,
            source=str(path),
            overrides=args.overrides,
        )
    seconds = time.perf_counter() - started
    print(
        f"{name}: {len(result.candidates)} candidates x {plan.futures} futures in {seconds:.1f} s; "
        f"{len(result.pareto)} {'policy' if len(result.pareto) == 1 else 'policies'} in the Pareto set -> "
        f"{written.folder}/"
    )
    table = result.reevaluation
    for policy, part in table.groupby("policy", sort=False):
        levers = result.pareto.loc[result.pareto["policy"] == policy, "levers"].iloc[0]
        values = ", ".join(
            f"{r['metric']} "
            + metric_estimate(
                RobustMetric(str(r["metric"])), float(r["fresh"]), float(r["ci_low"]), float(r["ci_high"])
            )
            for r in part.to_dict("records")
        )
        print(f"policy {policy} on {plan.check_futures} fresh futures: {values}  ({levers})")
    if written.target is None:
        print("the chosen policy ends the same way in every fresh future: no failure to explain")
    elif not written.rules:
        print(f"no box of future parameters explains where the chosen policy ends in {written.target}")
    for i, rule in enumerate(written.rules, start=1):
        print(f"where it fails, rule {i}: {rule}")
    print(f"{name}: report -> {written.folder / 'report.html'}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``robust`` subcommand."""
    robust = command_parser(
        sub,
        "robust",
        description=(
            "Many-objective search (NSGA-II, pymoo) over the levers of the scenario's search block: every "
            "candidate policy is judged on the same futures (common random numbers), the chosen policies are "
            "re-evaluated on fresh futures, and scenario discovery says where the chosen policy fails. Results go "
            "to <out>/<name>_robust/; an interrupted search is continued by running the same command again."
        ),
    )
    robust.add_argument("scenario", type=Path, help="scenario YAML file with a search block")
    robust.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        default=[],
        metavar="NAME",
        help="durable_share, p10_relations_index, approval_cost_seoul, approval_cost_tokyo or regret "
        "(repeatable; default: the scenario's search.metrics, else durable_share and p10_relations_index)",
    )
    robust.add_argument("--generations", type=positive_int, default=50, help="generations (default 50)")
    robust.add_argument("--population", type=positive_int, default=40, help="candidates a generation (default 40)")
    robust.add_argument("--futures", type=positive_int, default=100, help="futures per candidate (default 100)")
    robust.add_argument(
        "--check-futures",
        type=positive_int,
        default=None,
        help="fresh futures for the re-evaluation (default 4 x --futures)",
    )
    robust.add_argument(
        "--check-policies", type=positive_int, default=5, help="Pareto policies to re-evaluate (default 5)"
    )
    batch_options(robust)  # --resume is accepted but changes nothing: an interrupted search always continues
    robust.set_defaults(handler=_cmd_robust)
