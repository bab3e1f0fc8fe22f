"""Calibration: fit a few named parameters to the polls by least squares on the mean of replications.

The objective is the sum of squared differences, in percentage points, between each observed poll value and the
mean over ``R`` replications of the instrument's simulated reading (:mod:`sim.validation.observe`). Every
evaluation uses the same ``R`` replications (common random numbers: replication ``r`` is seeded as in every batch),
so two parameter vectors are compared on the same draws and the objective is nearly smooth; each point counts
once (no weights: the three series are of similar precision and the Cabinet Office series is the longest).

Method: ``scipy.optimize.least_squares`` (trust-region reflective) in coordinates scaled to [0, 1] on each
parameter's bounds, with a finite-difference Jacobian of our own (:meth:`_Objective.jacobian`) whose step is
``diff_step`` in those coordinates, i.e. an absolute 3 % of each range by default: larger than the Monte-Carlo
roughness of the mean of ``R`` runs, smaller than the curvature. (SciPy's own ``diff_step`` is relative to
``|x|``, so its steps shrink with the coordinate and vanish at the lower bound.) The step is forward, backward
where a forward step would leave the upper bound. The Cabinet Office's post-2020 mode offset is profiled out in
closed form at every evaluation (see ``sim.validation.observe``).

Uncertainty: the Gauss-Newton asymptotic covariance at the optimum, ``s^2 (J'J)^-1`` with ``s^2 = SSE / (n - p -
q)`` and ``J`` the Jacobian of the residuals in all ``p + q`` parameters, the ``q`` mode offsets included as
explicit columns (so an offset's standard error carries its dependence on the model parameters; one extra
Jacobian pass at the optimum, on cached runs). A rank-deficient ``J'J`` is not inverted: the parameters it
cannot identify get a standard error of NaN and the fit's ``identification`` message names them
(:func:`gauss_newton_covariance`). It reflects how sharply the polls pin the parameters down given the model, not
the model's structural error, and it leaves out the Monte-Carlo error of the objective itself; docs/validation.md
says so beside the numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from scipy.optimize import least_squares

from sim.designs import DesignError, factors_of
from sim.errors import RapprochementError
from sim.executors import Executor
from sim.files import write_atomic
from sim.scenario import Scenario
from sim.validation.observe import (
    INSTRUMENTS,
    MODE_OFFSET_PREFIX,
    OBSERVATION_PARAMETERS,
    ObservationSettings,
    PollPoint,
    rmse,
)
from sim.validation.simulate import PollRun, covered_points, run_polls

#: The calibration file shipped with the package; ``rapprochement calibrate --write`` replaces it.
CALIBRATED_FILE = Path(__file__).with_name("calibrated.yaml")
METHOD = (
    "scipy.optimize.least_squares (trf, bounds scaled to [0, 1], finite-difference Jacobian with an absolute step "
    "of diff_step in those coordinates) on the mean of R replications with common random numbers, penalised by "
    "a Gaussian prior at each judgement start (sd prior_sd_share of the range, weighed as discrepancy_pp per "
    "point); standard errors from s^2 (J'J)^-1 at the optimum, prior rows and mode offsets included in J"
)
#: Citizens per country during the fit (the backtest uses the scenario's own number).
FIT_CITIZENS = 500
#: Objective evaluations a fit may use, Jacobians included (the library's and the command line's default).
MAX_EVALUATIONS = 600


class CalibrationError(RapprochementError, ValueError):
    """A parameter spec or setting that cannot be calibrated; the message names it and what was expected."""


@dataclass(frozen=True)
class Parameter:
    """A fitted parameter: its dotted path (a scenario field, or ``observe.*``) and its admissible range."""

    path: str
    low: float
    high: float
    description: str = ""
    start: float | None = None  # the value before any calibration (a judgement); None: the scenario's value

    @property
    def is_observation(self) -> bool:
        """Whether the parameter belongs to the observation operators rather than the model."""
        return self.path.startswith("observe.")


#: The default fitted set: the level of each public in 2013, how hard history shocks, hostile trade moves and a
#: boycott hit, how strongly contact with the other country lifts the young and how long it is remembered, how
#: fast settled attitudes return to their long-run level, how far a leader's stance moves their own camp, and
#: where the Cabinet Office's "affinity" answer sits on the opinion scale. Each starts from its judgement before
#: any fit (the schema's default, or the historical scenario's value), which is also the centre of its prior, so
#: a re-fit on part of the years never starts from, or is pulled toward, the all-years fit.
DEFAULT_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("publics.korea.mean_opinion", 0.3, 0.7, "Korean mean opinion of Japan in January 2013", 0.47),
    Parameter("publics.japan.mean_opinion", 0.3, 0.7, "Japanese mean opinion of Korea in January 2013", 0.5),
    Parameter("publics.dynamics.history_push", 0.005, 0.15, "opinion drop per unit history shock", 0.06),
    Parameter("publics.dynamics.trade_push", 0.0, 0.3, "opinion drop per hostile trade move", 0.05),
    Parameter("publics.dynamics.boycott_push", 0.0, 0.1, "monthly opinion drop per unit boycott", 0.01),
    Parameter(
        "publics.dynamics.exchange_lift", 0.0, 0.6, "monthly lift of the young per visit per adult a year", 0.03
    ),
    Parameter(
        "drivers.exchange.contact_memory_months", 3.0, 120.0, "months over which visits are remembered", 60.0
    ),
    Parameter(
        "publics.dynamics.anchor_relaxation", 0.005, 0.15, "monthly return of attitudes to their level", 0.02
    ),
    Parameter("publics.dynamics.stance_cue", 0.0, 0.1, "monthly pull of a leader's camp to its stance", 0.004),
    Parameter("observe.affinity_threshold", 0.3, 0.65, "opinion above which a citizen 'feels affinity'", 0.6),
)


def parse_parameters(specs: Sequence[str], scenario: Scenario) -> tuple[Parameter, ...]:
    """Parameters from ``path=low:high`` or ``path=low:high@start`` specs, checked against the scenario's schema
    (or the operators).

    ``@start`` is the value the fit starts from (a judgement, inside the range). Without it a parameter of
    :data:`DEFAULT_PARAMETERS` starts from that judgement (clipped into the range by :func:`calibrate`), any other
    from the scenario's value (``start`` None).
    Raises :class:`CalibrationError` naming the spec for an unknown path, a bad range or start, or a duplicate.
    """
    found: dict[str, Parameter] = {}
    starts: dict[str, float] = {}
    model_specs = []
    for spec in specs:
        body, at, start_text = spec.partition("@")
        path, _, bounds = body.partition("=")
        path = path.strip()
        if at:
            try:
                starts[path] = float(start_text)
            except ValueError:
                raise CalibrationError(f"--param {spec!r}: expected 'path=low:high@start' with a number") from None
        if path.startswith("observe."):
            low_text, colon, high_text = bounds.partition(":")
            try:
                low, high = float(low_text), float(high_text)
            except ValueError:
                raise CalibrationError(f"--param {spec!r}: expected 'path=low:high' with numbers") from None
            if path not in OBSERVATION_PARAMETERS:
                raise CalibrationError(
                    f"--param {path}: not a parameter of the observation operators; expected one of "
                    f"{', '.join(OBSERVATION_PARAMETERS)} (mode offsets are estimated, not searched)"
                )
            lo, hi = OBSERVATION_PARAMETERS[path]
            if not (colon and lo <= low < high <= hi):
                raise CalibrationError(f"--param {path}: expected {lo} <= low < high <= {hi}, got {bounds!r}")
            found[path] = Parameter(path, low, high)
        else:
            model_specs.append(body)
    if model_specs:
        try:
            factors = factors_of(scenario.model_copy(update={"uncertainties": {}}), model_specs)
        except DesignError as exc:
            raise CalibrationError(f"--param: {exc}") from None
        for factor in factors:
            if factor.integer:
                raise CalibrationError(f"--param {factor.path}: a whole-number parameter cannot be fitted")
            found[factor.path] = Parameter(factor.path, factor.low, factor.high)
    if not found:
        raise CalibrationError("--param: no parameter to fit")
    judgements = {p.path: p for p in DEFAULT_PARAMETERS}
    for path, parameter in found.items():
        start = starts.get(path, judgements[path].start if path in judgements else None)
        if path in starts and not parameter.low <= starts[path] <= parameter.high:
            raise CalibrationError(
                f"--param {path}: start {start} outside the range [{parameter.low}, {parameter.high}]"
            )
        description = judgements[path].description if path in judgements else ""
        found[path] = Parameter(path, parameter.low, parameter.high, description, start)
    return tuple(found[path] for path in sorted(found))


def unstarted_fitted(parameters: Sequence[Parameter], fitted: Mapping[str, Any]) -> list[str]:
    """Model parameters without a judgement start whose scenario value is a fit (a path of ``fitted``).

    A fit on part of the years must not start from such a value: the all-years fit would leak into it.
    """
    return [p.path for p in parameters if p.start is None and not p.is_observation and p.path in fitted]


@dataclass(frozen=True)
class CalibrationSettings:
    """How hard to try: replications per evaluation, the evaluation budget, seeds and the training years."""

    replications: int = 10
    root_seed: int = 1
    max_evaluations: int = MAX_EVALUATIONS
    train_until: int | None = None
    diff_step: float = 0.03
    citizens: int | None = FIT_CITIZENS
    #: Penalised least squares (the mode of a posterior with Gaussian priors): each parameter's judgement start
    #: is a prior with a standard deviation of ``prior_sd_share`` of its range, weighed against the points as if
    #: each point's error were ``discrepancy_pp``. 0 turns the prior off (plain least squares). A parameter the
    #: training years cannot identify so stays near its judgement instead of wandering to a bound.
    discrepancy_pp: float = 4.0
    prior_sd_share: float = 0.25


@dataclass
class Calibration:
    """A finished fit: values, standard errors, the fit at every observed point, and its provenance."""

    parameters: tuple[Parameter, ...]
    start: dict[str, float]
    values: dict[str, float]
    standard_errors: dict[str, float]
    correlation: NDArray[np.float64]
    mode_offsets: dict[str, dict[str, float]]
    fit: pd.DataFrame  # series, year, observed, start, fitted, split
    sse: float
    evaluations: int
    simulations: int
    wall_time_s: float
    success: bool
    message: str
    settings: CalibrationSettings
    provenance: dict[str, Any] = field(default_factory=dict)
    identification: str = ""  # names the parameters the data cannot identify (standard error NaN); "" if none

    def all_values(self) -> dict[str, float]:
        """Fitted parameters and mode offsets, by path: what a backtest applies."""
        return self.values | {path: entry["value"] for path, entry in self.mode_offsets.items()}

    def metrics(self) -> pd.DataFrame:
        """RMSE (pp) before and after the fit per series and split, and over all series."""
        rows = []
        for split in ("train", "test"):
            part = self.fit[self.fit["split"] == split]
            groups = [(series, g) for series, g in part.groupby("series")] + [("all", part)]
            for series, group in groups:
                if not len(group):
                    continue
                rows.append(
                    {
                        "series": series,
                        "split": split,
                        "points": len(group),
                        "rmse_start": rmse(group["start"] - group["observed"]),
                        "rmse_fitted": rmse(group["fitted"] - group["observed"]),
                    }
                )
        return pd.DataFrame(rows)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the data a calibration was fitted to)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gauss_newton_covariance(
    jac: NDArray[np.float64], sse: float, dof: int, names: Sequence[str], *, tolerance: float = 1e-10
) -> tuple[NDArray[np.float64], str]:
    """Covariance ``s^2 (J'J)^-1`` of least-squares estimates, ``s^2 = sse / dof``, and what it cannot identify.

    ``jac`` is the Jacobian of the residuals (points x parameters) at the optimum, ``names`` its columns. When
    ``J'J`` is rank-deficient (an eigenvalue below ``tolerance`` times the largest, after scaling each column to
    unit length), the parameters that carry the null space are not identified: their rows and columns are NaN,
    the others' come from the inverse over the identified columns alone (the unidentified ones held fixed), and
    the returned message names them ("" when every parameter is identified).
    """
    jac = np.asarray(jac, dtype=float)
    p = jac.shape[1]
    s2 = sse / dof
    norms = np.linalg.norm(jac, axis=0)
    identified = norms > 0
    scaled = jac[:, identified] / norms[identified]
    if scaled.shape[1]:
        eigenvalues, eigenvectors = np.linalg.eigh(scaled.T @ scaled)
        weak = eigenvalues <= tolerance * max(float(eigenvalues.max()), 1e-300)
        if weak.any():
            # a parameter with a visible share of a null direction is one the data cannot tell apart from others
            carried = np.abs(eigenvectors[:, weak]).max(axis=1) > 0.1
            identified[np.flatnonzero(identified)[carried]] = False
    cov = np.full((p, p), np.nan)
    kept = np.flatnonzero(identified)
    if kept.size:
        sub = jac[:, kept]
        cov[np.ix_(kept, kept)] = s2 * np.linalg.inv(sub.T @ sub)
    missing = [name for name, ok in zip(names, identified, strict=True) if not ok]
    message = (
        "not identified by the data (J'J is rank-deficient; standard error NaN): " + ", ".join(missing)
        if missing
        else ""
    )
    return cov, message


class _Objective:
    """Residuals of a parameter vector, with simulations cached by the model part of the vector."""

    def __init__(
        self,
        scenario: Scenario,
        points: Sequence[PollPoint],
        train: NDArray[np.bool_],
        parameters: Sequence[Parameter],
        base: ObservationSettings,
        settings: CalibrationSettings,
        executor: Executor,
    ) -> None:
        self.scenario, self.points, self.train = scenario, list(points), train
        self.parameters, self.base, self.settings, self.executor = parameters, base, settings, executor
        self.observed = np.array([p.observed for p in self.points], dtype=float)
        self.cache: OrderedDict[tuple[float, ...], list[PollRun]] = OrderedDict()
        self.evaluations = 0
        self.simulations = 0
        self._last: tuple[tuple[float, ...], NDArray[np.float64]] | None = None
        #: The judgement start in scaled coordinates: the prior's centre (set by ``calibrate``).
        self.start: NDArray[np.float64] | None = None

    def values(self, u: NDArray[np.float64]) -> dict[str, float]:
        """Parameter values of scaled coordinates ``u`` in [0, 1]."""
        return {p.path: float(p.low + ui * (p.high - p.low)) for p, ui in zip(self.parameters, u, strict=True)}

    def _runs(self, model_values: dict[str, float]) -> list[PollRun]:
        key = tuple(model_values[k] for k in sorted(model_values))
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        overrides = dict(model_values)
        if self.settings.citizens is not None:
            overrides |= {f"publics.{c}.citizens": self.settings.citizens for c in ("korea", "japan")}
        scenario = self.scenario.with_values(overrides)
        runs = run_polls(scenario, self.points, self.settings.replications, self.settings.root_seed, self.executor)
        self.simulations += len(runs)
        self.cache[key] = runs
        # A Jacobian needs the point and one step per model parameter; keep them all so that the next
        # evaluation at the same point (least_squares asks for residuals, then the Jacobian) re-simulates nothing.
        if len(self.cache) > len(self.parameters) + 2:
            self.cache.popitem(last=False)
        return runs

    def segments(self) -> dict[str, NDArray[np.bool_]]:
        """Each series' segment after a break (a mode change or a new pollster), as a mask over the points."""
        masks = {
            MODE_OFFSET_PREFIX + series: np.array(
                [p.series == series and p.segment != "base" for p in self.points], dtype=bool
            )
            for series in INSTRUMENTS
        }
        return {path: mask for path, mask in masks.items() if mask.any()}

    def simulate(
        self, values: Mapping[str, float], offsets: Mapping[str, float] | None = None
    ) -> tuple[NDArray[np.float64], dict[str, dict[str, float]]]:
        """Mean simulated reading of every point (offsets included) and the mode offsets.

        The offsets are profiled (each the mean residual of its segment's training points) unless given.
        """
        self.evaluations += 1
        model_values = {k: v for k, v in values.items() if not k.startswith("observe.")}
        observation = self.base.with_values(values)
        observation = ObservationSettings(
            observation.good_impression_threshold, observation.affinity_threshold, {}
        )  # offsets are added below, from zero
        runs = self._runs(model_values)
        simulated = np.mean([run.measure(self.points, observation) for run in runs], axis=0)
        result: dict[str, dict[str, float]] = {}
        for path, segment in self.segments().items():
            fitted_on = segment & self.train
            if offsets is not None:
                value = float(offsets[path])
            elif fitted_on.any():
                value = float(np.mean(self.observed[fitted_on] - simulated[fitted_on]))
            else:
                value = 0.0
            simulated = simulated + value * segment
            result[path] = {"value": value, "points": int(fitted_on.sum())}
        return simulated, result

    def prior(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """The prior's residuals: each parameter's distance from its judgement start, in prior standard
        deviations, times ``discrepancy_pp`` (empty without a prior)."""
        s = self.settings
        if s.discrepancy_pp <= 0 or self.start is None:
            return np.empty(0)
        prior: NDArray[np.float64] = (
            s.discrepancy_pp * (np.asarray(u, dtype=float) - self.start) / s.prior_sd_share
        )
        return prior

    def residuals(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Simulated minus observed, in percentage points, at the training points (offsets profiled), then the
        prior's residuals."""
        key = tuple(float(x) for x in u)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        simulated, _ = self.simulate(self.values(u))
        residuals = np.concatenate([(simulated - self.observed)[self.train], self.prior(u)])
        self._last = (key, residuals)
        return residuals

    def jacobian(self, u: NDArray[np.float64], offsets: Mapping[str, float] | None = None) -> NDArray[np.float64]:
        """Finite-difference Jacobian of the training residuals in the scaled coordinates.

        The step is ``diff_step`` in [0, 1] coordinates (an absolute share of each range, whatever ``u``): forward,
        or backward where the forward step would leave the upper bound. With ``offsets`` the mode offsets are held
        at those values (the columns of the parameters at fixed offsets); without, they are profiled.
        """
        step = self.settings.diff_step

        def at(v: NDArray[np.float64]) -> NDArray[np.float64]:
            if offsets is None:
                return self.residuals(v)
            simulated, _ = self.simulate(self.values(v), offsets)
            return np.concatenate([(simulated - self.observed)[self.train], self.prior(v)])

        centre = at(u)
        columns = []
        for i in range(len(u)):
            h = step if u[i] + step <= 1.0 else -step
            moved = np.array(u, dtype=float)
            moved[i] += h
            columns.append((at(moved) - centre) / h)
        return np.column_stack(columns)


def calibration_points(polls: pd.DataFrame, scenario: Scenario) -> list[PollPoint]:
    """The observed points whose fieldwork lies inside the scenario's months (all years; the split comes later).

    The same selection as the backtest's (:func:`sim.validation.simulate.covered_points`), so a fit never asks
    for a month the runs do not reach.
    """
    return [p for p in covered_points(polls, scenario) if p.observed is not None]


def check_train_until(polls: pd.DataFrame, train_until: int | None, option: str = "--train-until") -> None:
    """A split year must leave observed points on both sides; raises CalibrationError otherwise."""
    if train_until is None:
        return
    years = polls["year"]
    if not years.min() <= train_until < years.max():
        raise CalibrationError(
            f"{option}: expected a year from {years.min()} to {years.max() - 1} (so that both training and test "
            f"years hold poll values), got {train_until}"
        )


def calibrate(
    scenario: Scenario,
    polls: pd.DataFrame,
    parameters: Sequence[Parameter],
    settings: CalibrationSettings,
    executor: Executor,
    base: ObservationSettings | None = None,
    *,
    start: Mapping[str, float] | None = None,
) -> Calibration:
    """Fit ``parameters`` to the observed points of ``polls`` up to ``settings.train_until`` (all when None).

    The start is ``start[path]`` where given, else the parameter's own ``start``, else the scenario's current
    value of each model parameter (and ``base``'s of each observation parameter), clipped into its range.
    Points after ``train_until`` are simulated with the fitted values and reported as the test split, never
    used in the objective.
    """
    base = base or ObservationSettings()
    check_train_until(polls, settings.train_until)
    points = calibration_points(polls, scenario)
    if not points:
        raise CalibrationError(f"{scenario.meta.name}: no observed poll value falls inside the scenario's months")
    limit = settings.train_until
    train = np.array([limit is None or p.year <= limit for p in points], dtype=bool)
    if train.sum() <= len(parameters) + 1:
        raise CalibrationError(
            f"only {int(train.sum())} training points for {len(parameters)} parameters; train on more years"
        )
    objective = _Objective(scenario, points, train, parameters, base, settings, executor)
    start_values = {}
    for p in parameters:
        if start is not None and p.path in start:
            start_values[p.path] = float(np.clip(start[p.path], p.low, p.high))
            continue
        if p.start is not None:
            start_values[p.path] = float(np.clip(p.start, p.low, p.high))
            continue
        current = getattr(base, p.path.removeprefix("observe.")) if p.is_observation else scenario.resolve(p.path)
        start_values[p.path] = float(np.clip(float(current), p.low, p.high))
    u0 = np.array([(start_values[p.path] - p.low) / (p.high - p.low) for p in parameters])
    objective.start = u0
    started = time.perf_counter()
    start_simulated, _ = objective.simulate(start_values)
    result = least_squares(
        objective.residuals,
        u0,
        jac=lambda u: objective.jacobian(u),
        bounds=(0.0, 1.0),
        method="trf",
        max_nfev=max(2, settings.max_evaluations // (len(parameters) + 1)),
        x_scale=1.0,
    )
    values = objective.values(result.x)
    fitted, offsets = objective.simulate(values)
    residuals = (fitted - objective.observed)[train]
    sse = float(np.sum(residuals**2))

    # The covariance of all p + q parameters: the model parameters' columns at fixed offsets, then one column per
    # fitted offset (d residual / d offset = 1 on its segment's training points).
    fitted_offsets = {path: entry for path, entry in offsets.items() if entry["points"]}
    jac = objective.jacobian(result.x, {path: entry["value"] for path, entry in offsets.items()})
    segments = objective.segments()
    prior_rows = len(objective.prior(result.x))
    offset_columns = [np.concatenate([segments[path][train], np.zeros(prior_rows)]) for path in fitted_offsets]
    full = np.column_stack([jac, *offset_columns]) if offset_columns else jac
    names = [p.path for p in parameters] + list(fitted_offsets)
    dof = max(1, int(train.sum()) - len(names))
    cov_scaled, identification = gauss_newton_covariance(full, sse, dof, names)
    scale = np.array([p.high - p.low for p in parameters] + [1.0] * len(fitted_offsets))
    cov_all = cov_scaled * np.outer(scale, scale)
    se_all = np.sqrt(np.diag(cov_all))  # NaN where not identified (never negative: an inverse of J'J)
    wall = time.perf_counter() - started
    p_count = len(parameters)
    se = se_all[:p_count]
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = cov_all[:p_count, :p_count] / np.outer(se, se)
    for path, entry in offsets.items():
        entry["standard_error"] = (
            float(se_all[p_count + list(fitted_offsets).index(path)]) if path in fitted_offsets else float("nan")
        )

    fit = pd.DataFrame(
        {
            "series": [p.series for p in points],
            "year": [p.year for p in points],
            "observed": objective.observed,
            "start": start_simulated,
            "fitted": fitted,
            "split": np.where(train, "train", "test"),
        }
    )
    return Calibration(
        parameters=tuple(parameters),
        start=start_values,
        values=values,
        standard_errors={p.path: float(s) for p, s in zip(parameters, se, strict=True)},
        correlation=correlation,
        mode_offsets=offsets,
        fit=fit,
        sse=sse,
        evaluations=objective.evaluations,
        simulations=objective.simulations,
        wall_time_s=wall,
        success=bool(result.success),
        message=str(result.message),
        settings=settings,
        identification=identification,
    )


def to_document(cal: Calibration, *, polls_path: Path, scenario: Scenario, workers: int) -> dict[str, Any]:
    """The calibration as the YAML document ``calibrated.yaml`` holds: values with provenance."""
    metrics = cal.metrics()
    s = cal.settings
    return {
        "scenario": scenario.meta.name,
        "method": METHOD,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "file": polls_path.name,
            "sha256": file_sha256(polls_path),
            "source": "see the source column of each row",
            "points_used": int((cal.fit["split"] == "train").sum()),
            "train_until": s.train_until,
        },
        "settings": {
            "citizens_per_country": s.citizens,
            "replications": s.replications,
            "root_seed": s.root_seed,
            "max_evaluations": s.max_evaluations,
            "diff_step": s.diff_step,
            "discrepancy_pp": s.discrepancy_pp,
            "prior_sd_share": s.prior_sd_share,
            "workers": workers,
        },
        "objective": {
            "sum_squared_error_pp2": round(cal.sse, 4),
            "rmse_train_pp": _metric(metrics, "all", "train", "rmse_fitted"),
            "rmse_train_start_pp": _metric(metrics, "all", "train", "rmse_start"),
            "rmse_test_pp": _metric(metrics, "all", "test", "rmse_fitted"),
            "evaluations": cal.evaluations,
            "simulated_runs": cal.simulations,
            "wall_time_s": round(cal.wall_time_s, 1),
            "converged": cal.success,
            "message": cal.message,
            "identification": cal.identification or "all parameters identified",
        },
        "parameters": {
            p.path: {
                "value": round(cal.values[p.path], 5),
                "standard_error": _rounded(cal.standard_errors[p.path], 5),
                "start": round(cal.start[p.path], 5),
                "low": p.low,
                "high": p.high,
                "description": p.description,
            }
            for p in cal.parameters
        },
        "mode_offsets": {
            path: {
                "value": round(entry["value"], 3),
                "standard_error": _rounded(entry["standard_error"], 3),
                "points": entry["points"],
            }
            for path, entry in cal.mode_offsets.items()
        },
    }


def _rounded(value: float, digits: int) -> float | None:
    """A value for the YAML document: rounded, or None (null) where it is NaN."""
    return None if np.isnan(value) else round(float(value), digits)


def _metric(metrics: pd.DataFrame, series: str, split: str, column: str) -> float | None:
    row = metrics[(metrics["series"] == series) & (metrics["split"] == split)]
    return round(float(row[column].iloc[0]), 3) if len(row) else None


def write_document(path: Path, document: Mapping[str, Any]) -> None:
    """Write a calibration document atomically and durably (see :func:`sim.files.write_atomic`)."""
    text = "# Written by `rapprochement calibrate`; see docs/validation.md. Values are copied into\n"
    text += "# scenarios/*.yaml by hand, and tests/test_validation.py checks that they agree.\n"
    text += yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)
    write_atomic(path, text)


def read_document(path: Path) -> dict[str, Any]:
    """A calibration document; raises CalibrationError naming the file and the field if it is not one.

    Checked: ``parameters`` maps paths to entries with a numeric ``value`` (and numeric ``low``, ``high``,
    ``start`` where present), ``mode_offsets`` (if any) maps paths to entries with a numeric ``value``, and
    ``data`` (if any) is a mapping whose ``train_until`` is a year or null.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such file (expected a calibration written by 'calibrate')") from None
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationError(f"{path}: not a readable calibration file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("parameters"), dict):
        raise CalibrationError(f"{path}: parameters: expected a mapping of fitted parameters")
    data = document.get("data")
    if data is not None and not isinstance(data, dict):
        raise CalibrationError(f"{path}: data: expected a mapping (file, sha256, train_until, ...)")
    train_until = (data or {}).get("train_until")
    if train_until is not None and (isinstance(train_until, bool) or not isinstance(train_until, int)):
        raise CalibrationError(f"{path}: data.train_until: expected a year or null, got {train_until!r}")
    offsets = document.get("mode_offsets")
    if offsets is not None and not isinstance(offsets, dict):
        raise CalibrationError(f"{path}: mode_offsets: expected a mapping of offsets")
    for section, entries, fields in (
        ("parameters", document["parameters"], ("value", "low", "high", "start")),
        ("mode_offsets", offsets or {}, ("value",)),
    ):
        for name, entry in entries.items():
            if not isinstance(entry, dict) or "value" not in entry:
                raise CalibrationError(f"{path}: {section}.{name}: expected a mapping with a 'value'")
            for key in fields:
                number = entry.get(key)
                if key in entry and (isinstance(number, bool) or not isinstance(number, int | float)):
                    raise CalibrationError(f"{path}: {section}.{name}.{key}: expected a number, got {number!r}")
    return document


def document_values(document: Mapping[str, Any]) -> dict[str, float]:
    """Fitted values and mode offsets of a calibration document (checked by :func:`read_document`), by path."""
    values = {path: float(entry["value"]) for path, entry in document["parameters"].items()}
    values |= {path: float(entry["value"]) for path, entry in (document.get("mode_offsets") or {}).items()}
    return values


def document_train_until(document: Mapping[str, Any]) -> int | None:
    """The last year a calibration document was fitted on (None: all years)."""
    train_until = (document.get("data") or {}).get("train_until")
    return None if train_until is None else int(train_until)
