"""Tests of the Monte Carlo experiments layer: executors (in-process, process pool, Dask),
run folders that save every replication and resume, atomic writes, the scenario library and
relative scenario tables, common random numbers, paired comparisons (`sendsim compare`), the
replications algorithm (`--precision`) and progress output.

Runs are short (1-2 years, a few replications of the default LA, Stockport) with fixed
seeds. Expected values come from the runs' own files read with the csv module, from scipy,
or from small independent re-implementations written here; no simulated number is written
into a test.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import pickle
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import stockport
from scipy import stats

import experiments.experiment
from experiments.cli import library, main
from experiments.compare import COMPARE_HEADER
from experiments.experiment import run_experiment
from experiments.outputs import fmt
from experiments.precision import (
    LOOK_AHEAD,
    check,
    ci_halfwidth,
    look_ahead,
    relative_precision,
)
from experiments.runner import InProcess, run_batch, tasks
from experiments.store import RunStore, atomic_open
from simulation.parameters import ParameterError, apply_scenario, from_dict
from simulation.results import BETTER_WHEN_HIGHER, BETTER_WHEN_LOWER, HEADLINE_METRICS, Results

# Slow tier: runs, resumes and compares whole experiments on every executor.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLI = "from experiments.cli import main; main()"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The scenarios changing parameters ([add]/[multiply] tables) and those made of levers (a
# policy is expressed one way: as a lever).
PARAMETER_SCENARIOS = {"baseline", "cannot_recruit"}
POLICY_SCENARIOS = {
    "extra_ep",
    "extra_coordinators",
    "early_intervention",
    "new_special_places",
    "review_step_down",
}
LEVER_SCENARIOS = {"example_plan", *POLICY_SCENARIOS}
LIBRARY = PARAMETER_SCENARIOS | LEVER_SCENARIOS
FINAL_FILES = ("results.csv", "summary.csv", "manifest.json")

# The run every executor must reproduce byte for byte: the baseline and a bundled scenario
# (so batches mix scenarios), 2 years, 4 replications.
CRN_ARGS = ["run", "--years", "2", "--replications", "4", "--scenario", "extra_ep"]
CRN_YEARS = 2
CRN_REPS = 4
# The run that is interrupted and resumed: 20 replications of two scenarios.
RESUME_ARGS = [
    "run",
    "--years",
    "1",
    "--replications",
    "20",
    "--scenario",
    "extra_ep",
    "--seed",
    "7",
    "--quiet",
]
RESUME_TASKS = 2 * 20
# Chance only: with parameter uncertainty the headline means need more replications than
# the cap, and the precision rule is the same either way.
# Bexley: its 20-week % sits far from zero, so the rule is the plain relative one (an LA
# whose share is a few points, such as Stockport's, is judged on its metric's scale).
PRECISION_ARGS = [
    *("run", "--la", "Bexley", "--years", "1", "--replications", "60"),
    *("--precision", "0.05", "--quiet", "--no-parameter-uncertainty"),
]


# --------------------------------------------------------------------------- helpers


def invoke(args: Sequence[str]) -> Result:
    """Run `sendsim ARGS` in-process, with sys.argv as the console script would set it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["/usr/local/bin/sendsim", *args])
        return CliRunner().invoke(main, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exc_info)
    return result


