"""sendsim from Python: the same experiments as the command line, for a notebook or a script.

    from experiments.api import run, calibrate, size, backtest, compare

    result = run(la="Stockport", years=2, replications=20, seed=1)
    result.summary()          # a pandas DataFrame if pandas is installed, else a Table
    result.values("ehcp_total_jan")   # (years, replications x years array) of the baseline

Every function takes the command's options as keyword arguments, with the same defaults,
and returns a typed result; with ``out`` it also writes the same folder the command does
(under the same rules: only folders sendsim made are replaced, and only with
``overwrite=True``). ``run`` without ``out`` simulates in a temporary folder that is removed
afterwards. Errors are the command's: ``ParameterError``, ``DataError``, ``OutputError``...
each with a one-line message. The ``sendsim`` command line is a thin layer over this module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from calibration.backtest import (
    BacktestError,
    ScoreRow,
    Settings,
    SummaryRow,
    check_horizon,
    check_origin,
    eligible_las,
    rows_from_json,
    rows_to_json,
    run_backtest,
    summarise,
    write_scores,
    write_summary,
)
from calibration.calibrate import Calibration, HistoryRow, check_history, direct_uncertainty
from calibration.calibrate import calibrate as calibrate_la
from calibration.defaults import estimate_parameters
from calibration.la_data import Dataset, LAHistory, load_dataset
from simulation.parameters import ParameterError, Parameters, apply_scenario
from simulation.results import HEADLINE_METRICS, Results
from simulation.uncertainty import ParameterUncertainty

from . import outputs
from .calibration_out import load_calibrated, write_calibration
from .compare import check_against, read_results, write_comparison
from .compare import compare as paired_differences
from .experiment import RunOutcome, finalise, new_spec, run_experiment
from .output_folder import Interrupted, OutputFolder, check_destination
from .report import write_report
from .runner import default_jobs, make_executor, replication_seeds, worker_initializer
from .scenarios import resolve_scenario, scenario_runs, waterfall_steps
from .sizing import (
    JointSizing,
    Sizing,
    SizingError,
    Target,
    binding,
    size_joint,
    write_joint_sizing,
    write_sizing,
)
from .sizing import size as size_resource
from .store import RunStore, StoreError, atomic_open, read_json

DEFAULT_LA = "Stockport"
DEFAULT_SEED = 20250101
SUMMARY_COLUMNS = (
    *("scenario", "year", "metric", "mean", "p5", "p25", "p50", "p75", "p95"),
    "mean_ci95",
)


def sendsim_version() -> str:
    try:
        return version("sendsim")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """Rows with named columns: what ``summary()`` returns when pandas is not installed."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def _frame(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> Any:
    """A pandas DataFrame if pandas is installed, else a Table."""
    try:
        import pandas as pd
    except ImportError:
        return Table(tuple(columns), rows)
    return pd.DataFrame(rows, columns=list(columns))


# --------------------------------------------------------------------------- run


@dataclass
class RunResult:
    """A finished run: every replication's results by scenario, and where it was written."""

    la_code: str
    la_name: str
    results: dict[str, list[Results]]
    manifest: dict[str, Any]
    folder: Path | None = None
    outcome: RunOutcome | None = field(default=None, repr=False)

    @property
    def scenarios(self) -> list[str]:
        return list(self.results)

    @property
    def replications(self) -> int:
        return len(next(iter(self.results.values()), []))

    def summary(self) -> Any:
        """summary.csv's rows: scenario, year, metric, mean, percentiles and the mean's 95%
        confidence half-width (a DataFrame with pandas, else a Table)."""
        return _frame(SUMMARY_COLUMNS, outputs.summarise(self.results))

    def values(self, metric: str, scenario: str | None = None) -> tuple[list[int], np.ndarray]:
        """A metric's years and its values, one row per replication."""
        return outputs.stack(self.results[scenario or self.scenarios[0]], metric)


