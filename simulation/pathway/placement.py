"""Placement and waiting (section I of the plan; SEND Code of Practice 2015, 9.78-9.79).

A plan names a setting in one of SEN2's nine placement groups, drawn by phase and need
(`placement.mix_by_phase`, `placement.need_weights`). State special and resourced places are
counted: when the setting named is full the child waits on a first-come, first-served list
in a holding setting (their mainstream school, or college after 19), or goes straight to an
independent special school (`placement.overflow`); a child waiting longer than
`placement.max_wait_days` goes independent. A place freed is offered to the longest waiter.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import numpy as np

from ..calendar import WEEK
from ..caseload import NOT_WAITING
from ..parameters import Parameters
from ..vocabulary import (
    AGE_TO_PHASE,
    GROUP_INDEX,
    GROUPS_BY_PHASE,
    N_AGES,
    NEEDS,
    PHASE_NAMES,
    PLACEMENT_GROUPS,
)

if TYPE_CHECKING:
    from ..system import SendSystem

MAINSTREAM = GROUP_INDEX["mainstream"]
RP = GROUP_INDEX["mainstream_rp_senunit"]
SPECIAL = GROUP_INDEX["special_state"]
INDEPENDENT = GROUP_INDEX["special_independent_nm"]
FE = GROUP_INDEX["fe_post16"]
EHE_OTHER = GROUP_INDEX["ehe_other"]


def _holding(age: int) -> int:
    """Where a child waits for a special or resourced place: their mainstream school, or
    college after 19."""
    groups = GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[age]]]
    if "mainstream" in groups:
        return MAINSTREAM
    return FE if "fe_post16" in groups else EHE_OTHER


HOLDING_GROUP = tuple(_holding(a) for a in range(N_AGES))
# Special schools (state, independent or non-maintained): reviews move children up into
# them and, rarely, down out of them.
SPECIALIST = np.array([g in ("special_state", "special_independent_nm") for g in PLACEMENT_GROUPS])
ALLOWED_AT_AGE = np.array(
    [
        [g in GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[a]]] for g in PLACEMENT_GROUPS]
        for a in range(N_AGES)
    ]
)


def placement_mix(params: Parameters) -> list[list[list[float]]]:
    """Cumulative shares of new placements by (phase, need, group), zero where a group does
    not exist in a phase; a phase with no shares places everyone in its first group."""
    pl = params.placement
    mix = np.zeros((len(PHASE_NAMES), len(NEEDS), len(PLACEMENT_GROUPS)))
    for i, phase in enumerate(PHASE_NAMES):
        shares = pl.mix_by_phase.get(phase, {})
        for g in GROUPS_BY_PHASE[phase]:
            mix[i, :, GROUP_INDEX[g]] = shares.get(g, 0.0)
    for j, need in enumerate(NEEDS):
        for g, w in pl.need_weights.get(need, {}).items():
            mix[:, j, GROUP_INDEX[g]] *= w
    totals = mix.sum(axis=2, keepdims=True)
    fallback = np.zeros_like(mix)
    for i, phase in enumerate(PHASE_NAMES):
        fallback[i, :, GROUP_INDEX[GROUPS_BY_PHASE[phase][0]]] = 1.0
    mix = np.where(totals > 0, mix / np.where(totals > 0, totals, 1.0), fallback)
    cumulative: list[list[list[float]]] = np.cumsum(mix, axis=2).tolist()
    return cumulative


def draw_group(system: SendSystem, age: int, need: int, u: float) -> int:
    """The setting drawn for a plan by its phase and need (placement mix)."""
    cum = system.mix[AGE_TO_PHASE[age]][need]
    return min(bisect.bisect_right(cum, u), len(PLACEMENT_GROUPS) - 1)


def has_place(system: SendSystem, group: int) -> bool:
    return group not in system.places or system.occupancy[group] < system.places[group]


def place(system: SendSystem, i: int, target: int) -> None:
    """Put plan i in its target setting, or on the waiting list if the setting is full
    (placement.overflow decides between waiting and going independent)."""
    if has_place(system, target):
        move(system, i, target)
        return
    now = system.env.now
    if system.params.placement.overflow == "independent":
        move(system, i, INDEPENDENT)
        system.count("placed_independent_overflow", now)
        return
    cl = system.caseload
    if cl.waiting_for[i] == NOT_WAITING:
        cl.waiting_for[i] = target
        cl.wait_since[i] = now
        system.waiting[target].append(i)
        system.count("placement_waits_started", now)
        system.event(int(cl.child[i]), "placement_wait")


def move(system: SendSystem, i: int, new_group: int) -> None:
    """Change plan i's setting, freeing its place for the longest waiter."""
    cl = system.caseload
    old = int(cl.group[i])
    if old == new_group:
        return
    now = system.env.now
    system.ledger.plan(old, float(cl.group_since[i]), now)
    cl.group_since[i] = now
    system.occupancy[old] -= 1
    system.occupancy[new_group] += 1
    cl.group[i] = new_group
    if system.log is not None:
        system.event(int(cl.child[i]), f"placement:{PLACEMENT_GROUPS[new_group]}")
    if old in system.waiting:
        offer_places(system, old)


def name_new_setting(system: SendSystem, i: int, target: int) -> None:
    """Name a new setting for plan i (at review or phase transfer), waiting in the holding
    setting for its age if the new one is full."""
    cl = system.caseload
    age = int(cl.age[i])
    allowed = GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[age]]]
    if cl.waiting_for[i] != NOT_WAITING:
        if cl.waiting_for[i] == target:
            if PLACEMENT_GROUPS[int(cl.group[i])] not in allowed:
                move(system, i, HOLDING_GROUP[age])
            return
        end_wait(system, i)
    if cl.group[i] == target:
        return
    places = system.places
    full = target in places and system.occupancy[target] >= places[target]
    if full and system.params.placement.overflow == "wait":
        move(system, i, HOLDING_GROUP[age])
    place(system, i, target)


def offer_places(system: SendSystem, group: int) -> None:
    """Free places in a setting go to its waiting list, longest waiting first."""
    queue = system.waiting[group]
    cl = system.caseload
    while queue and system.occupancy[group] < system.places[group]:
        i = queue.popleft()
        if not cl.active[i] or cl.waiting_for[i] != group:
            continue
        end_wait(system, i)
        move(system, i, group)


def end_wait(system: SendSystem, i: int) -> None:
    cl = system.caseload
    now = system.env.now
    y = system.year(now)
    if 0 <= y < system.n_years:
        system.wait_weeks[y].append((now - cl.wait_since[i]) / WEEK)
    cl.waiting_for[i] = NOT_WAITING


def overdue_waits(system: SendSystem) -> None:
    """Children waiting longer than placement.max_wait_days go independent."""
    limit = system.params.placement.max_wait_days
    now = system.env.now
    cl = system.caseload
    for g, queue in system.waiting.items():
        while queue:
            i = queue[0]
            if not cl.active[i] or cl.waiting_for[i] != g:
                queue.popleft()
                continue
            if now - cl.wait_since[i] < limit:
                break
            queue.popleft()
            end_wait(system, i)
            move(system, i, INDEPENDENT)
            system.count("placed_independent_overflow", now)
