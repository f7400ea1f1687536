"""Fuzz suite (issue 13): whatever scenario or data file a user gives `sendsim run`, it ends
in exit 0 with a whole run folder, or in a clean error and nothing left behind.

Hypothesis mutates the bundled scenarios (experiments/scenarios/*.toml) and a small extract
of the bundled data (Rutland's and Cumberland's rows of the SEN2 time series), and runs each
through the command line in-process (click's CliRunner), as a user would:

    sendsim run --la Rutland --years 1 --replications 1 --jobs 1 --quiet
        --no-parameter-uncertainty --scenario FILE --out DIR
    sendsim run --data FILE --la Rutland|E06000017|857|Cumberland|... [--start-year Y] ...
    sendsim las --data FILE

(a third of the scenario runs with --years 2, half with parameter uncertainty on).

Scenario mutations: dropped, duplicated and renamed keys, values of another type, extreme
numbers (inf, nan, 1e300, -1, 0, huge whole numbers), any parameter of the reference set to
its bounds or beyond (absolutely or by [add.*]/[multiply.*]), keys in the wrong table,
unknown sections, levers with bad types, fields and dates, odd [scenario] names, and bytes:
non-UTF-8, NUL, truncated, empty. Data mutations: renamed, missing, repeated and swapped
columns, non-numeric / negative / huge / NaN / blank values, duplicated and dropped rows,
unknown or changed LA codes and names, a metric's rows removed or scaled, lines with too
few or too many fields, truncation, non-UTF-8 bytes.

Every example must end in exit 0, with --out holding manifest.json and results.csv and
nothing else new beside it; or in a clean error: exit 2 (bad input) or 3 (a file), through
click (no traceback), the output one line starting "Error: ", --out absent and its parent
holding exactly what it held (no hidden .sendsim-new or lock files). Exit 1 is a bug.

Bounded in CI: the profile "sendsim-fuzz-ci" is derandomized (the same examples every run,
no example database) with no deadline; its example counts (SCENARIO_EXAMPLES,
DATA_RUN_EXAMPLES, LAS_EXAMPLES below: 150, 80 and 150) run in 17-19 s for the whole
file on the 2-core development machine (measured at load averages 0.7 and 2.2; at most twice
that when the other core is busy). The run's charts are built but not laid out or saved
(the slow part of a small run); with SENDSIM_FUZZ_CHARTS=1 they are drawn and saved as in
a real run. An example running longer than SENDSIM_FUZZ_SLOW_SECONDS (default 60) fails:
the generators keep the simulated system small, so that means a hang or a generator to fix.

More on demand: SENDSIM_FUZZ_EXAMPLES=500 python -m pytest tests/cli/test_fuzz.py runs each
fuzz test 500 times with fresh random examples (profile "sendsim-fuzz-deep"; Hypothesis
prints the failing example and a blob to reproduce it with @reproduce_failure). Each of
the fuzz tests was run with 400-500 such examples (and 150 with the charts) while writing
it; every bug found has a plain regression test at the end of this file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
import os
import signal
import sys
import tempfile
import tomllib
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import matplotlib.pyplot as plt
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import experiments.plots
from calibration.la_data import TIMESERIES_FILE, Dataset, bundled_file
from experiments.cli import EXIT_BAD_INPUT, EXIT_IO, library, main
from experiments.toml_out import dumps as toml_text
from simulation.levers import LEVER_TYPES
from simulation.parameters import ParameterError, iter_fields

# Slow tier: hundreds of fuzzed runs.
pytestmark = pytest.mark.slow

SCENARIO_EXAMPLES = 150
DATA_RUN_EXAMPLES = 80
LAS_EXAMPLES = 150
#: An example slower than this is a generator that made too big a system, not a test.
SLOW_SECONDS = float(os.environ.get("SENDSIM_FUZZ_SLOW_SECONDS", "60"))

_DEEP = os.environ.get("SENDSIM_FUZZ_EXAMPLES")
settings.register_profile(
    "sendsim-fuzz-ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "sendsim-fuzz-deep",
    settings.get_profile("sendsim-fuzz-ci"),
    derandomize=False,
)
PROFILE = settings.get_profile("sendsim-fuzz-deep" if _DEEP else "sendsim-fuzz-ci")


def fuzz_settings(ci_examples: int) -> settings:
    return settings(PROFILE, max_examples=int(_DEEP) if _DEEP else ci_examples)


def run_args(years: int | None = 1, uncertainty: bool = False) -> list[str]:
    """`sendsim run` of one replication, on one process (--years None: the default, 5)."""
    args = ["run", "--replications", "1", "--jobs", "1", "--quiet"]
    args += [] if years is None else ["--years", str(years)]
    return args + ([] if uncertainty else ["--no-parameter-uncertainty"])


# --------------------------------------------------------------------------- running


class _TooSlow(BaseException):
    """Raised by the alarm in an example that runs too long (not an Exception, so the CLI's
    error boundary does not turn it into an exit code)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _TooSlow(f"example ran more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _quick_finish(fig: Any, ax: Any, path: Path, heading: str, metric: str) -> None:
    """experiments.plots._finish without the layout and the PNG (most of a run's time)."""
    plt.close(fig)
    Path(path).write_bytes(b"")


def invoke(args: Sequence[str]) -> Result:
    """`sendsim ARGS` in-process, as the console script would run it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["/usr/local/bin/sendsim", *args])
        if not os.environ.get("SENDSIM_FUZZ_CHARTS"):
            mp.setattr(experiments.plots, "_finish", _quick_finish)
        with _time_limit(SLOW_SECONDS):
            return CliRunner().invoke(main, list(args))


def listing(folder: Path) -> dict[str, bytes]:
    """Every file and folder under `folder`, hidden ones too (folders as b'<dir>')."""
    return {
        str(p.relative_to(folder)): b"<dir>" if p.is_dir() else p.read_bytes()
        for p in folder.rglob("*")
    }


def assert_clean(result: Result, out: Path | None, before: dict[str, bytes], root: Path) -> None:
    """Exit 0 with a whole run folder, or a clean one-line error and nothing new."""
    detail = (result.exit_code, result.output[-3000:], result.exc_info)
    if currently_in_test_context():
        event(f"exit {result.exit_code}")
    if result.exit_code == 0:
        after = listing(root)
        assert {k: after.get(k) for k in before} == before, detail  # nothing changed
        new = sorted(set(after) - set(before))
        if out is None:
            assert not new, (new, detail)
            return
        assert (out / "manifest.json").is_file(), detail
        assert (out / "results.csv").is_file(), detail
        json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        inside = str(out.relative_to(root))
        assert all(n == inside or n.startswith(inside + "/") for n in new), (new, detail)
        return
    assert result.exit_code in (EXIT_BAD_INPUT, EXIT_IO), detail
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, detail
    assert "Traceback" not in result.output, detail
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, detail
    assert lines[0].startswith("Error: "), detail
    if out is not None:
        assert not out.exists(), detail
    assert listing(root) == before, detail


# --------------------------------------------------------------------------- TOML writing


# Mutated scenarios are written with the project's own TOML writer (experiments.toml_out).


# --------------------------------------------------------------------------- scenarios

SCENARIOS = {name: path.read_text(encoding="utf-8") for name, path in sorted(library().items())}
#: Every leaf parameter: dotted key -> (default, metadata).
FIELDS = {key: (default, meta) for key, default, meta in iter_fields()}
SECTIONS = sorted({key.split(".")[0] for key in FIELDS if "." in key})
#: Parameters that set the size of the system (how many children, requests and plans):
#: set to their maxima they make a run of millions of children, slow but not wrong.
SCALE = {
    "demand.sen_support_by_age",
    "demand.identification_by_age",
    "demand.direct_requests_by_age",
    "demand.request_hazard_by_age",
    "demand.request_multiplier_by_year",
    "exits.moves_in_per_year",
    "initial.caseload",
    "initial.assessments_in_progress",
    "initial.requests_awaiting_decision",
}

EXTREMES: list[Any] = [
    math.inf,
    -math.inf,
    math.nan,
    1e300,
    -1e300,
    1e-300,
    -1,
    -1.0,
    0,
    0.0,
    -0.0,
    1,
    0.5,
    2**63,
    -(2**63),
    10**30,
    10**400,
    -(10**400),
]
ODD_STRINGS = ["", " ", "x", "nan", "inf", "1", "wait", "independent", "é", "\u202e", "a" * 300]
ODD_KEYS = ["", " ", "é", "a.b", "ep_fte", "EP_FTE", "start", "type", "levers", "scenario"]
DATES: list[Any] = [
    "2026-04-01",
    "2026-02-30",
    "2026-13-01",
    "2025-1-1",
    "20260401",
    "2026-04-01T00:00:00",
    "",
    "yesterday",
    "0001-01-01",
    "1900-01-01",
    "9999-12-31",
    "2024-02-29",
    dt.date(2026, 4, 1),
    dt.date(1, 1, 1),
    dt.datetime(2026, 4, 1, 12, 0),
    dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC),
    dt.time(12, 0),
    20260401,
    2026.5,
    True,
]

small_text = st.text(st.characters(codec="utf-8"), max_size=12)
odd_value: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(EXTREMES),
    st.sampled_from(ODD_STRINGS),
    st.booleans(),
    st.sampled_from(DATES),
    st.lists(st.sampled_from(EXTREMES[:12]), max_size=30),
    st.dictionaries(st.sampled_from(ODD_KEYS), st.sampled_from(EXTREMES[:12]), max_size=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    small_text,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of nested dicts and lists (lists by index)."""
    out: list[tuple[Any, ...]] = []
    items: Any = data.items() if isinstance(data, dict) else enumerate(data)
    for k, v in items:
        out.append((*prefix, k))
        if isinstance(v, dict | list):
            out += _paths(v, (*prefix, k))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for k in path[:-1]:
        data = data[k]
    return data


def _numbers_like(default: Any, meta: dict[str, Any], scale: bool) -> st.SearchStrategy[Any]:
    """Values for a parameter: its bounds, beyond them, and odd ones; the size parameters
    only up to a modest level unless the value is out of range."""
    lo, hi = meta.get("lo"), meta.get("hi")
    near: list[Any] = [0, 0.0, 1, -1]
    if lo is not None:
        near += [lo, lo - 1, lo - 1e-9]
    if hi is not None:
        near += [hi + 1, hi * 1.000001, hi * 10] + ([] if scale else [hi, hi - 1])
    bound = min(hi if hi is not None else 1e6, 3.0 if scale else 1e6)
    inside = st.floats(min_value=lo if lo is not None else -1e6, max_value=max(bound, 0.0))
    number = st.one_of(st.sampled_from(near), st.sampled_from(EXTREMES), inside)
    if isinstance(default, tuple | list):
        return st.one_of(
            st.lists(number, min_size=0, max_size=30),
            st.builds(lambda x, n: [x] * n, number, st.sampled_from([len(default), 26, 5])),
            number,
        )
    if isinstance(default, dict):
        keys = meta.get("keys") or list(default) or ["2025", "2026", "1999", "x"]
        inner: st.SearchStrategy[Any] = number
        if meta.get("inner_keys"):
            inner = st.dictionaries(st.sampled_from(list(meta["inner_keys"])), number, max_size=4)
        elif meta.get("length"):
            inner = st.lists(number, min_size=meta["length"], max_size=meta["length"])
        return st.one_of(st.dictionaries(st.sampled_from(list(keys)), inner, max_size=6), number)
    if isinstance(default, str):
        choices = list(meta.get("choices") or []) + ODD_STRINGS[:4]
        return st.one_of(st.sampled_from(choices), number)
    return number


@st.composite
def parameter_change(draw: st.DrawFn) -> tuple[str, str, Any]:
    """(table, key, value): a parameter of the reference set outright or relatively."""
    key = draw(st.sampled_from(sorted(k for k in FIELDS if "." in k)))
    default, meta = FIELDS[key]
    kind = draw(st.sampled_from(["", "add.", "multiply."]))
    value = draw(st.one_of(_numbers_like(default, dict(meta), key in SCALE), odd_value))
    modest = isinstance(value, int | float) and 0 <= value <= 1e6  # not nan, inf or huge
    if key in SCALE and modest and kind:  # in range after the change: keep the system small
        cap = 3.0 if kind == "multiply." or "hazard" in key or "multiplier" in key else 50.0
        value = min(value, cap)
    section, name = key.rsplit(".", 1)
    return kind + section, name, value


@st.composite
def valid_change(draw: st.DrawFn) -> tuple[str, str, Any]:
    """(table, key, value): a parameter set to a value inside its range (its bounds, zero,
    or between), outright or relatively; the size parameters only up to a modest level."""
    key = draw(st.sampled_from(sorted(k for k in FIELDS if "." in k)))
    default, meta = FIELDS[key]
    lo, hi = meta.get("lo"), meta.get("hi")
    section, name = key.rsplit(".", 1)
    if isinstance(default, bool):
        return section, name, draw(st.booleans())
    if isinstance(default, str):
        return section, name, draw(st.sampled_from(list(meta.get("choices") or ["x"])))
    if key in SCALE:
        kind = draw(st.sampled_from(["add.", "multiply."]))
        amount = draw(st.sampled_from([0, 0.0, 0.5, 1.5, 3.0] if kind == "multiply." else [0, 1]))
        return kind + section, name, amount
    low = 0.0 if lo is None else float(lo)
    high = 1e6 if hi is None else float(hi)
    number = draw(
        st.one_of(st.sampled_from([low, high, 0.0, 1.0]), st.floats(low, high)).filter(
            lambda x: low <= x <= high
        )
    )
    is_int = isinstance(default, int) or name.endswith(("places", "_limit", "_per_sitting"))
    if is_int and not isinstance(default, float):
        number = int(number)
    if isinstance(default, tuple | list):
        length = meta.get("length") or len(default)
        return section, name, [number] * length
    if isinstance(default, dict):
        keys = list(meta.get("keys") or ["2024", "2025", "2026"])
        inner_keys = meta.get("inner_keys")
        if inner_keys:
            inner: Any = {g: number for g in inner_keys}
            return section, name, {k: inner for k in keys}
        width = meta.get("length")
        return section, name, {k: [number] * width if width else number for k in keys}
    kind = draw(st.sampled_from(["", "", "add.", "multiply."]))
    if kind:
        number = draw(st.sampled_from([0, 0.0, -0.0, 1, 0.5, 2.0, -1.0]))
    return kind + section, name, number


VALID_DATES = ["2000-01-01", "2024-06-30", "2025-01-01", "2025-01-02", "2025-12-31", "2100-12-31"]
VALID_DATES += ["2024-02-29", "2025-09-01", "2026-01-01"]


@st.composite
def lever(draw: st.DrawFn) -> dict[str, Any]:
    """A [[levers]] table: half the time a valid lever with fields at their bounds, else
    one with odd values, a bad type or a bad field."""
    valid = draw(st.booleans())
    odd_kinds = [] if valid else ["nope", "", "Early_Intervention"]
    kind = draw(st.sampled_from([*LEVER_TYPES, *odd_kinds]))
    cls = LEVER_TYPES.get(kind, LEVER_TYPES["early_intervention"])
    fields = {k: (f.default, f.metadata) for k, f in cls.__dataclass_fields__.items()}
    out: dict[str, Any] = {"type": kind, "name": draw(small_text)}
    for k, (default, meta) in fields.items():
        if k in ("type", "name") or draw(st.booleans()):
            continue
        if k == "start":
            out[k] = draw(st.sampled_from(VALID_DATES if valid else DATES))
        elif isinstance(default, bool):
            out[k] = draw(st.booleans() if valid else st.one_of(st.booleans(), odd_value))
        elif isinstance(default, str):
            choices = list(meta.get("choices") or [default])
            out[k] = draw(st.sampled_from(choices if valid else [*choices, *ODD_STRINGS]))
        elif valid:
            lo, hi = float(meta["lo"]), float(meta["hi"])
            x = draw(st.one_of(st.sampled_from([lo, hi, (lo + hi) / 2]), st.floats(lo, hi)))
            out[k] = int(x) if isinstance(default, int) else x
        else:
            out[k] = draw(_numbers_like(default, dict(meta), k in ("places", "ep_fte")))
    if valid:
        return out
    extra = draw(st.sampled_from([None, "unknown", "ep_fte", "places", "setting"]))
    if extra:
        out[extra] = draw(odd_value)
    if draw(st.booleans()):
        out.pop("type", None)
    return out


def _mutate(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """One structural change of a scenario's tables, in place."""
    paths = _paths(data)
    op = draw(
        st.sampled_from(
            [
                "drop",
                "rename",
                "retype",
                "extreme",
                "move",
                "unknown_section",
                "parameter",
                "parameter",
                "valid",
                "valid",
                "valid",
                "valid",
                "lever",
                "lever",
                "levers_table",
                "meta",
                "relative_scalar",
            ]
        )
    )
    if op in ("drop", "rename", "retype", "extreme", "move") and not paths:
        op = "parameter"
    if op == "drop":
        path = draw(st.sampled_from(paths))
        del _parent(data, path)[path[-1]]
    elif op == "rename":
        path = draw(st.sampled_from([p for p in paths if isinstance(p[-1], str)] or paths))
        parent = _parent(data, path)
        if isinstance(parent, dict):
            new = draw(
                st.one_of(
                    st.sampled_from(ODD_KEYS),
                    st.sampled_from(sorted({k.rsplit(".", 1)[-1] for k in FIELDS})),
                    st.sampled_from(SECTIONS),
                    st.just(str(path[-1]).upper()),
                    st.just(str(path[-1]) + "s"),
                )
            )
            parent[new] = parent.pop(path[-1])
    elif op == "retype":
        path = draw(st.sampled_from(paths))
        _parent(data, path)[path[-1]] = draw(odd_value)
    elif op == "extreme":
        numeric = [
            p
            for p in paths
            if isinstance(_parent(data, p)[p[-1]], int | float | list)
            and not isinstance(_parent(data, p)[p[-1]], bool)
        ]
        path = draw(st.sampled_from(numeric or paths))
        _parent(data, path)[path[-1]] = draw(st.sampled_from(EXTREMES))
    elif op == "move":
        path = draw(st.sampled_from(paths))
        value = _parent(data, path).pop(path[-1]) if isinstance(path[-1], str) else None
        table = draw(st.sampled_from([*SECTIONS, "scenario", "add", "multiply", "add.run"]))
        node = data
        for part in table.split("."):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return
            node = child
        node[str(path[-1])] = value if value is not None else draw(odd_value)
    elif op == "unknown_section":
        name = draw(
            st.sampled_from(
                ["foo", "add", "multiply", "add.foo", "multiply.scenario", "Demand", "levers"]
            )
        )
        value = draw(st.one_of(odd_value, st.just({"x": 1}), st.just({})))
        first, _, rest = name.partition(".")
        if rest and isinstance(data.get(first), dict):
            data[first][rest] = value
        else:
            data[first] = {rest: value} if rest else value
    elif op in ("parameter", "valid"):
        table, key, value = draw(parameter_change() if op == "parameter" else valid_change())
        node = data
        for part in table.split("."):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return
            node = child
        node[key] = value
    elif op == "lever":
        levers = data.get("levers")
        if not isinstance(levers, list):
            levers = data["levers"] = []
        levers.append(draw(lever()))
    elif op == "levers_table":
        data["levers"] = draw(st.one_of(st.just({"type": "sufficiency"}), odd_value, st.just([])))
    elif op == "meta":
        meta = data.setdefault("scenario", {})
        if isinstance(meta, dict):
            key = draw(st.sampled_from(["name", "description", "no_change", "other"]))
            meta[key] = draw(
                st.one_of(
                    st.sampled_from(
                        ["", ".x", "../x", "a/b", "baseline", "extra_ep", "x" * 300, "Ω", "a b"]
                    ),
                    odd_value,
                )
            )
    elif op == "relative_scalar":
        data[draw(st.sampled_from(["add", "multiply"]))] = draw(odd_value)


@st.composite
def scenario_file(draw: st.DrawFn) -> bytes:
    """A bundled scenario, mutated in its tables and then perhaps in its bytes."""
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    data = tomllib.loads(SCENARIOS[name])
    for _ in range(draw(st.integers(0, 4))):
        _mutate(draw, data)
    text = toml_text(data) if bool(data) or draw(st.booleans()) else SCENARIOS[name]
    return draw(byte_mutations(text.encode("utf-8")))


def _lines_op(raw: bytes, op: Callable[[list[bytes], int], object], i: int) -> bytes:
    lines = raw.split(b"\n")
    op(lines, i % max(len(lines), 1))
    return b"\n".join(lines)


@st.composite
def byte_mutations(draw: st.DrawFn, raw: bytes, calm: int = 6) -> bytes:
    """Usually nothing; else truncation, foreign bytes, a duplicated or lost line, CRLF."""
    op = draw(
        st.sampled_from(
            ["none"] * calm
            + ["truncate", "insert", "dup_line", "drop_line", "crlf", "empty", "bom", "space"]
        )
    )
    at = draw(st.integers(0, max(len(raw), 1)))
    if op == "truncate":
        return raw[:at]
    if op == "insert":
        junk = draw(
            st.sampled_from(
                [b"\xff", b"\xc3\x28", b"\x80", b"\x00", b"\xef\xbb\xbf", b'"', b"\n", b"\r", b","]
            )
        )
        return raw[:at] + junk + raw[at:]
    if op == "dup_line":
        return _lines_op(raw, lambda ls, i: ls.insert(i, ls[i]), at)
    if op == "drop_line":
        return _lines_op(raw, lambda ls, i: ls.pop(i), at)
    if op == "crlf":
        return raw.replace(b"\n", b"\r\n")
    if op == "empty":
        return b""
    if op == "bom":
        return b"\xef\xbb\xbf" + raw
    if op == "space":
        return b" \n\t\n"
    return raw


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh folder (not pytest's tmp_path: Hypothesis runs many examples per test call)
    holding a parent folder for --out with a file of the user's in it."""
    with tempfile.TemporaryDirectory(prefix="sendsim-fuzz-") as tmp:
        root = Path(tmp)
        (root / "runs").mkdir()
        (root / "runs" / "mine.txt").write_text("the user's own file", encoding="utf-8")
        yield root


def run_scenario(
    raw: bytes, years: int | None = 1, uncertainty: bool = False
) -> tuple[Result, Path, Path]:
    """Run a scenario file's bytes for Rutland (--years None: the default, 5); returns the
    result, the sandbox (deleted) and --out, checked by assert_clean."""
    with sandbox() as root:
        scenario = root / "fuzz.toml"
        scenario.write_bytes(raw)
        out = root / "runs" / "out"
        before = listing(root)
        args = [*run_args(years, uncertainty), "--la", "Rutland"]
        result = invoke([*args, "--scenario", str(scenario), "--out", str(out)])
        assert_clean(result, out, before, root)
        return result, root, out


@fuzz_settings(SCENARIO_EXAMPLES)
@given(raw=scenario_file(), years=st.sampled_from([1, 1, 2]), uncertainty=st.booleans())
def test_fuzzed_scenario_runs_or_fails_cleanly(raw: bytes, years: int, uncertainty: bool) -> None:
    run_scenario(raw, years, uncertainty)


# --------------------------------------------------------------------------- data files

RUTLAND, CUMBERLAND = "E06000017", "E06000063"


def _extract() -> tuple[list[str], list[list[str]]]:
    text = bundled_file(TIMESERIES_FILE).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    keep = [r for r in body if r[0] in (RUTLAND, CUMBERLAND)]
    return header, keep


HEADER, ROWS = _extract()
METRICS = sorted({r[HEADER.index("metric")] for r in ROWS})
#: Metrics the estimates need (docs/data-schema.md), more often chosen.
NEEDED = [
    "ehcp_total_jan",
    "requests_received",
    "requests_refused",
    "assessments_plan_issued",
    "new_ehcps",
    "caseload_special_state",
    "caseload_age_5to10",
]
NOTES = [
    "statements_only",
    "statements_plus_ehcps",
    "known_error_dfe_says_5",
    "known_error_dfe_says_0",
    "known_error_dfe_says_x",
    "known_error_dfe_says_-3",
    "known_error_dfe_says_1e300",
    "all_plans_classed_as_exceptions",
    "placements_not_recorded_for_many_plans",
    "dorset_2021_figures_include_exceptions",
    "statements_only;known_error_dfe_says_5",
    "something else",
]
CELLS = [
    "",
    " ",
    "x",
    "1,200",
    "12%",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e300",
    "-1e300",
    "1e-300",
    "-1",
    "-0",
    "0",
    "0.0",
    "1e7",
    "9" * 400,
    "0x10",
    "1_000",
    "\u0663",
    " 5 ",
    "5.",
    ".5",
    "+5",
    "2.5",
    "1999",
    "2101",
    "2024.0",
    "as_at_january",
    "calendar_year",
    "E06000017",
    "E06000063",
    "E92000001",
    "E06999999",
    "e06000017",
    "857",
    "Rutland",
    "Cumberland",
    "England",
    "statements_only",
    "known_error_dfe_says_5",
    "known_error_dfe_says_x",
    "placements_not_recorded_for_many_plans",
    "all_plans_classed_as_exceptions",
    'a"b',
    "é",
]


def _cell(draw: st.DrawFn) -> str:
    return draw(
        st.one_of(
            st.sampled_from(CELLS),
            st.sampled_from(METRICS),
            st.integers(-5, 3000).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            small_text,
        )
    )


def _mutate_table(draw: st.DrawFn, header: list[str], rows: list[list[str]]) -> None:
    """One change of the extract's header or rows, in place."""
    op = draw(
        st.sampled_from(
            [
                "rename_column",
                "drop_column",
                "repeat_column",
                "swap_columns",
                "reorder_columns",
                "extra_column",
                "cell",
                "cell",
                "cell",
                "drop_rows",
                "duplicate_row",
                "drop_metric",
                "drop_metric",
                "scale_metric",
                "recode",
                "rename_la",
                "short_row",
                "long_row",
                "shift_years",
                "value",
                "value",
                "value",
                "note",
                "keep_years",
                "keep_years",
            ]
        )
    )
    width = len(header)
    col = draw(st.integers(0, max(width - 1, 0)))
    if op == "rename_column" and header:
        header[col] = draw(
            st.sampled_from(
                ["", "LA_CODE", " la_code ", "value ", "Value", "metrics", "yr", "la name"]
            )
        )
    elif op == "drop_column" and header:
        header.pop(col)
        for r in rows:
            if col < len(r):
                r.pop(col)
    elif op == "repeat_column" and header:
        header.append(header[col])
        for r in rows:
            r.append(r[col] if col < len(r) else "")
    elif op == "swap_columns" and width > 1:
        other = draw(st.integers(0, width - 1))
        header[col], header[other] = header[other], header[col]
    elif op == "reorder_columns" and width > 1:
        order = draw(st.permutations(range(width)))
        header[:] = [header[i] for i in order]
        for r in rows:
            if len(r) == width:
                r[:] = [r[i] for i in order]
    elif op == "extra_column":
        header.append(draw(st.sampled_from(["comment", "", "value2"])))
        for r in rows:
            r.append(_cell(draw))
    elif op == "cell" and rows:
        r = draw(st.sampled_from(rows))
        if r:
            c = draw(st.integers(0, len(r) - 1))
            r[c] = _cell(draw)
    elif op == "drop_rows" and rows:
        start = draw(st.integers(0, len(rows) - 1))
        del rows[start : start + draw(st.integers(1, max(1, len(rows) // 2)))]
    elif op == "duplicate_row" and rows:
        i = draw(st.integers(0, len(rows) - 1))
        rows.insert(draw(st.integers(0, len(rows))), list(rows[i]))
    elif op in ("drop_metric", "scale_metric") and "metric" in header:
        i_metric = header.index("metric")
        metric = draw(st.one_of(st.sampled_from(NEEDED), st.sampled_from(METRICS)))
        if op == "drop_metric":
            rows[:] = [r for r in rows if i_metric >= len(r) or r[i_metric] != metric]
        elif "value" in header:
            i_value = header.index("value")
            factor = draw(st.sampled_from([0.0, 0.001, 0.1, 0.5, 2.0, 10.0]))
            for r in rows:
                if len(r) > max(i_metric, i_value) and r[i_metric] == metric:
                    with contextlib.suppress(ValueError):
                        r[i_value] = repr(float(r[i_value]) * factor)
    elif op in ("recode", "rename_la") and rows:
        column = 0 if op == "recode" else 1
        new = draw(st.sampled_from(CELLS[31:41]) if op == "recode" else small_text)
        old = draw(st.sampled_from(rows))
        if column < len(old):
            which = old[column]
            share = draw(st.sampled_from(["one", "all", "year"]))
            for r in rows:
                if column < len(r) and r[column] == which:
                    if share == "one" and r is not old:
                        continue
                    if share == "year" and len(r) > 2 and len(old) > 2 and r[2] != old[2]:
                        continue
                    r[column] = new
    elif op == "short_row" and rows:
        r = draw(st.sampled_from(rows))
        del r[draw(st.integers(0, len(r))) :]
    elif op == "long_row" and rows:
        draw(st.sampled_from(rows)).append(_cell(draw))
    elif op == "value" and "value" in header and "metric" in header and rows:
        i_value, i_metric = header.index("value"), header.index("metric")
        metric = draw(st.one_of(st.sampled_from(NEEDED), st.sampled_from(METRICS)))
        chosen = [r for r in rows if len(r) > max(i_value, i_metric) and r[i_metric] == metric]
        if chosen:
            r = draw(st.sampled_from(chosen))
            pct = metric.startswith("pct_")
            r[i_value] = draw(
                st.sampled_from(["0", "0.0", "100", "50.5"] if pct else ["0", "1", "0.5", "1e-300"])
                | st.floats(0, 100 if pct else 5000).map(repr)
            )
    elif op == "note" and "note" in header and "metric" in header and rows:
        i_note, i_metric = header.index("note"), header.index("metric")
        metric = draw(st.one_of(st.sampled_from(NEEDED), st.sampled_from(METRICS)))
        note = draw(st.sampled_from(NOTES))
        for r in rows:
            if len(r) > max(i_note, i_metric) and r[i_metric] == metric and draw(st.booleans()):
                r[i_note] = note
    elif op == "keep_years" and "year" in header:
        i_year = header.index("year")
        cut = draw(st.integers(2010, 2026))
        before = draw(st.booleans())
        rows[:] = [
            r
            for r in rows
            if i_year >= len(r)
            or not r[i_year].isdigit()
            or (int(r[i_year]) <= cut if before else int(r[i_year]) >= cut)
        ]
    elif op == "shift_years" and "year" in header:
        i_year = header.index("year")
        shift = draw(st.sampled_from([-30, -1, 1, 80]))
        for r in rows:
            if i_year < len(r) and r[i_year].isdigit():
                r[i_year] = str(int(r[i_year]) + shift)


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")


@st.composite
def data_file(draw: st.DrawFn) -> bytes:
    """The extract (one or both LAs), mutated in its table and then perhaps its bytes."""
    las = draw(st.sampled_from([(RUTLAND,), (RUTLAND, CUMBERLAND), (RUTLAND,), (CUMBERLAND,)]))
    header = list(HEADER)
    rows = [list(r) for r in ROWS if r[0] in las]
    for _ in range(draw(st.integers(0, 4))):
        _mutate_table(draw, header, rows)
    return draw(byte_mutations(_csv_bytes(header, rows), calm=20))


LA_QUERIES = ["Rutland", "E06000017", "857", "rutland", "Cumberland", "E06000063", "E06999999"]
LA_QUERIES += ["Rutland", "E06000017", "Rutland"]  # the LA of every extract, more often


@fuzz_settings(DATA_RUN_EXAMPLES)
@given(
    raw=data_file(),
    la=st.sampled_from(LA_QUERIES),
    start=st.sampled_from([None] * 6 + [2025, 2024, 2023, 2021, 2019, 2016, 2015, 2026]),
)
def test_fuzzed_data_file_runs_or_fails_cleanly(raw: bytes, la: str, start: int | None) -> None:
    run_data(raw, la, start)


def run_data(raw: bytes, la: str, start: int | None = None) -> Result:
    with sandbox() as root:
        data = root / "data.csv"
        data.write_bytes(raw)
        out = root / "runs" / "out"
        before = listing(root)
        args = [*run_args(), "--data", str(data), "--la", la, "--out", str(out)]
        if start is not None:
            args += ["--start-year", str(start)]
        result = invoke(args)
        assert_clean(result, out, before, root)
        return result


@fuzz_settings(LAS_EXAMPLES)
@given(raw=data_file())
def test_fuzzed_data_file_lists_or_fails_cleanly(raw: bytes) -> None:
    with sandbox() as root:
        data = root / "data.csv"
        data.write_bytes(raw)
        before = listing(root)
        result = invoke(["las", "--data", str(data)])
        assert_clean(result, None, before, root)
        if result.exit_code == 0:
            lines = result.output.splitlines()
            assert lines, result.output
            for line in lines:
                code, _, name = line.partition("  ")
                assert code.strip() and name.strip(), line


# --------------------------------------------------------------------------- the fuzzers' checks


def test_toml_writer_round_trips_the_bundled_scenarios() -> None:
    for text in SCENARIOS.values():
        data = tomllib.loads(text)
        assert tomllib.loads(toml_text(data)) == data


def test_unmutated_extract_runs_for_both_las() -> None:
    raw = _csv_bytes(HEADER, [list(r) for r in ROWS])
    for la in ("Rutland", "Cumberland"):
        result = run_data(raw, la)
        assert result.exit_code == 0, result.output


def test_the_checks_catch_a_bug_and_a_folder_left_behind() -> None:
    """assert_clean fails on exit 1 (a bug), and on a clean message with a folder left."""
    with sandbox() as root, pytest.MonkeyPatch.context() as mp:
        out = root / "runs" / "out"
        before = listing(root)

        def crash(*args: object) -> None:
            out.mkdir()
            raise RuntimeError("boom")

        mp.setattr(Dataset, "la", crash)
        result = invoke([*run_args(), "--la", "Rutland", "--out", str(out)])
        assert result.exit_code == 1 and "bug in sendsim" in result.output
        with pytest.raises(AssertionError):
            assert_clean(result, out, before, root)

        def bad(*args: object) -> None:
            out.mkdir(exist_ok=True)
            raise ParameterError("a one-line message")

        mp.setattr(Dataset, "la", bad)
        result = invoke([*run_args(), "--la", "Rutland", "--out", str(out)])
        assert result.exit_code == EXIT_BAD_INPUT
        with pytest.raises(AssertionError):
            assert_clean(result, out, before, root)
        out.rmdir()
        assert_clean(result, out, before, root)


def test_a_bad_value_fails_cleanly_through_the_fuzz_checks() -> None:
    result, _, out = run_scenario(b"[assessment]\nep_fte = nan\n")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "assessment.ep_fte" in result.output and not out.exists()


# --------------------------------------------------------------------------- regressions
# Bugs the fuzzers found, each as a plain test.


@pytest.mark.parametrize(
    ("text", "years", "key"),
    [
        # Was exit 1 (ValueError: cannot convert float NaN to integer) after the
        # replications, leaving a partial run folder.
        ("[run]\nstart_year = 2000\n", 2, "run.start_year"),
        # Was exit 1 (IndexError in the outputs), leaving a partial run folder.
        ("[run]\nyears = 2\n", None, "run.years"),
        ("[multiply.run]\nyears = 2\n", None, "run.years"),
        # Was exit 0 with the scenario simulating other years than the baseline, so that
        # compare paired January 2026 with January 2025.
        ("[run]\nstart_year = 2024\n", 2, "run.start_year"),
        ("[add.run]\nstart_year = -1\n", 1, "run.start_year"),
    ],
)
def test_a_scenario_cannot_change_the_runs_census_or_years(
    text: str, years: int | None, key: str
) -> None:
    result, _, out = run_scenario(text.encode("utf-8"), years)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    message = result.output.strip()
    assert f"'{key}'" in message and "line " in message, message
    assert ("--years" if key == "run.years" else "--start-year") in message
    assert not out.exists()


def test_a_scenario_may_repeat_the_runs_census_and_years() -> None:
    """As `sendsim params` prints them, say: the same values are no change of timeline."""
    text = "[run]\nstart_year = 2025\nyears = 1\n\n[add.assessment]\nep_fte = 1\n"
    result, _, _ = run_scenario(text.encode("utf-8"), 1)
    assert result.exit_code == 0, result.output


def test_an_la_code_spelt_in_two_cases_is_a_data_error() -> None:
    """Was two LAs, Rutland twice in `sendsim las`, and `--la E06000017` finding the rows of
    one spelling only (here 2025's census alone: "lacks series the estimates need")."""
    rows = [list(r) for r in ROWS if r[0] == RUTLAND]
    line = 0
    for i, r in enumerate(rows):
        if r[HEADER.index("year")] == "2025":
            r[0] = RUTLAND.lower()
            line = line or i + 2  # the header is line 1
    raw = _csv_bytes(HEADER, rows)
    result = run_data(raw, "E06000017")
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert f":{line}: la_code 'e06000017' is spelt 'E06000017' on line 2" in result.output
    with sandbox() as root:
        data = root / "data.csv"
        data.write_bytes(raw)
        result = invoke(["las", "--data", str(data)])
    assert result.exit_code == EXIT_BAD_INPUT and "one spelling per la_code" in result.output


def test_a_run_without_plans_issued_prints_no_numpy_warnings() -> None:
    """No coordinators, so no plans issued in two years: the run succeeds, but must not
    print Python warnings around its output."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, _, _ = run_scenario(b"[plan]\ncoordinators = 0\n", years=2)
    assert result.exit_code == 0, result.output
    leaked = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught]
    assert not [w for w in leaked if "RuntimeWarning" in w or "slice" in w], leaked
