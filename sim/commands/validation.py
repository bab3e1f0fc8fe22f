"""Subcommands of the validation family (see sim/commands/__init__.py): ``calibrate`` and ``backtest``.

``calibrate`` fits the named parameters to the polls and prints the fit; it writes the package's
``sim/validation/calibrated.yaml`` only with ``--write`` (and never from a fit on part of the years), or a
calibration file of one's own with ``--out``. ``backtest`` runs the historical scenario with a calibration's values
and writes ``results/backtest_<scenario>[_train<YEAR>]/``; with ``--train-until YEAR`` it first re-fits the same
parameters on the years up to YEAR (from the same starting values), so the test years are out of sample.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.common import check_fresh, fresh_folder
from sim.cli import UsageError, command_parser, load_all, positive_int, seed_value, set_option
from sim.executors import make_executor
from sim.results import versions
from sim.runner import default_workers
from sim.scenario import POSTERIOR_FILE, Scenario
from sim.validation.abc import GENERATIONS, MAX_SIMULATIONS, POPULATION, PPC_DRAWS, AbcSettings
from sim.validation.backtest import Backtest, key_events, run_backtest, save_figures, split_of
from sim.validation.calibrate import (
    CALIBRATED_FILE,
    DEFAULT_PARAMETERS,
    FIT_CITIZENS,
    MAX_EVALUATIONS,
    Calibration,
    CalibrationError,
    CalibrationSettings,
    Parameter,
    calibrate,
    check_train_until,
    document_train_until,
    document_values,
    file_sha256,
    parse_parameters,
    read_document,
    to_document,
    unstarted_fitted,
    write_document,
)
from sim.validation.observe import DEFAULT_POLLS, ObservationSettings, read_polls
from sim.validation.rolling import DEFAULT_ORIGINS
from sim.validation.simulate import covered_points

HISTORICAL = Path("scenarios/historical_2013_2025.yaml")
AUTONOMOUS = Path("scenarios/historical_autonomous.yaml")
BACKTEST_KIND = "backtest"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this family's subcommands to the ``rapprochement`` parser."""
    cal = command_parser(sub, "calibrate")
    cal.add_argument("scenario", nargs="?", type=Path, default=HISTORICAL, help=f"scenario (default {HISTORICAL})")
    _common(cal)
    cal.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="PATH=LOW:HIGH[@START]",
        help="a parameter to fit, its range and optionally the value the fit starts from (repeatable; default: "
        + ", ".join(p.path for p in DEFAULT_PARAMETERS)
        + ")",
    )
    cal.add_argument(
        "--method",
        choices=("abc", "lsq"),
        default="abc",
        help="abc: ABC-SMC posterior (pyabc; the default); lsq: penalised least squares, fast (default abc)",
    )
    _fit_options(cal)
    _abc_options(cal)
    cal.add_argument("--no-plots", action="store_true", help="skip the posterior-predictive figures")
    target = cal.add_mutually_exclusive_group()
    target.add_argument(
        "--write",
        action="store_true",
        help=f"replace the package's calibration ({POSTERIOR_FILE.name} with abc, "
        f"{CALIBRATED_FILE.name} with lsq)",
    )
    target.add_argument(
        "--out",
        type=Path,
        default=None,
        help="abc: results folder (default results/); lsq: write the calibration to this YAML file",
    )
    cal.add_argument("--force", action="store_true", help="replace an existing calibration at the target")
    cal.set_defaults(handler=_cmd_calibrate)

    back = command_parser(sub, "backtest")
    back.add_argument(
        "scenario", nargs="?", type=Path, default=HISTORICAL, help=f"scenario (default {HISTORICAL})"
    )
    _common(back)
    back.add_argument("--runs", type=positive_int, default=200, help="replications (default 200)")
    back.add_argument(
        "--params",
        type=Path,
        default=None,
        help=f"calibration file whose values are applied (default: the package's {CALIBRATED_FILE.name})",
    )
    back.add_argument(
        "--citizens", type=positive_int, default=None, help="citizens per country (default: the scenario's)"
    )
    _fit_options(back, prefix="fit-")
    back.add_argument(
        "--origins",
        type=year_list,
        default=None,
        metavar="YEAR,YEAR,...",
        help="rolling origin: fit on the poll years up to each origin, forecast the later ones and score them "
        "against persistence, trend and mean (e.g. " + ",".join(map(str, DEFAULT_ORIGINS)) + ")",
    )
    back.add_argument("--method", choices=("abc", "lsq"), default="abc", help="how --origins fits (default abc)")
    _abc_options(back, prefix="fit-")
    back.add_argument("--dask", metavar="ADDRESS", default=None, help="run on Dask ('local' or tcp://HOST:8786)")
    back.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    back.add_argument("--force", action="store_true", help="replace an earlier backtest in the same folder")
    back.add_argument("--no-plots", action="store_true", help="skip the figures")

    replay = command_parser(sub, "replay")
    replay.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        default=AUTONOMOUS,
        help=f"the autonomous replay (default {AUTONOMOUS}); its scripted counterpart is --scripted",
    )
    replay.add_argument(
        "--scripted", type=Path, default=HISTORICAL, help=f"the scripted replay (default {HISTORICAL})"
    )
    replay.add_argument("--runs", type=positive_int, default=100, help="replications of each replay (default 100)")
    replay.add_argument(
        "--window", type=positive_int, default=6, help="months either side of a recorded move (default 6)"
    )
    replay.add_argument("--seed", type=seed_value, default=1, help="root seed (default 1)")
    replay.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    replay.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    replay.add_argument("--force", action="store_true", help="replace an earlier replay in the same folder")
    replay.add_argument("--no-plots", action="store_true", help="skip the figure")
    set_option(replay)
    replay.set_defaults(handler=_cmd_replay)

    screen = command_parser(sub, "screen")
    screen.add_argument(
        "scenario", nargs="?", type=Path, default=HISTORICAL, help=f"scenario (default {HISTORICAL})"
    )
    screen.add_argument("--trajectories", type=positive_int, default=10, help="Morris trajectories (default 10)")
    screen.add_argument("--replications", type=positive_int, default=2, help="runs per design point (default 2)")
    screen.add_argument("--citizens", type=positive_int, default=300, help="citizens per country (default 300)")
    screen.add_argument(
        "--relative",
        type=non_negative_float,
        default=0.25,
        help="each parameter varies over value x (1 +- RELATIVE) (default 0.25)",
    )
    _common(screen)
    screen.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    screen.add_argument("--force", action="store_true", help="replace an earlier screening in the same folder")
    screen.add_argument("--no-plots", action="store_true", help="skip the figure")
    screen.set_defaults(handler=_cmd_screen)
    back.set_defaults(handler=_cmd_backtest)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--polls",
        type=Path,
        default=DEFAULT_POLLS,
        help="the poll file (default: the project's copy, sim/data/polls_calibration.csv)",
    )
    parser.add_argument("--seed", type=seed_value, default=1, help="root seed (default 1)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument(
        "--train-until",
        type=int,
        default=None,
        metavar="YEAR",
        help="fit only on poll years up to YEAR; later years are reported as the out-of-sample test",
    )
    set_option(parser)


