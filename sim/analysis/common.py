"""What every analysis needs: results folders opened with clear refusals, metrics, fresh output folders.

A *metric* is one number per run that analyses compare or explain: ``final_<outcome>`` (the outcome's value in
the last month), ``window_relations_index`` (the last-year mean the outcome class is judged on) and
``share_<class>`` (1 if the run ended in that outcome class, else 0, so its mean is the class probability).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.errors import RapprochementError
from sim.loading import ScenarioError
from sim.outcomes import OUTCOMES, OutcomeClass
from sim.results import MANIFEST, RUNS, SCENARIO, TIMESERIES, Batch, load_batch
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from sim.plots import EventMarker

__all__ = [
    "MARKER",
    "AnalysisError",
    "events_of",
    "finished_runs",
    "fresh_folder",
    "labels_for",
    "load_results",
    "metric_names",
    "metric_values",
    "ok_runs",
    "open_results",
    "resolve_metric",
    "scenario_of",
]

#: The file that marks a folder as written by an analysis command (and so replaceable with --force).
MARKER = "analysis.json"
WINDOW_METRIC = "window_relations_index"


class AnalysisError(RapprochementError, ValueError):
    """An analysis request that cannot be honoured; the message names the path or field and what was expected."""


# --------------------------------------------------------------------------- results folders


def open_results(path: str | Path) -> Batch:
    """Load a results folder written by ``run`` or ``sweep``, refusing anything else with a clear message.

    Checks that the folder exists, holds ``manifest.json``, ``runs.parquet`` and ``timeseries.parquet``, that the
    manifest is readable JSON, and that at least one run finished; a batch still being written (a hidden
    ``.partial`` folder beside it) is pointed out.
    """
    folder = Path(path)
    if not folder.exists():
        partial = folder.parent / f".{folder.name}.partial"
        hint = f" (an interrupted batch is in {partial}: finish it with --resume)" if partial.exists() else ""
        raise AnalysisError(f"{folder}: no such results folder{hint}")
    if not folder.is_dir():
        raise AnalysisError(f"{folder}: expected a results folder, got a file")
    missing = [name for name in (MANIFEST, RUNS, TIMESERIES) if not (folder / name).is_file()]
    if missing:
        raise AnalysisError(
            f"{folder}: not a results folder (missing {', '.join(missing)}); expected the output of "
            "'rapprochement run' or 'rapprochement sweep'"
        )
    try:
        batch = load_batch(folder)
    except (OSError, ValueError) as exc:  # JSONDecodeError and Arrow's errors are ValueErrors
        raise AnalysisError(f"{folder}: unreadable results ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch.manifest, dict) or "root_seed" not in batch.manifest:
        raise AnalysisError(f"{folder / MANIFEST}: expected a results manifest with a root_seed")
    needed = {"run", "replication", "outcome_class", WINDOW_METRIC} | {f"final_{name}" for name in OUTCOMES}
    absent = sorted(needed - set(batch.runs.columns))
    if absent:
        raise AnalysisError(f"{folder / RUNS}: expected columns {', '.join(absent)} (results of another format)")
    if ok_runs(batch).empty:
        raise AnalysisError(f"{folder}: no run finished (every run failed), so there is nothing to analyse")
    return batch


def ok_runs(batch: Batch) -> pd.DataFrame:
    """The runs that finished (failed runs have no outcomes)."""
    return finished_runs(batch.runs)


def finished_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of a runs table that finished (``status`` ok, where there is a status), re-indexed from 0."""
    if "status" in runs.columns:
        runs = runs[runs["status"] == "ok"]
    return runs.reset_index(drop=True)


def scenario_of(batch: Batch) -> Scenario | None:
    """The resolved scenario saved with the results, or None if it cannot be read (old or edited results)."""
    try:
        return load_scenario(batch.path / SCENARIO)
    except (ScenarioError, OSError):
        return None


def events_of(batch: Batch) -> list[EventMarker]:
    """The scenario's dated injects as plot markers (none if the scenario file cannot be read)."""
    from sim.analysis.figures import event_markers

    scenario = scenario_of(batch)
    return event_markers(scenario) if scenario is not None else []


