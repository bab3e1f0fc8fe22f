"""Validation: observation operators on constructed publics, parameter recovery, the backtest and its split."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.executors import ProcessExecutor, SerialExecutor
from sim.scenario import Scenario
from sim.validation.backtest import _directions, fit_metrics, run_backtest
from sim.validation.calibrate import (
    CALIBRATED_FILE,
    MAX_EVALUATIONS,
    CalibrationError,
    CalibrationSettings,
    Parameter,
    calibrate,
    calibration_points,
    document_values,
    file_sha256,
    gauss_newton_covariance,
    parse_parameters,
    read_document,
    unstarted_fitted,
)
from sim.validation.observe import (
    DEFAULT_POLLS,
    INSTRUMENTS,
    ObservationSettings,
    PollDataError,
    PollPoint,
    Question,
    measure_point,
    parse_fieldwork,
    poll_share,
    read_polls,
)
from sim.validation.simulate import run_polls
from tests.conftest import shipped

POLLS = DEFAULT_POLLS


# -- observation operators on constructed publics ---------------------------------------------------------------
def test_share_above_threshold_of_a_known_public() -> None:
    opinions = np.array([0.1] * 30 + [0.55] * 20 + [0.7] * 50)
    assert poll_share(opinions, 0.6) == pytest.approx(50.0)
    assert poll_share(opinions, 0.5) == pytest.approx(70.0)


def test_affinity_and_good_impression_count_different_citizens() -> None:
    opinions = np.array([0.1] * 30 + [0.55] * 20 + [0.7] * 50)
    ages = np.full(100, 40.0)
    settings = ObservationSettings(good_impression_threshold=0.6, affinity_threshold=0.5)
    months = {(2018, 10): opinions, (2018, 11): opinions, (2018, 5): opinions, (2018, 6): opinions}
    affinity = PollPoint("jp_affinity_to_kr", 2018, ((2018, 10), (2018, 11)))
    impression = PollPoint("jp_good_impression_of_kr", 2018, ((2018, 5), (2018, 6)))
    assert INSTRUMENTS["jp_affinity_to_kr"].question is Question.AFFINITY
    aged = dict.fromkeys(months, ages)
    assert measure_point(affinity, months, aged, settings) == pytest.approx(70.0)
    assert measure_point(impression, months, aged, settings) == pytest.approx(50.0)


def test_cabinet_office_age_filter_drops_the_18_and_19_year_olds_before_2016() -> None:
    # 20 citizens of 18-19 all favourable, 80 of 20 and over all unfavourable.
    ages = np.array([18.5] * 20 + [45.0] * 80)
    opinions = np.where(ages < 20, 0.9, 0.1)
    co = INSTRUMENTS["jp_affinity_to_kr"]
    assert poll_share(opinions, 0.5, co.sampled(2015, ages)) == pytest.approx(0.0)
    assert co.sampled(2016, ages) is None  # 18+ from FY2016: everyone
    assert poll_share(opinions, 0.5, co.sampled(2016, ages)) == pytest.approx(20.0)
    genron = INSTRUMENTS["kr_good_impression_of_jp"]
    assert genron.sampled(2013, ages) is None


def test_fieldwork_months_are_averaged() -> None:
    ages = np.full(10, 40.0)
    october = np.array([0.9] * 4 + [0.1] * 6)
    november = np.array([0.9] * 6 + [0.1] * 4)
    point = PollPoint("jp_affinity_to_kr", 2017, parse_fieldwork("Oct-Nov 2017"))
    months = {(2017, 10): october, (2017, 11): november}
    value = measure_point(point, months, dict.fromkeys(months, ages), ObservationSettings())
    assert value == pytest.approx(50.0)


def test_mode_offset_applies_to_the_cabinet_office_from_2020_only() -> None:
    settings = ObservationSettings().with_values({"observe.mode_offset.jp_affinity_to_kr": 7.5})

    def at(series: str, year: int, fielded_by: str = "") -> float:
        return settings.offset(PollPoint(series, year, ((year, 10),), fielded_by=fielded_by))

    assert at("jp_affinity_to_kr", 2019) == 0.0
    assert at("jp_affinity_to_kr", 2020) == 7.5
    assert at("jp_good_impression_of_kr", 2021) == 0.0


def test_a_new_pollster_is_a_segment_of_its_own() -> None:
    """2024's EAI Korean-side poll continues the Genron series; 2025's online EAI-API-KEI poll breaks it."""
    polls = read_polls(POLLS)
    rows = {(r.series, r.year): r.instrument for r in polls.itertuples()}
    korean = INSTRUMENTS["kr_good_impression_of_jp"]
    assert korean.segment(2024, rows["kr_good_impression_of_jp", 2024]) == "base"
    assert korean.segment(2025, rows["kr_good_impression_of_jp", 2025]) == "eai_api_kei"
    settings = ObservationSettings().with_values({"observe.mode_offset.kr_good_impression_of_jp": 10.0})
    assert (
        settings.offset(PollPoint("kr_good_impression_of_jp", 2025, ((2025, 8),), fielded_by="eai_api_kei")) == 10
    )
    assert (
        settings.offset(PollPoint("kr_good_impression_of_jp", 2024, ((2024, 8),), fielded_by="eai_korean_side"))
        == 0
    )


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("Oct 2013", ((2013, 10),)),
        ("May-Jul 2014", ((2014, 5), (2014, 6), (2014, 7))),
        ("Jan 2016 (FY2015)", ((2016, 1),)),
        ("late 2016", ((2016, 10), (2016, 11), (2016, 12))),
    ],
)
def test_fieldwork_cells_are_read_as_months(text: str, months: tuple[tuple[int, int], ...]) -> None:
    assert parse_fieldwork(text) == months


@pytest.mark.parametrize("text", ["autumn 2016", "Foo 2016", "Nov-Oct 2017", ""])
def test_unreadable_fieldwork_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"fieldwork|month"):
        parse_fieldwork(text)


def test_genron_fieldwork_moves_to_august_october_from_2020() -> None:
    genron = INSTRUMENTS["kr_good_impression_of_jp"]
    assert [m for _, m in genron.usual_fieldwork(2019)] == [5, 6, 7]
    assert [m for _, m in genron.usual_fieldwork(2020)] == [8, 9, 10]


def test_the_poll_file_is_read_with_its_three_series() -> None:
    polls = read_polls(POLLS)
    assert polls.groupby("series").size().to_dict() == {
        "jp_affinity_to_kr": 12,
        "jp_good_impression_of_kr": 12,
        "kr_good_impression_of_jp": 13,
    }


def test_a_bad_poll_file_names_the_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "polls.csv"
    bad.write_text(
        "series,instrument,year,value_pct,fieldwork,note,source\n"
        "jp_affinity_to_kr,co,2013,40.7,Oct 2013,,x\n"
        "jp_affinity_to_kr,co,2014,31.5,sometime,,x\n"
        "mystery,co,2014,31.5,Oct 2014,,x\n"
    )
    with pytest.raises(PollDataError) as caught:
        read_polls(bad)
    assert f"{bad}:3: fieldwork" in str(caught.value)
    assert f"{bad}:4: series: unknown series 'mystery'" in str(caught.value)
    with pytest.raises(PollDataError, match="no such file"):
        read_polls(tmp_path / "missing.csv")


# -- calibration recovers parameters from data the model generated ---------------------------------------------
def _small_history(citizens: int = 150) -> Scenario:
    """The historical scenario with few citizens (its events pin the horizon to 2013-2025)."""
    return shipped(
        "historical_2013_2025", f"publics.korea.citizens={citizens}", f"publics.japan.citizens={citizens}"
    )


def test_calibration_recovers_parameters_from_model_generated_polls() -> None:
    """Synthetic polls from known values (other seeds than the fit's); the fit must find them again."""
    truth = {"publics.korea.mean_opinion": 0.42, "observe.affinity_threshold": 0.52}
    scenario = _small_history()
    real = read_polls(POLLS)
    points = [
        PollPoint(r.series, int(r.year), parse_fieldwork(r.fieldwork), r.value_pct) for r in real.itertuples()
    ]
    settings = ObservationSettings().with_values(truth)
    generated = scenario.with_values({"publics.korea.mean_opinion": truth["publics.korea.mean_opinion"]})
    with SerialExecutor() as executor:
        runs = run_polls(generated, points, 6, 999, executor, settings)
        synthetic = real.assign(value_pct=np.mean([run.values for run in runs], axis=0))
        parameters = (
            Parameter("publics.korea.mean_opinion", 0.3, 0.6),
            Parameter("observe.affinity_threshold", 0.4, 0.65),
        )
        fit = calibrate(
            scenario,
            synthetic,
            parameters,
            CalibrationSettings(replications=6, max_evaluations=45, citizens=None, discrepancy_pp=0.0),
            executor,
        )
    # Tolerance: a few hundredths of the opinion scale, about two standard errors of this small fit.
    for path, value in truth.items():
        assert fit.values[path] == pytest.approx(value, abs=0.03), path
        assert 0.0 < fit.standard_errors[path] < 0.05
    # 150 citizens a country and 6 runs: the synthetic polls themselves carry about 2-3 pp of noise.
    assert fit.metrics().query("series == 'all'")["rmse_fitted"].iloc[0] < 3.5


def test_the_prior_keeps_a_parameter_the_polls_cannot_move_at_its_judgement() -> None:
    """A scripted replay's polls say nothing of a government's rationality: with the prior the fit leaves it at its
    start (and gives it a finite standard error, the prior's), while the identified parameter still moves."""
    scenario = _small_history(100)
    parameters = (
        Parameter("actors.seoul.rationality", 1.0, 30.0, start=10.0),
        Parameter("observe.affinity_threshold", 0.3, 0.65, start=0.62),
    )
    with SerialExecutor() as executor:
        fit = calibrate(
            scenario,
            read_polls(POLLS),
            parameters,
            CalibrationSettings(replications=2, max_evaluations=12, citizens=None),
            executor,
        )
    assert fit.values["actors.seoul.rationality"] == pytest.approx(10.0, abs=1e-6)
    assert np.isfinite(fit.standard_errors["actors.seoul.rationality"])
    assert fit.values["observe.affinity_threshold"] < 0.6


def test_gauss_newton_covariance_is_the_linear_model_formula() -> None:
    """On y = a + b x the covariance is the textbook one: var(b) = s^2 / Sxx, var(a) = s^2 (1/n + mean^2 / Sxx)."""
    x = np.array([0.0, 1.0, 2.0, 4.0, 7.0])
    residuals = np.array([0.3, -0.5, 0.1, 0.4, -0.3])
    jac = np.column_stack([np.ones_like(x), x])
    sse, dof = float(np.sum(residuals**2)), len(x) - 2
    cov, message = gauss_newton_covariance(jac, sse, dof, ["a", "b"])
    s2, sxx = sse / dof, float(np.sum((x - x.mean()) ** 2))
    assert message == ""
    assert cov[1, 1] == pytest.approx(s2 / sxx)
    assert cov[0, 0] == pytest.approx(s2 * (1 / len(x) + x.mean() ** 2 / sxx))
    assert cov[0, 1] == pytest.approx(-s2 * x.mean() / sxx)


def test_a_rank_deficient_jacobian_gives_nan_and_names_the_parameter() -> None:
    x = np.array([0.0, 1.0, 2.0, 4.0, 7.0])
    jac = np.column_stack([np.ones_like(x), x, np.zeros_like(x)])  # the third parameter changes nothing
    cov, message = gauss_newton_covariance(jac, 1.0, 2, ["a", "b", "dead"])
    assert "dead" in message and "a," not in message
    assert np.isnan(cov[2, 2]) and np.isfinite(cov[:2, :2]).all()
    assert cov[1, 1] == pytest.approx(0.5 / float(np.sum((x - x.mean()) ** 2)))  # the others as if it were fixed
    twins = np.column_stack([np.ones_like(x), x, x])  # two parameters the data cannot tell apart
    cov, message = gauss_newton_covariance(twins, 1.0, 2, ["a", "b", "c"])
    assert "b, c" in message and np.isnan(cov[1, 1]) and np.isnan(cov[2, 2]) and np.isfinite(cov[0, 0])


def test_a_fit_started_at_the_lower_bound_moves_and_has_a_finite_standard_error() -> None:
    """The Jacobian's step is absolute in the scaled coordinates: at 0 it is still 3 % of the range (SciPy's
    relative step was about 1e-12 there, a zero column: the parameter never moved and its standard error was 0)."""
    with SerialExecutor() as executor:
        fit = calibrate(
            _small_history(100),
            read_polls(POLLS),
            (
                Parameter("publics.korea.mean_opinion", 0.3, 0.7, start=0.3),
                Parameter("observe.affinity_threshold", 0.3, 0.65, start=0.6),
            ),
            CalibrationSettings(replications=2, max_evaluations=24, citizens=None),
            executor,
        )
    assert fit.values["publics.korea.mean_opinion"] > 0.3 + 0.03  # left the bound it started on
    for path in ("publics.korea.mean_opinion", "observe.affinity_threshold"):
        assert np.isfinite(fit.standard_errors[path]) and fit.standard_errors[path] > 0, path
    assert fit.identification == ""


def test_an_offset_fitted_until_2021_uses_only_2020_21_and_carries_the_parameters_uncertainty() -> None:
    """Up to 2021 the mode segment has two training points (2020, 2021); its standard error comes from the full
    Jacobian, so it is at least the sqrt(s^2 / m) of a plain mean of m residuals."""
    with SerialExecutor() as executor:
        fit = calibrate(
            _small_history(100),
            read_polls(POLLS),
            (Parameter("observe.affinity_threshold", 0.3, 0.65, start=0.6),),
            CalibrationSettings(replications=2, max_evaluations=12, citizens=None, train_until=2021),
            executor,
        )
    entry = fit.mode_offsets["observe.mode_offset.jp_affinity_to_kr"]
    assert entry["points"] == 2
    rows = fit.fit[(fit.fit["series"] == "jp_affinity_to_kr") & (fit.fit["year"] >= 2020)]
    train = rows[rows["split"] == "train"]
    assert sorted(train["year"]) == [2020, 2021] and set(rows[rows["year"] > 2021]["split"]) == {"test"}
    # The offset is the mean residual of those two points alone (the fitted column includes it).
    assert np.mean(train["fitted"] - train["observed"]) == pytest.approx(0.0, abs=1e-9)
    dof = int((fit.fit["split"] == "train").sum()) - 1 - 1
    assert np.isfinite(entry["standard_error"])
    assert entry["standard_error"] >= np.sqrt(fit.sse / dof / 2) - 1e-9


def test_calibration_and_backtest_select_the_same_points_for_a_scenario_ending_mid_year() -> None:
    """Ending in June 2018, the 2018 polls (fieldwork from May-July) are not covered: no NaN residual."""
    scenario = _small_history(60)
    short = scenario.model_copy(update={"meta": scenario.meta.model_copy(update={"months": 66})})
    polls = read_polls(POLLS)
    points = calibration_points(polls, short)
    assert points and max(p.year for p in points) == 2017
    with SerialExecutor() as executor:
        fit = calibrate(
            short,
            polls,
            (Parameter("observe.affinity_threshold", 0.3, 0.65, start=0.6),),
            CalibrationSettings(replications=1, max_evaluations=6, citizens=None),
            executor,
        )
    assert np.isfinite(fit.fit["fitted"]).all() and np.isfinite(fit.sse)


def test_the_library_and_the_command_share_the_evaluation_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert CalibrationSettings().max_evaluations == MAX_EVALUATIONS
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    assert f"(default {MAX_EVALUATIONS})" in " ".join(capsys.readouterr().out.split())


def test_param_specs_take_a_judgement_start() -> None:
    scenario = _small_history()
    [korea] = parse_parameters(["publics.korea.mean_opinion=0.3:0.7"], scenario)
    assert korea.start == 0.47  # the judgement of DEFAULT_PARAMETERS, never the scenario's fitted value
    [korea] = parse_parameters(["publics.korea.mean_opinion=0.3:0.7@0.41"], scenario)
    assert korea.start == 0.41
    [decay] = parse_parameters(["drivers.history.decay=0.01:0.2"], scenario)
    assert decay.start is None
    with pytest.raises(CalibrationError, match=r"start 0\.9 outside"):
        parse_parameters(["publics.korea.mean_opinion=0.3:0.7@0.9"], scenario)
    with pytest.raises(CalibrationError, match="with a number"):
        parse_parameters(["publics.korea.mean_opinion=0.3:0.7@x"], scenario)
    fitted = read_document(CALIBRATED_FILE)["parameters"]
    unstarted = Parameter("publics.korea.mean_opinion", 0.3, 0.7)
    assert unstarted_fitted([unstarted, decay], fitted) == ["publics.korea.mean_opinion"]
    assert unstarted_fitted([korea], fitted) == []


@pytest.mark.parametrize(
    ("field", "bad", "named"),
    [
        ("data", "a string", "data: expected a mapping"),
        ("data", [1, 2], "data: expected a mapping"),
        ("data", {"train_until": "2017"}, "data.train_until: expected a year"),
        ("mode_offsets", ["x"], "mode_offsets: expected a mapping"),
        ("parameters", {"publics.korea.mean_opinion": {"value": "high"}}, "value: expected a number"),
        ("parameters", {"publics.korea.mean_opinion": 0.4}, "expected a mapping with a 'value'"),
    ],
)
def test_a_malformed_params_file_is_a_usage_error_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, bad: object, named: str
) -> None:
    document = read_document(CALIBRATED_FILE) | {field: bad}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(_backtest_args(tmp_path / "out", "--params", str(path), "--no-plots")) == 2
    err = capsys.readouterr().err
    assert str(path) in err and named in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# -- the shipped calibration --------------------------------------------------------------------------------------
