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

from .calendar import DAYS_PER_YEAR, WEEK, add_interval

if TYPE_CHECKING:
    from .levers import LeverSchedule
    from .parameters import CapacityResponse, Parameters
    from .system import SendSystem


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
        self.arrived = 0.0  # work assigned since the response last read it (Response)

    def assign(self, work: float, arrival: float | None = None) -> float:
        """Queue `work` (days of one whole-time adviser) arriving now (or at `arrival`;
        calls must come in arrival order); returns when it will be done (infinity for a
        team with no staff)."""
        now = self.env.now if arrival is None else arrival
        self.arrived += work
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

    def capacity(self) -> np.ndarray:
        """Adviser-days available by year, to the end of the run."""
        capacity = list(self.capacity_area)
        self._add(capacity, self._capacity_since, self._year_starts[-1], self.servers)
        return np.array(capacity)

    def wait(self) -> float:
        """Days new work arriving now would wait for an adviser (infinity with none)."""
        return max(self.free_at[0] - self.env.now, 0.0) if self.servers else math.inf

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


#: Weeks of work arriving that set each team's reference workload (its response starts after).
REFERENCE_WEEKS = 26


class Response:
    """One team's capacity following its workload (parameters `capacity`).

    The establishment follows the workload smoothed over the recruitment lag (an
    exponential smoothing of the work arriving each week, time constant `lag_days`), with
    elasticity `strength` about the reference workload of the first `REFERENCE_WEEKS`
    weeks (so a scenario's own team size, or a lever, stays on top: under common random
    numbers the work reaching a team does not depend on its size); posts added are filled
    at 1 - `vacancy_rate`. Temporary capacity (locums, agency, extra sittings, overtime)
    switches on when the wait ahead of new work passes `temp_trigger_weeks`, rising
    linearly to `temp_cap` of the establishment at twice the trigger. Both are factors on
    the team's own capacity; with `respond` off they stay 1 and 0 (capacity held fixed)."""

    def __init__(self, p: CapacityResponse) -> None:
        self.p = p
        self.weeks = 0
        self.reference = 0.0  # work a day over the first REFERENCE_WEEKS weeks
        self.smoothed = 0.0
        self.establishment = 1.0
        self.temporary = 0.0
        self.arrived = 0.0  # work arrived this week (teams without a `Team` count it here)
        self.wait = 0.0  # their wait ahead of new work, in days

    def week(self, arrived: float, wait_days: float) -> None:
        """Update from the work that arrived over the last week and the current wait."""
        p = self.p
        if not p.respond:
            return
        load = arrived / WEEK
        self.weeks += 1
        if self.weeks <= REFERENCE_WEEKS:  # learning the reference workload
            self.reference += (load - self.reference) / self.weeks
            self.smoothed = self.reference
        else:
            self.smoothed += (load - self.smoothed) * min(1.0, WEEK / p.lag_days)
        if self.reference > 0 and self.weeks > REFERENCE_WEEKS:
            est = (max(self.smoothed, 0.0) / self.reference) ** p.strength
            if est > 1.0:
                est = 1.0 + (est - 1.0) * (1.0 - p.vacancy_rate)
            self.establishment = est
        trigger = p.temp_trigger_weeks * WEEK
        over = (wait_days - trigger) / max(trigger, WEEK)
        self.temporary = p.temp_cap * self.establishment * min(max(over, 0.0), 1.0)

    @property
    def factor(self) -> float:
        """Capacity in post (establishment and temporary) over the starting capacity."""
        return self.establishment + self.temporary


class Responses:
    """The four teams' responses: "ep", "coordinator", "panel", "review_officer"."""

    def __init__(self, params: Parameters) -> None:
        p = params.capacity
        self.teams = {
            name: Response(p) for name in ("ep", "coordinator", "panel", "review_officer")
        }
        self.on = p.respond
        self.first = True

    def apply(self, fte: dict[str, float]) -> dict[str, float]:
        """Staff in post with the responses: established posts scale the base teams;
        temporary EPs are locums (costed at the locum rate), temporary coordinators and
        review officers are costed at their teams' own rates (agency premium not modelled)."""
        if not self.on:
            return fte
        ep, co, ro = self.teams["ep"], self.teams["coordinator"], self.teams["review_officer"]
        out = dict(fte)
        out["ep"] = fte["ep"] * ep.establishment
        out["ep_locum"] = fte["ep_locum"] + fte["ep"] * ep.temporary
        out["coordinator"] = fte["coordinator"] * co.factor
        out["review_officer"] = fte["review_officer"] * ro.factor
        return out


#: Lanes: the simple lane is staffed for its smoothed workload at this utilisation, over
#: this smoothing time (days), keeping the main lane at least this share of its
#: proportional FTE (*assumptions*: an LA staffs its priority work first, reviewing the
#: split every few weeks, without stopping the rest).
LANE_UTILISATION, LANE_SMOOTHING_DAYS, LANE_MAIN_FLOOR = 0.85, 56.0, 0.5


