"""Annual reviews: the officers who hold them and their outcomes (parameter section
``review``; ceasing at review, ``review.p_cease``, is the ceasing estimate's).

Review outcomes are SEN2's annual review data (published from 2024), the LA's or
England's. Moves into and out of special schools are the aggregate SEN2 transfers
(2015-2021) over the January caseload, with their beta uncertainty; an LA without them
takes England's, then the parameter's default. The review team is sized to hold the
published share of reviews on time.
"""

from __future__ import annotations

from simulation.parameters import Parameters

from ..estimation import beta_item, beta_rate
from ..la_data import LAHistory
from .common import Estimate, SectionEstimate, ratio_recent, recent
from .initial import InitialEstimate

__all__ = ["estimate"]


def _special(src: LAHistory) -> dict[int, float]:
    """Plans in special schools, state and independent, by January census."""
    return {
        y: v + src.series("caseload_special_independent_nm").get(y, 0.0)
        for y, v in src.series("caseload_special_state").items()
    }


def _step_rates(h: LAHistory, england: LAHistory | None, until: int) -> tuple[float, float, str]:
    """Moves into and out of special schools per plan-year: the aggregate SEN2 transfers
    (2015-2021) over the January caseload of the same year (placement groups from 2019),
    the LA's own where it has both, else England's."""
    for src in (h, england):
        if src is None:
            continue
        up, down = (
            src.series("transfers_mainstream_to_special"),
            src.series("transfers_special_to_mainstream"),
        )
        # Transfers are published to 2021 only: a later start uses the last published.
        p_up = ratio_recent(up, src.series("caseload_mainstream"), until)
        p_down = ratio_recent(down, _special(src), until)
        if p_up is not None and p_down is not None:
            return (
                min(p_up, 0.5),
                min(p_down, 0.5),
                f"{src.la_name} SEN2 transfers mainstream<->special per plan-year, 2019-2021",
            )
    base = Parameters().review
    return (
        base.p_step_up,
        base.p_step_down,
        f"no SEN2 transfers up to {until}: the parameter's default (*assumption*)",
    )


def _independent_share(caseload: dict[str, tuple[float, ...]]) -> float:
    state = sum(caseload.get("special_state", ()))
    independent = sum(caseload.get("special_independent_nm", ()))
    return independent / (state + independent) if state + independent > 0 else 0.0


def _p_amend(h: LAHistory, england: LAHistory | None, last: int) -> float:
    """The share of annual reviews that amend the plan: the latest published outcomes up
    to ``last``, the LA's or England's, else the parameter's default."""
    ar_src = h
    if not recent(h.series("ar_outcome_amend"), last) and england is not None:
        ar_src = england
    ar_years = [y for y in ar_src.series("ar_outcome_amend") if y <= last]
    ar_year = max(ar_years, default=0)
    amend = ar_src.get("ar_outcome_amend", ar_year) or 0.0
    maintain = ar_src.get("ar_outcome_maintain", ar_year) or 0.0
    ar_total = amend + maintain + (ar_src.get("ar_outcome_cease", ar_year) or 0.0)
    return amend / ar_total if ar_total else Parameters().review.p_amend


def estimate(
    h: LAHistory,
    england: LAHistory | None,
    as_of: int,
    *,
    initial: InitialEstimate,
    p_cease: float,
) -> SectionEstimate:
    """Reviews from January ``as_of`` (flows to the year before) of ``initial``'s
    caseload; ``p_cease`` the share of reviews ceasing a plan (the ceasing estimate's)."""
    last = as_of - 1
    p_amend = _p_amend(h, england, last)
    step_up, step_down, step_note = _step_rates(h, england, last)
    held = ratio_recent(h.series("ar_meeting_held_total"), h.series("ar_review_expected"), last)
    held = held if held is not None else 1.0
    la_total = float(h.get("ehcp_total_jan", as_of) or 0.0)
    reviews_per_week = la_total * held / 52.18
    officers = reviews_per_week / Parameters().review.reviews_per_officer_per_week
    main = h.series("caseload_mainstream")
    return SectionEstimate(
        values={
            "review": {
                "officers": round(officers, 2),
                # SEN2's outcomes are shares of all reviews; placement changes and
                # ceasing come from other series, so amendments take what is left.
                "p_amend": max(0.0, min(p_amend, 1 - max(step_up, step_down) - p_cease)),
                "p_step_up": step_up,
                "p_step_down": step_down,
                "step_up_independent_share": _independent_share(initial.caseload),
            }
        },
        notes=(
            Estimate("review.p_step_up", round(step_up, 4), step_note),
            Estimate(
                "review.officers",
                round(officers, 2),
                f"{la_total:.0f} plans x {held:.2f} of "
                "reviews held (SEN2 annual reviews) / 52 weeks / reviews per officer-week",
            ),
        ),
        uncertainty=(
            *beta_item(
                "p_step_up",
                beta_rate(h.series("transfers_mainstream_to_special"), main, last),
                "review.p_step_up",
                step_up,
                "transfers_mainstream_to_special / caseload_mainstream",
            ),
            *beta_item(
                "p_step_down",
                beta_rate(h.series("transfers_special_to_mainstream"), _special(h), last),
                "review.p_step_down",
                step_down,
                "transfers_special_to_mainstream / special school caseload",
            ),
        ),
    )
