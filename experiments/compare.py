"""Comparing scenarios fairly: paired differences under common random numbers.

Replication i of every scenario ran on the same random numbers, so the difference between
two scenarios in replication i is the scenario's effect on the same children, free of most
of the noise that separates two independent runs. The spread of those paired differences
is how sure we are of the effect.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simulation.results import BETTER_WHEN_HIGHER, BETTER_WHEN_LOWER, HEADLINE_METRICS

from .finance import Source, money_outputs
from .outputs import fmt, write_csv
from .plots import difference_chart
from .store import read_json

COMPARE_HEADER = (
    "scenario",
    "against",
    "year",
    "metric",
    "mean_difference",
    "p5",
    "p95",
    "prob_better",
)

Table = dict[str, dict[str, dict[int, dict[int, float]]]]  # scenario, metric, year, rep


class CompareError(Exception):
    """A run folder that cannot be compared as asked; one-line message."""


def read_results(run_dir: Path) -> Table:
    path = run_dir / "results.csv"
    if not path.exists():
        hint = (
            " (an unfinished run: continue it with sendsim run --resume)"
            if (run_dir / "run.json").exists()
            else ""
        )
        raise CompareError(f"{path} not found{hint}")
    table: Table = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["scenario", "replication", "year", "metric", "value"]:
            raise CompareError(f"{path}: not a sendsim results file (header {header})")
        for line, row in enumerate(reader, 2):
            try:
                scenario, rep, year, metric, value = row
                table[scenario][metric][int(year)][int(rep)] = (
                    float(value) if value != "" else math.nan
                )
            except ValueError:
                raise CompareError(f"{path}:{line}: malformed row {row}") from None
    return table


def paired(table: Table, scenario: str, against: str, metric: str) -> tuple[list[int], np.ndarray]:
    """Years and the replications x years paired differences scenario - against."""
    a, b = table[scenario][metric], table[against][metric]
    years = sorted(a)
    reps = sorted(set(a[years[0]]) & set(b[years[0]])) if years else []
    d = np.array([[a[y][r] - b[y][r] for y in years] for r in reps], dtype=float)
    return years, d.reshape(len(reps), len(years))


def table_source(table: Table) -> Source:
    """Replications x years arrays from a run's results.csv (for the money tables)."""

    def get(scenario: str, metric: str) -> tuple[list[int], np.ndarray]:
        by_year = table[scenario].get(metric, {})
        years = sorted(by_year)
        reps = sorted(by_year[years[0]]) if years else []
        values = np.array([[by_year[y][r] for y in years] for r in reps], dtype=float)
        return years, values.reshape(len(reps), len(years))

    return get


def _steps(run_dir: Path) -> dict[str, list[list[str]]]:
    spec = run_dir / "run.json"
    if not spec.exists():
        return {}
    steps: dict[str, list[list[str]]] = read_json(spec).get("waterfall", {})
    return steps


def check_against(table: Table, against: str | None) -> str:
    """The scenario to compare with: `against`, or the run's first (its baseline)."""
    base = against or next(iter(table), "")
    if base not in table:
        raise CompareError(f"no scenario '{base}' in the run (scenarios: {', '.join(table)})")
    return base


def direction(metric: str) -> int:
    """+1 if higher is better, -1 if lower is better, 0 if neither is."""
    if metric in BETTER_WHEN_HIGHER:
        return 1
    if metric in BETTER_WHEN_LOWER:
        return -1
    return 0


def compare(table: Table, against: str) -> list[tuple[Any, ...]]:
    check_against(table, against)
    rows: list[tuple[Any, ...]] = []
    for scenario in table:
        if scenario == against:
            continue
        for metric in table[scenario]:
            years, d = paired(table, scenario, against, metric)
            sign = direction(metric)
            for j, year in enumerate(years):
                col = d[:, j]
                col = col[~np.isnan(col)]
                if len(col) == 0:
                    rows.append((scenario, against, year, metric, *([math.nan] * 4)))
                    continue
                p5, p95 = np.percentile(col, [5, 95])
                better = float(np.mean(sign * col > 0)) if sign else math.nan
                rows.append(
                    (
                        scenario,
                        against,
                        year,
                        metric,
                        float(col.mean()),
                        float(p5),
                        float(p95),
                        better,
                    )
                )
    return rows


def write_comparison(run_dir: Path, table: Table, base: str, out: Path, la_name: str = "") -> Path:
    """compare.csv, the money tables relative to `base` and a difference chart per
    headline metric, in the folder `out`."""
    rows = compare(table, base)
    path = out / "compare.csv"
    write_csv(path, COMPARE_HEADER, ((*row[:4], *(fmt(v) for v in row[4:])) for row in rows))
    money_outputs(out, table_source(table), list(table), _steps(run_dir), la_name, base)
    for metric in HEADLINE_METRICS:
        diffs: Mapping[str, np.ndarray] = {}
        years: list[int] = []
        for scenario in table:
            if scenario != base and metric in table[scenario]:
                years, d = paired(table, scenario, base, metric)
                diffs = {**diffs, scenario: d}
        if diffs:
            difference_chart(out / f"compare_{metric}.png", metric, years, diffs, base, la_name)
    return path
