"""Money and policy levers: costs that add up from each plan's days, the DSG deficit
recursion, lever costs by the calendar, lever effects through the model's mechanisms under
common random numbers, ramp-up, lever validation and Team.set_fte."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from helpers import (
    SCHOOL_AGES,
    by_age,
    census,
    flow,
    full_mix,
    mean_se,
    merge,
    replicate,
    small_la,
    stockport,
)

from experiments.toml_out import dumps
from simulation.calendar import DAYS_PER_YEAR, WEEK, Calendar
from simulation.levers import LEVER_TYPES, Lever
from simulation.model import run_replication
from simulation.parameters import ParameterError, Parameters, apply_scenario, from_dict
from simulation.results import CENSUS_METRICS, FINANCE_METRICS, FLOW_METRICS, Results
from simulation.teams import Team
from simulation.vocabulary import PLACEMENT_GROUPS

# --- shared pieces --------------------------------------------------------------------

COMMON_FIELDS = {f.name for f in dataclasses.fields(Lever)}
# Each lever type with every effect field at its no-effect value.
NO_EFFECT: dict[str, dict[str, Any]] = {
    "early_intervention": {"request_reduction": 0.0},
    "mainstream_inclusion": {"special_to_mainstream": 0.0},
    "sufficiency": {"setting": "special_state", "places": 0},
    "assessment_capacity": {"ep_fte": 0.0, "coordinator_fte": 0.0, "locum": True},
    "review_quality": {"extra_cease": 0.0, "step_down_multiplier": 1.0},
    "preparing_for_adulthood": {"extra_cease_at_19": 0.0},
    "decision_quality": {"appeal_reduction": 0.0, "upheld_reduction": 0.0},
}
EVENT_LOG = {"run": {"event_log": True}}
SPECIAL_GROUPS = ("special_state", "special_independent_nm")


def lever(kind: str, name: str = "", start: str = "2026-01-01", **fields: Any) -> dict[str, Any]:
    """A [[levers]] table as plain data."""
    return {"type": kind, "name": name or kind, "start": start, **fields}


def with_levers(params: Parameters, *levers: Mapping[str, Any]) -> Parameters:
    return params.override({"levers": list(levers)})


def start_day(start_year: int, date: str) -> float:
    return float((dt.date.fromisoformat(date) - dt.date(start_year, 1, 1)).days)


def fy_bounds(start_year: int, fy: int) -> tuple[float, float]:
    """Model days of 1 April of fy and fy + 1, from the calendar alone."""
    return start_day(start_year, f"{fy}-04-01"), start_day(start_year, f"{fy + 1}-04-01")


def price(params: Parameters, fy: int) -> float:
    c = params.costs
    return (1 + c.inflation) ** (fy - c.price_base_year)


def all_arrays(r: Results) -> dict[str, np.ndarray]:
    out = {f"census:{m}": r.census[m] for m in CENSUS_METRICS}
    out |= {f"flow:{m}": r.flows[m] for m in FLOW_METRICS}
    out |= {f"finance:{m}": r.finance[m] for m in FINANCE_METRICS}
    return out


def assert_identical(a: Results, b: Results, label: str = "") -> None:
    assert a.census_years == b.census_years
    assert a.flow_years == b.flow_years
    assert a.financial_years == b.financial_years
    assert a.financial_years, "no financial year to compare"
    xa, xb = all_arrays(a), all_arrays(b)
    assert set(xa) == set(xb)
    for key, va in xa.items():
        assert np.array_equal(va, xb[key], equal_nan=True), f"{label}: {key} {va} != {xb[key]}"


def assert_same_before(base: Results, alt: Results, year: int) -> None:
    """Under common random numbers nothing can differ before a lever starts on 1 January of
    `year`: the censuses up to that January and the flows of the years before it."""
    k = base.census_years.index(year)
    for m in CENSUS_METRICS:
        assert np.array_equal(base.census[m][: k + 1], alt.census[m][: k + 1], equal_nan=True), m
    for m in FLOW_METRICS:
        assert np.array_equal(base.flows[m][:k], alt.flows[m][:k], equal_nan=True), m


def paired(base: Sequence[Results], alt: Sequence[Results], metric: str, years: slice):
    """Per-replication differences alt - base of a flow summed over `years`, with their mean
    and standard error."""
    d = (flow(alt, metric) - flow(base, metric))[:, years].sum(axis=1)
    m, se = mean_se(d)
    return d, m, se


# --- 1. a lever with no effect and no cost changes nothing ---------------------------


@functools.cache
def _case_run(case: str, seed: int) -> Results:
    return run_replication(_case(case), seed)


def _case(case: str) -> Parameters:
    if case == "small":
        return small_la(years=4)
    if case == "stockport":
        return stockport(3)  # estimate_parameters(load_dataset(), "Stockport", years=3)
    raise ValueError(case)


def test_no_effect_table_covers_every_effect_field() -> None:
    """NO_EFFECT names every effect field of every lever type, so a field added
    later is set to its no-effect value (or this fails)."""
    assert set(NO_EFFECT) == set(LEVER_TYPES)
    for kind, cls in LEVER_TYPES.items():
        effect = {f.name for f in dataclasses.fields(cls)} - COMMON_FIELDS
        assert set(NO_EFFECT[kind]) == effect, kind


@pytest.mark.parametrize("case", ["small", "stockport"])
@pytest.mark.parametrize("kind", [*LEVER_TYPES, "all"])
def test_no_effect_no_cost_lever_changes_nothing(case: str, kind: str) -> None:
    base = _case(case)
    kinds = list(LEVER_TYPES) if kind == "all" else [kind]
    levers = [
        lever(k, start="2026-02-15", ramp_months=6.0, annual_cost_gbp=0.0, **NO_EFFECT[k])
        for k in kinds
    ]
    p = with_levers(base, *levers)
    assert len(p.levers) == len(kinds)
    for seed in (1, 2):
        a, b = _case_run(case, seed), run_replication(p, seed)
        assert len(a.financial_years) >= 2
        assert_identical(a, b, f"{case} {kind} seed {seed}")


# --- 2. costs add up from each plan's days in each setting ---------------------------

COSTS = {
    "costs": {
        "price_base_year": 2021,
        "inflation": 0.05,
        # A distinct daily cost per group, so that days charged to the wrong group show.
        "annual_cost_by_group": {g: 7000.0 + 3100.0 * i for i, g in enumerate(PLACEMENT_GROUPS)},
        "transport_cost_by_group": {g: 900.0 + 70.0 * i for i, g in enumerate(PLACEMENT_GROUPS)},
        "assessment_cost_gbp": 1800.0,
        "tribunal_cost_gbp": 6500.0,
    }
}
COSTED_LEVER = lever(
    "review_quality",
    name="step_down",
    start="2026-06-10",
    annual_cost_gbp=250_000.0,
    extra_cease=0.02,
)
CONSTRAINED = {"placement": {"special_state_places": 210, "rp_places": 40, "max_wait_days": 120.0}}


def _cost_params(case: str, teams_in_hnb: bool) -> Parameters:
    changes = merge(EVENT_LOG, COSTS, {"costs": {"teams_in_hnb": teams_in_hnb}})
    if case == "stockport":
        p = stockport(3).override(changes)
    elif case == "small":
        p = small_la(changes, years=4)
    elif case == "constrained_wait":
        p = small_la(merge(changes, CONSTRAINED, {"placement": {"overflow": "wait"}}), years=4)
    elif case == "constrained_independent":
        p = small_la(
            merge(changes, CONSTRAINED, {"placement": {"overflow": "independent"}}), years=4
        )
    else:
        raise ValueError(case)
    return with_levers(p, COSTED_LEVER)


def plan_intervals(
    log: Iterable[tuple[int, str, float]], horizon: float
) -> tuple[list[tuple[str, float, float]], dict[int, float], dict[int, list[tuple[float, str]]]]:
    """Each plan's spells in a setting, (group, from, to), from the event log: a
    'placement:<group>' event starts a spell (a new plan or a change of setting) and the next
    one ends it; 'ceased_<reason>' ends the plan on its day; plans still open at the end run
    to the horizon. Also the cease day and the placements of each plan."""
    placements: dict[int, list[tuple[float, str]]] = defaultdict(list)
    ceased: dict[int, float] = {}
    for entity, event, t in log:
        if event.startswith("placement:"):
            placements[entity].append((t, event.split(":", 1)[1]))
        elif event.startswith("ceased_"):
            assert entity not in ceased, f"plan {entity} ceased twice"
            ceased[entity] = t
    assert set(ceased) <= set(placements)
    spells = []
    for plan, moves in placements.items():
        times = [t for t, _ in moves]
        assert times == sorted(times), f"plan {plan}: placements out of order"
        end = ceased.get(plan, horizon)
        for k, (t, group) in enumerate(moves):
            nxt = moves[k + 1][0] if k + 1 < len(moves) else end
            spells.append((group, min(t, end), min(nxt, end)))
    return spells, ceased, placements


def days_by_fy(
    spells: Iterable[tuple[str, float, float]], start_year: int, years: Sequence[int]
) -> dict[str, np.ndarray]:
    bounds = [fy_bounds(start_year, y) for y in years]
    out = {g: np.zeros(len(years)) for g in PLACEMENT_GROUPS}
    for group, a, b in spells:
        for k, (lo, hi) in enumerate(bounds):
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                out[group][k] += overlap
    return out


COST_CASES = [
    ("small", False, 1),
    ("small", True, 2),
    ("constrained_wait", False, 3),
    ("constrained_independent", True, 4),
    ("stockport", False, 1),
    ("stockport", True, 2),
]


@pytest.mark.parametrize(("case", "teams_in_hnb", "seed"), COST_CASES)
def test_costs_add_up_from_each_plans_days(case: str, teams_in_hnb: bool, seed: int) -> None:
    p = _cost_params(case, teams_in_hnb)
    r = run_replication(p, seed)
    cal = Calendar(p.run.start_year, p.run.years)
    years = r.financial_years
    assert len(years) >= 2
    spells, ceased, placements = plan_intervals(r.event_log, cal.horizon)
    # Not vacuous: plans cease and change setting within the years reported.
    lo, hi = fy_bounds(p.run.start_year, years[0])[0], fy_bounds(p.run.start_year, years[-1])[1]
    assert sum(lo <= t < hi for t in ceased.values()) > 20
    assert sum(lo <= t < hi for moves in placements.values() for t, _ in moves[1:]) > 20
    days = days_by_fy(spells, p.run.start_year, years)
    f, c = r.finance, p.costs
    prices = np.array([price(p, y) for y in years])
    placements_total = np.zeros(len(years))
    for g in PLACEMENT_GROUPS:
        np.testing.assert_allclose(f[f"plan_days_{g}"], days[g], rtol=1e-6, atol=1e-6, err_msg=g)
        expected = f[f"plan_days_{g}"] * c.annual_cost_by_group[g] / 365.25 * prices
        np.testing.assert_allclose(f[f"hnb_spend_{g}_gbp"], expected, rtol=1e-12, err_msg=g)
        placements_total += f[f"hnb_spend_{g}_gbp"]
    transport = sum(
        f[f"plan_days_{g}"] * c.transport_cost_by_group[g] / 365.25 * prices
        for g in PLACEMENT_GROUPS
    )
    np.testing.assert_allclose(f["transport_spend_gbp"], transport, rtol=1e-12)
    assert np.all(f["lever_spend_gbp"][1:] > 0)
    services = f["team_spend_gbp"] + f["assessment_spend_gbp"] + f["tribunal_spend_gbp"]
    assert np.all(services > 0) and np.all(f["assessment_spend_gbp"] > 0)
    expected = placements_total + f["lever_spend_gbp"] + (services if teams_in_hnb else 0.0)
    np.testing.assert_allclose(f["hnb_spend_gbp"], expected, rtol=1e-12)


# A full state special school with a long waiting list and plans ceasing at a high rate:
# places free up when plans cease, and the head of the queue is often a plan that itself
# ceased earlier in the same week but is only processed later at that tick.
RACE = merge(
    EVENT_LOG,
    {
        "exits": {"hazard_by_band": {"other": [3.0] * 5}},
        "demand": {"request_hazard_by_age": by_age(ages=SCHOOL_AGES, v=0.2)},
        "assessment": {"ep_fte": 40.0},
        "plan": {"coordinators": 30.0},
        "placement": {
            "special_state_places": 60,
            "overflow": "wait",
            "max_wait_days": 10_000.0,
            "mix_by_phase": full_mix(
                {
                    "early_years": {"special_state": 1},
                    "primary": {"special_state": 1},
                    "secondary": {"special_state": 1},
                    "post16": {"special_state": 1},
                    "post19": {"fe_post16": 1},
                }
            ),
        },
    },
)


@pytest.mark.parametrize("seed", [1, 2])
def test_no_plan_is_placed_after_it_ceased(seed: int) -> None:
    """A plan's days in a setting end on the day it ceases: a place freed at a tick must not
    go to a waiting plan whose own ceasing day has already passed (it is still queued in
    exits_due), and that plan's holding-setting days must not run on to the tick."""
    p = small_la(RACE, years=3)
    r = run_replication(p, seed)
    cal = Calendar(p.run.start_year, p.run.years)
    spells, ceased, placements = plan_intervals(r.event_log, cal.horizon)
    late = {
        plan: (moves, ceased[plan])
        for plan, moves in placements.items()
        if plan in ceased and moves[-1][0] > ceased[plan]
    }
    assert not late, f"{len(late)} plans placed after they ceased, e.g. {next(iter(late.items()))}"
    days = days_by_fy(spells, p.run.start_year, r.financial_years)
    for g in PLACEMENT_GROUPS:
        np.testing.assert_allclose(r.finance[f"plan_days_{g}"], days[g], rtol=1e-6, err_msg=g)


