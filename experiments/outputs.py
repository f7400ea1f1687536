"""Writing a run's folder: tidy results, summaries and the manifest, never half-written.

The run is written into a hidden staging folder next to the destination and renamed into
place only when complete, so a failed or interrupted run leaves no partial output folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from simulation.results import Results

RESULTS_HEADER = ("scenario", "replication", "year", "metric", "value")
SUMMARY_HEADER = ("scenario", "year", "metric", "mean", "p5", "p25", "p50", "p75", "p95")
QUANTILES = (5, 25, 50, 75, 95)


def fmt(value: float) -> str:
    """A number as text, the same bytes on every platform; missing values are empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(float(value), ".10g")


def result_rows(
    scenario: str, replication: int, res: Results
) -> Iterator[tuple[str, int, int, str, float]]:
    for year, metric, value in res.rows():
        yield scenario, replication, year, metric, value


def write_results(path: Path, rows: Iterable[tuple[str, int, int, str, float]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(RESULTS_HEADER)
        for s, r, y, m, v in rows:
            w.writerow((s, r, y, m, fmt(v)))


def summarise(results: dict[str, list[Results]]) -> list[tuple[Any, ...]]:
    """Mean and quantiles over replications per scenario, year and metric (missing values,
    such as a percentage in a year with no plans, are left out)."""
    out: list[tuple[Any, ...]] = []
    for scenario, reps in results.items():
        first = reps[0]
        for kind, years in (("census", first.census_years), ("flows", first.flow_years)):
            table: dict[str, np.ndarray] = getattr(first, kind)
            for metric in table:
                stack = np.array([getattr(r, kind)[metric] for r in reps], dtype=float)
                for j, year in enumerate(years):
                    col = stack[:, j]
                    col = col[~np.isnan(col)]
                    if len(col) == 0:
                        out.append((scenario, year, metric, *([math.nan] * 6)))
                        continue
                    q = np.percentile(col, QUANTILES)
                    out.append((scenario, year, metric, float(col.mean()), *map(float, q)))
    return out


def write_summary(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SUMMARY_HEADER)
        for row in rows:
            w.writerow((*row[:3], *(fmt(v) for v in row[3:])))


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n", encoding="utf-8"
    )


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, np.ndarray | tuple):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def git_commit() -> str | None:
    """The commit of the sendsim source tree, when sendsim runs from a git checkout of its
    own (not when installed somewhere inside another repository)."""
    source = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != source:
            return None
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_destination(out: Path, overwrite: bool) -> None:
    """Refuse to clobber a folder that holds something, unless asked to."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"--out {out} already exists and is not empty (use --overwrite to replace it)"
        )


@contextmanager
def staged_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """A staging folder that becomes `out` only if the block completes."""
    out = out.resolve()
    check_destination(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(stage, out)


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in rows:
        w.writerow(row)
    return buf.getvalue()
