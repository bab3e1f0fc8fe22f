"""A batch's figures as jobs: each figure is drawn from the files a batch wrote, in any process.

The results store writes data only (``timeseries.parquet``, ``runs.parquet``, ``scenario.yaml``); the figures of
a batch and of its report are drawn from those files afterwards. Each figure is one :class:`FigureJob` - small
and picklable - so a pool of workers draws them side by side, and while it does the next batch's runs can
compute. ``draw`` reads what a job needs once per process and folder (a worker drawing six fans reads the time
series once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis.classes import ClassRules
from sim.loading import ScenarioError
from sim.outcomes import KEY_OUTCOMES, REGIME_STATES, STEP_OUTCOMES
from sim.plots import (
    POLL_SERIES,
    EventMarker,
    PollMark,
    batch_overview,
    class_map,
    fan_chart,
    horizon_distribution,
    outcome_class_shares,
    regime_shares,
    save_figure,
)
from sim.provenance import Provenance
from sim.results import RUNS, SCENARIO, TIMESERIES
from sim.scenario import Scenario, load_scenario, parse_date

#: What a job draws: a fan chart of one outcome, the distribution of one outcome at the horizon, the shares of
#: the outcome classes, the class map (each run's index and institutionalisation against the class thresholds),
#: or the one-page overview of a batch.
FigureKind = Literal["fan", "horizon", "classes", "class_map", "regimes", "overview"]

#: The folder of the standard figures inside a results folder.
PLOTS = "plots"


def event_markers(scenario: Scenario) -> list[EventMarker]:
    """The scenario's dated injects as plot markers."""
    return [
        EventMarker(pd.Timestamp(parse_date(e.date)), e.description or e.kind.value, e.kind.value)
        for e in scenario.events
    ]


