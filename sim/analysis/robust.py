"""The results of a robust policy search (:mod:`sim.robust`) as files: tables, figures and a report page.

:func:`write_results` writes a finished search into its results folder at once: the Pareto set with each
policy's levers in words, every evaluation, the chosen policies re-evaluated on fresh futures with 95 % intervals,
scenario discovery (:func:`sim.analysis.discovery.discover`) on the fresh futures where the chosen policy fails,
the parallel-coordinates and trade-off figures, and a self-contained ``report.html`` on the reports' template.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.common import AnalysisError, fresh_folder
from sim.analysis.discovery import PARAM_PREFIX, discover
from sim.analysis.figures import Drawn
from sim.analysis.formats import estimate, number, percent
from sim.analysis.report import build_robust_page
from sim.files import write_atomic
from sim.plots import discovery_plot, parallel_coordinates, save_figure, tradeoff_plot
from sim.provenance import HASH_DIGITS, Provenance, package_version
from sim.robust import (
    DISCOVERY_DEPTH,
    MANIFEST,
    MAXIMISED,
    METRIC_TEXT,
    REEVALUATION_OFFSET,
    Lever,
    SearchResult,
    SearchStore,
    discovery_target,
    fresh_runs,
    lever_text,
    scenario_yaml,
)
from sim.scenario import RobustMetric

__all__ = ["Written", "write_results"]


@dataclass(frozen=True)
class Written:
    """Where a finished search was written, and what its discovery found (None: nothing to tell apart)."""

    folder: Path
    target: str | None
    rules: tuple[str, ...]


def metric_cell(metric: RobustMetric, value: float) -> str:
    """A metric's value as the tables show it (a share as a percentage)."""
    return percent(value) if metric is RobustMetric.DURABLE_SHARE else number(value)


def metric_estimate(metric: RobustMetric, value: float, low: float, high: float) -> str:
    """A metric's value with its 95 % interval, in the value's format (``98.0 % [91.2, 100.0]``)."""
    if metric is RobustMetric.DURABLE_SHARE:
        return estimate(100.0 * value, 100.0 * low, 100.0 * high, "%")
    return estimate(value, low, high)


def _levers_text(lever: Lever) -> str:
    if lever.choices is not None:
        return ", ".join(lever_text(c) for c in lever.choices)
    kind = "whole numbers" if lever.integer else "range"
    return f"{kind} {lever.low:g} to {lever.high:g}"


def _saved(ax: Any, folder: Path, name: str, provenance: Provenance, caption: str) -> tuple[Drawn, str]:
    """Save a figure under ``plots/`` with its provenance; the drawn figure and its caption for the page."""
    title = ax.get_title()
    return Drawn(title, tuple(save_figure(ax, folder / "plots" / name, provenance=provenance))), caption


