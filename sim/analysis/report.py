"""Self-contained HTML reports of one batch or of a scenario comparison, with their plots as PNG and SVG.

``report.html`` embeds every image as a base64 PNG and carries its own CSS (with print rules), so the page
reads offline, can be mailed as one file, and prints as a class handout; it refers to nothing outside itself.
The same plots are written beside it under ``plots/`` in PNG and SVG for slides and papers. Nothing in a
report depends on the time it was made, so the same results give the same files.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from sim.analysis.compare import CONFIDENCE, Comparison, class_probabilities, compare, timeseries_difference
from sim.analysis.figures import Drawn, FigureJob, draw_all, fanned
from sim.analysis.formats import decimals_for, difference_unit, estimate, interval, number, percent, points
from sim.outcomes import KEY_OUTCOMES, OUTCOMES, OutcomeClass
from sim.plots import (
    EventMarker,
    difference_over_time,
    difference_plot,
    fan_chart,
    horizon_distribution,
    metric_text,
    outcome_class_shares,
    save_figure,
)
from sim.provenance import Provenance, package_version
from sim.results import Batch
from sim.scenario import Scenario

if TYPE_CHECKING:  # only for annotations: discovery would load scikit-learn for every report
    from sim.analysis.discovery import Discovery
    from sim.designs import Design

__all__ = [
    "REPORT",
    "build_comparison",
    "build_discovery_page",
    "build_report",
    "build_robust_page",
    "build_sensitivity_page",
    "render",
    "write_comparison",
    "write_report",
]

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


def _figure(
    ax: Axes, folder: Path, name: str, caption: str, provenance: Provenance | None = None
) -> dict[str, Any]:
    """Save ``ax``'s figure as PNG and SVG under ``folder`` (carrying ``provenance``) and return it as an entry
    of the template."""
    title = ax.get_title()
    return _entry(Drawn(title, tuple(save_figure(ax, folder / name, FORMATS, provenance=provenance))), caption)


def page_command(command: str, results: Sequence[Path], outcomes: Sequence[str] | None = None) -> str:
    """The command line that writes a report or comparison page of ``results`` again (``outcomes``: those
    asked for with --outcome). Where the page goes is left out: the page is the same wherever it is written."""
    words = ["rapprochement", command, *(str(p) for p in results)]
    for outcome in outcomes or ():
        words += ["--outcome", outcome]
    return shlex.join(words)


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
        # Where the batch comes from, for the page's footer (see _base_context).
        "origin": Provenance.from_manifest(manifest),
    }


def _class_rows(runs_by_label: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    table = class_probabilities(runs_by_label)
    rows = []
    for label in runs_by_label:
        part = table[table["scenario"] == label]
        cells = [
            estimate(100.0 * float(r["share"]), 100.0 * float(r["ci_low"]), 100.0 * float(r["ci_high"]), "%")
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
    return f"{percent(count / runs)} ({count})" if runs else "n/a"


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
            f"{what} but institutions not: {percent(d.index_only)} of runs ({only} of {d.runs}), fragile "
            "thaws that only their institutionalisation kept from being durable."
        )
    return {"header": header, "rows": rows, "sentences": sentences}


def _outcome_rows(runs_by_label: dict[str, pd.DataFrame], outcomes: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for metric in ["window_relations_index", *(f"final_{o}" for o in outcomes)]:
        label, unit = metric_text(metric)
        cells = []
        for runs in runs_by_label.values():
            p05, p50, p95 = np.quantile(runs[metric].to_numpy(dtype=float), [0.05, 0.5, 0.95])
            cells.append(estimate(float(p50), float(p05), float(p95), decimals=decimals_for(unit)))
        rows.append({"label": label, "unit": unit, "cells": cells})
    return rows


def _difference_rows(comparison: Comparison) -> list[dict[str, Any]]:
    rows = []
    for r in comparison.differences.to_dict("records"):
        scale, short = difference_unit(str(r["unit"]))
        low, mid, high = (float(r[key]) * scale for key in ("ci_low", "difference", "ci_high"))
        decimals = decimals_for(str(r["unit"]))
        rows.append(
            {
                "scenario": r["scenario"],
                "label": r["label"],
                "unit": _UNIT_WORDS.get(short, r["unit"]),
                "difference": points(mid, decimals=decimals, signed=True),
                "interval": interval(low, high, decimals=decimals, signed=True),
                "method": r["method"],
                "n": r["n"],
            }
        )
    return rows


#: The unit column of the differences table, in words.
_UNIT_WORDS = {"pp": "percentage points", "points": "index points"}


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


def _difference_over_time_caption(reference: str, unpaired: Sequence[str]) -> str:
    """The caption of an outcome's difference-over-time figure: how each scenario's line was computed."""
    paired_text = (
        f"Each scenario minus {reference}, month by month: the line is the median of the differences between "
        "runs on the same seeds (common random numbers), the band their 5th-95th percentiles, the spread of the "
        "scenario's effect across replications; the dashed line marks no difference."
    )
    if not unpaired:
        return paired_text
    names = ", ".join(unpaired)
    return (
        f"{paired_text} {names} {'was' if len(unpaired) == 1 else 'were'} not run on the same seeds as "
        f"{reference}, so no per-replication difference exists: the dashed line is the difference of the medians, "
        "without a band."
    )


_FAN_CAPTION = (
    "Median (line) and 50 % and 90 % bands of the runs, month by month; dotted lines mark the scenario's dated "
    "events, dashed lines the outcome-class thresholds where they apply (on the relations index they judge the "
    "mean of a run's last year, not single months). The value axis is narrowed to where the runs lie unless they "
    "span most of the outcome's scale."
)
_COMPARISON_FAN_NOTE = (
    " One fan per scenario: the 50 % band is lightly tinted and the 90 % band outlined (dashed), so overlapping "
    "scenarios stay apart; numbered markers at the top are the events, listed with their dates below the plot."
)
_HORIZON_CAPTION = (
    "Final values across runs: box 25th-75th percentile, whiskers 5th-95th, line the median, diamond the mean; "
    "dashed lines mark the outcome-class thresholds where they apply."
)
_REGIMES_CAPTION = (
    "Trade normalisation moves in steps as measures are imposed and lifted: the share of runs with each trade "
    "measure, GSOMIA and the compensation settlement in force, month by month (instead of the index's fan). "
    "Measures in force in no run are named under the chart."
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


def _base_context(
    title: str, subtitle: str, facts: list[dict[str, Any]], notes: list[str], *, command: str = ""
) -> dict[str, Any]:
    """The fields every page has; ``facts``: its scenarios (:func:`_scenario_facts`), ``command``: the command
    line that writes the page, if it is not the one that ran its batch.

    The footer names the version that computed the results, their creation date and the command of each batch
    (and of the page): all from the manifests, so the same results still give the same page.
    """
    origins = [f["origin"] for f in facts if isinstance(f.get("origin"), Provenance)]
    commands = [
        {"what": f"Results of {f['label']}", "command": f["origin"].command}
        for f in facts
        if isinstance(f.get("origin"), Provenance) and f["origin"].command
    ]
    if command:
        commands.append({"what": "This page", "command": command})
    versions = list(dict.fromkeys(o.version for o in origins)) or [package_version()]
    dates = list(dict.fromkeys(d for o in origins for d in o.created if d)) or ["unknown"]
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
            "scenarios on the same seeds before absolute levels."
        ),
        "about": {
            "version": ", ".join(versions),
            "date": ", ".join(dates),
            "commands": commands,
        },
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
    a fan (but for the step outcomes) and its distribution at the horizon, then the class shares, the class map
    and, for a step outcome, the share of runs with each measure in force, as PNG and SVG under ``folder/plots``.
    The fans come first (a batch's finishing shares them with its standard plots). Every figure carries the
    batch's provenance (from its manifest), as its standard plots do."""
    name = label or batch.path.name
    plots, origin = folder / PLOTS, Provenance.from_manifest(batch.manifest)
    chosen = _outcomes(outcomes)
    jobs = [
        FigureJob(batch.path, "fan", plots / f"fan_{o}", FORMATS, o, name, provenance=origin)
        for o in fanned(chosen)
    ]
    jobs += [
        FigureJob(batch.path, "horizon", plots / f"horizon_{o}", FORMATS, o, name, provenance=origin)
        for o in _outcomes(outcomes)
    ]
    jobs.append(
        FigureJob(batch.path, "classes", plots / "outcome_classes", FORMATS, label=name, provenance=origin)
    )
    jobs.append(FigureJob(batch.path, "class_map", plots / "class_map", FORMATS, label=name, provenance=origin))
    if len(fanned(chosen)) < len(chosen):  # a step outcome: its measures, as steps
        stem = plots / "measures_in_force"
        jobs.append(FigureJob(batch.path, "regimes", stem, FORMATS, label=name, provenance=origin))
    return jobs


