"""Plots of a Monte-Carlo batch: fan charts of the monthly outcomes and shares of outcome classes.

Every plotting function takes an optional ``ax``; it creates a figure only when ``ax`` is None, and
it returns the Axes it drew on. Figures are built with :class:`matplotlib.figure.Figure` directly,
never through pyplot's global state, so the functions are safe to call from worker threads or
processes and work headless with any non-interactive backend (Agg). Nothing here calls
``plt.show()`` or prints.

Inputs (see ``sim.outcomes`` for the column names):

* ``timeseries``: one row per (run, month) with ``scenario``, ``run``, ``month``, ``date`` and one
  column per outcome and event count;
* ``runs``: one row per run with ``scenario``, ``run``, ``seed``, ``outcome_class`` and ``final_*``;
* ``events``: :class:`EventMarker` objects, the dated scenario injects marked on the time axis.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.outcomes import EVENT_COUNTS, KEY_OUTCOMES, OUTCOMES, OutcomeClass

__all__ = [
    "CLASS_COLORS",
    "OKABE_ITO",
    "EventMarker",
    "fan_chart",
    "outcome_class_shares",
    "save_batch_plots",
    "wilson_interval",
]

#: Okabe & Ito (2008) colour-blind-safe palette, in the order scenarios are given colours
#: (yellow and black last: yellow is faint on white, black is reserved-looking for medians).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Bar colours of the outcome classes when a single scenario is shown (also Okabe-Ito).
CLASS_COLORS: dict[OutcomeClass, str] = {
    OutcomeClass.DURABLE_RAPPROCHEMENT: "#009E73",
    OutcomeClass.FRAGILE_THAW: "#E69F00",
    OutcomeClass.RELAPSE: "#D55E00",
}

#: Quantile levels of a fan: 90 % band low, 50 % band low, median, 50 % band high, 90 % band high.
_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
_BAND_50_LABEL = "50 % band (25th-75th pct.)"
_BAND_90_LABEL = "90 % band (5th-95th pct.)"
_ALPHA_50 = 0.35
_ALPHA_90 = 0.15

# gids that tag the artists drawn here, so the legend (and tests) can find them again.
GID_MEDIAN = "fan-median"
GID_BAND_50 = "fan-band-50"
GID_BAND_90 = "fan-band-90"
GID_EVENT_LINE = "event-marker"
GID_EVENT_TEXT = "event-label"
GID_CLASS_BAR = "class-bar"
GID_CLASS_COUNT = "class-count"

#: Heights (axes fraction) of the tops of event labels, one per stagger level.
_EVENT_LABEL_Y: tuple[float, ...] = (0.98, 0.64, 0.30)

_DPI = 120
_FAN_FIGSIZE = (8.5, 4.5)
_CLASS_FIGSIZE = (7.0, 4.5)
_OVERVIEW_FIGSIZE = (16.0, 11.0)


@dataclass(frozen=True)
class EventMarker:
    """A dated scenario inject to mark on the time axis of fan charts."""

    date: pd.Timestamp | datetime.date
    label: str
    kind: str


# --------------------------------------------------------------------------------------------------
# statistics


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    Wilson, E. B. (1927). "Probable inference, the law of succession, and statistical inference".
    *Journal of the American Statistical Association* 22 (158): 209-212.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at 0/n or n/n.
    ``z`` is the standard-normal quantile (1.96 for a 95 % interval). With ``n == 0`` nothing is
    known and ``(0.0, 1.0)`` is returned.

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.4902, 0.9433)
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------------------------------
# helpers


def _new_axes(figsize: tuple[float, float]) -> Axes:
    """A fresh Axes on a pyplot-free Figure (thread/process safe, no global figure registry)."""
    fig = Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    return fig.add_subplot()


def _scenarios(frame: pd.DataFrame) -> list[str]:
    """Scenario names in order of first appearance ([""] when the frame has no scenario column)."""
    if "scenario" not in frame.columns:
        return [""]
    return [str(s) for s in pd.unique(frame["scenario"])]


def _used_colors(ax: Axes) -> set[str]:
    return {str(line.get_color()).lower() for line in ax.get_lines() if line.get_gid() == GID_MEDIAN}


def _next_colors(ax: Axes, count: int) -> list[str]:
    """``count`` palette colours, skipping those already used by fans on ``ax`` (then cycling)."""
    used = _used_colors(ax)
    free = [c for c in OKABE_ITO if c.lower() not in used]
    pool = free + [c for c in OKABE_ITO if c.lower() in used]
    return [pool[i % len(pool)] for i in range(count)]


def _fan_quantiles(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per-date quantiles across runs: index = date, columns = the levels in ``_QUANTILES``."""
    q = frame.groupby("date")[outcome].quantile(np.array(_QUANTILES)).unstack()
    q.index = pd.DatetimeIndex(q.index)
    return q.sort_index()


