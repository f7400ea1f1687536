"""Capacity-limited teams: educational psychologists, EHC coordinators.

A team is a pool of parallel advisers taking work first come, first served. Because each
piece of work's duration is drawn when the child arrives, the FIFO queue needs no events
of its own: a new piece of work starts when the earliest-free adviser frees up (the
multi-server Lindley recursion), so assigning it is a heap operation and the only SimPy
event is the one that resumes the child's journey when the work is done. A `simpy.Resource`
would cost a request, a release and a process resumption per piece of work.

The team keeps time-weighted busy-adviser and queue-length areas per calendar year (the
monitored-resource idea) for utilisation and queue metrics.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import simpy

from .calendar import DAYS_PER_YEAR, add_interval

if TYPE_CHECKING:
    from .levers import LeverSchedule
    from .parameters import Parameters


class Team:
    """`fte` of staff working as ceil(fte) parallel advisers at speed fte/ceil(fte) each,
    so that total capacity is exactly `fte` whole-time equivalents."""

    def __init__(self, env: simpy.Environment, fte: float, year_starts: Sequence[float]):
        self.env = env
        self.servers = math.ceil(fte - 1e-9) if fte > 0 else 0
        self.slowdown = self.servers / fte if fte > 0 else 1.0
        self.free_at = [env.now] * self.servers  # a heap of when each adviser is free
        self._year_starts = list(year_starts)
        n = len(year_starts) - 1
        # Plain lists: scalar updates on lists are several times cheaper than on arrays.
        self.busy_area = [0.0] * n
        self.queue_area = [0.0] * n
        self.wait_total = [0.0] * n
        self.starts = [0.0] * n
        self.fte = fte
        self.capacity_area = [0.0] * n  # adviser-days available (changes with set_fte)
        self._capacity_since = env.now

    def assign(self, work: float, arrival: float | None = None) -> float:
        """Queue `work` (days of one whole-time adviser) arriving now (or at `arrival`;
        calls must come in arrival order); returns when it will be done (infinity for a
        team with no staff)."""
        now = self.env.now if arrival is None else arrival
        if not self.servers:  # the work waits for ever: it counts in the queue to the end
            self._add(self.queue_area, now, self._year_starts[-1])
            return math.inf
        start = max(now, self.free_at[0])  # the adviser free soonest takes it
        end = start + work * self.slowdown
        heapq.heapreplace(self.free_at, end)
        y = bisect.bisect_right(self._year_starts, start) - 1
        if 0 <= y < len(self.starts):
            self.starts[y] += 1
            self.wait_total[y] += start - now
        if start > now:
            self._add(self.queue_area, now, start)
        self._add(self.busy_area, start, end)
        return end

    def set_fte(self, fte: float) -> None:
        """Change the team's size from now. New advisers start free; when the team shrinks,
        the advisers free soonest leave once their current work is done. Work already
        assigned keeps its times; new work runs at the new speed."""
        if fte == self.fte:
            return
        now = self.env.now
        self._add(self.capacity_area, self._capacity_since, now, self.servers)
        self._capacity_since = now
        servers = math.ceil(fte - 1e-9) if fte > 0 else 0
        for _ in range(servers - self.servers):
            heapq.heappush(self.free_at, now)
        for _ in range(self.servers - servers):
            # A departing adviser stays until the work already given them is done.
            self._add(self.capacity_area, now, max(now, heapq.heappop(self.free_at)))
        self.servers, self.fte = servers, fte
        self.slowdown = servers / fte if fte > 0 else 1.0

    def _add(self, area: list[float], a: float, b: float, weight: float = 1.0) -> None:
        add_interval(area, self._year_starts, a, b, weight)

    def utilisation(self) -> np.ndarray:
        """Busy adviser-days over available adviser-days, by year (0 with no advisers)."""
        capacity = list(self.capacity_area)
        self._add(capacity, self._capacity_since, self._year_starts[-1], self.servers)
        cap = np.array(capacity)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cap > 0, np.array(self.busy_area) / np.maximum(cap, 1e-300), 0.0)

    def mean_queue(self) -> np.ndarray:
        return np.array(self.queue_area) / np.diff(self._year_starts)

    def mean_wait_weeks(self) -> np.ndarray:
        starts = np.array(self.starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                starts > 0, np.array(self.wait_total) / np.maximum(starts, 1) / 7, np.nan
            )


def staff_in_post(params: Parameters, levers: LeverSchedule, t: float) -> dict[str, float]:
    """FTE in post at day t by post: the base teams, grown at their yearly rates, plus the
    assessment capacity levers (EPs employed or locum, coordinators)."""
    years = t / DAYS_PER_YEAR
    fte = {
        "ep": params.assessment.ep_fte * (1.0 + params.assessment.ep_fte_growth) ** years,
        "ep_locum": 0.0,
        "coordinator": params.plan.coordinators * (1.0 + params.plan.coordinator_growth) ** years,
        "review_officer": params.review.officers,
    }
    levers.add_staff(t, fte)
    return fte
