"""The local SEND system as a SimPy model: one replication = Parameters + seed -> Results.

Children's journeys that contend for capacity (request -> panel -> EP advice -> draft ->
final plan) are SimPy processes. Work on the whole caseload (annual reviews due this week,
September ageing and phase transfer, census counts) is done by one calendar process over
arrays, because a process per child parked on a year-long timeout costs far more (see
docs/architecture.md). Open plans live in a struct of numpy arrays indexed by plan id.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from .calendar import DAYS_PER_YEAR, SIX_WEEKS, TWENTY_WEEKS, WEEK, Calendar, add_interval
from .levers import (
    LeverSchedule,
)
from .money import Ledger, finance
from .parameters import Parameters
from .randomness import (
    CASE_STREAMS,
    CASE_UNIFORMS,
    INITIAL_WEEKS,
    U,
    gamma,
    streams,
    weekly_streams,
)
from .results import CENSUS_METRICS, COUNT_FLOWS, DERIVED_FLOWS, Results
from .teams import Team
from .vocabulary import (
    AGE_BANDS,
    AGE_TO_BAND,
    AGE_TO_PHASE,
    BAND_NAMES,
    CEASE_REASONS,
    GROUP_INDEX,
    GROUPS_BY_PHASE,
    HAZARD_REASONS,
    N_AGES,
    NEEDS,
    PHASE_NAMES,
    PHASE_START_AGES,
    PLACEMENT_GROUPS,
    SCHOOL_LEAVING_AGE,
)

MAINSTREAM = GROUP_INDEX["mainstream"]
RP = GROUP_INDEX["mainstream_rp_senunit"]
SPECIAL = GROUP_INDEX["special_state"]
INDEPENDENT = GROUP_INDEX["special_independent_nm"]
FE = GROUP_INDEX["fe_post16"]
EHE_OTHER = GROUP_INDEX["ehe_other"]
NOT_WAITING = -1
AGE_BAND_ARR = np.array(AGE_TO_BAND)
CEASED_METRIC = {r: f"ceased_{r}" for r in CEASE_REASONS}
NEWPLAN_METRIC = tuple(f"newplans_age_{BAND_NAMES[AGE_TO_BAND[a]]}" for a in range(N_AGES))


def _holding(age: int) -> int:
    """Where a child waits for a special or resourced place: their mainstream school, or
    college after 19."""
    groups = GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[age]]]
    if "mainstream" in groups:
        return MAINSTREAM
    return FE if "fe_post16" in groups else EHE_OTHER


HOLDING_GROUP = tuple(_holding(a) for a in range(N_AGES))
LEAVING_REASONS = ("employment", "he", "no_longer_engaging")
# Special schools (state, independent or non-maintained): reviews move children up into
# them and, rarely, down out of them.
SPECIALIST = np.array([g in ("special_state", "special_independent_nm") for g in PLACEMENT_GROUPS])
ALLOWED_AT_AGE = np.array(
    [
        [g in GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[a]]] for g in PLACEMENT_GROUPS]
        for a in range(N_AGES)
    ]
)


@dataclass(slots=True)
class Case:
    """A child's request for an EHC needs assessment, and its random fortunes drawn on
    arrival so that every scenario sees the same child (common random numbers)."""

    id: int
    age: int
    need: int
    from_sen_support: bool
    request_day: float
    u_refuse: float
    u_appeal: float
    u_upheld: float
    tribunal_days: float
    ep_work: float
    other_advice_days: float
    u_not_issue: float
    exception: bool
    draft_work: float
    comment_days: float
    u_place: float
    repeat: bool = False  # a repeat request from a child refused or not issued a plan before
    u_inclusion: float = 1.0  # for the mainstream inclusion lever


class SendSystem:
    """The whole-system model for one replication."""

    def __init__(self, params: Parameters, seed: int | np.random.SeedSequence):
        self.p = params
        self.cal = Calendar(params.run.start_year, params.run.years)
        self.env = simpy.Environment()
        self.rng = streams(seed)
        self.weekly_streams = weekly_streams(seed)
        self._pool_rng = self._weekly("sen_support", 0)
        self._returned_rng = self._weekly("returned", 0)
        self.year_starts = self.cal.year_starts()
        self.septembers = [
            self.cal.september(y)
            for y in range(params.run.start_year, params.run.start_year + params.run.years + 1)
        ]
        n_years, n_census = params.run.years, params.run.years + 1
        self.n_years = n_years
        self._next_sep_cache = -math.inf
        self._cy, self._cy_lo, self._cy_hi = 0, self.year_starts[0], self.year_starts[1]
        self.flows: dict[str, list[float]] = {m: [0.0] * n_years for m in COUNT_FLOWS}
        self.census = {m: np.zeros(n_census) for m in CENSUS_METRICS}
        self.weeks_to_issue: list[list[float]] = [[] for _ in range(n_years)]
        self.wait_weeks: list[list[float]] = [[] for _ in range(n_years)]
        self.open_area = [0.0] * n_years
        self.log: list[tuple[int, str, float]] | None = [] if params.run.event_log else None

        a = params.assessment
        self.ep_team = Team(self.env, a.ep_fte, self.year_starts)
        pw = params.plan
        self.coordinators = Team(self.env, pw.coordinators * pw.caseload_limit, self.year_starts)

        # SEN support population by academic age (counts of children without a plan).
        self.sen_support = np.rint(np.array(params.demand.sen_support_by_age)).astype(np.int64)
        self.returned = np.zeros(N_AGES, dtype=np.int64)
        self.panel_queue: deque[Case] = deque()
        self.next_case_id = 0
        self.open_assessments = 0
        self.open_since: dict[int, float] = {}
        self.issue_decisions: list[tuple[float, int, Case]] = []
        self.exits_due: list[tuple[float, int, str]] = []
        self._review_credit = 0.0

        # Open plans: a struct of arrays grown as plans are issued.
        cap = 1024
        self.n_plans = 0
        self.active = np.zeros(cap, dtype=bool)
        self.age = np.zeros(cap, dtype=np.int64)
        self.group = np.zeros(cap, dtype=np.int64)
        self.need = np.zeros(cap, dtype=np.int64)
        self.next_review = np.full(cap, np.inf)
        self.waiting_for = np.full(cap, NOT_WAITING, dtype=np.int64)
        self.wait_since = np.zeros(cap)
        self.group_since = np.zeros(cap)  # when each plan entered its current setting
        self.occupancy = [0] * len(PLACEMENT_GROUPS)
        self.places = {
            SPECIAL: params.placement.special_state_places,
            RP: params.placement.rp_places,
        }
        self.waiting: dict[int, deque[int]] = {SPECIAL: deque(), RP: deque()}
        self.n_open = 0

        self._mix_lists = self._placement_mix().tolist()
        self._need_p = _normalise(params.demand.need_shares, NEEDS)
        self._need_cum = np.cumsum(self._need_p).tolist()
        d = params.demand
        week_share = WEEK / DAYS_PER_YEAR
        self._weekly_hazard = (
            np.array(d.request_hazard_by_age) * d.request_hazard_multiplier * week_share
        )
        self._weekly_direct = np.array(d.direct_requests_by_age) * week_share
        self._request_year_factor = [
            d.request_multiplier_by_year.get(str(params.run.start_year + y), 1.0)
            for y in range(params.run.years)
        ]
        self._weekly_identification = np.array(d.identification_by_age) * week_share
        self._weekly_exit = -math.expm1(-d.sen_support_exit_rate * week_share)
        self._leaving_cum = np.cumsum(
            _normalise(params.phase_transfer.leaving_reason_shares, LEAVING_REASONS)
        ).tolist()
        self._moves_in_cum = np.cumsum(_normalise_seq(params.exits.moves_in_band_shares))
        self._hazards = np.array([params.exits.hazard_by_band[r] for r in HAZARD_REASONS])
        self._hazard_total = self._hazards.sum(axis=0)  # by band
        self._hazard_total_list = self._hazard_total.tolist()
        self._hazard_cum = np.cumsum(self._hazards, axis=0).T.tolist()  # band -> cumulative

        # Levers: each with its start day and ramp-up in days.
        self.levers = LeverSchedule(params.levers, self.cal.day)
        self._teams_grow = (
            params.assessment.ep_fte_growth != 0 or params.plan.coordinator_growth != 0
        )
        self._lever_places = {SPECIAL: 0, RP: 0}

        # Money: plan-days by financial year (April-March) and setting, and staff FTE-days.
        self.ledger = Ledger(self.cal, self._staff_fte(0.0))

    # --- helpers -----------------------------------------------------------------------

    def _year(self, t: float) -> int:
        """Index of the calendar year of model day t (-1 before the start)."""
        return bisect.bisect_right(self.year_starts, t) - 1

    def _count(self, metric: str, t: float, n: float = 1.0) -> None:
        """Add n to a flow in the calendar year of day t (nothing outside the run)."""
        if self._cy_lo <= t < self._cy_hi:  # most counts fall in the year last counted
            self.flows[metric][self._cy] += n
            return
        y = bisect.bisect_right(self.year_starts, t) - 1
        if 0 <= y < self.n_years:
            self._cy, self._cy_lo, self._cy_hi = y, self.year_starts[y], self.year_starts[y + 1]
            self.flows[metric][y] += n

    def _weekly(self, name: str, week: int) -> np.random.Generator:
        """The generator for one stream in one week alone (see WeeklyStream)."""
        return self.weekly_streams[name].week(week)

    def _event(self, entity: int, event: str, t: float | None = None) -> None:
        if self.log is not None:
            self.log.append((entity, event, self.env.now if t is None else t))

    def _age_now(self, age_then: int, then: float) -> int:
        """Academic age now of a child who was `age_then` at day `then`."""
        passed = bisect.bisect_right(self.septembers, self.env.now) - bisect.bisect_right(
            self.septembers, then
        )
        return min(age_then + passed, N_AGES - 1)

    def _placement_mix(self) -> np.ndarray:
        """Shares of new placements by (phase, need, group), zero where a group does not
        exist in a phase."""
        pl = self.p.placement
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
        return np.cumsum(mix, axis=2)

    def _draw_group(self, age: int, need: int, u: float) -> int:
        """The setting drawn for a plan by its phase and need (placement mix)."""
        cum = self._mix_lists[AGE_TO_PHASE[age]][need]
        return min(bisect.bisect_right(cum, u), len(PLACEMENT_GROUPS) - 1)

    # --- levers and money ---------------------------------------------------------------

    def _staff_fte(self, t: float) -> dict[str, float]:
        """Staff in post at day t: the base teams plus assessment-capacity levers."""
        p = self.p
        years = t / DAYS_PER_YEAR
        fte = {
            "ep": p.assessment.ep_fte * (1.0 + p.assessment.ep_fte_growth) ** years,
            "ep_locum": 0.0,
            "coordinator": p.plan.coordinators * (1.0 + p.plan.coordinator_growth) ** years,
            "review_officer": p.review.officers,
        }
        self.levers.add_staff(t, fte)
        return fte

    def _accrue(self, group: int, a: float, b: float) -> None:
        """A plan's days in a setting, from a to b, into plan-days by financial year."""
        self.ledger.plan(group, a, b)

    def _apply_levers(self, t: float) -> None:
        """Weekly: staff in post (costed by the day) and places opened by levers."""
        fte = self._staff_fte(t)
        self.ledger.staff(t, fte)
        if not self.levers and not self._teams_grow:
            return
        self.ep_team.set_fte(fte["ep"] + fte["ep_locum"])
        self.coordinators.set_fte(fte["coordinator"] * self.p.plan.caseload_limit)
        for setting, n in self.levers.places_added(t).items():
            g = GROUP_INDEX[setting]
            if n != self._lever_places[g]:
                self.places[g] += n - self._lever_places[g]
                self._lever_places[g] = n
                self._offer_places(g)

    # --- the caseload ------------------------------------------------------------------

    def _new_plan(self, age: int, need: int, group: int, next_review: float) -> int:
        if self.n_plans == len(self.active):
            self._grow()
        i = self.n_plans
        self.n_plans += 1
        self.active[i] = True
        self.age[i] = age
        self.need[i] = need
        self.group[i] = group
        self.group_since[i] = self.env.now
        self.next_review[i] = next_review
        self.occupancy[group] += 1
        self.n_open += 1
        self._schedule_exit(i, self._next_sep)
        if self.log is not None:
            self._event(i, f"placement:{PLACEMENT_GROUPS[group]}")
        return i

    def _grow(self) -> None:
        n = len(self.active) * 2
        for name in (
            "active",
            "age",
            "group",
            "need",
            "next_review",
            "waiting_for",
            "wait_since",
            "group_since",
        ):
            old = getattr(self, name)
            fill = {"next_review": np.inf, "waiting_for": NOT_WAITING}.get(name, 0)
            new = np.full(n, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _next_september(self) -> float:
        i = bisect.bisect_right(self.septembers, self.env.now)
        return self.septembers[i] if i < len(self.septembers) else math.inf

    @property
    def _next_sep(self) -> float:
        """The next 1 September, cached until it passes."""
        if self.env.now >= self._next_sep_cache:
            self._next_sep_cache = self._next_september()
        return self._next_sep_cache

    def _move(self, i: int, new_group: int) -> None:
        """Change plan i's setting, freeing its place for the longest waiter."""
        old = int(self.group[i])
        if old == new_group:
            return
        now = self.env.now
        self._accrue(old, float(self.group_since[i]), now)
        self.group_since[i] = now
        self.occupancy[old] -= 1
        self.occupancy[new_group] += 1
        self.group[i] = new_group
        if self.log is not None:
            self._event(i, f"placement:{PLACEMENT_GROUPS[new_group]}")
        if old in self.waiting:
            self._offer_places(old)

    def _has_place(self, group: int) -> bool:
        return group not in self.places or self.occupancy[group] < self.places[group]

    def _place(self, i: int, target: int) -> None:
        """Put plan i in its target setting, or on the waiting list if the setting is full
        (placement.overflow decides between waiting and going independent)."""
        if self._has_place(target):
            self._move(i, target)
            return
        if self.p.placement.overflow == "independent":
            self._move(i, INDEPENDENT)
            self._count("placed_independent_overflow", self.env.now)
            return
        if self.waiting_for[i] == NOT_WAITING:
            self.waiting_for[i] = target
            self.wait_since[i] = self.env.now
            self.waiting[target].append(i)
            self._count("placement_waits_started", self.env.now)
            self._event(i, "placement_wait")

    def _offer_places(self, group: int) -> None:
        queue = self.waiting[group]
        while queue and self.occupancy[group] < self.places[group]:
            i = queue.popleft()
            if not self.active[i] or self.waiting_for[i] != group:
                continue
            self._end_wait(i)
            self._move(i, group)

    def _end_wait(self, i: int) -> None:
        y = self._year(self.env.now)
        if 0 <= y < self.p.run.years:
            self.wait_weeks[y].append((self.env.now - self.wait_since[i]) / WEEK)
        self.waiting_for[i] = NOT_WAITING

    def _cease(self, i: int, reason: str, day: float | None = None, offer: bool = True) -> None:
        """Plan i ceases on `day` (default now), freeing its place (offered to the longest
        waiter at once unless `offer` is false)."""
        if not self.active[i]:
            return
        day = self.env.now if day is None else day
        self.active[i] = False
        self.n_open -= 1
        g = int(self.group[i])
        since = float(self.group_since[i])
        self._accrue(g, since, max(day, since))
        self.occupancy[g] -= 1
        if self.waiting_for[i] != NOT_WAITING:
            self.waiting_for[i] = NOT_WAITING
        self._count("ceased_total", day)
        self._count(CEASED_METRIC[reason], day)
        if self.log is not None:
            self._event(i, CEASED_METRIC[reason], day)
        if offer and g in self.waiting:
            self._offer_places(g)

    def _schedule_exit(self, i: int, until: float) -> None:
        """As `_schedule_exits`, for one new plan."""
        band = AGE_TO_BAND[int(self.age[i])]
        total = self._hazard_total_list[band]
        if total <= 0:
            return
        rng = self.rng["exits"]
        wait = -math.log1p(-float(rng.random())) * DAYS_PER_YEAR / total
        if self.env.now + wait >= until:
            return
        self._schedule_cease(i, wait, band, float(rng.random()))

    def _schedule_cease(self, i: int, wait: float, band: int, u: float) -> None:
        cum = self._hazard_cum[band]
        k = min(bisect.bisect_right(cum, u * cum[-1]), len(HAZARD_REASONS) - 1)
        # Like decisions to issue, ceasings are taken in day order at the next calendar tick
        # (always before a census), each counted on its own day: they change no queue.
        heapq.heappush(self.exits_due, (self.env.now + wait, i, HAZARD_REASONS[k]))

    def _due_exits(self) -> None:
        """Cease the plans whose exit day has passed, in day order."""
        now = self.env.now
        ceased = False
        while self.exits_due and self.exits_due[0][0] < now:
            day, i, reason = heapq.heappop(self.exits_due)
            self._cease(i, reason, day, offer=False)
            ceased = True
        # Places freed are offered once every plan due to cease has ceased, so a place never
        # goes to a child whose own plan ended before the tick.
        if ceased:
            for g in self.waiting:
                self._offer_places(g)

    def _schedule_exits(self, plans: np.ndarray, until: float, rng: np.random.Generator) -> None:
        """Draw whether each plan ceases (moves away, leaves education...) before `until`,
        from competing hazards for its age band, and schedule those that do. Plans are
        drawn in the order they were made, so the start caseload (the same plans in every
        scenario) draws the same numbers in every scenario."""
        if len(plans) == 0:
            return
        bands = AGE_BAND_ARR[self.age[plans]]
        total = self._hazard_total[bands]
        with np.errstate(divide="ignore"):
            wait = rng.exponential(1.0, len(plans)) * DAYS_PER_YEAR / total
        u = rng.random(len(plans))
        now = self.env.now
        for j in np.flatnonzero(now + wait < until).tolist():
            self._schedule_cease(int(plans[j]), float(wait[j]), int(bands[j]), float(u[j]))

    # --- demand: SEN support and requests ---------------------------------------------

    def _requests_this_week(self, t: float) -> list[Case]:
        """Requests for an EHC needs assessment arriving in [t, t+7): from children on SEN
        support at a hazard by age (what early intervention acts on), and directly from
        early years, health and post-16 settings."""
        d = self.p.demand
        week = int(t // WEEK)
        trend = (1.0 + d.request_trend) ** (t / DAYS_PER_YEAR)
        factor = self._request_year_factor[min(max(self._year(t), 0), self.n_years - 1)]
        factor = self.levers.request_factor(t, factor)
        p_week = -np.expm1(-self._weekly_hazard * trend * factor)
        pool_rng = self._pool_rng
        from_pool = pool_rng.binomial(self.sen_support, p_week)
        self.sen_support -= from_pool
        direct_rng = self._weekly("requests_direct", week)
        direct = direct_rng.poisson(self._weekly_direct * trend)
        n_pool, n_direct = int(from_pool.sum()), int(direct.sum())
        ages = np.concatenate(
            [np.repeat(np.arange(N_AGES), from_pool), np.repeat(np.arange(N_AGES), direct)]
        )
        returned_rng = self._returned_rng
        repeat = returned_rng.binomial(self.returned, p_week)
        self.returned -= repeat
        n_repeat = int(repeat.sum())
        ages = np.concatenate([ages, np.repeat(np.arange(N_AGES), repeat)])
        position = np.arange(n_pool + n_direct + n_repeat)
        repeats = position >= n_pool + n_direct
        pooled = (position < n_pool) | repeats
        days = t + WEEK * np.concatenate(
            [pool_rng.random(n_pool), direct_rng.random(n_direct), returned_rng.random(n_repeat)]
        )
        return self._make_cases(ages, pooled, days, week, repeats)

    def _make_cases(
        self,
        ages: np.ndarray,
        pooled: np.ndarray,
        days: np.ndarray,
        week: int,
        repeats: np.ndarray | None = None,
    ) -> list[Case]:
        """Cases with every random fortune drawn now, stream by stream, from the week's
        blocks (first-time requests first, so they draw the same numbers in every
        scenario), then put in order of arrival."""
        n = len(ages)
        a, pw = self.p.assessment, self.p.plan
        r = {name: self._weekly(name, week) for name in CASE_STREAMS}
        u = r["uniforms"].random((n, CASE_UNIFORMS))  # one block, a fixed number a case
        need = np.searchsorted(np.cumsum(self._need_p), u[:, U.NEED], side="right")
        tribunal = gamma(r["tribunal"], self.p.panel.tribunal_days, 0.5, n)
        ep = gamma(r["ep_advice"], a.ep_days_per_advice, a.ep_work_cv, n)
        other = np.maximum(
            gamma(r["other_advice"], a.health_advice_days, a.advice_cv, n),
            gamma(r["other_advice"], a.social_care_advice_days, a.advice_cv, n),
        )
        draft = gamma(r["drafting"], pw.draft_days, pw.draft_cv, n)
        finalise = gamma(r["drafting"], pw.finalise_days, pw.draft_cv, n)
        order = np.argsort(days, kind="stable")
        u = u[order]
        first = self.next_case_id
        self.next_case_id += n
        rows = zip(
            ages[order].tolist(),
            np.minimum(need, len(NEEDS) - 1)[order].tolist(),
            pooled[order].tolist(),
            days[order].tolist(),
            u[:, U.REFUSE].tolist(),
            u[:, U.APPEAL].tolist(),
            u[:, U.UPHELD].tolist(),
            tribunal[order].tolist(),
            ep[order].tolist(),
            other[order].tolist(),
            u[:, U.NOT_ISSUE].tolist(),
            (u[:, U.EXCEPTION] < a.p_exception).tolist(),
            draft[order].tolist(),
            (pw.comment_days + finalise)[order].tolist(),
            u[:, U.PLACE].tolist(),
            (np.zeros(n, bool) if repeats is None else repeats)[order].tolist(),
            u[:, U.INCLUSION].tolist(),
            strict=True,
        )
        return [
            Case(
                id=first + k,
                age=age,
                need=need_k,
                from_sen_support=pooled_k,
                request_day=day,
                u_refuse=u_refuse,
                u_appeal=u_appeal,
                u_upheld=u_upheld,
                tribunal_days=tribunal_k,
                ep_work=ep_k,
                other_advice_days=other_k,
                u_not_issue=u_not_issue,
                exception=exception,
                draft_work=draft_k,
                comment_days=comment,
                u_place=u_place,
                repeat=repeat,
                u_inclusion=u_inclusion,
            )
            for k, (
                age,
                need_k,
                pooled_k,
                day,
                u_refuse,
                u_appeal,
                u_upheld,
                tribunal_k,
                ep_k,
                other_k,
                u_not_issue,
                exception,
                draft_k,
                comment,
                u_place,
                repeat,
                u_inclusion,
            ) in enumerate(rows)
        ]

    def _return_to_sen_support(self, case: Case) -> None:
        """A refused or not-issued request: the child stays on SEN support, counted apart
        from the rest so that their repeat requests leave first-time requests untouched."""
        if case.from_sen_support:
            self.returned[self._age_now(case.age, case.request_day)] += 1

    def _sen_support_week(self) -> None:
        """Identification onto SEN support and leaving it, over one week."""
        # One week-jumped generator serves everything whose draws depend on the pool's size.
        week = int(self.env.now // WEEK)
        rng = self._pool_rng = self._weekly("sen_support", week)
        new = rng.poisson(self._weekly_identification)
        left = rng.binomial(self.sen_support, self._weekly_exit)
        self.sen_support += new - left
        self._returned_rng = self._weekly("returned", week)
        self.returned -= self._returned_rng.binomial(self.returned, self._weekly_exit)
        self._count("sen_support_identified", self.env.now, float(new.sum()))

    # --- the statutory pathway --------------------------------------------------------

    def _receive_requests(self, cases: list[Case]) -> None:
        """This week's requests join the panel's queue, or with no panel
        (sitting_interval_days 0) are decided the day they arrive."""
        if cases and self._year(cases[0].request_day) == self._year(cases[-1].request_day):
            day = cases[0].request_day
            self._count("requests_received", day, len(cases))
            self._count(
                "requests_received_sen_support", day, sum(c.from_sen_support for c in cases)
            )
            self._count("requests_repeat", day, sum(c.repeat for c in cases))
        else:  # the week straddles New Year
            for case in cases:
                self._count("requests_received", case.request_day)
                self._count(
                    "requests_received_sen_support", case.request_day, case.from_sen_support
                )
                self._count("requests_repeat", case.request_day, case.repeat)
        if self.p.panel.sitting_interval_days > 0:
            self.panel_queue.extend(cases)
            return
        now = self.env.now
        while self.panel_queue:  # requests waiting at the start
            self._decide(self.panel_queue.popleft(), now)
        for case in cases:
            self._decide(case, case.request_day)

    def _panel(self) -> None:
        """Decision to assess (CoP 9.14): within 6 weeks of the request. The panel decides
        the oldest requests first, up to its slots; the rest wait for the next sitting."""
        now = self.env.now
        slots = self.p.panel.slots_per_sitting
        decided = within_6wks = agreed = 0
        while self.panel_queue and slots > 0 and self.panel_queue[0].request_day <= now:
            case = self.panel_queue.popleft()
            within_6wks += now - case.request_day <= SIX_WEEKS
            agreed += self._decide(case, now, counted=True)
            decided += 1
            slots -= 1
        # One sitting, one day: its decisions are counted together.
        self._count("requests_decided", now, decided)
        self._count("requests_decided_within_6wks", now, within_6wks)
        self._count("requests_agreed", now, agreed)
        self._count("requests_refused", now, decided - agreed)

    def _decide(self, case: Case, day: float, counted: bool = False) -> bool:
        """Agree to assess or refuse (True if agreed); `counted` when the caller counts."""
        pn = self.p.panel
        if not counted:
            self._count("requests_decided", day)
            if day - case.request_day <= SIX_WEEKS:
                self._count("requests_decided_within_6wks", day)
        if case.u_refuse < pn.p_refuse:
            if not counted:
                self._count("requests_refused", day)
            if self.log is not None:
                self._event(case.id, "refused")
            if case.u_appeal < self.levers.appeal_probability(day, pn.p_refusal_appealed):
                self._count("refusals_appealed", day)
                self.ledger.count("appeals", day)
                self._after(day - self.env.now + case.tribunal_days, partial(self._tribunal, case))
            else:
                self._return_to_sen_support(case)
            return False
        if not counted:
            self._count("requests_agreed", day)
        self._start_assessment(case, day)
        return True

    def _tribunal(self, case: Case, _ev: object = None) -> None:
        """First-tier Tribunal decides an appeal against a refusal to assess. An upheld
        appeal orders an assessment; its plan is counted as an exception to the 20 weeks."""
        p_upheld = self.levers.upheld_probability(self.env.now, self.p.panel.p_appeal_upheld)
        if case.u_upheld < p_upheld:
            self._count("appeals_upheld", self.env.now)
            case.exception = True
            self._start_assessment(case, self.env.now)
        else:
            self._return_to_sen_support(case)

    def _after(self, delay: float, action: Callable[[simpy.Event], None]) -> None:
        """Call `action(event)` after `delay` days: one SimPy event, no process. Actions
        are stage methods taking a trailing, ignored `_ev` argument."""
        self.env.timeout(max(delay, 0.0)).callbacks.append(action)

    def _start_assessment(self, case: Case, decision_day: float, _ev: object = None) -> None:
        """The LA has agreed to assess (or the tribunal has ordered it). Advice is asked for
        on the decision day (CoP 9.46-9.52): educational psychologist advice from the
        capacity-limited EP team, health and social care advice in parallel, each due
        within 6 weeks; the decision whether to issue follows the last advice."""
        now = self.env.now
        if decision_day > now:
            self._after(decision_day - now, partial(self._start_assessment, case, decision_day))
            return
        self._open(case, now)
        if self.log is not None:
            self._event(case.id, "assessment_started")
        ep_done = self.ep_team.assign(case.ep_work)
        if ep_done == math.inf:
            return  # no EP capacity: the assessment never completes
        if self.log is not None:
            self._event(case.id, "ep_advice", ep_done)
        all_in = max(ep_done, decision_day + case.other_advice_days)
        # The decision day is known now; decisions are taken in day order at the next
        # calendar tick (at most a week later) rather than each costing an event. Nothing
        # that follows can fall before that tick: the family has 15 days on the draft.
        heapq.heappush(
            self.issue_decisions, (all_in + self.p.assessment.issue_decision_days, case.id, case)
        )

    def _due_decisions(self) -> None:
        """Take the decisions to issue that have fallen due, in the order they fell due."""
        now = self.env.now
        while self.issue_decisions and self.issue_decisions[0][0] <= now:
            day, _, case = heapq.heappop(self.issue_decisions)
            self._decision_to_issue(case, day)

    def _decision_to_issue(self, case: Case, day: float) -> None:
        """Decision whether to issue a plan, due by week 16 (CoP 9.53); a decision not to
        issue leaves the child on SEN support."""
        self.ledger.count("assessments_completed", day)
        if case.u_not_issue < self.p.assessment.p_not_issue:
            self._close(case, day)
            self._count("assessments_not_issued", day)
            self._event(case.id, "not_issued", day)
            self._return_to_sen_support(case)
            return
        self._draft_plan(case, day)

    def _draft_plan(self, case: Case, day: float) -> None:
        """Draft plan by an EHC coordinator held to a caseload limit, then at least 15 days
        for the family to comment and name a school (CoP 9.77-9.79), and consultation with
        the school before the plan is finalised."""
        drafted = self.coordinators.assign(case.draft_work, arrival=day)
        if drafted == math.inf:
            return  # no coordinators: the draft is never written
        if self.log is not None:
            self._event(case.id, "draft_plan", drafted)
        self._after(drafted + case.comment_days - self.env.now, partial(self._final_plan, case))

    def _final_plan(self, case: Case, _ev: object = None) -> None:
        """Final plan, due within 20 weeks of the request (CoP 9.40), naming a placement."""
        now = self.env.now
        self._close(case, now)
        age = self._age_now(case.age, case.request_day)
        y = bisect.bisect_right(self.year_starts, now) - 1
        if 0 <= y < self.n_years:
            f = self.flows
            f["new_ehcps"][y] += 1
            f[NEWPLAN_METRIC[age]][y] += 1
            if not case.exception:
                f["plans_issued_excl_exceptions"][y] += 1
                if now - case.request_day <= TWENTY_WEEKS:
                    f["issued_within_20wks_excl_exceptions"][y] += 1
                self.weeks_to_issue[y].append((now - case.request_day) / WEEK)
        target = self._draw_group(age, case.need, case.u_place)
        if SPECIALIST[target] and self.levers.mainstream_instead(now, case.u_inclusion):
            target = HOLDING_GROUP[age]  # mainstream with support (college after 19)
        if self._has_place(target):
            i = self._new_plan(age, case.need, target, now + self._review_interval(age))
        else:
            i = self._new_plan(age, case.need, HOLDING_GROUP[age], now + self._review_interval(age))
            self._place(i, target)
        if self.log is not None:
            self._event(i, "plan_issued")

    def _open(self, case: Case, day: float) -> None:
        self.open_assessments += 1
        self.open_since[case.id] = day

    def _close(self, case: Case, day: float) -> None:
        """An assessment ends (plan or no plan): its open interval goes into the yearly
        areas of open assessments (for Little's law)."""
        self.open_assessments -= 1
        add_interval(self.open_area, self.year_starts, self.open_since.pop(case.id), day)

    # --- reviews, phase transfer, exits, moves in -------------------------------------

    def _review_interval(self, age: int) -> float:
        r = self.p.review
        return r.under5_interval_days if age < 5 else r.interval_days

    def _annual_reviews(self) -> None:
        """Annual reviews (CoP 9.166-9.185) by the review team, oldest due first, as many
        as the team can do this week; the rest become overdue."""
        r = self.p.review
        now = self.env.now
        n = self.n_plans
        due = np.flatnonzero(self.active[:n] & (self.next_review[:n] <= now))
        self._review_credit += r.officers * r.reviews_per_officer_per_week
        k = min(len(due), int(self._review_credit))
        # Unused review time is lost, not banked: at most one review's worth carries over.
        self._review_credit = min(self._review_credit - k, 1.0)
        if k == 0:
            return
        if k < len(due):
            # The k longest overdue, in due order (a partition, then a sort of only k).
            oldest = due[np.argpartition(self.next_review[due], k - 1)[:k]]
            due = oldest[np.argsort(self.next_review[oldest], kind="stable")]
        u = self.rng["reviews"].random((k, 2))
        current = np.where(self.waiting_for[due] >= 0, self.waiting_for[due], self.group[due])
        p_cease, p_step_down = self.levers.review_rates(now, r.p_cease, r.p_step_down)
        p_move = np.where(SPECIALIST[current], p_step_down, r.p_step_up)
        # 0 cease (needs met), 1 change placement, 2 amend, 3 maintain
        outcome = np.select(
            [
                u[:, 0] < p_cease,
                u[:, 0] < p_cease + p_move,
                u[:, 0] < p_cease + p_move + r.p_amend,
            ],
            [0, 1, 2],
            3,
        )
        counts = np.bincount(outcome, minlength=4)
        self._count("reviews_completed", now, k)
        for j, name in enumerate(
            (
                "ar_outcome_cease",
                "ar_outcome_change_placement",
                "ar_outcome_amend",
                "ar_outcome_maintain",
            )
        ):
            self._count(name, now, float(counts[j]))
        ages = self.age[due]
        self.next_review[due] = now + np.where(ages < 5, r.under5_interval_days, r.interval_days)
        for j in np.flatnonzero(outcome <= 1).tolist():
            i = int(due[j])
            if outcome[j] == 0:
                self._cease(i, "needs_met")
            else:
                self._replace(i, self._changed_setting(i, int(current[j]), u[j, 1]))

    def _changed_setting(self, i: int, current: int, u: float) -> int:
        """Where a review moves a child: up to a special school (state, or independent for
        a share of moves), or down from one to mainstream (college after 19)."""
        if not SPECIALIST[current]:
            return INDEPENDENT if u < self.p.review.step_up_independent_share else SPECIAL
        return HOLDING_GROUP[int(self.age[i])]

    def _replace(self, i: int, target: int) -> None:
        """Name a new setting for plan i (review or phase transfer), waiting in the holding
        setting for its age if the new one is full."""
        age = int(self.age[i])
        allowed = GROUPS_BY_PHASE[PHASE_NAMES[AGE_TO_PHASE[age]]]
        if self.waiting_for[i] != NOT_WAITING:
            if self.waiting_for[i] == target:
                if PLACEMENT_GROUPS[int(self.group[i])] not in allowed:
                    self._move(i, HOLDING_GROUP[age])
                return
            self._end_wait(i)
        if self.group[i] == target:
            return
        full = target in self.places and self.occupancy[target] >= self.places[target]
        if full and self.p.placement.overflow == "wait":
            self._move(i, HOLDING_GROUP[age])
        self._place(i, target)

    def _september(self) -> None:
        """New academic year: everyone ages a year; plans past the maximum age cease;
        children moving into a new phase (Reception, Year 7, post-16, post-19) have their
        plan amended to name the next setting; new places open; exits are drawn."""
        p = self.p
        for pool in (self.sen_support, self.returned):
            pool[1:] = pool[:-1].copy()
            pool[0] = 0
            # School SEN support ends with Year 11; requests for young people in post-16
            # education arrive as direct requests.
            pool[SCHOOL_LEAVING_AGE:] = 0
        for g, added in (
            (SPECIAL, p.placement.special_places_added_per_year),
            (RP, p.placement.rp_places_added_per_year),
        ):
            self.places[g] = max(0, self.places[g] + added)
        n = self.n_plans
        idx = np.flatnonzero(self.active[:n])
        self.age[idx] += 1
        for i in idx[self.age[idx] > p.exits.max_age].tolist():
            self.age[i] = p.exits.max_age
            self._cease(i, "max_age")
        movers = idx[np.isin(self.age[idx], list(PHASE_START_AGES)) & self.active[idx]]
        self._count("phase_transfers", self.env.now, len(movers))
        u = self.rng["phase_transfer"].random((len(movers), 3))
        pt = p.phase_transfer
        ages = self.age[movers]
        waiting = self.waiting_for[movers] >= 0
        current = np.where(waiting, self.waiting_for[movers], self.group[movers])
        extra_19 = self.levers.extra_cease_at_19(self.env.now)
        into_work = (
            (ages == 19) & (u[:, 0] >= pt.p_cease_at_19) & (u[:, 0] < pt.p_cease_at_19 + extra_19)
        )
        leaves = (
            ((ages == 16) & (u[:, 0] < pt.p_cease_at_16))
            | ((ages == 19) & (u[:, 0] < pt.p_cease_at_19))
            | into_work
        )
        p_keep = np.where(SPECIALIST[current], pt.p_keep_specialist, pt.p_keep_setting)
        keeps = ALLOWED_AT_AGE[ages, current] & (u[:, 1] < p_keep)
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
                    else self._leaving_reason(u[j, 2])
                )
                self._cease(i, reason)
                continue
            if keeps[j]:
                target = int(current[j])
            elif SPECIALIST[current[j]] and ALLOWED_AT_AGE[age, current[j]]:
                target = HOLDING_GROUP[age]  # the rare move out of special provision
            else:  # a fresh draw: u[j, 1] decided keeping, so it is not independent here
                target = self._draw_group(age, int(self.need[i]), u[j, 2])
            self._replace(i, target)
        for g in self.places:
            self._offer_places(g)
        self._schedule_exits(
            np.flatnonzero(self.active[: self.n_plans]),
            self._next_september(),
            self._weekly("exits_september", int(self.env.now // WEEK)),
        )

    def _leaving_reason(self, u: float) -> str:
        """Why a plan ceases at 19 (phase_transfer.leaving_reason_shares)."""
        k = bisect.bisect_right(self._leaving_cum, u)
        return LEAVING_REASONS[min(k, len(LEAVING_REASONS) - 1)]

    def _moves_in(self, t: float) -> None:
        """Plans transferred in from other LAs during [t, t+7), at their exact days."""
        ex = self.p.exits
        rng = self.rng["moves_in"]
        n = rng.poisson(ex.moves_in_per_year * WEEK / DAYS_PER_YEAR)
        if n == 0:
            return
        bands = np.searchsorted(self._moves_in_cum, rng.random(n), side="right").clip(0, 4)
        for b, day, u_age, u_need, u_place in zip(
            bands.tolist(),
            t + rng.random(n) * WEEK,
            rng.random(n),
            rng.random(n),
            rng.random(n),
            strict=True,
        ):
            lo, hi = AGE_BANDS[BAND_NAMES[b]]
            age = lo + int(u_age * (hi - lo + 1))
            need = min(bisect.bisect_right(self._need_cum, u_need), len(NEEDS) - 1)
            self._after(day - self.env.now, partial(self._move_in, age, need, u_place))

    def _move_in(self, age: int, need: int, u_place: float, _ev: object = None) -> None:
        now = self.env.now
        age = self._age_now(age, now)
        self._count("plans_transferred_in", now)
        target = self._draw_group(age, need, u_place)
        i = self._new_plan(age, need, HOLDING_GROUP[age], now + self._review_interval(age))
        self._place(i, target)
        self._event(i, "transferred_in")

    def _overdue_waits(self) -> None:
        """Children waiting longer than placement.max_wait_days go independent."""
        limit = self.p.placement.max_wait_days
        now = self.env.now
        for g, queue in self.waiting.items():
            while queue:
                i = queue[0]
                if not self.active[i] or self.waiting_for[i] != g:
                    queue.popleft()
                    continue
                if now - self.wait_since[i] < limit:
                    break
                queue.popleft()
                self._end_wait(i)
                self._move(i, INDEPENDENT)
                self._count("placed_independent_overflow", now)

    # --- start state, census, calendar -----------------------------------------------

    def _initial_state(self) -> None:
        """Start from the observed caseload (by placement and age band), with reviews spread
        over the year, requests waiting for panel and assessments already under way."""
        p = self.p
        rng = self.rng["initial"]
        need_p = _normalise(p.initial.need_shares, NEEDS)
        cells = [
            (GROUP_INDEX[g], b)
            for g, counts in p.initial.caseload.items()
            for b in range(len(counts))
        ]
        values = tuple(p.initial.caseload[PLACEMENT_GROUPS[g]][b] for g, b in cells)
        for (gi, b), n in zip(cells, _round_preserving_total(values), strict=True):
            lo, hi = AGE_BANDS[BAND_NAMES[b]]
            w = np.array(p.initial.age_weights[lo : hi + 1])
            w = w / w.sum() if w.sum() > 0 else np.full(hi - lo + 1, 1 / (hi - lo + 1))
            ages = lo + np.searchsorted(np.cumsum(w), rng.random(n), side="right").clip(0, hi - lo)
            needs = np.searchsorted(np.cumsum(need_p), rng.random(n), side="right")
            for age, need in zip(ages.tolist(), needs.tolist(), strict=True):
                interval = self._review_interval(age)
                self._new_plan(age, min(need, len(NEEDS) - 1), gi, float(rng.random() * interval))
        k = p.initial.requests_awaiting_decision
        if k:
            ages = self._request_ages(rng, k)
            days = -rng.random(k) * max(p.panel.sitting_interval_days, WEEK)
            self.panel_queue.extend(
                self._make_cases(ages, np.zeros(k, bool), days, INITIAL_WEEKS[0])
            )
        k = p.initial.assessments_in_progress
        if k:
            ages = self._request_ages(rng, k)
            elapsed = rng.random(k) * TWENTY_WEEKS
            for case, e in zip(
                self._make_cases(ages, np.zeros(k, bool), -elapsed, INITIAL_WEEKS[1]),
                np.sort(elapsed)[::-1],
                strict=True,
            ):
                if e < TWENTY_WEEKS / 2:  # still waiting for advice
                    self._start_assessment(case, 0.0)
                else:
                    self._open(case, 0.0)
                    self._draft_plan(case, 0.0)

    def _request_ages(self, rng: np.random.Generator, k: int) -> np.ndarray:
        d = self.p.demand
        w = np.array(d.request_hazard_by_age) * self.sen_support + np.array(
            d.direct_requests_by_age
        )
        if w.sum() <= 0:
            w = np.ones(N_AGES)
        return np.searchsorted(np.cumsum(w / w.sum()), rng.random(k), side="right").clip(
            0, N_AGES - 1
        )

    def _take_census(self, k: int) -> None:
        """The January census: stock of plans by placement, age band and need."""
        n = self.n_plans
        act = self.active[:n]
        c = self.census
        c["ehcp_total_jan"][k] = self.n_open
        groups = np.bincount(self.group[:n][act], minlength=len(PLACEMENT_GROUPS))
        for g, name in enumerate(PLACEMENT_GROUPS):
            c[f"caseload_{name}"][k] = groups[g]
        # SEN2's caseload_mainstream includes resourced provision and SEN units.
        c["caseload_mainstream"][k] += groups[RP]
        bands = np.bincount(AGE_BAND_ARR[self.age[:n][act]], minlength=len(BAND_NAMES))
        for b, name in enumerate(BAND_NAMES):
            c[f"caseload_age_{name}"][k] = bands[b]
        needs = np.bincount(self.need[:n][act], minlength=len(NEEDS))
        for j, name in enumerate(NEEDS):
            c[f"caseload_need_{name}"][k] = needs[j]
        c["sen_support_total"][k] = self.sen_support.sum() + self.returned.sum()
        c["requests_awaiting_decision"][k] = len(self.panel_queue)
        c["open_assessments"][k] = self.open_assessments
        overdue = act & (self.next_review[:n] < self.env.now - self.p.review.overdue_after_days)
        c["reviews_overdue"][k] = overdue.sum()
        c["placement_waiting"][k] = (act & (self.waiting_for[:n] != NOT_WAITING)).sum()
        c["special_state_places"][k] = self.places[SPECIAL]
        c["rp_places"][k] = self.places[RP]

    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        """The LA's calendar: the January census, September, and each week's requests,
        panel, reviews and moves in. Weekly work runs at midday so it never coincides with
        the midnight census."""
        env = self.env
        horizon = self.cal.horizon
        ticks: list[tuple[float, int, str]] = []
        for k, y in enumerate(self.cal.census_years):
            ticks.append((self.cal.january(y), 0, f"census:{k}"))
        for s in self.septembers:
            if s < horizon:
                ticks.append((s, 1, "september"))
        t = 0.5
        while t < horizon:
            ticks.append((t, 2, "week"))
            t += WEEK
        interval = self.p.panel.sitting_interval_days
        if interval > 0:  # panel sittings, from the first midday, after that week's intake
            k = 0
            while 0.5 + k * interval < horizon:
                ticks.append((0.5 + k * interval, 3, "panel"))
                k += 1
        ticks.sort()
        for when, _, what in ticks:
            if when > env.now:
                yield env.timeout(when - env.now)
            self._due_decisions()
            self._due_exits()
            if what.startswith("census:"):
                self._take_census(int(what.split(":")[1]))
            elif what == "september":
                self._september()
            elif what == "panel":
                self._panel()
            else:
                self._week(when)

    def _week(self, t: float) -> None:
        self._apply_levers(t)
        self._sen_support_week()
        self._receive_requests(self._requests_this_week(t))
        self._annual_reviews()
        self._moves_in(t)
        self._overdue_waits()

    def run(self) -> Results:
        self._initial_state()
        self.env.process(self._calendar())
        self.env.run(until=self.cal.horizon + 1e-6)
        return self._results()

    def _finance(self) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
        """Money by financial year (simulation/money.py), once the days of the plans still
        open and of the staff in post are in."""
        horizon = self.cal.horizon
        open_plans = np.flatnonzero(self.active[: self.n_plans])
        self.ledger.open_plans(self.group_since[open_plans], self.group[open_plans], horizon)
        self.ledger.staff(horizon, self._staff_fte(horizon))
        levers = [(lever, start) for lever, start, _ in self.levers.timed]
        return finance(self.ledger, levers, horizon, self.p.costs, self.p.funding)

    def _results(self) -> Results:
        for since in self.open_since.values():  # still open at the end
            add_interval(self.open_area, self.year_starts, since, self.cal.horizon)
        financial_years, finance = self._finance()
        f: dict[str, np.ndarray] = {m: np.array(v) for m, v in self.flows.items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            f["pct_within_20wks_excl_exceptions"] = (
                100 * f["issued_within_20wks_excl_exceptions"] / f["plans_issued_excl_exceptions"]
            )
            f["pct_requests_decided_within_6wks"] = (
                100 * f["requests_decided_within_6wks"] / f["requests_decided"]
            )
        f["weeks_to_issue_mean"] = np.array(
            [np.mean(w) if w else np.nan for w in self.weeks_to_issue]
        )
        f["weeks_to_issue_p90"] = np.array(
            [np.percentile(w, 90) if w else np.nan for w in self.weeks_to_issue]
        )
        f["placement_wait_weeks_mean"] = np.array(
            [np.mean(w) if w else np.nan for w in self.wait_weeks]
        )
        f["ep_utilisation"] = self.ep_team.utilisation()
        f["ep_queue_mean"] = self.ep_team.mean_queue()
        f["ep_wait_weeks_mean"] = self.ep_team.mean_wait_weeks()
        f["coordinator_utilisation"] = self.coordinators.utilisation()
        f["coordinator_queue_mean"] = self.coordinators.mean_queue()
        f["coordinator_wait_weeks_mean"] = self.coordinators.mean_wait_weeks()
        f["open_assessments_mean"] = np.array(self.open_area) / np.diff(self.year_starts)
        assert set(f) == set(COUNT_FLOWS) | set(DERIVED_FLOWS)
        return Results(
            census_years=tuple(self.cal.census_years),
            flow_years=tuple(self.cal.flow_years),
            census={m: v.copy() for m, v in self.census.items()},
            flows=f,
            financial_years=financial_years,
            finance=finance,
            events=next(self.env._eid),  # SimPy's event counter: events scheduled
            event_log=self.log or [],
        )


def _normalise(shares: dict[str, float], keys: tuple[str, ...]) -> np.ndarray:
    v = np.array([shares.get(k, 0.0) for k in keys], dtype=float)
    return v / v.sum() if v.sum() > 0 else np.full(len(keys), 1.0 / len(keys))


def _normalise_seq(values: tuple[float, ...]) -> np.ndarray:
    v = np.array(values, dtype=float)
    return v / v.sum() if v.sum() > 0 else np.full(len(v), 1.0 / len(v))


def _round_preserving_total(values: tuple[float, ...]) -> list[int]:
    """Whole numbers summing to the rounded total (largest remainder)."""
    v = np.array(values, dtype=float)
    floors = np.floor(v).astype(int)
    short = round(v.sum()) - int(floors.sum())
    if short > 0:
        floors[np.argsort(-(v - floors), kind="stable")[:short]] += 1
    return [int(x) for x in floors]


def run_replication(params: Parameters, seed: int | np.random.SeedSequence) -> Results:
    """One replication of the local SEND system: pure, no I/O, same inputs -> same output."""
    return SendSystem(params, seed).run()
