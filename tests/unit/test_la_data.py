"""Tests for calibration.la_data: bundled SEN2 data, LA lookup and validation of user files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from calibration.la_data import (
    ENGLAND_CODE,
    NEED_CODES,
    DataError,
    Dataset,
    LAHistory,
    bundled_file,
    bundled_files,
    known_metrics,
    load_dataset,
    national_need_shares,
    national_sen_support_and_ehcp,
)

HEADER = "la_code,la_name,year,period_type,metric,value,source_release,note"
GOOD_ROW = "E06000999,Testshire,2024,as_at_january,ehcp_total_jan,1200,,"


def write(tmp_path: Path, lines: list[str], name: str = "user.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert str(path) in message
    return message


# --------------------------------------------------------------------------- bundled data


@pytest.fixture(scope="module")
def bundled() -> Dataset:
    return load_dataset()


def test_bundled_dataset_loads_all_las_and_england(bundled: Dataset) -> None:
    assert bundled.path.name == "sen2_la_timeseries.csv"
    names = bundled.names()
    assert len(names) == 145  # 146 LA codes; "Dorset" is two of them (county and unitary)
    assert len(bundled.las()) == 146
    assert "England" not in names
    assert names == sorted(names, key=str.casefold)
    england = bundled.england()
    assert england is not None
    assert england.la_code == ENGLAND_CODE
    assert england.get("ehcp_total_jan", 2025) == 638745


def test_bundled_load_is_cached(bundled: Dataset) -> None:
    assert load_dataset() is bundled
    assert load_dataset(None) is bundled


def test_stockport_published_values(bundled: Dataset) -> None:
    stockport = bundled.la("stockport")
    assert (stockport.la_code, stockport.la_name) == ("E08000007", "Stockport")
    assert stockport.latest_census_year() == 2025
    assert stockport.census["ehcp_total_jan"][2025] == 3506
    assert stockport.flows["new_ehcps"][2024] == 610
    assert stockport.get("ehcp_total_jan", 2010) == 1388
    assert stockport.get("new_ehcps", 2024) == 610  # found among flows
    assert stockport.get("ehcp_total_jan", 1999) is None
    assert stockport.get("no_such_metric", 2024) is None
    assert stockport.notes[("ehcp_total_jan", 2014)] == "statements_only"
    assert ("ehcp_total_jan", 2025) not in stockport.notes
    series = stockport.series("ehcp_total_jan")
    assert list(series) == sorted(series)
    assert min(series) == 2010 and series[2025] == 3506
    assert stockport.series("no_such_metric") == {}
    series[2025] = -1.0  # a copy: the dataset is unchanged
    assert stockport.census["ehcp_total_jan"][2025] == 3506


@pytest.mark.parametrize("query", ["stockport", "STOCKPORT", " Stockport ", "E08000007", "356"])
def test_find_stockport_by_name_code_and_old_code(bundled: Dataset, query: str) -> None:
    assert bundled.la(query).la_code == "E08000007"


def test_alternative_spellings_and_codes(bundled: Dataset) -> None:
    assert bundled.la("st helens").la_name == "St. Helens"
    assert bundled.la("Bristol").la_name == "Bristol, City of"
    assert bundled.la("brighton & hove").la_name == "Brighton and Hove"
    # Buckinghamshire's old county code (used by the 2025 release) maps to its unitary code.
    assert bundled.la("E10000002").la_code == "E06000060"
    # Gateshead's pre-2013 GSS code.
    assert bundled.la("E08000020").la_name == "Gateshead"


def test_shared_name_resolves_to_la_with_latest_data(bundled: Dataset) -> None:
    assert bundled.la("Dorset").la_code == "E06000059"  # the unitary, 2019 on
    assert bundled.la("835").la_code == "E10000009"  # the county, abolished 2019
    assert bundled.la("E10000009").latest_census_year() == 2019


def test_unknown_la_suggests_close_names(bundled: Dataset) -> None:
    with pytest.raises(DataError) as info:
        bundled.la("Stokport")
    message = str(info.value)
    assert message.startswith("unknown LA 'Stokport' in ")
    assert "sen2_la_timeseries.csv" in message
    assert "did you mean: Stockport" in message
    assert "\n" not in message


def test_unknown_la_without_close_match_says_how_to_list(bundled: Dataset) -> None:
    with pytest.raises(DataError, match="sendsim las") as info:
        bundled.la("Narnia")
    assert "did you mean" not in str(info.value)


def test_known_metrics_come_from_the_bundled_file() -> None:
    metrics = known_metrics()
    assert len(metrics) == 102
    assert metrics["ehcp_total_jan"] == frozenset({"as_at_january"})
    assert metrics["new_ehcps"] == frozenset({"calendar_year"})


def test_bundled_file_accessor() -> None:
    names = bundled_files()
    assert "national/unit_costs.csv" in names
    assert "hnb_allocations_la.csv" in names
    assert "PROVENANCE.md" in names
    header = bundled_file("national/unit_costs.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("year,period_type,metric,value")
    tribunal = bundled_file("tribunal_la.csv").read_text(encoding="utf-8")
    assert tribunal.startswith("la_code,old_la_code,la_name,year,appeals_registered")
    with pytest.raises(DataError, match=r"no bundled data file 'nope\.csv'.*tribunal_la\.csv"):
        bundled_file("nope.csv")
    with pytest.raises(DataError, match="no bundled data file"):
        bundled_file("../la_data.py")


# --------------------------------------------------------------------------- national data


def test_national_need_shares_sum_to_one() -> None:
    new, stock = national_need_shares()
    for shares in (new, stock):
        assert tuple(shares) == NEED_CODES
        assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-12)
        assert all(0.0 < share < 1.0 for share in shares.values())
    # New plans 2024: 26,856 ASD of 97,563 - 1,808 unknown-need plans.
    assert new["asd"] == pytest.approx(26856 / (97563 - 1808))
    # All plans Jan 2025: 201,183 ASD of 638,745 - 4,870 unknown.
    assert stock["asd"] == pytest.approx(201183 / (638745 - 4870))
    assert new["semh"] > stock["semh"]  # SEMH is a larger share of new plans than of the stock


def test_national_sen_support_and_ehcp() -> None:
    assert national_sen_support_and_ehcp() == (1284284, 482640)  # January 2025
    assert national_sen_support_and_ehcp(2025) == (1284284, 482640)
    assert national_sen_support_and_ehcp(2017) == (1002070, 242185)
    with pytest.raises(DataError, match=r"January 2022; available years: 2017, 2019"):
        national_sen_support_and_ehcp(2022)


# --------------------------------------------------------------------------- user files


def test_good_user_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            GOOD_ROW,
            "E06000999,Testshire,2025,as_at_january,ehcp_total_jan,1310,,",
            "E06000999,Testshire,2024,calendar_year,new_ehcps,240,2025,",
            "E06000999,Testshire,2024,calendar_year,pct_within_20wks_excl_exceptions,47.5,,",
            "E06000999,Testshire,2024,calendar_year,pct_my_own_measure,12,,",
            "E06000999,Testshire,2014,as_at_january,ehcp_total_jan,900,,statements_only",
            "E06000999,Testshire,2024,calendar_year,ar_decision_outstanding,-3,,",
            "",
            "E92000001,England,2025,as_at_january,ehcp_total_jan,638745,2025,",
        ],
    )
    dataset = load_dataset(path)
    assert dataset.path == path
    assert dataset.names() == ["Testshire"]
    history = dataset.la("testshire")
    assert isinstance(history, LAHistory)
    assert dataset.la("E06000999") is history
    assert history.latest_census_year() == 2025
    assert history.series("ehcp_total_jan") == {2014: 900, 2024: 1200, 2025: 1310}
    assert history.get("new_ehcps", 2024) == 240
    assert history.get("pct_my_own_measure", 2024) == 12
    assert history.get("ar_decision_outstanding", 2024) == -3  # a published residual
    assert history.notes == {("ehcp_total_jan", 2014): "statements_only"}
    england = dataset.england()
    assert england is not None and england.get("ehcp_total_jan", 2025) == 638745


def test_user_file_without_optional_columns_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = (
        "\ufeffLa_Code , la_name,year,period_type,metric,value\r\n"
        ' E06000999 ,"Testshire",2024,as_at_january,ehcp_total_jan, 1200 \r\n'
    )
    path.write_bytes(text.encode("utf-8"))
    history = load_dataset(path).la("Testshire")
    assert history.census == {"ehcp_total_jan": {2024: 1200.0}}
    assert history.notes == {}


def test_user_file_can_be_found_by_old_code_of_a_bundled_la(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, "E08000007,Stockport,2025,as_at_january,ehcp_total_jan,1,,"])
    assert load_dataset(path).la("356").get("ehcp_total_jan", 2025) == 1


def test_latest_census_year_needs_a_caseload_row(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, "E06000999,Testshire,2024,calendar_year,new_ehcps,240,,"])
    history = load_dataset(path).la("Testshire")
    with pytest.raises(DataError, match=r"no ehcp_total_jan .* for Testshire \(E06000999\)"):
        history.latest_census_year()


BAD_ROWS = [
    (
        "E06000999,Testshire,2024,as_at_january,ehcp_total_jan,x,,",
        "value 'x' is not a number",
    ),
    (
        'E06000999,Testshire,2024,as_at_january,ehcp_total_jan,"1,200",,',
        "value '1,200' is not a number",
    ),
    (
        "E06000999,Testshire,2024,as_at_january,ehcp_total_jan,nan,,",
        "value 'nan' is not a number",
    ),
    (
        "E06000999,Testshire,2024,as_at_january,ehcp_total_jan,,,",
        "empty value (leave out the row of a missing value",
    ),
    (
        "E06000999,Testshire,1999,as_at_january,ehcp_total_jan,5,,",
        "year '1999' is not an integer in 2000-2100",
    ),
    (
        "E06000999,Testshire,2024.5,as_at_january,ehcp_total_jan,5,,",
        "year '2024.5' is not an integer in 2000-2100",
    ),
    (
        "E06000999,Testshire,2024/25,as_at_january,ehcp_total_jan,5,,",
        "year '2024/25' is not an integer in 2000-2100",
    ),
    (
        "E06000999,Testshire,2024,annual,ehcp_total_jan,5,,",
        "unknown period_type 'annual' (allowed: as_at_january, calendar_year)",
    ),
    (
        "E06000999,Testshire,2024,as_at_january,ehcp_totl_jan,5,,",
        "unknown metric 'ehcp_totl_jan' (did you mean ehcp_total_jan?)",
    ),
    (
        "E06000999,Testshire,2024,calendar_year,new_ehcps,-5,,",
        "negative count new_ehcps = -5 (counts must be >= 0)",
    ),
    (
        "E06000999,Testshire,2024,calendar_year,pct_within_20wks_excl_exceptions,101,,",
        "percentage pct_within_20wks_excl_exceptions = 101 is outside 0-100",
    ),
    (
        "E06000999,Testshire,2024,calendar_year,pct_my_own_measure,-0.5,,",
        "percentage pct_my_own_measure = -0.5 is outside 0-100",
    ),
    (
        "E06000999,Testshire,2024,calendar_year,ehcp_total_jan,5,,",
        "metric ehcp_total_jan must have period_type as_at_january, not calendar_year",
    ),
    (
        "E06000999,Testshire,2024,as_at_january,new_ehcps,5,,",
        "metric new_ehcps must have period_type calendar_year, not as_at_january",
    ),
    (
        "E06000999,Testshire,2024,as_at_january,ehcp_total_jan,5",
        "6 fields but the header has 8 (one value per column)",
    ),
    (",Testshire,2024,as_at_january,ehcp_total_jan,5,,", "empty la_code"),
    ("E06000999,,2024,as_at_january,ehcp_total_jan,5,,", "empty la_name"),
    ("E06000999,Testshire,2024,as_at_january,,5,,", "empty metric"),
]


@pytest.mark.parametrize(("bad_row", "expected"), BAD_ROWS)
def test_bad_row_is_reported_with_file_and_line(
    tmp_path: Path, bad_row: str, expected: str
) -> None:
    path = write(
        tmp_path, [HEADER, "E06000999,Testshire,2023,as_at_january,ehcp_total_jan,9,,", bad_row]
    )
    message = load_error(path)
    assert message.count(f"{path}:") == 1  # exactly one problem: the good line 2 passes
    assert message.startswith(f"{path}:3: {expected}")


def test_every_kind_of_problem_in_one_file_is_listed_separately(tmp_path: Path) -> None:
    # A different LA on each row, so that rows are not duplicates of one another.
    bad_rows = [
        row.replace("E06000999", f"E06000{i:03d}").replace("Testshire", f"LA {i}")
        for i, (row, _) in enumerate(BAD_ROWS)
    ]
    path = write(tmp_path, [HEADER, *bad_rows])
    parts = load_error(path).split("; ")
    assert len(parts) == len(BAD_ROWS)
    for line, (part, (_, expected)) in enumerate(zip(parts, BAD_ROWS, strict=True), start=2):
        assert part.startswith(f"{path}:{line}: {expected}")


def test_duplicate_rows_name_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, GOOD_ROW, GOOD_ROW.replace("1200", "1300")])
    message = load_error(path)
    assert f"{path}:3: duplicate of line 2 (same la_code, year, period_type and metric" in message


def test_one_code_with_two_names_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, GOOD_ROW, GOOD_ROW.replace("Testshire,2024", "Testford,2025")])
    message = load_error(path)
    assert f"{path}:3: la_code E06000999 is named 'Testford' here but 'Testshire' on line 2" in (
        message
    )


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write(tmp_path, ["la_code,la_name,year,metric,val", "E06000999,T,2024,m,1"])
    message = load_error(path)
    assert f"{path}:1: missing required column(s) period_type, value" in message
    assert "required columns: la_code, la_name, year, period_type, metric, value" in message


def test_repeated_column_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER + ",value", GOOD_ROW + ",1"])
    assert f"{path}:1: column(s) value appear more than once" in load_error(path)


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            GOOD_ROW,
            "E06000999,Testshire,2025,as_at_january,ehcp_total_jan,lots,,",
            "E06000999,Testshire,2024,calendar_year,new_ehcps,10,,",
            "E06000999,Testshire,20X4,calendar_year,requests_received,10,,",
            "E06000999,Testshire,2024,calendar_year,pct_within_20wks_excl_exceptions,250,,",
        ],
    )
    message = load_error(path)
    parts = message.split("; ")
    assert len(parts) == 3
    assert [part.removeprefix(f"{path}:").split(":")[0] for part in parts] == ["3", "5", "6"]
    assert f"{path}:3: value 'lots' is not a number" in message
    assert f"{path}:5: year '20X4' is not an integer" in message
    assert f"{path}:6: percentage pct_within_20wks_excl_exceptions = 250" in message
    assert f"{path}:4:" not in message  # the good rows are not reported


def test_one_row_can_have_several_problems(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, "E06000999,Testshire,1850,weekly,ehcp_total_jan,-1,,"])
    message = load_error(path)
    assert f"{path}:2: year '1850'" in message
    assert f"{path}:2: unknown period_type 'weekly'" in message
    assert f"{path}:2: negative count ehcp_total_jan = -1" in message


def test_at_most_twenty_problems_are_shown(tmp_path: Path) -> None:
    rows = [f"E06000999,Testshire,{2000 + i},as_at_january,ehcp_total_jan,bad,," for i in range(25)]
    path = write(tmp_path, [HEADER, *rows])
    message = load_error(path)
    assert message.count(f"{path}:") == 21  # 20 located problems and the summary
    assert f"{path}:21: value 'bad'" in message
    assert f"{path}:22:" not in message
    assert message.endswith(f"{path}: 5 more problem(s) not shown (25 in all)")


def test_problem_message_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, 'E06000999,Testshire,2024,as_at_january,"ehcp\ntotal",5,,'])
    message = load_error(path)
    assert "unknown metric 'ehcp\\ntotal'" in message
    assert f"{path}:3:" in message  # the line on which the (two-line) record ends


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    assert f"{path}: file is empty; expected a CSV file with the columns" in load_error(path)
    path.write_text(" \n\n", encoding="utf-8")
    assert "file is empty" in load_error(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER])
    assert f"{path}: no data rows after the header" in load_error(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    assert f"{path}: file not found" in load_error(path)
    with pytest.raises(DataError, match="file not found"):
        load_dataset(str(path))


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    assert f"{tmp_path}: is a directory, not a file" in load_error(tmp_path)


def test_binary_and_non_utf8_files_are_not_csv(tmp_path: Path) -> None:
    xlsx = tmp_path / "data.xlsx"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")
    assert f"{xlsx}: not a CSV text file" in load_error(xlsx)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        (HEADER + "\nE06000999,T\xe9stshire,2024,as_at_january,x,1,,\n").encode("latin-1")
    )
    assert f"{latin1}: not a UTF-8 CSV text file" in load_error(latin1)


def test_csv_of_another_schema_is_rejected(tmp_path: Path) -> None:
    source = bundled_file("hnb_allocations_la.csv").read_text(encoding="utf-8")
    path = tmp_path / "hnb.csv"
    path.write_text(source, encoding="utf-8")
    assert f"{path}:1: missing required column(s) year, period_type, metric, value" in (
        load_error(path)
    )
