"""Experimental designs for parameter sweeps, and the sensitivity analysis of their results.

A sweep varies a scenario's uncertain parameters (and, on request, levers that are not listed as uncertain)
over their ranges. :func:`factors_of` turns a scenario's ``uncertainties`` plus ``path=low:high`` specs from the
command line into validated :class:`Factor` objects; :func:`make_design` lays out the points to run;
:func:`analyze` turns one output per design point into sensitivity indices.

Four designs:

* ``factorial`` - a full grid of evenly spaced levels: easy to read and plot, but ``levels**k`` points.
* ``lhs`` - a Latin hypercube (McKay, Beckman & Conover 1979): ``samples`` points that cover every factor's
  range evenly (exactly one point in each of ``samples`` equal strata per factor); a good general-purpose
  space-filling design for exploring outcomes or fitting a metamodel.
* ``sobol`` - Saltelli's scheme on a scrambled Sobol' sequence (Saltelli 2002; Saltelli et al. 2010) for
  variance-based first-order and total-order indices (Sobol' 2001; total order by Jansen's estimator as in
  Saltelli et al. 2010): ``samples * (k + 2)`` points.
* ``morris`` - elementary-effects screening (Morris 1991, with Campolongo, Cariboni & Saltelli 2007's mu*):
  ``samples`` one-at-a-time trajectories of ``k + 1`` points, cheap enough to screen many factors.

Every design is deterministic for its seed and never touches NumPy's global random state, so a sweep can be
reproduced and resumed exactly. Points are in the factors' own units; whole-number parameters are rounded.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import annotated_types
import numpy as np
import pydantic

from sim.errors import RapprochementError
from sim.loading import ScenarioPathError
from sim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_FACTORIAL_POINTS",
    "MORRIS_LEVELS",
    "Design",
    "DesignError",
    "DesignKind",
    "Factor",
    "analyze",
    "check_analysable",
    "factors_of",
    "is_whole_number",
    "make_design",
]

#: A factorial design with more points than this is refused (use lhs or sobol instead).
MAX_FACTORIAL_POINTS = 100_000
#: Grid levels of the Morris design (even, as Morris 1991 recommends; the step is levels / (2 (levels - 1))).
MORRIS_LEVELS = 4
#: Bootstrap resamples for the confidence intervals of the indices.
BOOTSTRAP_RESAMPLES = 100
#: Confidence level of those intervals.
CONFIDENCE_LEVEL = 0.95

_SPEC_EXAMPLE = "levers.seoul.cooperation_priority=-0.5:0.5"


class DesignError(RapprochementError, ValueError):
    """A factor, design or analysis request that cannot be honoured; the message names what and why."""


class DesignKind(StrEnum):
    """The experimental designs :func:`make_design` can lay out."""

    FACTORIAL = "factorial"
    LHS = "lhs"
    SOBOL = "sobol"
    MORRIS = "morris"


@dataclass(frozen=True)
class Factor:
    """One swept parameter: a dotted scenario path and the range it is varied over.

    ``integer`` marks a whole-number parameter: its sampled values are rounded, so the design's
    distinct-point guarantee then holds only up to rounding.
    """

    path: str  # dotted scenario path, e.g. "drivers.security.nk_provocation_rate"
    low: float
    high: float
    integer: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise DesignError(f"factor path {self.path!r}: expected a non-empty dotted parameter path")
        try:
            low, high = float(self.low), float(self.high)
        except (TypeError, ValueError):
            raise DesignError(
                f"{self.path}: expected numbers for low and high, got {self.low!r} and {self.high!r}"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise DesignError(f"{self.path}: expected finite low and high, got {low:g}:{high:g}")
        if not low < high:
            raise DesignError(f"{self.path}: expected low < high, got {low:g}:{high:g}")
        if not math.isfinite(high - low):
            raise DesignError(f"{self.path}: the range {low:g}:{high:g} is too wide to represent")
        if self.integer and not (low.is_integer() and high.is_integer()):
            raise DesignError(
                f"{self.path} is a whole number: expected whole-number low and high, got {low:g}:{high:g}"
            )


# --------------------------------------------------------------------------- factors of a scenario


def factors_of(scenario: Scenario, extra: Sequence[str] = ()) -> list[Factor]:
    """The factors a sweep of ``scenario`` varies: its uncertainties plus ``extra`` specs, sorted by path.

    ``extra`` holds command-line specs ``path=low:high`` (e.g. ``'levers.seoul.cooperation_priority=-0.5:0.5'``):
    they add parameters that the scenario does not list as uncertain (typically levers), or override the range
    of one that it does (a later spec for the same path wins). Every factor is checked the way the scenario
    checks its uncertainties - the path must name a numeric field of the schema (``bool`` is not numeric; the
    ``uncertainties`` block itself is not a parameter), ``low < high``, whole-number bounds for whole-number
    fields - and further both ends of the range must be values the schema accepts (checked by re-validating the
    scenario with the parameter set to ``low`` and to ``high``), so a sweep cannot fail half-way through on a
    value out of range. Whole-number fields give ``integer=True`` factors.

    Raises :class:`DesignError` naming the path and what was expected for a malformed spec, an unknown or
    non-numeric path or an inadmissible range, and when there is nothing to vary at all.
    """
    ranges: dict[str, tuple[float, float]] = {
        path: (float(spec.low), float(spec.high)) for path, spec in scenario.uncertainties.items()
    }
    for spec in extra:
        path, low, high = _parse_spec(spec)
        ranges[path] = (low, high)
    if not ranges:
        raise DesignError(
            f"no factors: scenario {scenario.meta.name!r} lists no uncertainties and no 'path=low:high' factor "
            f"was given (e.g. {_SPEC_EXAMPLE!r})"
        )
    return [_checked_factor(scenario, path, *ranges[path]) for path in sorted(ranges)]


def _parse_spec(spec: str) -> tuple[str, float, float]:
    """``'path=low:high'`` as its three parts; DesignError naming the spec's path on any mistake."""
    path, equals, bounds = spec.partition("=")
    path = path.strip()
    if not equals or not path:
        raise DesignError(f"factor spec {spec!r}: expected 'path=low:high', e.g. {_SPEC_EXAMPLE!r}")
    low_text, colon, high_text = bounds.partition(":")
    if not colon:
        raise DesignError(f"{path}: expected a range 'low:high' after '=', got {bounds.strip()!r}")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise DesignError(f"{path}: expected numbers in 'low:high', got {bounds.strip()!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DesignError(f"{path}: expected finite numbers in 'low:high', got {bounds.strip()!r}")
    if not low < high:
        raise DesignError(f"{path}: expected low < high, got {low:g}:{high:g}")
    return path, low, high


def _checked_factor(scenario: Scenario, path: str, low: float, high: float) -> Factor:
    """The factor for ``path`` over ``low:high``, after checking the path and range against the schema."""
    parent, leaf, current = _resolve(scenario, path)
    if current is None:
        raise DesignError(
            f"{path}: not set in scenario {scenario.meta.name!r} (it is null); give it a value with --set first"
        )
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise DesignError(
            f"{path}: expected a numeric parameter, got {type(current).__name__} value {str(current)!r}"
        )
    integer = isinstance(current, int)
    if integer and not (low.is_integer() and high.is_integer()):
        raise DesignError(f"{path} is a whole number: expected whole-number low and high, got {low:g}:{high:g}")
    allowed = _allowed_range(parent, leaf)
    for name, bound in (("low", low), ("high", high)):
        try:
            scenario.with_values({path: bound})
        except pydantic.ValidationError as exc:
            reason = "; ".join(error["msg"] for error in exc.errors())
            raise DesignError(
                f"{path}: {name} {bound:g} of the range {low:g}:{high:g} is outside what the schema accepts "
                f"({allowed}): {reason}"
            ) from None
    return Factor(path, low, high, integer)


def is_whole_number(scenario: Scenario, path: str) -> bool:
    """Whether ``path`` names a whole-number field of ``scenario`` (False for an unknown path or a null)."""
    try:
        current = _resolve(scenario, path)[2]
    except DesignError:
        return False
    return isinstance(current, int) and not isinstance(current, bool)


def _resolve(scenario: Scenario, path: str) -> tuple[Any, str | int, Any]:
    """(the block holding ``path``, the field's key in it, its value), as the scenario locates the path;
    DesignError with the scenario's own message for a path that names nothing."""
    if path.split(".", 1)[0] == "uncertainties":
        raise DesignError(f"{path}: the uncertainties block holds ranges, not model parameters")
    try:
        found = scenario.locate(path)
    except ScenarioPathError as exc:
        raise DesignError(str(exc)) from None
    return found.parent, found.keys[-1], found.value


def _allowed_range(parent: Any, leaf: str | int) -> str:
    """The schema's bounds on a field in words, e.g. ``'0 <= value <= 1'``, from its pydantic constraints."""
    if not isinstance(parent, pydantic.BaseModel) or not isinstance(leaf, str):
        return "any number"
    lower = upper = ""
    for item in type(parent).model_fields[leaf].metadata:
        if isinstance(item, annotated_types.Ge):
            lower = f"{item.ge:g} <= "
        elif isinstance(item, annotated_types.Gt):
            lower = f"{item.gt:g} < "
        elif isinstance(item, annotated_types.Le):
            upper = f" <= {item.le:g}"
        elif isinstance(item, annotated_types.Lt):
            upper = f" < {item.lt:g}"
    return f"{lower}value{upper}" if lower or upper else "any number"


# --------------------------------------------------------------------------- designs


@dataclass(frozen=True, eq=False)  # eq=False: an ndarray field makes generated __eq__ ambiguous
class Design:
    """The points of a sweep: one row per design point, one column per factor, in the factors' own units.

    Points are already scaled to the factors' ranges and rounded for whole-number factors; the array is
    read-only so a design cannot change after its identity has been recorded.
    """

    kind: DesignKind
    factors: tuple[Factor, ...]
    points: np.ndarray  # shape (n_points, n_factors)
    seed: int

    def __post_init__(self) -> None:
        points = np.array(self.points, dtype=np.float64, order="C", copy=True)
        if points.ndim != 2 or points.shape[1] != len(self.factors):
            raise DesignError(f"points: expected shape (n_points, {len(self.factors)}), got {points.shape}")
        points.setflags(write=False)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "factors", tuple(self.factors))

    def values(self, i: int) -> dict[str, float]:
        """Design point ``i`` as ``{path: value}`` for ``Scenario.with_values`` (whole numbers as float values)."""
        i = operator.index(i)
        if not 0 <= i < len(self.points):
            raise IndexError(f"design point {i} does not exist: the design has {len(self.points)} points")
        return {factor.path: float(value) for factor, value in zip(self.factors, self.points[i], strict=True)}

    def frame(self) -> pd.DataFrame:
        """The design as a table: ``design_point`` and a ``param:<path>`` column per factor (as run summaries)."""
        import pandas as pd  # not at the top: the command line reads designs.DesignKind without pandas

        columns: dict[str, Any] = {"design_point": np.arange(len(self.points), dtype=np.int64)}
        for j, factor in enumerate(self.factors):
            columns[f"param:{factor.path}"] = self.points[:, j]
        return pd.DataFrame(columns)


