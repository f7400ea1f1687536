"""The project builds as a wheel that, installed (not editable) into a fresh virtual
environment, runs `sendsim run` from outside the source tree: the bundled data ship with it.

The venv borrows this interpreter's packages so numpy, simpy, scipy, matplotlib and click
come without a download: a .pth file in the venv lists the folders they are imported from
here. (--system-site-packages would not do: from inside a virtual environment it exposes
the base interpreter's packages, not the environment's, and the test would fail with "No
module named 'simpy'" exactly when the README's test command is run in a venv.) A .pth
file's plain folder lines only extend sys.path, so the venv's own site-packages, where the
wheel goes, comes first, and an editable install of sendsim here is not picked up.

The build backend (setuptools>=68, per pyproject.toml) comes from this interpreter when it is
recent enough to build wheels by itself (setuptools >= 70.1, or any >= 68 with the `wheel`
package); otherwise pip builds in an isolated environment and fetches setuptools from the
package index it is configured with.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

# Slow tier: builds and installs the wheel in a new venv.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
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


def _requirement_name(requirement: str) -> str:
    for i, ch in enumerate(requirement):
        if not (ch.isalnum() or ch in "-_."):
            return requirement[:i]
    return requirement


def _package_folders(pyproject: dict[str, Any]) -> list[str]:
    """The folders this interpreter imports the project's dependencies (and pip) from:
    its site-packages and those of any environment it borrows from."""
    folders: list[str] = []

    def add(folder: str | Path) -> None:
        text = str(folder)
        if Path(text).is_dir() and text not in folders:
            folders.append(text)

    names = [_requirement_name(r) for r in pyproject["project"]["dependencies"]]
    for name in [*names, "pip"]:
        spec = importlib.util.find_spec(name.replace("-", "_"))
        assert spec is not None, f"{name} is not importable here; install the project first"
        if spec.submodule_search_locations:  # a package: its folder's parent
            for location in spec.submodule_search_locations:
                add(Path(location).parent)
        elif spec.origin:  # a module
            add(Path(spec.origin).parent)
    for folder in site.getsitepackages():
        add(folder)
    if site.ENABLE_USER_SITE:
        add(site.getusersitepackages())
    paths = sysconfig.get_paths()
    add(paths["purelib"])
    add(paths["platlib"])
    return folders


def _borrow_packages(python: Path, folders: list[str], cwd: Path, env: dict[str, str]) -> None:
    """A .pth file in the venv's site-packages naming `folders`."""
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd, env
    ).strip()
    (Path(purelib) / "_sendsim_test_borrowed.pth").write_text(
        "".join(f"{folder}\n" for folder in folders), encoding="utf-8"
    )


def _copy_source(dest: Path) -> dict[str, Any]:
    """The files a wheel is built from (pyproject and its packages), so the build writes
    build/ and *.egg-info into the copy, never into the working tree."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    dest.mkdir()
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    for extra in ("README.md", "LICENSE", "LICENSE.txt"):
        if (REPO / extra).is_file():
            shutil.copy2(REPO / extra, dest / extra)
    found = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    tops = {p.rstrip("*").split(".")[0] for p in found}
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
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python = venv / BIN / "python"
    _borrow_packages(python, _package_folders(pyproject), tmp_path, env)
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
