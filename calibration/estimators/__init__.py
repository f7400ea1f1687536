"""The estimators: one per parameter section, each returning its values, the source of
each and their uncertainty together (a :class:`SectionEstimate`), and :func:`estimate_all`
composing them into Parameters.

=============  ===================================================================
module         parameter sections
=============  ===================================================================
demand         ``demand`` (SEN support, requests and their trend)
panel          ``panel`` (refusals, appeals, the panel's slots)
assessment     ``assessment`` (the EP team, not issuing, exceptions)
plan           ``plan`` (the coordinators)
initial        ``initial`` (the caseload and the work in progress at the start)
ceasing        ``exits``, ``phase_transfer``, ``review.p_cease`` (ceasing, moves in)
review         ``review`` (officers, outcomes, moves to and from special schools)
placement      ``placement`` (the mix of new plans, special and resourced places)
money          ``costs``, ``funding``
growth         ``assessment.ep_fte_growth``, ``plan.coordinator_growth``
=============  ===================================================================

Each section's ``estimate(h, england, as_of, ...)`` reads the LA's cleaned history ``h``
(England's, ``england``, where the LA publishes nothing) as of the January census
``as_of`` (flows to the year before), and takes what it builds on from the sections
before it as keyword arguments. Calibration (:mod:`calibration.calibrate`) asks for the
regression's request trend and the fitted team growth through :func:`estimate_all`'s
options, then refines the team sizes and the panel by simulation with notes of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulation.parameters import Parameters
from simulation.uncertainty import Uncertain

from ..breaks import Adjustment, clean_history
from ..la_data import Dataset, LAHistory, load_dataset
from . import (
    assessment,
    ceasing,
    demand,
    growth,
    initial,
    money,
    panel,
    placement,
    plan,
    review,
)
from .common import (
    TREND_YEARS,
    Estimate,
    SectionEstimate,
    check_required,
    require_census,
)
from .demand import DemandEstimate
from .growth import GrowthEstimate

__all__ = ["Estimate", "Estimates", "SectionEstimate", "estimate_all"]


@dataclass(frozen=True)
class Estimates:
    """Parameters for an LA with a note on the source of each estimate and the
    uncertainty of each; ``demand`` and ``growth`` keep their regressions for the
    calibration's summary and fit."""

    params: Parameters
    notes: tuple[Estimate, ...]
    uncertainty: tuple[Uncertain, ...]
    demand: DemandEstimate
    growth: GrowthEstimate
    history: LAHistory
    adjustments: tuple[Adjustment, ...]


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Merge one section's nested values into ``into`` (sections may share a table)."""
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def estimate_all(
    ds: Dataset,
    la: str,
    start_year: int | None = None,
    years: int = 5,
    census_until: int | None = None,
    *,
    request_regression: bool = False,
    fitted_growth: bool = False,
) -> Estimates:
    """Every section's estimates for ``la`` from the January census ``start_year``
    (default: the LA's latest), composed. ``request_regression`` takes the request level
    and trend from the Poisson regression, ``fitted_growth`` grows the teams at the trend
    of assessments completed (both calibration's choices; the direct estimates use the
    log-linear trend and the default growth)."""
    h, adjustments = clean_history(ds.la(la))
    # A user's own file may hold only their LA: England's published figures (the SEN support
    # pool, fallbacks) then come from the bundled data.
    england = ds.england() or load_dataset(None).england()
    if start_year is None:
        start_year = h.latest_census_year()
    require_census(h, start_year)
    check_required(h, start_year, str(ds.path), census_until)
    as_of = start_year

    d = demand.estimate(h, england, as_of, regression=request_regression, years=years)
    pa = panel.estimate(h, england, as_of, demand=d)
    a = assessment.estimate(h, england, as_of, demand=d, p_refuse=pa.p_refuse)
    pl = plan.estimate(h, england, as_of, assessment=a)
    i = initial.estimate(
        h, england, as_of, demand=d, p_refuse=pa.p_refuse, census_until=census_until
    )
    c = ceasing.estimate(h, england, as_of, demand=d, initial=i)
    r = review.estimate(h, england, as_of, initial=i, p_cease=c.p_cease)
    p = placement.estimate(h, england, as_of, initial=i)
    m = money.estimate(h, england, as_of)
    g = growth.estimate(h, england, as_of, fitted=fitted_growth)

    values: dict[str, Any] = {
        "la_code": h.la_code,
        "la_name": h.la_name,
        "run": {"start_year": start_year, "years": years},
    }
    for section in (d, pa, a, pl, i, c, r, p, m, g):
        _merge(values, section.values)
    data = tuple(  # the adjustments inside the years the estimates read
        Estimate("data", adj.action, adj.describe())
        for adj in adjustments
        if start_year - TREND_YEARS - 1 <= adj.year <= start_year
    )
    return Estimates(
        params=Parameters().override(values, source=f"estimates for {h.la_name}"),
        notes=data + tuple(n for s in (d, pa, a, pl, i, c, r, p, m, g) for n in s.notes),
        # In the order of uncertainty.json.
        uncertainty=tuple(u for s in (d, pa, a, r, c, p, g) for u in s.uncertainty),
        demand=d,
        growth=g,
        history=h,
        adjustments=tuple(adjustments),
    )
