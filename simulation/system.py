"""The local SEND system for one replication: its state, its calendar, the run and results.

`SendSystem` holds the state every stage works on (the SimPy environment, random streams,
teams, the SEN support pool, the panel's queue, the caseload, places and waiting lists,
levers, the money ledger, counters). The stages of the statutory pathway are plain
functions in `simulation/pathway/`, in the order a child meets them; the system's calendar
calls them: each week's requests, panel, reviews and moves in, each September, each
January census. Children's journeys are chained by one SimPy timeout per stage
(`SendSystem.after`), not a process per child (see docs/architecture.md).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Generator
from enum import IntEnum
from typing import Any

import numpy as np
import simpy

from .calendar import WEEK, Calendar, add_interval
from .caseload import NOT_WAITING, Caseload
from .levers import LeverSchedule
from .money import Ledger, finance
from .parameters import Parameters
from .pathway import ceasing, decision, issue, moves, placement, requests, review, september
from .pathway.ceasing import AGE_BAND_ARR, Hazards
from .pathway.placement import RP, SPECIAL, placement_mix
from .pathway.requests import Case, Demand
from .pathway.start import initial_state
from .randomness import streams, weekly_streams
from .results import CENSUS_METRICS, COUNT_FLOWS, DERIVED_FLOWS, Results
from .shares import normalise_seq
from .teams import Responses, make_team, respond, staff_in_post
from .vocabulary import BAND_NAMES, GROUP_INDEX, N_AGES, NEEDS, PLACEMENT_GROUPS


class Tick(IntEnum):
    """What the LA's calendar does at a tick; ticks at the same instant go in this order."""

    CENSUS = 0  # 00:00 on 1 January: the stock of plans
    SEPTEMBER = 1  # 00:00 on 1 September: the new academic year
    WEEK = 2  # midday each week: levers, SEN support, requests, reviews, moves in, waits
    PANEL = 3  # midday on sitting days, after that week's requests