def run(
    la: str = DEFAULT_LA,
    *,
    data: str | Path | None = None,
    scenarios: Sequence[str | Path] = (),
    start_year: int | None = None,
    years: int | None = None,
    replications: int = 50,
    precision: float | None = None,
    seed: int = DEFAULT_SEED,
    jobs: int | None = None,
    scheduler: str | None = None,
    dask_workers: int | None = None,
    batch_size: int | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    waterfall: bool = False,
    event_log: bool = False,
    calibrated: str | Path | None = None,
    parameter_uncertainty: bool = True,
    la_given: bool = True,
    save_default: bool = False,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
    command: Sequence[str] | None = None,
) -> RunResult:
    """Project an LA forward for the baseline and each scenario (a file or a bundled
    scenario's name), with Monte Carlo uncertainty. Without `out` the run is simulated in a
    temporary folder, or with `save_default` written to runs/<la>-<timestamp> as the
    command does. `la_given=False` says the LA is only the default (with `calibrated`, the
    calibration's own LA is then used). Long because its keyword arguments are the
    command's options, one to a line."""
    # What the call asked for, recorded in the manifest (the callbacks are not arguments).
    arguments: dict[str, Any] = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in locals().items()
        if k not in ("progress", "total", "command", "la_given", "save_default")
    }
    arguments["scenarios"] = [str(v) for v in scenarios]
    started = time.perf_counter()
    target = None if out is None else Path(out)
    if target is not None:  # before the estimates, so a bad folder fails at once
        check_destination(target, overwrite, resumable=True)
    ds, history, base, uncertainty, notes = _starting_point(
        la if la_given or calibrated is None else None, data, start_year, years, calibrated
    )
    drawn = uncertainty if parameter_uncertainty else None
    if event_log:
        base = base.override({"run": {"event_log": True}})
    runs = scenario_runs(base, tuple(str(s) for s in scenarios), years)
    steps: dict[str, list[list[str]]] = {}
    if waterfall:
        runs, steps = waterfall_steps(runs)
    spec = new_spec(
        la_code=history.la_code,
        la_name=history.la_name,
        data_path=ds.path,
        root_seed=seed,
        replications=replications,
        precision=precision,
        scenarios=runs,
        estimates=notes,
        uncertainty=drawn,
        command=list(command) if command is not None else ["python", "experiments.api.run"],
        arguments=arguments,
        version=sendsim_version(),
    )
    spec["waterfall"] = steps
    if drawn is not None:  # a bad draw fails here, before the run folder exists
        trial = replication_seeds(seed, min(replications, 20))
        for params, _, _ in runs.values():
            for child in trial:
                drawn.draw_and_apply(params, child)
    estimated = time.perf_counter()
    if target is None and save_default:
        target = default_out(history.la_name)
        check_destination(target, overwrite, resumable=True)
    with _run_folder(target, history) as (where, kept):
        # The executor before the folder: a missing Dask extra leaves nothing behind.
        executor = make_executor(jobs or default_jobs(), scheduler, dask_workers)
        try:
            with OutputFolder(where, "run", overwrite=overwrite, resumable=True) as folder:
                store = RunStore.create(folder.working, spec)
                outcome, manifest = _simulate(
                    store,
                    folder,
                    executor,
                    history,
                    (batch_size, progress, total),
                    kept,
                    estimated - started,
                )
        finally:
            executor.close()
    return _result(history, outcome, manifest, where if kept else None)


