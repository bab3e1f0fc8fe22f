"""Backtest: many runs of the historical scenario, read by the poll instruments, beside the observed polls.

Per series and year the simulated median and 5-95 % band across runs are set next to the observed value
(``fit.csv``); per series and split the RMSE of the median, its mean error (bias), the share of observed values
inside the band (coverage) and the share of year-on-year directions the median gets right (``metrics.csv``).
With a split year the errors of training years (at or before it) and test years (after it) are reported apart,
so an out-of-sample check inside the calibration data is one command. Years without a poll value get simulated
readings too (fieldwork as the instrument usually runs): they are the model's projection of the held-out years.

Directions are counted over consecutive observed years of one comparable segment: a change across the Cabinet
Office's 2020 mode break mixes the mode effect into the observed change, so it is not scored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.executors import Executor
from sim.plots import OKABE_ITO, EventMarker, draw_events
from sim.scenario import EventKind, Scenario, add_months
from sim.validation.observe import INSTRUMENTS, ObservationSettings, PollPoint, rmse
from sim.validation.simulate import covered_points, run_polls

#: Injects marked on the backtest figures: the turning points of the record (the rest would crowd the labels).
KEY_EVENT_KINDS = frozenset(
    {
        EventKind.SHRINE_VISIT,
        EventKind.HISTORY_AGREEMENT,
        EventKind.COURT_RULING,
        EventKind.EXPORT_CONTROLS,
        EventKind.GSOMIA_TERMINATION_NOTICE,
        EventKind.PANDEMIC,
        EventKind.COMPENSATION_PLAN,
        EventKind.TRILATERAL_SUMMIT,
        EventKind.LEADERSHIP_CHANGE,
    }
)

SERIES_TITLES = {
    "jp_affinity_to_kr": "Japanese who feel affinity toward South Korea (Cabinet Office)",
    "kr_good_impression_of_jp": "Koreans with a good impression of Japan (Genron NPO / EAI)",
    "jp_good_impression_of_kr": "Japanese with a good impression of Korea (Genron NPO / EAI)",
}


#: The naive forecasts every out-of-sample score is set beside.
NAIVE_FORECASTS = ("persistence", "trend", "mean")


@dataclass(frozen=True)
class Backtest:
    """The backtest's tables: per point (``fit``), per series and split (``metrics``), per run (``runs``) and,
    with a split year, the model's out-of-sample error beside the naive forecasts' (``skill``)."""

    fit: pd.DataFrame
    metrics: pd.DataFrame
    runs: pd.DataFrame
    skill: pd.DataFrame


def split_of(year: int, observed: float | None, train_until: int | None) -> str:
    """``train``/``test`` around the split year, ``in_sample`` without one; ``projection`` where nothing was
    observed."""
    if observed is None or np.isnan(observed):
        return "projection"
    if train_until is None:
        return "in_sample"
    return "train" if year <= train_until else "test"


def run_backtest(
    scenario: Scenario,
    polls: pd.DataFrame,
    runs: int,
    root_seed: int,
    executor: Executor,
    values: Mapping[str, float],
    train_until: int | None = None,
) -> Backtest:
    """Run ``runs`` replications with ``values`` applied (model parameters and ``observe.*``) and compare.

    ``values`` are usually a calibration's (``calibrated.yaml``, or a fit on the training years).
    """
    model_values = {k: v for k, v in values.items() if not k.startswith("observe.")}
    settings = ObservationSettings().with_values(values)
    points = covered_points(polls, scenario)
    results = run_polls(scenario.with_values(model_values), points, runs, root_seed, executor, settings)
    matrix = np.array([run.values for run in results], dtype=float)  # runs x points
    p5, median, p95 = np.quantile(matrix, [0.05, 0.5, 0.95], axis=0)
    observed = np.array([np.nan if p.observed is None else p.observed for p in points])
    fit = pd.DataFrame(
        {
            "series": [p.series for p in points],
            "instrument": [p.instrument.instrument for p in points],
            "year": [p.year for p in points],
            "fieldwork": [fieldwork_text(p) for p in points],
            "segment": [p.segment for p in points],
            "observed": observed,
            "median": median,
            "p5": p5,
            "p95": p95,
            "in_band": pd.array(
                [
                    None if np.isnan(o) else bool(lo <= o <= hi)
                    for o, lo, hi in zip(observed, p5, p95, strict=True)
                ],
                dtype="boolean",
            ),
            "split": [split_of(p.year, p.observed, train_until) for p in points],
            "source": [p.source for p in points],
        }
    )
    long = pd.DataFrame(
        {
            "replication": np.repeat([run.replication for run in results], len(points)),
            "series": np.tile([p.series for p in points], len(results)),
            "year": np.tile([p.year for p in points], len(results)),
            "value": matrix.ravel(),
        }
    )
    fit = add_naive_forecasts(fit)
    return Backtest(fit, fit_metrics(fit), long, skill_table(fit))


def add_naive_forecasts(fit: pd.DataFrame) -> pd.DataFrame:
    """The fit table with each test point's naive forecasts from the training points of its series and segment:
    ``persistence`` (the last training value carried forward), ``trend`` (the least-squares line through the
    training years, extended; persistence with fewer than two) and ``mean`` (the training mean).

    A test point whose segment (a series break) no training point lies in gets none: neither the naive
    forecasts nor the model's offset for that segment know its level, so it is not scored for skill.
    """
    fit = fit.copy()
    for name in NAIVE_FORECASTS:
        fit[name] = np.nan
    train = fit[fit["split"] == "train"]
    for index, point in fit[fit["split"] == "test"].iterrows():
        history = train[(train["series"] == point["series"]) & (train["segment"] == point["segment"])]
        if history.empty:
            continue
        history = history.sort_values("year")
        years, values = history["year"].to_numpy(float), history["observed"].to_numpy(float)
        fit.loc[index, "persistence"] = values[-1]
        fit.loc[index, "mean"] = values.mean()
        if len(history) >= 2:
            slope, intercept = np.polyfit(years, values, 1)
            fit.loc[index, "trend"] = intercept + slope * float(point["year"])
        else:
            fit.loc[index, "trend"] = values[-1]
    return fit


def skill_table(fit: pd.DataFrame) -> pd.DataFrame:
    """Out-of-sample error of the model's median and of each naive forecast, per series and over all series, on
    the test points that have naive forecasts (``add_naive_forecasts``); skill is ``1 - RMSE_model /
    RMSE_naive`` (positive: the model beats that naive forecast)."""
    scored = fit[(fit["split"] == "test") & fit["persistence"].notna()]
    rows = []
    for series in [*INSTRUMENTS, "all"]:
        group = scored if series == "all" else scored[scored["series"] == series]
        if group.empty:
            continue
        model = rmse(group["median"] - group["observed"])
        naive = {name: rmse(group[name] - group["observed"]) for name in NAIVE_FORECASTS}
        row: dict[str, object] = {
            "series": series,
            "points": len(group),
            "years": f"{int(group['year'].min())}-{int(group['year'].max())}",
            "rmse_model": model,
        }
        row |= {f"rmse_{name}": value for name, value in naive.items()}
        row |= {
            f"skill_vs_{name}": 1.0 - model / value if value > 0 else float("nan") for name, value in naive.items()
        }
        rows.append(row)
    return pd.DataFrame(rows)


def fieldwork_text(point: PollPoint) -> str:
    """A point's fieldwork months as text (``2019-05..2019-06``)."""
    (y0, m0), (y1, m1) = point.fieldwork[0], point.fieldwork[-1]
    return f"{y0}-{m0:02d}" if (y0, m0) == (y1, m1) else f"{y0}-{m0:02d}..{y1}-{m1:02d}"


