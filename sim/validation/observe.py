"""Observation operators: measure simulated citizens the way each poll instrument asks.

A poll does not report a public's mean opinion; it reports the share of respondents who pick some answers to one
question, asked in some months, of a sample drawn from some ages, by some mode. Each :class:`Instrument` states
those choices for one series of ``polls_calibration.csv`` (the data's README lists the caveats kept here):

- **Question -> threshold.** Each simulated citizen holds an opinion of the other country in [0, 1]. The Genron
  NPO / EAI question ("good impression" or "relatively good impression") counts citizens above the
  good-impression threshold; the Cabinet Office question ("feel affinity" or "somewhat feel affinity") counts
  citizens above the affinity threshold. The Cabinet Office's Japanese affinity share runs 10-20 points above
  Genron's Japanese good-impression share in the same years, so affinity is the easier answer: a lower
  threshold. The good-impression threshold defaults to the model's ``favourable_threshold`` (0.6), so the
  model's own ``kr_favorability`` / ``jp_favorability`` outcomes are the Genron operator read at one month;
  the affinity threshold is calibrated.
- **Fieldwork months.** The share is the mean of the end-of-month shares over the fieldwork months, read from
  the row's ``fieldwork`` column ("Oct-Nov 2017", "Jan 2016 (FY2015)",
    "late 2016" = Oct-Dec). Years without a
  row (projections, held-out years) use the instrument's usual fieldwork: Cabinet Office October-November;
  Genron May-July until 2019, August-October from 2020 (the 2020 fieldwork shift).
- **Age filter.** Every simulated citizen has an age (18 and over). The Cabinet Office sampled ages 20+ until
  FY2015 and 18+ from FY2016, so before 2016 the citizens under 20 are left out of its reading. The Genron
  samples are taken as adult samples of the whole simulated population (no filter is documented).
- **Series break (mode).** The Cabinet Office moved from face-to-face interviews to mail in 2020 ("not directly
  comparable"). Rather than pretend the two modes measure the same thing, the years from 2020 form a separate
  segment with its own additive offset (percentage points), ``observe.mode_offset.jp_affinity_to_kr``: the
  calibration estimates it in closed form from the segment's points (the mean residual), and it is 0 when no
  point of the segment is used for fitting (e.g. ``--train-until 2017``). So the post-2020 Cabinet Office values
  inform the fit through their changes, not their level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.errors import RapprochementError

#: The columns ``polls_calibration.csv`` must have.
#: The project's copy of the poll file (with the events and context series beside it; sources in its README).
DEFAULT_POLLS = Path(__file__).resolve().parents[1] / "data" / "polls_calibration.csv"

POLL_COLUMNS = ("series", "instrument", "year", "value_pct", "fieldwork", "note", "source")

_MONTHS = {
    name: i
    for i, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_FIELDWORK_RE = re.compile(
    r"^\s*(?:(?P<late>late)|(?P<first>[A-Z][a-z]{2})(?:-(?P<last>[A-Z][a-z]{2}))?)\s+(?P<year>\d{4})"
)
#: "late YYYY" is read as October-December of that year.
_LATE_MONTHS = (10, 11, 12)
#: Ages the simulated young cohort stands for (adult polls start at 18).
YOUNG_COHORT_AGES = (18, 29)


class PollDataError(RapprochementError, ValueError):
    """The poll file is missing, malformed or names an unknown series; the message names file, line and field."""


class Question(StrEnum):
    """What a poll asks, and so which opinion threshold counts a citizen in."""

    GOOD_IMPRESSION = "good_impression"
    AFFINITY = "affinity"


@dataclass(frozen=True)
class Instrument:
    """One poll series as it was fielded: whose opinion, which question, when, of whom, by which mode."""

    series: str
    instrument: str
    country: str  # the public polled: "korea" or "japan"
    question: Question
    fieldwork_before_shift: tuple[int, ...]
    fieldwork_after_shift: tuple[int, ...] = ()
    fieldwork_shift_year: int | None = None
    min_age_before: int = YOUNG_COHORT_AGES[0]
    min_age_change_year: int | None = None
    mode_break_year: int | None = None
    #: Pollsters or modes that break the series: a row fielded by one of these forms a segment of its own.
    break_instruments: frozenset[str] = frozenset()
    #: Respondents of a typical wave: the poll's sampling error in the ABC distance (sim.validation.abc).
    sample_size: int = 1000

    def usual_fieldwork(self, year: int) -> tuple[tuple[int, int], ...]:
        """The (year, month) pairs of the instrument's usual fieldwork in ``year`` (for years without a row)."""
        shifted = self.fieldwork_shift_year is not None and year >= self.fieldwork_shift_year
        months = self.fieldwork_after_shift if shifted else self.fieldwork_before_shift
        return tuple((year, m) for m in months)

    def min_age(self, year: int) -> int:
        """Youngest age sampled in ``year``."""
        if self.min_age_change_year is not None and year < self.min_age_change_year:
            return self.min_age_before
        return YOUNG_COHORT_AGES[0]

    def sampled(self, year: int, ages: NDArray[np.float64]) -> NDArray[np.bool_] | None:
        """Which simulated citizens of these ``ages`` the sample of ``year`` covers (None: all of them)."""
        minimum = self.min_age(year)
        if minimum <= YOUNG_COHORT_AGES[0]:
            return None
        covered: NDArray[np.bool_] = ages >= minimum
        return covered

    def segment(self, year: int, instrument: str = "") -> str:
        """The comparable segment of the series that a reading of ``year`` (fielded by ``instrument``, the row's
        instrument column) belongs to: its own segment for a breaking instrument, a later one after a mode
        break, else ``base``."""
        if instrument in self.break_instruments:
            return instrument
        if self.mode_break_year is not None and year >= self.mode_break_year:
            return f"from_{self.mode_break_year}"
        return "base"


