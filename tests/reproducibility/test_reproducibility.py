"""Reproducibility: seeds, named random streams, purity of run_replication, event log."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import NO_REQUESTS, merge, small_la

import simulation.randomness as randomness
from simulation.model import run_replication
from simulation.randomness import STREAMS, WeeklyStream, streams
from simulation.results import CENSUS_METRICS, FLOW_METRICS, Results


def assert_same_results(a: Results, b: Results) -> None:
    assert a.census_years == b.census_years
    assert a.flow_years == b.flow_years
    assert set(a.census) == set(b.census) == set(CENSUS_METRICS)
    assert set(a.flows) == set(b.flows) == set(FLOW_METRICS)
    for m in CENSUS_METRICS:
        assert np.array_equal(a.census[m], b.census[m], equal_nan=True), m
    for m in FLOW_METRICS:
        assert np.array_equal(a.flows[m], b.flows[m], equal_nan=True), m


def differing_metrics(a: Results, b: Results) -> list[str]:
    out = [
        m for m in CENSUS_METRICS if not np.array_equal(a.census[m], b.census[m], equal_nan=True)
    ]
    out += [m for m in FLOW_METRICS if not np.array_equal(a.flows[m], b.flows[m], equal_nan=True)]
    return out


@pytest.fixture(scope="module")
def params():  # type: ignore[no-untyped-def]
    # A capacity-constrained small LA, so placement waits and overflow are exercised too.
    return small_la({"placement": {"special_state_places": 210, "rp_places": 40}}, years=3)


def test_same_seed_gives_identical_results(params) -> None:  # type: ignore[no-untyped-def]
    a, b = run_replication(params, 42), run_replication(params, 42)
    assert_same_results(a, b)
    assert a.events == b.events


def test_same_seed_identical_with_nan_flows() -> None:
    # No requests: the timeliness percentages and mean waits are NaN in every year.
    p = small_la(merge(NO_REQUESTS, {"exits": {"moves_in_per_year": 0.0}}), years=2)
    a, b = run_replication(p, 9), run_replication(p, 9)
    assert np.isnan(a.flows["pct_within_20wks_excl_exceptions"]).all()
    assert_same_results(a, b)


def test_seed_sequence_and_int_seed_agree(params) -> None:  # type: ignore[no-untyped-def]
    assert_same_results(
        run_replication(params, 7), run_replication(params, np.random.SeedSequence(7))
    )


def test_spawned_seeds_differ(params) -> None:  # type: ignore[no-untyped-def]
    a, b = np.random.SeedSequence(7).spawn(2)
    assert differing_metrics(run_replication(params, a), run_replication(params, b))


def test_different_seeds_differ(params) -> None:  # type: ignore[no-untyped-def]
    a, b = run_replication(params, 1), run_replication(params, 2)
    diff = differing_metrics(a, b)
    assert "requests_received" in diff
    # The start is the same parameter caseload, only its ages and needs are drawn.
    assert a.census["ehcp_total_jan"][0] == b.census["ehcp_total_jan"][0]


def test_run_replication_does_not_mutate_params(params) -> None:  # type: ignore[no-untyped-def]
    before = copy.deepcopy(params)
    plain = copy.deepcopy(params.to_dict())
    run_replication(params, 3)
    assert params == before
    assert params.to_dict() == plain


def test_streams_are_named_and_independent_of_other_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = {name: g.random(5) for name, g in streams(11).items()}
    again = {name: g.random(5) for name, g in streams(11).items()}
    assert set(first) == set(STREAMS)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    # Different names give different numbers.
    values = [tuple(v) for v in first.values()]
    assert len(set(values)) == len(values)
    # Adding, removing or reordering other streams leaves a stream's numbers unchanged.
    monkeypatch.setattr(randomness, "STREAMS", ("a_new_stream", "reviews", "initial"))
    fewer = streams(11)
    assert set(fewer) == {"a_new_stream", "reviews", "initial"}
    np.testing.assert_array_equal(fewer["reviews"].random(5), first["reviews"])
    np.testing.assert_array_equal(fewer["initial"].random(5), first["initial"])
    # A different root seed gives different numbers for the same name.
    assert not np.array_equal(streams(12)["reviews"].random(5), first["reviews"])


def test_weekly_streams_give_each_week_its_own_block() -> None:
    """A week's numbers are the same however many numbers other weeks drew, differ from
    week to week and stream to stream, and follow the root seed."""
    a = WeeklyStream(11, "panel")
    first = a.week(7).random(4)
    a.week(3).random(1000)  # another week drawing many numbers
    np.testing.assert_array_equal(a.week(7).random(4), first)
    assert not np.array_equal(a.week(8).random(4), first)
    assert not np.array_equal(WeeklyStream(11, "issue").week(7).random(4), first)
    assert not np.array_equal(WeeklyStream(12, "panel").week(7).random(4), first)
    np.testing.assert_array_equal(WeeklyStream(11, "panel").week(7).random(4), first)


def test_streams_accept_seed_sequences() -> None:
    root = np.random.SeedSequence(11)
    np.testing.assert_array_equal(streams(root)["exits"].random(3), streams(11)["exits"].random(3))
    child_a, child_b = root.spawn(2)
    a, b = streams(child_a)["exits"].random(3), streams(child_b)["exits"].random(3)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, streams(11)["exits"].random(3))


def test_event_log_does_not_change_results(params) -> None:  # type: ignore[no-untyped-def]
    logged = params.override({"run": {"event_log": True}})
    off, on = run_replication(params, 5), run_replication(logged, 5)
    assert_same_results(off, on)
    assert off.event_log == []
    assert len(on.event_log) > 0
    events = {e for _, e, _ in on.event_log}
    assert {"assessment_started", "plan_issued"} <= events
    times = np.array([t for _, _, t in on.event_log])
    assert times.min() >= 0
