"""Scenario files: the schema, validated into frozen objects.

A scenario is a YAML file (``scenarios/*.yaml``) describing the state of play at a start month, the
parameters of every driver mechanism, dated injects, the levers an analyst or a team sets, the uncertain
parameters to sample, and the thresholds that classify a run's outcome. Every field has a documented default so
that a variant can ``extends:`` another file and change only what its name says. Loading, ``extends`` and
``--set`` overrides live in :mod:`sim.loading`; this module only says what a valid scenario is.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import operator
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.loading import (
    Location,
    Problem,
    ScenarioError,
    ScenarioPathError,
    apply_overrides,
    load_traced,
    locate,
    path_keys,
    validate,
)
from sim.moves import DEFAULT_EFFECTS, Move
from sim.posterior import PosteriorError, load_posterior

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def _check_date(value: str) -> str:
    match = _DATE_RE.match(value)
    if match is None:
        raise ValueError(f"expected a date as YYYY-MM or YYYY-MM-DD, got {value!r}")
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a calendar date ({exc})") from None
    if not 1900 <= year <= 2200:
        raise ValueError(f"expected a year between 1900 and 2200, got {year}")
    return value


#: A month ("2025-07") or a day ("2025-07-04"); the model works in months.
DateStr = Annotated[
    str, Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$", examples=["2025-07"]), AfterValidator(_check_date)
]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


def parse_date(value: str) -> dt.date:
    """The calendar date of a validated ``DateStr`` (the first of the month when no day is given)."""
    parts = [int(p) for p in value.split("-")]
    return dt.date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)


def months_between(start: str, date: str) -> int:
    """Whole months from ``start`` to ``date``: the model tick at which ``date`` falls."""
    a, b = parse_date(start), parse_date(date)
    return (b.year - a.year) * 12 + (b.month - a.month)


def add_months(start: str, months: int) -> dt.date:
    """First day of the month ``months`` after ``start``."""
    base = parse_date(start)
    total = base.year * 12 + base.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


class _Block(BaseModel):
    """Every scenario block is frozen and rejects unknown keys, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Table(_Block):
    """A block of rows whose defaults differ row by row (the moves, the history incidents).

    A partial row in a file (``moves: {summit: {climate: 0.1}}``) is completed from that row's own default, so a
    scenario can change one number of one row without restating the others.
    """

    @model_validator(mode="before")
    @classmethod
    def _complete_rows(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        completed = dict(data)
        for name, info in cls.model_fields.items():
            given = completed.get(name)
            if isinstance(given, Mapping) and isinstance(info.default, BaseModel):
                completed[name] = info.default.model_dump() | dict(given)
        return completed


#: The stocks a projection takes from the handed-over state unless its ``meta.start_state.keep`` lists them: those
#: the replay derives from the record (salience from dated incidents, threat from counted launches, China's drift,
#: cooperation from GSOMIA and the engagement path, the boycott). Approvals are not among them: the scenario's
#: come from the polls of the month, the replay's are modelled (Tokyo's at 0.49 in July 2025 against Ishiba's
#: 20-30 %). Nor is institutionalisation: no observation pins it down, and the replay's 0.09 in July 2025 (against
#: the judged 0.4 after Camp David) reflects building rates that nothing calibrates (docs/validation.md).
HANDED_OVER_STOCKS = (
    "drivers.history.salience",
    "drivers.security.cooperation",
    "drivers.security.nk_threat",
    "drivers.security.china_pressure",
    "drivers.trade.boycott",
)


class StartStateSpec(_Block):
    """Where a projection's starting state comes from: a replay of another scenario, run to this month.

    Handed over (per posterior draw, see ``parameters``): every citizen's age, camp, partisanship, nationalist
    predisposition, long-run level, anchor and opinion (resampled to this scenario's number of citizens), the
    levels opinion answers changes from (contact, threat, salience and the leaders at the replay's start), each
    public's remembered contact, and the stocks of ``HANDED_OVER_STOCKS`` except those listed in ``keep``, which
    keep this scenario's value. Approvals, institutions, regimes (trade measures, GSOMIA, the compensation
    dispute), leaders, rates and scheduled events are this scenario's own.
    """

    scenario: str = Field(
        pattern=r"^[A-Za-z0-9_./-]+\.ya?ml$",
        description="The replay's scenario file, relative to this scenario's folder.",
    )
    date: DateStr = Field(description="The month handed over (YYYY-MM): the scenario's own first month.")
    keep: tuple[str, ...] = Field(
        (), description="Stocks that keep this scenario's value instead of the replay's (from HANDED_OVER_STOCKS)."
    )
    source: str = Field(
        "", description="Filled in by the loader: the replay's file, resolved. Leave it out of scenario files."
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            scenario, at, date = data.partition("@")
            if not at:
                raise ValueError(f"expected 'FILE.yaml@YYYY-MM' or a mapping, got {data!r}")
            return {"scenario": scenario.strip(), "date": date.strip()}
        return data

    @field_validator("keep")
    @classmethod
    def _known_stocks(cls, keep: tuple[str, ...]) -> tuple[str, ...]:
        for path in keep:
            if path not in HANDED_OVER_STOCKS:
                raise ValueError(
                    f"{path!r} is not a handed-over stock; expected one of {', '.join(HANDED_OVER_STOCKS)}"
                )
        return keep


class ParameterSource(_Block):
    """Where a scenario's behavioural parameters come from when they are uncertain: a calibrated posterior."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(
        alias="from",
        pattern=r"^(posterior|[A-Za-z0-9_./-]+\.csv)$",
        description="'posterior' (the package's calibrated posterior, sim/validation/posterior.csv) or a "
        "posterior.csv written by 'rapprochement calibrate', relative to the scenario's folder. One draw per "
        "replication, chosen with the replication's own seed.",
    )
    source: str = Field("", description="Filled in by the loader: the posterior file, resolved.")


class Meta(_Block):
    """What the scenario is and the period it covers."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_]*$",
        max_length=64,
        description="Identifier; results go to results/<name>/. Lower case, digits and underscores.",
    )
    description: str = Field("", max_length=4000, description="What the scenario assumes, in words.")
    start: DateStr = Field(description="First simulated month (YYYY-MM).")
    months: int = Field(60, ge=1, le=600, description="Number of monthly ticks.")
    start_state: StartStateSpec | None = Field(
        None,
        description="Start from the state a calibrated replay reaches at this scenario's first month, e.g. "
        "'historical_2013_2025.yaml@2025-07' (see docs/ODD.md, 'Start-state hand-off').",
    )

    @model_validator(mode="after")
    def _hand_off_at_the_start(self) -> Self:
        if self.start_state is not None and self.start_state.date != self.start:
            raise ValueError(
                f"start_state.date {self.start_state.date} must be the scenario's first month {self.start}: "
                "the state is handed over where the projection starts"
            )
        return self


class Camp(StrEnum):
    """The two political camps of each public (Korea: progressives and conservatives; Japan: the opposition and
    the ruling conservatives). A leader comes from one; its citizens follow their own camp's leaders."""

    PROGRESSIVE = "progressive"
    CONSERVATIVE = "conservative"


class SuccessorDraw(_Block):
    """Distribution of an incoming leader: orientation a normal draw clipped to 0-1, camp a coin of the given
    weight."""

    mean: Unit = 0.5
    sd: float = Field(0.15, ge=0.0, le=0.5)
    conservative_probability: Unit = Field(
        0.5, description="Probability that a scheduled successor comes from the conservative camp."
    )


class DecisionRuleName(StrEnum):
    """How a government picks its move (see ``sim.agents.decision``)."""

    EXPECTED_UTILITY = "expected_utility"
    BEST_RESPONSE = "best_response"
    SCRIPTED = "scripted"


class Government(_Block):
    """A capital's leader and how its government weighs moves (the two-level game)."""

    leader: str = Field("", max_length=80, description="Name shown in reports.")
    orientation: Unit = Field(0.5, description="Leader orientation toward the partner: 0 hawk, 1 dove.")
    camp: Camp = Field(Camp.CONSERVATIVE, description="The leader's political camp.")
    approval: Unit = Field(0.45, description="Initial approval of the government.")
    baseline_approval: Unit = Field(0.4, description="Level approval drifts back to.")
    honeymoon_approval: Unit = Field(0.55, description="Approval of a newly installed leader.")
    next_leadership_change: DateStr | None = Field(
        None, description="Month of the next scheduled change of leader (election or party vote)."
    )
    term_months: int = Field(48, ge=6, le=240, description="Months between later scheduled changes.")
    successor: SuccessorDraw = SuccessorDraw()
    decision_rule: DecisionRuleName = DecisionRuleName.EXPECTED_UTILITY
    initiative: Unit = Field(0.3, description="Probability per month that the government weighs a move at all.")
    rationality: float = Field(
        10.0,
        ge=0.0,
        le=100.0,
        description="Logit choice sharpness: 0 random, large = best response.",
    )
    win_set_share: Unit = Field(
        0.5,
        description="Share of the (voice-weighted) public that accepts a move at no approval cost (the win-set).",
    )
    approval_slack: Unit = Field(
        0.4, description="How far approval above 0.5 lowers the share needed (and below raises it)."
    )
    winset_cost: NonNegative = Field(
        0.25,
        le=5.0,
        description="Approval lost when a move is made, per share of the public it falls short of the win-set.",
    )
    capital_weight: NonNegative = Field(
        1.0,
        le=20.0,
        description="Utility lost per unit of approval cost, divided by the approval buffer above approval_floor.",
    )
    approval_floor: Unit = Field(
        0.15, description="Approval below which a leader has no political capital left to spend."
    )
    orientation_weight: NonNegative = Field(
        1.0, le=20.0, description="Utility of conciliation for a dove, of hard line for a hawk."
    )
    nationalist_weight: NonNegative = Field(
        2.0, le=20.0, description="Utility of hard-line moves per unit of nationalist pressure."
    )
    grievance_weight: NonNegative = Field(
        0.4,
        le=20.0,
        description="Utility of hard-line moves per unit of history salience, doubled while the "
        "compensation dispute is open (the 2018 rulings and the 2019 controls).",
    )
    domestic_weight: NonNegative = Field(
        0.3,
        le=20.0,
        description="Utility lost per share of the public rejecting a move, win-set or not (the approval cost of "
        "a shortfall is weighed apart, by capital_weight).",
    )
    reciprocity: NonNegative = Field(
        1.0, le=20.0, description="Weight of answering the partner's recent moves in kind."
    )
    action_cost: NonNegative = Field(0.3, le=5.0, description="Fixed cost of any move over doing nothing.")
    approval_reversion: Unit = Field(0.05, description="Monthly pull of approval to its baseline.")
    approval_volatility: float = Field(0.01, ge=0.0, le=0.5, description="Monthly noise (sd).")
    move_approval: NonNegative = Field(
        0.06,
        le=1.0,
        description="Approval gained per share of the public above half accepting a move.",
    )
    memory_retention: Unit = Field(
        0.8, description="Monthly share of the memory of the partner's recent moves that is kept."
    )
    economic_loss_weight: NonNegative = Field(
        0.01,
        le=1.0,
        description="Approval lost per month per unit of interdependence x (1 - trade normalisation).",
    )
    crisis_approval_loss: Unit = Field(
        0.2, description="Approval lost per unit magnitude of a domestic political crisis (inject)."
    )
    dispute_grievance_multiplier: NonNegative = Field(
        2.0,
        le=20.0,
        description="Factor on grievance_weight while the compensation dispute is open.",
    )


class Washington(_Block):
    """The United States as broker of the trilateral relationship."""

    engagement: Unit = Field(0.7, description="Initial engagement in the alliance triangle.")
    target_engagement: Unit = Field(0.7, description="Level engagement moves toward.")
    adjustment_rate: Unit = Field(0.1, description="Monthly share of the gap to the target closed.")
    volatility: float = Field(0.02, ge=0.0, le=0.5, description="Monthly noise in engagement (sd).")
    brokering: NonNegative = Field(
        0.6,
        le=5.0,
        description="Weight of US pressure for cooperation in Seoul's and Tokyo's choices.",
    )
    trilateral_summit_rate: Unit = Field(
        0.08, description="Monthly probability of a trilateral summit at full engagement."
    )
    trilateral_min_climate: Unit = Field(
        0.4, description="Seoul-Tokyo climate a trilateral summit needs (Camp David came after the 2023 thaw)."
    )
    trilateral_institutions: Unit = Field(0.04, description="Institution building of a trilateral summit.")
    trilateral_security: Unit = Field(0.05, description="Step in security cooperation of a trilateral summit.")
    trilateral_climate: Unit = Field(0.03, description="Warming of the climate by a trilateral summit.")


class Actors(_Block):
    """The three governments."""

    seoul: Government = Government()
    tokyo: Government = Government()
    washington: Washington = Washington()


class Public(_Block):
    """One country's citizens: their number, ages, camps and initial opinions of the other country.

    A citizen's long-run opinion (the level its settled attitude relaxes to) is drawn once: a Beta around
    ``mean_opinion``, plus ``young_offset`` for the young, minus ``nationalism_opinion_link`` per unit of
    nationalism above the mean, plus half of ``camp_offset`` for a conservative (minus half for a progressive).
    The scenario starts in equilibrium with its starting conditions: later changes of the drivers (exchange,
    threat, salience, the leaders in office) move opinion away from it, and it returns when they return.
    """

    citizens: int = Field(2000, ge=10, le=1_000_000, description="Simulated citizens.")
    mean_opinion: Unit = Field(0.5, description="Initial mean opinion of the other country (0-1).")
    concentration: float = Field(
        8.0, gt=0.0, le=1000.0, description="Beta concentration (a+b) of initial opinions."
    )
    young_share: Unit = Field(0.25, description="Share aged 18-29.")
    old_share: Unit = Field(0.35, description="Share aged 60 and over.")
    max_age: int = Field(
        85, ge=61, le=110, description="Age at which a citizen leaves the public and an 18-year-old enters."
    )
    young_offset: float = Field(
        0.05, ge=-0.5, le=0.5, description="Long-run opinion of a generation entering at 18, relative to the mean."
    )
    nationalism_mean: Unit = Field(0.3, description="Mean nationalist predisposition (Beta).")
    nationalism_concentration: float = Field(4.0, gt=0.0, le=1000.0)
    nationalism_shift: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="Added to every citizen's nationalist predisposition at the start (after the draw or the "
        "hand-off of a start state): a variant's change of mood that keeps the measured starting opinions.",
    )
    nationalism_opinion_link: float = Field(
        0.3, ge=0.0, le=2.0, description="How much predisposition lowers initial opinion."
    )
    conservative_share: Unit = Field(0.5, description="Share of citizens in the conservative camp.")
    camp_offset: float = Field(
        0.0,
        ge=-0.5,
        le=0.5,
        description="Long-run opinion of the conservative camp minus that of the progressive camp.",
    )
    partisanship_mean: Unit = Field(
        0.5, description="Mean strength of attachment to one's camp (Beta): how far elite cues reach a citizen."
    )
    partisanship_concentration: float = Field(4.0, gt=0.0, le=1000.0)
    adult_population: float = Field(
        50.0,
        gt=0.0,
        le=2000.0,
        description="Adults (million) the citizens stand for: visitors per adult is the exchange a public feels.",
    )

    @field_validator("old_share")
    @classmethod
    def _cohorts_fit(cls, value: float, info: ValidationInfo) -> float:
        young = info.data.get("young_share")
        if young is not None and young + value > 1.0:
            raise ValueError(f"young_share + old_share must be <= 1, got {young} + {value}")
        return value


