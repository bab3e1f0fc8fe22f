"""Subcommands of the exercise family (see sim/commands/__init__.py).

``rapprochement dashboard [SCENARIO]`` serves the Solara dashboard; ``rapprochement exercise serve`` runs a class
exercise (team pages, facilitator page, debrief); ``rapprochement exercise debrief`` exports a saved game's
debrief as HTML and PNG. The pages need the ``ui`` extra; a missing one is reported as a usage error.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sim.cli import UsageError, command_parser, load_all, positive_int, seed_value
from sim.executors import START_METHOD_ENV
from sim.scenario import Team
from sim.ui import DASHBOARD_SCENARIO_ENV, DEFAULT_DASHBOARD_SCENARIO

if TYPE_CHECKING:
    from sim.ui.game import Game
    from sim.ui.policy import Search

DEFAULT_DASHBOARD_PORT = 8765
DEFAULT_EXERCISE_PORT = 8000
DEFAULT_DEBRIEF_RUNS = 200


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this family's subcommands to the ``rapprochement`` parser."""
    dashboard = command_parser(sub, "dashboard")
    dashboard.add_argument("scenario", nargs="?", type=Path, help="scenario selected at start (default baseline)")
    _server_options(dashboard, DEFAULT_DASHBOARD_PORT)
    dashboard.set_defaults(handler=_cmd_dashboard)

    exercise = command_parser(sub, "exercise")
    family = exercise.add_subparsers(dest="exercise_command", required=True)

    serve = family.add_parser("serve", help="serve the facilitator's and the teams' pages")
    serve.add_argument("scenario", nargs="?", type=Path, help="scenario YAML file (not needed with --resume)")
    serve.add_argument(
        "--teams", default=None, help="capitals played by teams, comma-separated: seoul,tokyo,washington"
    )
    serve.add_argument(
        "--turn-months", type=positive_int, default=None, help="months per turn (default: the scenario's, or 6)"
    )
    serve.add_argument("--turns", type=positive_int, default=None, help="turns (default: the scenario's)")
    serve.add_argument(
        "--seed", type=seed_value, default=None, help="seed of the game and its debrief (default 1)"
    )
    serve.add_argument("--save", type=Path, default=None, help="state file (default exercise-<scenario>.json)")
    serve.add_argument("--resume", type=Path, default=None, metavar="FILE", help="continue a saved game")
    serve.add_argument(
        "--debrief-runs",
        type=positive_int,
        default=DEFAULT_DEBRIEF_RUNS,
        help=f"simulated futures in the debrief (default {DEFAULT_DEBRIEF_RUNS})",
    )
    serve.add_argument("--workers", type=positive_int, default=1, help="processes for the debrief (default 1)")
    _robust_option(serve)
    serve.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    _server_options(serve, DEFAULT_EXERCISE_PORT)
    serve.set_defaults(handler=_cmd_serve)

    debrief = family.add_parser("debrief", help="write a saved game's debrief as HTML and PNG")
    debrief.add_argument("state", type=Path, help="the game's state file")
    debrief.add_argument("--runs", type=positive_int, default=DEFAULT_DEBRIEF_RUNS, help="simulated futures")
    debrief.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
    debrief.add_argument("--out", type=Path, default=None, help="folder (default: beside the state file)")
    _robust_option(debrief)
    debrief.set_defaults(handler=_cmd_debrief)


def _robust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--robust",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="a finished robust search (rapprochement robust): the debrief sets the class's play beside its "
        "Pareto set",
    )


def _open_search(folder: Path | None) -> Search | None:
    """The robust search of ``--robust``, checked before anything runs (a usage error names the folder)."""
    if folder is None:
        return None
    from sim.robust import SearchError
    from sim.ui.policy import Search

    try:
        return Search.open(folder)
    except SearchError as exc:
        raise UsageError(f"--robust: {exc}") from None


def _server_options(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=port, help=f"port (default {port}; 0 picks a free one)")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a port in use or an address not of this machine is a usage error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host: cannot use {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"--port: port {port} on {host} is in use; choose another with --port") from None
        raise UsageError(f"--host/--port: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _require_ui() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the exercise server needs the ui extra: pip install '.[ui]' ({exc})") from None


