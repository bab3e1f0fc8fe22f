"""The start-state hand-off: a projection starts from the state a calibrated replay reaches at its first month.

A scenario with ``meta.start_state: historical_2013_2025.yaml@2025-07`` does not start from judged opinion levels.
For each posterior draw (:mod:`sim.posterior`) the replay scenario is run with that draw's parameters up to the
month before the hand-off date, and the model's state is captured (:func:`capture`): every citizen (age, camp,
partisanship, predisposition, long-run level, anchor, opinion), the levels opinion answers changes from (the
replay's starting contact, threat, salience and leaders: opinion in the projection keeps answering the same
changes it answered in the replay, so a thaw carried by contact does not fade because a new run began), the
remembered contact, both approvals and the continuous stocks. Replication ``r`` of the projection adopts the
state of its own draw (:func:`adopt`), resampling the citizens to its own number with its own generator.

The states are derived by the code, never typed in, and cached in a file keyed by everything they depend on:
the replay scenario, the posterior file, the date and the model's source code. A new calibration (a new
posterior file) or a change to the model gives a new key, so the state is re-derived on the next run.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sim.errors import RapprochementError
from sim.files import atomic_path
from sim.posterior import DRAWS, Posterior, load_posterior
from sim.scenario import Camp, Scenario, StartStateSpec, load_scenario, months_between

if TYPE_CHECKING:
    from sim.model import RapprochementModel

#: Seed of the replays a hand-off is derived from (draw ``d`` runs as replication ``d`` under it).
HANDOFF_SEED = 20250701
#: The arrays of one public that are handed over, per citizen.
CITIZEN_ARRAYS = ("age", "camp", "partisanship", "nationalism", "base", "anchors", "opinions")
#: The model's source, whose change invalidates every cached state.
_MODEL_SOURCES = ("model.py", "moves.py", "opinion.py", "scenario.py", "agents", "drivers", "start_state.py")


class StartStateError(RapprochementError, ValueError):
    """A hand-off that cannot be derived (the replay does not reach the date); the message names the files."""


@dataclass(frozen=True)
class StartState:
    """One draw's state at the hand-off month: citizens per public and the scalar levels, by name."""

    citizens: dict[str, dict[str, NDArray[np.float64]]]  # public -> array name -> values
    scalars: dict[str, float]


def _stock_accessors(model: RapprochementModel) -> dict[str, tuple[Callable[[], float], Callable[[float], None]]]:
    """Getter and setter of each handed-over stock of ``model``, by its scenario path."""
    security = model.security
    s = model.spec.drivers.security

    def set_threat(value: float) -> None:
        security.nk_stock = s.threat_half_saturation * value / max(1.0 - value, 1e-9)

    return {
        "drivers.history.salience": (
            lambda: model.history.salience,
            lambda v: setattr(model.history, "salience", v),
        ),
        "drivers.security.cooperation": (
            lambda: security.cooperation,
            lambda v: setattr(security, "cooperation", v),
        ),
        "drivers.security.nk_threat": (lambda: security.nk_threat, set_threat),
        "drivers.security.china_pressure": (lambda: security.china, lambda v: setattr(security, "china", v)),
        "drivers.trade.boycott": (lambda: model.trade.boycott, lambda v: setattr(model.trade, "boycott", v)),
    }


def capture(model: RapprochementModel) -> StartState:
    """The model's state now: what :func:`adopt` hands over to a projection."""
    citizens = {
        name: {array: np.array(getattr(public, array), copy=True) for array in CITIZEN_ARRAYS}
        for name, public in model.publics.items()
    }
    scalars = {path: float(get()) for path, (get, _) in _stock_accessors(model).items()}
    scalars |= {"reference.threat": model._start_threat, "reference.salience": model._start_salience}
    for name, public in model.publics.items():
        scalars[f"reference.contact.{name}"] = model.exchange.start_contact[name]
        scalars[f"contact.{name}"] = model.exchange.contact[name]
        leader = public._start_leader
        scalars[f"reference.leader_conservative.{name}"] = float(leader.camp is Camp.CONSERVATIVE)
        scalars[f"reference.leader_orientation.{name}"] = leader.orientation
    return StartState(citizens, scalars)


def adopt(model: RapprochementModel, state: StartState, keep: tuple[str, ...] = ()) -> None:
    """Put ``state`` into a freshly built ``model`` (before its first month): citizens resampled with the model's
    generator to the scenario's number, references, contact and the stocks not in ``keep``."""
    from sim.agents.public import Leader

    sc = state.scalars
    for name, public in model.publics.items():
        arrays = state.citizens[name]
        chosen = model.rng.integers(arrays["opinions"].size, size=public.size)
        reference = Leader(
            Camp.CONSERVATIVE if sc[f"reference.leader_conservative.{name}"] else Camp.PROGRESSIVE,
            sc[f"reference.leader_orientation.{name}"],
        )
        public.adopt({array: values[chosen] for array, values in arrays.items()}, reference)
        model.exchange.start_contact[name] = sc[f"reference.contact.{name}"]
        model.exchange.contact[name] = sc[f"contact.{name}"]
    model._start_threat = sc["reference.threat"]
    model._start_salience = sc["reference.salience"]
    for path, (_, set_value) in _stock_accessors(model).items():
        if path not in keep:
            set_value(sc[path])


