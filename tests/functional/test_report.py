"""The board-paper report (`sendsim report`): self-contained HTML with every section,
rendered in headless Chromium without console errors, charts visible on screen."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.report import SECTIONS

# Slow tier: a run with a plan of levers, rendered in headless Chromium.
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("report") / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--scenario",
            "example_plan",
            "--waterfall",
            "--replications",
            "3",
            "--years",
            "3",
            "--jobs",
            "1",
            "--quiet",
            "--out",
            str(run),
        ],
    )
    assert result.exit_code == 0, result.output
    out = run.parent / "board.html"
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def test_report_is_self_contained_with_every_section(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    for key, heading in SECTIONS:
        assert f'<section id="{key}">' in text, key
        assert heading.replace("'", "&#x27;") in text or heading in text, heading
    images = re.findall(r'<img [^>]*src="([^"]+)"', text)
    assert len(images) >= 9  # fan charts, scenario charts, the deficit and the waterfall
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in text  # nothing to run, nothing to fetch
    assert not re.search(r'(src|href)="https?:', text)
    assert "STRESS-DES" in text and "Experimentation" in text and "Implementation" in text
    assert "Chance and parameters" in text and "parameter_draws.csv" in text
    assert "@media print" in text


def test_report_renders_in_headless_chromium_without_console_errors(
    report: Path, tmp_path: Path
) -> None:
    browser = chromium()
    dom = subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for key, _ in SECTIONS:
        assert f'id="{key}"' in dom.stdout, key
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def test_report_screenshot_shows_the_charts(report: Path, tmp_path: Path) -> None:
    """A screenshot of the top of the report: the headline text and the first fan chart,
    whose bands are blue (matplotlib's first colour), must be on screen."""
    browser = chromium()
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,3000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = mpimg.imread(str(shot))[..., :3]
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    chart_blue = (blue > red + 0.15) & (blue > green + 0.05)
    assert chart_blue.mean() > 0.001  # the fan charts: bands and median lines
    dark = pixels.sum(axis=2) < 0.6
    assert dark.mean() > 0.001  # text
    assert np.any(pixels.sum(axis=2) < 2.9)  # not a blank page


def test_report_of_an_unfinished_run_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    result = CliRunner().invoke(main, ["report", str(folder)])
    assert result.exit_code != 0
    assert "not a finished sendsim run" in result.output
