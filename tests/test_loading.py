"""Tests for sim.loading: strict YAML reading, extends, --set overrides, friendly errors."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import re
import string
import tempfile
import textwrap
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim import loading
from sim.loading import (
    MAX_EXTENDS_DEPTH,
    MAX_FILE_BYTES,
    Problem,
    ScenarioError,
    apply_overrides,
    deep_merge,
    load,
    read_yaml_mapping,
    resolve_extends,
    validate,
)

# --------------------------------------------------------------------------- toy schema

_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?")


def _check_date(value: str) -> str:
    if not _DATE.fullmatch(value):
        raise ValueError("expected a date like 2026-03-01 or a month like 2026-03")
    try:
        dt.date.fromisoformat(value if len(value) == 10 else value + "-01")
    except ValueError:
        raise ValueError("expected a real calendar date like 2026-03-01") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Security(_Strict):
    nk_rate: float = Field(ge=0)
    alert: float = Field(ge=0, le=1)


class Economy(_Strict):
    growth: float = 0.0
    sectors: list[str] = []


class Drivers(_Strict):
    security: Security
    economy: Economy = Economy()


class Event(_Strict):
    date: str
    label: str

    @field_validator("date")
    @classmethod
    def _date(cls, value: str) -> str:
        return _check_date(value)


class Scenario(_Strict):
    name: str
    start: str
    steps: int = Field(ge=1, le=1000)
    drivers: Drivers
    events: list[Event] = []

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        return _check_date(value)


# Line numbers below refer to this text: name 1, start 2, steps 3, drivers 4, security 5,
# nk_rate 6, alert 7, economy 8, growth 9, sectors 10, events 11, events[0] 12, events[1] 14.
GOOD = """\
name: baseline
start: 2026-03-01
steps: 12
drivers:
  security:
    nk_rate: 0.2
    alert: 0.5
  economy:
    growth: 0.01
    sectors: [steel, chips]
events:
  - date: 2026-04
    label: summit
  - date: 2026-05-15
    label: election
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def good_with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def load_error(path: Path, overrides: tuple[str, ...] = ()) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load(Scenario, path, overrides)
    return info.value


def read_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        read_yaml_mapping(path)
    return info.value


# --------------------------------------------------------------------------- happy path


def test_good_file_loads_into_frozen_model(tmp_path: Path) -> None:
    scenario = load(Scenario, write(tmp_path, "good.yaml", GOOD))
    assert isinstance(scenario, Scenario)
    assert scenario.start == "2026-03-01"  # YAML date kept as the ISO text
    assert scenario.events[1].date == "2026-05-15"
    assert scenario.drivers.economy.sectors == ["steel", "chips"]
    with pytest.raises(ValidationError):
        scenario.steps = 3


def test_read_yaml_mapping_returns_lines(tmp_path: Path) -> None:
    data, lines = read_yaml_mapping(write(tmp_path, "good.yaml", GOOD))
    assert data["drivers"]["security"] == {"nk_rate": 0.2, "alert": 0.5}
    assert lines["name"] == 1
    assert lines["drivers.security.nk_rate"] == 6
    assert lines["drivers.economy.sectors[1]"] == 10
    assert lines["events[1]"] == 14
    assert lines["events[1].label"] == 15


def test_dates_and_datetimes_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", "a: 2026-03-01\nb: 2026-03-01 10:30:00\nc: 2026-03\n")
    data, _ = read_yaml_mapping(path)
    assert data == {"a": "2026-03-01", "b": "2026-03-01 10:30:00", "c": "2026-03"}


def test_anchor_merge_keys_are_supported_and_unshared(tmp_path: Path) -> None:
    text = """\
    base: &base {x: 1, y: [1, 2]}
    child:
      <<: *base
      y: [3]
    copy: *base
    """
    data, lines = read_yaml_mapping(write(tmp_path, "m.yaml", text))
    assert data == {
        "base": {"x": 1, "y": [1, 2]},
        "child": {"x": 1, "y": [3]},
        "copy": {"x": 1, "y": [1, 2]},
    }
    assert lines["child.y"] == 4
    assert lines["child.x"] == 1  # inherited through the merge key: where it was written
    data["copy"]["y"].append(9)  # aliases must not share Python objects
    assert data["base"]["y"] == [1, 2]