#: The instruments of ``polls_calibration.csv``; sources are cited per row of the file.
INSTRUMENTS: dict[str, Instrument] = {
    "jp_affinity_to_kr": Instrument(
        series="jp_affinity_to_kr",
        instrument="cabinet_office_diplomacy_survey",
        country="japan",
        question=Question.AFFINITY,
        fieldwork_before_shift=(10, 11),
        min_age_before=20,
        min_age_change_year=2016,
        mode_break_year=2020,
        # About 1,600-1,800 valid answers of the 3,000 sampled each year (face to face, then by mail).
        sample_size=1700,
    ),
    "kr_good_impression_of_jp": Instrument(
        series="kr_good_impression_of_jp",
        instrument="genron_npo_eai_joint_poll",
        country="korea",
        question=Question.GOOD_IMPRESSION,
        fieldwork_before_shift=(5, 6, 7),
        fieldwork_after_shift=(8, 9, 10),
        fieldwork_shift_year=2020,
        # EAI always fielded the Korean side of the joint poll: its 2024 poll (Korean side alone, same question)
        # continues the series; the 2025 online poll with new partners does not.
        break_instruments=frozenset({"eai_api_kei"}),
    ),
    "jp_good_impression_of_kr": Instrument(
        series="jp_good_impression_of_kr",
        instrument="genron_npo_eai_joint_poll",
        country="japan",
        question=Question.GOOD_IMPRESSION,
        fieldwork_before_shift=(5, 6, 7),
        fieldwork_after_shift=(8, 9, 10),
        fieldwork_shift_year=2020,
        # 2025: EAI with API (not Genron), online; its 24.8 against 2023's 37.4 may be mostly the change.
        break_instruments=frozenset({"eai_api_kei"}),
    ),
}

#: Name of the mode-offset parameter of a series with a mode break.
MODE_OFFSET_PREFIX = "observe.mode_offset."


