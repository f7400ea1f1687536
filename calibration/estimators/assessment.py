"""The EHC needs assessment: the EP team, decisions not to issue a plan, and exceptions
to the time limit (parameter section ``assessment``).

The rates are the LA's recent ratios: decisions not to issue over assessments completed
(with their beta uncertainty), plans issued within the exceptions over all plans issued.
SEN2 gives what the EP team delivered, not its size. A team with a backlog (under half of
its plans within 20 weeks) is working flat out, so its output last year is its capacity
(at 98% utilisation); a team that keeps up is sized to next year's agreed assessments at
90% utilisation (*assumptions*, until the calibration's capacity fit replaces the size).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulation.parameters import Parameters

from ..estimation import beta_item, beta_rate
from ..la_data import LAHistory
from .common import Estimate, SectionEstimate, assessments_completed, flow, ratio_recent
from .demand import DemandEstimate

__all__ = [
    "BACKLOG_PCT_WITHIN_20WKS",
    "DEFAULT_UTILISATION",
    "FLAT_OUT_UTILISATION",
    "AssessmentEstimate",
    "estimate",
]

# Share of the teams' time the defaults assume is taken by the present workload: the
# teams are sized so that last year's volume runs at 90% utilisation. *Assumption*,
# replaced by fitted capacity in `sendsim calibrate`.
DEFAULT_UTILISATION = 0.9
# A team whose plans are mostly late (under half within 20 weeks) is taken to be working
# at capacity, 98% busy. *Assumption*.
BACKLOG_PCT_WITHIN_20WKS = 50.0
FLAT_OUT_UTILISATION = 0.98


@dataclass(frozen=True, kw_only=True)
class AssessmentEstimate(SectionEstimate):
    """The assessment's estimates, and the assessments a year the EP team was sized to
    (``ep_volume``), which the coordinators are sized to keep up with."""

    ep_volume: float

    @property
    def p_not_issue(self) -> float:
        return float(self.values["assessment"]["p_not_issue"])


def estimate(
    h: LAHistory,
    england: LAHistory | None,
    as_of: int,
    *,
    demand: DemandEstimate,
    p_refuse: float,
) -> AssessmentEstimate:
    """The assessment from January ``as_of`` (flows to the year before), with
    ``p_refuse`` the panel's refusal rate."""
    last = as_of - 1
    not_issued = flow(h, england, "assessments_not_issued", last)
    issued = flow(h, england, "assessments_plan_issued", last)
    p_not_issue = (
        ratio_recent(not_issued, {y: not_issued.get(y, 0) + issued[y] for y in issued}, last) or 0.0
    )
    excl = flow(h, england, "plans_issued_excl_exceptions", last)
    incl = flow(h, england, "plans_issued_incl_exceptions", last)
    p_excl = ratio_recent(excl, incl, last)
    p_exception = max(0.0, 1.0 - p_excl) if p_excl is not None else 0.0

    agreed = demand.agreed(p_refuse)
    base = Parameters()
    p20 = h.get("pct_within_20wks_excl_exceptions", last)
    throughput = (h.get("assessments_plan_issued", last) or 0.0) + (
        h.get("assessments_not_issued", last) or 0.0
    )
    if p20 is not None and p20 < BACKLOG_PCT_WITHIN_20WKS and throughput > 0:
        ep_volume, ep_util = throughput, FLAT_OUT_UTILISATION
        ep_how = (
            f"{throughput:.0f} assessments completed in {last} with {p20:.0f}% within "
            f"20 weeks: a backlogged team's output is its capacity"
        )
    else:
        ep_volume, ep_util = agreed, DEFAULT_UTILISATION
        ep_how = (
            f"{agreed:.0f} assessments expected next year at {DEFAULT_UTILISATION:.0%} utilisation"
        )
    ep_fte = ep_volume * base.assessment.ep_days_per_advice / 365.25 / ep_util
    return AssessmentEstimate(
        values={
            "assessment": {
                "ep_fte": round(ep_fte, 2),
                "p_not_issue": p_not_issue,
                "p_exception": p_exception,
            }
        },
        notes=(
            Estimate(
                "assessment.ep_fte",
                round(ep_fte, 2),
                f"{ep_how}, {base.assessment.ep_days_per_advice} FTE-days per advice "
                "(*assumption* until fitted)",
            ),
        ),
        uncertainty=tuple(
            beta_item(
                "p_not_issue",
                beta_rate(h.series("assessments_not_issued"), assessments_completed(h), last),
                "assessment.p_not_issue",
                p_not_issue,
                "assessments_not_issued / assessments completed",
            )
        ),
        ep_volume=ep_volume,
    )