class OpinionDynamics(_Block):
    """Social influence among citizens (Deffuant-Weisbuch) and anchoring (Friedkin-Johnsen)."""

    confidence: float = Field(0.3, gt=0.0, le=1.0, description="Bounded-confidence threshold d.")
    convergence: float = Field(0.3, gt=0.0, le=0.5, description="Deffuant step mu.")
    rounds_per_month: int = Field(1, ge=0, le=50, description="Pairwise rounds per month.")
    burn_in_months: int = Field(
        12, ge=0, le=240, description="Months of social influence alone before the start (spin-up)."
    )
    susceptibility: Unit = Field(
        0.85, description="Friedkin-Johnsen weight on socially mixed opinion vs. own anchor."
    )
    anchor_absorption: Unit = Field(
        0.5,
        description="Share of each month's forcing that also shifts citizens' anchors (memory).",
    )
    favourable_threshold: Unit = Field(
        0.6, description="Opinion above which a citizen counts as favourable in polls."
    )
    acceptance_scale: Unit = Field(0.75, description="Opinion needed to accept a move = scale x its conciliation.")
    nationalist_voice: NonNegative = Field(
        1.0, le=10.0, description="Extra political weight of nationalists when salience is high."
    )
    nationalist_stubbornness: Unit = Field(
        0.5, description="How much less susceptible to influence the most nationalist citizens are."
    )
    anchor_relaxation: Unit = Field(
        0.02,
        description="Monthly share of the gap between a citizen's settled attitude and its long-run level that "
        "closes: what gives opinion an equilibrium, so that nothing drifts without events.",
    )
    stance_cue: NonNegative = Field(
        0.004,
        le=1.0,
        description="Monthly pull of a leader's own camp toward the leader's stance (orientation - 0.5), "
        "relative to the stance in office at the start (elite cues).",
    )
    move_cue: NonNegative = Field(
        0.02,
        le=1.0,
        description="Opinion shift of a government's own camp per unit of conciliation of its move (elite cues).",
    )
    polarisation: NonNegative = Field(
        0.5,
        le=2.0,
        description="Response of the other camp to a leader's cues, as a share of the own camp's and in the "
        "opposite direction.",
    )
    camp_loyalty: NonNegative = Field(
        0.2,
        le=1.0,
        description="How far a fully partisan citizen's bar for accepting their own government's move is "
        "lowered (and an opponent's raised by polarisation x it).",
    )
    history_push: NonNegative = Field(0.06, description="Opinion drop per unit history shock.")
    history_base_response: NonNegative = Field(
        0.2,
        le=5.0,
        description="Response to a history shock of a citizen without nationalist predisposition, relative to "
        "the added response per unit of nationalism.",
    )
    trade_base_response: NonNegative = Field(
        0.3,
        le=5.0,
        description="Response to a hostile trade move of a citizen without nationalist predisposition, relative "
        "to the added response per unit of nationalism.",
    )
    salience_mobilization: NonNegative = Field(
        0.01, description="Monthly drop for nationalists per unit of history salience above the start's."
    )
    trade_push: NonNegative = Field(0.05, description="Opinion drop per hostile trade move.")
    boycott_push: NonNegative = Field(
        0.01,
        le=1.0,
        description="Monthly opinion drop of the boycotting public per unit of boycott intensity (a campaign "
        "that 48-61 % of Koreans joined in July-August 2019 keeps hostility alive while it lasts).",
    )
    goodwill_lift: NonNegative = Field(0.02, description="Opinion lift per unit of the partner's conciliation.")
    exchange_lift: NonNegative = Field(
        0.03,
        description="Monthly lift of the young per visit per adult a year of contact above the start's "
        "(a fall below it cools them).",
    )
    threat_rally: NonNegative = Field(
        0.004, description="Monthly lift toward the partner per unit of security threat above the start's."
    )


