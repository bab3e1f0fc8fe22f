"""Regenerate the golden summaries in tests/golden/ on purpose, after a deliberate change to the model.

    python -m scripts.regenerate_golden            # all shipped scenarios (from the repository's root)
    python -m scripts.regenerate_golden baseline   # one

Each golden file is the summary (final-value distribution and outcome-class shares) of GOLDEN_RUNS replications
at GOLDEN_SEED. Review the diff of tests/golden/ before committing it: it shows exactly how the change moved
every shipped scenario.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.results import summarise
from sim.runner import run_batch
from sim.scenario import load_scenario
from tests.shipped import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "golden"
GOLDEN_RUNS = 6
GOLDEN_SEED = 424242


def golden_summary(name: str) -> pd.DataFrame:
    """The summary of a shipped scenario's golden batch."""
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    runs = pd.DataFrame([r.summary for r in run_batch(scenario, GOLDEN_RUNS, GOLDEN_SEED)])
    return summarise(runs)


def main(names: list[str]) -> None:
    """Write tests/golden/<name>.csv for each scenario named (by default every one in tests/shipped.py)."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    names = names or list(SHIPPED)
    for name in names:
        path = GOLDEN_DIR / f"{name}.csv"
        golden_summary(name).to_csv(path, index=False, float_format="%.10g")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
