"""The class exercise without a browser: the model's team hooks, the game, its saved state, the debrief and the
command's usage errors, and the server's pages called in-process. (The pages are driven by a real browser in
tests/test_browser.py.)"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest

from sim.agents.decision import MoveOption, MoveOutcome, MoveResult
from sim.agents.team import TeamRule, WashingtonTeam
from sim.agents.washington import BROKERING_FACTORS, ENGAGEMENT_STEP, WashingtonAction
from sim.cli import EXIT_USAGE, main
from sim.model import RapprochementModel
from sim.moves import Move, Side
from sim.outcomes import KEY_OUTCOMES, OutcomeClass
from sim.scenario import Event, EventActor, EventKind, Scenario, Team
from sim.ui.debrief import (
    GID_PLAYED,
    Debrief,
    FutureTask,
    future_model,
    future_seed,
    render_html,
    simulate_futures,
    write_debrief,
)
from sim.ui.game import (
    INJECT_KINDS,
    ExerciseError,
    Game,
    TurnRecord,
    game_scenario,
    load_state,
    outcome_words,
    save_state,
)
from sim.ui.server import FACILITATOR, UNSAID_IN_HISTORY, ExerciseServer, new_tokens
from tests.conftest import SCENARIOS, shipped

ALL_TEAMS = [Team.SEOUL, Team.TOKYO, Team.WASHINGTON]


@pytest.fixture(scope="module")
def small() -> Scenario:
    """Baseline with 200 citizens a side and 24 months: four turns of six months."""
    return shipped("baseline", "meta.months=24", "publics.korea.citizens=200", "publics.japan.citizens=200")


def new_game(scenario: Scenario, teams: list[Team] = ALL_TEAMS, turns: int = 3) -> Game:
    return Game(scenario, seed=5, teams=teams, turn_months=6, turns=turns)


# --------------------------------------------------------------------------------------------------
# The model's hooks
def test_a_team_government_makes_its_move_once_per_turn_and_nothing_else(small: Scenario) -> None:
    # A Seoul that weighs a move every month and picks among the open ones at random moves often on its own.
    eager = small.with_values({"actors.seoul.initiative": 1.0, "actors.seoul.rationality": 0.0})
    free = RapprochementModel(eager, rng=3)
    team = RapprochementModel(eager, rng=3)
    rule = TeamRule.install(team.governments[Side.SEOUL])
    rule.impose(Move.FILE_WTO_CASE)
    for month in range(6):
        free.step()
        team.step()
        if month == 0:
            assert rule.result == MoveResult(MoveOutcome.MADE)  # inside the win-set: no approval cost
    assert len([side for _, side, _ in free.moves_log if side is Side.SEOUL]) >= 3
    assert [(m, mv) for m, side, mv in team.moves_log if side is Side.SEOUL] == [(0, Move.FILE_WTO_CASE)]
    assert team.trade.flags["wto_case"]
    assert rule.outcome is MoveOutcome.MADE and rule.pending is None  # the later months did not touch it


def test_a_government_cannot_be_given_its_partners_move(small: Scenario) -> None:
    model = RapprochementModel(small, rng=3)
    rule = TeamRule.install(model.governments[Side.TOKYO])
    assert model.governments[Side.TOKYO].rule is rule
    with pytest.raises(ValueError, match="tokyo cannot make the move compensation_plan"):
        rule.impose(Move.COMPENSATION_PLAN)
    assert rule.pending is None


def test_a_team_hold_and_a_blocked_move_are_recorded_with_the_reason(small: Scenario) -> None:
    model = RapprochementModel(small, rng=3)
    seoul, tokyo = TeamRule.install(model.governments[Side.SEOUL]), TeamRule.install(model.governments[Side.TOKYO])
    seoul.impose(Move.HOLD)
    tokyo.impose(Move.LIFT_EXPORT_CONTROLS)  # nothing to lift at the start
    model.step()
    assert seoul.result == MoveResult(MoveOutcome.HELD)
    assert (
        tokyo.outcome is MoveOutcome.BLOCKED
        and tokyo.reason == "nothing to lift: you have no export controls in force"
    )
    assert model.moves_log == []


def test_the_model_reports_a_joint_move_both_teams_proposed_to_both(small: Scenario) -> None:
    """Both capitals propose a summit: it is put forward once, as Seoul's, and Tokyo hears what became of it;
    a narrow Tokyo win-set makes it rebuffed, and an inject of Seoul's the same month does not make it look
    made."""
    for win_set, made in ((0.5, True), (0.99, False)):
        model = RapprochementModel(small.with_values({"actors.tokyo.win_set_share": win_set}), rng=3)
        model.schedule(Event(date="2025-01", kind=EventKind.WTO_COMPLAINT, actor=EventActor.SEOUL))
        seoul = TeamRule.install(model.governments[Side.SEOUL])
        tokyo = TeamRule.install(model.governments[Side.TOKYO])
        seoul.impose(Move.SUMMIT)
        tokyo.impose(Move.SUMMIT)
        model.step()
        summits = [(side, move) for _, side, move in model.moves_log if move is Move.SUMMIT]
        if made:
            assert summits == [(Side.SEOUL, Move.SUMMIT)]
            assert (seoul.outcome, tokyo.outcome) == (MoveOutcome.MADE, MoveOutcome.MADE_JOINTLY)
        else:
            assert summits == []
            assert seoul.outcome is MoveOutcome.REBUFFED and "of Tokyo's public would accept it" in (
                seoul.reason or ""
            )
            assert tokyo.result == MoveResult(MoveOutcome.REBUFFED_JOINTLY)


def test_the_shipped_rules_hear_results_and_change_nothing(small: Scenario) -> None:
    """A model government's rule is told every result too (a no-op), and a team's rule joins nothing outside
    the win-set."""
    model = RapprochementModel(small, rng=3)
    rule = model.governments[Side.SEOUL].rule
    assert rule.directive() is None and not rule.pressure_in_win_set
    option = MoveOption(Move.SUMMIT, 0.3, None, 1.0, 0.1)
    assert rule.joins(option) and not rule.joins(option._replace(utility=-1.0))
    rule.hear(Move.SUMMIT, MoveResult(MoveOutcome.MADE))  # nothing to record
    assert not TeamRule("seoul", [Move.SUMMIT]).joins(option)


def test_washington_actions_map_onto_its_mechanisms(small: Scenario) -> None:
    def after(action: WashingtonAction) -> RapprochementModel:
        model = RapprochementModel(small, rng=4)
        WashingtonTeam.install(model.washington).impose(action)
        model.step()
        return model

    steady, raised, lowered = (
        after(a)
        for a in (WashingtonAction.STEADY, WashingtonAction.RAISE_ENGAGEMENT, WashingtonAction.LOWER_ENGAGEMENT)
    )
    assert raised.washington.target == pytest.approx(steady.washington.target + ENGAGEMENT_STEP)
    assert lowered.washington.target == pytest.approx(steady.washington.target - ENGAGEMENT_STEP)
    summit = after(WashingtonAction.TRILATERAL_SUMMIT)
    assert summit.institutions.stock > steady.institutions.stock
    broker, stand_back = after(WashingtonAction.BROKER), after(WashingtonAction.STAND_BACK)
    assert broker.washington.brokering_factor == BROKERING_FACTORS[WashingtonAction.BROKER] == 2.0
    assert stand_back.washington.pressure(0.5) == 0.0 < broker.washington.pressure(0.5)


def test_a_team_washington_convenes_no_summit_of_its_own(small: Scenario) -> None:
    """With a summit rate of 1 the model's Washington convenes one every month; a steady team holds none."""
    scenario = small.with_values(
        {"actors.washington.trilateral_summit_rate": 1.0, "actors.washington.engagement": 1.0}
    )
    free, team = RapprochementModel(scenario, rng=2), RapprochementModel(scenario, rng=2)
    WashingtonTeam.install(team.washington).impose(WashingtonAction.STEADY)
    free.step()
    team.step()
    assert free.institutions.stock > team.institutions.stock


