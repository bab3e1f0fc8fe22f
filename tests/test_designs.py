"""Tests of sweep designs: factors from scenarios, the four designs' guarantees, and the sensitivity analysis."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.designs import (
    MAX_FACTORIAL_POINTS,
    Design,
    DesignError,
    DesignKind,
    Factor,
    analyze,
    check_analysable,
    factors_of,
    make_design,
)
from sim.scenario import Scenario, load_scenario

# Any warning (e.g. SALib or scipy complaining about a sample size) is a failure here.
pytestmark = pytest.mark.filterwarnings("error")

BASELINE = Path(__file__).parents[1] / "scenarios" / "baseline.yaml"
LEVER = "levers.seoul.cooperation_priority"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """The shipped baseline scenario."""
    return load_scenario(BASELINE)


def mixed_factors() -> list[Factor]:
    """Four factors of very different scales and signs."""
    return [
        Factor("a", 0.0, 1.0),
        Factor("b", -5.0, 5.0),
        Factor("c", 100.0, 100.5),
        Factor("d", -2e3, -1e3),
    ]


def point_count(kind: DesignKind, k: int, samples: int, levels: int = 3) -> int:
    """How many points each design promises."""
    return {
        DesignKind.FACTORIAL: levels**k,
        DesignKind.LHS: samples,
        DesignKind.SOBOL: samples * (k + 2),
        DesignKind.MORRIS: samples * (k + 1),
    }[kind]


def assert_within(design: Design) -> None:
    """Every point lies inside its factors' ranges (ends included)."""
    lows = np.array([f.low for f in design.factors])
    highs = np.array([f.high for f in design.factors])
    assert np.all(design.points >= lows)
    assert np.all(design.points <= highs)


def distinct_rows(points: np.ndarray) -> int:
    """Number of distinct rows."""
    return len(np.unique(points, axis=0))


# --------------------------------------------------------------------------- factors_of


def test_factors_of_baseline_are_its_uncertainties_sorted(scenario: Scenario) -> None:
    factors = factors_of(scenario)
    assert [f.path for f in factors] == sorted(scenario.uncertainties)
    assert len(factors) == 6
    for factor in factors:
        spec = scenario.uncertainties[factor.path]
        assert (factor.low, factor.high) == (spec.low, spec.high)
        assert factor.integer is False


def test_extra_lever_spec_adds_a_factor(scenario: Scenario) -> None:
    factors = factors_of(scenario, [f"{LEVER}=-0.5:0.5"])
    paths = [f.path for f in factors]
    assert paths == sorted([*scenario.uncertainties, LEVER])
    lever = factors[paths.index(LEVER)]
    assert (lever.low, lever.high, lever.integer) == (-0.5, 0.5, False)


def test_extra_spec_overrides_an_uncertainty_range(scenario: Scenario) -> None:
    factors = {f.path: f for f in factors_of(scenario, ["drivers.history.decay=0.02:0.2"])}
    assert len(factors) == len(scenario.uncertainties)
    assert (factors["drivers.history.decay"].low, factors["drivers.history.decay"].high) == (0.02, 0.2)
    assert (factors["publics.dynamics.confidence"].low, factors["publics.dynamics.confidence"].high) == (0.2, 0.4)


def test_whole_number_fields_give_integer_factors(scenario: Scenario) -> None:
    factors = {f.path: f for f in factors_of(scenario, ["publics.dynamics.rounds_per_month=0:3"])}
    assert factors["publics.dynamics.rounds_per_month"].integer is True
    assert factors["drivers.history.decay"].integer is False


@pytest.mark.parametrize(
    ("spec", "path", "expected"),
    [
        ("x", "'x'", "path=low:high"),
        ("a.b=1", "a.b", "low:high"),
        ("a=2:1", "a", "low < high"),
        ("a=one:2", "a", "numbers"),
        ("a=nan:1", "a", "finite"),
        ("drivers.nope=0:1", "drivers.nope", "unknown field 'nope' in drivers"),
        ("actors.seoul.decision_rule=0:1", "actors.seoul.decision_rule", "numeric"),
        ("drivers.history.dispute_open=0:1", "drivers.history.dispute_open", "numeric"),  # bool is not numeric
        ("drivers.history.decay=0:5", "drivers.history.decay", "0 <= value <= 1"),
        ("drivers.security.nk_threat=0:1", "drivers.security.nk_threat", "0 <= value < 1"),
        ("publics.dynamics.rounds_per_month=0:2.5", "publics.dynamics.rounds_per_month", "whole-number"),
        ("levers.seoul.summit_every_months=1:6", "levers.seoul.summit_every_months", "null"),
        ("uncertainties.drivers=0:1", "uncertainties.drivers", "ranges"),
    ],
)
def test_bad_specs_raise_design_error_naming_the_path(
    scenario: Scenario, spec: str, path: str, expected: str
) -> None:
    with pytest.raises(DesignError) as info:
        factors_of(scenario, [spec])
    assert path in str(info.value)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_cross_field_schema_rules_are_checked(scenario: Scenario) -> None:
    # young_share (0.25 in baseline) + old_share must stay <= 1: 0.9 is in [0, 1] but still refused.
    with pytest.raises(DesignError, match=r"publics\.korea\.old_share.*young_share \+ old_share"):
        factors_of(scenario, ["publics.korea.old_share=0.1:0.9"])


