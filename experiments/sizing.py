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
from simulation.results import Results
from simulation.uncertainty import field_limits

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


class _Trials:
    """The target's probability at any combination of resource levels, each combination
    run once on the same replication seeds (common random numbers) and remembered."""

    def __init__(
        self,
        base: Parameters,
        target: Target,
        year: int,
        replications: int,
        seed: int,
    ):
        self.base, self.target, self.year = base, target, year
        self.seeds = replication_seeds(seed, replications)
        self.cache: dict[tuple[tuple[str, float], ...], Point] = {}

    def current(self, resource: str) -> float:
        res = RESOURCES[resource]
        return float(getattr(getattr(self.base, res.section), res.key))

    def point(self, levels: dict[str, float]) -> Point:
        """The target's probability with each resource at its level (others as the base
        has them); `level` and the cost are those of the first resource named."""
        key = tuple(sorted(levels.items()))
        if key in self.cache:
            return self.cache[key]
        changes: dict[str, dict[str, float | int]] = {}
        for name, level in levels.items():
            res = RESOURCES[name]
            changes.setdefault(res.section, {})[res.key] = (
                round(level) if res.whole else float(level)
            )
        params = self.base.override(changes)
        values = [self._value(run_replication(params, s)) for s in self.seeds]
        arr = np.array(values)
        hits = int(self.target.met(arr).sum())
        low, high = wilson(hits, len(arr))
        cost = sum(level * RESOURCES[name].cost(params) for name, level in levels.items())
        first = next(iter(levels.values()))
        point = Point(
            first,
            hits / len(arr),
            low,
            high,
            float(np.nanmean(arr)) if not np.all(np.isnan(arr)) else math.nan,
            cost,
        )
        self.cache[key] = point
        return point

    def _value(self, out: Results) -> float:
        metric = self.target.metric
        if metric not in (*out.census, *out.flows, *out.finance):
            raise SizingError(f"unknown metric '{metric}' (see docs/metrics.md)")
        years, series = out.table(metric)
        if self.year not in years:
            raise SizingError(
                f"{metric} has no value for {self.year} in this run (years "
                f"{years[0]}-{years[-1]}); choose --year within the run or more --years"
            )
        return float(series[list(years).index(self.year)])


def _check_resource(resource: str) -> Resource:
    if resource not in RESOURCES:
        raise SizingError(f"unknown resource '{resource}' (sizable: {', '.join(RESOURCES)})")
    return RESOURCES[resource]


def _top(trials: _Trials, resource: str, max_level: float | None) -> int:
    """The highest level tried, in whole steps."""
    res = RESOURCES[resource]
    cap = max_level if max_level is not None else max(64 * res.step, 16 * trials.current(resource))
    return math.floor(cap / res.step + 1e-9)


def _smallest(ok: Callable[[int], bool], start: int, top: int) -> int | None:
    """The smallest k in 0..top with ok(k), for ok monotone in k: bracket by doubling from
    `start`, then bisect; None if even `top` falls short."""
    lo, hi = 0, min(max(1, start), max(1, top))
    while not ok(hi):
        if hi >= top:
            return None
        lo, hi = hi, min(hi * 2, top)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return 0 if hi == 1 and ok(0) else hi


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
    res = _check_resource(resource)
    trials = _Trials(base, target, year, replications, seed)
    # Levels are whole numbers of steps, k * step, and the search works on k: a scenario
    # can leave the resource between steps (12.96 coordinators), and the start, every level
    # tried and the answer must all be points of the same grid.
    top = _top(trials, resource, max_level)
    start = math.ceil(trials.current(resource) / res.step - 1e-9)
    answer = _smallest(
        lambda k: trials.point({resource: k * res.step}).probability >= confidence, start, top
    )
    points = sorted(trials.cache.values(), key=lambda p: p.level)
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


