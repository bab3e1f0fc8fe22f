"""The extension points: every event kind and every move is dispatched, a gap fails loudly, and the documented
move table matches the code (docs/extending.md describes how to add to each)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from sim.model import (
    EVENT_HANDLERS,
    EVENT_MOVES,
    MOVE_DRIVERS,
    NO_EFFECT_EVENTS,
    NO_STATE_CHANGE,
    RapprochementModel,
    check_dispatch,
)
from sim.moves import MOVE_ACTORS, MOVES, DispatchError, Move, Side, dispatch_table, require_every
from sim.outcomes import EVENT_COUNTS
from sim.scenario import GOVERNMENT_EVENTS, SEOUL_EVENTS, Event, EventKind, Scenario

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
DRIVER_ATTRIBUTES = ("history", "security", "trade", "exchange", "institutions")


def extended(enum: type[StrEnum], name: str, value: str) -> type[StrEnum]:
    """A copy of ``enum`` with one member more: what adding a member without its table entries looks like."""
    members = {member.name: member.value for member in enum} | {name: value}
    return StrEnum(f"Extended{enum.__name__}", members)  # type: ignore[return-value]


def model_of(scenario: Scenario) -> RapprochementModel:
    """A fresh model at its first month."""
    return RapprochementModel(scenario, rng=3)


def event_of(kind: EventKind, model: RapprochementModel) -> Event:
    """A valid inject of ``kind`` at the model's start, with the fields its kind needs, each set to a value that
    differs from the model's current one (so a handler that uses it changes something)."""
    actor = "seoul" if kind in SEOUL_EVENTS | GOVERNMENT_EVENTS else "world"
    data: dict[str, Any] = {"date": model.spec.meta.start, "kind": kind, "actor": actor}
    if kind is EventKind.US_POLICY_SHIFT:
        data["engagement"] = 1.0 - model.washington.target
    if kind is EventKind.LEADERSHIP_CHANGE:
        data |= {"orientation": 1.0 - model.governments[Side.SEOUL].orientation, "leader": "Someone New"}
    return Event.model_validate(data)