def test_a_trilateral_summit_needs_the_climate(small: Scenario) -> None:
    cold = small.with_values({"drivers.institutions.climate": 0.2})
    model = RapprochementModel(cold, rng=1)
    assert "climate" in (model.washington.unavailable(WashingtonAction.TRILATERAL_SUMMIT) or "")
    assert model.washington.unavailable(WashingtonAction.BROKER) is None


def test_a_team_summit_the_climate_no_longer_allows_is_dropped_and_said_so(small: Scenario) -> None:
    cold = small.with_values({"drivers.institutions.climate": 0.2})
    summit, steady = RapprochementModel(cold, rng=1), RapprochementModel(cold, rng=1)
    rules = []
    for model, action in ((summit, WashingtonAction.TRILATERAL_SUMMIT), (steady, WashingtonAction.STEADY)):
        rules.append(WashingtonTeam.install(model.washington))
        rules[-1].impose(action)
        model.step()
    assert rules[0].outcome is MoveOutcome.DROPPED
    assert (rules[0].reason or "").startswith("the Seoul-Tokyo climate")
    assert outcome_words(rules[0].result or MoveResult(MoveOutcome.MADE)).startswith("dropped: the Seoul-Tokyo")
    assert rules[1].result == MoveResult(MoveOutcome.MADE)
    assert summit.institutions.stock == steady.institutions.stock  # no summit was held


# --------------------------------------------------------------------------------------------------
# The game
def test_choices_show_acceptance_the_win_set_and_the_approval_cost(small: Scenario) -> None:
    # Half or more of the handed-over Korean public accepts the hard-line moves under a progressive president;
    # a stricter win-set puts some of them outside it.
    small = small.with_values({"actors.seoul.win_set_share": 0.7})
    game = new_game(small)
    seoul = {c.name: c for c in game.choices(Team.SEOUL)}
    assert "remorse_statement" not in seoul  # Tokyo's move is not Seoul's to consider
    needed = game.required_share(Team.SEOUL)
    assert needed is not None
    winset_cost = small.actors.seoul.winset_cost
    for choice in seoul.values():
        if choice.acceptance is not None and choice.acceptance == choice.acceptance:
            assert choice.in_win_set == (choice.acceptance >= needed)
            assert choice.approval_cost == pytest.approx(winset_cost * max(0.0, needed - choice.acceptance))
    outside = [c for c in seoul.values() if not c.in_win_set and c.acceptance == c.acceptance]
    assert outside, "the hard-line moves should lie outside Seoul's stricter win-set"
    # Outside the win-set is not a veto: the move can be chosen, and is made at its cost.
    assert all(c.available and (c.approval_cost or 0) > 0 for c in outside)
    choice = game.submit(Team.SEOUL, outside[0].name)
    assert choice.name == outside[0].name
    before = game.model.governments[Side.SEOUL].approval
    record = game.advance()
    assert record.outcomes[Team.SEOUL].startswith("made, approval -")
    assert "outside the win-set" in record.outcomes[Team.SEOUL]
    assert game.model.governments[Side.SEOUL].last_cost > 0
    assert before != game.model.governments[Side.SEOUL].approval
    with pytest.raises(ExerciseError, match="not a move seoul can make"):
        game.submit(Team.SEOUL, "remorse_statement")


