"""The rules a batch's runs were classified by, and the decomposition of the durable share into its conditions.

A run is a durable rapprochement only when two conditions hold at once: the mean relations index over its last
window reaches the durable threshold, and its final institutionalisation reaches its own threshold. A small
durable share can come from either condition failing; :func:`decompose` counts each condition alone and both
together, so a reader can see which one holds the share down. Nothing here draws or imports plotting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.scenario import OutcomeThresholds, Scenario

__all__ = ["INDEX_COLUMN", "INSTITUTIONS_COLUMN", "ClassRules", "Decomposition", "decompose"]

#: The runs columns the classes are judged on (``sim.model.classify``).
INDEX_COLUMN = "window_relations_index"
INSTITUTIONS_COLUMN = "final_institutionalization"


@dataclass(frozen=True)
class ClassRules:
    """The outcome-class thresholds of a scenario's ``outcomes`` block (see ``sim.model.classify``)."""

    relapse_max_index: float
    durable_min_index: float
    durable_min_institutionalization: float
    window_months: int

    @classmethod
    def of(cls, scenario: Scenario | None) -> ClassRules:
        """The rules of ``scenario``; the schema's defaults without one (a results folder whose scenario file is
        missing or unreadable: its runs were most likely classified by the defaults, which cannot be checked)."""
        block = scenario.outcomes if scenario is not None else OutcomeThresholds()
        return cls(
            float(block.relapse_max_index),
            float(block.durable_min_index),
            float(block.durable_min_institutionalization),
            int(block.window_months),
        )

    def thresholds(self) -> dict[str, float]:
        """The three thresholds by their scenario field names, as the plots take them."""
        return {
            "relapse_max_index": self.relapse_max_index,
            "durable_min_index": self.durable_min_index,
            "durable_min_institutionalization": self.durable_min_institutionalization,
        }

    def describe(self) -> str:
        """The rules in one sentence for a report."""
        return (
            f"A run is judged on the mean of its relations index over its last {self.window_months} months: at "
            f"most {self.relapse_max_index:g} is a relapse; at least {self.durable_min_index:g}, with a final "
            f"institutionalisation of at least {self.durable_min_institutionalization:g}, is a durable "
            "rapprochement; every other run is a fragile thaw."
        )


@dataclass(frozen=True)
class Decomposition:
    """Numbers of runs meeting each condition of a durable rapprochement, alone and together, with their shares
    (0-1) of all ``runs``."""

    runs: int
    index_runs: int  #: last-window mean relations index at least the durable threshold
    institutions_runs: int  #: final institutionalisation at least its threshold
    both_runs: int  #: both conditions: the durable rapprochements

    def _share(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0

    @property
    def index(self) -> float:
        """Share of runs whose index reached the durable threshold."""
        return self._share(self.index_runs)

    @property
    def institutions(self) -> float:
        """Share of runs whose institutionalisation reached its threshold."""
        return self._share(self.institutions_runs)

    @property
    def both(self) -> float:
        """Share of runs meeting both conditions: the durable share."""
        return self._share(self.both_runs)

    @property
    def index_only(self) -> float:
        """Share of runs whose index reached the durable threshold but whose institutionalisation did not."""
        return self._share(self.index_runs - self.both_runs)

    @property
    def institutions_only(self) -> float:
        """Share of runs whose institutionalisation reached its threshold but whose index did not."""
        return self._share(self.institutions_runs - self.both_runs)


def decompose(runs: pd.DataFrame, thresholds: Mapping[str, float]) -> Decomposition:
    """How many of ``runs`` meet each condition of a durable rapprochement under ``thresholds``
    (:meth:`ClassRules.thresholds`), judged on the columns the classes were (``window_relations_index``,
    ``final_institutionalization``) with the same inclusive comparisons. Runs with a missing value meet no
    condition."""
    missing = {INDEX_COLUMN, INSTITUTIONS_COLUMN} - set(runs.columns)
    if missing:
        raise KeyError(f"runs lack column(s) {sorted(missing)}")
    index = runs[INDEX_COLUMN].to_numpy(dtype=np.float64) >= float(thresholds["durable_min_index"])
    institutions = runs[INSTITUTIONS_COLUMN].to_numpy(dtype=np.float64) >= float(
        thresholds["durable_min_institutionalization"]
    )
    return Decomposition(len(runs), int(index.sum()), int(institutions.sum()), int((index & institutions).sum()))
