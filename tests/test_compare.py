"""Tests of sim.analysis.compare and the ``compare`` command.

Most tests use synthetic results folders written directly (``write_results``), whose differences are known;
two run tiny real batches through the command line to check pairing on common random numbers end to end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.common import AnalysisError, open_results
from sim.analysis.compare import (
    Comparison,
    compare,
    headline_lines,
    newcombe_difference,
    paired_difference,
    welch_difference,
)
from sim.cli import main
from sim.outcomes import EVENT_COUNTS, OUTCOMES, OutcomeClass

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


# --------------------------------------------------------------------------- synthetic results


def write_results(
    folder: Path,
    finals: Mapping[str, np.ndarray],
    *,
    root_seed: int = 1,
    classes: list[str] | None = None,
    params: Mapping[str, np.ndarray] | None = None,
    replications: int | None = None,
    design: dict[str, Any] | None = None,
    months: int = 3,
    order: np.ndarray | None = None,
) -> Path:
    """A results folder whose runs have the given final values (other outcomes 50 % of their range).

    Every month of a run holds its final values. ``params`` adds ``param:<path>`` columns; ``design`` makes it
    a sweep (``replications`` runs per design point); ``order`` writes the runs in that row order.
    """
    n = len(next(iter(finals.values())))
    reps = replications or n
    runs = pd.DataFrame(
        {
            "scenario": folder.name,
            "run": np.arange(n),
            "replication": np.arange(n) % reps,
            "seed": np.arange(n) + 100,
            "status": "ok",
            "outcome_class": classes or [OutcomeClass.FRAGILE_THAW.value] * n,
        }
    )
    if design is not None:
        runs.insert(2, "design_point", np.arange(n) // reps)
    for name, info in OUTCOMES.items():
        runs[f"final_{name}"] = np.asarray(finals.get(name, np.full(n, (info.low + info.high) / 2)), dtype=float)
    runs["window_relations_index"] = np.asarray(finals.get("window", runs["final_relations_index"]), dtype=float)
    for path, values in (params or {}).items():
        runs[f"param:{path}"] = np.asarray(values, dtype=float)
    if order is not None:
        runs = runs.iloc[order].reset_index(drop=True)
    folder.mkdir(parents=True)
    runs.to_parquet(folder / "runs.parquet", index=False)
    dates = pd.date_range("2025-07-01", periods=months, freq="MS")
    timeseries = pd.DataFrame(
        {
            "scenario": folder.name,
            "run": np.repeat(runs["run"].to_numpy(), months),
            "month": np.tile(np.arange(months), n),
            "date": np.tile(dates.to_numpy(), n),
        }
    )
    for name in OUTCOMES:
        timeseries[name] = np.repeat(runs[f"final_{name}"].to_numpy(), months)
    for name in EVENT_COUNTS:
        timeseries[name] = 0
    timeseries.to_parquet(folder / "timeseries.parquet", index=False)
    identity: dict[str, Any] = {"scenario_hash": folder.name, "root_seed": root_seed, "runs": reps}
    if design is not None:
        identity["design"] = design
    manifest = {
        "scenario": folder.name,
        "scenario_hash": folder.name,
        "root_seed": root_seed,
        "runs": n,
        "replications": reps,
        "months": months,
        "start": "2025-07",
        "failed_runs": [],
        "identity": identity,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run ``rapprochement argv`` in-process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def row(differences: pd.DataFrame, metric: str, scenario: str | None = None) -> pd.Series:
    rows = differences[differences["metric"] == metric]
    if scenario is not None:
        rows = rows[rows["scenario"] == scenario]
    assert len(rows) == 1
    return rows.iloc[0]


# --------------------------------------------------------------------------- statistics


def test_paired_difference_is_the_mean_of_per_replication_differences(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(60, 8, 50)
    other = base - 4 + rng.normal(0, 1, 50)
    a = write_results(tmp_path / "a", {"relations_index": base})
    # The other batch's rows are shuffled: pairing must follow the replication, not the row order.
    b = write_results(tmp_path / "b", {"relations_index": other}, order=rng.permutation(50))
    result = compare([open_results(a), open_results(b)], ["a", "b"])
    r = row(result.differences, "final_relations_index")
    assert r["paired"]
    assert r["method"] == "paired t"
    assert r["n"] == 50
    d = other - base
    assert r["difference"] == pytest.approx(d.mean(), rel=1e-12)
    half = stats.t.ppf(0.975, 49) * d.std(ddof=1) / np.sqrt(50)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-10)
    assert result.unpaired == {}


def test_paired_intervals_shrink_with_more_runs() -> None:
    rng = np.random.default_rng(11)
    widths = []
    for n in (20, 80, 320):
        base = pd.Series(rng.normal(50, 10, n))
        other = base + 3 + rng.normal(0, 2, n)
        r = paired_difference(base, other)
        widths.append(r["ci_high"] - r["ci_low"])
    assert widths[0] > widths[1] > widths[2]
    # The width falls like 1/sqrt(n): quadrupling the runs about halves it.
    assert widths[2] / widths[0] == pytest.approx(0.25, rel=0.3)


@pytest.mark.parametrize("paired", [True, False])
def test_intervals_cover_a_known_difference_about_95_percent_of_the_time(paired: bool) -> None:
    rng = np.random.default_rng(2024)
    delta, trials, n, covered = 2.5, 400, 25, 0
    for _ in range(trials):
        shared = rng.normal(50, 10, n)  # what common random numbers share
        a = pd.Series(shared + rng.normal(0, 2, n))
        b = pd.Series((shared if paired else rng.normal(50, 10, n)) + delta + rng.normal(0, 2, n))
        r = paired_difference(a, b) if paired else welch_difference(a, b)
        covered += r["ci_low"] <= delta <= r["ci_high"]
    # 95 % nominal; 400 trials give a binomial sd of 1.1 points, so 91-99 % is a 3.5-sd band.
    assert 0.91 <= covered / trials <= 0.99


def test_paired_interval_is_narrower_than_unpaired_on_common_random_numbers() -> None:
    rng = np.random.default_rng(3)
    shared = rng.normal(50, 10, 100)
    a, b = pd.Series(shared + rng.normal(0, 1, 100)), pd.Series(shared + 1 + rng.normal(0, 1, 100))
    p, w = paired_difference(a, b), welch_difference(a, b)
    assert p["difference"] == pytest.approx(w["difference"])
    assert (p["ci_high"] - p["ci_low"]) < (w["ci_high"] - w["ci_low"]) / 4


def test_newcombe_interval_for_class_shares_stays_in_range_and_has_width() -> None:
    none = pd.Series(np.zeros(40))
    nearly_all = pd.Series(np.r_[np.ones(39), 0.0])
    r = newcombe_difference(none, nearly_all, paired=True)
    assert r["difference"] == pytest.approx(39 / 40)
    assert -1.0 <= r["ci_low"] < r["difference"] < r["ci_high"] <= 1.0
    same = newcombe_difference(none, none, paired=False)
    assert same["difference"] == 0.0
    assert same["ci_low"] < 0.0 < same["ci_high"]  # no relapse in 40 runs does not prove the share is 0


def test_newcombe_paired_interval_covers_a_known_difference() -> None:
    rng = np.random.default_rng(8)
    trials, n, covered = 300, 60, 0
    p_ref, p_other = 0.3, 0.45
    for _ in range(trials):
        u = rng.uniform(size=n)  # one uniform per replication, shared: strongly correlated outcomes
        r = newcombe_difference(pd.Series((u < p_ref) * 1.0), pd.Series((u < p_other) * 1.0), paired=True)
        covered += r["ci_low"] <= p_other - p_ref <= r["ci_high"]
    assert 0.90 <= covered / trials <= 1.0


def test_newcombe_unpaired_interval_is_the_published_worked_example() -> None:
    """Newcombe (1998a), Statistics in Medicine 17, 873-890, Table II, example (a): 56/70 - 48/80 = 0.2000,
    method 10 (score interval) 0.0524 to 0.3339."""
    other = pd.Series(np.r_[np.ones(56), np.zeros(14)])
    reference = pd.Series(np.r_[np.ones(48), np.zeros(32)])
    r = newcombe_difference(reference, other, paired=False)
    assert r["difference"] == pytest.approx(0.2)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_newcombe_paired_interval_is_narrower_than_unpaired_on_correlated_pairs() -> None:
    """The correlation correction must do something: with positively associated pairs the paired interval is
    narrower than the independent one on the same data (with phi = 0 they would be equal)."""
    u = np.random.default_rng(5).uniform(size=200)
    reference = pd.Series((u < 0.3) * 1.0)
    other = pd.Series((u < 0.4) * 1.0)  # the same draws: every reference success is also one here
    paired = newcombe_difference(reference, other, paired=True)
    unpaired = newcombe_difference(reference, other, paired=False)
    assert paired["difference"] == pytest.approx(unpaired["difference"])
    assert paired["ci_low"] <= paired["difference"] <= paired["ci_high"]
    assert (paired["ci_high"] - paired["ci_low"]) < 0.8 * (unpaired["ci_high"] - unpaired["ci_low"])


# --------------------------------------------------------------------------- pairing


def test_different_root_seeds_are_compared_unpaired(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", {"relations_index": np.full(10, 60.0)}, root_seed=1)
    b = write_results(tmp_path / "b", {"relations_index": np.full(10, 55.0)}, root_seed=7)
    result = compare([open_results(a), open_results(b)], ["a", "b"])
    assert "root seeds differ (1 and 7)" in result.unpaired["b"]
    r = row(result.differences, "final_relations_index")
    assert not r["paired"]
    assert r["method"] == "Welch t"
    assert r["difference"] == pytest.approx(-5.0)
    assert row(result.differences, "share_relapse")["method"] == "Newcombe"


def test_different_replication_counts_pair_on_the_common_replications(tmp_path: Path) -> None:
    """Replication r has the same seeds in a batch of 10 and one of 20 runs: the first 10 pair."""
    base = np.linspace(40.0, 70.0, 20)
    a = write_results(tmp_path / "a", {"relations_index": base[:10]})
    b = write_results(tmp_path / "b", {"relations_index": base + np.r_[np.linspace(1.0, 3.0, 10), np.zeros(10)]})
    result = compare([open_results(a), open_results(b)], ["a", "b"])
    assert result.unpaired == {}
    r = row(result.differences, "final_relations_index")
    assert r["paired"] and r["n"] == 10 and r["difference"] == pytest.approx(2.0)


def test_pairing_is_refused_when_a_common_key_was_run_on_other_seeds(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", {"relations_index": np.full(10, 60.0)})
    b = write_results(tmp_path / "b", {"relations_index": np.full(10, 60.0)})
    runs = pd.read_parquet(b / "runs.parquet")
    runs.loc[runs["replication"] == 3, "seed"] = 9999
    runs.to_parquet(b / "runs.parquet", index=False)
    result = compare([open_results(a), open_results(b)], ["a", "b"])
    assert "replication 3" in result.unpaired["b"] and "different seeds" in result.unpaired["b"]
    assert row(result.differences, "final_relations_index")["method"] == "Welch t"


def test_different_designs_are_not_paired(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", {"relations_index": np.full(10, 60.0)})
    design = {"kind": "lhs", "seed": 1, "factors": [["x", 0, 1]], "points_sha256": "abc"}
    c = write_results(tmp_path / "c", {"relations_index": np.full(10, 60.0)}, replications=5, design=design)
    result = compare([open_results(a), open_results(c)], ["a", "c"])
    assert "design" in result.unpaired["c"]


def test_sweeps_pair_on_design_point_and_replication(tmp_path: Path) -> None:
    design = {"kind": "lhs", "seed": 1, "factors": [["x", 0, 1]], "points_sha256": "abc"}
    base = np.arange(12, dtype=float)  # 4 points x 3 replications
    shift = np.array([1.0, 3.0, 2.0, 0.5, 2.5, 1.5, 4.0, 0.0, 2.0, 3.5, 1.0, 2.0])  # a varying difference
    a = write_results(tmp_path / "a", {"relations_index": base}, replications=3, design=design)
    b = write_results(
        tmp_path / "b",
        {"relations_index": base + shift},
        replications=3,
        design=design,
        order=np.arange(12)[::-1],  # written in another order: the keys, not the rows, must pair
    )
    r = row(compare([open_results(a), open_results(b)], ["a", "b"]).differences, "final_relations_index")
    assert r["paired"]
    assert r["n"] == 12
    half = stats.t.ppf(0.975, 11) * shift.std(ddof=1) / np.sqrt(12)
    expected = (shift.mean(), shift.mean() - half, shift.mean() + half)
    assert (r["difference"], r["ci_low"], r["ci_high"]) == pytest.approx(expected)


# --------------------------------------------------------------------------- the command


def small_scenario(folder: Path, name: str, body: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"extends: {json.dumps(str(BASELINE))}\nmeta:\n  name: {name}\n  months: 12\n"
        f"publics:\n  korea: {{citizens: 200}}\n  japan: {{citizens: 200}}\n{body}"
    )
    return path


@pytest.fixture(scope="module")
def real_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny real batches: baseline, an identical copy under another name, and a trade relapse."""
    folder = tmp_path_factory.mktemp("real")
    scenarios = [
        small_scenario(folder, "base"),
        small_scenario(folder, "copy"),
        small_scenario(
            folder,
            "relapse",
            "events:\n  - {date: 2025-08, kind: export_controls, actor: tokyo}\n"
            "  - {date: 2025-08, kind: court_ruling, actor: seoul, magnitude: 1.5}\n"
            "levers:\n  tokyo: {forbidden_moves: [lift_export_controls]}\n",
        ),
    ]
    out = folder / "results"
    options = ["--runs", "8", "--seed", "4", "--workers", "1", "--out", str(out), "--quiet", "--no-plots"]
    code = main(["run", *map(str, scenarios), *options])
    assert code == 0
    return out


