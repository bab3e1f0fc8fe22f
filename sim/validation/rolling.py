"""Forecast skill by rolling origin: fit on the poll years up to each origin, forecast the later years, score.

For every origin year ``o`` the calibration (ABC-SMC, or the least-squares fit for speed) sees only the poll
values of years ``<= o``; its posterior-predictive distribution (:func:`sim.validation.abc.posterior_predictive`)
then forecasts every later observed value. Each forecast is set beside three naive forecasts made from the same
training values of its series and segment (persistence, the training years' linear trend, the training mean:
:func:`sim.validation.backtest.add_naive_forecasts`), and the model's 90 % predictive interval is checked for
whether it holds the observed value. Skill is ``1 - RMSE_model / RMSE_naive``, by origin and series, and by
horizon (years after the origin) over all origins.

The split is by construction free of leakage: the fit's distance reads only training points (a test that
perturbs a later poll value checks the fit does not move), and the judgement each fit starts from is the prior
of :data:`sim.validation.calibrate.DEFAULT_PARAMETERS`, fixed before any fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.executors import Executor
from sim.plots import OKABE_ITO
from sim.scenario import Scenario
from sim.validation.abc import AbcSettings, posterior_predictive, run_abc
from sim.validation.backtest import NAIVE_FORECASTS, add_naive_forecasts
from sim.validation.calibrate import CalibrationSettings, Parameter, calibrate, check_train_until
from sim.validation.observe import INSTRUMENTS, rmse
from sim.validation.simulate import covered_points

#: The default origins (the 2020 polls are skipped as an origin: a one-year-old series
#: break and the pandemic make it a poor place to start a forecast, and 2021 tests the post-break years).
DEFAULT_ORIGINS = (2015, 2016, 2017, 2018, 2019, 2021)


@dataclass(frozen=True)
class RollingResult:
    """Per test point (``points``), skill by origin and series, skill by horizon, and interval coverage."""

    points: pd.DataFrame
    by_origin: pd.DataFrame
    by_horizon: pd.DataFrame


def fit_origin(
    scenario: Scenario,
    polls: pd.DataFrame,
    parameters: Sequence[Parameter],
    origin: int,
    method: str,
    abc: AbcSettings,
    executor: Executor,
    work: Path,
    progress: Callable[[str], None] = print,
) -> pd.DataFrame:
    """The posterior (weighted particles, one column per path) fitted on the poll years up to ``origin``.

    ``lsq`` gives a one-particle "posterior" at the penalised least-squares values: its predictive interval
    then holds the model's randomness and the polls' noise, not parameter uncertainty.
    """
    check_train_until(polls, origin, "--origins")
    if method == "abc":
        result = run_abc(
            scenario, polls, parameters, replace(abc, train_until=origin), executor, work, progress=progress
        )
        return result.posterior
    settings = CalibrationSettings(
        train_until=origin, root_seed=abc.seed, citizens=abc.citizens, discrepancy_pp=abc.discrepancy_pp
    )
    cal = calibrate(
        scenario, polls, parameters, settings, executor, start={p.path: float(p.start or 0.0) for p in parameters}
    )
    frame = pd.DataFrame([{p.path: cal.values[p.path] for p in parameters}])
    frame["weight"] = 1.0
    return frame


def rolling_origin(
    scenario: Scenario,
    polls: pd.DataFrame,
    parameters: Sequence[Parameter],
    origins: Sequence[int],
    executor: Executor,
    work: Path,
    *,
    method: str = "abc",
    abc: AbcSettings | None = None,
    draws: int = 200,
    progress: Callable[[str], None] = print,
) -> RollingResult:
    """Fit at every origin, forecast the later observed years, and score them (module docstring); ``abc``: the
    fit's settings (the defaults of :class:`AbcSettings` when None)."""
    abc = abc or AbcSettings()
    points = covered_points(polls, scenario)
    frames = []
    for origin in origins:
        progress(f"origin {origin}: fitting on the polls up to {origin} ({method})")
        posterior = fit_origin(
            scenario, polls, parameters, origin, method, abc, executor, work / f"origin{origin}", progress
        )
        train = np.array([p.year <= origin for p in points])
        paths = [p.path for p in parameters]
        ppc = posterior_predictive(scenario, points, posterior, paths, executor, abc, draws=draws, train=train)
        ppc["split"] = np.where(ppc["observed"].isna(), "projection", np.where(train, "train", "test"))
        ppc = add_naive_forecasts(ppc)
        ppc.insert(0, "origin", origin)
        frames.append(ppc[ppc["split"] == "test"])
    scored = pd.concat(frames, ignore_index=True)
    scored["horizon"] = scored["year"] - scored["origin"]
    scored["in_interval"] = (scored["observed"] >= scored["p5"]) & (scored["observed"] <= scored["p95"])
    scored["has_naive"] = scored["persistence"].notna()
    return RollingResult(scored, _skill(scored, "origin"), _skill(scored, "horizon"))