class Publics(_Block):
    """Korean and Japanese citizens."""

    korea: Public = Public()
    japan: Public = Public()
    dynamics: OpinionDynamics = OpinionDynamics()


class PublicShock(_Block):
    """The shock one incident of unit magnitude gives each public (scaled by ``history_push``)."""

    korea: NonNegative = Field(le=10.0, description="Shock to the Korean public.")
    japan: NonNegative = Field(le=10.0, description="Shock to the Japanese public.")


class HistoryImpact(PublicShock):
    """Salience added by one incident of unit magnitude, and the shock it gives each public."""

    salience: Unit = Field(description="History salience added.")


class HistoryImpacts(_Table):
    """Who is offended by what. Court rulings against Japanese firms and the dissolution of the 2015
    foundation angered the Japanese public most; shrine visits and textbooks the Korean public."""

    court_ruling: HistoryImpact = HistoryImpact(salience=0.15, korea=0.3, japan=1.0)
    history_agreement_dissolved: HistoryImpact = Field(
        HistoryImpact(salience=0.0, korea=0.3, japan=1.0),
        description="Its salience comes through the repudiation move it triggers (moves.repudiate_settlement).",
    )
    shrine_visit: HistoryImpact = HistoryImpact(salience=0.1, korea=1.0, japan=0.1)
    textbook: HistoryImpact = HistoryImpact(salience=0.06, korea=0.8, japan=0.1)
    territorial_incident: HistoryImpact = HistoryImpact(salience=0.08, korea=0.8, japan=0.6)


class HardlineShocks(_Table):
    """What a government's hard-line gesture does to the publics: a prime minister's shrine visit offends
    Koreans; a president's landing on Dokdo/Takeshima (Lee Myung-bak, August 2012) offends the Japanese."""

    tokyo: PublicShock = PublicShock(korea=1.0, japan=0.1)
    seoul: PublicShock = PublicShock(korea=0.2, japan=0.8)


