"""The same seed gives the same bytes: the DSG management plan workbook whenever it is
written, and each saved replication whichever executor ran it."""

from __future__ import annotations

import datetime as dt
import io
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from helpers import small_la

from experiments import finance
from experiments.experiment import run_experiment
from experiments.finance import FIXED_TIME, write_dsg_plan
from experiments.runner import DaskExecutor, Executor, InProcess, LocalPool
from experiments.store import RunStore

YEARS = [2025, 2026, 2027]


def source(scenario: str, metric: str) -> tuple[list[int], np.ndarray]:
    """Spend, income and balances for two replications: any figures do."""
    rng = np.random.default_rng(abs(hash((scenario, metric))) % 2**32)
    return YEARS, rng.uniform(1e6, 5e7, size=(2, len(YEARS)))


class _Later(dt.datetime):
    """datetime whose now() is a year and a day on from the real one."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _Later:  # type: ignore[override]
        real = dt.datetime.now(tz) + dt.timedelta(days=366)
        return cls.fromtimestamp(real.timestamp(), tz)


def test_the_workbook_is_the_same_bytes_whenever_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl stamps the time of saving into the document properties and every zip
    entry; a year later the same figures must still give the same file."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_dsg_plan(first, source, ["baseline", "plan"])
    with monkeypatch.context() as mp:
        import openpyxl.writer.excel as excel

        later = time.time() + 366 * 86400
        mp.setattr(time, "time", lambda: later)  # zipfile's entry times
        clock = types.SimpleNamespace(datetime=_Later, timezone=dt.timezone)
        mp.setattr(excel, "datetime", clock)  # the properties' modified time
        write_dsg_plan(second, source, ["baseline", "plan"])
    a = (first / "dsg_management_plan.xlsx").read_bytes()
    b = (second / "dsg_management_plan.xlsx").read_bytes()
    assert a == b

    # Still a workbook, with the figures, the fixed times, and the parts in openpyxl's order.
    book = openpyxl.load_workbook(io.BytesIO(a))
    assert book.sheetnames == ["baseline", "plan", "bands"]
    assert book.properties.created == FIXED_TIME
    assert book.properties.modified == FIXED_TIME
    assert book["bands"].cell(1, 1).value == "scenario"
    entries = zipfile.ZipFile(io.BytesIO(a)).infolist()
    assert {e.date_time for e in entries} == {FIXED_TIME.timetuple()[:6]}
    assert all(e.compress_type == zipfile.ZIP_DEFLATED for e in entries)
    raw = io.BytesIO()
    openpyxl.Workbook().save(raw)
    fresh = [e.filename for e in zipfile.ZipFile(raw).infolist()]
    names = [e.filename for e in entries]
    assert [n for n in names if n in fresh] == [n for n in fresh if n in names]


def test_reproducible_zip_keeps_every_part(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("b.xml", b"<b/>")
        z.writestr("docProps/core.xml", b"<dcterms:created x='1'>2026-01-01T00:00:00Z</dcterms:")
        z.writestr("a.bin", bytes(range(256)), compress_type=zipfile.ZIP_STORED)
    fixed = zipfile.ZipFile(io.BytesIO(finance.reproducible_zip(out.getvalue())))
    assert fixed.namelist() == ["b.xml", "docProps/core.xml", "a.bin"]
    assert fixed.read("b.xml") == b"<b/>"
    assert fixed.read("a.bin") == bytes(range(256))
    assert fixed.getinfo("a.bin").compress_type == zipfile.ZIP_STORED
    assert fixed.read("docProps/core.xml") == (
        b"<dcterms:created x='1'>1980-01-01T00:00:00Z</dcterms:"
    )


def _pickles(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted((folder / "replications").rglob("*.pkl"))
    }


def test_saved_replications_are_the_same_bytes_whichever_executor_ran_them(
    tmp_path: Path,
) -> None:
    """With the event log on, a replication holds NumPy scalars beside its arrays; what a
    pickle of it shares (NumPy's dtype objects) used to differ between a replication pickled
    where it ran (in-process) and one that came back from a worker."""
    base = small_la({}, years=2).override({"run": {"event_log": True}})
    more = base.override({"assessment": {"ep_fte": base.assessment.ep_fte + 2}})
    spec = {
        "scenarios": {
            "baseline": {"parameters": base.to_dict()},
            "more_eps": {"parameters": more.to_dict()},
        },
        "replications": 3,
        "precision": None,
        "root_seed": 3,
    }
    runs: dict[str, tuple[Executor, int | None]] = {
        "in-process": (InProcess(), 1),
        "pool": (LocalPool(2), 2),
        "dask": (DaskExecutor(workers=2), 4),
    }
    files = {}
    for name, (executor, batch) in runs.items():
        folder = tmp_path / name
        folder.mkdir()
        try:
            run_experiment(RunStore.create(folder, spec), executor, batch_size=batch)
        finally:
            executor.close()
        files[name] = _pickles(folder)
    reference = files["in-process"]
    assert len(reference) == 6
    first = next(iter(reference.values()))
    assert b"numpy" in first  # it does hold NumPy objects
    for name, got in files.items():
        assert sorted(got) == sorted(reference), name
        for path, data in got.items():
            assert data == reference[path], (name, path)
