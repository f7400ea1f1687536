"""How many replications: confidence intervals and the replications algorithm.

The relative precision of a mean over n replications is the half-width of its 95%
confidence interval (Student t) over the mean's absolute value. Hoad, Robinson and Davies
(2010, "Automated selection of the number of replications for a discrete-event simulation",
JORS 61) run replications until that precision is within a target d and stays within it for
a look-ahead of further replications, which guards against stopping on a lucky streak.

A mean at or near zero has no useful relative precision: a DSG balance that turns from
surplus to deficit during the run, or a percentage that is a fraction of a point, would need
thousands of replications to be known within 2% of itself, and no one asks that of it. So
each mean is judged against a scale that is its own size but never less than a tenth
(NEAR_ZERO) of the metric's magnitude: the largest mean the same metric reaches in the run
(its other years, same scenario), or for a percentage its range of 100 points. A mean well
away from zero is judged on its relative precision exactly as in the paper; one that crosses
or sits near zero is judged on an absolute precision of d times a tenth of the metric's
magnitude; a metric whose means are all zero is left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

LOOK_AHEAD = 5  # kLimit in Hoad, Robinson and Davies
MIN_REPLICATIONS = 3
NEAR_ZERO = 0.1  # a mean below this share of its metric's magnitude is judged on that share
PERCENT_RANGE = 100.0  # the magnitude of a percentage


@dataclass(frozen=True)
class Columns:
    """What the columns of a values matrix are: a label each (for saying which mean blocked
    precision), the group each belongs to (one metric of one scenario, over its years),
    and each one's natural magnitude where it has one (a percentage: 100; else NaN)."""

    labels: Sequence[str]
    groups: Sequence[str]
    magnitude: Sequence[float]

    @classmethod
    def of(cls, keys: Sequence[tuple[str, str, int]]) -> Columns:
        """Columns named (scenario, metric, year); metrics named pct_* are percentages."""
        return cls(
            [f"{s} {m} {y}" for s, m, y in keys],
            [f"{s} {m}" for s, m, _ in keys],
            [PERCENT_RANGE if m.startswith("pct_") else np.nan for _, m, _ in keys],
        )


def ci_halfwidth(values: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the t confidence interval of the mean, column by column (NaNs, such as
    a percentage in a year without plans, are left out; fewer than 2 values give NaN)."""
    v = np.asarray(values, dtype=float)
    n = np.sum(~np.isnan(v), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with 0 or 1 values
        sd = np.nanstd(v, axis=0, ddof=1)
        t = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        return np.where(n >= 2, t * sd / np.sqrt(n), np.nan)


def precision_scale(values: np.ndarray, columns: Columns | None = None) -> np.ndarray:
    """What each column's half-width is measured against: |mean|, but at least NEAR_ZERO
    times its group's magnitude (the largest |mean| in the group, or the column's natural
    magnitude if larger). Without `columns`, each column is its own group: |mean|."""
    v = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with no values
        mean = np.asarray(np.abs(np.nanmean(v, axis=0)), dtype=float)
    if columns is None:
        return mean
    groups = np.asarray(columns.groups)
    reach = np.full(mean.shape, np.nan)
    for g in np.unique(groups):
        members = groups == g
        if np.any(~np.isnan(mean[members])):
            reach[members] = np.nanmax(mean[members])
    reach = np.fmax(reach, np.asarray(columns.magnitude, dtype=float))
    return np.where(np.isnan(mean), np.nan, np.fmax(mean, NEAR_ZERO * reach))


def relative_precision(values: np.ndarray, columns: Columns | None = None) -> np.ndarray:
    """Half-width over the column's scale (`precision_scale`: |mean| for a mean away from
    zero); NaN where the scale is zero (a metric whose means are all zero)."""
    v = np.asarray(values, dtype=float)
    scale = precision_scale(v, columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, ci_halfwidth(v) / scale, np.nan)


def look_ahead(n: int) -> int:
    """Replications past the first precise n that must stay precise: kLimit up to 100
    replications, then growing in proportion (f(kLimit, n) of the paper)."""
    return LOOK_AHEAD if n <= 100 else int(LOOK_AHEAD * n / 100)


def worst_precision(values: np.ndarray, columns: Columns | None = None) -> float:
    """The widest precision among columns that have one (0 if none do)."""
    rp = relative_precision(values, columns)
    rp = rp[~np.isnan(rp)]
    return float(rp.max()) if rp.size else 0.0


@dataclass(frozen=True)
class PrecisionCheck:
    solution: int | None  # the n the algorithm settles on, once it has
    precision_by_n: Sequence[float]  # worst precision with the first n, n = 1..
    # Without a solution: the means that missed the target the last time it was missed
    # (with blocked_at replications), as (column label, precision), worst first. If the
    # target is met at the end but not yet for the whole look-ahead, these are the means
    # that missed it just before; empty if it was never missed (too few replications).
    blocked_by: tuple[tuple[str, float], ...] = field(default=())
    blocked_at: int | None = None  # the number of replications blocked_by refers to


def check(values: np.ndarray, target: float, columns: Columns | None = None) -> PrecisionCheck:
    """Apply the algorithm to the replications so far (rows in replication order, columns
    the headline means): the smallest n whose precision is within `target` and stays so for
    the look-ahead that follows, or None if there is none yet (and then which columns
    stood in the way)."""
    v = np.asarray(values, dtype=float)
    total = v.shape[0]
    by_n = [
        worst_precision(v[:n], columns) if n >= MIN_REPLICATIONS else float("inf")
        for n in range(1, total + 1)
    ]
    for n in range(MIN_REPLICATIONS, total + 1):
        end = n + look_ahead(n)
        if end > total:
            break
        if all(by_n[m - 1] <= target for m in range(n, end + 1)):
            return PrecisionCheck(n, by_n)
    missed = [n for n in range(MIN_REPLICATIONS, total + 1) if by_n[n - 1] > target]
    if not missed:  # within the target so far, but too few replications for the look-ahead
        return PrecisionCheck(None, by_n)
    at = missed[-1]
    rp = relative_precision(v[:at], columns)
    labels = list(columns.labels) if columns is not None else [str(j) for j in range(v.shape[1])]
    over = sorted(
        ((labels[j], float(rp[j])) for j in range(v.shape[1]) if rp[j] > target),
        key=lambda item: -item[1],
    )
    return PrecisionCheck(None, by_n, tuple(over), at)