def fit_metrics(fit: pd.DataFrame) -> pd.DataFrame:
    """Per series and split (and over all series): points, RMSE and bias of the median, coverage, directions."""
    scored = fit[fit["split"] != "projection"]
    rows = []
    for split in sorted(scored["split"].unique()):
        part = scored[scored["split"] == split]
        for series in [*INSTRUMENTS, "all"]:
            group = part if series == "all" else part[part["series"] == series]
            if not len(group):
                continue
            error = group["median"] - group["observed"]
            right, pairs = _directions(fit, group)
            rows.append(
                {
                    "series": series,
                    "split": split,
                    "points": len(group),
                    "rmse": float(np.sqrt(np.mean(error**2))),
                    "bias": float(error.mean()),
                    "coverage": float(group["in_band"].astype(float).mean()),
                    "direction_pairs": pairs,
                    "direction_share": right / pairs if pairs else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def _directions(fit: pd.DataFrame, group: pd.DataFrame) -> tuple[int, int]:
    """Year-on-year changes of ``group``'s points (each against the previous observed year of its series and
    segment, which may lie in another split) whose sign the median gets right, and how many were scored."""
    right = pairs = 0
    for point in group.itertuples(index=False):
        previous = fit[
            (fit["series"] == point.series)
            & (fit["year"] == int(str(point.year)) - 1)
            & (fit["segment"] == point.segment)
            & fit["observed"].notna()
        ]
        if not len(previous):
            continue
        before = previous.iloc[0]
        observed_change = point.observed - before["observed"]
        simulated_change = point.median - before["median"]
        if observed_change == 0:
            continue
        pairs += 1
        right += int(np.sign(observed_change) == np.sign(simulated_change))
    return right, pairs


def _mid_date(fieldwork: str) -> dt.date:
    first, _, last = fieldwork.partition("..")
    a = dt.date.fromisoformat(f"{first}-01")
    b = dt.date.fromisoformat(f"{last or first}-01")
    return a + (b - a) / 2 + dt.timedelta(days=14)


def _num(date: dt.date | pd.Timestamp) -> float:
    """A date as Matplotlib's float date (what the axes of dated plots take)."""
    return float(mdates.date2num(pd.Timestamp(date).to_pydatetime()))


def series_figure(
    fit: pd.DataFrame,
    series: str,
    *,
    events: Sequence[EventMarker] = (),
    train_until: int | None = None,
    ax: Axes | None = None,
    band: str = "simulated 5-95 %",
) -> Axes:
    """One series: the simulated 5-95 % band and median at each year's fieldwork, the observed values, events.

    The training/test boundary is drawn when ``train_until`` is given, and a mode break as a shaded segment.
    """
    if ax is None:
        ax = Figure(figsize=(8.5, 4.2), dpi=110, layout="constrained").add_subplot()
    rows = fit[fit["series"] == series].sort_values("year")
    if rows.empty:
        raise KeyError(f"no rows of series {series!r} in the fit table")
    x = np.array([_mid_date(f) for f in rows["fieldwork"]])
    color = OKABE_ITO[0]
    ax.fill_between(x, rows["p5"], rows["p95"], color=color, alpha=0.2, linewidth=0, label=band)
    ax.plot(x, rows["median"], color=color, linewidth=2, marker="o", markersize=3, label="simulated median")
    seen = rows["observed"].notna().to_numpy()
    ax.plot(x[seen], rows["observed"][seen], "o", color="black", markersize=5, label="observed", zorder=4)
    instrument = INSTRUMENTS[series]
    if instrument.mode_break_year is not None:
        ax.axvspan(
            _num(dt.date(instrument.mode_break_year, 1, 1)),
            _num(x.max() + dt.timedelta(days=60)),
            color="0.9",
            zorder=0,
            label=f"new mode from {instrument.mode_break_year} (offset)",
        )
    if train_until is not None:
        ax.axvline(
            _num(dt.date(train_until + 1, 1, 1)),
            color=OKABE_ITO[3],
            linewidth=1.5,
            label=f"fit up to {train_until}",
        )
    start, end = pd.Timestamp(x.min()) - pd.Timedelta(days=200), pd.Timestamp(x.max()) + pd.Timedelta(days=60)
    draw_events(ax, events, start, end)
    ax.set_xlim(_num(start), _num(end))
    ax.set_ylim(0, max(70.0, float(np.nanmax(rows[["p95", "observed"]].to_numpy())) + 5))
    ax.set_title(SERIES_TITLES.get(series, series), fontsize=10)
    ax.set_ylabel("% of respondents")
    locator = mdates.YearLocator(2)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(True, axis="y", color="0.9")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.text(
        0.0,
        -0.12,
        "Observed: sim/data/polls_calibration.csv (source cited per row); events: the scenario's dated record.",
        transform=ax.transAxes,
        fontsize=6.5,
        color="0.35",
    )
    return ax


def save_figures(
    fit: pd.DataFrame,
    folder: Path,
    *,
    events: Sequence[EventMarker] = (),
    train_until: int | None = None,
    band: str = "simulated 5-95 %",
    prefix: str = "",
) -> list[Path]:
    """Write one PNG per series into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for series in INSTRUMENTS:
        if not (fit["series"] == series).any():
            continue
        figure = Figure(figsize=(8.5, 4.2), dpi=110, layout="constrained")
        series_figure(fit, series, events=events, train_until=train_until, ax=figure.add_subplot(), band=band)
        path = folder / f"{prefix}{series}.png"
        figure.savefig(path)
        paths.append(path)
    return paths


def key_events(scenario: Scenario) -> list[EventMarker]:
    """The scenario's injects of the kinds in ``KEY_EVENT_KINDS``, as plot markers; of the court rulings only the
    final ones (magnitude 1 or more: the record's lower-court rulings would crowd the labels)."""
    return [
        EventMarker(
            pd.Timestamp(add_months(e.date[:7], 0)), e.leader or e.kind.value.replace("_", " "), e.kind.value
        )
        for e in scenario.events
        if e.kind in KEY_EVENT_KINDS and not (e.kind is EventKind.COURT_RULING and e.magnitude < 1.0)
    ]
