"""Where a command writes its folder, and the one rule every command follows for it.

A user's files are worth more than any output of ours, so:

- A folder sendsim makes carries a marker file (``.sendsim``). ``--overwrite`` replaces
  only a folder with that marker; a folder without it, the current folder or one holding
  it, the root, the home folder, a git work tree and this program's own source tree are
  never replaced or written into.
- One writer at a time: a lock beside the folder (``.<name>.sendsim-lock``, an advisory
  ``flock`` that the kernel drops when the process dies, so a killed run leaves no stale
  lock) refuses a second command writing the same folder.
- A replacement is built beside the target (``.<name>.sendsim-new``) and swapped in only
  when it is complete, so until then the old results stay whole, and a failure leaves them
  untouched.
- A command that fails removes what it made (the new folder, or what it put in an empty
  folder the user made); an interrupted run or back-test keeps its work so that ``--resume``
  continues it (in the folder being built, if it was replacing another).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, a lock file still warns
    fcntl = None  # type: ignore[assignment]

MARKER = ".sendsim"
STAGING_SUFFIX = ".sendsim-new"
LOCK_SUFFIX = ".sendsim-lock"
_SOURCE_TREE = Path(__file__).resolve().parents[1]


class OutputError(Exception):
    """An output folder that cannot be used as asked; the message is one line."""


class Interrupted(Exception):
    """The command was interrupted (Ctrl-C); its work so far is kept for --resume and the
    message saying how to continue has been printed."""


def marker_of(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder sendsim made, or None."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("made_by") == "sendsim" else None


def staging_path(target: Path) -> Path:
    return target.parent / f".{target.name}{STAGING_SUFFIX}"


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def protected_reason(target: Path) -> str | None:
    """Why sendsim must never write into or replace this folder, or None."""
    where = target.resolve()
    cwd = Path.cwd().resolve()
    if where == Path(where.anchor):
        return "is the root of the file system"
    with contextlib.suppress(RuntimeError):  # no home folder known
        if where == Path.home().resolve():
            return "is your home folder"
    if _is_within(cwd, where):
        return "is the current folder" if where == cwd else "holds the current folder"
    if (_SOURCE_TREE / "pyproject.toml").is_file() and _is_within(_SOURCE_TREE, where):
        return "holds sendsim's own source tree"
    if (where / ".git").exists():
        return "is a git work tree"
    return None


def check_destination(target: Path, overwrite: bool, *, resumable: bool = False) -> None:
    """Refuse, before any work, a destination that the command may not write; creates
    nothing."""
    reason = protected_reason(target)
    if reason is not None:
        raise OutputError(f"--out {target} {reason}; give the name of a new folder for the output")
    if target.is_symlink():
        raise OutputError(f"--out {target} is a symbolic link; give the folder itself")
    if target.exists() and not target.is_dir():
        raise OutputError(f"--out {target} is a file, not a folder")
    if not target.exists() or not any(target.iterdir()):
        return
    made = marker_of(target)
    if not overwrite:
        hint = " or --resume to continue it" if resumable and made is not None else ""
        raise OutputError(
            f"--out {target} already exists and is not empty (use --overwrite to replace it{hint})"
        )
    if made is None:
        raise OutputError(
            f"--out {target} was not made by sendsim (no {MARKER} marker in it), so --overwrite "
            "will not replace it; move it away or choose another folder"
        )


class _Lock:
    """An exclusive advisory lock on a file beside the target, released when the process
    ends however it ends."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self, target: Path) -> None:
        while True:
            f = self.path.open("a+", encoding="utf-8")
            if fcntl is not None:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as e:
                    f.close()
                    if e.errno in (errno.EAGAIN, errno.EACCES):
                        raise OutputError(
                            f"another sendsim command is writing {target} now; wait for it to "
                            "finish or choose another --out"
                        ) from None
                    raise
            # Unlinked by a holder that finished between our open and our lock: retry on
            # the new file, or two writers would each hold a lock on a different file.
            try:
                same = os.path.samestat(os.fstat(f.fileno()), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self._file = f
                return
            f.close()

    def release(self) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None


class OutputFolder:
    """The folder a command writes, used as a context manager that holds the lock
    throughout: ``with OutputFolder(...) as folder:``, then write into ``folder.working``
    (the target itself, or a new folder beside it that is swapped in at the end)."""

    def __init__(
        self,
        target: Path,
        kind: str,
        *,
        overwrite: bool = False,
        resume: bool = False,
        resumable: bool = False,
    ):
        self.target = target
        self.kind = kind
        self.overwrite = overwrite
        self.resume = resume
        self.resumable = resumable
        self.working = target
        self._made: list[Path] = []  # folders this process created, outermost first
        self._emptied_on_failure = False  # the target existed empty: put it back empty
        self._keep = False
        self._lock = _Lock(_lock_path(target))

    # ------------------------------------------------------------------ entering
    def __enter__(self) -> OutputFolder:
        if self.resume:
            reason = protected_reason(self.target)
            if reason is not None:
                raise OutputError(f"--out {self.target} {reason}")
        else:
            check_destination(self.target, self.overwrite, resumable=self.resumable)
        try:
            self._make_parents(self.target.parent)
            self._lock.acquire(self.target)
        except OSError as e:  # name the folder asked for, not our lock file beside it
            self._remove_made()
            raise OSError(e.errno, e.strerror, str(self.target)) from None
        try:
            self._choose_working()
        except BaseException:
            self._lock.release()
            self._remove_made()
            raise
        return self

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for f in reversed(missing):
            f.mkdir()
            self._made.append(f)

    def _choose_working(self) -> None:
        staging = staging_path(self.target)
        if self.resume:
            # A replacement that was interrupted continues where it was being built.
            self.working = staging if marker_of(staging) is not None else self.target
            return
        # Checked again under the lock: another command may have written it meanwhile.
        check_destination(self.target, self.overwrite, resumable=self.resumable)
        if self.target.exists() and any(self.target.iterdir()):
            if staging.exists():  # an earlier interrupted replacement; not resumed
                self._remove_sendsim_folder(staging)
            staging.mkdir()
            self._made.append(staging)
            self.working = staging
        elif self.target.exists():
            self._emptied_on_failure = True
        else:
            self.target.mkdir()
            self._made.append(self.target)
        self._write_marker(self.working)

    def _write_marker(self, folder: Path) -> None:
        with (folder / MARKER).open("w", encoding="utf-8") as f:
            json.dump({"made_by": "sendsim", "kind": self.kind}, f)
            f.write("\n")

    # ------------------------------------------------------------------ leaving
    def keep(self) -> None:
        """Keep the work so far when leaving with an error (an interrupted run, which
        --resume continues)."""
        self._keep = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt | Interrupted)
        keep = self._keep or (self.resumable and interrupted)
        try:
            if exc_type is None:
                self._commit()
            elif not keep:
                self._discard()
        finally:
            self._lock.release()
            if exc_type is not None and not keep:
                self._remove_made(parents_only=True)

    def _commit(self) -> None:
        if self.working == self.target:
            return
        old = self.target.parent / f".{self.target.name}.sendsim-old"
        if old.exists():
            self._remove_sendsim_folder(old)
        if self.target.exists():
            self.target.rename(old)
        self.working.rename(self.target)
        if old.exists():
            self._remove_sendsim_folder(old)

    def _discard(self) -> None:
        if self.resume:
            return  # the run folder was there before; it stays resumable
        if self.working in self._made:
            shutil.rmtree(self.working, ignore_errors=True)
            self._made.remove(self.working)
        elif self._emptied_on_failure:
            for child in self.working.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def _remove_made(self, parents_only: bool = False) -> None:
        """Remove the parent folders this process made, if they are still empty."""
        for folder in reversed(self._made):
            if parents_only and folder in (self.target, staging_path(self.target)):
                continue
            with contextlib.suppress(OSError):
                folder.rmdir()

    @staticmethod
    def _remove_sendsim_folder(folder: Path) -> None:
        if marker_of(folder) is None:
            raise OutputError(f"{folder} is in the way and was not made by sendsim; move it away")
        shutil.rmtree(folder)
