"""Cost per citizen of one model month, and of its parts, across population sizes (a diagnostic, no targets).

    python bench/citizen_scaling.py [--repeats 5] [--months 48]

The growth exponent in citizens of ``bench/throughput.py`` fits whole batches, where a fixed cost per run and per
month hides most of the citizens' share below about 8,000 per country. This script separates the parts:

- the whole model: ``model.step()`` on a model built beforehand, per month, minus nothing - so the fixed cost
  per month shows at the small sizes;
- one Deffuant round (``sim.opinion.deffuant_round``, in place, the model's call) per citizen;
- the random permutation that pairs citizens in that round, alone;
- an affine array update of the same length (``y = a * x + b``, the shape of the forcing in ``absorb``), the cost
  of a sequential pass.

A cost per citizen that rises with size, while the sequential pass stays flat, is the memory hierarchy: the
round's gathers and scatters at random positions fall out of the caches once the arrays outgrow them.
Times are the process's CPU time, median of the repetitions.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim.model import RapprochementModel
from sim.opinion import deffuant_round
from sim.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SIZES = (1000, 2000, 4000, 8000, 16000, 32000, 64000)
#: Array passes per kernel timing, so that even the smallest size runs for milliseconds.
ELEMENTS_PER_TIMING = 4_000_000


def median_cpu_seconds(action: Callable[[], object], repeats: int, calls: int) -> float:
    """Median over ``repeats`` of the CPU seconds per call of ``calls`` consecutive calls."""
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            action()
        timings.append((time.process_time() - started) / calls)
    return statistics.median(timings)


def model_month_seconds(citizens: int, months: int, repeats: int) -> float:
    """Median CPU seconds of one ``model.step()`` of the baseline with ``citizens`` per country."""
    scenario = load_scenario(
        BASELINE, (f"publics.korea.citizens={citizens}", f"publics.japan.citizens={citizens}")
    )
    timings = []
    for _ in range(repeats):
        model = RapprochementModel(scenario, rng=1)
        started = time.process_time()
        for _ in range(months):
            model.step()
        timings.append((time.process_time() - started) / months)
    return statistics.median(timings)


def main() -> None:
    """Print one row per size: the model month and the kernel parts, per citizen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--months", type=int, default=48, help="months timed per model (default 48)")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print("per citizen (2 countries for the model month), ns; CPU time, median of", args.repeats)
    print(f"{'citizens':>9} {'model month':>12} {'deffuant round':>15} {'permutation':>12} {'affine pass':>12}")
    for n in SIZES:
        x, y, z = rng.random(n), np.empty(n), rng.random(n)
        calls = max(10, ELEMENTS_PER_TIMING // n)

        def affine(x: np.ndarray = z, out: np.ndarray = y) -> None:
            np.multiply(x, 0.3, out=out)
            out += 0.1

        month = model_month_seconds(n, args.months, args.repeats) / (2 * n)
        round_ = median_cpu_seconds(lambda x=x: deffuant_round(x, 0.3, 0.3, rng, out=x), args.repeats, calls) / n
        permutation = median_cpu_seconds(lambda n=n: rng.permutation(n), args.repeats, calls) / n
        sequential = median_cpu_seconds(affine, args.repeats, calls) / n
        ns = [v * 1e9 for v in (month, round_, permutation)]
        print(f"{n:>9,} {ns[0]:>12.1f} {ns[1]:>15.1f} {ns[2]:>12.1f} {sequential * 1e9:>12.2f}")


if __name__ == "__main__":
    main()
