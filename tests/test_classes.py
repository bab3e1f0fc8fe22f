"""The outcome-class rules of a batch, the decomposition of its durable share, and the figures that show both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import sim.analysis.figures
from sim.analysis.classes import ClassRules, decompose
from sim.analysis.figures import FigureJob, batch_figures, draw
from sim.model import classify
from sim.outcomes import OutcomeClass
from sim.scenario import load_scenario
from tests.test_compare import BASELINE, write_results

DEFAULTS = {"relapse_max_index": 50.0, "durable_min_index": 65.0, "durable_min_institutionalization": 0.35}


def table(index: list[float], institutions: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"window_relations_index": index, "final_institutionalization": institutions})


def test_decomposition_of_a_constructed_table() -> None:
    runs = table(
        # index reached and institutions too (2, one on both thresholds exactly), index alone (3),
        # institutions alone (1), neither (2), a run with a missing value (meets nothing)
        [70.0, 65.0, 66.0, 80.0, 65.0, 60.0, 40.0, 64.99, np.nan],
        [0.40, 0.35, 0.10, 0.34, 0.0, 0.90, 0.20, 0.30, 0.5],
    )
    d = decompose(runs, DEFAULTS)
    assert (d.runs, d.index_runs, d.institutions_runs, d.both_runs) == (9, 5, 4, 2)
    assert d.index == pytest.approx(5 / 9)
    assert d.institutions == pytest.approx(4 / 9)
    assert d.both == pytest.approx(2 / 9)
    assert d.index_only == pytest.approx(3 / 9)
    assert d.institutions_only == pytest.approx(2 / 9)


def test_decomposition_follows_the_given_thresholds_and_handles_no_runs() -> None:
    runs = table([70.0, 75.0, 80.0], [0.2, 0.3, 0.5])
    strict = decompose(runs, {**DEFAULTS, "durable_min_index": 76.0, "durable_min_institutionalization": 0.25})
    assert (strict.index_runs, strict.institutions_runs, strict.both_runs) == (1, 2, 1)
    empty = decompose(runs.iloc[:0], DEFAULTS)
    assert (empty.runs, empty.index, empty.both, empty.index_only) == (0, 0.0, 0.0, 0.0)
    with pytest.raises(KeyError):
        decompose(runs.drop(columns="final_institutionalization"), DEFAULTS)


def test_both_conditions_are_exactly_the_durable_class() -> None:
    scenario = load_scenario(BASELINE)
    rng = np.random.default_rng(3)
    runs = table(list(rng.uniform(30, 90, 500)), list(rng.uniform(0, 1, 500)))
    classes = [
        classify(i, k, scenario)
        for i, k in zip(runs["window_relations_index"], runs["final_institutionalization"], strict=True)
    ]
    d = decompose(runs, ClassRules.of(scenario).thresholds())
    assert d.both_runs == sum(c is OutcomeClass.DURABLE_RAPPROCHEMENT for c in classes)


def test_rules_of_a_scenario_and_the_schema_defaults() -> None:
    defaults = ClassRules.of(None)
    assert defaults.thresholds() == DEFAULTS
    assert defaults.window_months == 12
    text = defaults.describe()
    assert "last 12 months" in text and "at most 50 is a relapse" in text
    assert "at least 65, with a final institutionalisation of at least 0.35" in text
    scenario = load_scenario(BASELINE)
    changed = scenario.model_copy(
        update={"outcomes": scenario.outcomes.model_copy(update={"durable_min_index": 70})}
    )
    assert ClassRules.of(changed).durable_min_index == 70.0


def results_with_thresholds(folder: Path, **outcomes: float) -> Path:
    """A small results folder whose saved scenario has these outcome thresholds."""
    rng = np.random.default_rng(2)
    write_results(
        folder,
        {"relations_index": rng.uniform(40, 80, 8), "institutionalization": rng.uniform(0.2, 0.5, 8)},
        months=4,
    )
    scenario = load_scenario(BASELINE)
    if outcomes:
        scenario = scenario.model_copy(update={"outcomes": scenario.outcomes.model_copy(update=outcomes)})
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    return folder


def spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[dict[str, Any]]:
    """Record the keyword arguments ``sim.analysis.figures`` passes to its plot function ``name``."""
    calls: list[dict[str, Any]] = []
    real = getattr(sim.analysis.figures, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.analysis.figures, name, recording)
    return calls


def test_figures_read_the_thresholds_from_the_batchs_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = results_with_thresholds(tmp_path / "strict", durable_min_index=72.0, relapse_max_index=45.0)
    fans, maps = spy(monkeypatch, "fan_chart"), spy(monkeypatch, "class_map")
    jobs = {job.kind: job for job in batch_figures(folder)}
    assert (jobs["class_map"].stem.name, jobs["class_map"].stem.parent.name) == ("class_map", "plots")
    draw(FigureJob(folder, "fan", tmp_path / "fan", outcome="relations_index"))
    drawn = draw(jobs["class_map"])
    assert fans[0]["thresholds"] == {**DEFAULTS, "durable_min_index": 72.0, "relapse_max_index": 45.0}
    assert maps and drawn.title.startswith("Why runs end in their class")
    assert [p.name for p in drawn.paths] == ["class_map.png"]


def test_figures_fall_back_to_the_default_thresholds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = results_with_thresholds(tmp_path / "old")
    (folder / "scenario.yaml").unlink()
    horizons = spy(monkeypatch, "horizon_distribution")
    draw(FigureJob(folder, "horizon", tmp_path / "horizon", outcome="relations_index"))
    assert horizons[0]["thresholds"] == DEFAULTS
