"""The dashboard's pieces without a browser: sliders applied to a scenario, the event log, the assets helper.
(The page itself is driven by a real browser in tests/test_browser.py.)"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import stat
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from sim.scenario import Scenario
from tests.conftest import SCENARIOS, shipped

pytest.importorskip("solara")

from sim.ui import assets
from sim.ui.dashboard import KNOBS, SCENARIO_ENV, adjusted, build_model, event_log, state_text


@pytest.fixture(scope="module")
def small() -> Scenario:
    return shipped("baseline", "meta.months=12", "publics.korea.citizens=200", "publics.japan.citizens=200")


def test_neutral_sliders_leave_the_scenario_as_written(small: Scenario) -> None:
    assert adjusted(small, {name: knob.neutral for name, knob in KNOBS.items()}).digest() == small.digest()


def test_sliders_shift_or_multiply_and_stay_in_range(small: Scenario) -> None:
    changed = adjusted(small, {"nk_provocations": 3.0, "nationalism": 0.1, "us_engagement": 0.9})
    assert changed.drivers.security.nk_provocation_rate == pytest.approx(
        3 * small.drivers.security.nk_provocation_rate
    )
    assert changed.publics.korea.nationalism_mean == pytest.approx(small.publics.korea.nationalism_mean + 0.1)
    assert changed.publics.japan.nationalism_mean == pytest.approx(small.publics.japan.nationalism_mean + 0.1)
    assert changed.actors.washington.target_engagement == 1.0  # clipped to the field's range


def test_the_model_uses_the_picked_scenario_and_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCENARIO_ENV, str(SCENARIOS / "baseline.yaml"))
    a = build_model("nk_escalation.yaml", 4, {"nk_provocations": 3.0})
    b = build_model("nk_escalation.yaml", 4, {"nk_provocations": 3.0})
    neutral = build_model("nk_escalation.yaml", 4, {"nk_provocations": 1.0})
    assert a.spec.meta.name == "nk_escalation"
    # The slider multiplies the picked scenario's rate (not the baseline's): its effect is in the model.
    written = shipped("nk_escalation").drivers.security.nk_provocation_rate
    assert neutral.spec.drivers.security.nk_provocation_rate == pytest.approx(written)
    assert a.spec.drivers.security.nk_provocation_rate == pytest.approx(3 * written)
    assert a.security.spec.nk_provocation_rate == pytest.approx(3 * written)
    for _ in range(3):
        a.step()
        b.step()
    assert a.relations_index == b.relations_index  # seeded
    assert "nk_escalation, seed 4: month 3 of 60 (2025-09)" in state_text(a, 4)


def test_the_event_log_lists_injects_moves_and_incidents(small: Scenario) -> None:
    from sim.model import RapprochementModel

    eager = small.with_values(
        {
            "actors.seoul.initiative": 1.0,
            "actors.seoul.rationality": 0.0,
            "drivers.security.nk_provocation_rate": 5.0,
        }
    )
    model = RapprochementModel(eager, rng=2)
    for _ in range(6):
        model.step()
    log = event_log(model)
    assert any("inject: Takaichi Sanae elected prime minister (tokyo)" in line for line in log)
    assert any(line.startswith("2025-07  ") and "North Korean provocation" in line for line in log)
    assert any("seoul: " in line for line in log)
    months = [line[:7] for line in log]
    assert months == sorted(months, reverse=True)  # latest first


def test_assets_are_unpacked_from_npm_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``npm`` writes a package tarball; ``fetch`` unpacks its ``package/`` as ``name@version/``."""
    payload = tmp_path / "payload" / "package" / "dist"
    payload.mkdir(parents=True)
    (payload / "app.js").write_text("console.log('app')")
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tmp_path / "payload" / "package", arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f'#!/bin/sh\n# npm pack SPEC --silent --pack-destination DIR\ncp {tarball} "$5/pkg.tgz"\n')
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    assets.fetch("@scope/app@1.2.3", cache)
    assert (cache / "@scope" / "app@1.2.3" / "dist" / "app.js").read_text() == "console.log('app')"
    assert [p.name for p in cache.iterdir()] == ["@scope"]  # the work folder is gone


def test_a_failing_npm_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'registry unreachable' >&2\nexit 1\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(assets, "cache_dir", lambda: tmp_path / "cache")
    problems = assets.ensure_assets()
    assert problems and all("registry unreachable" in p for p in problems)
    assert not any((tmp_path / "cache").rglob("*.js"))


def test_assets_come_from_the_cdn_when_it_answers_and_from_npm_only_when_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "cache_dir", lambda: tmp_path / "cache")
    fetched: list[str] = []
    monkeypatch.setattr(assets, "ensure_assets", lambda: fetched.append("npm") or [])
    asked: list[str] = []

    def cdn(answers: bool) -> Any:
        def reachable(spec: str, timeout: float) -> bool:
            asked.append(spec)
            return answers

        return reachable

    monkeypatch.setattr(assets, "cdn_reachable", cdn(True))
    assert assets.prepare_assets() == ("cdn", []) and fetched == [] and len(asked) == 1
    monkeypatch.setattr(assets, "cdn_reachable", cdn(False))
    assert assets.prepare_assets() == ("npm", []) and fetched == ["npm"]
    for spec in assets.needed_packages():  # everything cached: neither is asked
        (tmp_path / "cache" / spec).mkdir(parents=True)
    asked.clear()
    assert assets.prepare_assets() == ("cache", []) and asked == []


def test_the_cdn_check_asks_for_one_file_of_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "requirejs@2.3.6").mkdir()
    (tmp_path / "requirejs@2.3.6" / "package.json").write_text("{}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.setattr(assets, "cdn_url", lambda: f"http://127.0.0.1:{server.server_address[1]}/")
            assert assets.cdn_reachable("requirejs@2.3.6", 30.0)
            assert not assets.cdn_reachable("requirejs@9.9.9", 30.0)  # 404
        finally:
            server.shutdown()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(assets, "cdn_url", lambda: f"http://127.0.0.1:{port}/")
    assert not assets.cdn_reachable("requirejs@2.3.6", 30.0)  # nothing listens: refused at once


def test_the_plots_keep_lines_at_the_edge_visible_and_legends_off_the_lines(small: Scenario) -> None:
    from sim.model import RapprochementModel
    from sim.ui.dashboard import PLOTS, outcome_figure

    model = RapprochementModel(small, rng=3)
    for _ in range(4):
        model.step()
    assert model.trade_normalization == 1.0  # the baseline's trade is fully normalised: the line sits at the top
    for measures, title in PLOTS:
        fig = outcome_figure(model, measures, title)
        fig.canvas.draw()
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        values = [float(v) for name in measures for v in model.monthly()[name]]
        assert low < min(values) and max(values) < high, title  # no line runs along the frame
        legend = ax.get_legend()
        if len(measures) > 1:  # below the plot, so it covers no line
            assert legend.get_window_extent().y1 <= ax.get_window_extent().y0, title
        else:
            assert legend is None  # the title names the one line
    relations = outcome_figure(model, *PLOTS[0])
    marks = [line for line in relations.axes[0].get_lines() if line.get_gid() == "class-threshold"]
    assert sorted(float(line.get_ydata()[0]) for line in marks) == [50.0, 65.0]  # the report's thresholds
