"""Seeds, sampling, executors and the results store: reproducible whatever runs the batch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.posterior import load_posterior, posterior_draw
from sim.results import ResultsConflict, load_batch, write_batch
from sim.runner import run_batch, run_seeds, sample_uncertainties, simulate_run
from sim.scenario import Scenario


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_seeds_follow_the_documented_seed_sequence() -> None:
    params, model = np.random.SeedSequence(5, spawn_key=(3,)).spawn(2)
    seeds = run_seeds(5, 3)
    assert seeds.params == int(params.generate_state(1, np.uint32)[0])
    assert seeds.model == int(model.generate_state(1, np.uint32)[0])
    assert run_seeds(5, 3) != run_seeds(5, 4) != run_seeds(6, 3)


def test_sampled_uncertainties_lie_within_bounds(baseline: Scenario) -> None:
    for seed in range(50):
        values = sample_uncertainties(baseline, seed)
        assert set(values) == set(baseline.uncertainties)
        for path, value in values.items():
            spec = baseline.uncertainties[path]
            assert spec.low <= value <= spec.high


def test_sampled_values_are_the_ones_the_model_ran_with(small_baseline: Scenario) -> None:
    result = simulate_run(small_baseline, 4, 17)
    params = {k.removeprefix("param:"): v for k, v in result.summary.items() if k.startswith("param:")}
    seeds = run_seeds(17, 4)
    drawn = load_posterior(small_baseline.parameters.source).model_values(posterior_draw(seeds.posterior))
    assert result.summary["posterior_draw"] == posterior_draw(seeds.posterior)
    assert params == drawn | sample_uncertainties(small_baseline, seeds.params)


def test_results_are_identical_for_one_and_two_workers(small_baseline: Scenario, tmp_path: Path) -> None:
    for workers in (1, 2):
        write_batch(
            run_batch(small_baseline, 6, 123, workers=workers),
            small_baseline,
            tmp_path / f"w{workers}",
            root_seed=123,
            runs=6,
            plots=False,
        )
    for name in ("timeseries.parquet", "runs.parquet", "summary.csv", "scenario.yaml"):
        assert digest(tmp_path / "w1" / name) == digest(tmp_path / "w2" / name), name


def test_same_seed_gives_byte_identical_parquet_and_another_seed_differs(
    small_baseline: Scenario, tmp_path: Path
) -> None:
    for label, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_batch(
            run_batch(small_baseline, 3, seed),
            small_baseline,
            tmp_path / label,
            root_seed=seed,
            runs=3,
            plots=False,
        )
    assert digest(tmp_path / "a" / "timeseries.parquet") == digest(tmp_path / "b" / "timeseries.parquet")
    assert digest(tmp_path / "a" / "timeseries.parquet") != digest(tmp_path / "c" / "timeseries.parquet")


def test_timeseries_is_streamed_in_row_groups_of_bounded_size(
    small_baseline: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    import sim.results

    # Groups close once they reach two runs' rows, so four runs are written as two groups, in run order.
    monkeypatch.setattr(sim.results, "ROW_GROUP_ROWS", 2 * small_baseline.meta.months)
    write_batch(
        run_batch(small_baseline, 4, 1),
        small_baseline,
        tmp_path / "out",
        root_seed=1,
        runs=4,
        plots=False,
    )
    meta = pq.ParquetFile(tmp_path / "out" / "timeseries.parquet").metadata
    assert meta.num_row_groups == 2
    assert [meta.row_group(i).num_rows for i in range(2)] == [2 * small_baseline.meta.months] * 2
    assert meta.num_rows == 4 * small_baseline.meta.months
    batch = load_batch(tmp_path / "out")
    assert list(batch.runs["run"]) == [0, 1, 2, 3]
    assert batch.timeseries.groupby("run")["month"].apply(list).map(len).eq(small_baseline.meta.months).all()


def test_a_failing_batch_leaves_no_partial_results(small_baseline: Scenario, tmp_path: Path) -> None:
    def failing():
        yield from run_batch(small_baseline, 2, 1)
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        write_batch(failing(), small_baseline, tmp_path / "out", root_seed=1, runs=3, plots=False)
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_results_of_another_seed_are_not_overwritten(small_baseline: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_batch(run_batch(small_baseline, 2, 1), small_baseline, out, root_seed=1, runs=2, plots=False)
    before = digest(out / "timeseries.parquet")
    with pytest.raises(ResultsConflict, match="--force"):
        write_batch(run_batch(small_baseline, 2, 2), small_baseline, out, root_seed=2, runs=2, plots=False)
    assert digest(out / "timeseries.parquet") == before
    write_batch(
        run_batch(small_baseline, 2, 2),
        small_baseline,
        out,
        root_seed=2,
        runs=2,
        plots=False,
        force=True,
    )
    assert load_batch(out).manifest["root_seed"] == 2


def test_run_batch_rejects_bad_counts(small_baseline: Scenario) -> None:
    with pytest.raises(ValueError, match="runs must be at least 1, got 0"):
        list(run_batch(small_baseline, 0, 1))
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        list(run_batch(small_baseline, 1, 1, workers=0))


def test_runs_table_has_provenance_and_outcomes(small_baseline: Scenario, tmp_path: Path) -> None:
    manifest = write_batch(
        run_batch(small_baseline, 3, 8),
        small_baseline,
        tmp_path / "o",
        root_seed=8,
        runs=3,
        plots=False,
    )
    runs = pd.read_parquet(tmp_path / "o" / "runs.parquet")
    assert list(runs["seed"]) == [run_seeds(8, r).model for r in range(3)]
    assert manifest["scenario_hash"] == small_baseline.digest()
    assert sum(manifest["outcome_classes"].values()) == 3
    assert set(runs["outcome_class"]) <= {"durable_rapprochement", "fragile_thaw", "relapse"}
