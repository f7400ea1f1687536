"""The teams' growth: the EP team and the coordinators growing as the assessments they
complete have (``assessment.ep_fte_growth`` and ``plan.coordinator_growth``, one
estimate for both teams).

The trend is a Poisson log-linear regression of assessments completed (plans issued plus
decisions not to issue) over five years, the growth of what the teams deliver, with its
slope's uncertainty. The estimates keep the parameters' defaults (no growth: the teams
follow their workload, below) and carry only the uncertainty; with ``fitted=True``
(calibration) ``growth`` is the trend, held between -10% and +30% a year (*assumption*:
teams are not cut by more than a tenth a year nor grown by more than 30%), at which the
capacity fit's replay of history grows its fixed teams.

The teams' response to their workload (``capacity.strength`` and ``capacity.lag_days``,
simulation/teams.py) is estimated here too (:func:`response`):

- **strength**, the elasticity of capacity to workload: within each LA, the slope of log
  assessments completed on log requests received, 2016 to the year before the start (at
  least 5 years). One LA's slope is noisy (a median standard error of about 0.17 over 140
  LAs), so it is shrunk towards the pooled mean of all the bundled LAs' slopes
  (random-effects meta-analysis, DerSimonian-Laird between-LA variance): the posterior
  mean and sd, the sd entering the parameter uncertainty (normal, a shift).
- **lag_days**, the recruitment lag: pooled across LAs, because one LA's eight annual
  changes cannot separate a lag from noise. A regression of the yearly log growth of
  completions on this year's and last year's log growth of requests (all LAs, 2017 on)
  gives the lagged effect as a share phi of the immediate one; a geometric lag with that
  ratio a year is an exponential smoothing with time constant -1/ln(phi) years. Its sd
  (delta method) enters the parameter uncertainty (normal on the log).
- **priority_share**, the share of the simplest cases the teams serve first (teams.Lanes):
  the LA's lowest published share within 20 weeks where below the bundled LAs' median
  lowest share, else that median (:func:`_priority`); a beta.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from simulation.parameters import CapacityResponse
from simulation.uncertainty import Component, Uncertain

from ..breaks import clean_history
from ..estimation import PoissonTrend, poisson_trend
from ..la_data import LAHistory, load_dataset
from .common import Estimate, SectionEstimate, assessments_completed

__all__ = [
    "GROWTH_LIMITS",
    "GrowthEstimate",
    "ResponseEstimate",
    "capacity_growth",
    "estimate",
    "pooled_response",
    "response",
]

#: Growth of the teams' output held inside this range (*assumption*).
GROWTH_LIMITS = (-0.1, 0.3)


#: The first year of the history the response's estimates read.
RESPONSE_FROM = 2016
#: Years an LA needs for its own slope of completions on requests.
MIN_YEARS = 5
#: The lag ratio phi is held inside this range (a lag of 0.3 to 9.5 years).
PHI_LIMITS = (0.05, 0.9)


@dataclass(frozen=True)
class Slope:
    """One LA's slope of log completions on log requests and its standard error."""

    slope: float
    se: float
    years: tuple[int, int]


@dataclass(frozen=True)
class PooledResponse:
    """The pooled estimates: the mean slope and between-LA variance (``tau2``) of the
    LAs' slopes, and the lag (days) with the sd of its log."""

    mean: float
    tau2: float
    n_las: int
    lag_days: float
    lag_log_sd: float
    phi: float
    n_changes: int


@dataclass(frozen=True)
class ResponseEstimate:
    """The LA's response: strength (shrunk) and its sd, the lag and its log sd."""

    strength: float
    strength_sd: float
    own: Slope | None
    pooled: PooledResponse


