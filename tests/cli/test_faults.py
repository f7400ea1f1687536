"""Faults a user meets: a killed or interrupted run leaves no worker processes behind and
prints no traceback.

The process tests start `sendsim run` in its own session (so it leads a process group, as
a shell job does), wait until its workers have saved a replication, then kill or interrupt
it and look at every process left in that group. They read /proc, so they run on Linux.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Slow tier: kills and interrupts real runs in subprocesses.
pytestmark = pytest.mark.slow

PROC = Path("/proc")
needs_proc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not PROC.is_dir(), reason="reads /proc (Linux)"
)
# Bounds on waiting for something that should happen within a second or two; they only
# stop a broken build from hanging the suite.
STARTUP_BOUND = 120.0
ORPHAN_BOUND = 15.0


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, or None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> set[int]:
    """Processes of a process group that are still running (zombies have finished: they
    wait only for a parent to collect their exit status)."""
    out = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[2] == pgid and st[0] not in ("Z", "X"):
                out.add(int(entry.name))
    return out


def wait_for(condition: Callable[[], bool], bound: float, poll: float = 0.1) -> float:
    """Seconds until `condition` holds; fails the test if it has not within `bound`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > bound:
            pytest.fail(f"condition not met within {bound:.0f} s")
        time.sleep(poll)
    return time.monotonic() - start


def start_run(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A long run (many replications) in its own session, whose workers have saved at
    least one replication by the time this returns. Its output goes to files beside `out`
    (workers share them: a pipe would stay open as long as any worker lived)."""
    cmd = [
        sys.executable,
        "-c",
        "from experiments.cli import main; main()",
        "run",
        "--years",
        "2",
        "--replications",
        "400",
        "--batch-size",
        "1",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]
    with (out.parent / "stdout").open("wb") as o, (out.parent / "stderr").open("wb") as e:
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, start_new_session=True)
    saved = out / "replications" / "baseline"

    def started() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"run ended early ({proc.returncode}):\n{stderr_of(out)}")
        return saved.is_dir() and any(saved.glob("*.pkl"))

    wait_for(started, STARTUP_BOUND)
    return proc


def stderr_of(out: Path) -> str:
    return (out.parent / "stderr").read_text(encoding="utf-8", errors="replace")


def _cleanup(pgid: int) -> None:
    for pid in group_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


EXECUTORS = [
    pytest.param(["--jobs", "2"], id="process-pool"),
    pytest.param(["--dask-workers", "2"], id="dask"),
]


@needs_proc
@pytest.mark.parametrize("executor", EXECUTORS)
def test_killing_the_run_leaves_no_worker_behind(tmp_path: Path, executor: list[str]) -> None:
    """SIGKILL gives the run no chance to stop its workers: they must notice the parent has
    gone and end by themselves."""
    proc = start_run(tmp_path / "out", *executor)
    pgid = proc.pid
    try:
        workers = group_members(pgid) - {proc.pid}
        assert len(workers) >= 2, workers  # the workers (and a fork server) are in the group
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        survived = wait_for(lambda: not group_members(pgid), ORPHAN_BOUND)
        print(f"workers outlived the killed run by {survived:.1f} s")
    finally:
        _cleanup(pgid)


@needs_proc
@pytest.mark.parametrize("executor", EXECUTORS)
def test_ctrl_c_prints_one_message_and_no_traceback(tmp_path: Path, executor: list[str]) -> None:
    """Ctrl-C at a terminal sends SIGINT to the whole foreground process group, workers
    included: only the run itself may answer it."""
    out = tmp_path / "out"
    proc = start_run(out, *executor)
    pgid = proc.pid
    try:
        os.killpg(pgid, signal.SIGINT)
        proc.wait(timeout=STARTUP_BOUND)
        wait_for(lambda: not group_members(pgid), ORPHAN_BOUND)
        stderr = stderr_of(out)
        assert proc.returncode == 130, stderr
        assert "interrupted:" in stderr and f"--resume --out {out}" in stderr, stderr
        assert "Traceback" not in stderr, stderr
        assert "KeyboardInterrupt" not in stderr, stderr
    finally:
        _cleanup(pgid)


IDLE_WORKERS_SIGINT = """
import os, signal
from experiments.runner import LocalPool
pool = LocalPool(2)
assert list(pool.run([[], []])) == [[], []]  # the workers have started and are idle
signal.signal(signal.SIGINT, signal.SIG_IGN)  # this process stands in for the CLI
os.killpg(0, signal.SIGINT)  # Ctrl-C at a terminal: every process of the group
assert list(pool.run([[]] * 6)) == [[]] * 6
pool.close()
print("workers carried on")
"""


@pytest.mark.skipif(os.name != "posix", reason="process groups")
def test_pool_workers_ignore_ctrl_c() -> None:
    """Idle workers (waiting for work) are where Ctrl-C used to raise KeyboardInterrupt and
    print a traceback, and the worker then died, breaking the pool."""
    proc = subprocess.run(
        [sys.executable, "-c", IDLE_WORKERS_SIGINT],
        capture_output=True,
        text=True,
        timeout=STARTUP_BOUND,
        start_new_session=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "workers carried on"
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr


WATCHER = """
import os, sys, time
if sys.argv[2] == "poll" and hasattr(os, "pidfd_open"):
    del os.pidfd_open
from experiments.runner import die_with
die_with(int(sys.argv[1]))
print("watching", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX processes")
@pytest.mark.parametrize("how", ["pidfd", "poll"])
def test_die_with_ends_the_process_when_the_watched_one_ends(how: str) -> None:
    """Both ways of watching (a pidfd, and polling where there is none) end the watcher
    when the watched process ends, though it is not the watcher's parent."""
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(watched.pid), how], stdout=subprocess.PIPE, text=True
    )
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().strip() == "watching"
        assert watcher.poll() is None
        watched.kill()
        watched.wait()
        assert watcher.wait(timeout=ORPHAN_BOUND) == 1
    finally:
        watched.kill()
        watcher.kill()
        watcher.wait()
