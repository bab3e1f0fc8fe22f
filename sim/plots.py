"""Plots of Monte-Carlo batches and their analyses: fan charts, outcome-class shares, horizon distributions,
paired differences between scenarios, sensitivity indices and scenario-discovery boxes.

Every plotting function takes an optional ``ax``; it creates a figure only when ``ax`` is None, and
it returns the Axes it drew on. Figures are built with :class:`matplotlib.figure.Figure` directly,
never through pyplot's global state, so the functions are safe to call from worker threads or
processes and work headless with any non-interactive backend (Agg). Nothing here calls
``plt.show()`` or prints.

Inputs (see ``sim.outcomes`` for the column names):

* ``timeseries``: one row per (run, month) with ``scenario``, ``run``, ``month``, ``date`` and one
  column per outcome and event count;
* ``runs``: one row per run with ``scenario``, ``run``, ``seed``, ``outcome_class`` and ``final_*``;
* ``events``: :class:`EventMarker` objects, the dated scenario injects marked on the time axis;
* ``thresholds``: the outcome-class thresholds of a scenario's ``outcomes`` block by field name
  (``relapse_max_index``, ``durable_min_index``, ``durable_min_institutionalization``), drawn as dashed reference
  lines on the charts of the outcomes they apply to;
* ``differences``, ``indices``: the tables of ``sim.analysis.compare`` and ``sim.analysis.sensitivity``.

Value axes are tight by default: they show the range the drawn values (and thresholds) occupy, clipped to the
outcome's documented range, so the differences between runs and scenarios are visible; ``full_range=True`` shows
the whole documented range instead (as does any chart whose values span most of it anyway).

Colours come from the Okabe-Ito palette (colour-blind safe): scenario ``i`` of a comparison is
``OKABE_ITO[i]`` in every figure, so a scenario keeps its colour from fan chart to difference plot.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import LinearSegmentedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.transforms import offset_copy

from sim.outcomes import EVENT_COUNTS, KEY_OUTCOMES, OUTCOMES, REGIME_STATES, OutcomeClass
from sim.provenance import Provenance

__all__ = [
    "CLASS_COLORS",
    "OKABE_ITO",
    "EventMarker",
    "batch_overview",
    "class_map",
    "difference_over_time",
    "difference_plot",
    "discovery_plot",
    "draw_events",
    "fan_chart",
    "fit_value_axis",
    "horizon_distribution",
    "metric_text",
    "outcome_class_shares",
    "outcome_lines",
    "parallel_coordinates",
    "regime_shares",
    "save_batch_plots",
    "save_figure",
    "sensitivity_bars",
    "stamp_provenance",
    "tradeoff_plot",
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


@dataclass(frozen=True)
class _BandStyle:
    """How a quantile band is drawn: fill opacity, edge opacity (0: no edge), edge width and dash pattern."""

    fill_alpha: float
    edge_alpha: float = 0.0
    edge_width: float = 0.0
    dashes: tuple[float, float] | None = None


_FILLED_90 = _BandStyle(_ALPHA_90)
_FILLED_50 = _BandStyle(_ALPHA_50)
#: Bands of several fans on one axes (see fan_chart).
_OUTLINED_90 = _BandStyle(0.0, edge_alpha=0.9, edge_width=0.9, dashes=(4.0, 2.0))
_LIGHT_50 = _BandStyle(0.12, edge_alpha=0.7, edge_width=0.7)
#: Difference bands overlap more than fans do (they all start at zero): fainter tint, firmer edge.
_DIFFERENCE_BAND = _BandStyle(0.07, edge_alpha=0.85, edge_width=0.9)


def _band_style(color: str, style: _BandStyle) -> dict[str, Any]:
    """Keyword arguments of ``fill_between`` (or a legend ``Patch``) drawing a band of ``color`` in ``style``."""
    return {
        "facecolor": to_rgba(color, style.fill_alpha),
        "edgecolor": to_rgba(color, style.edge_alpha),
        "linewidth": style.edge_width,
        "linestyle": (0, style.dashes) if style.dashes else "solid",
    }


# gids that tag the artists drawn here, so the legend (and tests) can find them again.
GID_MEDIAN = "fan-median"
GID_BAND_50 = "fan-band-50"
GID_BAND_90 = "fan-band-90"
GID_EVENT_LINE = "event-marker"
GID_POLLS = "observed-polls"
GID_EVENT_TEXT = "event-label"
GID_EVENT_KEY = "event-key"
GID_DIFFERENCE_MEDIAN = "difference-median"
GID_DIFFERENCE_BAND = "difference-band"
GID_ZERO = "zero-line"
GID_CLASS_BAR = "class-bar"
GID_CLASS_COUNT = "class-count"
GID_THRESHOLD = "class-threshold"
GID_THRESHOLD_TEXT = "class-threshold-label"
GID_CLASS_POINTS = "class-points"
GID_CLASS_REGION = "class-region"
GID_CLASS_REGION_TEXT = "class-region-label"

#: Which outcome-class threshold is drawn on which outcome's axis, and how it is labelled (``{:g}``: its value).
_THRESHOLD_MARKS: dict[str, tuple[str, str]] = {
    "relapse_max_index": ("relations_index", "relapse \u2264 {:g}"),
    "durable_min_index": ("relations_index", "durable \u2265 {:g}"),
    "durable_min_institutionalization": ("institutionalization", "durable \u2265 {:g}"),
}
_THRESHOLD_LINE: dict[str, Any] = {"color": "0.2", "linestyle": (0, (5, 3)), "linewidth": 1.0}
#: Padding of a tight value axis, as a share of the drawn values' span.
_TIGHT_PAD = 0.06
#: A tight axis spanning at least this share of the documented range is widened to all of it.
_FULL_RANGE_SHARE = 0.6
#: Above this many runs the class map draws each class's density instead of one point per run.
_DENSE_RUNS = 4000

#: Heights (axes fraction) of the tops of event labels, one per stagger level.
_EVENT_LABEL_Y: tuple[float, ...] = (0.98, 0.64, 0.30)

_DPI = 120
_FAN_FIGSIZE = (8.5, 4.5)
_CLASS_FIGSIZE = (7.0, 4.5)
_OVERVIEW_FIGSIZE = (16.0, 11.0)
_CLASS_MAP_FIGSIZE = (8.5, 6.0)


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


def _outcome_name(column: str) -> str:
    """The outcome a runs column or metric is a value of (``window_relations_index`` is the relations index)."""
    return "relations_index" if column == "window_relations_index" else column.removeprefix("final_")


def _threshold_text(key: str, value: float) -> str:
    return _THRESHOLD_MARKS[key][1].format(value)


def _threshold_marks(outcome: str, thresholds: Mapping[str, float] | None) -> list[tuple[float, str]]:
    """The thresholds of ``thresholds`` that apply to ``outcome`` (or its final value), lowest first, labelled."""
    if not thresholds:
        return []
    name = _outcome_name(outcome)
    marks = [
        (float(thresholds[key]), _threshold_text(key, float(thresholds[key])))
        for key, (target, _) in _THRESHOLD_MARKS.items()
        if target == name and key in thresholds
    ]
    return sorted(marks)


#: The white box behind a small label drawn over data (event and threshold labels).
_LABEL_BOX = {"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6}


def _label_threshold(
    ax: Axes, value: float, text: str, axis: str, *, before: bool = False, upright: bool = False
) -> None:
    """A threshold's label beside its line, at the right end (``axis="y"``) or the top (``axis="x"``) of the
    plot; ``before`` puts it under (left of) the line instead of above (right of) it. On a vertical line the
    label is horizontal unless ``upright`` (along the line: for tall plots, where it covers less)."""
    offset = -2.0 if before else 2.0
    style: dict[str, Any] = {
        "textcoords": "offset points",
        "fontsize": 7,
        "color": "0.15",
        "gid": GID_THRESHOLD_TEXT,
        "annotation_clip": False,
        "bbox": _LABEL_BOX,
    }
    if axis == "y":
        ax.annotate(
            text,
            xy=(1.0, value),
            xycoords=("axes fraction", "data"),
            xytext=(-3.0, offset),
            ha="right",
            va="top" if before else "bottom",
            **style,
        )
    else:
        ax.annotate(
            text,
            xy=(value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(offset, -3.0),
            rotation=90 if upright else 0,
            ha="right" if before else "left",
            va="top",
            **style,
        )


def _draw_thresholds(ax: Axes, marks: Sequence[tuple[float, str]], axis: str = "y") -> None:
    """Dashed reference lines across the plot at the thresholds of ``marks``, each labelled.

    Thin, above the bands but under the medians, so they hide no data. Of two thresholds the lower one's label
    sits under (left of) its line, so close thresholds keep their labels apart. Thresholds already on ``ax``
    (drawn by an earlier fan on the same Axes) are not drawn twice.
    """
    already = {str(line.get_label()) for line in ax.get_lines() if line.get_gid() == GID_THRESHOLD}
    for i, (value, text) in enumerate(marks):
        if text in already:
            continue
        if axis == "y":
            ax.axhline(value, zorder=2.5, gid=GID_THRESHOLD, label=text, **_THRESHOLD_LINE)
        else:
            ax.axvline(value, zorder=2.5, gid=GID_THRESHOLD, label=text, **_THRESHOLD_LINE)
        _label_threshold(ax, value, text, axis, before=len(marks) > 1 and i == 0)


def _threshold_values(ax: Axes, axis: str = "y") -> list[float]:
    """The values of the threshold lines on ``ax`` (a fan drawn again on the same Axes keeps them in range)."""
    lines = [line for line in ax.get_lines() if line.get_gid() == GID_THRESHOLD]
    data = [line.get_ydata() if axis == "y" else line.get_xdata() for line in lines]
    return [float(np.asarray(d, dtype=np.float64)[0]) for d in data]


def _tight_limits(
    drawn: Sequence[float] | np.ndarray,
    low: float,
    high: float,
    *,
    keep: Sequence[float] = (),
    full_range: bool = False,
) -> tuple[float, float]:
    """Axis limits that show where the ``drawn`` values lie.

    The range of the drawn values and of ``keep`` (thresholds drawn on the chart, never cut), padded by
    ``_TIGHT_PAD`` of its span (at least 2 % of the documented range), clipped to the documented ``[low, high]``.
    The full ``[low, high]`` with ``full_range``, without finite values, or when the tight range would cover
    ``_FULL_RANGE_SHARE`` of it anyway: a window onto most of a scale hides little and misleads more.
    """
    values = np.concatenate([np.asarray(drawn, dtype=np.float64).ravel(), np.asarray(keep, dtype=np.float64)])
    values = values[np.isfinite(values)]
    if full_range or values.size == 0 or high <= low:
        return low, high
    lo, hi = float(values.min()), float(values.max())
    pad = max(_TIGHT_PAD * (hi - lo), 0.02 * (high - low))
    lo, hi = max(low, lo - pad), min(high, hi + pad)
    if hi - lo >= _FULL_RANGE_SHARE * (high - low):
        return low, high
    return lo, hi


def _fan_values(ax: Axes) -> np.ndarray:
    """Every y value a fan put on ``ax``: the bands' edges, the medians and the observed polls."""
    parts = [
        np.asarray(line.get_ydata(), dtype=np.float64)
        for line in ax.get_lines()
        if line.get_gid() in (GID_MEDIAN, GID_POLLS)
    ]
    parts += [
        np.asarray(path.vertices, dtype=np.float64)[:, 1]
        for c in ax.collections
        if isinstance(c, PolyCollection) and c.get_gid() in (GID_BAND_50, GID_BAND_90)
        for path in c.get_paths()
    ]
    return np.concatenate(parts) if parts else np.empty(0)


