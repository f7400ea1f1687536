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


OVERLOADED = {"assessment": {"ep_fte": 1.0}}


def test_lanes_keep_the_simplest_cases_on_time_under_pressure() -> None:
    """An EP team far below its workload: first come first served, almost no plan is on
    time; serving the simplest 30% first keeps about that share on time (the 20-week %
    degrades smoothly instead of switching off). The simple lane is staffed for its
    workload at 85% utilisation, so at most its slack is lost to the split."""
    fifo = run_replication(small_la(OVERLOADED, years=3), 2)
    lanes = run_replication(
        small_la({**OVERLOADED, "capacity": {"respond": False, "priority_share": 0.3}}, years=3),
        2,
    )
    pct_fifo = fifo.flows["pct_within_20wks_excl_exceptions"][-1]
    pct_lanes = lanes.flows["pct_within_20wks_excl_exceptions"][-1]
    assert pct_fifo < 5
    assert 10 < pct_lanes <= 40
    assert lanes.flows["ep_utilisation"][-1] > 0.9
    # first-time requests are untouched by how the team orders its work
    np.testing.assert_array_equal(
        fifo.flows["requests_received"] - fifo.flows["requests_repeat"],
        lanes.flows["requests_received"] - lanes.flows["requests_repeat"],
    )


def test_lanes_change_little_without_pressure() -> None:
    """With capacity to spare the split costs little: the 20-week % within a few points."""
    fifo = run_replication(small_la(years=3), 4)
    lanes = run_replication(small_la({"capacity": {"priority_share": 0.3}}, years=3), 4)
    a = fifo.flows["pct_within_20wks_excl_exceptions"]
    b = lanes.flows["pct_within_20wks_excl_exceptions"]
    assert np.all(np.abs(a - b) <= 5), (a, b)


def test_requests_held_for_information_are_decided_after_six_weeks() -> None:
    """With an ample weekly panel, the share decided within 6 weeks is 1 - p_decided_late
    (binomial noise only), and every request is still decided."""
    p = small_la(
        {"panel": {"sitting_interval_days": 7.0, "slots_per_sitting": 50, "p_decided_late": 0.2}},
        years=3,
    )
    r = run_replication(p, 6)
    pct = r.flows["pct_requests_decided_within_6wks"][1:]
    n = r.flows["requests_decided"][1:]
    assert np.all(np.abs(pct - 80) <= 100 * 4 * np.sqrt(0.2 * 0.8 / n)), pct
    assert r.census["requests_awaiting_decision"][-1] <= 15
