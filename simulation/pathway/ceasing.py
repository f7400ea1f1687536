"""Ceasing a plan (SEND Code of Practice 2015, 9.199-9.210).

A plan ceases when the LA decides at review that it is no longer needed (`review.py`), at
the maximum age and when a young person leaves at 16 or 19 (`september.py`), and by hazard
while it is open: moved to another LA, into employment or higher education, no longer
engaging, moved outside England, ... (SEN2's reasons; `exits.hazard_by_band`). Hazards are
competing exponential risks by age band, drawn each September for the coming year (and for
a new plan up to the next September); only the plans that will cease get a date, and
ceasings due are taken in day order at the next calendar tick, each counted on its day.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..calendar import DAYS_PER_YEAR, WEEK
from ..caseload import NOT_WAITING
from ..parameters import Parameters
from ..shares import normalise
from ..vocabulary import AGE_TO_BAND, CEASE_REASONS, HAZARD_REASONS
from .placement import offer_places

if TYPE_CHECKING:
    from ..system import SendSystem

AGE_BAND_ARR = np.array(AGE_TO_BAND)
CEASED_METRIC = {r: f"ceased_{r}" for r in CEASE_REASONS}
LEAVING_REASONS = ("employment", "he", "no_longer_engaging")


@dataclass(frozen=True, slots=True)
class Hazards:
    """Ceasing hazards by age band (per year) and the reasons a plan ends at 19."""

    total: np.ndarray  # all reasons, by band
    total_list: list[float]
    cumulative: list[list[float]]  # band -> cumulative hazard over HAZARD_REASONS
    leaving_cum: list[float]  # cumulative shares of LEAVING_REASONS

    @classmethod
    def of(cls, params: Parameters) -> Hazards:
        hazards = np.array([params.exits.hazard_by_band[r] for r in HAZARD_REASONS])
        total = hazards.sum(axis=0)
        return cls(
            total=total,
            total_list=total.tolist(),
            cumulative=np.cumsum(hazards, axis=0).T.tolist(),
            leaving_cum=np.cumsum(
                normalise(params.phase_transfer.leaving_reason_shares, LEAVING_REASONS)
            ).tolist(),
        )


def cease(
    system: SendSystem, i: int, reason: str, day: float | None = None, offer: bool = True
) -> None:
    """Plan i ceases on `day` (default now), freeing its place (offered to the longest
    waiter at once unless `offer` is false)."""
    cl = system.caseload
    if not cl.active[i]:
        return
    day = system.env.now if day is None else day
    cl.active[i] = False
    cl.n_open -= 1
    g = int(cl.group[i])
    since = float(cl.group_since[i])
    system.ledger.plan(g, since, max(day, since))
    system.occupancy[g] -= 1
    if cl.waiting_for[i] != NOT_WAITING:
        cl.waiting_for[i] = NOT_WAITING
    system.count("ceased_total", day)
    system.count(CEASED_METRIC[reason], day)
    if system.log is not None:
        system.event(int(cl.child[i]), CEASED_METRIC[reason], day)
    if offer and g in system.waiting:
        offer_places(system, g)


def schedule_exit(system: SendSystem, i: int, until: float) -> None:
    """As `schedule_exits`, for one new plan."""
    band = AGE_TO_BAND[int(system.caseload.age[i])]
    total = system.hazards.total_list[band]
    if total <= 0:
        return
    rng = system.rng["exits"]
    wait = -math.log1p(-float(rng.random())) * DAYS_PER_YEAR / total
    if system.env.now + wait >= until:
        return
    _schedule_cease(system, i, wait, band, float(rng.random()))


def schedule_exits(system: SendSystem) -> None:
    """Each September: draw whether each open plan ceases (moves away, leaves
    education...) before the next September, from competing hazards for its age band,
    and schedule those that do. Plans are drawn in the order they were made from the
    year's own block of numbers, so the start caseload (the same plans in every scenario)
    draws the same numbers in every scenario."""
    plans = system.caseload.open_plans()
    if len(plans) == 0:
        return
    until = system.next_september()
    rng = system.weekly("exits_september", int(system.env.now // WEEK))
    bands = AGE_BAND_ARR[system.caseload.age[plans]]
    total = system.hazards.total[bands]
    with np.errstate(divide="ignore"):
        wait = rng.exponential(1.0, len(plans)) * DAYS_PER_YEAR / total
    u = rng.random(len(plans))
    now = system.env.now
    for j in np.flatnonzero(now + wait < until).tolist():
        _schedule_cease(system, int(plans[j]), float(wait[j]), int(bands[j]), float(u[j]))


def _schedule_cease(system: SendSystem, i: int, wait: float, band: int, u: float) -> None:
    cum = system.hazards.cumulative[band]
    k = min(bisect.bisect_right(cum, u * cum[-1]), len(HAZARD_REASONS) - 1)
    # Like decisions to issue, ceasings are taken in day order at the next calendar tick
    # (always before a census), each counted on its own day: they change no queue.
    heapq.heappush(system.exits_due, (system.env.now + wait, i, HAZARD_REASONS[k]))


def due_exits(system: SendSystem) -> None:
    """Cease the plans whose exit day has passed, in day order."""
    now = system.env.now
    due = system.exits_due
    ceased = False
    while due and due[0][0] < now:
        day, i, reason = heapq.heappop(due)
        cease(system, i, reason, day, offer=False)
        ceased = True
    # Places freed are offered once every plan due to cease has ceased, so a place never
    # goes to a child whose own plan ended before the tick.
    if ceased:
        for g in system.waiting:
            offer_places(system, g)


def leaving_reason(system: SendSystem, u: float) -> str:
    """Why a plan ceases at 19 (phase_transfer.leaving_reason_shares)."""
    k = bisect.bisect_right(system.hazards.leaving_cum, u)
    return LEAVING_REASONS[min(k, len(LEAVING_REASONS) - 1)]
