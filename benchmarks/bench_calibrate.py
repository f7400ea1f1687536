"""Speed of a calibration against the history replications it is made of.

Calibrates the median-size LA (Bexley) to its latest census with the default fit (4
replications per evaluation, up to 40 evaluations plus the curvature) and, in the same
process, times one replication of the fit window's replay. The ratio says how much of a
calibration is simulation the fit asks for (evaluations x replications) and how much is
estimation and bookkeeping.

    python benchmarks/bench_calibrate.py [--la Bexley] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.calibrate import calibrate
from calibration.la_data import load_dataset
from simulation.model import run_replication


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--la", default="Bexley")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ds = load_dataset()
    times, cal = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        cal = calibrate(ds, args.la)
        times.append(time.perf_counter() - t0)
    assert cal is not None and cal.fit is not None and cal.fit.history_params is not None
    seeds = np.random.SeedSequence(1).spawn(10)
    reps = []
    for s in seeds:
        t0 = time.perf_counter()
        run_replication(cal.fit.history_params, s)
        reps.append(time.perf_counter() - t0)
    one = min(reps)
    simulated = cal.fit.evaluations * 4
    best = min(times)
    print(f"{cal.la_name}: calibrate to January {cal.until}, fit window {cal.fit.window}")
    print(f"  calibrate: fastest {best:.2f} s, median {statistics.median(times):.2f} s")
    print(f"  one replay replication: fastest {one * 1000:.0f} ms")
    print(
        f"  {cal.fit.evaluations} evaluations x 4 replications = {simulated} replays = "
        f"{simulated * one:.2f} s; calibrate / replays = {best / (simulated * one):.2f}"
    )


if __name__ == "__main__":
    main()