# --- 3. the deficit recursion --------------------------------------------------------


def _assert_recursion(r: Results, opening: float) -> None:
    f = r.finance
    income, spend = f["hnb_income_gbp"], f["hnb_spend_gbp"]
    in_year, cumulative = f["dsg_in_year_balance_gbp"], f["dsg_cumulative_balance_gbp"]
    assert np.all(np.isfinite(income)) and np.all(spend > 0)
    np.testing.assert_array_equal(in_year, income - spend)
    previous = opening
    for k in range(len(r.financial_years)):
        assert math.isclose(cumulative[k], previous + in_year[k], rel_tol=1e-12, abs_tol=1e-4)
        previous = cumulative[k]


@pytest.mark.parametrize("seed", [1, 2])
def test_deficit_recursion_with_published_allocations_and_growth(seed: int) -> None:
    """Given 2024-25 and 2025-26 (and 2027-28, after a gap), growth of 4% a year applies
    after the last year given before each year; the opening balance starts the sum."""
    given = {"2024": 38.0e6, "2025": 41.5e6, "2027": 47.25e6}
    growth, opening = 0.04, -6.5e6
    funding = {
        "hnb_income_by_year": given,
        "hnb_growth": growth,
        "dsg_opening_balance_gbp": opening,
    }
    p = small_la({"funding": funding}, years=5)
    r = run_replication(p, seed)
    assert r.financial_years == (2025, 2026, 2027, 2028)
    expected = [41.5e6, 41.5e6 * (1 + growth), 47.25e6, 47.25e6 * (1 + growth)]
    np.testing.assert_allclose(r.finance["hnb_income_gbp"], expected, rtol=1e-14)
    assert r.finance["hnb_income_gbp"][0] == 41.5e6  # a published year exactly
    _assert_recursion(r, opening)


