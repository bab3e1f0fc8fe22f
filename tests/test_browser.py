"""Real browser tests: Playwright drives Debian's Chromium against the exercise server and the dashboard, each
started as a subprocess on 127.0.0.1 on a free port.

Without /usr/bin/chromium these tests skip, unless RAPPROCHEMENT_REQUIRE_BROWSER=1 (set by .ci/run), where a
missing browser fails them. They wait for page elements with generous timeouts and never assert on time.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sim.ui.game import label
from sim.ui.story import change_text, value_text
from tests.conftest import SCENARIOS

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "RAPPROCHEMENT_REQUIRE_BROWSER"
#: Generous: a page or a server on a loaded two-core machine may take a while; nothing asserts on time.
WAIT_MS = 60_000
SERVER_START_S = 120.0

try:
    import playwright.sync_api as playwright_sync
except ImportError:  # reported by the browser fixture: a skip, or a failure where a browser is required
    playwright_sync = None  # type: ignore[assignment]


def _browser_missing_reason() -> str | None:
    if playwright_sync is None:
        return "playwright is not installed (pip install '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright (skipped without it, unless the environment requires it)."""
    reason = _browser_missing_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Server:
    """A running server subprocess and what it printed on start."""

    process: subprocess.Popen[str]
    lines: list[str]
    base: str

    def stop(self) -> None:
        """Stop the process this test started (by its own handle) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_server(args: list[str], cwd: Path, ready: str) -> Server:
    """Start ``python -m sim ARGS`` and wait until it prints a line containing ``ready`` (then it listens)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    feed: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            feed.put(line.rstrip("\n"))
        feed.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = feed.get(timeout=SERVER_START_S)
        except queue.Empty:
            process.kill()
            pytest.fail(f"server did not start: {lines}")
        if line is None:
            process.wait()
            pytest.fail(f"server exited with {process.returncode}: {lines}")
        lines.append(line)
        if ready in line:
            break
    found = [re.search(r"(http://127\.0\.0\.1:\d+)", line) for line in lines]
    base = next(m.group(1) for m in found if m)
    return Server(process, lines, base)


