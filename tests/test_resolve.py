"""One way to read and set a scenario field by its dotted path, and one message when the path names nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import sim
from sim.designs import DesignError, factors_of, is_whole_number
from sim.errors import RapprochementError
from sim.loading import ScenarioError, ScenarioPathError, locate
from sim.scenario import EventKind, Scenario, Team, load_scenario
from sim.ui import dashboard
from sim.validation.calibrate import CalibrationError, parse_parameters
from tests.conftest import SCENARIOS

TYPO = "drivers.securty.nk_provocation_rate"
#: What every caller says about ``TYPO``: the part that failed, where, and the field it probably meant.
TYPO_REASON = "unknown field 'securty' in drivers; did you mean drivers.security?"


@pytest.fixture(scope="module")
def classroom() -> Scenario:
    """A scenario with events, an exercise (a mapping of briefings) and a posterior (a field with an alias)."""
    return load_scenario(SCENARIOS / "classroom.yaml")


def reason_of(scenario: Scenario, path: str) -> str:
    with pytest.raises(ScenarioPathError) as info:
        scenario.resolve(path)
    return info.value.reason


# --------------------------------------------------------------------------- reading


def test_resolve_reads_fields_list_items_and_mapping_entries(classroom: Scenario) -> None:
    assert classroom.resolve("levers.seoul.cooperation_priority") == classroom.levers.seoul.cooperation_priority
    assert classroom.resolve("drivers.security") is classroom.drivers.security
    assert classroom.resolve("events[0].kind") == classroom.events[0].kind
    assert isinstance(classroom.resolve("events[0].kind"), EventKind)
    assert classroom.exercise is not None
    assert classroom.resolve("exercise.briefings.seoul") == classroom.exercise.briefings[Team.SEOUL]


def test_a_field_is_found_by_its_name_and_by_the_name_files_use(classroom: Scenario) -> None:
    assert classroom.parameters is not None
    written = classroom.parameters.from_
    assert classroom.resolve("parameters.from") == classroom.resolve("parameters.from_") == written
    assert classroom.locate("parameters.from").keys == ("parameters", "from_")


def test_locate_gives_the_block_holding_the_field(classroom: Scenario) -> None:
    found = classroom.locate("drivers.security.nk_provocation_rate")
    assert found.parent is classroom.drivers.security
    assert found.keys == ("drivers", "security", "nk_provocation_rate")
    assert found.value == classroom.drivers.security.nk_provocation_rate


def test_raw_data_is_walked_the_same_way() -> None:
    data = {"drivers": {"security": {"rate": 1}}, "events": [{"date": "2026-01"}]}
    assert locate(data, "events[0].date").value == "2026-01"
    with pytest.raises(ScenarioPathError) as info:
        locate(data, "drivers.securty.rate")
    assert info.value.reason == (
        "unknown field 'securty' in drivers; did you mean drivers.security? (valid fields here: security)"
    )


# --------------------------------------------------------------------------- setting


def test_with_values_sets_fields_list_items_and_mapping_entries(classroom: Scenario) -> None:
    changed = classroom.with_values(
        {
            "levers.seoul.cooperation_priority": 0.5,
            "events[0].magnitude": 2.0,
            "exercise.briefings.tokyo": "Hold the line.",
            "publics.dynamics.rounds_per_month": 2.6,  # a draw for a whole-number field is rounded
        }
    )
    assert changed.resolve("levers.seoul.cooperation_priority") == 0.5
    assert changed.resolve("events[0].magnitude") == 2.0
    assert changed.resolve("exercise.briefings.tokyo") == "Hold the line."
    assert changed.resolve("publics.dynamics.rounds_per_month") == 3
    assert classroom.resolve("exercise.briefings.tokyo") != "Hold the line."  # the original is untouched


def test_with_values_validates_what_it_sets(classroom: Scenario) -> None:
    with pytest.raises(ValidationError):
        classroom.with_values({"levers.seoul.cooperation_priority": 5.0})
    assert classroom.with_values({}) is classroom


# --------------------------------------------------------------------------- one error, one message


def test_an_unknown_path_names_the_part_and_suggests_the_field(classroom: Scenario) -> None:
    with pytest.raises(ScenarioPathError) as info:
        classroom.resolve(TYPO)
    error = info.value
    assert isinstance(error, RapprochementError)
    assert isinstance(error, KeyError) and isinstance(error, ValueError)  # what the former callers caught
    assert str(error).startswith(f"{TYPO}: {TYPO_REASON} (valid fields here: history, security, ")
    assert error.path == TYPO


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("drivers.security.nk_provocation_rat", "did you mean drivers.security.nk_provocation_rate"),
        ("meta.name.x", "meta.name is not a mapping (it holds 'classroom'), so it has no 'x'"),
        ("events.kind", "events is not a mapping (it holds a list), so it has no 'kind'"),
        ("events[99].kind", "so there is no [99]"),
        ("levers.seoul[0]", "levers.seoul is not a list (it holds a mapping)"),
        ("exercise.briefings.seul", "did you mean exercise.briefings.seoul?"),
        ("drivers..decay", "not a valid field path"),
        ("nope", "unknown field 'nope' at the top level"),
    ],
)
def test_every_way_a_path_can_fail_is_explained(classroom: Scenario, path: str, reason: str) -> None:
    assert reason in reason_of(classroom, path)


def test_the_designs_say_what_the_scenario_says(classroom: Scenario) -> None:
    with pytest.raises(DesignError) as info:
        factors_of(classroom, [f"{TYPO}=0:1"])
    assert str(info.value) == f"{TYPO}: {reason_of(classroom, TYPO)}"
    assert not is_whole_number(classroom, TYPO)


def test_the_calibration_says_what_the_scenario_says(classroom: Scenario) -> None:
    with pytest.raises(CalibrationError) as info:
        parse_parameters([f"{TYPO}=0:1"], classroom)
    assert f"{TYPO}: {reason_of(classroom, TYPO)}" in str(info.value)


def test_the_dashboard_sliders_say_what_the_scenario_says(
    classroom: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dashboard.KNOBS, "broken", dashboard.Knob("broken", (TYPO,), True, 0, 2, 0.1, (0, 10)))
    with pytest.raises(ScenarioPathError) as info:
        dashboard.adjusted(classroom, {"broken": 1.5})
    assert info.value.reason == reason_of(classroom, TYPO)


def test_the_api_says_what_the_scenario_says(classroom: Scenario) -> None:
    with pytest.raises(ScenarioPathError) as info:
        sim.simulate(classroom, seed=1, drivers__securty__nk_provocation_rate=1.0)
    assert info.value.reason == reason_of(classroom, TYPO)


def test_set_and_uncertainties_say_what_the_scenario_says(classroom: Scenario, tmp_path: Path) -> None:
    reason = reason_of(classroom, TYPO)
    with pytest.raises(ScenarioError) as info:
        load_scenario(SCENARIOS / "classroom.yaml", [f"{TYPO}=1"])
    assert str(info.value) == f"--set: {TYPO}: {reason}"
    variant = tmp_path / "variant.yaml"
    variant.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nmeta:\n  name: variant\n"
        f"uncertainties:\n  {TYPO}: {{low: 0.5, high: 2}}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(variant)
    assert f"uncertainties: {TYPO}: {reason}" in str(info.value)
