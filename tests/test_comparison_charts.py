"""Comparison charts stay readable with several scenarios: event markers, band styles, differences over time."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.text import Text

from sim.analysis.common import open_results
from sim.analysis.compare import timeseries_difference
from sim.analysis.report import _unique_events
from sim.plots import (
    GID_BAND_50,
    GID_BAND_90,
    GID_DIFFERENCE_BAND,
    GID_DIFFERENCE_MEDIAN,
    GID_EVENT_KEY,
    GID_EVENT_LINE,
    GID_EVENT_TEXT,
    GID_ZERO,
    OKABE_ITO,
    EventMarker,
    difference_over_time,
    fan_chart,
)
from tests.test_compare import write_results
from tests.test_plots import make_timeseries

SCENARIOS = ("baseline", "trade_relapse", "nk_escalation")


def _three_scenarios(n_months: int = 60) -> pd.DataFrame:
    return pd.concat(
        [
            make_timeseries(n_runs=21, n_months=n_months, scenario=s, offset=3.0 * i)
            for i, s in enumerate(SCENARIOS)
        ],
        ignore_index=True,
    )


def _crowded_events() -> list[EventMarker]:
    """Each scenario's own injects within weeks of each other (as in early 2026), plus one event all share."""
    shared = [EventMarker(pd.Timestamp("2025-10-01"), "Takaichi Sanae elected prime minister", "politics")]
    own = {
        "baseline": [],
        "trade_relapse": [
            EventMarker(pd.Timestamp("2026-01-01"), "Asset liquidation ordered", "court"),
            EventMarker(pd.Timestamp("2026-03-01"), "Japan reimposes controls on three materials", "trade"),
            EventMarker(pd.Timestamp("2026-04-01"), "Japan removes Korea from its white list", "trade"),
        ],
        "nk_escalation": [
            EventMarker(pd.Timestamp("2026-02-01"), "IRBM overflies northern Japan", "security"),
            EventMarker(pd.Timestamp("2026-02-01"), "Emergency trilateral call", "security"),
            EventMarker(pd.Timestamp("2026-03-01"), "Seventh nuclear test", "security"),
        ],
    }
    return _unique_events([shared + own[s] for s in SCENARIOS], list(SCENARIOS))


def _drawn_texts(ax: Axes, gid: str) -> list[Text]:
    return [t for t in ax.texts if t.get_gid() == gid]


def _render(ax: Axes) -> None:
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig)
    fig.canvas.draw()


def test_comparison_event_labels_do_not_overlap() -> None:
    ax = fan_chart(_three_scenarios(), "relations_index", events=_crowded_events())
    _render(ax)
    numbers = _drawn_texts(ax, GID_EVENT_TEXT)
    keys = _drawn_texts(ax, GID_EVENT_KEY)
    assert len(numbers) == 7 and len(keys) == 1
    boxes = [t.get_window_extent() for t in numbers + keys]
    for (i, a), (j, b) in combinations(enumerate(boxes), 2):
        assert not a.overlaps(b), (i, j)
    # Every label is printed once, in the key, with its date; events of some scenarios name them.
    key = keys[0].get_text()
    assert key.count("Takaichi Sanae elected prime minister") == 1
    assert "2025-10  Takaichi Sanae elected prime minister\n" in key
    assert "2026-02  IRBM overflies northern Japan (nk_escalation)" in key
    assert "Asset liquidation ordered (trade_relapse)" in key
    # The key lies below the plot, the numbers inside it.
    axes_box = ax.get_window_extent()
    assert keys[0].get_window_extent().y1 < axes_box.y0
    assert all(axes_box.contains(*t.get_window_extent().get_points().mean(axis=0)) for t in numbers)


def test_an_event_shared_by_scenarios_is_one_marker() -> None:
    ax = fan_chart(_three_scenarios(), "relations_index", events=_crowded_events())
    lines = [line for line in ax.get_lines() if line.get_gid() == GID_EVENT_LINE]
    # The event all three scenarios have is one marker; seven events fall on five dates, one line each.
    assert len(lines) == 5
    assert [t.get_text() for t in _drawn_texts(ax, GID_EVENT_TEXT)] == [str(i) for i in range(1, 8)]


def test_six_scenarios_with_crowded_events_keep_labels_apart() -> None:
    frame = pd.concat(
        [make_timeseries(n_runs=11, n_months=60, scenario=f"s{i}", offset=float(i)) for i in range(6)],
        ignore_index=True,
    )
    events = _unique_events(
        [
            [EventMarker(pd.Timestamp("2026-01-01") + pd.DateOffset(days=9 * k), f"inject {k}", "x")]
            for k in range(6)
        ],
        [f"s{i}" for i in range(6)],
    )
    ax = fan_chart(frame, "relations_index", events=events)
    _render(ax)
    boxes = [t.get_window_extent() for t in _drawn_texts(ax, GID_EVENT_TEXT) + _drawn_texts(ax, GID_EVENT_KEY)]
    assert len(boxes) == 7
    assert not any(a.overlaps(b) for a, b in combinations(boxes, 2))


