"""Scenario discovery: which assumptions lead to an outcome class (by default, relapse)?

Scenario discovery (Bryant & Lempert 2010) looks for simple boxes in the space of uncertain parameters - limits
on a few of them - inside which most runs end in the outcome of interest (high *density*) and which hold most
of the runs that end in it (high *coverage*). Here the boxes come from a CART decision tree (Breiman et al.
1984, scikit-learn's ``DecisionTreeClassifier``) fitted to the runs' sampled parameters: every node of the tree
is a box (the conjunction of the splits on its path). Boxes are ranked by the harmonic mean of density and
coverage (the F1 score of the box as a classifier of the outcome), the same trade-off PRIM's peeling
trajectory offers; rules are chosen greedily, each further one disjoint from the earlier ones and covering
target runs they miss (PRIM's covering strategy). Each rule is reported in plain language with its density,
coverage and number of runs.

Input is any results folder whose runs carry sampled parameters (``param:<path>`` columns): a sweep, or a
batch of a scenario with ``uncertainties``.
:func:`write_discovery` writes the rules as ``rules.csv`` and as a self-contained ``report.html``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from sim.analysis.common import AnalysisError, finished_runs, fresh_folder, ok_runs
from sim.analysis.figures import Drawn
from sim.analysis.report import build_discovery_page
from sim.outcomes import OutcomeClass
from sim.plots import discovery_plot, save_figure
from sim.provenance import Provenance
from sim.results import Batch

__all__ = ["Discovery", "Rule", "discover", "write_discovery"]

PARAM_PREFIX = "param:"
#: How many times as dense as the whole space a box must be to count as a rule.
MIN_LIFT = 1.5


@dataclass(frozen=True)
class Rule:
    """A box in parameter space: per parameter path, the (low, high] it is limited to (infinite when open)."""

    limits: dict[str, tuple[float, float]]
    runs: int  # runs inside the box
    hits: int  # of which ended in the target class
    density: float  # hits / runs: how often the box leads to the target
    coverage: float  # hits / all target runs: how much of the target the box explains

    def contains(self, params: pd.DataFrame) -> np.ndarray:
        """Which rows of ``params`` (columns named by path) lie in the box."""
        inside = np.ones(len(params), dtype=bool)
        for path, (low, high) in self.limits.items():
            values = params[path].to_numpy(dtype=float)
            inside &= (values > low) & (values <= high)
        return inside

    def conditions(self, names: dict[str, str] | None = None) -> str:
        """The box as conditions, e.g. ``nk_provocation_rate <= 1.2 and 0.1 < us_engagement <= 0.4``."""
        names = names or {}
        parts = []
        for path, (low, high) in self.limits.items():
            name = names.get(path, path)
            if math.isfinite(low) and math.isfinite(high):
                parts.append(f"{low:.3g} < {name} <= {high:.3g}")
            elif math.isfinite(high):
                parts.append(f"{name} <= {high:.3g}")
            else:
                parts.append(f"{name} > {low:.3g}")
        return " and ".join(parts) if parts else "any parameters"

    def sentence(self, target: str, names: dict[str, str] | None = None) -> str:
        """The rule in plain language, with its density and coverage."""
        what = target.replace("_", " ")
        plural = what if what.endswith("s") else f"{what}s"
        return (
            f"{self.conditions(names)} → {what} in {self.density:.0%} of runs, covering {self.coverage:.0%} of "
            f"{plural} ({self.runs} runs in the box)"
        ).replace("%", " %")


@dataclass(frozen=True)
class Discovery:
    """The rules found for ``target`` and what they were found in."""

    target: str
    rules: list[Rule]
    runs: int
    hits: int
    factors: list[str]
    importances: dict[str, float] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # short display name of each factor

    @property
    def base_rate(self) -> float:
        """Share of all runs that end in the target (the density of the whole space)."""
        return self.hits / self.runs

    def table(self) -> pd.DataFrame:
        """One row per rule: its text, density, coverage, runs and hits, and the limits per parameter."""
        rows = []
        for i, rule in enumerate(self.rules, start=1):
            row: dict[str, object] = {
                "rule": i,
                "text": rule.sentence(self.target, self.names),
                "conditions": rule.conditions(),
                "density": rule.density,
                "coverage": rule.coverage,
                "runs": rule.runs,
                "hits": rule.hits,
            }
            for path in self.factors:
                low, high = rule.limits.get(path, (-math.inf, math.inf))
                row[f"low:{path}"], row[f"high:{path}"] = low, high
            rows.append(row)
        return pd.DataFrame(rows)


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix of each path that no other path shares (``seoul.nationalist_weight``)."""
    names = {}
    for path in paths:
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            suffix = ".".join(parts[-depth:])
            if sum(1 for other in paths if other == suffix or other.endswith("." + suffix)) == 1:
                names[path] = suffix
                break
        else:
            names[path] = path
    return names