def test_shipped_scenarios_carry_the_calibrated_values() -> None:
    document = read_document(CALIBRATED_FILE)
    values = document_values(document)
    historical, baseline = shipped("historical_2013_2025"), shipped("baseline")
    assert historical.publics.korea.mean_opinion == pytest.approx(values["publics.korea.mean_opinion"], abs=1e-5)
    assert historical.publics.japan.mean_opinion == pytest.approx(values["publics.japan.mean_opinion"], abs=1e-5)
    for scenario in (historical, baseline):
        assert scenario.publics.dynamics.history_push == pytest.approx(
            values["publics.dynamics.history_push"], abs=1e-5
        )
    for path, entry in document["parameters"].items():
        assert entry["low"] <= entry["value"] <= entry["high"], path
        assert entry["standard_error"] > 0, path
    assert document["data"]["train_until"] is None


def test_the_calibration_names_the_data_it_was_fitted_to() -> None:
    document = read_document(CALIBRATED_FILE)
    assert document["data"]["file"] == POLLS.name
    assert document["data"]["sha256"] == file_sha256(POLLS)


# -- backtest -----------------------------------------------------------------------------------------------------
def _backtest_args(out: Path, *extra: str) -> list[str]:
    return [
        "backtest",
        "--polls",
        str(POLLS),
        "--runs",
        "4",
        "--citizens",
        "100",
        "--workers",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def test_directions_count_signs_within_a_segment_only() -> None:
    """2019: both fall (right); 2020: across the mode break (not scored); 2021: observed up, simulated down
    (wrong); 2022: observed unchanged (not scored); 2023 against 2022 in the same segment: both up (right)."""
    fit = pd.DataFrame(
        {
            "series": "jp_affinity_to_kr",
            "year": [2018, 2019, 2020, 2021, 2022, 2023],
            "segment": ["face", "face", "mail", "mail", "mail", "mail"],
            "observed": [39.4, 26.7, 34.9, 37.0, 37.0, 52.8],
            "median": [42.0, 28.0, 40.0, 39.0, 43.0, 51.0],
            "split": "in_sample",
            "in_band": pd.array([True] * 6, dtype="boolean"),
        }
    )
    assert _directions(fit, fit) == (2, 3)
    assert _directions(fit, fit[fit["year"] == 2021]) == (0, 1)  # against 2020, which lies in the group's past
    metrics = fit_metrics(fit).set_index("series")
    assert metrics.loc["all", "direction_pairs"] == 3 and metrics.loc["all", "direction_share"] == pytest.approx(
        2 / 3
    )


def test_backtest_writes_the_fit_table_metrics_and_a_figure_per_series(tmp_path: Path) -> None:
    assert main(_backtest_args(tmp_path)) == 0
    folder = tmp_path / "backtest_historical_2013_2025"
    fit = pd.read_csv(folder / "fit.csv")
    assert len(fit) == 3 * 13  # three series, 2013-2025
    assert (fit["p5"] <= fit["median"]).all() and (fit["median"] <= fit["p95"]).all()
    seen = fit.dropna(subset=["observed"])
    inside = (seen["observed"] >= seen["p5"]) & (seen["observed"] <= seen["p95"])
    assert (seen["in_band"].astype(bool) == inside).all()
    assert fit.loc[fit["observed"].isna(), "in_band"].isna().all()
    observed = read_polls(POLLS).set_index(["series", "year"])["value_pct"]
    assert seen.set_index(["series", "year"])["observed"].to_dict() == observed.to_dict()
    assert set(seen["split"]) == {"in_sample"}
    assert set(fit.loc[fit["observed"].isna(), "split"]) == {"projection"}  # the held-out years
    assert fit.loc[fit["series"] == "kr_good_impression_of_jp", "fieldwork"].tolist()[-1] == "2025-08"
    # The 2025 online poll of new partners is a segment of its own; EAI's 2024 Korean-side poll is not.
    segments = fit.set_index(["series", "year"])["segment"]
    assert segments["kr_good_impression_of_jp", 2025] == "eai_api_kei"
    assert segments["kr_good_impression_of_jp", 2024] == "base"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert set(metrics["series"]) == {*INSTRUMENTS, "all"}
    assert metrics["rmse"].between(0, 100).all()
    assert metrics["direction_share"].between(0, 1).all()
    # 2013-19 and 2020-24 give 6 + 4 changes; the change across the 2020 mode break is not scored.
    assert (metrics.set_index("series").loc["jp_affinity_to_kr", "direction_pairs"]) == 10
    for series in INSTRUMENTS:
        png = folder / "plots" / f"{series}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "backtest" and manifest["runs"] == 4


def test_backtest_refuses_to_overwrite_and_bad_years(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_backtest_args(tmp_path, "--no-plots")) == 0
    before = (tmp_path / "backtest_historical_2013_2025" / "fit.csv").read_bytes()
    assert main(_backtest_args(tmp_path, "--no-plots")) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "backtest_historical_2013_2025" / "fit.csv").read_bytes() == before
    assert main(_backtest_args(tmp_path, "--train-until", "2030")) == 2
    assert "--train-until: expected a year from 2013 to 2024" in capsys.readouterr().err
    assert not (tmp_path / "backtest_historical_2013_2025_train2030").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backtest_historical_2013_2025"]


