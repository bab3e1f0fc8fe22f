"""The outcome contract: monthly column names, their labels and units, and the per-run outcome classes.

These names are shared by the model (its monthly record), the results files, the plots and the docs;
changing one is a breaking change for every stored result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class OutcomeInfo:
    """How an outcome is labelled in plots and documents."""

    label: str
    unit: str
    low: float
    high: float


#: Monthly outcomes, in the column order of ``timeseries.parquet``.
OUTCOMES: dict[str, OutcomeInfo] = {
    "relations_index": OutcomeInfo("Relations index", "index 0-100", 0.0, 100.0),
    "kr_favorability": OutcomeInfo("Koreans favourable to Japan", "% of citizens", 0.0, 100.0),
    "jp_favorability": OutcomeInfo("Japanese favourable to Korea", "% of citizens", 0.0, 100.0),
    "security_cooperation": OutcomeInfo("Security cooperation", "0-1", 0.0, 1.0),
    "trade_normalization": OutcomeInfo("Trade normalisation", "0-1", 0.0, 1.0),
    "nationalist_pressure_kr": OutcomeInfo("Nationalist pressure, Korea", "0-1", 0.0, 1.0),
    "nationalist_pressure_jp": OutcomeInfo("Nationalist pressure, Japan", "0-1", 0.0, 1.0),
    "history_salience": OutcomeInfo("History salience", "0-1", 0.0, 1.0),
    "us_engagement": OutcomeInfo("US engagement", "0-1", 0.0, 1.0),
    "institutionalization": OutcomeInfo("Institutionalisation", "0-1", 0.0, 1.0),
    "seoul_approval": OutcomeInfo("Seoul government approval", "share 0-1", 0.0, 1.0),
    "tokyo_approval": OutcomeInfo("Tokyo government approval", "share 0-1", 0.0, 1.0),
    "nk_threat": OutcomeInfo("North Korean threat", "0-1", 0.0, 1.0),
}

#: Monthly event counts, stored beside the outcomes.
EVENT_COUNTS: dict[str, str] = {
    "history_events": "history and territorial incidents this month",
    "nk_provocations": "North Korean provocations this month",
    "cooperative_moves": "conciliatory government moves this month",
    "hostile_moves": "hard-line government moves this month",
}

#: Measures and arrangements that are either in force or not, recorded every month beside the outcomes (as
#: booleans): a 0-1 index such as trade normalisation moves in steps when they switch, which a fan chart of the
#: index blurs. Figures show the share of runs with each in force.
REGIME_STATES: dict[str, str] = {
    "jp_export_controls": "Japan's export controls on Korea",
    "jp_white_list_removed": "Korea off Japan's white list",
    "kr_export_controls": "Korea's export controls on Japan",
    "kr_white_list_removed": "Japan off Korea's white list",
    "wto_case": "WTO case open",
    "gsomia_in_force": "GSOMIA in force",
    "gsomia_notice": "GSOMIA under notice of termination",
    "dispute_open": "Forced-labour compensation dispute open",
    "compensation_fund": "Compensation fund in force",
}

#: Key outcomes that move in steps as measures switch on and off: a batch shows the share of runs with each
#: measure of ``REGIME_STATES`` in force instead of their fan chart.
STEP_OUTCOMES: frozenset[str] = frozenset({"trade_normalization"})

#: The outcomes drawn as fan charts after every batch (the two an outcome class is judged on first).
KEY_OUTCOMES: tuple[str, ...] = (
    "relations_index",
    "institutionalization",
    "kr_favorability",
    "jp_favorability",
    "security_cooperation",
    "trade_normalization",
    "history_salience",
)


class OutcomeClass(StrEnum):
    """Where a run ends up, judged on its last year (thresholds in the scenario's ``outcomes`` block)."""

    DURABLE_RAPPROCHEMENT = "durable_rapprochement"
    FRAGILE_THAW = "fragile_thaw"
    RELAPSE = "relapse"
