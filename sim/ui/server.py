"""The exercise server: server-rendered pages for the facilitator and each team, and the debrief.

Starlette serves Jinja2 pages (``sim/ui/templates``) with plain HTML forms, so every action works without
JavaScript; a few lines of script only poll ``/api/state`` to refresh a page when the turn advances. Every
request carries a secret token (``secrets.token_urlsafe``) in the link or the form, checked on the server:

* a team's token opens its own team page and submits moves for its own capital only;
* the facilitator's token opens the facilitator page, adds injects and advances the turn;
* any valid token opens the debrief; anything else gets 403;
* the board (``/board``), the page to project, needs no token: it shows the indicators, whether each team has
  submitted (not what) and the turns played, and no link, token or form.

Every form carries the turn it was shown for; a form for a turn already played is refused (409), so a late move
or inject never counts for the next turn.

After every change (a move submitted, an inject added, a turn played) the game is saved atomically to its state
file (``sim.ui.game.save_state``), with the tokens, so a restarted server continues the same game with the same
links. Game actions run in worker threads under one lock; the simulated futures of the debrief are computed
once, outside it.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sim.agents.decision import MoveOutcome
from sim.executors import make_executor
from sim.scenario import EventActor, EventKind, Team
from sim.ui.debrief import TEMPLATES, Debrief, Futures, figure_png, render_html, simulate_futures
from sim.ui.game import (
    DEFAULT_CHOICE,
    INJECT_KINDS,
    Choice,
    ExerciseError,
    Game,
    inject_actor,
    inject_label,
    label,
    save_state,
)
from sim.ui.policy import Placement, Search, place, played_levers
from sim.ui.story import changes, event_words, turn_story, upcoming
from sim.ui.trend import trend_png

T = TypeVar("T")

FACILITATOR = "facilitator"
#: Font sizes of the trend chart on the pages and, larger, on the projected board.
PAGE_FONT, BOARD_FONT = 9.0, 13.0
#: The inject the facilitator's form proposes first: the most common shock of the record.
DEFAULT_INJECT = EventKind.MISSILE_LAUNCH
#: What the turn history leaves unsaid of a team's move when it cost nothing: a move made as chosen, a hold.
UNSAID_IN_HISTORY = frozenset({MoveOutcome.MADE, MoveOutcome.HELD})
#: What a token looks like (``secrets.token_urlsafe(24)`` gives 32 such characters); a saved one must match.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,}")
#: Largest form body accepted (the forms are a few short fields).
MAX_FORM_BYTES = 10_000


def new_tokens(teams: tuple[Team, ...]) -> dict[str, str]:
    """A fresh secret token for the facilitator and for each team."""
    return {FACILITATOR: secrets.token_urlsafe(24)} | {t.value: secrets.token_urlsafe(24) for t in teams}


@dataclass(frozen=True)
class Links:
    """Where the facilitator and each team open their pages."""

    facilitator: str
    teams: dict[Team, str]


class ExerciseServer:
    """One game behind a Starlette app."""

    def __init__(
        self,
        game: Game,
        state_path: Path,
        tokens: dict[str, str],
        *,
        base_url: str = "",
        debrief_runs: int = 200,
        workers: int = 1,
        search: Search | None = None,
    ) -> None:
        """Serve ``game``, saving it to ``state_path``; ``tokens`` maps ``facilitator`` and each team to its
        secret; ``base_url`` (``http://host:port``) is used to print and show the join links; ``search`` (a
        finished robust search) makes the debrief set the class's play beside its Pareto set."""
        names = (FACILITATOR, *(t.value for t in game.teams))
        missing = [name for name in names if not isinstance(tokens.get(name), str) or not tokens[name]]
        if missing:
            raise ExerciseError(f"server.tokens: no token for {', '.join(missing)}")
        weak = [name for name in names if not TOKEN_PATTERN.fullmatch(tokens[name])]
        if weak:
            raise ExerciseError(
                f"server.tokens: the token of {', '.join(weak)} is not a secret of at least 20 letters, digits, "
                "'-' or '_' (delete the server block to get new links)"
            )
        self.game = game
        self.state_path = state_path
        self.tokens = dict(tokens)
        self.base_url = base_url
        self.debrief_runs = debrief_runs
        self.workers = workers
        self._lock = threading.Lock()
        self._futures_lock = threading.Lock()
        self._futures: dict[tuple[str, ...], Futures] = {}
        self.search = search
        #: The class's play placed against the search, for each reading of its levers (computed once each).
        self._placements: dict[str, Placement] = {}
        #: Why the game accepts no more actions (a turn failed halfway or could not be saved), or None.
        self.broken: str | None = None
        #: The trend chart (PNG) for each number of turns played and size, drawn once.
        self._trends: dict[tuple[int, bool], bytes] = {}
        self.save()

    # ----------------------------------------------------------------------------------------------
    # State
    def save(self) -> None:
        """Write the game and the tokens to the state file."""
        save_state(self.state_path, self.game, {"tokens": self.tokens})

    def links(self) -> Links:
        """The facilitator's link and one join link per team."""
        base = self.base_url
        return Links(
            f"{base}/facilitator?token={quote(self.tokens[FACILITATOR])}",
            {t: f"{base}/team/{t.value}?token={quote(self.tokens[t.value])}" for t in self.game.teams},
        )

    def role(self, token: str | None) -> str | None:
        """``facilitator`` or a team's name for a valid token (compared in constant time), else None."""
        if not token:
            return None
        found = None
        for name, secret in self.tokens.items():
            if secrets.compare_digest(token.encode(), secret.encode()):
                found = name
        return found

    def _locked(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run a game action in a worker thread, under the game's lock."""
        return await run_in_threadpool(self._locked, fn)

    def futures(self) -> Futures:
        """The debrief's simulated futures for the injects played so far (computed once for each such list; the
        teams' moves do not change them)."""
        injects = self._locked(self.game.injects_played)
        key = tuple(json.dumps(e.model_dump(mode="json"), sort_keys=True) for e in injects)
        with self._futures_lock:
            if key not in self._futures:
                self._futures[key] = simulate_futures(
                    self.game, self.debrief_runs, workers=self.workers, injects=injects
                )
            return self._futures[key]

    def prepare_debrief(self) -> None:
        """Compute the futures in the background now, so the debrief opens at once when it is asked for."""
        threading.Thread(target=self.futures, name="debrief-futures", daemon=True).start()

    # ----------------------------------------------------------------------------------------------
    # Page contexts
    def _common(self) -> dict[str, Any]:
        game = self.game
        history = [
            {
                "turn": r.turn,
                "date": game.date(r.month),
                "moves": [(t.value, label(m), r.remark(t, unsaid=UNSAID_IN_HISTORY)) for t, m in r.moves.items()],
                "injects": [inject_label(e) for e in r.injects],
                "made": [(d, s, label(m)) for d, s, m in game.moves_made(r)],
            }
            for r in game.history
        ]
        played = len(game.history)
        now = game.indicators()
        story = turn_story(game, game.history[-1]) if played else None
        return {
            "name": game.scenario.meta.name,
            "turn": game.turn,
            "turns": game.turns,
            "turn_months": game.turn_months,
            "finished": game.finished,
            "date": game.date(),
            "seed": game.seed,
            # The last turn's changes are the story's; before a turn, the indicators as they stand.
            "changes": story.changes if story is not None else changes(now, now),
            "since_start": {c.name: c for c in changes(now, game.start_indicators)},
            "story": story,
            "announced": [event_words(e, describe=False) for e in game.pending_injects],
            "trend_url": f"/trend.png?turns={played}",
            "history": history,
            "label": label,
            "paragraphs": paragraphs,
        }

    def team_context(self, team: Team) -> dict[str, Any]:
        """What a team's page shows."""
        game = self.game
        chosen = game.pending.get(team)
        choices = [] if game.finished else game.choices(team)
        picked = next((c for c in choices if c.name == chosen), None)
        return self._common() | {
            "team": team.value,
            "team_label": team.value.capitalize(),
            "token": self.tokens[team.value],
            "briefing": self._briefing(team),
            "choices": choices,
            "required": game.required_share(team),
            "required_cooperative": game.required_share(team, cooperative=True),
            "us_factor": game.us_factor(),
            "us_team": Team.WASHINGTON in game.teams,
            "chosen": chosen,
            "chosen_label": label(chosen) if chosen else "",
            "chosen_cost": cost_words(picked) if picked is not None else "",
            "cost_words": cost_words,
            "default_label": label(DEFAULT_CHOICE[team]),
            "poll_url": f"/api/state?token={quote(self.tokens[team.value])}",
            "page_url": f"/team/{team.value}?token={quote(self.tokens[team.value])}",
        }

    def _briefing(self, team: Team) -> str:
        exercise = self.game.scenario.exercise
        return exercise.briefings.get(team, "") if exercise is not None else ""

    def handout_context(self, team: Team) -> dict[str, Any]:
        """A team's printable handout: its briefing and its move table as the coming turn stands."""
        game = self.game
        return self._common() | {
            "team_label": team.value.capitalize(),
            "briefing": self._briefing(team),
            "choices": [] if game.finished else game.choices(team),
            "required": game.required_share(team),
            "cost_words": cost_words,
        }

    def status(self, *, public: bool = False) -> dict[str, str]:
        """Each team's submission this turn, as the facilitator sees it (``public``: whether, not what)."""
        return {
            t.value: ("submitted" if public else f"submitted: {label(self.game.pending[t])}")
            if t in self.game.pending
            else "waiting"
            for t in self.game.teams
        }

    def facilitator_context(self) -> dict[str, Any]:
        """What the facilitator's page shows."""
        game = self.game
        links = self.links()
        status = self.status()
        exercise = game.scenario.exercise
        token = quote(self.tokens[FACILITATOR])
        return self._common() | {
            "token": self.tokens[FACILITATOR],
            "poll_url": f"/api/state?token={token}",
            "page_url": f"/facilitator?token={token}",
            "board_url": f"{self.base_url}/board",
            "team_rows": [
                {"team": t.value, "label": t.value.capitalize(), "status": status[t.value], "link": links.teams[t]}
                for t in game.teams
            ],
            "kinds": [(k.value, inject_actor(k).value) for k in INJECT_KINDS],
            "default_kind": DEFAULT_INJECT.value,
            "default_actor": inject_actor(DEFAULT_INJECT).value,
            "actors": [a.value for a in EventActor],
            "pending_injects": [inject_label(e) for e in game.pending_injects],
            "upcoming": upcoming(game),
            "handouts": {t.value: f"/handout/{t.value}?token={token}" for t in game.teams},
            "debrief_runs": self.debrief_runs,
            "notes": exercise.facilitator_notes if exercise is not None else "",
        }

    def board_context(self) -> dict[str, Any]:
        """What the board (the page to project) shows: no token, no link, no form, no team's choice."""
        status = self.status(public=True)
        return self._common() | {
            "poll_url": "/api/board",
            "page_url": "/board",
            "trend_url": f"/trend.png?turns={len(self.game.history)}&size=board",
            "team_rows": [
                {"team": t.value, "label": t.value.capitalize(), "status": status[t.value]}
                for t in self.game.teams
            ],
        }

    def _stale(self, form: dict[str, str]) -> str | None:
        """Why a form is not for the turn being prepared (a page left open while the turn advanced), or None.

        Checked under the game's lock, so a move or inject is never counted for a later turn than its page."""
        turn = form.get("turn")
        if turn == str(self.game.turn):
            return None
        if not turn:
            return "this form does not say which turn it is for: reload the page and try again"
        if self.game.finished:
            return f"this form was for turn {turn}; the exercise is over"
        return (
            f"this form was for turn {turn}, which has already been played; it is now turn {self.game.turn}: "
            "reload the page, check the new state and choose again"
        )

    # ----------------------------------------------------------------------------------------------
    # Handlers
    def _page(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        page = TEMPLATES.get_template(template).render(**({"notice": None, "error": None} | context))
        # Pages hold tokens in their links and forms: keep them out of caches.
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})

    def _denied(self) -> HTMLResponse:
        return self._page(
            "message.html",
            {"title": "Not allowed", "message": "This link or token does not allow that. Ask your facilitator."},
            403,
        )

    async def index(self, request: Request) -> Response:
        """The bare address: no token, so only a pointer to the links."""
        return self._page(
            "message.html",
            {"title": "Rapprochement exercise", "message": "Open the link your facilitator gave your team."},
        )

    async def team_page(self, request: Request) -> Response:
        """A team's page: briefing, indicators and this turn's moves (its own token only)."""
        team = _team(request.path_params["team"])
        if team is None or self.role(request.query_params.get("token")) != team.value:
            return self._denied()
        context = await self._run(lambda: self.team_context(team))
        return self._page("team.html", context | {"notice": request.query_params.get("notice")})

    def _transact(
        self, form: dict[str, str], change: Callable[[], str], refused: int
    ) -> tuple[str | None, int, str]:
        """Apply one change to the game and save it, under the game's lock: (error or None, status, notice).

        Refused without a change when the game is broken or the form is stale. A change the game refuses
        (``ExerciseError``) gets status ``refused``. If the save fails, a move or inject is rolled back (the page
        says so; nothing happened); a turn cannot be unplayed, so the game is marked broken. So is a turn that
        fails halfway through: the model is then between months and no further action is accepted."""
        if self.broken is not None:
            return self.broken, 503, ""
        stale = self._stale(form)
        if stale is not None:
            return stale, 409, ""
        game = self.game
        pending, injects, month = dict(game.pending), list(game.pending_injects), game.model.month

        def failed(problem: str) -> tuple[str, int, str]:
            if game.model.month == month:  # a move or an inject: undo it
                game.pending, game.pending_injects = pending, injects
                return f"{problem}; nothing was changed: try again", 500, ""
            # A turn cannot be unplayed: stop, so nothing is added to a game the file does not hold.
            self.broken = (
                f"{problem} while the turn was played, so the game is stopped: restart the server with "
                f"--resume {self.state_path} (it continues from the last turn saved, with the moves saved for it)"
            )
            return self.broken, 500, ""

        try:
            notice = change()
        except ExerciseError as exc:
            return str(exc), refused, ""
        except Exception as exc:
            return failed(f"the server failed ({type(exc).__name__}: {exc})")
        try:
            self.save()
        except OSError as exc:
            return failed(f"the game could not be saved to {self.state_path} ({exc.strerror or exc})")
        return None, 303, notice

    async def submit_move(self, request: Request) -> Response:
        """A team submits its move; refused (409) if it is unavailable (a move outside the win-set is not: it
        costs approval)."""
        team = _team(request.path_params["team"])
        form = await _form(request)
        if team is None or self.role(form.get("token")) != team.value:
            return self._denied()

        def change() -> str:
            return f"Move submitted: {self.game.submit(team, form.get('move', '')).label}"

        def act() -> tuple[str | None, int, str, dict[str, Any]]:
            error, status, notice = self._transact(form, change, 409)
            return error, status, notice, self.team_context(team) if error is not None else {}

        error, status, notice, context = await self._run(act)
        if error is not None:
            return self._page("team.html", context | {"error": error, "notice": None}, status)
        return RedirectResponse(
            f"/team/{team.value}?token={quote(self.tokens[team.value])}&notice={quote(notice)}", status_code=303
        )

    async def facilitator_page(self, request: Request) -> Response:
        """The facilitator's page (facilitator token only)."""
        if self.role(request.query_params.get("token")) != FACILITATOR:
            return self._denied()
        context = await self._run(self.facilitator_context)
        return self._page("facilitator.html", context | {"notice": request.query_params.get("notice")})

    async def add_inject(self, request: Request) -> Response:
        """The facilitator adds an inject to the coming turn (400 with the reason if it is invalid)."""
        form = await _form(request)
        if self.role(form.get("token")) != FACILITATOR:
            return self._denied()

        def change() -> str:
            try:
                magnitude = float(form.get("magnitude") or 1.0)
                engagement = float(form["engagement"]) if form.get("engagement") else None
            except ValueError:
                raise ExerciseError("inject refused: magnitude and engagement must be numbers") from None
            event = self.game.add_inject(form.get("kind", ""), form.get("actor", "world"), magnitude, engagement)
            return f"Inject added: {inject_label(event)}"

        return await self._facilitator_action(form, change, 400)

    async def remove_inject(self, request: Request) -> Response:
        """The facilitator removes a pending inject of the coming turn (by its place in the list)."""
        form = await _form(request)
        if self.role(form.get("token")) != FACILITATOR:
            return self._denied()

        def change() -> str:
            try:
                index = int(form.get("index", ""))
            except ValueError:
                raise ExerciseError("remove: which inject? (index must be a whole number)") from None
            return f"Inject removed: {inject_label(self.game.remove_inject(index))}"

        return await self._facilitator_action(form, change, 409)

    async def handout(self, request: Request) -> Response:
        """A team's printable handout (facilitator token only): briefing and move table, with print styles."""
        team = _team(request.path_params["team"])
        if (
            team is None
            or team not in self.game.teams
            or self.role(request.query_params.get("token")) != FACILITATOR
        ):
            return self._denied()
        return self._page("handout.html", await self._run(lambda: self.handout_context(team)))

    async def trend(self, request: Request) -> Response:
        """The trend chart as PNG (no token: it shows what the board shows), drawn once per turn played."""

        large = request.query_params.get("size") == "board"

        def draw() -> bytes:
            key = (len(self.game.history), large)
            if key not in self._trends:
                self._trends[key] = trend_png(self.game, fontsize=BOARD_FONT if large else PAGE_FONT)
            return self._trends[key]

        return Response(await self._run(draw), media_type="image/png", headers={"Cache-Control": "no-store"})

    async def advance(self, request: Request) -> Response:
        """The facilitator plays the turn; a stale form (the turn already played) is refused with 409."""
        form = await _form(request)
        if self.role(form.get("token")) != FACILITATOR:
            return self._denied()

        def change() -> str:
            record = self.game.advance()
            if record.injects:
                self.prepare_debrief()  # the futures now include this turn's injects: start on them at once
            return f"Turn {record.turn} played"

        return await self._facilitator_action(form, change, 409)

    async def _facilitator_action(self, form: dict[str, str], change: Callable[[], str], refused: int) -> Response:
        def act() -> tuple[str | None, int, str, dict[str, Any]]:
            error, status, notice = self._transact(form, change, refused)
            return error, status, notice, self.facilitator_context() if error is not None else {}

        error, status, notice, context = await self._run(act)
        if error is not None:
            return self._page("facilitator.html", context | {"error": error, "notice": None}, status)
        return self._back_to_facilitator(notice)

    def _back_to_facilitator(self, notice: str) -> Response:
        return RedirectResponse(
            f"/facilitator?token={quote(self.tokens[FACILITATOR])}&notice={quote(notice)}", status_code=303
        )

    async def board_page(self, request: Request) -> Response:
        """The board to project: read-only, open to anyone who reaches the server (it shows no secret)."""
        return self._page("board.html", await self._run(self.board_context))

    async def api_board(self, request: Request) -> Response:
        """Polled by the board: the turn and whether each team has submitted (not what)."""

        def view() -> dict[str, Any]:
            return {"turn": self.game.turn, "finished": self.game.finished, "status": self.status(public=True)}

        return JSONResponse(await self._run(view))

    async def api_state(self, request: Request) -> Response:
        """Polled by the pages: the turn, and for the facilitator each team's submission."""
        role = self.role(request.query_params.get("token"))
        if role is None:
            return JSONResponse({"error": "forbidden"}, status_code=403)

        def view() -> dict[str, Any]:
            game = self.game
            state: dict[str, Any] = {"turn": game.turn, "finished": game.finished, "date": game.date()}
            if role == FACILITATOR:
                state["status"] = self.status()
            else:
                state["submitted"] = game.pending.get(Team(role))
            return state

        return JSONResponse(await self._run(view))

    def placement(self) -> Placement | None:
        """The class's play against the robust search (None without a search or before a turn): its levers are
        read under the game's lock, evaluated on the search's futures outside it, once for each reading."""
        if self.search is None:
            return None
        search = self.search
        read = self._locked(
            lambda: played_levers(self.game, search.levers, search.scenario) if self.game.history else None
        )
        if read is None:
            return None
        levers, how = read
        key = json.dumps(levers, sort_keys=True, default=str)
        with self._futures_lock:
            if key not in self._placements:
                with make_executor(self.workers) as executor:
                    self._placements[key] = place(search, levers, how, executor=executor)
            return self._placements[key]

    async def _debrief(self, request: Request) -> tuple[Debrief, Placement | None] | None:
        if self.role(request.query_params.get("token")) is None:
            return None
        futures = await run_in_threadpool(self.futures)
        placement = await run_in_threadpool(self.placement)
        return await self._run(lambda: Debrief.of(self.game, futures)), placement

    async def debrief_page(self, request: Request) -> Response:
        """The debrief, with links to export it (any valid token)."""
        found = await self._debrief(request)
        if found is None:
            return self._denied()
        debrief, placement = found
        token = quote(request.query_params["token"])
        links = {"Download HTML": f"/debrief.html?token={token}", "Download PNG": f"/debrief.png?token={token}"}
        html = await run_in_threadpool(lambda: render_html(debrief, links=links, placement=placement))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def debrief_file(self, request: Request) -> Response:
        """The debrief as a file to keep: ``/debrief.html`` (self-contained page) or ``/debrief.png`` (figure)."""
        found = await self._debrief(request)
        if found is None:
            return self._denied()
        debrief, placement = found
        if request.url.path.endswith(".png"):
            body: str | bytes = await run_in_threadpool(figure_png, debrief)
            media_type, name = "image/png", "debrief.png"
        else:
            body = await run_in_threadpool(lambda: render_html(debrief, placement=placement))
            media_type, name = "text/html", "debrief.html"
        disposition = f'attachment; filename="{name}"'
        return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})

    def app(self) -> Starlette:
        """The Starlette application."""
        return Starlette(
            routes=[
                Route("/", self.index),
                Route("/team/{team}", self.team_page),
                Route("/team/{team}/move", self.submit_move, methods=["POST"]),
                Route("/facilitator", self.facilitator_page),
                Route("/facilitator/inject", self.add_inject, methods=["POST"]),
                Route("/facilitator/inject/remove", self.remove_inject, methods=["POST"]),
                Route("/handout/{team}", self.handout),
                Route("/trend.png", self.trend),
                Route("/facilitator/advance", self.advance, methods=["POST"]),
                Route("/api/state", self.api_state),
                Route("/board", self.board_page),
                Route("/api/board", self.api_board),
                Route("/debrief", self.debrief_page),
                Route("/debrief.html", self.debrief_file),
                Route("/debrief.png", self.debrief_file),
            ]
        )


