"""Published SEN2 (EHC plan) data for English local authorities: loading and validation.

The bundled data (``calibration/data``, see ``PROVENANCE.md`` there) are published figures only:
nothing is estimated or gap-filled, and a missing value has no row. The LA time series is a tidy
CSV with the columns::

    la_code, la_name, year, period_type, metric, value[, source_release, note]

``period_type`` is ``as_at_january`` (a stock at January of ``year``) or ``calendar_year`` (a
flow during ``year``). A user can supply a file for any LA in the same schema; it is validated
with the same rules as the bundled file (see :func:`load_dataset`). Every problem is reported as
a :class:`DataError` whose message is one line naming the file and line.

Objects returned from the cached bundled dataset are shared: treat them as read-only.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import gc
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, TypeAlias

from simulation.vocabulary import NEEDS

__all__ = [
    "CENSUS",
    "ENGLAND_CODE",
    "FLOW",
    "NEED_CODES",
    "PERIOD_TYPES",
    "DataError",
    "Dataset",
    "LAHistory",
    "bundled_file",
    "bundled_files",
    "known_metrics",
    "load_dataset",
    "national_need_shares",
    "national_sen_support_and_ehcp",
]

DATA_PACKAGE: Final = "calibration.data"
TIMESERIES_FILE: Final = "sen2_la_timeseries.csv"
LOOKUP_FILE: Final = "la_lookup.csv"
PRIMARY_NEED_FILE: Final = "national/primary_need_national.csv"
SCHOOL_CENSUS_FILE: Final = "national/sen_school_census_national.csv"

ENGLAND_CODE: Final = "E92000001"
CENSUS: Final = "as_at_january"
FLOW: Final = "calendar_year"
PERIOD_TYPES: Final = (CENSUS, FLOW)
REQUIRED_COLUMNS: Final = ("la_code", "la_name", "year", "period_type", "metric", "value")
OPTIONAL_COLUMNS: Final = ("source_release", "note")
PCT_PREFIX: Final = "pct_"
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2100
MAX_PROBLEMS: Final = 20
CASELOAD_METRIC: Final = "ehcp_total_jan"

#: Counts that DfE publishes as residuals (e.g. reviews expected minus decisions made), which
#: are negative for some LAs in the 2025 release (34 LA rows for 2024). They are kept as
#: published, so these two metrics are exempt from the "counts are >= 0" rule.
SIGNED_METRICS: Final = frozenset({"ar_decision_outstanding", "ar_no_outcome_recorded"})

#: Primary-need codes used by SEN2, in the order DfE lists them.
NEED_CODES: Final = NEEDS

_COLUMNS_TEXT: Final = (
    ", ".join(REQUIRED_COLUMNS) + " (optional: " + ", ".join(OPTIONAL_COLUMNS) + ")"
)
_PERIODS_TEXT: Final = ", ".join(PERIOD_TYPES)
_NATIONAL_COLUMNS: Final = ("year", "period_type", "metric", "value")
_LOOKUP_COLUMNS: Final = ("new_la_code", "old_la_code", "la_name")


class DataError(ValueError):
    """A data file is missing, malformed or fails validation, or an LA is not found.

    The message is always a single line; it names the file (and line where relevant) and says
    what is allowed.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


@dataclass(frozen=True)
class LAHistory:
    """All published values for one LA (or England).

    ``census`` holds January stocks (``period_type = as_at_january``), ``flows`` calendar-year
    flows (``calendar_year``); both map metric -> year -> value with years ascending. ``notes``
    maps (metric, year) to the row's note where it is not empty (e.g. ``statements_only``).
    """

    la_code: str
    la_name: str
    census: dict[str, dict[int, float]]
    flows: dict[str, dict[int, float]]
    notes: dict[tuple[str, int], str]

    def latest_census_year(self) -> int:
        """The latest January with a published EHC plan total (``ehcp_total_jan``)."""
        years = self.census.get(CASELOAD_METRIC)
        if not years:
            raise DataError(
                f"no {CASELOAD_METRIC} (EHC plans at January) value for {self.la_name} "
                f"({self.la_code}); at least one {CENSUS} row of {CASELOAD_METRIC} is required"
            )
        return max(years)

    def get(self, metric: str, year: int) -> float | None:
        """The value of ``metric`` in ``year`` (January stocks first, then flows), or None."""
        by_year = self.census.get(metric)
        if by_year is not None and year in by_year:
            return by_year[year]
        by_year = self.flows.get(metric)
        if by_year is not None:
            return by_year.get(year)
        return None

    def series(self, metric: str) -> dict[int, float]:
        """A copy of ``metric``'s values by year (ascending); empty if this LA has none."""
        by_year = self.census.get(metric)
        if by_year is None:
            by_year = self.flows.get(metric, {})
        return dict(sorted(by_year.items()))


