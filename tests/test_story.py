"""What the exercise's pages tell a class: the fate of each move in words, the turn's events, the indicators'
changes, the scheduled events to come, the trend chart, the counterfactual replays of the debrief, the removal of
a pending inject and the printable handout. (The same pages are driven by a browser in tests/test_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim.agents.decision import MoveOutcome, MoveResult
from sim.moves import MOVES, Move, Side
from sim.outcomes import OUTCOMES
from sim.scenario import Event, EventActor, EventKind, Scenario, Team
from sim.ui.debrief import GID_COUNTERFACTUAL, GID_TURN, Counterfactual, Debrief, debrief_figure, simulate_futures
from sim.ui.game import MOVE_WORDS, WASHINGTON_EFFECTS, ExerciseError, Game, event_words, inject_actor, move_effect
from sim.ui.server import ExerciseServer, cost_words, new_tokens
from sim.ui.story import DOWN, INDICATORS, UP, changes, fate, turn_story, upcoming, value_text
from sim.ui.trend import GID_NOW, trend_figure, trend_frame
from tests.conftest import shipped
from tests.test_exercise import call

ALL_TEAMS = [Team.SEOUL, Team.TOKYO, Team.WASHINGTON]
RULING = "Supreme Court orders a Japanese firm to compensate former forced labourers"


@pytest.fixture(scope="module")
def classroom() -> Scenario:
    """The classroom scenario (its court ruling in 2026-02, turn 2) with 200 citizens a side, 24 months."""
    return shipped("classroom", "meta.months=24", "publics.korea.citizens=200", "publics.japan.citizens=200")


def new_game(scenario: Scenario, teams: list[Team] = ALL_TEAMS) -> Game:
    return Game(scenario, seed=3, teams=teams, turn_months=6, turns=4)


# --------------------------------------------------------------------------------------------------
# Words
def test_every_move_has_words_and_its_line_names_the_move_tables_effects() -> None:
    assert set(MOVE_WORDS) == set(Move)
    summit = move_effect(Move.SUMMIT, Side.SEOUL, MOVES[Move.SUMMIT])
    assert summit.startswith("a leaders' summit (Tokyo's government must join)")
    assert "climate +0.06" in summit and "history salience \u22120.02" in summit
    assert "Yasukuni" in move_effect(Move.HARDLINE_GESTURE, Side.TOKYO, MOVES[Move.HARDLINE_GESTURE])
    assert "Dokdo" in move_effect(Move.HARDLINE_GESTURE, Side.SEOUL, MOVES[Move.HARDLINE_GESTURE])
    assert move_effect(Move.HOLD, Side.SEOUL, MOVES[Move.HOLD]) == "no move this turn"


def test_every_choice_of_every_capital_says_what_it_does(classroom: Scenario) -> None:
    game = new_game(classroom)
    for team in ALL_TEAMS:
        choices = game.choices(team)
        assert choices and all(c.effect for c in choices), team


@pytest.mark.parametrize(
    ("team", "move", "result", "partner", "verdict", "detail"),
    [
        (Team.SEOUL, "hold", MoveResult(MoveOutcome.HELD), None, "held", "No move this turn"),
        (Team.SEOUL, "summit", MoveResult(MoveOutcome.MADE), None, "made", "Tokyo's government joined it"),
        (
            Team.SEOUL,
            "summit",
            MoveResult(MoveOutcome.MADE),
            MoveResult(MoveOutcome.MADE_JOINTLY),
            "made",
            "Tokyo proposed it too: held once, by both",
        ),
        (
            Team.TOKYO,
            "remove_white_list",
            MoveResult(MoveOutcome.MADE, approval_cost=0.018),
            None,
            "made",
            "It cost 1.8 points of approval (outside the win-set)",
        ),
        (
            Team.TOKYO,
            "remove_white_list",
            MoveResult(MoveOutcome.BLOCKED, "already in place"),
            None,
            "not made",
            "Already in place; Tokyo held",
        ),
        (
            Team.SEOUL,
            "joint_statement",
            MoveResult(MoveOutcome.REBUFFED, "40 % of Tokyo's public would accept it"),
            None,
            "rebuffed",
            "Tokyo declined: 40 % of Tokyo's public would accept it",
        ),
        (
            Team.TOKYO,
            "summit",
            MoveResult(MoveOutcome.REBUFFED_JOINTLY),
            MoveResult(MoveOutcome.REBUFFED, "too few"),
            "rebuffed",
            "Seoul proposed it too, but it was not made: too few",
        ),
        (
            Team.WASHINGTON,
            "trilateral_summit",
            MoveResult(MoveOutcome.DROPPED, "the climate is too cold"),
            None,
            "dropped",
            "The climate is too cold",
        ),
        (Team.WASHINGTON, "steady", MoveResult(MoveOutcome.MADE), None, "held", None),
        (Team.WASHINGTON, "broker", MoveResult(MoveOutcome.MADE), None, "made", None),
    ],
)
def test_every_fate_is_said_in_words(
    team: Team, move: str, result: MoveResult, partner: MoveResult | None, verdict: str, detail: str | None
) -> None:
    said = fate(team, move, result, partner)
    assert said.verdict == verdict
    if detail is None:  # Washington's: what the action does
        from sim.agents.washington import WashingtonAction

        detail = WASHINGTON_EFFECTS[WashingtonAction(move)]
        detail = detail[0].upper() + detail[1:]
    assert said.detail == detail
    assert said.css == {"made": "made", "held": "held"}.get(verdict, "refused")


def test_events_and_injects_read_as_plain_words() -> None:
    ruling = Event(date="2026-02", kind=EventKind.COURT_RULING, actor=EventActor.SEOUL, description=RULING)
    assert event_words(ruling) == RULING
    assert event_words(ruling, describe=False) == "Court ruling by Seoul"
    launch = Event(date="2026-02", kind=EventKind.MISSILE_LAUNCH, actor=EventActor.PYONGYANG, magnitude=3)
    assert event_words(launch) == "Missile launch by Pyongyang, magnitude 3"
    shift = Event(date="2026-02", kind=EventKind.US_POLICY_SHIFT, actor=EventActor.WASHINGTON, engagement=0.4)
    assert event_words(shift) == "US policy shift by Washington: engagement target 0.40"


def test_the_inject_form_proposes_an_actor_each_kind_accepts() -> None:
    for kind in EventKind:
        if kind is EventKind.ELECTION:
            continue
        Event(date="2026-01", kind=kind, actor=inject_actor(kind), engagement=0.5)  # validates, or raises
    assert inject_actor(EventKind.MISSILE_LAUNCH) is EventActor.PYONGYANG
    assert inject_actor(EventKind.SHRINE_VISIT) is EventActor.TOKYO


def test_changes_round_as_shown_and_point_the_way_they_went() -> None:
    before = {name: 0.5 for name in OUTCOMES} | {"relations_index": 60.0, "kr_favorability": 40.0}
    now = dict(before) | {"relations_index": 62.04, "kr_favorability": 39.0, "seoul_approval": 0.50004}
    rows = {c.name: c for c in changes(now, before)}
    assert [c.name for c in changes(now, before)] == list(INDICATORS)
    index = rows["relations_index"]
    assert (index.now, index.before, index.change, index.arrow) == ("62.0", "60.0", "+2.0", UP)
    favour = rows["kr_favorability"]
    assert (favour.now, favour.change, favour.arrow) == ("39.0 %", "\u22121.0 pp", DOWN)
    approval = rows["seoul_approval"]  # 0.004 points: rounds to nothing, so no direction
    assert (approval.now, approval.change, approval.direction, approval.arrow) == ("50.0 %", "0.0 pp", "flat", "")
    assert value_text("nationalist_pressure_kr", 0.237) == "0.24"


def test_cost_words_say_what_a_move_outside_the_win_set_costs(classroom: Scenario) -> None:
    game = new_game(classroom)
    for choice in game.choices(Team.SEOUL):
        words = cost_words(choice)
        if not choice.available:
            assert words == ""
        elif choice.approval_cost:
            assert words.startswith("outside your win-set") and f"{100 * choice.approval_cost:.1f} points" in words
        else:
            assert words.startswith("inside your win-set") and "no approval cost" in words
    assert all(cost_words(c) == "" for c in game.choices(Team.WASHINGTON))


# --------------------------------------------------------------------------------------------------
# The story of a turn
def test_a_turns_story_names_fates_the_scheduled_ruling_injects_and_changes(classroom: Scenario) -> None:
    game = new_game(classroom)
    assert [(turn, h.date, h.text) for turn, h in upcoming(game)][:2] == [
        (1, "2025-10", "Takaichi Sanae elected prime minister"),
        (2, "2026-02", RULING),
    ]
    game.submit(Team.SEOUL, "summit")
    game.submit(Team.WASHINGTON, "broker")
    first = turn_story(game, game.advance())
    seoul, tokyo, washington = first.fates[:3]
    assert (seoul.capital, seoul.move) == ("Seoul", "summit") and seoul.verdict in ("made", "rebuffed")
    assert (tokyo.capital, tokyo.verdict, washington.capital, washington.verdict) == (
        "Tokyo",
        "held",
        "Washington",
        "made",
    )
    assert "Takaichi Sanae elected prime minister" in [h.text for h in first.happenings]
    assert RULING not in [h.text for h in first.happenings]  # not yet: it fires in turn 2
    assert next(turn for turn, _ in upcoming(game)) == 2

    game.add_inject("missile_launch", "pyongyang", 3.0)
    second = turn_story(game, game.advance())
    texts = [(h.origin, h.text) for h in second.happenings]
    assert ("scheduled", RULING) in texts
    assert ("inject", "Facilitator's inject: Missile launch by Pyongyang, magnitude 3") in texts
    assert second.period == "2026-01 to 2026-06"
    # The changes are the saved indicators' differences, turn on turn.
    after_first, after_second = game.indicators_after(1), game.indicators_after(2)
    assert after_second == game.indicators()
    for row in second.changes:
        assert row.now == value_text(row.name, after_second[row.name])
        assert row.before == value_text(row.name, after_first[row.name])


def test_the_indicators_after_each_turn_are_the_months_recorded(classroom: Scenario) -> None:
    game = new_game(classroom)
    assert game.indicators_after(0) == game.indicators()  # the start, before any month
    game.advance()
    game.advance()
    monthly = game.model.monthly()
    for name in OUTCOMES:
        assert game.indicators_after(1)[name] == monthly[name][5]
        assert game.indicators_after(2)[name] == monthly[name][11]
    with pytest.raises(ExerciseError, match="has not been played"):
        game.indicators_after(3)


def test_a_change_of_leader_without_an_event_is_told(classroom: Scenario) -> None:
    game = new_game(classroom)
    game.add_inject("leadership_change", "seoul")
    story = turn_story(game, game.advance())
    # The inject names no leader: the model draws one, and the story names who took office.
    assert any(
        h.origin == "inject" and h.text.startswith("Facilitator's inject: Leadership change by Seoul")
        for h in story.happenings
    )
    assert story.happenings[-1].origin == "model"


# --------------------------------------------------------------------------------------------------
# Injects, trend, counterfactuals
def test_a_pending_inject_can_be_removed_and_is_then_not_played(classroom: Scenario) -> None:
    game = new_game(classroom)
    game.add_inject("nuclear_test", "pyongyang", 2.0)
    game.add_inject("shrine_visit", "tokyo")
    removed = game.remove_inject(0)
    assert removed.kind is EventKind.NUCLEAR_TEST
    with pytest.raises(ExerciseError, match="no pending inject number 2"):
        game.remove_inject(1)
    record = game.advance()
    assert [e.kind for e in record.injects] == [EventKind.SHRINE_VISIT]
    # No trace of the removed test: the same as a game that only ever had the shrine visit.
    plain = new_game(classroom)
    plain.add_inject("shrine_visit", "tokyo")
    plain.advance()
    assert game.indicators() == plain.indicators()
    assert game.state()["played"] == plain.state()["played"]


def test_the_trend_chart_follows_the_turns(classroom: Scenario) -> None:
    game = new_game(classroom)
    frame = trend_frame(game)
    assert len(frame) == 1 and frame.loc[0, "relations_index"] == game.start_indicators["relations_index"]
    game.advance()
    game.advance()
    frame = trend_frame(game)
    for turn in (0, 1, 2):
        row = frame[np.isclose(frame["turn"], turn)].iloc[0]
        assert all(row[name] == game.indicators_after(turn)[name] for name in OUTCOMES)
    fig = trend_figure(game)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "Relations index",
        "Institutionalisation",
        "Favourable to the other country",
        "Nationalist pressure",
        "Government approval",
    ]
    relations = fig.axes[0]
    thresholds = sorted(
        float(line.get_ydata()[0]) for line in relations.get_lines() if line.get_gid() == "class-threshold"
    )
    assert thresholds == [50.0, 65.0]
    assert relations.get_xlim() == (0.0, 4.0)
    assert [line.get_xdata()[0] for line in relations.get_lines() if line.get_gid() == GID_NOW] == [2]


def test_a_counterfactual_replays_the_game_with_the_model_in_one_teams_place(classroom: Scenario) -> None:
    game = new_game(classroom, teams=[Team.SEOUL, Team.TOKYO])
    for _ in range(4):
        game.submit(Team.TOKYO, "hold")
        game.advance()
    replay = game.replay_without(Team.SEOUL)
    assert replay.teams == (Team.TOKYO,)
    assert replay.start_indicators == game.start_indicators  # the same start
    assert [r.moves for r in replay.history] == [{Team.TOKYO: "hold"}] * 4
    assert all(side is Side.SEOUL for _, side, _ in replay.model.moves_log if side is not Side.TOKYO)
    counterfactual = Counterfactual.of(game, Team.SEOUL)
    assert counterfactual.reached is not None and len(counterfactual.played) == 24
    assert [m for _, m in counterfactual.moves] == [
        move.value for _, side, move in replay.model.moves_log if side is Side.SEOUL
    ]
    # Replaying is deterministic: the same replay twice.
    again = game.replay_without(Team.SEOUL)
    assert again.indicators() == replay.indicators()
    with pytest.raises(ExerciseError, match="no team plays washington"):
        game.replay_without(Team.WASHINGTON)


def test_the_debrief_shows_each_counterfactual_and_says_why_the_path_starts_where_it_does(
    classroom: Scenario, tmp_path: Path
) -> None:
    game = new_game(classroom)
    game.submit(Team.SEOUL, "summit")
    game.advance()
    debrief = Debrief.of(game, simulate_futures(game, 6))
    assert [c.team for c in debrief.counterfactuals] == ALL_TEAMS
    note = debrief.start_note()
    assert "start from the same state on 2025-07" in note and "Seoul summit:" in note
    assert "probability Seoul 30 % and Tokyo 30 %" in note
    fig = debrief_figure(debrief)
    replayed = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == GID_COUNTERFACTUAL]
    assert len(replayed) == 3 * 7
    turns = [ax for ax in fig.axes if any(line.get_gid() == GID_TURN for line in ax.get_lines())]
    assert len(turns) == 7
    labels = [t for ax in turns for t in ax.texts if t.get_text().startswith("T")]
    assert [t.get_text() for t in labels] == ["T1"] * 7 and all(t.get_fontsize() >= 10 for t in labels)
    assert all(t.get_rotation() == 0 for t in labels)
    from sim.ui.debrief import render_html

    html = render_html(debrief)
    assert 'id="counterfactuals"' in html and html.count('<tr data-team="') == 3
    assert "If the model had played your capital" in html and 'id="start-note"' in html


# --------------------------------------------------------------------------------------------------
# The pages, in-process
@pytest.fixture
def served(classroom: Scenario, tmp_path: Path) -> ExerciseServer:
    return ExerciseServer(new_game(classroom), tmp_path / "game.json", new_tokens(tuple(ALL_TEAMS)))


def test_the_pages_tell_what_happened_after_an_advance(served: ExerciseServer) -> None:
    app = served.app()
    boss = served.tokens["facilitator"]
    call(app, "POST", "/team/seoul/move", form={"token": served.tokens["seoul"], "turn": "1", "move": "summit"})
    page = call(app, "GET", "/team/seoul", f"token={served.tokens['seoul']}").text
    assert 'id="what-happened"' not in page  # nothing played yet
    assert page.index('id="move-form"') < page.index('id="trend-chart"') < page.index('id="briefing-box"')
    assert 'id="briefing-box" open' in page
    call(app, "POST", "/facilitator/advance", form={"token": boss, "turn": "1"})
    call(app, "POST", "/facilitator/advance", form={"token": boss, "turn": "2"})
    for path, query in (
        ("/team/tokyo", f"token={served.tokens['tokyo']}"),
        ("/board", ""),
        ("/facilitator", f"token={boss}"),
    ):
        page = call(app, "GET", path, query).text
        assert 'id="what-happened"' in page and "What happened in turn 2" in page, path
        assert RULING in page, path
        assert page.index('id="what-happened"') < page.index('id="history"'), path
    team = call(app, "GET", "/team/tokyo", f"token={served.tokens['tokyo']}").text
    assert re.search(r'id="briefing-box"\s*>', team)  # closed after turn 1
    assert team.index('id="what-happened"') < team.index('id="move-form"')


def test_the_trend_chart_is_served_once_per_turn_without_a_token(served: ExerciseServer) -> None:
    app = served.app()
    first = call(app, "GET", "/trend.png", "turns=0")
    assert first.status == 200 and first.body[:8] == b"\x89PNG\r\n\x1a\n"
    assert call(app, "GET", "/trend.png", "turns=0").body == first.body
    call(app, "POST", "/facilitator/advance", form={"token": served.tokens["facilitator"], "turn": "1"})
    assert call(app, "GET", "/trend.png", "turns=1").body != first.body
    board = call(app, "GET", "/trend.png", "turns=1&size=board")  # the projected board's larger type
    assert board.status == 200 and board.body != call(app, "GET", "/trend.png", "turns=1").body


def test_the_facilitator_removes_an_inject_and_lists_whats_to_come(served: ExerciseServer) -> None:
    app, boss = served.app(), served.tokens["facilitator"]
    page = call(app, "GET", "/facilitator", f"token={boss}").text
    assert '<option value="missile_launch" data-actor="pyongyang" selected>' in page
    assert '<option value="pyongyang" selected>' in page
    assert 'id="upcoming"' in page and RULING in page and "(this turn)" in page  # Takaichi, this turn
    call(
        app,
        "POST",
        "/facilitator/inject",
        form={"token": boss, "turn": "1", "kind": "nuclear_test", "actor": "pyongyang"},
    )
    assert len(served.game.pending_injects) == 1
    reply = call(app, "POST", "/facilitator/inject/remove", form={"token": boss, "turn": "1", "index": "0"})
    assert reply.status == 303 and served.game.pending_injects == []
    assert (
        call(app, "POST", "/facilitator/inject/remove", form={"token": boss, "turn": "1", "index": "0"}).status
        == 409
    )
    team = served.tokens["seoul"]
    assert (
        call(app, "POST", "/facilitator/inject/remove", form={"token": team, "turn": "1", "index": "0"}).status
        == 403
    )


def test_the_handout_prints_a_teams_briefing_and_moves(served: ExerciseServer) -> None:
    app, boss = served.app(), served.tokens["facilitator"]
    page = call(app, "GET", "/handout/tokyo", f"token={boss}")
    assert page.status == 200
    assert "Takaichi" in page.text and 'id="moves"' in page.text and "@media print" in page.text
    assert 'type="radio"' not in page.text and "<form" not in page.text
    assert call(app, "GET", "/handout/tokyo", f"token={served.tokens['tokyo']}").status == 403


# --------------------------------------------------------------------------------------------------
# The class's play against a robust search
TINY_SEARCH = """
meta: {name: tiny, start: 2025-07, months: 12}
publics: {korea: {citizens: 40}, japan: {citizens: 40}}
uncertainties:
  drivers.security.nk_provocation_rate: {low: 0.3, high: 3.0}