#: Numbered event markers: font size, the gap between stacked numbers and the key's distance below the axes
#: (points, clear of the date tick labels).
_EVENT_NUMBER_SIZE = 7.0
_EVENT_NUMBER_STEP = 11.0
_EVENT_KEY_OFFSET = 24.0
_EVENT_KEY_SIZE = 7.0
#: Height (inches) a figure grows by per line of the event key, so the key does not squeeze the plot.
_EVENT_KEY_LINE = 0.135


def _number_width(ax: Axes, start: pd.Timestamp, end: pd.Timestamp, digits: int) -> pd.Timedelta:
    """The date span a boxed event number of ``digits`` takes, with a margin.

    The axes' final width is only known once the layout is drawn, so it is estimated from the figure's width:
    a fan leaves about 60 % of it to the plot (the legend takes the right). Over-estimating only stacks numbers
    that would have fitted side by side.
    """
    fig = ax.get_figure(root=True)
    width_pt = (fig.get_figwidth() if fig is not None else 8.0) * 72.0 * 0.6
    label_pt = _EVENT_NUMBER_SIZE * (0.62 * digits + 0.8)
    return (end - start) * min(1.0, 1.5 * label_pt / width_pt)


def _draw_numbered_events(
    ax: Axes, inside: Sequence[tuple[pd.Timestamp, EventMarker]], start: pd.Timestamp, end: pd.Timestamp
) -> int:
    """Numbered markers along the top of ``ax`` and a key of the numbers below it; returns the key's lines.

    Several scenarios' injects often fall within weeks of each other, where rotated labels would overprint one
    another. A boxed number is narrow; numbers still too close to fit side by side are stacked downwards
    (as many rows as needed), and the key reads "1  2026-02  label" so every label is printed once, in full.
    """
    fig = ax.get_figure(root=True)
    digits = len(str(len(inside)))
    crowded = _number_width(ax, start, end, digits)
    last_in_row: list[pd.Timestamp] = []
    drawn_x: set[float] = set()
    lines = []
    for number, (when, event) in enumerate(inside, start=1):
        x = float(mdates.date2num(when.to_pydatetime()))
        if x not in drawn_x:
            drawn_x.add(x)
            ax.axvline(x, color="0.35", linestyle=":", linewidth=1.0, zorder=1.5, gid=GID_EVENT_LINE)
        row = next((i for i, t in enumerate(last_in_row) if when - t >= crowded), len(last_in_row))
        if row == len(last_in_row):
            last_in_row.append(when)
        last_in_row[row] = when
        below_top = 3.0 + row * _EVENT_NUMBER_STEP
        ax.text(
            x,
            1.0,
            str(number),
            transform=offset_copy(ax.get_xaxis_transform(), fig, y=-below_top, units="points"),
            ha="center",
            va="top",
            fontsize=_EVENT_NUMBER_SIZE,
            color="0.15",
            gid=GID_EVENT_TEXT,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.45", "lw": 0.6},
        )
        lines.append(f"{number:>{digits}}  {when:%Y-%m}  {event.label}")
    if lines:
        ax.text(
            0.0,
            0.0,
            "\n".join(lines),
            transform=offset_copy(ax.transAxes, fig=fig, y=-_EVENT_KEY_OFFSET, units="points"),
            ha="left",
            va="top",
            fontsize=_EVENT_KEY_SIZE,
            color="0.25",
            family="monospace",
            linespacing=1.3,
            clip_on=False,
            gid=GID_EVENT_KEY,
        )
    return len(lines)


def draw_events(
    ax: Axes,
    events: Sequence[EventMarker],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    numbered: bool = False,
) -> int:
    """Dotted vertical lines with small rotated labels at event dates within [start, end].

    With ``numbered`` (comparisons, whose scenarios' events crowd together), each event gets a small boxed
    number at the top of the plot instead, stacked where numbers would touch, and a key below the axes lists
    "number  date  label" for each; the return value is the key's number of lines (0 without ``numbered``).

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
    if numbered:
        return _draw_numbered_events(ax, inside, start, end)
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
            bbox=_LABEL_BOX,
        )
    return 0


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
        # The key shows the bands as they are drawn: outlined when the fans were drawn together, filled when
        # single fans were added to the axes one by one.
        first_90 = next((c for c in ax.collections if c.get_gid() == GID_BAND_90), None)
        outlined = first_90 is not None and float(np.asarray(first_90.get_facecolor()).reshape(-1, 4)[0, 3]) == 0.0
        style_90, style_50 = (_OUTLINED_90, _LIGHT_50) if outlined else (_FILLED_90, _FILLED_50)
        handles += [
            Line2D([], [], color="0.3", linewidth=2.0),
            Patch(**_band_style("0.3", style_50)),
            Patch(**_band_style("0.3", style_90)),
        ]
        labels += ["Median (line)", _BAND_50_LABEL, _BAND_90_LABEL]
    polls = [line for line in ax.get_lines() if line.get_gid() == GID_POLLS]
    handles += polls
    labels += [str(line.get_label()) for line in polls]
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


@dataclass(frozen=True)
class PollMark:
    """An observed poll value drawn before a projection: when (mid-fieldwork), the share, and its instrument."""

    date: pd.Timestamp
    value: float
    instrument: str
    comparable: bool  # False after a series break (a new pollster or mode): its level is not the series'


#: The poll series a favourability outcome is read like: the Genron NPO / EAI "good impression" question is the
#: model's favourable threshold (sim.validation.observe).
POLL_SERIES = {"kr_favorability": "kr_good_impression_of_jp", "jp_favorability": "jp_good_impression_of_kr"}
#: Instruments' labels and markers in the poll history (the data's README describes each).
_POLL_STYLE = {
    "genron_npo_eai_joint_poll": ("Genron NPO / EAI joint poll", "o"),
    "eai_korean_side": ("EAI, Korean side alone (2024)", "s"),
    "eai_api_kei": ("EAI / API online, new series (2025)", "^"),
}


def draw_poll_history(ax: Axes, marks: Sequence[PollMark]) -> None:
    """The observed polls as black markers (hollow after a series break), and the x axis widened to show them,
    so a projection's band is read against where the record leaves off."""
    if not marks:
        return
    for instrument in dict.fromkeys(m.instrument for m in marks):
        chosen = [m for m in marks if m.instrument == instrument]
        name, marker = _POLL_STYLE.get(instrument, (instrument.replace("_", " "), "D"))
        comparable = all(m.comparable for m in chosen)
        ax.plot(
            [float(mdates.date2num(m.date.to_pydatetime())) for m in chosen],
            [m.value for m in chosen],
            linestyle="-" if comparable and len(chosen) > 1 else "none",
            linewidth=0.8,
            color="black",
            marker=marker,
            markersize=5,
            markerfacecolor="black" if comparable else "white",
            label=f"observed: {name}" + ("" if comparable else ", series break"),
            zorder=4,
            gid=GID_POLLS,
        )
    left = min(m.date for m in marks) - pd.DateOffset(months=3)
    ax.set_xlim(left=float(mdates.date2num(left.to_pydatetime())))
    _refresh_fan_legend(ax)