def _figures(
    result: SearchResult, folder: Path, provenance: Any, discovery: Any, runs: pd.DataFrame | None
) -> list[Any]:
    """The parallel-coordinates, trade-off and (when a rule was looked for) discovery figures, saved under
    ``plots/``; returns (Drawn, caption) pairs."""

    plan, pareto = result.plan, result.pareto
    metrics = [m.value for m in plan.metrics]
    short = {m.value: m.value.replace("_", " ") for m in plan.metrics}
    levers = plan.levers
    columns = [f"gene:{lever.path}" for lever in levers] + metrics
    ranges = {f"gene:{lv.path}": lv.bounds() for lv in levers}
    ticks = {
        f"gene:{lv.path}": [(float(i), lever_text(c)) for i, c in enumerate(lv.choices)]
        for lv in levers
        if lv.choices is not None
    }
    labels = {f"gene:{lv.path}": lv.path.removeprefix("levers.") for lv in levers} | short
    chosen = {
        int(
            pareto.index[pareto["candidate"] == c][0]
        ): f"policy {int(pareto.loc[pareto['candidate'] == c, 'policy'].iloc[0])}"
        for c in result.reevaluation["candidate"].unique()
    }
    ax = parallel_coordinates(
        pareto,
        columns,
        ranges=ranges,
        ticks=ticks,
        better_low=[m.value for m in plan.metrics if m not in MAXIMISED],
        labels=labels,
        color_by=metrics[0],
        highlight=chosen,
    )
    caption = (
        "Each line is a policy of the Pareto set across its levers (left) and metrics (right), coloured by "
        f"{short[metrics[0]]}; the policies re-evaluated on fresh futures are drawn black and labelled. A choice "
        "lever's axis is labelled with its options; metric axes run from the Pareto set's worst to its best "
        "value, best on top."
    )
    drawn = [_saved(ax, folder, "parallel", provenance, caption)]
    x, y = (metrics[0], metrics[1]) if len(metrics) > 1 else (metrics[0], "generation")
    candidates = result.candidates.rename_axis("candidate").reset_index()
    front = candidates["candidate"].isin(pareto["candidate"]).to_numpy()
    table = result.reevaluation
    checked = None
    if y != "generation":
        rows = []
        for _, part in table.groupby("candidate", sort=False):
            row = part.set_index("metric")
            rows.append(
                {
                    "label": int(part["policy"].iloc[0]),
                    "x": row.loc[x, "fresh"],
                    "y": row.loc[y, "fresh"],
                    "x_low": row.loc[x, "ci_low"],
                    "x_high": row.loc[x, "ci_high"],
                    "y_low": row.loc[y, "ci_low"],
                    "y_high": row.loc[y, "ci_high"],
                }
            )
        checked = pd.DataFrame(rows)
    ax = tradeoff_plot(
        candidates,
        x,
        y,
        front=front,
        labels=short | {"generation": "generation"},
        color_by=metrics[2] if len(metrics) > 2 else None,
        checked=checked,
    )
    caption = (
        "Every candidate the search evaluated (grey) and the Pareto set (coloured), on the search's futures; open "
        "markers with 95 % intervals are the chosen policies re-evaluated on fresh futures, labelled with their "
        "policy number. The distance from a policy's search value to its fresh value is what the search owed to "
        "the futures it was tuned on."
    )
    drawn.append(_saved(ax, folder, "tradeoff", provenance, caption))
    if discovery is not None and runs is not None and len(discovery.factors) > 1:
        params = runs[[f"{PARAM_PREFIX}{f}" for f in discovery.factors]].astype(float)
        params.columns = discovery.factors
        hit = (runs["outcome_class"] == discovery.target).to_numpy()
        box = discovery.rules[0].limits if discovery.rules else {}
        ranked = sorted(discovery.factors, key=lambda f: -discovery.importances.get(f, 0.0))
        axes = [*box, *(f for f in ranked if f not in box)]
        ax = discovery_plot(params, hit, box, axes[0], axes[1], target=discovery.target)
        caption = (
            "The chosen policy's fresh futures in the plane of the first rule's parameters, marked by whether "
            f"they end in {discovery.target.replace('_', ' ')}; the dashed rectangle is the rule's box."
        )
        drawn.append(_saved(ax, folder, "discovery", provenance, caption))
    return drawn