def test_backtest_replaces_its_folder_past_leftovers_and_leaves_other_staging_alone(tmp_path: Path) -> None:
    """A leftover '.old' of a killed process is no obstacle, and a batch's '.partial' beside it is not touched."""
    name = "backtest_historical_2013_2025"
    (tmp_path / f".{name}.old").mkdir()  # the name the earlier code left behind (renaming onto it failed)
    (tmp_path / f".{name}.old" / "fit.csv").write_text("old")
    (tmp_path / f".{name}.partial").mkdir()
    (tmp_path / f".{name}.partial" / "keep").write_text("a run in progress")
    assert main(_backtest_args(tmp_path, "--no-plots")) == 0
    assert main(_backtest_args(tmp_path, "--no-plots", "--force")) == 0
    assert (tmp_path / name / "fit.csv").is_file()
    assert (tmp_path / f".{name}.partial" / "keep").read_text() == "a run in progress"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", f"{os.getpid()}.old"))]


def test_calibrate_refuses_an_unknown_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal.yaml"
    code = main(["calibrate", "--polls", str(POLLS), "--param", "publics.korea.mood=0:1", "--out", str(out)])
    assert code == 2
    assert "publics.korea.mood" in capsys.readouterr().err
    assert not out.exists()
    code = main(["calibrate", "--polls", str(POLLS), "--train-until", "2017", "--write"])
    assert code == 2
    assert "--write" in capsys.readouterr().err


