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

# Census metrics that have a published SEN2 counterpart; plotting draws history for these.
HEADLINE_METRICS: tuple[str, ...] = (
    "ehcp_total_jan",
    "requests_received",
    "new_ehcps",
    "pct_within_20wks_excl_exceptions",
    "ceased_total",
    "caseload_special_state",
    "caseload_special_independent_nm",
)


@dataclass(frozen=True)
class Results:
    """One replication's output. Arrays are indexed by position in `census_years` / `flow_years`."""

    census_years: tuple[int, ...]
    flow_years: tuple[int, ...]
    census: dict[str, np.ndarray]
    flows: dict[str, np.ndarray]
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

    def value(self, metric: str, year: int) -> float:
        if metric in self.census:
            return float(self.census[metric][self.census_years.index(year)])
        return float(self.flows[metric][self.flow_years.index(year)])