def _date_axis(ax: Axes) -> None:
    """A dated x axis without margins (concise labels, 3-8 ticks) over light horizontal grid lines."""
    ax.margins(x=0)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)


def fan_chart(
    timeseries: pd.DataFrame,
    outcome: str,
    *,
    events: Sequence[EventMarker] = (),
    ax: Axes | None = None,
    color: str | None = None,
    label: str | None = None,
    history: Mapping[str, Sequence[PollMark]] | None = None,
    thresholds: Mapping[str, float] | None = None,
    full_range: bool = False,
) -> Axes:
    """Median and 50 % / 90 % quantile bands of ``outcome`` across runs, month by month.

    The bands are the 25th-75th and 5th-95th percentiles across runs at each date (linear
    interpolation, NaNs ignored). The x axis is dated (concise date formatter); the title is the
    outcome's label and the y label its unit. The y range is tight around what is drawn (bands, medians,
    polls, thresholds; see the module's notes), within the outcome's [low, high] from ``sim.outcomes.OUTCOMES``;
    ``full_range`` shows all of [low, high] (event-count columns are accepted too, with a free y range from 0).
    Events whose dates fall inside the data's date range are drawn as dotted vertical lines with small
    rotated labels. The legend sits outside the plot, to the right.

    ``thresholds`` (a scenario's outcome-class thresholds by field name) draws the ones that apply to
    ``outcome`` as labelled dashed lines: the relapse and durable thresholds on the relations index, the durable
    threshold on institutionalisation. The relations-index thresholds judge the mean of a run's last window, not
    single months, so a month beyond a line is no class by itself.

    If ``timeseries`` holds several scenarios one fan is drawn per scenario, coloured from the
    Okabe-Ito palette, with the scenario names in the legend; so that overlapping fans stay apart, each
    90 % band is then an outline (dashed edges, no fill) and each 50 % band a light tint with a thin edge, and
    the events are numbered markers with a key below the plot (:func:`draw_events`). Calling ``fan_chart``
    again on the same ``ax`` adds another fan (colours already used on ``ax`` are skipped) and rebuilds the
    legend, which is how comparison plots are built.

    ``color`` sets the colour of a single-scenario fan (ignored when the frame holds several
    scenarios); ``label`` names a single-scenario fan in the legend (with several scenarios, the
    scenario names are used). ``history`` maps outcomes to observed poll values drawn before the
    projection (:func:`draw_poll_history`).
    """
    missing = {"date", outcome} - set(timeseries.columns)
    if missing:
        raise KeyError(f"timeseries lacks column(s) {sorted(missing)}")
    if timeseries.empty:
        raise ValueError("timeseries is empty")
    created = ax is None
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
        # Several fans on one axes: translucent fills would blend into new colours where they overlap, so each
        # 90 % band is only outlined and each 50 % band lightly tinted and edged in the scenario's colour.
        style_90, style_50 = (_OUTLINED_90, _LIGHT_50) if several else (_FILLED_90, _FILLED_50)
        ax.fill_between(
            x,
            q[_QUANTILES[0]].to_numpy(),
            q[_QUANTILES[4]].to_numpy(),
            **_band_style(fan_color, style_90),
            gid=GID_BAND_90,
        )
        ax.fill_between(
            x,
            q[_QUANTILES[1]].to_numpy(),
            q[_QUANTILES[3]].to_numpy(),
            **_band_style(fan_color, style_50),
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
    _date_axis(ax)

    if start is not None and end is not None:
        key_lines = draw_events(ax, events, start, end, numbered=several)
        fig = ax.get_figure(root=True)
        if key_lines and created and fig is not None:
            fig.set_figheight(fig.get_figheight() + _EVENT_KEY_LINE * key_lines + 0.1)
    _draw_thresholds(ax, _threshold_marks(outcome, thresholds))
    _refresh_fan_legend(ax)
    if history and history.get(outcome):
        draw_poll_history(ax, history[outcome])
    # Last: the range covers every fan, poll and threshold on ``ax``, also those of earlier calls.
    if limits is not None:
        fit_value_axis(ax, outcome, full_range=full_range)
    else:
        ax.set_ylim(bottom=0)
    return ax


def fit_value_axis(ax: Axes, outcome: str, *extra: np.ndarray | Sequence[float], full_range: bool = False) -> None:
    """Set the value axis of a fan chart of ``outcome``: tight around every fan, poll and threshold on ``ax`` and
    the ``extra`` values drawn over them afterwards (a played path, a counterfactual), within the outcome's
    documented range (all of it with ``full_range``). :func:`fan_chart` sets its own axis with it."""
    limits = _outcome_text(outcome)[2]
    if limits is None:
        return
    values = np.concatenate([_fan_values(ax), *(np.asarray(x, dtype=np.float64).ravel() for x in extra)])
    ax.set_ylim(*_tight_limits(values, *limits, keep=_threshold_values(ax), full_range=full_range))


#: Room above and below a line chart's documented range, as a share of it: a line at 1.0 (trade fully
#: normalised) or at 0 would otherwise run along the frame and vanish.
_LINE_MARGIN = 0.03


def outcome_lines(
    frame: pd.DataFrame,
    outcomes: Mapping[str, str],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    x: str = "date",
    span: tuple[float, float] | tuple[datetime.date, datetime.date] | None = None,
    marks: Sequence[int] = (),
    labels: Mapping[str, str] | None = None,
    fontsize: float = 8,
) -> Axes:
    """One run's outcomes month by month as lines (the class exercise's trends, the dashboard's plots).

    ``frame`` has an ``x`` column (``date``, a dated axis; any other, a numeric one the caller labels) and one
    column per outcome; ``outcomes`` maps each outcome to draw to its colour. The style is the fan charts': the
    unit as y label, light horizontal grid lines, the outcome-class ``thresholds`` that
    apply to the outcomes as labelled dashed lines. ``span`` fixes the x axis (e.g. the
    whole game, so the months still to come show as room); ``marks`` are rows drawn as dots (the ends of turns).
    The y axis is tight around the lines and thresholds, as on the fan charts, and leaves a margin beyond a
    documented bound it reaches, so a line at the top or bottom of its scale (trade fully normalised at 1.0) is
    not hidden by the frame. The legend (``labels``: shorter names than the outcomes' labels) sits below the
    plot, where it covers no line.
    """
    if ax is None:
        ax = _new_axes(_FAN_FIGSIZE)
    dated = x == "date"
    xs = pd.to_datetime(frame[x]).to_numpy() if dated else frame[x].to_numpy(dtype=np.float64)
    handles = []
    for name, color in outcomes.items():
        values = frame[name].to_numpy(dtype=np.float64)
        text = labels[name] if labels and name in labels else OUTCOMES[name].label
        handles.extend(ax.plot(xs, values, color=color, linewidth=2.0, label=text, zorder=3))
        rows = [row for row in marks if 0 <= row < len(values)]
        if rows:
            ax.plot(xs[rows], values[rows], "o", color=color, markersize=4.5, zorder=4)
    first = next(iter(outcomes))
    heading, unit, limits = _outcome_text(first)
    ax.set_title(title if title is not None else heading, fontsize=fontsize + 2)
    ax.set_ylabel(unit, fontsize=fontsize)
    if dated:
        _date_axis(ax)
    else:
        ax.margins(x=0)
        ax.grid(True, axis="y", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
    if span is not None:
        left, right = span
        if isinstance(left, datetime.date) and isinstance(right, datetime.date):
            ax.set_xlim(float(mdates.date2num(left)), float(mdates.date2num(right)))
        else:
            ax.set_xlim(float(left), float(right))  # type: ignore[arg-type]
    for name in outcomes:
        _draw_thresholds(ax, _threshold_marks(name, thresholds))
    if limits is not None:
        low, high = limits
        drawn = frame[list(outcomes)].to_numpy(dtype=np.float64)
        bottom, top = _tight_limits(drawn, low, high, keep=_threshold_values(ax))
        margin = _LINE_MARGIN * (high - low)
        ax.set_ylim(bottom - margin if bottom <= low else bottom, top + margin if top >= high else top)
    ax.tick_params(labelsize=fontsize)
    if len(handles) > 1:  # one line: the title names it
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=len(handles),
            fontsize=fontsize,
            frameon=False,
        )
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


def _region_label(ax: Axes, x: float, y: float, text: str, cls: OutcomeClass, ha: str, va: str) -> None:
    ax.text(
        x,
        y,
        text,
        ha=ha,
        va=va,
        fontsize=8,
        style="italic",
        color=CLASS_COLORS[cls],
        zorder=4,
        clip_on=True,
        gid=GID_CLASS_REGION_TEXT,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75},
    )


