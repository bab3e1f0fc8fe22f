"""Tests of the report pages of ``sensitivity`` and ``discover``: written, self-contained, and saying what matters.

The sweeps are synthetic (tests.test_compare.write_results) with a known answer: the Ishigami function for Sobol
(x3 acts only through its interaction with x1), a linear model for Morris (c has no effect), a true box for
discovery.
"""

from __future__ import annotations

import base64
import hashlib
import html as htmllib
import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim.designs import Design, Factor, make_design
from tests.test_compare import cli, write_results
from tests.test_discovery import synthetic_runs as discovery_runs
from tests.test_discovery import synthetic_sweep
from tests.test_report import DATA_URI, external_references
from tests.test_sensitivity import ishigami


def sweep_results(folder: Path, design: Design, outputs: np.ndarray, replications: int = 2) -> Path:
    """A results folder of ``design`` whose replications scatter around ``outputs`` (noise that averages out)."""
    n = len(design.points)
    rng = np.random.default_rng(5)
    noise = rng.normal(0.0, 0.5, size=(n, replications))
    values = (outputs[:, None] + noise - noise.mean(axis=1, keepdims=True)).ravel()
    points_sha256 = hashlib.sha256(np.ascontiguousarray(design.points).tobytes()).hexdigest()
    identity = {
        "kind": str(design.kind),
        "seed": design.seed,
        "factors": [[f.path, f.low, f.high] for f in design.factors],
        "points_sha256": points_sha256,
    }
    params = {f.path: np.repeat(design.points[:, i], replications) for i, f in enumerate(design.factors)}
    return write_results(
        folder,
        {"relations_index": values},
        params=params,
        replications=replications,
        design=identity,
    )


def check_self_contained(page: str) -> None:
    """Nothing fetched from elsewhere; every image an embedded PNG."""
    assert 'src="http' not in page and 'href="http' not in page
    assert "<link" not in page and "<script" not in page
    assert external_references(page) == []
    images = re.findall(r"<img\b[^>]*>", page)
    assert images
    assert all('src="data:image/png;base64,' in img for img in images)
    assert len(DATA_URI.findall(page)) == len(images)


