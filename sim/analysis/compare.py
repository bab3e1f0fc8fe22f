"""Scenario comparisons: paired differences on common random numbers, Welch differences otherwise.

Replication ``r`` of every batch run with the same root seed draws the same random numbers wherever the
scenarios do not differ (``sim.runner``), so the difference between two scenarios' runs with the same
replication index (and, in sweeps, the same design point) is the effect of the scenario, with much of the
run-to-run noise cancelled. The paired estimate is the mean of those per-replication differences, with a
Student t interval on their spread (the paired t interval). Results that were not run on common random numbers
(different root seeds, replication counts or designs) cannot be paired; they are compared unpaired, with
Welch's t interval for a difference of means (Welch 1947), which is honest but wider.

Outcome-class probabilities are differences of proportions, where t intervals misbehave near 0 and 1 (they
leave [-1, 1], or shrink to nothing when no run relapses). Their intervals are Newcombe's hybrid score intervals
built from Wilson intervals: for paired data with the correlation correction of Newcombe (1998b, method 10),
for independent samples without it (Newcombe 1998a, method 10). The point estimate is still the mean of the
per-replication differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.common import AnalysisError, metric_names, metric_values, ok_runs
from sim.analysis.formats import decimals_for, difference_unit, estimate
from sim.outcomes import OutcomeClass
from sim.plots import metric_text, wilson_interval
from sim.results import Batch

__all__ = [
    "CONFIDENCE",
    "Comparison",
    "class_probabilities",
    "compare",
    "headline_lines",
    "newcombe_difference",
    "pair_keys",
    "paired_difference",
    "pairing_problem",
    "timeseries_difference",
    "welch_difference",
]

#: Confidence level of every interval in a comparison.
CONFIDENCE = 0.95


def pair_keys(runs: pd.DataFrame) -> list[str]:
    """The columns that identify a run across batches: the replication, and in sweeps the design point."""
    return [column for column in ("design_point", "replication") if column in runs.columns]


def pairing_problem(reference: Batch, other: Batch) -> str | None:
    """Why two batches cannot be paired on common random numbers, or None if they can.

    Replication ``r`` is seeded from the root seed and ``r`` alone (``sim.runner.run_seeds``), so batches with
    the same root seed and design (for sweeps: kind, seed, factors and points) pair on the keys they have in
    common, whatever their number of runs: 50 runs pair with the first 50 of 200. The ``seed`` each run recorded
    must then agree on every common key; if it does not, the same key does not mean the same draws and pairing
    is refused with the first key that differs. Runs that failed in either batch simply drop out of the pairs.
    """
    a, b = reference.manifest, other.manifest
    if a.get("root_seed") != b.get("root_seed"):
        return f"their root seeds differ ({a.get('root_seed')} and {b.get('root_seed')})"
    design_a = (a.get("identity") or {}).get("design")
    design_b = (b.get("identity") or {}).get("design")
    if design_a != design_b:
        return "they are not runs of the same design (one is a sweep, or the sweeps differ)"
    keys = pair_keys(reference.runs)
    if not keys or keys != pair_keys(other.runs):
        return "their runs are not keyed the same way (replication and design point)"
    columns = [*keys, "seed"] if {"seed"} <= set(reference.runs.columns) & set(other.runs.columns) else keys
    common = reference.runs[columns].merge(other.runs[columns], on=keys, suffixes=("_a", "_b"))
    if common.empty:
        return "they have no replication in common"
    if "seed" in columns:
        differ = common[common["seed_a"] != common["seed_b"]]
        if len(differ):
            first = differ.sort_values(keys).iloc[0]
            where = ", ".join(f"{key} {int(first[key])}" for key in keys)
            return (
                f"the same key was run on different seeds ({where}: {first['seed_a']} and {first['seed_b']}), "
                "so its runs do not share their random draws"
            )
    return None


def _t_interval(mean: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    if not np.isfinite(df) or df <= 0:
        return float("nan"), float("nan")
    if se == 0.0:
        return mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * se
    return mean - half, mean + half


def paired_difference(
    reference: pd.Series, other: pd.Series, *, confidence: float = CONFIDENCE
) -> dict[str, float]:
    """Mean of the per-key differences ``other - reference`` and its paired t interval.

    Both series are indexed by the pairing key (replication, or design point and replication); only keys
    present in both count. Returns ``difference``, ``ci_low``, ``ci_high``, ``sd_difference``, ``n`` and the two
    means over the paired keys. With fewer than two pairs the interval is NaN.
    """
    joined = pd.concat({"a": reference, "b": other}, axis=1, join="inner").dropna()
    d = (joined["b"] - joined["a"]).to_numpy(dtype=np.float64)
    n = len(d)
    if n == 0:
        raise AnalysisError("no replication is common to both batches, so nothing can be paired")
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else float("nan")
    low, high = _t_interval(mean, sd / np.sqrt(n) if n > 1 else float("nan"), n - 1, confidence)
    return {
        "difference": mean,
        "ci_low": low,
        "ci_high": high,
        "sd_difference": sd,
        "n": float(n),
        "mean_reference": float(joined["a"].mean()),
        "mean_scenario": float(joined["b"].mean()),
    }


def welch_difference(
    reference: pd.Series, other: pd.Series, *, confidence: float = CONFIDENCE
) -> dict[str, float]:
    """Difference of means ``other - reference`` of independent samples, with Welch's t interval.

    The degrees of freedom are Welch-Satterthwaite's. Returns the same fields as :func:`paired_difference`
    (``sd_difference`` is NaN: there are no per-run differences; ``n`` is the smaller sample size).
    """
    a = reference.dropna().to_numpy(dtype=np.float64)
    b = other.dropna().to_numpy(dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise AnalysisError("a batch without finished runs cannot be compared")
    mean = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        low = high = float("nan")
    else:
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = float(np.sqrt(va + vb))
        if se == 0.0:
            low, high = mean, mean
        else:
            df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
            low, high = _t_interval(mean, se, float(df), confidence)
    return {
        "difference": mean,
        "ci_low": low,
        "ci_high": high,
        "sd_difference": float("nan"),
        "n": float(min(len(a), len(b))),
        "mean_reference": float(a.mean()),
        "mean_scenario": float(b.mean()),
    }


def _wilson_z(k: int, n: int, confidence: float) -> tuple[float, float]:
    return wilson_interval(k, n, z=float(stats.norm.ppf(0.5 + confidence / 2.0)))


def newcombe_difference(
    reference: pd.Series, other: pd.Series, *, paired: bool, confidence: float = CONFIDENCE
) -> dict[str, float]:
    """Difference of two proportions ``other - reference`` (0/1 values) with Newcombe's score interval.

    Paired (series indexed by the pairing key, inner-joined): Newcombe 1998b, method 10, which corrects the
    combination of the two Wilson intervals by the correlation of the pairs. Independent: Newcombe 1998a,
    method 10 (the same without the correction). The interval stays inside [-1, 1] and has width even when
    both proportions are 0 or 1. Returns the fields of :func:`paired_difference`.
    """
    if paired:
        joined = pd.concat({"a": reference, "b": other}, axis=1, join="inner").dropna()
        x, y = joined["a"].to_numpy() > 0.5, joined["b"].to_numpy() > 0.5
        if len(x) == 0:
            raise AnalysisError("no replication is common to both batches, so nothing can be paired")
    else:
        x, y = reference.dropna().to_numpy() > 0.5, other.dropna().to_numpy() > 0.5
        if len(x) == 0 or len(y) == 0:
            raise AnalysisError("a batch without finished runs cannot be compared")
    p1, p2 = float(y.mean()), float(x.mean())
    l1, u1 = _wilson_z(int(y.sum()), len(y), confidence)
    l2, u2 = _wilson_z(int(x.sum()), len(x), confidence)
    phi = 0.0
    if paired:
        n = len(x)
        a, b = int((y & x).sum()), int((y & ~x).sum())
        c, d = int((~y & x).sum()), int((~y & ~x).sum())
        product = float(a + b) * (c + d) * (a + c) * (b + d)
        if product > 0:
            cross = a * d - b * c
            # Newcombe's continuity correction of the phi coefficient for positive association.
            phi = (max(cross - n / 2.0, 0.0) if cross > 0 else cross) / np.sqrt(product)
    theta = p1 - p2
    low = theta - np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    high = theta + np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    d_sd = float(np.std(y.astype(float) - x.astype(float), ddof=1)) if paired and len(x) > 1 else float("nan")
    return {
        "difference": theta,
        "ci_low": float(max(low, -1.0)),
        "ci_high": float(min(high, 1.0)),
        "sd_difference": d_sd,
        "n": float(len(x) if paired else min(len(x), len(y))),
        "mean_reference": p2,
        "mean_scenario": p1,
    }


@dataclass(frozen=True)
class Comparison:
    """Scenarios compared with the first (the reference).

    ``differences`` has one row per (scenario, metric): ``reference``, ``scenario``, ``metric``, ``label``,
    ``unit``, ``paired``, ``method``, ``n``, ``mean_reference``, ``mean_scenario``, ``difference``, ``ci_low``,
    ``ci_high``, ``sd_difference``, ``confidence``. ``unpaired`` maps each scenario that could not be paired to
    the reason.
    """

    labels: tuple[str, ...]
    differences: pd.DataFrame
    unpaired: dict[str, str] = field(default_factory=dict)


def compare(
    batches: list[Batch],
    labels: list[str],
    *,
    metrics: list[str] | None = None,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Differences of every scenario from the first, per metric: paired where possible, Welch otherwise.

    ``metrics`` defaults to every metric (``sim.analysis.common.metric_names``).
    """
    if len(batches) < 2 or len(batches) != len(labels):
        raise AnalysisError("expected at least two results folders to compare, each with a label")
    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"confidence: expected a number between 0 and 1, got {confidence}")
    metrics = metric_names() if metrics is None else metrics
    reference, *others = batches
    ref_runs = ok_runs(reference)
    rows: list[dict[str, object]] = []
    unpaired: dict[str, str] = {}
    for label, batch in zip(labels[1:], others, strict=True):
        runs = ok_runs(batch)
        problem = pairing_problem(reference, batch)
        if problem is not None:
            unpaired[label] = problem
        keys = pair_keys(ref_runs)
        for metric in metrics:
            a, b = metric_values(ref_runs, metric), metric_values(runs, metric)
            paired = problem is None
            if paired:
                a.index = pd.MultiIndex.from_frame(ref_runs[keys]) if len(keys) > 1 else ref_runs[keys[0]]
                b.index = pd.MultiIndex.from_frame(runs[keys]) if len(keys) > 1 else runs[keys[0]]
            if metric.startswith("share_"):
                result = newcombe_difference(a, b, paired=paired, confidence=confidence)
                method = "paired Newcombe" if paired else "Newcombe"
            elif paired:
                result, method = paired_difference(a, b, confidence=confidence), "paired t"
            else:
                result, method = welch_difference(a, b, confidence=confidence), "Welch t"
            title, unit = metric_text(metric)
            rows.append(
                {
                    "reference": labels[0],
                    "scenario": label,
                    "metric": metric,
                    "label": title,
                    "unit": unit,
                    "paired": paired,
                    "method": method,
                    "n": int(result.pop("n")),
                }
                | result
                | {"confidence": confidence}
            )
    return Comparison(tuple(labels), pd.DataFrame(rows), unpaired)


