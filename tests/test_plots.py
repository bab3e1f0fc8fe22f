"""Tests of sim.plots on synthetic batches whose quantiles and shares are known exactly."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

import sim.plots
from sim.outcomes import EVENT_COUNTS, KEY_OUTCOMES, OUTCOMES, OutcomeClass
from sim.plots import (
    GID_BAND_50,
    GID_BAND_90,
    GID_CLASS_BAR,
    GID_CLASS_COUNT,
    GID_EVENT_LINE,
    GID_EVENT_TEXT,
    GID_MEDIAN,
    OKABE_ITO,
    EventMarker,
    fan_chart,
    outcome_class_shares,
    save_batch_plots,
    wilson_interval,
)

START = pd.Timestamp("2025-01-01")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_timeseries(
    n_runs: int = 101, n_months: int = 12, scenario: str = "baseline", offset: float = 0.0
) -> pd.DataFrame:
    """Run r has value ``r + offset`` (scaled to the outcome's range) at every month."""
    runs = np.repeat(np.arange(n_runs), n_months)
    months = np.tile(np.arange(n_months), n_runs)
    frame = pd.DataFrame(
        {
            "scenario": scenario,
            "run": runs,
            "month": months,
            "date": pd.date_range(START, periods=n_months, freq="MS")[months],
        }
    )
    for name, info in OUTCOMES.items():
        frame[name] = (runs + offset).astype(float) / (n_runs - 1) * (info.high - info.low)
    for name in EVENT_COUNTS:
        frame[name] = (runs % 3).astype(int)
    return frame


def make_runs(counts: dict[OutcomeClass, int], scenario: str = "baseline") -> pd.DataFrame:
    classes = [cls for cls, k in counts.items() for _ in range(k)]
    n = len(classes)
    frame = pd.DataFrame(
        {
            "scenario": scenario,
            "run": np.arange(n),
            "seed": np.arange(n) + 1000,
            "outcome_class": [str(c) for c in classes],
        }
    )
    for name in OUTCOMES:
        frame[f"final_{name}"] = 0.5
    return frame


def medians(ax: Axes) -> list[Line2D]:
    return [line for line in ax.get_lines() if line.get_gid() == GID_MEDIAN]


def bands(ax: Axes, gid: str) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == gid]


def band_y(collection: PolyCollection) -> np.ndarray:
    return np.concatenate([np.asarray(path.vertices)[:, 1] for path in collection.get_paths()])


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


@pytest.fixture(autouse=True)
def _no_figures_leak() -> Iterator[None]:
    yield
    assert plt.get_fignums() == []


# ------------------------------------------------------------------------------------------------
# fan_chart


def test_fan_chart_median_and_bands_from_known_runs() -> None:
    ax = fan_chart(make_timeseries(), "relations_index")
    (median,) = medians(ax)
    np.testing.assert_allclose(np.asarray(median.get_ydata(), dtype=float), 50.0)
    (band90,) = bands(ax, GID_BAND_90)
    (band50,) = bands(ax, GID_BAND_50)
    y90, y50 = band_y(band90), band_y(band50)
    assert y90.min() == pytest.approx(5.0)
    assert y90.max() == pytest.approx(95.0)
    assert y50.min() == pytest.approx(25.0)
    assert y50.max() == pytest.approx(75.0)
    assert set(np.round(y90, 9)) == {5.0, 95.0}


def test_fan_chart_dated_x_axis_one_point_per_month() -> None:
    ax = fan_chart(make_timeseries(n_months=18), "kr_favorability")
    (median,) = medians(ax)
    x = pd.DatetimeIndex(np.asarray(median.get_xdata()))
    assert list(x) == list(pd.date_range(START, periods=18, freq="MS"))
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_fan_chart_title_unit_limits_and_legend() -> None:
    info = OUTCOMES["security_cooperation"]
    ax = fan_chart(make_timeseries(), "security_cooperation")
    assert ax.get_title() == info.label
    assert ax.get_ylabel() == info.unit
    assert ax.get_ylim() == (info.low, info.high)
    texts = legend_texts(ax)
    assert texts[0] == "Median"
    assert any("50 %" in t for t in texts)
    assert any("90 %" in t for t in texts)


