"""Capacity sizing (`sendsim size`): the smallest level that meets a target with the stated
confidence, checked against a queue whose answer follows from Erlang C."""

from __future__ import annotations

import csv
import itertools
import math

import pytest
from click.testing import CliRunner
from helpers import small_la
from test_theory import EP_DAYS, ep_queue_params, mmc_wait

from experiments.cli import main
from experiments.sizing import (
    RESOURCES,
    Point,
    Sizing,
    SizingError,
    Target,
    size,
    wilson,
    write_sizing,
)

CONFIDENCE = 0.9
REPS = 20


@pytest.mark.slow
def test_sizing_finds_the_erlang_c_answer() -> None:
    """Requests arrive at the rate 4 EPs would serve at 80% load. By Erlang C the mean wait
    for an EP is 0.75 weeks with 4 EPs, 0.16 with 5 and 0.045 with 6, so a target of 0.35
    weeks (between 5 and 4 EPs' waits, each a factor of two away) needs exactly 5 EPs."""
    lam = 0.8 * 4 / EP_DAYS
    waits = {c: mmc_wait(c, lam, 1 / EP_DAYS) / 7 for c in (4, 5, 6)}
    target = math.sqrt(waits[4] * waits[5])
    assert waits[5] < target / 2 and waits[4] > target * 2
    params, _ = ep_queue_params(4, 0.8, years=4)
    year = params.run.start_year + 3
    result = size(
        params.override({"assessment": {"ep_fte": 2.0}}),
        "ep_fte",
        Target("ep_wait_weeks_mean", "<=", target),
        year,
        CONFIDENCE,
        REPS,
        seed=5,
    )
    assert result.answer == 5
    by_level = {p.level: p for p in result.points}
    assert by_level[5].probability >= CONFIDENCE
    assert by_level[4].probability < CONFIDENCE
    assert result.monotone
    # Probabilities never fall as the level rises (common random numbers).
    levels = sorted(by_level)
    assert all(
        by_level[a].probability <= by_level[b].probability for a, b in itertools.pairwise(levels)
    )


def test_unreachable_target_gives_no_answer() -> None:
    params = small_la({}, years=2)
    result = size(
        params,
        "review_officers",
        Target("reviews_overdue", "<", 0),
        params.run.start_year + 2,
        CONFIDENCE,
        3,
        seed=1,
        max_level=8,
    )
    assert result.answer is None
    assert all(p.probability == 0 for p in result.points)


def test_target_parsing_and_errors() -> None:
    t = Target.parse("pct_within_20wks_excl_exceptions>=60")
    assert (t.metric, t.op, t.value) == ("pct_within_20wks_excl_exceptions", ">=", 60.0)
    with pytest.raises(SizingError, match="must look like"):
        Target.parse("timeliness is good")
    params = small_la({}, years=1)
    with pytest.raises(SizingError, match="unknown resource"):
        size(params, "wizards", t, params.run.start_year, 0.9, 2, seed=1)
    with pytest.raises(SizingError, match="unknown metric"):
        size(params, "ep_fte", Target("happiness", ">=", 1), params.run.start_year, 0.9, 2, 1)
    with pytest.raises(SizingError, match="no value for"):
        size(params, "ep_fte", t, params.run.start_year + 5, 0.9, 2, seed=1)


def test_wilson_interval_brackets_the_proportion() -> None:
    lo, hi = wilson(18, 20)
    assert lo < 0.9 < hi
    assert lo >= 0 and hi <= 1
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == pytest.approx(1.0)