def build_report(
    batch: Batch,
    folder: Path,
    *,
    outcomes: Sequence[str] | None = None,
    label: str | None = None,
    drawn: Sequence[Drawn] | None = None,
    shown_path: Path | None = None,
    command: str | None = None,
) -> Path:
    """Write ``report.html`` of one batch into ``folder``, with the figures of :func:`report_figures` (PNG and SVG
    under ``folder/plots``): ``drawn``, when they were drawn elsewhere (a worker pool), else drawn here.

    ``label`` names the batch and ``shown_path`` is where the page says its results are (defaults: its folder's
    name and path, which a batch still in its staging folder does not have yet); ``command`` is the command line
    the footer names for the page (default: ``rapprochement report`` of that path, which writes the same page).
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
    n, k = len(fanned(chosen)), len(chosen)
    fans, horizon, classes = entries[:n], entries[n : n + k], entries[n + k : n + k + 2]
    fans += entries[n + k + 2 :]  # the measures in force, beside the fans
    facts = [_scenario_facts(batch, label, shown_path)]
    notes = [uncertainty_note(scenario, runs)]
    if facts[0]["failed"]:
        notes.append(f"{facts[0]['failed']} runs failed and are left out of every figure and number.")
    context = _base_context(
        f"Simulated futures: {label}",
        f"{len(runs)} Monte-Carlo runs from {shown_path or batch.path}",
        facts,
        notes,
        command=command if command is not None else page_command("report", [shown_path or batch.path]),
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
    return _write_page(folder, context)


def _report_captions(outcomes: Sequence[str], rules: str) -> list[str]:
    """The captions of :func:`report_figures`' figures, in its order; ``rules``: the class rules in words."""
    classes = [f"{_CLASS_CAPTION} {rules}", _CLASS_MAP_CAPTION]
    steps = [_REGIMES_CAPTION] if len(fanned(outcomes)) < len(outcomes) else []
    return [_FAN_CAPTION] * len(fanned(outcomes)) + [_HORIZON_CAPTION] * len(outcomes) + classes + steps


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
        build_report(batch, folder, outcomes=chosen, command=page_command("report", [batch.path], outcomes))
    return target