def _normalise_name(text: str) -> str:
    """Case-folded name with '&' as 'and', punctuation dropped and spaces collapsed."""
    text = text.casefold().replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


class Dataset:
    """Every LA (and England) in one tidy SEN2 file."""

    def __init__(
        self,
        path: Path,
        histories: Mapping[str, LAHistory],
        code_aliases: Mapping[str, str] | None = None,
    ) -> None:
        """``histories`` maps GSS code -> history; ``code_aliases`` maps other codes (3-digit
        DfE numbers, superseded GSS codes) to a GSS code. Aliases to absent codes are ignored."""
        self._path = path
        self._histories: dict[str, LAHistory] = dict(histories)
        self._by_code: dict[str, str] = {code.casefold(): code for code in self._histories}
        for alias, code in (code_aliases or {}).items():
            key = alias.strip().casefold()
            if code in self._histories and key and key not in self._by_code:
                self._by_code[key] = code
        self._by_name: dict[str, list[str]] = {}
        for code, history in self._histories.items():
            self._by_name.setdefault(_normalise_name(history.la_name), []).append(code)
        # "Bristol, City of" can also be found as "Bristol" when that is unambiguous.
        for code, history in self._histories.items():
            short = _normalise_name(history.la_name.split(",")[0])
            if "," in history.la_name and short not in self._by_name:
                self._by_name[short] = [code]

    @property
    def path(self) -> Path:
        """The file the data were read from."""
        return self._path

    def __len__(self) -> int:
        return len(self._histories)

    def __repr__(self) -> str:
        return f"Dataset({str(self._path)!r}, {len(self.las())} LAs)"

    def la(self, name_or_code: str) -> LAHistory:
        """Find an LA by name or GSS code (case-insensitive) or by 3-digit DfE LA number.

        A name shared by several LAs (Dorset county until 2019 and the Dorset unitary after)
        resolves to the one with the most recent data; use the code for the other.
        """
        query = name_or_code.strip()
        code = self._by_code.get(query.casefold())
        if code is not None:
            return self._histories[code]
        codes = self._by_name.get(_normalise_name(query), [])
        if len(codes) == 1:
            return self._histories[codes[0]]
        if codes:
            ranked = sorted(codes, key=self._last_year, reverse=True)
            if self._last_year(ranked[0]) > self._last_year(ranked[1]):
                return self._histories[ranked[0]]
            raise DataError(
                f"LA name {query!r} is ambiguous in {self._path}: it matches codes "
                f"{', '.join(sorted(codes))}; give the code instead"
            )
        raise DataError(self._unknown_message(query))

    def _last_year(self, code: str) -> int:
        history = self._histories[code]
        years = [y for s in (history.census, history.flows) for by in s.values() for y in by]
        return max(years, default=0)

    def _unknown_message(self, query: str) -> str:
        names = {
            _normalise_name(h.la_name): h.la_name
            for h in self._histories.values()
            if h.la_code != ENGLAND_CODE
        }
        key = _normalise_name(query)
        suggestions: list[str] = []
        if len(key) >= 3:
            suggestions = sorted(name for norm, name in names.items() if key in norm)[:3]
        for norm in difflib.get_close_matches(key, list(names), n=3, cutoff=0.6):
            if names[norm] not in suggestions:
                suggestions.append(names[norm])
        if suggestions:
            shown = ", ".join(repr(name) if "," in name else name for name in suggestions)
            return f"unknown LA {query!r} in {self._path}; did you mean: {shown}?"
        return (
            f"unknown LA {query!r} in {self._path}; no close match: run `sendsim las` to list "
            "the LAs it holds, or supply a file for your LA in the same schema"
        )

    def names(self) -> list[str]:
        """Sorted LA names (each name once; England excluded)."""
        return sorted(
            {h.la_name for h in self._histories.values() if h.la_code != ENGLAND_CODE},
            key=str.casefold,
        )

    def las(self) -> list[tuple[str, str]]:
        """(GSS code, name) of every LA, England excluded, sorted by name then code."""
        return sorted(
            ((h.la_code, h.la_name) for h in self._histories.values() if h.la_code != ENGLAND_CODE),
            key=lambda item: (item[1].casefold(), item[0]),
        )

    def england(self) -> LAHistory | None:
        """The England totals, if the file has them (code E92000001)."""
        return self._histories.get(ENGLAND_CODE)