def state(model: RapprochementModel) -> dict[str, Any]:
    """A deep copy of everything an inject or a move can change: drivers, agents, counts, log and generators."""
    snapshot: dict[str, Any] = {}
    for name in DRIVER_ATTRIBUTES:
        driver = getattr(model, name)
        # Public attributes only: the private ones are constants derived from the scenario.
        snapshot[name] = {k: copy.deepcopy(v) for k, v in vars(driver).items() if not k.startswith("_")}
    w = model.washington
    snapshot["washington"] = (w.engagement, w.target, w.brokering_factor)
    for side, gov in model.governments.items():
        snapshot[side.value] = (
            gov.approval,
            gov.orientation,
            gov.camp,
            gov.leader,
            gov.partner_memory,
            dict(gov.last_used),
            gov.last_cost,
            gov.next_change,
        )
    for name, public in model.publics.items():
        snapshot[name] = (copy.copy(public.forcing), public.leader, public.opinions.copy().tolist())
    snapshot["counts"] = {name: getattr(model, name) for name in EVENT_COUNTS}
    snapshot["moves_log"] = list(model.moves_log)
    snapshot["rng"] = copy.deepcopy(model.rng.bit_generator.state)
    snapshot["random"] = model.random.getstate()
    return snapshot


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The parts of the state that differ."""
    return [key for key in before if before[key] != after[key]]


# --------------------------------------------------------------------------------------------------
# Event kinds


def test_every_event_kind_has_exactly_one_entry() -> None:
    assert set(EVENT_HANDLERS) == set(EventKind)
    for kind, handler in EVENT_HANDLERS.items():
        if handler is None:
            assert NO_EFFECT_EVENTS[kind].strip(), kind
        else:
            assert kind not in NO_EFFECT_EVENTS, kind
    assert all(EVENT_HANDLERS[kind] is RapprochementModel._inject_move for kind in EVENT_MOVES)


def test_election_is_declared_without_effect() -> None:
    # The vote is a marker; the winner takes office by a leadership_change inject of its own date.
    assert EVENT_HANDLERS[EventKind.ELECTION] is None
    assert "leadership_change" in NO_EFFECT_EVENTS[EventKind.ELECTION]


@pytest.mark.parametrize("kind", list(EventKind))
def test_each_event_kind_changes_the_state_unless_declared_without_effect(
    small_baseline: Scenario, kind: EventKind
) -> None:
    model = model_of(small_baseline)
    before = state(model)
    model.apply_event(event_of(kind, model))
    difference = changed(before, state(model))
    if kind in NO_EFFECT_EVENTS:
        assert difference == [], f"{kind.value} is declared without effect but changed {difference}"
    else:
        assert difference, f"{kind.value} has a handler but changed nothing"


def test_a_us_policy_shift_without_engagement_fails_loudly(small_baseline: Scenario) -> None:
    model = model_of(small_baseline)
    with pytest.raises(ValueError, match="engagement"):  # the schema refuses it when a scenario is loaded
        Event.model_validate({"date": model.spec.meta.start, "kind": "us_policy_shift", "actor": "washington"})
    # Built past the schema, the handler refuses it too rather than skipping it.
    unvalidated = Event.model_construct(
        date=model.spec.meta.start, kind=EventKind.US_POLICY_SHIFT, engagement=None
    )
    with pytest.raises(ValueError, match="engagement"):
        model.apply_event(unvalidated)


def test_an_event_kind_without_an_entry_fails_at_first_use(
    small_baseline: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_of(small_baseline)
    monkeypatch.delitem(EVENT_HANDLERS, EventKind.PANDEMIC)
    with pytest.raises(DispatchError, match="'pandemic'"):
        model.apply_event(event_of(EventKind.PANDEMIC, model))
    with pytest.raises(DispatchError, match=r"EVENT_HANDLERS .*'pandemic'"):
        check_dispatch()


def test_a_new_event_kind_fails_the_import_check() -> None:
    with pytest.raises(DispatchError, match=r"EVENT_HANDLERS has no entry for .*'volcano'"):
        check_dispatch(event_kinds=extended(EventKind, "VOLCANO", "volcano"))


def test_a_declared_no_effect_kind_needs_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(NO_EFFECT_EVENTS, EventKind.ELECTION, "")
    with pytest.raises(DispatchError, match="'election' has no handler and no reason"):
        check_dispatch()


def test_a_new_event_kind_stops_the_import_of_the_model() -> None:
    # In a fresh interpreter, so the extended enum never reaches this test session's modules.
    code = (
        "from enum import StrEnum\n"
        "import sim.scenario as s\n"
        "s.EventKind = StrEnum('EventKind', {m.name: m.value for m in s.EventKind} | {'VOLCANO': 'volcano'})\n"
        "import sim.model\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode != 0
    assert "DispatchError" in done.stderr and "'volcano'" in done.stderr


# --------------------------------------------------------------------------------------------------
# Moves


def test_every_move_has_exactly_one_driver_or_a_declared_reason() -> None:
    assert set(MOVE_DRIVERS) == set(Move)
    for move, driver in MOVE_DRIVERS.items():
        if driver is None:
            assert NO_STATE_CHANGE[move].strip(), move
        else:
            assert move not in NO_STATE_CHANGE, move


def actor_of(move: Move) -> Side:
    """A capital that may make ``move``."""
    return Side.SEOUL if Side.SEOUL in MOVE_ACTORS[move] else Side.TOKYO


def model_allowing(scenario: Scenario, move: Move) -> RapprochementModel:
    """A fresh model whose state allows ``move`` (after one other move of its driver if the start rules it out:
    there is nothing to lift or restore at the start)."""
    side = actor_of(move)
    model = model_of(scenario)
    driver = model.driver_of(move)
    if model.state_blocks(side, move) is None or driver is None:
        return model
    for first in sorted(type(driver).MOVES):
        model = model_of(scenario)
        model.enact(side, first, inject=True)
        if model.state_blocks(side, move) is None:
            return model
    raise AssertionError(f"no state of the {MOVE_DRIVERS[move]} driver allows {move.value}")


#: What a move without a driver must leave alone: the standing arrangements (the history dispute's flags, the trade
#: measures, GSOMIA). Salience and the climate are the move table's, which every move changes.
ARRANGEMENTS = {
    "history": ("dispute_open", "compensation_fund", "agreement_in_force"),
    "security": ("gsomia", "notice_months_left"),
    "trade": ("flags", "wto_filer", "boycott"),
}


@pytest.mark.parametrize("move", list(Move))
def test_each_move_is_applied_by_its_driver(small_baseline: Scenario, move: Move) -> None:
    model = model_allowing(small_baseline, move)
    name, driver = MOVE_DRIVERS[move], model.driver_of(move)
    if name is None:
        assert driver is None
    else:
        assert driver is getattr(model, name)
        assert move in type(driver).MOVES
    before = state(model)
    assert model.enact(actor_of(move), move, inject=True)
    after = state(model)
    assert model.moves_log[-1][2] is move
    arrangements = {
        (driver_name, field): (before[driver_name][field], after[driver_name][field])
        for driver_name, fields in ARRANGEMENTS.items()
        for field in fields
    }
    moved = {key for key, (old, new) in arrangements.items() if old != new}
    if name is None:
        assert moved == set(), f"{move.value} is declared without state change but changed {moved}"
    else:
        # A move the state allows changes its own driver's arrangements, and no other driver's.
        assert moved, f"{move.value} left the {name} driver's state alone"
        assert {driver_name for driver_name, _ in moved} == {name}


@pytest.mark.parametrize("name", ["history", "security", "trade"])
def test_a_driver_refuses_a_move_it_does_not_apply(small_baseline: Scenario, name: str) -> None:
    model = model_of(small_baseline)
    driver = getattr(model, name)
    for move in set(Move) - type(driver).MOVES:
        with pytest.raises(DispatchError, match=repr(move.value)):
            driver.apply(Side.SEOUL, move)


def test_a_move_without_an_entry_fails_at_first_use(
    small_baseline: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_of(small_baseline)
    monkeypatch.delitem(MOVE_DRIVERS, Move.SUMMIT)
    with pytest.raises(DispatchError, match="'summit'"):
        model.state_blocks(Side.SEOUL, Move.SUMMIT)
    with pytest.raises(DispatchError, match="'summit'"):
        model.enact(Side.SEOUL, Move.SUMMIT, inject=True)
    with pytest.raises(DispatchError, match=r"MOVE_DRIVERS .*'summit'"):
        check_dispatch()


def test_a_new_move_fails_the_import_checks() -> None:
    bigger = extended(Move, "SANCTION", "sanction")
    with pytest.raises(DispatchError, match=r"MOVE_DRIVERS has no entry for .*'sanction'"):
        check_dispatch(moves=bigger)
    with pytest.raises(DispatchError, match=r"MOVE_ACTORS has no entry for .*'sanction'"):
        require_every(bigger, MOVE_ACTORS, "MOVE_ACTORS")


def test_a_member_in_two_groups_fails() -> None:
    with pytest.raises(DispatchError, match="two entries for Move 'hold'"):
        dispatch_table(Move, "T", [((Move.HOLD,), 1), (list(Move), 2)])


# --------------------------------------------------------------------------------------------------
# The move table of docs/ODD.md


def odd_move_table() -> dict[str, dict[str, str]]:
    """The rows of the move table in docs/ODD.md section 8, by move name, each a mapping column -> cell."""
    section = ODD.read_text(encoding="utf-8").split("## 8. Move table", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        row = dict(zip(header, cells, strict=True))
        rows[row["move"].strip("`")] = row
    return rows


def number(cell: str) -> float:
    """A table cell as a number: blank is 0; the typographic minus is a minus."""
    return float(cell.replace("−", "-").replace("+", "")) if cell else 0.0


WHO = {"both": frozenset(Side), "Seoul": frozenset({Side.SEOUL}), "Tokyo": frozenset({Side.TOKYO})}
NUMBER_COLUMNS = {
    "$c$": "conciliation",
    "climate": "climate",
    "salience": "salience",
    "inst.": "institutions",
    "security": "security",
    "trade": "trade",
}


def test_odd_move_table_lists_every_move() -> None:
    assert set(odd_move_table()) == {move.value for move in Move}


@pytest.mark.parametrize("move", list(Move))
def test_odd_move_table_matches_the_code(move: Move) -> None:
    row, spec = odd_move_table()[move.value], MOVES[move]
    for column, field in NUMBER_COLUMNS.items():
        assert number(row[column]) == pytest.approx(getattr(spec, field)), (move.value, column)
    assert WHO[row["who"]] == spec.actors
    assert (row["partner"] == "yes") == spec.needs_partner
    assert int(row["cooldown"]) == spec.cooldown
    # The state-change column names the driver that applies the move, or says none.
    driver = MOVE_DRIVERS[move]
    expected = "none" if driver is None else f"{driver}:"
    assert row["state change"].startswith(expected), (move.value, row["state change"])


def test_odd_inject_table_lists_every_event_kind() -> None:
    section = ODD.read_text(encoding="utf-8").split("## 9. Inject table", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    listed: dict[str, str] = {}
    for line in lines[2:]:  # after the header and its rule
        kinds_cell, effect = line.strip("|").split("|", 1)
        for kind in re.findall(r"`([a-z_]+)`", kinds_cell):
            listed[kind] = effect.strip()
    assert set(listed) == {kind.value for kind in EventKind}
    for kind in NO_EFFECT_EVENTS:
        assert listed[kind.value].startswith("none"), kind.value