def test_identical_scenarios_on_common_random_numbers_differ_by_exactly_zero(
    real_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    code, stdout, stderr = cli(
        capsys,
        "compare",
        *(real_results / name for name in ("base", "copy", "relapse")),
        *("--outcome", "trade_normalization", "--out", out),
    )
    assert code == 0, stderr
    assert stderr == ""
    differences = pd.read_csv(out / "differences.csv")
    same = differences[differences["scenario"] == "copy"]
    assert same["paired"].all()
    assert (same["difference"] == 0).all()
    assert (same.loc[same["method"] == "paired t", ["ci_low", "ci_high"]] == 0).all().all()
    relapse = row(differences, "final_trade_normalization", "relapse")
    assert relapse["paired"] and relapse["ci_high"] < 0  # export controls lower trade normalisation
    assert "comparison ->" in stdout
    classes = pd.read_csv(out / "classes.csv")
    assert set(classes["scenario"]) == {"base", "copy", "relapse"}
    assert classes.groupby("scenario")["share"].sum().to_numpy() == pytest.approx(1.0)


def test_compare_warns_and_goes_unpaired_without_common_random_numbers(
    real_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = write_results(tmp_path / "other", {"relations_index": np.full(8, 50.0)}, root_seed=99, months=12)
    out = tmp_path / "cmp"
    code, _, stderr = cli(capsys, "compare", real_results / "base", other, "--outcome", "nk_threat", "--out", out)
    assert code == 0
    assert "cannot be paired" in stderr and "root seeds differ (4 and 99)" in stderr
    assert not pd.read_csv(out / "differences.csv")["paired"].any()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp / "missing", "no such results folder"),
        (lambda tmp: (tmp / "plain").mkdir() or tmp / "plain", "not a results folder"),
        (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "got a file"),
    ],
)
def test_compare_refuses_what_is_not_results(
    real_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, expected: str
) -> None:
    bad = make(tmp_path)
    out = tmp_path / "cmp"
    code, _, stderr = cli(capsys, "compare", real_results / "base", bad, "--out", out)
    assert code == 2
    assert stderr.startswith("error: ") and str(bad) in stderr and expected in stderr
    assert "Traceback" not in stderr
    assert not out.exists()