def _node_boxes(tree: DecisionTreeClassifier, factors: list[str]) -> list[dict[str, tuple[float, float]]]:
    """The box of every node of a fitted tree (left child: feature <= threshold; right: feature > threshold)."""
    structure = tree.tree_
    boxes: list[dict[str, tuple[float, float]]] = [{} for _ in range(structure.node_count)]
    for node in range(structure.node_count):  # parents precede children in scikit-learn's numbering
        left, right = structure.children_left[node], structure.children_right[node]
        if left == -1:
            continue
        path, threshold = factors[structure.feature[node]], float(structure.threshold[node])
        low, high = boxes[node].get(path, (-math.inf, math.inf))
        boxes[left] = boxes[node] | {path: (low, min(high, threshold))}
        boxes[right] = boxes[node] | {path: (max(low, threshold), high)}
    return boxes


def discover(
    runs: pd.DataFrame,
    target: str = OutcomeClass.RELAPSE.value,
    *,
    max_depth: int = 3,
    min_leaf: float = 0.05,
    max_rules: int = 3,
    min_lift: float = MIN_LIFT,
    seed: int = 0,
) -> Discovery:
    """Find up to ``max_rules`` boxes of sampled parameters in which runs tend to end in ``target``.

    ``runs`` needs ``outcome_class`` and ``param:<path>`` columns (those that vary are the candidate factors).
    The tree has at most ``max_depth`` levels (so a rule limits at most that many parameters) and every leaf
    at least ``min_leaf`` of the runs (so a rule never rests on a handful of runs); classes are weighted so a
    rare outcome still shapes the splits. The tree is deterministic for ``seed``. A rule's density must be at
    least ``min_lift`` times the base rate (a box barely denser than the whole space explains nothing). The
    first rule maximises the F1 score of density and coverage; each next one, disjoint from the earlier ones
    (so coverages add up), the F1 score on the target runs not yet covered. Raises :class:`AnalysisError` for
    an unknown target, no varying parameters, or a target that no run (or every run) ends in.
    """
    classes = [c.value for c in OutcomeClass]
    if target not in classes:
        raise AnalysisError(f"--target {target!r}: expected an outcome class ({', '.join(classes)})")
    if not 1 <= max_depth <= 10:
        raise AnalysisError(f"--max-depth: expected a whole number from 1 to 10, got {max_depth}")
    if min_lift < 1.0:
        raise AnalysisError(
            f"min_lift: expected a number >= 1 (a rule denser than the whole space), got {min_lift}"
        )
    if not 0.0 < min_leaf < 0.5:
        raise AnalysisError(f"--min-leaf: expected a share of runs between 0 and 0.5, got {min_leaf}")
    runs = finished_runs(runs)
    columns = [c for c in runs.columns if c.startswith(PARAM_PREFIX) and runs[c].nunique(dropna=True) > 1]
    if not columns:
        raise AnalysisError(
            "the runs have no sampled parameters that vary (no param: columns); run a sweep, or a scenario "
            "with uncertainties"
        )
    params = runs[columns].astype(float).rename(columns=lambda c: c.removeprefix(PARAM_PREFIX))
    params = params.reset_index(drop=True)
    factors = list(params.columns)
    hit = (runs["outcome_class"].astype(str) == target).to_numpy()
    total = int(hit.sum())
    if total == 0 or total == len(hit):
        share = "no run" if total == 0 else "every run"
        raise AnalysisError(f"{share} ends in {target}, so there is nothing to tell apart")

    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=max(2, math.ceil(min_leaf * len(hit))),
        class_weight="balanced",
        random_state=seed,
    )
    tree.fit(params.to_numpy(), hit)
    membership = tree.decision_path(params.to_numpy()).toarray().astype(bool)  # runs x nodes
    boxes = _node_boxes(tree, factors)
    base_rate = total / len(hit)

    rules: list[Rule] = []
    uncovered = hit.copy()
    taken = np.zeros(len(hit), dtype=bool)
    for _ in range(max_rules):
        best: tuple[float, int] | None = None
        for node in range(1, len(boxes)):  # node 0 is the whole space
            inside = membership[:, node]
            if (inside & taken).any():
                continue  # rules do not overlap, so their coverages add up
            n_in, hits_in = int(inside.sum()), int((inside & hit).sum())
            new_hits = int((inside & uncovered).sum())
            if n_in == 0 or hits_in / n_in < min_lift * base_rate or new_hits == 0:
                continue
            density, recall = hits_in / n_in, new_hits / max(int(uncovered.sum()), 1)
            score = 2 * density * recall / (density + recall)
            if best is None or score > best[0] + 1e-12:
                best = (score, node)
        if best is None:
            break
        inside = membership[:, best[1]]
        n_in, hits_in = int(inside.sum()), int((inside & hit).sum())
        rules.append(Rule(boxes[best[1]], n_in, hits_in, hits_in / n_in, hits_in / total))
        uncovered &= ~inside
        taken |= inside
        if not uncovered.any():
            break

    importances = dict(zip(factors, map(float, tree.feature_importances_), strict=True))
    return Discovery(target, rules, len(hit), total, factors, importances, short_names(factors))


