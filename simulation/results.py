"""What one replication returns: census stocks and calendar-year flows as plain arrays.

Metric names follow the bundled SEN2 data wherever the model computes the same quantity
(`ehcp_total_jan`, `caseload_<group>`, `new_ehcps`, ...), so calibration compares like with
like; model-only metrics (queues, utilisation, waits) have names of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .vocabulary import BAND_NAMES, CEASE_REASONS, NEEDS, PLACEMENT_GROUPS

# Stocks at each January census (year = the census year).
CENSUS_METRICS: tuple[str, ...] = (
    "ehcp_total_jan",
    *(f"caseload_{g}" for g in PLACEMENT_GROUPS),
    *(f"caseload_age_{b}" for b in BAND_NAMES),
    *(f"caseload_need_{n}" for n in NEEDS),
    "sen_support_total",
    "requests_awaiting_decision",
    "open_assessments",
    "reviews_overdue",
    "placement_waiting",
    "special_state_places",
    "rp_places",
)

# Flows in each calendar year.
COUNT_FLOWS: tuple[str, ...] = (
    "requests_received",
    "requests_received_sen_support",
    "requests_repeat",
    "requests_decided",
    "requests_decided_within_6wks",
    "requests_refused",
    "requests_agreed",
    "refusals_appealed",
    "appeals_upheld",
    "assessments_not_issued",
    "new_ehcps",
    *(f"newplans_age_{b}" for b in BAND_NAMES),
    "plans_issued_excl_exceptions",
    "issued_within_20wks_excl_exceptions",
    "ceased_total",
    *(f"ceased_{r}" for r in CEASE_REASONS),
    "plans_transferred_in",
    "reviews_completed",
    "ar_outcome_maintain",
    "ar_outcome_amend",
    "ar_outcome_change_placement",
    "ar_outcome_cease",
    "phase_transfers",
    "placement_waits_started",
    "placed_independent_overflow",
    "sen_support_identified",
)
DERIVED_FLOWS: tuple[str, ...] = (
    "pct_within_20wks_excl_exceptions",
    "pct_requests_decided_within_6wks",
    "weeks_to_issue_mean",
    "weeks_to_issue_p90",
    "placement_wait_weeks_mean",
    "ep_utilisation",
    "ep_queue_mean",
    "ep_wait_weeks_mean",
    "coordinator_utilisation",
    "coordinator_queue_mean",
    "coordinator_wait_weeks_mean",
    "open_assessments_mean",
)
FLOW_METRICS: tuple[str, ...] = COUNT_FLOWS + DERIVED_FLOWS

# Money by financial year (year = the April-March year's starting year).
FINANCE_METRICS: tuple[str, ...] = (
    "hnb_spend_gbp",
    *(f"hnb_spend_{g}_gbp" for g in PLACEMENT_GROUPS),
    "lever_spend_gbp",
    "total_spend_gbp",
    "hnb_income_gbp",
    "dsg_in_year_balance_gbp",
    "dsg_cumulative_balance_gbp",
    "team_spend_gbp",
    "assessment_spend_gbp",
    "tribunal_spend_gbp",
    "transport_spend_gbp",
    *(f"plan_days_{g}" for g in PLACEMENT_GROUPS),
)

# Census metrics that have a published SEN2 counterpart; plotting draws history for these.
HEADLINE_METRICS: tuple[str, ...] = (
    "ehcp_total_jan",
    "requests_received",
    "new_ehcps",
    "pct_within_20wks_excl_exceptions",
    "ceased_total",
    "caseload_special_state",
    "caseload_special_independent_nm",
    "hnb_spend_gbp",
    "dsg_cumulative_balance_gbp",
)


@dataclass(frozen=True)
class Results:
    """One replication's output. Arrays are indexed by position in `census_years` / `flow_years`."""

    census_years: tuple[int, ...]
    flow_years: tuple[int, ...]
    census: dict[str, np.ndarray]
    flows: dict[str, np.ndarray]
    financial_years: tuple[int, ...] = ()
    finance: dict[str, np.ndarray] = field(default_factory=dict)
    events: int = 0
    event_log: list[tuple[int, str, float]] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, str, float]]:
        """(year, metric, value) in a fixed order: census metrics, then flows."""
        for metric in CENSUS_METRICS:
            values = self.census[metric]
            for i, year in enumerate(self.census_years):
                yield year, metric, float(values[i])
        for metric in FLOW_METRICS:
            values = self.flows[metric]
            for i, year in enumerate(self.flow_years):
                yield year, metric, float(values[i])
        for metric in FINANCE_METRICS:
            values = self.finance[metric]
            for i, year in enumerate(self.financial_years):
                yield year, metric, float(values[i])

    def table(self, metric: str) -> tuple[tuple[int, ...], np.ndarray]:
        """The years a metric is reported for and its values."""
        if metric in self.census:
            return self.census_years, self.census[metric]
        if metric in self.flows:
            return self.flow_years, self.flows[metric]
        return self.financial_years, self.finance[metric]

    def value(self, metric: str, year: int) -> float:
        years, values = self.table(metric)
        return float(values[years.index(year)])


