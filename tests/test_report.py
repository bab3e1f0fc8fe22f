"""Tests of sim.analysis.report and the ``report`` command: a self-contained, printable, reproducible page."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from sim.analysis.report import write_comparison, write_report
from sim.scenario import load_scenario
from tests.test_compare import BASELINE, cli, write_results

DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


def with_scenario(folder: Path) -> Path:
    """Save the shipped baseline beside synthetic results, as the results store does."""
    scenario = load_scenario(BASELINE)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    return folder


@pytest.fixture
def results(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    classes = ["relapse"] * 3 + ["fragile_thaw"] * 9
    folder = write_results(
        tmp_path / "baseline", {"relations_index": rng.uniform(40, 70, 12)}, classes=classes, months=6
    )
    return with_scenario(folder)


def external_references(html: str) -> list[str]:
    """Anything in the page that would fetch a resource from elsewhere (data URIs removed first)."""
    text = DATA_URI.sub("data:", html)
    patterns = [
        r"""(?:src|href)\s*=\s*["'](?!data:|#)[^"']*""",
        r"url\(",
        r"@import",
        r"<link\b",
        r"<script\b",
        r"<iframe\b",
        r"https?://",
    ]
    return [m.group(0) for p in patterns for m in re.finditer(p, text, re.IGNORECASE)]


def test_report_embeds_every_plot_and_refers_to_nothing_outside(results: Path) -> None:
    folder = write_report(results, outcomes=["relations_index", "kr_favorability"])
    assert folder == results / "report"
    html = (folder / "report.html").read_text(encoding="utf-8")
    pngs = sorted((folder / "plots").glob("*.png"))
    # two fans, two horizon distributions, the outcome classes and the class map
    assert [p.stem for p in pngs] == [
        "class_map",
        "fan_kr_favorability",
        "fan_relations_index",
        "horizon_kr_favorability",
        "horizon_relations_index",
        "outcome_classes",
    ]
    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode() in html, png.name
        assert png.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
    assert html.count("<img ") == len(pngs)
    assert external_references(html) == []
    assert "@media print" in html


def test_report_shows_description_key_numbers_and_event_timeline(results: Path) -> None:
    html = (write_report(results, outcomes=["relations_index"]) / "report.html").read_text(encoding="utf-8")
    description = load_scenario(BASELINE).meta.description
    assert description.split(".")[0] in html
    assert "Takaichi Sanae elected prime minister" in html  # an event of the baseline timeline
    assert "2025-10-21" in html
    assert "25.0 % [8.9, 53.2]" in html  # 3 relapses in 12 runs with its Wilson interval
    assert "12 finished (root seed 1)" in html