def poll_history(scenario: Scenario) -> dict[str, list[PollMark]]:
    """The observed polls to draw before a projection that starts from the measured present (a scenario with
    ``meta.start_state``), by the outcome they are read like; none for other scenarios."""
    if scenario.meta.start_state is None:
        return {}
    from sim.validation.observe import DEFAULT_POLLS, read_polls
    from sim.validation.simulate import covered_points

    record = scenario.meta.start_state.source
    points = covered_points(read_polls(DEFAULT_POLLS), load_scenario(record)) if record else []
    history: dict[str, list[PollMark]] = {}
    for outcome, series in POLL_SERIES.items():
        history[outcome] = [
            PollMark(
                pd.Timestamp(
                    year=p.fieldwork[len(p.fieldwork) // 2][0], month=p.fieldwork[len(p.fieldwork) // 2][1], day=15
                ),
                float(p.observed),
                p.fielded_by or p.instrument.instrument,
                p.segment == "base",
            )
            for p in points
            if p.series == series and p.observed is not None
        ]
    return history


@dataclass(frozen=True)
class FigureJob:
    """One figure of the batch whose files are in ``folder``, saved as ``stem.<format>`` for each format.

    ``label`` names the batch on the figure (a batch's own folder may still be its staging folder); ``history``
    draws the observed polls before the favourability fans; ``full_range`` shows every value axis over its
    outcome's whole documented range instead of where the values lie; ``provenance`` is the batch's origin, in
    every file's metadata and on the figure's foot (a staging folder has no manifest yet to read it from).
    """

    folder: Path
    kind: FigureKind
    stem: Path
    formats: tuple[str, ...] = ("png",)
    outcome: str = ""
    label: str = ""
    history: bool = True
    full_range: bool = False
    provenance: Provenance | None = None


@dataclass(frozen=True)
class Drawn:
    """A drawn figure: its title (for a report's heading) and the files written, in the job's format order."""

    title: str
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class _BatchData:
    timeseries: pd.DataFrame
    runs: pd.DataFrame
    events: list[EventMarker]
    history: dict[str, list[PollMark]]
    thresholds: dict[str, float]


@functools.cache
def _read(folder: str, label: str, _stamp: int) -> _BatchData:
    """A batch's finished runs, monthly series, events, observed polls and outcome-class thresholds (``_stamp``:
    the time series file's modification time, so a rewritten folder is read again)."""
    path = Path(folder)
    runs = pd.read_parquet(path / RUNS)
    if "status" in runs.columns:
        runs = runs[runs["status"] == "ok"].reset_index(drop=True)
    timeseries = pd.read_parquet(path / TIMESERIES)
    if label:
        runs = runs.assign(scenario=label)
        timeseries = timeseries.assign(scenario=label)
    try:
        scenario = load_scenario(path / SCENARIO)
    except (OSError, ValueError, ScenarioError):
        # Results of an older format, or without their scenario file: no markers, no polls, the default thresholds.
        return _BatchData(timeseries, runs, [], {}, ClassRules.of(None).thresholds())
    return _BatchData(
        timeseries, runs, event_markers(scenario), poll_history(scenario), ClassRules.of(scenario).thresholds()
    )


def draw(job: FigureJob) -> Drawn:
    """Draw and save the figure of ``job`` (in any process); return its title and files."""
    data = _read(str(job.folder), job.label, (job.folder / TIMESERIES).stat().st_mtime_ns)
    history = data.history if job.history else None
    figure: Axes | Figure
    wide, thresholds = job.full_range, data.thresholds
    if job.kind == "fan":
        figure = fan_chart(
            data.timeseries,
            job.outcome,
            events=data.events,
            history=history,
            thresholds=thresholds,
            full_range=wide,
        )
    elif job.kind == "horizon":
        figure = horizon_distribution(data.runs, job.outcome, thresholds=thresholds, full_range=wide)
    elif job.kind == "classes":
        figure = outcome_class_shares(data.runs)
    elif job.kind == "class_map":
        figure = class_map(data.runs, thresholds, full_range=wide)
    elif job.kind == "regimes" and set(REGIME_STATES) & set(data.timeseries.columns):
        figure = regime_shares(data.timeseries, events=data.events)
    elif job.kind == "regimes":  # results written before the states were recorded: the index's fan
        figure = fan_chart(data.timeseries, "trade_normalization", events=data.events, full_range=wide)
    else:
        figure = batch_overview(data.timeseries, data.runs, data.events, thresholds=thresholds, full_range=wide)
    title = figure.get_title() if isinstance(figure, Axes) else ""
    return Drawn(title, tuple(save_figure(figure, job.stem, job.formats, provenance=job.provenance)))


def batch_figures(
    folder: Path, *, label: str = "", formats: Sequence[str] = ("png",), provenance: Provenance | None = None
) -> list[FigureJob]:
    """The standard figures of the batch in ``folder``, into ``folder/plots``: a fan per key outcome (with the
    observed polls and the class thresholds) but the step outcomes, the share of runs with each measure in force,
    the outcome-class shares, the class map and the overview page; each carries ``provenance``."""
    plots, fmts, origin = folder / PLOTS, tuple(formats), provenance
    jobs = [FigureJob(folder, "fan", plots / f"fan_{o}", fmts, o, label, provenance=origin) for o in fanned()]
    jobs.append(FigureJob(folder, "regimes", plots / "measures_in_force", fmts, label=label, provenance=origin))
    jobs.append(FigureJob(folder, "classes", plots / "outcome_classes", fmts, label=label, provenance=origin))
    jobs.append(FigureJob(folder, "class_map", plots / "class_map", fmts, label=label, provenance=origin))
    jobs.append(FigureJob(folder, "overview", plots / "overview", fmts, label=label, provenance=origin))
    return jobs


def fanned(outcomes: Sequence[str] = KEY_OUTCOMES) -> list[str]:
    """The ``outcomes`` drawn as fan charts: all but the step outcomes, whose measures are drawn as steps."""
    return [o for o in outcomes if o not in STEP_OUTCOMES]


def draw_all(jobs: Iterable[FigureJob], map_: Callable[..., Iterable[Drawn]] = map) -> list[Drawn]:
    """Draw every job with ``map_`` (``map`` in this process, or a pool's ordered map); results in job order."""
    return list(map_(draw, jobs))