@dataclass(frozen=True)
class ObservationSettings:
    """The operators' parameters: one threshold per question and an offset per series segment after a break."""

    # Before calibration one threshold (the model's favourable_threshold) served every question.
    good_impression_threshold: float = 0.6
    affinity_threshold: float = 0.6
    mode_offsets: Mapping[str, float] = field(default_factory=dict)  # series -> pp added after its mode break

    def threshold(self, question: Question) -> float:
        """The opinion a citizen must exceed to give the counted answer."""
        if question is Question.AFFINITY:
            return self.affinity_threshold
        return self.good_impression_threshold

    def offset(self, point: PollPoint) -> float:
        """Percentage points added to the simulated share of ``point`` (non-zero only after a series break)."""
        if point.segment == "base":
            return 0.0
        return float(self.mode_offsets.get(point.series, 0.0))

    def with_values(self, values: Mapping[str, float]) -> ObservationSettings:
        """A copy with ``observe.*`` parameters replaced (other keys are ignored: they are model parameters)."""
        offsets = dict(self.mode_offsets)
        updates: dict[str, float] = {}
        for path, value in values.items():
            if path == "observe.good_impression_threshold":
                updates["good_impression_threshold"] = float(value)
            elif path == "observe.affinity_threshold":
                updates["affinity_threshold"] = float(value)
            elif path.startswith(MODE_OFFSET_PREFIX):
                offsets[path.removeprefix(MODE_OFFSET_PREFIX)] = float(value)
        return replace(self, mode_offsets=offsets, **updates)


#: Parameters of the observation operators that a calibration may fit (``observe.*``) and their admissible range.
OBSERVATION_PARAMETERS: dict[str, tuple[float, float]] = {
    "observe.good_impression_threshold": (0.0, 1.0),
    "observe.affinity_threshold": (0.0, 1.0),
}


def parse_fieldwork(text: str) -> tuple[tuple[int, int], ...]:
    """The (year, month) pairs of a ``fieldwork`` cell: "Oct 2013", "Oct-Nov 2017", "Jan 2016 (FY2015)",
    "late 2016"

    Raises ``ValueError`` for anything else, so a new spelling in the data is noticed rather than guessed.
    """
    match = _FIELDWORK_RE.match(str(text))
    if match is None:
        raise ValueError(f"expected fieldwork like 'Oct 2013', 'May-Jul 2014' or 'late 2016', got {text!r}")
    year = int(match["year"])
    if match["late"]:
        return tuple((year, m) for m in _LATE_MONTHS)
    try:
        first = _MONTHS[match["first"]]
        last = _MONTHS[match["last"]] if match["last"] else first
    except KeyError as exc:
        raise ValueError(f"unknown month {exc.args[0]!r} in fieldwork {text!r}") from None
    if last < first:
        raise ValueError(f"fieldwork {text!r} ends before it starts")
    return tuple((year, m) for m in range(first, last + 1))