def labels_for(paths: Sequence[Path]) -> list[str]:
    """Short, distinct labels for results folders: the folder name, with parents added only where names clash."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    if len(set(resolved)) != len(resolved):
        twice = sorted({str(p) for p, r in zip(paths, resolved, strict=True) if resolved.count(r) > 1})
        raise AnalysisError(f"{', '.join(twice)}: the same results folder is given twice")
    depth = 1
    while True:
        labels = ["/".join(r.parts[-depth:]) for r in resolved]
        if len(set(labels)) == len(labels) or depth >= max(len(r.parts) for r in resolved):
            return labels
        depth += 1


def load_results(*paths: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Finished runs and their months of one or more results folders, as two DataFrames for a notebook.

    The ``scenario`` column of both holds each folder's label (its name, with parents where names clash), so
    the frames go straight into the plot functions, which draw one fan, box or bar per scenario.
    """
    if not paths:
        raise AnalysisError("load_results: expected at least one results folder")
    folders = [Path(p) for p in paths]
    labels = labels_for(folders)
    batches = [open_results(p) for p in folders]
    runs = pd.concat([ok_runs(b).assign(scenario=label) for b, label in zip(batches, labels, strict=True)])
    timeseries = pd.concat([b.timeseries.assign(scenario=label) for b, label in zip(batches, labels, strict=True)])
    return runs.reset_index(drop=True), timeseries.reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def metric_names() -> list[str]:
    """Every metric a run has, in display order."""
    return [
        WINDOW_METRIC,
        *(f"final_{name}" for name in OUTCOMES),
        *(f"share_{cls.value}" for cls in OutcomeClass),
    ]


def resolve_metric(name: str) -> str:
    """The metric meant by ``name``: a metric name, an outcome (its final value) or an outcome class (its share).

    ``relations_index`` means ``final_relations_index`` and ``relapse`` means ``share_relapse``; anything else
    raises :class:`AnalysisError` listing what is accepted.
    """
    text = name.strip()
    known = metric_names()
    if text in known:
        return text
    if text in OUTCOMES:
        return f"final_{text}"
    if text in {cls.value for cls in OutcomeClass}:
        return f"share_{text}"
    raise AnalysisError(
        f"outcome {name!r}: expected an outcome ({', '.join(OUTCOMES)}), an outcome class "
        f"({', '.join(c.value for c in OutcomeClass)}) or {WINDOW_METRIC}"
    )


def metric_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """One value per run of ``metric`` (class shares as 0/1 floats), aligned with ``runs``' index."""
    if metric.startswith("share_"):
        return (runs["outcome_class"].astype(str) == metric.removeprefix("share_")).astype(np.float64)
    if metric not in runs.columns:
        raise AnalysisError(f"metric {metric!r}: not a column of these runs")
    return runs[metric].astype(np.float64)


# --------------------------------------------------------------------------- output folders


def check_fresh(out: Path, *, force: bool) -> None:
    """Refuse an output folder that exists, unless ``force`` and it was written by an analysis command.

    Even with ``force`` a folder this program did not write (no :data:`MARKER`), or a file, is never replaced.
    """
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"{out} is a file, not a folder; choose another --out")
    if out.parent.exists() and not out.parent.is_dir():
        raise AnalysisError(f"{out.parent} is a file, not a folder; choose another --out")
    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / MARKER).is_file():
        raise AnalysisError(f"{out} exists and was not written by an analysis command; choose another --out")
    if not force:
        raise AnalysisError(f"{out} exists; pass --force to replace it, or --out to write elsewhere")


@contextmanager
def fresh_folder(out: Path, *, force: bool, about: dict[str, Any], checked: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` at once, on failure it vanishes.

    So an analysis never leaves half its files where results are expected. ``about`` is written into the
    folder's :data:`MARKER` file (what was analysed, with which settings). ``checked``: the caller has already
    decided that ``out`` may be replaced (a command whose folders carry their own marker, as the backtest's
    ``manifest.json``), so :func:`check_fresh` is skipped. The temporary names carry the process id, so two
    processes writing beside each other never remove each other's folders, and end in ``.tmp``/``.old``, never
    in the ``.partial`` of a batch being run.
    """
    if not checked:
        check_fresh(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Named by process (not mkdtemp, whose private 0700 mode would stay on the finished folder).
    staging = out.parent / f".{out.name}.{os.getpid()}.tmp"
    if staging.exists():  # left by a killed earlier process that had the same id
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
        (staging / MARKER).write_text(json.dumps(about, indent=2, default=str) + "\n")
        if out.exists():
            old = out.parent / f".{out.name}.{os.getpid()}.old"
            shutil.rmtree(old, ignore_errors=True)  # left by a killed earlier process that had the same id
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
