"""Levers: the policies an LA can pull, as typed, composable scenario components.

Each lever has a start date, a ramp-up (its effect grows linearly to full over
`ramp_months`), an annual cost that runs from the start date, and an effect that acts through
the model's own mechanisms (request hazards, placement decisions, places, team capacity,
review outcomes, ceasing at 19, tribunal outcomes), never by editing outputs. A scenario
lists its levers as `[[levers]]` tables with a `type`; levers of the same kind compose
(effects on rates multiply, additions add).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .fields import _p


@dataclass(frozen=True)
class Lever:
    type: str = _p("", "Kind of lever (see the lever types).")
    name: str = _p("", "Name shown in outputs (the waterfall uses it).")
    start: str = _p("2026-04-01", "Date the lever starts (YYYY-MM-DD).")
    ramp_months: float = _p(0.0, "Months from the start to full effect (linear).", lo=0, hi=240)
    annual_cost_gbp: float = _p(
        0.0,
        "Running cost per year from the start date, at the price base of costs.price_base_year. "
        "At most GBP 10bn (*assumption*: about England's whole High Needs Block).",
        lo=0,
        hi=10_000_000_000,
    )

    def start_date(self) -> dt.date:
        return dt.date.fromisoformat(self.start)


@dataclass(frozen=True)
class EarlyIntervention(Lever):
    """Early intervention and inclusion support in mainstream: fewer children on SEN support
    need a request for assessment."""

    type: str = _p("early_intervention", "", choices=("early_intervention",))
    request_reduction: float = _p(
        0.0,
        "Proportional reduction of the request hazard on SEN support at full effect.",
        lo=0,
        hi=1,
    )


@dataclass(frozen=True)
class MainstreamInclusion(Lever):
    """Mainstream inclusion: some new plans that would name a special school name a
    mainstream school with support instead."""

    type: str = _p("mainstream_inclusion", "", choices=("mainstream_inclusion",))
    special_to_mainstream: float = _p(
        0.0,
        "Share of new placements into special schools placed in mainstream instead.",
        lo=0,
        hi=1,
    )


@dataclass(frozen=True)
class Sufficiency(Lever):
    """Sufficiency: new state special or resourced places open (over the ramp-up)."""

    type: str = _p("sufficiency", "", choices=("sufficiency",))
    setting: str = _p(
        "special_state", "Which places open.", choices=("special_state", "mainstream_rp_senunit")
    )
    places: int = _p(0, "Places added at full effect.", lo=0, hi=100_000)


@dataclass(frozen=True)
class AssessmentCapacity(Lever):
    """Assessment capacity: more educational psychologists (employed or locum) and EHC
    coordinators; their staff cost goes into team_spend_gbp (High Needs spend only with
    costs.teams_in_hnb), beside the lever's own running cost."""

    type: str = _p("assessment_capacity", "", choices=("assessment_capacity",))
    ep_fte: float = _p(0.0, "EP FTE added at full effect.", lo=0, hi=10_000)
    coordinator_fte: float = _p(0.0, "EHC coordinator FTE added at full effect.", lo=0, hi=10_000)
    locum: bool = _p(False, "The added EPs are locums (costs.ep_locum_cost_per_fte_gbp).")


@dataclass(frozen=True)
class ReviewQuality(Lever):
    """Review quality: plans stepped down where outcomes are met."""

    type: str = _p("review_quality", "", choices=("review_quality",))
    extra_cease: float = _p(
        0.0, "Added share of reviews that cease the plan (needs met).", lo=0, hi=1
    )
    step_down_multiplier: float = _p(
        1.0, "Multiplier on moves from special schools to mainstream at review.", lo=0, hi=100
    )


@dataclass(frozen=True)
class PreparingForAdulthood(Lever):
    """Preparing for adulthood: more young people leave their plan at 19 into employment
    (supported internships, post-16 routes)."""

    type: str = _p("preparing_for_adulthood", "", choices=("preparing_for_adulthood",))
    extra_cease_at_19: float = _p(
        0.0, "Added share of plans ceasing at 19, into employment.", lo=0, hi=1
    )


@dataclass(frozen=True)
class DecisionQuality(Lever):
    """Decision quality: refusals that stand up, so fewer are appealed and fewer overturned."""

    type: str = _p("decision_quality", "", choices=("decision_quality",))
    appeal_reduction: float = _p(0.0, "Proportional reduction of refusals appealed.", lo=0, hi=1)
    upheld_reduction: float = _p(
        0.0, "Proportional reduction of appeals decided for the family.", lo=0, hi=1
    )


LEVER_TYPES: dict[str, type[Lever]] = {
    "early_intervention": EarlyIntervention,
    "mainstream_inclusion": MainstreamInclusion,
    "sufficiency": Sufficiency,
    "assessment_capacity": AssessmentCapacity,
    "review_quality": ReviewQuality,
    "preparing_for_adulthood": PreparingForAdulthood,
    "decision_quality": DecisionQuality,
}