def _outcome_text(outcome: str) -> tuple[str, str, tuple[float, float] | None]:
    """Title, y label and fixed y limits of an outcome (event counts etc. get fallbacks)."""
    info = OUTCOMES.get(outcome)
    if info is not None:
        return info.label, info.unit, (info.low, info.high)
    if outcome in EVENT_COUNTS:
        return outcome.replace("_", " ").capitalize(), "events per month", None
    return outcome, "", None


def _draw_events(ax: Axes, events: Sequence[EventMarker], start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Dotted vertical lines with small rotated labels at event dates within [start, end].

    Labels of events closer than ~4 % of the date range to an earlier labelled one move down to
    the next of three levels so neighbouring labels do not overlap. Events already marked on
    ``ax`` (same date and label, e.g. from an earlier fan on the same Axes) are not drawn twice.
    """
    already = {
        (round(float(text.get_position()[0]), 6), text.get_text())
        for text in ax.texts
        if text.get_gid() == GID_EVENT_TEXT
    }
    inside = sorted(
        ((pd.Timestamp(e.date), e) for e in events if start <= pd.Timestamp(e.date) <= end),
        key=lambda pair: pair[0],
    )
    crowded = (end - start) * 0.04
    last_at_level: list[pd.Timestamp | None] = [None] * len(_EVENT_LABEL_Y)
    for when, event in inside:
        x = float(mdates.date2num(when.to_pydatetime()))
        # Lowest level whose previous label is far enough away (all crowded: cycle by date order).
        free = [i for i, t in enumerate(last_at_level) if t is None or when - t >= crowded]
        level = free[0] if free else min(range(len(last_at_level)), key=lambda i: last_at_level[i] or start)
        last_at_level[level] = when
        if (round(x, 6), event.label) in already:
            continue
        ax.axvline(x, color="0.35", linestyle=":", linewidth=1.0, zorder=1.5, gid=GID_EVENT_LINE)
        ax.text(
            x,
            _EVENT_LABEL_Y[level],
            event.label,
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="top",
            fontsize=7,
            color="0.25",
            gid=GID_EVENT_TEXT,
            clip_on=True,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
        )


def _refresh_fan_legend(ax: Axes, fontsize: float = 8) -> None:
    """(Re)build the fan legend from every fan on ``ax`` (so repeated calls accumulate series)."""
    medians = [line for line in ax.get_lines() if line.get_gid() == GID_MEDIAN]
    if not medians:
        return
    handles: list[Line2D | Patch | PolyCollection]
    labels: list[str]
    if len(medians) == 1:
        line = medians[0]
        name = str(line.get_label())
        bands = {c.get_gid(): c for c in ax.collections if isinstance(c, PolyCollection)}
        color = line.get_color()
        band_50 = bands.get(GID_BAND_50)
        band_90 = bands.get(GID_BAND_90)
        handles = [
            line,
            band_50 if band_50 is not None else Patch(color=color, alpha=_ALPHA_50),
            band_90 if band_90 is not None else Patch(color=color, alpha=_ALPHA_90),
        ]
        labels = [
            "Median" if name == "Median" else f"Median, {name}",
            _BAND_50_LABEL,
            _BAND_90_LABEL,
        ]
    else:
        handles = [*medians]
        labels = [str(line.get_label()) for line in medians]
        handles += [
            Line2D([], [], color="0.3", linewidth=2.0),
            Patch(color="0.3", alpha=_ALPHA_50),
            Patch(color="0.3", alpha=_ALPHA_90),
        ]
        labels += ["Median (line)", _BAND_50_LABEL, _BAND_90_LABEL]
    # Outside, to the right: fans usually fill the whole plotting area.
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=fontsize,
        frameon=False,
        borderaxespad=0.0,
    )


# --------------------------------------------------------------------------------------------------
# fan chart


def fan_chart(
    timeseries: pd.DataFrame,
    outcome: str,
    *,
    events: Sequence[EventMarker] = (),
    ax: Axes | None = None,
    color: str | None = None,
    label: str | None = None,
) -> Axes:
    """Median and 50 % / 90 % quantile bands of ``outcome`` across runs, month by month.

    The bands are the 25th-75th and 5th-95th percentiles across runs at each date (linear
    interpolation, NaNs ignored). The x axis is dated (concise date formatter); the title is the
    outcome's label, the y label its unit and the y limits its [low, high] from
    ``sim.outcomes.OUTCOMES`` (event-count columns are accepted too, with a free y range). Events
    whose dates fall inside the data's date range are drawn as dotted vertical lines with small
    rotated labels. The legend sits outside the plot, to the right.

    If ``timeseries`` holds several scenarios one fan is drawn per scenario, coloured from the
    Okabe-Ito palette, with the scenario names in the legend. Calling ``fan_chart`` again on the
    same ``ax`` adds another fan (colours already used on ``ax`` are skipped) and rebuilds the
    legend, which is how comparison plots are built.

    ``color`` sets the colour of a single-scenario fan (ignored when the frame holds several
    scenarios); ``label`` names a single-scenario fan in the legend (with several scenarios, the
    scenario names are used).
    """
    missing = {"date", outcome} - set(timeseries.columns)
    if missing:
        raise KeyError(f"timeseries lacks column(s) {sorted(missing)}")
    if timeseries.empty:
        raise ValueError("timeseries is empty")
    if ax is None:
        ax = _new_axes(_FAN_FIGSIZE)

    scenarios = _scenarios(timeseries)
    several = len(scenarios) > 1
    if several:
        colors = _next_colors(ax, len(scenarios))
    else:
        colors = [color] if color is not None else _next_colors(ax, 1)

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    for scenario, fan_color in zip(scenarios, colors, strict=True):
        frame = timeseries[timeseries["scenario"] == scenario] if several else timeseries
        q = _fan_quantiles(frame, outcome)
        x = q.index.to_numpy()
        ax.fill_between(
            x,
            q[_QUANTILES[0]].to_numpy(),
            q[_QUANTILES[4]].to_numpy(),
            color=fan_color,
            alpha=_ALPHA_90,
            linewidth=0,
            gid=GID_BAND_90,
        )
        ax.fill_between(
            x,
            q[_QUANTILES[1]].to_numpy(),
            q[_QUANTILES[3]].to_numpy(),
            color=fan_color,
            alpha=_ALPHA_50,
            linewidth=0,
            gid=GID_BAND_50,
        )
        name = scenario if several else (label or "Median")
        ax.plot(
            x,
            q[0.5].to_numpy(),
            color=fan_color,
            linewidth=2.0,
            label=name,
            gid=GID_MEDIAN,
            zorder=3,
        )
        first, last = q.index.min(), q.index.max()
        start = first if start is None else min(start, first)
        end = last if end is None else max(end, last)

    title, unit, limits = _outcome_text(outcome)
    ax.set_title(title)
    ax.set_ylabel(unit)
    if limits is not None:
        ax.set_ylim(*limits)
    else:
        ax.set_ylim(bottom=0)
    ax.margins(x=0)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)

    if start is not None and end is not None:
        _draw_events(ax, events, start, end)
    _refresh_fan_legend(ax)
    return ax


# --------------------------------------------------------------------------------------------------
# outcome classes


def _class_label(cls: OutcomeClass) -> str:
    return cls.value.replace("_", " ").capitalize()


def outcome_class_shares(runs: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Share of runs in each :class:`OutcomeClass`, as % of runs, with 95 % Wilson intervals.

    All three classes are always shown, in enum order (0 % when absent). If ``runs`` holds several
    scenarios the bars are grouped by class, one bar per scenario (Okabe-Ito colours, scenario names
    and run counts in the legend). Each bar is annotated with its count of runs; the title gives the
    number of runs. Unknown ``outcome_class`` values raise ``ValueError``.
    """
    if "outcome_class" not in runs.columns:
        raise KeyError("runs lacks column 'outcome_class'")
    if runs.empty:
        raise ValueError("runs is empty")
    classes = list(OutcomeClass)
    values = runs["outcome_class"].astype(str)
    unknown = set(values) - {c.value for c in classes}
    if unknown:
        raise ValueError(f"unknown outcome classes: {sorted(unknown)}")
    if ax is None:
        ax = _new_axes(_CLASS_FIGSIZE)

    scenarios = _scenarios(runs)
    several = len(scenarios) > 1
    groups = runs["scenario"].astype(str) if "scenario" in runs.columns else pd.Series("", runs.index)
    counts = (
        pd.crosstab(groups, values)
        .reindex(index=scenarios, columns=[c.value for c in classes], fill_value=0)
        .astype(int)
    )

    x = np.arange(len(classes), dtype=float)
    width = 0.8 / len(scenarios)
    colors = OKABE_ITO if several else tuple(CLASS_COLORS[c] for c in classes)
    for i, scenario in enumerate(scenarios):
        k = [int(v) for v in counts.loc[scenario].to_numpy()]
        n = sum(k)
        shares = np.array([100.0 * ki / n for ki in k])
        intervals = np.array([wilson_interval(ki, n) for ki in k]) * 100.0
        yerr = np.vstack([shares - intervals[:, 0], intervals[:, 1] - shares]).clip(min=0.0)
        xs = x + (i - (len(scenarios) - 1) / 2) * width
        bar_color: str | list[str] = colors[i % len(colors)] if several else list(colors)
        bars = ax.bar(
            xs,
            shares,
            width=width * 0.92,
            color=bar_color,
            edgecolor="white",
            linewidth=0.5,
            label=f"{scenario} (n = {n})" if several else None,
            yerr=yerr,
            capsize=3,
            error_kw={"elinewidth": 1.0, "ecolor": "0.2"},
            zorder=2,
        )
        for patch in bars.patches:
            patch.set_gid(GID_CLASS_BAR)
        for xi, ki, top in zip(xs, k, intervals[:, 1], strict=True):
            ax.text(
                xi,
                top + 1.5,
                str(ki),
                ha="center",
                va="bottom",
                fontsize=8 if len(scenarios) < 4 else 7,
                gid=GID_CLASS_COUNT,
            )

    total = int(counts.to_numpy().sum())
    title = f"Outcome classes ({total} runs"
    title += f", {len(scenarios)} scenarios)" if several else ")"
    ax.set_title(title)
    ax.set_ylabel("% of runs (95 % Wilson interval)")
    ax.set_xticks(x, [_class_label(c) for c in classes])
    ax.set_xlim(-0.5, len(classes) - 0.5)
    ax.set_ylim(0, 110)
    ax.set_yticks(np.arange(0, 101, 20))
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    if several:
        ax.legend(fontsize=8, loc="upper right", framealpha=0.85)
    return ax


# --------------------------------------------------------------------------------------------------
# batch output


def _save(fig: Figure, stem: Path, formats: Sequence[str]) -> list[Path]:
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, dpi=_DPI)
        paths.append(path)
    return paths