def class_map(
    runs: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    ax: Axes | None = None,
    full_range: bool = False,
) -> Axes:
    """Why each run ended in its class: its last-window mean relations index (x) against its final
    institutionalisation (y), coloured by ``outcome_class``, over the class regions the thresholds cut.

    ``runs`` needs ``outcome_class``, ``window_relations_index`` and ``final_institutionalization``;
    ``thresholds`` the scenario's ``relapse_max_index``, ``durable_min_index`` and
    ``durable_min_institutionalization``. The regions are shaded in their class's colour and named with the
    number of runs in them; the durable-looking corner that fails on institutions alone (index reached,
    institutionalisation not: a fragile thaw) is named apart, as it is where durable rapprochements are lost.
    The three thresholds are dashed, labelled lines. Points are translucent (more so for many runs); beyond
    ``_DENSE_RUNS`` runs each class is drawn as a density (hexagonal bins shaded by log count) instead. Points
    are not jittered: a jittered point could cross the boundary its colour is defined by. Runs of several
    scenarios are drawn together. Axes are tight around the runs and thresholds, or the full ranges with
    ``full_range``.
    """
    needed = {"outcome_class", "window_relations_index", "final_institutionalization"}
    missing = needed - set(runs.columns)
    if missing:
        raise KeyError(f"runs lacks column(s) {sorted(missing)}")
    absent = set(_THRESHOLD_MARKS) - set(thresholds)
    if absent:
        raise KeyError(f"thresholds lack {sorted(absent)}")
    if runs.empty:
        raise ValueError("runs is empty")
    classes = runs["outcome_class"].astype(str).to_numpy()
    unknown = set(classes) - {c.value for c in OutcomeClass}
    if unknown:
        raise ValueError(f"unknown outcome classes: {sorted(unknown)}")
    if ax is None:
        ax = _new_axes(_CLASS_MAP_FIGSIZE)

    x = runs["window_relations_index"].to_numpy(dtype=np.float64)
    y = runs["final_institutionalization"].to_numpy(dtype=np.float64)
    relapse = float(thresholds["relapse_max_index"])
    durable = float(thresholds["durable_min_index"])
    institutions = float(thresholds["durable_min_institutionalization"])
    xinfo, yinfo = OUTCOMES["relations_index"], OUTCOMES["institutionalization"]
    x0, x1 = _tight_limits(x, xinfo.low, xinfo.high, keep=(relapse, durable), full_range=full_range)
    y0, y1 = _tight_limits(y, yinfo.low, yinfo.high, keep=(institutions,), full_range=full_range)

    # Regions over the whole documented plane (the axes clip them): the classes exactly as sim.model.classify.
    region: dict[str, Any] = {"alpha": 0.08, "linewidth": 0, "zorder": 0, "gid": GID_CLASS_REGION}
    ax.add_patch(
        Rectangle(
            (xinfo.low, yinfo.low),
            relapse - xinfo.low,
            yinfo.high - yinfo.low,
            color=CLASS_COLORS[OutcomeClass.RELAPSE],
            **region,
        )
    )
    fragile_corners = [
        (relapse, yinfo.low),
        (xinfo.high, yinfo.low),
        (xinfo.high, institutions),
        (durable, institutions),
        (durable, yinfo.high),
        (relapse, yinfo.high),
    ]
    ax.add_patch(Polygon(fragile_corners, color=CLASS_COLORS[OutcomeClass.FRAGILE_THAW], **region))
    ax.add_patch(
        Rectangle(
            (durable, institutions),
            xinfo.high - durable,
            yinfo.high - institutions,
            color=CLASS_COLORS[OutcomeClass.DURABLE_RAPPROCHEMENT],
            **region,
        )
    )

    n = len(runs)
    dense = n > _DENSE_RUNS
    # Fainter and smaller points as runs grow, so where they pile up reads darker rather than as one blot.
    alpha = 0.8 if n <= 300 else max(0.2, 0.8 * math.sqrt(300 / n))
    size = 22.0 if n <= 300 else 10.0
    handles: list[Artist] = []
    for cls in OutcomeClass:
        mask = classes == cls.value
        k = int(mask.sum())
        name = f"{_class_label(cls)}: {k} ({100.0 * k / n:.1f} %)"
        color = CLASS_COLORS[cls]
        if dense:
            if k:
                ax.hexbin(
                    x[mask],
                    y[mask],
                    gridsize=60,
                    extent=(x0, x1, y0, y1),
                    cmap=LinearSegmentedColormap.from_list(cls.value, [to_rgba(color, 0.25), to_rgba(color, 1.0)]),
                    bins="log",
                    mincnt=1,
                    linewidths=0,
                    zorder=2,
                    gid=GID_CLASS_POINTS,
                    label=name,
                )
            handles.append(Patch(color=color, label=name))
        else:
            handles.append(
                ax.scatter(
                    x[mask],
                    y[mask],
                    s=size,
                    color=color,
                    alpha=alpha,
                    edgecolors="white",
                    linewidths=0.3,
                    zorder=2,
                    gid=GID_CLASS_POINTS,
                    label=name,
                )
            )

    relapse_text = _threshold_text("relapse_max_index", relapse)
    durable_text = _threshold_text("durable_min_index", durable)
    institutions_text = _threshold_text("durable_min_institutionalization", institutions)
    ax.axvline(relapse, zorder=3, gid=GID_THRESHOLD, label=relapse_text, **_THRESHOLD_LINE)
    ax.axvline(durable, zorder=3, gid=GID_THRESHOLD, label=durable_text, **_THRESHOLD_LINE)
    # Institutionalisation only tells a durable rapprochement from a fragile thaw: right of the index line.
    ax.plot(
        [durable, xinfo.high],
        [institutions, institutions],
        zorder=3,
        gid=GID_THRESHOLD,
        label=institutions_text,
        **_THRESHOLD_LINE,
    )
    _label_threshold(ax, relapse, relapse_text, "x", before=True, upright=True)
    _label_threshold(ax, durable, durable_text, "x", upright=True)
    _label_threshold(ax, institutions, institutions_text, "y")

    # Each region named where it shows, with the runs in it (counted on the thresholds, as the classes were).
    dx, dy = x1 - x0, y1 - y0
    index_reached = x >= durable
    built = y >= institutions
    if relapse - x0 >= 0.1 * dx:
        count = int((x <= relapse).sum())
        _region_label(
            ax, x0 + 0.01 * dx, y0 + 0.02 * dy, f"relapse\n{count} runs", OutcomeClass.RELAPSE, "left", "bottom"
        )
    if min(durable, x1) - max(relapse, x0) >= 0.1 * dx:
        count = int(((x > relapse) & ~index_reached).sum())
        _region_label(
            ax,
            (max(relapse, x0) + min(durable, x1)) / 2,
            y0 + 0.02 * dy,
            f"fragile thaw\n{count} runs",
            OutcomeClass.FRAGILE_THAW,
            "center",
            "bottom",
        )
    if x1 - durable >= 0.1 * dx:
        count = int((index_reached & ~built).sum())
        _region_label(
            ax,
            x1 - 0.01 * dx,
            y0 + 0.02 * dy,
            f"fragile thaw: index reached,\ninstitutions not: {count} runs",
            OutcomeClass.FRAGILE_THAW,
            "right",
            "bottom",
        )
        count = int((index_reached & built).sum())
        _region_label(
            ax,
            x1 - 0.01 * dx,
            y1 - 0.02 * dy,
            f"durable rapprochement\n{count} runs",
            OutcomeClass.DURABLE_RAPPROCHEMENT,
            "right",
            "top",
        )

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(f"Why runs end in their class ({n} runs)")
    ax.set_xlabel(f"{metric_text('window_relations_index')[0]} ({xinfo.unit})")
    ax.set_ylabel(f"{yinfo.label} at the horizon ({yinfo.unit})")
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)
    handles.append(Line2D([], [], label="class thresholds", **_THRESHOLD_LINE))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title="Outcome class: runs (share)",
        title_fontsize=8,
    )
    return ax


