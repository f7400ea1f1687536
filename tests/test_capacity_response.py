"""Teams that follow their workload (simulation/teams.py, `Response`; parameters
`capacity`): bounded backlogs with a strong enough response, fixed capacity with the
response off, and common random numbers intact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulation.model import run_replication
from simulation.parameters import CapacityResponse
from simulation.teams import REFERENCE_WEEKS, Response
from tests.helpers import small_la

GROWING = {"demand": {"request_trend": 0.5}}


def _capacity(**kw: object) -> dict[str, dict[str, object]]:
    """The response on (the small LA holds its teams fixed), with `kw` changed."""
    return {"capacity": {"respond": True, **kw}}


def test_response_follows_workload_and_temporary_capacity_is_capped() -> None:
    p = CapacityResponse(strength=1.0, lag_days=7.0, vacancy_rate=0.0, temp_cap=0.3)
    r = Response(p)
    for _ in range(REFERENCE_WEEKS):  # the reference: 9 a day
        r.week(arrived=9.0 * 7, wait_days=0.0)
    assert r.establishment == 1.0 and r.temporary == 0.0
    r.week(arrived=18.0 * 7, wait_days=0.0)  # the workload doubles
    assert r.establishment == pytest.approx(2.0) and r.temporary == 0.0
    r.week(arrived=18.0 * 7, wait_days=1000.0)  # a long wait: temporary capacity, capped
    assert r.temporary == pytest.approx(0.3 * r.establishment)
    fixed = Response(dataclasses.replace(p, respond=False))
    for _ in range(REFERENCE_WEEKS + 5):
        fixed.week(arrived=1e6, wait_days=1e6)
    assert fixed.factor == 1.0


def test_no_response_is_fixed_capacity() -> None:
    """A response of strength 0 with no temporary capacity changes nothing: the same
    results, figure for figure, as holding capacity fixed."""
    off = run_replication(small_la({**GROWING, **_capacity(respond=False)}, years=4), 3)
    null = run_replication(
        small_la({**GROWING, **_capacity(strength=0.0, temp_cap=0.0)}, years=4), 3
    )
    for m, v in off.flows.items():
        np.testing.assert_array_equal(v, null.flows[m], err_msg=m)


def test_strong_response_keeps_the_backlog_bounded() -> None:
    """Demand growing 50% a year: fixed teams build an ever-growing backlog; teams that
    follow their workload one for one with a short lag keep open assessments bounded."""
    years = 6
    fixed = run_replication(small_la({**GROWING, **_capacity(respond=False)}, years=years), 5)
    strong = run_replication(
        small_la(
            {**GROWING, **_capacity(strength=1.0, lag_days=60.0, vacancy_rate=0.0)},
            years=years,
        ),
        5,
    )
    open_fixed = fixed.census["open_assessments"]
    open_strong = strong.census["open_assessments"]
    assert open_fixed[-1] > 2 * open_strong[-1]
    # bounded: the open stock grows no faster than the demand (1.5 a year) late on
    assert open_strong[-1] <= open_strong[-2] * 1.5 * 1.1
    assert strong.flows["pct_within_20wks_excl_exceptions"][-1] > 50


def test_response_leaves_first_time_requests_identical() -> None:
    """Common random numbers: a capacity response changes who is served when, not who
    asks; first-time requests are the same with and without it."""
    on = run_replication(small_la({**GROWING, **_capacity()}, years=3), 11)
    off = run_replication(small_la({**GROWING, **_capacity(respond=False)}, years=3), 11)
    first_on = on.flows["requests_received"] - on.flows["requests_repeat"]
    first_off = off.flows["requests_received"] - off.flows["requests_repeat"]
    np.testing.assert_array_equal(first_on, first_off)