# --------------------------------------------------------------------------- reading files


_Source: TypeAlias = Path | Traversable
_Rows: TypeAlias = list[tuple[int, list[str]]]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while ~10^5 small containers are built (it would
    otherwise run many full collections for nothing: none of these objects form cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_text(source: _Source, label: str) -> str:
    what = f"expected a CSV file with the columns {_COLUMNS_TEXT}"
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{label}: file not found; {what}") from None
    except IsADirectoryError:
        raise DataError(f"{label}: is a directory, not a file; {what}") from None
    except OSError as exc:
        raise DataError(f"{label}: cannot read file ({exc.strerror or exc}); {what}") from None
    if b"\x00" in raw:
        raise DataError(
            f"{label}: not a CSV text file (binary content, e.g. a spreadsheet); {what}"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{label}: not a UTF-8 CSV text file (undecodable byte at offset {exc.start}); "
            f"save it as 'CSV UTF-8'; {what}"
        ) from None
    if not text.strip():
        raise DataError(f"{label}: file is empty; {what}")
    return text


def _read_table(source: _Source, label: str, required: Iterable[str]) -> tuple[list[str], _Rows]:
    """Header (stripped, lower-case) and non-blank rows with their line numbers."""
    text = _read_text(source, label)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: _Rows = []
    try:
        for row in reader:
            if not (row and row[0].strip()) and not "".join(row).strip():
                continue  # blank line, or only separators
            if header is None:
                header = [field.strip().lower() for field in row]
                header_line = reader.line_num
            else:
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise DataError(f"{label}:{reader.line_num}: not valid CSV ({exc})") from None
    assert header is not None  # the text is not blank, so some row has content
    required = list(required)
    missing = [column for column in required if column not in header]
    if missing:
        raise DataError(
            f"{label}:{header_line}: missing required column(s) {', '.join(missing)} in the "
            f"header; required columns: {', '.join(required)}"
        )
    repeated = sorted({column for column in header if column and header.count(column) > 1})
    if repeated:
        raise DataError(
            f"{label}:{header_line}: column(s) {', '.join(repeated)} appear more than once in "
            "the header; each column must appear once"
        )
    if not rows:
        raise DataError(f"{label}: no data rows after the header; at least one row is required")
    return header, rows


class _Problems:
    """Up to MAX_PROBLEMS located problems, and a count of the rest.

    Problems are joined with "; ", so a problem's own text must not contain "; ".
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown: list[str] = []
        self.total = 0

    def add(self, line: int, problem: str) -> None:
        self.total += 1
        if len(self.shown) < MAX_PROBLEMS:
            self.shown.append(f"{self.label}:{line}: {problem}")

    def raise_if_any(self) -> None:
        if not self.total:
            return
        parts = list(self.shown)
        if self.total > len(self.shown):
            parts.append(
                f"{self.label}: {self.total - len(self.shown)} more problem(s) not shown "
                f"({self.total} in all)"
            )
        raise DataError("; ".join(parts))


def _to_float(text: str) -> float:
    """The number in ``text``, or NaN if it is not one."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------- validation


MetricPeriods: TypeAlias = dict[str, frozenset[str]]


def _derive_metric_periods(header: list[str], rows: _Rows) -> MetricPeriods:
    """Metric -> allowed period types, from the well-formed rows of the reference file."""
    i_metric, i_period = header.index("metric"), header.index("period_type")
    width = len(header)
    pairs = {(row[i_metric], row[i_period]) for _, row in rows if len(row) == width}
    found: dict[str, set[str]] = {}
    for metric, period in {(m.strip(), p.strip()) for m, p in pairs}:
        if metric and period in PERIOD_TYPES:
            found.setdefault(metric, set()).add(period)
    return {metric: frozenset(periods) for metric, periods in found.items()}


def _metric_problem(metric: str, period: str, allowed: MetricPeriods) -> str | None:
    if not metric:
        return "empty metric (allowed: a metric name of the bundled SEN2 file or a 'pct_' name)"
    periods = allowed.get(metric)
    if periods is None:
        if metric.startswith(PCT_PREFIX):
            return None
        close = difflib.get_close_matches(metric, list(allowed), n=3, cutoff=0.75)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return (
            f"unknown metric {_short(metric)}{hint}, allowed: a metric name of the bundled "
            f"{TIMESERIES_FILE} (listed in calibration/data/README.md) or a percentage named "
            f"'{PCT_PREFIX}...'"
        )
    if period in PERIOD_TYPES and period not in periods:
        return f"metric {metric} must have period_type {' or '.join(sorted(periods))}, not {period}"
    return None


def _parse_dataset(
    header: list[str], rows: _Rows, label: str, allowed: MetricPeriods
) -> dict[str, LAHistory]:
    """Validate every row; build the histories or raise one DataError listing the problems.
    Long because it is one pass over the rows applying every check of docs/data-schema.md
    in the order that page lists them, so that the rules read as the page does."""
    i_code, i_name, i_year, i_period, i_metric, i_value = (
        header.index(column) for column in REQUIRED_COLUMNS
    )
    i_note = header.index("note") if "note" in header else -1
    width = len(header)
    problems = _Problems(label)
    seen: dict[tuple[str, int, str, str], int] = {}
    names: dict[str, tuple[str, int]] = {}
    spellings: dict[str, tuple[str, int]] = {}  # casefolded code -> its first spelling
    census: dict[str, dict[str, dict[int, float]]] = {}
    flows: dict[str, dict[str, dict[int, float]]] = {}
    notes: dict[str, dict[tuple[str, int], str]] = {}
    add = problems.add

    for line, row in rows:
        if len(row) != width:
            add(line, f"{len(row)} fields but the header has {width} (one value per column)")
            continue
        code = row[i_code].strip()
        name = row[i_name].strip()
        period = row[i_period].strip()
        metric = row[i_metric].strip()
        ok = True

        if not code:
            add(line, "empty la_code (a code such as E08000007 is required)")
            ok = False
        else:
            # Codes are looked up without regard to case, so two spellings would be two LAs
            # of which a lookup finds only one.
            spelt = spellings.setdefault(code.casefold(), (code, line))
            if spelt[0] != code:
                add(
                    line,
                    f"la_code {_short(code)} is spelt {_short(spelt[0])} on line {spelt[1]} "
                    "(codes are matched whatever their case: one spelling per la_code)",
                )
                ok = False
        if not name:
            add(line, "empty la_name (the LA's name is required)")
            ok = False
        elif code:
            first = names.setdefault(code, (name, line))
            if first[0] != name:
                add(
                    line,
                    f"la_code {code} is named {_short(name)} here but {_short(first[0])} on "
                    f"line {first[1]} (one name per la_code)",
                )

        year_text = row[i_year].strip()
        year = int(year_text) if year_text.isascii() and year_text.isdigit() else 0
        if not MIN_YEAR <= year <= MAX_YEAR:
            add(line, f"year {_short(year_text)} is not an integer in {MIN_YEAR}-{MAX_YEAR}")
            ok = False

        if period not in PERIOD_TYPES:
            add(line, f"unknown period_type {_short(period)} (allowed: {_PERIODS_TEXT})")
            ok = False
        if period not in allowed.get(metric, ()):
            metric_problem = _metric_problem(metric, period, allowed)
            if metric_problem is not None:
                add(line, metric_problem)
                ok = False

        value_text = row[i_value].strip()
        value = math.nan
        if not value_text:
            add(line, "empty value (leave out the row of a missing value, do not leave it blank)")
            ok = False
        else:
            value = _to_float(value_text)
            if not math.isfinite(value):
                add(
                    line,
                    f"value {_short(value_text)} is not a number (allowed: a plain number such "
                    "as 1234 or 56.7, without thousands separators, '%' or markers such as 'x')",
                )
                ok = False
            elif metric.startswith(PCT_PREFIX):
                if not 0.0 <= value <= 100.0:
                    add(line, f"percentage {metric} = {value_text} is outside 0-100")
                    ok = False
            elif value < 0.0 and metric not in SIGNED_METRICS:
                add(line, f"negative count {metric} = {value_text} (counts must be >= 0)")
                ok = False

        if code and year and period in PERIOD_TYPES and metric:
            key = (code, year, period, metric)
            first_line = seen.setdefault(key, line)
            if first_line != line:
                add(
                    line,
                    f"duplicate of line {first_line} (same la_code, year, period_type and "
                    f"metric: {code}, {year}, {period}, {metric})",
                )
                ok = False

        if not ok or problems.total:
            continue
        target = census if period == CENSUS else flows
        target.setdefault(code, {}).setdefault(metric, {})[year] = value
        if i_note >= 0:
            note = row[i_note].strip()
            if note:
                notes.setdefault(code, {})[(metric, year)] = note

    problems.raise_if_any()
    return {
        code: LAHistory(
            la_code=code,
            la_name=name,
            census=_sorted_series(census.get(code, {})),
            flows=_sorted_series(flows.get(code, {})),
            notes=notes.get(code, {}),
        )
        for code, (name, _) in names.items()
    }


def _sorted_series(series: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
    return {metric: dict(sorted(by_year.items())) for metric, by_year in series.items()}


# --------------------------------------------------------------------------- bundled data


def _data_root() -> Traversable:
    return resources.files(DATA_PACKAGE)


def _as_path(source: Traversable) -> Path:
    return source if isinstance(source, Path) else Path(str(source))


def bundled_files() -> list[str]:
    """Names of the bundled data files (CSV and Markdown), e.g. 'national/unit_costs.csv'."""
    found: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                if not child.name.startswith(("_", ".")):
                    walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".csv", ".md")):
                found.append(prefix + child.name)

    walk(_data_root(), "")
    return sorted(found)


