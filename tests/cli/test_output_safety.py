"""Output safety and the CLI's error boundary (issue 13): sendsim never deletes or writes
into a folder it did not make, one writer at a time, replacements swapped in whole, and
every known fault a one-line error with its documented exit code and nothing left behind."""

from __future__ import annotations

import errno
import json
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import experiments.runner
import experiments.store
from experiments.cli import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INTERRUPTED, EXIT_IO, main
from experiments.output_folder import MARKER, OutputError, OutputFolder, staging_path
from experiments.store import RunStore

REPS = 2
SIZE = ["size", "--resource", "ep_fte", "--target", "new_ehcps>=1", "--year", "2025"]
CALIBRATE = ["calibrate", "--la", "Rutland", "--no-fit", "--history-replications", "1"]
BACKTEST = ["backtest", "--la", "Rutland", "--origin", "2021", "--horizon", "1", "--no-fit"]


def invoke(args: Sequence[str]) -> Result:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["/usr/local/bin/sendsim", *args])
        return CliRunner().invoke(main, list(args))


def run_args(out: Path | str, *extra: str, reps: int = REPS) -> list[str]:
    args = ["run", "--years", "1", "--replications", str(reps), "--jobs", "1", "--quiet"]
    return [*args, "--out", str(out), *extra]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exc_info)
    return result