def test_deficit_recursion_stockport_defaults() -> None:
    """Stockport's published allocations stop before the run: income grows from the last."""
    p = stockport(3).override({"funding": {"dsg_opening_balance_gbp": -1.0e6}})
    given = {int(k): v for k, v in p.funding.hnb_income_by_year.items()}
    last = max(given)
    r = run_replication(p, 1)
    assert r.financial_years and min(r.financial_years) > last
    expected = [given[last] * (1 + p.funding.hnb_growth) ** (y - last) for y in r.financial_years]
    np.testing.assert_allclose(r.finance["hnb_income_gbp"], expected, rtol=1e-12)
    _assert_recursion(r, -1.0e6)


def test_income_before_any_published_year_is_nan() -> None:
    p = small_la({"funding": {"hnb_income_by_year": {"2026": 40.0e6}}}, years=4)
    r = run_replication(p, 1)
    income = r.finance["hnb_income_gbp"]
    assert r.financial_years == (2025, 2026, 2027)
    assert math.isnan(income[0]) and income[1] == 40.0e6 and income[2] == 40.0e6
    assert math.isnan(r.finance["dsg_cumulative_balance_gbp"][0])


def test_income_year_keys_must_be_years() -> None:
    """A key that is not a financial year's starting year ('2025-26') is a parameter error
    when loaded, not a crash inside the model."""
    with pytest.raises(ParameterError, match=r"hnb_income_by_year"):
        p = small_la({"funding": {"hnb_income_by_year": {"2025-26": 40.0e6}}})
        run_replication(p, 1)


