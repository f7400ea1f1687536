"""Rolling-origin validation of the request trend (issue 10, item 4): every bundled LA's
requests forecast from several origins, scored against what was published, by horizon.

Forecasts, each from the LA's last published count (data up to the year before the
origin only; the damping chosen as of the origin on earlier origins, never on the one
scored):

- ``pooled``: the damped, pooled trend the estimates now use (:mod:`calibration.pooling`);
- ``alone``: the same damped trend with the LA's own share slope, unshrunk;
- ``last``: the last published value carried forward;
- ``old``: the log-linear trend of the last five years (held in -20%..+30%), compounded:
  what the estimates used before.

    python benchmarks/request_trend_validation.py [--origins 2019-2024] [--horizon 4]

It takes a few seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.estimation import clip_trend
from calibration.estimators.common import log_linear_trend
from calibration.pooling import (
    Pool,
    _bundled_histories,
    bundled_damping,
    bundled_pool,
    forecast,
    pooled_trend,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", default="2019-2024")
    parser.add_argument("--horizon", type=int, default=4)
    args = parser.parse_args()
    first, _, last = args.origins.partition("-")
    origins = range(int(first), int(last or first) + 1)
    las, national = _bundled_histories()
    print("origin  phi  horizon  n_las  pooled  alone   last    old")
    for origin in origins:
        until = origin - 1
        cut = {y: v for y, v in national.items() if y <= until}
        phi, _ = bundled_damping(until)
        pool = bundled_pool(until)
        alone = Pool(pool.mu, math.inf, pool.dispersion, pool.n_las)
        errors: dict[int, dict[str, list[float]]] = {}
        for counts in las:
            own = {y: v for y, v in counts.items() if y <= until}
            if own.get(until, 0.0) <= 0:
                continue
            pooled = pooled_trend(own, cut, until, pool, phi)
            unpooled = pooled_trend(own, cut, until, alone, phi)
            old = clip_trend(log_linear_trend(own, until))
            for h in range(1, args.horizon + 1):
                actual = counts.get(until + h, 0.0)
                if actual <= 0:
                    continue
                fs = {
                    "pooled": forecast(own, pooled, until, h),
                    "alone": forecast(own, unpooled, until, h),
                    "last": own[until],
                    "old": own[until] * (1 + old) ** h,
                }
                row = errors.setdefault(h, {k: [] for k in fs})
                for k, f in fs.items():
                    if f is not None:
                        row[k].append(abs(f - actual) / actual * 100.0)
        for h, row in sorted(errors.items()):
            m = {k: float(np.mean(v)) if v else math.nan for k, v in row.items()}
            print(
                f"{origin}  {phi:.1f}  {h:7d}  {len(row['last']):5d}  {m['pooled']:6.1f}  "
                f"{m['alone']:5.1f}  {m['last']:5.1f}  {m['old']:5.1f}"
            )


if __name__ == "__main__":
    main()