def one_line_error(result: Result, *fragments: str) -> str:
    """A non-zero exit through click's error handling with a one-line message naming every
    fragment."""
    assert result.exit_code != 0, result.output
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    message = lines[0]
    assert message.startswith("Error: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def tree(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def tmp_files(folder: Path) -> list[Path]:
    return [p for p in tree(folder) if p.name.endswith(".tmp")]


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return data


def final_bytes(folder: Path) -> dict[str, bytes]:
    """The files that must not depend on how the run was executed or interrupted."""
    names = ["results.csv", "summary.csv"]
    names += sorted(f"parameters/{p.name}" for p in (folder / "parameters").glob("*.toml"))
    return {name: (folder / name).read_bytes() for name in names}


def assert_same_final_files(a: Path, b: Path) -> None:
    fa, fb = final_bytes(a), final_bytes(b)
    assert sorted(fa) == sorted(fb)
    assert len(fa) >= 3
    for name in fa:
        assert fa[name] == fb[name], name


def saved(folder: Path) -> set[tuple[str, int]]:
    """(scenario, replication) of every replication file in the run folder."""
    root = folder / "replications"
    if not root.is_dir():
        return set()
    return {(p.parent.name, int(p.stem)) for p in root.glob("*/*.pkl")}


def load_replication(folder: Path, scenario: str, replication: int) -> Results:
    with (folder / "replications" / scenario / f"{replication:06d}.pkl").open("rb") as f:
        results = pickle.load(f)
    assert isinstance(results, Results)
    return results


def results_rows(folder: Path) -> dict[tuple[str, int], list[tuple[str, str, str]]]:
    """results.csv as (scenario, replication) -> [(year, metric, value text)]."""
    rows: dict[tuple[str, int], list[tuple[str, str, str]]] = defaultdict(list)
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows[(r["scenario"], int(r["replication"]))].append(
                (r["year"], r["metric"], r["value"])
            )
    return rows


def assert_replications_are_complete(folder: Path, reference: Path) -> None:
    """Every saved replication loads, and holds exactly the values the reference run wrote
    for that scenario and replication."""
    expected = results_rows(reference)
    found = saved(folder)
    assert found
    for scenario, rep in found:
        res = load_replication(folder, scenario, rep)
        got = [(str(y), m, fmt(v)) for y, m, v in res.rows()]
        assert got == expected[(scenario, rep)], (scenario, rep)


def values_table(folder: Path) -> dict[tuple[str, int, int], dict[str, float | None]]:
    """(scenario, replication, year) -> metric -> value."""
    table: dict[tuple[str, int, int], dict[str, float | None]] = defaultdict(dict)
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            key = (r["scenario"], int(r["replication"]), int(r["year"]))
            table[key][r["metric"]] = float(r["value"]) if r["value"] != "" else None
    return table


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def interrupt_after(saves: int) -> Any:
    """A RunStore.save that saves, then raises KeyboardInterrupt on the `saves`-th save
    (as Ctrl-C would arrive between two replications)."""
    real = RunStore.save
    count = 0

    def save(self: RunStore, scenario: str, replication: int, results: Results) -> None:
        nonlocal count
        real(self, scenario, replication, results)
        count += 1
        if count == saves:
            raise KeyboardInterrupt

    return save


# --------------------------------------------------------------------------- shared runs


@pytest.fixture(scope="module")
def crn_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """baseline and extra_ep, 2 years, 4 replications, in-process, automatic batches."""
    out = tmp_path_factory.mktemp("crn") / "run"
    result = ok(invoke([*CRN_ARGS, "--jobs", "1", "--out", str(out)]))
    return out, result


@pytest.fixture(scope="module")
def resume_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resume_ref") / "run"
    ok(invoke([*RESUME_ARGS, "--jobs", "1", "--out", str(out)]))
    return out


@pytest.fixture(scope="module")
def same_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The baseline (named explicitly too) and a scenario that changes nothing, "same"."""
    folder = tmp_path_factory.mktemp("same")
    same = folder / "same.toml"
    same.write_text(
        '[scenario]\nname = "same"\ndescription = "no change"\nno_change = true\n',
        encoding="utf-8",
    )
    out = folder / "run"
    args = ["run", "--years", "1", "--replications", "3", "--jobs", "1", "--quiet"]
    result = ok(
        invoke([*args, "--scenario", "baseline", "--scenario", str(same), "--out", str(out)])
    )
    return out, result


@pytest.fixture(scope="module")
def precision_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("precision") / "run"
    result = ok(invoke([*PRECISION_ARGS, "--jobs", "2", "--out", str(out)]))
    return out, result


# --------------------------------------------------------------------------- executors


def executor_args(*options: str) -> list[str]:
    return [*CRN_ARGS, "--quiet", *options]


@pytest.mark.parametrize(
    ("options", "described"),
    [
        (["--jobs", "2"], {"executor": "process-pool", "workers": 2}),
        (["--jobs", "2", "--batch-size", "1"], {"executor": "process-pool", "workers": 2}),
        (["--jobs", "1", "--batch-size", "3"], {"executor": "in-process"}),
        (
            ["--dask-workers", "2", "--batch-size", "3"],
            {"executor": "dask", "scheduler": "LocalCluster", "workers": 2},
        ),
    ],
    ids=["pool", "pool-batch-1", "in-process-batch-3", "dask-local-cluster-batch-3"],
)
def test_executors_and_batch_sizes_give_identical_files(
    crn_run: tuple[Path, Result], tmp_path: Path, options: list[str], described: dict[str, Any]
) -> None:
    reference, _ = crn_run
    out = tmp_path / "run"
    ok(invoke([*executor_args(*options), "--out", str(out)]))
    for name in ("results.csv", "summary.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert_same_final_files(out, reference)
    m = manifest(out)
    assert m["executor"] == described
    assert m["timings_seconds"]["replications_simulated"] == 2 * CRN_REPS
    if "--batch-size" in options:
        assert m["arguments"]["batch_size"] == int(options[options.index("--batch-size") + 1])


def test_dask_scheduler_of_a_cluster_started_by_the_test(
    crn_run: tuple[Path, Result], tmp_path: Path
) -> None:
    # Not skipped when Dask is missing: CI installs it with the [test] extra.
    from distributed import Client, LocalCluster

    reference, _ = crn_run
    out = tmp_path / "run"
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        ok(invoke([*executor_args("--scheduler", address), "--out", str(out)]))
        # The run leaves a cluster it did not start running.
        with Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
    assert_same_final_files(out, reference)
    assert manifest(out)["executor"] == {"executor": "dask", "scheduler": address, "workers": 2}


def test_the_test_extra_installs_dask() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    for extra in ("test", "distributed"):
        assert any(r.replace(" ", "").startswith("dask[distributed]") for r in extras[extra])


@pytest.mark.parametrize(
    "option", [["--dask-workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]]
)
def test_dask_missing_is_a_one_line_error_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    out = tmp_path / "runs" / "out"
    result = invoke(["run", "--years", "1", "--replications", "1", "--out", str(out), *option])
    one_line_error(result, "sendsim[distributed]")
    assert tree(tmp_path) == []


# --------------------------------------------------------------------------- resume


def test_keyboard_interrupt_keeps_finished_replications_and_resume_completes(
    resume_reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as mp:
        mp.setattr(RunStore, "save", interrupt_after(7))
        result = invoke([*RESUME_ARGS, "--jobs", "1", "--batch-size", "1", "--out", str(out)])
    assert result.exit_code == 130, (result.output, result.exc_info)
    assert "7 finished replications" in result.stderr
    assert f"continue with: sendsim run --resume --out {out}" in result.stderr
    assert "Traceback" not in result.output
    # Replications run replication-major, so the first 7 are 0-3 of the baseline and 0-2 of
    # the scenario; each is a complete pickle of exactly what an uninterrupted run computes.
    assert saved(out) == {("baseline", i) for i in range(4)} | {("extra_ep", i) for i in range(3)}
    assert_replications_are_complete(out, resume_reference)
    assert (out / "run.json").is_file()
    for name in FINAL_FILES:
        assert not (out / name).exists(), name
    assert tmp_files(out) == []
    before = tree(out)

    # An unfinished folder: compare says to resume; running into it again without --resume
    # is refused and mentions --resume; neither touches the folder.
    one_line_error(invoke(["compare", str(out)]), "--resume")
    one_line_error(invoke([*RESUME_ARGS, "--jobs", "1", "--out", str(out)]), str(out), "--resume")
    # Resuming on Dask without Dask installed is refused before anything is written.
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "distributed", None)
        one_line_error(
            invoke(["run", "--resume", "--out", str(out), "--dask-workers", "2"]),
            "sendsim[distributed]",
        )
    assert tree(out) == before

    ok(invoke(["run", "--resume", "--out", str(out), "--jobs", "1", "--quiet"]))
    assert_same_final_files(out, resume_reference)
    m = manifest(out)
    assert m["replications_run"] == 20
    assert m["timings_seconds"]["replications_simulated"] == RESUME_TASKS - 7
    assert tmp_files(out) == []
    assert saved(out) == saved(resume_reference)
    assert_replications_are_complete(out, resume_reference)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_killed_run_resumes_to_the_same_files(resume_reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    log = tmp_path / "stderr.txt"
    args = [*RESUME_ARGS, "--jobs", "2", "--batch-size", "1", "--out", str(out)]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            cwd=ROOT,
            env=subprocess_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group: the pool's workers die too
        )
        try:
            deadline = time.monotonic() + 120
            while len(saved(out)) < 4:
                assert proc.poll() is None, (
                    "the run ended before it could be killed: " + log.read_text()
                )
                assert time.monotonic() < deadline, "no replication saved in time"
                time.sleep(0.005)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = saved(out)
    assert 4 <= len(killed) < RESUME_TASKS
    assert (out / "run.json").is_file()
    for name in FINAL_FILES:
        assert not (out / name).exists(), name
    # Whatever instant the kill came, every replication file is whole.
    assert_replications_are_complete(out, resume_reference)

    ok(invoke(["run", "--resume", "--out", str(out), "--jobs", "1", "--quiet"]))
    assert_same_final_files(out, resume_reference)
    m = manifest(out)
    assert m["timings_seconds"]["replications_simulated"] == RESUME_TASKS - len(killed)
    assert m["replications_run"] == 20
    assert not tmp_files(out)  # resuming clears what a kill in mid-write left


def test_resume_needs_a_run_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(invoke(["run", "--resume", "--out", str(empty)]), str(empty), "run.json")
    assert tree(tmp_path) == [empty]

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    one_line_error(invoke(["run", "--resume", "--out", str(other)]), str(other), "run.json")

    missing = tmp_path / "missing"
    one_line_error(invoke(["run", "--resume", "--out", str(missing)]), str(missing), "run.json")
    assert not missing.exists()

    one_line_error(invoke(["run", "--resume"]), "--out")
    assert tree(tmp_path) == [empty, other, other / "notes.txt"]


# --------------------------------------------------------------------------- atomic writes


def test_atomic_open_writes_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write("new, but only half")
        raise RuntimeError("disk full")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert tree(tmp_path) == [path]

    with atomic_open(path) as f:
        f.write("new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    blob = tmp_path / "blob.pkl"
    with atomic_open(blob, "wb") as f:
        pickle.dump({"a": 1}, f)
    assert pickle.loads(blob.read_bytes()) == {"a": 1}
    assert tree(tmp_path) == [blob, path]


def test_completed_run_leaves_no_temporary_files_and_whole_replications(
    crn_run: tuple[Path, Result],
) -> None:
    out, _ = crn_run
    assert tmp_files(out) == []
    assert saved(out) == {(s, i) for s in ("baseline", "extra_ep") for i in range(CRN_REPS)}
    assert_replications_are_complete(out, out)
    spec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert list(spec["scenarios"]) == ["baseline", "extra_ep"]
    assert spec["replications"] == CRN_REPS


def test_failure_while_writing_leaves_no_final_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_chart(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(experiments.experiment, "fan_chart", broken_chart)
    out = tmp_path / "run"
    result = invoke(
        ["run", "--years", "1", "--replications", "2", "--jobs", "1", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "internal error (RuntimeError: disk full)" in result.output
    assert (out / "run.json").is_file()
    assert not (out / "manifest.json").exists()
    one_line_error(invoke(["compare", str(out)]), "--resume")
    assert not (out / "results.csv").exists()
    assert not (out / "summary.csv").exists()


def test_resume_removes_temporary_files_left_by_a_killed_run(
    same_run: tuple[Path, Result], tmp_path: Path
) -> None:
    reference, _ = same_run
    out = tmp_path / "run"
    (out / "replications" / "baseline").mkdir(parents=True)
    shutil.copy(reference / "run.json", out / "run.json")
    shutil.copy(
        reference / "replications" / "baseline" / "000000.pkl",
        out / "replications" / "baseline" / "000000.pkl",
    )
    # What SIGKILL during the save of replication 1 leaves behind.
    whole = (reference / "replications" / "baseline" / "000001.pkl").read_bytes()
    (out / "replications" / "baseline" / ".000001.pkl.k9x2ab.tmp").write_bytes(whole[:100])
    ok(invoke(["run", "--resume", "--out", str(out), "--jobs", "1", "--quiet"]))
    assert_same_final_files(out, reference)
    assert tmp_files(out) == []


def test_run_files_have_the_permissions_of_ordinary_files(crn_run: tuple[Path, Result]) -> None:
    out, _ = crn_run
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    png = out / f"fan_{HEADLINE_METRICS[0]}.png"
    assert png.stat().st_mode & 0o777 == expected
    for name in ("results.csv", "summary.csv", "run.json", "manifest.json"):
        assert (out / name).stat().st_mode & 0o777 == expected, name


# --------------------------------------------------------------------------- scenarios

# What each bundled scenario says it does (its description), as changes to the LA's
# defaults: (operation, amount) per dotted parameter.
SCENARIO_CHANGES: dict[str, dict[str, tuple[str, float]]] = {
    "baseline": {},
    "cannot_recruit": {
        "capacity.strength": ("multiply", 0.0),
        "capacity.temp_cap": ("multiply", 0.0),
    },
}


def test_scenarios_command_lists_the_library_with_descriptions() -> None:
    lines = [line for line in ok(invoke(["scenarios"])).output.splitlines() if line.strip()]
    listed = dict(line.split(": ", 1) for line in lines)
    assert set(listed) == LIBRARY
    assert len(lines) == len(LIBRARY)
    assert set(library()) == LIBRARY
    for name, path in library().items():
        meta = tomllib.loads(path.read_text(encoding="utf-8"))["scenario"]
        assert meta["name"] == name
        assert len(meta["description"]) > 20, name
        assert listed[name] == meta["description"], name


def relative_tables(path: Path) -> dict[str, tuple[str, float]]:
    """The [add.*] and [multiply.*] entries of a scenario file, by dotted parameter."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, float]] = {}
    for op in ("add", "multiply"):
        for key, amount in flat(data.get(op, {})).items():
            found[key] = (op, amount)
    return found


@pytest.mark.parametrize("name", sorted(PARAMETER_SCENARIOS))
def test_bundled_scenario_changes_exactly_what_it_says(name: str) -> None:
    base = stockport(2)
    path = library()[name]
    expected = SCENARIO_CHANGES[name]
    assert relative_tables(path) == expected
    # No absolute overrides: a bundled scenario serves every LA.
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(data) <= {"scenario", "add", "multiply"}

    before = flat(base.to_dict())
    after = flat(apply_scenario(base, path).to_dict())
    assert set(after) == set(before)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == set(expected)
    for key, (op, amount) in expected.items():
        old = before[key]
        new = old + amount if op == "add" else old * amount
        if isinstance(old, int):
            assert after[key] == round(new) and isinstance(after[key], int), key
        else:
            assert after[key] == pytest.approx(new, rel=1e-12), key


# What each bundled policy says it does, as its one lever: (type, the effect's fields).
POLICY_LEVERS: dict[str, tuple[str, dict[str, float | str]]] = {
    "extra_ep": ("assessment_capacity", {"ep_fte": 4.0}),
    "extra_coordinators": ("assessment_capacity", {"coordinator_fte": 3.0}),
    "early_intervention": ("early_intervention", {"request_reduction": 0.15}),
    "new_special_places": ("sufficiency", {"setting": "special_state", "places": 60}),
    "review_step_down": ("review_quality", {"extra_cease": 0.02, "step_down_multiplier": 2.0}),
}


@pytest.mark.parametrize("name", sorted(POLICY_SCENARIOS))
def test_bundled_policy_is_one_lever_doing_what_it_says(name: str) -> None:
    base = stockport(2)
    path = library()[name]
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"scenario", "levers"}  # no parameter changes beside the lever
    after = apply_scenario(base, path)
    assert after.replace(levers=()) == base
    (lever,) = after.levers
    kind, effect = POLICY_LEVERS[name]
    assert lever.type == kind
    for field_name, value in effect.items():
        assert getattr(lever, field_name) == value, field_name


