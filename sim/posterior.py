"""A calibrated posterior as projections use it: weighted particles, resampled to a fixed set of draws.

``rapprochement calibrate`` (ABC-SMC, :mod:`sim.validation.abc`) writes the posterior as a table of weighted
particles, one column per parameter path plus ``weight`` (``posterior.csv``). A projection does not use the
particles directly: they are resampled once, deterministically (systematic resampling with a fixed offset), to
:data:`DRAWS` equally weighted draws, and replication ``r`` uses draw ``posterior_draw(seed_r)``, chosen with the
replication's own seed. So the draw a replication gets depends on the replication alone (not on the worker, the
executor or the other replications), common random numbers hold across scenarios that read the same posterior,
and the start-state hand-off (:mod:`sim.start_state`) can be derived once per draw and cached.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd

from sim.errors import RapprochementError

#: Equally weighted draws a posterior is resampled to: enough that 200 replications see most of the posterior's
#: spread, few enough that the start state of every draw is derived in seconds.
DRAWS = 100
#: Columns of ``posterior.csv`` that are not parameters.
BOOKKEEPING = ("weight", "distance", "generation")
#: Parameters that describe the calibrated replay's start (the publics' levels in January 2013), not behaviour: a
#: projection takes its publics from its own start state, never from these.
INITIAL_CONDITIONS = ("publics.korea.mean_opinion", "publics.japan.mean_opinion")


class PosteriorError(RapprochementError, ValueError):
    """A posterior file that cannot be read; the message names the file and what was expected."""


@dataclass(frozen=True)
class Posterior:
    """Weighted particles of a calibrated posterior and their resampling to ``DRAWS`` draws."""

    paths: tuple[str, ...]
    particles: NDArray[np.float64]  # particles x paths
    weights: NDArray[np.float64]  # sums to 1
    sha256: str

    @functools.cached_property
    def draws(self) -> NDArray[np.intp]:
        """The particle behind each of the ``DRAWS`` draws (systematic resampling, offset one half)."""
        positions = (np.arange(DRAWS) + 0.5) / DRAWS
        chosen: NDArray[np.intp] = np.searchsorted(np.cumsum(self.weights), positions).clip(
            0, len(self.weights) - 1
        )
        return chosen

    def values(self, draw: int) -> dict[str, float]:
        """Every parameter of draw ``draw`` (model parameters and ``observe.*``), by path."""
        row = self.particles[self.draws[draw]]
        return {path: float(value) for path, value in zip(self.paths, row, strict=True)}

    def model_values(self, draw: int) -> dict[str, float]:
        """The behavioural model parameters of draw ``draw``: what a projection applies (no ``observe.*``, no
        initial conditions of the calibrated replay)."""
        return {
            path: value
            for path, value in self.values(draw).items()
            if not path.startswith("observe.") and path not in INITIAL_CONDITIONS
        }

    def mean(self) -> dict[str, float]:
        """The posterior mean of each parameter (weighted)."""
        return {path: float(v) for path, v in zip(self.paths, self.weights @ self.particles, strict=True)}


def posterior_draw(seed: int) -> int:
    """The draw (0 .. DRAWS-1) of a replication whose posterior seed is ``seed``."""
    return int(np.random.default_rng(seed).integers(DRAWS))


def posterior_frame(
    paths: tuple[str, ...], particles: NDArray[np.float64], weights: NDArray[np.float64]
) -> pd.DataFrame:
    """The table ``posterior.csv`` holds: one column per parameter, then the normalised weight."""
    import pandas as pd  # only a calibration writes the table

    frame = pd.DataFrame(particles, columns=list(paths))
    frame["weight"] = weights / weights.sum()
    return frame


def load_posterior(path: str) -> Posterior:
    """Read ``posterior.csv``, memoised per process and per version of the file (every replication of a batch
    reads the same file; a rewritten file is read again).

    Raises :class:`PosteriorError` naming the file for a missing file, no parameter column, a non-numeric value or
    weights that are negative or sum to zero.
    """
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise PosteriorError(f"{path}: not a readable posterior ({exc})") from None
    return _read_posterior(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _read_posterior(path: str, mtime_ns: int, size: int) -> Posterior:
    """The posterior file at ``path`` as it was at (``mtime_ns``, ``size``): the memo's key."""
    file = Path(path)
    try:
        data = file.read_bytes()
        # The csv module rather than pandas: a scenario that names the posterior is checked at load, and
        # ``rapprochement validate`` should not pay pandas' import for a table of a few hundred numbers.
        rows = [row for row in csv.reader(io.StringIO(data.decode("utf-8"))) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PosteriorError(f"{file}: not a readable posterior ({exc})") from None
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    paths = tuple(c for c in header if c not in BOOKKEEPING)
    if not paths or "weight" not in header or not body:
        raise PosteriorError(
            f"{file}: expected a 'weight' column, one column per parameter path and a row per particle"
        )
    try:
        table = np.array(body, dtype=float)  # a ragged or non-numeric row raises ValueError
        particles = table[:, [header.index(c) for c in paths]]
        weights = table[:, header.index("weight")]
    except ValueError:
        raise PosteriorError(f"{file}: every parameter and weight must be a number") from None
    if not (
        np.isfinite(particles).all() and np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0
    ):
        raise PosteriorError(f"{file}: weights must be finite, >= 0 and not all 0; parameters finite")
    return Posterior(paths, particles, weights / weights.sum(), hashlib.sha256(data).hexdigest())
