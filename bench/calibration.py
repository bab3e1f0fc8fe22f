"""Time the ABC-SMC calibration on one process, on the process pool and on a local Dask cluster, in one run.

    python bench/calibration.py [--population 100] [--generations 4] [--repeats 1]

Each executor runs the same calibration (the default ten parameters, the historical scenario at 500 citizens a
country) into a fresh temporary folder; the table gives the median wall time, the runs simulated and runs per
second, and the ratio against one process measured in the same run. Parallel samplers accept particles as they
come, so their run counts differ a little from the single process's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sim.executors import make_executor
from sim.runner import default_workers
from sim.scenario import load_scenario
from sim.validation.abc import AbcSettings, run_abc
from sim.validation.calibrate import DEFAULT_PARAMETERS
from sim.validation.observe import DEFAULT_POLLS, read_polls


def time_calibration(workers: int, dask: str | None, settings: AbcSettings) -> tuple[float, int]:
    """Seconds and simulated runs of one calibration on the given executor."""
    scenario = load_scenario("scenarios/historical_2013_2025.yaml")
    polls = read_polls(DEFAULT_POLLS)
    with tempfile.TemporaryDirectory() as tmp, make_executor(workers, dask) as executor:
        started = time.perf_counter()
        work = Path(tmp)
        result = run_abc(scenario, polls, DEFAULT_PARAMETERS, settings, executor, work, progress=lambda _: None)
        return time.perf_counter() - started, result.simulations


def main() -> None:
    """Run the measurement and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=100)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    settings = AbcSettings(population=args.population, generations=args.generations)
    cores = default_workers()
    rows = []
    executors = (("1 process", 1, None), (f"{cores} processes", cores, None), ("Dask local", cores, "local"))
    for label, workers, dask in executors:
        measured = [time_calibration(workers, dask, settings) for _ in range(args.repeats)]
        seconds = statistics.median(t for t, _ in measured)
        runs = int(statistics.median(n for _, n in measured))
        rows.append((label, seconds, runs))
    reference = rows[0][1] / rows[0][2]  # seconds per run on one process
    print(f"ABC-SMC, population {args.population}, {args.generations} generations, {args.repeats} repeat(s):")
    for label, seconds, runs in rows:
        print(
            f"  {label:12s} {seconds:7.1f} s  {runs:6d} runs  {runs / seconds:6.1f} runs/s  "
            f"speed-up per run {reference / (seconds / runs):.2f}x"
        )


if __name__ == "__main__":
    main()