class SendSystem:
    """The whole-system model for one replication."""

    def __init__(self, params: Parameters, seed: int | np.random.SeedSequence):
        self.params = params
        self.cal = Calendar(params.run.start_year, params.run.years)
        self.env = simpy.Environment()
        self.rng = streams(seed)
        self.weekly_streams = weekly_streams(seed)
        self.pool_rng = self.weekly("sen_support", 0)
        self.returned_rng = self.weekly("returned", 0)
        self.year_starts = self.cal.year_starts()
        self.septembers = [self.cal.september(y) for y in self.cal.census_years]
        self.n_years = params.run.years
        self._next_sep_cache = -math.inf
        self._init_records()
        self.next_id = 0  # entity ids of the event log
        self.log: list[tuple[int, str, float]] | None = [] if params.run.event_log else None

        # Rates and tables the stages read, from the parameters.
        self.demand = Demand.of(params)
        self.hazards = Hazards.of(params)
        self.mix = placement_mix(params)
        self.need_cum = np.cumsum(self.demand.need_shares).tolist()
        self.moves_in_cum = np.cumsum(normalise_seq(params.exits.moves_in_band_shares))

        # The pathway's state, stage by stage.
        a, pw = params.assessment, params.plan
        share = params.capacity.priority_share  # a lane for the simplest cases
        self.ep_team = make_team(
            self.env, a.ep_fte, self.year_starts, share, a.ep_days_per_advice, a.ep_work_cv
        )
        self.coordinators = make_team(
            self.env,
            pw.coordinators * pw.caseload_limit,
            self.year_starts,
            share,
            pw.draft_days,
            pw.draft_cv,
        )
        # SEN support population by academic age (counts of children without a plan), and
        # the children back on it after a refusal or no plan, counted apart.
        self.sen_support = np.rint(np.array(params.demand.sen_support_by_age)).astype(np.int64)
        self.returned = np.zeros(N_AGES, dtype=np.int64)
        self.panel_queue: deque[Case] = deque()
        self.panel_late: deque[Case] = deque()  # decided after 6 weeks (decision.py)
        self.open_assessments = 0
        self.open_since: dict[int, float] = {}
        self.issue_decisions: list[tuple[float, int, Case]] = []  # a heap by day
        self.exits_due: list[tuple[float, int, str]] = []  # a heap by day
        self.review_credit = 0.0

        # Plans, the places they take and the waiting lists for full settings.
        self.caseload = Caseload()
        self.occupancy = [0] * len(PLACEMENT_GROUPS)
        self.places = {
            SPECIAL: params.placement.special_state_places,
            RP: params.placement.rp_places,
        }
        self.waiting: dict[int, deque[int]] = {SPECIAL: deque(), RP: deque()}

        # Levers, and the money: plan-days by setting and staff FTE-days by financial year.
        self.levers = LeverSchedule(params.levers, self.cal.day)
        self._teams_grow = a.ep_fte_growth != 0 or pw.coordinator_growth != 0
        self.responses = Responses(params)  # the teams following their workload
        self.panel_credit = 0.0  # fractional panel slots carried to the next sitting
        self._lever_places = {SPECIAL: 0, RP: 0}
        self.ledger = Ledger(self.cal, staff_in_post(params, self.levers, 0.0))

    def _init_records(self) -> None:
        """Flows by calendar year, census stocks by January, and the per-year samples."""
        n_years = self.n_years
        self._cy, self._cy_lo, self._cy_hi = 0, self.year_starts[0], self.year_starts[1]
        self.flows: dict[str, list[float]] = {m: [0.0] * n_years for m in COUNT_FLOWS}
        self.census = {m: np.zeros(n_years + 1) for m in CENSUS_METRICS}
        self.weeks_to_issue: list[list[float]] = [[] for _ in range(n_years)]
        self.wait_weeks: list[list[float]] = [[] for _ in range(n_years)]
        self.open_area = [0.0] * n_years

    # --- what every stage uses -----------------------------------------------------------

    def year(self, t: float) -> int:
        """Index of the calendar year of model day t (-1 before the start)."""
        return bisect.bisect_right(self.year_starts, t) - 1

    def count(self, metric: str, t: float, n: float = 1.0) -> None:
        """Add n to a flow in the calendar year of day t (nothing outside the run)."""
        if self._cy_lo <= t < self._cy_hi:  # most counts fall in the year last counted
            self.flows[metric][self._cy] += n
            return
        y = bisect.bisect_right(self.year_starts, t) - 1
        if 0 <= y < self.n_years:
            self._cy, self._cy_lo, self._cy_hi = y, self.year_starts[y], self.year_starts[y + 1]
            self.flows[metric][y] += n

    def weekly(self, name: str, week: int) -> np.random.Generator:
        """The generator for one stream in one week alone (see randomness.WeeklyStream)."""
        return self.weekly_streams[name].week(week)

    def new_ids(self, n: int) -> int:
        """The first of n new entity ids."""
        first = self.next_id
        self.next_id += n
        return first

    def event(self, entity: int, event: str, t: float | None = None) -> None:
        """One row of the event log (kept only with run.event_log)."""
        if self.log is not None:
            self.log.append((entity, event, self.env.now if t is None else t))

    def after(self, delay: float, action: Callable[[simpy.Event], None]) -> None:
        """Call `action(event)` after `delay` days: one SimPy event, no process. Actions
        are stage functions taking a trailing, ignored `_ev` argument."""
        self.env.timeout(max(delay, 0.0)).callbacks.append(action)

    def age_now(self, age_then: int, then: float) -> int:
        """Academic age now of a child who was `age_then` at day `then`."""
        passed = bisect.bisect_right(self.septembers, self.env.now) - bisect.bisect_right(
            self.septembers, then
        )
        return min(age_then + passed, N_AGES - 1)

    def next_september(self) -> float:
        i = bisect.bisect_right(self.septembers, self.env.now)
        return self.septembers[i] if i < len(self.septembers) else math.inf

    @property
    def next_sep(self) -> float:
        """The next 1 September, cached until it passes."""
        if self.env.now >= self._next_sep_cache:
            self._next_sep_cache = self.next_september()
        return self._next_sep_cache

    # --- the calendar ------------------------------------------------------------------

    def schedule(self) -> list[tuple[float, Tick, int]]:
        """The LA's calendar as (day, what, census number), in time order: the January
        censuses, each September, each week at midday and the panel's sittings."""
        horizon = self.cal.horizon
        ticks = [(self.cal.january(y), Tick.CENSUS, k) for k, y in enumerate(self.cal.census_years)]
        ticks += [(s, Tick.SEPTEMBER, 0) for s in self.septembers if s < horizon]
        t = 0.5
        while t < horizon:
            ticks.append((t, Tick.WEEK, 0))
            t += WEEK
        interval = self.params.panel.sitting_interval_days
        if interval > 0:  # panel sittings, from the first midday, after that week's intake
            k = 0
            while 0.5 + k * interval < horizon:
                ticks.append((0.5 + k * interval, Tick.PANEL, 0))
                k += 1
        ticks.sort()
        return ticks

    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        """Run the LA's calendar. Decisions to issue and ceasings that have fallen due are
        taken first at every tick, in day order. Weekly work runs at midday so it never
        coincides with the midnight census."""
        env = self.env
        for when, what, k in self.schedule():
            if when > env.now:
                yield env.timeout(when - env.now)
            issue.due_decisions(self)
            ceasing.due_exits(self)
            if what is Tick.WEEK:
                self._week(when)
            elif what is Tick.PANEL:
                decision.panel(self)
            elif what is Tick.CENSUS:
                self._take_census(k)
            else:
                september.september(self)

    def _week(self, t: float) -> None:
        """A week's work, in order."""
        self._staff_and_places(t)
        requests.sen_support_week(self)
        decision.receive_requests(self, requests.requests_this_week(self, t))
        review.annual_reviews(self)
        moves.moves_in(self, t)
        placement.overdue_waits(self)

    def _staff_and_places(self, t: float) -> None:
        """Weekly: staff in post (costed by the day; teams grow and levers add staff) and
        places opened by levers."""
        if self.responses.on:
            respond(self)
        fte = staff_in_post(self.params, self.levers, t, self.responses)
        self.ledger.staff(t, fte)
        if not self.levers and not self._teams_grow and not self.responses.on:
            return
        self.ep_team.set_fte(fte["ep"] + fte["ep_locum"])
        self.coordinators.set_fte(fte["coordinator"] * self.params.plan.caseload_limit)
        for setting, n in self.levers.places_added(t).items():
            g = GROUP_INDEX[setting]
            if n != self._lever_places[g]:
                self.places[g] += n - self._lever_places[g]
                self._lever_places[g] = n
                placement.offer_places(self, g)

    def _take_census(self, k: int) -> None:
        """The January census: stock of plans by placement, age band and need."""
        cl = self.caseload
        n = cl.n
        act = cl.active[:n]
        c = self.census
        c["ehcp_total_jan"][k] = cl.n_open
        groups = np.bincount(cl.group[:n][act], minlength=len(PLACEMENT_GROUPS))
        for g, name in enumerate(PLACEMENT_GROUPS):
            c[f"caseload_{name}"][k] = groups[g]
        # SEN2's caseload_mainstream includes resourced provision and SEN units.
        c["caseload_mainstream"][k] += groups[RP]
        bands = np.bincount(AGE_BAND_ARR[cl.age[:n][act]], minlength=len(BAND_NAMES))
        for b, name in enumerate(BAND_NAMES):
            c[f"caseload_age_{name}"][k] = bands[b]
        needs = np.bincount(cl.need[:n][act], minlength=len(NEEDS))
        for j, name in enumerate(NEEDS):
            c[f"caseload_need_{name}"][k] = needs[j]
        c["sen_support_total"][k] = self.sen_support.sum() + self.returned.sum()
        c["requests_awaiting_decision"][k] = len(self.panel_queue) + len(self.panel_late)
        c["open_assessments"][k] = self.open_assessments
        overdue_before = self.env.now - self.params.review.overdue_after_days
        c["reviews_overdue"][k] = (act & (cl.next_review[:n] < overdue_before)).sum()
        c["placement_waiting"][k] = (act & (cl.waiting_for[:n] != NOT_WAITING)).sum()
        c["special_state_places"][k] = self.places[SPECIAL]
        c["rp_places"][k] = self.places[RP]

    # --- the run and its results -------------------------------------------------------

    def run(self) -> Results:
        initial_state(self)
        self.env.process(self._calendar())
        self.env.run(until=self.cal.horizon + 1e-6)
        return self._results()

    def _finance(self) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
        """Money by financial year (simulation/money.py), once the days of the plans still
        open and of the staff in post are in."""
        horizon = self.cal.horizon
        cl = self.caseload
        open_plans = cl.open_plans()
        self.ledger.open_plans(cl.group_since[open_plans], cl.group[open_plans], horizon)
        self.ledger.staff(horizon, staff_in_post(self.params, self.levers, horizon, self.responses))
        levers = [(lever, start) for lever, start, _ in self.levers.timed]
        return finance(self.ledger, levers, horizon, self.params.costs, self.params.funding)

    def _results(self) -> Results:
        for since in self.open_since.values():  # still open at the end
            add_interval(self.open_area, self.year_starts, since, self.cal.horizon)
        financial_years, finance_by_year = self._finance()
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
        for name, team in (("ep", self.ep_team), ("coordinator", self.coordinators)):
            f[f"{name}_utilisation"] = team.utilisation()
            f[f"{name}_queue_mean"] = team.mean_queue()
            f[f"{name}_wait_weeks_mean"] = team.mean_wait_weeks()
        f["open_assessments_mean"] = np.array(self.open_area) / np.diff(self.year_starts)
        assert set(f) == set(COUNT_FLOWS) | set(DERIVED_FLOWS)
        return Results(
            census_years=tuple(self.cal.census_years),
            flow_years=tuple(self.cal.flow_years),
            census={m: v.copy() for m, v in self.census.items()},
            flows=f,
            financial_years=financial_years,
            finance=finance_by_year,
            events=next(self.env._eid),  # SimPy's event counter: events scheduled
            event_log=self.log or [],
        )


def run_replication(params: Parameters, seed: int | np.random.SeedSequence) -> Results:
    """One replication of the local SEND system: pure, no I/O, same inputs -> same output."""
    return SendSystem(params, seed).run()