def clean_error(result: Result, code: int, *fragments: str) -> str:
    """Exit `code` through click, no traceback, one line naming every fragment."""
    assert result.exit_code == code, (result.output, result.exc_info)
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def user_folder(path: Path) -> Path:
    """A folder of the user's own, with a file in a subfolder."""
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "a").write_text("mine", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "run"
    ok(invoke(run_args(out)))
    return out


def copy_run(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


# --------------------------------------------------------------------------- refusals


def test_overwrite_of_the_current_folder_is_refused_and_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = user_folder(tmp_path / "scratch")
    monkeypatch.chdir(scratch)
    before = listing(tmp_path)
    clean_error(invoke(run_args(".", "--overwrite")), EXIT_BAD_INPUT, "current folder")
    clean_error(
        invoke(run_args(str(tmp_path), "--overwrite")), EXIT_BAD_INPUT, "holds the current folder"
    )
    assert listing(tmp_path) == before


def test_overwrite_of_a_folder_sendsim_did_not_make_is_refused(tmp_path: Path) -> None:
    scratch = user_folder(tmp_path / "scratch")
    before = listing(tmp_path)
    clean_error(invoke(run_args(scratch, "--overwrite")), EXIT_BAD_INPUT, "not made by sendsim")
    clean_error(
        invoke([*SIZE, "--replications", "2", "--out", str(scratch), "--overwrite"]),
        EXIT_BAD_INPUT,
        "not made by sendsim",
    )
    clean_error(
        invoke([*CALIBRATE, "--out", str(scratch), "--overwrite"]),
        EXIT_BAD_INPUT,
        "not made by sendsim",
    )
    clean_error(
        invoke([*BACKTEST, "--replications", "1", "--out", str(scratch)]),
        EXIT_BAD_INPUT,
        "--overwrite",
    )
    clean_error(
        invoke([*BACKTEST, "--replications", "1", "--out", str(scratch), "--overwrite"]),
        EXIT_BAD_INPUT,
        "not made by sendsim",
    )
    assert listing(tmp_path) == before


@pytest.mark.parametrize("which", ["home", "root", "git", "source"])
def test_protected_folders_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    repo = user_folder(tmp_path / "repo")
    (repo / ".git").mkdir()
    (repo / MARKER).write_text('{"made_by": "sendsim", "kind": "run"}', encoding="utf-8")
    target = {
        "home": home,
        "root": Path("/"),
        "git": repo,
        "source": Path(experiments.store.__file__).resolve().parents[1],
    }[which]
    before = listing(repo)
    reason = {
        "home": "home folder",
        "root": "root of the file system",
        "git": "git work tree",
        "source": "source tree",
    }[which]
    clean_error(invoke(run_args(target, "--overwrite")), EXIT_BAD_INPUT, reason)
    assert listing(repo) == before


def test_a_file_or_a_symbolic_link_as_out_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x", encoding="utf-8")
    result = invoke(run_args(f, "--overwrite"))  # click's own usage error
    assert result.exit_code == EXIT_BAD_INPUT and "is a file" in result.output
    assert "Traceback" not in result.output and f.read_text(encoding="utf-8") == "x"
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    clean_error(invoke(run_args(link, "--overwrite")), EXIT_BAD_INPUT, "symbolic link")
    assert list(real.iterdir()) == []


# --------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_while_one_runs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with OutputFolder(out, "run", resumable=True) as folder:
        assert folder.working == out
        result = invoke(run_args(out, "--overwrite"))
        clean_error(result, EXIT_BAD_INPUT, "another sendsim command is writing", str(out))
        result = invoke(["run", "--resume", "--out", str(out)])
        clean_error(result, EXIT_BAD_INPUT, "another sendsim command is writing")
    # The lock goes with its holder, and leaves no file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with OutputFolder(out, "run", overwrite=True) as folder:
        assert folder.working == staging_path(out)


def test_the_lock_is_held_by_the_kernel_not_by_a_file_left_behind(tmp_path: Path) -> None:
    # A killed writer leaves its lock file; that must not block the next command.
    out = tmp_path / "run"
    (tmp_path / ".run.sendsim-lock").write_text("", encoding="utf-8")
    ok(invoke(run_args(out)))
    assert not (tmp_path / ".run.sendsim-lock").exists()


# --------------------------------------------------------------------------- replacing


@pytest.mark.slow
def test_an_interrupted_overwrite_keeps_the_old_results_until_resumed(
    finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = copy_run(finished_run, tmp_path / "run")
    old = listing(out)
    real = RunStore.save
    saves = 0

    def interrupting(self: RunStore, *args: Any) -> None:
        nonlocal saves
        real(self, *args)
        saves += 1
        if saves == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(RunStore, "save", interrupting)
        result = invoke(run_args(out, "--overwrite", "--seed", "7", reps=4))
    assert result.exit_code == EXIT_INTERRUPTED
    assert f"continue with: sendsim run --resume --out {out}" in result.output
    assert "Traceback" not in result.output
    assert listing(out) == old  # the old run is whole and untouched
    assert (staging_path(out) / "run.json").is_file()

    ok(invoke(["run", "--resume", "--out", str(out)]))
    assert not staging_path(out).exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["root_seed"] == 7 and manifest["replications_run"] == 4
    assert manifest["timings_seconds"]["replications_simulated"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    clean = tmp_path.parent / f"{tmp_path.name}-clean"
    ok(invoke(run_args(clean, "--seed", "7", reps=4)))
    for name in ("results.csv", "summary.csv"):
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name


def test_a_failed_overwrite_leaves_the_old_results_and_nothing_else(
    finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = copy_run(finished_run, tmp_path / "run")
    old = listing(out)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.runner, "run_replication", crash)
    result = invoke(run_args(out, "--overwrite"))
    assert result.exit_code == EXIT_BUG
    assert "internal error (RuntimeError: boom)" in result.output
    assert "--debug" in result.output and "Traceback" not in result.output
    assert listing(out) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failure_before_any_replication_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.runner, "run_replication", crash)
    out = tmp_path / "runs" / "new" / "run"
    assert invoke(run_args(out)).exit_code == EXIT_BUG
    assert list(tmp_path.iterdir()) == []  # not even the parents it made
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(run_args(empty)).exit_code == EXIT_BUG
    assert empty.is_dir() and list(empty.iterdir()) == []  # the user's folder stays


def test_debug_shows_the_traceback_of_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.runner, "run_replication", crash)
    result = invoke(["--debug", *run_args(tmp_path / "run")])
    assert isinstance(result.exception, RuntimeError)


# --------------------------------------------------------------------------- disks


def _failing(code: int, where: Callable[..., Any]) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code), str(args[0]) if args else None)

    return fail