# --- 4. lever costs ------------------------------------------------------------------


def test_lever_running_cost_by_calendar_days() -> None:
    """C x days in force in the financial year / 365.25 x price factor, nothing before the
    start; a lever started before the run is charged from the run's start."""
    cost_a, cost_b = 1.2e6, 333_000.0
    p = small_la(
        {
            "costs": {"inflation": 0.045, "price_base_year": 2024},
            "levers": [
                lever("early_intervention", "a", start="2026-10-15", annual_cost_gbp=cost_a),
                lever("decision_quality", "b", start="2019-07-01", annual_cost_gbp=cost_b),
            ],
        },
        years=5,
    )
    base = small_la({"costs": {"inflation": 0.045, "price_base_year": 2024}}, years=5)
    r, r0 = run_replication(p, 3), run_replication(base, 3)
    years = r.financial_years
    assert years == (2025, 2026, 2027, 2028)
    start_a = dt.date(2026, 10, 15)
    for k, y in enumerate(years):
        fy_start, fy_end = dt.date(y, 4, 1), dt.date(y + 1, 4, 1)
        days_a = max(0, (fy_end - max(fy_start, start_a)).days)
        days_b = (fy_end - fy_start).days  # in force all year
        expected = (cost_a * days_a + cost_b * days_b) / 365.25 * 1.045 ** (y - 2024)
        assert math.isclose(r.finance["lever_spend_gbp"][k], expected, rel_tol=1e-12), y
    assert [(dt.date(y + 1, 4, 1) - dt.date(y, 4, 1)).days for y in years] == [365, 365, 366, 365]
    # Lever a is not in force in 2025-26: only b is charged.
    assert math.isclose(
        r.finance["lever_spend_gbp"][0], cost_b * 365 / 365.25 * 1.045, rel_tol=1e-12
    )
    assert np.all(r0.finance["lever_spend_gbp"] == 0)


