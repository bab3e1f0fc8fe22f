"""The debrief of a class exercise: what the teams' choices did against the spread of simulated futures.

The futures are N runs of the game's scenario from the game's own starting state (the same sampled parameters,
citizens and burn-in), with the facilitator's injects played so far among its events, each with its own random
stream and every actor following the model's own rules; the game is the same start and the same shocks with
teams in place of some actors. (A team's government moves at most once a turn; the model's governments may
move in any month: the debrief page says so.) For each key outcome the debrief draws
the futures' 5-95 % band (with the 25-75 % band and the median, ``sim.plots.fan_chart``), the played path over
it, and a marker at each turn labelled with the teams' moves; then it sets the outcome class the game reached
beside the share of futures that reached each class (with 95 % Wilson intervals). It is rendered as a
self-contained HTML page (the figure embedded as base64 PNG) and as a PNG.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.agents.decision import MoveOutcome
from sim.analysis.robust import metric_cell
from sim.executors import make_executor
from sim.model import RapprochementModel, classify_run
from sim.outcomes import KEY_OUTCOMES, OUTCOMES, OutcomeClass
from sim.plots import EventMarker, fan_chart, fit_value_axis, outcome_class_shares, wilson_interval
from sim.scenario import Event, Scenario, Team
from sim.start_state import StartState
from sim.ui.game import DEFAULT_CHOICE, OUTCOME_WORDS, Game, TurnRecord, inject_label, label
from sim.ui.policy import Placement, lever_rows, placement_png
from sim.ui.story import CAPITALS

#: Colour of the played path (black over the coloured fans).
PLAYED_COLOR = "#000000"
#: gid of the played path's line, so tests and callers can find it.
GID_PLAYED = "played-path"
#: One-letter team codes for the turn markers.
TEAM_CODES = {Team.SEOUL: "S", Team.TOKYO: "T", Team.WASHINGTON: "W"}


@dataclass(frozen=True)
class Futures:
    """Simulated futures of a scenario: monthly outcomes (``run``, ``date``, outcomes) and one row per run."""

    timeseries: pd.DataFrame
    runs: pd.DataFrame
    #: The facilitator's injects the futures include (those played when they were simulated).
    injects: tuple[Event, ...] = ()

    @property
    def size(self) -> int:
        """Number of simulated futures."""
        return len(self.runs)


#: Entropy word that keeps the futures' seeds apart from every batch seed of the same root seed.
FUTURES_STREAM = 0x6675747572


@dataclass(frozen=True)
class FutureTask:
    """One simulated future: the game's parametrised scenario and model seed (so the same start), and the
    seed of its own random stream from month 0 on (None: the game's own stream, future 0)."""

    scenario: Scenario
    model_seed: int
    stream_seed: int | None
    run: int
    start: StartState | None = None  # the game's handed-over start state, if its scenario has one


def future_seed(root_seed: int, run: int) -> int | None:
    """The random stream of future ``run``: none for future 0 (it continues the game's own stream)."""
    if run == 0:
        return None
    return int(np.random.SeedSequence([root_seed, FUTURES_STREAM, run]).generate_state(1, np.uint32)[0])


def future_model(task: FutureTask) -> RapprochementModel:
    """A future's model at month 0: the game's starting state, with the future's own random stream."""
    model = RapprochementModel(task.scenario, rng=task.model_seed, start=task.start)
    if task.stream_seed is not None:
        # Construction drew the citizens and the burn-in from the game's seed, so the start is the game's;
        # from here on this future draws its own incidents, provocations, choices and interactions.
        model.rng = np.random.default_rng(task.stream_seed)
    return model


def simulate_future(task: FutureTask) -> tuple[int, dict[str, np.ndarray], str]:
    """Run one future: the run id, its monthly outcomes and its outcome class."""
    model = future_model(task)
    model.run()
    collected = model.monthly()
    columns = {name: collected[name] for name in OUTCOMES}
    outcome, _ = classify_run(columns, task.scenario)
    return task.run, columns, outcome.value


def simulate_futures(
    game: Game, runs: int, *, workers: int = 1, injects: Sequence[Event] | None = None
) -> Futures:
    """``runs`` futures of the game's scenario from the game's starting state, every actor by the model's rules.

    Every future starts from the game's month 0: the same sampled parameters, citizens and burn-in (built from
    the game's model seed); each then draws its own random stream (future 0 keeps the game's). So the band is
    the spread of what could follow from the state the teams started in, under the model's own rules, with the
    facilitator's injects played so far (or ``injects``, taken under the game's lock by a server) happening on
    their dates as they did in the game."""
    injects = game.injects_played() if injects is None else tuple(injects)
    scenario, model_seed = game.futures_scenario(injects), game.model_seed
    tasks = [FutureTask(scenario, model_seed, future_seed(game.seed, r), r, game.draw.start) for r in range(runs)]
    dates = pd.date_range(game.date(0), periods=scenario.meta.months, freq="MS")
    frames, rows = [], []
    with make_executor(workers) as executor:
        for run, columns, outcome in sorted(executor.imap_unordered(simulate_future, tasks), key=lambda r: r[0]):
            frame = pd.DataFrame(columns)
            frame.insert(0, "date", dates)
            frame.insert(0, "month", np.arange(len(frame)))
            frame.insert(0, "run", run)
            frame.insert(0, "scenario", scenario.meta.name)
            frames.append(frame)
            rows.append({"scenario": scenario.meta.name, "run": run, "outcome_class": outcome})
    return Futures(pd.concat(frames, ignore_index=True), pd.DataFrame(rows), tuple(injects))


@dataclass(frozen=True)
class ClassRow:
    """One outcome class: the share of futures that reached it (with its 95 % interval) and whether the game
    did."""

    outcome_class: OutcomeClass
    count: int
    share: float
    low: float
    high: float
    reached: bool

    @property
    def label(self) -> str:
        """Name shown in the debrief."""
        return label(self.outcome_class.value)


#: Colours of the counterfactual paths, one per capital the model plays in them (Okabe-Ito, apart from the fans'
#: blue).
COUNTERFACTUAL_COLORS: dict[Team, str] = {Team.SEOUL: "#CC79A7", Team.TOKYO: "#D55E00", Team.WASHINGTON: "#009E73"}
#: gid of a counterfactual path's line.
GID_COUNTERFACTUAL = "counterfactual-path"
#: gid of a turn's marker line.
GID_TURN = "turn-marker"


@dataclass(frozen=True)
class Counterfactual:
    """The game replayed with the model's own government in place of one team ("if the model had played your
    capital"): same seed, start, injects and other teams' moves.

    Attributes:
        team: the team the model replaced.
        played: the replay's months (as ``Game.played``).
        reached: the outcome class it reached (None before the game is over).
        moves: what the model's government of that capital did instead: (date, move); Washington's own actions
            are not logged, so its list is empty.
    """

    team: Team
    played: pd.DataFrame
    reached: OutcomeClass | None
    moves: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, game: Game, team: Team) -> Counterfactual:
        """Replay ``game`` with the model playing ``team``'s capital."""
        replay = game.replay_without(team)
        capital = team.value
        moves = tuple((replay.date(m), move.value) for m, side, move in replay.model.moves_log if side == capital)
        return cls(team, replay.played(), replay.outcome_class(), moves)