def la_slope(h: LAHistory, until: int) -> Slope | None:
    """The LA's slope of log assessments completed on log requests, RESPONSE_FROM to
    ``until`` (None with fewer than MIN_YEARS years or requests that did not move)."""
    req, done = h.series("requests_received"), assessments_completed(h)
    years = [
        y for y in range(RESPONSE_FROM, until + 1) if req.get(y, 0.0) > 0 and done.get(y, 0.0) > 0
    ]
    if len(years) < MIN_YEARS:
        return None
    x = np.log([req[y] for y in years])
    v = np.log([done[y] for y in years])
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx < 1e-4:
        return None
    b = float(xc @ (v - v.mean())) / sxx
    resid = v - v.mean() - b * xc
    se = math.sqrt(max(float(resid @ resid) / (len(years) - 2), 1e-6) / sxx)
    if not (math.isfinite(b) and math.isfinite(se)):
        return None
    return Slope(b, se, (years[0], years[-1]))


def _changes(h: LAHistory, until: int) -> list[tuple[float, float, float]]:
    """(request growth this year, last year, completions growth), in logs, to ``until``."""
    req, done = h.series("requests_received"), assessments_completed(h)
    out = []
    for y in range(RESPONSE_FROM + 1, until + 1):
        if all(req.get(k, 0.0) > 0 for k in (y, y - 1, y - 2)) and all(
            done.get(k, 0.0) > 0 for k in (y, y - 1)
        ):
            out.append(
                (
                    math.log(req[y] / req[y - 1]),
                    math.log(req[y - 1] / req[y - 2]),
                    math.log(done[y] / done[y - 1]),
                )
            )
    return out


@functools.lru_cache(maxsize=8)
def pooled_response(until: int) -> PooledResponse:
    """The pooled slope and lag over every bundled LA, on flows to ``until``."""
    ds = load_dataset(None)
    slopes, rows = [], []
    for _, code in ds.las():
        h, _ = clean_history(ds.la(code))
        s = la_slope(h, until)
        if s is not None:
            slopes.append(s)
        rows += _changes(h, until)
    if len(slopes) < 2:  # before 2020: no LA has MIN_YEARS of history
        return _fallback(rows)
    b = np.array([s.slope for s in slopes])
    w = 1.0 / np.array([s.se for s in slopes]) ** 2
    mean = float(w @ b / w.sum())
    q = float(w @ (b - mean) ** 2)
    tau2 = max(0.0, (q - (len(b) - 1)) / (w.sum() - float(w @ w) / w.sum()))
    mean = float((b / (1 / w + tau2)).sum() / (1 / (1 / w + tau2)).sum())
    lag_days, log_sd, phi = _lag(rows)
    return PooledResponse(mean, tau2, len(b), lag_days, log_sd, phi, len(rows))


def _fallback(rows: list[tuple[float, float, float]]) -> PooledResponse:
    """Too little history for slopes: the parameter's default strength with a between-LA
    sd of 0.2 (*assumption*: the size of the spread the bundled LAs' slopes show)."""
    lag_days, log_sd, phi = _lag(rows)
    return PooledResponse(CapacityResponse().strength, 0.04, 0, lag_days, log_sd, phi, len(rows))


