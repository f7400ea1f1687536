"""Plausibility: do projections continue each LA's published history, as a council's SEND
data lead would check? The measures of issue 10 ("credible system dynamics").

Runs every bundled LA (or --las CODE,...) as `sendsim run` does (direct estimates, with
parameter uncertainty) from its latest census (20 replications, 5 years) and from
January 2022 (3 years, a back-cast scored against what was published), and prints:

- jump-off: the share of LAs whose first simulated year's median new plans lie within
  +-15% of the last published year, and whose 20-week % lies within +-20 points;
- shape: the share of simulated LA-years with a median 20-week % below 10% against the
  published share (2019-24), the share of LAs that fall from >= 60% to < 10% in one
  simulated year, and the share of LA-years whose decisions within 6 weeks stay inside the
  LA's published range;
- back-cast from 2022: the 20-week % MAE (points) and new plans MAPE by horizon, model
  against the last published value carried forward;
- England (every LA's median, weighted by its plans issued): the 20-week % in the first
  simulated year, and requests' growth in that year against the last published growth;
- levers: an early-intervention lever cutting requests by 15% from 2026 in the bundled
  example (Stockport): its effect on new plans in 2027.

    python benchmarks/plausibility.py [--replications 20] [--jobs 2] [--las E08000007,...]
        [--json OUT.json]

It takes about 15-25 minutes for every LA on 2 processes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.calibrate import direct_uncertainty
from calibration.defaults import estimate_parameters
from calibration.la_data import DataError, LAHistory, load_dataset
from experiments.outputs import nanpercentile
from experiments.runner import replication_seeds, worker_initializer
from simulation.model import run_replication
from simulation.parameters import ParameterError, apply_scenario

ENGLAND = "E92000001"
BACKCAST_START = 2022
METRICS = (
    "new_ehcps",
    "pct_within_20wks_excl_exceptions",
    "requests_received",
    "pct_requests_decided_within_6wks",
    "plans_issued_excl_exceptions",
)
LEVER = """[scenario]
name = "early_intervention_2026"
description = "Requests 15% lower from January 2026 (plausibility check)"

[[levers]]
type = "early_intervention"
name = "Early intervention"
start = "2026-01-01"
ramp_months = 0
annual_cost_gbp = 0
request_reduction = 0.15
"""


@dataclass
class Projection:
    """One LA's median projection of each metric by year, from one start census."""

    code: str
    start: int
    medians: dict[str, dict[int, float]] = field(default_factory=dict)
    error: str | None = None


def project(code: str, start: int | None, years: int, reps: int, seed: int) -> Projection:
    ds = load_dataset(None)
    history = ds.la(code)
    first = start or history.latest_census_year()
    out = Projection(code, first)
    try:
        base, _ = estimate_parameters(ds, code, first, years)
        uncertainty = direct_uncertainty(ds, code, base)
    except (DataError, ParameterError) as e:
        out.error = str(e)
        return out
    runs = [
        run_replication(uncertainty.draw_and_apply(base, s), s)
        for s in replication_seeds(seed, reps)
    ]
    for metric in METRICS:
        years_of, table = runs[0].table(metric)
        values = np.array([r.table(metric)[1] for r in runs], dtype=float)
        med = nanpercentile(values, 50, axis=0) if np.isfinite(values).any() else None
        if med is not None:
            out.medians[metric] = {int(y): float(v) for y, v in zip(years_of, med, strict=True)}
    del table
    return out


def _task(args: tuple[str, int | None, int, int, int]) -> Projection:
    return project(*args)


def published(h: LAHistory, metric: str) -> dict[int, float]:
    return {int(y): float(v) for y, v in h.series(metric).items()}


def share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if flags else math.nan