def post(url: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST a url-encoded form without following redirects; the status and body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(urllib.request.Request(url, data=data, method="POST"), timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(url: str) -> tuple[int, bytes]:
    """GET a URL; the status and body."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --------------------------------------------------------------------------------------------------
# The exercise
#: The test scenario's scheduled court ruling, in turn 2 (2026-01 to 2026-06).
RULING = "Supreme Court orders a Japanese firm to compensate former forced labourers"
SCENARIO = f"""\
extends: {SCENARIOS / "baseline.yaml"}
meta:
  name: browser_class
  months: 24
publics:
  korea: {{citizens: 200}}
  japan: {{citizens: 200}}
events:
  - {{date: 2025-10, kind: leadership_change, actor: tokyo, leader: Takaichi Sanae, orientation: 0.35,
     description: Takaichi Sanae elected prime minister}}
  - {{date: 2026-02, kind: court_ruling, actor: seoul, description: {RULING}}}
exercise:
  turn_months: 6
  turns: 4
  briefings:
    seoul: "Seoul briefing - keep the 2023 settlement alive."
    tokyo: "Tokyo briefing - the new prime minister faces the right wing."
    washington: "Washington briefing - keep the trilateral on track."
"""


@dataclass
class Exercise:
    """A running exercise: the server, its links by role and its state file."""

    server: Server
    links: dict[str, str]
    state: Path

    def token(self, role: str) -> str:
        """The secret of a role, read from its link."""
        return urllib.parse.parse_qs(urllib.parse.urlparse(self.links[role]).query)["token"][0]


def start_exercise(folder: Path, *extra: str) -> Exercise:
    """Serve the test scenario (or resume ``--resume`` in ``extra``) and collect the printed links."""
    scenario = folder / "browser_class.yaml"
    scenario.write_text(SCENARIO)
    state = folder / "state.json"
    args = ["exercise", "serve", "--port", "0", "--debrief-runs", "12", *extra]
    if "--resume" not in extra:
        args += [str(scenario), "--teams", "seoul,tokyo,washington", "--save", str(state), "--seed", "3"]
    server = start_server(args, folder, ready="Stop with Ctrl-C")
    links = {}
    for line in server.lines:
        if line.startswith("Facilitator: "):
            links["facilitator"] = line.split(": ", 1)[1]
        elif line.startswith("Team "):
            team, link = line[len("Team ") :].split(": ", 1)
            links[team] = link
    assert set(links) == {"facilitator", "seoul", "tokyo", "washington"}, server.lines
    return Exercise(server, links, state)


@pytest.fixture
def exercise(tmp_path: Path) -> Iterator[Exercise]:
    """A fresh exercise server for one test."""
    running = start_exercise(tmp_path)
    try:
        yield running
    finally:
        running.server.stop()


def first_available(page: Any, skip: tuple[str, ...] = ("hold", "steady")) -> str:
    """The first available move on a team page other than doing nothing."""
    rows = page.locator("tr[data-available='true']")
    for name in rows.evaluate_all("rows => rows.map(r => r.dataset.move)"):
        if name not in skip:
            return str(name)
    raise AssertionError("no available move")


def play_turn(pages: dict[str, Any], facilitator: Any, turn: int, chosen: dict[str, str]) -> None:
    """Each team picks and submits a move; the facilitator sees them, then advances the turn."""
    for team, page in pages.items():
        move = chosen[team]
        page.locator(f"#move-{move}").check()
        page.locator("#submit-move").click()
        playwright_sync.expect(page.locator("#notice")).to_contain_text("Move submitted", timeout=WAIT_MS)
        playwright_sync.expect(page.locator("#chosen")).to_have_text(label(move), timeout=WAIT_MS)
    for team, move in chosen.items():
        cell = facilitator.locator(f"#status-{team}")
        playwright_sync.expect(cell).to_have_text(f"submitted: {label(move)}", timeout=WAIT_MS)
    facilitator.locator("#advance").click()
    playwright_sync.expect(facilitator.locator("#turn")).to_have_text(f"turn {turn + 1} of 4", timeout=WAIT_MS)
    for page in pages.values():  # the team pages notice the new turn by themselves
        playwright_sync.expect(page.locator("#turn")).to_have_text(f"turn {turn + 1} of 4", timeout=WAIT_MS)


def test_three_teams_and_a_facilitator_play_two_turns(browser: Any, exercise: Exercise) -> None:
    context = browser.new_context()
    facilitator = context.new_page()
    facilitator.goto(exercise.links["facilitator"])
    playwright_sync.expect(facilitator.locator("#turn")).to_have_text("turn 1 of 4", timeout=WAIT_MS)
    pages = {}
    for team in ("seoul", "tokyo", "washington"):
        page = context.new_page()
        page.goto(exercise.links[team])
        playwright_sync.expect(page.locator("#briefing")).to_contain_text(f"{team.capitalize()} briefing")
        pages[team] = page

    # A move outside Seoul's win-set can be picked and shows its approval cost before it is submitted; a
    # ruled-out one cannot be picked.
    seoul = pages["seoul"]
    outside = seoul.locator("tr[data-available='true']").filter(has_text="outside").first
    playwright_sync.expect(outside.locator("td.cost")).to_contain_text(re.compile(r"\u2212\d+\.\d pp"))
    playwright_sync.expect(outside.locator("input")).to_be_enabled()
    cost = outside.locator("td.cost").inner_text().replace("\u2212", "").replace(" pp", "")
    outside.locator("input").check()
    preview = seoul.locator("#cost-preview")
    playwright_sync.expect(preview).to_contain_text("outside your win-set")
    playwright_sync.expect(preview).to_contain_text(f"about {cost} points of approval")
    playwright_sync.expect(seoul.locator("#chosen-none")).to_be_visible()  # previewed, not submitted
    playwright_sync.expect(seoul.locator("tr[data-move='summit'] td.effect")).to_contain_text("must join")
    summit_cost = seoul.locator("tr[data-move='summit'] td.cost")
    playwright_sync.expect(summit_cost).to_have_text("none")
    ruled_out = seoul.locator("tr[data-move='lift_export_controls']")
    playwright_sync.expect(ruled_out).to_have_attribute("data-available", "false")
    playwright_sync.expect(ruled_out).to_contain_text("nothing to lift")
    playwright_sync.expect(ruled_out.locator("input")).to_be_disabled()
    start_relations = facilitator.locator("tr[data-outcome='relations_index'] td").nth(1).inner_text()

    # The facilitator adds an inject to turn 1, takes it back, and adds another: picking a kind proposes its
    # actor.
    facilitator.select_option("#inject-kind", "shrine_visit")
    playwright_sync.expect(facilitator.locator("#inject-actor")).to_have_value("tokyo")
    facilitator.locator("#add-inject").click()
    playwright_sync.expect(facilitator.locator("#notice")).to_contain_text("Inject added: Shrine visit by Tokyo")
    facilitator.locator("#remove-inject-1").click()
    playwright_sync.expect(facilitator.locator("#notice")).to_contain_text("Inject removed: Shrine visit by Tokyo")
    playwright_sync.expect(facilitator.locator("#no-injects")).to_be_visible()
    playwright_sync.expect(facilitator.locator("#inject-kind")).to_have_value("missile_launch")  # the default
    playwright_sync.expect(facilitator.locator("#inject-actor")).to_have_value("pyongyang")
    facilitator.fill("#inject-magnitude", "3")
    facilitator.locator("#add-inject").click()
    playwright_sync.expect(facilitator.locator("#notice")).to_contain_text("Inject added: Missile launch")
    playwright_sync.expect(facilitator.locator("#upcoming")).to_contain_text(RULING)

    first = {
        "seoul": "summit",
        "tokyo": first_available(pages["tokyo"], ("hold", "summit")),
        "washington": "broker",
    }
    play_turn(pages, facilitator, 1, first)
    after_first = json.loads(exercise.state.read_text())["indicators"]
    # What happened, on every team page: each team's move and its fate, Washington's too; the inject.
    for page in pages.values():
        panel = page.locator("#what-happened")
        playwright_sync.expect(panel).to_contain_text("What happened in turn 1")
        for capital, move in first.items():
            row = panel.locator(f"#fates tr[data-capital='{capital}']").first
            playwright_sync.expect(row).to_contain_text(label(move))
            assert row.get_attribute("data-verdict") in ("made", "held", "not made", "rebuffed", "dropped")
        playwright_sync.expect(panel.locator("#happenings")).to_contain_text("Missile launch by Pyongyang")
        playwright_sync.expect(panel.locator("#happenings")).not_to_contain_text(RULING)  # it fires in turn 2
    washington = pages["washington"].locator("#fates tr[data-capital='washington']")
    playwright_sync.expect(washington).to_have_attribute("data-verdict", "made")
    playwright_sync.expect(washington).to_contain_text("US pressure on Seoul and Tokyo")
    second = {team: first_available(page) for team, page in pages.items()}
    play_turn(pages, facilitator, 2, second)

    # The state advanced: two turns with the teams' moves are recorded and saved, the indicators moved on.
    saved = json.loads(exercise.state.read_text())
    assert [r["moves"] for r in saved["played"]] == [first, second]
    assert [i["kind"] for i in saved["played"][0]["injects"]] == ["missile_launch"]  # the removed one is gone
    # Turn 2 brought the scheduled court ruling, and each indicator's change is the saved state's.
    panel = seoul.locator("#what-happened")
    playwright_sync.expect(panel).to_contain_text("What happened in turn 2")
    playwright_sync.expect(panel.locator("#happenings li[data-origin='scheduled']")).to_contain_text(RULING)
    now = saved["indicators"]
    for name in ("relations_index", "kr_favorability", "nationalist_pressure_kr", "tokyo_approval"):
        row = panel.locator(f"#indicators tr[data-outcome='{name}']")
        playwright_sync.expect(row.locator("td.now")).to_have_text(value_text(name, now[name]))
        playwright_sync.expect(row.locator("td.change")).to_contain_text(
            change_text(name, now[name] - after_first[name])
        )
    playwright_sync.expect(facilitator.locator("#date")).to_have_text("2026-07")
    playwright_sync.expect(facilitator.locator("#history tr")).to_have_count(3)
    playwright_sync.expect(seoul.locator("#history")).to_contain_text("seoul: summit")
    assert facilitator.locator("tr[data-outcome='relations_index'] td").nth(1).inner_text() != start_relations

    # The facilitator's printable handout for a team: briefing and move table, without the page's chrome.
    with context.expect_page() as opened:
        facilitator.locator("#handout-tokyo").click()
    handout = opened.value
    playwright_sync.expect(handout.locator("#briefing")).to_contain_text("Tokyo briefing")
    assert handout.locator("#moves tr[data-move]").count() == len(
        pages["tokyo"].locator("#moves tr[data-move]").all()
    )
    handout.emulate_media(media="print")
    playwright_sync.expect(handout.locator("#print")).to_be_hidden()
    playwright_sync.expect(handout.locator("header")).to_be_hidden()
    context.close()


def test_the_board_follows_the_game_and_shows_no_secret(browser: Any, exercise: Exercise) -> None:
    context = browser.new_context()
    board = context.new_page()
    board.goto(f"{exercise.server.base}/board")
    playwright_sync.expect(board.locator("#status-seoul")).to_have_text("waiting", timeout=WAIT_MS)
    seoul = context.new_page()
    seoul.goto(exercise.links["seoul"])
    seoul.locator("#move-summit").check()
    seoul.locator("#submit-move").click()
    playwright_sync.expect(seoul.locator("#notice")).to_contain_text("Move submitted", timeout=WAIT_MS)
    # The board notices the submission by itself, and says whether, not what.
    playwright_sync.expect(board.locator("#status-seoul")).to_have_text("submitted", timeout=WAIT_MS)
    facilitator = context.new_page()
    facilitator.goto(exercise.links["facilitator"])
    playwright_sync.expect(facilitator.locator("#join-links")).not_to_have_attribute("open", "")
    playwright_sync.expect(facilitator.locator("#join-links .link").first).to_be_hidden()
    facilitator.locator("#advance").click()
    playwright_sync.expect(board.locator("#turn")).to_have_text("turn 2 of 4", timeout=WAIT_MS)
    playwright_sync.expect(board.locator("#history")).to_contain_text("seoul: summit")
    html = board.content()
    assert not any(exercise.token(role) in html for role in ("facilitator", "seoul", "tokyo", "washington"))
    assert board.locator("form").count() == 0
    # The chart comes first, drawn for the turn played, and the last turn's story is told.
    chart = board.locator("#trend-chart")
    playwright_sync.expect(chart).to_be_visible()
    playwright_sync.expect(chart).to_have_attribute("src", "/trend.png?turns=1&size=board")
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 1000
    assert board.locator("section").first.locator("#trend-chart").count() == 1
    playwright_sync.expect(board.locator("#what-happened")).to_contain_text("What happened in turn 1")
    assert float(board.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px")) >= 20
    context.close()


def test_a_team_token_cannot_act_for_another_team_or_the_facilitator(browser: Any, exercise: Exercise) -> None:
    base, seoul = exercise.server.base, exercise.token("seoul")
    status, _ = post(f"{base}/team/tokyo/move", {"token": seoul, "turn": "1", "move": "summit"})
    assert status == 403
    assert post(f"{base}/facilitator/advance", {"token": seoul, "turn": "1"})[0] == 403
    assert post(f"{base}/facilitator/inject", {"token": seoul, "turn": "1", "kind": "nuclear_test"})[0] == 403
    assert post(f"{base}/facilitator/advance", {"token": "guessed", "turn": "1"})[0] == 403
    assert get(f"{base}/facilitator?token={seoul}")[0] == 403
    assert get(f"{base}/api/state?token=nothing")[0] == 403
    # Nothing happened: still turn 1, nothing submitted for Tokyo, no inject.
    state = json.loads(get(f"{base}/api/state?token={exercise.token('facilitator')}")[1])
    assert state["turn"] == 1 and state["status"]["tokyo"] == "waiting"
    assert json.loads(exercise.state.read_text())["pending"] == {"moves": {}, "injects": []}
    # A team's own token works for its own team (the control for the refusals above).
    assert post(f"{base}/team/seoul/move", {"token": seoul, "turn": "1", "move": "summit"})[0] == 303

    page = browser.new_page()
    page.goto(f"{base}/team/tokyo?token={seoul}")
    playwright_sync.expect(page.locator("#message-title")).to_have_text("Not allowed")
    page.goto(f"{base}/facilitator?token={seoul}")
    playwright_sync.expect(page.locator("#message-title")).to_have_text("Not allowed")
    page.close()


def test_a_restarted_server_resumes_the_same_game(browser: Any, tmp_path: Path) -> None:
    running = start_exercise(tmp_path)
    try:
        base, boss = running.server.base, running.token("facilitator")
        assert (
            post(f"{base}/team/seoul/move", {"token": running.token("seoul"), "turn": "1", "move": "summit"})[0]
            == 303
        )
        assert post(f"{base}/facilitator/advance", {"token": boss, "turn": "1"})[0] == 303
        assert (
            post(f"{base}/team/tokyo/move", {"token": running.token("tokyo"), "turn": "2", "move": "summit"})[0]
            == 303
        )
        page = browser.new_page()
        page.goto(running.links["facilitator"])
        before = page.locator("#indicators").inner_text()
        history = page.locator("#history").inner_text()
        page.close()
    finally:
        running.server.stop()

    port = urllib.parse.urlparse(running.server.base).port
    resumed = start_exercise(tmp_path, "--resume", str(running.state), "--port", str(port))
    try:
        assert resumed.links == running.links  # the same links, on the same port, still work
        page = browser.new_page()
        page.goto(resumed.links["facilitator"])
        playwright_sync.expect(page.locator("#turn")).to_have_text("turn 2 of 4", timeout=WAIT_MS)
        assert page.locator("#indicators").inner_text() == before
        assert page.locator("#history").inner_text() == history
        playwright_sync.expect(page.locator("#status-tokyo")).to_have_text("submitted: summit")  # pending kept
        page.locator("#advance").click()
        playwright_sync.expect(page.locator("#turn")).to_have_text("turn 3 of 4", timeout=WAIT_MS)
        page.close()
        saved = json.loads(resumed.state.read_text())
        assert [r["moves"]["tokyo"] for r in saved["played"]] == ["hold", "summit"]
    finally:
        resumed.server.stop()


def test_the_debrief_shows_the_band_and_the_played_path(browser: Any, exercise: Exercise) -> None:
    base, boss = exercise.server.base, exercise.token("facilitator")
    for turn in range(1, 5):
        assert (
            post(f"{base}/team/seoul/move", {"token": exercise.token("seoul"), "turn": str(turn), "move": "hold"})[
                0
            ]
            == 303
        )
        assert post(f"{base}/facilitator/advance", {"token": boss, "turn": str(turn)})[0] == 303
    page = browser.new_page()
    page.goto(exercise.links["seoul"])
    playwright_sync.expect(page.locator("#turn")).to_have_text("exercise over")
    page.locator("#debrief-link").click()
    figure = page.locator("#debrief-figure")
    playwright_sync.expect(figure).to_be_visible(timeout=WAIT_MS)
    assert figure.evaluate("img => img.complete && img.naturalWidth") > 1000
    playwright_sync.expect(page.locator("#reached")).to_contain_text("The game reached")
    playwright_sync.expect(page.locator("#classes tr[data-class]")).to_have_count(3)
    playwright_sync.expect(page.locator("#classes tr.reached")).to_have_count(1)
    playwright_sync.expect(page.locator("main")).to_contain_text("5–95 % (light)")
    playwright_sync.expect(page.locator("main")).to_contain_text("dashed black: the played path")
    playwright_sync.expect(page.locator("#moves tr")).to_have_count(5)
    # The exports: a PNG and a self-contained HTML page.
    status, png = get(f"{base}/debrief.png?token={boss}")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, html = get(f"{base}/debrief.html?token={boss}")
    assert status == 200 and b"data:image/png;base64," in html and b"<script" not in html
    assert get(f"{base}/debrief?token=wrong")[0] == 403
    page.close()


# --------------------------------------------------------------------------------------------------
# The dashboard
DASHBOARD_SCENARIO = f"""\
extends: {SCENARIOS / "baseline.yaml"}
meta:
  name: dashboard_small
  months: 24
publics:
  korea: {{citizens: 200}}
  japan: {{citizens: 200}}
"""


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """The dashboard command serving a small scenario; its URL once the page answers."""
    (tmp_path / "small.yaml").write_text(DASHBOARD_SCENARIO)
    (tmp_path / "other.yaml").write_text("extends: small.yaml\nmeta: {name: dashboard_other}\n")
    # The first start may fetch the page's assets from the npm registry: allow for it.
    server = start_server(["dashboard", str(tmp_path / "small.yaml"), "--port", "0"], tmp_path, ready="Dashboard:")
    try:
        for _ in range(int(SERVER_START_S)):
            try:
                if get(server.base)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if server.process.poll() is not None:
                pytest.fail(f"dashboard exited with {server.process.returncode}: {server.lines}")
            threading.Event().wait(1.0)
        else:
            pytest.fail(f"dashboard did not answer: {server.lines}")
        yield server.base
    finally:
        server.stop()


def step(page: Any, month: int) -> None:
    """Press Step and wait until the page shows the month."""
    page.locator(".step-button").click()
    playwright_sync.expect(page.locator(".dashboard-state")).to_contain_text(
        f"month {month} of 24", timeout=WAIT_MS
    )


def test_the_dashboard_steps_and_a_slider_changes_the_plot(browser: Any, dashboard: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(dashboard)
    state = page.locator(".dashboard-state")
    playwright_sync.expect(state).to_contain_text("dashboard_small, seed 1: month 0 of 24", timeout=WAIT_MS)
    playwright_sync.expect(page.get_by_text("small.yaml")).to_be_visible()
    plot = page.locator(".plot-relations_index img")
    playwright_sync.expect(plot).to_be_visible()
    empty = plot.screenshot()
    step(page, 1)
    step(page, 2)
    defaults = plot.screenshot()
    assert defaults != empty  # stepping draws the months

    # Three times the North Korean provocations: move the slider, reset, step the same seed again.
    slider = page.locator(".knob-nk_provocations")
    slider.get_by_role("slider").focus()
    for _ in range(8):
        slider.get_by_role("slider").press("ArrowRight")
    playwright_sync.expect(slider).to_contain_text("North Korean provocations (\u00d7): 3.00")
    playwright_sync.expect(page.get_by_text("press Reset")).to_be_visible()
    page.locator(".reset-button").click()
    playwright_sync.expect(state).to_contain_text("month 0 of 24", timeout=WAIT_MS)
    playwright_sync.expect(state).to_contain_text("North Korean provocations 3.00 a month")
    step(page, 1)
    step(page, 2)
    assert plot.screenshot() != defaults  # same seed, another driver: another path
    playwright_sync.expect(page.locator(".event-log")).to_contain_text("North Korean provocation")
    page.close()