def _lag(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The pooled lag (days), the sd of its log and phi; the default lag with a log sd
    of 0.5 (*assumption*) with under 30 LA-years."""
    if len(rows) < 30:
        return CapacityResponse().lag_days, 0.5, math.exp(-365.25 / CapacityResponse().lag_days)
    a = np.array(rows)
    design = np.c_[np.ones(len(a)), a[:, :2]]
    coef, *_ = np.linalg.lstsq(design, a[:, 2], rcond=None)
    resid = a[:, 2] - design @ coef
    cov = float(resid @ resid) / (len(a) - 3) * np.linalg.inv(design.T @ design)
    now, lagged = float(coef[1]), float(coef[2])
    phi = min(max(lagged / now, PHI_LIMITS[0]), PHI_LIMITS[1])
    # delta method: phi = lagged / now; log T = log(-1 / ln phi)
    grad_phi = np.array([0.0, -lagged / now**2, 1.0 / now])
    phi_sd = math.sqrt(float(grad_phi @ cov @ grad_phi))
    log_sd = phi_sd / (phi * abs(math.log(phi)))
    return -365.25 / math.log(phi), log_sd, phi


def response(h: LAHistory, until: int) -> ResponseEstimate:
    """The LA's strength, its own slope shrunk towards the pooled mean, and the pooled
    lag, on flows to ``until``."""
    pooled = pooled_response(until)
    own = la_slope(h, until)
    if own is None or not pooled.tau2 > 0:
        sd = math.sqrt(pooled.tau2) if pooled.tau2 > 0 else 0.1
        return ResponseEstimate(pooled.mean, sd, own, pooled)
    prec = 1 / own.se**2 + 1 / pooled.tau2
    strength = (own.slope / own.se**2 + pooled.mean / pooled.tau2) / prec
    return ResponseEstimate(strength, math.sqrt(1 / prec), own, pooled)


def la_floor(h: LAHistory, until: int) -> tuple[float, float, int] | None:
    """The LA's lowest share of plans issued within 20 weeks (excluding exceptions),
    RESPONSE_FROM to ``until`` (years with at least 20 plans): (share, plans, year)."""
    within = h.series("issued_within_20wks_excl_exceptions")
    plans = h.series("plans_issued_excl_exceptions")
    rows = [
        (within[y] / plans[y], plans[y], y)
        for y in range(RESPONSE_FROM, until + 1)
        if plans.get(y, 0.0) >= 20 and y in within
    ]
    return min(rows) if rows else None


@functools.lru_cache(maxsize=8)
def pooled_floor(until: int) -> float:
    """The median over the bundled LAs of their lowest share within 20 weeks (0.225 on
    data to 2024); 0 with no LA's history."""
    ds = load_dataset(None)
    floors = []
    for _, code in ds.las():
        f = la_floor(clean_history(ds.la(code))[0], until)
        if f is not None:
            floors.append(f[0])
    return float(np.median(floors)) if floors else 0.0


def _priority(h: LAHistory, until: int) -> tuple[float, Uncertain | None, Estimate]:
    """capacity.priority_share: the share an LA keeps on time under pressure. Its own
    lowest share within 20 weeks where that is below the pooled median floor (it has
    shown what it holds when pressed); else the pooled median (an LA never pressed has
    not shown it holds more). Uncertainty: a beta on that year's plans (own), or on 50
    plans (pooled: *assumption*, about the LAs' spread around the median)."""
    pooled = pooled_floor(until)
    own = la_floor(h, until)
    if own is not None and own[0] < pooled:
        q, n, note = own[0], own[1], f"its lowest share within 20 weeks ({own[2]})"
    else:
        q, n, note = pooled, 50.0, "the median of the bundled LAs' lowest shares"
    q = min(max(q, 0.0), 1.0)
    estimate = Estimate("capacity.priority_share", round(q, 3), f"{note}: {q:.1%}")
    if q <= 0 or q >= 1:
        return q, None, estimate
    u = Uncertain(
        "capacity_priority",
        "beta",
        {"a": q * n + 0.5, "b": (1 - q) * n + 0.5},
        (Component(("capacity.priority_share",), "logit", q),),
        "share within 20 weeks in the most pressed year",
    )
    return q, u, estimate


def _response_section(h: LAHistory, until: int) -> SectionEstimate:
    q, q_uncertain, q_note = _priority(h, until)
    r = response(h, until)
    p = r.pooled
    strength = min(max(r.strength, 0.0), 2.0)
    own = (
        f"its own slope {r.own.slope:.2f} (se {r.own.se:.2f}, {r.own.years[0]}-"
        f"{r.own.years[1]}) shrunk towards"
        if r.own is not None
        else "too short a history for its own slope: "
    )
    return SectionEstimate(
        values={"capacity": {"strength": strength, "lag_days": p.lag_days, "priority_share": q}},
        notes=(
            Estimate(
                "capacity.strength",
                round(strength, 3),
                f"log assessments completed on log requests: {own} the mean of "
                f"{p.n_las} LAs ({p.mean:.2f}, between-LA sd {math.sqrt(p.tau2):.2f})",
            ),
            Estimate(
                "capacity.lag_days",
                round(p.lag_days),
                f"pooled over {p.n_changes} LA-years: completions' growth follows last "
                f"year's request growth at {p.phi:.2f} of this year's, a geometric lag",
            ),
            q_note,
        ),
        uncertainty=(
            Uncertain(
                "capacity_strength",
                "normal",
                {"mean": 0.0, "sd": r.strength_sd},
                (Component(("capacity.strength",), "shift", strength),),
                "slope of log completions on log requests, shrunk to the pooled LAs' mean",
            ),
            Uncertain(
                "capacity_lag",
                "normal",
                {"mean": 0.0, "sd": p.lag_log_sd},
                (Component(("capacity.lag_days",), "log", p.lag_days),),
                "pooled distributed lag of completions' growth on request growth",
            ),
        )
        + ((q_uncertain,) if q_uncertain is not None else ()),
    )


@dataclass(frozen=True, kw_only=True)
class GrowthEstimate(SectionEstimate):
    """The teams' growth: ``trend`` the regression (None with under 2 years), ``growth``
    the rate the teams grow at (0 unless fitted from at least 3 years)."""

    trend: PoissonTrend | None
    growth: float


def capacity_growth(h: LAHistory, until: int) -> PoissonTrend | None:
    """The trend of assessments completed (plans issued plus not issued) up to ``until``."""
    return poisson_trend(assessments_completed(h), until)


def estimate(
    h: LAHistory, england: LAHistory | None, as_of: int, *, fitted: bool = False
) -> GrowthEstimate:
    """The teams' growth from January ``as_of`` (flows to the year before), and their
    response to workload."""
    g = _growth(h, as_of, fitted=fitted)
    r = _response_section(h, as_of - 1)
    return GrowthEstimate(
        values={**g.values, **r.values},
        notes=g.notes + r.notes,
        uncertainty=g.uncertainty + r.uncertainty,
        trend=g.trend,
        growth=g.growth,
    )


def _growth(h: LAHistory, as_of: int, *, fitted: bool) -> GrowthEstimate:
    trend = capacity_growth(h, as_of - 1)
    if trend is None or len(trend.years) < 3:
        return GrowthEstimate(values={}, trend=trend, growth=0.0)
    uncertainty = (
        Uncertain(
            "capacity_growth",
            "normal",
            {"mean": 0.0, "sd": trend.sd_slope},
            (Component(("assessment.ep_fte_growth", "plan.coordinator_growth"), "log1p", 0.0),),
            f"Poisson log-linear regression of assessments completed, "
            f"{trend.years[0]}-{trend.years[-1]}",
        ),
    )
    if not fitted:
        return GrowthEstimate(values={}, uncertainty=uncertainty, trend=trend, growth=0.0)
    g = float(min(max(trend.growth, GROWTH_LIMITS[0]), GROWTH_LIMITS[1]))
    # The replay of history (calibration/fitting.py) holds its teams fixed and grows them
    # at this trend; the projection's teams follow their workload instead
    # (capacity.strength), so the trend is not also set as the projection's growth.
    return GrowthEstimate(
        values={},
        notes=(
            Estimate(
                "assessment.ep_fte_growth",
                0.0,
                f"the capacity fit's replay grows the teams at the Poisson log-linear trend "
                f"of assessments completed {trend.years[0]}-{trend.years[-1]} "
                f"({trend.growth:+.1%} a year); the projection's teams follow their "
                f"workload (capacity.strength) instead",
            ),
        ),
        uncertainty=uncertainty,
        trend=trend,
        growth=g,
    )