def bundled_file(name: str) -> Traversable:
    """A bundled data file, e.g. ``bundled_file("national/unit_costs.csv")``.

    The result has ``read_text()`` / ``read_bytes()`` / ``open()``; under a normal
    installation it is a :class:`pathlib.Path`.
    """
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    node = _data_root()
    if parts and not any(part in (".", "..") for part in parts):
        for part in parts:
            node = node.joinpath(part)
        if node.is_file():
            return node
    raise DataError(
        f"no bundled data file {name!r} in {DATA_PACKAGE}; available: {', '.join(bundled_files())}"
    )


@functools.lru_cache(maxsize=1)
def _code_aliases() -> dict[str, str]:
    """3-digit DfE LA numbers and superseded GSS codes -> current GSS code (la_lookup.csv)."""
    source = bundled_file(LOOKUP_FILE)
    label = str(_as_path(source))
    header, rows = _read_table(source, label, _LOOKUP_COLUMNS)
    i_new, i_old = header.index("new_la_code"), header.index("old_la_code")
    i_other = (
        header.index("other_new_la_codes_in_releases")
        if "other_new_la_codes_in_releases" in header
        else -1
    )
    aliases: dict[str, str] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{label}:{line}: {len(row)} fields but the header has {len(header)}")
        new = row[i_new].strip()
        olds = [row[i_old]] + (re.split(r"[;|\s]+", row[i_other]) if i_other >= 0 else [])
        for old in olds:
            if old.strip() and new:
                aliases[old.strip()] = new
    return aliases


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[Dataset, MetricPeriods]:
    source = bundled_file(TIMESERIES_FILE)
    path = _as_path(source)
    with _gc_paused():
        header, rows = _read_table(source, str(path), REQUIRED_COLUMNS)
        allowed = _derive_metric_periods(header, rows)
        histories = _parse_dataset(header, rows, str(path), allowed)
    return Dataset(path, histories, _code_aliases()), allowed


