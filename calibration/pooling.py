"""Partial pooling of the request trend across English LAs, damped (issue 10, item 4).

An LA's requests are England's times its share of them, so the trend of its requests is
England's trend plus the trend of its share:

* **England's growth** is a weighted mean of its last five annual log growths, each
  year weighing half the one after it (the smoothed trend of Holt's method with a
  smoothing weight of 1/2, *assumption*): regime-aware in that a change of pace (2024's
  +11.8% after three years over +20%) shows at once, and a shock year (2020, when schools
  closed) fades within two or three years; not anchored on a year, as a five-year line is
  on its first and last.
* **The LA's share** has a slope (a least-squares line through the log share over the
  last five years), which is noisy for a small LA: five points of a few dozen requests.
  It is shrunk towards the mean slope of all LAs by empirical Bayes (the normal-normal
  model of meta-analysis: DerSimonian and Laird, 1986; Morris, 1983): each LA's slope is
  ``c_i ~ N(theta_i, s_i^2)`` with ``theta_i ~ N(mu, tau^2)``; ``mu`` and ``tau^2`` are
  estimated from all LAs by the method of moments, and the LA's estimate is
  ``mu + (1 - B_i)(c_i - mu)`` with ``B_i = s_i^2 / (s_i^2 + tau^2)``: a small LA (large
  ``s_i``) borrows from all, a large one keeps its own signal. Its sampling variance
  ``s_i^2`` is a year's spread about the line over the slope's leverage, the spread taken
  as a quasi-Poisson one common to all LAs, ``D / requests`` (``D`` the median over LAs of
  their residual variance times their requests): with five points an LA's own residual
  variance is too noisy to weigh its slope by. Closed forms with numpy: no new dependency
  (a mixed model, e.g. statsmodels' MixedLM, would fit the same random-slope model by
  REML with an optimiser that often fails to converge at five points an LA, and add a
  dependency for what four lines of moments give).
* **Damping** (Gardner and McKenzie's damped trend): the log growth ``b`` applies in the
  k-th year ahead as ``b * phi^k``, so the multiplier after t years is
  ``exp(b * phi (1 - phi^t) / (1 - phi))``, bounded by ``exp(b * phi / (1 - phi))``.
  ``phi`` is chosen as of the origin by rolling-origin validation on what was already
  published then (:func:`select_damping`): of :data:`DAMPING_GRID`, the most damped one
  whose forecasts of every LA's requests from every earlier origin scored within one
  standard error of the best (mean absolute percentage error over horizons 1-4) on the
  years up to ``until``. Where no earlier origin
  can be scored (origins before 2019: SEN2 has requests from 2016),
  :data:`DEFAULT_DAMPING` (*assumption*). ``benchmarks/request_trend_validation.py``
  reports the scores by origin and horizon.

Every figure reads only years up to ``until`` (the last calendar year before the origin),
from whichever LAs are given: the pool of all bundled LAs, cut at ``until``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulation.pathway.requests import damped_log_multiplier

from .breaks import clean_history
from .la_data import LAHistory, load_dataset

__all__ = [
    "DAMPING_GRID",
    "DEFAULT_DAMPING",
    "NATIONAL_DECAY",
    "NATIONAL_YEARS",
    "SHARE_YEARS",
    "VALIDATION_HORIZONS",
    "Pool",
    "PooledTrend",
    "ShareSlope",
    "bundled_damping",
    "bundled_pool",
    "damped_log_multiplier",
    "forecast",
    "la_pooled_trend",
    "national_growth",
    "national_shock_sd",
    "pool_slopes",
    "pooled_trend",
    "select_damping",
    "share_slope",
    "shrink",
    "validation_errors",
]

#: The damping factors the rolling-origin validation chooses from.
#: 1 (undamped) is not among them: a trend compounded without end is what damping is for.
DAMPING_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: The damping where no earlier origin can be scored (*assumption*: the middle of the
#: grid's damped values; origins before 2019 only).
DEFAULT_DAMPING = 0.6
#: Horizons (years) the damping's validation scores.
VALIDATION_HORIZONS = 4
#: Years of the LA's share in its slope; annual growths of England in its growth.
SHARE_YEARS = 5
NATIONAL_YEARS = 5
#: The weight of a year's growth in England's, relative to the year after it.
NATIONAL_DECAY = 0.5


@dataclass(frozen=True)
class ShareSlope:
    """An LA's log-share slope ``slope`` over ``years``, its residual variance per year
    (``resid_var``) and the mean requests a year (``requests``); ``leverage`` is the sum of
    squares of the years about their mean."""

    slope: float
    resid_var: float
    requests: float
    leverage: float
    years: tuple[int, ...]


def share_slope(
    counts: Mapping[int, float], national: Mapping[int, float], until: int, n: int = SHARE_YEARS
) -> ShareSlope | None:
    """The LA's log-share line over its last ``n`` years up to ``until`` with a positive
    count and England's figure (None with fewer than 3)."""
    years = [
        y for y in sorted(counts) if y <= until and counts[y] > 0 and national.get(y, 0.0) > 0
    ][-n:]
    if len(years) < 3:
        return None
    x = np.array(years, dtype=float)
    v = np.log([counts[y] / national[y] for y in years])
    slope, intercept = np.polyfit(x, v, 1)
    r = v - (slope * x + intercept)
    return ShareSlope(
        slope=float(slope),
        resid_var=float(r @ r) / (len(years) - 2),
        requests=float(np.mean([counts[y] for y in years])),
        leverage=float(((x - x.mean()) ** 2).sum()),
        years=tuple(years),
    )


