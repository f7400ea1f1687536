"""simulation/money.py on its own, without SimPy: a ledger of plan-days and staff-days in,
money by financial year out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulation.calendar import DAYS_PER_YEAR, Calendar
from simulation.levers import Lever
from simulation.money import Ledger, finance, income
from simulation.parameters import Costs, Funding
from simulation.vocabulary import GROUP_INDEX

NO_STAFF = {"ep": 0.0, "ep_locum": 0.0, "coordinator": 0.0, "review_officer": 0.0}


def test_a_plan_costs_its_days_times_its_setting_by_financial_year() -> None:
    cal = Calendar(2025, 2)  # 1 Jan 2025 to 1 Jan 2027: financial year 2025-26 is whole
    ledger = Ledger(cal, dict(NO_STAFF))
    fy25 = cal.day(cal.start.replace(month=4, day=1))
    special = GROUP_INDEX["special_state"]
    ledger.plan(special, fy25 + 10.0, fy25 + 110.0)  # 100 days
    costs = dataclasses.replace(
        Costs(),
        inflation=0.0,
        annual_cost_by_group={"special_state": DAYS_PER_YEAR * 100.0},
        transport_cost_by_group={},
        assessment_cost_gbp=1000.0,
    )
    ledger.count("assessments_completed", fy25 + 5.0)
    ledger.staff(fy25, dict(NO_STAFF))
    years, f = finance(ledger, [], cal.horizon, costs, Funding())
    assert years == (2025,)
    assert f["plan_days_special_state"][0] == pytest.approx(100.0)
    assert f["hnb_spend_special_state_gbp"][0] == pytest.approx(100 * 100.0)
    assert f["assessment_spend_gbp"][0] == pytest.approx(1000.0)
    assert f["total_spend_gbp"][0] == pytest.approx(100 * 100.0 + 1000.0)


def test_staff_and_levers_are_costed_by_the_day() -> None:
    cal = Calendar(2025, 2)
    ledger = Ledger(cal, {**NO_STAFF, "ep": 2.0})
    horizon = cal.horizon
    ledger.staff(horizon, dict(NO_STAFF))
    costs = dataclasses.replace(Costs(), inflation=0.0, ep_cost_per_fte_gbp=DAYS_PER_YEAR)
    lever = Lever(annual_cost_gbp=DAYS_PER_YEAR * 10.0)
    fy25 = cal.day(cal.start.replace(month=4, day=1))
    _, f = finance(ledger, [(lever, fy25 + 100.0)], horizon, costs, Funding())
    days = cal.day(cal.start.replace(year=2026, month=4, day=1)) - fy25
    assert f["team_spend_gbp"][0] == pytest.approx(2.0 * days)
    assert f["lever_spend_gbp"][0] == pytest.approx(10.0 * (days - 100.0))


def test_income_grows_from_the_last_published_year() -> None:
    funding = dataclasses.replace(Funding(), hnb_income_by_year={"2023": 100.0}, hnb_growth=0.1)
    assert income(funding, 2023) == 100.0
    assert income(funding, 2025) == pytest.approx(121.0)
    assert np.isnan(income(funding, 2022))