@pytest.mark.parametrize("locum", [False, True])
def test_assessment_capacity_staff_cost_in_team_spend(locum: bool) -> None:
    ep, coord = 2.5, 1.5
    p0 = small_la(years=4)
    p = with_levers(
        p0,
        lever(
            "assessment_capacity",
            start="2026-04-01",
            ramp_months=0.0,
            ep_fte=ep,
            coordinator_fte=coord,
            locum=locum,
        ),
    )
    r, r0 = run_replication(p, 1), run_replication(p0, 1)
    assert r.financial_years == (2025, 2026, 2027)
    c = p.costs
    rate = ep * (c.ep_locum_cost_per_fte_gbp if locum else c.ep_cost_per_fte_gbp)
    rate += coord * c.coordinator_cost_per_fte_gbp
    extra = r.finance["team_spend_gbp"] - r0.finance["team_spend_gbp"]
    assert extra[0] == 0  # before the start
    # Fully in post all of 2027-28 (366 days: February 2028 has 29).
    assert math.isclose(extra[2], rate * 366 / 365.25 * price(p, 2027), rel_tol=1e-9)
    # In 2026-27 staff join at the first weekly tick on or after 1 April (within a week).
    full = rate * 365 / 365.25 * price(p, 2026)
    assert full - rate * WEEK / 365.25 * price(p, 2026) <= extra[1] <= full * (1 + 1e-12)
    # Not charged to the High Needs Block by default, and the lever has no running cost.
    assert np.all(r.finance["lever_spend_gbp"] == 0)


# --- 5. effects act through the model's mechanisms -----------------------------------

SEEDS = tuple(range(1, 11))
Z = 3.0  # one-sided: a paired mean difference beyond 3 standard errors


def _pair(params: Parameters, *levers: Mapping[str, Any], seeds=SEEDS):
    return replicate(params, seeds), replicate(with_levers(params, *levers), seeds)


def test_sufficiency_opens_state_places_instead_of_independent() -> None:
    """A full state special school with overflow 'independent': 40 more places from
    January 2026 take children who would have gone independent."""
    params = small_la(
        {"placement": {"special_state_places": 210, "overflow": "independent"}}, years=3
    )
    base, alt = _pair(params, lever("sufficiency", places=40))
    for b, a in zip(base, alt, strict=True):
        assert_same_before(b, a, 2026)
    np.testing.assert_array_equal(census(alt, "special_state_places")[:, 2:], 250)
    overflow = flow(base, "placed_independent_overflow")[:, 1:].sum(axis=1)
    assert overflow.mean() > 40  # the state school is full: children do overflow
    _, m, se = paired(base, alt, "placed_independent_overflow", slice(1, None))
    assert m < 0 and -m > Z * se
    last = census(alt, "caseload_special_independent_nm")[:, -1]
    d = last - census(base, "caseload_special_independent_nm")[:, -1]
    m, se = mean_se(d)
    assert m < 0 and (-m > Z * se or np.all(d < 0))


def test_early_intervention_lowers_sen_support_requests_only() -> None:
    base, alt = _pair(
        small_la(years=3), lever("early_intervention", start="2025-01-01", request_reduction=0.3)
    )
    for b, a in zip(base, alt, strict=True):
        # Direct requests come from their own weekly stream: identical in every year.
        direct_b = b.flows["requests_received"] - b.flows["requests_received_sen_support"]
        direct_a = a.flows["requests_received"] - a.flows["requests_received_sen_support"]
        np.testing.assert_array_equal(direct_a, direct_b)
        assert direct_b.sum() > 0
    _, m, se = paired(base, alt, "requests_received_sen_support", slice(0, 1))
    assert m < 0 and -m > Z * se
    # The weekly hazard is multiplied by 0.7; fewer requests leave a slightly larger pool,
    # so the first year's ratio is 0.7 or a little above.
    ratio = (
        flow(alt, "requests_received_sen_support")[:, 0]
        / flow(base, "requests_received_sen_support")[:, 0]
    )
    rm, rse = mean_se(ratio)
    assert 0.7 - Z * rse <= rm <= 0.7 + 0.03 + Z * rse


def test_more_eps_when_eps_are_the_bottleneck() -> None:
    """1.5 EP FTE cannot keep up (utilisation 1); 6 more from January 2026 raise capacity:
    the 20-week percentage does not fall in any replication, and utilisation falls."""
    params = small_la({"assessment": {"ep_fte": 1.5}}, years=3)
    base, alt = _pair(params, lever("assessment_capacity", ep_fte=6.0))
    assert np.all(flow(base, "ep_utilisation") > 0.99)
    for b, a in zip(base, alt, strict=True):
        assert_same_before(b, a, 2026)
        pb = np.nan_to_num(b.flows["pct_within_20wks_excl_exceptions"][1:])
        pa = a.flows["pct_within_20wks_excl_exceptions"][1:]
        assert np.all(pa >= pb), (pa, pb)
        assert np.all(a.flows["ep_utilisation"][1:] < b.flows["ep_utilisation"][1:])
    _, m, se = paired(base, alt, "pct_within_20wks_excl_exceptions", slice(2, 3))
    assert m > Z * se
    _, m, se = paired(base, alt, "ep_wait_weeks_mean", slice(2, 3))
    assert m < 0 and -m > Z * se


