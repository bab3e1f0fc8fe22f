"""Secondary patterns: what the scripted replay's publics and governments must also reproduce, beyond the polls.

Pattern-oriented modelling (Grimm et al. 2005) checks a model against several patterns at once, so that a fit of
the headline series cannot hide a wrong mechanism. ``sim/data/patterns.csv`` (every row cites its source) holds
public support for the key moves of 2015-2023, leaders' approval around them, and breakdowns by age and camp.
Each :class:`Pattern` here names the rows it is read from and the statistic of the model it is set beside:

- **support** for a government's move: the unweighted share of its public (or of one camp) whose opinion accepts
  a move of that conciliation by their own leader (``PublicOpinion.support``), at the end of the move's month;
- **age gap**: the Genron or Cabinet Office reading among the young minus among the old;
- **approval change**: the government's approval the month after the move minus the month before.

The published value is the mean of the rows and its band their range widened by ``tolerance`` points (polls of
the same question by different pollsters disagree by several points). Patterns are read from the *scripted*
replay, where the moves happen when they did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.executors import Executor
from sim.model import RapprochementModel
from sim.moves import Move, Side
from sim.runner import replication_model
from sim.scenario import Camp, Scenario, months_between

#: The project's copy of the shared secondary patterns.
PATTERNS_FILE = Path(__file__).resolve().parents[1] / "data" / "patterns.csv"


@dataclass(frozen=True)
class Rows:
    """Which rows of ``patterns.csv`` give a pattern's published value."""

    pattern: str
    country: str
    group: str
    years_months: tuple[tuple[int, int | None], ...]  # (year, month or None for any month)


@dataclass(frozen=True)
class Pattern:
    """A secondary pattern: its published rows, and the model statistic set beside them.

    ``kind`` is ``support`` (of ``move`` by ``side``'s public, ``group`` all / own_camp / other_camp), ``age_gap``
    (``series`` reading among ``young`` minus among ``old`` ages) or ``approval_change`` (of ``side``).
    """

    name: str
    kind: str
    date: str  # the month the statistic is read at (YYYY-MM)
    rows: tuple[Rows, ...]
    side: Side | None = None
    move: Move | None = None
    group: str = "all"
    young: tuple[int, int] = (18, 29)
    old: tuple[int, int] = (60, 120)
    threshold: str = "good_impression"
    tolerance: float = 5.0


def _rows(pattern: str, country: str, group: str, *when: tuple[int, int | None]) -> Rows:
    return Rows(pattern, country, group, tuple(when))