def test_no_factors_at_all_is_an_error(scenario: Scenario) -> None:
    bare = scenario.model_copy(update={"uncertainties": {}})
    with pytest.raises(DesignError, match="no factors"):
        factors_of(bare)
    assert [f.path for f in factors_of(bare, [f"{LEVER}=-1:1"])] == [LEVER]


def test_every_design_point_is_accepted_by_the_scenario(scenario: Scenario) -> None:
    factors = factors_of(scenario, [f"{LEVER}=-1:1", "publics.dynamics.rounds_per_month=0:3"])
    design = make_design(DesignKind.LHS, factors, samples=8, seed=3)
    for i in range(len(design.points)):
        variant = scenario.with_values(design.values(i))
        assert variant.levers.seoul.cooperation_priority == design.values(i)[LEVER]
        assert variant.publics.dynamics.rounds_per_month == design.values(i)["publics.dynamics.rounds_per_month"]


# --------------------------------------------------------------------------- Factor and Design


@pytest.mark.parametrize(
    ("low", "high", "integer"),
    [(1.0, 1.0, False), (2.0, 1.0, False), (0.0, math.inf, False), (math.nan, 1.0, False), (0.5, 3.0, True)],
)
def test_factor_rejects_bad_ranges(low: float, high: float, integer: bool) -> None:
    with pytest.raises(DesignError, match="speed"):
        Factor("speed", low, high, integer)


def test_design_values_and_frame() -> None:
    design = make_design("lhs", mixed_factors(), samples=5, seed=1)
    values = design.values(2)
    assert list(values) == ["a", "b", "c", "d"]
    assert values == {f.path: float(design.points[2, j]) for j, f in enumerate(design.factors)}
    assert all(type(v) is float for v in values.values())
    with pytest.raises(IndexError):
        design.values(5)
    frame = design.frame()
    assert list(frame.columns) == ["design_point", "param:a", "param:b", "param:c", "param:d"]
    assert frame["design_point"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(frame[["param:a", "param:b", "param:c", "param:d"]].to_numpy(), design.points)
    assert not design.points.flags.writeable


# --------------------------------------------------------------------------- designs


@pytest.mark.parametrize("kind", list(DesignKind))
def test_design_size_bounds_and_determinism(kind: DesignKind) -> None:
    factors = mixed_factors()
    samples = 16
    design = make_design(kind, factors, samples=samples, seed=7)
    assert design.kind is kind
    assert design.seed == 7
    assert design.factors == tuple(factors)
    assert design.points.shape == (point_count(kind, len(factors), samples), len(factors))
    assert_within(design)
    again = make_design(kind.value, factors, samples=samples, seed=7)
    np.testing.assert_array_equal(design.points, again.points)
    other = make_design(kind, factors, samples=samples, seed=8)
    if kind is DesignKind.FACTORIAL:  # a grid has no randomness: the seed is only recorded
        np.testing.assert_array_equal(design.points, other.points)
    else:
        assert not np.array_equal(design.points, other.points)


def test_designs_never_touch_the_global_random_state() -> None:
    before = np.random.get_state()  # noqa: NPY002 - the legacy global state is what must stay untouched
    fs = mixed_factors()
    for kind in DesignKind:
        make_design(kind, fs, samples=4, seed=0)
    analyze(make_design("sobol", fs, samples=8, seed=0), np.arange(48.0) % 7)
    analyze(make_design("morris", fs, samples=4, seed=0), np.arange(20.0) % 3)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_factorial_is_the_full_grid_of_levels() -> None:
    factors = [Factor("a", 0.0, 1.0), Factor("b", -2.0, 2.0), Factor("c", 10.0, 20.0)]
    design = make_design(DesignKind.FACTORIAL, factors, samples=999, seed=0, levels=4)  # samples ignored
    expected = list(itertools.product(*(np.linspace(f.low, f.high, 4) for f in factors)))
    np.testing.assert_array_equal(design.points, np.array(expected))
    assert distinct_rows(design.points) == 4**3


def test_factorial_refuses_too_many_points() -> None:
    factors = [Factor(f"f{i}", 0.0, 1.0) for i in range(11)]  # 3**11 = 177147
    assert MAX_FACTORIAL_POINTS < 3**11
    with pytest.raises(DesignError, match="177147"):
        make_design(DesignKind.FACTORIAL, factors, samples=1, seed=0)
    with pytest.raises(DesignError, match="levels"):
        make_design(DesignKind.FACTORIAL, factors[:2], samples=1, seed=0, levels=1)


def test_lhs_has_one_point_per_stratum_in_every_dimension() -> None:
    n = 50
    design = make_design(DesignKind.LHS, mixed_factors(), samples=n, seed=11)
    assert distinct_rows(design.points) == n
    for j, factor in enumerate(design.factors):
        strata = np.floor((design.points[:, j] - factor.low) / (factor.high - factor.low) * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n)), factor.path


