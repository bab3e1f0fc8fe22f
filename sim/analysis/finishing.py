"""Finishing a batch: its data files assembled, its figures and report drawn on the workers, its folder swapped in.

The command line runs a batch's runs, then hands the batch here and goes on with the next batch's runs: the
figures (``sim.analysis.figures``, one task each) are drawn on the same executor meanwhile, and :func:`finish`
waits for them, writes the report page and swaps the folder into place. Plotting and the report are imported
only when a batch has figures to draw, so a batch run with ``--no-plots`` never loads matplotlib.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.executors import Executor
from sim.provenance import Provenance
from sim.results import RUNS, Batch, BatchStore

if TYPE_CHECKING:
    from sim.analysis.figures import Drawn, FigureJob


@dataclass
class Finishing:
    """A batch whose data files are assembled in its staging folder and whose figures (and report) are being
    drawn on the executor; :func:`finish` waits for them and swaps the folder into place."""

    store: BatchStore
    manifest: dict[str, Any]
    plots: list[Future[Drawn]]
    report: list[Future[Drawn]]
    #: How many of the first ``plots`` are also the report's fans (drawn once, as PNG and SVG, then copied).
    shared_fans: int = 0


def start_finishing(store: BatchStore, executor: Executor, *, plots: bool, report: bool) -> Finishing:
    """Assemble ``store``'s data files and submit its figures - the standard plots, and with ``report`` the
    report's - to ``executor``, each figure a task; return at once, so later runs can compute meanwhile."""
    manifest = store.assemble(plots=plots)
    name = store.plan.scenario.meta.name
    reported = report and sum(manifest["outcome_classes"].values()) > 0
    jobs: list[FigureJob] = []
    report_jobs: list[FigureJob] = []
    shared = 0
    if manifest["plots"]:
        from sim.analysis.figures import batch_figures

        # With a report, the batch's fans are drawn in the report's formats too and serve both.
        jobs = batch_figures(
            store.staging,
            label=name,
            formats=("png", "svg") if reported else ("png",),
            provenance=Provenance.from_manifest(manifest),
        )
    if reported:
        from sim.analysis.report import report_figures

        report_jobs = report_figures(_staged_batch(store, manifest), store.staging / REPORT_FOLDER, label=name)
        if jobs:
            shared = sum(1 for job in report_jobs if job.kind == "fan")
            report_jobs = report_jobs[shared:]  # report_figures puts the fans first
    if not jobs and not report_jobs:
        return Finishing(store, manifest, [], [])
    from sim.analysis.figures import draw

    # The overview (every key fan on one page) takes as long as five other figures: started first, it does not
    # leave one worker drawing it alone at the end.
    overview = [job for job in jobs if job.kind == "overview"]
    early = {id(job): executor.submit(draw, job) for job in overview}
    return Finishing(
        store,
        manifest,
        [early.get(id(job)) or executor.submit(draw, job) for job in jobs],
        [executor.submit(draw, job) for job in report_jobs],
        shared,
    )


def finish(finishing: Finishing) -> dict[str, Any]:
    """Wait for a batch's figures, write its report page, and swap its folder into place; return the manifest."""
    store, manifest = finishing.store, finishing.manifest
    for future in finishing.plots:
        future.result()
    if finishing.report or finishing.shared_fans:
        from sim.analysis.common import MARKER
        from sim.analysis.figures import PLOTS
        from sim.analysis.report import build_report

        folder = store.staging / REPORT_FOLDER
        fans = [_copied(future.result(), folder / PLOTS) for future in finishing.plots[: finishing.shared_fans]]
        drawn = fans + [future.result() for future in finishing.report]
        staged = _staged_batch(store, manifest)
        build_report(staged, folder, label=store.plan.scenario.meta.name, drawn=drawn, shown_path=store.out_dir)
        # As ``rapprochement report`` marks the folders it writes, so that --force may replace this one later.
        marker = {"command": "report", "results": str(store.out_dir)}
        (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    store.commit(manifest)
    return manifest


#: The report's folder inside a results folder.
REPORT_FOLDER = "report"


def _staged_batch(store: BatchStore, manifest: dict[str, Any]) -> Batch:
    """The batch still in its staging folder, as the report reads a finished one (it needs no time series)."""
    return Batch(store.staging, pd.DataFrame(), pd.read_parquet(store.staging / RUNS), manifest)


def _copied(drawn: Drawn, folder: Path) -> Drawn:
    """A drawn figure copied into ``folder`` (a report's own plots: the report folder stands alone)."""
    from sim.analysis.figures import Drawn

    folder.mkdir(parents=True, exist_ok=True)
    return Drawn(drawn.title, tuple(Path(shutil.copy2(path, folder / path.name)) for path in drawn.paths))