def cost_words(choice: Choice) -> str:
    """What a capital's move would cost at home if made now, in words (Washington's actions cost nothing)."""
    if choice.acceptance is None or choice.approval_cost is None:
        return ""
    if choice.approval_cost != choice.approval_cost:  # NaN: ruled out, so not weighed
        return ""
    if choice.approval_cost > 0:
        return (
            f"outside your win-set ({100 * choice.acceptance:.0f} % of your public would accept it): it would "
            f"cost about {100 * choice.approval_cost:.1f} points of approval"
        )
    return f"inside your win-set ({100 * choice.acceptance:.0f} % would accept it): no approval cost"


def paragraphs(text: str) -> list[str]:
    """Text split at blank lines, each paragraph's line breaks joined (YAML block text keeps them)."""
    return [" ".join(part.split()) for part in text.split("\n\n") if part.strip()]


def _team(name: str) -> Team | None:
    try:
        return Team(name)
    except ValueError:
        return None


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (first value of each); a body too large or not url-encoded is empty.

    Parsed by hand: Starlette's own form parser needs python-multipart, which the forms here do not."""
    # Refuse a large body by its declared length before reading it; count what arrives as well, since the
    # header may be missing (chunked) or wrong.
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        return {}
    if declared > MAX_FORM_BYTES:
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {key: values[0] for key, values in fields.items()}