def test_a_full_disk_is_one_line_exit_3_and_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ENOSPC at the first replication's save: nothing finished, so nothing is kept.
    real = pickle.dump

    def full(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        real(obj, f, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f.name)

    monkeypatch.setattr(experiments.store.pickle, "dump", full)
    out = tmp_path / "run"
    clean_error(invoke(run_args(out)), EXIT_IO, "no space left")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_an_unwritable_out_is_one_line_exit_3_for_every_command(
    finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    before = listing(tmp_path)
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if "unwritable" in str(self):
            raise OSError(code, os.strerror(code), str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    out = tmp_path / "unwritable" / "out"
    commands = [
        run_args(out),
        ["compare", str(run), "--out", str(out)],
        ["report", str(run), "--out", str(out / "report.html")],
        [*SIZE, "--replications", "2", "--out", str(out)],
        [*CALIBRATE, "--out", str(out)],
        [*BACKTEST, "--replications", "1", "--out", str(out)],
    ]
    words = {errno.EROFS: "read-only", errno.EACCES: "permission denied"}[code]
    for args in commands:
        clean_error(invoke(args), EXIT_IO, words, "unwritable")
    assert listing(tmp_path) == before


def test_a_real_read_only_place_is_one_line_exit_3(tmp_path: Path) -> None:
    probe = Path("/sys/sendsim-probe")
    try:
        probe.mkdir()
    except OSError:
        pass
    else:  # pragma: no cover - a machine where /sys is writable
        probe.rmdir()
        pytest.skip("/sys is writable here")
    clean_error(invoke(run_args("/sys/sendsim-out")), EXIT_IO, "/sys/sendsim-out")


# --------------------------------------------------------------------------- damaged files


@pytest.mark.slow
def test_a_truncated_replication_then_resume_is_one_line(
    finished_run: Path, tmp_path: Path
) -> None:
    out = copy_run(finished_run, tmp_path / "run")
    (out / "manifest.json").unlink()  # unfinished
    pkl = out / "replications" / "baseline" / "000001.pkl"
    pkl.write_bytes(pkl.read_bytes()[:100])
    clean_error(
        invoke(["run", "--resume", "--out", str(out)]), EXIT_BAD_INPUT, str(pkl), "delete it"
    )
    pkl.unlink()
    ok(invoke(["run", "--resume", "--out", str(out)]))
    assert (out / "results.csv").read_bytes() == (finished_run / "results.csv").read_bytes()


def test_a_damaged_manifest_or_specification_is_one_line(
    finished_run: Path, tmp_path: Path
) -> None:
    out = copy_run(finished_run, tmp_path / "run")
    (out / "manifest.json").write_text('{"scenarios": ', encoding="utf-8")
    clean_error(invoke(["report", str(out)]), EXIT_BAD_INPUT, "manifest.json", "damaged")
    clean_error(invoke(["compare", str(out)]), EXIT_BAD_INPUT, "manifest.json", "damaged")
    (out / "manifest.json").write_text("[]", encoding="utf-8")
    clean_error(invoke(["report", str(out)]), EXIT_BAD_INPUT, "manifest.json", "damaged")
    (out / "manifest.json").write_bytes(b"\xff\xfe{")
    clean_error(invoke(["report", str(out)]), EXIT_BAD_INPUT, "manifest.json", "damaged")
    (out / "manifest.json").unlink()
    (out / "run.json").write_text("{", encoding="utf-8")
    clean_error(invoke(["run", "--resume", "--out", str(out)]), EXIT_BAD_INPUT, "run.json")


def test_an_out_of_range_value_edited_into_run_json_then_resume_is_one_line(
    finished_run: Path, tmp_path: Path
) -> None:
    out = copy_run(finished_run, tmp_path / "run")
    (out / "manifest.json").unlink()
    spec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    spec["scenarios"]["baseline"]["parameters"]["panel"]["slots_per_sitting"] = -5
    (out / "run.json").write_text(json.dumps(spec), encoding="utf-8")
    clean_error(invoke(["run", "--resume", "--out", str(out)]), EXIT_BAD_INPUT, "slots_per_sitting")
    spec["scenarios"] = "nonsense"
    (out / "run.json").write_text(json.dumps(spec), encoding="utf-8")
    clean_error(invoke(["run", "--resume", "--out", str(out)]), EXIT_BAD_INPUT, "run.json")


# --------------------------------------------------------------------------- report, size


def test_report_replaces_only_its_own_file_and_only_when_asked(
    finished_run: Path, tmp_path: Path
) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    ok(invoke(["report", str(run)]))
    first = (run / "report.html").read_bytes()
    clean_error(invoke(["report", str(run)]), EXIT_BAD_INPUT, "--overwrite")
    ok(invoke(["report", str(run), "--overwrite"]))
    assert (run / "report.html").read_bytes() == first
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my notes</html>", encoding="utf-8")
    clean_error(
        invoke(["report", str(run), "--out", str(mine), "--overwrite"]),
        EXIT_BAD_INPUT,
        "not written by sendsim",
    )
    assert mine.read_text(encoding="utf-8") == "<html>my notes</html>"


def test_size_does_not_overwrite_earlier_output_silently(tmp_path: Path) -> None:
    out = tmp_path / "size"
    args = ["size", "--la", "Rutland", "--resource", "panel_slots", "--target", "new_ehcps>=1"]
    args += ["--year", "2025", "--replications", "2", "--max-level", "4", "--out", str(out)]
    ok(invoke(args))
    first = listing(out)
    assert MARKER in first and "sizing.csv" in first
    clean_error(invoke(args), EXIT_BAD_INPUT, "--overwrite")
    assert listing(out) == first
    ok(invoke([*args, "--overwrite"]))
    assert listing(out)["sizing.csv"] == first["sizing.csv"]


def test_backtest_refuses_a_non_empty_folder_and_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    (out / "las").mkdir(parents=True)
    (out / "las" / "keep.json").write_text("{}", encoding="utf-8")
    clean_error(invoke([*BACKTEST, "--replications", "1", "--out", str(out)]), EXIT_BAD_INPUT)
    assert (out / "las" / "keep.json").read_text(encoding="utf-8") == "{}"


def test_output_error_messages_are_single_lines() -> None:
    with pytest.raises(OutputError, match=r"^[^\n]*$"), OutputFolder(Path("/"), "run"):
        pass


def test_a_scenario_named_like_a_waterfall_step_is_refused(tmp_path: Path) -> None:
    clash = tmp_path / "clash.toml"
    clash.write_text(
        '[scenario]\nname = "example_plan.1"\n\n[add.assessment]\nep_fte = 1.0\n',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    args = [*run_args(out), "--scenario", "example_plan", "--scenario", str(clash)]
    clean_error(invoke([*args, "--waterfall"]), EXIT_BAD_INPUT, "example_plan.1", "rename")
    assert not out.exists()


def test_an_interrupted_backtest_says_how_to_resume_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import experiments.api

    real = experiments.api.run_backtest

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        save = args[4]

        def save_then_stop(code: str, out: Any) -> None:
            save(code, out)
            raise KeyboardInterrupt

        return real(*args[:4], save_then_stop, *args[5:], **kwargs)

    out = tmp_path / "bt"
    args = [*BACKTEST, "--replications", "1", "--jobs", "1", "--out", str(out)]
    with monkeypatch.context() as mp:
        mp.setattr(experiments.api, "run_backtest", interrupted)
        result = invoke(args)
    assert result.exit_code == EXIT_INTERRUPTED
    assert "Traceback" not in result.output and "Aborted" not in result.output
    assert "interrupted: 1 of 1 LAs are saved" in result.output
    assert f"--out {out} --resume" in result.output
    saved = listing(out)
    assert any(name.startswith("las/") for name in saved)

    def nothing_left_to_run(*args: Any, **kwargs: Any) -> Any:
        assert len(args[5]) == 1  # the saved LA is handed over as done
        return real(*args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(experiments.api, "run_backtest", nothing_left_to_run)
        ok(invoke([*args, "--resume"]))
    assert (out / "backtest_scores.csv").is_file()


@pytest.mark.slow
def test_precision_not_met_names_the_means_that_blocked_it(tmp_path: Path) -> None:
    args = [*run_args(tmp_path / "run", reps=10), "--precision", "0.0001"]
    result = ok(invoke(args))
    line = next(x for x in result.output.splitlines() if x.startswith("  precision"))
    assert "not met within 10 replications" in line
    assert "furthest from it: baseline " in line
    blocked = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert blocked["precision"]["met"] is False