def test_fan_chart_label_and_color_for_single_scenario() -> None:
    ax = fan_chart(make_timeseries(), "relations_index", color="#123456", label="Policy A")
    (median,) = medians(ax)
    assert to_hex(median.get_color()) == "#123456"
    assert "Median, Policy A" in legend_texts(ax)


def test_fan_chart_accepts_event_count_columns() -> None:
    ax = fan_chart(make_timeseries(), "nk_provocations")
    assert ax.get_ylabel() == "events per month"
    assert ax.get_ylim()[0] == 0


def test_fan_chart_without_ax_uses_a_pyplot_free_figure() -> None:
    ax = fan_chart(make_timeseries(n_runs=5), "relations_index")
    assert isinstance(ax, Axes)
    assert isinstance(ax.get_figure(root=True), Figure)
    assert plt.get_fignums() == []


def test_fan_chart_draws_on_given_ax() -> None:
    fig = Figure()
    given = fig.add_subplot()
    assert fan_chart(make_timeseries(n_runs=5), "relations_index", ax=given) is given
    assert len(fig.axes) == 1


def test_fan_chart_missing_column_raises() -> None:
    with pytest.raises(KeyError):
        fan_chart(make_timeseries(n_runs=3).drop(columns="relations_index"), "relations_index")


def test_event_markers_only_inside_the_plotted_range() -> None:
    events = [
        EventMarker(pd.Timestamp("2024-06-01"), "before", "history"),
        EventMarker(pd.Timestamp("2025-04-01"), "summit", "diplomacy"),
        EventMarker(datetime.date(2025, 9, 1), "ICBM test", "security"),
        EventMarker(pd.Timestamp("2026-06-01"), "after", "history"),
    ]
    ax = fan_chart(make_timeseries(n_months=12), "relations_index", events=events)
    lines = [line for line in ax.get_lines() if line.get_gid() == GID_EVENT_LINE]
    texts = [t for t in ax.texts if t.get_gid() == GID_EVENT_TEXT]
    assert sorted(t.get_text() for t in texts) == ["ICBM test", "summit"]
    xs = sorted(float(np.asarray(line.get_xdata())[0]) for line in lines)
    expected = [
        mdates.date2num(datetime.date(2025, 4, 1)),
        mdates.date2num(datetime.date(2025, 9, 1)),
    ]
    assert xs == pytest.approx(expected)
    assert all(line.get_linestyle() == ":" for line in lines)
    assert all(t.get_rotation() == 90 for t in texts)


def test_neighbouring_event_labels_are_staggered() -> None:
    events = [
        EventMarker(pd.Timestamp("2025-03-01"), "first", "x"),
        EventMarker(pd.Timestamp("2025-04-01"), "second", "x"),
        EventMarker(pd.Timestamp("2025-05-01"), "third", "x"),
        EventMarker(pd.Timestamp("2031-01-01"), "later", "x"),
    ]
    ax = fan_chart(make_timeseries(n_runs=5, n_months=120), "relations_index", events=events)
    heights = {t.get_text(): t.get_position()[1] for t in ax.texts if t.get_gid() == GID_EVENT_TEXT}
    assert len({heights["first"], heights["second"], heights["third"]}) == 3
    assert heights["later"] == heights["first"]


def test_event_markers_not_duplicated_by_a_second_fan() -> None:
    events = [EventMarker(pd.Timestamp("2025-04-01"), "summit", "diplomacy")]
    ax = fan_chart(make_timeseries(n_runs=5), "relations_index", events=events)
    fan_chart(make_timeseries(n_runs=5, offset=1.0), "relations_index", events=events, ax=ax)
    assert len([t for t in ax.texts if t.get_gid() == GID_EVENT_TEXT]) == 1


def test_several_scenarios_give_one_median_each_with_distinct_colours() -> None:
    frame = pd.concat(
        [
            make_timeseries(scenario="baseline"),
            make_timeseries(scenario="crisis", offset=-20.0),
            make_timeseries(scenario="summitry", offset=10.0),
        ],
        ignore_index=True,
    )
    ax = fan_chart(frame, "relations_index")
    lines = medians(ax)
    assert [line.get_label() for line in lines] == ["baseline", "crisis", "summitry"]
    colours = [to_hex(line.get_color()) for line in lines]
    assert len(set(colours)) == 3
    assert {c.lower() for c in colours} <= {c.lower() for c in OKABE_ITO}
    np.testing.assert_allclose(np.asarray(lines[1].get_ydata(), dtype=float), 30.0)
    assert len(bands(ax, GID_BAND_90)) == 3
    texts = legend_texts(ax)
    for name in ("baseline", "crisis", "summitry"):
        assert name in texts
    assert any("50 %" in t for t in texts)
    assert any("90 %" in t for t in texts)


