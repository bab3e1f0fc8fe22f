"""Self-contained HTML reports of one batch or of a scenario comparison, with their plots as PNG and SVG.

``report.html`` embeds every image as a base64 PNG and carries its own CSS (with print rules), so the page
reads offline, can be mailed as one file, and prints as a class handout; it refers to nothing outside itself.
The same plots are written beside it under ``plots/`` in PNG and SVG for slides and papers. Nothing in a
report depends on the time it was made, so the same results give the same files.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.analysis.classes import ClassRules, decompose
from sim.analysis.common import (
    AnalysisError,
    events_of,
    fresh_folder,
    labels_for,
    ok_runs,
    open_results,
    resolve_metric,
    scenario_of,
)
from sim.analysis.compare import CONFIDENCE, Comparison, class_probabilities, compare
from sim.analysis.figures import Drawn, FigureJob, draw_all
from sim.outcomes import KEY_OUTCOMES, OUTCOMES, OutcomeClass
from sim.plots import (
    EventMarker,
    difference_plot,
    fan_chart,
    horizon_distribution,
    metric_text,
    outcome_class_shares,
    save_figure,
)
from sim.results import Batch
from sim.scenario import Scenario

__all__ = ["REPORT", "build_comparison", "build_report", "render", "write_comparison", "write_report"]

#: What each method of ``differences.csv`` means, for the caption of a difference plot.
_METHOD_TEXT = {
    "paired t": "Paired t: mean of the per-replication differences on the same seeds, with a paired t interval.",
    "Welch t": "Welch t: difference of the means of independent batches, with Welch's interval.",
    "paired Newcombe": (
        "Paired Newcombe: difference of the class probabilities on the same seeds, with Newcombe's score "
        "interval corrected for the correlation of the pairs (1998b)."
    ),
    "Newcombe": (
        "Newcombe: difference of the class probabilities of independent batches, with Newcombe's score "
        "interval (1998a)."
    ),
}

REPORT = "report.html"
PLOTS = "plots"
FORMATS = ("png", "svg")
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.analysis", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug in this module, not an empty cell
    keep_trailing_newline=True,
)


def render(context: dict[str, Any]) -> str:
    """The report page for ``context`` (see the template ``templates/report.html`` for its fields)."""
    return _ENVIRONMENT.get_template(REPORT).render(**context)


# --------------------------------------------------------------------------- pieces


def _figure(ax: Axes, folder: Path, name: str, caption: str) -> dict[str, Any]:
    """Save ``ax``'s figure as PNG and SVG under ``folder`` and return it as an entry of the template."""
    title = ax.get_title()
    return _entry(Drawn(title, tuple(save_figure(ax, folder / name, FORMATS))), caption)


def _scenario_facts(batch: Batch, label: str, path: Path | None = None) -> dict[str, Any]:
    manifest = batch.manifest
    scenario = scenario_of(batch)
    runs = ok_runs(batch)
    events = []
    if scenario is not None:
        events = [
            {
                "date": event.date,
                "kind": event.kind.value.replace("_", " "),
                "actor": event.actor.value if event.actor is not None else "",
                "description": event.description or "",
            }
            for event in scenario.events
        ]
    return {
        "label": label,
        "path": str(path or batch.path),
        "description": scenario.meta.description if scenario is not None else "",
        "start": manifest.get("start", "?"),
        "months": manifest.get("months", "?"),
        "runs": len(runs),
        "failed": len(manifest.get("failed_runs", [])),
        "seed": manifest.get("root_seed"),
        "hash": str(manifest.get("scenario_hash", ""))[:16],
        "overrides": list(manifest.get("overrides", [])),
        "events": events,
    }