def _count_options(
    parser: argparse.ArgumentParser, prefix: str, what: str, rows: tuple[tuple[str, int, str], ...]
) -> None:
    """Whole-number options ``--<prefix><name>`` (default and help of each row), ``what`` added to each help."""
    for name, default, text in rows:
        parser.add_argument(
            f"--{prefix}{name}", type=positive_int, default=default, help=f"{text}{what} (default {default})"
        )


def _fit_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    what = " of the re-fit (with --train-until)" if prefix else ""
    rows = (
        ("replications", 10, "runs per evaluation"),
        ("citizens", FIT_CITIZENS, "citizens per country during the fit"),
        ("max-evaluations", MAX_EVALUATIONS, "budget of objective evaluations, Jacobians included"),
    )
    _count_options(parser, prefix, what, rows)
    parser.add_argument(
        f"--{prefix}discrepancy",
        type=non_negative_float,
        default=CalibrationSettings.discrepancy_pp,
        metavar="PP",
        help=f"error (pp) the prior weighs each point as{what}: each parameter's judgement start is a prior with "
        f"sd a quarter of its range; 0 fits by plain least squares (default {CalibrationSettings.discrepancy_pp})",
    )


def _abc_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    what = " of each re-fit" if prefix else ""
    rows = (
        ("population", POPULATION, "ABC particles"),
        ("generations", GENERATIONS, "ABC generations at most"),
        ("max-simulations", MAX_SIMULATIONS, "ABC budget of runs"),
    )
    _count_options(parser, prefix, what, rows)
    if not prefix:
        parser.add_argument(
            "--dask",
            metavar="ADDRESS",
            default=None,
            help="run on Dask: 'local' starts a LocalCluster on 127.0.0.1, or tcp://HOST:8786 (needs .[dask])",
        )