def test_review_quality_raises_reviews_ceasing_plans() -> None:
    extra = 0.15
    params = small_la(years=3)
    base, alt = _pair(params, lever("review_quality", extra_cease=extra))
    for b, a in zip(base, alt, strict=True):
        assert_same_before(b, a, 2026)
        np.testing.assert_array_equal(a.flows["ar_outcome_cease"], a.flows["ceased_needs_met"])
    _, m, se = paired(base, alt, "ar_outcome_cease", slice(1, None))
    assert m > Z * se
    # Once in force, a review ceases the plan with probability p_cease + extra.
    ceased = flow(alt, "ar_outcome_cease")[:, 1:].sum()
    reviews = flow(alt, "reviews_completed")[:, 1:].sum()
    p = params.review.p_cease + extra
    assert abs(ceased / reviews - p) <= 4 * math.sqrt(p * (1 - p) / reviews)


def test_preparing_for_adulthood_raises_ceasing_into_employment() -> None:
    base, alt = _pair(small_la(years=3), lever("preparing_for_adulthood", extra_cease_at_19=0.3))
    for b, a in zip(base, alt, strict=True):
        assert_same_before(b, a, 2026)
    _, m, se = paired(base, alt, "ceased_employment", slice(1, None))
    assert m > Z * se


def test_decision_quality_stops_upheld_appeals_from_its_start() -> None:
    params = small_la(years=3)
    base, alt = _pair(params, lever("decision_quality", upheld_reduction=1.0), seeds=SEEDS[:4])
    for b, a in zip(base, alt, strict=True):
        assert_same_before(b, a, 2026)
        np.testing.assert_array_equal(a.flows["appeals_upheld"][1:], 0)
        assert a.flows["refusals_appealed"][1:].sum() > 0  # appeals still go to tribunal
    assert flow(base, "appeals_upheld")[:, 1:].sum() > 0
    _, alt2 = _pair(params, lever("decision_quality", appeal_reduction=1.0), seeds=SEEDS[:4])
    for a in alt2:
        np.testing.assert_array_equal(a.flows["refusals_appealed"][1:], 0)
        assert a.flows["refusals_appealed"][0] > 0


def _issued_into(r: Results, after: float) -> Counter[str]:
    """The setting each plan issued on or after day `after` holds when it is issued."""
    current: dict[int, str] = {}
    out: Counter[str] = Counter()
    for entity, event, t in r.event_log:
        if event.startswith("placement:"):
            current[entity] = event.split(":", 1)[1]
        elif event == "plan_issued" and t >= after:
            out[current[entity]] += 1
    return out


def test_mainstream_inclusion_places_no_new_plan_in_a_special_school() -> None:
    """With special_to_mainstream 1 from January 2026 no plan issued after that is first
    placed in a special school (later reviews and phase transfers may still move it)."""
    # Only the state special school is full. (A full resourced unit also overflows to the
    # independent sector, and a plan naming one is not the lever's concern.)
    full = {"placement": {"special_state_places": 210, "overflow": "independent"}}
    params = small_la(merge(EVENT_LOG, full))
    base, alt = _pair(
        params, lever("mainstream_inclusion", special_to_mainstream=1.0), seeds=(1, 2)
    )
    after = start_day(2025, "2026-01-01")
    for b, a in zip(base, alt, strict=True):
        before = _issued_into(b, after)
        assert sum(before[g] for g in SPECIAL_GROUPS) > 30  # not vacuous
        now = _issued_into(a, after)
        assert sum(now.values()) > 100
        assert all(now[g] == 0 for g in SPECIAL_GROUPS), now
        assert_same_before(b, a, 2026)


# --- 6. ramp-up ---------------------------------------------------------------------


def test_early_intervention_ramp_is_partial_in_its_first_year() -> None:
    """request_reduction 0.5 ramped over 12 months from the start of the run: the first
    year's requests from SEN support lie strictly between no lever and the full lever, and
    about half way (the mean share of the effect over the year's weeks is about 0.5)."""
    seeds = tuple(range(1, 13))
    params = small_la(years=2)
    none = replicate(params, seeds)
    ramp = replicate(
        with_levers(
            params,
            lever(
                "early_intervention", start="2025-01-01", ramp_months=12.0, request_reduction=0.5
            ),
        ),
        seeds,
    )
    full = replicate(
        with_levers(params, lever("early_intervention", start="2025-01-01", request_reduction=0.5)),
        seeds,
    )
    _, m1, se1 = paired(ramp, none, "requests_received_sen_support", slice(0, 1))
    _, m2, se2 = paired(full, ramp, "requests_received_sen_support", slice(0, 1))
    assert m1 > Z * se1 and m2 > Z * se2
    # The ramp's mean share over the weekly ticks of the first year.
    ticks = np.arange(0.5, 365.0, WEEK)
    share = np.minimum(1.0, ticks / (12 * DAYS_PER_YEAR / 12)).mean()
    assert abs(share - 0.5) < 0.02
    d1, _, _ = paired(ramp, none, "requests_received_sen_support", slice(0, 1))
    d12, _, _ = paired(full, none, "requests_received_sen_support", slice(0, 1))
    m, se = mean_se(d1 - share * d12)
    assert abs(m) <= 4 * se + 0.02 * d12.mean()