def _class_rows(runs_by_label: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    table = class_probabilities(runs_by_label)
    rows = []
    for label in runs_by_label:
        part = table[table["scenario"] == label]
        cells = [
            f"{float(r['share']):.0%} ({float(r['ci_low']):.0%}-{float(r['ci_high']):.0%})".replace("%", " %")
            for r in part.to_dict("records")
        ]
        rows.append({"label": label, "cells": cells})
    return rows


def _class_rules(rules_by_label: dict[str, ClassRules]) -> list[str]:
    """The class rules in words: one sentence when every scenario shares them, else one per scenario."""
    distinct = set(rules_by_label.values())
    if len(distinct) <= 1:
        return [rule.describe() for rule in distinct]
    return [f"{label}: {rule.describe()}" for label, rule in rules_by_label.items()]


def _common_thresholds(rules_by_label: dict[str, ClassRules]) -> dict[str, float] | None:
    """The thresholds to draw on figures shared by several scenarios: those they all have, or none (a line that
    held for one scenario only would misstate the others' classes)."""
    distinct = {tuple(rule.thresholds().items()) for rule in rules_by_label.values()}
    return dict(next(iter(distinct))) if len(distinct) == 1 else None


def _share(count: int, runs: int) -> str:
    return f"{100.0 * count / runs:.1f} % ({count})" if runs else "n/a"


def _decomposition(
    runs_by_label: dict[str, pd.DataFrame], rules_by_label: dict[str, ClassRules]
) -> dict[str, Any]:
    """The durable share taken apart, per scenario (each under its own thresholds): header, rows and a summary
    sentence naming the runs that reach the index but not the institutions."""
    common = _common_thresholds(rules_by_label)
    index = f"{common['durable_min_index']:g}" if common else "durable threshold"
    institutions = f"{common['durable_min_institutionalization']:g}" if common else "durable threshold"
    header = [
        f"Index \u2265 {index}",
        f"Institutionalisation \u2265 {institutions}",
        "Both (durable rapprochement)",
        "Index reached but institutions not",
    ]
    several = len(runs_by_label) > 1
    rows, sentences = [], []
    for label, runs in runs_by_label.items():
        d = decompose(runs, rules_by_label[label].thresholds())
        only = d.index_runs - d.both_runs
        cells = [_share(k, d.runs) for k in (d.index_runs, d.institutions_runs, d.both_runs, only)]
        rows.append({"label": label, "cells": cells})
        what = f"{label}: index reached" if several else "Index reached"
        sentences.append(
            f"{what} but institutions not: {100.0 * d.index_only:.1f} % of runs ({only} of {d.runs}), fragile "
            "thaws that only their institutionalisation kept from being durable."
        )
    return {"header": header, "rows": rows, "sentences": sentences}


def _number(value: float) -> str:
    """Three significant digits; round-off residues such as 1e-16 show as 0 (outcomes are 0-1 or 0-100)."""
    if not np.isfinite(value):
        return "n/a"
    if abs(value) < 5e-4:
        return "0"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _outcome_rows(runs_by_label: dict[str, pd.DataFrame], outcomes: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for metric in ["window_relations_index", *(f"final_{o}" for o in outcomes)]:
        label, unit = metric_text(metric)
        cells = []
        for runs in runs_by_label.values():
            p05, p50, p95 = np.quantile(runs[metric].to_numpy(dtype=float), [0.05, 0.5, 0.95])
            cells.append(f"{_number(p50)} ({_number(p05)} to {_number(p95)})")
        rows.append({"label": label, "unit": unit, "cells": cells})
    return rows


def _difference_rows(comparison: Comparison) -> list[dict[str, Any]]:
    rows = []
    for r in comparison.differences.to_dict("records"):
        scale = 100.0 if str(r["metric"]).startswith("share_") else 1.0
        low, mid, high = (float(r[key]) * scale for key in ("ci_low", "difference", "ci_high"))
        rows.append(
            {
                "scenario": r["scenario"],
                "label": r["label"],
                "unit": "percentage points" if scale != 1.0 else r["unit"],
                "difference": _number(mid),
                "interval": f"{_number(low)} to {_number(high)}" if np.isfinite(low) else "n/a",
                "method": r["method"],
                "n": r["n"],
            }
        )
    return rows


def _outcomes(names: Sequence[str] | None) -> list[str]:
    """The outcomes to plot: ``names`` checked against the outcome contract, or the key outcomes."""
    if not names:
        return list(KEY_OUTCOMES)
    chosen = []
    for name in names:
        if name not in OUTCOMES:
            raise AnalysisError(f"--outcome {name!r}: expected one of {', '.join(OUTCOMES)}")
        if name not in chosen:
            chosen.append(name)
    return chosen


def _difference_caption(comparison: Comparison, metric: str) -> str:
    """The caption of one metric's difference plot: the methods its rows were actually computed with."""
    rows = comparison.differences[comparison.differences["metric"] == metric]
    methods = list(dict.fromkeys(rows["method"]))
    return " ".join(_METHOD_TEXT.get(method, f"{method}.") for method in methods)


def _unique_events(groups: Sequence[Sequence[EventMarker]], labels: Sequence[str]) -> list[EventMarker]:
    """Every scenario's events once; those not shared by all scenarios name the scenarios they belong to.

    Overlaid fans share one time axis, so an inject of one scenario must not read as if all had it.
    """
    owners: dict[tuple[Any, str], list[str]] = {}
    first: dict[tuple[Any, str], EventMarker] = {}
    for group, label in zip(groups, labels, strict=True):
        for event in group:
            key = (pd.Timestamp(event.date), event.label)
            owners.setdefault(key, [])
            if label not in owners[key]:
                owners[key].append(label)
            first.setdefault(key, event)
    events = []
    for key, event in first.items():
        if len(owners[key]) == len(labels):
            events.append(event)
        else:
            events.append(EventMarker(event.date, f"{event.label} ({', '.join(owners[key])})", event.kind))
    return events


_FAN_CAPTION = (
    "Median (line) and 50 % and 90 % bands of the runs, month by month; dotted lines mark the scenario's dated "
    "events, dashed lines the outcome-class thresholds where they apply (on the relations index they judge the "
    "mean of a run's last year, not single months). The value axis is narrowed to where the runs lie unless they "
    "span most of the outcome's scale."
)
_HORIZON_CAPTION = (
    "Final values across runs: box 25th-75th percentile, whiskers 5th-95th, line the median, diamond the mean; "
    "dashed lines mark the outcome-class thresholds where they apply."
)
_CLASS_MAP_CAPTION = (
    "Each run's mean relations index over its last year against its final institutionalisation, coloured by "
    "its outcome class, over the class regions; dashed lines are the thresholds. Runs right of the durable index "
    "line but below the institutionalisation line reached the index without the institutions."
)
_CLASS_CAPTION = (
    "Share of runs ending in each outcome class (judged on the last year), with 95 % Wilson intervals and the "
    "number of runs above each bar."
)


def _base_context(title: str, subtitle: str, facts: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    return {
        "title": title,
        "subtitle": subtitle,
        "notes": notes,
        "scenarios": facts,
        "class_names": [c.value.replace("_", " ") for c in OutcomeClass],
        "difference_rows": [],
        "reference": "",
        "confidence": f"{CONFIDENCE:.0%}".replace("%", " %"),
        "footer": (
            "Model projections under each scenario's assumptions, not forecasts: read differences between "
            "scenarios on the same seeds before absolute levels. Generated by rapprochement."
        ),
    }


# --------------------------------------------------------------------------- one batch


def uncertainty_note(scenario: Scenario | None, runs: pd.DataFrame) -> str:
    """What the bands of a batch hold: parameter uncertainty (posterior draws) and the model's randomness, or
    the randomness alone; and where the start comes from."""
    sampled = sorted(scenario.uncertainties) if scenario is not None else []
    parts = []
    if "posterior_draw" in runs.columns:
        draws = runs["posterior_draw"].nunique()
        parts.append(
            f"The bands hold parameter uncertainty and the model's own randomness together: each run draws its "
            f"behavioural parameters from the calibrated posterior ({draws} distinct draws over {len(runs)} runs)"
        )
    else:
        parts.append(
            "The bands hold the model's own randomness at fixed behavioural parameters, not the uncertainty of "
            "those parameters (the scenario does not draw them from a posterior)"
        )
    if sampled:
        parts.append(f"and the scenario's uncertain parameters ({', '.join(sampled)})")
    text = " ".join(parts) + "."
    if scenario is not None and scenario.meta.start_state is not None:
        start = scenario.meta.start_state
        text += (
            f" The runs start from the state the calibrated replay ({start.scenario}) reaches in {start.date}; "
            "the favourability charts show the observed polls before it."
        )
    return text


def report_figures(
    batch: Batch, folder: Path, *, outcomes: Sequence[str] | None = None, label: str | None = None
) -> list[FigureJob]:
    """The figures of a batch's report, to draw (anywhere) before :func:`build_report` writes the page: per outcome
    a fan and its distribution at the horizon, then the class shares and the class map, as PNG and SVG under
    ``folder/plots``. The fans come first (a batch's finishing shares them with its standard plots)."""
    name = label or batch.path.name
    plots = folder / PLOTS
    jobs = [FigureJob(batch.path, "fan", plots / f"fan_{o}", FORMATS, o, name) for o in _outcomes(outcomes)]
    jobs += [
        FigureJob(batch.path, "horizon", plots / f"horizon_{o}", FORMATS, o, name) for o in _outcomes(outcomes)
    ]
    jobs.append(FigureJob(batch.path, "classes", plots / "outcome_classes", FORMATS, label=name))
    jobs.append(FigureJob(batch.path, "class_map", plots / "class_map", FORMATS, label=name))
    return jobs


def build_report(
    batch: Batch,
    folder: Path,
    *,
    outcomes: Sequence[str] | None = None,
    label: str | None = None,
    drawn: Sequence[Drawn] | None = None,
    shown_path: Path | None = None,
) -> Path:
    """Write ``report.html`` of one batch into ``folder``, with the figures of :func:`report_figures` (PNG and SVG
    under ``folder/plots``): ``drawn``, when they were drawn elsewhere (a worker pool), else drawn here.

    ``label`` names the batch and ``shown_path`` is where the page says its results are (defaults: its folder's
    name and path, which a batch still in its staging folder does not have yet).
    """
    chosen = _outcomes(outcomes)
    label = label or batch.path.name
    runs = ok_runs(batch).assign(scenario=label)
    scenario = scenario_of(batch)
    rules = {label: ClassRules.of(scenario)}
    if drawn is None:
        drawn = draw_all(report_figures(batch, folder, outcomes=chosen, label=label))
    captions = _report_captions(chosen, " ".join(_class_rules(rules)))
    entries = [_entry(d, caption) for d, caption in zip(drawn, captions, strict=True)]
    n = len(chosen)
    fans, horizon, classes = entries[:n], entries[n : 2 * n], entries[2 * n :]
    facts = [_scenario_facts(batch, label, shown_path)]
    notes = [uncertainty_note(scenario, runs)]
    if facts[0]["failed"]:
        notes.append(f"{facts[0]['failed']} runs failed and are left out of every figure and number.")
    context = _base_context(
        f"Simulated futures: {label}",
        f"{len(runs)} Monte-Carlo runs from {shown_path or batch.path}",
        facts,
        notes,
    )
    context |= {
        "class_rows": _class_rows({label: runs}),
        "class_rules": _class_rules(rules),
        "decomposition": _decomposition({label: runs}, rules),
        "outcome_rows": _outcome_rows({label: runs}, chosen),
        "figure_groups": [
            {"title": "Outcomes over time", "figures": fans},
            {"title": "Outcome classes", "figures": classes},
            {"title": "At the horizon", "figures": horizon},
        ],
    }
    path = folder / REPORT
    path.write_text(render(context), encoding="utf-8")
    return path


def _report_captions(outcomes: Sequence[str], rules: str) -> list[str]:
    """The captions of :func:`report_figures`' figures, in its order; ``rules``: the class rules in words."""
    classes = [f"{_CLASS_CAPTION} {rules}", _CLASS_MAP_CAPTION]
    return [_FAN_CAPTION] * len(outcomes) + [_HORIZON_CAPTION] * len(outcomes) + classes


def _entry(drawn: Drawn, caption: str) -> dict[str, Any]:
    """A drawn figure as an entry of the template: the PNG embedded, every file linked."""
    png = next(p for p in drawn.paths if p.suffix == ".png")
    return {
        "title": drawn.title,
        "caption": caption,
        "mime": "image/png",
        "data": base64.b64encode(png.read_bytes()).decode("ascii"),
        "files": [f"{PLOTS}/{p.name}" for p in drawn.paths],
    }


def write_report(
    results: str | Path, out: Path | None = None, *, force: bool = False, outcomes: Sequence[str] | None = None
) -> Path:
    """Report a results folder into ``out`` (default ``<results>/report``), atomically; return the folder."""
    batch = open_results(results)
    chosen = _outcomes(outcomes)
    target = out if out is not None else batch.path / "report"
    with fresh_folder(target, force=force, about={"command": "report", "results": str(batch.path)}) as folder:
        build_report(batch, folder, outcomes=chosen)
    return target


# --------------------------------------------------------------------------- a comparison


def build_comparison(
    batches: Sequence[Batch], labels: Sequence[str], folder: Path, *, outcomes: Sequence[str] | None = None
) -> Comparison:
    """Compare batches (the first is the reference) into ``folder``: CSVs, plots and ``report.html``.

    Writes ``differences.csv`` (every metric, paired where the batches share common random numbers),
    ``classes.csv`` (outcome-class probabilities with Wilson intervals), ``plots/`` and ``report.html``.
    """
    chosen = _outcomes(outcomes)
    comparison = compare(list(batches), list(labels))
    comparison.differences.to_csv(folder / "differences.csv", index=False, float_format="%.6g")
    runs_by_label = {label: ok_runs(b).assign(scenario=label) for b, label in zip(batches, labels, strict=True)}
    class_probabilities(runs_by_label).to_csv(folder / "classes.csv", index=False, float_format="%.6g")

    runs = pd.concat(runs_by_label.values(), ignore_index=True)
    timeseries = pd.concat(
        [b.timeseries.assign(scenario=label) for b, label in zip(batches, labels, strict=True)],
        ignore_index=True,
    )
    events = _unique_events([events_of(b) for b in batches], labels)
    rules = {label: ClassRules.of(scenario_of(b)) for b, label in zip(batches, labels, strict=True)}
    thresholds = _common_thresholds(rules)
    plots = folder / PLOTS
    fans = [
        _figure(
            fan_chart(timeseries, o, events=events, thresholds=thresholds),
            plots,
            f"fan_{o}",
            _FAN_CAPTION + " One fan per scenario.",
        )
        for o in chosen
    ]
    horizon = [
        _figure(horizon_distribution(runs, o, thresholds=thresholds), plots, f"horizon_{o}", _HORIZON_CAPTION)
        for o in chosen
    ]
    class_caption = f"{_CLASS_CAPTION} {' '.join(_class_rules(rules))}"
    classes = [_figure(outcome_class_shares(runs), plots, "outcome_classes", class_caption)]
    difference_metrics = [
        "window_relations_index",
        *(f"final_{o}" for o in chosen),
        # Fragile thaw is what the other two classes leave over; its difference adds little to a report.
        *(f"share_{c.value}" for c in OutcomeClass if c is not OutcomeClass.FRAGILE_THAW),
    ]
    differences = [
        _figure(
            difference_plot(comparison.differences, m),
            plots,
            f"difference_{m}",
            _difference_caption(comparison, m),
        )
        for m in difference_metrics
    ]
    notes = [
        f"{label} was not run on common random numbers with {labels[0]} ({reason}), so it is compared unpaired: "
        "the intervals are wider and include run-to-run noise."
        for label, reason in comparison.unpaired.items()
    ]
    if thresholds is None:
        notes.append(
            "The scenarios classify their runs by different thresholds, so no threshold lines are drawn on the "
            "shared charts; each scenario's rules are given with the outcome classes."
        )
    facts = [_scenario_facts(b, label) for b, label in zip(batches, labels, strict=True)]
    context = _base_context(
        f"Scenario comparison: {', '.join(labels)}",
        f"Each scenario against {labels[0]}, the reference",
        facts,
        notes,
    )
    shown = comparison.differences[comparison.differences["metric"].isin(difference_metrics)]
    context |= {
        "class_rows": _class_rows(runs_by_label),
        "class_rules": _class_rules(rules),
        "decomposition": _decomposition(runs_by_label, rules),
        "outcome_rows": _outcome_rows(runs_by_label, chosen),
        "difference_rows": _difference_rows(Comparison(comparison.labels, shown, comparison.unpaired)),
        "reference": labels[0],
        "figure_groups": [
            {"title": "Outcomes over time", "figures": fans},
            {"title": "Differences from the reference", "figures": differences},
            {"title": "Outcome classes", "figures": classes},
            {"title": "At the horizon", "figures": horizon},
        ],
    }
    (folder / REPORT).write_text(render(context), encoding="utf-8")
    return comparison


def write_comparison(
    results: Sequence[str | Path],
    out: Path | None = None,
    *,
    force: bool = False,
    outcomes: Sequence[str] | None = None,
) -> tuple[Comparison, Path]:
    """Compare results folders (the first is the reference) into a fresh folder; return it and the comparison.

    The default folder is ``compare_<a>_<b>...`` beside the first results folder.
    """
    paths = [Path(p) for p in results]
    if len(paths) < 2:
        raise AnalysisError("compare: expected at least two results folders")
    labels = labels_for(paths)
    batches = [open_results(p) for p in paths]
    chosen = _outcomes(outcomes)
    for name in chosen:
        resolve_metric(name)
    target = out if out is not None else paths[0].parent / ("compare_" + "_".join(p.name for p in paths))
    about = {"command": "compare", "results": [str(p) for p in paths], "outcomes": chosen}
    with fresh_folder(target, force=force, about=about) as folder:
        comparison = build_comparison(batches, labels, folder, outcomes=chosen)
    return comparison, target