def year_list(text: str) -> tuple[int, ...]:
    """Comma-separated years for an option (argparse type), in increasing order."""
    try:
        years = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected years separated by commas, got {text!r}") from None
    if not years:
        raise argparse.ArgumentTypeError("expected at least one year")
    return years


def non_negative_float(text: str) -> float:
    """A number >= 0 for an option (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _load(args: argparse.Namespace) -> tuple[Path, Scenario, pd.DataFrame]:
    [(path, scenario)] = load_all([args.scenario], args.overrides)
    polls = read_polls(args.polls)
    check_train_until(polls, args.train_until)
    return path, scenario, polls


def _print_calibration(cal: Calibration) -> None:
    print(f"{'parameter':40s} {'start':>8s} {'fitted':>8s} {'s.e.':>8s}   95 % interval        range")
    for p in cal.parameters:
        value, se = cal.values[p.path], cal.standard_errors[p.path]
        edge = "  AT BOUND" if min(value - p.low, p.high - value) < 1e-3 * (p.high - p.low) else ""
        print(
            f"{p.path:40s} {cal.start[p.path]:8.4f} {value:8.4f} {se:8.4f}   "
            f"[{value - 1.96 * se:.4f}, {value + 1.96 * se:.4f}]   [{p.low}, {p.high}]{edge}"
        )
    for path, entry in cal.mode_offsets.items():
        value, se, n = entry["value"], entry["standard_error"], entry["points"]
        print(f"{path:40s} {'':8s} {value:8.2f} {se:8.2f}   pp, from {n} points")
    if cal.identification:
        print(f"WARNING: {cal.identification}")
    print()
    print(cal.metrics().to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(
        f"\nSSE {cal.sse:.1f} pp^2; {cal.evaluations} evaluations, {cal.simulations} runs, "
        f"{cal.wall_time_s:.1f} s; {cal.message}"
    )


def _settings(args: argparse.Namespace, prefix: str = "") -> CalibrationSettings:
    """The fit's settings from the options ``_fit_options`` added (with ``prefix``, as the backtest's re-fit)."""
    prefix = prefix.replace("-", "_")
    return CalibrationSettings(
        replications=getattr(args, f"{prefix}replications"),
        root_seed=args.seed,
        max_evaluations=getattr(args, f"{prefix}max_evaluations"),
        train_until=args.train_until,
        citizens=getattr(args, f"{prefix}citizens"),
        discrepancy_pp=getattr(args, f"{prefix}discrepancy"),
    )


def _fit(
    scenario: Scenario,
    polls: pd.DataFrame,
    parameters: tuple[Parameter, ...],
    settings: CalibrationSettings,
    workers: int,
    base: ObservationSettings,
    start: dict[str, float] | None = None,
) -> Calibration:
    with make_executor(workers) as executor:
        return calibrate(scenario, polls, parameters, settings, executor, base, start=start)


def _abc_settings(args: argparse.Namespace, prefix: str = "") -> AbcSettings:
    prefix = prefix.replace("-", "_")
    return AbcSettings(
        population=getattr(args, f"{prefix}population"),
        generations=getattr(args, f"{prefix}generations"),
        max_simulations=getattr(args, f"{prefix}max_simulations"),
        discrepancy_pp=getattr(args, f"{prefix}discrepancy"),
        citizens=getattr(args, f"{prefix}citizens"),
        train_until=args.train_until,
        seed=args.seed,
    )


def _calibrate_abc(args: argparse.Namespace, path: Path, scenario: Scenario, polls: pd.DataFrame) -> int:
    """``calibrate --method abc``: run or resume ABC-SMC, write the posterior, its provenance and the
    posterior-predictive check into ``results/calibration_<scenario>[_train<YEAR>]/``."""
    from sim.validation.abc import posterior_predictive, provenance, run_abc

    try:
        parameters = parse_parameters(args.params, scenario) if args.params else DEFAULT_PARAMETERS
    except CalibrationError as exc:
        raise UsageError(f"{path}: {exc}") from None
    _require_pyabc()
    name = f"calibration_{scenario.meta.name}" + (
        f"_train{args.train_until}" if args.train_until is not None else ""
    )
    out = (args.out or Path("results")) / name
    _check_fresh(out, force=args.force)
    work = out.with_name(f".{name}.partial")  # pyabc's history: an interrupted calibration resumes from it
    workers = args.workers or default_workers()
    settings = _abc_settings(args)
    with make_executor(workers, args.dask) as executor:
        result = run_abc(scenario, polls, parameters, settings, executor, work)
        points = covered_points(polls, scenario)
        train = np.array([args.train_until is None or p.year <= args.train_until for p in points])
        paths = [p.path for p in parameters]
        ppc = posterior_predictive(scenario, points, result.posterior, paths, executor, settings, train=train)
    ppc["split"] = [
        split_of(int(y), o, args.train_until) for y, o in zip(ppc["year"], ppc["observed"], strict=True)
    ]
    ppc["in_interval"] = (ppc["observed"] >= ppc["p5"]) & (ppc["observed"] <= ppc["p95"])
    record = provenance(
        result, scenario=scenario, polls_path=args.polls, workers=workers, executor=args.dask or "processes"
    )
    observed = ppc[ppc["observed"].notna()]
    record["posterior_predictive"] = {
        "draws": PPC_DRAWS,
        "interval": "5-95 % of one run per draw plus the poll's sampling error and the discrepancy",
        "coverage_90": round(float(observed["in_interval"].mean()), 3),
    }
    import yaml

    about = {"command": "calibrate --method abc", "scenario": str(path)}
    with fresh_folder(out, force=args.force, about=about, checked=True) as staging:
        for kept in ("abc.db", "fingerprint.json"):
            shutil.move(work / kept, staging / kept)
        result.posterior.to_csv(staging / "posterior.csv", index=False, float_format="%.6g")
        result.generations.to_csv(staging / "generations.csv", index=False, float_format="%.4f")
        result.mean_sd().to_csv(staging / "summary.csv", index=False, float_format="%.5g")
        ppc.to_csv(staging / "ppc.csv", index=False, float_format="%.3f")
        (staging / "calibration.yaml").write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
        if not args.no_plots:
            save_figures(
                ppc,
                staging / "plots",
                events=key_events(scenario),
                train_until=args.train_until,
                band="90 % posterior-predictive interval",
                prefix="ppc_",
            )
    shutil.rmtree(work)
    print(result.mean_sd().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    coverage = record["posterior_predictive"]["coverage_90"]
    print(
        f"\n{result.simulations} runs in {result.wall_time_s:.0f} s over {len(result.generations)} generations; "
        f"90 % posterior-predictive coverage of the observed polls {coverage:.0%} -> {out}/"
    )
    if args.write:
        shutil.copyfile(out / "posterior.csv", POSTERIOR_FILE)
        POSTERIOR_FILE.with_suffix(".yaml").write_text((out / "calibration.yaml").read_text())
        print(f"wrote {POSTERIOR_FILE} (scenarios with 'parameters: {{from: posterior}}' now draw from it)")
    return 0


def _require_pyabc() -> None:
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise UsageError(
            "calibrate --method abc needs pyabc: pip install '.[calibrate]' (or use --method lsq)"
        ) from None


def _cmd_calibrate(args: argparse.Namespace) -> int:
    path, scenario, polls = _load(args)
    if args.write and args.train_until is not None:
        raise UsageError(
            f"--write: a fit on the years up to {args.train_until} cannot become the package's calibration; "
            "use --out for it"
        )
    if args.method == "abc":
        return _calibrate_abc(args, path, scenario, polls)
    if args.out is not None:
        _check_new_file(args.out, force=args.force)
    try:
        parameters = parse_parameters(args.params, scenario) if args.params else DEFAULT_PARAMETERS
    except CalibrationError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if args.train_until is not None:
        # Such a parameter would start from the scenario's value, which is the all-years fit: a fit on part of the
        # years must not see the later years through its start.
        leaking = unstarted_fitted(parameters, read_document(CALIBRATED_FILE)["parameters"])
        if leaking:
            raise UsageError(
                f"--train-until {args.train_until}: {', '.join(leaking)} would start from the scenario's value, "
                f"which is fitted to all years ({CALIBRATED_FILE.name}); give a judgement start as "
                "--param PATH=LOW:HIGH@START"
            )
    settings = _settings(args)
    workers = args.workers or default_workers()
    cal = _fit(scenario, polls, parameters, settings, workers, ObservationSettings())
    _print_calibration(cal)
    document = to_document(cal, polls_path=args.polls, scenario=scenario, workers=workers)
    target = CALIBRATED_FILE if args.write else args.out
    if target is not None:
        write_document(target, document)
        print(f"wrote {target}")
        if args.write:
            model = [p.path for p in cal.parameters if not p.is_observation]
            print("copy the model parameters into the scenarios (tests check they agree): " + ", ".join(model))
    return 0


def _check_new_file(path: Path, *, force: bool) -> None:
    if path.exists() and (path.is_dir() or not force):
        raise UsageError(
            f"{path}: exists; pass --force to replace it" if not path.is_dir() else f"{path}: is a folder"
        )
    if not path.parent.is_dir():
        raise UsageError(f"{path}: folder {path.parent} does not exist")


def _backtest_values(
    args: argparse.Namespace, scenario: Scenario, polls: pd.DataFrame, workers: int
) -> tuple[dict[str, float], dict[str, Any], Path]:
    """The values to apply, the calibration document they come from, and its path (re-fitting if asked)."""
    params_path = args.params or CALIBRATED_FILE
    document = read_document(params_path)
    values = document_values(document)
    fitted_until = document_train_until(document)
    if args.train_until is None or fitted_until == args.train_until:
        return values, document, params_path
    if args.params is not None:
        raise UsageError(
            f"--params {params_path} was fitted on years up to {fitted_until or 'the last'}, not "
            f"{args.train_until}: its test years would be in sample. Leave out --params to re-fit, or pass a "
            "matching calibration file."
        )
    # The honest split: the same parameters and ranges, re-fitted on the training years only, from the values
    # the parameters had before any calibration (the all-years fit must not leak in through the start).
    try:
        parameters = tuple(
            Parameter(path, float(e["low"]), float(e["high"]), str(e.get("description", "")), float(e["start"]))
            for path, e in document["parameters"].items()
        )
    except KeyError as exc:
        raise UsageError(f"{params_path}: parameters: every entry needs {exc} to be re-fitted") from None
    start = {p.path: float(p.start or 0.0) for p in parameters}
    settings = _settings(args, prefix="fit-")
    print(f"re-fitting {', '.join(start)} on the polls up to {args.train_until}")
    cal = _fit(scenario, polls, parameters, settings, workers, ObservationSettings(), start=start)
    _print_calibration(cal)
    refit = to_document(cal, polls_path=args.polls, scenario=scenario, workers=workers)
    return cal.all_values(), refit, params_path


def _cmd_rolling(args: argparse.Namespace, path: Path, scenario: Scenario, polls: pd.DataFrame) -> int:
    """``backtest --origins``: fit at each origin, forecast the later polls, score against the naive forecasts."""
    from sim.validation.rolling import rolling_origin, skill_figure

    if args.train_until is not None or args.params is not None:
        raise UsageError("--origins fits at every origin itself: leave out --train-until and --params")
    for origin in args.origins:
        check_train_until(polls, origin, "--origins")
    if args.method == "abc":
        _require_pyabc()
    name = f"backtest_{scenario.meta.name}_origins"
    out_dir = args.out / name
    _check_target(out_dir, force=args.force)
    work = args.out / f".{name}.work"  # each origin's ABC history: an interrupted run resumes from it
    workers = args.workers or default_workers()
    settings = replace(_abc_settings(args, prefix="fit-"), train_until=None)
    started = time.perf_counter()
    with make_executor(workers, args.dask) as executor:
        result = rolling_origin(
            scenario, polls, DEFAULT_PARAMETERS, args.origins, executor, work, method=args.method, abc=settings
        )
    seconds = time.perf_counter() - started
    manifest = _backtest_manifest(scenario.meta.name, scenario.digest(), path) | {
        "origins": list(args.origins),
        "method": args.method,
        "settings": asdict(settings),
        "polls": {"file": args.polls.name, "sha256": file_sha256(args.polls)},
        "wall_time_s": round(seconds, 1),
        "versions": versions(),
    }
    with fresh_folder(out_dir, force=args.force, about={"command": "backtest --origins"}, checked=True) as staging:
        result.points.to_csv(staging / "points.csv", index=False, float_format="%.3f")
        result.by_origin.to_csv(staging / "skill_by_origin.csv", index=False, float_format="%.4f")
        result.by_horizon.to_csv(staging / "skill_by_horizon.csv", index=False, float_format="%.4f")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        if not args.no_plots:
            (staging / "plots").mkdir()
            skill_figure(result).savefig(staging / "plots" / "skill.png")
    shutil.rmtree(work, ignore_errors=True)
    columns = [
        "series",
        "points",
        "rmse_model",
        "skill_vs_persistence",
        "skill_vs_trend",
        "skill_vs_mean",
        "coverage_90",
    ]
    print("skill by origin (1 - RMSE_model / RMSE_naive) and 90 % interval coverage:")
    print(result.by_origin[["origin", *columns]].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\nby horizon, all series:")
    overall = result.by_horizon[result.by_horizon["series"] == "all"]
    print(overall[["horizon", *columns[1:]]].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"{len(args.origins)} origins in {seconds:.0f} s -> {out_dir}/")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    path, scenario, polls = _load(args)
    if args.origins is not None:
        return _cmd_rolling(args, path, scenario, polls)
    if args.params is not None and args.train_until is None:
        # A calibration fitted on part of the years keeps its split: its later years are out of sample.
        args.train_until = document_train_until(read_document(args.params))
    name = f"backtest_{scenario.meta.name}" + (f"_train{args.train_until}" if args.train_until is not None else "")
    out_dir = args.out / name
    _check_target(out_dir, force=args.force)
    if args.citizens is not None:
        scenario = scenario.with_values({f"publics.{c}.citizens": args.citizens for c in ("korea", "japan")})
    workers = args.workers or default_workers()
    started = time.perf_counter()
    values, document, params_path = _backtest_values(args, scenario, polls, workers)
    try:  # the calibration's model parameters must be fields of this scenario, with admissible values
        applied = scenario.with_values({k: v for k, v in values.items() if not k.startswith("observe.")})
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{params_path}: parameters: not applicable to {path} ({exc})") from None
    with make_executor(workers) as executor:
        result = run_backtest(scenario, polls, args.runs, args.seed, executor, values, args.train_until)
    seconds = time.perf_counter() - started
    manifest = _backtest_manifest(scenario.meta.name, applied.digest(), path) | {
        "overrides": list(args.overrides),
        "runs": args.runs,
        "root_seed": args.seed,
        "train_until": args.train_until,
        "values": values,
        "calibration": str(params_path)
        if args.train_until is None or args.params
        else "calibration.yaml (re-fit)",
        "polls": {"file": args.polls.name, "sha256": file_sha256(args.polls)},
        "wall_time_s": round(seconds, 1),
        "versions": versions(),
    }
    _write_backtest(out_dir, result, manifest, document, scenario, args)
    print(result.metrics.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if not result.skill.empty:
        print("\nout of sample, beside the naive forecasts (skill = 1 - RMSE_model / RMSE_naive):")
        print(result.skill.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"{scenario.meta.name}: {args.runs} runs in {seconds:.1f} s -> {out_dir}/")
    return 0


def _backtest_manifest(name: str, digest: str, source: Path) -> dict[str, Any]:
    """The fields every backtest's manifest starts with: its kind (what ``_check_target`` recognises), the
    scenario's name, hash and file."""
    return {"kind": BACKTEST_KIND, "scenario": name, "scenario_hash": digest, "source": str(source)}


