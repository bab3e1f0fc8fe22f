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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.executors import make_executor
from sim.model import RapprochementModel, classify_run
from sim.outcomes import KEY_OUTCOMES, OUTCOMES, OutcomeClass
from sim.plots import EventMarker, fan_chart, outcome_class_shares, wilson_interval
from sim.scenario import Event, Scenario, Team
from sim.start_state import StartState
from sim.ui.game import Game, TurnRecord, inject_label, label

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

    @classmethod
    def of(cls, game: Game, futures: Futures) -> Debrief:
        """Snapshot a game (call it while holding whatever guards the game)."""
        moves = tuple(m for r in game.history for m in game.moves_made(r))
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
        """A marker at the start of each played turn, labelled with the teams' moves and, on a second line, the
        facilitator's injects (they happen in the same month: one marker keeps the labels apart)."""
        markers = []
        for record in self.records:
            if record.month >= len(self.played):
                continue
            text = f"T{record.turn} " + " ".join(f"{TEAM_CODES[t]}:{label(m)}" for t, m in record.moves.items())
            if record.injects:
                text += "\ninject: " + "; ".join(inject_label(e) for e in record.injects)
            markers.append(EventMarker(pd.Timestamp(self.played["date"].iloc[record.month]), text, "turn"))
        return markers


def debrief_figure(debrief: Debrief) -> Figure:
    """The key outcomes' bands of simulated futures with the played path and the turn markers, and the outcome
    classes' simulated shares with the class the game reached named in the title."""
    fig = Figure(figsize=(16.0, 12.0), dpi=100, layout="constrained")
    ncols = 3
    nrows = -(-len(KEY_OUTCOMES) // ncols) + 1
    grid = fig.add_gridspec(nrows, ncols)
    markers = debrief.turn_markers()
    key: tuple[list[Any], list[str]] = ([], [])
    for i, outcome in enumerate(KEY_OUTCOMES):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        # The full range: the class's played path is drawn after the fan and may leave the simulated futures' band.
        fan_chart(
            debrief.futures.timeseries, outcome, events=markers, ax=ax, label="simulated futures", full_range=True
        )
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
        # A month of room on the left, so the first turn's marker and label are not on the axis itself.
        left, right = ax.get_xlim()
        ax.set_xlim(left - 31.0, right)
        legend = ax.get_legend()
        if legend is not None:
            if i == 0:  # one key for every panel
                key = ([*legend.legend_handles, played], [*(t.get_text() for t in legend.get_texts()), "played"])
            legend.remove()
    key_ax = fig.add_subplot(grid[nrows - 1, ncols - 1])
    key_ax.axis("off")
    key_ax.legend(*key, loc="center", fontsize=11, frameon=False, title="Each panel")
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


def render_html(debrief: Debrief, png: bytes | None = None, *, links: dict[str, str] | None = None) -> str:
    """The self-contained debrief page (the figure embedded as base64 PNG); ``links`` adds export links."""
    png = figure_png(debrief) if png is None else png
    return TEMPLATES.get_template("debrief.html").render(
        d=debrief,
        image=base64.b64encode(png).decode("ascii"),
        classes=debrief.classes(),
        outcomes={name: OUTCOMES[name].label for name in KEY_OUTCOMES},
        final=debrief.played.iloc[-1] if not debrief.played.empty else None,
        label=label,
        inject_label=inject_label,
        links=links or {},
    )


def write_debrief(debrief: Debrief, out_dir: Path) -> tuple[Path, Path]:
    """Write ``debrief.html`` (self-contained) and ``debrief.png`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = figure_png(debrief)
    png_path = out_dir / "debrief.png"
    png_path.write_bytes(png)
    html_path = out_dir / "debrief.html"
    html_path.write_text(render_html(debrief, png), encoding="utf-8")
    return html_path, png_path
