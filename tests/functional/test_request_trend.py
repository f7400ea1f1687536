"""The damped, pooled request trend (issue 10, item 4): partial pooling helps small LAs
and does not hurt large ones on synthetic LAs with known trends; the damped multiplier
stays bounded; the damping is chosen on what was published by the origin only; the
estimates carry it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from calibration.defaults import estimate_parameters
from calibration.estimators import estimate_all
from calibration.la_data import load_dataset
from calibration.pooling import (
    DAMPING_GRID,
    Pool,
    _bundled_histories,
    national_growth,
    pool_slopes,
    select_damping,
    share_slope,
    shrink,
)
from simulation.pathway.requests import damped_log_multiplier
from simulation.uncertainty import ParameterUncertainty, draw_seed

YEARS = range(2016, 2025)


def _synthetic_las(
    rng: np.random.Generator, sizes: list[float], tau: float, national: dict[int, float]
) -> tuple[list[dict[int, float]], np.ndarray]:
    """LAs with known log-share slopes (normal, sd ``tau``) about a common mean, and
    requests drawn overdispersed (negative binomial, a year's spread ~2.5 times Poisson's)
    about England's times their share."""
    truth = rng.normal(0.01, tau, len(sizes))
    las = []
    for size, slope in zip(sizes, truth, strict=True):
        share = size / national[YEARS[-1]]
        counts = {}
        for y in YEARS:
            mu = national[y] * share * math.exp(slope * (y - YEARS[-1]))
            n = mu / 1.5  # variance mu (1 + mu / n) = 2.5 mu
            counts[y] = float(rng.negative_binomial(n, n / (n + mu)))
        las.append(counts)
    return las, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pooling_helps_small_las_and_not_large_ones(seed: int) -> None:
    """On synthetic LAs with known share slopes, the shrunk slope is closer to the truth
    than the LA-alone slope for small LAs (40 requests a year) and no further for large
    ones (3,000 a year), in root mean square over the LAs."""
    rng = np.random.default_rng(seed)
    national = {y: 50_000.0 * 1.12 ** (y - YEARS[0]) for y in YEARS}
    sizes = [40.0] * 100 + [3000.0] * 100
    las, truth = _synthetic_las(rng, sizes, 0.04, national)
    until = YEARS[-1]
    slopes = [share_slope(c, national, until) for c in las]
    assert all(s is not None for s in slopes)
    pool = pool_slopes([s for s in slopes if s is not None])
    assert pool.tau2 > 0.0
    alone = np.array([s.slope for s in slopes if s is not None])
    pooled = np.array([shrink(s, pool)[0] for s in slopes])

    def rmse(est: np.ndarray, sel: slice) -> float:
        return float(np.sqrt(np.mean((est[sel] - truth[sel]) ** 2)))

    small, large = slice(0, 100), slice(100, 200)
    assert rmse(pooled, small) < 0.8 * rmse(alone, small)
    assert rmse(pooled, large) <= 1.01 * rmse(alone, large)


def test_shrinkage_is_stronger_for_small_las() -> None:
    pool = Pool(mu=0.0, tau2=0.04**2, dispersion=2.5, n_las=100)
    national = {y: 50_000.0 for y in YEARS}
    small = share_slope({y: 40.0 * 1.1 ** (y - 2016) for y in YEARS}, national, 2024)
    large = share_slope({y: 4000.0 * 1.1 ** (y - 2016) for y in YEARS}, national, 2024)
    assert small is not None and large is not None
    s_est, s_var = shrink(small, pool)
    l_est, l_var = shrink(large, pool)
    assert abs(s_est) < abs(l_est) < abs(large.slope)
    assert l_var < s_var < pool.tau2
    # No own slope (too short a history): the pool's mean and spread.
    assert shrink(None, pool) == (0.0, pool.tau2)


