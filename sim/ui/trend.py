"""The class exercise's trend chart: where the relationship is heading, turn by turn.

One figure for the board and the team pages: the relations index and institutionalisation (with the outcome-class
thresholds, so a class sees how near durable rapprochement or relapse it is), both publics' favourability, both
nationalist pressures and both governments' approval. The x axis counts turns: 0 is the start, ``k`` the end of
turn ``k``; the months between are drawn too, and the turns still to play are room on the right. It is drawn in
the report's style (``sim.plots.outcome_lines``) and holds no secret, so every page may show it.
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

from sim.outcomes import OUTCOMES
from sim.plots import OKABE_ITO, outcome_lines
from sim.ui.game import Game

#: Colours: Korea and Seoul blue, Japan and Tokyo vermillion, in every panel (Okabe-Ito).
KOREA, JAPAN = OKABE_ITO[0], OKABE_ITO[3]

#: The panels: outcomes with their colours, and the panel's title (None: the first outcome's label).
PANELS: tuple[tuple[dict[str, str], str | None], ...] = (
    ({"relations_index": OKABE_ITO[2]}, None),
    ({"institutionalization": OKABE_ITO[4]}, None),
    ({"kr_favorability": KOREA, "jp_favorability": JAPAN}, "Favourable to the other country"),
    ({"nationalist_pressure_kr": KOREA, "nationalist_pressure_jp": JAPAN}, "Nationalist pressure"),
    ({"seoul_approval": KOREA, "tokyo_approval": JAPAN}, "Government approval"),
)
#: Short legend names: each two-line panel is Korea against Japan.
LABELS: dict[str, str] = {
    "kr_favorability": "Koreans of Japan",
    "jp_favorability": "Japanese of Korea",
    "nationalist_pressure_kr": "Korea",
    "nationalist_pressure_jp": "Japan",
    "seoul_approval": "Seoul",
    "tokyo_approval": "Tokyo",
}
#: gid of the vertical line at the end of the last turn played.
GID_NOW = "trend-now"


def trend_frame(game: Game) -> pd.DataFrame:
    """The game so far for the chart: the start (``turn`` 0) and every month played, at ``turn`` = months
    played / months per turn, so the end of turn ``k`` is at ``k``."""
    start = pd.DataFrame([game.start_indicators])
    played = game.played()[[*OUTCOMES]]
    frame = pd.concat([start, played], ignore_index=True)
    frame.insert(0, "turn", [i / game.turn_months for i in range(len(frame))])
    return frame


def trend_figure(game: Game, *, fontsize: float = 9) -> Figure:
    """The trend chart of ``game`` as it stands (see the module's notes)."""
    frame = trend_frame(game)
    thresholds = game.scenario.outcomes.model_dump()
    fig = Figure(figsize=(13.0, 7.2), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2, 6)
    spots = [grid[0, 0:4], grid[0, 4:6], grid[1, 0:2], grid[1, 2:4], grid[1, 4:6]]
    turns = list(range(game.turns + 1))
    marks = [turn * game.turn_months for turn in turns]
    labels = ["start\n" + game.date(0)] + [f"T{t}\n{game.date(t * game.turn_months - 1)}" for t in turns[1:]]
    played = len(game.history)
    for spot, (outcomes, title) in zip(spots, PANELS, strict=True):
        ax = fig.add_subplot(spot)
        outcome_lines(
            frame,
            outcomes,
            ax=ax,
            title=title,
            thresholds=thresholds,
            x="turn",
            span=(0.0, float(game.turns)),
            marks=marks,
            labels=LABELS,
            fontsize=fontsize,
        )
        ax.set_xticks(turns, labels if spot is spots[0] else [str(t) for t in turns])
        if spot is not spots[0]:
            ax.set_xlabel("turns played", fontsize=fontsize)
        if played:
            ax.axvline(played, color="0.35", linewidth=0.9, linestyle=":", gid=GID_NOW, zorder=1)
    fig.suptitle(
        f"{game.scenario.meta.name}: after {played} of {game.turns} turns (dots: the end of each turn; "
        "dashed: the outcome-class thresholds)",
        fontsize=fontsize + 2,
    )
    return fig


def trend_png(game: Game, *, fontsize: float = 9) -> bytes:
    """The trend chart as PNG bytes."""
    buffer = io.BytesIO()
    fig = trend_figure(game, fontsize=fontsize)
    try:
        fig.savefig(buffer, format="png")
    finally:
        fig.clear()
    return buffer.getvalue()