def _check_target(out_dir: Path, *, force: bool) -> None:
    for folder in (out_dir.parent, out_dir):
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder} is a file, not a folder; choose another --out")
    if not out_dir.exists():
        return
    try:
        kind = json.loads((out_dir / "manifest.json").read_text()).get("kind")
    except (OSError, json.JSONDecodeError, AttributeError):
        kind = None
    if kind != BACKTEST_KIND:
        raise UsageError(f"{out_dir} exists and is not a backtest folder; choose another --out")
    if not force:
        raise UsageError(f"{out_dir} holds an earlier backtest; pass --force to replace it, or --out elsewhere")


def _write_backtest(
    out_dir: Path,
    result: Backtest,
    manifest: dict[str, Any],
    document: dict[str, Any],
    scenario: Scenario,
    args: argparse.Namespace,
) -> None:
    """Write every file into a hidden staging folder, then swap it into place (nothing partial is left)."""
    import yaml

    # _check_target has already refused a folder that is not a backtest (or one without --force).
    with fresh_folder(out_dir, force=args.force, about={"command": "backtest"}, checked=True) as staging:
        result.fit.to_csv(staging / "fit.csv", index=False, float_format="%.3f")
        result.metrics.to_csv(staging / "metrics.csv", index=False, float_format="%.4f")
        if not result.skill.empty:
            result.skill.to_csv(staging / "skill.csv", index=False, float_format="%.4f")
        result.runs.to_csv(staging / "runs.csv", index=False, float_format="%.3f")
        (staging / "calibration.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        if not args.no_plots:
            save_figures(result.fit, staging / "plots", events=key_events(scenario), train_until=args.train_until)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_fresh(out_dir: Path, *, force: bool) -> None:
    """``check_fresh`` of the analysis commands, its refusal a usage error (exit 2, nothing written)."""
    check_fresh(out_dir, force=force)


def _cmd_replay(args: argparse.Namespace) -> int:
    """Run the autonomous and the scripted replay on the same seeds; write the move table, the secondary
    patterns and the median paths beside the polls."""
    from sim.validation.observe import DEFAULT_POLLS as polls_path
    from sim.validation.patterns import check_patterns
    from sim.validation.replay import median_paths, move_table, paths_figure, run_replay

    [(auto_path, autonomous)] = load_all([args.scenario], args.overrides)
    if not any(g.decision_rule != "scripted" for g in (autonomous.actors.seoul, autonomous.actors.tokyo)):
        raise UsageError(
            f"{auto_path}: actors: both governments are scripted; the replay needs a scenario whose governments "
            "decide for themselves (e.g. scenarios/historical_autonomous.yaml)"
        )
    [(scripted_path, scripted)] = load_all([args.scripted], args.overrides)
    out_dir = args.out / f"replay_{autonomous.meta.name}"
    _check_fresh(out_dir, force=args.force)
    threshold = float(document_values(read_document(CALIBRATED_FILE)).get("observe.affinity_threshold", 0.6))
    workers = args.workers or default_workers()
    started = time.perf_counter()
    with make_executor(workers) as executor:
        auto_runs = run_replay(autonomous, args.runs, args.seed, executor)
        scripted_runs = run_replay(scripted, args.runs, args.seed, executor)
        patterns = check_patterns(scripted, args.runs, args.seed, executor, affinity_threshold=threshold)
    moves = move_table(autonomous, auto_runs, args.window)
    paths = pd.concat(
        [median_paths(autonomous, auto_runs, "autonomous"), median_paths(scripted, scripted_runs, "scripted")]
    )
    seconds = time.perf_counter() - started
    about = {
        "command": "replay",
        "autonomous": str(auto_path),
        "scripted": str(scripted_path),
        "runs": args.runs,
        "root_seed": args.seed,
        "window_months": args.window,
        "scenario_hashes": {"autonomous": autonomous.digest(), "scripted": scripted.digest()},
        "wall_time_s": round(seconds, 1),
        "versions": versions(),
    }
    with fresh_folder(out_dir, force=args.force, about=about, checked=True) as staging:
        moves.to_csv(staging / "moves.csv", index=False, float_format="%.3f")
        patterns.to_csv(staging / "patterns.csv", index=False, float_format="%.2f")
        paths.to_csv(staging / "paths.csv", index=False, float_format="%.3f")
        if not args.no_plots:
            (staging / "plots").mkdir()
            figure = paths_figure(paths, read_polls(polls_path), events=key_events(scripted))
            figure.savefig(staging / "plots" / "paths.png")
    print(moves[["move", "share_within_window", "share_ever", "median_offset_months"]].to_string(index=False))
    print()
    print(
        patterns[["pattern", "published", "band_low", "band_high", "model_median", "in_band"]].to_string(
            index=False, float_format=lambda v: f"{v:.1f}"
        )
    )
    print(f"replays of {args.runs} runs each in {seconds:.1f} s -> {out_dir}/")
    return 0


def _cmd_screen(args: argparse.Namespace) -> int:
    """Screen every behavioural parameter for its effect on the replay's error against the polls."""
    from sim.plots import save_figure, sensitivity_bars
    from sim.validation.screen import behavioural_factors, identifiability, screen

    path, scenario, polls = _load(args)
    if not 0 < args.relative < 1:
        raise UsageError(f"--relative: expected a share between 0 and 1, got {args.relative}")
    suffix = f"_train{args.train_until}" if args.train_until is not None else ""
    out_dir = args.out / f"screen_{scenario.meta.name}{suffix}"
    _check_fresh(out_dir, force=args.force)
    scenario = scenario.with_values({f"publics.{c}.citizens": args.citizens for c in ("korea", "japan")})
    values = document_values(read_document(CALIBRATED_FILE))
    settings = ObservationSettings().with_values(values)
    factors = behavioural_factors(scenario, args.relative)
    workers = args.workers or default_workers()
    runs = args.trajectories * (len(factors) + 1) * args.replications
    print(f"screening {len(factors)} parameters: {args.trajectories} trajectories, {runs} runs")
    started = time.perf_counter()
    with make_executor(workers) as executor:
        result = screen(
            scenario,
            polls,
            settings,
            executor,
            trajectories=args.trajectories,
            replications=args.replications,
            seed=args.seed,
            factors=factors,
            train_until=args.train_until,
        )
    seconds = time.perf_counter() - started
    verdicts = identifiability(result.indices)
    about = {
        "command": "screen",
        "scenario": str(path),
        "scenario_hash": scenario.digest(),
        "factors": len(factors),
        "trajectories": args.trajectories,
        "replications": args.replications,
        "citizens": args.citizens,
        "relative": args.relative,
        "root_seed": args.seed,
        "train_until": args.train_until,
        "polls": {"file": args.polls.name, "sha256": file_sha256(args.polls)},
        "observation": {k: v for k, v in values.items() if k.startswith("observe.")},
        "wall_time_s": round(seconds, 1),
        "versions": versions(),
    }
    with fresh_folder(out_dir, force=args.force, about=about, checked=True) as staging:
        result.indices.to_csv(staging / "indices.csv", index=False, float_format="%.4f")
        verdicts.to_csv(staging / "verdicts.csv", index=False, float_format="%.4f")
        design = result.design.frame().join(result.errors)
        design.to_csv(staging / "design.csv", index=False, float_format="%.6g")
        if not args.no_plots:
            top = verdicts.head(30)
            save_figure(sensitivity_bars(top, output="rmse of the replay against the polls (pp)"), staging / "top")
    counts = verdicts["verdict"].value_counts()
    print(verdicts.head(15)[["factor", "mu_star", "mu_star_conf", "sigma", "verdict"]].to_string(index=False))
    print(
        f"{counts.get('moves the polls', 0)} move the polls, {counts.get('weak', 0)} weakly, "
        f"{counts.get('cannot identify', 0)} not at all; {seconds:.0f} s -> {out_dir}/"
    )
    return 0