@pytest.mark.parametrize("phi", DAMPING_GRID)
def test_damped_multiplier_stays_bounded(phi: float) -> None:
    """Whatever the growth, the damped multiplier rises monotonically towards its bound
    exp(b phi / (1 - phi)) and never passes it, over 200 years; at whole years it is
    Gardner's sum b (phi + ... + phi^t)."""
    for growth in (0.05, 0.2, 0.3, 1.0):
        b = math.log1p(growth)
        bound = b * phi / (1 - phi)
        values = [damped_log_multiplier(b, phi, t / 4) for t in range(0, 801)]
        assert values[0] == 0.0
        assert all(x <= y for x, y in itertools.pairwise(values))
        assert max(values) <= bound + 1e-12
        for t in (1, 2, 5):
            expected = b * sum(phi**k for k in range(1, t + 1))
            assert damped_log_multiplier(b, phi, t) == pytest.approx(expected, rel=1e-12)


def test_undamped_and_flat_limits() -> None:
    assert damped_log_multiplier(0.1, 1.0, 7.5) == pytest.approx(0.75)
    assert damped_log_multiplier(0.1, 0.0, 7.5) == 0.0


@pytest.mark.slow
def test_damping_uses_only_what_was_published_by_then() -> None:
    """The damping chosen as of a year is the same whether or not later years are in the
    data: the rolling-origin validation scores only years up to it."""
    las, national = _bundled_histories()
    for until in (2020, 2022):
        cut_las = [{y: v for y, v in c.items() if y <= until} for c in las]
        cut_nat = {y: v for y, v in national.items() if y <= until}
        assert select_damping(las, national, until) == select_damping(cut_las, cut_nat, until)
        phi, score = select_damping(cut_las, cut_nat, until)
        assert phi in DAMPING_GRID and score is not None


def test_england_first_year_growth_within_issue_target() -> None:
    """At the latest origin the pooled trend's first year for England (its own growth,
    damped) is at most 1.5 times England's last published annual growth (issue 10)."""
    las, national = _bundled_histories()
    until = max(national)
    nat = national_growth(national, until)
    assert nat is not None
    phi, _ = select_damping(las, national, until)
    first = math.expm1(damped_log_multiplier(nat[0], phi, 1.0))
    last = national[until] / national[until - 1] - 1
    assert 0 < first <= 1.5 * last


def test_estimates_carry_the_damped_pooled_trend() -> None:
    ds = load_dataset(None)
    p, notes = estimate_parameters(ds, "Stockport")
    assert 0.0 < p.demand.request_trend_damping < 1.0
    note = next(n for n in notes if n.key == "demand.request_trend")
    assert "damped pooled trend" in note.source
    # Over 50 years requests stay within the damped trend's bound.
    b = math.log1p(p.demand.request_trend)
    phi = p.demand.request_trend_damping
    assert damped_log_multiplier(b, phi, 50.0) <= b * phi / (1 - phi) + 1e-12


def test_national_shock_is_shared_widens_and_leaves_other_draws_alone() -> None:
    """England's year shocks: the same draw for every LA run with the same replication
    seed, a variance growing with the horizon, and no change to any other item's draw
    (they come from a stream of their own); the plain form keeps them shared."""
    ds = load_dataset(None)
    seed = np.random.SeedSequence(11).spawn(3)[2]
    drawn = []
    for la in ("Stockport", "Kent"):
        e = estimate_all(ds, la, years=5)
        unc = ParameterUncertainty(e.uncertainty)
        shock = next(u for u in unc.items if u.name == "requests_national_shock")
        assert shock.shared
        variances = np.diag(np.array(shock.params["cov"]))
        assert len(variances) == 5 and all(np.diff(variances) > 0)
        p = unc.draw_and_apply(e.params, seed)
        drawn.append(p.demand.request_multiplier_by_year)
        # Without the shock every other item draws exactly as before.
        rest = ParameterUncertainty(tuple(u for u in unc.items if not u.shared))
        rng = np.random.default_rng(draw_seed(seed))
        with_shock = unc.draw(np.random.default_rng(draw_seed(seed)))
        without = rest.draw(rng)
        for name, deltas in without.items():
            assert all(np.array_equal(a, b) for a, b in zip(deltas, with_shock[name], strict=True))
        back = ParameterUncertainty.from_dict(unc.to_dict())
        assert (
            back.draw(np.random.default_rng(1))["requests_national_shock"]
            == unc.draw(np.random.default_rng(1))["requests_national_shock"]
        )
    assert drawn[0] == drawn[1]
    assert sorted(drawn[0]) == [str(y) for y in range(2025, 2030)]
