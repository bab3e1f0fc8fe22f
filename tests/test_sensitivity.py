"""Tests of sim.analysis.sensitivity: known indices through the command's own averaging path, and the command.

The Ishigami function (Ishigami & Homma 1990) has analytic Sobol indices; here it is the "model" of a synthetic
sweep whose replications add noise that cancels in each point's mean, so the test goes through exactly the
function the command uses (per-point means, then SALib).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim.analysis.common import AnalysisError, open_results
from sim.analysis.sensitivity import ConstantOutput, design_of, point_means, sensitivity_indices
from sim.designs import Design, Factor, make_design
from tests.conftest import shipped
from tests.test_compare import cli, small_scenario
from tests.test_report import external_references


def shipped_uncertainties() -> list[str]:
    """The uncertain parameters of the shipped baseline (the tiny scenario's factors)."""
    return list(shipped("baseline").uncertainties)


# Analytic indices of Ishigami with a = 7, b = 0.1 (Saltelli et al. 2008, Global Sensitivity Analysis, p. 179).
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami(points: np.ndarray) -> np.ndarray:
    x1, x2, x3 = points.T
    return np.sin(x1) + 7.0 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1)


def synthetic_runs(
    design: Design, outputs: np.ndarray, replications: int, noise: float, *, common: bool = False
) -> pd.DataFrame:
    """Runs of every design point whose replications scatter around ``outputs`` and average to it exactly.

    With ``common`` the scatter of replication r is the same at every point (what a seed shared by all points
    adds); otherwise its sign alternates from point to point (noise that common seeds do not cancel).
    """
    offsets = np.linspace(-noise, noise, replications)  # symmetric: they sum to zero
    n = len(design.points)
    signs = np.ones(n) if common else np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return pd.DataFrame(
        {
            "design_point": np.repeat(np.arange(n), replications),
            "replication": np.tile(np.arange(replications), n),
            "status": "ok",
            "window_relations_index": np.repeat(outputs, replications) + np.outer(signs, offsets).ravel(),
        }
    )


def test_sobol_indices_of_ishigami_through_the_averaging_path() -> None:
    factors = [Factor(name, -math.pi, math.pi) for name in ("x1", "x2", "x3")]
    design = make_design("sobol", factors, samples=2048, seed=3)
    runs = synthetic_runs(design, ishigami(design.points), replications=4, noise=5.0)
    table = sensitivity_indices(design, runs, "window_relations_index").set_index("factor")
    for name in ISHIGAMI_S1:
        assert table.loc[name, "S1"] == pytest.approx(ISHIGAMI_S1[name], abs=0.04), name
        assert table.loc[name, "ST"] == pytest.approx(ISHIGAMI_ST[name], abs=0.04), name
        assert table.loc[name, "S1_conf"] < 0.1 and table.loc[name, "ST_conf"] < 0.1
    assert list(table.index) == ["x1", "x2", "x3"]  # ranked by total index (ST 0.56, 0.44, 0.24)
    assert (table["output"] == "window_relations_index").all()
    assert (table["replications"] == 4).all()