# --------------------------------------------------------------------------------------------------
# metrics of a run (final values, last-year mean, class shares)


def metric_text(metric: str) -> tuple[str, str]:
    """Title and unit of a per-run metric: ``final_<outcome>``, ``window_relations_index`` or ``share_<class>``.

    Class shares are 0/1 per run, so their means are probabilities (``share of runs``).
    """
    if metric == "window_relations_index":
        return "Relations index, mean of the last year", OUTCOMES["relations_index"].unit
    if metric.startswith("final_") and metric.removeprefix("final_") in OUTCOMES:
        info = OUTCOMES[metric.removeprefix("final_")]
        return f"{info.label} at the horizon", info.unit
    if metric.startswith("share_"):
        try:
            cls = OutcomeClass(metric.removeprefix("share_"))
        except ValueError:
            return metric, ""
        return f"Probability of {_class_label(cls).lower()}", "share of runs"
    return metric, ""


def _metric_limits(metric: str) -> tuple[float, float] | None:
    name = "relations_index" if metric == "window_relations_index" else metric.removeprefix("final_")
    info = OUTCOMES.get(name)
    return (info.low, info.high) if info is not None else None


def _final_column(outcome: str) -> str:
    """The runs column of an outcome given as ``relations_index``, ``final_relations_index`` or a metric."""
    return outcome if outcome.startswith("final_") or outcome == "window_relations_index" else f"final_{outcome}"


