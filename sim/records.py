"""The dated record the historical replay is built from, read from the project's copy of the shared context
series (``sim/data/context_series.csv``; every row cites its source).

Where sources disagree the file keeps both rows and marks the second ``ALT`` or ``DISAGREES`` in its note; the
record uses the first (JNTO for Korean visitors, KTO for Japanese visitors, the counts the file lists first for
missiles). ``scenarios/historical_2013_2025.yaml`` states these values with their sources, and
``tests/test_scenarios.py`` checks that it agrees with this module.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

#: The project's copy of the shared context series.
CONTEXT_SERIES = Path(__file__).resolve().parent / "data" / "context_series.csv"

#: Missiles per launch event in the two years Japan's Ministry of Defense gave both counts (2022: 59 missiles in
#: 31 launches; 2023: 25 in 18): converts the years counted in missiles into launch events, the model's unit.
MISSILES_PER_LAUNCH = (59 + 25) / (31 + 18)

_DATE_RE = re.compile(r"^(\d{4}-\d{2})(?:-(\d{2}))?")


@dataclass(frozen=True)
class Row:
    """One row of the context series."""

    series: str
    year: int
    value: float
    unit: str
    note: str
    source: str


@dataclass(frozen=True)
class CourtRuling:
    """A Korean court ruling on wartime forced labour or comfort women: when, which court, and for whom."""

    date: str  # YYYY-MM-DD, or YYYY-MM where the day is not given
    court: str
    note: str
    source: str

    @property
    def against_japan(self) -> bool:
        """Whether it ordered Japanese firms or the Japanese state to pay (a dismissal did not)."""
        return "DISMISSED" not in self.note

    @property
    def supreme(self) -> bool:
        """Whether the Supreme Court gave it (the rulings that settle a case)."""
        return self.court.startswith("Supreme Court")


def read_context(path: Path = CONTEXT_SERIES) -> list[Row]:
    """Every row of the context series, in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(r["series"], int(r["year"]), float(r["value"]), r["unit"], r["note"], r["source"])
            for r in csv.DictReader(handle)
        ]


def primary(rows: list[Row], series: str) -> dict[int, Row]:
    """The first row of each year of ``series`` that is not an alternative (``ALT``/``DISAGREES``) figure."""
    chosen: dict[int, Row] = {}
    for row in rows:
        if row.series != series or row.note.startswith(("ALT", "DISAGREES")):
            continue
        chosen.setdefault(row.year, row)
    return chosen


def visitor_flows(rows: list[Row] | None = None) -> dict[int, dict[str, float]]:
    """Recorded visitors (million a year) by year: ``korea_to_japan`` (JNTO) and ``japan_to_korea`` (KTO)."""
    rows = read_context() if rows is None else rows
    flows: dict[int, dict[str, float]] = {}
    for key, series in (("korea_to_japan", "kr_visitors_to_jp"), ("japan_to_korea", "jp_visitors_to_kr")):
        for year, row in primary(rows, series).items():
            flows.setdefault(year, {})[key] = row.value
    return dict(sorted(flows.items()))


def launch_events(rows: list[Row] | None = None) -> dict[int, float]:
    """North Korean ballistic launch events by year: counts given in launch events as they are, counts given in
    missiles divided by :data:`MISSILES_PER_LAUNCH`."""
    rows = read_context() if rows is None else rows
    events = {}
    for year, row in primary(rows, "nk_ballistic_missiles").items():
        events[year] = row.value if row.unit.startswith("launch") else row.value / MISSILES_PER_LAUNCH
    return dict(sorted(events.items()))


def court_rulings(rows: list[Row] | None = None) -> list[CourtRuling]:
    """The dated court rulings of the record (a ruling whose date the source does not give is left out)."""
    rows = read_context() if rows is None else rows
    rulings = []
    for row in rows:
        if row.series != "kr_court_ruling":
            continue
        match = _DATE_RE.match(row.note)
        if match is None:
            continue
        date = match[1] + (f"-{match[2]}" if match[2] else "")
        court = re.sub(r"\([^)]*\)", "", row.note[match.end() :].split(":", 1)[0]).strip()
        rulings.append(CourtRuling(date, court, row.note, row.source))
    return rulings
