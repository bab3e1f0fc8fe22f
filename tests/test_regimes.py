"""Regime-like states (trade measures, GSOMIA, the history settlement) are shown as steps, not fans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.outcomes import REGIME_STATES
from sim.plots import regime_shares
from tests.conftest import SCENARIOS


def constructed() -> pd.DataFrame:
    """Four runs over six months: Japan's controls in force in runs 0-2 until month 3, then in run 0 only; a
    WTO case opened in month 2 in every run; nothing else ever in force."""
    rows = []
    for run in range(4):
        for month in range(6):
            row = dict.fromkeys(REGIME_STATES, False)
            row["jp_export_controls"] = run < 3 if month < 3 else run == 0
            row["wto_case"] = month >= 2
            rows.append(
                {"scenario": "s", "run": run, "month": month, "date": pd.Timestamp(2026, month + 1, 1)} | row
            )
    return pd.DataFrame(rows)


def test_each_measure_is_the_share_of_runs_with_it_in_force_drawn_as_steps() -> None:
    ax = regime_shares(constructed())
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {REGIME_STATES["jp_export_controls"], REGIME_STATES["wto_case"]}
    controls = lines[REGIME_STATES["jp_export_controls"]]
    assert controls.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(controls.get_ydata(), [75, 75, 75, 25, 25, 25])
    np.testing.assert_allclose(lines[REGIME_STATES["wto_case"]].get_ydata(), [0, 0, 100, 100, 100, 100])
    # The measures in force in no run are named, not drawn.
    note = " ".join(text.get_text() for text in ax.texts)
    assert "In force in no run" in note and REGIME_STATES["gsomia_in_force"] in note
    assert ax.get_ylim() == (-2.0, 102.0)


def test_a_timeseries_without_regime_columns_is_refused() -> None:
    frame = constructed().drop(columns=list(REGIME_STATES))
    with pytest.raises(KeyError, match="regime columns"):
        regime_shares(frame)


def test_a_batch_shows_the_measures_in_force_instead_of_the_trade_fan(tmp_path: Path) -> None:
    argv = ["run", str(SCENARIOS / "trade_relapse.yaml"), "--runs", "3", "--workers", "1", "--quiet", "--report"]
    small = [
        "--set",
        "meta.months=12",
        "--set",
        "publics.korea.citizens=200",
        "--set",
        "publics.japan.citizens=200",
    ]
    assert main([*argv, *small, "--out", str(tmp_path)]) == 0
    folder = tmp_path / "trade_relapse"
    plots = {p.name for p in (folder / "plots").iterdir()}
    assert "measures_in_force.png" in plots and "fan_trade_normalization.png" not in plots
    page = (folder / "report" / "report.html").read_text(encoding="utf-8")
    assert "Measures in force" in page and "measures_in_force.svg" in page
    # The states are recorded in the time series, one boolean column each.
    timeseries = pd.read_parquet(folder / "timeseries.parquet")
    assert all(timeseries[name].dtype == bool for name in REGIME_STATES)
    assert timeseries["jp_export_controls"].any()  # the scenario reimposes Japan's controls
