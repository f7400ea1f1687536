"""Annual review (SEND Code of Practice 2015, 9.166-9.185).

Plans are reviewed at least every 12 months (`review.interval_days`; more often under 5).
A review team works through the reviews due each week, longest overdue first, up to its
weekly capacity (which follows the caseload and the backlog: teams.Response); the rest
become overdue. After the review the LA maintains, amends or
ceases the plan, or changes the placement (up into a special school, or rarely down out of
one); the review quality lever ceases and steps down more plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .ceasing import cease
from .placement import HOLDING_GROUP, INDEPENDENT, SPECIAL, SPECIALIST, name_new_setting

if TYPE_CHECKING:
    from ..system import SendSystem

OUTCOMES = ("ar_outcome_cease", "ar_outcome_change_placement", "ar_outcome_amend")
MAINTAIN = "ar_outcome_maintain"


def review_interval(system: SendSystem, age: int) -> float:
    """Days from a plan's issue (or review) to its next review."""
    r = system.params.review
    return r.under5_interval_days if age < 5 else r.interval_days


def annual_reviews(system: SendSystem) -> None:
    """Annual reviews by the review team, oldest due first, as many as the team can do
    this week; the rest become overdue."""
    r = system.params.review
    now = system.env.now
    cl = system.caseload
    due = np.flatnonzero(cl.active[: cl.n] & (cl.next_review[: cl.n] <= now))
    response = system.responses.teams["review_officer"]
    weekly = r.officers * r.reviews_per_officer_per_week * response.factor
    system.review_credit += weekly
    k = min(len(due), int(system.review_credit))
    # The backlog left, in days of the team's work: the wait the response reads.
    response.wait = (len(due) - k) / weekly * 7.0 if weekly > 0 else 0.0
    # Unused review time is lost, not banked: at most one review's worth carries over.
    system.review_credit = min(system.review_credit - k, 1.0)
    if k == 0:
        return
    if k < len(due):
        # The k longest overdue, in due order (a partition, then a sort of only k).
        oldest = due[np.argpartition(cl.next_review[due], k - 1)[:k]]
        due = oldest[np.argsort(cl.next_review[oldest], kind="stable")]
    u = system.rng["reviews"].random((k, 2))
    current = np.where(cl.waiting_for[due] >= 0, cl.waiting_for[due], cl.group[due])
    p_cease, p_step_down = system.levers.review_rates(now, r.p_cease, r.p_step_down)
    p_move = np.where(SPECIALIST[current], p_step_down, r.p_step_up)
    # 0 cease (needs met), 1 change placement, 2 amend, 3 maintain
    outcome = np.select(
        [
            u[:, 0] < p_cease,
            u[:, 0] < p_cease + p_move,
            u[:, 0] < p_cease + p_move + r.p_amend,
        ],
        [0, 1, 2],
        3,
    )
    counts = np.bincount(outcome, minlength=4)
    system.count("reviews_completed", now, k)
    for j, name in enumerate((*OUTCOMES, MAINTAIN)):
        system.count(name, now, float(counts[j]))
    ages = cl.age[due]
    cl.next_review[due] = now + np.where(ages < 5, r.under5_interval_days, r.interval_days)
    for j in np.flatnonzero(outcome <= 1).tolist():
        i = int(due[j])
        if outcome[j] == 0:
            cease(system, i, "needs_met")
        else:
            name_new_setting(system, i, changed_setting(system, i, int(current[j]), u[j, 1]))


def changed_setting(system: SendSystem, i: int, current: int, u: float) -> int:
    """Where a review moves a child: up to a special school (state, or independent for
    a share of moves), or down from one to mainstream (college after 19)."""
    if not SPECIALIST[current]:
        return INDEPENDENT if u < system.params.review.step_up_independent_share else SPECIAL
    return HOLDING_GROUP[int(system.caseload.age[i])]