def text_of(page: str) -> str:
    """The page's visible text, tags removed and entities decoded, whitespace collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def announced_report(stdout: str, name: str, out: Path) -> tuple[str, str]:
    """The page a command said it wrote (``NAME: report -> OUT/report.html``), checked to be self-contained: its
    HTML and its visible text."""
    page_path = out / "report.html"
    assert f"{name}: report -> {page_path}" in stdout
    page = page_path.read_text(encoding="utf-8")
    check_self_contained(page)
    return page, text_of(page)


def test_sobol_report_ranks_factors_with_intervals_and_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factors = [Factor(f"drivers.test.x{i}", -math.pi, math.pi) for i in (1, 2, 3)]
    design = make_design("sobol", factors, samples=1024, seed=3)
    sweep = sweep_results(tmp_path / "ishigami_sweep_sobol", design, ishigami(design.points))
    code, stdout, stderr = cli(capsys, "sensitivity", sweep)
    assert code == 0, stderr
    out = tmp_path / "ishigami_sensitivity_sobol"
    page, text = announced_report(stdout, "ishigami_sweep_sobol", out)
    # what was analysed
    assert "Sobol, 5120 points over 3 factors" in text
    assert "Runs per point 2" in text and "root seed 1, design seed 3" in text
    assert "drivers.test.x1 -3.14159 3.14159" in text
    # ranked by ST: x1 (0.56), x2 (0.44), x3 (0.24), each with its interval in the value's format
    ranks = re.findall(r"(\d) drivers\.test\.(x\d) (\d\.\d\d) \[(-?\d\.\d\d), (\d\.\d\d)\]", text)
    assert [(rank, name) for rank, name, *_ in ranks] == [("1", "x1"), ("2", "x2"), ("3", "x3")]
    for _, _, value, low, high in ranks:
        assert float(low) < float(value) < float(high)
    # replication noise is shown as a percentage with one decimal, and the constant output is named
    assert re.search(r"Noise share: \d+\.\d % of the variance of the point means is replication noise", text)
    assert "share_relapse is the same at every design point" in text
    # the reading: the three factors explain about 76 % alone; x3 acts only with x1
    assert re.search(
        r"The factors \(drivers\.test\.x1, drivers\.test\.x2 and drivers\.test\.x3\) explain 7\d\.\d %", text
    )
    assert "drivers.test.x3 matters only through interactions" in text
    assert "drivers.test.x1 matters only" not in text
    # the existing bar chart, embedded
    png = (out / "sensitivity_window_relations_index.png").read_bytes()
    assert base64.b64encode(png).decode() in page


def test_morris_report_shows_mu_star_and_sigma_and_the_negligible_factor(tmp_path: Path) -> None:
    from sim.analysis.common import open_results
    from sim.analysis.sensitivity import write_sensitivity

    factors = [Factor("actors.seoul.a", 0.0, 1.0), Factor("actors.tokyo.b", 0.0, 2.0), Factor("c", 0.0, 1.0)]
    design = make_design("morris", factors, samples=10, seed=2)
    y = 1.0 * design.points[:, 0] + 5.0 * design.points[:, 1]
    sweep = sweep_results(tmp_path / "linear_sweep_morris", design, y)
    out = tmp_path / "linear_sensitivity_morris"
    write_sensitivity(open_results(sweep), out, outputs=["window_relations_index"])
    page = (out / "report.html").read_text(encoding="utf-8")
    check_self_contained(page)
    text = text_of(page)
    assert "Rank Factor mu_star (index 0-100) sigma mu (signed)" in text
    assert "1 actors.tokyo.b 10.00 [10.00, 10.00] 0.00 10.00" in text
    assert "2 actors.seoul.a 1.00 [1.00, 1.00] 0.00 1.00" in text
    assert "3 c 0.00 [0.00, 0.00] 0.00 0.00" in text
    # b's effect is 10 of the total 11 (index points per whole range)
    assert "actors.tokyo.b alone accounts for 90.9 % of the summed mu_star" in text
    assert "c: effects below 5 % of the largest" in text


def test_sensitivity_report_without_plots_has_no_images(tmp_path: Path) -> None:
    from sim.analysis.common import open_results
    from sim.analysis.sensitivity import write_sensitivity

    design = make_design("morris", [Factor("a", 0.0, 1.0), Factor("b", 0.0, 1.0)], samples=4, seed=1)
    sweep = sweep_results(tmp_path / "sweep", design, design.points[:, 0] * 3.0)
    out = tmp_path / "analysis"
    write_sensitivity(open_results(sweep), out, outputs=["window_relations_index"], plots=False)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and external_references(page) == []
    assert "1 a 3.00 [3.00, 3.00]" in text_of(page)


def test_discovery_report_shows_rules_with_density_and_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, folder = synthetic_sweep(tmp_path / "sweep")
    code, stdout, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    out = tmp_path / "sweep_discovery_relapse"
    page, text = announced_report(stdout, "sweep", out)
    hits = int((runs["outcome_class"] == "relapse").sum())
    assert "Target class relapse" in text
    assert re.search(r"How a run is classed .* at most \d+ is a relapse", text)  # what defines the target
    assert "Runs 400 finished" in text
    assert f"Base rate {100 * hits / 400:.1f} % ({hits} runs end in relapse)" in text
    # the first rule limits a and b, with density and coverage as percentages with one decimal
    row = re.search(r"1 ([^%]*?) (\d+\.\d) % (\d+\.\d) % (\d+) (\d+)", text)
    assert row is not None
    assert "a <=" in row.group(1) and "b >" in row.group(1)
    density, coverage, inside, inside_hits = float(row[2]), float(row[3]), int(row[4]), int(row[5])
    assert density == pytest.approx(100 * inside_hits / inside, abs=0.05)
    assert coverage == pytest.approx(100 * inside_hits / hits, abs=0.05)
    assert density > 80.0
    # how to read density and coverage, one sentence each
    assert "Density: of the runs inside a rule's box, the share that end in relapse" in text
    assert "Coverage: of all runs that end in relapse, the share inside the box" in text
    assert f"Rule 1: where {row.group(1)}, {row[2]} % of runs end in relapse; the box holds {row[3]} %" in text
    # the plot, embedded
    assert base64.b64encode((out / "discovery.png").read_bytes()).decode() in page


def test_discovery_report_says_when_no_rule_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(99)
    runs = discovery_runs(n=1000, seed=4).assign(
        outcome_class=np.where(rng.uniform(size=1000) < 0.5, "relapse", "fragile_thaw")
    )
    folder = write_results(
        tmp_path / "coin",
        {"relations_index": np.full(1000, 50.0)},
        classes=list(runs["outcome_class"]),
        params={c.removeprefix("param:"): runs[c].to_numpy() for c in runs.columns if c.startswith("param:")},
    )
    code, _, stderr = cli(capsys, "discover", folder)
    assert code == 0, stderr
    page = (tmp_path / "coin_discovery_relapse" / "report.html").read_text(encoding="utf-8")
    check_self_contained(page)
    assert "No box of parameters leads to relapse" in text_of(page)
