"""Capacity-limited teams: educational psychologists, EHC coordinators.

A team is a pool of parallel advisers serving work first-come first-served. It is written
on SimPy callbacks rather than `simpy.Resource` so one piece of work costs one event and no
request/release pair, and it keeps the time-weighted busy and queue areas per
calendar year (the monitored-resource idea) for utilisation and queue-length metrics.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import simpy


class Team:
    """`fte` of staff working as ceil(fte) parallel servers at speed fte/ceil(fte) each, so
    that total capacity is exactly `fte` whole-time equivalents."""

    def __init__(self, env: simpy.Environment, fte: float, year_starts: Sequence[float]):
        self.env = env
        self.servers = math.ceil(fte - 1e-9) if fte > 0 else 0
        self.slowdown = self.servers / fte if fte > 0 else 1.0
        self.busy = 0
        self.queue: deque[tuple[float, Callable[[], None], float]] = deque()
        self._year_starts = list(year_starts)
        n = len(year_starts) - 1
        self.busy_area = np.zeros(n)
        self.queue_area = np.zeros(n)
        self.wait_total = np.zeros(n)
        self.starts = np.zeros(n)
        self._last = env.now

    def serve(self, work: float, then: Callable[[], None]) -> None:
        """Do `work` (days of one whole-time adviser) when an adviser is free, first come
        first served, then call `then`."""
        self._account()
        if self.busy < self.servers:
            self._start(work, then, self.env.now)
        else:
            self.queue.append((work, then, self.env.now))

    def _start(self, work: float, then: Callable[[], None], since: float) -> None:
        self.busy += 1
        y = self._year(self.env.now)
        if y is not None:
            self.wait_total[y] += self.env.now - since
            self.starts[y] += 1
        self.env.timeout(work * self.slowdown).callbacks.append(lambda _ev: self._finish(then))

    def _finish(self, then: Callable[[], None]) -> None:
        self._account()
        self.busy -= 1
        if self.queue and self.busy < self.servers:
            self._start(*self.queue.popleft())
        then()

    def _year(self, t: float) -> int | None:
        i = bisect.bisect_right(self._year_starts, t) - 1
        return i if 0 <= i < len(self.busy_area) else None

    def _account(self) -> None:
        """Add busy-server and queue-length areas since the last change, split by year."""
        now, t = self.env.now, self._last
        if now <= t:
            return
        busy, queued = self.busy, len(self.queue)
        while t < now:
            y = self._year(t)
            if y is None:
                break
            end = min(now, self._year_starts[y + 1])
            self.busy_area[y] += busy * (end - t)
            self.queue_area[y] += queued * (end - t)
            t = end
        self._last = now

    def finish_accounts(self) -> None:
        self._account()

    def utilisation(self) -> np.ndarray:
        lengths = np.diff(self._year_starts)
        if self.servers == 0:
            return np.zeros_like(lengths)
        return self.busy_area / (self.servers * lengths)

    def mean_queue(self) -> np.ndarray:
        return self.queue_area / np.diff(self._year_starts)

    def mean_wait_weeks(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.starts > 0, self.wait_total / np.maximum(self.starts, 1) / 7, np.nan
            )
