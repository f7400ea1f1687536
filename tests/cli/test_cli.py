"""End-to-end tests of the `sendsim` command line (experiments.cli) through click's CliRunner.

Runs are small (1-2 years, 1-3 replications) so the whole file stays fast. Expected values
come from the bundled data read here with the csv module, or from the run's own outputs; no
simulated number is written into a test.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import statistics
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from scipy import stats as scipy_stats

import experiments.outputs
from calibration.defaults import estimate_parameters
from calibration.la_data import load_dataset
from experiments.cli import main
from simulation.parameters import Parameters, from_dict
from simulation.results import CENSUS_METRICS, FINANCE_METRICS, FLOW_METRICS, HEADLINE_METRICS

# Slow tier: runs of the command line end to end.
pytestmark = pytest.mark.slow

RESULTS_HEADER = "scenario,replication,year,metric,value"
SUMMARY_HEADER = "scenario,year,metric,mean,p5,p25,p50,p75,p95,mean_ci95"
STOCKPORT_CODE = "E08000007"
STOCKPORT_DFE = "356"
SEED = 20250101  # the CLI's default root seed
YEARS = 2
REPS = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- helpers


def invoke(args: Sequence[str]) -> Result:
    """Run `sendsim ARGS` in-process, with sys.argv as the console script would set it."""
    argv = ["/usr/local/bin/sendsim", *args]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", argv)
        return CliRunner().invoke(main, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exc_info)
    return result


def run_args(out: Path, *extra: str, years: int = YEARS, reps: int = REPS) -> list[str]:
    return [
        "run",
        "--years",
        str(years),
        "--replications",
        str(reps),
        "--jobs",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def bundled_csv() -> Path:
    return Path(str(resources.files("calibration.data").joinpath("sen2_la_timeseries.csv")))


def bundled_rows() -> tuple[list[str], list[list[str]]]:
    with bundled_csv().open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def published_census(code: str, metric: str = "ehcp_total_jan") -> dict[int, float]:
    """January values of `metric` for one LA, read from the bundled file with csv alone."""
    header, rows = bundled_rows()
    i = {name: header.index(name) for name in ("la_code", "year", "period_type", "metric")}
    value = header.index("value")
    return {
        int(r[i["year"]]): float(r[value])
        for r in rows
        if r[i["la_code"]] == code
        and r[i["metric"]] == metric
        and r[i["period_type"]] == "as_at_january"
    }


@dataclass(frozen=True)
class Row:
    scenario: str
    replication: int
    year: int
    metric: str
    value: float | None


def read_results(folder: Path) -> list[Row]:
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        return [
            Row(
                r["scenario"],
                int(r["replication"]),
                int(r["year"]),
                r["metric"],
                float(r["value"]) if r["value"] != "" else None,
            )
            for r in csv.DictReader(f)
        ]


def read_summary(folder: Path) -> list[dict[str, str]]:
    with (folder / "summary.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def first_line(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.readline()


def years_by_metric(rows: list[Row], scenario: str, replication: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r.scenario == scenario and r.replication == replication:
            found[r.metric].append(r.year)
    return found


def assert_year_semantics(rows: list[Row], start: int, years: int, reps: int) -> None:
    """Census metrics at Januaries start..start+years, flows in start..start+years-1, money
    in the financial years (April-March, by starting year) the run covers whole, for every
    replication of every scenario, each (scenario, replication, year, metric) once."""
    census_years = list(range(start, start + years + 1))
    flow_years = list(range(start, start + years))
    # The run covers 1 January start to 1 January start+years: financial years start..
    # start+years-2 lie wholly inside it.
    financial_years = list(range(start, start + years - 1))
    keys = [(r.scenario, r.replication, r.year, r.metric) for r in rows]
    assert len(keys) == len(set(keys)), "a (scenario, replication, year, metric) repeats"
    for scenario in sorted({r.scenario for r in rows}):
        assert sorted({r.replication for r in rows if r.scenario == scenario}) == list(range(reps))
        for rep in range(reps):
            found = years_by_metric(rows, scenario, rep)
            expected = set(CENSUS_METRICS) | set(FLOW_METRICS)
            if financial_years:
                expected |= set(FINANCE_METRICS)
            assert set(found) == expected
            for metric in CENSUS_METRICS:
                assert found[metric] == census_years, metric
            for metric in FLOW_METRICS:
                assert found[metric] == flow_years, metric
            for metric in FINANCE_METRICS if financial_years else ():
                assert found[metric] == financial_years, metric


def values(rows: list[Row], metric: str, year: int, scenario: str = "baseline") -> list[float]:
    return [
        r.value
        for r in rows
        if r.metric == metric and r.year == year and r.scenario == scenario and r.value is not None
    ]


def leftovers(out: Path) -> list[Path]:
    """The output folder itself, or anything hidden beside it named after it (a temporary
    file or staging folder), if any is left."""
    found = sorted(out.parent.glob(f".{out.name}*")) if out.parent.exists() else []
    return [out, *found] if out.exists() else found


def tree(folder: Path) -> list[Path]:
    """Every file and folder under `folder`, hidden ones included."""
    return sorted(folder.rglob("*"))


Snapshot = tuple[Path, list[Path]]


def snapshot(folder: Path) -> Snapshot:
    return folder, tree(folder)


def assert_clean_failure(
    result: Result, out: Path | None, *fragments: str, before: Snapshot | None = None
) -> str:
    """Exit != 0 through click (no uncaught exception), one line of message naming every
    fragment, and nothing left at or beside --out (a failure before the run starts leaves no
    folder at all); with `before`, the snapshot folder holds exactly what it held."""
    assert result.exit_code != 0, result.output
    # CliRunner catches exceptions, so an uncaught one would not print a traceback: check
    # that the command ended through SystemExit (click's error handling), not a crash.
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    message = lines[0]
    assert message.startswith("Error: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    if out is not None:
        assert leftovers(out) == []
        assert not out.exists()
    if before is not None:
        folder, listing = before
        assert tree(folder) == listing
    return message


def write_scenario(path: Path, name: str, section: str, key: str, value: str) -> Path:
    path.write_text(
        f'[scenario]\nname = "{name}"\n\n[{section}]\n{key} = {value}\n', encoding="utf-8"
    )
    return path


def subset_data(tmp: Path, code: str, last_year: int) -> Path:
    """The bundled rows of one LA up to `last_year`, with the bundled header."""
    header, rows = bundled_rows()
    i_code, i_year = header.index("la_code"), header.index("year")
    path = tmp / f"{code}_to_{last_year}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(r for r in rows if r[i_code] == code and int(r[i_year]) <= last_year)
    return path


# --------------------------------------------------------------------------- shared runs


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The default LA (no --la), 3 replications of 2 years, in-process."""
    out = tmp_path_factory.mktemp("base") / "run"
    args = run_args(out)
    ok(invoke(args))
    yield out, args