def test_train_test_split_reports_the_out_of_sample_error(tmp_path: Path) -> None:
    """Fit on 2013-2016, test on 2017-2024: both errors are written, and the split is by year."""
    code = main(
        _backtest_args(
            tmp_path,
            "--train-until",
            "2016",
            "--fit-replications",
            "2",
            "--fit-citizens",
            "100",
            "--fit-max-evaluations",
            "10",
            "--no-plots",
        )
    )
    assert code == 0
    folder = tmp_path / "backtest_historical_2013_2025_train2016"
    fit = pd.read_csv(folder / "fit.csv")
    seen = fit.dropna(subset=["observed"])
    assert (seen.loc[seen["year"] <= 2016, "split"] == "train").all()
    assert (seen.loc[seen["year"] > 2016, "split"] == "test").all()
    metrics = pd.read_csv(folder / "metrics.csv").set_index(["series", "split"])
    assert np.isfinite(metrics.loc[("all", "test"), "rmse"]) and metrics.loc[("all", "test"), "points"] == 25
    assert np.isfinite(metrics.loc[("all", "train"), "rmse"]) and metrics.loc[("all", "train"), "points"] == 12
    # Skill beside the naive forecasts, on the test points whose segment a training point anchors.
    skill = pd.read_csv(folder / "skill.csv").set_index("series")
    assert set(skill.index) == {*INSTRUMENTS, "all"}
    assert skill.loc["kr_good_impression_of_jp", "years"] == "2017-2024"  # 2025 is a new pollster's segment
    assert skill.loc["jp_affinity_to_kr", "years"] == "2017-2019"  # 2020-24 is the mail mode's
    for naive in ("persistence", "trend", "mean"):
        expected = 1 - skill["rmse_model"] / skill[f"rmse_{naive}"]
        assert np.allclose(skill[f"skill_vs_{naive}"], expected, atol=1e-4)  # the CSV keeps four decimals
    fit_table = fit.set_index(["series", "year"])
    assert fit_table.loc[("kr_good_impression_of_jp", 2020), "persistence"] == 21.3  # the 2016 value
    refit = yaml.safe_load((folder / "calibration.yaml").read_text())
    assert refit["data"]["train_until"] == 2016 and refit["data"]["points_used"] == 12
    # The re-fit started from the values before any calibration, not from the all-years fit.
    shipped_doc = read_document(CALIBRATED_FILE)
    for path, entry in refit["parameters"].items():
        assert entry["start"] == pytest.approx(shipped_doc["parameters"][path]["start"])