def write_results(
    result: SearchResult,
    store: SearchStore,
    *,
    plots: bool = True,
    command: str = "",
    source: str = "",
    overrides: Sequence[str] = (),
) -> Written:
    """Write a finished search into its results folder, replacing it at once, and remove the staging folder.

    The folder holds ``pareto.csv`` (each policy's levers as text and in words, and its metrics),
    ``candidates.csv`` (every candidate), ``evaluations.parquet`` (every candidate on every future),
    ``reevaluation.csv`` (the chosen policies on fresh futures, with 95 % intervals) and
    ``reevaluation_runs.parquet``, ``discovery.csv`` (the rules
    of the futures where the chosen policy fails), ``scenario.yaml``, ``search.json`` (what was searched, for
    continuing it), ``plots/`` (parallel coordinates, trade-off, discovery; PNG and SVG) and ``report.html``.
    """

    plan, pareto = result.plan, result.pareto
    scenario = plan.scenario
    runs = fresh_runs(result, result.chosen)
    target = discovery_target(runs)
    discovery = None
    if target is not None:
        try:
            discovery = discover(runs, target, max_depth=DISCOVERY_DEPTH)
        except AnalysisError:  # no future parameter varies (a scenario without uncertainties or posterior)
            discovery = None
    chosen_policy = int(pareto.loc[pareto["candidate"] == result.chosen, "policy"].iloc[0])
    rules = tuple(rule.sentence(target or "", discovery.names) for rule in discovery.rules) if discovery else ()
    manifest = {
        "status": "complete",
        "scenario": scenario.meta.name,
        "scenario_hash": scenario.digest(),
        "source": source,
        "overrides": list(overrides),
        "root_seed": plan.root_seed,
        "generations": plan.generations,
        "candidates": len(result.candidates),
        "runs": len(result.evaluations) + len(result.fresh),
        "identity": plan.identity(),
        "levers": [lever.path for lever in plan.levers],
        "chosen_policy": chosen_policy,
        "discovery_target": target,
        "created": store.created,
        "versions": {"rapprochement": package_version()},
        "command": command,
    }
    provenance = Provenance(
        scenarios=((scenario.meta.name, scenario.digest()[:HASH_DIGITS]),),
        seeds=(plan.root_seed,),
        runs=(plan.futures,),
        created=(store.created,),
        version=package_version(),
        command=command,
    )
    metrics = [m.value for m in plan.metrics]
    lever_columns = [lever.path for lever in plan.levers]
    about = {"command": "robust", "scenario": scenario.meta.name, "identity": plan.identity()}
    with fresh_folder(store.out_dir, force=True, about=about, checked=True) as folder:
        (folder / "scenario.yaml").write_text(scenario_yaml(scenario), encoding="utf-8")
        result.evaluations.to_parquet(folder / "evaluations.parquet", index=False)
        result.fresh.to_parquet(folder / "reevaluation_runs.parquet", index=False)
        candidates = result.candidates.rename_axis("candidate").reset_index()
        candidates[["candidate", "generation", *lever_columns, "levers", *metrics]].to_csv(
            folder / "candidates.csv", index=False, float_format="%.6g"
        )
        pareto[["policy", "candidate", "generation", *lever_columns, "levers", *metrics]].to_csv(
            folder / "pareto.csv", index=False, float_format="%.6g"
        )
        result.reevaluation.to_csv(folder / "reevaluation.csv", index=False, float_format="%.6g")
        if discovery is not None:
            discovery.table().to_csv(folder / "discovery.csv", index=False, float_format="%.6g")
        drawn = _figures(result, folder, provenance, discovery, runs) if plots else []
        _page(result, folder, store.out_dir, manifest, provenance, discovery, drawn, chosen_policy, len(runs))
        write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    store.discard()
    return Written(store.out_dir, target, rules)