# --------------------------------------------------------------------------- a comparison


def build_comparison(
    batches: Sequence[Batch],
    labels: Sequence[str],
    folder: Path,
    *,
    outcomes: Sequence[str] | None = None,
    command: str | None = None,
) -> Comparison:
    """Compare batches (the first is the reference) into ``folder``: CSVs, plots and ``report.html``.

    Writes ``differences.csv`` (every metric, paired where the batches share common random numbers),
    ``classes.csv`` (outcome-class probabilities with Wilson intervals), ``plots/`` and ``report.html``.
    ``command`` is the command line that writes the comparison (default: ``rapprochement compare`` of the
    batches' folders); the figures carry it with every batch's provenance.
    """
    chosen = _outcomes(outcomes)
    if command is None:
        command = page_command("compare", [b.path for b in batches], outcomes)
    origin = Provenance.combine([Provenance.from_manifest(b.manifest) for b in batches], command=command)
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
            _FAN_CAPTION + _COMPARISON_FAN_NOTE,
            origin,
        )
        for o in chosen
    ]
    # Beside each fan, the scenarios' differences from the reference over time (paired where the seeds agree).
    over_time_caption = _difference_over_time_caption(labels[0], list(comparison.unpaired))
    over_time = [
        _figure(
            difference_over_time(
                {
                    label: timeseries_difference(batches[0], batch, o, paired=label not in comparison.unpaired)
                    for batch, label in zip(batches[1:], labels[1:], strict=True)
                },
                o,
                labels[0],
                events=events,
            ),
            plots,
            f"difference_over_time_{o}",
            over_time_caption,
            origin,
        )
        for o in chosen
    ]
    horizon = [
        _figure(
            horizon_distribution(runs, o, thresholds=thresholds), plots, f"horizon_{o}", _HORIZON_CAPTION, origin
        )
        for o in chosen
    ]
    class_caption = f"{_CLASS_CAPTION} {' '.join(_class_rules(rules))}"
    classes = [_figure(outcome_class_shares(runs), plots, "outcome_classes", class_caption, origin)]
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
            origin,
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
        command=command,
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
            {
                "title": f"Outcomes over time, and their difference from {labels[0]}",
                "figures": [figure for pair in zip(fans, over_time, strict=True) for figure in pair],
            },
            {"title": "Differences from the reference", "figures": differences},
            {"title": "Outcome classes", "figures": classes},
            {"title": "At the horizon", "figures": horizon},
        ],
    }
    _write_page(folder, context)
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
        command = page_command("compare", paths, outcomes)
        comparison = build_comparison(batches, labels, folder, outcomes=chosen, command=command)
    return comparison, target


