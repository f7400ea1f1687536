"""The codebase's own standards, checked with the tests: lint, format, types, docs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.reference import DOCS, data_schema_markdown, metrics_markdown, parameters_markdown

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the [test] extra")
def test_ruff_lint_and_format_clean() -> None:
    lint = _run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_clean() -> None:
    pytest.importorskip("mypy")
    res = _run(sys.executable, "-m", "mypy")
    assert res.returncode == 0, res.stdout + res.stderr


def test_reference_docs_are_current() -> None:
    """docs/parameters.md and docs/metrics.md are generated; regenerate with
    `python -m experiments.reference` after changing parameters or metrics."""
    assert (DOCS / "parameters.md").read_text(encoding="utf-8") == parameters_markdown()
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == metrics_markdown()
    assert (DOCS / "data-schema.md").read_text(encoding="utf-8") == data_schema_markdown()


def test_imports_point_down_only() -> None:
    """simulation never imports calibration or experiments; calibration never imports
    experiments."""
    for package, forbidden in (
        ("simulation", ("calibration", "experiments")),
        ("calibration", ("experiments",)),
    ):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in forbidden:
                assert f"from {name}" not in text and f"import {name}" not in text, (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


LONGEST = 80  # lines of a function, its signature and docstring included


def test_no_long_function_without_a_reason() -> None:
    """A function over LONGEST lines says why in its docstring ("Long because ..."), so a
    newcomer meets long functions only where length is the clearer choice."""
    import ast

    unexplained = []
    for folder in ("simulation", "calibration", "experiments"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST and "Long because" not in (ast.get_docstring(node) or ""):
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert unexplained == [], unexplained