def _keyed_timeseries(batch: Batch, outcome: str, keys: Sequence[str]) -> pd.DataFrame:
    """``outcome`` of the batch's successful runs month by month, with the pairing keys of each run."""
    runs = ok_runs(batch)
    series = batch.timeseries[["run", "date", outcome]]
    return series.merge(runs[["run", *keys]], on="run", how="inner").drop(columns="run")


def timeseries_difference(
    reference: Batch,
    other: Batch,
    outcome: str,
    *,
    paired: bool | None = None,
    levels: tuple[float, float] = (0.05, 0.95),
) -> pd.DataFrame:
    """``other`` minus ``reference`` in ``outcome``, month by month.

    Paired (the batches share common random numbers, :func:`pairing_problem`; ``paired`` overrides the check):
    at each date the per-replication differences are taken, and the frame gives their median and the quantiles
    ``levels`` (by default the 5th and 95th percentiles, the spread of the scenario's effect across replications).
    Unpaired runs have no per-replication difference, so the frame gives the difference of the two medians and
    NaN bounds. Columns: ``date``, ``median``, ``low``, ``high``, ``paired``, ``n`` (pairs, or the smaller
    batch's runs, at that date).
    """
    if outcome not in reference.timeseries.columns or outcome not in other.timeseries.columns:
        raise AnalysisError(f"the time series lack the outcome {outcome!r}")
    if paired is None:
        paired = pairing_problem(reference, other) is None
    if paired:
        keys = pair_keys(ok_runs(reference))
        a = _keyed_timeseries(reference, outcome, keys)
        b = _keyed_timeseries(other, outcome, keys)
        joined = a.merge(b, on=[*keys, "date"], suffixes=("_a", "_b")).dropna()
        if joined.empty:
            raise AnalysisError("no replication is common to both batches, so nothing can be paired")
        d = (joined[f"{outcome}_b"] - joined[f"{outcome}_a"]).rename("d")
        grouped = pd.concat([joined["date"], d], axis=1).groupby("date")["d"]
        frame = pd.DataFrame(
            {
                "median": grouped.median(),
                "low": grouped.quantile(levels[0]),
                "high": grouped.quantile(levels[1]),
                "n": grouped.size(),
            }
        )
    else:
        a_med = _keyed_timeseries(reference, outcome, []).groupby("date")[outcome]
        b_med = _keyed_timeseries(other, outcome, []).groupby("date")[outcome]
        frame = pd.DataFrame({"median": b_med.median() - a_med.median()}).dropna()
        frame["low"] = np.nan
        frame["high"] = np.nan
        frame["n"] = pd.concat([a_med.count(), b_med.count()], axis=1).min(axis=1).reindex(frame.index)
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    frame = frame.sort_index().reset_index()
    frame["paired"] = bool(paired)
    frame["n"] = frame["n"].astype(int)
    return frame[["date", "median", "low", "high", "paired", "n"]]