@pytest.fixture(scope="module")
def start_2023_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("y2023") / "run"
    ok(invoke(run_args(out, "--start-year", "2023", years=1, reps=2)))
    return out


@pytest.fixture(scope="module")
def la_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("la_ref") / "run"
    ok(invoke(run_args(out, "--la", "Stockport", years=1, reps=1)))
    return out


# --------------------------------------------------------------------------- run: outputs


def test_run_writes_every_output(base_run: tuple[Path, list[str]]) -> None:
    out, _ = base_run
    assert (out / "manifest.json").is_file()
    assert (out / "results.csv").is_file()
    assert (out / "summary.csv").is_file()
    assert (out / "parameters" / "baseline.toml").is_file()
    for metric in HEADLINE_METRICS:
        png = out / f"fan_{metric}.png"
        assert png.is_file(), metric
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE), metric
        assert len(data) > 1000, metric
    # The run's own record: its specification and every replication, saved as it finished.
    spec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert list(spec["scenarios"]) == ["baseline"]
    saved = sorted(p.name for p in (out / "replications" / "baseline").iterdir())
    assert saved == [f"{i:06d}.pkl" for i in range(REPS)]
    # Every file was written whole and renamed into place: no temporary file is left.
    assert [p for p in tree(out) if p.name.endswith(".tmp")] == []
    assert leftovers(out) == [out]