def test_repeated_calls_on_one_ax_build_a_comparison() -> None:
    ax = fan_chart(make_timeseries(scenario="a"), "relations_index", label="A")
    fan_chart(make_timeseries(scenario="b", offset=5.0), "relations_index", ax=ax, label="B")
    lines = medians(ax)
    assert len(lines) == 2
    assert to_hex(lines[0].get_color()) != to_hex(lines[1].get_color())
    texts = legend_texts(ax)
    assert "A" in texts
    assert "B" in texts


# ------------------------------------------------------------------------------------------------
# outcome_class_shares


def class_bars(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == GID_CLASS_BAR]


def test_class_shares_heights_counts_and_title() -> None:
    runs = make_runs(
        {
            OutcomeClass.RELAPSE: 2,
            OutcomeClass.DURABLE_RAPPROCHEMENT: 5,
            OutcomeClass.FRAGILE_THAW: 3,
        }
    )
    ax = outcome_class_shares(runs)
    heights = [bar.get_height() for bar in sorted(class_bars(ax), key=lambda b: b.get_x())]
    assert heights == pytest.approx([50.0, 30.0, 20.0])  # enum order, not input order
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Durable rapprochement",
        "Fragile thaw",
        "Relapse",
    ]
    counts = [t.get_text() for t in sorted(ax.texts, key=lambda t: t.get_position()[0])]
    assert counts == ["5", "3", "2"]
    assert "10 runs" in ax.get_title()
    assert "%" in ax.get_ylabel()


def test_class_shares_show_absent_classes_as_zero() -> None:
    runs = make_runs({OutcomeClass.DURABLE_RAPPROCHEMENT: 4, OutcomeClass.FRAGILE_THAW: 6})
    ax = outcome_class_shares(runs)
    heights = [bar.get_height() for bar in sorted(class_bars(ax), key=lambda b: b.get_x())]
    assert heights == pytest.approx([40.0, 60.0, 0.0])
    assert len(ax.get_xticklabels()) == 3


def test_class_shares_error_bars_are_wilson_intervals() -> None:
    runs = make_runs({OutcomeClass.DURABLE_RAPPROCHEMENT: 8, OutcomeClass.RELAPSE: 2})
    ax = outcome_class_shares(runs)
    # The error-bar segments are vertical lines at the bar centres, sorted by x here.
    segments = [
        np.asarray(seg)
        for coll in ax.collections
        if isinstance(coll, LineCollection)
        for seg in coll.get_segments()
    ]
    segments.sort(key=lambda seg: seg[0][0])
    lo, hi = wilson_interval(8, 10)
    assert sorted(segments[0][:, 1]) == pytest.approx([100 * lo, 100 * hi])
    lo0, hi0 = wilson_interval(0, 10)
    assert sorted(segments[1][:, 1]) == pytest.approx([100 * lo0, 100 * hi0])


def test_class_shares_grouped_by_scenario() -> None:
    runs = pd.concat(
        [
            make_runs({OutcomeClass.DURABLE_RAPPROCHEMENT: 3, OutcomeClass.RELAPSE: 1}, "baseline"),
            make_runs({OutcomeClass.FRAGILE_THAW: 2, OutcomeClass.RELAPSE: 2}, "crisis"),
        ],
        ignore_index=True,
    )
    ax = outcome_class_shares(runs)
    bars = sorted(class_bars(ax), key=lambda b: b.get_x())
    assert len(bars) == 6
    # Per class: baseline bar then crisis bar.
    assert [b.get_height() for b in bars] == pytest.approx([75.0, 0.0, 0.0, 50.0, 25.0, 50.0])
    assert to_hex(bars[0].get_facecolor()) != to_hex(bars[1].get_facecolor())
    texts = legend_texts(ax)
    assert any(t.startswith("baseline") for t in texts)
    assert any(t.startswith("crisis") for t in texts)
    assert "8 runs" in ax.get_title()
    assert len([t for t in ax.texts if t.get_gid() == GID_CLASS_COUNT]) == 6