def test_replications_are_averaged_before_the_analysis() -> None:
    factors = [Factor(name, -math.pi, math.pi) for name in ("x1", "x2", "x3")]
    design = make_design("sobol", factors, samples=64, seed=1)
    y = ishigami(design.points)
    noisy = sensitivity_indices(design, synthetic_runs(design, y, 3, noise=20.0), "window_relations_index")
    common = synthetic_runs(design, y, 3, noise=20.0, common=True)
    shared = sensitivity_indices(design, common, "window_relations_index")
    clean = sensitivity_indices(design, synthetic_runs(design, y, 1, noise=0.0), "window_relations_index")
    cols = ["S1", "S1_conf", "ST", "ST_conf"]
    pd.testing.assert_frame_equal(noisy[cols], clean[cols], rtol=1e-9)
    pd.testing.assert_frame_equal(shared[cols], clean[cols], rtol=1e-9)
    # noise of 20 that differs between points could explain much of the means' spread (variance about 14) ...
    assert noisy["noise_share"].iloc[0] > 1.0
    # ... but noise that a seed adds to every point alike cancels from the indices, and is not counted
    assert shared["noise_share"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(clean["noise_share"].iloc[0])


def test_morris_mu_star_of_a_linear_model_is_its_effect_per_range() -> None:
    factors = [Factor("a", 0.0, 1.0), Factor("b", 0.0, 2.0), Factor("c", 0.0, 1.0)]
    design = make_design("morris", factors, samples=10, seed=2)
    y = 1.0 * design.points[:, 0] + 5.0 * design.points[:, 1] + 0.0 * design.points[:, 2]
    table = sensitivity_indices(design, synthetic_runs(design, y, 2, 0.5), "window_relations_index")
    result = table.set_index("factor")["mu_star"]
    assert result.to_dict() == pytest.approx({"a": 1.0, "b": 10.0, "c": 0.0})
    assert list(table["factor"]) == ["b", "a", "c"]


def test_a_point_without_finished_runs_is_named() -> None:
    design = make_design("morris", [Factor("a", 0.0, 1.0), Factor("b", 0.0, 1.0)], samples=2, seed=0)
    runs = synthetic_runs(design, np.zeros(len(design.points)), 2, 0.0)
    runs.loc[runs["design_point"] == 4, "status"] = "failed"
    with pytest.raises(AnalysisError, match="design points 4 have no finished run"):
        point_means(design, runs, "window_relations_index")


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_a_constant_output_is_a_constant_output_for_either_method(method: str) -> None:
    """Morris used to compute all-zero effects of a constant output instead of skipping it as Sobol did."""
    design = make_design(method, [Factor("a", 0.0, 1.0), Factor("b", 0.0, 1.0)], samples=4, seed=0)
    runs = synthetic_runs(design, np.full(len(design.points), 3.0), 2, 0.5)
    with pytest.raises(ConstantOutput, match="same at every design point"):
        sensitivity_indices(design, runs, "window_relations_index")


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_scenario(tmp_path_factory.mktemp("scenario"), "tiny")


def test_sensitivity_command_runs_the_sweep_and_ranks_factors(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = (
        *("sensitivity", scenario, "--method", "morris", "--samples", "2", "--runs", "2"),
        *("--workers", "1", "--quiet", "--out", tmp_path, "--set", "meta.months=6"),
    )
    code, stdout, stderr = cli(capsys, *args)
    assert code == 0, stderr
    sweep, out = tmp_path / "tiny_sweep_morris", tmp_path / "tiny_sensitivity_morris"
    table = pd.read_csv(out / "indices.csv")
    # six uncertainties in the baseline, each ranked for the default output
    part = table[table["output"] == "window_relations_index"]
    assert len(part) == 6 and set(part["factor"]) == set(shipped_uncertainties())
    assert (part["replications"] == 2).all()
    assert (out / "sensitivity_window_relations_index.png").exists()
    assert (out / "sensitivity_window_relations_index.svg").exists()
    metadata = Image.open(out / "sensitivity_window_relations_index.png").text  # type: ignore[attr-defined]
    assert metadata["Source"] == f"rapprochement sensitivity {sweep}" and "tiny" in metadata["Description"]
    assert "window_relations_index:" in stdout
    # the page: written, announced, self-contained, with every factor ranked
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"tiny: report -> {out / 'report.html'}" in stdout
    assert external_references(page) == [] and 'src="data:image/png;base64,' in page
    assert all(factor in page for factor in shipped_uncertainties())
    # the design is the sweep's: it is rebuilt from the results and checked against the manifest
    design = design_of(open_results(sweep))
    assert design.points.shape == (2 * 7, 6)

    # the same command again: refused without --force; with it, the complete sweep is reused, not re-run
    assert cli(capsys, *args)[0] == 2
    created = json.loads((sweep / "manifest.json").read_text())["created"]
    code, stdout, _ = cli(capsys, *args, "--force", "--output", "relations_index")
    assert code == 0 and "reusing the complete sweep" in stdout
    assert json.loads((sweep / "manifest.json").read_text())["created"] == created
    assert set(pd.read_csv(out / "indices.csv")["output"]) == {"final_relations_index"}

    # an existing sweep folder can be re-analysed directly (with its own design)
    code, _, stderr = cli(capsys, "sensitivity", sweep, "--method", "sobol", "--force")
    assert code == 2 and "run on a morris design" in stderr
    code, _, stderr = cli(capsys, "sensitivity", sweep, "--force", "--output", "kr_favorability", "--no-plots")
    assert code == 0, stderr
    assert set(pd.read_csv(out / "indices.csv")["output"]) == {"final_kr_favorability"}

    # options that shape a sweep are refused for a sweep folder rather than ignored
    for option in (
        ("--samples", "4"),
        ("--runs", "3"),
        ("--seed", "2"),
        ("--set", "meta.months=5"),
        ("--resume",),
    ):
        code, _, stderr = cli(capsys, "sensitivity", sweep, "--force", *option)
        assert code == 2 and option[0] in stderr and "sweep folder" in stderr, option
    # --out is the folder the analysis goes into, as for a scenario
    elsewhere = tmp_path / "elsewhere"
    code, _, stderr = cli(capsys, "sensitivity", sweep, "--out", elsewhere, "--no-plots")
    assert code == 0, stderr
    assert (elsewhere / "tiny_sensitivity_morris" / "indices.csv").is_file()


def test_force_replaces_the_analysis_but_never_discards_an_interrupted_sweep(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = (
        *("sensitivity", scenario, "--method", "morris", "--samples", "2", "--runs", "1"),
        *("--workers", "1", "--quiet", "--out", tmp_path, "--set", "meta.months=6", "--no-plots"),
    )
    staging = tmp_path / ".tiny_sweep_morris.partial"
    staging.mkdir()
    (staging / "started.json").write_text("{}")  # an interrupted sweep's staging, as far as --force can tell
    code, _, stderr = cli(capsys, *args, "--force")
    assert code == 2 and "--resume" in stderr
    assert (staging / "started.json").read_text() == "{}"  # not discarded
    assert not (tmp_path / "tiny_sensitivity_morris").exists()


def test_sensitivity_refusals(scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = cli(capsys, "sensitivity", scenario, "--out", tmp_path)
    assert code == 2 and "--method" in stderr
    code, _, stderr = cli(
        capsys, "sensitivity", scenario, "--method", "sobol", "--samples", "3", "--out", tmp_path
    )
    assert code == 2 and "power of two" in stderr
    # one sample is a power of two, but too few for indices: refused before any run
    code, _, stderr = cli(
        capsys, "sensitivity", scenario, "--method", "sobol", "--samples", "1", "--out", tmp_path
    )
    assert code == 2 and "at least 2 base samples" in stderr
    code, _, stderr = cli(
        capsys, "sensitivity", scenario, "--method", "morris", "--samples", "1", "--out", tmp_path
    )
    assert code == 2 and "at least 2 trajectories" in stderr
    code, _, stderr = cli(
        capsys, "sensitivity", scenario, "--method", "morris", "--output", "bliss", "--out", tmp_path
    )
    assert code == 2 and "'bliss'" in stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, stderr = cli(capsys, "sensitivity", plain)
    assert code == 2 and "not a results folder" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]  # nothing was run or written