def test_a_turn_plays_the_teams_moves_and_the_injects(small: Scenario) -> None:
    game = new_game(small)
    game.submit(Team.SEOUL, "summit")
    game.submit(Team.WASHINGTON, "broker")
    game.add_inject("missile_launch", "pyongyang", 3.0)
    record = game.advance()
    assert record.moves == {Team.SEOUL: "summit", Team.TOKYO: "hold", Team.WASHINGTON: "broker"}
    assert game.turn == 2 and game.model.month == 6 and not game.pending and not game.pending_injects
    made = game.moves_made(record)
    assert ("2025-07", "seoul", "summit") in made
    assert not [m for m in made if m[1] == "tokyo"]  # Tokyo's team held: no move of Tokyo's in the turn
    assert game.played()["month"].tolist() == list(range(6))


def tight_tokyo(small: Scenario) -> tuple[Scenario, float]:
    """The scenario with Tokyo's win-set set 2 points short of a remorse statement's acceptance, and that
    acceptance."""
    probe = new_game(small)
    remorse = next(c for c in probe.choices(Team.TOKYO) if c.name == "remorse_statement")
    needed = probe.required_share(Team.TOKYO)
    assert needed is not None and remorse.acceptance is not None
    shift = remorse.acceptance + 0.02 - needed
    return small.with_values({"actors.tokyo.win_set_share": small.actors.tokyo.win_set_share + shift}), (
        remorse.acceptance
    )


def test_us_brokering_widens_a_team_capitals_win_set(small: Scenario) -> None:
    """In a three-team game, Washington's broker is what makes Tokyo's team's remorse statement free."""
    tight, acceptance = tight_tokyo(small)
    game = new_game(tight)
    assert game.required_share(Team.TOKYO) == pytest.approx(acceptance + 0.02)
    statement = next(c for c in game.choices(Team.TOKYO) if c.name == "remorse_statement")
    assert not statement.in_win_set and statement.approval_cost == pytest.approx(
        tight.actors.tokyo.winset_cost * 0.02
    )
    game.submit(Team.WASHINGTON, "broker")
    assert game.us_factor() == 2.0
    assert game.required_share(Team.TOKYO, cooperative=True) == pytest.approx(acceptance - 0.03)
    statement = next(c for c in game.choices(Team.TOKYO) if c.name == "remorse_statement")
    assert statement.in_win_set and statement.approval_cost == 0.0  # now inside: free
    game.submit(Team.TOKYO, "remorse_statement")
    # Washington changes its mind after Tokyo chose: standing back narrows the win-set again, so the move,
    # reckoned again when it is made, costs approval.
    game.submit(Team.WASHINGTON, "stand_back")
    assert game.required_share(Team.TOKYO, cooperative=True) == pytest.approx(acceptance + 0.07)
    record = game.advance()
    assert record.outcomes[Team.TOKYO].startswith("made, approval -")
    assert ("2025-07", "tokyo", "remorse_statement") in game.moves_made(record)
    # The same game with broker kept: the statement is made at no cost.
    game = new_game(tight)
    game.submit(Team.WASHINGTON, "broker")
    game.submit(Team.TOKYO, "remorse_statement")
    record = game.advance()
    assert record.outcomes == {Team.SEOUL: "held", Team.TOKYO: "made", Team.WASHINGTON: "made"}
    assert ("2025-07", "tokyo", "remorse_statement") in game.moves_made(record)


def test_a_team_move_an_inject_made_first_is_blocked_not_made_twice(small: Scenario) -> None:
    game = new_game(small)
    game.submit(Team.TOKYO, "remove_white_list")
    game.add_inject("white_list_removal", "tokyo")
    record = game.advance()
    assert record.outcomes[Team.TOKYO].startswith("blocked: ")
    made = [m for m in game.model.moves_log if m[1] is Side.TOKYO and m[2] is Move.REMOVE_WHITE_LIST]
    assert len(made) == 1  # the inject's, not the team's as well


def test_injects_are_validated_like_scenario_events(small: Scenario) -> None:
    game = new_game(small)
    with pytest.raises(ExerciseError, match="engagement"):
        game.add_inject("us_policy_shift", "washington")
    with pytest.raises(ExerciseError, match="kind"):
        game.add_inject("alien_invasion")
    # A kind that changes nothing in the model is not offered, nor taken, as an inject.
    assert EventKind.ELECTION not in INJECT_KINDS
    with pytest.raises(ExerciseError, match="election changes nothing"):
        game.add_inject("election", "seoul")
    event = game.add_inject("us_policy_shift", "washington", engagement=0.2)
    assert event.date == "2025-07" and game.pending_injects == [event]


def test_the_game_ends_after_its_turns(small: Scenario) -> None:
    game = new_game(small, turns=2)
    assert game.outcome_class() is None
    game.advance()
    game.advance()
    assert game.finished and isinstance(game.outcome_class(), OutcomeClass)
    with pytest.raises(ExerciseError, match="over"):
        game.advance()


def test_the_exercise_must_fit_the_scenario(small: Scenario) -> None:
    with pytest.raises(ExerciseError, match=r"meta\.months"):
        Game(small, seed=1, teams=ALL_TEAMS, turn_months=6, turns=5)
    assert game_scenario(small, 12).meta.months == 12