def test_sobol_follows_saltelli_cross_sampling() -> None:
    factors = mixed_factors()
    k, n = len(factors), 32
    design = make_design(DesignKind.SOBOL, factors, samples=n, seed=5)
    blocks = design.points.reshape(n, k + 2, k)
    a, b = blocks[:, 0, :], blocks[:, k + 1, :]
    assert distinct_rows(np.vstack([a, b])) == 2 * n  # the base samples are all distinct
    for j in range(k):
        ab = blocks[:, j + 1, :]
        expected = a.copy()
        expected[:, j] = b[:, j]
        np.testing.assert_array_equal(ab, expected)


def test_sobol_samples_must_be_a_power_of_two() -> None:
    with pytest.raises(DesignError, match=r"power of two.*1000.*512 or 1024"):
        make_design(DesignKind.SOBOL, mixed_factors(), samples=1000, seed=0)


def test_morris_trajectories_move_one_factor_at_a_time_on_the_grid() -> None:
    factors = mixed_factors()
    k, r = len(factors), 10
    design = make_design(DesignKind.MORRIS, factors, samples=r, seed=2)
    lows = np.array([f.low for f in factors])
    widths = np.array([f.high - f.low for f in factors])
    grid = (design.points - lows) / widths * 3  # 4 levels: 0, 1/3, 2/3, 1
    np.testing.assert_allclose(grid, np.rint(grid), atol=1e-9)
    for trajectory in design.points.reshape(r, k + 1, k):
        moved = np.diff(trajectory, axis=0) != 0
        assert moved.sum(axis=1).tolist() == [1] * k  # one factor per step
        assert moved.sum(axis=0).tolist() == [1] * k  # each factor once


@pytest.mark.parametrize("kind", list(DesignKind))
def test_integer_factors_are_rounded(kind: DesignKind) -> None:
    # 1..9 with 4 levels, so that no design (not the grids 1, 3.67, 6.33, 9 either) is whole by accident
    factors = [Factor("months", 1.0, 9.0, integer=True), Factor("rate", 0.0, 1.0)]
    design = make_design(kind, factors, samples=8, seed=4, levels=4)
    months = design.points[:, 0]
    np.testing.assert_array_equal(months, np.rint(months))
    assert_within(design)
    assert not np.array_equal(design.points[:, 1], np.rint(design.points[:, 1]))  # floats stay floats
    value = design.values(0)["months"]
    assert type(value) is float
    assert value.is_integer()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "grid", "samples": 4, "seed": 0}, "factorial, lhs, sobol, morris"),
        ({"kind": "lhs", "samples": 0, "seed": 0}, "samples"),
        ({"kind": "lhs", "samples": 4, "seed": -1}, "seed"),
    ],
)
def test_make_design_rejects_bad_requests(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DesignError, match=match):
        make_design(factors=mixed_factors(), **kwargs)  # type: ignore[arg-type]


def test_make_design_needs_distinct_factors() -> None:
    with pytest.raises(DesignError, match="factor"):
        make_design("lhs", [], samples=4, seed=0)
    with pytest.raises(DesignError, match="a appear"):
        make_design("lhs", [Factor("a", 0, 1), Factor("a", 1, 2)], samples=4, seed=0)


bounds = st.tuples(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False),
).map(lambda lw: (lw[0], lw[0] + lw[1]))