def _describe() -> dict[str, str]:
    """One line per metric: its SEN2 definition where the data has it, else the model's.
    Long because it is the table of definitions itself (docs/metrics.md is made from it)."""
    d = {
        "ehcp_total_jan": "EHC plans held at the January census (SEN2 `ehcplans`).",
        "caseload_mainstream": "Plans in mainstream schools at the census, INCLUDING resourced "
        "provision and SEN units, as SEN2's `mainstream_total`.",
        "caseload_mainstream_rp_senunit": "Plans in resourced provision or SEN units (a subset "
        "of caseload_mainstream).",
        "caseload_special_state": "Plans in LA-maintained special schools, special academies "
        "and free schools.",
        "caseload_special_independent_nm": "Plans in independent or non-maintained special "
        "schools.",
        "caseload_ap_pru": "Plans in alternative provision or pupil referral units.",
        "caseload_fe_post16": "Plans in FE, sixth-form colleges and specialist post-16 "
        "institutions.",
        "caseload_early_years": "Plans in non-maintained early-years settings.",
        "caseload_neet": "Plans of young people not in education, employment or training.",
        "caseload_ehe_other": "Plans with elective home education, other arrangements or "
        "awaiting provision.",
        "sen_support_total": "Children on SEN support (model state; see demand parameters).",
        "requests_awaiting_decision": "Requests waiting for a panel decision at the census.",
        "open_assessments": "Assessments agreed (or ordered) whose plan or decision not to issue "
        "has not yet come, at the census.",
        "reviews_overdue": "Plans whose annual review is more than review.overdue_after_days "
        "past due at the census.",
        "placement_waiting": "Plans waiting for a state special or resourced place at the "
        "census (they sit in a holding setting meanwhile).",
        "special_state_places": "State special places available (parameter, with openings).",
        "rp_places": "Resourced provision / SEN unit places available.",
        "requests_received": "Initial requests for an EHC needs assessment in the year "
        "(SEN2 `requests_received`).",
        "requests_received_sen_support": "Of which from children on school SEN support.",
        "requests_repeat": "Of which repeat requests from children refused or not issued a "
        "plan earlier (back on SEN support).",
        "requests_decided": "Requests decided (assess or not) in the year.",
        "requests_decided_within_6wks": "Of which decided within 6 weeks of the request.",
        "requests_refused": "Requests the LA decided not to assess (SEN2 "
        "`requests_decided_not_to_assess`).",
        "requests_agreed": "Requests the LA agreed to assess.",
        "refusals_appealed": "Refusals to assess appealed to the First-tier Tribunal.",
        "appeals_upheld": "Appeals against refusal decided for the family (assessment ordered).",
        "assessments_not_issued": "Assessments ending in a decision not to issue a plan "
        "(SEN2 `assess_not_issued`).",
        "new_ehcps": "New EHC plans issued in the year (SEN2 `new_ehc_plans`).",
        "plans_issued_excl_exceptions": "New plans excluding those where an exception to the "
        "20-week limit applies.",
        "issued_within_20wks_excl_exceptions": "Of which issued within 20 weeks of the request.",
        "ceased_total": "Plans ceased in the year, including transfers to another LA (SEN2 "
        "`total_ceased`).",
        "plans_transferred_in": "Plans moving in from other LAs (not published by SEN2; the "
        "stock-flow identity balances with it).",
        "reviews_completed": "Annual reviews completed in the year.",
        "ar_outcome_maintain": "Reviews maintaining the plan unchanged.",
        "ar_outcome_amend": "Reviews amending the plan.",
        "ar_outcome_change_placement": "Reviews changing the placement.",
        "ar_outcome_cease": "Reviews ceasing the plan (needs met).",
        "phase_transfers": "Plans moving into a new phase in September (Reception, Year 7, "
        "post-16, post-19).",
        "placement_waits_started": "Children starting to wait for a full state special or "
        "resourced place.",
        "placed_independent_overflow": "Children placed independent because no state place was "
        "free (immediately or after placement.max_wait_days).",
        "sen_support_identified": "Children newly identified for SEN support.",
        "pct_within_20wks_excl_exceptions": "Percentage of new plans (excl. exceptions) issued "
        "within 20 weeks (SEN2 headline timeliness).",
        "pct_requests_decided_within_6wks": "Percentage of decisions to assess taken within 6 "
        "weeks.",
        "weeks_to_issue_mean": "Mean weeks from request to final plan (excl. exceptions).",
        "weeks_to_issue_p90": "90th percentile of weeks from request to final plan.",
        "placement_wait_weeks_mean": "Mean weeks waited by children whose wait for a place "
        "ended in the year.",
        "ep_utilisation": "Share of EP capacity busy on statutory advice (time-weighted).",
        "ep_queue_mean": "Time-average number of assessments waiting for an EP.",
        "ep_wait_weeks_mean": "Mean weeks an assessment waited for an EP to start its advice.",
        "coordinator_utilisation": "Share of EHC coordinator drafting capacity busy.",
        "coordinator_queue_mean": "Time-average number of drafts waiting for a coordinator.",
        "coordinator_wait_weeks_mean": "Mean weeks a draft waited for a coordinator.",
        "open_assessments_mean": "Time-average number of open assessments in the year.",
        "hnb_spend_gbp": "High Needs spend in the financial year: placements (each plan's days "
        "in its setting x the setting's daily cost) plus levers' running costs, plus the teams, "
        "assessments and tribunals when costs.teams_in_hnb.",
        "lever_spend_gbp": "Running costs of the levers in force.",
        "total_spend_gbp": "All SEND spend modelled: High Needs placements and levers, the "
        "teams, assessments, tribunals and transport, wherever they are charged.",
        "hnb_income_gbp": "High Needs Block allocation (published, then grown by "
        "funding.hnb_growth).",
        "dsg_in_year_balance_gbp": "hnb_income_gbp - hnb_spend_gbp (negative: an in-year deficit).",
        "dsg_cumulative_balance_gbp": "funding.dsg_opening_balance_gbp plus the in-year "
        "balances so far.",
        "team_spend_gbp": "EPs (employed and locum), coordinators and review officers in post.",
        "assessment_spend_gbp": "Assessments completed x costs.assessment_cost_gbp.",
        "tribunal_spend_gbp": "Appeals registered x costs.tribunal_cost_gbp.",
        "transport_spend_gbp": "Home-to-school transport (its own line, not High Needs).",
    }
    for b in BAND_NAMES:
        d[f"caseload_age_{b}"] = f"Plans at the census with academic age in band {b}."
        d[f"newplans_age_{b}"] = f"New plans in the year for children aged {b} at issue."
    for n in NEEDS:
        d[f"caseload_need_{n}"] = f"Plans at the census with primary need {n.upper()}."
    for g in PLACEMENT_GROUPS:
        d[f"hnb_spend_{g}_gbp"] = f"High Needs spend on plans in {g} (days x daily cost)."
        d[f"plan_days_{g}"] = f"Days plans spent in {g} in the financial year."
    for r in CEASE_REASONS:
        d.setdefault(
            f"ceased_{r}", f"Plans ceased in the year for reason '{r}' (SEN2 `ceased_{r}`)."
        )
    return d


METRIC_DOCS: dict[str, str] = _describe()

# Which way is better, for "probability the scenario is better" in comparisons. Lower
# demand and caseload count as better from the High Needs budget's point of view; metrics
# with no agreed direction (ceased plans, phase transfers...) get no probability.
BETTER_WHEN_HIGHER: frozenset[str] = frozenset(
    {
        "pct_within_20wks_excl_exceptions",
        "pct_requests_decided_within_6wks",
        "issued_within_20wks_excl_exceptions",
        "reviews_completed",
    }
)
BETTER_WHEN_LOWER: frozenset[str] = frozenset(
    {
        "ehcp_total_jan",
        "requests_received",
        "new_ehcps",
        "caseload_special_independent_nm",
        "placed_independent_overflow",
        "placement_waiting",
        "placement_wait_weeks_mean",
        "weeks_to_issue_mean",
        "weeks_to_issue_p90",
        "open_assessments",
        "open_assessments_mean",
        "requests_awaiting_decision",
        "reviews_overdue",
        "ep_queue_mean",
        "ep_wait_weeks_mean",
        "coordinator_queue_mean",
        "coordinator_wait_weeks_mean",
    }
)
