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
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim.errors import RapprochementError
from sim.executors import Executor, make_executor
from sim.files import write_atomic
from sim.outcomes import OUTCOMES, OutcomeClass
from sim.runner import BatchPlan, RunFailure, RunRecord, RunResult, execute, read_record, to_record
from sim.scenario import Scenario
from sim.start_state import prepare_start_states

MANIFEST = "manifest.json"
TIMESERIES = "timeseries.parquet"
RUNS = "runs.parquet"
SUMMARY = "summary.csv"
SCENARIO = "scenario.yaml"
FORMAT_VERSION = 1
#: The staging manifest is rewritten at most this often while a batch runs.
PROGRESS_INTERVAL_S = 1.0
#: Runs are gathered into row groups of at least this many rows of ``timeseries.parquet`` (plus one run): few
#: enough row groups for fast writing and reading, while assembling a batch holds only one group in memory.
ROW_GROUP_ROWS = 32_768
#: Suffix of a finished run's part in the staging folder (its months and summary, see ``RunRecord``).
DONE_PART = "arrow"


class ResultsConflict(RapprochementError):
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


def _describe(identity: dict[str, Any], plots: bool | None) -> str:
    """A batch in words, for a refusal: runs, seed, scenario hash, design and plots."""
    words = [
        f"{identity.get('runs', '?')} runs",
        f"seed {identity.get('root_seed', '?')}",
        f"scenario hash {str(identity.get('scenario_hash', '?'))[:12]}",
    ]
    if identity.get("design"):
        words.append(f"{identity['design'].get('kind', '?')} design")
    if plots is not None:
        words.append("with plots" if plots else "without plots")
    return ", ".join(words)


def check_target(out_dir: Path, identity: dict[str, Any], *, plots: bool, force: bool) -> bool:
    """Whether ``out_dir`` already holds this very batch, finished; refuse to replace any other batch.

    A finished batch is replaced only when forced, whatever differs (scenario, seed, runs, design, plots): a
    smaller batch, say, must never silently take the place of a larger one, nor delete its report. The same
    batch is not computed again - its results would be identical - unless forced; one finished with plots also
    serves a request without them. A path that is a file, or a folder that is not a results folder, is refused
    even when forced.
    """
    manifest_path = out_dir / MANIFEST
    for folder in (out_dir.parent, out_dir):
        if folder.exists() and not folder.is_dir():
            raise ResultsConflict(f"{folder} is a file, not a folder; choose another --out")
    if not out_dir.exists():
        return False
    if not manifest_path.exists():
        if any(out_dir.iterdir()):
            # Even --force never deletes a folder that this program did not write.
            raise ResultsConflict(
                f"{out_dir} exists and is not a results folder (no {MANIFEST}); choose another --out"
            )
        return False
    if force:
        return False
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsConflict(f"{manifest_path} is unreadable ({exc}); pass --force to replace it") from None
    held = manifest.get("identity") or {
        key: manifest.get(key) for key in ("scenario_hash", "root_seed", "runs")
    }  # manifests written before the identity was recorded
    has_plots = bool(manifest.get("plots", (out_dir / "plots").is_dir()))
    if held == identity and (has_plots or not plots):
        return True
    extra = " and its report" if (out_dir / "report").exists() else ""
    raise ResultsConflict(
        f"{out_dir} holds another finished batch ({_describe(held, has_plots)}); this one is "
        f"{_describe(identity, plots)}. Pass --force to replace it{extra}, or --out to write elsewhere."
    )


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


@dataclass
class _Progress:
    done: int = 0
    failed: int = 0
    last_written: float = 0.0