def _plot_axes(discovery: Discovery) -> tuple[str, str]:
    """The two parameters to plot: those of the first rule, topped up by the tree's most important ones."""
    ranked = sorted(discovery.factors, key=lambda f: -discovery.importances.get(f, 0.0))
    first = list(discovery.rules[0].limits) if discovery.rules else []
    chosen = [*first, *(f for f in ranked if f not in first)]
    return chosen[0], chosen[1]


def write_discovery(
    batch: Batch,
    out: Path,
    *,
    target: str = OutcomeClass.RELAPSE.value,
    max_depth: int = 3,
    min_leaf: float = 0.05,
    force: bool = False,
) -> Discovery:
    """Discover rules in a results folder's runs into a fresh folder ``out``: ``rules.csv``, a plot and
    ``report.html`` (the rules with their density and coverage, the base rate and the plot embedded).

    The plot shows the runs in the plane of the first rule's parameters with its box (with a single varying
    parameter, against the last-year relations index).
    """
    runs = ok_runs(batch)
    discovery = discover(runs, target, max_depth=max_depth, min_leaf=min_leaf)
    about = {
        "command": "discover",
        "results": str(batch.path),
        "target": target,
        "max_depth": max_depth,
        "min_leaf": min_leaf,
        "base_rate": discovery.base_rate,
    }
    with fresh_folder(out, force=force, about=about) as folder:
        discovery.table().to_csv(folder / "rules.csv", index=False, float_format="%.6g")
        params = runs[[f"{PARAM_PREFIX}{f}" for f in discovery.factors]].astype(float)
        params.columns = discovery.factors
        hit = (runs["outcome_class"].astype(str) == target).to_numpy()
        box = discovery.rules[0].limits if discovery.rules else {}
        if len(discovery.factors) > 1:
            x, y = _plot_axes(discovery)
        else:
            x, y = discovery.factors[0], "window_relations_index"
            params[y] = runs[y].to_numpy(dtype=float)
        ax = discovery_plot(params, hit, box, x, y, target=target)
        if y == "window_relations_index":
            ax.set_ylabel("relations index, mean of the last year (index 0-100)")
        title = ax.get_title()  # saving releases the figure
        origin = Provenance.from_manifest(batch.manifest, command=f"rapprochement discover {batch.path}")
        drawn = Drawn(title, tuple(save_figure(ax, folder / "discovery", provenance=origin)))
        build_discovery_page(
            batch, discovery, folder, drawn, max_depth=max_depth, min_leaf=min_leaf, min_lift=MIN_LIFT
        )
    return discovery
