"""The start of a run: the January census caseload, and work already under way.

Plans open at the start are spread over placement groups and age bands as the census
says (ages within a band by `initial.age_weights`), with reviews spread over the coming
interval. Requests awaiting a decision join the panel's queue.

Assessments in progress are a steady pipeline, not a pulse: each one's time since its
request is drawn from the ages of the cases open in a steady state whose times from
request to plan follow the LA's published timeliness bands (`initial.issue_band_shares`),
and its time still to go from the same bands given that age. Its decision whether to issue
falls that long from now, less its drafting and comments; the EP work it still needs (the
share of its advice span not yet gone) occupies the EP team from day 0 in that order, and
an assessment whose advice the team cannot finish in time waits for it. The stock drains no
faster than the LA's published throughput (`initial.completions_per_year`). Assessments already
past the decision are with a coordinator, with their remaining drafting time.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from ..calendar import DAYS_PER_YEAR, WEEK
from ..randomness import INITIAL_WEEKS
from ..shares import normalise, round_preserving_total
from ..vocabulary import AGE_BANDS, BAND_NAMES, GROUP_INDEX, NEEDS, PLACEMENT_GROUPS
from .assessment import open_assessment
from .plan import draft_plan, new_plan
from .requests import make_cases, request_ages
from .review import review_interval

if TYPE_CHECKING:
    from ..system import SendSystem

# Weeks from request to plan within each published timeliness band (within 20 weeks,
# 20-52, over 52), taken as uniform: 12-20, 20-52 and 52-68 (*assumption*: the bands'
# typical values 16, 36 and 60 weeks; SEN2 publishes no finer split).
ISSUE_BANDS_WEEKS = ((12.0, 20.0), (20.0, 52.0), (52.0, 68.0))
# An assessment is in progress from the decision to assess, taken at 6 weeks from the
# request (*assumption*: the statutory limit, CoP 9.14, which almost all decisions meet).
DECISION_WEEKS = 6.0
_GRID = np.linspace(0.0, ISSUE_BANDS_WEEKS[-1][1], 1361)  # weeks, 0.05 apart


def issue_weeks_cdf(shares: tuple[float, ...] | list[float]) -> np.ndarray:
    """P(weeks from request to plan <= w) on `_GRID`, from the band shares."""
    s = np.asarray(shares, dtype=float)
    s = s / s.sum() if s.sum() > 0 else np.array([1.0, 0.0, 0.0])
    cdf = np.zeros_like(_GRID)
    for p, (lo, hi) in zip(s, ISSUE_BANDS_WEEKS, strict=True):
        cdf += p * np.clip((_GRID - lo) / (hi - lo), 0.0, 1.0)
    return cdf


def weeks_in_progress(shares: tuple[float, ...] | list[float]) -> float:
    """Mean weeks an assessment is in progress (from the decision to assess to the plan):
    by Little's law, assessments in progress = this x completions a week."""
    survival = 1.0 - issue_weeks_cdf(shares)
    keep = _GRID >= DECISION_WEEKS
    return float(np.trapezoid(survival[keep], _GRID[keep]))


