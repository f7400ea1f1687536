"""Demand: the children on SEN support, the requests for assessment they make, and the
requests' trend (parameter section ``demand``).

SEN2 publishes requests received by year, not by age: new plans by age at start stand in
for the age split. The school-age share of requests comes from the SEN support pool, as a
hazard; the rest (under-5s, post-16) arrive directly. The pool is England's SEN support
count times the LA's share of England's plans (*assumption*: SEN support by LA is not in
SEN2), spread evenly over Reception to Year 11, with identification keeping each age's pool
steady.

The trend is damped and pooled (:mod:`calibration.pooling`): England's growth (a mean
of its last five annual growths weighted to the recent, so a change of pace shows at once
and the 2020 shock fades) plus the LA's trend in its share of England's requests, shrunk
towards all LAs' by empirical Bayes, damped by the factor the rolling-origin validation
chose as of the start (``demand.request_trend_damping``). The log-linear trend of
requests over five years is kept for what sizes the teams next year
(:meth:`DemandEstimate.agreed`); an LA with no pooled trend (England's requests
unpublished) keeps it, undamped. With ``regression=True`` (calibration) the request level
is moved to the Poisson regression's rate at the start. The uncertainty is the
regression's level (a year's own spread about the line added) and the pooled trend's
(England's growth and the posterior of the LA's share slope), drawn as a bivariate
normal; the trend's draw is damped as the trend is, so the bands widen with the horizon
up to the damped trend's bound. England's year shocks (a random walk in each run year's
request multiplier, the same draw for every LA) widen them further. The age split is not
varied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulation.parameters import Parameters
from simulation.uncertainty import Component, Uncertain
from simulation.vocabulary import BAND_NAMES, N_AGES

from ..estimation import PoissonTrend, clip_trend, poisson_trend
from ..la_data import DataError, LAHistory, national_need_shares, national_sen_support_and_ehcp
from ..pooling import PooledTrend, la_pooled_trend, national_shock_sd
from .common import (
    TREND_YEARS,
    Estimate,
    SectionEstimate,
    flow,
    log_linear_trend,
    mean_recent,
    recent,
)

__all__ = ["POOL_AGES", "REQUEST_LEVEL_TARGETS", "DemandEstimate", "band_shares", "estimate"]

POOL_AGES = range(4, 16)  # Reception to Year 11: school SEN support
#: What a change in the level of requests moves: the children on SEN support (with the
#: identification that keeps that pool steady) and the direct requests. Moving the hazard
#: instead would be damped as the pool it drains shrinks.
REQUEST_LEVEL_TARGETS = (
    "demand.sen_support_by_age",
    "demand.identification_by_age",
    "demand.direct_requests_by_age",
)
#: Weeks in a year, for weekly volumes.
WEEKS = 52.18


@dataclass(frozen=True, kw_only=True)
class DemandEstimate(SectionEstimate):
    """Demand's estimates, and what the later sections build on: last year's published
    requests and their log-linear trend (which size the teams, the panel and the work in
    progress at the start, whichever trend the parameters hold), the age-band shares of
    new plans, and the Poisson regression of requests (None with under 2 years)."""

    requests_last_year: float
    loglinear_trend: float
    band_shares: np.ndarray
    regression: PoissonTrend | None
    pooled: PooledTrend | None = None

    @property
    def weekly_requests(self) -> float:
        """Requests a week next year, at the log-linear trend."""
        return self.requests_last_year * (1 + self.loglinear_trend) / WEEKS

    def agreed(self, p_refuse: float) -> float:
        """Assessments agreed next year: the requests at the log-linear trend, less those
        refused."""
        return self.requests_last_year * (1 - p_refuse) * (1 + self.loglinear_trend)


def band_shares(h: LAHistory, until: int, prefix: str, england: LAHistory | None) -> np.ndarray:
    """Recent shares by age band of a banded SEN2 series (new plans by age at start),
    England's where the LA publishes none."""
    for src in (h, england):
        if src is None:
            continue
        totals = np.array([sum(recent(src.series(f"{prefix}{b}"), until)) for b in BAND_NAMES])
        if totals.sum() > 0:
            return np.asarray(totals / totals.sum(), dtype=float)
    raise DataError(f"{h.la_name}: no {prefix}* series up to {until}, nor for England")


def _spread(values_by_band: list[float], ages_by_band: list[range]) -> list[float]:
    out = [0.0] * N_AGES
    for v, ages in zip(values_by_band, ages_by_band, strict=True):
        for a in ages:
            out[a] += v / len(ages)
    return out