class HistoryDriver(_Block):
    """History disputes: colonial legacy, comfort women, forced-labour rulings, textbooks, shrine visits."""

    salience: Unit = Field(0.3, description="Initial history salience.")
    decay: Unit = Field(0.08, description="Monthly share of salience that fades.")
    dispute_open: bool = Field(
        False, description="Forced-labour compensation dispute unresolved (raises court rulings)."
    )
    agreement_in_force: bool = Field(
        False,
        description="A history agreement is in force (the 2015 comfort-women agreement until its foundation was "
        "dissolved in 2018): Seoul can repudiate only a settlement that exists.",
    )
    compensation_fund: bool = Field(
        False,
        description="A compensation plan is in force whose fund pays what courts award (Seoul's March 2023 "
        "third-party plan): a ruling then neither reopens the dispute nor weighs fully.",
    )
    covered_ruling_share: Unit = Field(
        0.3, description="Share of a court ruling's salience and shocks felt while a compensation fund pays."
    )
    dispute_opening_magnitude: NonNegative = Field(
        0.75,
        le=10.0,
        description="A court ruling opens the compensation dispute only at this magnitude or more: a final "
        "ruling (magnitude 1) does; a lower court's (the record's are 0.5) adds only salience and shocks.",
    )
    court_ruling_rate: NonNegative = Field(
        0.01, le=10.0, description="Rulings per month when the dispute is settled."
    )
    open_dispute_multiplier: NonNegative = Field(
        4.0, le=100.0, description="Ruling rate multiplier while the dispute is open."
    )
    shrine_visit_rate: NonNegative = Field(0.05, le=10.0, description="Visits per month.")
    textbook_rate: NonNegative = Field(0.08, le=10.0, description="Textbook disputes per month.")
    territorial_incident_rate: NonNegative = Field(
        0.05, le=10.0, description="Dokdo/Takeshima incidents per month."
    )
    impacts: HistoryImpacts = HistoryImpacts()
    hardline_shocks: HardlineShocks = HardlineShocks()


class SecurityTargetWeights(_Block):
    """Weights of the security-cooperation target (normalised by their sum, so the target stays within 0-1)."""

    gsomia: NonNegative = Field(0.4, le=10.0)
    us: NonNegative = Field(0.25, le=10.0, description="US engagement.")
    threat: NonNegative = Field(0.2, le=10.0, description="Threat met by a good climate (threat x climate).")
    institutions: NonNegative = Field(0.15, le=10.0)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if self.gsomia + self.us + self.threat + self.institutions <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class ProvocationWeights(_Block):
    """Threat-stock weight of each kind of North Korean event, in launch-event units."""

    missile_launch: NonNegative = Field(1.0, le=50.0)
    missile_overflight: NonNegative = Field(3.0, le=50.0)
    nuclear_test: NonNegative = Field(5.0, le=50.0)


class ObservedLaunches(_Block):
    """One year's recorded North Korean launch events, the Poisson mean of that year's draws (a backtest's
    data)."""

    year: int = Field(ge=1900, le=2200)
    launch_events: NonNegative = Field(le=600.0, description="Launch events in the year.")
    source: str = Field("", max_length=500)


class SecurityDriver(_Block):
    """North Korean provocations, China's pressure and the value of security cooperation."""

    nk_provocation_rate: NonNegative = Field(
        1.0, le=50.0, description="Missile launch events per month (Poisson mean)."
    )
    provocation_impact: NonNegative = Field(0.3, le=10.0)
    threat_decay: Unit = Field(0.15, description="Monthly decay of the threat stock.")
    threat_half_saturation: float = Field(1.0, gt=0.0, le=100.0)
    nk_threat: float = Field(0.4, ge=0.0, lt=1.0, description="Initial North Korean threat (0-1).")
    china_pressure: Unit = Field(0.5, description="Initial pressure from China (0-1).")
    china_trend: float = Field(0.002, ge=-0.1, le=0.1, description="Monthly drift of China pressure.")
    china_volatility: float = Field(0.01, ge=0.0, le=0.5)
    china_weight: Unit = Field(0.4, description="Weight of China in the combined threat.")
    security_value: NonNegative = Field(
        2.0, le=20.0, description="Utility weight of security gains per unit threat."
    )
    gsomia_active: bool = Field(True, description="GSOMIA in force at the start.")
    cooperation: Unit = Field(0.6, description="Initial security cooperation.")
    adjustment_rate: Unit = Field(0.15, description="Monthly share of the gap to the target closed.")
    gsomia_notice_months: int = Field(3, ge=1, le=24, description="Notice before termination.")
    target_weights: SecurityTargetWeights = SecurityTargetWeights()
    provocation_weights: ProvocationWeights = ProvocationWeights()
    observed_launches: tuple[ObservedLaunches, ...] = Field(
        (), description="Recorded launch events by year; other years draw at nk_provocation_rate."
    )

    @field_validator("observed_launches")
    @classmethod
    def _one_count_a_year(cls, rows: tuple[ObservedLaunches, ...]) -> tuple[ObservedLaunches, ...]:
        years = [row.year for row in rows]
        if len(set(years)) != len(years):
            raise ValueError(f"expected one row per year, got years {years}")
        return tuple(sorted(rows, key=lambda row: row.year))


class RestrictionWeights(_Block):
    """Loss of trade normalisation from each restriction in force (and a full boycott); normalisation is one
    minus their sum, floored at 0."""

    jp_export_controls: NonNegative = Field(0.30, le=1.0)
    jp_white_list_removed: NonNegative = Field(0.20, le=1.0)
    kr_export_controls: NonNegative = Field(0.10, le=1.0)
    kr_white_list_removed: NonNegative = Field(0.15, le=1.0)
    wto_case: NonNegative = Field(0.10, le=1.0)
    boycott: NonNegative = Field(0.15, le=1.0, description="At full boycott intensity.")


class TradeDriver(_Block):
    """Export controls, white lists, the WTO case, boycotts and economic interdependence."""

    jp_export_controls: bool = False
    jp_white_list_removed: bool = False
    kr_export_controls: bool = False
    kr_white_list_removed: bool = False
    wto_case: bool = False
    interdependence: Unit = Field(0.7, description="Supply-chain interdependence (0-1).")
    economic_value: NonNegative = Field(
        1.5, le=20.0, description="Utility weight of trade gains per unit interdependence."
    )
    boycott: Unit = Field(0.0, description="Initial Korean consumer-boycott intensity.")
    boycott_threshold: Unit = Field(0.25, description="Korean nationalist pressure above which a boycott grows.")
    boycott_growth: NonNegative = Field(1.5, le=20.0)
    boycott_decay: Unit = Field(0.12)
    boycott_inject: Unit = Field(0.8, description="Boycott intensity set by a boycott inject of unit magnitude.")
    restriction_weights: RestrictionWeights = RestrictionWeights()


class CohortReach(_Block):
    """How strongly each age cohort feels exchange and pop culture, relative to the young."""

    young: NonNegative = Field(1.0, le=10.0)
    middle: NonNegative = Field(0.4, le=10.0)
    old: NonNegative = Field(0.15, le=10.0)


class VisitorFlow(_Block):
    """Visitors one way a year (million)."""

    visitors: NonNegative = Field(le=100.0, description="Flow at the start (million a year).")
    potential: NonNegative = Field(le=100.0, description="Flow without boycott or pandemic (million a year).")


