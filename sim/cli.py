"""The ``rapprochement`` command: the only module that prints.

Subcommands: ``run`` (a batch per scenario, written to results/<scenario>/), ``validate`` (check scenario files),
``schema`` (the scenario JSON Schema, or its Markdown reference). A user's mistake - a bad scenario, a bad
override, results that would be overwritten - is reported in one message naming the file and field, with exit
code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from sim.loading import ScenarioError
from sim.results import ResultsConflict, check_target, write_batch
from sim.runner import default_workers, run_batch
from sim.scenario import Scenario, load_scenario
from sim.schema_doc import json_schema, markdown_reference

EXIT_USAGE = 2
MAX_RUNS = 1_000_000


class UsageError(Exception):
    """One or more user mistakes, each already a complete message naming file and field."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    if value > MAX_RUNS:
        raise argparse.ArgumentTypeError(f"expected a number <= {MAX_RUNS}, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole-number seed, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and 2**63-1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="rapprochement",
        description="Scenario simulator of South Korea-Japan rapprochement (Seoul, Tokyo, Washington, publics).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a Monte-Carlo batch of each scenario and plot the outcomes")
    run.add_argument("scenarios", nargs="+", type=Path, help="scenario YAML files")
    run.add_argument("--runs", type=_positive_int, default=200, help="replications (default 200)")
    run.add_argument("--seed", type=_seed, default=1, help="root seed of the batch (default 1)")
    run.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario parameter, e.g. drivers.security.nk_provocation_rate=3 (repeatable)",
    )
    run.add_argument("--force", action="store_true", help="replace results of another scenario or seed")
    run.add_argument("--no-plots", action="store_true", help="skip the plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    validate = sub.add_parser("validate", help="check scenario files and report every problem")
    validate.add_argument("scenarios", nargs="+", type=Path)
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    schema = sub.add_parser("schema", help="print the scenario JSON Schema (or its Markdown reference)")
    schema.add_argument("--format", choices=("json", "markdown"), default="json")
    return parser


def _load_all(paths: Sequence[Path], overrides: Sequence[str]) -> list[tuple[Path, Scenario]]:
    """Load every scenario before running any, so a mistake in the last file costs no computing time."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append((path, load_scenario(path, tuple(overrides))))
        except ScenarioError as exc:
            if str(exc) not in problems:  # a bad --set is reported once, not once per scenario
                problems.append(str(exc))
    if problems:
        raise UsageError("\n".join(problems))
    names = [s.meta.name for _, s in loaded]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(
            "\n".join(
                f"{', '.join(str(p) for p, s in loaded if s.meta.name == n)}: meta.name: "
                f"{n!r} is used by more than one scenario in this batch (results would collide)"
                for n in duplicates
            )
        )
    return loaded


def _advance(bar: tqdm) -> None:
    bar.update()


def _cmd_run(args: argparse.Namespace) -> int:
    loaded = _load_all(args.scenarios, args.overrides)
    workers = args.workers or default_workers()
    # Check every target before running anything, so a refusal costs no results and no time.
    for _, scenario in loaded:
        check_target(args.out / scenario.meta.name, scenario, args.seed, force=args.force)
    for path, scenario in loaded:
        out_dir = args.out / scenario.meta.name
        started = time.perf_counter()
        with tqdm(
            total=args.runs,
            desc=scenario.meta.name,
            unit="run",
            disable=args.quiet,
            file=sys.stderr,
        ) as bar:
            manifest = write_batch(
                run_batch(scenario, args.runs, args.seed, workers=workers),
                scenario,
                out_dir,
                root_seed=args.seed,
                runs=args.runs,
                source=str(path),
                overrides=tuple(args.overrides),
                force=args.force,
                plots=not args.no_plots,
                on_run=lambda _result: _advance(bar),
            )
        seconds = time.perf_counter() - started
        shares = ", ".join(
            f"{name} {count / args.runs:.0%}" for name, count in manifest["outcome_classes"].items()
        )
        print(f"{scenario.meta.name}: {args.runs} runs in {seconds:.1f} s -> {out_dir}/  ({shares})")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    for path, scenario in _load_all(args.scenarios, args.overrides):
        print(
            f"{path}: ok ({scenario.meta.name}, {scenario.meta.start} + {scenario.meta.months} months, "
            f"events: {len(scenario.events)}, uncertainties: {len(scenario.uncertainties)})"
        )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.format == "json":
        print(json.dumps(json_schema(), indent=2))
    else:
        print(markdown_reference(), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rapprochement`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    commands = {"run": _cmd_run, "validate": _cmd_validate, "schema": _cmd_schema}
    try:
        return commands[args.command](args)
    except (UsageError, ScenarioError, ResultsConflict) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: no results were written for the unfinished scenario", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