def test_same_results_give_the_same_report(results: Path, tmp_path: Path) -> None:
    first = write_report(results, tmp_path / "one", outcomes=["relations_index"])
    second = write_report(results, tmp_path / "two", outcomes=["relations_index"])
    for name in ("report.html", "plots/fan_relations_index.svg", "plots/fan_relations_index.png"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_comparison_report_explains_unpaired_results(results: Path, tmp_path: Path) -> None:
    other = with_scenario(
        write_results(tmp_path / "other", {"relations_index": np.full(12, 50.0)}, root_seed=5, months=6)
    )
    comparison, folder = write_comparison([results, other], outcomes=["relations_index"])
    assert folder == tmp_path / "compare_baseline_other"
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "was not run on common random numbers" in html and "root seeds differ (1 and 5)" in html
    assert "Differences from baseline" in html
    assert external_references(html) == []
    pngs = sorted((folder / "plots").glob("*.png"))
    # fan and its difference over time, horizon, classes; differences of the last-year mean, the final value,
    # relapse and durable shares
    assert len(pngs) == html.count("<img ") == 8
    # Unpaired: the difference over time is the difference of the medians, and the caption says why.
    caption = _captions(html)["plots/difference_over_time_relations_index.png"]
    assert "other was not run on the same seeds as baseline" in caption and "without a band" in caption
    assert comparison.unpaired == {"other": "their root seeds differ (1 and 5)"}


def _captions(html: str) -> dict[str, str]:
    """Each figure's caption by the PNG file it names."""
    found = re.findall(r"<figcaption><strong>.*?</strong>(.*?)<span class=\"files\">Files: ([^,<]+)", html, re.S)
    return {files.strip(): " ".join(text.split()) for text, files in found}


@pytest.mark.parametrize("paired", [True, False])
def test_difference_captions_name_the_method_each_metric_used(results: Path, tmp_path: Path, paired: bool) -> None:
    """Class probabilities use Newcombe's interval, means the t intervals: one caption for all was wrong."""
    other = with_scenario(
        write_results(tmp_path / "other", {"relations_index": np.full(12, 50.0)}, root_seed=1 if paired else 5)
    )
    _, folder = write_comparison([results, other], outcomes=["relations_index"])
    captions = _captions((folder / "report.html").read_text(encoding="utf-8"))
    mean, share = (
        captions["plots/difference_final_relations_index.png"],
        captions["plots/difference_share_relapse.png"],
    )
    if paired:
        assert mean.startswith("Paired t:") and "Newcombe" not in mean and "Welch" not in mean
        assert share.startswith("Paired Newcombe:") and "t interval" not in share and "Welch" not in share
    else:
        assert mean.startswith("Welch t:") and "Newcombe" not in mean and "paired" not in mean.lower()
        assert share.startswith("Newcombe:") and "Welch" not in share and "paired" not in share.lower()


def test_report_command_and_its_refusals(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "handout"
    code, stdout, stderr = cli(capsys, "report", results, "--out", out, "--outcome", "nk_threat")
    assert code == 0, stderr
    assert f"{out}/report.html" in stdout
    assert json.loads((out / "analysis.json").read_text())["command"] == "report"
    code, _, stderr = cli(capsys, "report", results, "--out", out, "--outcome", "nk_threat")
    assert code == 2 and "exists; pass --force" in stderr
    code, _, stderr = cli(capsys, "report", tmp_path / "nowhere")
    assert code == 2 and "nowhere: no such results folder" in stderr and "Traceback" not in stderr
    code, _, stderr = cli(capsys, "report", results, "--out", tmp_path / "x", "--outcome", "mood")
    assert code == 2 and "--outcome 'mood'" in stderr
    assert not (tmp_path / "x").exists()


def test_output_folder_has_ordinary_permissions(results: Path, tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    folder = write_report(results, tmp_path / "shared", outcomes=["nk_threat"])
    # what mkdir gives under the user's umask, like the results folders (not a private temporary folder's 0700)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    assert not list(tmp_path.glob(".shared.*"))  # no staging folder left behind


def test_events_of_only_some_scenarios_name_them_on_shared_fans() -> None:
    from sim.analysis.report import _unique_events
    from sim.plots import EventMarker

    summit = EventMarker(pd.Timestamp("2026-01-01"), "Summit", "summit")
    ruling = EventMarker(pd.Timestamp("2026-03-01"), "Ruling", "court_ruling")
    events = _unique_events([[summit], [summit, ruling]], ["baseline", "relapse"])
    assert [e.label for e in events] == ["Summit", "Ruling (relapse)"]


def test_report_takes_the_durable_share_apart_and_shows_the_class_map(tmp_path: Path) -> None:
    # 10 runs: index >= 65 in 5 (one exactly on it), institutionalisation >= 0.35 in 4, both in 2.
    index = np.array([70.0, 65.0, 66.0, 80.0, 67.0, 60.0, 40.0, 55.0, 62.0, 30.0])
    institutions = np.array([0.40, 0.35, 0.10, 0.34, 0.0, 0.90, 0.20, 0.30, 0.5, 0.1])
    classes = [
        "relapse" if i <= 50 else "durable_rapprochement" if i >= 65 and k >= 0.35 else "fragile_thaw"
        for i, k in zip(index, institutions, strict=True)
    ]
    folder = write_results(
        tmp_path / "baseline",
        {"relations_index": index, "institutionalization": institutions},
        classes=classes,
        months=4,
    )
    report = write_report(with_scenario(folder), outcomes=["relations_index"])
    html = (report / "report.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert (
        "Index \u2265 65 Institutionalisation \u2265 0.35 Both (durable rapprochement) Index reached but" in text
    )
    assert "baseline 50.0 % (5) 40.0 % (4) 20.0 % (2) 30.0 % (3)" in text
    assert "Index reached but institutions not: 30.0 % of runs (3 of 10)" in text
    # the thresholds in words, with the outcome classes
    assert "at most 50 is a relapse" in text and "at least 0.35, is a durable rapprochement" in text
    png = (report / "plots" / "class_map.png").read_bytes()
    assert base64.b64encode(png).decode() in html
    captions = _captions(html)
    assert "institutionalisation" in captions["plots/class_map.png"]
    assert "at most 50 is a relapse" in captions["plots/outcome_classes.png"]
    assert "dashed lines the outcome-class thresholds" in captions["plots/fan_relations_index.png"]


def test_comparison_report_decomposes_each_scenario(results: Path, tmp_path: Path) -> None:
    other = with_scenario(
        write_results(tmp_path / "other", {"relations_index": np.full(12, 70.0)}, root_seed=5, months=6)
    )
    _, folder = write_comparison([results, other], outcomes=["relations_index"])
    text = " ".join(re.sub(r"<[^>]+>", " ", (folder / "report.html").read_text(encoding="utf-8")).split())
    # every run of "other" reaches the index, and (at the default 0.5) the institutions too
    assert "other 100.0 % (12) 100.0 % (12) 100.0 % (12) 0.0 % (0)" in text
    assert "other: index reached but institutions not: 0.0 % of runs (0 of 12)" in text
    assert text.count("at most 50 is a relapse") == 2  # once with the classes, once in the class caption


def with_origin(folder: Path, **extra: Any) -> Path:
    """Give synthetic results the manifest fields a real batch records about its origin."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest |= {
        "source": "scenarios/baseline.yaml",
        "overrides": ["meta.months=6"],
        "created": "2026-12-05T01:18:30+00:00",
        "versions": {"rapprochement": "0.1.0"},
    } | extra
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def footer_text(html: str) -> str:
    footer = html[html.index("<footer>") : html.index("</footer>")]
    return " ".join(re.sub(r"<[^>]+>", " ", footer).split())


def test_report_footer_and_figures_name_version_date_and_command(results: Path) -> None:
    folder = write_report(with_origin(results), outcomes=["relations_index"])
    footer = footer_text((folder / "report.html").read_text(encoding="utf-8"))
    assert "rapprochement 0.1.0 · results created 2026-12-05" in footer
    run = "rapprochement run scenarios/baseline.yaml --runs 12 --seed 1 --set meta.months=6"
    assert f"Results of baseline: {run}" in footer
    assert f"This page: rapprochement report {results} --outcome relations_index" in footer
    line = "baseline · baseline · seed 1 · 12 runs · 2026-12-05 · rapprochement 0.1.0"
    pngs = sorted((folder / "plots").glob("*.png"))
    assert len(pngs) == 4
    for png in pngs:
        text = Image.open(png).text  # type: ignore[attr-defined]
        assert text["Description"] == line and text["Command"] == run, png.name
    for svg in sorted((folder / "plots").glob("*.svg")):
        content = svg.read_text(encoding="utf-8")
        assert f"<dc:description>{line} · {run}</dc:description>" in content and 'id="provenance"' in content


def test_comparison_names_every_batch_and_writes_its_numbers_in_one_format(results: Path, tmp_path: Path) -> None:
    other = with_origin(
        with_scenario(write_results(tmp_path / "other", {"relations_index": np.full(12, 70.0)}, root_seed=5)),
        source="scenarios/other.yaml",
        created="2026-12-06T00:00:00+00:00",
    )
    _, folder = write_comparison([with_origin(results), other], outcomes=["relations_index"])
    html = (folder / "report.html").read_text(encoding="utf-8")
    footer = footer_text(html)
    assert "results created 2026-12-05, 2026-12-06" in footer
    assert "Results of other: rapprochement run scenarios/other.yaml --runs 12 --seed 5" in footer
    assert f"This page: rapprochement compare {results} {other} --outcome relations_index" in footer
    text = Image.open(folder / "plots" / "difference_share_relapse.png").text  # type: ignore[attr-defined]
    assert text["Description"] == (
        "baseline · baseline vs other · other · seeds 1 and 5 · 12 runs · 2026-12-05, 2026-12-06 · "
        "rapprochement 0.1.0"
    )
    assert text["Command"].startswith("rapprochement compare ")
    # Differences signed, with a true minus, one decimal, intervals in brackets; classes and outcomes alike.
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert "\u221225.0" in cells  # other never relapses: 3 in 12 fewer, in percentage points
    assert any(re.fullmatch(r"\[\u2212\d+\.\d, [+\u2212]\d+\.\d\]", c) for c in cells)
    assert "25.0 % [8.9, 53.2]" in cells and "0.0 % [0.0, 24.3]" in cells
    assert any(re.fullmatch(r"70\.0 \[70\.0, 70\.0\]", c) for c in cells)