# --------------------------------------------------------------------------- sensitivity and discovery pages


def _index(value: float) -> str:
    """A sensitivity index or importance with two decimals (``n/a`` where it could not be estimated)."""
    return number(value, decimals=2)


def _interval(value: float, half_width: float) -> str:
    """A value with its interval in the same format: ``0.42 [0.35, 0.49]`` (SALib gives half-widths)."""
    if not np.isfinite(half_width):
        return _index(value)
    return estimate(value, value - half_width, value + half_width, decimals=2)


def _names(factors: Sequence[str]) -> str:
    """Factor names as a list in words: ``a``, ``a and b``, ``a, b and c``."""
    return factors[0] if len(factors) == 1 else f"{', '.join(factors[:-1])} and {factors[-1]}"


def _analysis_figure(drawn: Drawn, caption: str, folder: Path) -> dict[str, Any]:
    """A figure saved anywhere in ``folder`` as a template entry (the batch pages keep theirs under ``plots/``)."""
    return _entry(drawn, caption) | {"files": [p.relative_to(folder).as_posix() for p in drawn.paths]}


#: A Sobol factor whose total index is at least this but whose first-order index is under a fifth of it
#: matters (almost) only through interactions; a total index below it even at its interval's top is negligible.
_SOBOL_MATTERS = 0.05
_INTERACTION_ONLY = 0.2
#: A Morris factor whose mu_star (with its interval) is below this share of the largest is negligible.
_MORRIS_NEGLIGIBLE = 0.05
#: Above this share of the point means' variance, replication noise may reorder close factors.
_NOISY = 0.1


def _analysis_figures(title: str, drawn: Sequence[tuple[Drawn, str]], folder: Path) -> list[dict[str, Any]]:
    """One titled group of an analysis page's figures (no group without figures, as with ``--no-plots``)."""
    if not drawn:
        return []
    return [{"title": title, "figures": [_analysis_figure(d, caption, folder) for d, caption in drawn]}]


def _write_page(folder: Path, context: dict[str, Any]) -> Path:
    """Render ``context`` as ``report.html`` in ``folder`` and return its path (every page is written here)."""
    path = folder / REPORT
    path.write_text(render(context), encoding="utf-8")
    return path


def _sobol_reading(part: pd.DataFrame) -> list[str]:
    """Plain-language sentences on one output's Sobol indices (``part`` ranked by ST)."""
    s1 = part["S1"].clip(lower=0.0).fillna(0.0)  # small negative estimates are sampling error around 0
    top = part.head(3)
    first = _names(list(top["factor"]))
    who = f"The first {len(top)} factors ({first})" if len(part) > len(top) else f"The factors ({first})"
    if len(part) == 1:
        who = f"The only factor, {first},"
    alone, together = float(s1.head(3).sum()), float(s1.sum())
    sentence = f"{who} explain {percent(alone)} of the output's variance on their own"
    if len(part) == 1:
        sentence = sentence.replace(" explain ", " explains ").replace(" on their own", " on its own")
    if len(part) > len(top):
        sentence += f"; the first-order indices of all {len(part)} add up to {percent(together)}"
    rest = 1.0 - together
    sentence += (
        f", so about {percent(rest)} comes from interactions."
        if rest >= _SOBOL_MATTERS
        else ", so interactions add little or nothing."
    )
    sentences = [sentence]
    for row in part.to_dict("records"):
        st, first_order = float(row["ST"]), max(float(row["S1"]), 0.0)
        if st >= _SOBOL_MATTERS and first_order < _INTERACTION_ONLY * st:
            sentences.append(
                f"{row['factor']} matters only through interactions: its total index ST is {_index(st)} but its "
                f"first-order index S1 only {_index(first_order)}, so its effect depends on the other factors."
            )
    negligible = [str(r["factor"]) for r in part.to_dict("records") if r["ST"] + r["ST_conf"] < _SOBOL_MATTERS]
    if negligible:
        verb = "has" if len(negligible) == 1 else "have"
        sentences.append(
            f"{_names(negligible)} {verb} a total index below {_SOBOL_MATTERS:.2f} even at the top of the "
            "interval: fixing them anywhere in their ranges would change little."
        )
    return sentences


