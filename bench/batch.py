"""Time a baseline batch with 1 and with all workers, in the same run, and print medians and the ratio.

    python bench/batch.py [--runs 200] [--repeats 3] [--scenario scenarios/baseline.yaml]

Only the simulation and the streaming of results to Parquet are timed (no plots), which is what grows with the
number of runs. Each repetition writes to a fresh temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sim.results import compute_batch
from sim.runner import BatchPlan, default_workers
from sim.scenario import load_scenario


def time_batch(scenario_path: Path, runs: int, workers: int) -> float:
    """Seconds to run and write one batch."""
    scenario = load_scenario(scenario_path)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        compute_batch(BatchPlan(scenario, runs, 1), Path(tmp) / scenario.meta.name, workers=workers, plots=False)
        return time.perf_counter() - started


def main() -> None:
    """Run the measurement and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=Path("scenarios/baseline.yaml"))
    args = parser.parse_args()
    cores = default_workers()
    medians = {}
    for workers in sorted({1, cores}):
        times = [time_batch(args.scenario, args.runs, workers) for _ in range(args.repeats)]
        medians[workers] = statistics.median(times)
        print(
            f"{args.runs} runs, {workers} worker(s): median {medians[workers]:.2f} s "
            f"({args.runs / medians[workers]:.1f} runs/s) over {args.repeats} repeats: "
            + ", ".join(f"{t:.2f}" for t in times)
        )
    if cores > 1:
        print(f"speed-up with {cores} workers: {medians[1] / medians[cores]:.2f}x")


if __name__ == "__main__":
    main()