def parse_teams(text: str) -> list[Team]:
    """``seoul,tokyo,washington`` as teams; an unknown or repeated name is a usage error."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    valid = ", ".join(t.value for t in Team)
    teams = []
    for name in names:
        try:
            team = Team(name)
        except ValueError:
            raise UsageError(f"--teams: unknown team {name!r}; expected some of {valid}") from None
        if team in teams:
            raise UsageError(f"--teams: {name} is named twice")
        teams.append(team)
    if not teams:
        raise UsageError(f"--teams: name at least one of {valid}")
    return teams


def check_writable(path: Path, option: str) -> None:
    """Fail now, as a usage error naming ``path``, if a file cannot be written there (not after the work)."""
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a folder; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {path} ({exc.strerror or exc})") from None


def _new_game(args: argparse.Namespace) -> Game:
    from sim.ui.game import ExerciseError, Game

    if args.scenario is None:
        raise UsageError("exercise serve: give a SCENARIO file, or --resume FILE to continue a saved game")
    if args.teams is None:
        raise UsageError("--teams: name the capitals played by teams, e.g. --teams seoul,tokyo,washington")
    teams = parse_teams(args.teams)
    [(path, scenario)] = load_all([args.scenario], args.overrides)
    exercise = scenario.exercise
    turn_months = args.turn_months or (exercise.turn_months if exercise is not None else 6)
    turns = args.turns or (exercise.turns if exercise is not None else scenario.meta.months // turn_months)
    if turns < 1:
        raise UsageError(
            f"{path}: meta.months ({scenario.meta.months}) is shorter than one turn of {turn_months} months"
        )
    try:
        return Game(
            scenario,
            seed=1 if args.seed is None else args.seed,
            teams=teams,
            turn_months=turn_months,
            turns=turns,
            source=str(path),
        )
    except ExerciseError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _cmd_serve(args: argparse.Namespace) -> int:
    _require_ui()
    from sim.ui.game import lock_state

    if args.resume is not None:
        if args.overrides:
            raise UsageError(
                f"--set: the saved game in {args.resume} keeps its own scenario; overrides cannot change it "
                "(start a new game with --set instead)"
            )
        state_path = args.save or args.resume
        if args.save is not None and args.save.resolve() != args.resume.resolve():
            _refuse_existing(args.save)
        check_writable(state_path, "--save" if args.save is not None else "--resume")
        game = None
    else:
        if args.save is not None:
            _refuse_existing(args.save)
            check_writable(args.save, "--save")
        game = _new_game(args)
        state_path = args.save or Path(f"exercise-{game.scenario.meta.name}.json")
        _refuse_existing(state_path)
        check_writable(state_path, "--save")
    # Held for the server's whole life (released however the process ends): no second server saves this game.
    lock = _lock(lock_state, state_path)
    try:
        return _serve(args, game, state_path)
    finally:
        lock.close()


def _serve(args: argparse.Namespace, game: Game | None, state_path: Path) -> int:
    """Serve a new ``game``, or (None) the one saved in ``args.resume``, saving it to ``state_path``."""
    import uvicorn

    from sim.ui.game import ExerciseError, load_state
    from sim.ui.server import ExerciseServer, new_tokens

    if game is None:
        game, server_block = load_state(args.resume)
        _check_resume(args, game)
        saved_tokens = server_block.get("tokens")
        # The saved tokens keep the links the teams already have; a file without them gets new ones.
        tokens = saved_tokens if isinstance(saved_tokens, dict) and saved_tokens else new_tokens(game.teams)
    else:
        tokens = new_tokens(game.teams)
    search = _open_search(args.robust)
    if args.workers > 1:
        # The debrief's pool starts inside a server that runs threads: forking there is unsafe.
        os.environ.setdefault(START_METHOD_ENV, "forkserver")
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    try:
        server = ExerciseServer(
            game,
            state_path,
            tokens,
            base_url=_url(shown_host(args.host), port),
            debrief_runs=args.debrief_runs,
            workers=args.workers,
            search=search,
        )
    except ExerciseError as exc:
        sock.close()
        raise UsageError(f"{args.resume or state_path}: {exc}") from None
    except OSError as exc:
        sock.close()
        raise UsageError(f"--save: cannot write {state_path} ({exc.strerror or exc})") from None
    links = server.links()
    where = "resumed at" if args.resume is not None else "starting"
    print(
        f"Exercise {game.scenario.meta.name}: {game.turns} turns of {game.turn_months} months, seed {game.seed}; "
        f"{where} turn {min(game.turn, game.turns)}; saved after every change to {state_path}"
    )
    print(f"Facilitator: {links.facilitator}")
    print(f"Board (to project): {server.base_url}/board")
    for team, link in links.teams.items():
        print(f"Team {team.value}: {link}")
    print(f"Stop with Ctrl-C; continue later with: rapprochement exercise serve --resume {state_path}", flush=True)
    server.prepare_debrief()
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _lock(lock_state: Callable[[Path], IO[str]], path: Path) -> IO[str]:
    from sim.ui.game import ExerciseError

    try:
        return lock_state(path)
    except ExerciseError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot lock the game ({exc.strerror or exc})") from None


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise UsageError(
            f"{path}: a saved exercise already exists; continue it with --resume {path}, "
            "or name another file with --save"
        )


def _check_resume(args: argparse.Namespace, game: Game) -> None:
    """Options given again with ``--resume`` must describe the saved game (they cannot change it)."""
    from sim.ui.game import ExerciseError, game_scenario

    saved = {"--seed": game.seed, "--turn-months": game.turn_months, "--turns": game.turns}
    for option, value in {"--seed": args.seed, "--turn-months": args.turn_months, "--turns": args.turns}.items():
        if value is not None and value != saved[option]:
            raise UsageError(f"{option}: the saved game in {args.resume} has {saved[option]}, not {value}")
    if args.teams is not None and parse_teams(args.teams) != list(game.teams):
        raise UsageError(
            f"--teams: the saved game in {args.resume} is played by {','.join(t.value for t in game.teams)}"
        )
    if args.scenario is not None:
        [(path, scenario)] = load_all([args.scenario], args.overrides)
        try:
            same = game_scenario(scenario, game.turns * game.turn_months).digest() == game.scenario.digest()
        except ExerciseError:
            same = False
        if not same:
            raise UsageError(
                f"{path}: not the scenario of the saved game in {args.resume} (it keeps its own copy: "
                "resume with --resume alone)"
            )


def shown_host(host: str) -> str:
    """The address to put in printed links: for a wildcard bind, this machine's address on its network."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # a UDP connect sends nothing: it only picks the interface
            return str(probe.getsockname()[0])
    except OSError:
        return socket.gethostname()


