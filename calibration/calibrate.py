"""Calibration of an LA: estimates with uncertainty, fitted team capacity, and a check of the
calibrated model against the history it was fitted to.

``calibrate(ds, la, until)`` reads the LA's data as of the January census ``until`` (flows
up to ``until - 1``: nothing published later) and composes the section estimators of
:mod:`calibration.estimators` with the request level and trend of a Poisson regression and
the teams growing as their output has; then the capacity fit refines the team sizes (and
the panel) by simulation, with a note of each change, and adds their uncertainty. The
result starts at January ``until``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulation.model import run_replication
from simulation.parameters import Parameters
from simulation.results import Results
from simulation.uncertainty import Component, ParameterUncertainty, Uncertain

from .breaks import Adjustment
from .defaults import estimate_parameters
from .estimation import PoissonTrend
from .estimators import Estimate, estimate_all
from .fitting import CapacityFit, fit_capacity
from .la_data import Dataset, LAHistory

__all__ = [
    "Calibration",
    "HistoryRow",
    "calibrate",
    "check_history",
    "direct_uncertainty",
    "fit_window",
]

FIT_WINDOW = 3
HISTORY_CHECK_STREAM = 1


@dataclass
class Calibration:
    la_code: str
    la_name: str
    until: int
    params: Parameters
    uncertainty: ParameterUncertainty
    notes: list[Estimate]
    adjustments: list[Adjustment]
    requests: PoissonTrend | None
    growth: PoissonTrend | None
    fit: CapacityFit | None
    history: LAHistory = field(repr=False)

    def summary(self) -> dict[str, object]:
        """The calibration's key numbers, for its manifest."""
        fit = self.fit
        return {
            "la_code": self.la_code,
            "la_name": self.la_name,
            "until": self.until,
            "requests": None
            if self.requests is None
            else {
                "years": list(self.requests.years),
                "level": self.requests.level,
                "growth": self.requests.growth,
                "sd_log_level": self.requests.sd_log_level,
                "sd_slope": self.requests.sd_slope,
                "dispersion": self.requests.dispersion,
            },
            "capacity_growth": None
            if self.growth is None
            else {"years": list(self.growth.years), "growth": self.growth.growth},
            "capacity_fit": None
            if fit is None
            else {
                "window": list(fit.window),
                "ep_fte": fit.ep_fte,
                "coordinators": fit.coordinators,
                "sd_log_ep_fte": math.sqrt(fit.cov[0][0]),
                "sd_log_coordinators": math.sqrt(fit.cov[1][1]),
                "objective": fit.objective,
                "evaluations": fit.evaluations,
                "converged": fit.converged,
                "rms_completed_pct": fit.rms_completed_pct,
                "rms_pct20_points": fit.rms_pct20_points,
                "panel_slots_per_weekly_request": None
                if fit.panel is None
                else fit.panel.slots_per_weekly_request,
                "panel_pct_within_6wks": None
                if fit.panel is None
                else [{"year": y, "published": o, "simulated": m} for y, o, m in fit.panel.years],
            },
            "adjustments": [
                a.describe() for a in self.adjustments if self.until - 8 <= a.year <= self.until
            ],
        }


def fit_window(h: LAHistory, until: int, length: int = FIT_WINDOW) -> list[int]:
    """The calendar years the capacity fit replays: up to ``length`` years before the
    ``until`` census whose first January has a census and every year published
    assessments; shorter for an LA with a short history (a successor authority)."""
    for n in range(length, 0, -1):
        years = list(range(until - n, until))
        if h.get("ehcp_total_jan", years[0]) is None:
            continue
        if all(h.get("assessments_plan_issued", y) is not None for y in years):
            return years
    return []


def calibrate(
    ds: Dataset,
    la: str,
    until: int | None = None,
    years: int = 5,
    fit: bool = True,
    fit_replications: int = 4,
    seed: int = 20250101,
    max_evaluations: int = 40,
) -> Calibration:
    """Calibrate ``la`` on data as of January ``until`` (default: its latest census)."""
    raw = ds.la(la)
    start = raw.latest_census_year() if until is None else until
    estimates = estimate_all(ds, la, start, years, request_regression=True, fitted_growth=True)
    params, notes = estimates.params, list(estimates.notes)
    h = estimates.history
    requests, g = estimates.demand.regression, estimates.growth.growth
    capacity: CapacityFit | None = None
    window = fit_window(h, start) if fit else []
    if window:
        hist, _ = estimate_parameters(ds, la, window[0], len(window), census_until=start)
        capacity = fit_capacity(
            h, hist, window, g, fit_replications, seed, max_evaluations=max_evaluations
        )
        params, fitted = _refine(params, capacity, requests, fit_replications)
        notes += fitted
    elif fit:
        notes.append(
            Estimate("assessment.ep_fte", params.assessment.ep_fte, "not fitted: no history window")
        )

    items = list(estimates.uncertainty)
    if capacity is not None:
        items.append(
            Uncertain(
                "team_capacity",
                "mvnormal",
                {"mean": [0.0, 0.0], "cov": [list(r) for r in capacity.cov]},
                (
                    Component(("assessment.ep_fte",), "log", 0.0),
                    Component(("plan.coordinators",), "log", 0.0),
                ),
                f"curvature of the capacity fit over {window[0]}-{window[-1]}",
            )
        )
    return Calibration(
        la_code=raw.la_code,
        la_name=raw.la_name,
        until=start,
        params=params.override({}, source=f"calibration of {raw.la_name} to January {start}"),
        uncertainty=ParameterUncertainty(tuple(items)),
        notes=notes,
        adjustments=list(estimates.adjustments),
        requests=requests,
        growth=estimates.growth.trend,
        fit=capacity,
        history=h,
    )