def _morris_reading(part: pd.DataFrame) -> list[str]:
    """Plain-language sentences on one output's Morris screening (``part`` ranked by mu_star)."""
    total = float(part["mu_star"].sum())
    # With three factors or fewer "the first three" would be all of them (100 %): name the leading one instead.
    top = part.head(3) if len(part) > 3 else part.head(1)
    share = percent(float(top["mu_star"].sum()) / total)
    who = (
        f"The first three factors ({_names(list(top['factor']))}) account"
        if len(top) == 3
        else f"{top['factor'].iloc[0]} alone accounts"
    )
    sentences = [
        f"{who} for {share} of the summed mu_star (the mean absolute change of the output when a factor moves "
        "across its range)."
    ]
    largest = float(part["mu_star"].max())
    for row in part.to_dict("records"):
        if row["mu_star"] >= _MORRIS_NEGLIGIBLE * largest and row["sigma"] > row["mu_star"]:
            sentences.append(
                f"{row['factor']} acts through interactions or non-linearly: its effects spread more (sigma "
                f"{_index(row['sigma'])}) than their mean size (mu_star {_index(row['mu_star'])}); Morris "
                "screening cannot tell which."
            )
    negligible = [
        str(r["factor"])
        for r in part.to_dict("records")
        if r["mu_star"] + r["mu_star_conf"] < _MORRIS_NEGLIGIBLE * largest
    ]
    if negligible:
        sentences.append(
            f"{_names(negligible)}: effects below {_MORRIS_NEGLIGIBLE:.0%} of the largest even at the top of the "
            "interval, so fixing them would change little.".replace("%", " %")
        )
    return sentences


def _noise_text(noise: float, replications: int) -> str:
    """What the noise share of one output says about its indices."""
    if not np.isfinite(noise):
        return (
            f"n/a: with {replications} replication per point the model's own randomness cannot be told from the "
            "factors' effects; run more than one (--runs)."
        )
    text = (
        f"{percent(noise)} of the variance of the point means is replication noise that common random numbers "
        f"do not cancel (at least {replications} replications per point)."
    )
    if noise > _NOISY:
        return text + " That is not small: close factors may swap places; add --runs before reading fine ranks."
    return text + " Small: the ranking reflects the model's response, not chance."


def _sensitivity_output(part: pd.DataFrame, sobol: bool) -> dict[str, Any]:
    """One output's table of the page: ranked rows with formatted cells, its noise share and a reading."""
    metric = str(part["output"].iloc[0])
    label, unit = metric_text(metric)
    key = "ST" if sobol else "mu_star"
    part = part.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
    rows = []
    for rank, r in enumerate(part.to_dict("records"), start=1):
        if sobol:
            cells = [_interval(r["ST"], r["ST_conf"]), _interval(r["S1"], r["S1_conf"])]
        else:
            cells = [
                _interval(r["mu_star"], r["mu_star_conf"]),
                _index(r["sigma"]),
                _index(r["mu"]),
            ]
        rows.append({"rank": rank, "factor": r["factor"], "cells": cells})
    header = (
        ["ST (total, with interactions)", "S1 (first order, alone)"]
        if sobol
        else [f"mu_star ({unit or 'output units'})", "sigma", "mu (signed)"]
    )
    reading = _sobol_reading(part) if sobol else _morris_reading(part)
    noise, replications = float(part["noise_share"].iloc[0]), int(part["replications"].iloc[0])
    return {
        "label": label,
        "key": "total index ST" if sobol else "mu_star",
        "header": header,
        "rows": rows,
        "noise": _noise_text(noise, replications),
        "reading": reading,
    }