@dataclass(frozen=True)
class Pool:
    """The distribution of share slopes across LAs: mean ``mu``, between-LA variance
    ``tau2``, and the common quasi-Poisson dispersion ``dispersion`` of a year's log share
    about its line (variance ``dispersion / requests``)."""

    mu: float
    tau2: float
    dispersion: float
    n_las: int

    def sampling_var(self, s: ShareSlope) -> float:
        """The variance of an LA's slope about its true one."""
        return self.dispersion / max(s.requests, 1.0) / s.leverage


def pool_slopes(slopes: Sequence[ShareSlope]) -> Pool:
    """The method-of-moments (DerSimonian-Laird) estimates of the slopes' mean and
    between-LA variance, weighting each slope by its inverse sampling variance."""
    if not slopes:
        return Pool(0.0, 0.0, 0.0, 0)
    dispersion = float(np.median([s.resid_var * s.requests for s in slopes]))
    if len(slopes) < 3 or dispersion <= 0:
        c = np.array([s.slope for s in slopes])
        return Pool(float(c.mean()), float(c.var()), max(dispersion, 0.0), len(slopes))
    c = np.array([s.slope for s in slopes])
    v = np.array([dispersion / max(s.requests, 1.0) / s.leverage for s in slopes])
    w = 1.0 / v
    mu = float((w * c).sum() / w.sum())
    q = float((w * (c - mu) ** 2).sum())
    tau2 = max(0.0, (q - (len(c) - 1)) / float(w.sum() - (w**2).sum() / w.sum()))
    return Pool(mu, tau2, dispersion, len(slopes))


def shrink(s: ShareSlope | None, pool: Pool) -> tuple[float, float]:
    """The LA's shrunk share slope and its posterior variance (the pool's mean and
    between-LA variance for an LA with too short a history)."""
    if s is None or pool.n_las == 0:
        return pool.mu, pool.tau2
    v = pool.sampling_var(s)
    if pool.tau2 <= 0.0:
        return pool.mu, 0.0
    b = v / (v + pool.tau2)
    return pool.mu + (1.0 - b) * (s.slope - pool.mu), (1.0 - b) * v