#: The secondary patterns the scripted replay is checked against (rows of sim/data/patterns.csv).
PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "Koreans supporting the 2015 comfort-women agreement",
        "support",
        "2015-12",
        (_rows("support_comfort_women_deal_2015", "KR", "all", (2015, 12), (2016, 1)),),
        side=Side.SEOUL,
        move=Move.REMORSE_STATEMENT,
    ),
    Pattern(
        "Japanese supporting the July 2019 export controls",
        "support",
        "2019-07",
        (_rows("jp_support_export_controls_2019", "JP", "all", (2019, 7)),),
        side=Side.TOKYO,
        move=Move.IMPOSE_EXPORT_CONTROLS,
    ),
    Pattern(
        "Japanese supporting the August 2019 white-list removal",
        "support",
        "2019-08",
        (_rows("jp_support_whitelist_removal_2019", "JP", "all", (2019, 8)),),
        side=Side.TOKYO,
        move=Move.REMOVE_WHITE_LIST,
    ),
    Pattern(
        "Koreans supporting the end of GSOMIA (August 2019)",
        "support",
        "2019-08",
        (_rows("support_end_gsomia_2019", "KR", "all", (2019, 8)),),
        side=Side.SEOUL,
        move=Move.END_GSOMIA,
    ),
    Pattern(
        "Progressives (Moon's camp) supporting the end of GSOMIA",
        "support",
        "2019-08",
        (_rows("support_end_gsomia_2019", "KR", "ideology_progressive", (2019, 8)),),
        side=Side.SEOUL,
        move=Move.END_GSOMIA,
        group="own_camp",
    ),
    Pattern(
        "Conservatives supporting the end of GSOMIA",
        "support",
        "2019-08",
        (_rows("support_end_gsomia_2019", "KR", "ideology_conservative", (2019, 8)),),
        side=Side.SEOUL,
        move=Move.END_GSOMIA,
        group="other_camp",
    ),
    Pattern(
        "Koreans supporting the March 2023 compensation plan",
        "support",
        "2023-03",
        (_rows("support_compensation_plan_2023", "KR", "all", (2023, 3)),),
        side=Side.SEOUL,
        move=Move.COMPENSATION_PLAN,
    ),
    Pattern(
        "PPP supporters (Yoon's camp) supporting the compensation plan",
        "support",
        "2023-03",
        (_rows("support_compensation_plan_2023", "KR", "party_ppp", (2023, 3)),),
        side=Side.SEOUL,
        move=Move.COMPENSATION_PLAN,
        group="own_camp",
    ),
    Pattern(
        "Korean good impression of Japan, 19-29 minus 60+ (2016)",
        "age_gap",
        "2016-06",
        (
            _rows("good_impression_of_japan", "KR", "age_19_29", (2016, 6)),
            _rows("good_impression_of_japan", "KR", "age_60plus", (2016, 6)),
        ),
        side=Side.SEOUL,
    ),
    Pattern(
        "Japanese good impression of Korea, 20-29 minus 60+ (2016)",
        "age_gap",
        "2016-06",
        (
            _rows("good_impression_of_korea", "JP", "age_20_29", (2016, None)),
            _rows("good_impression_of_korea", "JP", "age_60plus", (2016, None)),
        ),
        side=Side.TOKYO,
        young=(20, 29),
    ),
    Pattern(
        "Japanese affinity for Korea, 18-29 minus 70+ (2022)",
        "age_gap",
        "2022-10",
        (
            _rows("affinity_toward_korea", "JP", "age_18_29", (2022, 10)),
            _rows("affinity_toward_korea", "JP", "age_70plus", (2022, 10)),
        ),
        side=Side.TOKYO,
        old=(70, 120),
        threshold="affinity",
    ),
    Pattern(
        "Yoon's approval, March 2023 minus February",
        "approval_change",
        "2023-03",
        (_rows("approval_yoon", "KR", "all", (2023, 3)), _rows("approval_yoon", "KR", "all", (2023, 2))),
        side=Side.SEOUL,
    ),
    Pattern(
        "Abe's approval, July-August 2019 minus June",
        "approval_change",
        "2019-07",
        (
            _rows("approval_abe", "JP", "all", (2019, 7), (2019, 8)),
            _rows("approval_abe", "JP", "all", (2019, 6)),
        ),
        side=Side.TOKYO,
    ),
)


def read_patterns(path: Path = PATTERNS_FILE) -> pd.DataFrame:
    """The patterns file (``month`` may be empty)."""
    frame = pd.read_csv(path, dtype={"note": str, "source": str}, keep_default_na=False)
    frame["month"] = pd.to_numeric(frame["month"], errors="coerce")
    frame["value_pct"] = frame["value_pct"].astype(float)
    return frame


def _select(frame: pd.DataFrame, rows: Rows) -> pd.DataFrame:
    mask = (frame["pattern"] == rows.pattern) & (frame["country"] == rows.country) & (frame["group"] == rows.group)
    when = np.zeros(len(frame), dtype=bool)
    for year, month in rows.years_months:
        hit = frame["year"] == year
        if month is not None:
            hit &= frame["month"] == month
        when |= hit.to_numpy()
    return frame[mask.to_numpy() & when]