search:
  levers:
    levers.seoul.cooperation_priority: {low: -0.5, high: 0.8}
    levers.seoul.summit_every_months: {choices: [null, 6, 12]}
    levers.seoul.forbidden_moves: {choices: [[], [hardline_gesture], [hardline_gesture, end_gsomia]]}
    actors.washington.brokering: {low: 0.0, high: 3.0}
    levers.tokyo.cooperation_priority: {low: -0.5, high: 0.5}
  metrics: [durable_share, p10_relations_index]
"""


@pytest.fixture(scope="module")
def tiny_search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished robust search, as small as it gets (two generations of four candidates on four futures)."""
    pytest.importorskip("pymoo")
    from sim.cli import main

    folder = tmp_path_factory.mktemp("search")
    (folder / "tiny.yaml").write_text(TINY_SEARCH)
    args = ["robust", str(folder / "tiny.yaml"), "--generations", "2", "--population", "4", "--futures", "4"]
    assert main([*args, "--out", str(folder), "--quiet"]) == 0
    return folder / "tiny_robust"


def test_the_class_play_is_read_as_the_searchs_levers(classroom: Scenario, tiny_search: Path) -> None:
    from sim.ui.policy import Search, played_levers

    search = Search.open(tiny_search)
    game = new_game(classroom, teams=[Team.SEOUL, Team.WASHINGTON])
    for turn in range(4):  # Seoul: summits in turns 1 and 3; Washington brokers twice, stands back once
        game.submit(Team.WASHINGTON, ["broker", "broker", "stand_back", "steady"][turn])
        game.submit(Team.SEOUL, "summit" if turn in (0, 2) else "hold")
        game.advance()
    levers, how = played_levers(game, search.levers, search.scenario)
    made = [r.results[Team.SEOUL].outcome for r in game.history if r.moves[Team.SEOUL] == "summit"]
    summits = sum(outcome in (MoveOutcome.MADE, MoveOutcome.MADE_JOINTLY) for outcome in made)
    conciliation = game.model.moves[Move.SUMMIT].conciliation
    assert levers["levers.seoul.cooperation_priority"] == pytest.approx(summits * conciliation / 4)
    assert levers["levers.seoul.summit_every_months"] == ({2: 12, 1: 12, 0: None}[summits])
    assert how["levers.seoul.summit_every_months"] == f"{summits} summits in 24 months"
    # Seoul never chose a hard-line gesture or ending GSOMIA: the most the search can rule out.
    assert list(levers["levers.seoul.forbidden_moves"]) == ["hardline_gesture", "end_gsomia"]
    factor = (2 + 2 + 0 + 1) / 4  # broker x2 twice, stand back x0, steady x1
    brokering = search.scenario.resolve("actors.washington.brokering")
    assert levers["actors.washington.brokering"] == pytest.approx(min(3.0, brokering * factor))
    # Tokyo has no team: the search scenario's own value, and the page says so.
    assert levers["levers.tokyo.cooperation_priority"] == search.scenario.resolve(
        "levers.tokyo.cooperation_priority"
    )
    assert "no team set it" in how["levers.tokyo.cooperation_priority"]


