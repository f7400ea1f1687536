"""Plans moving in from other LAs (the SEND Regulations 2014, regulation 15).

A plan transferred from another authority arrives on its own day, with an age band from
`exits.moves_in_band_shares`, is placed like a new plan and reviewed on the usual cycle.
Moves out are a ceasing reason (`ceasing.py`).
"""

from __future__ import annotations

import bisect
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ..calendar import DAYS_PER_YEAR, WEEK
from ..vocabulary import AGE_BANDS, BAND_NAMES, NEEDS
from .placement import HOLDING_GROUP, draw_group, place
from .plan import new_plan
from .review import review_interval

if TYPE_CHECKING:
    from ..system import SendSystem


def moves_in(system: SendSystem, t: float) -> None:
    """Plans transferred in from other LAs during [t, t+7), at their exact days."""
    rng = system.rng["moves_in"]
    n = rng.poisson(system.params.exits.moves_in_per_year * WEEK / DAYS_PER_YEAR)
    if n == 0:
        return
    bands = np.searchsorted(system.moves_in_cum, rng.random(n), side="right").clip(0, 4)
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
        need = min(bisect.bisect_right(system.need_cum, u_need), len(NEEDS) - 1)
        system.after(day - system.env.now, partial(move_in, system, age, need, u_place))


def move_in(system: SendSystem, age: int, need: int, u_place: float, _ev: object = None) -> None:
    """A plan arrives from another LA: placed in a holding setting, then in the setting
    drawn for it (or on its waiting list)."""
    now = system.env.now
    age = system.age_now(age, now)
    system.count("plans_transferred_in", now)
    target = draw_group(system, age, need, u_place)
    i = new_plan(system, age, need, HOLDING_GROUP[age], now + review_interval(system, age))
    place(system, i, target)
    system.event(int(system.caseload.child[i]), "transferred_in")
