"""Estimates with their uncertainty, from an LA's published history.

Each uncertain quantity gets a distribution that a replication draws from
(:mod:`simulation.uncertainty`):

* **Requests**: a Poisson log-linear regression of ``requests_received`` on the year over
  the last five years up to the start (fitted by maximum likelihood with scipy), giving the
  level in the last year and the annual growth with their joint (bivariate normal)
  uncertainty. Yearly counts vary far more than a Poisson count would, so the covariance
  is scaled by the Pearson dispersion (quasi-Poisson), and the level's variance adds a
  year's own overdispersed spread about the line (a predictive interval). SEN2 does not
  publish requests by age, so the age split (from new plans by age at start) is not
  varied.
* **Rates with a numerator and a denominator** (refusals of requests, decisions not to
  issue, moves between mainstream and special schools): a beta distribution with the
  pooled rate of the recent years as its mean. Its spread is the binomial posterior's
  (uniform prior) or, when the rate moved more from year to year than sampling explains,
  the predictive spread of the yearly rates: the between-year variance times (1 + 1/n),
  the variance of a new year's rate about the mean of n years. A forecast's rate is the
  rate of years not yet seen, which vary about the LA's mean as the past years did.
* **Ceasing**: the level of every ceasing hazard, log-normal with the predictive spread of
  the yearly log ceasing rates (plans ceased over the January caseload), at least the
  Poisson spread.
* **Moves in**: normal with the predictive spread of the yearly stock-flow residuals.
* **Placement of new plans**: a Dirichlet for each phase around the estimated mix, as
  certain as one year of that phase's new plans would make it (*assumption*: SEN2 does not
  publish new plans by placement for an LA, so the mix is derived, not observed).
* **Team capacity growth**: a Poisson log-linear regression of assessments completed (plans
  issued plus decisions not to issue), the growth of what the teams deliver.

Simulation-based fitting (:mod:`calibration.fitting`) adds the capacity of the EP and
coordinator teams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from simulation.parameters import Parameters
from simulation.uncertainty import Component, Uncertain
from simulation.vocabulary import AGE_BANDS, BAND_NAMES, PHASES

from .defaults import assessments_completed, moves_in_by_year, net_exits_by_year
from .la_data import LAHistory

__all__ = [
    "BetaRate",
    "PoissonTrend",
    "beta_rate",
    "capacity_growth",
    "estimate_uncertainty",
    "poisson_trend",
]

#: What a change in the level of requests moves: the children on SEN support (with the
#: identification that keeps that pool steady) and the direct requests. Moving the hazard
#: instead would be damped as the pool it drains shrinks.
REQUEST_LEVEL_TARGETS = (
    "demand.sen_support_by_age",
    "demand.identification_by_age",
    "demand.direct_requests_by_age",
)
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


def capacity_growth(h: LAHistory, until: int) -> PoissonTrend | None:
    """The trend of assessments completed (plans issued plus not issued) up to ``until``."""
    return poisson_trend(assessments_completed(h), until)


def clip_trend(g: float) -> float:
    return float(min(max(g, TREND_LIMITS[0]), TREND_LIMITS[1]))


def _beta_item(
    name: str, rate: BetaRate | None, target: str, point: float, what: str
) -> list[Uncertain]:
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


def _log_rates(num: dict[int, float], den: dict[int, float], years: list[int]) -> list[float]:
    return [math.log(num[y] / den[y]) for y in years if num.get(y, 0) > 0 and den.get(y, 0) > 0]


def estimate_uncertainty(
    h: LAHistory, params: Parameters, last: int, requests: PoissonTrend | None
) -> list[Uncertain]:
    """The uncertain quantities of ``params`` (estimated from ``h`` with flows up to
    ``last``), each centred on the value ``params`` holds."""
    items: list[Uncertain] = []
    if requests is not None and len(requests.years) >= 2:
        items.append(
            Uncertain(
                "requests",
                "mvnormal",
                {"mean": [0.0, 0.0], "cov": [list(r) for r in requests.cov_at_start()]},
                (
                    Component(REQUEST_LEVEL_TARGETS, "log", 0.0),
                    Component(("demand.request_trend",), "log1p", 0.0),
                ),
                f"Poisson log-linear regression of requests_received, "
                f"{requests.years[0]}-{requests.years[-1]} (dispersion "
                f"{requests.dispersion:.1f})",
            )
        )
    req, ref = h.series("requests_received"), h.series("requests_refused")
    items += _beta_item(
        "p_refuse",
        beta_rate(ref, req, last),
        "panel.p_refuse",
        params.panel.p_refuse,
        "requests_refused / requests_received",
    )
    items += _beta_item(
        "p_not_issue",
        beta_rate(h.series("assessments_not_issued"), assessments_completed(h), last),
        "assessment.p_not_issue",
        params.assessment.p_not_issue,
        "assessments_not_issued / assessments completed",
    )
    main = h.series("caseload_mainstream")
    special = {
        y: v + h.series("caseload_special_independent_nm").get(y, 0.0)
        for y, v in h.series("caseload_special_state").items()
    }
    items += _beta_item(
        "p_step_up",
        beta_rate(h.series("transfers_mainstream_to_special"), main, last),
        "review.p_step_up",
        params.review.p_step_up,
        "transfers_mainstream_to_special / caseload_mainstream",
    )
    items += _beta_item(
        "p_step_down",
        beta_rate(h.series("transfers_special_to_mainstream"), special, last),
        "review.p_step_down",
        params.review.p_step_down,
        "transfers_special_to_mainstream / special school caseload",
    )

    # Ceasing: the level of all ceasing hazards together.
    ceased = h.series("ceased_total")
    stock = h.series("ehcp_total_jan")
    what = "plans ceased"
    if not [y for y in ceased if y <= last]:
        # Before person-level SEN2 the aggregate return undercounted plans ended (see
        # calibration.defaults): net exits from the stock-flow identity stand in.
        ceased = {y: v for y, v in net_exits_by_year(h, last).items() if v > 0}
        what = "net exits (new plans less the change in the caseload)"
    years = [y for y in sorted(ceased) if y <= last and y in stock][-RECENT_YEARS:]
    logs = _log_rates(ceased, stock, years)
    if logs:
        spread = (
            float(np.std(logs, ddof=1)) * math.sqrt(1 + 1 / len(logs)) if len(logs) >= 2 else 0.0
        )
        poisson = 1.0 / math.sqrt(max(1.0, sum(ceased[y] for y in years)))
        items.append(
            Uncertain(
                "ceasing",
                "normal",
                {"mean": 0.0, "sd": max(spread, poisson)},
                (Component(("exits.hazard_by_band", "review.p_cease"), "log", 0.0),),
                f"yearly {what} / January caseload, {years[0]}-{years[-1]}",
            )
        )

    # Moves in: the spread of the stock-flow residuals.
    residuals = list(moves_in_by_year(h, last).values())[-RECENT_YEARS:]
    if len(residuals) >= 2:
        items.append(
            Uncertain(
                "moves_in",
                "normal",
                {
                    "mean": 0.0,
                    "sd": float(np.std(residuals, ddof=1) * math.sqrt(1 + 1 / len(residuals))),
                },
                (Component(("exits.moves_in_per_year",), "shift", 0.0),),
                f"predictive spread of {len(residuals)} yearly stock-flow residuals",
            )
        )

    # Placement of new plans: a Dirichlet per phase, worth one year of the phase's plans.
    new = h.series("new_ehcps")
    new_last = np.mean([v for y, v in new.items() if y <= last][-RECENT_YEARS:] or [0.0])
    band_new = np.array(
        [sum(v for y, v in h.series(f"newplans_age_{b}").items() if y <= last) for b in BAND_NAMES]
    )
    band_share = band_new / band_new.sum() if band_new.sum() > 0 else np.full(len(BAND_NAMES), 0.2)
    for phase, (lo, hi) in PHASES.items():
        mix = params.placement.mix_by_phase.get(phase, {})
        keys = tuple(k for k, v in mix.items() if v > 0)
        if len(keys) < 2:
            continue
        share = sum(
            band_share[b] * _overlap((lo, hi), rng) for b, rng in enumerate(AGE_BANDS.values())
        )
        n_year = float(new_last * share)
        if n_year < 2:
            continue
        total = sum(mix[k] for k in keys)
        point = tuple(mix[k] / total for k in keys)
        items.append(
            Uncertain(
                f"placement_{phase}",
                "dirichlet",
                {"alpha": [p * n_year for p in point]},
                (Component((f"placement.mix_by_phase.{phase}",), "log_shares", point, keys),),
                f"mix of new {phase} plans, as certain as one year's {n_year:.0f} plans "
                "(*assumption*)",
            )
        )

    growth = capacity_growth(h, last)
    if growth is not None and len(growth.years) >= 3:
        items.append(
            Uncertain(
                "capacity_growth",
                "normal",
                {"mean": 0.0, "sd": growth.sd_slope},
                (Component(("assessment.ep_fte_growth", "plan.coordinator_growth"), "log1p", 0.0),),
                f"Poisson log-linear regression of assessments completed, "
                f"{growth.years[0]}-{growth.years[-1]}",
            )
        )
    return items


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Share of band ``b``'s ages that fall in ``a``."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return max(0, hi - lo + 1) / (b[1] - b[0] + 1)