def test_compare_refuses_unknown_outcome_and_existing_output(
    real_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    code, _, stderr = cli(
        capsys, "compare", real_results / "base", real_results / "copy", "--outcome", "happiness", "--out", out
    )
    assert code == 2 and "'happiness'" in stderr and "relations_index" in stderr
    assert not out.exists()
    args = ("compare", real_results / "base", real_results / "copy", "--outcome", "nk_threat", "--out", out)
    assert cli(capsys, *args)[0] == 0
    code, _, stderr = cli(capsys, *args)
    assert code == 2 and "--force" in stderr
    assert cli(capsys, *args, "--force")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "analysis.json",
        "classes.csv",
        "differences.csv",
        "plots",
        "report.html",
    ]
    # A folder the program did not write is never replaced, even with --force.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    code, _, stderr = cli(
        capsys, "compare", real_results / "base", real_results / "copy", "--out", foreign, "--force"
    )
    assert code == 2 and "not written by an analysis command" in stderr
    assert (foreign / "notes.txt").read_text() == "keep"


def test_open_results_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text("{}")
    with pytest.raises(AnalysisError, match=r"half: not a results folder \(missing runs.parquet, timeseries"):
        open_results(tmp_path / "half")


def test_failed_runs_drop_out_of_the_pairs(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", {"relations_index": np.arange(10.0)})
    b = write_results(tmp_path / "b", {"relations_index": np.arange(10.0) + 1.0})
    runs = pd.read_parquet(b / "runs.parquet")
    runs.loc[3, "status"] = "failed"
    runs.loc[3, "final_relations_index"] = np.nan
    runs.to_parquet(b / "runs.parquet", index=False)
    r = row(compare([open_results(a), open_results(b)], ["a", "b"]).differences, "final_relations_index")
    assert r["paired"] and r["n"] == 9
    assert r["difference"] == pytest.approx(1.0)
    assert r["mean_reference"] == pytest.approx(np.delete(np.arange(10.0), 3).mean())


# --------------------------------------------------------------------------- printed lines

SIGNED = r"(?:[+\u2212]\d+\.\d|0\.0)"


def test_compare_prints_differences_in_one_format(
    real_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = cli(
        capsys,
        "compare",
        real_results / "base",
        real_results / "relapse",
        "--outcome",
        "nk_threat",
        "--out",
        tmp_path / "c",
    )
    assert code == 0, stderr
    lines = stdout.splitlines()[:-1]
    assert len(lines) == 2
    index, relapse = lines
    assert re.fullmatch(
        rf"relapse - base: Relations index, mean of the last year {SIGNED} points \[{SIGNED}, {SIGNED}\] "
        r"\(paired t, n = 8\)",
        index,
    ), index
    assert re.fullmatch(
        rf"relapse - base: Probability of relapse {SIGNED} pp \[{SIGNED}, {SIGNED}\] \(paired Newcombe, n = 8\)",
        relapse,
    ), relapse


def test_headline_lines_scale_shares_to_percentage_points() -> None:
    table = pd.DataFrame(
        [
            {"reference": "a", "scenario": "b", "metric": "share_relapse", "label": "Probability of relapse"}
            | {"unit": "share of runs", "method": "paired Newcombe", "n": 200}
            | {"difference": 0.02, "ci_low": -0.0744, "ci_high": 0.12},
            {"reference": "a", "scenario": "b", "metric": "final_nk_threat", "label": "not a headline"}
            | {"unit": "0-1", "method": "paired t", "n": 200, "difference": 0.1, "ci_low": 0.0, "ci_high": 0.2},
        ]
    )
    lines = headline_lines(Comparison(("a", "b"), table))
    assert lines == ["b - a: Probability of relapse +2.0 pp [\u22127.4, +12.0] (paired Newcombe, n = 200)"]
    assert headline_lines(Comparison(("a", "b"), table), ["final_nk_threat"]) == [
        "b - a: not a headline +0.10 [0.00, +0.20] (paired t, n = 200)"
    ]