def _overview(timeseries: pd.DataFrame, runs: pd.DataFrame, events: Sequence[EventMarker]) -> Figure:
    """One page: every KEY_OUTCOMES fan as small multiples, the class shares and a shared legend."""
    ncols = 3
    nfan = len(KEY_OUTCOMES)
    nrows = max(1, math.ceil(nfan / ncols)) + 1
    fig = Figure(figsize=_OVERVIEW_FIGSIZE, dpi=_DPI, layout="constrained")
    grid = fig.add_gridspec(nrows, ncols)
    fan_axes = []
    for i, outcome in enumerate(KEY_OUTCOMES):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        fan_chart(timeseries, outcome, events=events, ax=ax)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        fan_axes.append(ax)
    # Fan cells left empty in the last fan row are simply not created.
    class_ax = fig.add_subplot(grid[nrows - 1, : ncols - 1])
    outcome_class_shares(runs, ax=class_ax)

    key_ax = fig.add_subplot(grid[nrows - 1, ncols - 1])
    key_ax.axis("off")
    if fan_axes:
        _refresh_fan_legend(fan_axes[0], fontsize=10)
    fan_legend = fan_axes[0].get_legend() if fan_axes else None
    if fan_legend is not None:
        pairs = [
            (h, t.get_text())
            for h, t in zip(fan_legend.legend_handles, fan_legend.get_texts(), strict=True)
            if h is not None
        ]
        handles = [h for h, _ in pairs]
        labels = [label for _, label in pairs]
        fan_legend.remove()
        key_ax.legend(handles, labels, loc="center", fontsize=10, frameon=False, title="Fan charts")

    scenarios = _scenarios(timeseries)
    n_runs = (
        timeseries.groupby(["scenario", "run"]).ngroups
        if "scenario" in timeseries.columns
        else timeseries["run"].nunique()
    )
    what = ", ".join(s for s in scenarios if s) or "batch"
    fig.suptitle(f"Simulated futures: {what} ({n_runs} runs)", fontsize=14)
    return fig


