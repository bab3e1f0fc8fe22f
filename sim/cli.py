"""The ``rapprochement`` command: with sim/commands, the only code that prints.

Subcommands: ``run`` (a batch per scenario, written to results/<scenario>/), ``validate`` (check scenario files),
``schema`` (the scenario JSON Schema, or its Markdown reference). A user's mistake - a bad scenario, a bad
override, results that would be overwritten - is reported in one message naming the file and field, with exit
code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import EXIT_USAGE, RapprochementError, UsageError  # noqa: F401 (EXIT_USAGE: part of the interface)

if TYPE_CHECKING:
    from tqdm import tqdm

    from sim.runner import BatchPlan
    from sim.scenario import Scenario

EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130
MAX_RUNS = 1_000_000


def package_version() -> str:
    """The installed version of rapprochement (``unknown`` when run from a source tree that is not installed)."""
    try:
        return metadata.version("rapprochement")
    except metadata.PackageNotFoundError:
        return "unknown"


def positive_int(text: str) -> int:
    """argparse type: a whole number from 1 to MAX_RUNS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    if value > MAX_RUNS:
        raise argparse.ArgumentTypeError(f"expected a number <= {MAX_RUNS}, got {value}")
    return value


def seed_value(text: str) -> int:
    """argparse type: a root seed that numpy's SeedSequence accepts."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole-number seed, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and 2**63-1, got {value}")
    return value


def set_option(parser: argparse.ArgumentParser) -> None:
    """The repeatable ``--set PATH=VALUE`` scenario override (into ``overrides``), for the command families."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario parameter, e.g. drivers.security.nk_provocation_rate=3 (repeatable)",
    )


def factor_option(parser: argparse.ArgumentParser, default: list[str] | None = None) -> None:
    """The repeatable ``--factor PATH=LOW:HIGH`` (into ``factors``); ``default`` None marks it as not given."""
    parser.add_argument(
        "--factor",
        dest="factors",
        action="append",
        default=default,
        metavar="PATH=LOW:HIGH",
        help="add or re-range a factor, e.g. levers.seoul.cooperation_priority=-0.5:0.5 (repeatable)",
    )


def batch_options(parser: argparse.ArgumentParser) -> None:
    """The options every batch-running command shares (seed, workers, Dask, output, overrides, resume)."""
    parser.add_argument("--seed", type=seed_value, default=1, help="root seed of the batch (default 1)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None,
        help="run on Dask: 'local' starts a LocalCluster on 127.0.0.1, or tcp://HOST:8786 (needs .[dask])",
    )
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    set_option(parser)
    parser.add_argument("--resume", action="store_true", help="finish an interrupted batch")
    parser.add_argument("--force", action="store_true", help="replace results of another batch, or start over")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that defines its options and handler (``register(sub)``), and its one-line help."""

    module: str
    help: str


#: Every subcommand, grouped by the module that defines it. A command's module - and what it imports (Mesa,
#: pyarrow, matplotlib, SALib, scikit-learn, pyabc, the UI) - is loaded only when that command runs, so
#: ``--help``, ``--version`` and ``validate`` start in a fraction of the time.
COMMANDS: dict[str, Command] = {
    "run": Command("sim.cli", "run a Monte-Carlo batch of each scenario and plot the outcomes"),
    "sweep": Command("sim.cli", "run a design over a scenario's uncertain parameters and levers"),
    "validate": Command("sim.cli", "check scenario files and report every problem"),
    "schema": Command("sim.cli", "print the scenario JSON Schema (or its Markdown reference)"),
    "calibrate": Command(
        "sim.commands.validation", "fit named parameters to the polls (ABC posterior, or least squares)"
    ),
    "backtest": Command("sim.commands.validation", "run the historical scenario many times against the polls"),
    "replay": Command(
        "sim.commands.validation",
        "the autonomous replay: do the model's governments make the record's moves? and the secondary patterns "
        "of the scripted replay",
    ),
    "screen": Command(
        "sim.commands.validation",
        "Morris screening of the replay's error against the polls over every behavioural parameter",
    ),
    "compare": Command(
        "sim.commands.analysis",
        "compare results folders: overlaid fans, paired differences with intervals, report.html",
    ),
    "report": Command("sim.commands.analysis", "write a self-contained report.html of a results folder"),
    "sensitivity": Command(
        "sim.commands.analysis",
        "Sobol or Morris sensitivity of outcomes to a scenario's uncertainties (runs the sweep, then SALib)",
    ),
    "discover": Command(
        "sim.commands.analysis",
        "which assumptions lead to relapse? decision-tree boxes over a sweep's sampled parameters",
    ),
    "robust": Command(
        "sim.commands.robust",
        "which levers keep rapprochement durable across the futures? many-objective search, fresh re-evaluation",
    ),
    "dashboard": Command("sim.commands.exercise", "serve the browser dashboard (Mesa SolaraViz) on 127.0.0.1"),
    "exercise": Command("sim.commands.exercise", "play a scenario as a class exercise, one team per capital"),
}


def command_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, description: str | None = None
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, with its help from ``COMMANDS`` (for the modules' ``register``)."""
    return sub.add_parser(name, help=COMMANDS[name].help, description=description)


def requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option), or None (``--help``)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None, *, every: bool = False) -> argparse.ArgumentParser:
    """The command-line interface, with the options of the command ``argv`` names (of every command if ``every``).

    The other commands are listed with their help only, so parsing ``argv`` imports only the module of the
    command it runs.
    """
    parser = argparse.ArgumentParser(
        prog="rapprochement",
        description="Scenario simulator of South Korea-Japan rapprochement (Seoul, Tokyo, Washington, publics).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = requested_command(sys.argv[1:] if argv is None else argv)
    modules = (
        {c.module for c in COMMANDS.values()}
        if every
        else {COMMANDS[wanted].module}
        if wanted in COMMANDS
        else set()
    )
    registered: set[str] = set()
    for name, command in COMMANDS.items():
        if command.module in modules:
            if command.module not in registered:  # a module adds all of its commands at once
                registered.add(command.module)
                importlib.import_module(command.module).register(sub)
        else:
            sub.add_parser(name, help=command.help)  # listed in --help; never parsed
    return parser


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands: run, sweep, validate, schema."""
    from sim.designs import DesignKind

    run = command_parser(sub, "run")
    run.add_argument("scenarios", nargs="+", type=Path, help="scenario YAML files, or folders of them")
    run.add_argument("--runs", type=positive_int, default=200, help="replications (default 200)")
    run.add_argument(
        "--report", action="store_true", help="also write <out>/<scenario>/report/report.html (printable)"
    )
    batch_options(run)
    run.set_defaults(handler=_cmd_run)

    sweep = command_parser(sub, "sweep")
    sweep.add_argument("scenario", type=Path, help="scenario YAML file")
    sweep.add_argument("--design", choices=[k.value for k in DesignKind], required=True)
    sweep.add_argument(
        "--samples", type=positive_int, default=16, help="design size parameter N (see README; default 16)"
    )
    sweep.add_argument("--runs", type=positive_int, default=10, help="replications per design point (default 10)")
    sweep.add_argument("--levels", type=positive_int, default=3, help="levels per factor (factorial; default 3)")
    factor_option(sweep, default=[])
    batch_options(sweep)
    sweep.set_defaults(handler=_cmd_sweep)

    validate = command_parser(sub, "validate")
    validate.add_argument("scenarios", nargs="+", type=Path)
    set_option(validate)
    validate.set_defaults(handler=_cmd_validate)

    schema = command_parser(sub, "schema")
    schema.add_argument("--format", choices=("json", "markdown"), default="json")
    schema.set_defaults(handler=_cmd_schema)


def load_all(paths: Sequence[Path], overrides: Sequence[str]) -> list[tuple[Path, Scenario]]:
    """Load every scenario before running any, so a mistake in the last file costs no computing time."""
    from sim.loading import ScenarioError
    from sim.scenario import load_scenario

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


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Scenario files named directly, and the ``*.yaml`` files of named folders (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
            if not found:
                raise UsageError(f"{path}: folder holds no scenario files (*.yaml)")
            files.extend(found)
        else:
            files.append(path)
    return files


def run_plans(
    plans: Sequence[tuple[Path, BatchPlan, Path]], args: argparse.Namespace, *, report: bool = False
) -> int:
    """Run batches into their folders with the options of ``batch_options``; returns the exit code.

    With ``report``, each finished batch also gets its printable report (``<out>/report/report.html``).

    The executor is built first (a missing Dask or an unreachable scheduler is refused before anything is
    written), then every store is opened (each checks its target, so a refusal costs no computing time), then
    the batches are computed. A batch whose folder already holds it, finished, is reported and not computed
    again. A finished batch's figures and report are drawn on the executor's workers, one figure a task, while
    the next batch's runs compute; each folder is swapped into place once its figures are drawn."""
    from tqdm import tqdm

    from sim.analysis.finishing import Finishing, finish, start_finishing
    from sim.executors import make_executor
    from sim.results import BatchStore, drive, load_manifest
    from sim.runner import default_workers

    # One pool for every batch, started before anything is written (see sim.executors.ProcessExecutor).
    with make_executor(args.workers or default_workers(), args.dask) as executor:
        stores = [
            BatchStore(out_dir, plan, source=str(path), overrides=tuple(args.overrides))
            for path, plan, out_dir in plans
        ]
        for store in stores:  # every refusal (an interrupted batch, a different one) before any run starts
            store.open(force=args.force, resume=args.resume, plots=not args.no_plots)
        failed_batches = 0
        finishing: list[tuple[Finishing, int, float]] = []
        for store in stores:
            plan, name = store.plan, store.plan.scenario.meta.name
            if store.complete:
                failed = len(load_manifest(store.out_dir)["failed_runs"])
                print(
                    f"{name}: already complete in {store.out_dir}/ ({plan.total} runs"
                    + (f", {failed} of them FAILED" if failed else "")
                    + "); --force computes it again"
                )
                failed_batches += bool(failed)
                if report and not (store.out_dir / "report" / "report.html").exists():
                    from sim.analysis.report import write_report

                    print(f"{name}: report -> {write_report(store.out_dir) / 'report.html'}")
                continue
            pending = store.pending()
            started = time.perf_counter()
            try:
                with tqdm(
                    total=plan.total,
                    initial=plan.total - len(pending),
                    desc=name,
                    unit="run",
                    disable=args.quiet,
                    file=sys.stderr,
                    smoothing=0.1,
                ) as bar:
                    drive(store, executor, on_result=lambda _outcome: _advance(bar))
            except KeyboardInterrupt:
                store.flush()
                done = plan.total - len(store.pending())
                print(
                    f"interrupted: {name} has {done} of {plan.total} runs saved in {store.staging}; "
                    "run the same command with --resume to finish it",
                    file=sys.stderr,
                )
                return EXIT_INTERRUPTED
            finishing.append(
                (start_finishing(store, executor, plots=not args.no_plots, report=report), len(pending), started)
            )
        for job, computed, started in finishing:
            store, name = job.store, job.store.plan.scenario.meta.name
            manifest = finish(job)
            seconds = time.perf_counter() - started
            total = store.plan.total
            shares = ", ".join(f"{k} {v / total:.0%}" for k, v in manifest["outcome_classes"].items())
            print(f"{name}: {computed} runs in {seconds:.1f} s -> {store.out_dir}/  ({shares})")
            if job.report:
                print(f"{name}: report -> {store.out_dir / 'report' / 'report.html'}")
            if manifest["failed_runs"]:
                failed_batches += 1
                print(f"{name}: {len(manifest['failed_runs'])} runs FAILED:", file=sys.stderr)
                for failure in manifest["failed_runs"][:10]:
                    print(f"  run {failure['run']} (seed {failure['seed']}): {failure['error']}", file=sys.stderr)
    return EXIT_FAILED_RUNS if failed_batches else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.runner import BatchPlan

    loaded = load_all(expand_paths(args.scenarios), args.overrides)
    plans = [
        (path, BatchPlan(scenario, args.runs, args.seed), args.out / scenario.meta.name)
        for path, scenario in loaded
    ]
    return run_plans(plans, args, report=args.report)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.designs import DesignError, factors_of, make_design
    from sim.runner import BatchPlan

    [(path, scenario)] = load_all([args.scenario], args.overrides)
    try:
        factors = factors_of(scenario, args.factors)
        design = make_design(args.design, factors, samples=args.samples, seed=args.seed, levels=args.levels)
    except DesignError as exc:
        raise UsageError(f"{path}: {exc}") from None
    out_dir = args.out / f"{scenario.meta.name}_sweep_{design.kind}"
    return run_plans([(path, BatchPlan(scenario, args.runs, args.seed, design), out_dir)], args)


def _cmd_validate(args: argparse.Namespace) -> int:
    for path, scenario in load_all(args.scenarios, args.overrides):
        print(
            f"{path}: ok ({scenario.meta.name}, {scenario.meta.start} + {scenario.meta.months} months, "
            f"events: {len(scenario.events)}, uncertainties: {len(scenario.uncertainties)})"
        )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from sim.schema_doc import json_schema, markdown_reference

    if args.format == "json":
        print(json.dumps(json_schema(), indent=2))
    else:
        print(markdown_reference(), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rapprochement`` command; returns the exit code."""
    args = build_parser(argv).parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (
        RapprochementError
    ) as exc:  # every failure a user can cause or must decide on: one message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
