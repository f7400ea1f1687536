"""The back-test (`sendsim backtest`): scoring functions on crafted numbers, and an end-to-end
run of three LAs from January 2021 that checks the files, the summary and that forecasts
use no data published after the origin."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from calibration.backtest import (
    SCORE_COLUMNS,
    SUMMARY_COLUMNS,
    ScoreRow,
    ape,
    in_band,
    last_value_forecast,
    summarise,
    target_year,
    trend_forecast,
)
from calibration.defaults import estimate_parameters
from calibration.la_data import TIMESERIES_FILE, bundled_file, load_dataset
from experiments.cli import main

# Slow tier: each test calibrates and back-tests LAs.
pytestmark = pytest.mark.slow

LAS = ("E08000007", "E06000049", "E08000009")  # Stockport, Cheshire East, Trafford
ENGLAND = "E92000001"
ORIGIN = 2021
#: A short capacity fit: the tests check what the fit reads and writes, not its optimum.
FAST_FIT = ["--fit-replications", "2", "--max-evaluations", "8"]
FORECAST_COLUMNS = ("forecast_median", "p5", "p25", "p75", "p95")

SCORES_HEADER = (
    "la_code,la_name,metric,horizon,year,actual,forecast_median,p5,p25,p75,p95,"
    "ape_model,ape_last,ape_trend,in_50,in_90"
)
SUMMARY_HEADER = (
    "metric,horizon,n_las,mape_model,mape_last,mape_trend,coverage_50,coverage_90,"
    "mae_model,mae_last,mae_trend"
)

# National stand-ins still read from the latest published year whatever the origin: SEN2
# published need shares and single-year ages only for 2024-2025, and costs are not scored.
KNOWN_NATIONAL = (
    "demand.need_shares",
    "initial.need_shares",
    "initial.age_weights",
    "costs.",
)


# --------------------------------------------------------------------------- scoring


def test_ape_and_bands() -> None:
    assert ape(110.0, 100.0) == pytest.approx(10.0)
    assert ape(90.0, 100.0) == pytest.approx(10.0)
    assert ape(5.0, -10.0) == pytest.approx(150.0)
    assert ape(1.0, 0.0) is None
    assert ape(None, 100.0) is None
    assert ape(100.0, None) is None
    assert in_band(5.0, 1.0, 5.0) is True
    assert in_band(1.0, 1.0, 5.0) is True
    assert in_band(5.01, 1.0, 5.0) is False
    assert in_band(None, 1.0, 5.0) is None
    assert in_band(3.0, None, 5.0) is None


def test_target_years() -> None:
    assert target_year("ehcp_total_jan", 2021, 1) == 2022
    assert target_year("new_ehcps", 2021, 1) == 2021
    assert target_year("pct_within_20wks_excl_exceptions", 2021, 3) == 2023


def test_last_value_carried_forward() -> None:
    census = {2019: 10.0, 2020: 11.0, 2021: 12.0, 2022: 99.0}
    assert last_value_forecast(census, "ehcp_total_jan", 2021) == 12.0
    flows = {2018: 5.0, 2019: 6.0, 2020: 7.0, 2021: 99.0}
    assert last_value_forecast(flows, "new_ehcps", 2021) == 7.0  # a flow: up to origin - 1
    gappy = {2018: 5.0, 2021: 99.0}
    assert last_value_forecast(gappy, "new_ehcps", 2021) == 5.0
    assert last_value_forecast({2022: 1.0}, "new_ehcps", 2021) is None


def test_trend_recovers_a_known_growth_rate() -> None:
    growth = 1.07
    series = {y: 250.0 * growth ** (y - 2012) for y in range(2012, 2026)}
    # A flow known to 2020 (origin 2021); the last five years 2016-2020 give the rate.
    for year in (2021, 2022, 2024):
        expected = 250.0 * growth ** (year - 2012)
        got = trend_forecast(series, "new_ehcps", 2021, year)
        assert got == pytest.approx(expected, rel=1e-9)
    # Only the last five years count: an old outlier changes nothing.
    series[2014] = 1.0
    got = trend_forecast(series, "ehcp_total_jan", 2021, 2023)
    assert got == pytest.approx(250.0 * growth**11, rel=1e-9)
    # Later values are not seen.
    series[2021] = 1e9
    assert trend_forecast(series, "new_ehcps", 2021, 2022) == pytest.approx(
        250.0 * growth**10, rel=1e-9
    )


def test_trend_of_a_percentage_is_capped_and_needs_two_points() -> None:
    rising = {2016: 60.0, 2017: 70.0, 2018: 80.0, 2019: 90.0, 2020: 99.0}
    assert trend_forecast(rising, "pct_within_20wks_excl_exceptions", 2021, 2024) == 100.0
    assert trend_forecast({2020: 50.0}, "pct_within_20wks_excl_exceptions", 2021, 2022) is None
    assert trend_forecast({2019: 0.0, 2020: 50.0}, "new_ehcps", 2021, 2022) is None


def _row(la: str, actual: float | None, median: float, in_50: bool) -> ScoreRow:
    return ScoreRow(
        la, la, "new_ehcps", 1, 2021, actual, median, 0.0, 0.0, 0.0, 0.0,
        ape(median, actual), None, ape(100.0, actual),
        in_band(actual, 0.0 if in_50 else -1.0, 1e9 if in_50 else -0.5), True,
    )  # fmt: skip


def test_summary_means_and_coverage() -> None:
    rows = [
        _row("a", 100.0, 110.0, True),
        _row("b", 200.0, 150.0, False),
        _row("c", None, 1.0, True),  # no actual: not counted
        _row("d", 0.0, 5.0, True),  # actual 0: no APE, but in the coverage
    ]
    (s,) = summarise(rows)
    assert s.n_las == 3
    assert s.mape_model == pytest.approx((10.0 + 25.0) / 2)
    assert s.mape_last is None
    assert s.mape_trend == pytest.approx((0.0 + 50.0) / 2)
    assert s.coverage_50 == pytest.approx(2 / 3)
    assert s.coverage_90 == 1.0


# --------------------------------------------------------------------------- end to end


def _write_data(path: Path, keep_census: int | None, keep_flows: int | None) -> Path:
    """The bundled rows of LAS and England, census rows up to `keep_census` and flow rows up
    to `keep_flows` (None: all years)."""
    with bundled_file(TIMESERIES_FILE).open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        i_code, i_year, i_period = (header.index(c) for c in ("la_code", "year", "period_type"))
        rows = []
        for row in reader:
            if row[i_code] not in (*LAS, ENGLAND):
                continue
            limit = keep_census if row[i_period] == "as_at_january" else keep_flows
            if limit is None or int(row[i_year]) <= limit:
                rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _backtest(data: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    args = ["backtest", "--data", str(data), "--all-las", "--origin", str(ORIGIN)]
    args += ["--horizon", "2", "--replications", "4", "--jobs", "1", "--out", str(out)]
    args += [*FAST_FIT, *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with (out / "backtest_scores.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("backtest")
    data = _write_data(tmp / "full.csv", None, None)
    out = tmp / "full"
    return out, _backtest(data, out)


def _opt(text: str) -> float | None:
    return float(text) if text else None


def test_backtest_writes_both_files(full_run: tuple[Path, list[dict[str, str]]]) -> None:
    out, rows = full_run
    scores_text = (out / "backtest_scores.csv").read_text(encoding="utf-8")
    summary_text = (out / "backtest_summary.csv").read_text(encoding="utf-8")
    assert scores_text.splitlines()[0] == SCORES_HEADER == ",".join(SCORE_COLUMNS)
    assert summary_text.splitlines()[0] == SUMMARY_HEADER == ",".join(SUMMARY_COLUMNS)
    assert {r["la_code"] for r in rows} == set(LAS)
    assert len(rows) == len(LAS) * 4 * 2
    for r in rows:
        lo, q1, med, q3, hi = (float(r[c]) for c in ("p5", "p25", "forecast_median", "p75", "p95"))
        assert lo <= q1 <= med <= q3 <= hi
        assert int(r["year"]) == target_year(r["metric"], ORIGIN, int(r["horizon"]))


def test_summary_matches_the_scores(full_run: tuple[Path, list[dict[str, str]]]) -> None:
    out, rows = full_run
    with (out / "backtest_summary.csv").open(encoding="utf-8") as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4 * 2
    for s in summary:
        sel = [
            r
            for r in rows
            if r["metric"] == s["metric"] and r["horizon"] == s["horizon"] and r["actual"]
        ]
        assert int(s["n_las"]) == len(sel)
        for column, ape_column in (
            ("mape_model", "ape_model"),
            ("mape_last", "ape_last"),
            ("mape_trend", "ape_trend"),
        ):
            apes = [float(r[ape_column]) for r in sel if r[ape_column]]
            if apes:
                assert float(s[column]) == pytest.approx(sum(apes) / len(apes), rel=1e-12)
            else:
                assert s[column] == ""
        for column, flag in (("coverage_50", "in_50"), ("coverage_90", "in_90")):
            cover = float(s[column])
            assert 0.0 <= cover <= 1.0
            assert cover == pytest.approx(sum(r[flag] == "1" for r in sel) / len(sel))
        maes = [abs(float(r["forecast_median"]) - float(r["actual"])) for r in sel]
        assert float(s["mae_model"]) == pytest.approx(sum(maes) / len(maes), rel=1e-9, abs=1e-9)
        for r in sel:
            actual, median = float(r["actual"]), float(r["forecast_median"])
            if actual:
                assert float(r["ape_model"]) == pytest.approx(abs(median - actual) / actual * 100)


TRUNCATIONS = [
    (ORIGIN, "every row of a year up to the origin"),
    (ORIGIN - 1, "census rows up to the origin, flow rows up to the year before"),
]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


@pytest.mark.parametrize(("keep_flows", "what"), TRUNCATIONS)
def test_no_estimate_sees_data_after_the_origin(tmp_path: Path, keep_flows: int, what: str) -> None:
    """Every default estimated as of the origin is the same whether or not the rows
    published after it are in the data (national files aside: see KNOWN_NATIONAL)."""
    full = load_dataset(_write_data(tmp_path / "full.csv", None, None))
    cut = load_dataset(_write_data(tmp_path / "cut.csv", ORIGIN, keep_flows))
    for la in LAS:
        a = _flat(estimate_parameters(full, la, ORIGIN, 2)[0].to_dict())
        b = _flat(estimate_parameters(cut, la, ORIGIN, 2)[0].to_dict())
        assert a.keys() == b.keys()
        changed = sorted(k for k in a if a[k] != b[k])
        assert not changed, (what, la, changed)


@pytest.mark.parametrize(("keep_flows", "what"), TRUNCATIONS)
def test_forecasts_use_no_data_after_the_origin(
    full_run: tuple[Path, list[dict[str, str]]], tmp_path: Path, keep_flows: int, what: str
) -> None:
    _, full = full_run
    data = _write_data(tmp_path / "truncated.csv", ORIGIN, keep_flows)
    truncated = _backtest(data, tmp_path / "out", "--allow-unscored")
    assert len(truncated) == len(full)
    for a, b in zip(full, truncated, strict=True):
        assert (a["la_code"], a["metric"], a["horizon"]) == (
            b["la_code"],
            b["metric"],
            b["horizon"],
        )
        for column in FORECAST_COLUMNS:
            assert a[column] == b[column], (what, a["la_name"], a["metric"], a["horizon"], column)
        # No published value past the data kept can be scored.
        kept = ORIGIN if a["metric"] == "ehcp_total_jan" else keep_flows
        if int(b["year"]) > kept:
            assert b["actual"] == ""


def test_truncated_data_needs_allow_unscored(tmp_path: Path) -> None:
    data = _write_data(tmp_path / "truncated.csv", ORIGIN, ORIGIN - 1)
    result = CliRunner().invoke(
        main,
        [
            *("backtest", "--data", str(data), "--la", "Stockport", "--origin", str(ORIGIN)),
            *("--horizon", "2", "--out", str(tmp_path / "out")),
        ],
    )
    assert result.exit_code != 0
    assert "beyond the data" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--la", "Nowhere Shire", "--origin", "2021", "--horizon", "2"], "unknown LA"),
        (["--la", "Stockport", "--origin", "2005", "--horizon", "2"], "no January 2005 census"),
        (["--la", "Stockport", "--origin", "2021", "--horizon", "9"], "beyond the data"),
    ],
)
def test_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["backtest", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # bad input
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_parallel_run_gives_the_same_rows(
    full_run: tuple[Path, list[dict[str, str]]], tmp_path: Path
) -> None:
    out, rows = full_run
    data = _write_data(tmp_path / "full.csv", None, None)
    args = ["backtest", "--data", str(data), "--all-las", "--origin", str(ORIGIN)]
    args += ["--horizon", "2", "--replications", "4", "--jobs", "2", "--out", str(tmp_path / "p")]
    args += FAST_FIT
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "backtest_scores.csv").read_bytes() == (
        out / "backtest_scores.csv"
    ).read_bytes()
    assert not math.isnan(float(rows[0]["forecast_median"]))


def test_resume_keeps_the_las_already_finished(
    full_run: tuple[Path, list[dict[str, str]]], tmp_path: Path
) -> None:
    """Each LA is saved as it finishes; --resume runs only the missing ones (an LA marked
    in its saved file keeps the mark) and gives the same table."""
    out, rows = full_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "las" / f"{LAS[2]}.json").unlink()
    marked = copy / "las" / f"{LAS[0]}.json"
    saved = json.loads(marked.read_text(encoding="utf-8"))
    median_column = SCORE_COLUMNS.index("forecast_median")
    saved["rows"][0][median_column] = 12345.0
    marked.write_text(json.dumps(saved), encoding="utf-8")
    resumed = _backtest(out.parent / "full.csv", copy, "--resume")
    first = next(i for i, r in enumerate(rows) if r["la_code"] == LAS[0])
    assert float(resumed[first]["forecast_median"]) == 12345.0
    assert resumed[:first] + resumed[first + 1 :] == rows[:first] + rows[first + 1 :]


def test_resume_refuses_other_settings(
    full_run: tuple[Path, list[dict[str, str]]], tmp_path: Path
) -> None:
    out, _ = full_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    args = ["backtest", "--data", str(out.parent / "full.csv"), "--all-las"]
    args += ["--origin", str(ORIGIN), "--horizon", "2", "--replications", "5", "--jobs", "1"]
    result = CliRunner().invoke(main, [*args, *FAST_FIT, "--out", str(copy), "--resume"])
    assert result.exit_code == 2  # bad input
    assert "other settings" in result.output