def test_bundled_scenario_by_name_in_a_run(crn_run: tuple[Path, Result]) -> None:
    out, _ = crn_run
    m = manifest(out)
    assert list(m["scenarios"]) == ["baseline", "extra_ep"]
    source = Path(m["scenarios"]["extra_ep"]["source"])
    assert source.resolve() == library()["extra_ep"].resolve()
    assert m["scenarios"]["extra_ep"]["description"].startswith("Four more educational")
    text = (out / "parameters" / "extra_ep.toml").read_text(encoding="utf-8")
    params = from_dict(tomllib.loads(text))
    base = stockport(CRN_YEARS)
    assert params == apply_scenario(base, library()["extra_ep"])


def test_baseline_named_explicitly_runs_once_and_first(same_run: tuple[Path, Result]) -> None:
    out, _ = same_run
    assert list(manifest(out)["scenarios"]) == ["baseline", "same"]
    assert sorted(p.name for p in (out / "parameters").iterdir()) == ["baseline.toml", "same.toml"]


def test_relative_tables_act_element_by_element(tmp_path: Path) -> None:
    path = tmp_path / "rel.toml"
    path.write_text(
        '[scenario]\nname = "rel"\n\n'
        "[add.demand]\ndirect_requests_by_age = 1.5\n\n"  # a list
        "[multiply.exits]\nhazard_by_band = 0.5\n\n"  # a table of lists
        "[multiply.initial.caseload]\nspecial_state = 2.0\n\n"  # a list inside a table
        "[add.placement]\nspecial_state_places = 10\n\n"  # an integer
        "[multiply.review]\np_step_down = 3\n",  # a number
        encoding="utf-8",
    )
    base = stockport(2)
    b, a = base.to_dict(), apply_scenario(base, path).to_dict()
    old = b["demand"]["direct_requests_by_age"]
    assert a["demand"]["direct_requests_by_age"] == [v + 1.5 for v in old]
    assert any(v > 0 for v in old) and any(v == 0 for v in old)
    hazards = b["exits"]["hazard_by_band"]
    assert set(a["exits"]["hazard_by_band"]) == set(hazards)
    for reason, values in hazards.items():
        assert a["exits"]["hazard_by_band"][reason] == [v * 0.5 for v in values], reason
    assert any(v > 0 for values in hazards.values() for v in values)
    caseload = b["initial"]["caseload"]
    for group, values in caseload.items():
        factor = 2.0 if group == "special_state" else 1.0
        assert a["initial"]["caseload"][group] == [v * factor for v in values], group
    assert a["placement"]["special_state_places"] == b["placement"]["special_state_places"] + 10
    assert a["review"]["p_step_down"] == pytest.approx(b["review"]["p_step_down"] * 3, rel=1e-12)
    # Nothing else moved.
    before, after = flat(b), flat(a)
    touched = (
        "demand.direct_requests_by_age",
        "exits.hazard_by_band.",
        "initial.caseload.special_state",
        "placement.special_state_places",
        "review.p_step_down",
    )
    for key in before:
        if not key.startswith(touched):
            assert after[key] == before[key], key


