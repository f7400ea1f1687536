"""The model's clock: days since 1 January of the start year, and the dates that matter.

SEN2 counts the stock of plans at the January census and the flows by calendar year;
phase transfers happen each September. The model takes the census at 00:00 on 1 January so
that the flows of calendar year y reconcile exactly with the stocks of January y and y+1
(the real census falls in the third week of January; the difference is a fortnight of flow).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

DAYS_PER_YEAR = 365.25
WEEK = 7.0
TWENTY_WEEKS = 20 * WEEK
SIX_WEEKS = 6 * WEEK


@dataclass(frozen=True, slots=True)
class Calendar:
    """Converts between model time (float days) and calendar dates for one run."""

    start_year: int
    years: int

    @property
    def start(self) -> dt.date:
        return dt.date(self.start_year, 1, 1)

    def day(self, date: dt.date) -> float:
        return float((date - self.start).days)

    def date(self, day: float) -> dt.date:
        return self.start + dt.timedelta(days=int(day))

    @property
    def horizon(self) -> float:
        """Day of the last census, 1 January of start_year + years."""
        return self.day(dt.date(self.start_year + self.years, 1, 1))

    def january(self, year: int) -> float:
        return self.day(dt.date(year, 1, 1))

    def september(self, year: int) -> float:
        """1 September: the start of the academic year, when children age a school year."""
        return self.day(dt.date(year, 9, 1))

    @property
    def census_years(self) -> list[int]:
        return list(range(self.start_year, self.start_year + self.years + 1))

    @property
    def flow_years(self) -> list[int]:
        return list(range(self.start_year, self.start_year + self.years))

    def year_starts(self) -> list[float]:
        """Model day of 1 January for each flow year plus the final census."""
        return [self.january(y) for y in self.census_years]


def add_interval(
    totals: list[float], starts: Sequence[float], a: float, b: float, weight: float = 1.0
) -> None:
    """Add weight x the days of [a, b) to per-period totals, where period k runs from
    starts[k] to starts[k + 1] (calendar or financial years); days outside are dropped."""
    last = min(len(totals), len(starts) - 1)
    k = bisect.bisect_right(starts, a) - 1
    if 0 <= k < last and b <= starts[k + 1]:  # the usual case: within one period
        if b > a:
            totals[k] += (b - a) * weight
        return
    while a < b and k < last:
        end = min(b, starts[k + 1])
        if k >= 0:
            totals[k] += (end - a) * weight
        a, k = end, k + 1