def test_backtest_is_the_same_for_any_number_of_workers() -> None:
    scenario = _small_history(60)
    polls = read_polls(POLLS)
    values = document_values(read_document(CALIBRATED_FILE))
    with SerialExecutor() as one:
        serial = run_backtest(scenario, polls, 3, 5, one, values)
    with ProcessExecutor(2) as two:
        parallel = run_backtest(scenario, polls, 3, 5, two, values)
    pd.testing.assert_frame_equal(serial.fit, parallel.fit)
    pd.testing.assert_frame_equal(serial.runs, parallel.runs)


def test_calibrate_writes_values_errors_and_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fit.yaml"
    args = ["calibrate", "--method", "lsq", "--polls", str(POLLS), "--replications", "2", "--citizens", "60"]
    args += ["--workers", "1"]
    code = main([*args, "--max-evaluations", "10", "--train-until", "2016", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "95 % interval" in printed and "test" in printed
    document = yaml.safe_load(out.read_text())
    assert document["data"] | {"sha256": None} == {
        "file": "polls_calibration.csv",
        "sha256": None,
        "source": "see the source column of each row",
        "points_used": 12,
        "train_until": 2016,
    }
    assert document["data"]["sha256"] == file_sha256(POLLS)
    assert "least_squares" in document["method"] and document["date"]
    assert document["objective"]["rmse_test_pp"] > 0  # the out-of-sample error is reported, not hidden
    for entry in document["parameters"].values():
        assert entry["low"] <= entry["value"] <= entry["high"]
        assert np.isfinite(entry["standard_error"]) and entry["standard_error"] > 0
    assert document["mode_offsets"]["observe.mode_offset.jp_affinity_to_kr"]["points"] == 0
    assert main([*args, "--max-evaluations", "10", "--out", str(out)]) == 2  # exists: needs --force
    assert "pass --force" in capsys.readouterr().err


def test_backtest_refuses_a_calibration_for_another_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = read_document(CALIBRATED_FILE)
    document["parameters"]["publics.korea.mood"] = dict(document["parameters"]["publics.korea.mean_opinion"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    assert main(_backtest_args(tmp_path / "out", "--params", str(bad))) == 2
    assert f"{bad}: parameters: not applicable" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_fit_never_sees_the_years_it_is_scored_on() -> None:
    """Rolling origin: changing a poll value after the split year leaves the fit exactly as it was."""
    scenario = _small_history(60)
    polls = read_polls(POLLS)
    changed = polls.copy()
    changed.loc[changed["year"] > 2017, "value_pct"] = 99.0
    parameters = (Parameter("publics.dynamics.history_push", 0.01, 0.1, start=0.05),)
    settings = CalibrationSettings(replications=2, max_evaluations=8, citizens=None, train_until=2017)
    with SerialExecutor() as executor:
        honest = calibrate(scenario, polls, parameters, settings, executor)
        perturbed = calibrate(scenario, changed, parameters, settings, executor)
    assert honest.values == perturbed.values
    assert honest.sse == perturbed.sse
