"""Shared fixtures: the shipped scenarios and small, fast variants of them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

from sim.scenario import Scenario, load_scenario
from tests.shipped import SHIPPED

__all__ = ["ROOT", "SCENARIOS", "SHIPPED", "shipped"]

matplotlib.use("Agg")
# Property tests check behaviour, not speed: no deadlines or slowness checks on a shared, loaded machine.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")
# Tests fork worker pools from a process that already runs threads (pyarrow, Dask); a fork server is safe there.
os.environ.setdefault("RAPPROCHEMENT_START_METHOD", "forkserver")
# Derived start states go to a folder of this test run's own (the workers inherit the variable).
os.environ.setdefault("RAPPROCHEMENT_CACHE", tempfile.mkdtemp(prefix="rapprochement-cache-"))

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def shipped(name: str, *overrides: str) -> Scenario:
    """A shipped scenario, optionally with ``--set`` style overrides."""
    return load_scenario(SCENARIOS / f"{name}.yaml", overrides)


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    """The baseline scenario as shipped."""
    return shipped("baseline")


@pytest.fixture(scope="session")
def small_baseline() -> Scenario:
    """Baseline with few citizens and 24 months: fast enough for many runs per test."""
    return shipped(
        "baseline",
        "meta.months=24",
        "publics.korea.citizens=300",
        "publics.japan.citizens=300",
    )