@dataclass(frozen=True)
class Debrief:
    """What a debrief shows, taken from a game at one moment (so it can be rendered outside the game's lock)."""

    name: str
    seed: int
    teams: tuple[Team, ...]
    turns: int
    turn_months: int
    played: pd.DataFrame
    records: tuple[TurnRecord, ...]
    reached: OutcomeClass | None
    moves_made: tuple[tuple[str, str, str], ...]
    futures: Futures
    #: The game replayed with the model in place of each team, in the teams' order.
    counterfactuals: tuple[Counterfactual, ...] = ()
    #: The model's probability of weighing a move in a given month, per capital (``initiative``).
    initiative: tuple[tuple[str, float], ...] = ()
    #: The scenario's outcome-class thresholds, drawn on the panels they apply to.
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, game: Game, futures: Futures) -> Debrief:
        """Snapshot a game (call it while holding whatever guards the game); replaying it once per team for the
        counterfactuals takes a few hundredths of a second."""
        moves = tuple(m for r in game.history for m in game.moves_made(r))
        actors = game.scenario.actors
        return cls(
            game.scenario.meta.name,
            game.seed,
            game.teams,
            game.turns,
            game.turn_months,
            game.played(),
            tuple(game.history),
            game.outcome_class(),
            moves,
            futures,
            tuple(Counterfactual.of(game, team) for team in game.teams) if game.history else (),
            (("Seoul", actors.seoul.initiative), ("Tokyo", actors.tokyo.initiative)),
            game.scenario.outcomes.model_dump(),
        )

    @property
    def finished(self) -> bool:
        """Whether every turn had been played."""
        return len(self.records) >= self.turns

    def classes(self) -> list[ClassRow]:
        """Every outcome class with its simulated share and whether the game reached it."""
        counts = self.futures.runs["outcome_class"].value_counts()
        n = self.futures.size
        rows = []
        for cls in OutcomeClass:
            k = int(counts.get(cls.value, 0))
            low, high = wilson_interval(k, n)
            rows.append(ClassRow(cls, k, k / n if n else 0.0, low, high, cls is self.reached))
        return rows

    def turn_markers(self) -> list[EventMarker]:
        """A marker at the start of each played turn: its label is the turn (``T1``), then the teams' moves and,
        on a second line, the facilitator's injects (the figure shows the turn only; the page's table the rest)."""
        markers = []
        for record, when in self.turn_starts():
            text = f"T{record.turn} " + " ".join(f"{TEAM_CODES[t]}:{label(m)}" for t, m in record.moves.items())
            if record.injects:
                text += "\ninject: " + "; ".join(inject_label(e) for e in record.injects)
            markers.append(EventMarker(when, text, "turn"))
        return markers

    def turn_starts(self) -> list[tuple[TurnRecord, pd.Timestamp]]:
        """Each played turn with the date of its first month (a turn past the months played is left out)."""
        dates = self.played["date"]
        return [(r, pd.Timestamp(dates.iloc[r.month])) for r in self.records if r.month < len(self.played)]

    def team_did(self, team: Team) -> str:
        """A team's moves other than doing nothing, turn by turn, with what became of them where it was not
        plainly made (``T1 summit; T3 remove white list (blocked: ...)``), or ``held every turn``."""
        done = []
        for record in self.records:
            move = record.moves[team]
            if move in DEFAULT_CHOICE.values():
                continue
            remark = record.remark(team)
            done.append(f"T{record.turn} {label(move)}" + (f" ({remark})" if remark else ""))
        return "; ".join(done) or "held every turn"

    def start_note(self) -> str:
        """Why the played path starts where it does, in a sentence, from the first month's figures: the same
        start for all, the teams' moves made at once, the model's governments moving some months only."""
        if not self.records or self.played.empty:
            return ""
        first = self.futures.timeseries[self.futures.timeseries["month"] == 0]["relations_index"]
        low, high = float(first.quantile(0.05)), float(first.quantile(0.95))
        value = float(self.played["relations_index"].iloc[0])
        where = "above" if value > high else "below" if value < low else "inside"
        record = self.records[0]
        moves = ", ".join(
            f"{CAPITALS[t]} {label(m)}: {OUTCOME_WORDS[r.outcome]}"
            for t, m in record.moves.items()
            if (r := record.results.get(t)) is not None
        )
        chances = " and ".join(f"{name} {100 * p:.0f} %" for name, p in self.initiative)
        start = self.played["date"].iloc[0]
        return (
            f"The played path and every simulated future start from the same state on {start:%Y-%m}. In that "
            f"first month the teams' turn-1 moves were all played at once ({moves}), whereas the model's "
            f"governments weigh a move in a given month only with probability {chances}; after the first month "
            f"the relations index of the game is {value:.1f}, {where} the futures' 5-95 % range of "
            f"{low:.1f}-{high:.1f}."
        )