def test_results_and_summary_headers_are_exact(base_run: tuple[Path, list[str]]) -> None:
    out, _ = base_run
    assert first_line(out / "results.csv") == (RESULTS_HEADER + "\n").encode()
    assert first_line(out / "summary.csv") == (SUMMARY_HEADER + "\n").encode()


def test_manifest_records_the_run(base_run: tuple[Path, list[str]]) -> None:
    out, args = base_run
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))

    try:
        expected_version = version("sendsim")
    except PackageNotFoundError:
        expected_version = "0+unknown"
    assert m["sendsim_version"] == expected_version
    assert "git_commit" in m
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=Path(experiments.outputs.__file__).resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode == 0:
        assert m["git_commit"] == head.stdout.strip()
    assert m["command"] == ["sendsim", *args]

    assert m["la"] == {"code": STOCKPORT_CODE, "name": "Stockport"}
    assert Path(m["data"]["path"]).resolve() == bundled_csv().resolve()
    assert m["data"]["sha256"] == hashlib.sha256(bundled_csv().read_bytes()).hexdigest()

    assert m["root_seed"] == SEED
    assert m["replications"] == REPS
    assert m["replications_run"] == REPS
    assert m["precision"] is None
    assert m["executor"] == {"executor": "in-process"}
    assert m["arguments"]["jobs"] == 1
    assert m["arguments"]["replications"] == REPS
    assert m["arguments"]["years"] == YEARS
    assert m["arguments"]["out"] == str(out)
    expected_seeds = np.random.SeedSequence(SEED).spawn(REPS)
    assert m["replication_seeds"] == [
        {"entropy": s.entropy, "spawn_key": list(s.spawn_key)} for s in expected_seeds
    ]
    assert len({tuple(s["spawn_key"]) for s in m["replication_seeds"]}) == REPS

    assert set(m["parameters"]) == {"baseline"}
    params = from_dict(m["parameters"]["baseline"])
    expected, _ = estimate_parameters(load_dataset(), "Stockport", None, YEARS)
    assert params == expected
    assert params.run.years == YEARS

    timings = m["timings_seconds"]
    for key in ("estimate_parameters", "simulate", "write_outputs", "per_replication"):
        assert isinstance(timings[key], int | float), key
        assert timings[key] >= 0, key
    assert timings["simulate"] > 0
    assert timings["replications_simulated"] == REPS


def test_parameters_toml_reads_back_to_the_run_parameters(
    base_run: tuple[Path, list[str]],
) -> None:
    out, _ = base_run
    text = (out / "parameters" / "baseline.toml").read_text(encoding="utf-8")
    params = from_dict(tomllib.loads(text), "baseline.toml", text)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert params == from_dict(manifest["parameters"]["baseline"])
    expected, _ = estimate_parameters(load_dataset(), "Stockport", None, YEARS)
    assert params == expected
    assert params != Parameters()  # the LA's estimates, not the structural defaults


def test_default_start_is_the_latest_january_census(base_run: tuple[Path, list[str]]) -> None:
    out, _ = base_run
    census = published_census(STOCKPORT_CODE)
    start = max(census)
    assert start == 2025  # the bundled data end with the January 2025 census
    rows = read_results(out)
    assert_year_semantics(rows, start, YEARS, REPS)
    # The start census is the published one in every replication.
    assert values(rows, "ehcp_total_jan", start) == [census[start]] * REPS


def test_start_year_option_starts_from_that_january(start_2023_run: Path) -> None:
    rows = read_results(start_2023_run)
    assert_year_semantics(rows, 2023, 1, 2)
    census = published_census(STOCKPORT_CODE)
    # Close to January 2023's published total and nowhere near January 2025's.
    for v in values(rows, "ehcp_total_jan", 2023):
        assert abs(v - census[2023]) <= 0.005 * census[2023]
        assert abs(v - census[2025]) > 0.05 * census[2025]
    params = from_dict(
        json.loads((start_2023_run / "manifest.json").read_text())["parameters"]["baseline"]
    )
    assert params.run.start_year == 2023


def test_start_census_equals_the_published_total_in_any_start_year(start_2023_run: Path) -> None:
    census = published_census(STOCKPORT_CODE)
    assert values(read_results(start_2023_run), "ehcp_total_jan", 2023) == [census[2023]] * 2


