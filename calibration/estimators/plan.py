"""Plan writing: the coordinators who draft the plans (parameter section ``plan``).

EP advice is the usual bottleneck, so the coordinators are sized to keep up with what the
EP team delivers: drafts for the plans issued from its assessments, at 90% utilisation
(*assumption*, until the calibration's capacity fit replaces the size).
"""

from __future__ import annotations

from simulation.parameters import Parameters

from ..la_data import LAHistory
from .assessment import DEFAULT_UTILISATION, AssessmentEstimate
from .common import Estimate, SectionEstimate

__all__ = ["estimate"]


def estimate(
    h: LAHistory, england: LAHistory | None, as_of: int, *, assessment: AssessmentEstimate
) -> SectionEstimate:
    """The coordinators from January ``as_of``, sized to ``assessment``'s EP volume."""
    base = Parameters()
    drafts = assessment.ep_volume * (1 - assessment.p_not_issue)
    coordinators = (
        drafts * base.plan.draft_days / 365.25 / base.plan.caseload_limit / DEFAULT_UTILISATION
    )
    return SectionEstimate(
        values={"plan": {"coordinators": round(coordinators, 2)}},
        notes=(
            Estimate(
                "plan.coordinators",
                round(coordinators, 2),
                f"drafts for {drafts:.0f} plans a year at {DEFAULT_UTILISATION:.0%} utilisation",
            ),
        ),
    )
