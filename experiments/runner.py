"""Many replications of one or more scenarios, with common random numbers, on any executor.

Replication i of every scenario gets the i-th child of the root SeedSequence, so scenarios
see the same children, the same requests and the same work times wherever the scenario
leaves that part of the system unchanged. Replications travel in batches (one task is
several replications, so scheduling costs little); executors yield batches as they finish,
and the run store puts every replication in its place, so the files a run writes are the
same bytes whichever executor ran it and in whatever order the batches came back.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulation.model import run_replication
from simulation.parameters import Parameters
from simulation.results import Results
from simulation.uncertainty import ParameterUncertainty


class ExperimentError(Exception):
    """A problem with how an experiment was asked for; the message is one line."""


@dataclass(frozen=True)
class Task:
    scenario: str
    replication: int
    params: Parameters
    seed: np.random.SeedSequence
    uncertainty: ParameterUncertainty | None = None

    def parameters(self) -> Parameters:
        """The parameters this replication runs with: drawn from the uncertainty (the same
        draw for replication i of every scenario), or the point estimates."""
        if self.uncertainty is None:
            return self.params
        return self.uncertainty.draw_and_apply(self.params, self.seed)


Batch = Sequence[Task]
Outcome = list[tuple[str, int, Results]]


def replication_seeds(root: int, n: int) -> list[np.random.SeedSequence]:
    """The seeds of replications 0..n-1: the same for every scenario (CRN), and the first k
    the same whatever n is, so adding replications never changes earlier ones."""
    return np.random.SeedSequence(root).spawn(n)


def tasks(
    scenarios: dict[str, Parameters],
    replications: Sequence[int] | int,
    root_seed: int,
    uncertainty: ParameterUncertainty | None = None,
) -> list[Task]:
    """Tasks for the given replication numbers of every scenario, replication-major so
    that a partly finished run has whole replications of every scenario."""
    reps = range(replications) if isinstance(replications, int) else replications
    seeds = replication_seeds(root_seed, max(reps, default=-1) + 1)
    return [
        Task(name, i, params, seeds[i], uncertainty)
        for i in reps
        for name, params in scenarios.items()
    ]


def run_batch(batch: Batch) -> Outcome:
    """Run a batch of replications (the unit of work an executor ships)."""
    return [
        (t.scenario, t.replication, as_shipped(run_replication(t.parameters(), t.seed)))
        for t in batch
    ]


def as_shipped(results: Results) -> Results:
    """The results as they arrive from a worker process: through pickle and back.

    A replication's pickle (replications/*.pkl) depends on which objects its results share,
    not only on their values: the pickle writes a shared object once and refers back to it.
    NumPy's dtype is such an object. In the process that ran the model, every float64 (the
    arrays, and the NumPy scalars among the event log's times) shares NumPy's one float64
    dtype; after a trip through pickle the scalars share it again but the arrays share a
    copy (NumPy 2.4), so a replication pickled where it ran had one dtype fewer than one
    that came from a worker, and the files differed by executor. Sending every result
    through pickle once, wherever it ran, gives each the shape a further trip leaves
    unchanged, so the files are the same bytes in-process, from a process pool or Dask."""
    shipped: Results = pickle.loads(pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
    return shipped


def batches(items: Sequence[Task], size: int | None = None, workers: int = 1) -> list[Batch]:
    """Tasks cut into batches: of `size` each, or (size None) guided: each batch a quarter
    of the remaining work per worker, at most 25 replications (a few seconds of work, so an
    interruption loses little) and shrinking towards the end so that workers finish
    together."""
    out: list[Batch] = []
    i = 0
    while i < len(items):
        n = size or max(1, min(25, (len(items) - i) // max(1, workers * 4)))
        out.append(items[i : i + n])
        i += n
    return out


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Executor(Protocol):
    """Where batches run. `run` yields each batch's outcome as it finishes."""

    workers: int

    def run(self, work: Sequence[Batch]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


class InProcess:
    """Run batches one after another in this process."""

    workers = 1

    def run(self, work: Sequence[Batch]) -> Iterator[Outcome]:
        for batch in work:
            yield run_batch(batch)

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"executor": "in-process"}


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def worker_init(parent: int) -> None:
    """Run first in every worker process. Ctrl-C at a terminal signals the whole process
    group: only the parent answers it (stopping the run and saying how to resume), so a
    worker ignores SIGINT rather than printing its own KeyboardInterrupt traceback. And a
    worker ends as soon as `parent` (the process that runs the experiment) does, however
    that ends, SIGKILL included, so no orphan goes on simulating."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)


def worker_initializer() -> Callable[[], None]:
    """An `initializer` for a process pool this process starts (ProcessPoolExecutor's):
    worker_init with this process as the parent its workers die with."""
    return functools.partial(worker_init, os.getpid())


def die_with(parent: int) -> None:
    """End this process when process `parent` ends.

    A worker's own parent is the fork server, not the process that runs the experiment,
    and the fork server lives until its last worker ends; so the worker watches the
    experiment's process itself: on Linux by a pidfd (readable the moment the process
    exits), elsewhere by polling whether it still exists. On Linux the kernel also kills
    the worker if its direct parent (the fork server) dies first (PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    threading.Thread(
        target=_watch_parent, args=(parent, os.getppid()), name="parent-watch", daemon=True
    ).start()


def _watch_parent(parent: int, direct: int, poll: float = 0.5) -> None:
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(parent)  # Linux 5.3 or later
    if pidfd is not None:
        select.select([pidfd], [], [])
        os._exit(1)
    while _alive(parent) and os.getppid() == direct:
        time.sleep(poll)
    os._exit(1)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (the pid was reused)
        return False
    return True


class LocalPool:
    """A pool of worker processes on this machine."""

    def __init__(self, jobs: int):
        self.workers = jobs
        # Workers start from a fresh fork server, not a fork of this process: a forked
        # child inherits the BLAS thread pool that estimating the defaults woke here, and
        # those threads then compete with the simulation (measured: 0.42 s per replication
        # in two forked workers against 0.27 s alone; 0.26 s from a fork server).
        self._pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=worker_initializer(),
        )

    def run(self, work: Sequence[Batch]) -> Iterator[Outcome]:
        # Keep a few batches queued per worker rather than submitting everything, so an
        # interruption leaves little submitted work to cancel.
        pending: set[Future[Outcome]] = set()
        queue = list(work)[::-1]
        while queue or pending:
            while queue and len(pending) < self.workers * 2:
                pending.add(self._pool.submit(run_batch, queue.pop()))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        return {"executor": "process-pool", "workers": self.workers}


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the duration (in the main thread; elsewhere it cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


class DaskExecutor:
    """Dask distributed: an existing cluster (`scheduler` address) or a LocalCluster of
    `workers` single-threaded worker processes started for the run."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExperimentError(
                'running on Dask needs the optional extra: pip install "sendsim[distributed]" '
                '(or pip install ".[distributed]" from a clone)'
            ) from None
        self._cluster = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout="20s")
            else:
                # Worker processes started while SIGINT is ignored keep ignoring it (the
                # disposition survives exec, and Python then installs no handler), so
                # Ctrl-C reaches only this process, as with the local pool.
                with _sigint_ignored():
                    self._cluster = LocalCluster(
                        n_workers=workers or 1,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as e:
            raise ExperimentError(f"cannot reach the Dask scheduler {scheduler}: {e}") from None
        self.scheduler = scheduler
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def run(self, work: Sequence[Batch]) -> Iterator[Outcome]:
        from distributed import as_completed

        futures = self._client.map(run_batch, list(work), pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def describe(self) -> dict[str, Any]:
        return {
            "executor": "dask",
            "scheduler": self.scheduler or "LocalCluster",
            "workers": self.workers,
        }


def make_executor(
    jobs: int, scheduler: str | None = None, dask_workers: int | None = None
) -> Executor:
    if scheduler or dask_workers:
        return DaskExecutor(scheduler, dask_workers)
    if jobs <= 1:
        return InProcess()
    return LocalPool(jobs)