def _national_census(year: int) -> tuple[float, float]:
    """England's SEN support and EHCP pupils at the nearest January census on or before
    `year` that published both (the series has gaps), else the latest."""
    for y in range(year, year - 6, -1):
        try:
            return national_sen_support_and_ehcp(y)
        except DataError:
            continue
    return national_sen_support_and_ehcp(None)


def _at_start(
    regression: PoissonTrend, h: LAHistory, pooled: PooledTrend | None
) -> tuple[float, float]:
    """The trend (the pooled one, else the regression's, clipped) and the factor moving
    last year's published count to the regression's rate at 1 January, half a year on
    from its fitted level at the trend's first-year pace."""
    trend = clip_trend(regression.growth if pooled is None else pooled.first_year_growth())
    observed = h.get("requests_received", regression.years[-1]) or regression.level
    at_start = regression.level * (1.0 + trend) ** 0.5
    trend = clip_trend(regression.growth if pooled is None else pooled.growth)
    return trend, at_start / observed if observed > 0 else 1.0


def _pooled_note(p: PooledTrend, trend: float) -> str:
    own = "no share slope of its own" if p.share_own is None else f"own {p.share_own:+.3f}"
    bound = math.exp(p.log_growth * p.damping / (1 - p.damping)) if p.damping < 1 else math.inf
    return (
        f"damped pooled trend: England's requests_received growth {math.expm1(p.national):+.1%}"
        f" (weighted to the recent, {p.years[0]}-{p.years[-1]}) plus the LA's log-share slope "
        f"{p.share_shrunk:+.3f} ({own}, shrunk {p.shrinkage:.2f} of the way to all "
        f"{p.pool.n_las} LAs' mean {p.pool.mu:+.3f}, between-LA sd {math.sqrt(p.pool.tau2):.3f})"
        f" = {trend:+.1%} a year, damped by {p.damping:.1f} a year (chosen by rolling-origin "
        f"validation; first year {p.first_year_growth():+.1%}, at most "
        f"x{bound:.2f} ever)"
    )


def _regression_note(regression: PoissonTrend, trend: float) -> str:
    return (
        f"Poisson log-linear regression of requests_received {regression.years[0]}-"
        f"{regression.years[-1]}: {regression.level:.0f} a year in {regression.years[-1]} "
        f"(sd {regression.sd_log_level:.3f} on the log scale), growth "
        f"{regression.growth:+.1%} (sd {regression.sd_slope:.3f})"
        + (" held at the limit" if trend != regression.growth else "")
    )


def _national_shock(
    england: LAHistory | None, last: int, as_of: int, years: int
) -> tuple[Uncertain, ...]:
    """England's year shocks, shared by every LA: a random walk in the log of each run
    year's request multiplier (a shock moves the level for good), its step the spread of
    England's one-year-ahead errors, drawn from a stream of its own so that all LAs run
    with the same replication seed draw the same shocks."""
    shock = national_shock_sd(england.series("requests_received"), last) if england else None
    if shock is None or shock[0] <= 0 or years < 1:
        return ()
    sd, n = shock
    cov = [[(min(i, j) + 1) * sd**2 for j in range(years)] for i in range(years)]
    return (
        Uncertain(
            "requests_national_shock",
            "mvnormal",
            {"mean": [0.0] * years, "cov": cov},
            tuple(
                Component((f"demand.request_multiplier_by_year.{as_of + j}",), "log", 0.0)
                for j in range(years)
            ),
            f"England's year shocks to requests_received: a random walk, step sd {sd:.3f} "
            f"(root mean square of {n} one-year-ahead errors of England's growth to {last}), "
            "shared by all LAs",
            shared=True,
        ),
    )


def _uncertainty(
    regression: PoissonTrend | None, pooled: PooledTrend | None
) -> tuple[Uncertain, ...]:
    if regression is None or len(regression.years) < 2:
        return ()
    cov = regression.cov_at_start()
    source = ""
    if pooled is not None:
        # The level's spread is the regression's; the trend's the pooled estimate's, drawn
        # apart from the level (its England part is not the LA's regression line).
        cov = [[cov[0][0], 0.0], [0.0, pooled.var]]
        source = "; trend: damped pooled trend (England's growth and the LA's shrunk share)"
    return (
        Uncertain(
            "requests",
            "mvnormal",
            {"mean": [0.0, 0.0], "cov": [list(r) for r in cov]},
            (
                Component(REQUEST_LEVEL_TARGETS, "log", 0.0),
                Component(("demand.request_trend",), "log1p", 0.0),
            ),
            f"Poisson log-linear regression of requests_received, "
            f"{regression.years[0]}-{regression.years[-1]} (dispersion "
            f"{regression.dispersion:.1f}){source}",
        ),
    )


