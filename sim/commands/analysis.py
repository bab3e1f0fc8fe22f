"""Subcommands of the analysis family (see sim/commands/__init__.py): compare, report, sensitivity, discover.

Each is a thin shell over ``sim.analysis``: it parses options, calls the library, and prints what was written.
An ``AnalysisError`` (a user's mistake: a missing or foreign folder, an unknown outcome, results that cannot be
analysed together) becomes ``UsageError``, so the command exits with code 2, one message and nothing written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from sim.analysis.common import AnalysisError


def _usage_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the library's AnalysisError into the command line's UsageError (exit 2, no traceback)."""
    from sim.cli import UsageError

    @wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except AnalysisError as exc:
            raise UsageError(str(exc)) from None

    return wrapped


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
    from sim.analysis.report import write_comparison

    comparison, folder = write_comparison(args.results, args.out, force=args.force, outcomes=args.outcomes)
    for label, reason in comparison.unpaired.items():
        print(
            f"warning: {label} cannot be paired with {comparison.labels[0]}: {reason}; it was not run with "
            "common random numbers (same --seed and --runs), so it is compared unpaired "
            "(Welch and Newcombe intervals)",
            file=sys.stderr,
        )
    table = comparison.differences
    headline = table[table["metric"].isin(["window_relations_index", "share_relapse"])]
    for row in headline.to_dict("records"):
        scale, unit = (100.0, "pp") if str(row["metric"]).startswith("share_") else (1.0, "")
        low, mid, high = (float(row[key]) * scale for key in ("ci_low", "difference", "ci_high"))
        print(
            f"{row['scenario']} - {row['reference']}: {row['label']} {mid:+.3g}{unit} "
            f"[{low:+.3g}, {high:+.3g}] ({row['method']}, n = {row['n']})"
        )
    print(f"comparison -> {folder}/ (report.html, differences.csv, classes.csv, plots/)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.analysis.report import write_report

    folder = write_report(args.results, args.out, force=args.force, outcomes=args.outcomes)
    print(f"report -> {folder}/report.html")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this family's subcommands to the ``rapprochement`` parser."""
    compare = sub.add_parser(
        "compare",
        help="compare results folders: overlaid fans, paired differences with intervals, report.html",
        description=(
            "Compare scenarios against the first one given. Results run with the same --seed and --runs share "
            "common random numbers and are compared pairwise, replication by replication; others unpaired."
        ),
    )
    compare.add_argument("results", nargs="+", type=Path, help="results folders; the first is the reference")
    compare.add_argument(
        "--out", type=Path, default=None, help="output folder (default: compare_<names> beside the first)"
    )
    compare.add_argument("--force", action="store_true", help="replace an earlier comparison in --out")
    _outcome_option(compare)
    compare.set_defaults(handler=_usage_errors(_cmd_compare))

    report = sub.add_parser("report", help="write a self-contained report.html of a results folder")
    report.add_argument("results", type=Path, help="results folder")
    report.add_argument("--out", type=Path, default=None, help="output folder (default: <results>/report)")
    report.add_argument("--force", action="store_true", help="replace an earlier report in --out")
    _outcome_option(report)
    report.set_defaults(handler=_usage_errors(_cmd_report))
