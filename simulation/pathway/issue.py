"""The decision whether to issue a plan (SEND Code of Practice 2015, 9.53-9.56).

If the LA decides not to issue it must say so within 16 weeks of the request; the child
stays on SEN support. Decisions fall due when the last advice is in; they are taken in day
order at the next calendar tick (at most a week later), each counted on its own day.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from .assessment import close_assessment
from .plan import draft_plan
from .requests import Case, return_to_sen_support

if TYPE_CHECKING:
    from ..system import SendSystem


def due_decisions(system: SendSystem) -> None:
    """Take the decisions to issue that have fallen due, in the order they fell due."""
    now = system.env.now
    due = system.issue_decisions
    while due and due[0][0] <= now:
        day, _, case = heapq.heappop(due)
        decision_to_issue(system, case, day)


def decision_to_issue(system: SendSystem, case: Case, day: float) -> None:
    """Decision whether to issue a plan, due by week 16 (CoP 9.53); a decision not to
    issue leaves the child on SEN support."""
    system.ledger.count("assessments_completed", day)
    if case.u_not_issue < system.params.assessment.p_not_issue:
        close_assessment(system, case, day)
        system.count("assessments_not_issued", day)
        system.event(case.id, "not_issued", day)
        return_to_sen_support(system, case)
        return
    draft_plan(system, case, day)