RELATIVE_ERRORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unknown_key_in_add": (
        '[scenario]\nname = "x"\n\n[add.assessment]\nep_ftee = 1.0\n',
        ("'add.assessment.ep_ftee'", "line 5", "unknown key", "ep_fte"),
    ),
    "unknown_section_in_multiply": (
        '[scenario]\nname = "x"\n\n[multiply.assesment]\nep_fte = 2.0\n',
        ("'multiply.assesment'", "line 4", "unknown key", "assessment"),
    ),
    "unknown_key_in_scenario": (
        '[scenario]\nname = "x"\ntitle = "y"\n',
        ("'scenario.title'", "line 3", "unknown key", "description"),
    ),
    "text_change": (
        '[scenario]\nname = "x"\n\n[add.assessment]\nep_fte = "four"\n',
        ("'add.assessment.ep_fte'", "line 5", "must be a number"),
    ),
    "boolean_change": (
        '[scenario]\nname = "x"\n\n[multiply.assessment]\nep_fte = true\n',
        ("'multiply.assessment.ep_fte'", "line 5", "must be a number"),
    ),
    "list_change": (
        '[scenario]\nname = "x"\n\n[multiply.demand]\nrequest_hazard_by_age = [1.0, 2.0]\n',
        ("'multiply.demand.request_hazard_by_age'", "line 5", "must be a number"),
    ),
    "change_to_text_parameter": (
        '[scenario]\nname = "x"\n\n[multiply.placement]\noverflow = 2.0\n',
        ("'multiply.placement.overflow'", "line 5", "not a number"),
    ),
}


