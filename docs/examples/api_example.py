"""sendsim from Python: a baseline and an early-intervention option for one LA, their paired
difference, and the sizing of an EP team, as a modeller would in a notebook.

Run it from a clone (after `pip install .`):  python docs/examples/api_example.py [OUT]
The test suite runs it (small numbers, so it takes seconds); raise `REPLICATIONS` and
`YEARS` for real answers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from experiments.api import compare, run, size

REPLICATIONS = 4
YEARS = 2


def main(out: Path) -> None:
    # 1. Project Rutland forward, with a bundled scenario beside the baseline. Replication i
    #    of both uses the same random numbers, so their difference is the option's effect.
    result = run(
        "Rutland",
        scenarios=["early_intervention"],
        years=YEARS,
        replications=REPLICATIONS,
        seed=1,
        out=out / "run",
    )
    summary = result.summary()  # a pandas DataFrame when pandas is installed
    print(f"{result.la_name}: {result.replications} replications of {result.scenarios}")
    years, plans = result.values("ehcp_total_jan")  # one row per replication
    print(f"plans in January {years[-1]}: median {np.median(plans[:, -1]):.0f}")
    print(f"summary rows: {len(summary)}")

    # 2. The option's effect, paired replication by replication.
    effect = compare(out / "run")
    for row in effect.rows:
        scenario, against, year, metric, mean, p5, p95, _ = row
        if metric == "new_ehcps":
            band = f"{p5:+.1f} to {p95:+.1f}"
            print(f"{scenario} vs {against}, new plans in {year}: {mean:+.1f} ({band})")

    # 3. The EP team needed for at least 20 new plans in the first year, 90% confident.
    first_year, _ = result.values("new_ehcps")
    sized = size(
        "Rutland",
        resource="ep_fte",
        target="new_ehcps>=20",
        year=first_year[0],
        replications=REPLICATIONS,
        max_level=20,
    )
    assert sized.sizing is not None  # one resource sized
    print(f"EP FTE needed: {sized.sizing.answer}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
