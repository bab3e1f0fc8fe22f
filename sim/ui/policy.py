"""A class's play set against a robust search: where the policy the teams played sits beside the Pareto set.

A robust search (``rapprochement robust``) finds lever settings that keep rapprochement durable across many
futures; a class plays moves turn by turn. To compare them, the class's moves are read as the search's levers
(``played_levers``), each with how it was read:

* a capital's doctrine (``levers.<capital>.cooperation_priority``): the mean conciliation per turn of the moves
  its team made (holds and moves not made count 0), on the game's move table's conciliation scale;
* its regular summits (``summit_every_months``): the game's months over the summits its team made, the nearest
  value the search allows (none if it made none);
* its ruled-out moves (``forbidden_moves``): the largest choice the search allows whose moves the team never chose;
* Washington's brokering (``actors.washington.brokering``): the scenario's value times the mean brokering factor
  of the team's actions; its engagement target: the scenario's plus one step per raise, minus one per lowering;
* every other lever, and every lever of a capital no team played: the search scenario's own value.

The policy so read is evaluated on the search's own futures (``sim.robust.evaluate_policy``: the same seeds) and
compared with each Pareto policy: which of them do at least as well on every metric and better on one
(dominate it). The reading is an approximation and the page says so: a turn-by-turn game is not a standing
policy, and the search's scenario need not be the game's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.agents.decision import MoveOutcome
from sim.agents.washington import BROKERING_FACTORS, ENGAGEMENT_STEP, WashingtonAction
from sim.executors import Executor
from sim.moves import Move
from sim.plots import tradeoff_plot
from sim.robust import (
    Lever,
    evaluate_policy,
    lever_space,
    lever_text,
    minimised,
    pareto_front,
)
from sim.scenario import RobustMetric, Scenario, Team, load_scenario
from sim.ui.game import Game, TurnRecord

#: A team's move counts as made when it was made by the team alone or together with the partner.
MADE = frozenset({MoveOutcome.MADE, MoveOutcome.MADE_JOINTLY})


@dataclass(frozen=True)
class Placement:
    """The class's policy beside a search's Pareto set.

    Attributes:
        levers: the class's play read as the search's levers.
        how: for each lever, how its value was read (from the play, or the scenario's own).
        policy: the class's policy evaluated on the search's futures (one row: levers, words, metrics).
        front: the search's Pareto set (``sim.robust.pareto_front``).
        metrics: the search's metrics, in its order.
        dominated_by: the Pareto policies that do at least as well on every metric and better on one.
        folder: the search's results folder.
    """

    levers: dict[str, Any]
    how: dict[str, str]
    policy: pd.DataFrame
    front: pd.DataFrame
    metrics: tuple[RobustMetric, ...]
    dominated_by: tuple[int, ...]
    folder: Path

    def verdict(self) -> str:
        """One sentence: whether a Pareto policy beats the class's on every metric."""
        if not self.dominated_by:
            return (
                "No policy of the search's Pareto set does at least as well as the class's on every metric: on "
                "the search's futures the class's play is one of the trade-offs worth considering."
            )
        names = ", ".join(str(p) for p in self.dominated_by)
        return (
            f"Pareto {'policy' if len(self.dominated_by) == 1 else 'policies'} {names} of the search "
            f"{'does' if len(self.dominated_by) == 1 else 'do'} at least as well as the class's play on every "
            "metric and better on one: on the search's futures, the class left something on the table."
        )


def _team_of(path: str, teams: Sequence[Team]) -> Team | None:
    """The team whose capital a lever path belongs to (``levers.seoul...``, ``actors.washington...``), if one
    plays it."""
    parts = path.split(".")
    owner = parts[1] if parts[0] in ("levers", "actors") and len(parts) > 2 else None
    return next((team for team in teams if team.value == owner), None)


def _made(records: Sequence[TurnRecord], team: Team) -> list[Move]:
    """The moves a capital's team made, turn by turn (holds and moves not made left out)."""
    return [
        Move(record.moves[team])
        for record in records
        if (result := record.results.get(team)) is not None and result.outcome in MADE
    ]


def _nearest(lever: Lever, value: float | None) -> Any:
    """The value the search allows nearest to ``value`` (None only where the search allows none)."""
    if lever.choices is not None:
        if value is None:
            return None if None in lever.choices else lever.choices[-1]
        numbers = [c for c in lever.choices if isinstance(c, int | float)]
        return min(numbers, key=lambda c: abs(float(c) - value)) if numbers else lever.choices[0]
    if value is None:
        return None
    assert lever.low is not None and lever.high is not None
    clipped = min(max(value, lever.low), lever.high)
    return round(clipped) if lever.integer else clipped


def _scenario_value(lever: Lever, scenario: Scenario) -> Any:
    """The search scenario's own value of a lever, made one the search allows."""
    value = scenario.resolve(lever.path)
    if lever.choices is not None:
        if isinstance(value, list | tuple):
            value = list(value)
        return value if value in lever.choices else lever.choices[0]
    return _nearest(lever, float(value)) if value is not None else None


def played_levers(
    game: Game, levers: Sequence[Lever], scenario: Scenario
) -> tuple[dict[str, Any], dict[str, str]]:
    """The class's play read as the search's ``levers`` (see the module's notes), and how each was read."""
    records = game.history
    months = max(1, len(records) * game.turn_months)
    values: dict[str, Any] = {}
    how: dict[str, str] = {}
    for lever in levers:
        team = _team_of(lever.path, game.teams)
        leaf = lever.path.rsplit(".", 1)[-1]
        if team is None or not records:
            values[lever.path] = _scenario_value(lever, scenario)
            how[lever.path] = "the search scenario's own value (no team set it)"
            continue
        if leaf == "cooperation_priority" and team is not Team.WASHINGTON:
            made = _made(records, team)
            mean = sum(game.model.moves[m].conciliation for m in made) / len(records)
            values[lever.path] = _nearest(lever, mean)
            how[lever.path] = f"mean conciliation per turn of the {len(made)} moves made: {mean:+.2f}"
        elif leaf == "summit_every_months" and team is not Team.WASHINGTON:
            summits = sum(1 for m in _made(records, team) if m is Move.SUMMIT)
            values[lever.path] = _nearest(lever, months / summits if summits else None)
            how[lever.path] = f"{summits} summits in {months} months"
        elif leaf == "forbidden_moves" and lever.choices is not None and team is not Team.WASHINGTON:
            chosen = {record.moves[team] for record in records}
            fitting = [c for c in lever.choices if not {str(m) for m in (c or ())} & chosen]
            values[lever.path] = max(fitting, key=lambda c: len(c or ())) if fitting else lever.choices[0]
            how[lever.path] = "the most moves the search can rule out that the team never chose"
        elif lever.path == "actors.washington.brokering" and team is Team.WASHINGTON:
            factor = float(np.mean([BROKERING_FACTORS.get(WashingtonAction(r.moves[team]), 1.0) for r in records]))
            values[lever.path] = _nearest(lever, float(scenario.resolve(lever.path)) * factor)
            how[lever.path] = f"the scenario's brokering x{factor:.2f}, the mean factor of the team's actions"
        elif lever.path == "actors.washington.target_engagement" and team is Team.WASHINGTON:
            actions = [WashingtonAction(r.moves[team]) for r in records]
            steps = actions.count(WashingtonAction.RAISE_ENGAGEMENT) - actions.count(
                WashingtonAction.LOWER_ENGAGEMENT
            )
            values[lever.path] = _nearest(lever, float(scenario.resolve(lever.path)) + ENGAGEMENT_STEP * steps)
            how[lever.path] = f"the scenario's target {steps:+d} steps of {ENGAGEMENT_STEP:g}"
        else:
            values[lever.path] = _scenario_value(lever, scenario)
            how[lever.path] = "the search scenario's own value (the game has no move for it)"
    return values, how


@dataclass(frozen=True)
class Search:
    """A finished robust search as a debrief uses it: its folder, scenario, levers, metrics and Pareto set."""

    folder: Path
    scenario: Scenario
    levers: tuple[Lever, ...]
    metrics: tuple[RobustMetric, ...]
    front: pd.DataFrame

    @classmethod
    def open(cls, folder: str | Path) -> Search:
        """Read a finished search; SearchError naming the folder when it holds none."""
        folder = Path(folder)
        front = pareto_front(folder)
        scenario = load_scenario(folder / "scenario.yaml")
        metrics = tuple(m for m in RobustMetric if m.value in front.columns)
        return cls(folder, scenario, lever_space(scenario), metrics, front)


def place(
    search: Search, levers: dict[str, Any], how: dict[str, str], *, executor: Executor | None = None
) -> Placement:
    """Evaluate the class's policy (``played_levers``) on the search's futures and set it beside the Pareto set:
    which Pareto policies dominate it."""
    policy = evaluate_policy(search.folder, levers, executor=executor)
    mine, theirs = minimised(policy, search.metrics)[0], minimised(search.front, search.metrics)
    better = np.all(theirs <= mine, axis=1) & np.any(theirs < mine, axis=1)
    dominated = tuple(int(p) for p in search.front.loc[better, "policy"])
    return Placement(levers, how, policy, search.front, search.metrics, dominated, search.folder)


def placement_figure(placement: Placement) -> Figure | None:
    """The Pareto set in the plane of the search's first two metrics, with the class's policy marked (None for a
    search of one metric: the table says it all)."""
    if len(placement.metrics) < 2:
        return None
    x, y = placement.metrics[0].value, placement.metrics[1].value
    fig = Figure(figsize=(7.5, 5.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    row = placement.policy.iloc[0]
    px, py = float(row[x]), float(row[y])
    checked = pd.DataFrame(
        [{"label": "your class", "x": px, "y": py, "x_low": px, "x_high": px, "y_low": py, "y_high": py}]
    )
    labels = {m.value: m.value.replace("_", " ") for m in placement.metrics}
    front = placement.front
    tradeoff_plot(
        front,
        x,
        y,
        front=np.ones(len(front), dtype=bool),
        labels=labels,
        checked=checked,
        checked_label="the class's play, on the search's futures",
        ax=ax,
    )
    ax.set_title("The class's play against the search's Pareto set")
    return fig


def placement_png(placement: Placement) -> bytes | None:
    """The placement figure as PNG bytes (None without one)."""
    buffer = io.BytesIO()
    fig = placement_figure(placement)
    if fig is None:
        return None
    try:
        fig.savefig(buffer, format="png")
    finally:
        fig.clear()
    return buffer.getvalue()


def lever_rows(placement: Placement) -> list[dict[str, str]]:
    """One row per lever: its path, the class's value (as the tables write it) and how it was read."""
    return [
        {"path": path, "value": lever_text(value), "how": placement.how[path]}
        for path, value in placement.levers.items()
    ]