def test_class_shares_reject_unknown_class() -> None:
    runs = make_runs({OutcomeClass.RELAPSE: 2})
    runs.loc[0, "outcome_class"] = "war"
    with pytest.raises(ValueError, match="war"):
        outcome_class_shares(runs)


# ------------------------------------------------------------------------------------------------
# wilson_interval


def test_wilson_interval_known_value() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3)
    assert hi == pytest.approx(0.9433, abs=1e-3)


@pytest.mark.parametrize("n", [1, 5, 10, 1000])
def test_wilson_interval_edges_stay_in_unit_interval(n: int) -> None:
    lo0, hi0 = wilson_interval(0, n)
    lon, hin = wilson_interval(n, n)
    assert lo0 == 0.0
    assert 0.0 < hi0 < 1.0
    assert hin == 1.0
    assert 0.0 < lon < 1.0
    assert lon == pytest.approx(1.0 - hi0)  # symmetry


def test_wilson_interval_contains_estimate_and_narrows_with_n() -> None:
    lo_small, hi_small = wilson_interval(3, 10)
    lo_big, hi_big = wilson_interval(300, 1000)
    assert lo_small < 0.3 < hi_small
    assert lo_big < 0.3 < hi_big
    assert hi_big - lo_big < hi_small - lo_small


def test_wilson_interval_degenerate_and_invalid() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(-1, 10)


# ------------------------------------------------------------------------------------------------
# save_batch_plots


def test_save_batch_plots_writes_valid_pngs(tmp_path: Path) -> None:
    timeseries = make_timeseries(n_runs=11, n_months=24)
    runs = make_runs({OutcomeClass.DURABLE_RAPPROCHEMENT: 6, OutcomeClass.FRAGILE_THAW: 5})
    events = [EventMarker(pd.Timestamp("2025-06-01"), "summit", "diplomacy")]
    out = tmp_path / "plots" / "batch"
    paths = save_batch_plots(timeseries, runs, out, events)
    expected = [f"fan_{name}.png" for name in KEY_OUTCOMES] + [
        "outcome_classes.png",
        "overview.png",
    ]
    assert [p.name for p in paths] == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for path in paths:
        data = path.read_bytes()
        assert len(data) > 1000
        assert data[:8] == PNG_SIGNATURE
    assert plt.get_fignums() == []


def test_save_batch_plots_several_formats_and_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two key outcomes keep this fast; the overview grid must still fill itself.
    monkeypatch.setattr(sim.plots, "KEY_OUTCOMES", ("relations_index", "nk_threat"))
    timeseries = pd.concat([make_timeseries(5, 6, "a"), make_timeseries(5, 6, "b", offset=1.0)], ignore_index=True)
    runs = pd.concat(
        [make_runs({OutcomeClass.RELAPSE: 5}, "a"), make_runs({OutcomeClass.FRAGILE_THAW: 5}, "b")],
        ignore_index=True,
    )
    paths = save_batch_plots(timeseries, runs, tmp_path, formats=("png", "svg"))
    assert [p.name for p in paths] == [
        "fan_relations_index.png",
        "fan_relations_index.svg",
        "fan_nk_threat.png",
        "fan_nk_threat.svg",
        "outcome_classes.png",
        "outcome_classes.svg",
        "overview.png",
        "overview.svg",
    ]
    assert (tmp_path / "overview.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "overview.png").read_bytes()[:8] == PNG_SIGNATURE
    assert plt.get_fignums() == []


# ------------------------------------------------------------------------------------------------
# analysis plots: horizon distributions, differences, sensitivity, discovery


def labelled(ax: Axes) -> tuple[str, str, list[str]]:
    """Title, the axis label that carries the unit, and the legend texts."""
    unit_label = ax.get_xlabel() or ax.get_ylabel()
    return ax.get_title(), unit_label, legend_texts(ax)


def test_metric_text_names_units_of_every_metric() -> None:
    assert sim.plots.metric_text("final_kr_favorability") == (
        "Koreans favourable to Japan at the horizon",
        "% of citizens",
    )
    assert sim.plots.metric_text("window_relations_index")[1] == "index 0-100"
    assert sim.plots.metric_text("share_relapse") == ("Probability of relapse", "share of runs")


def test_horizon_distribution_boxes_quartiles_titles_and_legend() -> None:
    runs = make_runs({OutcomeClass.FRAGILE_THAW: 101})
    runs["final_relations_index"] = np.arange(101, dtype=float)
    runs = pd.concat(
        [runs, runs.assign(scenario="other", final_relations_index=runs["final_relations_index"] / 2)]
    )
    ax = sim.plots.horizon_distribution(runs, "relations_index")
    boxes = [p for p in ax.patches if p.get_gid() == "horizon-box"]
    assert len(boxes) == 2
    # the first scenario sits on top; its box spans the 25th-75th percentiles
    top = max(boxes, key=lambda p: p.get_path().vertices[:, 1].mean())
    xs = top.get_path().vertices[:, 0]
    assert (xs.min(), xs.max()) == pytest.approx((25.0, 75.0))
    title, unit, legend = labelled(ax)
    assert title == "Relations index at the horizon"
    assert "index 0-100" in unit
    assert legend[:2] == ["baseline (n = 101)", "other (n = 101)"]
    assert ax.get_xlim() == (0.0, 100.0)
    ax.get_figure(root=True).clear()


def differences_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "reference": "a",
            "scenario": ["b", "c"],
            "metric": "share_relapse",
            "paired": [True, False],
            "difference": [0.2, -0.05],
            "ci_low": [0.1, -0.2],
            "ci_high": [0.3, 0.1],
            "confidence": 0.95,
        }
    )