def published(pattern: Pattern, frame: pd.DataFrame) -> tuple[float, float, float, str]:
    """The published value (mean of the rows; for a gap or change the difference of the two groups' means),
    the band (the rows' range, or the difference of the extremes, widened by the tolerance) and the sources."""
    selected = [_select(frame, rows) for rows in pattern.rows]
    for rows, found in zip(pattern.rows, selected, strict=True):
        if found.empty:
            raise ValueError(
                f"{PATTERNS_FILE.name}: no rows for {rows.pattern} / {rows.group} at {rows.years_months}"
            )
    sources = "; ".join(sorted({s for found in selected for s in found["source"]}))
    if len(selected) == 1:
        values = selected[0]["value_pct"]
        return (
            float(values.mean()),
            float(values.min()) - pattern.tolerance,
            float(values.max()) + pattern.tolerance,
            sources,
        )
    first, second = selected[0]["value_pct"], selected[1]["value_pct"]
    value = float(first.mean() - second.mean())
    low = float(first.min() - second.max()) - pattern.tolerance
    high = float(first.max() - second.min()) + pattern.tolerance
    return value, low, high, sources


@dataclass(frozen=True)
class PatternTask:
    """One replication of the scripted replay to read the patterns from."""

    scenario: Scenario
    replication: int
    root_seed: int
    patterns: tuple[Pattern, ...]
    affinity_threshold: float


def _statistic(model: RapprochementModel, pattern: Pattern, before: dict[Side, float], threshold: float) -> float:
    side = pattern.side or Side.SEOUL
    government = model.governments[side]
    public = government.public
    if pattern.kind == "support":
        if pattern.move is None:
            raise ValueError(f"pattern {pattern.name!r}: a support pattern must name its move")
        camp = None
        if pattern.group != "all":
            own = government.camp
            camp = own if pattern.group == "own_camp" else next(c for c in Camp if c is not own)
        return 100.0 * public.support(model.moves[pattern.move].conciliation, camp)
    if pattern.kind == "age_gap":
        cut = threshold if pattern.threshold == "affinity" else public.dynamics.favourable_threshold
        favourable = public.opinions > cut
        young = (public.age >= pattern.young[0]) & (public.age < pattern.young[1] + 1)
        old = (public.age >= pattern.old[0]) & (public.age < pattern.old[1] + 1)
        return 100.0 * float(favourable[young].mean() - favourable[old].mean())
    return 100.0 * (government.approval - before[side])


def simulate_patterns(task: PatternTask) -> tuple[float, ...]:
    """Run one replication of the scripted replay and read every pattern's statistic (a worker's function)."""
    model = replication_model(task.scenario, task.replication, task.root_seed)
    at = {p: months_between(task.scenario.meta.start, p.date) for p in task.patterns}
    values = [float("nan")] * len(task.patterns)
    last = min(max(at.values()), task.scenario.meta.months - 1)
    while model.month <= last:
        month = model.month
        before = {side: g.approval for side, g in model.governments.items()}
        model.step()
        for i, pattern in enumerate(task.patterns):
            if at[pattern] == month:
                values[i] = _statistic(model, pattern, before, task.affinity_threshold)
    return tuple(values)


def check_patterns(
    scenario: Scenario,
    runs: int,
    root_seed: int,
    executor: Executor,
    *,
    affinity_threshold: float,
    patterns: Sequence[Pattern] = PATTERNS,
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every pattern's published value and band beside the model's median (and 5-95 % range) over ``runs``
    replications of ``scenario`` (the scripted replay), with whether the median lies in the band."""
    frame = read_patterns() if frame is None else frame
    tasks = [PatternTask(scenario, r, root_seed, tuple(patterns), affinity_threshold) for r in range(runs)]
    matrix = np.array(list(executor.imap_unordered(simulate_patterns, tasks)), dtype=float)
    rows = []
    for i, pattern in enumerate(patterns):
        value, low, high, sources = published(pattern, frame)
        column = matrix[:, i]
        median = float(np.nanmedian(column))
        rows.append(
            {
                "pattern": pattern.name,
                "kind": pattern.kind,
                "month": pattern.date,
                "published": value,
                "band_low": low,
                "band_high": high,
                "model_median": median,
                "model_p5": float(np.nanquantile(column, 0.05)),
                "model_p95": float(np.nanquantile(column, 0.95)),
                "in_band": bool(low <= median <= high),
                "sources": sources,
            }
        )
    return pd.DataFrame(rows)
