"""Default parameters for an LA, estimated directly from its own published history.

Each parameter section has its own estimator in :mod:`calibration.estimators` (its values,
the source of each and their uncertainty together); :func:`estimate_parameters` composes
them. Each estimate is a plain statistic of the SEN2 series (a recent mean, a ratio, a
log-linear trend, an iterative proportional fit), documented where it is made; where the
LA publishes nothing the England figure stands in, and where nobody publishes anything
the value is an assumption named in the parameter's documentation. Fitted calibration
with uncertainty is a separate step (`sendsim calibrate`).
"""

from __future__ import annotations

from simulation.parameters import Parameters

from .estimators import estimate_all
from .estimators.assessment import (
    BACKLOG_PCT_WITHIN_20WKS,
    DEFAULT_UTILISATION,
    FLAT_OUT_UTILISATION,
)
from .estimators.common import (
    RECENT_YEARS,
    REQUIRED_FLOWS,
    REQUIRED_SHAPE,
    TREND_YEARS,
    Estimate,
    assessments_completed,
    check_required,
    log_linear_trend,
    moves_in_by_year,
    net_exits_by_year,
    require_census,
)
from .estimators.demand import POOL_AGES
from .estimators.initial import initial_caseload, ipf
from .la_data import Dataset

__all__ = [
    "BACKLOG_PCT_WITHIN_20WKS",
    "DEFAULT_UTILISATION",
    "FLAT_OUT_UTILISATION",
    "POOL_AGES",
    "RECENT_YEARS",
    "REQUIRED_FLOWS",
    "REQUIRED_SHAPE",
    "TREND_YEARS",
    "Estimate",
    "assessments_completed",
    "check_required",
    "estimate_parameters",
    "initial_caseload",
    "ipf",
    "log_linear_trend",
    "moves_in_by_year",
    "net_exits_by_year",
    "require_census",
]


def estimate_parameters(
    ds: Dataset,
    la: str,
    start_year: int | None = None,
    years: int = 5,
    census_until: int | None = None,
) -> tuple[Parameters, list[Estimate]]:
    """Default Parameters for `la` starting from the January census `start_year` (default:
    the latest census in the data), with a note on the source of each estimate. The
    caseload's placement and age shape may come from a census up to `census_until`
    (default: the start itself; a history replay may read later ones)."""
    estimates = estimate_all(ds, la, start_year, years, census_until)
    return estimates.params, list(estimates.notes)
