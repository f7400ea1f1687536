"""The decision to assess (SEND Code of Practice 2015, 9.14-9.16; appeals: chapter 11).

The LA must say within 6 weeks of a request whether it will assess. A panel sits on a
fixed interval (`panel.sitting_interval_days`) with a limited number of slots and decides
the oldest requests first; the 6-week rule is measured, not imposed. A refusal may be
appealed to the First-tier Tribunal (SEND), which orders some assessments.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..calendar import SIX_WEEKS
from .assessment import start_assessment
from .requests import Case, return_to_sen_support

if TYPE_CHECKING:
    from ..system import SendSystem


def receive_requests(system: SendSystem, cases: list[Case]) -> None:
    """This week's requests join the panel's queue, or with no panel
    (sitting_interval_days 0) are decided the day they arrive."""
    count = system.count
    if cases and system.year(cases[0].request_day) == system.year(cases[-1].request_day):
        day = cases[0].request_day
        count("requests_received", day, len(cases))
        count("requests_received_sen_support", day, sum(c.from_sen_support for c in cases))
        count("requests_repeat", day, sum(c.repeat for c in cases))
    else:  # the week straddles New Year
        for case in cases:
            count("requests_received", case.request_day)
            count("requests_received_sen_support", case.request_day, case.from_sen_support)
            count("requests_repeat", case.request_day, case.repeat)
    if system.log is not None:
        for case in cases:
            system.event(case.id, "request", case.request_day)
    system.responses.teams["panel"].arrived += len(cases)
    if system.params.panel.sitting_interval_days > 0:
        p_late = system.params.panel.p_decided_late
        if p_late <= 0:
            system.panel_queue.extend(cases)
            return
        for case in cases:
            # A share decided after 6 weeks, whatever the capacity (advice or evidence
            # awaited), drawn from the refusal uniform's digits (independent of refusal,
            # the same in every scenario).
            late = (case.u_refuse * 1024.0) % 1.0 < p_late
            (system.panel_late if late else system.panel_queue).append(case)
        return
    now = system.env.now
    while system.panel_queue:  # requests waiting at the start
        decide(system, system.panel_queue.popleft(), now)
    for case in cases:
        decide(system, case, case.request_day)


def panel(system: SendSystem) -> None:
    """Decision to assess (CoP 9.14): within 6 weeks of the request. The panel decides
    the oldest requests first, up to its slots (scaled by the panel's response to its
    workload); the rest wait for the next sitting. Requests held for more information
    (`panel.p_decided_late`) come first once 6 weeks have passed."""
    now = system.env.now
    queue = system.panel_queue
    # Slots follow the workload (teams.Response: more panel time, extra sittings), the
    # fraction of a slot carried to the next sitting.
    credit = system.params.panel.slots_per_sitting * system.responses.teams["panel"].factor
    credit += system.panel_credit
    slots = int(credit)
    system.panel_credit = min(credit - slots, 1.0)
    decided = within_6wks = agreed = 0
    late = system.panel_late
    while late and slots > 0 and now - late[0].request_day > SIX_WEEKS:
        agreed += decide(system, late.popleft(), now, counted=True)
        decided += 1
        slots -= 1
    while queue and slots > 0 and queue[0].request_day <= now:
        case = queue.popleft()
        within_6wks += now - case.request_day <= SIX_WEEKS
        agreed += decide(system, case, now, counted=True)
        decided += 1
        slots -= 1
    # One sitting, one day: its decisions are counted together.
    system.count("requests_decided", now, decided)
    system.count("requests_decided_within_6wks", now, within_6wks)
    system.count("requests_agreed", now, agreed)
    system.count("requests_refused", now, decided - agreed)


def decide(system: SendSystem, case: Case, day: float, counted: bool = False) -> bool:
    """Agree to assess or refuse (True if agreed); `counted` when the caller counts. Some
    refusals are appealed (fewer with the decision quality lever)."""
    pn = system.params.panel
    if not counted:
        system.count("requests_decided", day)
        if day - case.request_day <= SIX_WEEKS:
            system.count("requests_decided_within_6wks", day)
    if case.u_refuse < pn.p_refuse:
        if not counted:
            system.count("requests_refused", day)
        if system.log is not None:
            system.event(case.id, "refused", day)
        if case.u_appeal < system.levers.appeal_probability(day, pn.p_refusal_appealed):
            system.count("refusals_appealed", day)
            system.ledger.count("appeals", day)
            system.after(day - system.env.now + case.tribunal_days, partial(tribunal, system, case))
        else:
            return_to_sen_support(system, case)
        return False
    if not counted:
        system.count("requests_agreed", day)
    start_assessment(system, case, day)
    return True


def tribunal(system: SendSystem, case: Case, _ev: object = None) -> None:
    """First-tier Tribunal decides an appeal against a refusal to assess. An upheld
    appeal orders an assessment; its plan is counted as an exception to the 20 weeks."""
    now = system.env.now
    p_upheld = system.levers.upheld_probability(now, system.params.panel.p_appeal_upheld)
    if case.u_upheld < p_upheld:
        system.count("appeals_upheld", now)
        case.exception = True
        start_assessment(system, case, now)
    else:
        return_to_sen_support(system, case)
