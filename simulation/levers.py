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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .calendar import DAYS_PER_YEAR
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


L = TypeVar("L", bound=Lever)


class LeverSchedule:
    """Levers in one place: when each acts and how much. Every effect of a lever on the model
    is asked of this object by time ("what does kind K do at day t"), so the stages never
    search the levers themselves. A lever's share of its effect is 0 before its start day,
    rising linearly to 1 over its ramp-up; levers of one kind compose (rates multiply,
    additions add), in the order the scenario lists them."""

    def __init__(self, levers: Sequence[Lever], day_of: Callable[[dt.date], float]) -> None:
        # (lever, start day, ramp-up in days)
        self.timed = tuple(
            (lever, day_of(lever.start_date()), lever.ramp_months * DAYS_PER_YEAR / 12)
            for lever in levers
        )
        self._kinds = frozenset(type(lever) for lever in levers)

    def __bool__(self) -> bool:
        return bool(self.timed)

    @staticmethod
    def ramp(start: float, ramp_days: float, t: float) -> float:
        """How much of a lever's effect applies at day t: 0 before it starts, rising
        linearly to 1 over its ramp-up."""
        if t < start:
            return 0.0
        return 1.0 if ramp_days <= 0 or t >= start + ramp_days else (t - start) / ramp_days

    def active(self, kind: type[L], t: float) -> list[tuple[L, float]]:
        """(lever, share of its effect at day t) for the levers of one kind in force."""
        if kind not in self._kinds:
            return []
        out = []
        for lever, start, ramp in self.timed:
            if isinstance(lever, kind):
                r = self.ramp(start, ramp, t)
                if r > 0:
                    out.append((lever, r))
        return out

    # --- each kind's effect, in the order of the pathway ----------------------------

    def request_factor(self, t: float, factor: float) -> float:
        """EarlyIntervention: `factor` (on the request hazard) times each lever's reduction."""
        for lever, r in self.active(EarlyIntervention, t):
            factor *= 1.0 - lever.request_reduction * r
        return factor

    def appeal_probability(self, t: float, p: float) -> float:
        """DecisionQuality: the chance that a refusal is appealed."""
        for lever, r in self.active(DecisionQuality, t):
            p *= 1.0 - lever.appeal_reduction * r
        return p

    def upheld_probability(self, t: float, p: float) -> float:
        """DecisionQuality: the chance that the tribunal finds for the family."""
        for lever, r in self.active(DecisionQuality, t):
            p *= 1.0 - lever.upheld_reduction * r
        return p

    def add_staff(self, t: float, fte: dict[str, float]) -> None:
        """AssessmentCapacity: EPs (employed or locum) and coordinators added to `fte`."""
        for lever, r in self.active(AssessmentCapacity, t):
            fte["ep_locum" if lever.locum else "ep"] += lever.ep_fte * r
            fte["coordinator"] += lever.coordinator_fte * r

    def mainstream_instead(self, t: float, u: float) -> bool:
        """MainstreamInclusion: whether a new special placement, with uniform draw `u`, is
        made in mainstream with support instead."""
        return any(
            u < lever.special_to_mainstream * r for lever, r in self.active(MainstreamInclusion, t)
        )

    def places_added(self, t: float) -> dict[str, int]:
        """Sufficiency: places opened by day t, by setting (whole places)."""
        added = {"special_state": 0, "mainstream_rp_senunit": 0}
        for lever, r in self.active(Sufficiency, t):
            added[lever.setting] += int(lever.places * r)
        return added

    def review_rates(self, t: float, p_cease: float, p_step_down: float) -> tuple[float, float]:
        """ReviewQuality: the chances that a review ceases the plan and that it moves a child
        out of a special school."""
        for lever, share in self.active(ReviewQuality, t):
            p_cease = min(1.0, p_cease + lever.extra_cease * share)
            p_step_down *= 1.0 + (lever.step_down_multiplier - 1.0) * share
        return p_cease, p_step_down

    def extra_cease_at_19(self, t: float) -> float:
        """PreparingForAdulthood: the added share of plans ceasing at 19 into employment."""
        return sum(
            lever.extra_cease_at_19 * r for lever, r in self.active(PreparingForAdulthood, t)
        )