def read_polls(path: Path) -> pd.DataFrame:
    """Read and check ``polls_calibration.csv``: one row per (series, year), known series, parseable fieldwork.

    Raises :class:`PollDataError` naming the file, the line and the field at fault.
    """
    try:
        frame = pd.read_csv(path, dtype={"note": str, "source": str, "fieldwork": str}, keep_default_na=False)
    except FileNotFoundError:
        raise PollDataError(f"{path}: no such file (expected the poll file, e.g. polls_calibration.csv)") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise PollDataError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in POLL_COLUMNS if c not in frame.columns]
    if missing:
        raise PollDataError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(POLL_COLUMNS)}")
    problems = []
    for i, row in frame.iterrows():
        line = int(str(i)) + 2  # header is line 1
        if row["series"] not in INSTRUMENTS:
            problems.append(
                f"{path}:{line}: series: unknown series {row['series']!r}; expected one of "
                f"{', '.join(INSTRUMENTS)}"
            )
            continue
        try:
            year, value = int(row["year"]), float(row["value_pct"])
        except ValueError:
            problems.append(f"{path}:{line}: year/value_pct: expected a whole year and a number")
            continue
        if not 0.0 <= value <= 100.0:
            problems.append(f"{path}:{line}: value_pct: expected a percentage 0-100, got {value}")
        try:
            months = parse_fieldwork(row["fieldwork"])
        except ValueError as exc:
            problems.append(f"{path}:{line}: fieldwork: {exc}")
            continue
        if not year <= months[0][0] <= year + 1:
            problems.append(f"{path}:{line}: fieldwork: {row['fieldwork']!r} is not in survey year {year}")
    if problems:
        raise PollDataError("\n".join(problems))
    frame["year"] = frame["year"].astype(int)
    frame["value_pct"] = frame["value_pct"].astype(float)
    duplicated = frame[frame.duplicated(["series", "year"], keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise PollDataError(f"{path}: series {first['series']} has more than one row for {first['year']}")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class PollPoint:
    """One (series, year) to measure: when it was fielded and, where the data has it, what was observed."""

    series: str
    year: int
    fieldwork: tuple[tuple[int, int], ...]
    observed: float | None = None
    source: str = ""
    fielded_by: str = ""  # the row's instrument (a pollster or mode that may break the series)

    @property
    def instrument(self) -> Instrument:
        """The instrument of this point's series."""
        return INSTRUMENTS[self.series]

    @property
    def segment(self) -> str:
        """The comparable segment of its series this point belongs to."""
        return self.instrument.segment(self.year, self.fielded_by)


def poll_points(polls: pd.DataFrame, years: Sequence[int]) -> list[PollPoint]:
    """Every instrument in every year of ``years``: observed points from ``polls``, the rest to be projected."""
    rows: dict[tuple[str, int], Any] = {
        (str(r.series), int(str(r.year))): r for r in polls.itertuples(index=False)
    }
    points = []
    for series, instrument in INSTRUMENTS.items():
        for year in years:
            row = rows.get((series, year))
            if row is None:
                points.append(PollPoint(series, year, instrument.usual_fieldwork(year)))
            else:
                points.append(
                    PollPoint(
                        series,
                        year,
                        parse_fieldwork(str(row.fieldwork)),
                        float(row.value_pct),
                        str(row.source),
                        str(row.instrument),
                    )
                )
    return points


def rmse(errors: pd.Series | NDArray[np.float64]) -> float:
    """Root mean square of readings' errors against the polls, in their units (NaN when there are none)."""
    values = np.asarray(errors, dtype=float)
    return float(np.sqrt(np.mean(values**2))) if values.size else float("nan")


def poll_share(opinions: NDArray[np.float64], threshold: float, sampled: NDArray[np.bool_] | None = None) -> float:
    """Percentage of citizens (of the ``sampled`` ones, if given) whose opinion exceeds ``threshold``."""
    if sampled is None:
        return 100.0 * float(np.count_nonzero(opinions > threshold)) / opinions.size
    return 100.0 * float(np.count_nonzero((opinions > threshold) & sampled)) / max(1, int(sampled.sum()))


def measure_point(
    point: PollPoint,
    snapshots: Mapping[tuple[int, int], NDArray[np.float64]],
    ages: Mapping[tuple[int, int], NDArray[np.float64]],
    settings: ObservationSettings,
) -> float:
    """The instrument's reading of one simulated public: the mean share over the fieldwork months, plus offset.

    ``snapshots`` maps (year, month) to the polled public's opinions at the end of that month, and ``ages`` to its
    citizens' ages then (citizens age and are replaced, so the sample is drawn from the public of that month).
    """
    instrument = point.instrument
    threshold = settings.threshold(instrument.question)
    shares = [
        poll_share(snapshots[month], threshold, instrument.sampled(point.year, ages[month]))
        for month in point.fieldwork
    ]
    return float(np.mean(shares)) + settings.offset(point)
