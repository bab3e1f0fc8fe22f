"""Provenance of figures and pages (sim.provenance) and the number formats of sim.analysis.formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from PIL import Image

import sim.plots
from sim.analysis.formats import MINUS, decimals_for, difference_unit, estimate, interval, number, percent, points
from sim.provenance import Provenance, package_version, run_command

MANIFEST: dict[str, Any] = {
    "scenario": "baseline",
    "scenario_hash": "a1b2c3d4e5f6" + "0" * 52,
    "source": "scenarios/baseline.yaml",
    "overrides": ["meta.months=12"],
    "root_seed": 1,
    "runs": 200,
    "replications": 200,
    "created": "2026-12-05T01:18:30+00:00",
    "versions": {"python": "3.12.1", "rapprochement": "0.1.0"},
}


# --------------------------------------------------------------------------- provenance


def test_one_line_names_scenario_hash_seed_runs_date_and_version() -> None:
    origin = Provenance.from_manifest(MANIFEST)
    assert origin.text() == "baseline · a1b2c3d4e5f6 · seed 1 · 200 runs · 2026-12-05 · rapprochement 0.1.0"
    assert origin.command == "rapprochement run scenarios/baseline.yaml --runs 200 --seed 1 --set meta.months=12"


def test_a_comparison_names_every_scenario_and_the_seeds_that_differ() -> None:
    other = MANIFEST | {"scenario": "trade_war", "scenario_hash": "0f" * 32, "root_seed": 5, "runs": 50}
    both = Provenance.combine(
        [Provenance.from_manifest(MANIFEST), Provenance.from_manifest(other)], command="rapprochement compare a b"
    )
    assert both.text() == (
        "baseline · a1b2c3d4e5f6 vs trade_war · 0f0f0f0f0f0f · seeds 1 and 5 · 200 and 50 runs · 2026-12-05 · "
        "rapprochement 0.1.0"
    )
    assert both.command == "rapprochement compare a b"
    with pytest.raises(ValueError):
        Provenance.combine([])


def test_a_manifest_without_source_or_version_still_gives_a_record() -> None:
    bare = {"scenario": "x", "root_seed": 3, "runs": 4}
    origin = Provenance.from_manifest(bare)
    assert run_command(bare) == "" and origin.command == ""
    assert origin.version == package_version() != ""
    assert origin.text() == f"x · seed 3 · 4 runs · date unknown · rapprochement {package_version()}"
    sweep = MANIFEST | {"identity": {"design": {"kind": "sobol"}}, "runs": 320, "replications": 10}
    assert run_command(sweep).startswith("rapprochement sweep scenarios/baseline.yaml --design sobol --runs 10")


def test_metadata_carries_no_time_of_drawing() -> None:
    origin = Provenance.from_manifest(MANIFEST)
    png = origin.metadata("png", title="Relations index")
    assert png is not None and png["Title"] == "Relations index" and png["Creation Time"] == "2026-12-05"
    assert png["Command"] == origin.command and png["Scenario hash"] == "a1b2c3d4e5f6"
    svg = origin.metadata("svg")
    assert svg is not None and svg["Date"] is None and "2026-12-05" in str(svg["Description"])
    pdf = origin.metadata("pdf")
    assert pdf is not None and pdf["CreationDate"] is None
    assert origin.metadata("jpg") is None


def test_saved_figures_carry_the_provenance_in_their_metadata_and_on_their_foot(tmp_path: Path) -> None:
    origin = Provenance.from_manifest(MANIFEST)
    fig = Figure(figsize=(4, 3), layout="constrained")
    fig.add_subplot().set_title("A chart")
    paths = sim.plots._save(fig, tmp_path / "chart", ["png", "svg", "pdf"], origin)
    footer = [t for t in fig.texts if t.get_gid() == sim.plots.GID_PROVENANCE]
    assert [t.get_text() for t in footer] == [origin.text()]
    text = Image.open(paths[0]).text  # type: ignore[attr-defined]
    assert text["Description"] == origin.text() and text["Title"] == "A chart"
    assert text["Source"] == origin.command and text["Root seed"] == "1" and text["Runs"] == "200"
    svg = paths[1].read_text(encoding="utf-8")
    assert "<dc:description>" + origin.text() in svg and 'id="provenance"' in svg
    # Saved again (another format, another call) the line is drawn once.
    sim.plots._save(fig, tmp_path / "again", ["png"], origin)
    assert len([t for t in fig.texts if t.get_gid() == sim.plots.GID_PROVENANCE]) == 1


def test_figures_with_provenance_stay_reproducible(tmp_path: Path) -> None:
    origin = Provenance.from_manifest(MANIFEST)
    written = []
    for name in ("a", "b"):
        fig = Figure(figsize=(4, 3), layout="constrained")
        ax = fig.add_subplot()
        ax.plot([0, 1], [1, 0])
        ax.set_title("Same")  # untitled figures are titled by their file's name
        written.append(sim.plots.save_figure(fig, tmp_path / name, ("png", "svg"), provenance=origin))
    for first, second in zip(*written, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


# --------------------------------------------------------------------------- formats


def test_numbers_have_one_decimal_a_true_minus_and_an_explicit_sign_when_signed() -> None:
    assert number(12.345) == "12.3"
    assert number(-7.44) == f"{MINUS}7.4"
    assert number(2, signed=True) == "+2.0"
    assert number(-0.04, signed=True) == "0.0"  # too small to have a direction
    assert number(float("nan")) == "n/a"
    assert points(2.0, "pp", signed=True) == "+2.0 pp"
    assert points(float("inf"), "pp") == "n/a"
    assert percent(0.125) == "12.5 %"
    assert percent(-0.02, signed=True) == f"{MINUS}2.0 %"


def test_intervals_follow_their_value_in_its_format() -> None:
    assert estimate(2.0, -7.44, 12.0, "pp", signed=True) == f"+2.0 pp [{MINUS}7.4, +12.0]"
    assert estimate(52.34, 41.0, 66.25) == "52.3 [41.0, 66.2]"
    assert estimate(0.456, 0.4, 0.5, decimals=2) == "0.46 [0.40, 0.50]"
    assert interval(float("nan"), 1.0) == "[n/a]"


def test_units_decide_decimals_and_the_unit_of_a_difference() -> None:
    assert decimals_for("0-1") == decimals_for("share 0-1") == 2
    assert decimals_for("index 0-100") == decimals_for("% of citizens") == 1
    assert difference_unit("share of runs") == (100.0, "pp")
    assert difference_unit("% of citizens") == (1.0, "pp")
    assert difference_unit("index 0-100") == (1.0, "points")
    assert difference_unit("0-1") == (1.0, "")
