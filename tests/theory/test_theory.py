"""Theory tests: the Team as an M/M/c queue (Erlang C), the EP stage of the model as
M/M/c, and Little's law for open assessments. Tolerances come from the spread of
independent replications (t intervals, see helpers.assert_mean_matches)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import simpy
from helpers import assert_mean_matches, by_age, flow, replicate, small_la, t_halfwidth

from simulation.calendar import DAYS_PER_YEAR, WEEK
from simulation.teams import Team


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu < c."""
    tail = a**c / math.factorial(c) * c / (c - a)
    return tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)


def mmc_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue Wq = C(c, a) / (c mu - lambda)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def test_erlang_c_known_values() -> None:
    # M/M/1: C = rho, Wq = rho / (mu - lambda).
    assert math.isclose(erlang_c(1, 0.7), 0.7)
    assert math.isclose(mmc_wait(1, 0.7, 1.0), 0.7 / 0.3)
    # M/M/2: C = 2 rho^2 / (1 + rho).
    assert math.isclose(erlang_c(2, 1.6), 2 * 0.8**2 / 1.8)


# --- the Team in a bare SimPy environment --------------------------------------------

WARM, ARRIVALS, REPS = 500.0, 30_000, 10


def run_team(fte: float, lam: float, mean_work: float, seed: int) -> Team:
    """Poisson arrivals at rate lam, exponential work with mean `mean_work` (in days of
    one whole-time adviser); accounting periods [0, WARM) of warm-up, then about
    ARRIVALS arrivals."""
    env = simpy.Environment()
    horizon = WARM + ARRIVALS / lam
    team = Team(env, fte, [0.0, WARM, horizon])
    rng = np.random.default_rng(seed)

    def arrivals():  # type: ignore[no-untyped-def]
        while True:
            yield env.timeout(rng.exponential(1 / lam))
            team.assign(rng.exponential(mean_work))

    env.process(arrivals())
    env.run(until=horizon)
    return team


@pytest.mark.parametrize(("c", "rho"), [(1, 0.7), (3, 0.8), (5, 0.85)])
def test_team_is_mmc(c: int, rho: float) -> None:
    mean_work = 1.0
    lam = rho * c / mean_work
    teams = [run_team(float(c), lam, mean_work, seed) for seed in range(REPS)]
    assert all(t.servers == c for t in teams)
    wq = mmc_wait(c, lam, 1 / mean_work)
    waits = [t.mean_wait_weeks()[1] * WEEK for t in teams]  # days
    assert_mean_matches(waits, wq, max_rel_halfwidth=0.2, label="Wq")
    assert_mean_matches([t.utilisation()[1] for t in teams], rho, max_rel_halfwidth=0.03)
    # Little's law for the queue: Lq = lambda Wq.
    assert_mean_matches([t.mean_queue()[1] for t in teams], lam * wq, max_rel_halfwidth=0.2)


def test_team_fractional_fte_keeps_total_capacity() -> None:
    """fte 2.5 is 3 advisers at speed 2.5/3: each piece of work takes 1.2 times as long,
    so utilisation is lambda E[work] / fte and the queue is M/M/3 with mu = 1/(1.2 E[w])."""
    fte, mean_work, rho = 2.5, 1.0, 0.8
    lam = rho * fte / mean_work
    teams = [run_team(fte, lam, mean_work, 100 + seed) for seed in range(REPS)]
    t0 = teams[0]
    assert t0.servers == 3
    assert math.isclose(t0.slowdown, 3 / 2.5)
    assert_mean_matches(
        [t.utilisation()[1] for t in teams], lam * mean_work / fte, max_rel_halfwidth=0.03
    )
    wq = mmc_wait(3, lam, 1 / (mean_work * 3 / fte))
    assert_mean_matches(
        [t.mean_wait_weeks()[1] * WEEK for t in teams], wq, max_rel_halfwidth=0.2, label="Wq"
    )


def test_team_work_is_first_come_first_served() -> None:
    env = simpy.Environment()
    team = Team(env, 1.0, [0.0, 100.0])
    done: list[tuple[str, float]] = []
    for name, work in (("a", 3.0), ("b", 1.0), ("c", 2.0)):
        end = team.assign(work)
        env.timeout(end).callbacks.append(lambda _ev, name=name: done.append((name, env.now)))
    env.run()
    assert done == [("a", 3.0), ("b", 4.0), ("c", 6.0)]
    assert team.mean_wait_weeks()[0] * WEEK == pytest.approx((0 + 3 + 4) / 3)
    assert team.utilisation()[0] == pytest.approx(6 / 100)


