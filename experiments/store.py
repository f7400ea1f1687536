"""A run's folder: its specification, each finished replication, and the final outputs.

Every file is written whole or not at all (written beside its name, then renamed into
place), so an interrupted or killed run leaves only complete replications, which `--resume`
picks up; the summary files appear only when the run is complete.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from simulation.results import Results

SPEC = "run.json"
REPLICATIONS = "replications"


class StoreError(Exception):
    """A run folder that cannot be used as asked; the message is one line."""


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path` and rename it into place on success."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        # mkstemp makes files private (0600); give them the mode any other file would get.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_destination(out: Path, overwrite: bool) -> None:
    """Refuse to clobber a folder that holds something, unless asked to."""
    if out.exists() and not out.is_dir():
        raise StoreError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        hint = " or --resume to continue it" if (out / SPEC).exists() else ""
        raise StoreError(
            f"--out {out} already exists and is not empty (use --overwrite to replace it{hint})"
        )


class RunStore:
    def __init__(self, path: Path, spec: dict[str, Any]):
        self.path = path
        self.spec = spec

    @classmethod
    def create(cls, path: Path, spec: dict[str, Any], overwrite: bool) -> RunStore:
        check_destination(path, overwrite)
        if path.exists() and overwrite:
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        store = cls(path, spec)
        with atomic_open(path / SPEC) as f:
            json.dump(spec, f, indent=2)
            f.write("\n")
        return store

    @classmethod
    def open(cls, path: Path) -> RunStore:
        spec_path = path / SPEC
        if not spec_path.exists():
            raise StoreError(f"{path} is not a sendsim run folder (no {SPEC}); nothing to resume")
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{spec_path}: cannot read the run specification ({e})") from None
        for leftover in path.rglob(".*.tmp"):  # half-written by a killed run
            leftover.unlink(missing_ok=True)
        return cls(path, spec)

    def _replication_path(self, scenario: str, replication: int) -> Path:
        return self.path / REPLICATIONS / scenario / f"{replication:06d}.pkl"

    def save(self, scenario: str, replication: int, results: Results) -> None:
        path = self._replication_path(scenario, replication)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as f:
            pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, scenario: str, replication: int) -> Results:
        with self._replication_path(scenario, replication).open("rb") as f:
            results: Results = pickle.load(f)
        return results

    def finished(self) -> set[tuple[str, int]]:
        """(scenario, replication) of every replication saved so far."""
        done: set[tuple[str, int]] = set()
        root = self.path / REPLICATIONS
        for scenario in self.spec["scenarios"]:
            folder = root / scenario
            if folder.is_dir():
                done.update((scenario, int(p.stem)) for p in folder.glob("*.pkl"))
        return done

    def write_text(self, name: str, text: str) -> None:
        with atomic_open(self.path / name) as f:
            f.write(text)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        with atomic_open(self.path / name) as f:
            json.dump(data, f, indent=2, default=_json_default)
            f.write("\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, np.ndarray | tuple):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
