"""A run's folder: its specification, each finished replication, and the final outputs.

Every file is written whole or not at all (written beside its name, then renamed into
place), so an interrupted or killed run leaves only complete replications, which `--resume`
picks up; the summary files appear only when the run is complete.
"""

from __future__ import annotations

import json
import os
import pickle
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


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file sendsim wrote (a run's specification or manifest); damaged -> StoreError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise StoreError(f"{path} is damaged (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise StoreError(f"{path} is damaged (not valid JSON: {e})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is damaged (not a JSON object)")
    return data


def check_spec(spec: dict[str, Any], path: Path) -> None:
    """The shape of a run's specification (its parameters are checked when rebuilt)."""

    def bad(what: str) -> StoreError:
        return StoreError(f"{path} is damaged ({what}); start the run again with --overwrite")

    scenarios = spec.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        raise bad("no scenarios")
    for name, s in scenarios.items():
        if not isinstance(s, dict) or not isinstance(s.get("parameters"), dict):
            raise bad(f"scenario {name!r} has no parameters")
    for key, low in (("replications", 1), ("root_seed", 0)):
        value = spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise bad(f"{key} must be a whole number of at least {low}")
    precision = spec.get("precision")
    if precision is not None and not (isinstance(precision, int | float) and 0 < precision < 1):
        raise bad("precision must be between 0 and 1")
    for key, field in (("data", "path"), ("la", "code")):
        if not isinstance(spec.get(key), dict) or not isinstance(spec[key].get(field), str):
            raise bad(f"no {key} {field}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class RunStore:
    def __init__(self, path: Path, spec: dict[str, Any]):
        self.path = path
        self.spec = spec

    @classmethod
    def create(cls, path: Path, spec: dict[str, Any]) -> RunStore:
        """A new run in `path`, an empty folder (see output_folder.OutputFolder, which
        decides where a run may be written)."""
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
        spec = read_json(spec_path)
        check_spec(spec, spec_path)
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
        path = self._replication_path(scenario, replication)
        try:
            with path.open("rb") as f:
                results = pickle.load(f)
        except (
            OSError,
            EOFError,
            pickle.UnpicklingError,
            AttributeError,
            ImportError,
            IndexError,
            TypeError,
            ValueError,
        ) as e:
            raise StoreError(
                f"{path} is damaged ({type(e).__name__}); delete it and run --resume again "
                "to simulate that replication anew"
            ) from None
        if not isinstance(results, Results):
            raise StoreError(
                f"{path} does not hold a replication's results; delete it and run --resume "
                "again to simulate that replication anew"
            )
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