def test_a_saved_game_replays_to_the_same_state(small: Scenario, tmp_path: Path) -> None:
    game = new_game(small)
    game.submit(Team.TOKYO, "summit")
    game.add_inject("court_ruling", "seoul", 1.5)
    game.advance()
    game.submit(Team.WASHINGTON, "trilateral_summit")
    game.advance()
    game.submit(Team.SEOUL, "joint_statement")  # chosen, not yet played
    path = tmp_path / "game.json"
    save_state(path, game, {"tokens": {"facilitator": "x"}})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again, server = load_state(path)
    assert server == {"tokens": {"facilitator": "x"}}
    assert again.indicators() == game.indicators()
    pd.testing.assert_frame_equal(again.played(), game.played())
    assert again.pending == {Team.SEOUL: "joint_statement"} and again.turn == 3
    # Both go on identically.
    assert again.advance().moves == game.advance().moves
    assert again.indicators() == game.indicators()


#: A three-team game played move by move and saved (tests/golden/exercise_team_play.json): the baseline with a
#: Tokyo whose win-set is narrow, so that its turns cover a move made, one made outside the win-set at a cost, a
#: hold, a move an inject made first (blocked), a joint move the partner rebuffed, a joint move proposed by both
#: capitals and rebuffed, one proposed by both and made, and a trilateral summit the turn's injects ruled out
#: (dropped); six of its seven turns are played and the seventh's choices are pending.
GOLDEN_GAME = Path(__file__).parent / "golden" / "exercise_team_play.json"


def turn_summary(game: Game, record: TurnRecord) -> dict[str, Any]:
    """What the golden file keeps of a turn played: the words for each team's move and the moves made."""
    return {
        "turn": record.turn,
        "outcomes": {team.value: words for team, words in record.outcomes.items()},
        "moves_made": [list(move) for move in game.moves_made(record)],
    }


def test_team_play_reproduces_the_golden_saved_game() -> None:
    """Submitting the golden game's moves and injects turn by turn gives the same saved game (indicators, turns,
    pending choices), the same moves made and the same words for what became of every team's move; resuming
    from the saved state finds the same words again."""
    golden = json.loads(GOLDEN_GAME.read_text(encoding="utf-8"))
    saved = golden["state"]
    scenario = Scenario.model_validate(saved["scenario"])
    game = Game(
        scenario,
        seed=saved["seed"],
        teams=[Team(t) for t in saved["teams"]],
        turn_months=saved["turn_months"],
        turns=saved["turns"],
        source=saved["source"],
    )

    def choose(turn: dict[str, Any]) -> None:
        for team, move in turn["moves"].items():
            game.submit(Team(team), move)
        for inject in turn["injects"]:
            game.add_inject(
                inject["kind"], inject["actor"], inject.get("magnitude", 1.0), inject.get("engagement")
            )

    turns = []
    for played in saved["played"]:
        choose(played)
        turns.append(turn_summary(game, game.advance()))
    choose(saved["pending"])
    assert turns == golden["turns"]
    state = json.loads(json.dumps(game.state()))
    assert game.scenario == scenario
    indicators = state.pop("indicators")
    assert {k: v for k, v in state.items() if k != "scenario"} == {
        k: v for k, v in saved.items() if k not in ("scenario", "indicators")
    }
    assert indicators.keys() == saved["indicators"].keys()
    for name, value in indicators.items():
        assert math.isclose(value, saved["indicators"][name], rel_tol=1e-9, abs_tol=1e-12), name
    resumed = Game.from_state(saved)
    assert [turn_summary(resumed, record) for record in resumed.history] == golden["turns"]
    # The pages point out what the words always did: the history all but a plain move made or hold, the debrief
    # all but a plain move made.
    for record in resumed.history:
        for team, words in record.outcomes.items():
            assert record.remark(team) == ("" if words == "made" else words)
            assert record.remark(team, unsaid=UNSAID_IN_HISTORY) == ("" if words in ("made", "held") else words)
    assert resumed.pending == game.pending and resumed.pending_injects == game.pending_injects


def test_a_saved_game_the_model_no_longer_reproduces_is_refused(small: Scenario, tmp_path: Path) -> None:
    game = new_game(small)
    game.advance()
    data = game.state()
    data["indicators"]["relations_index"] += 1.0
    path = tmp_path / "game.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ExerciseError, match="does not reach the saved state"):
        load_state(path)


# --------------------------------------------------------------------------------------------------
# The debrief
@pytest.fixture(scope="module")
def played(small: Scenario) -> Game:
    game = new_game(small, turns=4)
    for move in ("summit", "hardline_gesture", "hold", "joint_statement"):
        if any(c.name == move and c.available for c in game.choices(Team.SEOUL)):
            game.submit(Team.SEOUL, move)
        game.advance()
    return game


def test_every_future_starts_from_the_games_state(small: Scenario) -> None:
    game = new_game(small)
    start = game.indicators()
    opinions = game.model.publics["korea"].opinions.copy()
    game.advance()
    for run in (0, 1, 2):
        task = FutureTask(game.model.spec, game.model_seed, future_seed(game.seed, run), run, game.draw.start)
        model = future_model(task)
        assert model.month == 0
        assert {name: getattr(model, name) for name in start} == start
        np.testing.assert_array_equal(model.publics["korea"].opinions, opinions)


def test_futures_differ_after_the_start_and_are_seeded(played: Game) -> None:
    futures = simulate_futures(played, 8)
    assert futures.size == 8 and sorted(futures.timeseries["run"].unique()) == list(range(8))
    last = futures.timeseries[futures.timeseries["month"] == 23]
    assert last["relations_index"].nunique() > 1
    assert simulate_futures(played, 8).timeseries.equals(futures.timeseries)


