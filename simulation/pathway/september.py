"""September: a new academic year (SEND Code of Practice 2015, 9.179 and 9.199).

Everyone ages a school year. Plans past the maximum age cease. Children moving into a new
phase (Reception, Year 7, post-16, post-19) have their plan amended to name the next
setting (by 15 February, or 31 March for post-16, before the September of transfer; the
model moves them on 1 September); some young people leave at 16 or 19. New places open, and
the coming year's ceasing by hazard is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..vocabulary import PHASE_START_AGES, SCHOOL_LEAVING_AGE
from .ceasing import cease, leaving_reason, schedule_exits
from .placement import (
    ALLOWED_AT_AGE,
    FE,
    HOLDING_GROUP,
    RP,
    SPECIAL,
    SPECIALIST,
    draw_group,
    name_new_setting,
    offer_places,
)

if TYPE_CHECKING:
    from ..system import SendSystem


def september(system: SendSystem) -> None:
    """The new academic year, in order: SEN support ages, places open, plans age (and
    cease at the maximum age), phase transfer, places offered, the year's exits drawn."""
    age_sen_support(system)
    open_places(system)
    age_plans(system)
    phase_transfer(system)
    for g in system.places:
        offer_places(system, g)
    schedule_exits(system)


def age_sen_support(system: SendSystem) -> None:
    for pool in (system.sen_support, system.returned):
        pool[1:] = pool[:-1].copy()
        pool[0] = 0
        # School SEN support ends with Year 11; requests for young people in post-16
        # education arrive as direct requests.
        pool[SCHOOL_LEAVING_AGE:] = 0


def open_places(system: SendSystem) -> None:
    """The year's new (or closed) state special and resourced places."""
    pl = system.params.placement
    for g, added in (
        (SPECIAL, pl.special_places_added_per_year),
        (RP, pl.rp_places_added_per_year),
    ):
        system.places[g] = max(0, system.places[g] + added)


def age_plans(system: SendSystem) -> None:
    """Every open plan ages a year; plans past the maximum age cease."""
    cl = system.caseload
    max_age = system.params.exits.max_age
    idx = cl.open_plans()
    cl.age[idx] += 1
    for i in idx[cl.age[idx] > max_age].tolist():
        cl.age[i] = max_age
        cease(system, i, "max_age")


def phase_transfer(system: SendSystem) -> None:
    """Children starting a phase: most keep their kind of setting; the rest leave (at 16
    or 19), move to college at 16 (`phase_transfer.p_to_fe_at_16`), move out of special
    provision, or have a setting drawn afresh."""
    cl = system.caseload
    idx = cl.open_plans()
    movers = idx[np.isin(cl.age[idx], list(PHASE_START_AGES))]
    system.count("phase_transfers", system.env.now, len(movers))
    u = system.rng["phase_transfer"].random((len(movers), 4))
    pt = system.params.phase_transfer
    ages = cl.age[movers]
    waiting = cl.waiting_for[movers] >= 0
    current = np.where(waiting, cl.waiting_for[movers], cl.group[movers])
    extra_19 = system.levers.extra_cease_at_19(system.env.now)
    into_work = (
        (ages == 19) & (u[:, 0] >= pt.p_cease_at_19) & (u[:, 0] < pt.p_cease_at_19 + extra_19)
    )
    leaves = (
        ((ages == 16) & (u[:, 0] < pt.p_cease_at_16))
        | ((ages == 19) & (u[:, 0] < pt.p_cease_at_19))
        | into_work
    )
    # Out of school at 16: to college at the rate the LA's post-16 caseload implies.
    to_fe = (ages == 16) & ~SPECIALIST[current] & (u[:, 3] < pt.p_to_fe_at_16) & ~leaves
    p_keep = np.where(SPECIALIST[current], pt.p_keep_specialist, pt.p_keep_setting)
    keeps = ALLOWED_AT_AGE[ages, current] & (u[:, 1] < p_keep) & ~to_fe
    # Most children keep their kind of setting and need nothing done; the loop is for
    # those who leave, change setting or are waiting for a place.
    for j in np.flatnonzero(leaves | ~keeps | waiting).tolist():
        i, age = int(movers[j]), int(ages[j])
        if leaves[j]:
            reason = (
                "no_longer_engaging"
                if age == 16
                else "employment"
                if into_work[j]
                else leaving_reason(system, u[j, 2])
            )
            cease(system, i, reason)
            continue
        if to_fe[j]:
            target = FE
        elif keeps[j]:
            target = int(current[j])
        elif SPECIALIST[current[j]] and ALLOWED_AT_AGE[age, current[j]]:
            target = HOLDING_GROUP[age]  # the rare move out of special provision
        else:  # a fresh draw: u[j, 1] decided keeping, so it is not independent here
            target = draw_group(system, age, int(cl.need[i]), u[j, 2])
        name_new_setting(system, i, target)
