"""England-level figures that stand in where an LA publishes nothing of its own."""

from __future__ import annotations

import csv
from functools import lru_cache

from simulation.vocabulary import PLACEMENT_GROUPS

from .la_data import bundled_file

# SEN2 2025-release establishment columns, summed into the model's placement groups
# (the same grouping as the bundled LA data's caseload_<group> metrics).
_PLACEMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "mainstream_rp_senunit": tuple(
        f"mainstream_{k}_{u}"
        for k in ("la_maintained", "academy", "free_school")
        for u in ("resourced_provision", "senunit")
    ),
    "special_state": ("special_la_maintained", "special_academy_free"),
    "special_independent_nm": ("special_independent", "special_non_maintained"),
    "ap_pru": ("ap_pru_total",),
    "fe_post16": ("fe_total",),
    "early_years": ("nm_early_years",),
    "neet": ("neet", "neet_ntci", "neet_other", "neet_other_csa"),
    "ehe_other": (
        "elective_home_education",
        "other_arrangements_la",
        "other_arrangements_parents",
        "online_provider",
        "w_settings",
        "other_schools",
        "other_placement_settings",
    ),
}


def _rows(name: str) -> list[dict[str, str]]:
    with bundled_file(f"national/{name}").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=16)
def national_placements(until: int | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """England's shares by placement group of (new plans in the latest calendar year before
    January ``until``, all plans at the latest January up to ``until``; None: the latest
    published), from the SEN2 2025 release (2019 on; an earlier ``until`` takes 2019's)."""
    rows = _rows("ehcp_placements_national.csv")

    def shares(prefix: str, period: str) -> dict[str, float]:
        vals: dict[int, dict[str, float]] = {}
        for r in rows:
            if r["period_type"] == period and r["metric"].startswith(prefix):
                col = r["metric"][len(prefix) :]
                vals.setdefault(int(r["year"]), {})[col] = float(r["value"])
        limit = None if until is None else (until if period == "as_at_january" else until - 1)
        known = [y for y in vals if limit is None or y <= limit]
        latest = vals[max(known) if known else min(vals)]
        out = {g: sum(latest.get(c, 0.0) for c in cols) for g, cols in _PLACEMENT_COLUMNS.items()}
        out["mainstream"] = latest["mainstream_total"] - out["mainstream_rp_senunit"]
        total = sum(out.values())
        return {g: out[g] / total for g in PLACEMENT_GROUPS}

    return (
        shares("newplans2025rel.", "calendar_year"),
        shares("caseload2025rel.", "as_at_january"),
    )


@lru_cache(maxsize=16)
def national_tribunal_in_favour(until: int | None = None) -> float:
    """Share of SEND Tribunal appeals decided wholly or partly in the family's favour, the
    latest academic year HMCTS published that ended before January ``until`` (None: the
    latest; 95% in 2019/20, 98.3% in 2022/23; an earlier ``until`` takes the earliest)."""
    years: dict[str, float] = {}
    for r in _rows("tribunal_national.csv"):
        if r["metric"] == "hmcts.pct_decided_in_favour_of_appellant":
            years[r["year"]] = float(r["value"]) / 100
    if not years:
        raise ValueError("tribunal_national.csv has no hmcts.pct_decided_in_favour_of_appellant")

    def ends(year: str) -> int:  # "2019/20" ends in 2020
        return int(year[:4]) + (1 if "/" in year else 0)

    known = [y for y in years if until is None or ends(y) < until]
    return years[max(known, key=ends) if known else min(years, key=ends)]


@lru_cache(maxsize=1)
def national_single_age_caseload() -> list[float]:
    """England's plans at the latest January census by academic age 0-25 (SEN2 single-year
    ages; 'under 3' is shared evenly over ages 0-2)."""
    rows = [
        r
        for r in _rows("ehcp_age_national.csv")
        if r["period_type"] == "as_at_january" and r["metric"].startswith("caseload_single_age.")
    ]
    latest = max(int(r["year"]) for r in rows)
    ages = [0.0] * 26
    for r in rows:
        if int(r["year"]) != latest:
            continue
        key = r["metric"].split(".", 1)[1]
        if key == "under_3":
            for a in range(3):
                ages[a] += float(r["value"]) / 3
        elif key.startswith("age_") and key[4:].isdigit() and int(key[4:]) < 26:
            ages[int(key[4:])] += float(r["value"])
    return ages


@lru_cache(maxsize=1)
def national_unit_costs() -> dict[str, tuple[int, float]]:
    """England's published per-pupil costs: metric -> (financial year's starting year,
    GBP), the latest year of each (from unit_costs.csv, with its sources)."""
    out: dict[str, tuple[int, float]] = {}
    for r in _rows("unit_costs.csv"):
        year = r["year"][:4]
        if r["period_type"] != "financial_year" or not year.isdigit():
            continue
        key, y = r["metric"], int(year)
        if key not in out or y > out[key][0]:
            out[key] = (y, float(r["value"]))
    return out


def hnb_allocations(la_code: str) -> dict[int, float]:
    """An LA's High Needs Block allocations (before recoupment and deductions) by financial
    year's starting year, as ESFA published them."""
    out = {}
    for r in _rows_la("hnb_allocations_la.csv"):
        if r["la_code"] == la_code and r["high_needs_block_gbp"]:
            out[int(r["financial_year"][:4])] = float(r["high_needs_block_gbp"])
    return out


def dsg_balance_pct(la_code: str) -> tuple[int, float] | None:
    """The latest published cumulative DSG balance as a % of DSG income (negative: a
    deficit), with the financial year's starting year."""
    best: tuple[int, float] | None = None
    for r in _rows_la("dsg_balance_pct_la.csv"):
        if r["la_code"] == la_code and r["dsg_cumulative_balance_pct_of_income"]:
            y = int(r["financial_year"][:4])
            if best is None or y > best[0]:
                best = (y, float(r["dsg_cumulative_balance_pct_of_income"]))
    return best


@lru_cache(maxsize=4)
def _rows_la(name: str) -> list[dict[str, str]]:
    with bundled_file(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))