def test_sufficiency_places_open_linearly_over_the_ramp() -> None:
    """40 places ramped over 12 months from 1 April 2025, set at each weekly tick as
    int(40 x share): the January 2026 census sees the share at the last tick of 2025."""
    p = small_la(
        {
            "placement": {"special_state_places": 210},
            "levers": [
                lever("sufficiency", start="2025-04-01", ramp_months=12.0, places=40),
                lever(
                    "sufficiency",
                    name="rp",
                    start="2025-04-01",
                    setting="mainstream_rp_senunit",
                    places=10,
                ),
            ],
        },
        years=3,
    )
    r = run_replication(p, 1)
    start = start_day(2025, "2025-04-01")
    last_tick = float(np.arange(0.5, 365.0, WEEK)[-1])  # the last weekly tick of 2025
    share = (last_tick - start) / DAYS_PER_YEAR
    assert 0.5 < share < 1
    np.testing.assert_array_equal(
        r.census["special_state_places"], [210, 210 + int(40 * share), 250, 250]
    )
    base_rp = p.placement.rp_places
    np.testing.assert_array_equal(r.census["rp_places"], [base_rp] + [base_rp + 10] * 3)


# --- 7. lever validation, round trips and scenarios ----------------------------------

PLAN = """\
[run]
years = 3

[[levers]]
name = "more_eps"
type = "assessment_capacity"
ep_fte = 2.0

[[levers]]
name = "{name}"
type = "{kind}"
{line}
"""
BAD_LEVERS = [
    # (what, type, the offending line, field named)
    ("unknown type", "magic_wand", 'start = "2026-04-01"', "type"),
    ("unknown field", "early_intervention", "colour = 3", "colour"),
    ("out of range", "early_intervention", "request_reduction = 1.5", "request_reduction"),
    ("bad start date", "sufficiency", 'start = "2026-02-30"', "start"),
    ("start not a date", "sufficiency", 'start = "next April"', "start"),
    ("negative cost", "review_quality", "annual_cost_gbp = -5.0", "annual_cost_gbp"),
    ("ramp too long", "review_quality", "ramp_months = 300", "ramp_months"),
]


@pytest.mark.parametrize(("what", "kind", "line", "field"), BAD_LEVERS)
def test_bad_lever_one_line_error_names_lever_field_and_line(
    what: str, kind: str, line: str, field: str
) -> None:
    text = PLAN.format(name="second", kind=kind, line=line)
    bad_line = text.splitlines().index(line) + 1
    if field == "type":
        bad_line = text.splitlines().index(f'type = "{kind}"') + 1
    with pytest.raises(ParameterError) as info:
        Parameters().override(tomllib.loads(text), "plan.toml", text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"plan.toml, line {bad_line}:"), message
    assert "levers[1]" in message and "'second'" in message, message
    assert field in message, message
    # Without the text: the same lever and field, no line.
    with pytest.raises(ParameterError) as info:
        Parameters().override(tomllib.loads(text))
    message = str(info.value)
    assert "line" not in message and "levers[1]" in message and "'second'" in message, message
    assert field in message, message


def test_lever_start_may_be_a_toml_date() -> None:
    """TOML has dates: `start = 2026-04-01` is the natural way to write one."""
    text = '[[levers]]\nname = "ei"\ntype = "early_intervention"\nstart = 2026-04-01\n'
    p = Parameters().override(tomllib.loads(text), "plan.toml", text)
    assert p.levers[0].start_date() == dt.date(2026, 4, 1)


ALL_LEVERS = [
    lever(
        "early_intervention",
        "ei",
        start="2025-09-01",
        ramp_months=6.0,
        annual_cost_gbp=1.0e5,
        request_reduction=0.2,
    ),
    lever("mainstream_inclusion", "mi", special_to_mainstream=0.25),
    lever("sufficiency", "ss", places=30, setting="mainstream_rp_senunit"),
    lever("assessment_capacity", "ac", ep_fte=1.5, coordinator_fte=0.5, locum=True),
    lever("review_quality", "rq", extra_cease=0.05, step_down_multiplier=2.5),
    lever("preparing_for_adulthood", "pa", extra_cease_at_19=0.1),
    lever("decision_quality", "dq", appeal_reduction=0.3, upheld_reduction=0.4),
]


def test_levers_round_trip_through_dicts_and_toml() -> None:
    p = small_la({"levers": ALL_LEVERS})
    assert [type(x) for x in p.levers] == list(LEVER_TYPES.values())
    for lev, table in zip(p.levers, ALL_LEVERS, strict=True):
        for k, v in table.items():
            assert getattr(lev, k) == v, (table["type"], k)
    q = from_dict(p.to_dict())
    assert q == p and [type(x) for x in q.levers] == [type(x) for x in p.levers]
    assert from_dict(tomllib.loads(dumps(p.to_dict()))) == p
    assert p.override({}) == p


