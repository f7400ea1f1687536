"""The start of a run: the January census caseload, and work already under way.

Plans open at the start are spread over placement groups and age bands as the census
says (ages within a band by `initial.age_weights`), with reviews spread over the coming
interval. Requests awaiting a decision join the panel's queue; assessments in progress are
either still waiting for advice or (past half of 20 weeks) at the drafting stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..calendar import TWENTY_WEEKS, WEEK
from ..randomness import INITIAL_WEEKS
from ..shares import normalise, round_preserving_total
from ..vocabulary import AGE_BANDS, BAND_NAMES, GROUP_INDEX, NEEDS, PLACEMENT_GROUPS
from .assessment import open_assessment, start_assessment
from .plan import draft_plan, new_plan
from .requests import make_cases, request_ages
from .review import review_interval

if TYPE_CHECKING:
    from ..system import SendSystem


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
    k = ini.assessments_in_progress
    if k:
        ages = request_ages(system, rng, k)
        elapsed = rng.random(k) * TWENTY_WEEKS
        for case, e in zip(
            make_cases(system, ages, np.zeros(k, bool), -elapsed, INITIAL_WEEKS[1]),
            np.sort(elapsed)[::-1],
            strict=True,
        ):
            if e < TWENTY_WEEKS / 2:  # still waiting for advice
                start_assessment(system, case, 0.0)
            else:
                open_assessment(system, case, 0.0)
                draft_plan(system, case, 0.0)


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