_SOBOL_EXPLAIN = (
    "S1 is the share of the output's variance a factor explains alone; ST its share including every interaction "
    "with the other factors. ST well above S1 means the factor acts through interactions; the sum of the S1 is "
    "what the factors explain additively. Indices are computed on the mean of each design point's replications."
)
_MORRIS_EXPLAIN = (
    "mu_star is the mean absolute change of the output when a factor moves across its whole range (in the "
    "output's units), a screening measure of importance; sigma, the spread of those changes, is large against "
    "mu_star when the effect is non-linear or depends on other factors; mu, the signed mean, shows the "
    "direction. Effects are computed on the mean of each design point's replications."
)
_INTERVAL_EXPLAIN = (
    "Intervals are SALib's 95 % bootstrap intervals; they cover the sampling of the design, not the replication "
    "noise left in each point's mean, which the noise share measures."
)


def build_sensitivity_page(
    batch: Batch,
    design: Design,
    table: pd.DataFrame,
    notes: Sequence[str],
    folder: Path,
    drawn: Sequence[Drawn] = (),
) -> Path:
    """Write ``report.html`` of a sensitivity analysis into ``folder`` and return its path.

    ``table`` holds the stacked indices of :func:`sim.analysis.sensitivity.sensitivity_table` (``notes``: the
    outputs it skipped), ``design`` the sweep's design and ``drawn`` the bar chart of each output, in the
    table's output order (none with ``--no-plots``).
    """
    from sim.analysis.discovery import short_names  # here, not above: that module loads scikit-learn

    sobol = "ST" in table.columns
    method = "Sobol" if sobol else "Morris"
    names = short_names([f.path for f in design.factors])
    outputs = [_sensitivity_output(part, sobol) for _, part in table.groupby("output", sort=False)]
    label = batch.path.name
    replications = batch.manifest.get("replications") or (batch.manifest.get("identity") or {}).get("runs", "?")
    setup = [
        {"name": "Scenario", "value": str(batch.manifest.get("scenario", "?"))},
        {"name": "Sweep", "value": str(batch.path)},
        {"name": "Design", "value": f"{method}, {len(design.points)} points over {len(design.factors)} factors"},
        {"name": "Runs per point", "value": str(replications)},
        {"name": "Outputs", "value": ", ".join(o["label"] for o in outputs)},
        {"name": "Seeds", "value": f"root seed {batch.manifest.get('root_seed')}, design seed {design.seed}"},
    ]
    factors = [
        {"name": names[f.path], "path": f.path, "low": f"{f.low:g}", "high": f"{f.high:g}"} for f in design.factors
    ]
    caption = (
        "Factors ranked by their total-order index ST (blue) beside their first-order index S1 (orange), with "
        "95 % bootstrap intervals; both are shares of the output's variance."
        if sobol
        else "Factors ranked by mu_star, the mean absolute change of the output per whole factor range, with 95 % "
        "bootstrap intervals."
    )
    context = _base_context(
        f"Sensitivity analysis: {label}",
        f"{method} indices of {len(outputs)} output{'s' if len(outputs) != 1 else ''} over "
        f"{len(design.factors)} factors, from {batch.path}",
        [_scenario_facts(batch, label)],
        [f"{note}: it is left out." for note in notes],
    )
    context |= {
        "sensitivity": {
            "setup": setup,
            "factors": factors,
            "explain": [_SOBOL_EXPLAIN if sobol else _MORRIS_EXPLAIN, _INTERVAL_EXPLAIN],
            "confidence": "95 %",
            "outputs": outputs,
        },
        "figure_groups": _analysis_figures("Rankings", [(d, caption) for d in drawn], folder),
    }
    return _write_page(folder, context)