def lever_effect(reps: int, seed: int) -> float:
    """New plans in 2027 with the lever, as a share of the baseline's (paired medians)."""
    ds = load_dataset(None)
    base, _ = estimate_parameters(ds, "Stockport", None, 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lever.toml"
        path.write_text(LEVER, encoding="utf-8")
        lever = apply_scenario(base, path)
    seeds = replication_seeds(seed, reps)
    ratio = []
    for s in seeds:
        a = run_replication(base, s).value("new_ehcps", 2027)
        b = run_replication(lever, s).value("new_ehcps", 2027)
        ratio.append(b / a if a else math.nan)
    return float(np.nanmedian(ratio))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument("--las", help="comma-separated GSS codes (default: every bundled LA)")
    ap.add_argument("--json", type=Path, help="write every LA's medians and the figures here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ds = load_dataset(None)
    codes = args.las.split(",") if args.las else [c for c, _ in ds.las() if c != ENGLAND]
    work: list[tuple[str, int | None, int, int, int]]
    work = [(c, None, 5, args.replications, args.seed) for c in codes]
    work += [(c, BACKCAST_START, 3, args.replications, args.seed) for c in codes]
    with ProcessPoolExecutor(args.jobs, initializer=worker_initializer()) as pool:
        done = list(pool.map(_task, work, chunksize=1))
    latest = [p for p in done[: len(codes)] if p.error is None]
    back = [p for p in done[len(codes) :] if p.error is None]
    figures = evaluate(latest, back, {c: ds.la(c) for c in codes})
    figures["lever_new_plans_2027_ratio"] = lever_effect(args.replications, args.seed)
    figures["seconds"] = time.perf_counter() - t0
    figures["skipped"] = {p.code: p.error for p in done if p.error is not None}
    report(figures)
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "projections": [asdict(p) for p in done]}, indent=1),
            encoding="utf-8",
        )


def evaluate(
    latest: list[Projection], back: list[Projection], histories: dict[str, LAHistory]
) -> dict[str, object]:
    jump_new, jump_pct, low_sim, drops, six_in = [], [], [], [], []
    eng_pct_num = eng_pct_den = eng_req = eng_req_last = eng_req_before = 0.0
    for p in latest:
        h = histories[p.code]
        new = published(h, "new_ehcps")
        pct = published(h, "pct_within_20wks_excl_exceptions")
        six = published(h, "pct_requests_decided_within_6wks")
        req = published(h, "requests_received")
        first = p.start  # the first simulated flow year is the start census's year
        sim_new = p.medians.get("new_ehcps", {})
        sim_pct = p.medians.get("pct_within_20wks_excl_exceptions", {})
        if first - 1 in new and first in sim_new and new[first - 1] > 0:
            jump_new.append(abs(sim_new[first] / new[first - 1] - 1) <= 0.15)
        if first - 1 in pct and first in sim_pct:
            jump_pct.append(abs(sim_pct[first] - pct[first - 1]) <= 20)
        chain = [pct[first - 1]] if first - 1 in pct else []
        chain += [sim_pct[y] for y in sorted(sim_pct)]
        low_sim += [v < 10 for v in sim_pct.values() if not math.isnan(v)]
        drops.append(any(a >= 60 and b < 10 for a, b in itertools.pairwise(chain)))
        observed = [v for y, v in six.items() if y >= 2019]
        sim_six = p.medians.get("pct_requests_decided_within_6wks", {})
        if observed:
            lo, hi = min(observed), max(observed)
            six_in += [lo - 1e-9 <= v <= hi + 1e-9 for v in sim_six.values() if not math.isnan(v)]
        issued = p.medians.get("plans_issued_excl_exceptions", {}).get(first, math.nan)
        if first in sim_pct and not math.isnan(sim_pct[first]) and not math.isnan(issued):
            eng_pct_num += sim_pct[first] * issued
            eng_pct_den += issued
        sim_req = p.medians.get("requests_received", {})
        if first in sim_req and first - 1 in req and first - 2 in req:
            eng_req += sim_req[first]
            eng_req_last += req[first - 1]
            eng_req_before += req[first - 2]
    low_pub = [
        v < 10
        for h in histories.values()
        for y, v in published(h, "pct_within_20wks_excl_exceptions").items()
        if 2019 <= y <= 2024
    ]
    back_rows = {}
    for horizon in (1, 2, 3):
        year = BACKCAST_START + horizon - 1
        pct_err, pct_last, new_err, new_last = [], [], [], []
        for p in back:
            h = histories[p.code]
            pct = published(h, "pct_within_20wks_excl_exceptions")
            new = published(h, "new_ehcps")
            sim_pct = p.medians.get("pct_within_20wks_excl_exceptions", {})
            sim_new = p.medians.get("new_ehcps", {})
            last = BACKCAST_START - 1
            if year in pct and last in pct and year in sim_pct:
                pct_err.append(abs(sim_pct[year] - pct[year]))
                pct_last.append(abs(pct[last] - pct[year]))
            if year in new and last in new and year in sim_new and new[year] > 0:
                new_err.append(abs(sim_new[year] / new[year] - 1))
                new_last.append(abs(new[last] / new[year] - 1))
        back_rows[horizon] = {
            "pct20_mae_model": float(np.nanmean(pct_err)) if pct_err else math.nan,
            "pct20_mae_last": float(np.nanmean(pct_last)) if pct_last else math.nan,
            "new_plans_mape_model": 100 * float(np.nanmean(new_err)) if new_err else math.nan,
            "new_plans_mape_last": 100 * float(np.nanmean(new_last)) if new_last else math.nan,
            "las": len(pct_err),
        }
    last_growth = eng_req_last / eng_req_before - 1 if eng_req_before else math.nan
    return {
        "las": len(latest),
        "jump_off_new_plans_within_15pct": share(jump_new),
        "jump_off_pct20_within_20pts": share(jump_pct),
        "sim_la_years_pct20_below_10": share(low_sim),
        "published_la_years_pct20_below_10": share(low_pub),
        "las_dropping_60_to_10_in_a_year": share(drops),
        "la_years_6wk_within_published_range": share(six_in),
        "backcast_2022": back_rows,
        "england_pct20_first_year": eng_pct_num / eng_pct_den if eng_pct_den else math.nan,
        "england_requests_growth_first_year": eng_req / eng_req_last - 1
        if eng_req_last
        else math.nan,
        "england_requests_growth_last_published": last_growth,
    }