def estimate(
    h: LAHistory,
    england: LAHistory | None,
    as_of: int,
    *,
    regression: bool = False,
    years: int = 5,
) -> DemandEstimate:
    """Demand from January ``as_of`` (flows to the year before) for a run of ``years``;
    with ``regression`` the level and trend of requests are the Poisson regression's (see
    the module). Long because it is the section's one estimator: the SEN support pool,
    the request level and its pooled, damped trend, the hazard by age and direct requests,
    each with its note and uncertainty beside it, in the order they build on each other."""
    last = as_of - 1
    requests = flow(h, england, "requests_received", last)
    req = mean_recent(requests, last, 1)
    if req is None:
        raise DataError(f"{h.la_name}: no requests_received up to {last}")
    loglinear = float(np.clip(log_linear_trend(requests, last), -0.2, 0.3))
    shares = band_shares(h, last, "newplans_age_", england)
    sen_nat, _ = _national_census(as_of)
    eng_total = england.get("ehcp_total_jan", as_of) if england else None
    la_total = float(h.get("ehcp_total_jan", as_of) or 0.0)
    la_share = la_total / eng_total if eng_total else 0.0
    pool_total = sen_nat * la_share
    pool = [0.0] * N_AGES
    for a in POOL_AGES:
        pool[a] = pool_total / len(POOL_AGES)
    school = shares[1] + shares[2]
    hazard = [0.0] * N_AGES
    for b, ages in ((1, range(5, 11)), (2, range(11, 16))):
        per_age_pool = sum(pool[a] for a in ages)
        for a in ages:
            hazard[a] = req * shares[b] / per_age_pool if per_age_pool else 0.0
    direct = _spread(
        [req * shares[0], 0.0, 0.0, req * shares[3], req * shares[4]],
        [range(2, 5), range(5, 6), range(11, 12), range(16, 20), range(20, 26)],
    )
    exit_rate = Parameters().demand.sen_support_exit_rate
    # Identification keeps each age's pool steady: it replaces leavers and requesters, and
    # at Reception (4) rebuilds the year group that ages on each September.
    ident = [pool[a] * (exit_rate + hazard[a]) for a in range(N_AGES)]
    ident[POOL_AGES[0]] = pool[POOL_AGES[0]] * (1 + exit_rate / 2)

    fit = poisson_trend(h.series("requests_received"), last)
    pooled = la_pooled_trend(h, england, last) if requests else None
    trend, factor, damping = loglinear, 1.0, 1.0
    trend_note = f"log-linear trend of requests_received over up to {TREND_YEARS} years to {last}"
    if pooled is not None:
        trend, damping = clip_trend(pooled.growth), pooled.damping
        trend_note = _pooled_note(pooled, trend)
    scaled = ""
    if regression and fit is not None:
        trend, factor = _at_start(fit, h, pooled)
        if pooled is None:
            trend_note = _regression_note(fit, trend)
        else:
            trend_note += f"; level: {_regression_note(fit, trend)}"
        scaled = f"; scaled by {factor:.3f} to the regression's rate at 1 January {as_of}"
        pool, ident, direct = ([v * factor for v in xs] for xs in (pool, ident, direct))
    need_new, _ = national_need_shares()
    notes = (
        Estimate("demand.request_trend", round(trend, 4), trend_note),
        Estimate(
            "demand.request_trend_damping",
            damping,
            "chosen by rolling-origin validation of every bundled LA's requests "
            f"(calibration/pooling.py) as of {last}"
            if pooled is not None
            else "undamped: no pooled trend (England's requests_received are not published)",
        ),
        Estimate(
            "demand.sen_support_by_age",
            round(pool_total * factor),
            f"England pupils on SEN support ({sen_nat:.0f}) x the LA's share of England's "
            f"plans ({la_share:.4f}), spread evenly over ages 4-15 (*assumption*){scaled}",
        ),
        Estimate(
            "demand.request_hazard_by_age",
            round(req * school),
            f"{req:.0f} requests in {last} split by the age bands of new plans; the "
            f"school-age share ({school:.2f}) comes from SEN support, the rest directly",
        ),
    )
    return DemandEstimate(
        values={
            "demand": {
                "sen_support_by_age": pool,
                "identification_by_age": ident,
                "request_hazard_by_age": hazard,
                "direct_requests_by_age": direct,
                "request_trend": trend,
                "request_trend_damping": damping,
                "need_shares": need_new,
            }
        },
        notes=notes,
        uncertainty=_uncertainty(fit, pooled)
        + (_national_shock(england, last, as_of, years) if pooled is not None else ()),
        requests_last_year=req,
        loglinear_trend=loglinear,
        band_shares=shares,
        regression=fit,
        pooled=pooled,
    )
