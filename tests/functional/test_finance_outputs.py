"""The money outputs a board paper needs: the DSG management plan table and workbook, the
unmitigated-against-mitigated table and the savings waterfall (sendsim run --waterfall)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from experiments.cli import main
from experiments.finance import DSG_CATEGORIES, fy_label

# Slow tier: a run with a plan of levers and its money tables.
pytestmark = pytest.mark.slow

REPS = 4
YEARS = 3


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--scenario",
            "example_plan",
            "--waterfall",
            "--replications",
            str(REPS),
            "--years",
            str(YEARS),
            "--jobs",
            "1",
            "--quiet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _results(out: Path) -> dict[tuple[str, str, int], list[float]]:
    """(scenario, metric, year) -> values by replication, from results.csv."""
    table: dict[tuple[str, str, int], list[float]] = {}
    for r in _rows(out / "results.csv"):
        table.setdefault((r["scenario"], r["metric"], int(r["year"])), []).append(
            float(r["value"]) if r["value"] else float("nan")
        )
    return table


def test_waterfall_steps_add_levers_one_at_a_time(plan_run: Path) -> None:
    """Each step's saving is the paired fall in total SEND spend over the run from the step
    before, and the steps add up to the whole plan's saving against the baseline."""
    table = _results(plan_run)
    steps = _rows(plan_run / "waterfall_example_plan.csv")
    names = [s["scenario"] for s in steps]
    assert names == [
        "example_plan.1",
        "example_plan.2",
        "example_plan.3",
        "example_plan.4",
        "example_plan",
    ]
    years = sorted({y for (s, m, y) in table if s == "baseline" and m == "total_spend_gbp"})
    assert years  # whole financial years exist in a 3-year run

    def total(scenario: str) -> np.ndarray:
        return np.sum([table[(scenario, "total_spend_gbp", y)] for y in years], axis=0)

    previous = "baseline"
    for step in steps:
        saving = total(previous) - total(step["scenario"])
        assert float(step["saving_gbp"]) == pytest.approx(saving.mean(), abs=1.0)
        assert float(step["p5_gbp"]) <= float(step["saving_gbp"]) + 1.0
        assert float(step["p95_gbp"]) >= float(step["saving_gbp"]) - 1.0
        assert 0.0 <= float(step["prob_saves"]) <= 1.0
        previous = step["scenario"]
    whole = (total("baseline") - total("example_plan")).mean()
    assert sum(float(s["saving_gbp"]) for s in steps) == pytest.approx(whole, abs=len(steps))
    assert (plan_run / "waterfall_example_plan.png").stat().st_size > 1000


def test_dsg_plan_categories_add_up_to_high_needs_spend(plan_run: Path) -> None:
    table = _results(plan_run)
    rows = _rows(plan_run / "dsg_management_plan.csv")
    by = {(r["scenario"], r["financial_year"], r["line"]): float(r["mean_gbp"]) for r in rows}
    years = sorted({y for (s, m, y) in table if m == "hnb_spend_gbp"})
    for scenario in ("baseline", "example_plan"):
        for y in years:
            label = fy_label(y)
            categories = sum(by[(scenario, label, c)] for c in DSG_CATEGORIES)
            spend = by[(scenario, label, "High Needs spend")]
            # Each line is rounded to the pound in the file.
            assert categories == pytest.approx(spend, abs=len(DSG_CATEGORIES))
            assert spend == pytest.approx(np.mean(table[(scenario, "hnb_spend_gbp", y)]), abs=1.0)
            assert by[(scenario, label, "In-year balance")] == pytest.approx(
                by[(scenario, label, "High Needs Block income")] - spend, abs=2.0
            )


def test_workbook_opens_with_a_sheet_per_scenario(plan_run: Path) -> None:
    wb = load_workbook(plan_run / "dsg_management_plan.xlsx")
    scenarios = {r["scenario"] for r in _rows(plan_run / "dsg_management_plan.csv")}
    assert set(wb.sheetnames) == scenarios | {"bands"}
    ws = wb["example_plan"]
    labels = [ws.cell(row=r, column=1).value for r in range(3, ws.max_row + 1)]
    for category in DSG_CATEGORIES:
        assert category in labels
    csv_rows = _rows(plan_run / "dsg_management_plan.csv")
    first_year = ws.cell(row=2, column=2).value
    row = labels.index("Cumulative DSG balance") + 3
    expected = next(
        float(r["mean_gbp"])
        for r in csv_rows
        if r["scenario"] == "example_plan"
        and r["financial_year"] == first_year
        and r["line"] == "Cumulative DSG balance"
    )
    assert ws.cell(row=row, column=2).value == pytest.approx(expected, abs=1.0)


def test_mitigated_table_is_the_paired_difference(plan_run: Path) -> None:
    table = _results(plan_run)
    rows = [r for r in _rows(plan_run / "mitigated.csv") if r["scenario"] == "example_plan"]
    assert {r["metric"] for r in rows} >= {
        "hnb_spend_gbp",
        "dsg_cumulative_balance_gbp",
        "ehcp_total_jan",
        "caseload_special_independent_nm",
        "pct_within_20wks_excl_exceptions",
    }
    for r in rows:
        if r["metric"] != "dsg_cumulative_balance_gbp":
            continue
        y = int(r["year"])
        base = np.array(table[("baseline", r["metric"], y)])
        plan = np.array(table[("example_plan", r["metric"], y)])
        assert float(r["unmitigated_mean"]) == pytest.approx(base.mean(), rel=1e-9)
        assert float(r["mitigated_mean"]) == pytest.approx(plan.mean(), rel=1e-9)
        assert float(r["difference_mean"]) == pytest.approx(
            (plan - base).mean(), rel=1e-9, abs=1e-6
        )


def test_compare_rewrites_the_money_outputs(plan_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(plan_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("dsg_management_plan.csv", "mitigated.csv", "waterfall_example_plan.csv"):
        assert (out / name).read_bytes() == (plan_run / name).read_bytes(), name


def test_no_whole_financial_year_means_no_money_tables(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["run", "--years", "1", "--replications", "2", "--jobs", "1", "--quiet", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert not (out / "dsg_management_plan.csv").exists()
    shutil.rmtree(out)
