"""The project builds as a wheel that, installed (not editable) into a fresh virtual
environment, runs `sendsim run` from outside the source tree: the bundled data ship with it.

The venv uses --system-site-packages so numpy, simpy, scipy, matplotlib and click come from
this interpreter without a download. The build backend (setuptools>=68, per pyproject.toml)
comes from this interpreter when it is recent enough to build wheels by itself (setuptools
>= 70.1, or any >= 68 with the `wheel` package); otherwise pip builds in an isolated
environment and fetches setuptools from the package index it is configured with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = "Scripts" if os.name == "nt" else "bin"


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _can_build_without_isolation() -> bool:
    try:
        setuptools = _version_tuple(version("setuptools"))
    except PackageNotFoundError:
        return False
    try:
        version("wheel")
        has_wheel = True
    except PackageNotFoundError:
        has_wheel = False
    return setuptools >= (70, 1) or (setuptools >= (68,) and has_wheel)


def _run(cmd: Sequence[str | Path], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _copy_source(dest: Path) -> dict[str, Any]:
    """The files a wheel is built from (pyproject and its packages), so the build writes
    build/ and *.egg-info into the copy, never into the working tree."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    dest.mkdir()
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    for extra in ("README.md", "LICENSE", "LICENSE.txt"):
        if (REPO / extra).is_file():
            shutil.copy2(REPO / extra, dest / extra)
    tops = {p.split(".")[0] for p in pyproject["tool"]["setuptools"]["packages"]}
    for top in sorted(tops):
        shutil.copytree(
            REPO / top,
            dest / top,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"),
        )
    return pyproject


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    src = tmp_path / "src"
    pyproject = _copy_source(src)

    # Build the wheel.
    dist = tmp_path / "dist"
    build: list[str | Path] = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--wheel-dir",
        dist,
    ]
    if _can_build_without_isolation():
        build.append("--no-build-isolation")
    _run([*build, src], cwd=tmp_path, env=env)
    wheels = sorted(dist.glob("sendsim-*.whl"))
    assert len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    assert "calibration/data/sen2_la_timeseries.csv" in names
    assert "calibration/data/la_lookup.csv" in names
    assert "experiments/cli.py" in names

    # Install it, not editable, into a fresh venv that borrows this interpreter's packages.
    venv = tmp_path / "venv"
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv],
        tmp_path,
        env,
    )
    python = venv / BIN / "python"
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            wheels[0],
        ],
        cwd=tmp_path,
        env=env,
    )

    # Run the console script from a folder outside the repository.
    work = tmp_path / "work"
    work.mkdir()
    where = _run(
        [python, "-c", "import experiments.cli, calibration; print(experiments.cli.__file__)"],
        cwd=work,
        env=env,
    ).strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert not Path(where).resolve().is_relative_to(REPO), where

    out = work / "out"
    args = ["run", "--la", "Stockport", "--years", "1", "--replications", "2", "--jobs", "1"]
    _run([venv / BIN / "sendsim", *args, "--out", out], cwd=work, env=env)

    lines = (out / "results.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "scenario,replication,year,metric,value"
    assert len(lines) > 1
    assert {line.split(",")[1] for line in lines[1:]} == {"0", "1"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sendsim_version"] == pyproject["project"]["version"]
    assert manifest["command"] == ["sendsim", *args, "--out", str(out)]
    assert manifest["la"]["code"] == "E08000007"
    data = Path(manifest["data"]["path"]).resolve()
    assert data.is_relative_to(venv.resolve()), data
    assert data.name == "sen2_la_timeseries.csv"
