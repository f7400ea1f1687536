"""The Python API (experiments.api): the command line is a thin layer over it, so the same
arguments give the same numbers; results are typed, with summaries as DataFrames when pandas
is there and as plain tables when it is not; the example in docs/ runs."""

from __future__ import annotations

import csv
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from experiments import api
from experiments.api import backtest, calibrate, compare, run, size
from experiments.cli import main
from experiments.output_folder import OutputError
from simulation.parameters import ParameterError

# Slow tier: every API call runs the model or a calibration.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stockport() -> api.RunResult:
    return run(la="Stockport", years=2, replications=2, seed=1, jobs=1)


def test_run_summary_matches_the_command_line(
    stockport: api.RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cli"
    args = ["run", "--la", "Stockport", "--years", "2", "--replications", "2", "--seed", "1"]
    result = CliRunner().invoke(main, [*args, "--jobs", "1", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "summary.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == api.SUMMARY_COLUMNS
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "pandas", None)  # the plain table, written as the CLI does
        table = stockport.summary()
    assert isinstance(table, api.Table)
    from experiments.outputs import fmt

    mine = [[str(v) if isinstance(v, str | int) else fmt(v) for v in row] for row in table.rows]
    assert mine == rows[1:]
    assert stockport.folder is None  # simulated in a temporary folder, removed


def test_summary_is_a_dataframe_with_pandas(stockport: api.RunResult) -> None:
    pd = pytest.importorskip("pandas")
    frame = stockport.summary()
    assert isinstance(frame, pd.DataFrame)
    assert tuple(frame.columns) == api.SUMMARY_COLUMNS
    plans = frame[(frame.metric == "ehcp_total_jan") & (frame.scenario == "baseline")]
    years, values = stockport.values("ehcp_total_jan")
    assert list(plans.year) == years
    assert np.allclose(plans["mean"], values.mean(axis=0))


def test_values_are_replications_by_years(stockport: api.RunResult) -> None:
    years, values = stockport.values("new_ehcps")
    assert values.shape == (stockport.replications, len(years)) == (2, 2)
    assert stockport.scenarios == ["baseline"]
    assert stockport.la_code == "E08000007"
    assert stockport.manifest["replications_run"] == 2


def test_errors_are_the_commands(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="neither a file nor a bundled scenario"):
        run("Rutland", years=1, replications=1, scenarios=["nope"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not made by sendsim"):
        run("Rutland", years=1, replications=1, out=tmp_path / "mine", overwrite=True)


def test_compare_size_calibrate_and_backtest(tmp_path: Path) -> None:
    result = run(
        "Rutland",
        scenarios=["extra_ep"],
        years=1,
        replications=2,
        seed=3,
        jobs=1,
        out=tmp_path / "run",
    )
    assert result.folder == tmp_path / "run" and (result.folder / "manifest.json").is_file()
    diff = compare(tmp_path / "run", write=False)
    assert diff.against == "baseline" and diff.folder is None
    assert {row[0] for row in diff.rows} == {"extra_ep"}
    assert not (tmp_path / "run" / "compare-baseline").exists()

    sized = size(
        "Rutland",
        resource="panel_slots",
        target="new_ehcps>=1",
        year=2025,
        replications=2,
        max_level=4,
    )
    assert sized.folder is None and sized.joint is None and sized.sizing is not None
    assert sized.sizing.points and sized.sizing.resource == "panel_slots"

    cal = calibrate("Rutland", fit_replications=2, max_evaluations=8, history_replications=2)
    assert cal.folder is None and cal.parameters.la_code == "E06000017"
    assert len(cal.summary()) == len(cal.history_rows) > 0

    bt = backtest(
        "Rutland",
        origin=2021,
        horizon=1,
        replications=2,
        fit=False,
        jobs=1,
        out=tmp_path / "bt",
    )
    assert {r.la_code for r in bt.rows} == {"E06000017"}
    assert len(bt.summary()) == len(bt.summary_rows) > 0
    assert (tmp_path / "bt" / "backtest_scores.csv").is_file()


def test_the_example_in_the_docs_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "docs" / "examples" / "api_example.py"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", [str(example), str(tmp_path)])
        runpy.run_path(str(example), run_name="__main__")
    printed = capsys.readouterr().out
    assert "Rutland: 4 replications of ['baseline', 'early_intervention']" in printed
    assert "EP FTE needed:" in printed
    assert (tmp_path / "run" / "compare-baseline" / "compare.csv").is_file()


def test_the_documented_import_works() -> None:
    import subprocess

    code = "from experiments.api import run, calibrate, size, backtest, compare"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