def test_a_hard_line_the_class_chose_is_not_ruled_out(classroom: Scenario, tiny_search: Path) -> None:
    from sim.ui.policy import Search, played_levers

    search = Search.open(tiny_search)
    game = new_game(classroom, teams=[Team.SEOUL])
    game.submit(Team.SEOUL, "hardline_gesture")
    game.advance()
    levers, _ = played_levers(game, search.levers, search.scenario)
    assert list(levers["levers.seoul.forbidden_moves"]) == []
    made = game.history[0].results[Team.SEOUL].outcome is MoveOutcome.MADE
    conciliation = game.model.moves[Move.HARDLINE_GESTURE].conciliation if made else 0.0
    assert levers["levers.seoul.cooperation_priority"] == pytest.approx(max(-0.5, conciliation))


def test_a_pareto_policy_placed_as_the_class_is_beaten_by_none(tiny_search: Path) -> None:
    from sim.robust import policy_levers
    from sim.ui.policy import Search, place

    search = Search.open(tiny_search)
    own = policy_levers(tiny_search, 1)
    placement = place(search, own, {path: "given" for path in own})
    assert placement.dominated_by == ()
    row = placement.policy.iloc[0]
    first = search.front[search.front["policy"] == 1].iloc[0]
    for metric in placement.metrics:  # the same futures, the same seeds: the same metrics
        assert row[metric.value] == pytest.approx(float(first[metric.value]))
    assert "No policy of the search's Pareto set" in placement.verdict()
    # A policy worse on every metric than Pareto policy 1 is dominated by it.
    worse = placement.policy.copy()
    worse.loc[0, "durable_share"] = float(first["durable_share"]) - 0.5
    worse.loc[0, "p10_relations_index"] = float(first["p10_relations_index"]) - 10.0
    from sim.robust import minimised

    mine, theirs = minimised(worse, placement.metrics)[0], minimised(search.front, placement.metrics)
    assert bool(np.all(theirs[0] <= mine) and np.any(theirs[0] < mine))