def known_metrics() -> dict[str, frozenset[str]]:
    """Metric names of the bundled SEN2 file -> the period type(s) each must have."""
    return dict(_bundled()[1])


def load_dataset(path: str | Path | None = None) -> Dataset:
    """Load the bundled LA time series (``path=None``, cached) or a user file in its schema.

    A file is rejected with one :class:`DataError` listing up to 20 problems as
    ``FILE:LINE: problem`` if it has: missing required columns; non-numeric, blank or
    non-finite values; a year that is not an integer in 2000-2100; a period_type other than
    as_at_january / calendar_year; a metric not in the bundled file (names starting ``pct_``
    are allowed as percentages); a metric with a period type other than the bundled file's;
    negative counts; percentages outside 0-100; duplicate (la_code, year, period_type, metric)
    rows; or one la_code with two names or two spellings (case). 3-digit DfE LA numbers from
    the bundled lookup can be used with :meth:`Dataset.la` for any file.
    """
    if path is None:
        return _bundled()[0]
    file_path = Path(path)
    allowed = _bundled()[1]
    with _gc_paused():
        header, rows = _read_table(file_path, str(file_path), REQUIRED_COLUMNS)
        histories = _parse_dataset(header, rows, str(file_path), allowed)
    return Dataset(file_path, histories, _code_aliases())