def _page(
    result: SearchResult,
    folder: Path,
    out_dir: Path,
    manifest: dict[str, Any],
    provenance: Any,
    discovery: Any,
    drawn: Sequence[Any],
    chosen_policy: int,
    fresh_futures: int,
) -> None:
    """``report.html``: what was searched, the Pareto set, the fresh re-evaluation and the discovery."""

    plan, pareto = result.plan, result.pareto
    scenario = plan.scenario
    facts = {
        "label": scenario.meta.name,
        "description": scenario.meta.description,
        "path": str(out_dir),
        "start": scenario.meta.start,
        "months": scenario.meta.months,
        "runs": manifest["runs"],
        "failed": 0,
        "seed": plan.root_seed,
        "hash": manifest["scenario_hash"],
        "overrides": manifest["overrides"],
        "origin": provenance,
    }
    setup = [
        {
            "name": "Algorithm",
            "value": f"{plan.identity()['algorithm']}, {plan.population} candidates a generation",
        },
        {"name": "Generations", "value": str(plan.generations)},
        {"name": "Candidates evaluated", "value": str(len(result.candidates))},
        {
            "name": "Futures",
            "value": f"{plan.futures} per candidate, replications 0-{plan.futures - 1} of root seed "
            f"{plan.root_seed}: "
            "the same seeds, uncertainties and posterior draws for every candidate (common random numbers)",
        },
        {
            "name": "Fresh futures",
            "value": f"{plan.check_futures}, replications {REEVALUATION_OFFSET} onwards (a seed stream the search "
            f"never used), for up to {plan.check_policies} chosen policies",
        },
    ]
    metrics = [
        {"name": m.value, "text": METRIC_TEXT[m][0], "better": "higher" if m in MAXIMISED else "lower"}
        for m in plan.metrics
    ]
    header = ["Policy", "Levers", *(m.value for m in plan.metrics)]
    pareto_rows = [
        {
            "policy": int(row["policy"]),
            "levers": row["levers"],
            "cells": [metric_cell(m, float(row[m.value])) for m in plan.metrics],
        }
        for _, row in pareto.iterrows()
    ]
    check_rows = [
        {
            "policy": int(row["policy"]),
            "metric": row["metric"],
            "search": metric_cell(RobustMetric(row["metric"]), row["search"]),
            "fresh": metric_estimate(RobustMetric(row["metric"]), row["fresh"], row["ci_low"], row["ci_high"]),
        }
        for _, row in result.reevaluation.iterrows()
    ]
    target = discovery.target.replace("_", " ") if discovery is not None else None
    if discovery is None:
        sentences = [
            f"Policy {chosen_policy} ends the same way in all {fresh_futures} fresh futures (or no future "
            "parameter varies): there is no failure to explain."
        ]
    else:
        sentences = [
            f"Policy {chosen_policy} (the best on fresh futures by {plan.metrics[0].value}) ends in {target} in "
            f"{discovery.hits} of its {discovery.runs} fresh futures ({percent(discovery.base_rate)}). A decision "
            "tree over the futures' sampled parameters finds where:"
        ]
        sentences += [
            f"Rule {i}: {rule.sentence(discovery.target, discovery.names)}."
            for i, rule in enumerate(discovery.rules, 1)
        ]
        if not discovery.rules:
            sentences.append(
                f"No box of parameters leads to {target} at least 1.5 times as often as all futures do."
            )
        sentences.append(
            "Density and coverage are measured on the futures the tree was fitted to; check a rule on another "
            "seed."
        )
    robust = {
        "setup": setup,
        "levers": [{"path": lever.path, "range": _levers_text(lever)} for lever in plan.levers],
        "metrics": metrics,
        "explain": [
            "A policy is in the Pareto set when no other candidate is at least as good on every metric and "
            "better on one. The metrics of the search are in-sample: the search chose these policies because "
            "they did well on these futures, so they flatter them. The re-evaluation on fresh futures is the "
            "figure to quote.",
            "Regret is measured against the best candidate evaluated in each future (the search's archive; for "
            "the re-evaluation, the best of the chosen policies).",
        ],
        "pareto_header": header,
        "pareto_rows": pareto_rows,
        "pareto_note": f"{len(pareto)} policies, best first by {plan.metrics[0].value}; of candidates with "
        "the same metrics the first evaluated stands for them.",
        "check_rows": check_rows,
        "check_note": f"The chosen policies (the best on each metric, then the closest to the ideal point) on "
        f"{plan.check_futures} fresh futures; intervals are 95 % (Wilson for shares, order statistics for "
        "percentiles, Student's t for mean costs).",
        "discovery": sentences,
    }
    build_robust_page(
        folder,
        title=f"Robust policy search: {scenario.meta.name}",
        subtitle=f"{len(pareto)} Pareto policies over {len(plan.levers)} levers, {plan.generations} "
        f"generations of {plan.population} candidates on {plan.futures} futures",
        scenario=facts,
        robust=robust,
        drawn=drawn,
        command=manifest["command"],
    )
