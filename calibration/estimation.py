"""The distributions of estimates: the statistical tools the section estimators
(:mod:`calibration.estimators`) build each estimate's uncertainty with.

* :func:`poisson_trend`: a Poisson log-linear regression of a yearly count on the year
  (maximum likelihood with scipy), giving the level in the last year and the annual growth
  with their joint (bivariate normal) uncertainty. Yearly counts vary far more than a
  Poisson count would, so the covariance is scaled by the Pearson dispersion
  (quasi-Poisson); :meth:`PoissonTrend.cov_at_start` adds a year's own overdispersed spread
  about the line to the level (a predictive interval).
* :func:`beta_rate`: a rate with a numerator and a denominator as a beta distribution with
  the pooled rate of the recent years as its mean. Its spread is the binomial posterior's
  (uniform prior) or, when the rate moved more from year to year than sampling explains,
  the predictive spread of the yearly rates: the between-year variance times (1 + 1/n),
  the variance of a new year's rate about the mean of n years. A forecast's rate is the
  rate of years not yet seen, which vary about the LA's mean as the past years did.
  :func:`beta_item` turns one into the uncertain quantity of a parameter.

Which quantity of which section uses which tool is in each section's module and in
docs/architecture.md (Calibration and parameter uncertainty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from simulation.uncertainty import Component, Uncertain

__all__ = [
    "TREND_LIMITS",
    "BetaRate",
    "PoissonTrend",
    "beta_item",
    "beta_rate",
    "clip_trend",
    "poisson_trend",
]

TREND_YEARS = 5
RECENT_YEARS = 3
#: Trends are held inside this range, as the defaults' are: a five-year line through a
#: surge is not a growth rate to compound for a decade.
TREND_LIMITS = (-0.2, 0.3)


@dataclass(frozen=True)
class PoissonTrend:
    """A Poisson log-linear fit ``log mu = a + b (year - last)``: ``level`` = exp(a), the
    fitted value in the last year; ``growth`` = exp(b) - 1; ``cov`` the quasi-Poisson
    covariance of (a, b); ``dispersion`` the Pearson statistic over its degrees of freedom
    (at least 1)."""

    years: tuple[int, ...]
    counts: tuple[float, ...]
    level: float
    growth: float
    cov: tuple[tuple[float, float], tuple[float, float]]
    dispersion: float

    @property
    def sd_log_level(self) -> float:
        return math.sqrt(self.cov[0][0])

    def cov_at_start(self) -> list[list[float]]:
        """The predictive covariance of (log rate at 1 January after the last year, slope):
        the model's request rate starts there, half a year on from the last year's
        mid-point; a year's level also strays from the line by the overdispersed Poisson
        spread, dispersion / level on the log scale."""
        t = np.array([[1.0, 0.5], [0.0, 1.0]])
        cov = t @ np.array(self.cov) @ t.T
        cov[0, 0] += self.dispersion / max(self.level, 1.0)
        return cov.tolist()  # type: ignore[no-any-return]

    @property
    def sd_slope(self) -> float:
        return math.sqrt(self.cov[1][1])


def poisson_trend(
    series: dict[int, float], until: int, n: int = TREND_YEARS
) -> PoissonTrend | None:
    """Fit the last ``n`` years up to ``until`` (None with fewer than 2 years). With 2 years
    the line is exact and the dispersion cannot be estimated: it is taken as 1."""
    years = [y for y in sorted(series) if y <= until and series[y] >= 0][-n:]
    if len(years) < 2 or sum(series[y] for y in years) <= 0:
        return None
    last = years[-1]
    x = np.array([y - last for y in years], dtype=float)
    c = np.array([series[y] for y in years], dtype=float)
    design = np.column_stack([np.ones_like(x), x])

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = design @ theta
        mu = np.exp(eta)
        return float(np.sum(mu - c * eta)), design.T @ (mu - c)

    start = np.array([math.log(max(c.mean(), 0.5)), 0.0])
    fit = optimize.minimize(nll, start, jac=True, method="BFGS")
    theta = fit.x
    mu = np.exp(design @ theta)
    fisher = design.T @ (mu[:, None] * design)
    df = len(years) - 2
    pearson = float(np.sum((c - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / df) if df > 0 else 1.0
    cov = np.linalg.inv(fisher) * dispersion
    return PoissonTrend(
        years=tuple(years),
        counts=tuple(float(v) for v in c),
        level=float(math.exp(theta[0])),
        growth=float(math.expm1(theta[1])),
        cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        dispersion=dispersion,
    )


@dataclass(frozen=True)
class BetaRate:
    """A rate as Beta(a, b), from ``years`` of numerator and denominator."""

    a: float
    b: float
    years: tuple[int, ...]
    between_years: bool  # spread from the yearly rates rather than sampling

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


def beta_rate(
    num: dict[int, float], den: dict[int, float], until: int, n: int = RECENT_YEARS
) -> BetaRate | None:
    """The beta distribution of a rate over the last ``n`` years up to ``until`` that have
    both a numerator and a positive denominator (None if none)."""
    years = [y for y in sorted(set(num) & set(den)) if y <= until and den[y] > 0][-n:]
    if not years:
        return None
    x = min(sum(num[y] for y in years), sum(den[y] for y in years))
    total = sum(den[y] for y in years)
    a, b = 1.0 + x, 1.0 + total - x
    m = x / total
    if len(years) >= 2 and 0 < m < 1:
        rates = [min(num[y] / den[y], 1.0) for y in years]
        var = float(np.var(rates, ddof=1)) * (1 + 1 / len(years))  # a new year's, predictive
        if var > a * b / ((a + b) ** 2 * (a + b + 1)):
            concentration = max(2.0, m * (1 - m) / var - 1)
            return BetaRate(m * concentration, (1 - m) * concentration, tuple(years), True)
    return BetaRate(a, b, tuple(years), False)


def clip_trend(g: float) -> float:
    """``g`` held inside TREND_LIMITS."""
    return float(min(max(g, TREND_LIMITS[0]), TREND_LIMITS[1]))


def beta_item(
    name: str, rate: BetaRate | None, target: str, point: float, what: str
) -> list[Uncertain]:
    """The uncertain quantity ``name`` moving ``target`` (on the logit scale), a beta with
    ``rate``'s concentration centred on ``point``, the value the parameters hold; none
    without a rate or for a point of 0 or 1."""
    if rate is None or not 0.0 < point < 1.0:
        return []
    how = "spread of the yearly rates" if rate.between_years else "binomial posterior"
    # Centred on the value the parameters hold (the posterior's concentration, the
    # estimate's mean): a uniform prior would otherwise pull rare events' draws upwards.
    concentration = rate.a + rate.b
    return [
        Uncertain(
            name,
            "beta",
            {"a": point * concentration, "b": (1 - point) * concentration},
            (Component((target,), "logit", point),),
            f"{what}, {rate.years[0]}-{rate.years[-1]} ({how})",
        )
    ]
