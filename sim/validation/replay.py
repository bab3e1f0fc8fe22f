"""The autonomous replay: do the model's own governments make the moves the record's governments made?

``historical_autonomous`` keeps the exogenous record of 2013-2025 dated (court rulings, leader changes, North
Korean launches, the pandemic, US policy shifts, visitor flows) and leaves Seoul and Tokyo to choose their moves.
For each key move of the record (:data:`KEY_MOVES`, dated by ``sim/data/events_2015_2025.csv``) this module counts
the runs in which the model's government made that move, or one of its kind, within ``window`` months of the
recorded date, and sets the autonomous replay's median paths beside the scripted replay's and the polls.

The scripted and autonomous replays share replication seeds (common random numbers), so their difference is
the governments' choices, not noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.executors import Executor
from sim.moves import Move, Side
from sim.outcomes import OUTCOMES
from sim.plots import OKABE_ITO, EventMarker, draw_events
from sim.runner import replication_model
from sim.scenario import Scenario, add_months, months_between


@dataclass(frozen=True)
class KeyMove:
    """A move of the record: when, by whom, and which of the model's moves count as 'of its kind'."""

    label: str
    date: str
    sides: frozenset[Side]
    moves: frozenset[Move]
    source: str


#: The moves the record's governments made that the autonomous replay is asked to produce (events_2015_2025.csv).
KEY_MOVES: tuple[KeyMove, ...] = (
    KeyMove(
        "Tokyo's export controls (July 2019)",
        "2019-07-04",
        frozenset({Side.TOKYO}),
        frozenset({Move.IMPOSE_EXPORT_CONTROLS, Move.REMOVE_WHITE_LIST}),
        "Yomiuri 2019-07-04; Yonhap AEN20190930012800320",
    ),
    KeyMove(
        "Seoul's GSOMIA termination notice (August 2019)",
        "2019-08-22",
        frozenset({Side.SEOUL}),
        frozenset({Move.END_GSOMIA}),
        "Yonhap AEN20190822011700315",
    ),
    KeyMove(
        "Seoul's WTO case (September 2019)",
        "2019-09-11",
        frozenset({Side.SEOUL}),
        frozenset({Move.FILE_WTO_CASE}),
        "jmh.usembassy.gov 20190911129412",
    ),
    KeyMove(
        "Seoul's compensation plan (March 2023)",
        "2023-03-06",
        frozenset({Side.SEOUL}),
        frozenset({Move.COMPENSATION_PLAN}),
        "journal-news.com 2023-03-06",
    ),
    KeyMove(
        "A Seoul-Tokyo summit (March 2023)",
        "2023-03-16",
        frozenset({Side.SEOUL, Side.TOKYO}),
        frozenset({Move.SUMMIT, Move.JOINT_STATEMENT}),
        "cc.pacforum.org 2023-05",
    ),
    KeyMove(
        "Tokyo lifts its export controls (March 2023)",
        "2023-03-23",
        frozenset({Side.TOKYO}),
        frozenset({Move.LIFT_EXPORT_CONTROLS, Move.RESTORE_WHITE_LIST}),
        "Kyodo via lqcrsxx.cn",
    ),
)

#: Monthly outcomes whose median paths the replay compares.
PATH_OUTCOMES = ("kr_favorability", "jp_favorability", "relations_index")


@dataclass(frozen=True)
class ReplayTask:
    """One replication of a replay scenario."""

    scenario: Scenario
    replication: int
    root_seed: int


@dataclass(frozen=True)
class ReplayRun:
    """What one replication did: its moves (month, side, move) and its monthly outcomes."""

    replication: int
    moves: tuple[tuple[int, str, str], ...]
    paths: dict[str, np.ndarray]


def simulate_replay(task: ReplayTask) -> ReplayRun:
    """Run one replication and keep its moves and monthly outcomes (a worker's function)."""
    model = replication_model(task.scenario, task.replication, task.root_seed)
    model.run()
    monthly = model.monthly()
    moves = tuple((month, side.value, move.value) for month, side, move in model.moves_log)
    return ReplayRun(task.replication, moves, {name: monthly[name] for name in PATH_OUTCOMES})


def run_replay(scenario: Scenario, runs: int, root_seed: int, executor: Executor) -> list[ReplayRun]:
    """Replications ``0..runs-1`` of ``scenario``, in replication order."""
    tasks = [ReplayTask(scenario, r, root_seed) for r in range(runs)]
    return sorted(executor.imap_unordered(simulate_replay, tasks), key=lambda run: run.replication)