def test_difference_plot_points_intervals_units_and_legend() -> None:
    ax = sim.plots.difference_plot(differences_frame(), "share_relapse")
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = np.concatenate([np.asarray(s) for c in bars for s in c.get_segments()])
    # shares are drawn in percentage points: 10-30 and -20-10
    assert sorted(segments[:, 0].round(6).tolist()) == [-20.0, 10.0, 10.0, 30.0]
    title, unit, legend = labelled(ax)
    assert title == "Probability of relapse: difference from a"
    assert "percentage points" in unit
    assert legend == ["paired (same seeds), 95 % CI", "unpaired, 95 % CI", "no difference"]
    # scenario i of the comparison keeps the colour it has in fan charts (the reference is colour 0)
    colors = {to_hex(line.get_color()) for line in ax.get_lines() if line.get_marker() in ("o", "s")}
    assert colors == {OKABE_ITO[1].lower(), OKABE_ITO[2].lower()}
    with pytest.raises(KeyError, match="final_nk_threat"):
        sim.plots.difference_plot(differences_frame(), "final_nk_threat")
    ax.get_figure(root=True).clear()


def test_sensitivity_bars_rank_factors_with_intervals() -> None:
    indices = pd.DataFrame(
        {"factor": ["x1", "x2", "x3"], "S1": [0.3, 0.45, 0.0], "S1_conf": 0.02, "ST": [0.55, 0.45, 0.25]}
        | {"ST_conf": 0.03}
    )
    ax = sim.plots.sensitivity_bars(indices, output="window_relations_index")
    # most important (by ST) on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x3", "x2", "x1"]
    title, unit, legend = labelled(ax)
    assert title == "Sobol indices: Relations index, mean of the last year"
    assert "share of the output's variance" in unit
    assert legend == ["total order ST (with interactions)", "first order S1 (alone)"]
    ax.get_figure(root=True).clear()
    morris = pd.DataFrame({"factor": ["a", "b"], "mu_star": [1.0, 3.0], "mu_star_conf": 0.1, "sigma": 0.5})
    ax = sim.plots.sensitivity_bars(morris)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert "per whole factor range" in ax.get_xlabel()
    ax.get_figure(root=True).clear()


