"""Identification and requests (SEND Code of Practice 2015, chapter 6 and 9.14-9.16).

Children come onto SEN support as settings identify a need, and leave it. Those on SEN
support ask for an EHC needs assessment at a hazard by academic age (what early
intervention acts on); early years, health and post-16 requests arrive directly. Each
request is a `Case` with every random fortune drawn on arrival, from the week's own block of
numbers, so that every scenario sees the same children (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..calendar import DAYS_PER_YEAR, WEEK
from ..parameters import Parameters
from ..randomness import CASE_STREAMS, CASE_UNIFORMS, U, gamma
from ..shares import normalise
from ..vocabulary import N_AGES, NEEDS

if TYPE_CHECKING:
    from ..system import SendSystem


@dataclass(slots=True)
class Case:
    """A child's request for an EHC needs assessment, and its random fortunes drawn on
    arrival so that every scenario sees the same child (common random numbers). `id` is
    the child's entity id in the event log, kept by the plan it leads to."""

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


@dataclass(frozen=True, slots=True)
class Demand:
    """Weekly rates of identification and requests, from the parameters."""

    need_shares: np.ndarray  # primary need of a request
    weekly_hazard: np.ndarray  # of a request from SEN support, by academic age
    weekly_direct: np.ndarray  # direct requests a week, by academic age
    year_factor: list[float]  # demand.request_multiplier_by_year, by year of the run
    weekly_identification: np.ndarray  # children identified a week, by academic age
    weekly_exit: float  # chance a week of leaving SEN support

    @classmethod
    def of(cls, params: Parameters) -> Demand:
        d = params.demand
        week_share = WEEK / DAYS_PER_YEAR
        return cls(
            need_shares=normalise(d.need_shares, NEEDS),
            weekly_hazard=(np.array(d.request_hazard_by_age) * week_share),
            weekly_direct=np.array(d.direct_requests_by_age) * week_share,
            year_factor=[
                d.request_multiplier_by_year.get(str(params.run.start_year + y), 1.0)
                for y in range(params.run.years)
            ],
            weekly_identification=np.array(d.identification_by_age) * week_share,
            weekly_exit=-math.expm1(-d.sen_support_exit_rate * week_share),
        )


def damped_log_multiplier(log_growth: float, damping: float, years: float) -> float:
    """The log of the requests' multiplier ``years`` into the run under a damped trend
    (Gardner and McKenzie): the log growth ``log_growth`` applies in the k-th year as
    ``damping^k`` of itself, so the multiplier is ``exp(b phi (1 - phi^t) / (1 - phi))``,
    continuous in ``t`` and bounded by ``exp(b phi / (1 - phi))``; undamped (``phi = 1``)
    it is ``exp(b t)``, and ``phi = 0`` holds requests flat."""
    if damping >= 1.0:
        return log_growth * years
    if damping <= 0.0:
        return 0.0
    return float(log_growth * damping * (1.0 - damping**years) / (1.0 - damping))


