"""Sensitivity of a sweep's outcomes to the scenario's uncertain parameters (Sobol indices, Morris screening).

A sweep (``rapprochement sweep`` or ``sensitivity``) runs every point of a Sobol or Morris design several times
with the same seeds. The model is stochastic, so each point's replications are averaged first; the indices are
then those of that mean output, computed by SALib through :func:`sim.designs.analyze` (Saltelli et al. 2010 and
Jansen 1999 for Sobol; Morris 1991 and Campolongo et al. 2007 for Morris), with SALib's bootstrap confidence
intervals. The intervals cover the sampling of the design, not the replication noise left in each point's mean,
so use enough replications that the per-point means are stable (``noise_share`` in the table says how much of
the spread of the means that noise may still explain).
``write_sensitivity`` also writes ``report.html`` (see :func:`sim.analysis.report.build_sensitivity_page`): the
ranked indices with their intervals, the noise share and a plain-language reading, charts embedded.

Replication ``r`` has the same seeds at every design point (common random numbers), so the part of the noise
that a seed adds to every point alike shifts all means equally and cancels from the indices; only the rest
(the point x replication interaction of a two-way decomposition) blurs them, and that is what ``noise_share``
measures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.common import (
    AnalysisError,
    finished_runs,
    fresh_folder,
    metric_values,
    ok_runs,
    resolve_metric,
    scenario_of,
)
from sim.analysis.figures import Drawn
from sim.analysis.report import build_sensitivity_page
from sim.designs import Design, DesignError, DesignKind, Factor, analyze, is_whole_number
from sim.plots import save_figure, sensitivity_bars
from sim.provenance import Provenance
from sim.results import Batch

__all__ = [
    "DEFAULT_OUTPUTS",
    "ConstantOutput",
    "design_of",
    "noise_share",
    "point_means",
    "sensitivity_indices",
    "sensitivity_table",
    "write_sensitivity",
]

#: What a sensitivity analysis explains unless told otherwise: the last-year relations index and relapse.
DEFAULT_OUTPUTS: tuple[str, ...] = ("window_relations_index", "share_relapse")


class ConstantOutput(AnalysisError):
    """An output with the same mean at every design point: no variance or effect to apportion."""


def design_of(batch: Batch) -> Design:
    """The design a sweep's results were run on, rebuilt from its runs and checked against its manifest.

    The points are read back from the runs' ``param:`` columns (every run of a point, failed or not, records
    them) and must hash to the ``points_sha256`` the manifest recorded, so the indices are computed on exactly
    the design that was run. Refuses results that are not a Sobol or Morris sweep.
    """
    design = (batch.manifest.get("identity") or {}).get("design")
    if not design:
        raise AnalysisError(
            f"{batch.path}: not a sweep (its manifest records no design); run 'rapprochement sensitivity "
            "SCENARIO --method sobol|morris' or 'rapprochement sweep'"
        )
    kind = DesignKind(design["kind"])
    if kind not in (DesignKind.SOBOL, DesignKind.MORRIS):
        raise AnalysisError(
            f"{batch.path}: a {kind.value} sweep has no sensitivity indices; expected a sobol or morris design"
        )
    # Whole-numberness is not in the manifest; the scenario saved with the results says it (morris refuses such
    # factors, see sim.designs.check_analysable).
    scenario = scenario_of(batch)
    factors = tuple(
        Factor(path, float(low), float(high), scenario is not None and is_whole_number(scenario, path))
        for path, low, high in design["factors"]
    )
    columns = [f"param:{factor.path}" for factor in factors]
    missing = [c for c in ["design_point", *columns] if c not in batch.runs.columns]
    if missing:
        raise AnalysisError(f"{batch.path}: runs.parquet lacks the design's columns {', '.join(missing)}")
    firsts = batch.runs.sort_values(["design_point", "run"]).groupby("design_point", sort=True).first()
    points = firsts[columns].to_numpy(dtype=np.float64)
    digest = hashlib.sha256(np.ascontiguousarray(points).tobytes()).hexdigest()
    if not np.array_equal(firsts.index.to_numpy(), np.arange(len(points))) or digest != design["points_sha256"]:
        raise AnalysisError(
            f"{batch.path}: the runs do not hold the design the manifest records (edited results?)"
        )
    return Design(kind, factors, points, int(design["seed"]))


def point_means(design: Design, runs: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per design point, the mean of ``metric`` over its finished replications, and their count.

    ``runs`` needs ``design_point`` and the metric's column; failed runs (``status`` not ``ok``) are left out.
    A point without any finished replication cannot be averaged, and is refused by name.
    """
    runs = finished_runs(runs)
    values = metric_values(runs, metric)
    grouped = values.groupby(runs["design_point"].to_numpy()).agg(["mean", "count"])
    grouped = grouped.reindex(np.arange(len(design.points)))
    empty = np.flatnonzero(grouped["count"].fillna(0).to_numpy() == 0)
    if empty.size:
        shown = ", ".join(str(i) for i in empty[:10]) + (", ..." if empty.size > 10 else "")
        raise AnalysisError(
            f"design points {shown} have no finished run, so their mean is unknown; resume the sweep"
        )
    return grouped["mean"].to_numpy(dtype=np.float64), grouped["count"].to_numpy(dtype=np.int64)