def test_discovery_plot_draws_the_box_and_both_groups() -> None:
    params = pd.DataFrame({"x": np.linspace(0, 1, 11), "y": np.linspace(0, 1, 11)[::-1]})
    hit = params["x"] < 0.35
    ax = sim.plots.discovery_plot(params, hit, {"x": (-np.inf, 0.35), "z": (0.0, 0.5)}, "x", "y")
    (box,) = [p for p in ax.patches if p.get_gid() == "discovery-box"]
    assert (box.get_x(), box.get_width()) == pytest.approx((0.0, 0.35))
    assert (box.get_y(), box.get_height()) == pytest.approx((0.0, 1.0))
    title, unit, legend = labelled(ax)
    assert "relapse" in title and "z" in title
    assert unit == "x (scenario units)"
    assert legend == ["other outcome (7)", "relapse (4)", "rule's box"]
    ax.get_figure(root=True).clear()


def test_discovery_plot_without_a_rule_draws_no_box() -> None:
    """An empty box used to be drawn around all the data, as if the whole space were a rule."""
    params = pd.DataFrame({"x": np.linspace(0, 1, 11), "y": np.linspace(0, 1, 11)[::-1]})
    ax = sim.plots.discovery_plot(params, params["x"] < 0.35, {}, "x", "y")
    assert [p for p in ax.patches if p.get_gid() == "discovery-box"] == []
    title, _, legend = labelled(ax)
    assert title.endswith("no rule found") and "rule's box" not in legend
    ax.get_figure(root=True).clear()


def test_save_figure_is_reproducible(tmp_path: Path) -> None:
    first = sim.plots.save_figure(fan_chart(make_timeseries(5, 4), "nk_threat"), tmp_path / "a")
    second = sim.plots.save_figure(fan_chart(make_timeseries(5, 4), "nk_threat"), tmp_path / "b")
    assert [p.name for p in first] == ["a.png", "a.svg"]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()


# ------------------------------------------------------------------------------------------------
# class thresholds, tight value axes and the class map

THRESHOLDS = {"relapse_max_index": 50.0, "durable_min_index": 65.0, "durable_min_institutionalization": 0.35}


def thresholds_on(ax: Axes) -> dict[str, float]:
    """The threshold lines on ``ax`` by label, at the value they mark (y of a horizontal line, x of a vertical)."""
    found = {}
    for line in ax.get_lines():
        if line.get_gid() != sim.plots.GID_THRESHOLD:
            continue
        xs, ys = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
        found[str(line.get_label())] = float(ys[0] if ys[0] == ys[-1] else xs[0])
    return found


def threshold_labels(ax: Axes) -> list[str]:
    return sorted(t.get_text() for t in ax.texts if t.get_gid() == sim.plots.GID_THRESHOLD_TEXT)


def clustered_timeseries(n_runs: int = 21, n_months: int = 12) -> pd.DataFrame:
    """Every outcome within a narrow tenth of its range, above its middle (as the baseline's index clusters)."""
    frame = make_timeseries(n_runs, n_months)
    for name, info in OUTCOMES.items():
        width = info.high - info.low
        frame[name] = info.low + 0.55 * width + 0.1 * width * frame["run"] / (n_runs - 1)
    return frame


def test_relations_index_fan_draws_the_labelled_class_thresholds() -> None:
    ax = fan_chart(make_timeseries(), "relations_index", thresholds=THRESHOLDS)
    assert thresholds_on(ax) == {"relapse \u2264 50": 50.0, "durable \u2265 65": 65.0}
    assert threshold_labels(ax) == ["durable \u2265 65", "relapse \u2264 50"]
    # Over the bands (which stay whole) and under the median, which they must not hide.
    lines = [line for line in ax.get_lines() if line.get_gid() == sim.plots.GID_THRESHOLD]
    assert all(line.get_zorder() < medians(ax)[0].get_zorder() for line in lines)
    assert legend_texts(ax)[0] == "Median"


def test_thresholds_only_where_they_apply_and_only_when_given() -> None:
    assert thresholds_on(fan_chart(make_timeseries(n_runs=5), "relations_index")) == {}
    assert thresholds_on(fan_chart(make_timeseries(n_runs=5), "kr_favorability", thresholds=THRESHOLDS)) == {}
    ax = fan_chart(make_timeseries(n_runs=5), "institutionalization", thresholds=THRESHOLDS)
    assert thresholds_on(ax) == {"durable \u2265 0.35": 0.35}
    assert threshold_labels(ax) == ["durable \u2265 0.35"]


