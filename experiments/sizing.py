"""Capacity sizing: the smallest level of a resource that meets a target with a stated
probability.

Every level is run on the same replication seeds (common random numbers), so the same
children meet each level of capacity and the probability of meeting the target rises
smoothly with it. The search brackets the answer by doubling, then bisects on the
resource's step, and checks that the probabilities it has seen never fall as the level
rises (a monotone response is what makes bisection valid).
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulation.model import run_replication
from simulation.parameters import Parameters

from .runner import replication_seeds


class SizingError(Exception):
    """A sizing request that cannot be met as asked; one-line message."""


@dataclass(frozen=True)
class Resource:
    section: str
    key: str
    step: float  # the smallest change worth sizing
    whole: bool  # a count, not FTE
    cost: Callable[[Parameters], float]  # annual cost of one unit
    doc: str


RESOURCES: dict[str, Resource] = {
    "ep_fte": Resource(
        "assessment",
        "ep_fte",
        1.0,
        False,
        lambda p: p.costs.ep_cost_per_fte_gbp,
        "educational psychologist FTE on statutory advice",
    ),
    "coordinator_fte": Resource(
        "plan",
        "coordinators",
        1.0,
        False,
        lambda p: p.costs.coordinator_cost_per_fte_gbp,
        "EHC coordinator FTE",
    ),
    "panel_slots": Resource(
        "panel",
        "slots_per_sitting",
        1.0,
        True,
        lambda p: 0.0,
        "requests the panel decides per sitting",
    ),
    "review_officers": Resource(
        "review",
        "officers",
        1.0,
        False,
        lambda p: p.costs.review_officer_cost_per_fte_gbp,
        "review officer FTE",
    ),
    "special_places": Resource(
        "placement",
        "special_state_places",
        1.0,
        True,
        lambda p: p.costs.annual_cost_by_group["special_state"],
        "state special school places",
    ),
}
OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        m = re.fullmatch(r"\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*", text)
        if not m:
            raise SizingError(
                f"target {text!r} must look like metric>=value (or <=, >, <), "
                "e.g. pct_within_20wks_excl_exceptions>=60"
            )
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def met(self, values: np.ndarray) -> np.ndarray:
        """Whether each replication meets the target (a missing value does not)."""
        with np.errstate(invalid="ignore"):
            met = np.asarray(OPERATORS[self.op](values, self.value), dtype=bool)
        return np.asarray(met & ~np.isnan(values), dtype=bool)


@dataclass(frozen=True)
class Point:
    level: float
    probability: float
    low: float  # 95% Wilson interval of the probability
    high: float
    mean: float
    annual_cost_gbp: float


@dataclass
class Sizing:
    resource: str
    target: Target
    year: int
    confidence: float
    replications: int
    answer: float | None
    points: list[Point] = field(default_factory=list)
    monotone: bool = True


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # The interval contains p, and reaches 0 at no successes and 1 at all: exactly, not to
    # within rounding (centre + half at p = 1 is 0.9999999999999999 for some n, and an
    # error bar of p - low or high - p must not be negative).
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return low, high


def size(
    base: Parameters,
    resource: str,
    target: Target,
    year: int,
    confidence: float,
    replications: int,
    seed: int,
    max_level: float | None = None,
) -> Sizing:
    """Find the smallest level of `resource` at which the target on `metric` in `year` is
    met in at least `confidence` of replications."""
    if resource not in RESOURCES:
        raise SizingError(f"unknown resource '{resource}' (sizable: {', '.join(RESOURCES)})")
    res = RESOURCES[resource]
    seeds = replication_seeds(seed, replications)
    current = float(getattr(getattr(base, res.section), res.key))
    cap = max_level if max_level is not None else max(64 * res.step, 16 * current)
    # Levels are whole numbers of steps, k * step, and the search works on k: a scenario
    # can leave the resource between steps (12.96 coordinators), and the start, every level
    # tried and the answer must all be points of the same grid.
    top = math.floor(cap / res.step + 1e-9)
    cache: dict[int, Point] = {}

    def evaluate(k: int) -> Point:
        if k in cache:
            return cache[k]
        level = k * res.step
        value: float | int = round(level) if res.whole else float(level)
        params = base.override({res.section: {res.key: value}})
        values = []
        for s in seeds:
            out = run_replication(params, s)
            if target.metric not in (*out.census, *out.flows, *out.finance):
                raise SizingError(f"unknown metric '{target.metric}' (see docs/metrics.md)")
            years, series = out.table(target.metric)
            if year not in years:
                raise SizingError(
                    f"{target.metric} has no value for {year} in this run (years "
                    f"{years[0]}-{years[-1]}); choose --year within the run or more --years"
                )
            values.append(float(series[list(years).index(year)]))
        arr = np.array(values)
        hits = int(target.met(arr).sum())
        low, high = wilson(hits, len(arr))
        point = Point(
            level,
            hits / len(arr),
            low,
            high,
            float(np.nanmean(arr)) if not np.all(np.isnan(arr)) else math.nan,
            level * res.cost(params),
        )
        cache[k] = point
        return point

    def ok(k: int) -> bool:
        return evaluate(k).probability >= confidence

    def result(answer: int | None) -> Sizing:
        points = [cache[k] for k in sorted(cache)]
        return Sizing(
            resource,
            target,
            year,
            confidence,
            replications,
            None if answer is None else answer * res.step,
            points,
            _monotone(points),
        )

    # Bracket: ok(hi), and lo is 0 (not tried) or tried and short of the target.
    lo, hi = 0, min(max(1, math.ceil(current / res.step - 1e-9)), max(1, top))
    while not ok(hi):
        if hi >= top:
            return result(None)
        lo, hi = hi, min(hi * 2, top)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    # The level one step below, for the record (and 0 if that suffices).
    return result(0 if hi == 1 and ok(0) else hi)


def _monotone(points: list[Point]) -> bool:
    probs = [p.probability for p in points]
    return all(b >= a for a, b in itertools.pairwise(probs))


def write_sizing(folder: Path, result: Sizing, la_name: str) -> None:
    """sizing.csv (the trade-off curve) and sizing.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .outputs import fmt, write_csv
    from .store import atomic_open

    folder.mkdir(parents=True, exist_ok=True)
    write_csv(
        folder / "sizing.csv",
        (
            "resource",
            "level",
            "probability_target_met",
            "p_low95",
            "p_high95",
            "mean_metric",
            "annual_cost_gbp",
        ),
        (
            (
                result.resource,
                fmt(p.level),
                fmt(p.probability),
                fmt(p.low),
                fmt(p.high),
                fmt(p.mean),
                fmt(round(p.annual_cost_gbp)),
            )
            for p in result.points
        ),
    )
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    levels = [p.level for p in result.points]
    ax.errorbar(
        levels,
        [p.probability for p in result.points],
        yerr=[
            [max(0.0, p.probability - p.low) for p in result.points],
            [max(0.0, p.high - p.probability) for p in result.points],
        ],
        fmt="o-",
        capsize=3,
        label="probability the target is met (95% interval)",
    )
    ax.axhline(result.confidence, color="grey", ls="--", label=f"confidence {result.confidence}")
    if result.answer is not None:
        ax.axvline(result.answer, color="#2a9d8f", label=f"answer: {fmt(result.answer)}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{result.resource} ({RESOURCES[result.resource].doc})")
    ax.set_ylabel("probability")
    t = result.target
    ax.set_title(f"{la_name}: {t.metric} {t.op} {fmt(t.value)} in {result.year}", fontsize=11)
    costs = [p.annual_cost_gbp for p in result.points]
    if any(costs):
        ax2 = ax.twinx()
        ax2.plot(levels, costs, color="#e76f51", alpha=0.6, label="annual cost (GBP)")
        ax2.set_ylabel("annual cost of the resource, GBP")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_open(folder / "sizing.png", "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