class BatchStore:
    """A batch on its way to ``results/<name>/``: part files in a hidden staging folder, assembled at the end.

    Every finished run is written at once as its own part (one Arrow IPC file of its months and summary,
    moved into place atomically; a run that raised leaves a JSON file of its error instead), so a killed batch
    loses at most the runs in flight and ``--resume`` computes only the runs whose parts are missing or failed.
    The staging folder's manifest says which batch it holds (scenario hash, seed, runs, design) and how far it
    got; it is rewritten atomically. ``finalize`` assembles the parts in run order - so the files are the same
    however the batch was split into sessions, executors or workers - writes the summary and plots, and swaps
    the folder into place.
    """

    def __init__(self, out_dir: Path, plan: BatchPlan, *, source: str = "", overrides: tuple[str, ...] = ()):
        """Prepare (but do not touch) the store of ``plan`` in ``out_dir``."""
        self.out_dir = out_dir
        self.plan = plan
        self.source = source
        self.overrides = overrides
        self.staging = out_dir.parent / f".{out_dir.name}.partial"
        self.parts = self.staging / "parts"
        self.progress = _Progress()
        #: Set by ``open``: the results folder already holds this very batch, finished; nothing to compute.
        self.complete = False
        self._failed: set[int] = set()

    # -- opening ----------------------------------------------------------------------------------------
    def open(self, *, force: bool = False, resume: bool = False, plots: bool = True) -> None:
        """Create the staging folder, or reopen an interrupted batch when resuming.

        Refuses (``ResultsConflict``) to replace a finished batch that differs in anything without ``force``, to
        resume a batch that differs from this one, and to start afresh over an interrupted batch without
        ``--resume`` or ``--force``. When the results folder already holds this very batch, finished (with
        plots if ``plots``), nothing is created and ``complete`` is set: there is nothing to do.
        """
        scenario = self.plan.scenario
        self.complete = check_target(self.out_dir, self.plan.identity(), plots=plots, force=force)
        if self.complete and not self.staging.exists():
            return
        if self.staging.exists() and not self.staging.is_dir():
            raise ResultsConflict(f"{self.staging} is in the way (a file); remove it")
        if self.staging.exists():
            started = self._staged_manifest()
            if resume:
                if self.parts.exists() and any(self.parts.glob("ok-*.json")):
                    raise ResultsConflict(
                        f"the interrupted batch in {self.staging} was written by an earlier version of "
                        "rapprochement, whose finished runs this version cannot read; use --force to start over"
                    )
                if started.get("identity") != self.plan.identity():
                    raise ResultsConflict(
                        f"the interrupted batch in {self.staging} is a different batch (scenario, seed, runs or "
                        "design changed); it cannot be resumed with these settings. Use the settings it was "
                        "started with, or --force to start over."
                    )
            elif force:
                shutil.rmtree(self.staging)
            else:
                raise ResultsConflict(
                    f"an interrupted batch of {scenario.meta.name} is in {self.staging} "
                    f"({len(self._done())} of {started.get('total', '?')} runs done): pass --resume to finish "
                    "it, or --force to start over"
                )
        self.complete = False
        self.parts.mkdir(parents=True, exist_ok=True)
        self.progress = _Progress(done=len(self._done()), failed=0)
        # Runs whose failure is on disk from an earlier session: a success now replaces it.
        self._failed = {int(p.stem.split("-")[1]) for p in self.parts.glob("fail-*.json")}
        self._write_progress(force=True)

    def is_complete(self) -> bool:
        """Whether the results folder already holds this very batch, finished."""
        try:
            manifest = json.loads((self.out_dir / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError):
            return False
        return bool(manifest.get("identity") == self.plan.identity() and not self.staging.exists())

    def _staged_manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.staging / MANIFEST).read_text()))
        except (OSError, json.JSONDecodeError):
            return {}

    def _done(self) -> set[int]:
        """Run ids with a finished part."""
        if not self.parts.exists():
            return set()
        # An empty part is what a power cut can leave of one (parts are not flushed to disk): not done.
        return {int(p.stem.split("-")[1]) for p in self.parts.glob(f"ok-*.{DONE_PART}") if p.stat().st_size}

    def pending(self) -> list[int]:
        """Run ids still to compute: those without a finished part (failed runs are tried again)."""
        done = self._done()
        return [run for run in range(self.plan.total) if run not in done]

    # -- recording --------------------------------------------------------------------------------------
    def record(self, outcome: RunRecord | RunResult | RunFailure) -> None:
        """Write one finished run (or its failure) as parts, atomically."""
        if isinstance(outcome, RunFailure):
            write_atomic(self._part(outcome.run, "fail", "json"), json.dumps(asdict(outcome)), durable=False)
            self.progress.failed += 1
            self._failed.add(outcome.run)
        else:
            if isinstance(outcome, RunResult):
                outcome = to_record(outcome)
            # One file per finished run: its presence is what marks the run as done. Not flushed to disk: after a
            # power cut a part may be empty, and an empty part counts as not done (``_done``).
            write_atomic(self._part(outcome.run, "ok", DONE_PART), outcome.data, durable=False)
            if outcome.run in self._failed:  # known, not asked of the disk for every run
                self._part(outcome.run, "fail", "json").unlink(missing_ok=True)
                self._failed.discard(outcome.run)
            self.progress.done += 1
        self._write_progress()

    def _part(self, run: int, kind: str, suffix: str) -> Path:
        return self.parts / f"{kind}-{run:08d}.{suffix}"

    def _write_progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.progress.last_written < PROGRESS_INTERVAL_S:
            return
        self.progress.last_written = now
        manifest = {
            "status": "running",
            "scenario": self.plan.scenario.meta.name,
            "identity": self.plan.identity(),
            "total": self.plan.total,
            "done": self.progress.done,
            "failed": self.progress.failed,
            "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        write_atomic(self.staging / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def flush(self) -> None:
        """Bring the staging manifest up to date (after an interruption)."""
        self._write_progress(force=True)

    # -- finishing --------------------------------------------------------------------------------------
    def failures(self) -> list[dict[str, Any]]:
        """The failed runs recorded so far, in run order."""
        return [json.loads(p.read_text()) for p in sorted(self.parts.glob("fail-*.json"))]

    def finalize(self, *, plots: bool = True) -> dict[str, Any]:
        """Assemble the parts, draw the standard plots (in this process) and swap the folder into place; return
        the manifest. The command line does the same in three steps (``assemble``, the figures on its worker
        pool, ``commit``), so that figures are drawn side by side and while other runs compute."""
        manifest = self.assemble(plots=plots)
        if manifest["plots"]:
            from sim.analysis.figures import batch_figures, draw_all  # the store itself never draws
            from sim.provenance import Provenance

            origin = Provenance.from_manifest(manifest)
            draw_all(batch_figures(self.staging, label=self.plan.scenario.meta.name, provenance=origin))
        self.commit(manifest)
        return manifest

    def assemble(self, *, plots: bool = True) -> dict[str, Any]:
        """Write the batch's data files into the staging folder, from the parts in run order; return the manifest
        ``commit`` will write (``plots``: whether figures are to be drawn into ``staging/plots`` before it).

        Failed runs appear in ``runs.parquet`` with ``status`` ``failed`` and their ``error``; the manifest lists
        them, and they have no monthly rows. The parts stay until ``commit``, so an interruption before it is
        resumed without computing anything again.
        """
        plan, scenario = self.plan, self.plan.scenario
        summaries: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        writer = _RowGroupWriter(self.staging / TIMESERIES)
        try:
            for run in range(plan.total):
                ok = self._part(run, "ok", DONE_PART)
                if ok.exists() and ok.stat().st_size:
                    months, summary = read_record(ok.read_bytes())
                    writer.add(months)
                    summaries.append(summary)
                    continue
                fail = self._part(run, "fail", "json")
                if not fail.exists():
                    raise ResultsConflict(
                        f"{self.staging}: run {run} has neither a result nor a failure; pass --resume"
                    )
                record = json.loads(fail.read_text())
                failed.append(record)
                summaries.append(
                    {
                        "scenario": scenario.meta.name,
                        "run": run,
                        "replication": record["replication"],
                        "seed": record["seed"],
                        "status": "failed",
                        "error": record["error"],
                    }
                    | {f"param:{k}": v for k, v in record["values"].items()}
                )
            writer.flush()
        finally:
            writer.close()
        runs_frame = _with_error_column(pd.DataFrame(summaries))
        pq.write_table(_runs_table(runs_frame), self.staging / RUNS)
        finished = runs_frame[runs_frame["status"] == "ok"]
        if len(finished):
            summarise(finished).to_csv(self.staging / SUMMARY, index=False, float_format="%.6g")
        (self.staging / SCENARIO).write_text(
            yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "scenario": scenario.meta.name,
            "scenario_hash": scenario.digest(),
            "source": self.source,
            "overrides": list(self.overrides),
            "root_seed": plan.root_seed,
            "runs": plan.total,
            "replications": plan.runs,
            "months": scenario.meta.months,
            "start": scenario.meta.start,
            "status": "complete" if not failed else "complete_with_failures",
            "plots": bool(plots and writer.rows),
            "failed_runs": [{"run": f["run"], "seed": f["seed"], "error": f["error"]} for f in failed],
            "outcome_classes": {c.value: int((finished["outcome_class"] == c.value).sum()) for c in OutcomeClass}
            if len(finished)
            else {c.value: 0 for c in OutcomeClass},
            "identity": plan.identity(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        }
        if plan.design is not None:
            manifest["design"] = plan.identity()["design"] | {"points": len(plan.design.points)}
        return manifest

    def commit(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` into the staging folder and swap it into place as the finished results folder."""
        shutil.rmtree(self.parts)
        write_atomic(self.staging / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        _replace(self.staging, self.out_dir)


def _with_error_column(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with its ``error`` column right after ``status``, present (empty) even when no run failed, so
    a reader never needs to ask whether it exists."""
    error = runs.pop("error") if "error" in runs.columns else pd.Series([None] * len(runs), dtype=object)
    where = list(runs.columns).index("status") + 1 if "status" in runs.columns else len(runs.columns)
    runs.insert(where, "error", error)
    return runs


def _runs_table(runs: pd.DataFrame) -> pa.Table:
    """``runs`` as Arrow, its ``error`` column typed as text even when every entry is empty."""
    table = pa.Table.from_pandas(runs, preserve_index=False)
    index = table.schema.get_field_index("error")
    return table.set_column(index, "error", table.column(index).cast(pa.string()))


class _RowGroupWriter:
    """Appends runs' months to one Parquet file, gathered into row groups of at least ``ROW_GROUP_ROWS`` rows.

    The file is created with the first group, so a batch without a finished run writes no time series.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0  # rows written so far
        self._writer: pq.ParquetWriter | None = None
        self._group: list[pa.Table] = []
        self._group_rows = 0

    def add(self, table: pa.Table) -> None:
        """Queue one run's months; write the group once it is large enough."""
        self._group.append(table)
        self._group_rows += table.num_rows
        if self._group_rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the queued runs as one row group."""
        if not self._group:
            return
        table = pa.concat_tables(self._group)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self.rows += table.num_rows
        self._group, self._group_rows = [], 0

    def close(self) -> None:
        """Close the file (runs still queued are dropped: ``flush`` first to keep them)."""
        if self._writer is not None:
            self._writer.close()


def drive(
    store: BatchStore, executor: Executor, on_result: Callable[[RunRecord | RunFailure], None] | None = None
) -> None:
    """Compute every pending run of an open store on ``executor``, recording each as it completes."""
    pending = store.pending()
    if pending:
        prepare_start_states(store.plan.scenario)
    for outcome in executor.imap_unordered(execute, map(store.plan.task, pending), total=len(pending)):
        store.record(outcome)
        if on_result is not None:
            on_result(outcome)


def compute_batch(
    plan: BatchPlan,
    out_dir: Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    force: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Run a whole batch the way the command line does and return its manifest.

    Workers compute and serialise each run; this process only writes parts, then assembles the results.
    """
    with make_executor(workers, dask) as executor:  # an executor that cannot be built refuses before any write
        store = BatchStore(out_dir, plan)
        store.open(force=force, plots=plots)
        if store.complete:
            return load_manifest(out_dir)
        drive(store, executor)
    return store.finalize(plots=plots)


def write_batch(
    results: Iterable[RunResult | RunFailure],
    scenario: Scenario,
    out_dir: Path,
    *,
    root_seed: int,
    runs: int,
    force: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Write an already computed stream of a plain batch's runs (any order) and finalize it: a convenience for
    notebooks, tests and benchmarks; the command line drives ``BatchStore`` itself to support ``--resume``."""
    store = BatchStore(out_dir, BatchPlan(scenario, runs, root_seed))
    store.open(force=force, plots=plots)
    if store.complete:
        return load_manifest(out_dir)
    try:
        for outcome in results:
            store.record(outcome)
    except BaseException:
        shutil.rmtree(store.staging, ignore_errors=True)
        raise
    return store.finalize(plots=plots)


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


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a finished results folder."""
    return dict(json.loads((Path(path) / MANIFEST).read_text()))


def load_batch(path: str | Path) -> Batch:
    """Load a results folder as DataFrames and its manifest."""
    folder = Path(path)
    return Batch(
        folder,
        pd.read_parquet(folder / TIMESERIES),
        pd.read_parquet(folder / RUNS),
        load_manifest(folder),
    )