def sen_support_week(system: SendSystem) -> None:
    """Identification onto SEN support and leaving it, over one week."""
    # One week-jumped generator serves everything whose draws depend on the pool's size.
    week = int(system.env.now // WEEK)
    rng = system.pool_rng = system.weekly("sen_support", week)
    demand = system.demand
    new = rng.poisson(demand.weekly_identification)
    left = rng.binomial(system.sen_support, demand.weekly_exit)
    system.sen_support += new - left
    system.returned_rng = system.weekly("returned", week)
    system.returned -= system.returned_rng.binomial(system.returned, demand.weekly_exit)
    system.count("sen_support_identified", system.env.now, float(new.sum()))


def requests_this_week(system: SendSystem, t: float) -> list[Case]:
    """Requests for an EHC needs assessment arriving in [t, t+7): from children on SEN
    support at a hazard by age (what early intervention acts on), and directly from
    early years, health and post-16 settings; then repeat requests from children refused
    or not issued a plan before."""
    d, demand = system.params.demand, system.demand
    week = int(t // WEEK)
    trend = math.exp(
        damped_log_multiplier(
            math.log1p(d.request_trend), d.request_trend_damping, t / DAYS_PER_YEAR
        )
    )
    year_factor = demand.year_factor[min(max(system.year(t), 0), system.n_years - 1)]
    factor = system.levers.request_factor(t, year_factor)
    p_week = -np.expm1(-demand.weekly_hazard * trend * factor)
    pool_rng = system.pool_rng
    from_pool = pool_rng.binomial(system.sen_support, p_week)
    system.sen_support -= from_pool
    direct_rng = system.weekly("requests_direct", week)
    # The year's multiplier moves direct requests too (as its documentation says); the
    # levers act on SEN support's hazard only.
    direct = direct_rng.poisson(demand.weekly_direct * trend * year_factor)
    n_pool, n_direct = int(from_pool.sum()), int(direct.sum())
    ages = np.concatenate(
        [np.repeat(np.arange(N_AGES), from_pool), np.repeat(np.arange(N_AGES), direct)]
    )
    returned_rng = system.returned_rng
    repeat = returned_rng.binomial(system.returned, p_week)
    system.returned -= repeat
    n_repeat = int(repeat.sum())
    ages = np.concatenate([ages, np.repeat(np.arange(N_AGES), repeat)])
    position = np.arange(n_pool + n_direct + n_repeat)
    repeats = position >= n_pool + n_direct
    pooled = (position < n_pool) | repeats
    days = t + WEEK * np.concatenate(
        [pool_rng.random(n_pool), direct_rng.random(n_direct), returned_rng.random(n_repeat)]
    )
    return make_cases(system, ages, pooled, days, week, repeats)


def make_cases(
    system: SendSystem,
    ages: np.ndarray,
    pooled: np.ndarray,
    days: np.ndarray,
    week: int,
    repeats: np.ndarray | None = None,
) -> list[Case]:
    """Cases with every random fortune drawn now, stream by stream, from the week's
    blocks (first-time requests first, so they draw the same numbers in every
    scenario), then put in order of arrival. Long because each Case is built field by
    field, by name."""
    n = len(ages)
    p = system.params
    a, pw = p.assessment, p.plan
    r = {name: system.weekly(name, week) for name in CASE_STREAMS}
    u = r["uniforms"].random((n, CASE_UNIFORMS))  # one block, a fixed number a case
    need = np.searchsorted(np.cumsum(system.demand.need_shares), u[:, U.NEED], side="right")
    tribunal = gamma(r["tribunal"], p.panel.tribunal_days, 0.5, n)
    ep = gamma(r["ep_advice"], a.ep_days_per_advice, a.ep_work_cv, n)
    other = np.maximum(
        gamma(r["other_advice"], a.health_advice_days, a.advice_cv, n),
        gamma(r["other_advice"], a.social_care_advice_days, a.advice_cv, n),
    )
    draft = gamma(r["drafting"], pw.draft_days, pw.draft_cv, n)
    finalise = gamma(r["drafting"], pw.finalise_days, pw.draft_cv, n)
    order = np.argsort(days, kind="stable")
    u = u[order]
    first = system.new_ids(n)
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


def request_ages(system: SendSystem, rng: np.random.Generator, k: int) -> np.ndarray:
    """Ages of `k` requests in proportion to this week's expected requests by age."""
    d = system.params.demand
    w = np.array(d.request_hazard_by_age) * system.sen_support + np.array(d.direct_requests_by_age)
    if w.sum() <= 0:
        w = np.ones(N_AGES)
    return np.searchsorted(np.cumsum(w / w.sum()), rng.random(k), side="right").clip(0, N_AGES - 1)


def return_to_sen_support(system: SendSystem, case: Case) -> None:
    """A refused or not-issued request: the child stays on SEN support, counted apart
    from the rest so that their repeat requests leave first-time requests untouched."""
    if case.from_sen_support:
        system.returned[system.age_now(case.age, case.request_day)] += 1