# --------------------------------------------------------------------------- validation errors


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", good_with("steps: 12", "steps: many"))
    err = load_error(path)
    assert str(err) == f"{path}:3: steps: expected a whole number, got 'many'"
    assert err.file == str(path)
    assert err.problems == [Problem("steps", "expected a whole number, got 'many'", 3)]


def test_wrong_container_type(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", good_with("    sectors: [steel, chips]", "    sectors: 5"))
    assert str(load_error(path)) == f"{path}:10: drivers.economy.sectors: expected a list, got 5"


def test_unknown_key_lists_valid_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", good_with("    nk_rate: 0.2", "    nk_rat: 0.2"))
    text = str(load_error(path))
    assert (
        f"{path}:6: drivers.security.nk_rat: unknown field "
        "(valid fields here: nk_rate, alert); did you mean 'nk_rate'?"
    ) in text
    # ... and the now-missing real field is reported at its parent's line
    assert f"{path}:5: drivers.security.nk_rate: required field missing" in text


def test_unknown_key_inside_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", good_with("    label: election", "    labl: election"))
    text = str(load_error(path))
    assert f"{path}:15: events[1].labl: unknown field (valid fields here: date, label)" in text


def test_out_of_range_values(tmp_path: Path) -> None:
    text = good_with("    alert: 0.5", "    alert: 1.7")
    text = text.replace("nk_rate: 0.2", "nk_rate: -3").replace("steps: 12", "steps: 0")
    path = write(tmp_path, "x.yaml", text)
    assert str(load_error(path)).splitlines() == [
        f"{path}:3: steps: expected a number >= 1, got 0",
        f"{path}:6: drivers.security.nk_rate: expected a number >= 0, got -3",
        f"{path}:7: drivers.security.alert: expected a number <= 1, got 1.7",
    ]


def test_bad_date_string(tmp_path: Path) -> None:
    text = good_with("  - date: 2026-05-15", "  - date: 2026-13-01").replace("start: 2026-03-01", "start: March")
    path = write(tmp_path, "x.yaml", text)
    assert str(load_error(path)).splitlines() == [
        f"{path}:2: start: expected a date like 2026-03-01 or a month like 2026-03, got 'March'",
        f"{path}:14: events[1].date: expected a real calendar date like 2026-03-01, got '2026-13-01'",
    ]


def test_missing_required(tmp_path: Path) -> None:
    text = good_with("    alert: 0.5\n", "").replace("name: baseline\n", "")
    path = write(tmp_path, "x.yaml", text)
    assert str(load_error(path)).splitlines() == [
        f"{path}: name: required field missing",
        f"{path}:4: drivers.security.alert: required field missing",
    ]


def test_no_pydantic_urls_or_jargon(tmp_path: Path) -> None:
    text = good_with("steps: 12", "steps: [1]").replace("alert: 0.5", "alert: {a: 1}")
    err = load_error(write(tmp_path, "x.yaml", text))
    assert "errors.pydantic.dev" not in str(err)
    assert "http" not in str(err)
    assert "Input should" not in str(err)
    assert "got a list" in str(err)
    assert "got a mapping" in str(err)


class Shock(_Strict):
    kind: Literal["shock"]
    size: float = Field(ge=0, le=1)


class Vote(_Strict):
    kind: Literal["vote"]
    date: str


class Timeline(_Strict):
    items: list[Annotated[Shock | Vote, Field(discriminator="kind")]]


def test_discriminated_union_errors(tmp_path: Path) -> None:
    text = """\
    items:
      - {kind: shock, size: 2}
      - kind: vote
        dte: 2026-03
      - {kind: strike}
    """
    path = write(tmp_path, "t.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load(Timeline, path)
    assert str(info.value).splitlines() == [
        f"{path}:2: items[0].size: expected a number <= 1, got 2",
        f"{path}:3: items[1].date: required field missing",
        f"{path}:4: items[1].dte: unknown field (valid fields here: kind, date); did you mean 'date'?",
        f"{path}:5: items[2]: expected 'kind' to be one of 'shock', 'vote', got 'strike'",
    ]


class Crew(StrEnum):
    PILOT = "pilot"
    NAVIGATOR = "navigator"


class Signal(StrEnum):
    """More values than an error lists when one of them is close."""

    ALPHA = "alpha"
    BRAVO = "bravo"
    CHARLIE = "charlie"
    DELTA = "delta"
    ECHO = "echo"
    FOXTROT = "foxtrot"
    GOLF = "golf"
    HOTEL = "hotel"
    INDIA = "india"
    JULIET = "juliet"
    KILO = "kilo"


class Flight(_Strict):
    crew: Crew
    signals: tuple[Signal, ...] = ()
    mode: Literal["day", "night"] = "day"
    briefings: dict[Crew, str] = {}


def test_a_misspelt_enum_value_gets_a_suggestion(tmp_path: Path) -> None:
    text = """\
    crew: pilto
    signals: [alpha, fxtrot, zulu]
    mode: nihgt
    briefings: {navigatr: text}
    """
    path = write(tmp_path, "f.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load(Flight, path)
    assert str(info.value).splitlines() == [
        f"{path}:1: crew: expected 'pilot' or 'navigator', got 'pilto'; did you mean 'pilot'?",
        f"{path}:2: signals[1]: expected one of 11 values, got 'fxtrot'; did you mean 'foxtrot'?",
        # nothing close: every value is listed
        f"{path}:2: signals[2]: expected 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', "
        "'hotel', 'india', 'juliet' or 'kilo', got 'zulu'",
        f"{path}:3: mode: expected 'day' or 'night', got 'nihgt'; did you mean 'night'?",
        f"{path}:4: briefings.navigatr: expected 'pilot' or 'navigator', got 'navigatr'; "
        "did you mean 'navigator'?",
    ]


def test_a_misspelt_event_kind_or_actor_in_a_scenario_gets_a_suggestion(tmp_path: Path) -> None:
    from sim.scenario import load_scenario

    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    text = f"""\
    extends: {baseline}
    meta:
      name: typo
    events:
      - date: 2026-01
        kind: court_rulling
        actor: seul
    """
    path = write(tmp_path, "typo.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).splitlines() == [
        f"{path}:6: events[0].kind: expected one of 28 values, got 'court_rulling'; did you mean 'court_ruling'?",
        f"{path}:7: events[0].actor: expected 'seoul', 'tokyo', 'seoul+tokyo', 'washington', 'pyongyang', "
        "'beijing', 'korea_public', 'japan_public' or 'world', got 'seul'; did you mean 'seoul'?",
    ]


def test_a_misspelt_union_tag_gets_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "items:\n  - {kind: shok, size: 1}\n")
    with pytest.raises(ScenarioError) as info:
        load(Timeline, path)
    assert str(info.value) == (
        f"{path}:2: items[0]: expected 'kind' to be one of 'shock', 'vote', got 'shok'; did you mean 'shock'?"
    )


def test_validate_without_origins_has_no_lines() -> None:
    data: dict[str, Any] = {"name": "n", "start": "2026-03", "steps": 1.5}
    data["drivers"] = {"security": {"nk_rate": 0, "alert": 0}}
    with pytest.raises(ScenarioError) as info:
        validate(Scenario, data, file="inline")
    assert str(info.value) == "inline: steps: expected a whole number, got 1.5"


def test_validate_does_not_mutate_input() -> None:
    data: dict[str, Any] = {"name": "n", "start": "2026-03", "steps": 2}
    data["drivers"] = {"security": {"nk_rate": 0, "alert": 0}}
    before = copy.deepcopy(data)
    assert validate(Scenario, data, file="inline").steps == 2
    assert data == before


# --------------------------------------------------------------------------- reading errors


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "name: a\nsteps: [1, 2\ndrivers: {}\n")
    err = read_error(path)
    assert len(err.problems) == 1
    assert err.problems[0].field == ""
    assert err.problems[0].line is not None and err.problems[0].line >= 3
    assert str(err).startswith(f"{path}:{err.problems[0].line}: YAML syntax error at column ")


def test_yaml_syntax_error_line_for_bad_indentation(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a:\n  b: 1\n c: 2\n")
    err = read_error(path)
    assert err.problems[0].line == 3
    assert str(err).startswith(f"{path}:3: YAML syntax error")


def test_tab_indentation_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a:\n\tb: 1\n")
    assert "use spaces, not tabs" in str(read_error(path))


def test_python_tag_refused_and_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"name: x\nsteps: !!python/object/apply:os.system ['touch {marker}']\n"
    path = write(tmp_path, "x.yaml", text)
    err = load_error(path)
    assert str(err).startswith(f"{path}:2: steps: the YAML tag !!python/object/apply:os.system is not allowed")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!custom 3", "!custom"),
    ],
)
def test_other_tags_refused(tmp_path: Path, value: str, tag: str) -> None:
    path = write(tmp_path, "x.yaml", f"a:\n  b: {value}\n")
    assert str(read_error(path)).startswith(f"{path}:2: a.b: the YAML tag {tag} is not allowed")