def make_design(
    kind: DesignKind | str, factors: Sequence[Factor], *, samples: int, seed: int, levels: int = 3
) -> Design:
    """Lay out the points of a ``kind`` design over ``factors``, deterministically for ``seed``.

    The random streams come from ``seed`` alone (never NumPy's global state), so the same call gives the same
    points anywhere. Number of points, with ``k`` factors:

    * ``factorial``: every combination of ``levels`` evenly spaced values per factor (``np.linspace(low, high,
      levels)``, ends included) - ``levels**k`` points; ``samples`` is ignored (but must still be >= 1) and
      designs over :data:`MAX_FACTORIAL_POINTS` are refused. The first factor varies slowest.
    * ``lhs``: a Latin hypercube of ``samples`` points (McKay, Beckman & Conover 1979, via
      ``scipy.stats.qmc.LatinHypercube``): each factor's range is cut into ``samples`` equal strata and each
      stratum holds exactly one point, placed at random inside it.
    * ``sobol``: Saltelli's cross-sampling of a scrambled Sobol' sequence (Saltelli 2002; Saltelli et al. 2010,
      via ``SALib.sample.sobol`` without second-order terms) - ``samples * (k + 2)`` points: blocks of a base
      point A, the k points AB_j (A with factor j taken from B) and B. ``samples`` must be a power of two,
      which the Sobol' sequence's balance properties need.
    * ``morris``: ``samples`` Morris trajectories on a :data:`MORRIS_LEVELS`-level grid (Morris 1991;
      Campolongo et al. 2007, via ``SALib.sample.morris``) - ``samples * (k + 1)`` points, each trajectory
      moving one factor at a time.

    Whole-number factors are rounded after scaling (``np.rint``), so their points repeat where the grid is
    finer than one unit. Raises :class:`DesignError` for an unknown kind, no or duplicate factors, ``samples``
    < 1, a bad seed or levels, or a design too large.
    """
    try:
        kind = DesignKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in DesignKind)
        raise DesignError(f"design kind {kind!r}: expected one of {known}") from None
    factors = tuple(factors)
    if not factors:
        raise DesignError("factors: expected at least one factor to vary")
    for factor in factors:
        if not isinstance(factor, Factor):
            raise DesignError(f"factors: expected Factor objects, got {factor!r}")
    paths = [factor.path for factor in factors]
    duplicates = sorted({path for path in paths if paths.count(path) > 1})
    if duplicates:
        raise DesignError(f"factors: each path may be varied once, but {', '.join(duplicates)} appear twice")
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
        raise DesignError(f"samples: expected a whole number >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DesignError(f"seed: expected a whole number >= 0, got {seed!r}")
    samples, seed = int(samples), int(seed)

    # SALib and scipy.stats take about half a second to import: only a design being made pays for them.
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample
    from scipy.stats import qmc

    lows = np.array([factor.low for factor in factors], dtype=np.float64)
    highs = np.array([factor.high for factor in factors], dtype=np.float64)
    k = len(factors)
    if kind is DesignKind.FACTORIAL:
        points = _factorial(factors, levels)
    elif kind is DesignKind.LHS:
        sampler = qmc.LatinHypercube(d=k, rng=np.random.default_rng(seed))
        points = qmc.scale(sampler.random(samples), lows, highs)
    elif kind is DesignKind.SOBOL:
        if samples & (samples - 1):
            below = 1 << (samples.bit_length() - 1)
            raise DesignError(
                f"samples: a sobol design needs a power of two (the Sobol' sequence is balanced only then), "
                f"got {samples}: use {below} or {2 * below}"
            )
        points = sobol_sample.sample(_problem(factors), samples, calc_second_order=False, seed=seed)
    else:
        points = morris_sample.sample(_problem(factors), samples, num_levels=MORRIS_LEVELS, seed=seed)

    points = np.clip(np.asarray(points, dtype=np.float64), lows, highs)  # guard against round-off at the ends
    whole = np.array([factor.integer for factor in factors])
    if whole.any():
        points[:, whole] = np.rint(points[:, whole])
    return Design(kind, factors, points, seed)


def _factorial(factors: Sequence[Factor], levels: int) -> np.ndarray:
    """The full grid of ``levels`` values per factor, first factor slowest (as ``itertools.product``)."""
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 2:
        raise DesignError(f"levels: a factorial design needs a whole number of levels >= 2, got {levels!r}")
    count = int(levels) ** len(factors)
    if count > MAX_FACTORIAL_POINTS:
        raise DesignError(
            f"levels: a factorial design with {levels} levels of {len(factors)} factors has {count} points, "
            f"more than the {MAX_FACTORIAL_POINTS} allowed; use fewer levels or factors, or an lhs or sobol design"
        )
    axes = [np.linspace(factor.low, factor.high, int(levels)) for factor in factors]
    return np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(count, len(factors))


def _problem(factors: Sequence[Factor]) -> dict[str, Any]:
    """A fresh SALib problem definition (SALib adds keys to the dict it is given, so never share one)."""
    return {
        "num_vars": len(factors),
        "names": [factor.path for factor in factors],
        "bounds": [[float(factor.low), float(factor.high)] for factor in factors],
    }


# --------------------------------------------------------------------------- analysis


def analyze(design: Design, outputs: np.ndarray) -> pd.DataFrame:
    """Sensitivity indices of one model output over a sobol or morris design, one row per factor.

    ``outputs`` holds one value per design point, in design-point order (the caller averages replications).

    * sobol: ``S1`` (first-order, main-effect index: the share of output variance explained by the factor
      alone) and ``ST`` (total index: its share including all interactions), with bootstrap half-widths
      ``S1_conf`` and ``ST_conf`` - SALib's estimators after Saltelli et al. 2010 (S1) and Jansen 1999 (ST).
      Rows sorted by ``ST`` descending (then ``S1``). Constant outputs are refused: the indices are shares of a
      variance.
    * morris: ``mu`` (mean elementary effect, signed), ``mu_star`` (mean absolute effect, Campolongo et al.
      2007: the screening measure of importance), ``mu_star_conf`` and ``sigma`` (spread of the effects:
      non-linearity or interactions, Morris 1991). Effects are output changes per whole range of the factor.
      Rows sorted by ``mu_star`` descending.

    The confidence intervals (95 %, 100 bootstrap resamples) use a seed derived from the design's, so the
    table is deterministic. Raises :class:`DesignError` for factorial and lhs designs (only sobol and morris
    support it), for outputs of the wrong length or with missing (non-finite) values, or too few samples.
    """
    check_analysable(design)
    y = np.asarray(outputs, dtype=np.float64)
    n_points = len(design.points)
    if y.shape != (n_points,):
        raise DesignError(f"outputs: expected one value per design point, shape ({n_points},), got {y.shape}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise DesignError(f"outputs: expected finite values, got {bad.size} missing at design points {shown}")
    import pandas as pd
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    bootstrap_seed = _bootstrap_seed(design.seed)
    names = [factor.path for factor in design.factors]

    if design.kind is DesignKind.SOBOL:
        if np.ptp(y) == 0.0:
            raise DesignError("outputs: constant over the design, so no factor explains any variance")
        si = sobol_analyze.analyze(
            _problem(design.factors),
            y,
            calc_second_order=False,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONFIDENCE_LEVEL,
            seed=bootstrap_seed,
        )
        # ranked by ST, as the bar chart and the command's summary rank: a factor that matters only through
        # interactions (S1 near 0, ST large) must not sink to the bottom of indices.csv
        keys, main = ["S1", "S1_conf", "ST", "ST_conf"], ["ST", "S1"]
    else:
        si = morris_analyze.analyze(
            _problem(design.factors),
            np.array(design.points),  # SALib wants a plain float array
            y,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONFIDENCE_LEVEL,
            num_levels=MORRIS_LEVELS,
            seed=bootstrap_seed,
        )
        keys, main = ["mu", "mu_star", "mu_star_conf", "sigma"], ["mu_star", "sigma"]

    table = pd.DataFrame({"factor": names})
    for key in keys:
        table[key] = np.asarray(np.ma.filled(np.ma.asarray(si[key], dtype=np.float64), np.nan), dtype=np.float64)
    table = table.sort_values([*main, "factor"], ascending=[False, False, True], kind="stable")
    return table.reset_index(drop=True)


def check_analysable(design: Design) -> None:
    """Refuse a design :func:`analyze` cannot give indices for, before anything is run on it.

    Only sobol and morris designs have indices; sobol needs at least 2 base samples and morris at least 2
    trajectories (``samples >= 2``: one would not give a bootstrap or a spread); and morris takes no whole-number
    factor, because :func:`make_design` rounds those while SALib divides each output change by the fixed grid
    step, so the elementary effects would be wrong. Raises :class:`DesignError` saying which.
    """
    if design.kind not in (DesignKind.SOBOL, DesignKind.MORRIS):
        raise DesignError(
            f"analyze: a {design.kind.value} design has no sensitivity indices; only sobol (variance-based S1/ST) "
            "and morris (elementary effects) designs support analysis"
        )
    k, n_points = len(design.factors), len(design.points)
    if design.kind is DesignKind.SOBOL and n_points // (k + 2) < 2:
        raise DesignError("samples: sobol indices need a design of at least 2 base samples (--samples 2 or more)")
    if design.kind is DesignKind.MORRIS:
        if n_points // (k + 1) < 2:
            raise DesignError(
                "samples: morris statistics need a design of at least 2 trajectories (--samples 2 or more)"
            )
        whole = [factor.path for factor in design.factors if factor.integer]
        if whole:
            raise DesignError(
                f"factors: morris elementary effects need continuous factors, but {', '.join(whole)} "
                "is a whole number (its sampled values are rounded while the effects are divided by the "
                "unrounded step); use a sobol design, or leave it out"
            )


def _bootstrap_seed(seed: int) -> int:
    """A seed for the bootstrap, derived from the design's and never 0.

    SALib's sobol analysis falls back to NumPy's global generator for a falsy seed, so 0 must not reach it.
    """
    state = int(np.random.SeedSequence([seed, 0x5A17]).generate_state(1, np.uint32)[0])
    return state or 1