def test_the_debrief_shows_band_path_moves_and_classes(played: Game, tmp_path: Path) -> None:
    futures = simulate_futures(played, 10)
    debrief = Debrief.of(played, futures)
    rows = debrief.classes()
    assert sum(r.count for r in rows) == 10
    assert [r.reached for r in rows].count(True) == 1
    assert [m.label.split()[0] for m in debrief.turn_markers()] == ["T1", "T2", "T3", "T4"]
    html_path, png_path = write_debrief(debrief, tmp_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = html_path.read_text()
    assert 'src="data:image/png;base64,' in html and 'class="reached"' in html
    assert html.count('<tr class="reached"') == 1

    from sim.ui.debrief import debrief_figure

    fig = debrief_figure(debrief)
    paths = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == GID_PLAYED]
    assert len(paths) == len(KEY_OUTCOMES) and all(len(line.get_xdata()) == 24 for line in paths)
    bands = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "fan-band-90"]
    assert len(bands) == len(KEY_OUTCOMES)


def test_a_debrief_before_the_first_turn_has_no_class(small: Scenario) -> None:
    game = new_game(small)
    html = render_html(Debrief.of(game, simulate_futures(game, 3)))
    assert "not over" in html


# --------------------------------------------------------------------------------------------------
# Usage errors: exit 2, one message, no traceback
def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


class Served(Exception):
    """Raised where a command would start serving: the command got past every check it should have failed."""


@pytest.fixture(autouse=True)
def never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that wrongly gets past its checks fails the test instead of serving forever (uvicorn) or
    replacing pytest's own process (the dashboard's ``os.execve``)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise Served("the command went on to serve")

    monkeypatch.setattr("os.execve", refuse)
    monkeypatch.setattr("uvicorn.Server.run", refuse)


def test_unknown_team_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run_cli(
        capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"), "--teams", "seoul,pyongyang",
        "--save", str(tmp_path / "g.json"),
    )  # fmt: skip
    assert code == EXIT_USAGE and "--teams: unknown team 'pyongyang'" in err and "Traceback" not in err


def test_missing_teams_and_scenario_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"))
    assert code == EXIT_USAGE and "--teams" in err
    code, err = run_cli(capsys, "exercise", "serve", "--teams", "seoul")
    assert code == EXIT_USAGE and "SCENARIO" in err


def test_too_many_turns_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run_cli(
        capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"), "--teams", "seoul",
        "--turns", "20", "--save", str(tmp_path / "g.json"),
    )  # fmt: skip
    assert code == EXIT_USAGE and "baseline.yaml" in err and "meta.months" in err


def test_a_bad_resume_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, err = run_cli(capsys, "exercise", "serve", "--resume", str(bad))
    assert code == EXIT_USAGE and str(bad) in err and "cannot read" in err
    code, err = run_cli(capsys, "exercise", "serve", "--resume", str(tmp_path / "missing.json"))
    assert code == EXIT_USAGE and "missing.json" in err
    bad.write_text(json.dumps({"format": 1, "seed": 1}))
    code, err = run_cli(capsys, "exercise", "debrief", str(bad))
    assert code == EXIT_USAGE and "not a valid saved exercise" in err


def test_an_existing_state_file_is_not_overwritten(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    existing = tmp_path / "g.json"
    existing.write_text("keep")
    code, err = run_cli(
        capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"), "--teams", "seoul", "--save", str(existing)
    )
    assert code == EXIT_USAGE and "--resume" in err and existing.read_text() == "keep"


def test_an_unwritable_save_path_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "g.json"  # its folder is a file: nothing can be written there
    code, err = run_cli(
        capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"), "--teams", "seoul", "--save", str(target),
        "--port", "0",
    )  # fmt: skip
    assert code == EXIT_USAGE and f"--save: cannot write {target}" in err and "Traceback" not in err


def test_a_debrief_out_naming_a_file_is_a_usage_error(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_state(tmp_path / "g.json", new_game(small))
    out = tmp_path / "notes.txt"
    out.write_text("keep")
    code, err = run_cli(capsys, "exercise", "debrief", str(tmp_path / "g.json"), "--runs", "2", "--out", str(out))
    assert code == EXIT_USAGE and f"--out: {out} is a file" in err and out.read_text() == "keep"


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        ([], "pending: expected"),
        ({"moves": [], "injects": []}, "pending: expected moves"),
        ({"moves": {"seoul": "invade"}}, "pending.moves.seoul: 'invade' is not a move seoul can make"),
        ({"moves": {"seoul": "lift_export_controls"}}, "pending.moves.seoul: lift export controls is unavailable"),
        ({"moves": {"mars": "hold"}}, "pending.moves: 'mars' is not a team"),
        ({"injects": [{"date": "2030-01", "kind": "boycott"}]}, "pending.injects: an inject dated 2030-01"),
        ({"injects": [{"kind": "alien_invasion"}]}, "pending.injects: not a valid inject"),
    ],
)
def test_a_malformed_pending_block_is_a_usage_error(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str], pending: object, expected: str
) -> None:
    path = tmp_path / "g.json"
    save_state(path, new_game(small))
    data = json.loads(path.read_text())
    data["pending"] = pending
    path.write_text(json.dumps(data))
    code, err = run_cli(capsys, "exercise", "debrief", str(path), "--runs", "2")
    assert code == EXIT_USAGE and expected in err and "Traceback" not in err, err


def test_a_valid_pending_block_is_restored(small: Scenario, tmp_path: Path) -> None:
    game = new_game(small)
    game.submit(Team.SEOUL, "summit")
    game.add_inject("boycott", "seoul")
    save_state(tmp_path / "g.json", game)
    resumed, _ = load_state(tmp_path / "g.json")
    assert resumed.pending == {Team.SEOUL: "summit"} and resumed.pending_injects == game.pending_injects