def horizon_distribution(
    runs: pd.DataFrame,
    outcome: str,
    *,
    ax: Axes | None = None,
    thresholds: Mapping[str, float] | None = None,
    full_range: bool = False,
) -> Axes:
    """Distribution across runs of an outcome's final value, one box per scenario (shared axis).

    ``outcome`` is an outcome name (its ``final_`` column is used), a ``final_`` column or
    ``window_relations_index``. Boxes span the 25th-75th percentiles, whiskers the 5th-95th, the line is the
    median and the diamond the mean; scenarios keep their Okabe-Ito colours (first scenario on top), and the
    legend gives each scenario's number of runs. The x axis is the outcome's unit, tight around the whiskers,
    means and thresholds within the outcome's range (all of it with ``full_range``). ``thresholds`` draws the
    outcome-class thresholds that apply to the outcome as labelled dashed lines (as :func:`fan_chart`).
    """
    column = _final_column(outcome)
    if column not in runs.columns:
        raise KeyError(f"runs lacks column {column!r}")
    if runs.empty:
        raise ValueError("runs is empty")
    if ax is None:
        ax = _new_axes((8.0, 1.2 + 0.7 * len(_scenarios(runs))))
    scenarios = _scenarios(runs)
    handles: list[Patch | Line2D] = []
    drawn: list[float] = []
    for i, scenario in enumerate(scenarios):
        frame = runs[runs["scenario"].astype(str) == scenario] if "scenario" in runs.columns else runs
        values = frame[column].dropna().to_numpy(dtype=np.float64)
        if values.size:
            # What the box shows: whiskers at the 5th and 95th percentiles, and the mean (no fliers).
            drawn += [*np.percentile(values, [5.0, 95.0]), float(values.mean())]
        color = OKABE_ITO[i % len(OKABE_ITO)]
        y = len(scenarios) - 1 - i
        parts = ax.boxplot(
            [values],
            positions=[y],
            orientation="horizontal",
            widths=0.55,
            whis=(5, 95),
            showfliers=False,
            showmeans=True,
            patch_artist=True,
            meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "0.1", "markersize": 5},
            medianprops={"color": "0.1", "linewidth": 1.5},
        )
        for box in parts["boxes"]:
            box.set_facecolor(color)
            box.set_alpha(0.75)
            box.set_gid("horizon-box")
        handles.append(Patch(facecolor=color, alpha=0.75, label=f"{scenario or 'runs'} (n = {len(values)})"))
    handles += [
        Line2D([], [], color="0.1", linewidth=1.5, label="Median"),
        Line2D([], [], marker="D", linestyle="", markerfacecolor="white", markeredgecolor="0.1", label="Mean"),
    ]
    title, unit = metric_text(column)
    ax.set_title(title)
    ax.set_xlabel(f"{unit}; box 25th-75th, whiskers 5th-95th percentile")
    ax.set_yticks(range(len(scenarios)), [s or "runs" for s in reversed(scenarios)])
    marks = _threshold_marks(column, thresholds)
    _draw_thresholds(ax, marks, axis="x")
    limits = _metric_limits(column)
    if limits is not None:
        ax.set_xlim(*_tight_limits(drawn, *limits, keep=[v for v, _ in marks], full_range=full_range))
    ax.grid(True, axis="x", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


# --------------------------------------------------------------------------------------------------
# differences between scenarios


def difference_plot(differences: pd.DataFrame, metric: str, *, ax: Axes | None = None) -> Axes:
    """Each scenario's difference from the reference in ``metric``, with its confidence interval.

    ``differences`` is ``sim.analysis.compare.Comparison.differences``. Filled circles are paired estimates
    (common random numbers), open squares unpaired ones (Welch); scenario ``i`` of the comparison has colour
    ``OKABE_ITO[i]`` (the reference is 0). Class shares are drawn in percentage points. The dashed line marks
    no difference.
    """
    rows = differences[differences["metric"] == metric]
    if rows.empty:
        raise KeyError(f"differences hold no rows for metric {metric!r}")
    if ax is None:
        ax = _new_axes((7.5, 1.4 + 0.6 * len(rows)))
    title, unit = metric_text(metric)
    scale = 100.0 if metric.startswith("share_") else 1.0
    if scale != 1.0:
        unit = "percentage points"
    reference = str(rows["reference"].iloc[0])
    confidence = float(rows["confidence"].iloc[0]) if "confidence" in rows.columns else 0.95
    scenarios = [str(s) for s in pd.unique(differences["scenario"])]
    for _, row in rows.iterrows():
        i = scenarios.index(str(row["scenario"]))
        y = len(scenarios) - 1 - i
        color = OKABE_ITO[(i + 1) % len(OKABE_ITO)]
        paired = bool(row["paired"])
        mid = float(row["difference"]) * scale
        low, high = float(row["ci_low"]) * scale, float(row["ci_high"]) * scale
        ax.errorbar(
            [mid],
            [y],
            xerr=[[max(mid - low, 0.0)], [max(high - mid, 0.0)]] if np.isfinite([low, high]).all() else None,
            fmt="o" if paired else "s",
            color=color,
            markerfacecolor=color if paired else "white",
            markersize=7,
            capsize=4,
            elinewidth=1.5,
            gid="difference",
        )
    ax.axvline(0.0, color="0.3", linestyle="--", linewidth=1.0)
    ax.set_yticks(range(len(scenarios)), list(reversed(scenarios)))
    ax.set_ylim(-0.6, len(scenarios) - 0.4)
    ax.set_title(f"{title}: difference from {reference}")
    ax.set_xlabel(f"scenario minus {reference} ({unit})")
    ax.grid(True, axis="x", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    level = f"{confidence:.0%}".replace("%", " %")
    handles = [
        Line2D([], [], marker="o", color="0.3", linestyle="-", label=f"paired (same seeds), {level} CI"),
        Line2D([], [], marker="s", color="0.3", markerfacecolor="white", label=f"unpaired, {level} CI"),
        Line2D([], [], color="0.3", linestyle="--", label="no difference"),
    ]
    shown = {bool(p) for p in rows["paired"]}
    handles = [h for h, kind in zip(handles, (True, False, None), strict=True) if kind is None or kind in shown]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


def difference_over_time(
    differences: Mapping[str, pd.DataFrame],
    outcome: str,
    reference: str,
    *,
    events: Sequence[EventMarker] = (),
    ax: Axes | None = None,
) -> Axes:
    """Each scenario's difference from ``reference`` in ``outcome``, month by month.

    ``differences`` maps scenario names, in comparison order, to frames of
    ``sim.analysis.compare.timeseries_difference`` (``date``, ``median``, ``low``, ``high``, ``paired``). A paired
    scenario is its median per-replication difference (solid line) with the band of those differences (light
    tint, thin edge); an unpaired one has no per-replication difference, so it is the difference of the medians
    (dashed line) without a band. Scenario ``i`` of the comparison keeps the colour ``OKABE_ITO[i + 1]`` it has in
    the fan chart (the reference is 0). The dashed grey line marks no difference; ``events`` (already
    deduplicated) are dotted lines, unlabelled: the fan chart beside it names them.
    """
    if not differences:
        raise ValueError("differences is empty")
    if ax is None:
        ax = _new_axes((_FAN_FIGSIZE[0], 3.4))
    title, unit, _ = _outcome_text(outcome)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    any_paired = any_unpaired = False
    for i, (scenario, frame) in enumerate(differences.items()):
        if frame.empty:
            continue
        color = OKABE_ITO[(i + 1) % len(OKABE_ITO)]
        frame = frame.sort_values("date")
        x = pd.DatetimeIndex(frame["date"]).to_numpy()
        paired = bool(frame["paired"].iloc[0])
        low, high = frame["low"].to_numpy(dtype=np.float64), frame["high"].to_numpy(dtype=np.float64)
        if paired and np.isfinite(low).any():
            any_paired = True
            ax.fill_between(x, low, high, **_band_style(color, _DIFFERENCE_BAND), gid=GID_DIFFERENCE_BAND)
        any_unpaired |= not paired
        ax.plot(
            x,
            frame["median"].to_numpy(dtype=np.float64),
            color=color,
            linewidth=2.0,
            linestyle="-" if paired else (0, (5, 2)),
            label=scenario if paired else f"{scenario} (unpaired)",
            gid=GID_DIFFERENCE_MEDIAN,
            zorder=3,
        )
        first, last = pd.Timestamp(x[0]), pd.Timestamp(x[-1])
        start = first if start is None else min(start, first)
        end = last if end is None else max(end, last)
    ax.axhline(0.0, color="0.3", linestyle="--", linewidth=1.0, zorder=2, gid=GID_ZERO)
    if start is not None and end is not None:
        for x_event in sorted({pd.Timestamp(e.date) for e in events if start <= pd.Timestamp(e.date) <= end}):
            ax.axvline(
                float(mdates.date2num(x_event.to_pydatetime())),
                color="0.35",
                linestyle=":",
                linewidth=1.0,
                zorder=1.5,
                gid=GID_EVENT_LINE,
            )
    ax.set_title(f"{title}: difference from {reference}")
    ax.set_ylabel(f"minus {reference} ({unit})" if unit else f"minus {reference}")
    _date_axis(ax)
    handles: list[Artist] = [line for line in ax.get_lines() if line.get_gid() == GID_DIFFERENCE_MEDIAN]
    labels = [str(h.get_label()) for h in handles]
    if any_paired:
        handles.append(Patch(**_band_style("0.3", _DIFFERENCE_BAND)))
        labels.append("5th-95th pct. of paired\ndifferences (same seeds)")
    if any_unpaired:
        handles.append(Line2D([], [], color="0.3", linewidth=2.0, linestyle=(0, (5, 2))))
        labels.append("difference of medians\n(not paired: no band)")
    handles.append(Line2D([], [], color="0.3", linestyle="--", linewidth=1.0))
    labels.append("no difference")
    ax.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0.0
    )
    return ax


# --------------------------------------------------------------------------------------------------
# sensitivity indices


def sensitivity_bars(indices: pd.DataFrame, *, ax: Axes | None = None, output: str | None = None) -> Axes:
    """Factors ranked by importance, as horizontal bars with confidence intervals (most important on top).

    ``indices`` is one output's table from ``sim.analysis.sensitivity`` (or ``sim.designs.analyze``): with
    ``S1``/``ST`` columns (Sobol) the bars are the total-order index with the first-order index beside it, both
    shares of the output's variance; with ``mu_star`` (Morris) the bars are the mean absolute elementary effect,
    in output units per whole factor range. ``output`` names the output in the title.
    """
    sobol = {"S1", "ST"} <= set(indices.columns)
    if not sobol and "mu_star" not in indices.columns:
        raise KeyError("indices need S1 and ST (Sobol) or mu_star (Morris) columns")
    if indices.empty:
        raise ValueError("indices is empty")
    if ax is None:
        ax = _new_axes((8.0, 1.5 + 0.5 * len(indices)))
    key = "ST" if sobol else "mu_star"
    table = indices.sort_values(key, ascending=True, kind="stable").reset_index(drop=True)
    y = np.arange(len(table), dtype=float)
    factors = [str(f) for f in table["factor"]]
    error = {"elinewidth": 1.0, "ecolor": "0.2"}
    if sobol:
        height = 0.38
        ax.barh(
            y + height / 2,
            table["ST"],
            height=height,
            xerr=table.get("ST_conf"),
            color=OKABE_ITO[0],
            capsize=3,
            error_kw=error,
            label="total order ST (with interactions)",
            gid="sensitivity-bar",
        )
        ax.barh(
            y - height / 2,
            table["S1"],
            height=height,
            xerr=table.get("S1_conf"),
            color=OKABE_ITO[1],
            capsize=3,
            error_kw=error,
            label="first order S1 (alone)",
            gid="sensitivity-bar",
        )
        ax.set_xlabel("share of the output's variance (bars: 95 % bootstrap CI)")
        method = "Sobol indices"
    else:
        ax.barh(
            y,
            table["mu_star"],
            height=0.6,
            xerr=table.get("mu_star_conf"),
            color=OKABE_ITO[0],
            capsize=3,
            error_kw=error,
            label="mu* (mean |elementary effect|)",
            gid="sensitivity-bar",
        )
        ax.set_xlabel("mean |change in output| per whole factor range (bars: 95 % bootstrap CI)")
        method = "Morris screening"
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_yticks(y, factors)
    title = f"{method}: {metric_text(output)[0]}" if output else method
    ax.set_title(title)
    ax.grid(True, axis="x", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.85)
    return ax


# --------------------------------------------------------------------------------------------------
# scenario discovery


def discovery_plot(
    params: pd.DataFrame,
    hit: Sequence[bool] | np.ndarray | pd.Series,
    box: Mapping[str, tuple[float, float]],
    x: str,
    y: str,
    *,
    target: str = "relapse",
    ax: Axes | None = None,
) -> Axes:
    """Runs in the plane of two parameters, coloured by whether they ended in ``target``, with a rule's box.

    ``params`` holds one column per parameter (named by its path), ``hit`` one boolean per run. Runs that share
    their parameters (replications of a sweep's design point) are drawn as one marker per point, coloured by the
    share of its runs that ended in ``target`` (cividis, with a colour bar). ``box`` maps
    parameter paths to the rule's (low, high) limits (infinite where the rule sets no limit); its projection on
    ``x`` and ``y`` is drawn as a dashed rectangle. An empty ``box`` (no rule found) draws no rectangle and says so
    in the title. Axes are in the parameters' own (scenario-file) units.
    """
    if x not in params.columns or y not in params.columns:
        raise KeyError(f"params lack column {x!r} or {y!r}")
    hits = np.asarray(hit, dtype=bool)
    if hits.shape != (len(params),):
        raise ValueError(f"hit: expected {len(params)} values, got shape {hits.shape}")
    if ax is None:
        ax = _new_axes((7.0, 5.5))
    xs, ys = params[x].to_numpy(dtype=float), params[y].to_numpy(dtype=float)
    name = target.replace("_", " ")
    points = pd.DataFrame({"x": xs, "y": ys, "hit": hits.astype(float)}).groupby(["x", "y"], sort=False)["hit"]
    if points.ngroups < len(xs):
        # Replications of a design point share its parameters: one marker per point, coloured by its share.
        shares = points.agg(["mean", "count"]).reset_index()
        drawn = ax.scatter(
            shares["x"],
            shares["y"],
            c=shares["mean"] * 100.0,
            cmap="cividis",  # perceptually uniform and readable with colour-vision deficiencies
            vmin=0.0,
            vmax=100.0,
            s=18,
            edgecolors="0.3",
            linewidths=0.3,
            label=f"design points ({len(shares)}; {len(xs)} runs, {int(hits.sum())} {name})",
        )
        colorbar = ax.get_figure(root=True).colorbar(drawn, ax=ax)  # type: ignore[union-attr]
        colorbar.set_label(f"% of the point's runs ending in {name}")
    else:
        other_label = f"other outcome ({(~hits).sum()})"
        ax.scatter(xs[~hits], ys[~hits], s=12, color=OKABE_ITO[5], alpha=0.6, label=other_label)
        ax.scatter(
            xs[hits], ys[hits], s=14, color=OKABE_ITO[3], alpha=0.8, marker="^", label=f"{name} ({hits.sum()})"
        )
    others = sorted(set(box) - {x, y})
    if box:
        x_low, x_high = box.get(x, (-np.inf, np.inf))
        y_low, y_high = box.get(y, (-np.inf, np.inf))
        left, right = max(x_low, np.nanmin(xs)), min(x_high, np.nanmax(xs))
        bottom, top = max(y_low, np.nanmin(ys)), min(y_high, np.nanmax(ys))
        ax.add_patch(
            Rectangle(
                (left, bottom),
                right - left,
                top - bottom,
                fill=False,
                edgecolor="0.1",
                linestyle="--",
                linewidth=1.8,
                label="rule's box",
                gid="discovery-box",
            )
        )
        ax.set_title(f"Where runs end in {name}" + (f" (box also limits {', '.join(others)})" if others else ""))
    else:
        # An empty box would be drawn around all the data, as if the whole space were a rule.
        ax.set_title(f"Where runs end in {name}: no rule found")
    ax.set_xlabel(f"{x} (scenario units)")
    ax.set_ylabel(f"{y} (scenario units)")
    # Below the plot: the colour bar (for sweeps) takes the right-hand side.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, fontsize=8, frameon=False)
    return ax


# --------------------------------------------------------------------------------------------------
# batch output


#: The gid of the provenance line drawn at the foot of a figure (findable in its SVG).
GID_PROVENANCE = "provenance"


def stamp_provenance(fig: Figure, provenance: Provenance) -> None:
    """Draw ``provenance``'s one-line text at the foot of ``fig``, small and grey, once.

    On a constrained layout with no figure-wide x label the line is that label, so the layout keeps room for it
    below every axes and legend (moving the layout's own frame instead made its solution depend on the process
    that drew it); on other figures it is a text over the bottom edge.
    """
    if any(text.get_gid() == GID_PROVENANCE for text in fig.texts):
        return
    style: dict[str, Any] = {"fontsize": 6, "color": "#808080", "gid": GID_PROVENANCE}
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine) and not fig.get_supxlabel():
        fig.supxlabel(provenance.text(), **style)
    else:
        fig.text(0.5, 0.04 / fig.get_figheight(), provenance.text(), ha="center", va="bottom", **style)