def draw_in_progress(
    rng: np.random.Generator, shares: tuple[float, ...] | list[float], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Days since request and days still to go of k assessments in progress in a steady
    state: ages with density proportional to the chance a case is still open (from the
    decision to assess), then the time to the plan given that age."""
    cdf = issue_weeks_cdf(shares)
    survival = np.where(_GRID >= DECISION_WEEKS, 1.0 - cdf, 0.0)
    area = np.concatenate(([0.0], np.cumsum((survival[1:] + survival[:-1]) / 2 * np.diff(_GRID))))
    u = rng.random((k, 2))
    age = np.interp(u[:, 0] * area[-1], area, _GRID)
    f_age = np.interp(age, _GRID, cdf)
    done = np.interp(f_age + u[:, 1] * (1.0 - f_age), cdf, _GRID)
    return age * WEEK, np.maximum(done - age, 0.0) * WEEK


def initial_state(system: SendSystem) -> None:
    """Start from the observed caseload (by placement and age band), with reviews spread
    over the year, requests waiting for panel and assessments already under way."""
    rng = system.rng["initial"]
    initial_caseload(system, rng)
    ini = system.params.initial
    k = ini.requests_awaiting_decision
    if k:
        ages = request_ages(system, rng, k)
        days = -rng.random(k) * max(system.params.panel.sitting_interval_days, WEEK)
        system.panel_queue.extend(
            make_cases(system, ages, np.zeros(k, bool), days, INITIAL_WEEKS[0])
        )
    if ini.assessments_in_progress:
        assessments_in_progress(system, rng, ini.assessments_in_progress)


def assessments_in_progress(system: SendSystem, rng: np.random.Generator, k: int) -> None:
    """The assessments under way at the start, each at its stage (module docstring)."""
    a = system.params.assessment
    ini = system.params.initial
    elapsed, to_go = draw_in_progress(rng, ini.issue_band_shares, k)
    if ini.completions_per_year > 0:
        # The stock drains no faster than the LA's throughput: a published stock larger
        # than the steady state's is a backlog, worked through at the rate plans are made.
        by_time = np.argsort(to_go, kind="stable")
        floor = np.arange(1, k + 1) * DAYS_PER_YEAR / ini.completions_per_year
        to_go[by_time] = np.maximum(to_go[by_time], floor)
    ages = request_ages(system, rng, k)
    order = np.argsort(-elapsed, kind="stable")  # make_cases puts cases oldest first
    cases = make_cases(system, ages, np.zeros(k, bool), -elapsed[order], INITIAL_WEEKS[1])
    to_go = to_go[order]
    advice_span = max(a.ep_days_per_advice, a.health_advice_days, a.social_care_advice_days)
    advice_span += a.issue_decision_days
    advising: list[tuple[float, int]] = []
    drafting: list[tuple[float, int]] = []
    for j, case in enumerate(cases):
        open_assessment(system, case, 0.0)
        decision_in = to_go[j] - case.draft_work - case.comment_days
        if decision_in > 0:
            advising.append((decision_in, j))
        else:
            case.draft_work = max(to_go[j] - case.comment_days, 0.0)
            drafting.append((to_go[j], j))
    for decision_in, j in sorted(advising):
        case = cases[j]
        # The EP work still to do: the share of the advice span not yet gone.
        left = min(1.0, decision_in / advice_span) if advice_span > 0 else 0.0
        ep_done = system.ep_team.assign(case.ep_work * left, arrival=0.0) if left > 0 else 0.0
        if ep_done == math.inf:
            continue  # no EP capacity: the assessment never completes
        day = max(decision_in, ep_done + a.issue_decision_days if left > 0 else 0.0)
        heapq.heappush(system.issue_decisions, (day, case.id, case))
    for _, j in sorted(drafting):
        draft_plan(system, cases[j], 0.0)


def initial_caseload(system: SendSystem, rng: np.random.Generator) -> None:
    """The plans open at the start, by placement group and age band."""
    ini = system.params.initial
    need_p = normalise(ini.need_shares, NEEDS)
    cells = [(GROUP_INDEX[g], b) for g, counts in ini.caseload.items() for b in range(len(counts))]
    values = tuple(ini.caseload[PLACEMENT_GROUPS[g]][b] for g, b in cells)
    for (gi, b), n in zip(cells, round_preserving_total(values), strict=True):
        lo, hi = AGE_BANDS[BAND_NAMES[b]]
        w = np.array(ini.age_weights[lo : hi + 1])
        w = w / w.sum() if w.sum() > 0 else np.full(hi - lo + 1, 1 / (hi - lo + 1))
        ages = lo + np.searchsorted(np.cumsum(w), rng.random(n), side="right").clip(0, hi - lo)
        needs = np.searchsorted(np.cumsum(need_p), rng.random(n), side="right")
        for age, need in zip(ages.tolist(), needs.tolist(), strict=True):
            interval = review_interval(system, age)
            new_plan(system, age, min(need, len(NEEDS) - 1), gi, float(rng.random() * interval))