def test_a_choice_washington_narrowed_after_it_was_made_survives_a_restart(
    small: Scenario, tmp_path: Path
) -> None:
    game = new_game(tight_tokyo(small)[0])
    game.submit(Team.WASHINGTON, "broker")
    game.submit(Team.TOKYO, "remorse_statement")  # inside only while Washington brokers
    game.submit(Team.WASHINGTON, "stand_back")
    statement = next(c for c in game.choices(Team.TOKYO) if c.name == "remorse_statement")
    assert statement.available and not statement.in_win_set and (statement.approval_cost or 0) > 0
    save_state(tmp_path / "g.json", game)
    resumed, _ = load_state(tmp_path / "g.json")
    assert resumed.pending == game.pending == {Team.WASHINGTON: "stand_back", Team.TOKYO: "remorse_statement"}


def test_resume_refuses_overrides_and_an_existing_save_file(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "g.json"
    save_state(path, new_game(small))
    code, err = run_cli(capsys, "exercise", "serve", "--resume", str(path), "--set", "meta.seed=3")
    assert code == EXIT_USAGE and "--set: the saved game" in err
    other = tmp_path / "other.json"
    other.write_text("keep")
    code, err = run_cli(capsys, "exercise", "serve", "--resume", str(path), "--save", str(other), "--port", "0")
    assert code == EXIT_USAGE and f"{other}: a saved exercise already exists" in err
    assert other.read_text() == "keep"


def test_a_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, err = run_cli(
            capsys, "exercise", "serve", str(SCENARIOS / "baseline.yaml"), "--teams", "seoul",
            "--save", str(tmp_path / "g.json"), "--port", str(port),
        )  # fmt: skip
        assert code == EXIT_USAGE and f"port {port}" in err and "in use" in err
        code, err = run_cli(capsys, "dashboard", "--port", str(port))
        assert code == EXIT_USAGE and "in use" in err


def test_debrief_command_writes_html_and_png(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    game = new_game(small, turns=2)
    game.advance()
    save_state(tmp_path / "g.json", game)
    assert (
        main(["exercise", "debrief", str(tmp_path / "g.json"), "--runs", "4", "--out", str(tmp_path / "d")]) == 0
    )
    assert (tmp_path / "d" / "debrief.png").stat().st_size > 0
    assert "simulated futures" in (tmp_path / "d" / "debrief.html").read_text()


def test_the_classroom_scenario_is_a_full_exercise() -> None:
    classroom = shipped("classroom", "publics.korea.citizens=200", "publics.japan.citizens=200")
    exercise = classroom.exercise
    assert exercise is not None and set(exercise.briefings) == set(Team)
    assert exercise.turns * exercise.turn_months == classroom.meta.months
    game = Game(classroom, seed=1, teams=ALL_TEAMS, turn_months=exercise.turn_months, turns=exercise.turns)
    while not game.finished:
        game.advance()
    assert game.outcome_class() is not None and len(game.played()) == classroom.meta.months
    # The February 2026 ruling reopens the compensation dispute: the plan becomes a move Seoul can weigh.
    assert game.model.history.dispute_open


def test_resume_options_must_match_the_saved_game(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    game = new_game(small)
    game.advance()
    path = tmp_path / "g.json"
    save_state(path, game)
    for option, value, expected in [
        ("--seed", "6", "--seed: the saved game"),
        ("--turns", "2", "--turns: the saved game"),
        ("--teams", "seoul", "--teams: the saved game"),
    ]:
        code, err = run_cli(capsys, "exercise", "serve", "--resume", str(path), option, value)
        assert code == EXIT_USAGE and expected in err, err
    code, err = run_cli(capsys, "exercise", "serve", str(SCENARIOS / "nk_escalation.yaml"), "--resume", str(path))
    assert code == EXIT_USAGE and "not the scenario of the saved game" in err


def test_the_same_scenario_is_accepted_on_resume(small: Scenario, tmp_path: Path) -> None:
    """The control for the refusal above: the file the game was made from, with the same overrides, matches."""
    import argparse

    from sim.commands.exercise import _check_resume

    game = new_game(small)
    overrides = ["meta.months=24", "publics.korea.citizens=200", "publics.japan.citizens=200"]
    args = argparse.Namespace(
        seed=5, turn_months=6, turns=3, teams="seoul,tokyo,washington", resume=tmp_path / "g.json",
        scenario=SCENARIOS / "baseline.yaml", overrides=overrides,
    )  # fmt: skip
    _check_resume(args, game)


def test_links_of_a_wildcard_bind_name_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.commands.exercise import shown_host

    class Probe:
        """A UDP socket whose route goes out through 192.0.2.7 (a documentation address)."""

        def __init__(self, *args: object) -> None:
            self.connected: object = None

        def __enter__(self) -> Probe:
            return self

        def __exit__(self, *args: object) -> None:
            pass

        def connect(self, address: object) -> None:
            self.connected = address

        def getsockname(self) -> tuple[str, int]:
            assert self.connected is not None
            return ("192.0.2.7", 40000)

    assert shown_host("127.0.0.1") == "127.0.0.1"
    monkeypatch.setattr(socket, "socket", Probe)
    assert shown_host("0.0.0.0") == shown_host("::") == "192.0.2.7"

    class NoRoute(Probe):
        def connect(self, address: object) -> None:
            raise OSError("network unreachable")

    monkeypatch.setattr(socket, "socket", NoRoute)
    monkeypatch.setattr(socket, "gethostname", lambda: "classroom-laptop")
    assert shown_host("0.0.0.0") == "classroom-laptop"


def test_the_dashboard_assets_are_the_packages_of_solaras_page(tmp_path: Path) -> None:
    pytest.importorskip("solara")
    from sim.ui.assets import missing_packages, needed_packages

    needed = needed_packages()
    assert any(spec.startswith("requirejs@") for spec in needed)
    assert any("solara-vuetify" in spec for spec in needed)
    assert all(re.fullmatch(r"(@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+", spec) for spec in needed)
    assert missing_packages(tmp_path) == needed  # an empty cache lacks them all
    (tmp_path / needed[0]).mkdir(parents=True)
    assert missing_packages(tmp_path) == needed[1:]


def test_a_saved_game_with_broken_tokens_is_a_usage_error(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    game = new_game(small)
    path = tmp_path / "g.json"
    save_state(path, game, {"tokens": {"facilitator": "f", "seoul": 7}})
    code, err = run_cli(capsys, "exercise", "serve", "--resume", str(path), "--port", "0")
    assert code == EXIT_USAGE and "server.tokens: no token for seoul, tokyo, washington" in err


# --------------------------------------------------------------------------------------------------
# The server's pages, called in-process through ASGI
@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()


def call(app: Any, method: str, path: str, query: str = "", form: dict[str, str] | None = None) -> Reply:
    """One request to an ASGI app, without a network or an HTTP client library."""
    body = urlencode(form or {}).encode()

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        inbox = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return inbox.pop(0) if inbox else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
            ],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("test", 80),
            "client": ("test", 1),
            "root_path": "",
        }
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    headers = {k.decode().lower(): v.decode() for k, v in sent[0].get("headers", [])}
    return Reply(sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), headers)


@pytest.fixture
def served(small: Scenario, tmp_path: Path) -> ExerciseServer:
    return ExerciseServer(new_game(small), tmp_path / "game.json", new_tokens(tuple(ALL_TEAMS)))


def test_the_team_page_shows_what_became_of_its_move(served: ExerciseServer) -> None:
    app, token = served.app(), served.tokens["tokyo"]
    reply = call(app, "POST", "/team/tokyo/move", form={"token": token, "turn": "1", "move": "remove_white_list"})
    assert reply.status == 303
    served.game.add_inject("white_list_removal", "tokyo")
    served.game.advance()
    page = call(app, "GET", "/team/tokyo", f"token={token}").text
    assert "tokyo: remove white list" in page and "(blocked: " in page


def test_us_pressure_is_shown_on_a_capitals_page(served: ExerciseServer) -> None:
    app = served.app()
    # Washington steady: no extra pressure, said once (not "47 % instead of 47 %").
    page = call(app, "GET", "/team/seoul", f"token={served.tokens['seoul']}").text
    steady = served.game.required_share(Team.SEOUL)
    assert steady is not None
    assert re.search(rf"No\s+extra US pressure this turn.*need the same\s+{100 * steady:.0f} %", page, re.S)
    assert "instead of" not in page
    call(
        app,
        "POST",
        "/team/washington/move",
        form={"token": served.tokens["washington"], "turn": "1", "move": "broker"},
    )
    page = call(app, "GET", "/team/seoul", f"token={served.tokens['seoul']}").text
    needed = served.game.required_share(Team.SEOUL)
    assert needed is not None
    assert re.search(
        rf"US pressure this turn: x2\s.*cooperative moves need {100 * (needed - 0.05):.0f} %\s+instead of "
        rf"{100 * needed:.0f} %",
        page,
        re.S,
    )


def test_a_form_for_a_turn_already_played_is_refused(served: ExerciseServer) -> None:
    app, seoul, facilitator = served.app(), served.tokens["seoul"], served.tokens[FACILITATOR]
    served.game.advance()  # turn 1 played while the pages of turn 1 were still open
    late = call(app, "POST", "/team/seoul/move", form={"token": seoul, "turn": "1", "move": "summit"})
    assert late.status == 409 and "turn 1, which has already been played" in late.text
    missing = call(app, "POST", "/team/seoul/move", form={"token": seoul, "move": "summit"})
    assert missing.status == 409 and "does not say which turn" in missing.text
    inject = {"token": facilitator, "turn": "1", "kind": "boycott", "actor": "seoul"}
    assert call(app, "POST", "/facilitator/inject", form=inject).status == 409
    assert call(app, "POST", "/facilitator/advance", form={"token": facilitator, "turn": "1"}).status == 409
    assert served.game.turn == 2 and not served.game.pending and not served.game.pending_injects
    ok = call(app, "POST", "/team/seoul/move", form={"token": seoul, "turn": "2", "move": "summit"})
    assert ok.status == 303 and served.game.pending == {Team.SEOUL: "summit"}


def test_the_board_shows_no_secret_and_the_facilitator_hides_the_join_links(served: ExerciseServer) -> None:
    app = served.app()
    call(app, "POST", "/team/seoul/move", form={"token": served.tokens["seoul"], "turn": "1", "move": "summit"})
    board = call(app, "GET", "/board")
    assert board.status == 200
    assert not any(token in board.text for token in served.tokens.values())
    assert "<form" not in board.text and "summit" not in board.text  # who submitted, not what
    assert re.search(r'id="status-seoul" class="status submitted">submitted<', board.text)
    assert 'id="trend-chart" src="/trend.png?turns=0&amp;size=board"' in board.text
    facilitator = call(app, "GET", "/facilitator", f"token={served.tokens[FACILITATOR]}").text
    hidden = facilitator[facilitator.index('<details id="join-links">') : facilitator.index("</details>")]
    assert "Join links (do not project)" in hidden
    for team in ("seoul", "tokyo", "washington"):
        assert served.tokens[team] in hidden and facilitator.count(served.tokens[team]) == 1


def test_a_failed_save_rolls_the_change_back(served: ExerciseServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app, seoul = served.app(), served.tokens["seoul"]

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    save = served.save
    monkeypatch.setattr(served, "save", full_disk)
    reply = call(app, "POST", "/team/seoul/move", form={"token": seoul, "turn": "1", "move": "summit"})
    assert reply.status == 500 and "could not be saved" in reply.text and "nothing was changed" in reply.text
    assert served.game.pending == {}
    inject = {"token": served.tokens[FACILITATOR], "turn": "1", "kind": "boycott", "actor": "seoul"}
    assert call(app, "POST", "/facilitator/inject", form=inject).status == 500
    assert served.game.pending_injects == []
    # A turn cannot be unplayed: a turn played but not saved stops the game.
    advance = {"token": served.tokens[FACILITATOR], "turn": "1"}
    reply = call(app, "POST", "/facilitator/advance", form=advance)
    assert reply.status == 500 and "the game is stopped" in reply.text and "--resume" in reply.text
    monkeypatch.setattr(served, "save", save)  # the disk is free again: the game stays stopped all the same
    again = call(app, "POST", "/team/seoul/move", form={"token": seoul, "turn": "2", "move": "summit"})
    assert again.status == 503 and "the game is stopped" in again.text and served.game.pending == {}


def test_a_turn_that_fails_halfway_stops_the_game(served: ExerciseServer, monkeypatch: pytest.MonkeyPatch) -> None:
    model = served.game.model
    real_step = model.step

    def failing_step() -> None:
        if model.month == 2:
            raise RuntimeError("out of memory")
        real_step()

    monkeypatch.setattr(model, "step", failing_step)
    reply = call(
        served.app(), "POST", "/facilitator/advance", form={"token": served.tokens[FACILITATOR], "turn": "1"}
    )
    assert (
        reply.status == 500
        and "the server failed (RuntimeError: out of memory) while the turn was played" in reply.text
    )
    assert served.broken is not None
    late = {"token": served.tokens["seoul"], "turn": "1", "move": "summit"}
    assert call(served.app(), "POST", "/team/seoul/move", form=late).status == 503


def test_the_state_file_is_synced_and_locked(
    small: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import stat as stat_module

    from sim.ui.game import lock_state

    synced: list[bool] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(stat_module.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd))
    )
    save_state(tmp_path / "g.json", new_game(small))
    assert synced == [False, True]  # the file's contents, then the folder's entry for it
    held = lock_state(tmp_path / "g.json")
    try:
        with pytest.raises(ExerciseError, match="another server is using this game"):
            lock_state(tmp_path / "g.json")
    finally:
        held.close()
    lock_state(tmp_path / "g.json").close()  # free again once the holder closed it


def test_a_second_server_on_the_same_game_is_a_usage_error(
    small: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.ui.game import lock_state

    path = tmp_path / "g.json"
    save_state(path, new_game(small))
    held = lock_state(path)
    try:
        code, err = run_cli(capsys, "exercise", "serve", "--resume", str(path), "--port", "0")
    finally:
        held.close()
    assert code == EXIT_USAGE and "another server is using this game" in err


def test_the_futures_face_the_injects_played(small: Scenario) -> None:
    game = new_game(small, turns=2)
    game.add_inject("nuclear_test", "pyongyang", 3.0)
    game.advance()
    quiet = new_game(small, turns=2)
    quiet.advance()
    with_inject, without = simulate_futures(game, 3), simulate_futures(quiet, 3)
    assert [e.kind.value for e in with_inject.injects] == ["nuclear_test"] and without.injects == ()
    first = with_inject.timeseries[with_inject.timeseries["month"] == 0]["nk_threat"]
    assert (first.to_numpy() > without.timeseries[without.timeseries["month"] == 0]["nk_threat"].to_numpy()).all()
    debrief = Debrief.of(game, with_inject)
    assert [m.label.split("\n")[1] for m in debrief.turn_markers()] == [
        "inject: Nuclear test by Pyongyang, magnitude 3"
    ]
    html = render_html(debrief)
    assert re.search(r"the same\s+1 facilitator's inject on the same\s+dates", html)
    assert "at most once a turn" in html


def test_the_server_computes_futures_once_for_each_list_of_injects(served: ExerciseServer) -> None:
    served.debrief_runs = 2
    before = served.futures()
    assert served.futures() is before  # cached
    served.game.add_inject("boycott", "seoul")
    served.game.advance()
    after = served.futures()
    assert after is not before and len(after.injects) == 1 and served.futures() is after


def test_a_saved_token_must_look_like_a_secret(small: Scenario, tmp_path: Path) -> None:
    tokens = new_tokens(tuple(ALL_TEAMS)) | {"tokyo": "short"}
    with pytest.raises(ExerciseError, match="the token of tokyo is not a secret of at least 20"):
        ExerciseServer(new_game(small), tmp_path / "g.json", tokens)


def test_a_form_too_large_is_ignored_before_it_is_read(served: ExerciseServer) -> None:
    padded = {"token": served.tokens["seoul"], "turn": "1", "move": "summit", "pad": "x" * 20_000}
    assert call(served.app(), "POST", "/team/seoul/move", form=padded).status == 403  # no token read: denied
    assert served.game.pending == {}


def test_the_debrief_files_need_a_token(served: ExerciseServer) -> None:
    served.debrief_runs = 2
    app, token = served.app(), served.tokens["tokyo"]
    assert call(app, "GET", "/debrief.html").status == 403
    page = call(app, "GET", "/debrief.html", f"token={token}")
    assert page.status == 200 and 'src="data:image/png;base64,' in page.text
    assert page.headers["content-disposition"] == 'attachment; filename="debrief.html"'
    figure = call(app, "GET", "/debrief.png", f"token={token}")
    assert figure.status == 200 and figure.body[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.headers["content-type"] == "image/png"