def national_growth(
    national: Mapping[int, float], until: int, n: int = NATIONAL_YEARS
) -> tuple[float, float, tuple[int, ...]] | None:
    """England's log growth (the mean of its last ``n`` annual log growths up to
    ``until``, each weighing :data:`NATIONAL_DECAY` of the next), its variance (the
    weighted mean's, from the growths' spread) and the years of the growths (None with no
    growth)."""
    years = [y for y in sorted(national) if y <= until and national[y] > 0]
    pairs = [y for y in years if y - 1 in years][-n:]
    if not pairs:
        return None
    g = np.array([math.log(national[y] / national[y - 1]) for y in pairs])
    w = NATIONAL_DECAY ** np.arange(len(g))[::-1]
    w = w / w.sum()
    var = float(np.var(g, ddof=1)) * float((w**2).sum()) if len(g) > 1 else 0.0
    return float(w @ g), var, tuple(pairs)


def national_shock_sd(
    national: Mapping[int, float], until: int, n: int = NATIONAL_YEARS
) -> tuple[float, int] | None:
    """The spread of England's year shocks: the root mean square of its one-year-ahead
    errors, each year's log growth against :func:`national_growth` of the years before
    (every year up to ``until`` with one), and their number (None with none). A shock
    moves the level for good (a random walk), so its variance adds up year on year."""
    years = sorted(y for y in national if y <= until and national[y] > 0)
    errors = []
    for y in years:
        if y - 1 not in years:
            continue
        prior = national_growth(national, y - 1, n)
        if prior is None:
            continue
        errors.append(math.log(national[y] / national[y - 1]) - prior[0])
    if not errors:
        return None
    return float(np.sqrt(np.mean(np.square(errors)))), len(errors)


@dataclass(frozen=True)
class PooledTrend:
    """An LA's damped, pooled request trend: the log growth ``log_growth`` (England's plus
    the LA's shrunk share slope) with its variance, the damping, and what it came from."""

    log_growth: float
    var: float
    damping: float
    national: float
    share_own: float | None
    share_shrunk: float
    shrinkage: float  # the weight on the pool's mean (B), 1 without an own slope
    pool: Pool
    years: tuple[int, ...]

    @property
    def growth(self) -> float:
        """The undamped annual growth, exp(log_growth) - 1."""
        return math.expm1(self.log_growth)

    def first_year_growth(self) -> float:
        return math.expm1(damped_log_multiplier(self.log_growth, self.damping, 1.0))


def pooled_trend(
    counts: Mapping[int, float],
    national: Mapping[int, float],
    until: int,
    pool: Pool,
    damping: float = DEFAULT_DAMPING,
) -> PooledTrend | None:
    """The LA's request trend as of ``until`` (None without two years of England's
    requests)."""
    nat = national_growth(national, until)
    if nat is None:
        return None
    b_nat, var_nat, years = nat
    own = share_slope(counts, national, until)
    c, var_c = shrink(own, pool)
    if own is None or pool.tau2 <= 0:
        weight = 1.0
    else:
        v = pool.sampling_var(own)
        weight = v / (v + pool.tau2)
    return PooledTrend(
        log_growth=b_nat + c,
        var=var_nat + var_c,
        damping=damping,
        national=b_nat,
        share_own=None if own is None else own.slope,
        share_shrunk=c,
        shrinkage=weight,
        pool=pool,
        years=years,
    )


@functools.cache
def _bundled_histories() -> tuple[tuple[dict[int, float], ...], dict[int, float]]:
    ds = load_dataset(None)
    england = ds.england()
    national = dict(england.series("requests_received")) if england is not None else {}
    las = tuple(
        dict(clean_history(ds.la(code))[0].series("requests_received")) for code, _ in ds.las()
    )
    return las, national


