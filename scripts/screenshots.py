"""Regenerate the screenshots in docs/img/: a team page, the board and the debrief of a classroom game, and the
dashboard.

It serves ``scenarios/classroom.yaml`` with three teams (seed 3), plays two turns through the pages' own forms
(Seoul a summit then a joint statement, Washington brokering, a facilitator's missile launch in turn 1), shoots
Seoul's page and the board, plays the remaining turns and shoots the debrief; then it starts the dashboard,
steps a year and shoots it. Needs the ``dev`` extra and Chromium at /usr/bin/chromium:

    python -m scripts.screenshots
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 120_000
VIEWPORT = {"width": 1400, "height": 1000}


def start(args: list[str], ready: str, cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python -m sim ARGS``; return it and its lines up to the one containing ``ready``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if ready in line:
            return process, lines
    raise RuntimeError(f"{args[0]} did not start: {lines}")


def post(url: str, fields: dict[str, str]) -> None:
    """Submit a form as a page would (the server answers with a redirect)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120):
        pass


def play(base: str, links: dict[str, str], turn: int, moves: dict[str, str], inject: str | None = None) -> None:
    """One turn: the teams' moves, an optional inject, the advance."""
    token = {
        role: urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0] for role, link in links.items()
    }
    for team, move in moves.items():
        post(f"{base}/team/{team}/move", {"token": token[team], "turn": str(turn), "move": move})
    if inject:
        post(
            f"{base}/facilitator/inject",
            {
                "token": token["facilitator"],
                "turn": str(turn),
                "kind": inject,
                "actor": "pyongyang",
                "magnitude": "2",
            },
        )
    post(f"{base}/facilitator/advance", {"token": token["facilitator"], "turn": str(turn)})


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot into docs/img/."""
    page.screenshot(path=str(IMG / name), full_page=True)
    print(f"wrote docs/img/{name}")


def exercise_shots(browser: object, folder: Path) -> None:
    """The team page and the board after two turns, the debrief after six."""
    process, lines = start(
        [
            "exercise",
            "serve",
            str(ROOT / "scenarios" / "classroom.yaml"),
            "--teams",
            "seoul,tokyo,washington",
            "--seed",
            "3",
            "--port",
            "0",
            "--debrief-runs",
            "200",
            "--save",
            str(folder / "game.json"),
        ],
        "Stop with Ctrl-C",
        folder,
    )
    try:
        links = {}
        for line in lines:
            if line.startswith("Facilitator: "):
                links["facilitator"] = line.split(": ", 1)[1]
            elif line.startswith("Team "):
                team, link = line[len("Team ") :].split(": ", 1)
                links[team] = link
        base = re.match(r"(http://[^/]+)", links["facilitator"]).group(1)  # type: ignore[union-attr]
        play(base, links, 1, {"seoul": "summit", "washington": "broker"}, inject="missile_launch")
        play(base, links, 2, {"seoul": "joint_statement", "tokyo": "hold", "washington": "steady"})
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page.goto(links["seoul"])
        expect(page.locator("#what-happened")).to_be_visible(timeout=WAIT_MS)
        page.locator("#move-summit").check()  # shows the cost preview
        shoot(page, "exercise_team.png")
        page.goto(f"{base}/board")
        expect(page.locator("#trend-chart")).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function("document.getElementById('trend-chart').naturalWidth > 0", timeout=WAIT_MS)
        shoot(page, "exercise_board.png")
        for turn in range(3, 7):
            play(base, links, turn, {"seoul": "summit" if turn % 2 else "hold", "washington": "broker"})
        page.close()  # a fresh page: the board reloads itself when the turn changes
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page.goto(links["facilitator"].replace("/facilitator?", "/debrief?"), timeout=WAIT_MS)
        expect(page.locator("#debrief-figure")).to_be_visible(timeout=WAIT_MS)
        shoot(page, "debrief.png")
        page.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def dashboard_shot(browser: object, folder: Path) -> None:
    """The dashboard on the baseline after twelve months."""
    process, lines = start(
        ["dashboard", str(ROOT / "scenarios" / "baseline.yaml"), "--port", "0"], "Dashboard:", folder
    )
    try:
        base = next(m.group(1) for line in lines if (m := re.search(r"(http://127\.0\.0\.1:\d+)", line)))
        for _ in range(120):  # the line comes before the server listens (and it may fetch its assets first)
            try:
                urllib.request.urlopen(base, timeout=10).close()
                break
            except OSError:
                time.sleep(1.0)
        page = browser.new_page(viewport={"width": 1400, "height": 950})  # type: ignore[attr-defined]
        page.goto(base, timeout=WAIT_MS)
        state = page.locator(".dashboard-state")
        expect(state).to_contain_text("month 0 of", timeout=WAIT_MS)
        for month in range(1, 13):
            page.locator(".step-button").click()
            expect(state).to_contain_text(f"month {month} of", timeout=WAIT_MS)
        shoot(page, "dashboard.png")
        page.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Regenerate every screenshot."""
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            exercise_shots(browser, Path(scratch))
            dashboard_shot(browser, Path(scratch))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
