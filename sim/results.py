"""The results store: one folder per scenario, written atomically, with a manifest saying what was run.

``results/<scenario>/`` holds ``timeseries.parquet`` (run x month x outcomes), ``runs.parquet`` (one row per
run), ``manifest.json`` (scenario hash, root seed, versions, counts), ``scenario.yaml`` (the resolved scenario),
``summary.csv`` and ``plots/``. A batch is written into a hidden sibling folder and moved into place only when
complete, so an interrupted or failed batch never leaves partial files where results are expected, and results
of a different scenario or seed are never replaced without ``force``.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim.outcomes import OUTCOMES, OutcomeClass
from sim.plots import EventMarker, save_batch_plots
from sim.runner import RunResult
from sim.scenario import Scenario, parse_date

MANIFEST = "manifest.json"
TIMESERIES = "timeseries.parquet"
RUNS = "runs.parquet"
SUMMARY = "summary.csv"
SCENARIO = "scenario.yaml"
FORMAT_VERSION = 1


class ResultsConflict(Exception):
    """Existing results in the target folder came from a different scenario or seed."""


@dataclass(frozen=True)
class Batch:
    """A loaded batch of results."""

    path: Path
    timeseries: pd.DataFrame
    runs: pd.DataFrame
    manifest: dict[str, Any]


def versions() -> dict[str, str]:
    """Versions of Python and the packages that shape results, for the manifest."""
    found = {"python": platform.python_version()}
    for package in ("rapprochement", "mesa", "numpy", "pandas", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def check_target(out_dir: Path, scenario: Scenario, root_seed: int, *, force: bool) -> None:
    """Refuse to replace results of another scenario or seed unless forced.

    Re-running the identical scenario and seed may replace them: the results would be the same. A path that is
    a file, or a folder that is not a results folder, is refused even when forced.
    """
    manifest_path = out_dir / MANIFEST
    for folder in (out_dir.parent, out_dir):
        if folder.exists() and not folder.is_dir():
            raise ResultsConflict(f"{folder} is a file, not a folder; choose another --out")
    if not out_dir.exists():
        return
    if not manifest_path.exists():
        if any(out_dir.iterdir()):
            # Even --force never deletes a folder that this program did not write.
            raise ResultsConflict(
                f"{out_dir} exists and is not a results folder (no {MANIFEST}); choose another --out"
            )
        return
    if force:
        return
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsConflict(f"{manifest_path} is unreadable ({exc}); pass --force to replace") from None
    if manifest.get("scenario_hash") != scenario.digest() or manifest.get("root_seed") != root_seed:
        raise ResultsConflict(
            f"{out_dir} holds results of scenario hash {str(manifest.get('scenario_hash'))[:12]} with seed "
            f"{manifest.get('root_seed')}; this batch is {scenario.digest()[:12]} with seed {root_seed}. "
            "Pass --force to replace them, or --out to write elsewhere."
        )


def event_markers(scenario: Scenario) -> list[EventMarker]:
    """The scenario's dated injects as plot markers."""
    return [
        EventMarker(pd.Timestamp(parse_date(e.date)), e.description or e.kind.value, e.kind.value)
        for e in scenario.events
    ]


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per outcome, the distribution of final values across runs; then the share of each outcome class."""
    rows = []
    for name in OUTCOMES:
        values = runs[f"final_{name}"].to_numpy()
        p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
        rows.append(
            {
                "statistic": f"final_{name}",
                "mean": values.mean(),
                "sd": values.std(ddof=1) if len(values) > 1 else 0.0,
                "p05": p05,
                "p50": p50,
                "p95": p95,
            }
        )
    for outcome in OutcomeClass:
        share = float((runs["outcome_class"] == outcome.value).mean())
        rows.append({"statistic": f"share_{outcome.value}", "mean": share})
    return pd.DataFrame(rows)


def write_batch(
    results: Iterable[RunResult],
    scenario: Scenario,
    out_dir: Path,
    *,
    root_seed: int,
    runs: int,
    source: str = "",
    overrides: tuple[str, ...] = (),
    force: bool = False,
    plots: bool = True,
    on_run: Callable[[RunResult], None] | None = None,
) -> dict[str, Any]:
    """Stream a batch's results to disk and move the finished folder into place.

    Each run's monthly rows are appended to ``timeseries.parquet`` as one row group as soon as the run
    arrives, so the batch is never held in memory; the per-run rows (small) are kept to write ``runs.parquet``
    and the summary. ``on_run`` is called after each run is written (progress reporting). Returns the manifest.
    """
    check_target(out_dir, scenario, root_seed, force=force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        summaries = _stream(results, staging, on_run)
        if len(summaries) != runs:
            raise RuntimeError(f"expected {runs} runs, got {len(summaries)}")
        runs_frame = pd.DataFrame(summaries)
        runs_frame.to_parquet(staging / RUNS, index=False)
        summarise(runs_frame).to_csv(staging / SUMMARY, index=False, float_format="%.6g")
        (staging / SCENARIO).write_text(
            yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "scenario": scenario.meta.name,
            "scenario_hash": scenario.digest(),
            "source": source,
            "overrides": list(overrides),
            "root_seed": root_seed,
            "runs": runs,
            "months": scenario.meta.months,
            "start": scenario.meta.start,
            "status": "complete",
            "outcome_classes": {
                c.value: int((runs_frame["outcome_class"] == c.value).sum()) for c in OutcomeClass
            },
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        }
        if plots:
            timeseries = pd.read_parquet(staging / TIMESERIES)
            save_batch_plots(timeseries, runs_frame, staging / "plots", event_markers(scenario))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _stream(
    results: Iterable[RunResult], staging: Path, on_run: Callable[[RunResult], None] | None
) -> list[dict[str, Any]]:
    writer: pq.ParquetWriter | None = None
    summaries: list[dict[str, Any]] = []
    try:
        for result in results:
            table = pa.Table.from_pandas(result.timeseries, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(staging / TIMESERIES, table.schema)
            writer.write_table(table)
            summaries.append(result.summary)
            if on_run is not None:
                on_run(result)
    finally:
        if writer is not None:
            writer.close()
    return summaries


def _replace(staging: Path, out_dir: Path) -> None:
    """Swap the finished folder in; the old one is removed only once the new one is in place."""
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old"
        if old.exists():
            shutil.rmtree(old)
        out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old)
    else:
        staging.rename(out_dir)


def load_batch(path: str | Path) -> Batch:
    """Load a results folder as DataFrames and its manifest."""
    folder = Path(path)
    manifest = json.loads((folder / MANIFEST).read_text())
    return Batch(
        folder,
        pd.read_parquet(folder / TIMESERIES),
        pd.read_parquet(folder / RUNS),
        manifest,
    )