class ObservedFlows(_Block):
    """One year's recorded visitor flows, which replace the model's own flow in that year (a backtest's data)."""

    year: int = Field(ge=1900, le=2200)
    korea_to_japan: NonNegative | None = Field(None, le=100.0, description="Korean visitors to Japan (million).")
    japan_to_korea: NonNegative | None = Field(None, le=100.0, description="Japanese visitors to Korea (million).")
    source: str = Field("", max_length=500)


class ExchangeDriver(_Block):
    """Youth exchange, tourism and pop culture: visitors each way, and the contact each public has had.

    A public's contact is the visits per adult a year (its own citizens visiting the other country, scaled by
    ``program_scale``), smoothed over ``contact_memory_months``; its change since the start lifts (or cools) the
    young most. Years in ``observed`` take the recorded flows instead of the model's.
    """

    korea_to_japan: VisitorFlow = Field(
        VisitorFlow(visitors=8.8, potential=9.0), description="Korean visitors to Japan (JNTO; 2024: 8.82)."
    )
    japan_to_korea: VisitorFlow = Field(
        VisitorFlow(visitors=3.2, potential=3.3), description="Japanese visitors to Korea (KTO; 2024: 3.22)."
    )
    observed: tuple[ObservedFlows, ...] = Field(
        (), description="Recorded annual flows; from the last year recorded the model's own flow takes over."
    )
    adjustment_rate: Unit = Field(0.3, description="Monthly share of the gap to the potential flow closed.")
    boycott_cut: Unit = Field(0.65, description="Share of the Korean flow to Japan a full boycott removes.")
    pandemic_rate: Unit = Field(0.002, description="Monthly probability of a pandemic closure.")
    pandemic_months: int = Field(24, ge=1, le=120)
    program_scale: NonNegative = Field(
        1.0, le=10.0, description="Youth exchange programmes: multiplies the contact visits give (1 = current)."
    )
    contact_memory_months: float = Field(
        24.0, ge=1.0, le=600.0, description="Months over which visits are remembered as contact."
    )
    pandemic_flow: Unit = Field(0.05, description="Share of the potential flow that survives a pandemic closure.")
    reach: CohortReach = CohortReach()

    @field_validator("observed")
    @classmethod
    def _one_row_a_year(cls, rows: tuple[ObservedFlows, ...]) -> tuple[ObservedFlows, ...]:
        years = [row.year for row in rows]
        if len(set(years)) != len(years):
            raise ValueError(f"expected one row per year, got years {years}")
        return tuple(sorted(rows, key=lambda row: row.year))


class InstitutionsDriver(_Block):
    """Institutionalised cooperation: regular summits, councils, a trilateral secretariat."""

    stock: Unit = Field(0.35, description="Initial institutionalisation.")
    decay: Unit = Field(0.01, description="Monthly decay without maintenance.")
    damping: Unit = Field(0.6, description="How strongly institutions damp hostile moves and leader swings.")
    climate: Unit = Field(0.6, description="Initial diplomatic climate between the capitals.")
    climate_reversion: Unit = Field(0.04, description="Monthly pull of the climate toward 0.5.")


class Drivers(_Block):
    """One block per driver family."""

    history: HistoryDriver = HistoryDriver()
    security: SecurityDriver = SecurityDriver()
    trade: TradeDriver = TradeDriver()
    exchange: ExchangeDriver = ExchangeDriver()
    institutions: InstitutionsDriver = InstitutionsDriver()


class EventKind(StrEnum):
    """Dated injects a scenario (or a facilitator) can schedule."""

    COURT_RULING = "court_ruling"
    HISTORY_AGREEMENT = "history_agreement"
    HISTORY_AGREEMENT_DISSOLVED = "history_agreement_dissolved"
    SHRINE_VISIT = "shrine_visit"
    TEXTBOOK = "textbook"
    TERRITORIAL_INCIDENT = "territorial_incident"
    EXPORT_CONTROLS = "export_controls"
    EXPORT_CONTROLS_LIFTED = "export_controls_lifted"
    WHITE_LIST_REMOVAL = "white_list_removal"
    WHITE_LIST_RESTORED = "white_list_restored"
    WTO_COMPLAINT = "wto_complaint"
    WTO_WITHDRAWN = "wto_withdrawn"
    BOYCOTT = "boycott"
    GSOMIA_SIGNED = "gsomia_signed"
    GSOMIA_TERMINATION_NOTICE = "gsomia_termination_notice"
    GSOMIA_SUSPENSION_OF_TERMINATION = "gsomia_suspension_of_termination"
    GSOMIA_RESTORED = "gsomia_restored"
    COMPENSATION_PLAN = "compensation_plan"
    SUMMIT = "summit"
    TRILATERAL_SUMMIT = "trilateral_summit"
    LEADERSHIP_CHANGE = "leadership_change"
    ELECTION = "election"
    DOMESTIC_CRISIS = "domestic_crisis"
    MISSILE_LAUNCH = "missile_launch"
    MISSILE_OVERFLIGHT = "missile_overflight"
    NUCLEAR_TEST = "nuclear_test"
    PANDEMIC = "pandemic"
    US_POLICY_SHIFT = "us_policy_shift"


class EventActor(StrEnum):
    """Who acts in an inject."""

    SEOUL = "seoul"
    TOKYO = "tokyo"
    SEOUL_TOKYO = "seoul+tokyo"
    WASHINGTON = "washington"
    PYONGYANG = "pyongyang"
    BEIJING = "beijing"
    KOREA_PUBLIC = "korea_public"
    JAPAN_PUBLIC = "japan_public"
    WORLD = "world"


#: Injects that act on one government, so their actor must be seoul or tokyo.
GOVERNMENT_EVENTS = frozenset(
    {
        EventKind.LEADERSHIP_CHANGE,
        EventKind.DOMESTIC_CRISIS,
        EventKind.EXPORT_CONTROLS,
        EventKind.EXPORT_CONTROLS_LIFTED,
        EventKind.WHITE_LIST_REMOVAL,
        EventKind.WHITE_LIST_RESTORED,
        EventKind.WTO_COMPLAINT,
        EventKind.WTO_WITHDRAWN,
    }
)


#: Injects that only Seoul can make (GSOMIA is Seoul's to end or restore; the compensation plan is Seoul's).
SEOUL_EVENTS = frozenset(
    {
        EventKind.GSOMIA_SIGNED,
        EventKind.GSOMIA_TERMINATION_NOTICE,
        EventKind.GSOMIA_SUSPENSION_OF_TERMINATION,
        EventKind.GSOMIA_RESTORED,
        EventKind.COMPENSATION_PLAN,
    }
)


class Event(_Block):
    """A dated inject: something that happens regardless of the model's own choices."""

    date: DateStr
    kind: EventKind
    actor: EventActor = EventActor.WORLD
    magnitude: float = Field(1.0, ge=0.0, le=10.0, description="Scales the event's effect.")
    description: str = Field("", max_length=1000)
    source: str = Field("", max_length=500, description="Where the fact comes from.")
    orientation: Unit | None = Field(
        None, description="For leadership_change: the new leader's orientation (0 hawk, 1 dove)."
    )
    camp: Camp | None = Field(None, description="For leadership_change: the new leader's camp.")
    recorded_move: bool = Field(
        False,
        description="A move the governments made in history: applied only when both governments are scripted, "
        "so an autonomous replay leaves the governments to decide for themselves.",
    )
    leader: str | None = Field(None, max_length=80, description="For leadership_change: name.")
    engagement: Unit | None = Field(None, description="For us_policy_shift: Washington's new target engagement.")

    @model_validator(mode="after")
    def _actor_fits_kind(self) -> Self:
        if self.kind in SEOUL_EVENTS and self.actor is not EventActor.SEOUL:
            raise ValueError(f"a {self.kind.value} event is Seoul's: needs actor seoul, got {self.actor.value}")
        if self.kind in GOVERNMENT_EVENTS and self.actor not in (EventActor.SEOUL, EventActor.TOKYO):
            raise ValueError(f"a {self.kind.value} event needs actor seoul or tokyo, got {self.actor.value}")
        if self.kind is EventKind.US_POLICY_SHIFT and self.engagement is None:
            raise ValueError("a us_policy_shift event needs engagement (Washington's new target, 0-1)")
        return self