@pytest.mark.parametrize("case", sorted(RELATIVE_ERRORS))
def test_bad_relative_scenario_is_a_one_line_error(tmp_path: Path, case: str) -> None:
    text, fragments = RELATIVE_ERRORS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError) as e:
        apply_scenario(stockport(2), path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}, line "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# --------------------------------------------------------------------------- CRN


def test_extra_ep_leaves_first_time_requests_identical(crn_run: tuple[Path, Result]) -> None:
    # EP capacity acts after the request, so under common random numbers a replication's
    # first-time requests (from SEN support and direct) are the same in both scenarios;
    # only repeat requests, from children refused or not issued a plan, may differ.
    out, _ = crn_run
    table = values_table(out)
    keys = {
        (rep, year)
        for s, rep, year in table
        if s == "baseline" and "requests_repeat" in table[(s, rep, year)]
    }
    assert len(keys) == CRN_REPS * CRN_YEARS
    repeats = downstream = 0
    for rep, year in sorted(keys):
        counts = []
        for scenario in ("baseline", "extra_ep"):
            v = table[(scenario, rep, year)]
            received, sen_support = v["requests_received"], v["requests_received_sen_support"]
            repeat = v["requests_repeat"]
            assert received is not None and sen_support is not None and repeat is not None
            counts.append(
                (
                    received - repeat,  # every first-time request
                    received - sen_support,  # direct requests
                    sen_support - repeat,  # first-time requests from SEN support
                )
            )
            repeats += repeat > 0
        assert counts[0] == counts[1], (rep, year)
        base, extra = table[("baseline", rep, year)], table[("extra_ep", rep, year)]
        downstream += base["ep_wait_weeks_mean"] != extra["ep_wait_weeks_mean"]
    assert repeats > 0  # repeat requests exist, so the subtraction matters
    assert downstream > 0  # and the scenario did change what follows the request


def test_without_returns_to_sen_support_every_request_is_identical() -> None:
    # With no refusals and no decisions not to issue, no child goes back to SEN support to
    # ask again, so every request is a first-time one and the counts match exactly.
    base = stockport(2).override({"panel": {"p_refuse": 0.0}, "assessment": {"p_not_issue": 0.0}})
    extra = apply_scenario(base, library()["extra_ep"])
    assert [lever.ep_fte for lever in extra.levers] == [4.0]  # type: ignore[attr-defined]
    out = run_batch(tasks({"base": base, "extra": extra}, 3, 20250101))
    by = {(s, i): r for s, i, r in out}
    assert len(by) == 6
    differ = 0
    for i in range(3):
        a, b = by[("base", i)], by[("extra", i)]
        assert list(a.flows["requests_repeat"]) == [0, 0]
        assert list(b.flows["requests_repeat"]) == [0, 0]
        assert list(a.flows["requests_received"]) == list(b.flows["requests_received"])
        assert list(a.flows["requests_received_sen_support"]) == list(
            b.flows["requests_received_sen_support"]
        )
        differ += list(a.flows["ep_wait_weeks_mean"]) != list(b.flows["ep_wait_weeks_mean"])
    assert differ > 0


# --------------------------------------------------------------------------- compare