def sensitivity_indices(design: Design, runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Sensitivity indices of ``metric`` over ``design``: replications averaged per point, then SALib's analysis.

    One row per factor, as :func:`sim.designs.analyze` (``S1``, ``S1_conf``, ``ST``, ``ST_conf`` for Sobol;
    ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma`` for Morris), ranked, plus ``output`` (the metric),
    ``replications`` (the fewest finished replications of any point) and ``noise_share`` (see
    :func:`noise_share`). Near 0 the indices describe the model's response; near or above 1 the means are
    mostly noise and more runs are needed.
    """
    means, counts = point_means(design, runs, metric)
    if np.ptp(means) == 0.0:  # for either method: no variance to apportion, every effect is zero
        raise ConstantOutput(f"{metric}: the same at every design point, so no factor explains any of it")
    try:
        table = analyze(design, means)
    except DesignError as exc:
        raise AnalysisError(f"{metric}: {exc}") from None
    table.insert(0, "output", metric)
    table["replications"] = int(counts.min())
    table["noise_share"] = noise_share(runs, metric, means)
    return table


def noise_share(runs: pd.DataFrame, metric: str, means: np.ndarray) -> float:
    """Variance of a point's mean due to replication noise that common random numbers do not cancel, over the
    variance of the means across points.

    With every point run on the same replications, ``y[p, r] = mean[p] + seed[r] + e[p, r]``: the seed term
    moves all points alike and leaves the indices alone, so the noise is the residual ``e`` of that two-way
    decomposition, and the noise in a mean is its variance over the replications. Where replications are
    missing (failed runs) the within-point variance is used instead, which is larger: a conservative figure.
    NaN with a single replication or constant means.
    """
    runs = finished_runs(runs)
    values = pd.DataFrame(
        {"point": runs["design_point"].to_numpy(), "rep": runs["replication"].to_numpy()}
        | {"y": metric_values(runs, metric).to_numpy()}
    )
    table = values.pivot_table(index="point", columns="rep", values="y", aggfunc="mean")
    spread = float(np.var(means, ddof=1)) if len(means) > 1 else 0.0
    reps = table.shape[1]
    if reps < 2 or spread <= 0.0:
        return float("nan")
    grid = table.to_numpy(dtype=np.float64)
    if np.isfinite(grid).all():
        residual = grid - grid.mean(axis=1, keepdims=True) - grid.mean(axis=0, keepdims=True) + grid.mean()
        variance = float((residual**2).sum()) / ((grid.shape[0] - 1) * (reps - 1))
        return variance / reps / spread
    within = values.groupby("point")["y"].agg(["var", "count"])
    return float(np.nanmean(within["var"] / within["count"])) / spread


def sensitivity_table(batch: Batch, outputs: Sequence[str] = DEFAULT_OUTPUTS) -> tuple[pd.DataFrame, list[str]]:
    """Indices of every output of a sweep's results, stacked; and a note per output that has none.

    An output that is constant over the design (say, no run ever relapses) has no variance to apportion
    (:class:`ConstantOutput`, for Sobol and Morris alike); it is skipped with a note rather than failing the
    others. Unknown output names raise :class:`AnalysisError`.
    """
    metrics = [resolve_metric(name) for name in outputs]
    design = design_of(batch)
    runs = batch.runs
    tables, notes = [], []
    for metric in dict.fromkeys(metrics):
        try:
            tables.append(sensitivity_indices(design, runs, metric))
        except ConstantOutput:
            notes.append(f"{metric} is the same at every design point, so no factor explains any of it")
    if not tables:
        raise AnalysisError(f"{batch.path}: no output varies over the design ({'; '.join(notes)})")
    return pd.concat(tables, ignore_index=True), notes


def write_sensitivity(
    batch: Batch, out: Path, *, outputs: Sequence[str] = DEFAULT_OUTPUTS, force: bool = False, plots: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Analyse a sweep into a fresh folder ``out``: ``indices.csv``, a ranked bar chart per output (unless
    ``plots`` is false) and ``report.html``, the page that ranks the factors, with the charts embedded.

    Returns the table and the notes of :func:`sensitivity_table`.
    """
    if ok_runs(batch).empty:
        raise AnalysisError(f"{batch.path}: no run finished")
    table, notes = sensitivity_table(batch, outputs)
    about = {
        "command": "sensitivity",
        "results": str(batch.path),
        "design": (batch.manifest.get("identity") or {}).get("design", {}).get("kind"),
        "outputs": list(dict.fromkeys(table["output"])),
        "notes": notes,
    }
    # The charts say which sweep they analyse, as a batch's own figures do.
    origin = Provenance.from_manifest(batch.manifest, command=f"rapprochement sensitivity {batch.path}")
    with fresh_folder(out, force=force, about=about) as folder:
        table.to_csv(folder / "indices.csv", index=False, float_format="%.6g")
        drawn = []
        if plots:
            for metric, part in table.groupby("output", sort=False):
                ax = sensitivity_bars(part, output=str(metric))
                title = ax.get_title()  # saving releases the figure
                saved = save_figure(ax, folder / f"sensitivity_{metric}", provenance=origin)
                drawn.append(Drawn(title, tuple(saved)))
        build_sensitivity_page(batch, design_of(batch), table, notes, folder, drawn)
    return table, notes
