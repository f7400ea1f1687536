"""The EHC needs assessment (SEND Code of Practice 2015, 9.40-9.53; advice 9.46-9.52).

Once the LA has agreed to assess (or the tribunal has ordered it), advice is asked for on
the decision day: educational advice from an educational psychologist (always), health and
social care advice, each due within 6 weeks. EP time comes from a capacity-limited team
working first come, first served (`teams.Team`); health and social care advice take their
own time in parallel. The decision whether to issue follows the last advice.
"""

from __future__ import annotations

import heapq
import math
from functools import partial
from typing import TYPE_CHECKING

from ..calendar import add_interval
from .requests import Case

if TYPE_CHECKING:
    from ..system import SendSystem


def start_assessment(
    system: SendSystem, case: Case, decision_day: float, _ev: object = None
) -> None:
    """The LA has agreed to assess: ask for advice on the decision day (CoP 9.46-9.52) and
    schedule the decision whether to issue for when the last advice is in."""
    now = system.env.now
    if decision_day > now:
        system.after(decision_day - now, partial(start_assessment, system, case, decision_day))
        return
    open_assessment(system, case, now)
    if system.log is not None:
        system.event(case.id, "assessment_started")
    ep_done = ep_advice(system, case)
    if ep_done == math.inf:
        return  # no EP capacity: the assessment never completes
    all_in = max(ep_done, decision_day + case.other_advice_days)
    # The decision day is known now; decisions are taken in day order at the next
    # calendar tick (at most a week later) rather than each costing an event. Nothing
    # that follows can fall before that tick: the family has 15 days on the draft.
    heapq.heappush(
        system.issue_decisions,
        (all_in + system.params.assessment.issue_decision_days, case.id, case),
    )


def ep_advice(system: SendSystem, case: Case) -> float:
    """Educational psychologist advice (CoP 9.49): the case's EP work joins the EP team's
    queue now; returns the day the advice is in (infinity with no EPs)."""
    done = system.ep_team.assign(case.ep_work)
    if done != math.inf and system.log is not None:
        system.event(case.id, "ep_advice", done)
    return done


def open_assessment(system: SendSystem, case: Case, day: float) -> None:
    system.open_assessments += 1
    system.open_since[case.id] = day


def close_assessment(system: SendSystem, case: Case, day: float) -> None:
    """An assessment ends (plan or no plan): its open interval goes into the yearly
    areas of open assessments (for Little's law)."""
    system.open_assessments -= 1
    add_interval(system.open_area, system.year_starts, system.open_since.pop(case.id), day)
