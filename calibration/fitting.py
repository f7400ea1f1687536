"""Simulation-based fitting of what the data cannot give directly: the effective capacity of
the EP and coordinator teams, and of the panel.

SEN2 publishes what the teams delivered (assessments completed: plans issued plus decisions
not to issue) and how quickly (the share of plans issued within 20 weeks), not their size.
The fit replays the LA's recent history: the model starts from the January census
``window`` years before the start, with the requests of each year scaled to what was
published (``demand.request_multiplier_by_year``) and the window's own refusal and
not-issue rates, and scipy's Nelder-Mead searches the starting sizes of the two teams
(log FTE; both then grow at the estimated capacity growth) that make the simulated
assessments completed and 20-week percentage closest to the published ones.

Every evaluation runs the same replications with the same seeds (common random numbers),
so two nearby team sizes differ by the effect of the size, not by chance: the objective is
smooth enough for a simplex search. The objective (with a weak prior about the direct
estimates: see PRIOR_SD) is a sum of squared standardised
misfits, with a year's assessments completed expected within 10% and its 20-week
percentage within 10 points (*assumption*: the model's own accuracy on history, not a
published figure); read as -2 log-likelihood, its curvature at the optimum (a
finite-difference Hessian) gives the fitted sizes' uncertainty, scaled up by the misfit
per degree of freedom when the fit is worse than those scales.

The panel is fitted after the teams, on the same replay, where the window publishes the
share of decisions to assess taken within 6 weeks (person-level SEN2, 2023 on): a bounded
scalar search of its slots per weekly sitting, as a multiple of the weekly requests, so
that the calibrated panel keeps the same headroom over the demand at the start. (Its
fitted slots carry no uncertainty: the share is near 100% in most LAs, so the data say
only that the panel keeps up.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from simulation.model import run_replication
from simulation.parameters import Parameters
from simulation.results import Results

from .estimators.common import assessments_completed
from .la_data import LAHistory

__all__ = ["CapacityFit", "FitYear", "PanelFit", "fit_capacity", "fit_panel", "history_parameters"]

#: Expected misfit of a year's assessments completed (log scale) and 20-week % (points).
SIGMA_COMPLETED = 0.10
SIGMA_PCT = 10.0
#: Half the largest spread of log team size (a factor of 1.65 either way at one sd).
FALLBACK_SD = 0.25
HESSIAN_STEP = 0.1
#: Prior spread of log team size about the direct estimate (*assumption*: a team's size
#: from last year's volumes is right within a factor of 2 at one sd). It keeps a team the
#: history says little about (one that never binds while the other does) near its direct
#: estimate instead of wandering over a flat objective.
PRIOR_SD = math.log(2.0)


@dataclass(frozen=True)
class FitYear:
    year: int
    requests_observed: float | None
    requests_simulated: float
    completed_observed: float | None
    completed_simulated: float
    pct20_observed: float | None
    pct20_simulated: float


@dataclass(frozen=True)
class CapacityFit:
    """The fitted team sizes at the start census, their log-scale covariance and the fit."""

    ep_fte: float
    coordinators: float
    cov: tuple[tuple[float, float], tuple[float, float]]
    window: tuple[int, ...]
    objective: float
    evaluations: int
    converged: bool
    years: tuple[FitYear, ...]
    history_params: Parameters | None = field(default=None, compare=False)
    panel: PanelFit | None = None

    @property
    def rms_completed_pct(self) -> float | None:
        errs = [
            (y.completed_simulated / y.completed_observed - 1) * 100
            for y in self.years
            if y.completed_observed
        ]
        return math.sqrt(float(np.mean(np.square(errs)))) if errs else None

    @property
    def rms_pct20_points(self) -> float | None:
        errs = [
            y.pct20_simulated - y.pct20_observed for y in self.years if y.pct20_observed is not None
        ]
        return math.sqrt(float(np.mean(np.square(errs)))) if errs else None


def _ratio(h: LAHistory, num: str, den: dict[int, float], years: Sequence[int]) -> float | None:
    n = sum(h.get(num, y) or 0.0 for y in years if y in den)
    d = sum(den[y] for y in years if y in den)
    return n / d if d > 0 else None


def history_parameters(
    hist: Parameters, h: LAHistory, window: Sequence[int], growth: float
) -> Parameters:
    """``hist`` (estimated at the window's first census) with the window's own refusal and
    not-issue rates, requests at the published level of each year (before scaling: see
    :func:`fit_capacity`) and the teams growing at ``growth``."""
    req = h.series("requests_received")
    completed = {y: v for y, v in assessments_completed(h).items() if y in window}
    p_refuse = _ratio(h, "requests_refused", req, window)
    p_not = _ratio(h, "assessments_not_issued", completed, window)
    changes: dict[str, dict[str, object]] = {
        "demand": {"request_trend": 0.0},
        "assessment": {"ep_fte_growth": growth},
        "plan": {"coordinator_growth": growth},
        # The replay's teams are fixed, growing at the trend of what they completed;
        # the projection's follow their workload (capacity.*) from the fitted sizes.
        "capacity": {"respond": False},
    }
    if p_refuse is not None:
        changes["panel"] = {"p_refuse": min(p_refuse, 1.0)}
    if p_not is not None:
        changes["assessment"]["p_not_issue"] = min(p_not, 1.0)
    return hist.override(changes, source="history replay")


def _runs(params: Parameters, seeds: Sequence[np.random.SeedSequence]) -> list[Results]:
    return [run_replication(params, s) for s in seeds]


def _mean(runs: Sequence[Results], metric: str, year: int) -> float:
    vals = [r.value(metric, year) for r in runs]
    finite = [v for v in vals if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _replay_requests(
    params: Parameters, h: LAHistory, window: Sequence[int], seeds: Sequence[np.random.SeedSequence]
) -> Parameters:
    """Scale each year's requests so that the simulated mean matches the published count
    (two fixed-point passes: a year's multiplier also changes the next year's pool)."""
    mult = {str(y): 1.0 for y in window}
    for _ in range(2):
        p = params.override({"demand": {"request_multiplier_by_year": mult}}, "history replay")
        runs = _runs(p, seeds)
        for y in window:
            observed = h.get("requests_received", y)
            simulated = _mean(runs, "requests_received", y)
            if observed and simulated > 0:
                mult[str(y)] = min(10.0, mult[str(y)] * observed / simulated)
    return params.override({"demand": {"request_multiplier_by_year": mult}}, "history replay")


def fit_capacity(
    h: LAHistory,
    hist: Parameters,
    window: Sequence[int],
    growth: float,
    replications: int = 4,
    seed: int = 20250101,
    max_evaluations: int = 40,
) -> CapacityFit:
    """Fit the EP and coordinator team sizes over the calendar years ``window`` (their
    January ``window[0]`` census is ``hist``'s start), returning the sizes grown to the
    January after the window. Long because the objective, its cache on common random
    numbers, the weak prior and the Laplace covariance share the replay's state, and
    read most plainly as closures beside the one search that uses them."""
    seeds = np.random.SeedSequence(seed).spawn(replications)
    base = _replay_requests(history_parameters(hist, h, window, growth), h, window, seeds)
    completed = assessments_completed(h)
    targets = [(y, completed.get(y), h.get("pct_within_20wks_excl_exceptions", y)) for y in window]

    def sized(theta: np.ndarray) -> Parameters:
        ep, coord = (float(math.exp(t)) for t in _bounded(theta))
        return base.override(
            {"assessment": {"ep_fte": ep}, "plan": {"coordinators": coord}}, "capacity fit"
        )

    cache: dict[tuple[float, float], tuple[float, list[Results]]] = {}

    def evaluate(theta: np.ndarray) -> tuple[float, list[Results]]:
        key = (round(float(theta[0]), 6), round(float(theta[1]), 6))
        if key not in cache:
            runs = _runs(sized(theta), seeds)
            total = 0.0
            for y, completed, pct in targets:
                if completed:
                    sim = max(_simulated_completed(runs, y), 0.5)
                    total += (math.log(sim / completed) / SIGMA_COMPLETED) ** 2
                if pct is not None:
                    sim_pct = _mean(runs, "pct_within_20wks_excl_exceptions", y)
                    sim_pct = 0.0 if not math.isfinite(sim_pct) else sim_pct
                    total += ((sim_pct - pct) / SIGMA_PCT) ** 2
            cache[key] = (total, runs)
        return cache[key]

    x0 = np.log([max(hist.assessment.ep_fte, 0.1), max(hist.plan.coordinators, 0.1)])

    def prior(theta: np.ndarray) -> float:
        """-2 log prior: the direct estimates, right within a factor of 2 at one sd."""
        return float(np.sum(((np.asarray(theta) - x0) / PRIOR_SD) ** 2))

    simplex = x0 + np.array([[0.0, 0.0], [0.4, 0.0], [0.0, 0.4]])
    result = optimize.minimize(
        lambda th: evaluate(th)[0] + prior(th),
        x0,
        method="Nelder-Mead",
        options={
            "initial_simplex": simplex,
            "xatol": 0.02,
            "fatol": 0.05,
            "maxfev": max_evaluations,
        },
    )
    best = _bounded(np.asarray(result.x, dtype=float))
    objective, runs = evaluate(best)
    # Quasi-likelihood: when the model misses the history by more than the assumed scales,
    # the covariance grows by the misfit per degree of freedom (as a quasi-Poisson fit's
    # does by its dispersion), so a poor fit is not reported as a precise one.
    n_obs = sum((c is not None and c > 0) + (p is not None) for _, c, p in targets)
    dispersion = max(1.0, objective / max(1, n_obs - 2))
    cov = _laplace(lambda th: evaluate(th)[0] / dispersion + prior(th), best)
    grown = (1.0 + growth) ** len(window)
    years = tuple(
        FitYear(
            year=y,
            requests_observed=h.get("requests_received", y),
            requests_simulated=_mean(runs, "requests_received", y),
            completed_observed=completed,
            completed_simulated=_simulated_completed(runs, y),
            pct20_observed=pct,
            pct20_simulated=_mean(runs, "pct_within_20wks_excl_exceptions", y),
        )
        for y, completed, pct in targets
    )
    replay = sized(best)
    panel = fit_panel(h, replay, window, seeds)
    if panel is not None:
        replay = replay.override(
            {"panel": {"slots_per_sitting": panel.slots_per_sitting}}, "panel fit"
        )
    return CapacityFit(
        ep_fte=float(math.exp(best[0]) * grown),
        coordinators=float(math.exp(best[1]) * grown),
        cov=cov,
        window=tuple(window),
        objective=float(objective),
        evaluations=len(cache),
        converged=bool(result.success),
        years=years,
        history_params=replay,
        panel=panel,
    )


@dataclass(frozen=True)
class PanelFit:
    """Panel slots per weekly sitting that reproduce the published share of decisions to
    assess taken within 6 weeks, as a multiple of the window's weekly requests."""

    slots_per_sitting: int  # on the window's weekly requests
    slots_per_weekly_request: float
    years: tuple[tuple[int, float, float], ...]  # (year, published %, simulated %)
    evaluations: int


def fit_panel(
    h: LAHistory, replay: Parameters, window: Sequence[int], seeds: Sequence[np.random.SeedSequence]
) -> PanelFit | None:
    """A bounded one-dimensional search (scipy) of the panel's slots per sitting over the
    replayed history (with the fitted teams), for the years that publish the 6-week share
    (person-level SEN2, 2023 on). None where none does."""
    years = [y for y in window if h.get("pct_requests_decided_within_6wks", y) is not None]
    if not years or replay.panel.sitting_interval_days <= 0:
        return None
    weekly = float(np.mean([h.get("requests_received", y) or 0.0 for y in window])) / 52.18
    if weekly <= 0:
        return None
    cache: dict[int, tuple[float, list[Results]]] = {}

    def evaluate(log_ratio: float) -> tuple[float, list[Results]]:
        slots = max(1, round(math.exp(log_ratio) * weekly))
        if slots not in cache:
            p = replay.override({"panel": {"slots_per_sitting": slots}}, "panel fit")
            runs = _runs(p, seeds)
            total = 0.0
            for y in years:
                sim = _mean(runs, "pct_requests_decided_within_6wks", y)
                obs = h.get("pct_requests_decided_within_6wks", y) or 0.0
                total += (((sim if math.isfinite(sim) else 0.0) - obs) / SIGMA_PCT) ** 2
            cache[slots] = (total, runs)
        return cache[slots]

    # From half the weekly volume (a panel that cannot keep up) to twice it (one that
    # never binds, the direct estimate).
    result = optimize.minimize_scalar(
        lambda x: evaluate(x)[0],
        bounds=(math.log(0.5), math.log(2.0)),
        method="bounded",
        options={"xatol": 0.02, "maxiter": 20},
    )
    _, runs = evaluate(float(result.x))
    slots = max(1, round(math.exp(float(result.x)) * weekly))
    return PanelFit(
        slots_per_sitting=slots,
        slots_per_weekly_request=slots / weekly,
        years=tuple(
            (
                y,
                float(h.get("pct_requests_decided_within_6wks", y) or 0.0),
                _mean(runs, "pct_requests_decided_within_6wks", y),
            )
            for y in years
        ),
        evaluations=len(cache),
    )


def _simulated_completed(runs: Sequence[Results], year: int) -> float:
    """Mean assessments completed (plans issued plus not issued) over the replications."""
    return _mean(runs, "new_ehcps", year) + _mean(runs, "assessments_not_issued", year)


def _bounded(theta: np.ndarray) -> np.ndarray:
    """Log team sizes kept to 0.007-8,100 FTE (inside the parameters' allowed range)."""
    return np.asarray(np.clip(theta, -5.0, 9.0), dtype=float)


def _laplace(
    f: Callable[[np.ndarray], float], x: np.ndarray
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Covariance 2 H^-1 of a -2 log-likelihood's minimum, from a central finite-difference
    Hessian; a diagonal fallback when the curvature is not positive definite. A direction
    the data barely constrain (a team that never binds) is capped at twice the fallback
    spread: beyond that the sizes are not estimates of anything."""
    h = HESSIAN_STEP
    e = np.eye(2) * h
    f0 = f(x)
    hess = np.zeros((2, 2))
    for i in range(2):
        hess[i, i] = (f(x + e[i]) - 2 * f0 + f(x - e[i])) / h**2
    hess[0, 1] = hess[1, 0] = (
        f(x + e[0] + e[1]) - f(x + e[0] - e[1]) - f(x - e[0] + e[1]) + f(x - e[0] - e[1])
    ) / (4 * h**2)
    cap = 2 * FALLBACK_SD
    if np.all(np.linalg.eigvalsh(hess) > 1e-9):
        cov = 2.0 * np.linalg.inv(hess)
        sd = np.minimum(np.sqrt(np.diag(cov)), cap)
        corr = float(np.clip(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), -0.95, 0.95))
        cov = np.array([[sd[0] ** 2, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], sd[1] ** 2]])
    else:  # no curvature to read: as uncertain as a direction the data barely constrain
        cov = np.diag([cap**2, cap**2])
    return ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1])))