def _source_digest() -> str:
    """SHA-256 over the model's source files (a change to the model re-derives every cached state)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _MODEL_SOURCES:
        target = root / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_folder() -> Path:
    """Where derived states are kept: ``$RAPPROCHEMENT_CACHE``, else ``~/.cache/rapprochement``."""
    base = (
        os.environ.get("RAPPROCHEMENT_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rapprochement"
    )
    return Path(base) / "start_states"


def hand_off_key(spec: StartStateSpec, posterior: Posterior | None) -> str:
    """The cache key of a hand-off: the replay scenario's digest, the posterior's SHA-256 (or none), the date,
    the number of draws and the model's source."""
    replay = load_scenario(spec.source)
    parts = [
        replay.digest(),
        posterior.sha256 if posterior else "no-posterior",
        spec.date,
        str(DRAWS),
        _source_digest(),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def derive(spec: StartStateSpec, posterior: Posterior | None, draws: range = range(DRAWS)) -> list[StartState]:
    """Run the replay once per draw (with the draw's parameters) up to ``spec.date`` and capture each state."""
    from sim.model import RapprochementModel
    from sim.runner import run_seeds

    replay = load_scenario(spec.source)
    months = months_between(replay.meta.start, spec.date)
    if not 0 < months <= replay.meta.months:
        raise StartStateError(
            f"{spec.source}: the replay covers {replay.meta.start} and {replay.meta.months} months; it cannot "
            f"hand over {spec.date}"
        )
    states = []
    for draw in draws:
        values = posterior.values(draw) if posterior else {}
        model_values = {k: v for k, v in values.items() if not k.startswith("observe.")}
        model = RapprochementModel(replay.with_values(model_values), rng=run_seeds(HANDOFF_SEED, draw).model)
        while model.month < months:
            model.step()
        states.append(capture(model))
    return states


def _save(path: Path, states: list[StartState]) -> None:
    arrays: dict[str, NDArray[np.float64]] = {}
    for d, state in enumerate(states):
        for public, values in state.citizens.items():
            for name, array in values.items():
                arrays[f"{d}/{public}/{name}"] = array
        keys = sorted(state.scalars)
        arrays[f"{d}/scalars"] = np.array([state.scalars[k] for k in keys])
    arrays["scalar_names"] = np.array(sorted(states[0].scalars))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Through a handle: given a name, numpy would add ".npz" to the temporary file's.
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]


@functools.cache
def _open_cache(path: str, _pid: int) -> np.lib.npyio.NpzFile:
    """A cache file, opened once per process (``_pid``: a forked worker opens its own, never sharing a file
    offset with its parent). Opening reads the archive's whole directory - about 11 ms for 100 draws - which per
    draw was half the time of a small run."""
    return np.load(path)


@functools.cache
def _read_draw(path: str, draw: int) -> StartState:
    """One draw's state from a cache file (only its own arrays: a worker touches the draws of its runs)."""
    data = _open_cache(path, os.getpid())
    names = [str(n) for n in data["scalar_names"]]
    citizens = {
        public: {name: data[f"{draw}/{public}/{name}"] for name in CITIZEN_ARRAYS} for public in ("korea", "japan")
    }
    return StartState(citizens, dict(zip(names, data[f"{draw}/scalars"].tolist(), strict=True)))


@dataclass(frozen=True)
class HandOff:
    """The hand-off states of every draw, read from their cache file draw by draw as they are asked for."""

    path: Path
    repeated: bool  # one state serves every draw (no posterior: the replay's own parameters)

    def __len__(self) -> int:
        return DRAWS

    def __getitem__(self, draw: int) -> StartState:
        if not 0 <= draw < DRAWS:
            raise IndexError(f"draw {draw} is not one of the {DRAWS} draws")
        return _read_draw(str(self.path), 0 if self.repeated else draw)


def start_states(source: str, date: str, posterior_path: str) -> HandOff:
    """The hand-off states of every draw, derived and cached on first use (memoised per process and per version
    of the files).

    ``posterior_path`` "" derives from the replay's own parameters (one state serves every draw).
    """
    sha = load_posterior(posterior_path).sha256 if posterior_path else ""
    return _states(source, Path(source).stat().st_mtime_ns, date, posterior_path, sha)


@functools.cache
def _states(source: str, _mtime_ns: int, date: str, posterior_path: str, _sha: str) -> HandOff:
    """``start_states`` for one version of the replay file (``_mtime_ns``) and of the posterior (``_sha``)."""
    spec = StartStateSpec(scenario=Path(source).name, date=date, source=source)
    posterior = load_posterior(posterior_path) if posterior_path else None
    path = cache_folder() / f"{Path(source).stem}@{date}_{hand_off_key(spec, posterior)}.npz"
    expected = DRAWS if posterior else 1
    try:
        with np.load(path) as data:
            complete = sum(1 for key in data.files if key.endswith("/scalars")) == expected
    except (OSError, ValueError):
        complete = False  # missing or damaged: derived again
    if not complete:
        _save(path, derive(spec, posterior, range(expected)))
    return HandOff(path, repeated=posterior is None)


def state_for(scenario: Scenario, draw: int) -> StartState | None:
    """The start state of draw ``draw`` for ``scenario`` (None when it has no ``meta.start_state``)."""
    spec = scenario.meta.start_state
    if spec is None:
        return None
    posterior = scenario.parameters.source if scenario.parameters is not None else ""
    return start_states(spec.source, spec.date, posterior)[draw]


def prepare_start_states(scenario: Scenario) -> None:
    """Derive (or read) a scenario's hand-off states in this process before a batch is dispatched, so the
    workers read the cached file instead of each deriving it."""
    state_for(scenario, 0)