def test_explicit_standard_tags_work_or_explain(tmp_path: Path) -> None:
    data, _ = read_yaml_mapping(write(tmp_path, "ok.yaml", "a: !!str 12\nb: !!float 1\n"))
    assert data == {"a": "12", "b": 1.0}
    path = write(tmp_path, "x.yaml", "a: !!int twelve\n")
    assert str(read_error(path)) == f"{path}:1: a: 'twelve' is not a valid !!int"


def test_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "drivers:\n  security: 1\n  economy: 2\n  security: 3\n")
    assert str(read_error(path)) == (
        f"{path}:4: drivers.security: duplicate key 'security' (already given on line 2); "
        "YAML would silently keep only the last one"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n", "~\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    assert str(read_error(path)) == (f"{path}: the file is empty; expected settings written as 'key: value' lines")


@pytest.mark.parametrize(("text", "shown"), [("- a\n- b\n", "a list"), ("just words\n", "'just words'")])
def test_top_level_not_a_mapping(tmp_path: Path, text: str, shown: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    assert str(read_error(path)) == (
        f"{path}:1: expected settings written as 'key: value' lines at the top level, got {shown}"
    )


def test_multiple_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a: 1\n---\nb: 2\n")
    assert str(read_error(path)).startswith(f"{path}:2: the file holds more than one YAML document")


def test_non_text_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "drivers:\n  no: 1\n  3: 2\n  ~: 4\n  ok: 5\n")
    lines = str(read_error(path)).splitlines()
    assert lines[0].startswith(f"{path}:2: drivers.no: the key 'no' is read by YAML as a true/false")
    assert lines[1].startswith(f"{path}:3: drivers.3: the key 3 is a number, not a name")
    assert lines[2].startswith(f"{path}:4: drivers.~: a key is empty (null)")
    assert len(lines) == 3


def test_date_keys_are_text(tmp_path: Path) -> None:
    data, lines = read_yaml_mapping(write(tmp_path, "x.yaml", "cal:\n  2026-03-01: summit\n"))
    assert data == {"cal": {"2026-03-01": "summit"}}
    assert lines["cal.2026-03-01"] == 2


def test_too_big_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    err = read_error(path)
    assert str(err).startswith(f"{path}: the file is too large (")
    assert f"{MAX_FILE_BYTES:,}" in str(err)


def test_alias_bomb_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    # Refused by counting while reading, before anything is expanded (speed belongs to benchmarks, not tests).
    err = read_error(path)
    assert str(err).startswith(f"{path}: the YAML expands to more than 100,000 values")


def test_too_many_values_refused_while_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_YAML_NODES", 50)
    path = write(tmp_path, "x.yaml", "".join(f"k{i}: [1, 2]\n" for i in range(20)))
    assert str(read_error(path)).startswith(f"{path}: the YAML expands to more than 50 values")
    read_yaml_mapping(write(tmp_path, "ok.yaml", "".join(f"k{i}: 1\n" for i in range(20))))


def test_self_referencing_anchor_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a: 1\nb: &loop [1, *loop]\n")
    assert str(read_error(path)).startswith(f"{path}:2: an alias refers to the anchor")


@pytest.mark.parametrize("depth", [65, 3000, 400_000])
def test_absurd_nesting_refused(tmp_path: Path, depth: int) -> None:
    path = write(tmp_path, "x.yaml", "a: " + "[" * depth + "]" * depth + "\n")
    assert str(read_error(path)) == f"{path}: the YAML is nested more than 64 levels deep"
    write(tmp_path, "ok.yaml", "a: " + "[" * 60 + "]" * 60 + "\n")
    assert read_yaml_mapping(tmp_path / "ok.yaml")[1]["a" + "[0]" * 59] == 1


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert str(read_error(tmp_path / "nope.yaml")) == f"{tmp_path / 'nope.yaml'}: file not found"
    assert "this is a folder" in str(read_error(tmp_path))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    assert str(read_error(path)) == (
        f"{path}:2: the file is not UTF-8 text (byte 0xe9 cannot be decoded); save it as UTF-8"
    )


def test_control_character_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a: 1\nb: \x07\n")
    assert str(read_error(path)) == f"{path}:2: the file contains a character YAML does not allow (U+0007)"


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("\ufeffa: é\n".encode())
    assert read_yaml_mapping(path)[0] == {"a": "é"}


# --------------------------------------------------------------------------- extends


def test_extends_merge_semantics(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.yaml",
        """\
        name: base
        drivers:
          security: {nk_rate: 0.1, alert: 0.2}
          economy: {growth: 0.5, sectors: [a, b, c]}
        events: [{date: 2026-01, label: x}]
        """,
    )
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        name: child
        drivers:
          security: {alert: 0.9}
          economy: {sectors: [z]}
        """,
    )
    data, origins = resolve_extends(child)
    assert data == {
        "name": "child",
        "drivers": {
            "security": {"nk_rate": 0.1, "alert": 0.9},
            "economy": {"growth": 0.5, "sectors": ["z"]},
        },
        "events": [{"date": "2026-01", "label": "x"}],
    }
    base = str(tmp_path / "base.yaml")
    assert origins["name"] == (str(child), 2)
    assert origins["drivers.security.alert"] == (str(child), 4)
    assert origins["drivers.security.nk_rate"] == (base, 3)
    assert origins["drivers.economy.growth"] == (base, 4)
    assert origins["drivers.economy.sectors[0]"] == (str(child), 5)
    assert "drivers.economy.sectors[2]" not in origins
    assert origins["events[0].label"] == (base, 5)
    assert "extends" not in origins


def test_extends_chain_and_relative_folders(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path, "lib/root.yaml", "a: 1\nb: 1\nc: 1\n")
    write(tmp_path, "lib/mid.yaml", "extends: root.yaml\nb: 2\nc: 2\n")
    top = write(tmp_path, "top.yaml", "extends: lib/mid.yaml\nc: 3\n")
    data, origins = resolve_extends(top)
    assert data == {"a": 1, "b": 2, "c": 3}
    assert origins["a"] == (str(tmp_path / "lib" / "root.yaml"), 1)
    assert origins["b"] == (str(tmp_path / "lib" / "mid.yaml"), 2)


def test_error_in_parent_reported_with_parents_file_and_line(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", good_with("    alert: 0.5", "    alert: 7"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\nsteps: -1\n")
    err = load_error(child)
    assert err.file == str(child)
    assert str(err).splitlines() == [
        f"{child}:3: steps: expected a number >= 1, got -1",
        f"{base}:7: drivers.security.alert: expected a number <= 1, got 7",
    ]


def test_yaml_error_in_parent_names_parent(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "a: 1\na: 2\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    first, second = str(load_error(child)).splitlines()[:2]
    assert first == f"{child}:1: extends: the parent file {base} cannot be loaded:"
    assert second.startswith(f"{base}:2: a: duplicate key 'a'")


def test_missing_parent(tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "name: x\nextends: nowhere.yaml\n")
    assert str(load_error(child)) == (
        f"{child}:2: extends: the parent file {tmp_path / 'nowhere.yaml'} does not exist"
    )


def test_circular_extends(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nx: 1\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\ny: 1\n")
    err = load_error(a)
    assert str(err) == f"{b}:1: extends: circular 'extends': {a} -> {b} -> {a}"


def test_self_extends(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "x: 1\nextends: ./a.yaml\n")
    assert str(load_error(a)) == f"{a}:2: extends: circular 'extends': {a} -> {a}"


def test_extends_depth_limit(tmp_path: Path) -> None:
    write(tmp_path, "f0.yaml", "x: 0\n")
    for i in range(1, MAX_EXTENDS_DEPTH + 2):
        write(tmp_path, f"f{i}.yaml", f"extends: f{i - 1}.yaml\nx: {i}\n")
    data, _ = resolve_extends(tmp_path / f"f{MAX_EXTENDS_DEPTH}.yaml")  # exactly at the limit
    assert data == {"x": MAX_EXTENDS_DEPTH}
    err = load_error(tmp_path / f"f{MAX_EXTENDS_DEPTH + 1}.yaml")
    assert err.problems[0].field == "extends"
    assert f"too many levels of 'extends' (the limit is {MAX_EXTENDS_DEPTH})" in str(err)


@pytest.mark.parametrize("value", ["[a.yaml]", "~", "''", "3"])
def test_extends_must_be_a_path(tmp_path: Path, value: str) -> None:
    child = write(tmp_path, "child.yaml", f"name: x\nextends: {value}\n")
    assert str(load_error(child)).startswith(
        f"{child}:2: extends: expected the path of another scenario file, got "
    )


def test_extends_that_climbs_out_of_its_folder_names_the_file_that_said_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main

    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    folder = tmp_path / "scenarios" / "class"
    folder.mkdir(parents=True)
    missing = write(folder, "missing.yaml", "meta:\n  name: missing\nextends: ../../etc/x.yaml\n")
    unreadable = write(folder, "unreadable.yaml", "extends: ../../etc/passwd\nmeta:\n  name: unreadable\n")
    a_folder = write(folder, "folder.yaml", "extends: ../..\n")
    up = folder / ".." / ".."  # as the loader shows a path: as written, from the file's folder
    for command in ("validate", "run"):
        assert main([command, str(missing)]) == 2
        assert capsys.readouterr().err == (
            f"error: {missing}:3: extends: the parent file {up / 'etc' / 'x.yaml'} "
            f"(that is, {outside.resolve() / 'x.yaml'}) does not exist\n"
        )
        assert main([command, str(unreadable)]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"error: {unreadable}:1: extends: the parent file {up / 'etc' / 'passwd'} "
            f"(that is, {outside.resolve() / 'passwd'}) cannot be loaded:",
            f"{up / 'etc' / 'passwd'}:1: expected settings written as 'key: value' lines at the top level, "
            "got 'root:x:0:0:root:/root:/bin/bash'",
        ]
    assert main(["validate", str(a_folder)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {a_folder}:1: extends: the parent file {up} (that is, {tmp_path.resolve()}) cannot be loaded:",
        f"{up}: expected a YAML file, but this is a folder",
    ]


def test_custom_extends_key(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "a: 1\nb: 1\n")
    child = write(tmp_path, "child.yaml", "inherit: base.yaml\nb: 2\n")
    assert resolve_extends(child, key="inherit")[0] == {"a": 1, "b": 2}


# --------------------------------------------------------------------------- overrides


def test_set_override_applied(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    scenario = load(
        Scenario,
        path,
        [
            "steps=30",
            "drivers.security.alert=1",
            "drivers.economy.sectors=[ships]",
            "events[0].date=2027-01-02",
            "name=Crisis: part 2",
        ],
    )
    assert scenario.steps == 30
    assert scenario.drivers.security.alert == 1.0
    assert scenario.drivers.economy.sectors == ["ships"]
    assert scenario.events[0].date == "2027-01-02"
    assert scenario.name == "Crisis: part 2"


def test_override_value_parsing() -> None:
    data: dict[str, Any] = dict.fromkeys("abcdefghijk", 0)
    result = apply_overrides(
        data,
        [
            *("a=3", "b=0.5", "c=true", "d=[1, 2]", "e=2026-03-01", "f=null", "g=", "h={x: 1}"),
            *("i=Crisis: part: 2", "j=@handle", "k=#1"),
        ],
    )
    assert result == {
        "i": "Crisis: part: 2",
        "j": "@handle",
        "k": "#1",
        "a": 3,
        "b": 0.5,
        "c": True,
        "d": [1, 2],
        "e": "2026-03-01",
        "f": None,
        "g": "",
        "h": {"x": 1},
    }


def test_override_error_points_at_set(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    err = load_error(path, ("drivers.security.alert=1.7",))
    assert str(err) == "--set: drivers.security.alert: expected a number <= 1, got 1.7"


def test_unknown_override_path_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    err = load_error(path, ("drivers.securty.alert=0.3",))
    assert err.file == "--set"
    assert str(err) == (
        "--set: drivers.securty.alert: unknown field 'securty' in drivers; "
        "did you mean drivers.security? (valid fields here: security, economy)"
    )
    err = load_error(path, ("drivers.security.alret=0.3",))
    assert "did you mean drivers.security.alert?" in str(err)


def test_override_path_problems() -> None:
    data = {"a": {"b": 1}, "items": [{"x": 1}]}
    with pytest.raises(ScenarioError) as info:
        apply_overrides(
            data,
            ["no equals sign", "=3", "a.b.c=1", "items[3].x=1", "a[0]=1", "a..b=1", "zzz=1"],
            source="cli",
        )
    assert str(info.value).splitlines() == [
        "cli: expected dotted.path=value, got 'no equals sign'",
        "cli: expected dotted.path=value, got '=3'",
        "cli: a.b.c: a.b is not a mapping (it holds 1), so it has no 'c'",
        "cli: items[3].x: items has 1 items, so there is no [3]",
        "cli: a[0]: a is not a list (it holds a mapping)",
        "cli: a..b: not a valid field path; write it like drivers.security.nk_rate or events[2].date",
        "cli: zzz: unknown field 'zzz' at the top level (valid fields here: a, items)",
    ]


def test_override_value_must_be_safe_yaml() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides({"a": 1}, ["a=!!python/object/apply:os.system ['true']", "a=[1"])
    lines = str(info.value).splitlines()
    assert lines[0].startswith("--set: a: could not read the value")
    assert "!!python/object/apply:os.system is not allowed" in lines[0]
    assert "YAML syntax error" in lines[1]


def test_overrides_do_not_mutate_input() -> None:
    data: dict[str, Any] = {"a": {"b": [1, {"c": 2}]}, "d": 1}
    before = copy.deepcopy(data)
    result = apply_overrides(data, ["a.b[1].c=5", "d=2"])
    assert data == before
    assert result == {"a": {"b": [1, {"c": 5}]}, "d": 2}


def test_overrides_unshare_aliased_values() -> None:
    shared = {"x": 1}
    result = apply_overrides({"a": shared, "b": shared}, ["a.x=2"])
    assert result == {"a": {"x": 2}, "b": {"x": 1}}
    assert shared == {"x": 1}


# --------------------------------------------------------------------------- error object


def test_scenario_error_pickles_and_formats() -> None:
    err = ScenarioError(
        Path("s/x.yaml"),
        [Problem("a.b", "bad", 3), Problem("", "whole file"), Problem("c", "m", 1, "base.yaml")],
    )
    assert str(err) == "s/x.yaml:3: a.b: bad\ns/x.yaml: whole file\nbase.yaml:1: c: m"
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, ScenarioError)
    assert again.file == err.file
    assert again.problems == err.problems
    assert str(again) == str(err)


# --------------------------------------------------------------------------- properties

_KEYS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_TREES = st.recursive(
    st.dictionaries(_KEYS, _SCALARS, max_size=4),
    lambda children: st.dictionaries(_KEYS, children | st.lists(_SCALARS, max_size=3) | _SCALARS, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every dotted path (containers included) -> value."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        items = [(f"{prefix}.{k}" if prefix else k, v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return found
    for path, item in items:
        found[path] = item
        found.update(_paths(item, path))
    return found


def _leaves(value: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Non-mapping values of nested dicts (lists count as leaves), by key tuple."""
    found: dict[tuple[str, ...], Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            found.update(_leaves(item, (*prefix, key)))
        else:
            found[(*prefix, key)] = item
    return found


def _get(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = value[key]
    return value


@settings(max_examples=150, deadline=None)
@given(_TREES)
def test_property_yaml_round_trip_with_lines(tree: dict[str, Any]) -> None:
    text = yaml.safe_dump(tree, sort_keys=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tree.yaml"
        path.write_text(text, encoding="utf-8")
        data, lines = read_yaml_mapping(path)
    assert data == tree
    assert set(lines) == set(_paths(tree))
    line_count = text.count("\n") + 1
    assert all(1 <= line <= line_count for line in lines.values())


@settings(max_examples=200, deadline=None)
@given(_TREES, _TREES)
def test_property_deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> None:
    parent_before, child_before = copy.deepcopy(parent), copy.deepcopy(child)
    assert deep_merge(parent, {}) == parent
    assert deep_merge({}, child) == child
    merged = deep_merge(parent, child)
    child_leaves = _leaves(child)
    for keys, value in child_leaves.items():
        assert _get(merged, keys) == value
    child_paths = {tuple(re.split(r"\.", p)) for p in _paths(child) if "[" not in p}
    for keys, value in _leaves(parent).items():
        shadowed = keys in child_paths or any(keys[:i] in child_leaves for i in range(1, len(keys)))
        if not shadowed:
            assert _get(merged, keys) == value
    assert parent == parent_before
    assert child == child_before


_NEW_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**9), max_value=10**9)
    | st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=10)
    | st.lists(st.integers(min_value=0, max_value=99), max_size=3)
)


@settings(max_examples=200, deadline=None)
@given(_TREES, _NEW_VALUES, st.data())
def test_property_override_sets_exactly_one_leaf(tree: dict[str, Any], new: Any, data: st.DataObject) -> None:
    leaf_paths = [p for p, v in _paths(tree).items() if not isinstance(v, dict) or not v]
    if not leaf_paths:
        return
    path = data.draw(st.sampled_from(leaf_paths))
    before = copy.deepcopy(tree)
    result = apply_overrides(tree, [f"{path}={json.dumps(new)}"])
    assert tree == before
    changed = _paths(result)
    original = _paths(before)
    assert changed[path] == new
    for other, value in original.items():
        if other == path or other.startswith((f"{path}.", f"{path}[")):
            continue
        if path.startswith((f"{other}.", f"{other}[")):
            continue  # an ancestor container: it now holds the new leaf
        assert changed[other] == value
