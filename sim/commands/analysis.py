"""Subcommands of the analysis family (see sim/commands/__init__.py): compare, report, sensitivity, discover.

Each is a thin shell over ``sim.analysis``: it parses options, calls the library, and prints what was written.
An ``AnalysisError`` (a user's mistake: a missing or foreign folder, an unknown outcome, results that cannot be
analysed together) is a ``RapprochementError``: the command exits with code 2, one message and nothing written.
The analysis modules (Jinja2, scikit-learn) are imported inside the handlers, so that every other command of
``rapprochement`` starts without loading them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.analysis.common import check_fresh, open_results, resolve_metric
from sim.cli import (
    EXIT_FAILED_RUNS,
    UsageError,
    batch_options,
    command_parser,
    factor_option,
    load_all,
    positive_int,
    run_plans,
)
from sim.designs import DesignError, DesignKind, check_analysable, factors_of, make_design
from sim.results import BatchStore
from sim.runner import BatchPlan


def _outcome_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outcome",
        dest="outcomes",
        action="append",
        default=[],
        metavar="NAME",
        help="outcome to plot, e.g. relations_index (repeatable; default: the key outcomes)",
    )


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.analysis.compare import headline_lines
    from sim.analysis.report import write_comparison

    comparison, folder = write_comparison(args.results, args.out, force=args.force, outcomes=args.outcomes)
    for label, reason in comparison.unpaired.items():
        print(
            f"warning: {label} cannot be paired with {comparison.labels[0]}: {reason}; it was not run with "
            "common random numbers (same --seed and design), so it is compared unpaired "
            "(Welch and Newcombe intervals)",
            file=sys.stderr,
        )
    for line in headline_lines(comparison):
        print(line)
    print(f"comparison -> {folder}/ (report.html, differences.csv, classes.csv, plots/)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.analysis.report import write_report

    folder = write_report(args.results, args.out, force=args.force, outcomes=args.outcomes)
    print(f"report -> {folder}/report.html")
    return 0


#: Options that only matter when the sensitivity command runs a sweep (their argparse defaults are None, so that a
#: re-analysis of a sweep folder can tell they were given); the values used when none is given.
SWEEP_ONLY = {"samples": 16, "runs": 10, "seed": 1, "factors": [], "overrides": [], "resume": False}
SWEEP_FLAGS = {
    "samples": "--samples",
    "runs": "--runs",
    "seed": "--seed",
    "factors": "--factor",
    "overrides": "--set",
    "resume": "--resume",
    "force_sweep": "--force-sweep",
}


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.analysis.sensitivity import DEFAULT_OUTPUTS, write_sensitivity

    outputs = [resolve_metric(name) for name in args.outputs] or list(DEFAULT_OUTPUTS)
    target: Path = args.target
    if target.is_dir():
        # An existing sweep: analyse it again (different outputs, say) without running anything. Options that
        # would shape a sweep are refused rather than silently ignored.
        given = [flag for dest, flag in SWEEP_FLAGS.items() if getattr(args, dest) not in (None, False, [])]
        if given:
            raise UsageError(
                f"{target}: {', '.join(given)} only apply when running a sweep from a scenario file; a sweep "
                "folder is re-analysed as it was run"
            )
        sweep_dir = target
        sweep = open_results(target)
        kind = ((sweep.manifest.get("identity") or {}).get("design") or {}).get("kind")
        if args.method is not None and kind is not None and args.method != kind:
            raise UsageError(f"{target}: --method {args.method}, but this sweep was run on a {kind} design")
        name = (
            target.name.replace("_sweep_", "_sensitivity_")
            if "_sweep_" in target.name
            else f"{target.name}_sensitivity"
        )
        # --out is the folder the analysis goes into, as for a scenario; by default beside the sweep.
        out = (args.out if args.out is not None else target.parent) / name
        check_fresh(out, force=args.force)
    else:
        for dest, default in SWEEP_ONLY.items():
            if getattr(args, dest) is None:
                setattr(args, dest, default)
        args.out = args.out if args.out is not None else Path("results")
        if args.method is None:
            raise UsageError(f"{target}: --method sobol or --method morris is needed to run a sensitivity sweep")
        [(path, scenario)] = load_all([target], args.overrides)
        try:
            factors = factors_of(scenario, args.factors)
            design = make_design(args.method, factors, samples=args.samples, seed=args.seed)
            check_analysable(design)  # refused before any run, not after the sweep
        except DesignError as exc:
            raise UsageError(f"{path}: {exc}") from None
        sweep_dir = args.out / f"{scenario.meta.name}_sweep_{design.kind}"
        out = args.out / f"{scenario.meta.name}_sensitivity_{design.kind}"
        check_fresh(out, force=args.force)  # refused before any run, not after
        plan = BatchPlan(scenario, args.runs, args.seed, design)
        if BatchStore(sweep_dir, plan).is_complete():
            # The same design, seed and scenario: the runs would be identical, so they are reused.
            print(f"{scenario.meta.name}: reusing the complete sweep in {sweep_dir}/")
        else:
            # --force replaces the analysis; only --force-sweep may start a sweep over (an interrupted one is
            # finished with --resume), so an analysis option never discards runs.
            code = run_plans(
                [(path, plan, sweep_dir)], argparse.Namespace(**(vars(args) | {"force": args.force_sweep}))
            )
            if code == EXIT_FAILED_RUNS:  # finished with failed runs: the analysis needs every point
                print(f"to analyse what finished: rapprochement sensitivity {sweep_dir}", file=sys.stderr)
            if code != 0:
                return code
        sweep = open_results(sweep_dir)
    table, notes = write_sensitivity(sweep, out, outputs=outputs, force=args.force, plots=not args.no_plots)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for output, part in table.groupby("output", sort=False):
        key = "ST" if "ST" in part.columns else "mu_star"
        top = part.sort_values(key, ascending=False).head(3)
        ranked = ", ".join(
            f"{r['factor']} {key} {r[key]:.2f} ± {r[key + '_conf']:.2f}" for r in top.to_dict("records")
        )
        print(f"{output}: {ranked}")
    print(f"sensitivity -> {out}/ (indices.csv{'' if args.no_plots else ', sensitivity_*.png/svg'}, report.html)")
    print(f"{sweep.manifest.get('scenario') or sweep.path.name}: report -> {out / 'report.html'}")
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from sim.analysis.discovery import write_discovery

    batch = open_results(args.results)
    out = args.out if args.out is not None else batch.path.parent / f"{batch.path.name}_discovery_{args.target}"
    discovery = write_discovery(
        batch, out, target=args.target, max_depth=args.max_depth, min_leaf=args.min_leaf, force=args.force
    )
    print(
        f"{discovery.hits} of {discovery.runs} runs end in {args.target} ({discovery.base_rate:.0%}); "
        f"factors: {', '.join(discovery.factors)}"
    )
    if not discovery.rules:
        print(f"no box of parameters leads to {args.target} more often than the whole space does")
    for i, rule in enumerate(discovery.rules, start=1):
        print(f"rule {i}: {rule.sentence(args.target, discovery.names)}")
    print(f"discovery -> {out}/ (rules.csv, discovery.png/svg, report.html)")
    print(f"{batch.manifest.get('scenario') or batch.path.name}: report -> {out / 'report.html'}")
    return 0


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.05, got {text!r}") from None
    if not 0.0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 0.5, got {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this family's subcommands to the ``rapprochement`` parser."""
    compare = command_parser(
        sub,
        "compare",
        description=(
            "Compare scenarios against the first one given. Results run with the same --seed (and design) share "
            "common random numbers and are compared pairwise, replication by replication; others unpaired."
        ),
    )
    compare.add_argument("results", nargs="+", type=Path, help="results folders; the first is the reference")
    compare.add_argument(
        "--out", type=Path, default=None, help="output folder (default: compare_<names> beside the first)"
    )
    compare.add_argument("--force", action="store_true", help="replace an earlier comparison in --out")
    _outcome_option(compare)
    compare.set_defaults(handler=_cmd_compare)

    report = command_parser(sub, "report")
    report.add_argument("results", type=Path, help="results folder")
    report.add_argument("--out", type=Path, default=None, help="output folder (default: <results>/report)")
    report.add_argument("--force", action="store_true", help="replace an earlier report in --out")
    _outcome_option(report)
    report.set_defaults(handler=_cmd_report)

    sensitivity = command_parser(
        sub,
        "sensitivity",
        description=(
            "Runs a sobol or morris sweep of the scenario's uncertainties (as 'sweep' does, into "
            "<out>/<name>_sweep_<method>, resumable; a complete identical sweep is reused), averages each design "
            "point's replications and writes SALib's indices with bootstrap intervals to "
            "<out>/<name>_sensitivity_<method>/. Given a sweep's results folder instead, it only re-analyses it "
            "(into <name>_sensitivity_<method> beside the folder)."
        ),
    )
    sensitivity.add_argument("target", type=Path, help="scenario YAML file, or the results folder of a sweep")
    sensitivity.add_argument("--method", choices=[DesignKind.SOBOL.value, DesignKind.MORRIS.value], default=None)
    sensitivity.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        help="base samples (sobol: a power of two) or trajectories, at least 2 (default 16)",
    )
    sensitivity.add_argument("--runs", type=positive_int, default=None, help="replications per point (default 10)")
    factor_option(sensitivity, default=None)  # None: not given (a sweep folder refuses it)
    sensitivity.add_argument(
        "--output",
        dest="outputs",
        action="append",
        default=[],
        metavar="NAME",
        help="what to explain: an outcome (its final value), an outcome class (its probability) or "
        "window_relations_index (repeatable; default: window_relations_index and relapse)",
    )
    batch_options(sensitivity)
    sensitivity.add_argument(
        "--force-sweep",
        action="store_true",
        help="start the sweep over: replace another batch's results in its folder, or discard an interrupted "
        "one (--force replaces only the analysis)",
    )
    # None marks "not given": a sweep folder refuses these, a scenario gets SWEEP_ONLY's values.
    sensitivity.set_defaults(handler=_cmd_sensitivity, seed=None, overrides=None, resume=None, out=None)

    discover = command_parser(
        sub,
        "discover",
        description=(
            "Scenario discovery: fits a decision tree to the runs' sampled parameters and reports the boxes of "
            "parameters in which runs end in the target class, with density (share of runs in the box that do) "
            "and coverage (share of all such runs inside the box)."
        ),
    )
    discover.add_argument(
        "results", type=Path, help="results folder of a sweep (or of a batch with uncertainties)"
    )
    discover.add_argument(
        "--target", default="relapse", metavar="CLASS", help="outcome class to explain (default relapse)"
    )
    discover.add_argument(
        "--max-depth", type=positive_int, default=3, help="most parameters a rule may limit (default 3)"
    )
    discover.add_argument(
        "--min-leaf", type=_share, default=0.05, help="smallest box, as a share of runs (default 0.05)"
    )
    discover.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <results>_discovery_<target> beside it)"
    )
    discover.add_argument("--force", action="store_true", help="replace an earlier discovery in --out")
    discover.set_defaults(handler=_cmd_discover)