class GovernmentLevers(_Block):
    """What an analyst or a team decides for one capital."""

    cooperation_priority: float = Field(
        0.0, ge=-1.0, le=1.0, description="Doctrine: added utility per unit conciliation."
    )
    forbidden_moves: tuple[Move, ...] = Field((), description="Moves this government rules out.")
    summit_every_months: int | None = Field(
        None, ge=1, le=60, description="Commitment to regular summits (shuttle diplomacy)."
    )


class Levers(_Block):
    """Decisions set from outside the model."""

    seoul: GovernmentLevers = GovernmentLevers()
    tokyo: GovernmentLevers = GovernmentLevers()


class MoveEffects(_Block):
    """What one move does (docs/ODD.md section 8): its conciliation and its direct effects, all x magnitude."""

    conciliation: float = Field(ge=-1.0, le=1.0, description="-1 hard-line .. +1 conciliatory.")
    climate: float = Field(0.0, ge=-1.0, le=1.0, description="Change in the diplomatic climate.")
    salience: float = Field(0.0, ge=-1.0, le=1.0, description="Change in history salience.")
    institutions: float = Field(0.0, ge=0.0, le=1.0, description="Institution building.")
    security: float = Field(0.0, ge=-1.0, le=1.0, description="Security gain a government expects.")
    trade: float = Field(0.0, ge=-1.0, le=1.0, description="Trade gain a government expects.")
    cooldown: int = Field(0, ge=0, le=120, description="Months before the same government may repeat it.")


def _move_row(move: Move) -> MoveEffects:
    return MoveEffects.model_validate(DEFAULT_EFFECTS[move])


class Moves(_Table):
    """The move table: one row per move of the two-level game (who may make it is fixed by the game)."""

    hold: MoveEffects = _move_row(Move.HOLD)
    summit: MoveEffects = _move_row(Move.SUMMIT)
    joint_statement: MoveEffects = _move_row(Move.JOINT_STATEMENT)
    compensation_plan: MoveEffects = _move_row(Move.COMPENSATION_PLAN)
    remorse_statement: MoveEffects = _move_row(Move.REMORSE_STATEMENT)
    hardline_gesture: MoveEffects = _move_row(Move.HARDLINE_GESTURE)
    repudiate_settlement: MoveEffects = _move_row(Move.REPUDIATE_SETTLEMENT)
    impose_export_controls: MoveEffects = _move_row(Move.IMPOSE_EXPORT_CONTROLS)
    lift_export_controls: MoveEffects = _move_row(Move.LIFT_EXPORT_CONTROLS)
    remove_white_list: MoveEffects = _move_row(Move.REMOVE_WHITE_LIST)
    restore_white_list: MoveEffects = _move_row(Move.RESTORE_WHITE_LIST)
    end_gsomia: MoveEffects = _move_row(Move.END_GSOMIA)
    restore_gsomia: MoveEffects = _move_row(Move.RESTORE_GSOMIA)
    file_wto_case: MoveEffects = _move_row(Move.FILE_WTO_CASE)
    drop_wto_case: MoveEffects = _move_row(Move.DROP_WTO_CASE)

    def row(self, move: Move) -> MoveEffects:
        """The effects of ``move``."""
        effects: MoveEffects = getattr(self, move.value)
        return effects