def _bands(ax: Axes, gid: str) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == gid]


def test_several_fans_draw_outlined_90_bands_and_light_50_bands() -> None:
    ax = fan_chart(_three_scenarios(n_months=12), "relations_index")
    bands_90, bands_50 = _bands(ax, GID_BAND_90), _bands(ax, GID_BAND_50)
    assert len(bands_90) == len(bands_50) == 3
    for band, color in zip(bands_90, OKABE_ITO, strict=False):
        assert band.get_facecolor()[0][3] == 0.0  # no fill: overlapping bands cannot blend
        edge = band.get_edgecolor()[0]
        assert edge[3] > 0.5 and tuple(edge[:3]) == pytest.approx(matplotlib.colors.to_rgb(color))
        assert band.get_linewidth()[0] > 0
    for band in bands_50:
        assert 0.0 < band.get_facecolor()[0][3] <= 0.15
        assert band.get_edgecolor()[0][3] > 0.5
    # The legend shows the bands as drawn.
    legend = ax.get_legend()
    assert legend is not None
    patches = {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert patches["90 % band (5th-95th pct.)"].get_facecolor()[3] == 0.0


def test_one_fan_keeps_its_filled_bands_and_rotated_labels() -> None:
    events = [EventMarker(pd.Timestamp("2025-04-01"), "summit", "diplomacy")]
    ax = fan_chart(make_timeseries(n_runs=11), "relations_index", events=events)
    (band_90,), (band_50,) = _bands(ax, GID_BAND_90), _bands(ax, GID_BAND_50)
    assert band_90.get_facecolor()[0][3] == pytest.approx(0.15)
    assert band_50.get_facecolor()[0][3] == pytest.approx(0.35)
    assert band_90.get_linewidth()[0] == 0
    assert [t.get_rotation() for t in _drawn_texts(ax, GID_EVENT_TEXT)] == [90]
    assert _drawn_texts(ax, GID_EVENT_KEY) == []


# --------------------------------------------------------------------------- differences over time


def test_paired_difference_over_time_follows_the_replications(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(60, 8, 40)
    effect = rng.normal(-5, 1, 40)
    a = open_results(write_results(tmp_path / "a", {"relations_index": base}, months=4))
    # Shuffled rows: the pairs must follow the replication, not the row order.
    b = open_results(
        write_results(tmp_path / "b", {"relations_index": base + effect}, months=4, order=rng.permutation(40))
    )
    frame = timeseries_difference(a, b, "relations_index")
    assert len(frame) == 4 and frame["paired"].all() and (frame["n"] == 40).all()
    assert frame["median"].to_numpy() == pytest.approx(np.full(4, np.median(effect)))
    assert frame["low"].to_numpy() == pytest.approx(np.full(4, np.quantile(effect, 0.05)))
    assert frame["high"].to_numpy() == pytest.approx(np.full(4, np.quantile(effect, 0.95)))


def test_unpaired_difference_over_time_is_the_difference_of_medians(tmp_path: Path) -> None:
    a = open_results(write_results(tmp_path / "a", {"relations_index": np.arange(11.0)}, months=2))
    b = open_results(
        write_results(tmp_path / "b", {"relations_index": np.arange(11.0) + 7}, root_seed=9, months=2)
    )
    frame = timeseries_difference(a, b, "relations_index")
    assert not frame["paired"].any()
    assert frame["median"].to_numpy() == pytest.approx([7.0, 7.0])
    assert frame[["low", "high"]].isna().all().all()


def _difference_frame(median: float, *, paired: bool, months: int = 12) -> pd.DataFrame:
    dates = pd.date_range("2025-07-01", periods=months, freq="MS")
    band = 3.0 if paired else np.nan
    return pd.DataFrame(
        {"date": dates, "median": median, "low": median - band, "high": median + band, "paired": paired, "n": 30}
    )


def test_difference_over_time_keeps_scenario_colours_and_a_zero_line() -> None:
    frames = {
        "trade_relapse": _difference_frame(-20.0, paired=True),
        "nk_escalation": _difference_frame(1.0, paired=False),
    }
    ax = difference_over_time(frames, "relations_index", "baseline", events=_crowded_events())
    medians = [line for line in ax.get_lines() if line.get_gid() == GID_DIFFERENCE_MEDIAN]
    assert [m.get_color() for m in medians] == [OKABE_ITO[1], OKABE_ITO[2]]
    assert medians[0].get_linestyle() == "-" and medians[1].get_linestyle() == "--"
    # Only the paired scenario has a band: unpaired runs have no per-replication difference.
    (band,) = [c for c in ax.collections if c.get_gid() == GID_DIFFERENCE_BAND]
    assert tuple(band.get_edgecolor()[0][:3]) == pytest.approx(matplotlib.colors.to_rgb(OKABE_ITO[1]))
    (zero,) = [line for line in ax.get_lines() if line.get_gid() == GID_ZERO]
    assert list(zero.get_ydata()) == [0.0, 0.0]
    assert ax.get_title() == "Relations index: difference from baseline"
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert "nk_escalation (unpaired)" in texts and "no difference" in texts