def build_discovery_page(
    batch: Batch,
    discovery: Discovery,
    folder: Path,
    drawn: Drawn,
    *,
    max_depth: int,
    min_leaf: float,
    min_lift: float,
) -> Path:
    """Write ``report.html`` of a scenario discovery into ``folder`` and return its path.

    ``drawn`` is the plot of the runs with the first rule's box; ``max_depth``, ``min_leaf`` and ``min_lift``
    are the settings the rules were found with (see :func:`sim.analysis.discovery.discover`).
    """
    target = discovery.target.replace("_", " ")
    label = batch.path.name
    rules = ClassRules.of(scenario_of(batch))
    setup = [
        {"name": "Target class", "value": target},
        {"name": "How a run is classed", "value": rules.describe()},
        {"name": "Runs", "value": f"{discovery.runs} finished, from {batch.path}"},
        {"name": "Base rate", "value": f"{percent(discovery.base_rate)} ({discovery.hits} runs end in {target})"},
        {
            "name": "Rule threshold",
            "value": (
                f"a rule must be at least {min_lift:g} times as dense as the whole space "
                f"({percent(min_lift * discovery.base_rate)}), limit at most {max_depth} parameters and hold at "
                f"least {percent(min_leaf)} of the runs"
            ),
        },
    ]
    explain = [
        f"Density: of the runs inside a rule's box, the share that end in {target}; compare it with the base "
        f"rate of {percent(discovery.base_rate)}.",
        f"Coverage: of all runs that end in {target}, the share inside the box; rules are disjoint, so their "
        "coverages add up.",
        "Both are measured on the runs the tree was fitted to, so they flatter the rules somewhat: check a rule "
        "on a fresh sweep with another seed.",
    ]
    found = [
        {
            "number": i,
            "conditions": rule.conditions(discovery.names),
            "density": percent(rule.density),
            "coverage": percent(rule.coverage),
            "runs": rule.runs,
            "hits": rule.hits,
            # Rule.sentence rounds to whole percent for the terminal; the page keeps the table's one decimal.
            "sentence": (
                f"where {rule.conditions(discovery.names)}, {percent(rule.density)} of runs end in {target}; "
                f"the box holds {percent(rule.coverage)} of all runs that do ({rule.hits} of {discovery.hits})"
            ),
        }
        for i, rule in enumerate(discovery.rules, start=1)
    ]
    factors = [
        {
            "name": discovery.names.get(f, f),
            "path": f,
            "importance": _index(discovery.importances.get(f, 0.0)),
        }
        for f in sorted(discovery.factors, key=lambda f: -discovery.importances.get(f, 0.0))
    ]
    caption = (
        f"Runs in the plane of the first rule's parameters (one marker per design point when points are "
        f"replicated, coloured by the share of its runs that end in {target}); the dashed rectangle is the rule's "
        "box."
        if discovery.rules
        else f"Runs in the plane of the tree's two most important parameters, coloured by whether they end in "
        f"{target}; no rule was found, so no box is drawn."
    )
    context = _base_context(
        f"Scenario discovery: {target} in {label}",
        f"Which sampled parameters lead to {target}: {len(found)} rule{'s' if len(found) != 1 else ''} from "
        f"{discovery.runs} runs",
        [_scenario_facts(batch, label)],
        [],
    )
    context |= {
        "discovery": {
            "target": target,
            "setup": setup,
            "explain": explain,
            "rules": found,
            "none": f"No box of parameters leads to {target} at least {min_lift:g} times as often as the whole "
            "space does: the sampled parameters do not explain it.",
            "factors": factors,
        },
        "figure_groups": _analysis_figures("Runs and the first rule", [(drawn, caption)], folder),
    }
    return _write_page(folder, context)


def build_robust_page(
    folder: Path,
    *,
    title: str,
    subtitle: str,
    scenario: dict[str, Any],
    robust: dict[str, Any],
    drawn: Sequence[tuple[Drawn, str]] = (),
    command: str = "",
) -> Path:
    """Write ``report.html`` of a robust policy search into ``folder`` and return its path.

    ``scenario`` holds the facts of the scenario section (label, description, path, start, months, runs, failed,
    seed, hash, overrides, origin); ``robust`` the search's section (see the template's ``robust`` block: setup,
    levers, metrics, explain, the Pareto table, the re-evaluation table and the discovery sentences); ``drawn``
    the figures with their captions (none with ``--no-plots``); ``command`` the command that ran the search.
    """
    context = _base_context(title, subtitle, [scenario], [], command=command)
    context["footer"] = (
        "Model projections under the scenario's assumptions, not forecasts: a policy's metrics describe how it "
        "fares across the futures sampled here, and the fresh re-evaluation is the figure to quote."
    )
    context |= {
        "robust": robust,
        "figure_groups": _analysis_figures("Figures", drawn, folder),
    }
    return _write_page(folder, context)