@pytest.fixture(scope="module")
def compared(crn_run: tuple[Path, Result], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run, _ = crn_run
    out = tmp_path_factory.mktemp("compare") / "cmp"
    result = ok(invoke(["compare", str(run), "--out", str(out)]))
    assert f"Wrote {out / 'compare.csv'} (differences from baseline)" in result.output
    return out


def direction(metric: str) -> int:
    return 1 if metric in BETTER_WHEN_HIGHER else -1 if metric in BETTER_WHEN_LOWER else 0


def paired_differences(
    run: Path, scenario: str, against: str
) -> dict[tuple[int, str], list[float]]:
    """(year, metric) -> differences scenario - against, replication by replication, from
    results.csv (replications where either value is missing are left out)."""
    table = values_table(run)
    diffs: dict[tuple[int, str], list[float]] = defaultdict(list)
    reps = sorted({rep for s, rep, _ in table if s == scenario})
    years = sorted({year for s, _, year in table if s == scenario})
    for year in years:
        for rep in reps:
            a, b = table.get((scenario, rep, year)), table.get((against, rep, year))
            if a is None or b is None:
                continue
            for metric, value in a.items():
                other = b[metric]
                row = diffs.setdefault((year, metric), [])  # every (year, metric) has a row
                if value is not None and other is not None:
                    row.append(value - other)
    return diffs


def test_compare_writes_the_header_and_a_chart_per_headline_metric(compared: Path) -> None:
    with (compared / "compare.csv").open("rb") as f:
        assert f.readline() == (",".join(COMPARE_HEADER) + "\n").encode()
    for metric in HEADLINE_METRICS:
        data = (compared / f"compare_{metric}.png").read_bytes()
        assert data.startswith(PNG_SIGNATURE), metric
        assert len(data) > 1000, metric


def test_compare_means_are_the_paired_differences_of_the_results(
    crn_run: tuple[Path, Result], compared: Path
) -> None:
    run, _ = crn_run
    rows = read_csv(compared / "compare.csv")
    diffs = paired_differences(run, "extra_ep", "baseline")
    assert {(int(r["year"]), r["metric"]) for r in rows} == set(diffs)
    assert len(rows) == len(diffs)
    nonzero = directional = 0
    for r in rows:
        assert (r["scenario"], r["against"]) == ("extra_ep", "baseline")
        d = diffs[(int(r["year"]), r["metric"])]
        if not d:
            assert r["mean_difference"] == r["p5"] == r["p95"] == r["prob_better"] == "", r
            continue
        assert math.isclose(float(r["mean_difference"]), statistics.fmean(d), abs_tol=1e-8), r
        cuts = statistics.quantiles(d, n=100, method="inclusive") if len(d) > 1 else d * 99
        assert math.isclose(float(r["p5"]), cuts[4], rel_tol=1e-8, abs_tol=1e-8), r
        assert math.isclose(float(r["p95"]), cuts[94], rel_tol=1e-8, abs_tol=1e-8), r
        sign = direction(r["metric"])
        if sign:
            better = float(r["prob_better"])
            assert 0 <= better <= 1, r
            assert math.isclose(better, sum(sign * x > 0 for x in d) / len(d)), r
            directional += 1
        else:
            assert r["prob_better"] == "", r
        nonzero += statistics.fmean(d) != 0
    assert directional > 0
    assert nonzero > 0


def test_compare_against_the_scenario_flips_the_differences(
    crn_run: tuple[Path, Result], compared: Path, tmp_path: Path
) -> None:
    run, _ = crn_run
    ok(invoke(["compare", str(run), "--against", "extra_ep", "--out", str(tmp_path)]))
    forward = {(r["year"], r["metric"]): r for r in read_csv(compared / "compare.csv")}
    backward = read_csv(tmp_path / "compare.csv")
    assert len(backward) == len(forward)
    for r in backward:
        assert (r["scenario"], r["against"]) == ("baseline", "extra_ep")
        f = forward[(r["year"], r["metric"])]
        if f["mean_difference"] == "":
            assert r["mean_difference"] == ""
            continue
        assert math.isclose(float(r["mean_difference"]), -float(f["mean_difference"]), abs_tol=1e-8)
        assert math.isclose(float(r["p5"]), -float(f["p95"]), rel_tol=1e-8, abs_tol=1e-8)


def test_compare_writes_a_folder_inside_the_run_by_default(
    crn_run: tuple[Path, Result], compared: Path, tmp_path: Path
) -> None:
    # Its own folder, named after the scenario compared with, so comparing against another
    # scenario never rewrites the run's own money tables.
    run, _ = crn_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    ok(invoke(["compare", str(copy)]))
    out = copy / "compare-baseline"
    assert (out / "compare.csv").read_bytes() == (compared / "compare.csv").read_bytes()
    for metric in HEADLINE_METRICS:
        assert (out / f"compare_{metric}.png").is_file()
    assert {
        p: p.read_bytes() for p in copy.rglob("*") if p.is_file() and out not in p.parents
    } == before
    assert tmp_files(copy) == []
    # Again: refused without --overwrite, replaced with it.
    one_line_error(invoke(["compare", str(copy)]), str(out), "--overwrite")
    ok(invoke(["compare", str(copy), "--overwrite"]))
    assert (out / "compare.csv").read_bytes() == (compared / "compare.csv").read_bytes()


def test_a_scenario_compared_with_itself_differs_by_exactly_zero(
    same_run: tuple[Path, Result], tmp_path: Path
) -> None:
    run, _ = same_run
    table = values_table(run)
    for (scenario, rep, year), v in table.items():
        if scenario == "same":
            assert v == table[("baseline", rep, year)]
    ok(invoke(["compare", str(run), "--out", str(tmp_path)]))
    rows = read_csv(tmp_path / "compare.csv")
    assert rows
    zeros = 0
    for r in rows:
        assert (r["scenario"], r["against"]) == ("same", "baseline")
        if r["mean_difference"] == "":  # a metric with no value in any replication
            assert r["p5"] == r["p95"] == r["prob_better"] == ""
            continue
        assert r["mean_difference"] == r["p5"] == r["p95"] == "0", r
        assert r["prob_better"] == ("0" if direction(r["metric"]) else ""), r
        zeros += 1
    assert zeros > 0.9 * len(rows)


def test_compare_against_an_unknown_scenario_lists_the_scenarios(
    crn_run: tuple[Path, Result], tmp_path: Path
) -> None:
    run, _ = crn_run
    out = tmp_path / "cmp"
    result = invoke(["compare", str(run), "--against", "nope", "--out", str(out)])
    one_line_error(result, "'nope'", "baseline, extra_ep")
    assert not out.exists()


def test_compare_an_unfinished_run_says_to_resume(
    same_run: tuple[Path, Result], tmp_path: Path
) -> None:
    run, _ = same_run
    unfinished = tmp_path / "run"
    unfinished.mkdir()
    shutil.copy(run / "run.json", unfinished / "run.json")
    one_line_error(invoke(["compare", str(unfinished)]), "results.csv", "--resume")
    assert tree(unfinished) == [unfinished / "run.json"]
    # A folder that is no run at all gets no advice to resume.
    other = tmp_path / "other"
    other.mkdir()
    message = one_line_error(invoke(["compare", str(other)]), "results.csv")
    assert "--resume" not in message


# --------------------------------------------------------------------------- precision


def oracle_halfwidth(column: np.ndarray, confidence: float = 0.95) -> float:
    v = column[~np.isnan(column)]
    if len(v) < 2:
        return math.nan
    if np.all(v == v[0]):
        return 0.0
    lo, hi = stats.t.interval(confidence, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    return float(hi - lo) / 2


def oracle_worst(values: np.ndarray, n: int) -> float:
    """Worst relative precision over columns with a nonzero mean, with the first n rows."""
    if n < 3:
        return math.inf
    worst = 0.0
    for j in range(values.shape[1]):
        col = values[:n, j]
        mean = np.nanmean(col) if np.any(~np.isnan(col)) else math.nan
        half = oracle_halfwidth(col)
        if math.isnan(half) or math.isnan(mean) or mean == 0:
            continue
        worst = max(worst, half / abs(mean))
    return worst


def oracle_solution(
    values: np.ndarray, target: float, by_n: Sequence[float] | None = None
) -> int | None:
    """Hoad, Robinson and Davies: the first n (at least 3) whose precision is within the
    target for n and each of the look-ahead replications after it (`by_n[n - 1]`, the
    worst precision with n replications, if already known)."""
    total = values.shape[0]
    if by_n is None:
        by_n = [oracle_worst(values, n) for n in range(1, total + 1)]
    for n in range(3, total + 1):
        k = LOOK_AHEAD if n <= 100 else LOOK_AHEAD * n // 100
        if n + k > total:
            return None
        if all(by_n[m - 1] <= target for m in range(n, n + k + 1)):
            return n
    return None


def test_ci_halfwidth_is_the_student_t_interval() -> None:
    rng = np.random.default_rng(11)
    for n in (2, 3, 5, 12, 40):
        values = rng.normal(loc=[5.0, -3.0, 100.0, 0.5], scale=[1.0, 2.0, 30.0, 0.01], size=(n, 4))
        for confidence in (0.95, 0.9):
            got = ci_halfwidth(values, confidence)
            for j in range(4):
                expected = oracle_halfwidth(values[:, j], confidence)
                assert got[j] == pytest.approx(expected, rel=1e-10), (n, confidence, j)
        rel = relative_precision(values)
        for j in range(4):
            expected = oracle_halfwidth(values[:, j]) / abs(values[:, j].mean())
            assert rel[j] == pytest.approx(expected, rel=1e-10), (n, j)


def test_ci_halfwidth_leaves_out_missing_values() -> None:
    values = np.array(
        [[1.0, np.nan, np.nan, 0.0], [2.0, 4.0, np.nan, 0.0], [4.0, np.nan, 7.0, 0.0]]
    )
    got = ci_halfwidth(values)
    assert got[0] == pytest.approx(oracle_halfwidth(values[:, 0]), rel=1e-12)
    assert math.isnan(got[1])  # one value: no interval
    assert math.isnan(got[2])
    assert got[3] == 0
    rel = relative_precision(values)
    assert rel[0] == pytest.approx(got[0] / (7 / 3), rel=1e-12)
    assert math.isnan(rel[3])  # a zero mean has no relative scale
    assert math.isnan(ci_halfwidth(values[:1])[0])


def test_look_ahead_is_five_up_to_100_then_proportional() -> None:
    assert [look_ahead(n) for n in range(1, 101)] == [5] * 100
    for n in range(101, 2001):
        assert look_ahead(n) == math.floor(5 * n / 100), n
    assert look_ahead(200) == 10
    assert look_ahead(1000) == 50


def test_check_waits_for_the_look_ahead() -> None:
    constant = np.full((8, 2), 5.0)
    # Precise from the minimum of 3 replications, but the look-ahead (3 + 5) is not yet run.
    result = check(constant[:7], 0.01)
    assert result.solution is None
    assert list(result.precision_by_n[:2]) == [math.inf, math.inf]
    assert list(result.precision_by_n[2:]) == [0.0] * 5
    assert check(constant, 0.01).solution == 3


def test_check_stops_at_the_first_n_that_stays_precise() -> None:
    # Noisy first rows, then values at the mean: the precision improves with every
    # replication, so the answer is the first n within the target.
    column = np.array([0.0, 200.0] + [100.0] * 198)
    values = np.column_stack([column, np.full(200, 3.0), np.zeros(200), np.full(200, np.nan)])
    by_n = [oracle_worst(values, n) for n in range(1, 201)]
    assert all(a > b for a, b in itertools.pairwise(by_n[2:]))
    for first in (20, 60, 120):  # 120: past 100 the look-ahead is 6, not 5
        target = (by_n[first - 2] + by_n[first - 1]) / 2  # between n = first-1 and first
        k = look_ahead(first)
        assert k == (6 if first == 120 else 5)
        assert check(values[: first + k - 1], target).solution is None
        assert check(values[: first + k], target).solution == first
        assert check(values, target).solution == first
        got = check(values, target).precision_by_n
        assert np.allclose(got[2:], by_n[2:], rtol=1e-10)


def test_check_is_not_fooled_by_a_lucky_streak() -> None:
    # Three equal replications are perfectly "precise"; the fourth is far off. The
    # algorithm must not stop at 3.
    rng = np.random.default_rng(5)
    column = np.concatenate([[10.0, 10.0, 10.0, 25.0], rng.normal(12.0, 2.0, size=80)])
    values = column[:, None]
    target = 0.08
    result = check(values, target)
    assert result.precision_by_n[2] == 0.0  # n = 3 is within any target...
    assert result.precision_by_n[3] > target  # ...but n = 4 is not
    expected = oracle_solution(values, target)
    assert expected is not None and expected > 4
    assert result.solution == expected


def test_check_returns_none_when_the_target_is_never_met() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(loc=[0.1, 50.0], scale=[1.0, 5.0], size=(150, 2))
    result = check(values, 0.05)
    assert result.solution is None
    assert len(result.precision_by_n) == 150
    assert result.precision_by_n[-1] > 0.05
    assert check(values[:, 1:], 1e-9).solution is None


def test_check_agrees_with_the_algorithm_on_random_replications() -> None:
    rng = np.random.default_rng(2025)
    solved = unsolved = 0
    for _ in range(20):
        rows = int(rng.integers(8, 70))
        values = rng.normal(
            loc=rng.uniform(5, 50, size=3), scale=rng.uniform(0.5, 8, size=3), size=(rows, 3)
        )
        by_n = [oracle_worst(values, n) for n in range(1, rows + 1)]
        for target in (0.03, 0.1, 0.3):
            got = check(values, target)
            expected = oracle_solution(values, target, by_n)
            assert got.solution == expected, (rows, target)
            solved += expected is not None
            unsolved += expected is None
            assert np.allclose(got.precision_by_n[2:], by_n[2:], rtol=1e-10)
    assert solved > 0 and unsolved > 0


def headline_matrix_from_results(run: Path) -> np.ndarray:
    """Replications x (scenario, headline metric, year) from results.csv."""
    table = values_table(run)
    reps = sorted({rep for _, rep, _ in table})
    columns = sorted(
        {(s, m, y) for (s, _, y), v in table.items() for m in v if m in HEADLINE_METRICS}
    )
    return np.array(
        [
            [np.nan if (x := table[(s, rep, y)][m]) is None else x for s, m, y in columns]
            for rep in reps
        ],
        dtype=float,
    )


def test_precision_run_stops_early_and_meets_the_target(
    precision_run: tuple[Path, Result],
) -> None:
    out, result = precision_run
    m = manifest(out)
    n = m["replications_run"]
    p = m["precision"]
    assert p["target"] == 0.05
    assert p["met"] is True
    assert 3 <= p["solution_replications"] <= n < 60
    assert len(saved(out)) == n
    assert f"precision 0.05: met at {p['solution_replications']} replications" in result.output
    assert f"Wrote {n} replications" in result.output

    # The answer is the algorithm's on the replications the run wrote.
    values = headline_matrix_from_results(out)
    assert values.shape[0] == n
    assert oracle_solution(values, 0.05) == p["solution_replications"]

    # Every headline mean in summary.csv is within the target at the end.
    worst = 0.0
    checked = 0
    for row in read_csv(out / "summary.csv"):
        if row["metric"] not in HEADLINE_METRICS or row["mean"] in ("", "0"):
            continue
        relative = float(row["mean_ci95"]) / abs(float(row["mean"]))
        assert relative <= 0.05, row
        worst = max(worst, relative)
        checked += 1
    assert checked >= len(HEADLINE_METRICS)
    assert p["worst_relative_precision_at_end"] == pytest.approx(worst, rel=1e-6)


def test_unreachable_precision_runs_the_cap_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--years", "1", "--replications", "12", "--precision", "1e-6", "--jobs", "1"]
    result = ok(invoke([*args, "--quiet", "--out", str(out)]))
    assert "not met within 12 replications (the cap)" in result.output
    m = manifest(out)
    assert m["replications_run"] == 12
    assert m["precision"]["met"] is False
    assert m["precision"]["solution_replications"] is None
    assert m["precision"]["worst_relative_precision_at_end"] > 1e-6
    assert saved(out) == {("baseline", i) for i in range(12)}


def test_precision_with_a_cap_of_one_replication_terminates(tmp_path: Path) -> None:
    spec = {
        "scenarios": {"baseline": {"parameters": stockport(1).to_dict()}},
        "replications": 1,
        "precision": 0.05,
        "root_seed": 1,
    }
    (tmp_path / "run").mkdir()
    store = RunStore.create(tmp_path / "run", spec)
    rounds = 0

    def total(n: int) -> None:
        nonlocal rounds
        rounds += 1
        if rounds > 50:
            raise RuntimeError("run_experiment keeps starting rounds that run nothing")

    outcome = run_experiment(store, InProcess(), total=total)
    assert outcome.replications == 1
    assert outcome.precision is None or outcome.precision.solution is None


def test_resumed_precision_run_gives_the_same_files(
    precision_run: tuple[Path, Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, _ = precision_run
    n = manifest(reference)["replications_run"]
    out = tmp_path / "run"
    with monkeypatch.context() as mp:
        mp.setattr(RunStore, "save", interrupt_after(n - 1))
        result = invoke([*PRECISION_ARGS, "--jobs", "1", "--batch-size", "1", "--out", str(out)])
    assert result.exit_code == 130
    assert len(saved(out)) == n - 1
    ok(invoke(["run", "--resume", "--out", str(out), "--jobs", "1", "--quiet"]))
    assert manifest(out)["replications_run"] == n
    assert_same_final_files(out, reference)


# --------------------------------------------------------------------------- progress


def test_no_progress_output_when_stderr_is_not_a_terminal(
    crn_run: tuple[Path, Result], same_run: tuple[Path, Result]
) -> None:
    _, plain = crn_run  # run without --quiet
    _, quiet = same_run  # run with --quiet
    for result in (plain, quiet):
        assert result.stderr == ""
        assert "Wrote" in result.stdout


def read_terminal(master: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("quiet", [False, True], ids=["terminal", "terminal-quiet"])
def test_progress_bar_on_a_terminal_unless_quiet(tmp_path: Path, quiet: bool) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    args = ["run", "--years", "1", "--replications", "3", "--jobs", "1"]
    args += ["--out", str(tmp_path / "run"), *(["--quiet"] if quiet else [])]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        cwd=ROOT,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    try:
        terminal = read_terminal(master, proc, timeout=120)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0, terminal
    assert b"Wrote 3 replications" in stdout
    if quiet:
        assert terminal.strip() == b""
    else:
        assert b"replications" in terminal
        assert b"3/3" in terminal
        assert b"100%" in terminal