def save_batch_plots(
    timeseries: pd.DataFrame,
    runs: pd.DataFrame,
    out_dir: Path,
    events: Sequence[EventMarker] = (),
    *,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write the standard plots of a batch into ``out_dir`` (created if needed).

    Files, each in every format of ``formats`` (e.g. ``("png", "svg")``):

    * ``fan_<outcome>.<fmt>`` for every outcome in ``KEY_OUTCOMES``;
    * ``outcome_classes.<fmt>``;
    * ``overview.<fmt>``: all key fans as small multiples plus the class shares, one page.

    Returns the written paths in that order. Figures are built without pyplot and released after
    saving, so repeated batches do not accumulate figures.
    """
    fmts = [f.lstrip(".").lower() for f in formats]
    if not fmts:
        raise ValueError("formats is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    written: list[Path] = []
    for outcome in KEY_OUTCOMES:
        ax = fan_chart(timeseries, outcome, events=events, ax=_new_axes(_FAN_FIGSIZE))
        written += _save_and_release(ax.get_figure(root=True), out_dir / f"fan_{outcome}", fmts)

    ax = outcome_class_shares(runs, ax=_new_axes(_CLASS_FIGSIZE))
    written += _save_and_release(ax.get_figure(root=True), out_dir / "outcome_classes", fmts)

    written += _save_and_release(_overview(timeseries, runs, events), out_dir / "overview", fmts)
    return written


def _save_and_release(fig: Figure | None, stem: Path, formats: Sequence[str]) -> list[Path]:
    """Save ``fig`` in every format, then clear it so its artists can be garbage-collected."""
    if fig is None:  # pragma: no cover - an Axes made by _new_axes always has a figure
        raise RuntimeError("axes without a figure")
    try:
        return _save(fig, stem, formats)
    finally:
        fig.clear()
