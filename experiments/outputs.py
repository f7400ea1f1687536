"""The tidy tables a run writes: results (every replication) and summaries."""

from __future__ import annotations

import csv
import hashlib
import math
import subprocess
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from simulation.results import Results

from .precision import ci_halfwidth

RESULTS_HEADER = ("scenario", "replication", "year", "metric", "value")
SUMMARY_HEADER = (
    "scenario",
    "year",
    "metric",
    "mean",
    "p5",
    "p25",
    "p50",
    "p75",
    "p95",
    "mean_ci95",
)
QUANTILES = (5, 25, 50, 75, 95)


def fmt(value: float) -> str:
    """A number as text, the same bytes on every platform; missing values are empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))  # the shortest text that reads back as the same number


def write_results(f: IO[str], results: Mapping[str, Iterable[tuple[int, Results]]]) -> None:
    """results.csv: one row per scenario, replication, year and metric."""
    w = csv.writer(f, lineterminator="\n")
    w.writerow(RESULTS_HEADER)
    for scenario, reps in results.items():
        for rep, res in reps:
            w.writerows(
                (scenario, rep, year, metric, fmt(value)) for year, metric, value in res.rows()
            )


def nanpercentile(values: np.ndarray, q: Any, axis: int | None = None) -> Any:
    """np.nanpercentile, quietly NaN where every value is missing (a year with no plans
    issued has no 20-week share); NumPy would warn on the terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(values, q, axis=axis)


def nanmean(values: np.ndarray, axis: int | None = None) -> Any:
    """np.nanmean, quietly NaN where every value is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def stack(reps: list[Results], metric: str) -> tuple[list[int], np.ndarray]:
    """Years and a replications x years array of one metric."""
    years = list(reps[0].table(metric)[0])
    table = np.array([r.table(metric)[1] for r in reps], dtype=float)
    return years, table.reshape(len(reps), len(years))


def summarise(results: Mapping[str, list[Results]]) -> list[tuple[Any, ...]]:
    """Mean, quantiles and the 95% confidence half-width of the mean over replications per
    scenario, year and metric (missing values, such as a percentage in a year with no plans,
    are left out)."""
    out: list[tuple[Any, ...]] = []
    for scenario, reps in results.items():
        first = reps[0]
        for metric in (*first.census, *first.flows, *first.finance):
            years, table = stack(reps, metric)
            half = ci_halfwidth(table)
            for j, year in enumerate(years):
                col = table[:, j]
                col = col[~np.isnan(col)]
                if len(col) == 0:
                    out.append((scenario, year, metric, *([math.nan] * 7)))
                    continue
                q = np.percentile(col, QUANTILES)
                out.append(
                    (scenario, year, metric, float(col.mean()), *map(float, q), float(half[j]))
                )
    return out


def write_summary(f: IO[str], rows: list[tuple[Any, ...]]) -> None:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(SUMMARY_HEADER)
    for row in rows:
        w.writerow((*row[:3], *(fmt(v) for v in row[3:])))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV table written whole or not at all; numbers already formatted by the caller."""
    from .store import atomic_open

    with atomic_open(path) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _git(*args: str, cwd: Path) -> str | None:
    out = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
    )
    return out.stdout.strip() or None if out.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the sendsim source tree, when sendsim runs from a git checkout of its
    own (not when installed somewhere inside another repository)."""
    source = Path(__file__).resolve().parents[1]
    try:
        top = _git("rev-parse", "--show-toplevel", cwd=source)
        if top is None or Path(top).resolve() != source:
            return None
        return _git("rev-parse", "HEAD", cwd=source)
    except (OSError, subprocess.SubprocessError):
        return None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