def _cmd_debrief(args: argparse.Namespace) -> int:
    from sim.ui.debrief import Debrief, simulate_futures, write_debrief
    from sim.ui.game import load_state

    out_dir = args.out if args.out is not None else args.state.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {out_dir} is a file; name a folder for debrief.html and debrief.png")
    check_writable(out_dir / "debrief.html", "--out")
    search = _open_search(args.robust)
    game, _ = load_state(args.state)
    futures = simulate_futures(game, args.runs, workers=args.workers)
    placement = None
    if search is not None and game.history:
        from sim.executors import make_executor
        from sim.ui.policy import place, played_levers

        levers, how = played_levers(game, search.levers, search.scenario)
        with make_executor(args.workers) as executor:
            placement = place(search, levers, how, executor=executor)
    html, png = write_debrief(Debrief.of(game, futures), out_dir, placement)
    print(
        f"debrief of {args.state} ({len(game.history)} of {game.turns} turns, {args.runs} futures): {html}, {png}"
    )
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        import solara  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the dashboard needs the ui extra: pip install '.[ui]' ({exc})") from None
    scenario = args.scenario or DEFAULT_DASHBOARD_SCENARIO
    if args.scenario is None and not scenario.exists():
        raise UsageError(f"dashboard: no {scenario} here; name a scenario file")
    load_all([scenario], [])  # a bad file is reported here, not as an error in the page
    # Solara's own usage statistics stay off: a class's dashboard should not report to a third party.
    env = dict(os.environ, SOLARA_TELEMETRY_MIXPANEL_ENABLE="False")
    env[DASHBOARD_SCENARIO_ENV] = str(scenario.resolve())
    # Solara binds the port itself: check it is free first, so a port in use is a usage error, not a traceback.
    probe = bind(args.host, args.port)
    port = probe.getsockname()[1]
    probe.close()
    from sim.ui.assets import cdn_url, prepare_assets

    print("Checking the dashboard's browser assets ...", flush=True)
    source, problems = prepare_assets()
    if source == "npm":
        print(f"{cdn_url()} is out of reach: fetched the browser assets from the npm registry instead")
    for problem in problems:
        print(f"warning: {problem}; the page needs the CDN to load it", file=sys.stderr)
    url = _url(shown_host(args.host), port)
    print(f"Dashboard: {url}  (stop with Ctrl-C)", flush=True)
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "sim.ui.dashboard",
        "--host",
        args.host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--log-level",
        "warning",
    ]
    sys.stdout.flush()
    # Become the Solara server (same process id), so stopping this command, by Ctrl-C or a signal, stops the
    # server too: a child process would outlive a terminated parent and keep the port.
    os.execve(sys.executable, command, env)