def test_a_second_fan_on_the_same_axes_does_not_draw_the_thresholds_twice() -> None:
    ax = fan_chart(make_timeseries(n_runs=5), "relations_index", thresholds=THRESHOLDS)
    fan_chart(make_timeseries(n_runs=5, offset=1.0), "relations_index", ax=ax, thresholds=THRESHOLDS)
    assert len(thresholds_on(ax)) == 2 and len(threshold_labels(ax)) == 2


def test_institutionalisation_is_a_key_outcome() -> None:
    assert "institutionalization" in KEY_OUTCOMES
    assert len(set(KEY_OUTCOMES)) == len(KEY_OUTCOMES)


@pytest.mark.parametrize("outcome", ["relations_index", "institutionalization", "kr_favorability"])
def test_tight_fan_range_holds_what_is_drawn_and_is_narrower_than_the_full_range(outcome: str) -> None:
    info = OUTCOMES[outcome]
    ax = fan_chart(clustered_timeseries(), outcome, thresholds=THRESHOLDS)
    low, high = ax.get_ylim()
    drawn = np.concatenate(
        [np.asarray(m.get_ydata(), dtype=float) for m in medians(ax)]
        + [band_y(b) for gid in (GID_BAND_50, GID_BAND_90) for b in bands(ax, gid)]
        + [np.array(list(thresholds_on(ax).values()))]
    )
    assert low <= drawn.min() and drawn.max() <= high
    assert info.low <= low and high <= info.high
    assert high - low < 0.6 * (info.high - info.low)
    full = fan_chart(clustered_timeseries(), outcome, thresholds=THRESHOLDS, full_range=True)
    assert full.get_ylim() == (info.low, info.high)


def test_tight_range_never_cuts_a_threshold_far_from_the_data() -> None:
    frame = clustered_timeseries()
    frame["relations_index"] = 80.0 + frame["run"] / 10.0  # 80-82, far above both thresholds
    ax = fan_chart(frame, "relations_index", thresholds=THRESHOLDS)
    low, high = ax.get_ylim()
    assert low < 50.0 and high > 82.0 and high <= 100.0
    # without the thresholds the axis closes in on the runs
    assert fan_chart(frame, "relations_index").get_ylim()[0] > 70.0


def test_observed_polls_stay_inside_a_tight_range() -> None:
    polls = [sim.plots.PollMark(pd.Timestamp("2024-06-15"), 12.0, "genron_npo_eai_joint_poll", True)]
    ax = fan_chart(clustered_timeseries(), "kr_favorability", history={"kr_favorability": polls})
    assert ax.get_ylim()[0] <= 12.0


def test_horizon_distribution_thresholds_and_tight_range() -> None:
    runs = make_runs({OutcomeClass.FRAGILE_THAW: 101})
    runs["window_relations_index"] = 55.0 + np.arange(101) / 10.0  # 55-65
    ax = sim.plots.horizon_distribution(runs, "window_relations_index", thresholds=THRESHOLDS)
    assert thresholds_on(ax) == {"relapse \u2264 50": 50.0, "durable \u2265 65": 65.0}
    low, high = ax.get_xlim()
    assert low < 50.0 and high > np.percentile(runs["window_relations_index"], 95) and high - low < 60.0
    wide = sim.plots.horizon_distribution(runs, "window_relations_index", thresholds=THRESHOLDS, full_range=True)
    assert wide.get_xlim() == (0.0, 100.0)
    runs["final_institutionalization"] = 0.2 + np.arange(101) / 1000.0
    ax = sim.plots.horizon_distribution(runs, "institutionalization", thresholds=THRESHOLDS)
    assert thresholds_on(ax) == {"durable \u2265 0.35": 0.35}
    assert ax.get_xlim()[1] > 0.35
    for figure in (ax, wide):
        figure.get_figure(root=True).clear()