def _refine(
    params: Parameters,
    capacity: CapacityFit,
    requests: PoissonTrend | None,
    fit_replications: int,
) -> tuple[Parameters, list[Estimate]]:
    """``params`` with the team sizes (and the panel's slots, where fitted) the capacity
    fit found, and a note of each change: the direct estimates' notes stay, as the fit's
    starting point."""
    window = capacity.window
    before = (params.assessment.ep_fte, params.plan.coordinators)
    params = params.override(
        {
            "assessment": {"ep_fte": round(capacity.ep_fte, 3)},
            "plan": {"coordinators": round(capacity.coordinators, 3)},
        },
        "calibration",
    )
    notes = [
        Estimate(
            "assessment.ep_fte",
            round(capacity.ep_fte, 2),
            f"fitted by simulating {window[0]}-{window[-1]} ({capacity.evaluations} "
            f"evaluations of {fit_replications} replications on common random numbers), "
            f"from the direct {before[0]:g}: assessments completed within "
            f"{capacity.rms_completed_pct or 0:.0f}% and 20-week % within "
            f"{capacity.rms_pct20_points or 0:.0f} points (rms)",
        ),
        Estimate(
            "plan.coordinators",
            round(capacity.coordinators, 2),
            f"fitted with the EP team, from the direct {before[1]:g}",
        ),
    ]
    if capacity.panel is not None:
        # The same multiple of the start's weekly requests as fitted on the window.
        weekly = (requests.level if requests is not None else 0.0) / 52.18
        slots = max(1, round(capacity.panel.slots_per_weekly_request * weekly))
        direct = params.panel.slots_per_sitting
        params = params.override({"panel": {"slots_per_sitting": slots}}, "calibration")
        notes.append(
            Estimate(
                "panel.slots_per_sitting",
                slots,
                f"fitted to the published share of decisions within 6 weeks "
                f"({', '.join(f'{y}: {o:.1f}%' for y, o, _ in capacity.panel.years)}): "
                f"{capacity.panel.slots_per_weekly_request:.2f} x the weekly requests, "
                f"from the direct {direct}",
            )
        )
    return params, notes


def direct_uncertainty(ds: Dataset, la: str, params: Parameters) -> ParameterUncertainty:
    """The estimation uncertainty of direct estimates (:func:`estimate_parameters`, whose
    start census is ``params.run.start_year``): every quantity but the team capacity, which
    only the simulation fit estimates."""
    estimates = estimate_all(ds, la, params.run.start_year, params.run.years)
    return ParameterUncertainty(estimates.uncertainty)


# --------------------------------------------------------------------------- history check


@dataclass(frozen=True)
class HistoryRow:
    """One published value of the fit window against the simulated history."""

    metric: str
    year: int
    observed: float
    median: float
    p5: float
    p95: float
    ape: float | None
    in_90: bool


def check_history(
    cal: Calibration, replications: int = 20, seed: int = 20250101
) -> tuple[list[HistoryRow], list[Results]]:
    """The fitted history replay with parameter uncertainty (all but the requests, which
    are replayed), against every series the LA published that the model also produces."""
    if cal.fit is None or cal.fit.history_params is None:
        return [], []
    hist = cal.fit.history_params
    varied = ParameterUncertainty(tuple(u for u in cal.uncertainty.items if u.name != "requests"))
    # Seeds of their own: the fit's replications would make the check in-sample.
    seeds = np.random.SeedSequence([seed, HISTORY_CHECK_STREAM]).spawn(replications)
    runs = [run_replication(varied.draw_and_apply(hist, s), s) for s in seeds]
    rows: list[HistoryRow] = []
    first = runs[0]
    h = cal.history
    for metric in sorted({*first.census, *first.flows, *first.finance}):
        years, _ = first.table(metric)
        published = h.series(metric)
        for i, y in enumerate(years):
            if y not in published:
                continue
            if metric in first.census and y == years[0]:
                continue  # the starting census is an input, not a result
            vals = np.array([r.table(metric)[1][i] for r in runs], dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            p5, med, p95 = (float(q) for q in np.percentile(vals, [5, 50, 95]))
            obs = published[y]
            rows.append(
                HistoryRow(
                    metric,
                    y,
                    obs,
                    med,
                    p5,
                    p95,
                    abs(med - obs) / abs(obs) * 100 if obs else None,
                    p5 <= obs <= p95,
                )
            )
    return rows, runs
