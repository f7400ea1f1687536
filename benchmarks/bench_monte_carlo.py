"""Monte Carlo throughput: many replications on a local process pool, against one core.

By default 1,000 replications of a 10-year run of the median-size bundled LA (Bexley,
3,267 plans in January 2025) with 2 worker processes, through the same code path as
`sendsim run` (run folder, a saved file per replication, results, summary and charts).
It prints the wall time and the parallel efficiency: single-replication time x
replications / workers / wall time, with the single-replication time measured in this
process first.

    python benchmarks/bench_monte_carlo.py [--replications 1000] [--jobs 2] [--la Bexley]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.calibrate import direct_uncertainty
from calibration.defaults import estimate_parameters
from calibration.la_data import load_dataset
from experiments.experiment import finalise, new_spec, run_experiment
from experiments.runner import make_executor, replication_seeds
from experiments.store import RunStore
from simulation.model import run_replication
from simulation.results import HEADLINE_METRICS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--la", default="Bexley")
    ap.add_argument("--dask", action="store_true", help="a Dask LocalCluster of --jobs workers")
    ap.add_argument(
        "--no-parameter-uncertainty",
        action="store_true",
        help="every replication on the point estimates (a run draws its parameters by default)",
    )
    args = ap.parse_args()

    ds = load_dataset()
    history = ds.la(args.la)
    params, _ = estimate_parameters(ds, args.la, None, args.years)
    uncertainty = None if args.no_parameter_uncertainty else direct_uncertainty(ds, args.la, params)
    seeds = replication_seeds(1, 8)
    run_replication(params, seeds[0])  # warm up
    single = []
    for seed in seeds[1:]:
        t = time.perf_counter()  # a replication as a worker runs it: draw, then simulate
        drawn = params if uncertainty is None else uncertainty.draw_and_apply(params, seed)
        run_replication(drawn, seed)
        single.append(time.perf_counter() - t)
    one = statistics.median(single)

    with tempfile.TemporaryDirectory() as tmp:
        spec = new_spec(
            la_code=history.la_code,
            la_name=history.la_name,
            data_path=ds.path,
            root_seed=7,
            replications=args.replications,
            precision=None,
            scenarios={"baseline": (params, None, "")},
            estimates=[],
            uncertainty=uncertainty,
            command=sys.argv,
            arguments=vars(args),
            version="benchmark",
        )
        start = time.perf_counter()
        (Path(tmp) / "run").mkdir()
        store = RunStore.create(Path(tmp) / "run", spec)
        executor = make_executor(args.jobs, None, args.jobs if args.dask else None)
        outcome = run_experiment(store, executor)
        executor.close()
        simulated = time.perf_counter()
        finalise(store, outcome, {m: {} for m in HEADLINE_METRICS}, history.la_name, {})
        wall = time.perf_counter() - start

    ideal = one * args.replications / args.jobs
    plans = sum(map(sum, params.initial.caseload.values()))
    print(
        f"LA: {history.la_name}, {plans:.0f} "
        f"plans at start, {args.years} years, {args.replications} replications, "
        f"{args.jobs} {'Dask' if args.dask else 'process-pool'} workers"
    )
    print(f"single replication (median of {len(single)}): {one:.3f} s")
    print(
        f"wall time: {wall:.1f} s (simulating {simulated - start:.1f} s, writing outputs "
        f"{wall - (simulated - start):.1f} s); ideal {ideal:.1f} s"
    )
    print(f"parallel efficiency: {ideal / wall:.1%} (target >= 90%)")
    print(f"wall <= 180 s: {'met' if wall <= 180 else 'NOT met'}")


if __name__ == "__main__":
    main()