def _skill(scored: pd.DataFrame, by: str) -> pd.DataFrame:
    """Skill against each naive forecast and interval coverage, per ``by`` and series and over all series."""
    rows = []
    usable = scored[scored["has_naive"]]
    for key, group in usable.groupby(by):
        for series in [*INSTRUMENTS, "all"]:
            part = group if series == "all" else group[group["series"] == series]
            if part.empty:
                continue
            model = rmse(part["median"] - part["observed"])
            row: dict[str, object] = {by: key, "series": series, "points": len(part), "rmse_model": model}
            for name in NAIVE_FORECASTS:
                naive = rmse(part[name] - part["observed"])
                row[f"rmse_{name}"] = naive
                row[f"skill_vs_{name}"] = 1.0 - model / naive if naive > 0 else float("nan")
            row["coverage_90"] = float(part["in_interval"].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def skill_figure(result: RollingResult) -> Figure:
    """Skill against persistence by origin (per series) and by horizon (all series), with coverage."""
    figure = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    left, right = figure.subplots(1, 2)
    data = result.by_origin
    for i, series in enumerate([*INSTRUMENTS, "all"]):
        rows = data[data["series"] == series]
        if rows.empty:
            continue
        style = (
            {"color": "black", "linewidth": 2.5} if series == "all" else {"color": OKABE_ITO[i], "linewidth": 1.5}
        )
        left.plot(rows["origin"], rows["skill_vs_persistence"], marker="o", label=series, **style)
    left.axhline(0, color="0.5", linewidth=1)
    left.axhline(0.3, color="0.5", linewidth=1, linestyle=":")
    left.set_xlabel("origin (last poll year the fit sees)")
    left.set_ylabel("skill vs persistence (1 - RMSE ratio)")
    left.set_title("Skill by origin", fontsize=10)
    left.legend(fontsize=7, frameon=False)
    overall = result.by_horizon[result.by_horizon["series"] == "all"]
    for j, name in enumerate(("persistence", "trend", "mean")):
        right.plot(
            overall["horizon"], overall[f"skill_vs_{name}"], marker="o", color=OKABE_ITO[j + 4], label=f"vs {name}"
        )
    right.axhline(0, color="0.5", linewidth=1)
    right.set_xlabel("horizon (years after the origin)")
    right.set_ylabel("skill, all series pooled")
    cover = right.twinx()
    cover.bar(overall["horizon"], overall["coverage_90"], alpha=0.15, color="0.3", label="90 % interval coverage")
    cover.axhline(0.9, color="0.3", linewidth=0.8, linestyle="--")
    cover.set_ylim(0, 1.5)
    cover.set_ylabel("coverage of the 90 % interval (bars)")
    right.set_title("Skill and coverage by horizon", fontsize=10)
    right.legend(fontsize=7, frameon=False, loc="lower left")
    for ax in (left, right):
        ax.grid(True, axis="y", color="0.9")
    return figure