def move_table(
    scenario: Scenario, runs: Sequence[ReplayRun], window: int = 6, key_moves: Sequence[KeyMove] = KEY_MOVES
) -> pd.DataFrame:
    """Per key move: the share of runs in which the model's government made it (or one of its kind) within
    ``window`` months of its recorded date, the share that made it at any time in the scenario, and the median
    offset in months of the nearest such move from the recorded date (negative: earlier)."""
    rows = []
    for key in key_moves:
        target = months_between(scenario.meta.start, key.date)
        nearest = []
        for run in runs:
            offsets = [
                month - target
                for month, side, move in run.moves
                if Side(side) in key.sides and Move(move) in key.moves
            ]
            nearest.append(min(offsets, key=abs) if offsets else None)
        made = [o for o in nearest if o is not None]
        within = [o for o in made if abs(o) <= window]
        rows.append(
            {
                "move": key.label,
                "date": key.date,
                "of_its_kind": ", ".join(sorted(m.value for m in key.moves)),
                "share_within_window": len(within) / len(runs),
                "share_ever": len(made) / len(runs),
                "median_offset_months": float(np.median(made)) if made else float("nan"),
                "runs": len(runs),
                "window_months": window,
                "source": key.source,
            }
        )
    return pd.DataFrame(rows)


def median_paths(scenario: Scenario, runs: Sequence[ReplayRun], label: str) -> pd.DataFrame:
    """Monthly median (and 5-95 % band) of each path outcome across ``runs``, long format with ``replay=label``."""
    dates = [pd.Timestamp(add_months(scenario.meta.start, m)) for m in range(scenario.meta.months)]
    frames = []
    for name in PATH_OUTCOMES:
        matrix = np.array([run.paths[name] for run in runs])
        p5, median, p95 = np.quantile(matrix, [0.05, 0.5, 0.95], axis=0)
        frames.append(
            pd.DataFrame({"date": dates, "outcome": name, "replay": label, "median": median, "p5": p5, "p95": p95})
        )
    return pd.concat(frames, ignore_index=True)


def paths_figure(
    paths: pd.DataFrame,
    polls: pd.DataFrame,
    *,
    events: Sequence[EventMarker] = (),
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """The median paths (and 5-95 % bands) of each replay beside the Genron polls: Korean and Japanese
    favourability (the Genron 'good impression' operator read monthly) and the relations index."""
    figure = Figure(figsize=(12, 9), dpi=110, layout="constrained")
    panels = list(axes) if axes is not None else list(figure.subplots(len(PATH_OUTCOMES), 1, sharex=True))
    poll_series = {"kr_favorability": "kr_good_impression_of_jp", "jp_favorability": "jp_good_impression_of_kr"}
    for ax, outcome in zip(panels, PATH_OUTCOMES, strict=True):
        part = paths[paths["outcome"] == outcome]
        for i, (label, group) in enumerate(part.groupby("replay", sort=False)):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            x = pd.to_datetime(group["date"])
            ax.fill_between(x, group["p5"], group["p95"], color=color, alpha=0.15, linewidth=0)
            ax.plot(x, group["median"], color=color, linewidth=1.8, label=f"{label} replay (median, 5-95 %)")
        series = poll_series.get(outcome)
        if series is not None:
            seen = polls[polls["series"] == series]
            # Fieldwork mid-points: June until 2019, September from 2020 (the Genron fieldwork shift).
            dates = pd.DatetimeIndex(
                [pd.Timestamp(year=int(y), month=9 if y >= 2020 else 6, day=15) for y in seen["year"]]
            )
            breaks = (seen["instrument"] == "eai_api_kei").to_numpy()
            ax.plot(
                dates[~breaks],
                seen["value_pct"][~breaks],
                "o",
                color="black",
                markersize=4,
                label="Genron NPO / EAI poll",
            )
            if breaks.any():
                ax.plot(
                    dates[breaks],
                    seen["value_pct"][breaks],
                    "o",
                    mfc="white",
                    color="black",
                    markersize=4,
                    label="EAI-API-KEI online poll (series break)",
                )
        info = OUTCOMES[outcome]
        ax.set_title(info.label, fontsize=10)
        ax.set_ylabel(info.unit)
        ax.grid(True, axis="y", color="0.9")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
        start, end = pd.to_datetime(part["date"]).min(), pd.to_datetime(part["date"]).max()
        draw_events(ax, events, start, end)
    panels[-1].xaxis.set_major_locator(mdates.YearLocator(2))
    panels[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    return figure