def binding(
    base: Parameters,
    resource: str,
    target: Target,
    year: int,
    replications: int,
    seed: int,
    max_level: float | None = None,
) -> list[tuple[str, float, float]]:
    """Where no level of `resource` meets the target: which other resource binds. With
    `resource` at the highest level tried, each other resource in turn is raised to four
    times its level (at least 8 steps); returns (resource, probability without, with),
    for those whose rise lifts the probability, most first."""
    trials = _Trials(base, target, year, replications, seed)
    res = _check_resource(resource)
    high = _top(trials, resource, max_level) * res.step
    before = trials.point({resource: high}).probability
    lifts = []
    for name, other in RESOURCES.items():
        if name == resource:
            continue
        hi = field_limits(other.section, other.key)[1]
        raised = max(4 * trials.current(name), 8 * other.step)
        raised = raised if hi is None else min(raised, hi)
        after = trials.point({resource: high, name: raised}).probability
        if after > before:
            lifts.append((name, before, after))
    return sorted(lifts, key=lambda t: -t[2])


@dataclass
class JointSizing:
    """The cheapest combination of two resources that meets the target, and the frontier:
    for each level of the first, the smallest level of the second that meets it."""

    resources: tuple[str, str]
    target: Target
    year: int
    confidence: float
    replications: int
    answer: tuple[float, float] | None
    frontier: list[tuple[float, float, Point]] = field(default_factory=list)


def size_joint(
    base: Parameters,
    resources: tuple[str, str],
    target: Target,
    year: int,
    confidence: float,
    replications: int,
    seed: int,
    max_level: float | None = None,
) -> JointSizing:
    """The cheapest pair of levels (annual cost) meeting the target. The smallest level of
    the second that meets it cannot rise as the first rises (more of either never hurts),
    so the frontier is a staircase walked from the first at 0 upwards, the second coming
    down from where it was: a few dozen combinations rather than a grid."""
    a, b = resources
    if a == b:
        raise SizingError(f"--resource {a} is named twice; name two different resources")
    ra, rb = _check_resource(a), _check_resource(b)
    trials = _Trials(base, target, year, replications, seed)
    top_a, top_b = _top(trials, a, max_level), _top(trials, b, max_level)

    def ok(i: int, j: int) -> bool:
        return trials.point({a: i * ra.step, b: j * rb.step}).probability >= confidence

    frontier: list[tuple[float, float, Point]] = []
    j_start = _smallest(lambda j: ok(0, j), 1, top_b)
    j = top_b if j_start is None else j_start
    for i in range(top_a + 1):
        if j_start is None and not ok(i, j):
            continue  # the second alone cannot reach it yet with this little of the first
        j_start = j
        while j > 0 and ok(i, j - 1):
            j -= 1
        frontier.append((i * ra.step, j * rb.step, trials.point({a: i * ra.step, b: j * rb.step})))
        if j == 0:
            break
    if not frontier:
        return JointSizing(resources, target, year, confidence, replications, None)
    best = min(frontier, key=lambda f: (f[2].annual_cost_gbp, f[0] + f[1]))
    return JointSizing(
        resources, target, year, confidence, replications, (best[0], best[1]), frontier
    )


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


def write_joint_sizing(folder: Path, result: JointSizing, la_name: str) -> None:
    """sizing.csv (the frontier: for each level of the first resource, the smallest level
    of the second meeting the target, with its probability and annual cost) and
    sizing.png (the frontier, the cheapest combination marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .outputs import fmt, write_csv
    from .store import atomic_open

    a, b = result.resources
    write_csv(
        folder / "sizing.csv",
        (a, b, "probability_target_met", "p_low95", "p_high95", "mean_metric", "annual_cost_gbp"),
        (
            (
                fmt(la),
                fmt(lb),
                fmt(p.probability),
                fmt(p.low),
                fmt(p.high),
                fmt(p.mean),
                fmt(round(p.annual_cost_gbp)),
            )
            for la, lb, p in result.frontier
        ),
    )
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.step([f[0] for f in result.frontier], [f[1] for f in result.frontier], "o-", where="post")
    for la, lb, p in result.frontier:
        ax.annotate(
            f"£{p.annual_cost_gbp / 1e6:.2f}m",
            (la, lb),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    if result.answer is not None:
        ax.plot(*result.answer, "*", ms=16, color="#2a9d8f", label="cheapest combination")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"{a} ({RESOURCES[a].doc})")
    ax.set_ylabel(f"{b} ({RESOURCES[b].doc})")
    t = result.target
    ax.set_title(
        f"{la_name}: smallest {b} for each {a} meeting {t.metric} {t.op} {fmt(t.value)} "
        f"in {result.year} ({result.confidence:.0%} of replications)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_open(folder / "sizing.png", "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