# --- the EP stage inside the model ---------------------------------------------------

EP_DAYS = 7.0


def ep_queue_params(c: int, rho: float, years: int, sitting: float = 0.0):  # type: ignore[no-untyped-def]
    """Only direct requests at a constant rate, decided the day they arrive (or at a
    weekly panel), never refused; exponential EP work; c whole-time EPs at load rho."""
    lam_day = rho * c / EP_DAYS
    per_age = lam_day * DAYS_PER_YEAR / 6
    return small_la(
        {
            "demand": {
                "sen_support_by_age": by_age(),
                "identification_by_age": by_age(),
                "request_hazard_by_age": by_age(),
                "direct_requests_by_age": by_age({a: per_age for a in range(5, 11)}),
                "request_trend": 0.0,
            },
            "panel": {"sitting_interval_days": sitting, "p_refuse": 0.0},
            "assessment": {
                "ep_fte": float(c),
                "ep_days_per_advice": EP_DAYS,
                "ep_work_cv": 1.0,
                "p_not_issue": 0.0,
                "p_exception": 0.0,
            },
            "plan": {"coordinators": 1000.0},
            "exits": {"moves_in_per_year": 0.0},
            "initial": {
                "caseload": {},
                "assessments_in_progress": 0,
                "requests_awaiting_decision": 0,
            },
        },
        years=years,
    ), lam_day


@pytest.mark.slow
@pytest.mark.parametrize(("c", "rho"), [(3, 0.8), (5, 0.75)])
def test_model_ep_stage_is_mmc(c: int, rho: float) -> None:
    params, lam_day = ep_queue_params(c, rho, years=8)
    res = replicate(params, range(30))
    # Discard the first year (the system starts empty); one value per replication.
    waits_weeks = flow(res, "ep_wait_weeks_mean")[:, 1:].mean(axis=1)
    util = flow(res, "ep_utilisation")[:, 1:].mean(axis=1)
    wq_weeks = mmc_wait(c, lam_day, 1 / EP_DAYS) / WEEK
    assert_mean_matches(waits_weeks, wq_weeks, alpha=2e-3, max_rel_halfwidth=0.35, label="Wq")
    assert_mean_matches(util, rho, max_rel_halfwidth=0.05, label="utilisation")


def _year_days(years: tuple[int, ...]) -> np.ndarray:
    return np.array([(dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days for y in years], dtype=float)


@pytest.mark.slow
@pytest.mark.parametrize("sitting", [0.0, 7.0])
def test_littles_law_open_assessments(sitting: float) -> None:
    """L = lambda W for open assessments, over years 2.. of a stationary run.

    An assessment is open from the decision to assess to the final plan (p_not_issue = 0:
    every assessment ends in a plan; p_refuse = 0: no tribunal-ordered ones, no
    exceptions, so weeks_to_issue covers every plan). weeks_to_issue runs from the
    request: with no panel the decision is on the request day; with a weekly panel the
    previous week's requests are decided at the sitting, 3.5 days later on average."""
    params, _ = ep_queue_params(3, 0.8, years=6, sitting=sitting)
    res = replicate(params, range(20))
    days = _year_days(res[0].flow_years)[1:]
    open_mean = flow(res, "open_assessments_mean")[:, 1:]
    plans = flow(res, "new_ehcps")[:, 1:]
    weeks = flow(res, "weeks_to_issue_mean")[:, 1:]
    L = (open_mean * days).sum(axis=1) / days.sum()
    lam = plans.sum(axis=1) / days.sum()
    panel_delay = WEEK / 2 if sitting else 0.0
    W = (weeks * plans).sum(axis=1) / plans.sum(axis=1) * WEEK - panel_delay
    # Compare per replication (a paired difference), with the t interval of the
    # differences; the interval must be narrow relative to L for the test to bite.
    diff = L - lam * W
    hw = t_halfwidth(diff)
    assert hw <= 0.02 * L.mean()
    assert abs(diff.mean()) <= hw
