"""Drafting and the final EHC plan (SEND Code of Practice 2015, 9.77-9.80 and 9.40).

An EHC coordinator, held to a caseload limit (`teams.Team`), writes the draft; the family
has at least 15 days to comment and ask for a school, and the school is consulted. The final
plan is due within 20 weeks of the request and names a placement (section I): the setting
is drawn by phase and need, and a full special or resourced setting means a wait.
"""

from __future__ import annotations

import bisect
import math
from functools import partial
from typing import TYPE_CHECKING

from ..calendar import TWENTY_WEEKS, WEEK
from ..vocabulary import AGE_TO_BAND, BAND_NAMES, N_AGES, PLACEMENT_GROUPS
from .assessment import close_assessment
from .ceasing import schedule_exit
from .placement import HOLDING_GROUP, SPECIALIST, draw_group, has_place, place
from .requests import Case
from .review import review_interval

if TYPE_CHECKING:
    from ..system import SendSystem

NEWPLAN_METRIC = tuple(f"newplans_age_{BAND_NAMES[AGE_TO_BAND[a]]}" for a in range(N_AGES))


def draft_plan(system: SendSystem, case: Case, day: float) -> None:
    """Draft plan by an EHC coordinator held to a caseload limit, then at least 15 days
    for the family to comment and name a school (CoP 9.77-9.79), and consultation with
    the school before the plan is finalised."""
    drafted = system.coordinators.assign(case.draft_work, arrival=day)
    if drafted == math.inf:
        return  # no coordinators: the draft is never written
    if system.log is not None:
        system.event(case.id, "draft_plan", drafted)
    system.after(drafted + case.comment_days - system.env.now, partial(final_plan, system, case))


def final_plan(system: SendSystem, case: Case, _ev: object = None) -> None:
    """Final plan, due within 20 weeks of the request (CoP 9.40), naming a placement."""
    now = system.env.now
    close_assessment(system, case, now)
    age = system.age_now(case.age, case.request_day)
    y = bisect.bisect_right(system.year_starts, now) - 1
    if 0 <= y < system.n_years:
        f = system.flows
        f["new_ehcps"][y] += 1
        f[NEWPLAN_METRIC[age]][y] += 1
        if not case.exception:
            f["plans_issued_excl_exceptions"][y] += 1
            if now - case.request_day <= TWENTY_WEEKS:
                f["issued_within_20wks_excl_exceptions"][y] += 1
            system.weeks_to_issue[y].append((now - case.request_day) / WEEK)
    target = draw_group(system, age, case.need, case.u_place)
    if SPECIALIST[target] and system.levers.mainstream_instead(now, case.u_inclusion):
        target = HOLDING_GROUP[age]  # mainstream with support (college after 19)
    next_review = now + review_interval(system, age)
    if has_place(system, target):
        new_plan(system, age, case.need, target, next_review, case.id)
    else:
        i = new_plan(system, age, case.need, HOLDING_GROUP[age], next_review, case.id)
        place(system, i, target)
    if system.log is not None:
        system.event(case.id, "plan_issued")


def new_plan(
    system: SendSystem,
    age: int,
    need: int,
    group: int,
    next_review: float,
    child: int | None = None,
) -> int:
    """A plan opens in a setting (a final plan, a plan moving in, or one open at the start):
    a row of the caseload, a place taken, and its ceasing by hazard drawn up to September.
    `child` is the entity id of the request it came from (a new id if none); returns the
    plan's row."""
    now = system.env.now
    if child is None:
        child = system.new_ids(1)
    i = system.caseload.add(child, age, need, group, now, next_review)
    system.occupancy[group] += 1
    schedule_exit(system, i, system.next_sep)
    if system.log is not None:
        system.event(child, f"placement:{PLACEMENT_GROUPS[group]}")
    return i