def _figure_title(fig: Figure, stem: Path) -> str:
    """The figure's own title (its page title, else its first titled axes), else the file's name."""
    suptitle = fig.get_suptitle()
    if suptitle:
        return suptitle
    return next((ax.get_title() for ax in fig.axes if ax.get_title()), stem.name)


def _save(fig: Figure, stem: Path, formats: Sequence[str], provenance: Provenance | None = None) -> list[Path]:
    if provenance is not None:
        stamp_provenance(fig, provenance)
    title = _figure_title(fig, stem)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        # A fixed salt for SVG element ids and no creation date: the same figure gives the same bytes.
        metadata: dict[str, str | None] | None = {"Date": None} if fmt in ("svg", "pdf") else None
        if provenance is not None:
            metadata = provenance.metadata(fmt, title=title)
        with matplotlib.rc_context({"svg.hashsalt": "rapprochement"}):
            fig.savefig(path, format=fmt, dpi=_DPI, metadata=metadata)
        paths.append(path)
    return paths


def save_figure(
    ax: Axes | Figure,
    stem: Path,
    formats: Sequence[str] = ("png", "svg"),
    *,
    provenance: Provenance | None = None,
) -> list[Path]:
    """Save the figure of ``ax`` (or ``fig``) as ``stem.<fmt>`` for every format, then release it.

    Output is reproducible: SVG ids use a fixed salt and no creation date is written, so the same figure gives
    the same files. With ``provenance``, every file carries it in its metadata and the figure a footer line
    naming it (:func:`stamp_provenance`). Returns the written paths.
    """
    fig = ax if isinstance(ax, Figure) else ax.get_figure(root=True)
    if not isinstance(fig, Figure):  # pragma: no cover - Axes always belong to a Figure here
        raise RuntimeError("axes without a figure")
    fmts = [f.lstrip(".").lower() for f in formats]
    if not fmts:
        raise ValueError("formats is empty")
    Path(stem).parent.mkdir(parents=True, exist_ok=True)
    return _save_and_release(fig, Path(stem), fmts, provenance)


