"""The precision rule near zero, and which means stand in the way when it is not met.

A mean that crosses or sits near zero (a DSG balance turning from surplus to deficit, a
percentage of a fraction of a point) has no useful relative precision; it is judged against
a tenth of its metric's magnitude instead. Means away from zero keep the relative precision
of Hoad, Robinson and Davies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import small_la

from experiments.experiment import finalise, run_experiment
from experiments.precision import (
    NEAR_ZERO,
    Columns,
    check,
    ci_halfwidth,
    precision_scale,
    relative_precision,
)
from experiments.runner import InProcess
from experiments.store import RunStore
from simulation.results import HEADLINE_METRICS

YEARS = (2025, 2026, 2027, 2028, 2029)


def balance_like(n: int, seed: int) -> tuple[np.ndarray, Columns]:
    """A DSG balance in GBP m that turns from surplus to deficit (mean +20, +10, 0, -10,
    -20, sd growing as a cumulative sum's does), beside plans at about 4000 and a
    percentage near zero."""
    rng = np.random.default_rng(seed)
    balance = rng.normal([20.0, 10.0, 0.0, -10.0, -20.0], [1.0, 1.4, 1.7, 2.0, 2.2], (n, 5))
    plans = rng.normal([3600.0, 3800.0, 4000.0, 4200.0, 4400.0], 60.0, (n, 5))
    pct = np.abs(rng.normal([0.01, 0.01, 0.02, 0.2, 0.3], [0.04, 0.04, 0.06, 0.4, 0.6], (n, 5)))
    keys = [
        ("baseline", metric, y)
        for metric in ("dsg_cumulative_balance_gbp", "ehcp_total_jan", "pct_within_20wks")
        for y in YEARS
    ]
    return np.hstack([balance, plans, pct]), Columns.of(keys)


def test_scale_is_the_mean_away_from_zero_and_a_tenth_of_the_magnitude_near_it() -> None:
    values, columns = balance_like(40, seed=1)
    mean = np.abs(values.mean(axis=0))
    scale = precision_scale(values, columns)
    balance, plans, pct = scale[:5], scale[5:10], scale[10:]
    reach = mean[:5].max()
    assert np.allclose(balance, np.maximum(mean[:5], NEAR_ZERO * reach), rtol=1e-12)
    # The year that crosses zero, and only it, is measured against a tenth of the largest.
    assert balance[2] == pytest.approx(NEAR_ZERO * reach, rel=1e-12)
    assert np.allclose(balance[[0, 1, 3, 4]], mean[[0, 1, 3, 4]], rtol=1e-12)
    assert np.allclose(plans, mean[5:10], rtol=1e-12)  # far from zero: unchanged
    assert np.allclose(pct, NEAR_ZERO * 100.0, rtol=1e-12)  # a share's magnitude is 100
    rp = relative_precision(values, columns)
    assert np.allclose(rp, ci_halfwidth(values) / scale, rtol=1e-12)
    # Without column information every column is its own group: the paper's rule.
    assert np.allclose(
        relative_precision(values), ci_halfwidth(values) / mean, rtol=1e-12, equal_nan=True
    )


def test_a_mean_crossing_zero_no_longer_blocks_precision() -> None:
    """With 60 replications every mean is within 10% of its scale (the balance's half-width
    in the crossing year is about 2.0 * 1.7 / sqrt(60) = 0.44 against a scale of 2.0, 22%,
    before the rule; plans' half-width is about 15 of 3600): the run stops. Judged against
    its own mean of about 0 instead, the crossing year's precision is far outside any
    target (its half-width alone is 0.44), so the paper's rule never stops."""
    values, columns = balance_like(60, seed=2)
    target = 0.3
    assert check(values, target).solution is None
    met = check(values, target, columns)
    assert met.solution is not None
    assert met.blocked_by == ()


def test_blocked_by_names_the_means_that_missed_the_target() -> None:
    values, columns = balance_like(30, seed=3)
    # The balance made five times less noisy: its half-width in the crossing year is about
    # 2.05 * 0.34 / sqrt(30) = 0.13 against a scale of 2.0, 6%. The plans in 2027 made
    # noisy: sd 2000 gives a half-width of about 2.05 * 2000 / sqrt(30) = 750 against a
    # mean of 4000, 19%. Every other mean is within 3% of its scale, so that is the only
    # one over a target of 0.1.
    values[:, :5] = values[:, :5].mean(axis=0) + 0.2 * (values[:, :5] - values[:, :5].mean(0))
    rng = np.random.default_rng(4)
    values[:, 7] = rng.normal(4000.0, 2000.0, 30)
    result = check(values, 0.1, columns)
    assert result.solution is None
    assert result.blocked_at == 30
    assert [label for label, _ in result.blocked_by] == ["baseline ehcp_total_jan 2027"]
    _, precision = result.blocked_by[0]
    assert precision == pytest.approx(relative_precision(values, columns)[7], rel=1e-12)
    assert precision > 0.1
    # With a looser target it is met and nothing is blocked.
    assert check(values, 0.5, columns).blocked_by == ()


def test_blocked_by_refers_to_the_last_time_the_target_was_missed() -> None:
    """An outlier at replication 6 puts column b over the target until enough replications
    dilute it; a cap soon after that leaves the look-ahead incomplete, so the rule is not
    met although every mean is within the target at the cap. What blocked it is b, as it
    stood the last time the target was missed."""
    rng = np.random.default_rng(5)
    values = rng.normal([100.0, 50.0], [0.5, 0.5], (60, 2))
    values[5, 1] = 70.0
    columns = Columns(["a", "b"], ["a", "b"], [math.nan, math.nan])
    target = 0.05
    by_n = check(values, target, columns).precision_by_n
    missed = [n for n in range(3, 61) if by_n[n - 1] > target]
    assert missed[0] == 6 and missed[-1] < 55  # then within the target to the end
    cap = missed[-1] + 2
    result = check(values[:cap], target, columns)
    assert result.solution is None
    assert result.precision_by_n[-1] <= target
    assert result.blocked_at == missed[-1]
    assert [label for label, _ in result.blocked_by] == ["b"]


def test_a_run_that_misses_precision_says_which_means_blocked_it(tmp_path: Path) -> None:
    params = small_la({}, years=1)
    spec = {
        "scenarios": {"baseline": {"parameters": params.to_dict()}},
        "replications": 12,
        "precision": 1e-6,
        "root_seed": 1,
    }
    (tmp_path / "run").mkdir()
    store = RunStore.create(tmp_path / "run", spec)
    outcome = run_experiment(store, InProcess())
    p = outcome.precision
    assert p is not None and p.solution is None
    assert p.blocked_at == 12 and p.blocked_by
    precisions = [value for _, value in p.blocked_by]
    assert precisions == sorted(precisions, reverse=True)
    assert all(value > 1e-6 for value in precisions)
    assert max(precisions) == pytest.approx(p.precision_by_n[-1], rel=1e-12)
    for label, _ in p.blocked_by:
        scenario, metric, year = label.split()
        assert scenario == "baseline" and metric in HEADLINE_METRICS and year.isdigit()
    finalise(store, outcome, {}, "Test LA", {})
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["precision"]["met"] is False
    assert manifest["precision"]["blocked_at_replications"] == 12
    assert [b["mean"] for b in manifest["precision"]["blocked_by"]] == [
        label for label, _ in p.blocked_by
    ]
