"""Money: what a run's plans and staff cost, by financial year (April to March).

Pure: no SimPy. The run records a `Ledger` (each plan's days in each setting, staff FTE-days,
and the assessments and appeals costed per item); `finance` turns it into High Needs spend,
the other costs, income and the DSG balance for the financial years the run covers whole,
named by their first year. Spend is days x the setting's (or post's) annual cost / 365.25,
at the price of the year (`costs.inflation` from `costs.price_base_year`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from .calendar import DAYS_PER_YEAR, Calendar, add_interval
from .levers import Lever
from .parameters import Costs, Funding
from .vocabulary import PLACEMENT_GROUPS

STAFF = ("ep", "ep_locum", "coordinator", "review_officer")
COUNTED = ("assessments_completed", "appeals")


class Ledger:
    """Plan-days by setting and staff FTE-days by financial year, and the items costed one
    by one. Periods run from 1 April of the year before the start (so January to March of
    the first year is covered) to the April after the horizon."""

    def __init__(self, cal: Calendar, staff: dict[str, float]) -> None:
        first = cal.start_year - 1
        self.years = list(range(first, cal.start_year + cal.years + 1))
        self.starts = [cal.day(dt.date(y, 4, 1)) for y in self.years]
        n = len(self.years)
        self.plan_days = [[0.0] * n for _ in PLACEMENT_GROUPS]  # by group, then year
        self.fte_days = {k: [0.0] * n for k in STAFF}
        self.counts = {k: [0.0] * n for k in COUNTED}
        self._staff, self._staff_since = staff, 0.0

    def plan(self, group: int, a: float, b: float) -> None:
        """A plan's days in a setting, from a to b."""
        add_interval(self.plan_days[group], self.starts, a, b)

    def open_plans(self, since: np.ndarray, groups: np.ndarray, end: float) -> None:
        """The days of plans still open at the end, each in its setting since `since`."""
        for k in range(len(self.starts) - 1):
            lo, hi = self.starts[k], min(self.starts[k + 1], end)
            overlap = np.clip(hi - np.maximum(since, lo), 0.0, None)
            by_group = np.bincount(groups, weights=overlap, minlength=len(PLACEMENT_GROUPS))
            for g in range(len(PLACEMENT_GROUPS)):
                self.plan_days[g][k] += float(by_group[g])

    def staff(self, t: float, staff: dict[str, float]) -> None:
        """Staff in post changes at day t to `staff` (FTE by post)."""
        for k, v in self._staff.items():
            add_interval(self.fte_days[k], self.starts, self._staff_since, t, v)
        self._staff, self._staff_since = staff, t

    def count(self, name: str, day: float) -> None:
        """One more of an item costed one by one (an assessment completed, an appeal)."""
        y = bisect.bisect_right(self.starts, day) - 1
        if 0 <= y < len(self.starts):
            self.counts[name][y] += 1


def finance(
    ledger: Ledger,
    levers: Sequence[tuple[Lever, float]],
    horizon: float,
    costs: Costs,
    funding: Funding,
) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """Money by financial year for the years the run covers whole: High Needs spend from
    each plan's days in each setting times the setting's daily cost, staff and lever costs
    (`levers` as (lever, start day)), income and the DSG balance."""
    full = [
        k
        for k in range(len(ledger.years))
        if ledger.starts[k] >= 0 and k + 1 < len(ledger.starts) and ledger.starts[k + 1] <= horizon
    ]
    years = tuple(ledger.years[k] for k in full)
    price = np.array([(1 + costs.inflation) ** (y - costs.price_base_year) for y in years])
    f: dict[str, np.ndarray] = {}
    placements, transport = _placements(ledger, full, price, costs, f)
    team = (
        sum(
            np.array([ledger.fte_days[k][j] for j in full]) * rate / DAYS_PER_YEAR
            for k, rate in _staff_rates(costs).items()
        )
        * price
    )
    assessments = np.array([ledger.counts["assessments_completed"][j] for j in full])
    appeals = np.array([ledger.counts["appeals"][j] for j in full])
    f["assessment_spend_gbp"] = assessments * costs.assessment_cost_gbp * price
    f["tribunal_spend_gbp"] = appeals * costs.tribunal_cost_gbp * price
    f["team_spend_gbp"] = np.asarray(team, dtype=float).reshape(len(full))
    f["transport_spend_gbp"] = transport
    lever_cost = _lever_spend(ledger, full, levers, horizon, price)
    f["lever_spend_gbp"] = lever_cost
    services = f["team_spend_gbp"] + f["assessment_spend_gbp"] + f["tribunal_spend_gbp"]
    f["hnb_spend_gbp"] = placements + lever_cost + (services if costs.teams_in_hnb else 0.0)
    f["total_spend_gbp"] = placements + lever_cost + services + transport
    f["hnb_income_gbp"] = np.array([income(funding, y) for y in years])
    f["dsg_in_year_balance_gbp"] = f["hnb_income_gbp"] - f["hnb_spend_gbp"]
    f["dsg_cumulative_balance_gbp"] = funding.dsg_opening_balance_gbp + np.cumsum(
        f["dsg_in_year_balance_gbp"]
    )
    return years, f


def _placements(
    ledger: Ledger, full: list[int], price: np.ndarray, costs: Costs, f: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Plan-days and spend by setting into `f`; returns placement and transport spend."""
    days = np.array([[row[k] for row in ledger.plan_days] for k in full]).reshape(
        len(full), len(PLACEMENT_GROUPS)
    )
    placements = np.zeros(len(full))
    transport = np.zeros(len(full))
    for g, name in enumerate(PLACEMENT_GROUPS):
        f[f"plan_days_{name}"] = days[:, g]
        cost = days[:, g] * costs.annual_cost_by_group.get(name, 0.0) / DAYS_PER_YEAR * price
        f[f"hnb_spend_{name}_gbp"] = cost
        placements = placements + cost
        transport = transport + (
            days[:, g] * costs.transport_cost_by_group.get(name, 0.0) / DAYS_PER_YEAR * price
        )
    return placements, transport


def _staff_rates(costs: Costs) -> dict[str, float]:
    return {
        "ep": costs.ep_cost_per_fte_gbp,
        "ep_locum": costs.ep_locum_cost_per_fte_gbp,
        "coordinator": costs.coordinator_cost_per_fte_gbp,
        "review_officer": costs.review_officer_cost_per_fte_gbp,
    }


def _lever_spend(
    ledger: Ledger,
    full: list[int],
    levers: Sequence[tuple[Lever, float]],
    horizon: float,
    price: np.ndarray,
) -> np.ndarray:
    """Each lever's running cost from its start day (or the run's start) to the horizon."""
    lever_cost = np.zeros(len(full))
    for lever, start in levers:
        active = [0.0] * len(ledger.years)
        add_interval(active, ledger.starts, max(start, 0.0), horizon)
        lever_cost = (
            lever_cost
            + np.array([active[k] for k in full]) * (lever.annual_cost_gbp / DAYS_PER_YEAR) * price
        )
    return lever_cost


def income(funding: Funding, year: int) -> float:
    """The High Needs Block allocation for a financial year: published where given,
    grown from the last one given after that (NaN with none given)."""
    given = {int(k): v for k, v in funding.hnb_income_by_year.items()}
    if year in given:
        return given[year]
    earlier = [y for y in given if y < year]
    if not earlier:
        return math.nan
    last = max(earlier)
    return given[last] * (1 + funding.hnb_growth) ** (year - last)
