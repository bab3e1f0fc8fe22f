"""Mesa's own conventions hold on the model: ``mesa.batch_run`` drives it, ``rng=None`` draws a recorded seed."""

from __future__ import annotations

import typing

import mesa
import numpy as np
import pandas as pd
import pytest

from sim.model import MONTHLY_COLUMNS, RapprochementModel
from sim.outcomes import EVENT_COUNTS
from sim.scenario import Scenario
from tests.conftest import shipped


@pytest.fixture(scope="module")
def year() -> Scenario:
    return shipped("baseline", "meta.months=12", "publics.korea.citizens=200", "publics.japan.citizens=200")


def test_batch_run_returns_the_monthly_outcomes(year: Scenario) -> None:
    rows = mesa.batch_run(
        RapprochementModel,
        parameters={"scenario": [year]},
        rng=[1, 2],
        max_steps=1000,  # the model stops itself after the scenario's months
        data_collection_period=1,
        number_processes=1,
        display_progress=False,
    )
    frame = pd.DataFrame(rows)
    assert len(frame) == 2 * 12
    assert set(MONTHLY_COLUMNS) <= set(frame.columns)
    for seed, run in frame.groupby("rng"):
        model = RapprochementModel(year, rng=int(seed))
        model.run()
        expected = model.outcomes_frame()
        assert list(run["Step"]) == list(range(1, 13))
        for name in MONTHLY_COLUMNS:
            np.testing.assert_array_equal(run[name].to_numpy(), expected[name].to_numpy(), err_msg=name)


def test_batch_run_at_the_end_only(year: Scenario) -> None:
    rows = mesa.batch_run(
        RapprochementModel, parameters={"scenario": [year]}, rng=[3], number_processes=1, display_progress=False
    )
    [row] = rows
    model = RapprochementModel(year, rng=3)
    model.run()
    assert row["Step"] == 12
    assert row["relations_index"] == model.relations_index


def test_datacollector_reads_like_mesas(year: Scenario) -> None:
    model = RapprochementModel(year, rng=5)
    for _ in range(3):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == list(MONTHLY_COLUMNS)
    pd.testing.assert_frame_equal(frame, model.outcomes_frame().astype(frame.dtypes.to_dict()))
    assert model.running
    while model.running:
        model.step()
    assert model.month == year.meta.months


def test_rng_none_draws_a_fresh_seed_and_records_it(year: Scenario) -> None:
    first, second = RapprochementModel(year), RapprochementModel(year)
    assert first.seed != second.seed
    again = RapprochementModel(year, rng=first.seed)
    first.run()
    again.run()
    pd.testing.assert_frame_equal(first.outcomes_frame(), again.outcomes_frame())


def test_event_counters_are_declared_on_the_class() -> None:
    # Declared, not only set through setattr, so the type checker sees every use of them.
    hints = typing.get_type_hints(RapprochementModel)
    assert {name: hints.get(name) for name in EVENT_COUNTS} == dict.fromkeys(EVENT_COUNTS, int)