# --------------------------------------------------------------------------- national data


@functools.cache
def _national(name: str) -> dict[tuple[str, str], dict[str, float]]:
    """(metric, period_type) -> year label -> value for a bundled national file."""
    source = bundled_file(name)
    label = str(_as_path(source))
    header, rows = _read_table(source, label, _NATIONAL_COLUMNS)
    i_year, i_period, i_metric, i_value = (header.index(column) for column in _NATIONAL_COLUMNS)
    table: dict[tuple[str, str], dict[str, float]] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{label}:{line}: {len(row)} fields but the header has {len(header)}")
        value = _to_float(row[i_value])
        if not math.isfinite(value):
            raise DataError(f"{label}:{line}: value {_short(row[i_value])} is not a number")
        key = (row[i_metric].strip(), row[i_period].strip())
        table.setdefault(key, {})[row[i_year].strip()] = value
    return table


def _int_years(by_year: Mapping[str, float]) -> dict[int, float]:
    return {int(year): value for year, value in by_year.items() if year.isdigit()}


def _need_shares(name: str, prefix: str, period: str) -> dict[str, float]:
    table = _national(name)
    counts: dict[str, dict[int, float]] = {
        code: _int_years(table.get((f"{prefix}.number_{code}", period), {})) for code in NEED_CODES
    }
    years = {year for by_year in counts.values() for year in by_year}
    label = str(_as_path(bundled_file(name)))
    if not years:
        raise DataError(f"{label}: no {prefix}.number_<need> rows with period_type {period}")
    latest = max(years)
    missing = [code for code in NEED_CODES if latest not in counts[code]]
    if missing:
        raise DataError(
            f"{label}: {prefix}.number_<need> for {latest} lacks need(s) {', '.join(missing)}; "
            f"all of {', '.join(NEED_CODES)} are required"
        )
    total = sum(counts[code][latest] for code in NEED_CODES)
    if total <= 0:
        raise DataError(f"{label}: {prefix}.number_<need> counts for {latest} sum to {total:g}")
    return {code: counts[code][latest] / total for code in NEED_CODES}


def national_need_shares() -> tuple[dict[str, float], dict[str, float]]:
    """National shares by primary need: (new plans in the latest calendar year, all plans at
    the latest January), keyed by NEED_CODES, each summing to 1.

    From SEN2 (``national/primary_need_national.csv``; new plans 2024 and Jan 2025 in the
    bundled data). Plans with an unknown primary need are left out before normalising.
    """
    return (
        _need_shares(PRIMARY_NEED_FILE, "sen2_new_ehcps", FLOW),
        _need_shares(PRIMARY_NEED_FILE, "sen2_all_ehcps", CENSUS),
    )


#: School-census metric names: SEN support, and EHC plans (statements + EHC plans 2016-2018).
_SEN_SUPPORT_METRICS: Final = ("pupils_sen_support",)
_EHCP_METRICS: Final = ("pupils_with_ehcp", "pupils_with_ehcp_or_statement")


def national_sen_support_and_ehcp(year: int | None = None) -> tuple[float, float]:
    """(pupils on SEN support, pupils with an EHC plan) in England's January school census.

    ``year=None`` gives the latest January with both counts published. The census covers pupils
    in schools only (not the 0-25 SEN2 scope). Years without both published counts (in the
    bundled data 2013-2016, 2018 and 2022) raise DataError; nothing is derived.
    """
    table = _national(SCHOOL_CENSUS_FILE)

    def first_of(metrics: tuple[str, ...]) -> dict[int, float]:
        merged: dict[int, float] = {}
        for metric in reversed(metrics):
            merged.update(_int_years(table.get((metric, CENSUS), {})))
        return merged

    support, ehcp = first_of(_SEN_SUPPORT_METRICS), first_of(_EHCP_METRICS)
    years = sorted(set(support) & set(ehcp))
    label = str(_as_path(bundled_file(SCHOOL_CENSUS_FILE)))
    if not years:
        raise DataError(f"{label}: no January with both SEN support and EHC plan pupil counts")
    chosen = years[-1] if year is None else year
    if chosen not in years:
        raise DataError(
            f"{label}: no published school-census counts of both SEN support and EHC plan "
            f"pupils for January {chosen}; available years: {', '.join(map(str, years))}"
        )
    return support[chosen], ehcp[chosen]
