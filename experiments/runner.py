"""Many replications of one or more scenarios, with common random numbers.

Replication i of every scenario gets the i-th child of the root SeedSequence, so scenarios
see the same children, the same requests and the same work times wherever the scenario
leaves that part of the system unchanged. The executor only decides where replications run:
results are the same, in the same order, whichever runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from simulation.model import run_replication
from simulation.parameters import Parameters
from simulation.results import Results


@dataclass(frozen=True)
class Task:
    scenario: str
    replication: int
    params: Parameters
    seed: np.random.SeedSequence


def replication_seeds(root: int, n: int) -> list[np.random.SeedSequence]:
    """The seeds of replications 0..n-1: the same for every scenario (CRN), and the first k
    the same whatever n is, so adding replications never changes earlier ones."""
    return np.random.SeedSequence(root).spawn(n)


def tasks(scenarios: dict[str, Parameters], replications: int, root_seed: int) -> list[Task]:
    seeds = replication_seeds(root_seed, replications)
    return [
        Task(name, i, params, seeds[i])
        for name, params in scenarios.items()
        for i in range(replications)
    ]


def _run_batch(batch: Sequence[Task]) -> list[tuple[str, int, Results]]:
    return [(t.scenario, t.replication, run_replication(t.params, t.seed)) for t in batch]


def _batches(items: Sequence[Task], size: int) -> list[Sequence[Task]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_tasks(
    items: Sequence[Task],
    jobs: int = 1,
    on_result: Callable[[str, int, Results], None] | None = None,
) -> Iterator[tuple[str, int, Results]]:
    """Run tasks in-process (jobs 1) or on a local process pool, yielding results in task
    order; `on_result` sees each as it is yielded."""
    if jobs <= 1 or len(items) <= 1:
        for t in items:
            res = (t.scenario, t.replication, run_replication(t.params, t.seed))
            if on_result:
                on_result(*res)
            yield res
        return
    # A few replications per task keeps pickling and scheduling overhead small while
    # leaving enough tasks for the pool to balance.
    size = max(1, len(items) // (jobs * 4))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for batch in pool.map(_run_batch, _batches(items, size)):
            for res in batch:
                if on_result:
                    on_result(*res)
                yield res