class Uncertainty(_Block):
    """A parameter drawn uniformly per run between ``low`` and ``high``."""

    low: float
    high: float

    @field_validator("high")
    @classmethod
    def _ordered(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and value <= low:
            raise ValueError(f"expected high > low, got low={low}, high={value}")
        return value


class RelationsWeights(_Block):
    """Weights of the relations index, normalised by their sum (see docs/ODD.md)."""

    climate: NonNegative = Field(0.25, le=10.0, description="Diplomatic climate.")
    security_cooperation: NonNegative = Field(0.15, le=10.0)
    trade_normalization: NonNegative = Field(0.15, le=10.0)
    institutionalization: NonNegative = Field(0.15, le=10.0)
    calm_history: NonNegative = Field(0.15, le=10.0, description="1 - history salience.")
    public_opinion: NonNegative = Field(0.15, le=10.0, description="Mean of the two favourable shares.")

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class OutcomeThresholds(_Block):
    """How a run's last year is classified and how the relations index is weighed (see README and ODD)."""

    window_months: int = Field(12, ge=1, le=120, description="Months averaged at the end.")
    durable_min_index: float = Field(
        65.0,
        ge=0.0,
        le=100.0,
        description="Durable: last-window mean relations index at least this.",
    )
    durable_min_institutionalization: Unit = Field(
        0.35, description="Durable: final institutionalisation at least this."
    )
    relapse_max_index: float = Field(
        50.0,
        ge=0.0,
        le=100.0,
        description="Relapse: last-window mean relations index at most this.",
    )
    relations_weights: RelationsWeights = RelationsWeights()

    @field_validator("relapse_max_index")
    @classmethod
    def _below_durable(cls, value: float, info: ValidationInfo) -> float:
        durable = info.data.get("durable_min_index")
        if durable is not None and value >= durable:
            raise ValueError(f"expected relapse_max_index < durable_min_index ({durable}), got {value}")
        return value


def _check_range(block: BaseModel, leaf: str, path: str, spec: Uncertainty) -> None:
    """Both ends of an uncertainty's range must be values the parameter (field ``leaf`` of ``block``) accepts."""
    for end in (spec.low, spec.high):
        try:
            type(block).model_validate(block.model_dump() | {leaf: end})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ValueError(f"{path!r} cannot take {end} ({reason}); narrow the range") from None


#: What a capital controls, and so what a robust search (``search.levers``) may vary. Seoul and Tokyo set their
#: doctrine, the moves they rule out and regular summits (``levers``), how often they take the initiative and
#: how much political capital they are willing to spend for a move the public does not accept
#: (``capital_weight``, the leader's side of the two-level game). The win-set itself (``win_set_share``,
#: ``approval_slack``, ``winset_cost``, ``approval_floor``) describes the public and the political system a
#: government faces, not a choice it makes, and is left out. Washington sets its engagement target, its brokering
#: and its trilateral summits; the two capitals together fund youth exchange programmes (``program_scale``).
CONTROLLED_PATHS: tuple[str, ...] = (
    *(
        f"levers.{capital}.{name}"
        for capital in ("seoul", "tokyo")
        for name in ("cooperation_priority", "forbidden_moves", "summit_every_months")
    ),
    *(f"actors.{capital}.{name}" for capital in ("seoul", "tokyo") for name in ("initiative", "capital_weight")),
    "actors.washington.target_engagement",
    "actors.washington.brokering",
    "actors.washington.trilateral_summit_rate",
    "drivers.exchange.program_scale",
)


class RobustMetric(StrEnum):
    """How a policy is judged across an ensemble of futures (``rapprochement robust``, docs/analysis.md)."""

    DURABLE_SHARE = "durable_share"
    P10_RELATIONS_INDEX = "p10_relations_index"
    APPROVAL_COST_SEOUL = "approval_cost_seoul"
    APPROVAL_COST_TOKYO = "approval_cost_tokyo"
    REGRET = "regret"


class LeverRange(_Block):
    """The values a searched lever may take: a range of numbers (``low``, ``high``) or a list of ``choices``."""

    low: float | None = Field(None, description="Lowest value (with high): a numeric lever varied continuously.")
    high: float | None = Field(None, description="Highest value (with low).")
    choices: tuple[Any, ...] | None = Field(
        None,
        min_length=2,
        description="The values to choose among, e.g. [null, 6, 12] or [[], [repudiate_settlement]].",
    )

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        ranged = self.low is not None or self.high is not None
        if ranged and self.choices is not None:
            raise ValueError("give either low and high or choices, not both")
        if self.choices is None:
            if self.low is None or self.high is None:
                raise ValueError("expected low and high (a range) or choices (a list of values)")
            if not self.low < self.high:
                raise ValueError(f"expected low < high, got low={self.low:g}, high={self.high:g}")
        return self


class SearchSpec(_Block):
    """A robust policy search (``rapprochement robust``): the levers to search over and how policies are judged.

    The futures a policy is judged in are the scenario's ``uncertainties`` and posterior draws, sampled per future
    exactly as replications of a batch are; the search varies only the levers named here. Batch settings
    (futures, generations, candidates, seed) are options of the command, not part of the scenario.
    """

    levers: dict[str, LeverRange] = Field(
        min_length=1,
        description="Dotted lever path -> range or choices. Only what a capital controls: levers.seoul|tokyo."
        "{cooperation_priority, forbidden_moves, summit_every_months}, actors.seoul|tokyo.{initiative, "
        "capital_weight}, actors.washington.{target_engagement, brokering, trilateral_summit_rate}, "
        "drivers.exchange.program_scale (not the public's win-set).",
    )
    metrics: tuple[RobustMetric, ...] = Field(
        (),
        description="How policies are judged (default durable_share and p10_relations_index): durable_share, "
        "p10_relations_index, approval_cost_seoul, approval_cost_tokyo, regret.",
    )

    @field_validator("metrics")
    @classmethod
    def _distinct(cls, metrics: tuple[RobustMetric, ...]) -> tuple[RobustMetric, ...]:
        twice = sorted({m.value for m in metrics if metrics.count(m) > 1})
        if twice:
            raise ValueError(f"each metric may be named once, but {', '.join(twice)} appears twice")
        return metrics


def _check_lever(block: BaseModel, leaf: str, path: str, spec: LeverRange) -> None:
    """Every value a searched lever may take must be one its field accepts: both ends of a range (whole numbers
    for a whole-number field), or each choice."""
    current = getattr(block, leaf)
    if spec.choices is None:
        numeric = isinstance(current, int | float) and not isinstance(current, bool)
        whole = type(block).model_fields[leaf].annotation in (int, int | None)
        if not numeric and not whole:
            raise ValueError(f"levers: {path!r} is not a number: give its values as choices")
        values: tuple[Any, ...] = (spec.low, spec.high)
        if whole and not all(float(end).is_integer() for end in values):
            raise ValueError(f"levers: {path!r} is a whole number: give whole-number low and high")
    else:
        values = spec.choices
    for value in values:
        try:
            type(block).model_validate(block.model_dump() | {leaf: value})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ValueError(f"levers: {path!r} cannot take {value!r} ({reason})") from None


class Team(StrEnum):
    """The capitals a team can play in an exercise."""

    SEOUL = "seoul"
    TOKYO = "tokyo"
    WASHINGTON = "washington"


class Exercise(_Block):
    """How the scenario is played as a class exercise (``rapprochement exercise serve``)."""

    turn_months: int = Field(6, ge=1, le=60, description="Simulated months per turn.")
    turns: int = Field(6, ge=1, le=100, description="Turns in the exercise.")
    briefings: dict[Team, str] = Field(
        default_factory=dict, description="Briefing text per team (seoul, tokyo, washington)."
    )
    facilitator_notes: str = Field("", max_length=8000, description="Shown to the facilitator only.")

    @field_validator("briefings")
    @classmethod
    def _briefing_length(cls, briefings: dict[Team, str]) -> dict[Team, str]:
        for team, text in briefings.items():
            if len(text) > 8000:
                raise ValueError(f"briefings.{team.value} is {len(text)} characters; expected at most 8000")
        return briefings


class Scenario(_Block):
    """A complete, validated scenario."""

    meta: Meta
    actors: Actors = Actors()
    publics: Publics = Publics()
    drivers: Drivers = Drivers()
    events: tuple[Event, ...] = ()
    moves: Moves = Moves()
    levers: Levers = Levers()
    outcomes: OutcomeThresholds = OutcomeThresholds()
    uncertainties: dict[str, Uncertainty] = Field(
        default_factory=dict,
        description="Dotted parameter path -> range, e.g. drivers.security.nk_provocation_rate.",
    )
    exercise: Exercise | None = Field(None, description="Settings for playing the scenario as a class exercise.")
    parameters: ParameterSource | None = Field(
        None,
        description="Draw the calibrated behavioural parameters from a posterior, one draw per replication "
        "(e.g. {from: posterior}); a parameter in 'uncertainties' or --set still wins.",
    )
    search: SearchSpec | None = Field(
        None,
        description="Levers to search for policies that stay robust across the futures of 'uncertainties' "
        "and the posterior (rapprochement robust); the scenario runs as written without it.",
    )

    @field_validator("events")
    @classmethod
    def _events_in_horizon(cls, events: tuple[Event, ...], info: ValidationInfo) -> tuple[Event, ...]:
        meta = info.data.get("meta")
        if meta is None:
            return events
        end = add_months(meta.start, meta.months - 1)
        for i, event in enumerate(events):
            tick = months_between(meta.start, event.date)
            if not 0 <= tick < meta.months:
                raise ValueError(
                    f"events[{i}].date {event.date} is outside the scenario's months {meta.start} to {end:%Y-%m}"
                )
        return tuple(sorted(events, key=lambda e: parse_date(e.date)))

    @field_validator("uncertainties")
    @classmethod
    def _paths_are_numbers(cls, value: dict[str, Uncertainty], info: ValidationInfo) -> dict[str, Uncertainty]:
        for path, spec in value.items():
            first = path_keys(path)[0]
            if first in cls.model_fields and first not in info.data:
                continue  # that block failed its own validation (already reported) or is validated later
            found = locate(info.data, path)  # the validated blocks so far; ScenarioPathError is a ValueError
            current = found.value
            if isinstance(current, bool) or not isinstance(current, int | float):
                raise ValueError(f"{path!r} is not a numeric parameter")
            if isinstance(current, int) and not (float(spec.low).is_integer() and float(spec.high).is_integer()):
                raise ValueError(f"{path!r} is a whole number: give whole-number low and high")
            if isinstance(found.parent, BaseModel):
                _check_range(found.parent, str(found.keys[-1]), path, spec)
        return value

    @field_validator("search")
    @classmethod
    def _levers_a_capital_controls(cls, search: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        if search is None:
            return search
        for path, spec in search.levers.items():
            if path not in CONTROLLED_PATHS:
                raise ValueError(
                    f"levers: {path!r} is not something a capital controls; expected one of "
                    f"{', '.join(CONTROLLED_PATHS)}"
                )
            if path in info.data.get("uncertainties", {}):
                raise ValueError(
                    f"levers: {path!r} is also listed under uncertainties; a parameter is either searched or "
                    "uncertain, not both"
                )
            first = path_keys(path)[0]
            if first not in info.data:
                continue  # that block failed its own validation (already reported)
            found = locate(info.data, path)
            if isinstance(found.parent, BaseModel):
                _check_lever(found.parent, str(found.keys[-1]), path, spec)
        return search

    def locate(self, path: str) -> Location:
        """Where ``path`` leads (see :meth:`resolve`): the keys followed, the block holding the value and the
        value, for callers that need the field's block (its schema bounds, its other fields)."""
        return locate(self, path)

    def resolve(self, path: str) -> Any:
        """The value at ``path``: a field path as errors print it and ``--set`` takes it, e.g.
        ``drivers.security.nk_provocation_rate``, ``levers.seoul.cooperation_priority`` or ``events[2].date``.

        Raises :class:`sim.loading.ScenarioPathError` naming the path and the part that does not exist, with a
        "did you mean" where a name is close.
        """
        return self.locate(path).value

    def with_values(self, values: Mapping[str, Any]) -> Self:
        """A copy with the fields at these paths (as :meth:`resolve` reads them) replaced and re-validated:
        sampled uncertainties, sliders, test variants.

        A float given for a whole-number field is rounded, so a uniform draw can set an integer parameter. Raises
        :class:`sim.loading.ScenarioPathError` for a path that names no field, ``pydantic.ValidationError`` for
        a value the schema refuses.
        """
        if not values:
            return self
        data: Any = self.model_dump(mode="json")
        for path, value in values.items():
            found = self.locate(path)
            is_whole = isinstance(found.value, int) and not isinstance(found.value, bool)
            # The dump has the model's shape under the same keys (field names, positions, mapping keys).
            holder: Any = functools.reduce(operator.getitem, found.keys[:-1], data)
            holder[found.keys[-1]] = round(value) if is_whole and isinstance(value, float) else value
        return type(self).model_validate(data)

    def digest(self) -> str:
        """SHA-256 of the resolved scenario's canonical JSON: identifies exactly what was run.

        A resolved file (the replay of a start state, a posterior) counts by its content, not its location, so
        the same scenario has one digest in every clone.
        """
        data = self.model_dump(mode="json")
        for block in (data["meta"].get("start_state"), data.get("parameters")):
            if block and block.get("source"):
                block["source"] = hashlib.sha256(Path(block["source"]).read_bytes()).hexdigest()
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, resolve ``extends``, apply ``--set`` overrides and validate a scenario file.

    Overrides may name any field of the schema, not only those written in the file: they are applied to the
    complete validated scenario (defaults filled in) and validated again. An overridden parameter is fixed,
    so its entry in ``uncertainties`` is dropped. Raises ``sim.loading.ScenarioError`` naming the file (or
    ``--set``), the field and what was expected.
    """
    scenario, origins = load_traced(Scenario, path)
    scenario = _resolve_sources(scenario, Path(path), origins)
    if not overrides:
        return scenario
    data = apply_overrides(scenario.model_dump(mode="json"), overrides)
    fixed = {item.partition("=")[0].strip() for item in overrides}
    data["uncertainties"] = {key: value for key, value in data["uncertainties"].items() if key not in fixed}
    return validate(Scenario, data, file="--set")


#: The package's calibrated posterior (``rapprochement calibrate --write``), what ``parameters: {from: posterior}``
#: reads.
POSTERIOR_FILE = Path(__file__).resolve().parent / "validation" / "posterior.csv"


@functools.cache
def _replay_span(path: str, _mtime_ns: int) -> tuple[str, int, bool]:
    """A replay scenario's first month, its months and whether it hands over a state itself (memoised per version
    of the file: every variant of the baseline names the same replay)."""
    replay = load_scenario(path)
    return replay.meta.start, replay.meta.months, replay.meta.start_state is not None


def _resolve_sources(scenario: Scenario, path: Path, origins: Mapping[str, tuple[str, int | None]]) -> Scenario:
    """Fill in the ``source`` of a start state and of a posterior: the files they name, resolved against the
    folder of the file that names them (a parent reached through ``extends`` names its own neighbours). Raises
    ScenarioError naming the file and field when a named file does not exist."""
    values: dict[str, str] = {}
    start = scenario.meta.start_state
    if start is None and scenario.parameters is None:
        return scenario

    def folder_of(field: str) -> Path:
        written_in = origins.get(field, (str(path), None))[0]
        return Path(written_in).resolve().parent

    if start is not None:
        replay = (folder_of("meta.start_state.scenario") / start.scenario).resolve()
        if not replay.is_file() and start.source and Path(start.source).is_file():
            replay = Path(start.source)  # a resolved scenario saved beside its results names the file it used
        if not replay.is_file():
            raise ScenarioError(
                path, [Problem("meta.start_state.scenario", f"no scenario file {replay} to hand the state over")]
            )
        first, months, handed = _replay_span(str(replay), replay.stat().st_mtime_ns)
        if handed:
            raise ScenarioError(
                path, [Problem("meta.start_state.scenario", f"{replay} starts from a handed-over state itself")]
            )
        if not 0 < months_between(first, start.date) <= months:
            end = add_months(first, months - 1)
            raise ScenarioError(
                path,
                [
                    Problem(
                        "meta.start_state.date",
                        f"{start.date} is not a month {replay.name} reaches (it runs {first} to {end:%Y-%m})",
                    )
                ],
            )
        values["meta.start_state.source"] = str(replay)
    if scenario.parameters is not None:
        name = scenario.parameters.from_
        posterior = POSTERIOR_FILE if name == "posterior" else (folder_of("parameters.from") / name).resolve()
        if not posterior.is_file() and scenario.parameters.source and Path(scenario.parameters.source).is_file():
            posterior = Path(scenario.parameters.source)
        if not posterior.is_file():
            raise ScenarioError(
                path,
                [
                    Problem(
                        "parameters.from",
                        f"no posterior file {posterior} (write one with 'rapprochement calibrate')",
                    )
                ],
            )
        try:
            drawn = load_posterior(str(posterior)).model_values(0)
            scenario.with_values(drawn)
        except PosteriorError as exc:
            raise ScenarioError(path, [Problem("parameters.from", str(exc))]) from None
        except (ScenarioPathError, ValidationError) as exc:
            raise ScenarioError(
                path, [Problem("parameters.from", f"{posterior} holds parameters this scenario lacks ({exc})")]
            ) from None
        values["parameters.source"] = str(posterior)
    return scenario.with_values(values) if values else scenario