def forecast(
    counts: Mapping[int, float], trend: PooledTrend | None, until: int, horizon: int
) -> float | None:
    """Requests in year ``until + horizon``: the last published count moved by the damped
    trend (None without a positive count in ``until``)."""
    last = counts.get(until, 0.0)
    if last <= 0:
        return None
    if trend is None:
        return last
    return last * math.exp(damped_log_multiplier(trend.log_growth, trend.damping, horizon))


def validation_errors(
    las: Sequence[Mapping[int, float]],
    national: Mapping[int, float],
    origin_until: int,
    damping: float,
    score_until: int,
    horizons: int = VALIDATION_HORIZONS,
) -> list[tuple[int, float]]:
    """(horizon, absolute percentage error) of every LA's requests forecast from data to
    ``origin_until`` with ``damping``, for the years up to ``score_until``."""
    cut = {y: v for y, v in national.items() if y <= origin_until}
    pool = _pool(las, cut, origin_until)
    out = []
    for counts in las:
        own = {y: v for y, v in counts.items() if y <= origin_until}
        trend = pooled_trend(own, cut, origin_until, pool, damping)
        if trend is None:
            continue  # no trend to damp
        for h in range(1, horizons + 1):
            year = origin_until + h
            actual = counts.get(year, 0.0)
            if year > score_until or actual <= 0:
                continue
            f = forecast(own, trend, origin_until, h)
            if f is not None:
                out.append((h, abs(f - actual) / actual * 100.0))
    return out


def select_damping(
    las: Sequence[Mapping[int, float]], national: Mapping[int, float], until: int
) -> tuple[float, float | None]:
    """The damping of :data:`DAMPING_GRID` chosen by the forecasts from every earlier
    origin (data to ``o < until``), scored on the years up to ``until``, and its mean
    absolute percentage error (:data:`DEFAULT_DAMPING` and None where nothing can be
    scored). By the one-standard-error rule (Breiman et al., 1984; Hastie, Tibshirani and
    Friedman, 2009, 7.10): the most damped factor whose mean error is within one standard
    error of the best's, since a few origins cannot tell close factors apart and the more
    damped one compounds least."""
    scores: list[tuple[float, float, float]] = []
    for phi in DAMPING_GRID:
        errors = [
            e
            for o in range(until - VALIDATION_HORIZONS, until)
            for _, e in validation_errors(las, national, o, phi, until)
        ]
        if errors:
            se = float(np.std(errors, ddof=1)) / math.sqrt(len(errors)) if len(errors) > 1 else 0
            scores.append((phi, float(np.mean(errors)), se))
    if not scores:
        return DEFAULT_DAMPING, None
    _, best, se = min(scores, key=lambda x: x[1])
    phi, score, _ = min((x for x in scores if x[1] <= best + se), key=lambda x: x[0])
    return phi, score


def _pool(las: Sequence[Mapping[int, float]], national: Mapping[int, float], until: int) -> Pool:
    return pool_slopes([s for c in las if (s := share_slope(c, national, until)) is not None])


@functools.cache
def bundled_pool(until: int) -> Pool:
    """The pool of every bundled LA's share slope as of ``until`` (read from the bundled
    data, cut at ``until``, whatever data the LA's own estimates read)."""
    las, national = _bundled_histories()
    return _pool(las, {y: v for y, v in national.items() if y <= until}, until)


@functools.cache
def bundled_damping(until: int) -> tuple[float, float | None]:
    """:func:`select_damping` on every bundled LA and England, as of ``until``."""
    las, national = _bundled_histories()
    return select_damping(las, national, until)


def la_pooled_trend(h: LAHistory, england: LAHistory | None, until: int) -> PooledTrend | None:
    """:func:`pooled_trend` for an LA's history against England's (the bundled pool and
    the damping chosen on the bundled LAs as of ``until``)."""
    national = england.series("requests_received") if england is not None else {}
    phi, _ = bundled_damping(until)
    return pooled_trend(h.series("requests_received"), national, until, bundled_pool(until), phi)
