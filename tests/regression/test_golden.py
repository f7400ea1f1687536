"""Golden outputs: what the model and the calibration produce today, frozen, so that a
restructuring can be proved to change nothing.

Each case runs the real command (in-process) and compares its files byte for byte with the
copies in ``tests/regression/golden/``. A change of behaviour that is meant (a new
mechanism, a fixed bug) regenerates them, in the commit that makes the change and says why:

    python tests/regression/test_golden.py      # rewrite the goldens from the current code

Bytes depend on NumPy's random streams and float formatting, which NumPy does not promise to
keep across releases (same seed and same NumPy give the same bytes); the ``[test]`` extra
pins the NumPy series the goldens were made with, and ``tests/regression/golden/versions.json``
records it, so a failure on another NumPy says so rather than looking like a regression.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy
from click.testing import CliRunner

from experiments.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    files: tuple[str, ...]


CASES = (
    # A small LA, two seeds, with parameter uncertainty (the default), one of them with a
    # plan of levers so that the levers' effects and the money are frozen too.
    Case(
        "run_rutland_seed1",
        ("run", "--la", "Rutland", "--years", "2", "--replications", "2", "--seed", "1"),
        ("results.csv", "summary.csv", "parameter_draws.csv"),
    ),
    Case(
        "run_rutland_seed2_plan",
        (
            *("run", "--la", "Rutland", "--years", "3", "--replications", "2", "--seed", "2"),
            *("--scenario", "example_plan", "--scenario", "extra_ep"),
        ),
        ("results.csv", "summary.csv", "dsg_management_plan.csv", "mitigated.csv"),
    ),
    # A calibration with the capacity fit (small, so quick): its parameters and uncertainty.
    Case(
        "calibrate_rutland",
        (
            *("calibrate", "--la", "Rutland", "--fit-replications", "2"),
            *("--max-evaluations", "8", "--history-replications", "2", "--seed", "3"),
        ),
        ("parameters.toml", "uncertainty.json", "fit_errors.csv", "fit_capacity.csv"),
    ),
)


def versions() -> dict[str, str]:
    return {"numpy": np.__version__, "scipy": scipy.__version__}


def produce(case: Case, out: Path) -> None:
    args = [*case.args, "--out", str(out)]
    if case.args[0] == "run":
        args += ["--jobs", "1", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.output, result.exc_info)


# The first case (a small run, about a second) stays in the fast tier.
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.name, marks=() if i == 0 else pytest.mark.slow)
        for i, c in enumerate(CASES)
    ],
)
def test_outputs_match_the_golden_copies(case: Case, tmp_path: Path) -> None:
    recorded = json.loads((GOLDEN / "versions.json").read_text(encoding="utf-8"))
    now = versions()
    same_series = all(
        recorded[k].split(".")[:2] == now[k].split(".")[:2] for k in ("numpy", "scipy")
    )
    out = tmp_path / case.name
    produce(case, out)
    for name in case.files:
        expected = (GOLDEN / case.name / name).read_bytes()
        got = (out / name).read_bytes()
        if got != expected and not same_series:
            pytest.fail(
                f"{case.name}/{name} differs, but the goldens were made with {recorded} and "
                f"this is {now}: NumPy's streams may differ between releases; regenerate "
                "them on this version only if nothing else changed"
            )
        assert got == expected, (
            f"{case.name}/{name} differs from tests/regression/golden/: if the change is meant, "
            "regenerate with `python tests/regression/test_golden.py` and say why in the commit"
        )


def regenerate() -> None:
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / case.name
            produce(case, out)
            folder = GOLDEN / case.name
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            for name in case.files:
                (folder / name).write_bytes((out / name).read_bytes())
    (GOLDEN / "versions.json").write_text(json.dumps(versions(), indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    regenerate()
    sys.exit(0)
