"""What the section estimators share: their result (:class:`SectionEstimate`), the note on
an estimate's source (:class:`Estimate`), the checks an LA's data must pass first, and the
plain statistics of an LA's history they are made of (recent means and ratios, a
log-linear trend, the stock-flow series)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from simulation.uncertainty import Uncertain
from simulation.vocabulary import BAND_NAMES, PLACEMENT_GROUPS

from ..la_data import DataError, LAHistory

__all__ = [
    "RECENT_YEARS",
    "REQUIRED_FLOWS",
    "REQUIRED_SHAPE",
    "TREND_YEARS",
    "Estimate",
    "SectionEstimate",
    "assessments_completed",
    "check_required",
    "flow",
    "log_linear_trend",
    "mean_recent",
    "moves_in_by_year",
    "net_exits_by_year",
    "ratio_recent",
    "recent",
    "require_census",
]

#: Rates and means are taken over up to this many recent years.
RECENT_YEARS = 3
#: Trends are fitted over up to this many years.
TREND_YEARS = 5


@dataclass(frozen=True)
class Estimate:
    """A default with a line on where it came from, for the run manifest."""

    key: str
    value: object
    source: str


@dataclass(frozen=True, kw_only=True)
class SectionEstimate:
    """One parameter section's estimates: ``values`` nested like the TOML (for
    :meth:`Parameters.override`), a note on the source of each, and the uncertainty of
    each (centred on the value ``values`` holds)."""

    values: dict[str, Any]
    notes: tuple[Estimate, ...] = ()
    uncertainty: tuple[Uncertain, ...] = field(default=(), repr=False)


def recent(series: dict[int, float], until: int, n: int = RECENT_YEARS) -> list[float]:
    """The values of the last ``n`` years up to ``until``."""
    return [series[y] for y in sorted(series) if y <= until][-n:]


def mean_recent(series: dict[int, float], until: int, n: int = RECENT_YEARS) -> float | None:
    """The mean of the last ``n`` years up to ``until`` (None if none)."""
    vals = recent(series, until, n)
    return float(np.mean(vals)) if vals else None


def ratio_recent(
    num: dict[int, float], den: dict[int, float], until: int, n: int = RECENT_YEARS
) -> float | None:
    """The pooled ratio over the last ``n`` years up to ``until`` with both series."""
    years = [y for y in sorted(set(num) & set(den)) if y <= until][-n:]
    d = sum(den[y] for y in years)
    return sum(num[y] for y in years) / d if years and d > 0 else None


def flow(h: LAHistory, england: LAHistory | None, metric: str, last: int) -> dict[int, float]:
    """A flow series of the LA; empty when it has no recent value up to ``last`` and
    England's figures stand in for what is missing."""
    s = h.series(metric)
    if not recent(s, last) and england is not None:
        return {}
    return s


def log_linear_trend(series: dict[int, float], until: int, n: int = TREND_YEARS) -> float:
    """Annual proportional growth from a least-squares line through log values of the last
    `n` years (0 when fewer than 3 positive values)."""
    years = [y for y in sorted(series) if y <= until and series[y] > 0][-n:]
    if len(years) < 3:
        return 0.0
    slope = np.polyfit(years, np.log([series[y] for y in years]), 1)[0]
    return float(math.expm1(slope))


def net_exits_by_year(h: LAHistory, until: int) -> dict[int, float]:
    """Plans ended net of moves in, new(y) - (stock(y+1) - stock(y)), for each year up to
    ``until`` with both censuses (so the later one is no later than ``until + 1``)."""
    stock, new = h.series("ehcp_total_jan"), h.series("new_ehcps")
    return {
        y: new[y] - (stock[y + 1] - stock[y])
        for y in sorted(new)
        if y <= until and y in stock and y + 1 in stock
    }


def moves_in_by_year(h: LAHistory, until: int) -> dict[int, float]:
    """Plans moving in, the stock-flow residual stock(y+1) - stock(y) - new(y) + ceased(y),
    for each year up to ``until`` with ceased plans (person-level SEN2, 2022 on)."""
    stock, new = h.series("ehcp_total_jan"), h.series("new_ehcps")
    ceased = h.series("ceased_total")
    return {
        y: stock[y + 1] - stock[y] - new[y] + ceased[y]
        for y in sorted(ceased)
        if y <= until and y + 1 in stock and y in stock and y in new
    }


def assessments_completed(h: LAHistory) -> dict[int, float]:
    """Assessments completed by year: plans issued plus decisions not to issue."""
    not_issued = h.series("assessments_not_issued")
    return {y: v + not_issued.get(y, 0.0) for y, v in h.series("assessments_plan_issued").items()}


def require_census(h: LAHistory, year: int) -> None:
    """A one-line DataError if the LA has no January ``year`` census to start from."""
    if h.get("ehcp_total_jan", year) is None:
        years = sorted(h.census.get("ehcp_total_jan", {}))
        avail = f"{years[0]}-{years[-1]}" if years else "none"
        raise DataError(
            f"{h.la_name} has no January {year} census (ehcp_total_jan; available: {avail})"
        )


#: Series an LA must publish for the estimates (flows: in some year before the start;
#: the caseload's shape: at some census up to five years either side of it).
REQUIRED_FLOWS: Final = (
    "requests_received",
    "requests_refused",
    "assessments_plan_issued",
    "new_ehcps",
)
REQUIRED_SHAPE: Final = (
    *(f"caseload_{g}" for g in PLACEMENT_GROUPS),
    *(f"caseload_age_{b}" for b in BAND_NAMES),
)


def check_required(
    h: LAHistory, start_year: int, label: str, census_until: int | None = None
) -> None:
    """One DataError listing every required series the LA lacks for a start in January
    ``start_year`` (see docs/data-schema.md)."""
    latest = start_year if census_until is None else census_until
    missing = [
        f"{m} (a calendar year up to {start_year - 1})"
        for m in REQUIRED_FLOWS
        if not any(y < start_year for y in h.series(m))
    ]
    window = range(start_year - 5, latest + 1)
    missing += [
        f"{m} (a January census in {window[0]}-{window[-1]})"
        for m in REQUIRED_SHAPE
        if m != "caseload_mainstream_rp_senunit" and not any(y in window for y in h.series(m))
    ]
    if missing:
        raise DataError(
            f"{label}: {h.la_name} ({h.la_code}) lacks series the estimates need for a start "
            f"in January {start_year}: {'; '.join(missing)}"
        )
