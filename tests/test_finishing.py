"""A batch's figures and report are drawn on the workers, from the files the store wrote.

The data files do not depend on where the figures were drawn; the figures do not depend on which process drew
them; the report a batch gets with ``run --report`` is the page ``rapprochement report`` writes; and the store
itself never imports plotting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest
from PIL import Image

from sim.analysis.common import MARKER
from sim.cli import main
from sim.executors import ProcessExecutor, SerialExecutor
from sim.outcomes import KEY_OUTCOMES
from sim.provenance import Provenance
from sim.results import write_batch
from sim.runner import run_batch
from sim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS

SMALL = ("--set", "meta.months=12", "--set", "publics.korea.citizens=200", "--set", "publics.japan.citizens=200")


def run(out: Path, *extra: str) -> Path:
    """A 4-run baseline batch with plots and report into ``out``; its results folder."""
    argv = ["run", str(SCENARIOS / "baseline.yaml"), "--runs", "4", "--quiet", "--report", "--out", str(out)]
    assert main([*argv, *SMALL, *extra]) == 0
    return out / "baseline"


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path (the report page and marker, which name the folder, left
    out)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("report.html", MARKER, "manifest.json")
    }


def test_figures_drawn_by_two_workers_equal_those_drawn_in_one_process(tmp_path: Path) -> None:
    serial = files(run(tmp_path / "serial", "--workers", "1"))
    pooled = files(run(tmp_path / "pooled", "--workers", "2"))
    assert serial.keys() == pooled.keys()
    assert [k for k in serial if serial[k] != pooled[k]] == []
    names = set(serial)
    assert {"plots/overview.png", "plots/fan_relations_index.png", "plots/fan_relations_index.svg"} <= names
    assert {"report/plots/fan_relations_index.svg", "report/plots/horizon_relations_index.png"} <= names
    assert not [p for p in (tmp_path / "pooled").iterdir() if p.name.startswith(".")]  # no staging left


def test_the_batchs_report_is_the_report_commands_page(tmp_path: Path) -> None:
    folder = run(tmp_path / "out", "--workers", "2")
    page = (folder / "report" / "report.html").read_text(encoding="utf-8")
    # The report command, on the finished folder, writes the same page (it names the same folder).
    again = tmp_path / "again"
    assert main(["report", str(folder), "--out", str(again)]) == 0
    assert (again / "report.html").read_text(encoding="utf-8") == page
    assert str(folder) in page and ".partial" not in page
    # The report folder carries the marker that lets `report --force` replace it later.
    assert main(["report", str(folder), "--force"]) == 0


def test_submit_runs_now_in_process_or_on_a_worker() -> None:
    with SerialExecutor() as serial:
        done = serial.submit(abs, -3)
        failed = serial.submit(int, "x")
    assert isinstance(done, Future) and done.result() == 3
    with pytest.raises(ValueError):
        failed.result()
    with ProcessExecutor(2) as pool:
        assert [pool.submit(abs, -n).result() for n in range(4)] == [0, 1, 2, 3]


def test_the_store_and_a_plotless_run_never_import_plotting(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import sim.results, sim.analysis.finishing\n"
        "from sim.cli import main\n"
        f"main(['run', {str(SCENARIOS / 'baseline.yaml')!r}, '--runs', '2', '--workers', '1', '--no-plots',"
        f" '--quiet', '--out', sys.argv[1], *{list(SMALL)!r}])\n"
        "print(sorted({'matplotlib', 'jinja2', 'scipy.stats'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-1] == "[]"


def assert_figures_name(folder: Path, origin: Provenance) -> int:
    """Check that every PNG and SVG under ``folder`` carries ``origin``; return how many PNGs there are."""
    pngs = sorted(folder.rglob("*.png"))
    for png in pngs:
        text = Image.open(png).text  # type: ignore[attr-defined]
        assert text["Description"] == origin.text(), png
        assert text["Scenario hash"] == origin.scenarios[0][1] and text["Source"] == (
            origin.command or f"rapprochement {origin.version}"
        ), png
    for svg in sorted(folder.rglob("*.svg")):
        content = svg.read_text(encoding="utf-8")
        assert f"<dc:description>{origin.text()}" in content and 'id="provenance"' in content, svg
    return len(pngs)


def test_every_figure_and_the_report_of_a_batch_name_where_they_come_from(tmp_path: Path) -> None:
    folder = run(tmp_path / "out", "--workers", "1")
    manifest = json.loads((folder / "manifest.json").read_text())
    origin = Provenance.from_manifest(manifest)
    assert origin.text() == (
        f"baseline · {manifest['scenario_hash'][:12]} · seed 1 · 4 runs · {manifest['created'][:10]} · "
        f"rapprochement {manifest['versions']['rapprochement']}"
    )
    assert origin.command == f"rapprochement run {SCENARIOS / 'baseline.yaml'} --runs 4 --seed 1 " + " ".join(
        SMALL
    )
    assert assert_figures_name(folder, origin) > 10  # the batch's plots and its report's
    page = (folder / "report" / "report.html").read_text(encoding="utf-8")
    assert f"results created {manifest['created'][:10]}" in page
    assert f"<code>{origin.command}</code>" in page
    assert f"This page: <code>rapprochement report {folder}</code>" in page


def test_a_batch_finalized_in_process_names_its_origin_on_its_plots(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(
        f"extends: {json.dumps(str(SCENARIOS / 'baseline.yaml'))}\nmeta:\n  name: small\n  months: 6\n"
        "publics:\n  korea: {citizens: 100}\n  japan: {citizens: 100}\n"
    )
    scenario = load_scenario(path)
    manifest = write_batch(run_batch(scenario, 2, 3), scenario, tmp_path / "small", root_seed=3, runs=2)
    origin = Provenance.from_manifest(manifest)
    assert origin.command == ""  # written through the API: no command line ran it
    # a fan per key outcome, the class shares, the class map and the overview
    assert assert_figures_name(tmp_path / "small" / "plots", origin) == len(KEY_OUTCOMES) + 3
