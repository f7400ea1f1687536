"""Money: the unit costs of placements and the LA's High Needs Block funding (parameter
sections ``costs`` and ``funding``).

Unit costs of state and independent special placements are DfE's published per-pupil
figures (the other settings keep their documented assumptions); funding is the LA's own
High Needs Block allocations with their log-linear growth carried forward. No
uncertainty: the money is accounted, not forecast from a sample.
"""

from __future__ import annotations

import numpy as np

from simulation.parameters import Parameters

from ..la_data import LAHistory
from ..national import dsg_balance_pct, hnb_allocations, national_unit_costs
from .common import Estimate, SectionEstimate, log_linear_trend

__all__ = ["estimate"]


def estimate(h: LAHistory, england: LAHistory | None, as_of: int) -> SectionEstimate:
    """Costs and funding for a start in January ``as_of``."""
    notes: list[Estimate] = []
    base = Parameters().costs
    published = national_unit_costs()
    state = published.get("per_pupil_expenditure.maintained_special_and_special_academies")
    independent = published.get("per_pupil_expenditure.independent_and_non_maintained_special")
    by_group = dict(base.annual_cost_by_group)
    price_year = base.price_base_year
    if state and independent and state[0] == independent[0]:
        price_year = state[0]
        by_group["special_state"] = state[1]
        by_group["special_independent_nm"] = independent[1]
        notes.append(
            Estimate(
                "costs.annual_cost_by_group",
                "",
                f"state special GBP {state[1]:,.0f} and independent/non-maintained GBP "
                f"{independent[1]:,.0f} per pupil, DfE {price_year}-"
                f"{(price_year + 1) % 100:02d} (PQ 50389); other settings are assumptions "
                "to replace",
            )
        )
    income = hnb_allocations(h.la_code)
    growth = log_linear_trend({y: v for y, v in income.items()}, max(income, default=0))
    notes.append(
        Estimate(
            "funding.hnb_income_by_year",
            "",
            f"ESFA High Needs Block allocations "
            f"{min(income, default=0)}-{max(income, default=0)} for {h.la_name}, then "
            f"{growth:.1%} a year (their log-linear trend)"
            if income
            else "no published allocation for this LA: give funding.hnb_income_by_year",
        )
    )
    balance = dsg_balance_pct(h.la_code)
    if balance:
        year, pct = balance
        notes.append(
            Estimate(
                "funding.dsg_opening_balance_gbp",
                0.0,
                f"not published for {as_of}: set it. The last published balance was "
                f"{pct:.2f}% of DSG income at 31 March {year + 1}",
            )
        )
    return SectionEstimate(
        values={
            "costs": {"price_base_year": price_year, "annual_cost_by_group": by_group},
            "funding": {
                "hnb_income_by_year": {str(y): v for y, v in income.items()},
                "hnb_growth": float(np.clip(growth, -0.2, 0.3)),
            },
        },
        notes=tuple(notes),
    )