def test_overview_has_every_key_fan_with_its_thresholds_and_no_extra_row() -> None:
    timeseries = make_timeseries(n_runs=11, n_months=12)
    runs = make_runs({OutcomeClass.DURABLE_RAPPROCHEMENT: 6, OutcomeClass.FRAGILE_THAW: 5})
    fig = sim.plots.batch_overview(timeseries, runs, [], thresholds=THRESHOLDS)
    by_title = {ax.get_title(): ax for ax in fig.axes}
    assert {OUTCOMES[o].label for o in KEY_OUTCOMES} <= set(by_title)
    assert set(thresholds_on(by_title["Relations index"])) == {"relapse \u2264 50", "durable \u2265 65"}
    assert set(thresholds_on(by_title["Institutionalisation"])) == {"durable \u2265 0.35"}
    # Seven fans leave two cells of their last row free: the class shares and the legend take them.
    rows = {ax.get_subplotspec().rowspan.start for ax in fig.axes}
    assert len(rows) == -(-len(KEY_OUTCOMES) // 3) + (0 if -len(KEY_OUTCOMES) % 3 >= 2 else 1)
    fig.clear()


def class_map_runs() -> pd.DataFrame:
    """Runs in every region of the class map, classified as sim.model.classify would."""
    index = np.array([30.0, 45.0, 50.0, 55.0, 60.0, 64.9, 65.0, 70.0, 72.0, 80.0, 66.0, 68.0])
    institutions = np.array([0.1, 0.2, 0.4, 0.3, 0.5, 0.4, 0.35, 0.2, 0.3, 0.6, 0.4, 0.1])
    classes = np.where(
        index <= 50.0,
        OutcomeClass.RELAPSE.value,
        np.where((index >= 65.0) & (institutions >= 0.35), "durable_rapprochement", "fragile_thaw"),
    )
    runs = make_runs({OutcomeClass.FRAGILE_THAW: len(index)})
    return runs.assign(
        window_relations_index=index, final_institutionalization=institutions, outcome_class=classes
    )


def test_class_map_draws_the_three_thresholds_and_one_colour_per_class() -> None:
    runs = class_map_runs()
    ax = sim.plots.class_map(runs, THRESHOLDS)
    assert thresholds_on(ax) == {"relapse \u2264 50": 50.0, "durable \u2265 65": 65.0, "durable \u2265 0.35": 0.35}
    assert threshold_labels(ax) == ["durable \u2265 0.35", "durable \u2265 65", "relapse \u2264 50"]
    points = [c for c in ax.collections if c.get_gid() == sim.plots.GID_CLASS_POINTS]
    colours = {to_hex(c.get_facecolor()[0], keep_alpha=False) for c in points if len(c.get_offsets())}
    assert colours == {sim.plots.CLASS_COLORS[cls].lower() for cls in OutcomeClass}
    # each run is drawn once, at its (index, institutionalisation), in its class's colour
    for c in points:
        offsets = np.asarray(c.get_offsets())
        cls = next(
            k for k in OutcomeClass if str(c.get_label()).startswith(k.value.replace("_", " ").capitalize())
        )
        expected = runs[runs["outcome_class"] == cls.value]
        assert len(offsets) == len(expected)
        np.testing.assert_allclose(offsets[:, 0], expected["window_relations_index"])
    texts = legend_texts(ax)
    assert "Durable rapprochement: 3 (25.0 %)" in texts and "Fragile thaw: 6 (50.0 %)" in texts
    regions = " ".join(t.get_text() for t in ax.texts if t.get_gid() == sim.plots.GID_CLASS_REGION_TEXT)
    assert "index reached,\ninstitutions not: 3 runs" in regions
    low, high = ax.get_ylim()
    assert low <= 0.1 and high >= 0.6
    ax.get_figure(root=True).clear()


def test_class_map_draws_densities_for_many_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.plots, "_DENSE_RUNS", 5)
    ax = sim.plots.class_map(class_map_runs(), THRESHOLDS)
    dense = [c for c in ax.collections if c.get_gid() == sim.plots.GID_CLASS_POINTS]
    assert len(dense) == 3 and all(isinstance(c, PolyCollection) for c in dense)
    assert len(thresholds_on(ax)) == 3
    ax.get_figure(root=True).clear()


def test_class_map_refuses_incomplete_input() -> None:
    runs = class_map_runs()
    with pytest.raises(KeyError):
        sim.plots.class_map(runs.drop(columns="final_institutionalization"), THRESHOLDS)
    with pytest.raises(KeyError):
        sim.plots.class_map(runs, {"durable_min_index": 65.0})
    with pytest.raises(ValueError):
        sim.plots.class_map(runs.assign(outcome_class="unknown"), THRESHOLDS)