def _turn_lines(ax: Any, debrief: Debrief) -> None:
    """A dotted line at the start of each played turn, labelled ``T1``, ``T2``... upright at the top, in type a
    room can read (the moves are in the page's table)."""
    for record, when in debrief.turn_starts():
        ax.axvline(when, color="0.45", linewidth=0.9, linestyle=":", zorder=1.5, gid=GID_TURN)
        ax.annotate(
            f"T{record.turn}" + ("*" if record.injects else ""),
            xy=(when, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2.0, -2.0),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=10,
            fontweight="bold",
            color="0.3",
        )


def debrief_figure(debrief: Debrief) -> Figure:
    """The key outcomes' bands of simulated futures with the played path, the counterfactual paths and the turn
    markers, and the outcome classes' simulated shares with the class the game reached named in the title."""
    fig = Figure(figsize=(16.0, 12.0), dpi=100, layout="constrained")
    ncols = 3
    nrows = -(-len(KEY_OUTCOMES) // ncols) + 1
    grid = fig.add_gridspec(nrows, ncols)
    key: tuple[list[Any], list[str]] = ([], [])
    for i, outcome in enumerate(KEY_OUTCOMES):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        fan_chart(
            debrief.futures.timeseries, outcome, ax=ax, label="simulated futures", thresholds=debrief.thresholds
        )
        extra = []
        for counterfactual in debrief.counterfactuals:
            (line,) = ax.plot(
                counterfactual.played["date"].to_numpy(),
                counterfactual.played[outcome].to_numpy(),
                color=COUNTERFACTUAL_COLORS[counterfactual.team],
                linewidth=1.3,
                label=f"model as {CAPITALS[counterfactual.team]}",
                gid=GID_COUNTERFACTUAL,
                zorder=3.5,
            )
            extra.append(line)
        (played,) = ax.plot(
            debrief.played["date"].to_numpy(),
            debrief.played[outcome].to_numpy(),
            color=PLAYED_COLOR,
            linewidth=2.4,
            linestyle="--",
            label="played path",
            gid=GID_PLAYED,
            zorder=4,
        )
        # The played and replayed paths may leave the futures' band: the value axis covers them too.
        paths = [
            debrief.played[outcome].to_numpy(),
            *(c.played[outcome].to_numpy() for c in debrief.counterfactuals),
        ]
        fit_value_axis(ax, outcome, *paths)
        _turn_lines(ax, debrief)
        legend = ax.get_legend()
        if legend is not None:
            if i == 0:  # one key for every panel
                key = (
                    [*legend.legend_handles, played, *extra],
                    [*(t.get_text() for t in legend.get_texts()), "played", *(str(x.get_label()) for x in extra)],
                )
            legend.remove()
    key_ax = fig.add_subplot(grid[nrows - 1, ncols - 1])
    key_ax.axis("off")
    key_ax.legend(*key, loc="center", fontsize=11, frameon=False, title="Each panel (T1, T2...: turns; *: inject)")
    class_ax = fig.add_subplot(grid[nrows - 1, : ncols - 1])
    outcome_class_shares(debrief.futures.runs, ax=class_ax)
    reached = debrief.reached
    what = label(reached.value) if reached is not None else f"not yet (after {len(debrief.records)} turns)"
    class_ax.set_title(
        f"Simulated futures by outcome class ({debrief.futures.size} runs); the game reached: {what}"
    )
    fig.suptitle(
        f"Debrief: {debrief.name}, seed {debrief.seed}: the played path (dashed) against "
        f"{debrief.futures.size} simulated futures (5-95 % band)",
        fontsize=14,
    )
    return fig


def figure_png(debrief: Debrief) -> bytes:
    """The debrief figure as PNG bytes."""
    buffer = io.BytesIO()
    fig = debrief_figure(debrief)
    try:
        fig.savefig(buffer, format="png")
    finally:
        fig.clear()
    return buffer.getvalue()


#: The pages' templates (``sim/ui/templates``), for the debrief here and the exercise server's pages.
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.ui", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def _final_medians(debrief: Debrief) -> dict[str, float]:
    """Each key outcome's median over the simulated futures in the game's last month played (NaN before one)."""
    series = debrief.futures.timeseries
    month = len(debrief.played) - 1
    last = series[series["month"] == month]
    return {name: float(last[name].median()) if not last.empty else float("nan") for name in KEY_OUTCOMES}


def render_html(
    debrief: Debrief,
    png: bytes | None = None,
    *,
    links: dict[str, str] | None = None,
    placement: Placement | None = None,
) -> str:
    """The self-contained debrief page (the figures embedded as base64 PNG); ``links`` adds export links,
    ``placement`` the class's play against a robust search's Pareto set."""
    png = figure_png(debrief) if png is None else png
    placed = placement_png(placement) if placement is not None else None
    return TEMPLATES.get_template("debrief.html").render(
        placement=placement,
        lever_rows=lever_rows(placement) if placement is not None else [],
        placement_image=base64.b64encode(placed).decode("ascii") if placed else None,
        metric_cell=metric_cell,
        d=debrief,
        image=base64.b64encode(png).decode("ascii"),
        classes=debrief.classes(),
        outcomes={name: OUTCOMES[name].label for name in KEY_OUTCOMES},
        final=debrief.played.iloc[-1] if not debrief.played.empty else None,
        label=label,
        inject_label=inject_label,
        links=links or {},
        start_note=debrief.start_note(),
        medians=_final_medians(debrief),
        quiet=frozenset({MoveOutcome.MADE, MoveOutcome.HELD}),
        capitals=CAPITALS,
    )


def write_debrief(debrief: Debrief, out_dir: Path, placement: Placement | None = None) -> tuple[Path, Path]:
    """Write ``debrief.html`` (self-contained) and ``debrief.png`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = figure_png(debrief)
    png_path = out_dir / "debrief.png"
    png_path.write_bytes(png)
    html_path = out_dir / "debrief.html"
    html_path.write_text(render_html(debrief, png, placement=placement), encoding="utf-8")
    return html_path, png_path