def test_user_data_ending_2021_projects_from_january_2021(tmp_path: Path) -> None:
    data = subset_data(tmp_path, STOCKPORT_CODE, 2021)
    out = tmp_path / "run"
    ok(invoke(run_args(out, "--data", str(data), reps=2)))
    rows = read_results(out)
    assert_year_semantics(rows, 2021, YEARS, 2)
    census = published_census(STOCKPORT_CODE)
    assert values(rows, "ehcp_total_jan", 2021) == [census[2021]] * 2
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert Path(m["data"]["path"]).resolve() == data.resolve()
    assert m["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert from_dict(m["parameters"]["baseline"]).run.start_year == 2021


@pytest.mark.parametrize("la", ["stockport", "STOCKPORT", STOCKPORT_CODE, STOCKPORT_DFE])
def test_la_by_name_gss_code_or_dfe_number(tmp_path: Path, la_reference: Path, la: str) -> None:
    out = tmp_path / "run"
    ok(invoke(run_args(out, "--la", la, years=1, reps=1)))
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["la"] == {"code": STOCKPORT_CODE, "name": "Stockport"}
    # The same LA, so the same parameters and seeds give the same results.
    assert (out / "results.csv").read_bytes() == (la_reference / "results.csv").read_bytes()


@pytest.mark.parametrize("la", ["trafford", "E08000009", "358"])
def test_la_option_selects_another_la(tmp_path: Path, la: str) -> None:
    # The option is honoured (not just the default LA): Trafford is DfE number 358.
    out = tmp_path / "run"
    ok(invoke(run_args(out, "--la", la, years=1, reps=1)))
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["la"] == {"code": "E08000009", "name": "Trafford"}
    first = read_results(out)[0]
    assert first.metric == "ehcp_total_jan"
    published = published_census("E08000009")[first.year]
    assert first.value is not None
    assert abs(first.value - published) <= 0.005 * published


# --------------------------------------------------------------------------- run: summary


def test_summary_mean_and_quantiles_match_results(base_run: tuple[Path, list[str]]) -> None:
    out, _ = base_run
    by_key: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    seen: set[tuple[str, int, str]] = set()
    for r in read_results(out):
        seen.add((r.scenario, r.year, r.metric))
        if r.value is not None:
            by_key[(r.scenario, r.year, r.metric)].append(r.value)
    summary = read_summary(out)
    assert {(s["scenario"], int(s["year"]), s["metric"]) for s in summary} == seen
    assert len(summary) == len(seen)
    checked = widths = 0
    for s in summary:
        vals = by_key.get((s["scenario"], int(s["year"]), s["metric"]), [])
        if not vals:  # every replication missing (e.g. a percentage of nothing)
            assert all(s[c] == "" for c in ("mean", "p5", "p25", "p50", "p75", "p95")), s
            assert s["mean_ci95"] == "", s
            continue
        assert math.isclose(float(s["mean"]), statistics.fmean(vals), rel_tol=1e-9, abs_tol=1e-9)
        # numpy's default (linear) percentile is the 'inclusive' method of statistics.
        cuts = statistics.quantiles(vals, n=100, method="inclusive") if len(vals) > 1 else None
        for q in (5, 25, 50, 75, 95):
            expected = cuts[q - 1] if cuts else vals[0]
            assert math.isclose(float(s[f"p{q}"]), expected, rel_tol=1e-9, abs_tol=1e-9), (s, q)
        # mean_ci95: the half-width of the 95% Student t interval of the mean (from values
        # rounded to 10 significant digits in results.csv, hence the tolerance).
        if len(vals) < 2:
            assert s["mean_ci95"] == "", s
        else:
            tol = 1e-8 * max(1.0, abs(statistics.fmean(vals)))
            if statistics.stdev(vals) == 0:
                assert abs(float(s["mean_ci95"])) <= tol, s
            else:
                lo, hi = scipy_stats.t.interval(
                    0.95, len(vals) - 1, loc=statistics.fmean(vals), scale=scipy_stats.sem(vals)
                )
                assert math.isclose(float(s["mean_ci95"]), (hi - lo) / 2, abs_tol=tol), s
                widths += 1
        checked += 1
    assert checked > 0
    assert widths > 0

    # And explicitly for the headline caseload at the end of the run.
    start = max(published_census(STOCKPORT_CODE))
    last = [
        s for s in summary if s["metric"] == "ehcp_total_jan" and int(s["year"]) == start + YEARS
    ]
    assert len(last) == 1
    vals = values(read_results(out), "ehcp_total_jan", start + YEARS)
    assert len(vals) == REPS
    assert math.isclose(float(last[0]["mean"]), sum(vals) / len(vals), rel_tol=1e-9)


# --------------------------------------------------------------------------- reproducibility


def test_same_command_twice_gives_identical_files(
    base_run: tuple[Path, list[str]], tmp_path: Path
) -> None:
    out, _ = base_run
    again = tmp_path / "again"
    ok(invoke(run_args(again)))
    for name in ("results.csv", "summary.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_jobs_1_and_jobs_2_give_identical_files(
    base_run: tuple[Path, list[str]], tmp_path: Path
) -> None:
    out, _ = base_run
    two = tmp_path / "jobs2"
    args = run_args(two)
    args[args.index("--jobs") + 1] = "2"
    ok(invoke(args))
    for name in ("results.csv", "summary.csv"):
        assert (two / name).read_bytes() == (out / name).read_bytes(), name
    m = json.loads((two / "manifest.json").read_text(encoding="utf-8"))
    assert m["executor"] == {"executor": "process-pool", "workers": 2}
    assert m["arguments"]["jobs"] == 2


def test_another_seed_gives_other_results(base_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    out, _ = base_run
    other = tmp_path / "seed"
    ok(invoke(run_args(other, "--seed", str(SEED + 1))))
    assert (other / "results.csv").read_bytes() != (out / "results.csv").read_bytes()
    assert json.loads((other / "manifest.json").read_text())["root_seed"] == SEED + 1


# --------------------------------------------------------------------------- scenarios


def requests_and(
    rows: list[Row], metric: str
) -> dict[tuple[int, int], dict[str, dict[str, float | None]]]:
    """(replication, year) -> scenario -> {requests_received, metric}."""
    table: dict[tuple[int, int], dict[str, dict[str, float | None]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for r in rows:
        if r.metric in ("requests_received", "requests_received_sen_support", metric):
            table[(r.replication, r.year)][r.scenario][r.metric] = r.value
    return table


def test_two_scenarios_share_random_numbers_and_differ_where_the_override_acts(
    tmp_path: Path,
) -> None:
    # Review officers act downstream of requests (no feedback into demand), so with common
    # random numbers the requests must match exactly while completed reviews differ. The
    # baseline always runs first, beside the scenarios asked for.
    a = write_scenario(tmp_path / "a.toml", "few_officers", "review", "officers", "1.0")
    b = write_scenario(tmp_path / "b.toml", "many_officers", "review", "officers", "8.0")
    out = tmp_path / "run"
    ok(invoke(run_args(out, "--scenario", str(a), "--scenario", str(b), reps=2)))
    names = ["baseline", "few_officers", "many_officers"]
    rows = read_results(out)
    assert {r.scenario for r in rows} == set(names)
    # results.csv lists the scenarios in run order, baseline first.
    assert list(dict.fromkeys(r.scenario for r in rows)) == names
    start = max(published_census(STOCKPORT_CODE))
    assert_year_semantics(rows, start, YEARS, 2)

    table = requests_and(rows, "reviews_completed")
    assert len(table) == 2 * YEARS
    differ = 0
    for key, by in table.items():
        base, few, many = by["baseline"], by["few_officers"], by["many_officers"]
        assert few["requests_received"] == many["requests_received"], key
        assert base["requests_received"] == few["requests_received"], key
        if few["reviews_completed"] != many["reviews_completed"]:
            differ += 1
    assert differ > 0

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert list(m["scenarios"]) == names
    assert list(m["parameters"]) == names
    library_baseline = resources.files("experiments.scenarios").joinpath("baseline.toml")
    assert (
        Path(m["scenarios"]["baseline"]["source"]).resolve()
        == Path(str(library_baseline)).resolve()
    )
    assert m["scenarios"]["baseline"]["description"]
    assert m["scenarios"]["few_officers"]["source"] == str(a)
    assert m["scenarios"]["many_officers"]["source"] == str(b)
    expected, _ = estimate_parameters(load_dataset(), "Stockport", None, YEARS)
    baseline = from_dict(tomllib.loads((out / "parameters" / "baseline.toml").read_text()))
    assert baseline == expected
    for name, officers in (("few_officers", 1.0), ("many_officers", 8.0)):
        text = (out / "parameters" / f"{name}.toml").read_text(encoding="utf-8")
        params = from_dict(tomllib.loads(text))
        assert params.review.officers == officers
        assert params.run.years == YEARS
        assert params == from_dict(m["parameters"][name])
        # Only the officers differ from the baseline.
        assert params.override({"review": {"officers": expected.review.officers}}) == expected
    summary_scenarios = [s["scenario"] for s in read_summary(out)]
    assert list(dict.fromkeys(summary_scenarios)) == names
    for metric in HEADLINE_METRICS:
        assert (out / f"scenarios_{metric}.png").read_bytes().startswith(PNG_SIGNATURE), metric


def test_ep_fte_scenarios_keep_direct_requests_identical(tmp_path: Path) -> None:
    a = write_scenario(tmp_path / "a.toml", "half_ep", "assessment", "ep_fte", "9.0")
    b = write_scenario(tmp_path / "b.toml", "double_ep", "assessment", "ep_fte", "40.0")
    out = tmp_path / "run"
    ok(invoke(run_args(out, "--scenario", str(a), "--scenario", str(b), reps=REPS)))
    table = requests_and(read_results(out), "new_ehcps")
    differ = 0
    for key, by in table.items():
        half, double = by["half_ep"], by["double_ep"]
        direct = [
            float(s["requests_received"] or 0) - float(s["requests_received_sen_support"] or 0)
            for s in (half, double)
        ]
        assert direct[0] == direct[1], key  # direct requests never depend on the pool
        differ += half["new_ehcps"] != double["new_ehcps"]
    assert differ > 0


# --------------------------------------------------------------------------- bad input


BAD_SCENARIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unknown_key": (
        '[scenario]\nname = "x"\n\n[assessment]\nep_ftee = 3.0\n',
        ("assessment.ep_ftee", "line 5"),
    ),
    "below_minimum": (
        '[scenario]\nname = "x"\n\n[assessment]\nep_fte = -1\n',
        ("assessment.ep_fte", "minimum 0"),
    ),
    "wrong_type": (
        '[scenario]\nname = "x"\n\n[assessment]\nep_fte = "three"\n',
        ("assessment.ep_fte", "must be a number"),
    ),
    "invalid_toml": ('[scenario]\nname = "x"\n\n[assessment\nep_fte = 3.0\n', ("TOML",)),
    "unknown_relative_key": (
        '[scenario]\nname = "x"\n\n[add.assessment]\nep_ftee = 3.0\n',
        ("add.assessment.ep_ftee", "line 5"),
    ),
    "unknown_scenario_key": (
        '[scenario]\nname = "x"\ntitle = "y"\n',
        ("scenario.title", "line 3"),
    ),
    "non_numeric_relative": (
        '[scenario]\nname = "x"\n\n[multiply.assessment]\nep_fte = "two"\n',
        ("multiply.assessment.ep_fte", "line 5", "must be a number"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_file_fails_cleanly(tmp_path: Path, case: str) -> None:
    text, fragments = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--scenario", str(path), years=1, reps=1))
    assert_clean_failure(result, out, str(path), *fragments, before=before)


def test_unknown_bundled_scenario_lists_the_library(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--scenario", "no_such_scenario", years=1, reps=1))
    assert_clean_failure(
        result, out, "no_such_scenario", "baseline", "extra_ep", "early_intervention", before=before
    )


def test_scenario_named_twice_fails_cleanly(tmp_path: Path) -> None:
    a = write_scenario(tmp_path / "a.toml", "twin", "review", "officers", "1.0")
    b = write_scenario(tmp_path / "b.toml", "twin", "review", "officers", "2.0")
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--scenario", str(a), "--scenario", str(b), years=1, reps=1))
    assert_clean_failure(result, out, "twin", "used twice", before=before)


def test_unknown_la_suggests_close_names(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--la", "Stockprot", years=1, reps=1))
    message = assert_clean_failure(result, out, "Stockprot", "did you mean", before=before)
    assert "Stockport" in message.split("did you mean", 1)[1]


def test_malformed_data_file_names_file_and_line(tmp_path: Path) -> None:
    data = subset_data(tmp_path, STOCKPORT_CODE, 2021)
    lines = data.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[5].split(",")  # line 6 of the file
    row[header.index("value")] = "12x"
    lines[5] = ",".join(row)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--data", str(data), years=1, reps=1))
    assert_clean_failure(result, out, f"{data}:6:", "'12x'", "not a number", before=before)


def test_missing_data_file(tmp_path: Path) -> None:
    data = tmp_path / "nope.csv"
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--data", str(data), years=1, reps=1))
    assert_clean_failure(result, out, str(data), "not found", before=before)


def test_start_year_without_a_census(tmp_path: Path) -> None:
    census = published_census(STOCKPORT_CODE)
    missing = min(census) - 3
    out = tmp_path / "runs" / "out"
    before = snapshot(tmp_path)
    result = invoke(run_args(out, "--start-year", str(missing), years=1, reps=1))
    assert_clean_failure(result, out, f"January {missing}", "Stockport", before=before)


def test_existing_non_empty_out_is_refused_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "keep.txt"
    keep.write_text("mine", encoding="utf-8")
    before = snapshot(tmp_path)
    result = invoke(run_args(out, years=1, reps=1))
    message = assert_clean_failure(result, None, str(out), "--overwrite", before=before)
    # Not a sendsim run folder, so there is nothing to resume and no hint to.
    assert "--resume" not in message
    assert keep.read_text(encoding="utf-8") == "mine"


def test_overwrite_replaces_a_folder_sendsim_made(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(invoke(run_args(out, years=1, reps=1)))
    (out / "old.txt").write_text("old", encoding="utf-8")
    ok(invoke([*run_args(out, years=1, reps=1), "--overwrite"]))
    assert not (out / "old.txt").exists()
    assert (out / "results.csv").is_file()
    assert (out / "manifest.json").is_file()
    assert leftovers(out) == [out]
    assert [p for p in tree(out) if p.name.endswith(".tmp")] == []


FINAL_FILES = ("results.csv", "summary.csv", "manifest.json")


def saved_replications(out: Path, scenario: str = "baseline") -> list[str]:
    folder = out / "replications" / scenario
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_failure_during_the_run_leaves_a_resumable_folder(
    tmp_path: Path, base_run: tuple[Path, list[str]]
) -> None:
    # A failure after the run has started (here the third replication crashes) keeps the
    # run folder with its specification and the replications that finished, and none of
    # the final files; --resume then completes it with the same bytes as a clean run.
    import experiments.runner

    real = experiments.runner.run_replication
    calls = 0

    def crashing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiments.runner, "run_replication", crashing)
        result = invoke(run_args(out))
    # A bug, not bad input: exit 1, one line saying so, and how to continue.
    assert result.exit_code == 1
    assert "internal error (RuntimeError: worker died)" in result.output
    assert f"sendsim run --resume --out {out}" in result.output
    assert "Traceback" not in result.output
    assert (out / "run.json").is_file()
    assert saved_replications(out) == ["000000.pkl", "000001.pkl"]
    for name in FINAL_FILES:
        assert not (out / name).exists(), name
    assert not (out / "parameters").exists()
    assert list(out.glob("*.png")) == []
    assert [p for p in tree(out) if p.name.endswith(".tmp")] == []

    # Without --resume the unfinished folder is not touched, and the error says how.
    before = tree(out)
    message = assert_clean_failure(invoke(run_args(out)), None, str(out), "--resume")
    assert "--overwrite" in message
    assert tree(out) == before

    ok(invoke(["run", "--resume", "--out", str(out)]))
    reference, _ = base_run
    for name in ("results.csv", "summary.csv", "parameters/baseline.toml"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["replications_run"] == REPS
    assert m["timings_seconds"]["replications_simulated"] == REPS - 2


def test_failure_while_writing_leaves_a_resumable_folder_without_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_run: tuple[Path, list[str]]
) -> None:
    def broken_chart(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("experiments.experiment.fan_chart", broken_chart)
    out = tmp_path / "out"
    result = invoke(run_args(out))
    assert result.exit_code == 1
    assert "internal error (RuntimeError: disk full)" in result.output
    # The replications are kept; the manifest (written last) marks a complete run.
    assert (out / "run.json").is_file()
    assert saved_replications(out) == [f"{i:06d}.pkl" for i in range(REPS)]
    assert not (out / "manifest.json").exists()
    assert [p for p in tree(out) if p.name.endswith(".tmp")] == []

    monkeypatch.undo()
    ok(invoke(["run", "--resume", "--out", str(out)]))
    reference, _ = base_run
    for name in ("results.csv", "summary.csv", "parameters/baseline.toml"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    for metric in HEADLINE_METRICS:
        assert (out / f"fan_{metric}.png").is_file(), metric
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["timings_seconds"]["replications_simulated"] == 0


@pytest.mark.parametrize("name", ["../../escaped", "a/b"])
def test_scenario_name_cannot_write_outside_out_or_crash(tmp_path: Path, name: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'[scenario]\nname = "{name}"\n', encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "a" / "out"
    result = invoke(run_args(out, "--scenario", str(path), years=1, reps=1))
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, result.exc_info
    after = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(out))
    assert after == sorted([*before, out.parent]) or after == before
    if result.exit_code != 0:
        assert_clean_failure(result, out, name)


# --------------------------------------------------------------------------- las, params


def test_las_lists_stockport() -> None:
    result = ok(invoke(["las"]))
    lines = result.output.splitlines()
    assert f"{STOCKPORT_CODE}  Stockport" in lines
    assert len(lines) > 100  # every LA in England, not a handful
    assert not any(line.split(None, 1)[-1] == "England" for line in lines)


def test_las_lists_every_la_code() -> None:
    lines = ok(invoke(["las"])).output.splitlines()
    listed = {line.split()[0] for line in lines if line.strip()}
    assert listed == {code for code, _ in load_dataset().las()}


def test_las_with_user_data(tmp_path: Path) -> None:
    data = subset_data(tmp_path, STOCKPORT_CODE, 2021)
    result = ok(invoke(["las", "--data", str(data)]))
    assert result.output.splitlines() == [f"{STOCKPORT_CODE}  Stockport"]


def test_params_prints_toml_that_tomllib_parses(base_run: tuple[Path, list[str]]) -> None:
    result = ok(invoke(["params", "--la", "Stockport", "--years", str(YEARS)]))
    data = tomllib.loads(result.output)
    params = from_dict(data)
    assert params.la_code == STOCKPORT_CODE
    assert params.la_name == "Stockport"
    out, _ = base_run
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert params == from_dict(manifest["parameters"]["baseline"])
    assert any(line.startswith("# ") for line in result.output.splitlines())


@pytest.mark.parametrize("la", ["Bolton", "Leicester"])
def test_params_works_for_bundled_las(la: str) -> None:
    result = ok(invoke(["params", "--la", la]))
    assert from_dict(tomllib.loads(result.output)).la_name == la


def test_params_unknown_la_fails_cleanly() -> None:
    result = invoke(["params", "--la", "Stockprot"])
    assert_clean_failure(result, None, "Stockprot", "Stockport")


def test_leftovers_helper_sees_output_and_hidden_files_beside_it(tmp_path: Path) -> None:
    # Guard for the helpers: leftovers() must see anything left at or beside --out.
    out = tmp_path / "out"
    assert leftovers(out) == []
    stage = tmp_path / ".out.partial-abc"
    stage.mkdir()
    assert leftovers(out) == [stage]
    shutil.rmtree(stage)
    temp = tmp_path / ".out.x1y2.tmp"
    temp.write_text("", encoding="utf-8")
    assert leftovers(out) == [temp]
    temp.unlink()
    out.mkdir()
    assert leftovers(out) == [out]