def test_scenario_file_with_levers(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        '[scenario]\nname = "plan"\n\n[add.assessment]\nep_fte = 1.0\n\n'
        '[[levers]]\nname = "ei"\ntype = "early_intervention"\nstart = "2025-06-01"\n'
        "request_reduction = 0.25\nannual_cost_gbp = 50000.0\n\n"
        '[[levers]]\nname = "places"\ntype = "sufficiency"\nplaces = 12\n',
        encoding="utf-8",
    )
    base = small_la(years=3)
    p = apply_scenario(base, path)
    assert p.assessment.ep_fte == base.assessment.ep_fte + 1.0
    assert [(type(x).__name__, x.name) for x in p.levers] == [
        ("EarlyIntervention", "ei"),
        ("Sufficiency", "places"),
    ]
    assert p.levers[0].request_reduction == 0.25 and p.levers[1].places == 12
    r = run_replication(p, 1)
    assert r.finance["lever_spend_gbp"].sum() > 0
    assert r.census["special_state_places"][-1] == base.placement.special_state_places + 12
    bad = tmp_path / "bad.toml"
    bad.write_text('[[levers]]\nname = "x"\ntype = "sufficiency"\nplaces = -1\n', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"^.*bad\.toml, line 4: lever 'x' \(levers\[0\]\)"):
        apply_scenario(base, bad)


# --- 8. Team.set_fte ---------------------------------------------------------------


def _team_run(fte: float, changes: Mapping[float, float], arrivals: Mapping[float, list[float]]):
    """A bare team: at each day in `changes` the FTE is set, at each day in `arrivals` work
    arrives; returns the team and each piece of work's (arrival, end)."""
    env = simpy.Environment()
    team = Team(env, fte, [0.0, 100.0, 200.0])
    done: list[tuple[float, float]] = []

    def proc():
        for t in sorted(set(changes) | set(arrivals)):
            if t > env.now:
                yield env.timeout(t - env.now)
            if t in changes:
                team.set_fte(changes[t])
            for w in arrivals.get(t, []):
                done.append((t, team.assign(w)))

    env.process(proc())
    env.run(until=200)
    return team, done


def test_growing_team_starts_later_work_earlier() -> None:
    arrivals = {0.0: [10.0] * 10, 30.0: [5.0, 5.0]}
    _, same = _team_run(1.0, {}, arrivals)
    _, grown = _team_run(1.0, {20.0: 3.0}, arrivals)
    # Work assigned before the change is not delayed by it.
    assert all(g[1] <= s[1] for s, g in zip(same[:10], grown[:10], strict=True))
    assert [e for _, e in same[10:]] == [105.0, 110.0]
    assert [e for _, e in grown[10:]] == [35.0, 35.0]  # two new advisers free since day 20


def test_shrinking_team_lets_current_work_finish() -> None:
    arrivals = {0.0: [10.0, 10.0, 10.0], 5.0: [4.0, 4.0]}
    team, done = _team_run(3.0, {5.0: 1.0}, arrivals)
    assert [e for _, e in done[:3]] == [10.0, 10.0, 10.0]
    assert [e for _, e in done[3:]] == [14.0, 18.0]  # one adviser left, free at 10
    assert team.servers == 1


def _full_load(fte: float, change_at: float, new_fte: float):
    """Work arriving faster than any of these teams can do it: four 1-day pieces a day."""
    arrivals = {float(t): [1.0] * 4 for t in range(200)}
    team, _ = _team_run(fte, {change_at: new_fte}, arrivals)
    return team.utilisation()


@pytest.mark.parametrize(("fte", "new_fte"), [(1.0, 2.0), (1.5, 3.0)])
def test_utilisation_of_a_team_doubling_under_full_load_is_one(fte: float, new_fte: float) -> None:
    u = _full_load(fte, 50.0, new_fte)
    np.testing.assert_allclose(u, [1.0, 1.0], rtol=1e-12)


def test_utilisation_counts_the_adviser_days_available() -> None:
    """One piece of 1-day work a day: a team of 1 is always busy; doubling on day 50 leaves
    half of the 100 new adviser-days idle: 100 busy of 150 available."""
    arrivals = {float(t): [1.0] for t in range(200)}
    team, _ = _team_run(1.0, {50.0: 2.0}, arrivals)
    np.testing.assert_allclose(team.utilisation(), [100 / 150, 0.5], rtol=1e-12)


def test_utilisation_never_exceeds_one_when_a_team_shrinks() -> None:
    """Advisers who leave finish their current work first; the adviser-days they are still
    working count as available, so utilisation stays at most 1."""
    u = _full_load(3.0, 50.0, 1.0)
    assert np.all(u <= 1.0 + 1e-12), u