def batch_overview(
    timeseries: pd.DataFrame,
    runs: pd.DataFrame,
    events: Sequence[EventMarker],
    *,
    thresholds: Mapping[str, float] | None = None,
    full_range: bool = False,
) -> Figure:
    """One page: every KEY_OUTCOMES fan as small multiples (with ``thresholds`` and ``full_range`` as in
    :func:`fan_chart`), the class shares and a shared legend.

    The fans fill a grid of three columns; the class shares and the legend take the cells the last fan row
    leaves free when there are two, else a row of their own (the shares two cells wide).
    """
    ncols = 3
    nfan = len(KEY_OUTCOMES)
    fan_rows = max(1, math.ceil(nfan / ncols))
    free = fan_rows * ncols - nfan
    nrows = fan_rows if free >= 2 else fan_rows + 1
    fig = Figure(figsize=_OVERVIEW_FIGSIZE, dpi=_DPI, layout="constrained")
    grid = fig.add_gridspec(nrows, ncols)
    fan_axes = []
    for i, outcome in enumerate(KEY_OUTCOMES):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        fan_chart(timeseries, outcome, events=events, ax=ax, thresholds=thresholds, full_range=full_range)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        fan_axes.append(ax)
    # Fan cells left empty (and not used by the shares) are simply not created.
    if free >= 2:
        class_ax = fig.add_subplot(grid[nrows - 1, ncols - 2])
    else:
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
    history: Mapping[str, Sequence[PollMark]] | None = None,
    thresholds: Mapping[str, float] | None = None,
    provenance: Provenance | None = None,
) -> list[Path]:
    """Write the standard plots of a batch into ``out_dir`` (created if needed); ``history``: the observed polls
    drawn before the favourability fans, ``thresholds``: the outcome-class thresholds drawn on the fans of the
    outcomes they apply to (:func:`fan_chart`), ``provenance``: the batch's origin, carried by every file
    (:func:`save_figure`).

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
        ax = fan_chart(
            timeseries, outcome, events=events, ax=_new_axes(_FAN_FIGSIZE), history=history, thresholds=thresholds
        )
        written += _save_and_release(ax.get_figure(root=True), out_dir / f"fan_{outcome}", fmts, provenance)

    ax = outcome_class_shares(runs, ax=_new_axes(_CLASS_FIGSIZE))
    written += _save_and_release(ax.get_figure(root=True), out_dir / "outcome_classes", fmts, provenance)

    overview = batch_overview(timeseries, runs, events, thresholds=thresholds)
    written += _save_and_release(overview, out_dir / "overview", fmts, provenance)
    return written


def _save_and_release(
    fig: Figure | None, stem: Path, formats: Sequence[str], provenance: Provenance | None = None
) -> list[Path]:
    """Save ``fig`` in every format (with ``provenance``, see :func:`save_figure`), then clear it so its artists
    can be garbage-collected."""
    if fig is None:  # pragma: no cover - an Axes made by _new_axes always has a figure
        raise RuntimeError("axes without a figure")
    try:
        return _save(fig, stem, formats, provenance)
    finally:
        fig.clear()


#: The regime states of the history dispute (drawn dash-dotted by :func:`regime_shares`).
_HISTORY_STATES = frozenset({"dispute_open", "compensation_fund"})


def regime_shares(
    timeseries: pd.DataFrame,
    *,
    states: Sequence[str] | None = None,
    events: Sequence[EventMarker] = (),
    ax: Axes | None = None,
) -> Axes:
    """The share of runs with each measure of ``REGIME_STATES`` in force, month by month, drawn as steps.

    A measure is switched on or off, so the share of runs with it in force says what a fan of a 0-1 index such
    as trade normalisation blurs: when the measures go, in how many futures, and which. Measures in force in no
    run at any time are not drawn; a note under the title names them. ``states`` limits the measures drawn.
    """
    names = [s for s in (states if states is not None else REGIME_STATES) if s in timeseries.columns]
    if not names:
        raise KeyError(f"timeseries has none of the regime columns {', '.join(REGIME_STATES)}")
    if timeseries.empty:
        raise ValueError("timeseries is empty")
    if ax is None:
        ax = _new_axes(_FAN_FIGSIZE)
    dates = pd.to_datetime(timeseries["date"])
    shares = timeseries[names].astype(float).groupby(dates).mean() * 100.0
    shown = [name for name in names if shares[name].max() > 0.0]
    for i, name in enumerate(shown):
        ax.step(
            shares.index,
            shares[name],
            where="post",
            color=OKABE_ITO[i % len(OKABE_ITO)],
            # Trade measures solid, GSOMIA dashed, the history settlement dash-dotted: the groups stay apart
            # even where the palette repeats.
            linestyle="--" if name.startswith("gsomia") else "-." if name in _HISTORY_STATES else "-",
            linewidth=1.8,
            label=REGIME_STATES[name],
        )
    never = [REGIME_STATES[name] for name in names if name not in shown]
    ax.set_ylim(-2.0, 102.0)
    ax.set_ylabel("% of runs with it in force")
    ax.set_title("Measures in force")
    if never:
        ax.text(
            0.0,
            -0.14,
            "In force in no run: " + "; ".join(never) + ".",
            transform=ax.transAxes,
            fontsize=7,
            color="0.35",
            va="top",
            wrap=True,
        )
    _date_axis(ax)
    draw_events(ax, events, shares.index.min(), shares.index.max())
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


# --------------------------------------------------------------------------------------------------
# robust policy search


def parallel_coordinates(
    table: pd.DataFrame,
    columns: Sequence[str],
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    ticks: Mapping[str, Sequence[tuple[float, str]]] | None = None,
    better_low: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    color_by: str | None = None,
    highlight: Mapping[int, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One line per row of ``table`` across parallel vertical axes, one per column (Inselberg 1985): a Pareto set's
    levers and metrics side by side, so the trade-offs and the levers that go with them show at a glance.

    Each axis is scaled to its ``ranges`` entry (default: the column's own range); ``ticks`` gives labelled
    positions (a choice lever's options), otherwise the axis' two ends are labelled with their values. Columns in
    ``better_low`` (costs) are drawn upside down so that up is better on every metric axis. Lines are coloured by
    ``color_by`` (cividis); rows of ``highlight`` (row position -> label) are drawn thick and labelled on the
    right.
    """
    if table.empty:
        raise ValueError("table is empty")
    if ax is None:
        ax = _new_axes((max(7.0, 1.6 * len(columns)), 5.0))
    ranges, ticks, labels = ranges or {}, ticks or {}, labels or {}
    scaled = np.zeros((len(table), len(columns)))
    spans: dict[str, tuple[float, float]] = {}
    for j, column in enumerate(columns):
        values = table[column].to_numpy(dtype=float)
        low, high = ranges.get(column, (float(np.nanmin(values)), float(np.nanmax(values))))
        if high <= low:  # every row has the same value: drawn across the middle, labelled once
            ticks = {**ticks, column: [(low, f"{low:.3g}")]}
            low, high = low - 0.5, high + 0.5
        spans[column] = (low, high)
        share = (values - low) / (high - low)
        scaled[:, j] = 1.0 - share if column in better_low else share
    x = np.arange(len(columns), dtype=float)
    colors: Any = [OKABE_ITO[0]] * len(table)
    if color_by is not None:
        shade = table[color_by].to_numpy(dtype=float)
        low, high = float(np.nanmin(shade)), float(np.nanmax(shade))
        norm = (shade - low) / (high - low) if high > low else np.full(len(shade), 0.5)
        cmap = matplotlib.colormaps["cividis"]
        colors = [cmap(v) for v in norm]
    highlight = highlight or {}
    for i in range(len(table)):
        thick = i in highlight
        ax.plot(
            x,
            scaled[i],
            color="0.1" if thick else colors[i],
            linewidth=2.2 if thick else 1.0,
            alpha=1.0 if thick else 0.7,
            zorder=3 if thick else 2,
            gid="parallel-highlight" if thick else "parallel-line",
        )
        if thick:
            ax.annotate(
                highlight[i],
                (x[-1], scaled[i, -1]),
                xytext=(40, 0),  # beyond the last axis' value labels
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    for j, column in enumerate(columns):
        ax.axvline(x[j], color="0.4", linewidth=0.8, zorder=1)
        low, high = spans[column]
        marks = ticks.get(column)
        if marks is None:
            marks = [(low, f"{low:.3g}"), (high, f"{high:.3g}")]
        for value, text in marks:
            level = (value - low) / (high - low)
            y = 1.0 - level if column in better_low else level
            ax.annotate(text, (x[j], y), xytext=(3, 0), textcoords="offset points", fontsize=7, va="center")
    ax.set_xticks(x, [labels.get(c, c) for c in columns], rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(columns) - 1 + 0.8)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title("Pareto set: levers and metrics (up is better on every metric)")
    return ax


def tradeoff_plot(
    candidates: pd.DataFrame,
    x: str,
    y: str,
    *,
    front: Sequence[bool] | np.ndarray,
    labels: Mapping[str, str] | None = None,
    color_by: str | None = None,
    checked: pd.DataFrame | None = None,
    checked_label: str = "re-evaluated on fresh futures (95 % intervals)",
    ax: Axes | None = None,
) -> Axes:
    """Every evaluated candidate in the plane of two metrics, the Pareto set (``front``) highlighted.

    ``color_by`` colours the Pareto set by a third metric (cividis, with a colour bar). ``checked`` holds the
    re-evaluated policies - columns ``label``, ``x``, ``y`` and their interval ends ``x_low``, ``x_high``,
    ``y_low``, ``y_high`` - drawn as open markers with 95 % intervals and labelled, so the distance from a policy's
    search value to its fresh value shows how much of its performance was the search's luck; ``checked_label``
    names them in the legend (a class's policy, say). Candidates off the front are drawn only if there are some.
    """
    labels = labels or {}
    on_front = np.asarray(front, dtype=bool)
    if ax is None:
        ax = _new_axes((7.5, 5.5))
    xs, ys = candidates[x].to_numpy(dtype=float), candidates[y].to_numpy(dtype=float)
    if (~on_front).any():
        ax.scatter(
            xs[~on_front], ys[~on_front], s=8, color="0.75", label=f"evaluated ({(~on_front).sum()})", zorder=1
        )
    if color_by is not None:
        drawn = ax.scatter(
            xs[on_front],
            ys[on_front],
            c=candidates[color_by].to_numpy(dtype=float)[on_front],
            cmap="cividis",
            s=30,
            edgecolors="0.2",
            linewidths=0.5,
            label=f"Pareto set ({on_front.sum()})",
            zorder=3,
        )
        colorbar = ax.get_figure(root=True).colorbar(drawn, ax=ax)  # type: ignore[union-attr]
        colorbar.set_label(labels.get(color_by, color_by))
    else:
        ax.scatter(
            xs[on_front], ys[on_front], s=30, color=OKABE_ITO[0], label=f"Pareto set ({on_front.sum()})", zorder=3
        )
    if checked is not None and not checked.empty:
        ax.errorbar(
            checked["x"],
            checked["y"],
            xerr=[checked["x"] - checked["x_low"], checked["x_high"] - checked["x"]],
            yerr=[checked["y"] - checked["y_low"], checked["y_high"] - checked["y"]],
            fmt="o",
            mfc="white",
            mec=OKABE_ITO[3],
            ecolor=OKABE_ITO[3],
            elinewidth=1.0,
            capsize=2,
            label=checked_label,
            zorder=4,
        )
        for row in checked.itertuples():
            ax.annotate(str(row.label), (row.x, row.y), xytext=(5, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(labels.get(x, x))
    ax.set_ylabel(labels.get(y, y))
    ax.set_title("Trade-off between the first two metrics")
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize=8, frameon=False)
    return ax