def resume(
    out: str | Path,
    *,
    data: str | Path | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    dask_workers: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> RunResult:
    """Continue an interrupted run in `out` with its own saved settings and parameters."""
    started = time.perf_counter()
    target = Path(out)
    with OutputFolder(target, "run", resume=True) as folder:
        store = RunStore.open(folder.working)
        ds = load_dataset(Path(store.spec["data"]["path"]) if data is None else Path(data))
        history = ds.la(store.spec["la"]["code"])
        executor = make_executor(jobs or default_jobs(), scheduler, dask_workers)
        try:
            outcome, manifest = _simulate(
                store,
                folder,
                executor,
                history,
                (batch_size, progress, total),
                True,
                time.perf_counter() - started,
            )
        finally:
            executor.close()
    return _result(history, outcome, manifest, target)


@contextmanager
def _run_folder(target: Path | None, history: LAHistory) -> Iterator[tuple[Path, bool]]:
    """Where a run is written, and whether it is kept: `target`, or a temporary folder
    removed afterwards."""
    if target is not None:
        yield target, True
        return
    with tempfile.TemporaryDirectory(prefix="sendsim-") as tmp:
        yield Path(tmp) / slug(history.la_name), False


def default_out(la_name: str) -> Path:
    """The command line's default run folder: runs/<la>-<timestamp>."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{slug(la_name)}-{stamp}"


Progress = tuple[int | None, Callable[[int], None] | None, Callable[[int], None] | None]


def _simulate(
    store: RunStore,
    folder: OutputFolder,
    executor: Any,
    history: LAHistory,
    progress: Progress,
    resumable: bool,
    estimating: float,
) -> tuple[RunOutcome, dict[str, Any]]:
    """Run (or continue) the replications of a run folder and write its outputs (with the
    event log if its scenarios keep one); returns the outcome and the manifest
    (`progress`: the batch size and the progress callbacks). An interruption, or a failure
    once replications are saved, keeps the finished ones (each file whole, and no
    manifest, so the folder reads as unfinished) for --resume, and says so."""
    resume_hint = f"continue with: sendsim run --resume --out {folder.target}"
    try:
        outcome = run_experiment(store, executor, *progress)
        executor.close()
        finalise(
            store,
            outcome,
            {m: _history(history, m) for m in HEADLINE_METRICS},
            history.la_name,
            {"estimate_parameters": estimating},
        )
        if any(sc["parameters"]["run"]["event_log"] for sc in store.spec["scenarios"].values()):
            _write_event_log(store.path, outcome)
        return outcome, read_json(store.path / "manifest.json")
    except KeyboardInterrupt:
        executor.close()
        done = len(store.finished())
        if not resumable:
            raise
        raise Interrupted(
            f"interrupted: {done} finished replications are saved; {resume_hint}"
        ) from None
    except Exception as e:
        done = len(store.finished())
        if done and resumable and not folder.resume:  # resuming, the user knows how
            folder.keep()
            e.add_note(
                f"{done} finished replications are kept; once the cause is put right, {resume_hint}"
            )
        raise


def _result(
    history: LAHistory, outcome: RunOutcome, manifest: dict[str, Any], folder: Path | None
) -> RunResult:
    names = list(manifest["scenarios"])
    n = outcome.replications
    by_scenario = {s: [outcome.results[(s, i)] for i in range(n)] for s in names}
    return RunResult(history.la_code, history.la_name, by_scenario, manifest, folder, outcome)


def _starting_point(
    la: str | None,
    data: str | Path | None,
    start_year: int | None,
    years: int | None,
    calibrated: str | Path | None,
) -> tuple[Dataset, LAHistory, Parameters, ParameterUncertainty, list[dict[str, Any]]]:
    """The data, the LA's history, its parameters, their uncertainty and the estimates'
    notes: from a calibration folder, or estimated directly (`la` None: the calibration's
    own LA)."""
    if calibrated is not None:
        ds, base, uncertainty, notes = _from_calibration(Path(calibrated), data, start_year, la)
        if years is not None:
            base = base.override({"run": {"years": years}})
        return ds, ds.la(base.la_code), base, uncertainty, notes
    ds = load_dataset(None if data is None else Path(data))
    history = ds.la(la or DEFAULT_LA)
    base, estimates = estimate_parameters(ds, la or DEFAULT_LA, start_year, years or 5)
    notes = [{"key": n.key, "value": n.value, "source": n.source} for n in estimates]
    return ds, history, base, direct_uncertainty(ds, history.la_code, base), notes


def _from_calibration(
    folder: Path, data: str | Path | None, start_year: int | None, la: str | None
) -> tuple[Dataset, Parameters, ParameterUncertainty, list[dict[str, Any]]]:
    """The dataset, parameters, uncertainty and estimate notes of a calibration folder."""
    if start_year is not None:
        raise ParameterError(
            "--start-year cannot be used with --calibrated: the calibration fixes the start "
            "census (calibrate again with --until)"
        )
    base, uncertainty, manifest = load_calibrated(folder)
    if data is None:
        recorded = Path(manifest.get("data", {}).get("path", ""))
        data = recorded if recorded.is_file() else None
    ds = load_dataset(None if data is None else Path(data))
    if la is not None:
        asked = ds.la(la).la_code
        if asked != base.la_code:
            raise ParameterError(
                f"--la {la} but {folder} calibrates {base.la_name} ({base.la_code}); "
                "leave out --la with --calibrated"
            )
    return ds, base, uncertainty, list(manifest.get("estimates", []))


def _history(h: LAHistory, metric: str) -> dict[int, float]:
    return {y: v for y, v in h.series(metric).items() if y >= 2015}


def _write_event_log(out: Path, outcome: RunOutcome) -> None:
    with atomic_open(out / "event_log.csv") as f:
        f.write("scenario,replication,entity_id,event,time\n")
        for (name, rep), res in sorted(outcome.results.items()):
            for entity, event, t in res.event_log:
                f.write(f"{name},{rep},{entity},{event},{outputs.fmt(t)}\n")


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class CompareResult:
    """Paired differences of each scenario from `against`, and where they were written."""

    against: str
    rows: list[tuple[Any, ...]]
    folder: Path | None

    def summary(self) -> Any:
        from .compare import COMPARE_HEADER

        return _frame(COMPARE_HEADER, self.rows)


def compare(
    run_dir: str | Path,
    *,
    against: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    write: bool = True,
) -> CompareResult:
    """Paired differences between each scenario of a finished run and `against` (default
    the run's first scenario, its baseline): written to `out` (default
    RUN_DIR/compare-<against>) unless `write` is False."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"{run_dir} is not a folder")
    table = read_results(run_dir)
    base = check_against(table, against)
    rows = paired_differences(table, base)
    if not write:
        return CompareResult(base, rows, None)
    manifest = run_dir / "manifest.json"
    la_name = read_json(manifest).get("la", {}).get("name", "") if manifest.exists() else ""
    target = Path(out) if out is not None else run_dir / f"compare-{base}"
    check_destination(target, overwrite)
    with OutputFolder(target, "comparison", overwrite=overwrite) as folder:
        write_comparison(run_dir, table, base, folder.working, la_name)
    return CompareResult(base, rows, target)


def report(run_dir: str | Path, *, out: str | Path | None = None, overwrite: bool = False) -> Path:
    """The board report of a finished run as one HTML file (default RUN_DIR/report.html)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"{run_dir} is not a folder")
    return write_report(run_dir, Path(out) if out else run_dir / "report.html", overwrite)


# --------------------------------------------------------------------------- size


@dataclass(frozen=True)
class SizeResult:
    """A sizing: of one resource (`sizing`, and where no level meets the target, the other
    resources that lift it: `binding`), or of two together (`joint`)."""

    la_name: str
    sizing: Sizing | None
    joint: JointSizing | None
    binding: list[tuple[str, float, float]]
    folder: Path | None


def size(
    la: str = DEFAULT_LA,
    *,
    resource: str | Sequence[str],
    target: str,
    year: int,
    data: str | Path | None = None,
    scenario: str | Path | None = None,
    confidence: float = 0.9,
    replications: int = 40,
    seed: int = DEFAULT_SEED,
    start_year: int | None = None,
    years: int | None = None,
    max_level: float | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    save_default: bool = False,
) -> SizeResult:
    """The smallest level of `resource` meeting `target` (e.g. "new_ehcps>=100") in `year`
    with the stated confidence, or with two resources the cheapest combination; written
    to `out`, or with `save_default` to runs/<la>-size-<resource> as the command does."""
    names = [resource] if isinstance(resource, str) else list(resource)
    if not 1 <= len(names) <= 2:
        raise SizingError(f"size one resource or two together, not {len(names)}")
    goal = Target.parse(target)
    ds = load_dataset(None if data is None else Path(data))
    history = ds.la(la)
    if out is None and save_default:
        out = Path("runs") / f"{slug(history.la_name)}-size-{'-'.join(names)}"
    start = start_year or history.latest_census_year()
    span = years or max(1, year - start + 1)
    if out is not None:
        check_destination(Path(out), overwrite)
    base, _ = estimate_parameters(ds, la, start, span)
    if scenario:
        base = apply_scenario(base, resolve_scenario(str(scenario)))
    single = joint = None
    binds: list[tuple[str, float, float]] = []
    if len(names) == 2:
        joint = size_joint(
            base, (names[0], names[1]), goal, year, confidence, replications, seed, max_level
        )
    else:
        single = size_resource(
            base, names[0], goal, year, confidence, replications, seed, max_level
        )
        if single.answer is None:
            binds = binding(base, names[0], goal, year, replications, seed, max_level)
    if out is not None:
        with OutputFolder(Path(out), "sizing", overwrite=overwrite) as folder:
            if joint is not None:
                write_joint_sizing(folder.working, joint, history.la_name)
            elif single is not None:
                write_sizing(folder.working, single, history.la_name)
    return SizeResult(history.la_name, single, joint, binds, None if out is None else Path(out))


# --------------------------------------------------------------------------- calibrate


@dataclass(frozen=True)
class CalibrateResult:
    calibration: Calibration
    history_rows: list[HistoryRow]
    folder: Path | None

    @property
    def parameters(self) -> Parameters:
        return self.calibration.params

    def summary(self) -> Any:
        """The fit window's published values against the simulated bands."""
        columns = tuple(f.name for f in dataclasses.fields(HistoryRow))
        return _frame(columns, [dataclasses.astuple(r) for r in self.history_rows])


def calibrate(
    la: str = DEFAULT_LA,
    *,
    data: str | Path | None = None,
    until: int | None = None,
    years: int = 5,
    fit: bool = True,
    fit_replications: int = 4,
    max_evaluations: int = 40,
    history_replications: int = 40,
    seed: int = DEFAULT_SEED,
    out: str | Path | None = None,
    overwrite: bool = False,
    command: Sequence[str] | None = None,
) -> CalibrateResult:
    """Calibrate an LA on its published history (estimates with their uncertainty, team
    capacity fitted by simulation) and check the simulated history against it; the folder
    `out` (if given) is what `run(calibrated=...)` reads."""
    target = None if out is None else Path(out)
    if target is not None:
        check_destination(target, overwrite)
    ds = load_dataset(None if data is None else Path(data))
    h = ds.la(la)

    def compute() -> tuple[Calibration, list[HistoryRow], list[Results]]:
        cal = calibrate_la(
            ds,
            h.la_code,
            until,
            years,
            fit=fit,
            fit_replications=fit_replications,
            seed=seed,
            max_evaluations=max_evaluations,
        )
        rows, runs = check_history(cal, history_replications, seed)
        return cal, list(rows), list(runs)

    if target is None:
        cal, rows, _ = compute()
        return CalibrateResult(cal, rows, None)
    with OutputFolder(target, "calibration", overwrite=overwrite) as folder:
        cal, rows, runs = compute()
        write_calibration(
            cal,
            rows,
            runs,
            folder.working,
            ds.path,
            sendsim_version(),
            list(command) if command is not None else ["python", "experiments.api.calibrate"],
        )
    return CalibrateResult(cal, rows, target)


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class BacktestResult:
    rows: list[ScoreRow]
    summary_rows: list[SummaryRow]
    skipped: dict[str, str]
    folder: Path | None
    seconds: float

    def summary(self) -> Any:
        """backtest_summary.csv's rows: errors of the model and the naive forecasts, and
        the bands' coverage, per metric and horizon."""
        columns = tuple(f.name for f in dataclasses.fields(SummaryRow))
        return _frame(columns, [dataclasses.astuple(r) for r in self.summary_rows])


class _BacktestFolder:
    """A back-test's working folder: its settings (backtest.json) and each LA's outcome
    saved as it finishes (las/<code>.json), so an interrupted run continues with --resume."""

    def __init__(
        self, folder: Path, settings: Settings, codes: list[str], data: Path | None, resume: bool
    ):
        self.las = folder / "las"
        spec = {
            "settings": dataclasses.asdict(settings),
            "las": codes,
            "data": None if data is None else str(data),
        }
        spec_path = folder / "backtest.json"
        self.done: dict[str, list[ScoreRow] | str] = {}
        if resume:
            if not spec_path.is_file():
                raise BacktestError(f"--resume: {folder} holds no back-test (no backtest.json)")
            if read_json(spec_path) != spec:
                raise BacktestError(
                    f"--resume: {folder} was run with other settings, LAs or data "
                    "(see its backtest.json); leave out --resume to start again"
                )
            for path in sorted(self.las.glob("*.json")):
                try:
                    self.done[path.stem] = rows_from_json(json.loads(path.read_text("utf-8")))
                except (ValueError, KeyError, TypeError):
                    # Written whole or not at all, so only damage from outside gets here:
                    # that LA is simply back-tested again.
                    path.unlink()
        self.las.mkdir(exist_ok=True)
        with atomic_open(spec_path) as f:
            json.dump(spec, f, indent=1)

    def save(self, code: str, out: list[ScoreRow] | str) -> None:
        with atomic_open(self.las / f"{code}.json") as f:
            json.dump(rows_to_json(out), f)


def backtest(
    la: str = DEFAULT_LA,
    *,
    origin: int,
    horizon: int,
    out: str | Path,
    data: str | Path | None = None,
    replications: int = 20,
    seed: int = DEFAULT_SEED,
    all_las: bool = False,
    jobs: int | None = None,
    allow_unscored: bool = False,
    fit: bool = True,
    fit_replications: int = 4,
    max_evaluations: int = 40,
    parameter_uncertainty: bool = True,
    resume: bool = False,
    overwrite: bool = False,
    resume_command: str = "sendsim backtest ... --resume",
) -> BacktestResult:
    """Calibrate on the data as of an earlier census only, forecast from it, and score the
    forecasts (and naive ones) against what was published after it; saved LA by LA in
    `out` so that an interrupted back-test continues with `resume=True`. Long because its
    keyword arguments are the command's options, one to a line."""
    started = time.perf_counter()
    target = Path(out)
    data_path = None if data is None else Path(data)
    ds = load_dataset(data_path)
    if all_las:
        codes = eligible_las(ds, origin, horizon, require_actuals=not allow_unscored)
        if not codes:
            raise BacktestError(
                f"no LA in {ds.path} has a January {origin} census"
                + ("" if allow_unscored else f" and published values within {horizon} years")
            )
    else:
        h = ds.la(la)
        check_origin(h, origin)
        codes = [h.la_code]
    if not allow_unscored:
        check_horizon((ds.la(c) for c in codes), origin, horizon)
    settings = Settings(
        origin,
        horizon,
        replications,
        seed,
        fit,
        parameter_uncertainty,
        fit_replications,
        max_evaluations,
    )
    if not resume:
        check_destination(target, overwrite, resumable=True)
    with OutputFolder(
        target, "backtest", overwrite=overwrite, resume=resume, resumable=True
    ) as folder:
        saved = _BacktestFolder(folder.working, settings, codes, data_path, resume)
        try:
            rows, skipped = run_backtest(
                data_path,
                codes,
                settings,
                jobs or default_jobs(),
                saved.save,
                saved.done,
                worker_initializer(),
            )
        except KeyboardInterrupt:
            n = len(list(saved.las.glob("*.json")))
            raise Interrupted(
                f"interrupted: {n} of {len(codes)} LAs are saved; continue with: {resume_command}"
            ) from None
        except Exception as e:
            if any(saved.las.glob("*.json")):
                folder.keep()
                e.add_note(
                    "the LAs finished so far are kept; once the cause is put right, "
                    f"continue with: {resume_command}"
                )
            raise
        if skipped and not all_las:
            raise BacktestError(next(iter(skipped.values())))
        summary = summarise(rows)
        write_scores(folder.working / "backtest_scores.csv", rows)
        write_summary(folder.working / "backtest_summary.csv", summary)
    return BacktestResult(rows, list(summary), skipped, target, time.perf_counter() - started)


__all__ = [
    "BacktestResult",
    "CalibrateResult",
    "CompareResult",
    "RunResult",
    "SizeResult",
    "Table",
    "backtest",
    "calibrate",
    "compare",
    "report",
    "resume",
    "run",
    "size",
]
