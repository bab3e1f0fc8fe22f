"""The historical record as data, the autonomous replay and the secondary patterns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.executors import SerialExecutor
from sim.moves import Move, Side
from sim.records import court_rulings, launch_events, visitor_flows
from sim.scenario import EventKind
from sim.validation.patterns import PATTERNS, check_patterns, published, read_patterns
from sim.validation.replay import KEY_MOVES, move_table, run_replay
from tests.conftest import shipped

SMALL = ("publics.korea.citizens=300", "publics.japan.citizens=300")


def test_the_historical_scenario_follows_the_recorded_context_series() -> None:
    """Flows, launches and rulings are the context series' primary rows (sim/records.py), not retyped numbers."""
    history = shipped("historical_2013_2025")
    flows = {row.year: row for row in history.drivers.exchange.observed}
    recorded = visitor_flows()
    assert set(flows) == set(recorded)
    for year, values in recorded.items():
        assert flows[year].korea_to_japan == values.get("korea_to_japan")
        assert flows[year].japan_to_korea == values.get("japan_to_korea")
    launches = {row.year: row.launch_events for row in history.drivers.security.observed_launches}
    assert launches == pytest.approx({year: round(v, 3) for year, v in launch_events().items()}, abs=1e-9)
    rulings = sorted(e.date for e in history.events if e.kind is EventKind.COURT_RULING)
    expected = sorted(r.date for r in court_rulings() if r.against_japan)
    assert rulings == expected
    # Final (Supreme Court) rulings weigh fully; the lower courts' half, and do not open the dispute.
    for event in history.events:
        if event.kind is EventKind.COURT_RULING:
            supreme = "Supreme Court" in event.description
            assert event.magnitude == (1.0 if supreme else 0.5)
    assert history.drivers.exchange.korea_to_japan.visitors == recorded[2013]["korea_to_japan"]


def test_dismissals_and_undated_rulings_are_left_out() -> None:
    rulings = court_rulings()
    assert sum(not r.against_japan for r in rulings) == 3  # the three dismissals of 2021
    assert all(len(r.date) in (7, 10) for r in rulings)


def test_the_autonomous_replay_skips_the_governments_recorded_moves() -> None:
    scripted, autonomous = shipped("historical_2013_2025", *SMALL), shipped("historical_autonomous", *SMALL)
    recorded = [e for e in scripted.events if e.recorded_move]
    assert {e.kind for e in recorded} >= {EventKind.EXPORT_CONTROLS, EventKind.COMPENSATION_PLAN}
    assert autonomous.events == scripted.events  # the same record; the model skips what the governments decide
    with SerialExecutor() as executor:
        [scripted_run] = run_replay(scripted, 1, 3, executor)
        [free_run] = run_replay(autonomous, 1, 3, executor)
    made = {(side, move) for _, side, move in scripted_run.moves}
    assert ("tokyo", "impose_export_controls") in made and ("seoul", "compensation_plan") in made
    # Nothing is made on the record's dates just because the record says so.
    record_months = {(m, s, mv) for m, s, mv in scripted_run.moves}
    assert not record_months <= set(free_run.moves)


def test_the_models_own_governments_can_make_the_2019_controls_and_the_2023_plan() -> None:
    """In a few seeded runs of the autonomous replay, each of the two moves comes within six months of its date."""
    autonomous = shipped("historical_autonomous", *SMALL)
    with SerialExecutor() as executor:
        runs = run_replay(autonomous, 12, 1, executor)
    table = move_table(autonomous, runs, window=6).set_index("move")
    controls = table.loc["Tokyo's export controls (July 2019)"]
    plan = table.loc["Seoul's compensation plan (March 2023)"]
    assert controls["share_within_window"] > 0
    assert plan["share_within_window"] > 0
    assert set(table.index) == {key.label for key in KEY_MOVES}
    assert table["share_within_window"].between(0, 1).all()
    assert (table["share_within_window"] <= table["share_ever"]).all()


def test_move_table_counts_the_nearest_move_of_its_kind() -> None:
    from sim.validation.replay import KeyMove, ReplayRun

    scenario = shipped("historical_autonomous", *SMALL)
    key = KeyMove("test", "2019-07-04", frozenset({Side.TOKYO}), frozenset({Move.REMOVE_WHITE_LIST}), "")
    month = 6 * 12 + 6  # July 2019
    runs = [
        ReplayRun(0, ((month - 20, "tokyo", "remove_white_list"), (month + 2, "tokyo", "remove_white_list")), {}),
        ReplayRun(1, ((month + 9, "tokyo", "remove_white_list"),), {}),
        ReplayRun(2, ((month, "seoul", "remove_white_list"),), {}),  # the wrong capital
        ReplayRun(3, (), {}),
    ]
    row = move_table(scenario, runs, window=6, key_moves=[key]).iloc[0]
    assert row["share_within_window"] == 0.25 and row["share_ever"] == 0.5
    assert row["median_offset_months"] == pytest.approx(5.5)


def test_every_pattern_reads_rows_of_the_patterns_file() -> None:
    frame = read_patterns()
    for pattern in PATTERNS:
        value, low, high, sources = published(pattern, frame)
        assert low < value < high and sources
    compensation = next(p for p in PATTERNS if p.name.startswith("Koreans supporting the March 2023"))
    value, low, high, _ = published(compensation, frame)
    assert value == pytest.approx((35 + 37.8 + 39.8 + 37.8 + 39.7) / 5)
    assert (low, high) == (30.0, pytest.approx(44.8))


def test_the_scripted_replay_reproduces_the_camp_split_and_the_age_gap() -> None:
    """Secondary patterns: most patterns sit in their published bands; the camps split as the polls did."""
    scripted = shipped("historical_2013_2025", *SMALL)
    with SerialExecutor() as executor:
        table = check_patterns(scripted, 4, 1, executor, affinity_threshold=0.57).set_index("pattern")
    assert table["in_band"].mean() >= 0.6
    own = table.loc["Progressives (Moon's camp) supporting the end of GSOMIA", "model_median"]
    other = table.loc["Conservatives supporting the end of GSOMIA", "model_median"]
    assert own > table.loc["Koreans supporting the end of GSOMIA (August 2019)", "model_median"] > other
    assert table.loc["Korean good impression of Japan, 19-29 minus 60+ (2016)", "model_median"] > 5
    assert table.loc["Yoon's approval, March 2023 minus February", "model_median"] < 3


def test_replay_command_writes_moves_patterns_and_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "replay",
        "--runs",
        "3",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
        *[part for setting in SMALL for part in ("--set", setting)],
    ]
    assert main(args) == 0
    folder = tmp_path / "replay_historical_autonomous"
    moves = pd.read_csv(folder / "moves.csv")
    assert len(moves) == len(KEY_MOVES)
    assert len(pd.read_csv(folder / "patterns.csv")) == len(PATTERNS)
    paths = pd.read_csv(folder / "paths.csv")
    assert set(paths["replay"]) == {"autonomous", "scripted"}
    assert (folder / "plots" / "paths.png").read_bytes()[:4] == b"\x89PNG"
    assert main(args) == 2  # an existing replay is replaced only with --force
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    scripted_only = ["replay", "scenarios/historical_2013_2025.yaml", "--out", str(tmp_path / "other")]
    assert main(scripted_only) == 2
    assert "both governments are scripted" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
