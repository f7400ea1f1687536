"""The teams' growth: the EP team and the coordinators growing as the assessments they
complete have (``assessment.ep_fte_growth`` and ``plan.coordinator_growth``, one
estimate for both teams).

The trend is a Poisson log-linear regression of assessments completed (plans issued plus
decisions not to issue) over five years, the growth of what the teams deliver, with its
slope's uncertainty. The direct estimates keep the parameters' defaults and carry only the
uncertainty; with ``fitted=True`` (calibration) the teams grow at the trend, held between
-10% and +30% a year (*assumption*: teams are not cut by more than a tenth a year nor
grown by more than 30%).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulation.uncertainty import Component, Uncertain

from ..estimation import PoissonTrend, poisson_trend
from ..la_data import LAHistory
from .common import Estimate, SectionEstimate, assessments_completed

__all__ = ["GROWTH_LIMITS", "GrowthEstimate", "capacity_growth", "estimate"]

#: Growth of the teams' output held inside this range (*assumption*).
GROWTH_LIMITS = (-0.1, 0.3)


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
    """The teams' growth from January ``as_of`` (flows to the year before)."""
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
    return GrowthEstimate(
        values={"assessment": {"ep_fte_growth": g}, "plan": {"coordinator_growth": g}},
        notes=(
            Estimate(
                "assessment.ep_fte_growth",
                round(g, 4),
                f"Poisson log-linear trend of assessments completed {trend.years[0]}-"
                f"{trend.years[-1]} ({trend.growth:+.1%} a year), for the coordinators too",
            ),
        ),
        uncertainty=uncertainty,
        trend=trend,
        growth=g,
    )