@pytest.mark.slow
def test_size_command_writes_the_trade_off_curve(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "size"
    result = CliRunner().invoke(
        main,
        [
            "size",
            "--resource",
            "special_places",
            "--target",
            "placement_waiting<=5",
            "--year",
            "2026",
            "--confidence",
            "0.5",
            "--replications",
            "3",
            "--years",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "special_places =" in result.output or "No level" in result.output
    with (out / "sizing.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(0 <= float(r["probability_target_met"]) <= 1 for r in rows)
    levels = [float(r["level"]) for r in rows]
    assert levels == sorted(levels)
    cost = RESOURCES["special_places"]
    assert cost.whole
    assert (out / "sizing.png").stat().st_size > 1000
    bad = CliRunner().invoke(
        main, ["size", "--resource", "ep_fte", "--target", "nonsense", "--year", "2026"]
    )
    assert bad.exit_code != 0 and "must look like" in bad.output


def test_levels_stay_on_the_resource_grid_from_an_off_grid_start() -> None:
    """A scenario can leave the resource between steps (5.6 EP FTE here, as `[add]` did to
    the coordinators: 12.96): every level tried, and the answer, are whole steps, and the
    answer is one of the levels tried, meets the target, and one step less does not."""
    params, _ = ep_queue_params(4, 0.8, years=2)
    lam = 0.8 * 4 / EP_DAYS
    target = math.sqrt(mmc_wait(4, lam, 1 / EP_DAYS) * mmc_wait(5, lam, 1 / EP_DAYS)) / 7
    result = size(
        params.override({"assessment": {"ep_fte": 5.6}}),
        "ep_fte",
        Target("ep_wait_weeks_mean", "<=", target),
        params.run.start_year + 1,
        CONFIDENCE,
        4,
        seed=5,
    )
    by_level = {p.level: p for p in result.points}
    assert all(level == round(level) for level in by_level), sorted(by_level)
    assert result.answer is not None
    assert result.answer in by_level, (result.answer, sorted(by_level))
    assert by_level[result.answer].probability >= CONFIDENCE
    if result.answer > 0:
        assert by_level[result.answer - 1].probability < CONFIDENCE


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 19, 20, 40, 100, 1000])
def test_wilson_interval_contains_the_observed_proportion(n: int) -> None:
    """The Wilson interval always contains k/n (so error bars are never negative), and is
    exactly [0, .] at k = 0 and [., 1] at k = n."""
    for k in range(n + 1):
        lo, hi = wilson(k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n, lo, hi)
    assert wilson(0, n)[0] == 0.0
    assert wilson(n, n)[1] == 1.0


def test_sizing_chart_draws_certain_outcomes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Probabilities of 0 and 1 (every replication misses or meets the target) draw."""
    n = 4
    points = [
        Point(float(level), k / n, *wilson(k, n), float(level), 0.0)
        for level, k in ((1, 0), (2, 2), (3, 4))
    ]
    result = Sizing("panel_slots", Target("new_ehcps", ">=", 100), 2025, 0.9, n, 3.0, points=points)
    write_sizing(tmp_path, result, "Test LA")
    assert (tmp_path / "sizing.png").stat().st_size > 1000


# --------------------------------------------------------------------------- two resources

JOINT_REPS = 6


def _pressed_la() -> tuple[object, Target, int]:
    """The small LA with too few EPs and too few coordinators for a 20-week target."""
    params = small_la({"assessment": {"ep_fte": 2.0}, "plan": {"coordinators": 1.0}}, years=2)
    return params, Target("pct_within_20wks_excl_exceptions", ">=", 60), 2026


@pytest.mark.slow
def test_joint_sizing_walks_the_frontier_and_takes_its_cheapest_point() -> None:
    from experiments.sizing import _Trials, size_joint

    params, target, year = _pressed_la()
    joint = size_joint(
        params,  # type: ignore[arg-type]
        ("ep_fte", "coordinator_fte"),
        target,
        year,
        CONFIDENCE,
        JOINT_REPS,
        seed=3,
        max_level=12,
    )
    assert joint.answer is not None and joint.frontier
    trials = _Trials(params, target, year, JOINT_REPS, seed=3)  # type: ignore[arg-type]
    for ep, coordinators, point in joint.frontier:
        # Every point meets the target, and one coordinator fewer does not (the smallest).
        assert point.probability >= CONFIDENCE
        if coordinators >= 1:
            less = trials.point({"ep_fte": ep, "coordinator_fte": coordinators - 1})
            assert less.probability < CONFIDENCE
    # More EPs never need more coordinators (a staircase), and the answer is the cheapest.
    assert all(b[1] <= a[1] for a, b in itertools.pairwise(joint.frontier))
    cheapest = min(p.annual_cost_gbp for _, _, p in joint.frontier)
    best = next(p for a, b, p in joint.frontier if (a, b) == joint.answer)
    assert best.annual_cost_gbp == cheapest
    # The same answer as sizing the coordinators alone with the EPs fixed at the answer's.
    fixed = params.override({"assessment": {"ep_fte": joint.answer[0]}})  # type: ignore[attr-defined]
    alone = size(fixed, "coordinator_fte", target, year, CONFIDENCE, JOINT_REPS, 3, 12)
    assert alone.answer == joint.answer[1]


@pytest.mark.slow
def test_a_resource_that_cannot_reach_the_target_names_the_one_that_binds() -> None:
    from experiments.sizing import binding

    params, target, year = _pressed_la()
    alone = size(params, "ep_fte", target, year, CONFIDENCE, JOINT_REPS, 3, 12)  # type: ignore[arg-type]
    assert alone.answer is None
    binds = binding(params, "ep_fte", target, year, JOINT_REPS, 3, 12)  # type: ignore[arg-type]
    assert binds and binds[0][0] == "coordinator_fte"
    assert binds[0][2] > binds[0][1]


@pytest.mark.slow
def test_size_cli_two_resources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "joint"
    args = ["size", "--la", "Rutland", "--resource", "ep_fte", "--resource", "coordinator_fte"]
    args += ["--target", "new_ehcps>=1", "--year", "2025", "--replications", "2"]
    args += ["--max-level", "3", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "cheapest combination" in result.output
    with (out / "sizing.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) >= {"ep_fte", "coordinator_fte", "annual_cost_gbp"}
    same = CliRunner().invoke(main, [*args[:5], "--resource", "ep_fte", *args[7:], "--overwrite"])
    assert same.exit_code == 2 and "named twice" in same.output