def report(f: dict[str, object]) -> None:
    def pct(key: str) -> str:
        v = f[key]
        return f"{100 * float(v):.1f}%" if isinstance(v, float) else str(v)

    print(f"LAs projected: {f['las']} ({f['seconds']:.0f} s); skipped: {len(f['skipped'])}")  # type: ignore[arg-type]
    print(
        "jump-off: new plans within +-15% in "
        + pct("jump_off_new_plans_within_15pct")
        + " of LAs (target >= 80%); 20-week % within +-20 points in "
        + pct("jump_off_pct20_within_20pts")
        + " (target >= 80%)"
    )
    print(
        "shape: simulated LA-years below 10% within 20 weeks "
        + pct("sim_la_years_pct20_below_10")
        + " against "
        + pct("published_la_years_pct20_below_10")
        + " published (target <= twice); LAs falling from >= 60% to < 10% in a year "
        + pct("las_dropping_60_to_10_in_a_year")
        + " (target <= 2%); decisions within 6 weeks inside the LA's published range in "
        + pct("la_years_6wk_within_published_range")
        + " of LA-years"
    )
    rows = f["backcast_2022"]
    assert isinstance(rows, dict)
    print("back-cast from January 2022 (h, LAs, 20-week % MAE model/last, new plans MAPE):")
    for h, r in rows.items():
        print(
            f"  h{h} ({r['las']} LAs): {r['pct20_mae_model']:.1f} / {r['pct20_mae_last']:.1f} "
            f"points; {r['new_plans_mape_model']:.1f}% / {r['new_plans_mape_last']:.1f}%"
        )
    print(
        f"England: 20-week % in the first simulated year {f['england_pct20_first_year']:.1f}% "
        "(target 35-55%); requests grow "
        + pct("england_requests_growth_first_year")
        + " against "
        + pct("england_requests_growth_last_published")
        + " in the last published year (target <= 1.5x)"
    )
    print(
        "lever: new plans in 2027 with requests 15% lower from 2026: "
        + pct("lever_new_plans_2027_ratio")
        + " of the baseline's (target 85-90%)"
    )


if __name__ == "__main__":
    main()