class Lanes:
    """A team that serves its simplest work first: what LAs do under pressure (simpler
    cases faster), so that timeliness degrades smoothly rather than switching off when
    demand passes capacity. Work of at most `threshold` days (the simplest
    `priority_share` of cases) goes to a simple lane staffed first, for its smoothed
    workload at LANE_UTILISATION (at least `work_share` of the FTE, the share of the work
    those cases bring); the rest of the team is the main lane, first come first served.
    A simple case goes to the main lane if that would start it sooner. The split is
    reviewed weekly. The same interface as `Team`."""

    def __init__(
        self,
        env: simpy.Environment,
        fte: float,
        year_starts: Sequence[float],
        threshold: float,
        work_share: float,
    ) -> None:
        self.env = env
        self.threshold, self.work_share = threshold, work_share
        self.fte = fte
        self.simple = Team(env, fte * work_share, year_starts)
        self.main = Team(env, fte * (1.0 - work_share), year_starts)
        self._smoothed = fte * work_share * LANE_UTILISATION  # simple work a day
        self._simple_work = 0.0
        self._since = env.now

    @property
    def arrived(self) -> float:
        return self.simple.arrived + self.main.arrived

    @arrived.setter
    def arrived(self, value: float) -> None:
        self.simple.arrived, self.main.arrived = value, 0.0

    def assign(self, work: float, arrival: float | None = None) -> float:
        now = self.env.now if arrival is None else arrival
        if self.env.now - self._since >= WEEK:
            self._rebalance()
        if work > self.threshold:
            return self.main.assign(work, arrival)
        self._simple_work += work
        simple_at = self.simple.free_at[0] if self.simple.servers else math.inf
        main_at = self.main.free_at[0] if self.main.servers else math.inf
        lane = self.simple if simple_at <= max(main_at, now) else self.main
        return lane.assign(work, arrival)

    def _rebalance(self) -> None:
        now = self.env.now
        days = now - self._since
        alpha = min(1.0, days / LANE_SMOOTHING_DAYS)
        self._smoothed += (self._simple_work / days - self._smoothed) * alpha
        self._simple_work, self._since = 0.0, now
        self._split()

    def _split(self) -> None:
        fte = self.fte
        most = fte * (1.0 - (1.0 - self.work_share) * LANE_MAIN_FLOOR)
        simple = min(max(self._smoothed / LANE_UTILISATION, fte * self.work_share), most)
        self.simple.set_fte(simple)
        self.main.set_fte(fte - simple)

    def set_fte(self, fte: float) -> None:
        self.fte = fte
        self._split()

    def wait(self) -> float:
        """The wait ahead of new work that is not the simplest (the main lane's)."""
        return self.main.wait()

    def utilisation(self) -> np.ndarray:
        cap = self.simple.capacity() + self.main.capacity()
        busy = np.array(self.simple.busy_area) + np.array(self.main.busy_area)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cap > 0, busy / np.maximum(cap, 1e-300), 0.0)

    def mean_queue(self) -> np.ndarray:
        return np.asarray(self.simple.mean_queue() + self.main.mean_queue())

    def mean_wait_weeks(self) -> np.ndarray:
        starts = np.array(self.simple.starts) + np.array(self.main.starts)
        wait = np.array(self.simple.wait_total) + np.array(self.main.wait_total)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(starts > 0, wait / np.maximum(starts, 1) / 7, np.nan)


def make_team(
    env: simpy.Environment,
    fte: float,
    year_starts: Sequence[float],
    share: float,
    mean: float,
    cv: float,
) -> Team | Lanes:
    """A team (`Team`), or with a priority share above 0 and variable work, `Lanes`
    whose simple lane takes the `share` of cases with the least work (the quantile of
    the gamma work times, found from a fixed sample so it is the same in every run)."""
    if share <= 0 or cv <= 0 or mean <= 0:
        return Team(env, fte, year_starts)
    k = 1.0 / cv**2
    sample = np.sort(np.random.default_rng(20_240_101).gamma(k, mean / k, 20_000))
    threshold = float(np.quantile(sample, min(share, 1.0)))
    work_share = float(sample[sample <= threshold].sum() / sample.sum())
    return Lanes(env, fte, year_starts, threshold, min(max(work_share, 0.0), 1.0))


def respond(system: SendSystem) -> None:
    """Weekly, before the week's work: each team's response reads the work that arrived
    over the last week and the wait ahead of new work now, and the teams are resized.
    The first call only clears what the start put in the queues."""
    r = system.responses.teams
    now = system.env.now
    if system.responses.first:  # the start's work in progress is not new workload
        system.responses.first = False
        system.ep_team.arrived = system.coordinators.arrived = r["panel"].arrived = 0.0
        return
    for name, team in (("ep", system.ep_team), ("coordinator", system.coordinators)):
        wait = team.wait()
        r[name].week(team.arrived, wait if wait != math.inf else 0.0)
        team.arrived = 0.0
    queue = system.panel_queue
    panel = r["panel"]
    panel.week(panel.arrived, now - queue[0].request_day if queue else 0.0)
    panel.arrived = 0.0
    rv = system.params.review
    reviews = r["review_officer"]
    reviews.week(system.caseload.n_open * WEEK / rv.interval_days, reviews.wait)


def staff_in_post(
    params: Parameters, levers: LeverSchedule, t: float, responses: Responses | None = None
) -> dict[str, float]:
    """FTE in post at day t by post: the base teams, grown at their yearly rates and
    following their workload (`responses`), plus the assessment capacity levers (EPs
    employed or locum, coordinators), which add on top."""
    years = t / DAYS_PER_YEAR
    fte = {
        "ep": params.assessment.ep_fte * (1.0 + params.assessment.ep_fte_growth) ** years,
        "ep_locum": 0.0,
        "coordinator": params.plan.coordinators * (1.0 + params.plan.coordinator_growth) ** years,
        "review_officer": params.review.officers,
    }
    if responses is not None:
        fte = responses.apply(fte)
    levers.add_staff(t, fte)
    return fte