def class_probabilities(runs_by_label: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per scenario and outcome class: runs, count, share and its 95 % Wilson interval."""
    rows = []
    for label, runs in runs_by_label.items():
        n = len(runs)
        for cls in OutcomeClass:
            k = int((runs["outcome_class"].astype(str) == cls.value).sum())
            low, high = wilson_interval(k, n)
            rows.append(
                {"scenario": label, "outcome_class": cls.value, "runs": n, "count": k}
                | {"share": k / n if n else float("nan"), "ci_low": low, "ci_high": high}
            )
    return pd.DataFrame(rows)


#: The metrics a comparison prints on the command line: the judged relations index and the chance of relapse.
HEADLINE_METRICS = ("window_relations_index", "share_relapse")


def headline_lines(comparison: Comparison, metrics: Sequence[str] = HEADLINE_METRICS) -> list[str]:
    """One line per scenario and headline metric, in the formats of ``sim.analysis.formats``:
    ``trade_war - baseline: Probability of relapse +2.0 pp [−7.4, +12.0] (paired Newcombe, n = 200)``."""
    table = comparison.differences
    lines = []
    for row in table[table["metric"].isin(list(metrics))].to_dict("records"):
        scale, unit = difference_unit(str(row["unit"]))
        low, mid, high = (float(row[key]) * scale for key in ("ci_low", "difference", "ci_high"))
        value = estimate(mid, low, high, unit, decimals=decimals_for(str(row["unit"])), signed=True)
        lines.append(
            f"{row['scenario']} - {row['reference']}: {row['label']} {value} ({row['method']}, n = {row['n']})"
        )
    return lines
