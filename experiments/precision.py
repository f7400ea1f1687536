"""How many replications: confidence intervals and the replications algorithm.

The relative precision of a mean over n replications is the half-width of its 95%
confidence interval (Student t) over the mean's absolute value. Hoad, Robinson and Davies
(2010, "Automated selection of the number of replications for a discrete-event simulation",
JORS 61) run replications until that precision is within a target d and stays within it for
a look-ahead of further replications, which guards against stopping on a lucky streak.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LOOK_AHEAD = 5  # kLimit in Hoad, Robinson and Davies
MIN_REPLICATIONS = 3


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


def relative_precision(values: np.ndarray) -> np.ndarray:
    """Half-width over |mean| per column; NaN where the mean is zero (no relative scale)."""
    v = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with no values
        mean = np.abs(np.nanmean(v, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, ci_halfwidth(v) / mean, np.nan)


def look_ahead(n: int) -> int:
    """Replications past the first precise n that must stay precise: kLimit up to 100
    replications, then growing in proportion (f(kLimit, n) of the paper)."""
    return LOOK_AHEAD if n <= 100 else int(LOOK_AHEAD * n / 100)


def worst_precision(values: np.ndarray) -> float:
    """The widest relative precision among columns that have one (0 if none do)."""
    rp = relative_precision(values)
    rp = rp[~np.isnan(rp)]
    return float(rp.max()) if rp.size else 0.0


@dataclass(frozen=True)
class PrecisionCheck:
    solution: int | None  # the n the algorithm settles on, once it has
    precision_by_n: Sequence[float]  # worst relative precision with the first n, n = 1..


def check(values: np.ndarray, target: float) -> PrecisionCheck:
    """Apply the algorithm to the replications so far (rows in replication order, columns
    the headline means): the smallest n whose precision is within `target` and stays so for
    the look-ahead that follows, or None if there is none yet."""
    v = np.asarray(values, dtype=float)
    total = v.shape[0]
    by_n = [
        worst_precision(v[:n]) if n >= MIN_REPLICATIONS else float("inf")
        for n in range(1, total + 1)
    ]
    for n in range(MIN_REPLICATIONS, total + 1):
        end = n + look_ahead(n)
        if end > total:
            break
        if all(by_n[m - 1] <= target for m in range(n, end + 1)):
            return PrecisionCheck(n, by_n)
    return PrecisionCheck(None, by_n)