@settings(max_examples=60, deadline=None)
@given(
    ranges=st.lists(bounds, min_size=1, max_size=4),
    samples=st.integers(1, 20),
    levels=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_lhs_and_factorial_points_lie_within_bounds(
    ranges: list[tuple[float, float]], samples: int, levels: int, seed: int
) -> None:
    factors = [Factor(f"p{i}", low, high) for i, (low, high) in enumerate(ranges)]
    k = len(factors)
    lhs = make_design(DesignKind.LHS, factors, samples=samples, seed=seed)
    assert lhs.points.shape == (samples, k)
    assert_within(lhs)
    grid = make_design(DesignKind.FACTORIAL, factors, samples=samples, seed=seed, levels=levels)
    assert grid.points.shape == (levels**k, k)
    assert_within(grid)


# --------------------------------------------------------------------------- analysis


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami & Homma (1990): the standard test function for variance-based indices."""
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_ishigami_match_the_analytic_values() -> None:
    factors = [Factor(name, -math.pi, math.pi) for name in ("x1", "x2", "x3")]
    design = make_design(DesignKind.SOBOL, factors, samples=2**13, seed=2024)
    table = analyze(design, ishigami(design.points)).set_index("factor")
    assert list(table.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    # Analytic values for a=7, b=0.1; tolerance 0.05 on each index at N = 2**13 (the bootstrap half-widths
    # are about 0.02; the measured errors at this seed are below 0.001).
    tolerance = 0.05
    s1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
    st_ = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
    rows = table.to_dict("index")
    for name in s1:
        row = rows[name]
        assert abs(float(row["S1"]) - s1[name]) < tolerance, name
        assert abs(float(row["ST"]) - st_[name]) < tolerance, name
        assert 0 < float(row["S1_conf"]) < tolerance
    assert list(table.index) == ["x1", "x2", "x3"]  # sorted by ST (as the bar chart and the command rank)


def test_morris_refuses_whole_number_factors_and_one_trajectory() -> None:
    """Rounded whole-number values divided by SALib's fixed step would give wrong elementary effects."""
    factors = [Factor("a", 0.0, 1.0), Factor("n", 1.0, 5.0, integer=True)]
    design = make_design(DesignKind.MORRIS, factors, samples=4, seed=0)
    with pytest.raises(DesignError, match="n is a whole number"):
        check_analysable(design)
    with pytest.raises(DesignError, match="whole number"):
        analyze(design, np.arange(len(design.points), dtype=float))
    check_analysable(make_design(DesignKind.SOBOL, factors, samples=4, seed=0))  # sobol takes them
    one = make_design(DesignKind.MORRIS, factors[:1], samples=1, seed=0)
    with pytest.raises(DesignError, match="at least 2 trajectories"):
        check_analysable(one)
    with pytest.raises(DesignError, match="at least 2 base samples"):
        check_analysable(make_design(DesignKind.SOBOL, factors[:1], samples=1, seed=0))


def test_sobol_analysis_is_deterministic() -> None:
    factors = [Factor(name, -math.pi, math.pi) for name in ("x1", "x2", "x3")]
    design = make_design(DesignKind.SOBOL, factors, samples=256, seed=0)
    first = analyze(design, ishigami(design.points))
    second = analyze(design, ishigami(design.points))
    assert first.equals(second)


def test_morris_finds_the_inert_factor_and_ranks_the_strongest_first() -> None:
    factors = [Factor("weak", 0.0, 1.0), Factor("inert", -3.0, 3.0), Factor("strong", 0.0, 2.0)]
    design = make_design(DesignKind.MORRIS, factors, samples=30, seed=9)
    x = design.points
    table = analyze(design, np.sin(3 * x[:, 0]) + 5 * x[:, 2] ** 2)
    assert list(table.columns) == ["factor", "mu", "mu_star", "mu_star_conf", "sigma"]
    assert table["factor"].tolist() == ["strong", "weak", "inert"]
    inert = table.set_index("factor").loc["inert"]
    assert inert["mu_star"] == pytest.approx(0.0, abs=1e-12)
    assert inert["sigma"] == pytest.approx(0.0, abs=1e-12)
    assert table["mu_star"].is_monotonic_decreasing


@pytest.mark.parametrize("kind", [DesignKind.FACTORIAL, DesignKind.LHS])
def test_analyze_refuses_designs_without_indices(kind: DesignKind) -> None:
    design = make_design(kind, mixed_factors(), samples=8, seed=0, levels=2)
    with pytest.raises(DesignError, match=r"only sobol .* and morris"):
        analyze(design, np.zeros(len(design.points)))


def test_analyze_checks_the_outputs() -> None:
    design = make_design(DesignKind.SOBOL, mixed_factors(), samples=8, seed=0)
    with pytest.raises(DesignError, match=r"one value per design point, shape \(48,\)"):
        analyze(design, np.zeros(47))
    outputs = np.arange(48.0)
    outputs[[3, 17]] = np.nan
    with pytest.raises(DesignError, match="design points 3, 17"):
        analyze(design, outputs)
    with pytest.raises(DesignError, match="constant"):
        analyze(design, np.ones(48))