def test_the_debrief_command_places_the_class_and_refuses_a_folder_without_a_search(
    classroom: Scenario, tiny_search: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main
    from sim.errors import EXIT_USAGE
    from sim.ui.game import save_state

    game = new_game(classroom, teams=[Team.SEOUL])
    game.submit(Team.SEOUL, "summit")
    game.advance()
    state = tmp_path / "game.json"
    save_state(state, game)
    assert main(["exercise", "debrief", str(state), "--runs", "3", "--robust", str(tmp_path)]) == EXIT_USAGE
    assert "--robust:" in capsys.readouterr().err
    assert not (tmp_path / "debrief.html").exists()  # refused before anything ran
    assert main(["exercise", "debrief", str(state), "--runs", "3", "--robust", str(tiny_search)]) == 0
    html = (tmp_path / "debrief.html").read_text()
    assert 'id="placement"' in html and 'data-policy="class"' in html and 'id="placement-figure"' in html
    summits = int(game.history[0].results[Team.SEOUL].outcome in (MoveOutcome.MADE, MoveOutcome.MADE_JOINTLY))
    assert f"{summits} summits in 6 months" in html


def test_the_servers_debrief_places_the_class_once_per_reading(
    classroom: Scenario, tiny_search: Path, tmp_path: Path
) -> None:
    from sim.ui.policy import Search

    server = ExerciseServer(
        new_game(classroom),
        tmp_path / "game.json",
        new_tokens(tuple(ALL_TEAMS)),
        debrief_runs=2,
        search=Search.open(tiny_search),
    )
    app, token = server.app(), server.tokens["seoul"]
    assert server.placement() is None  # nothing played yet: nothing to place
    assert 'id="placement"' not in call(app, "GET", "/debrief", f"token={token}").text
    call(app, "POST", "/facilitator/advance", form={"token": server.tokens["facilitator"], "turn": "1"})
    first = server.placement()
    assert first is not None and server.placement() is first  # computed once for the same play
    page = call(app, "GET", "/debrief", f"token={token}").text
    assert 'id="placement"' in page and 'id="placement-verdict"' in page
    assert 'id="placement"' in call(app, "GET", "/debrief.html", f"token={token}").text
