"""The `sendsim` command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import os
import re
import sys
import time
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
import numpy as np
from click.core import ParameterSource

from calibration.backtest import (
    BacktestError,
    ScoreRow,
    Settings,
    check_horizon,
    check_origin,
    eligible_las,
    format_summary,
    rows_from_json,
    rows_to_json,
    run_backtest,
    summarise,
    write_scores,
    write_summary,
)
from calibration.calibrate import calibrate, check_history, direct_uncertainty
from calibration.defaults import estimate_parameters
from calibration.la_data import DataError, Dataset, LAHistory, load_dataset
from simulation.parameters import (
    ParameterError,
    Parameters,
    apply_scenario,
    scenario_description,
    scenario_name,
)
from simulation.results import HEADLINE_METRICS
from simulation.uncertainty import ParameterUncertainty

from .calibration_out import load_calibrated, write_calibration
from .compare import CompareError, check_against, read_results, write_comparison
from .experiment import RunOutcome, finalise, new_spec, run_experiment
from .output_folder import (
    Interrupted,
    OutputError,
    OutputFolder,
    check_destination,
)
from .report import ReportError, write_report
from .runner import (
    Executor,
    ExperimentError,
    default_jobs,
    make_executor,
    replication_seeds,
    worker_initializer,
)
from .sizing import RESOURCES, SizingError, Target, size, write_sizing
from .store import RunStore, StoreError, atomic_open, read_json
from .toml_out import dumps as toml_dumps

DEFAULT_LA = "Stockport"
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
# Errors in what the user asked for or gave us: one line, exit 2 (as click's usage errors).
USER_ERRORS = (
    DataError,
    ParameterError,
    StoreError,
    ExperimentError,
    CompareError,
    SizingError,
    ReportError,
    BacktestError,
    OutputError,
)
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_IO = 3
EXIT_INTERRUPTED = 130
DEBUG = "sendsim.debug"


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class IOFailure(click.ClickException):
    exit_code = EXIT_IO


_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or choose another --out",
    errno.EDQUOT: "disk quota exceeded; free some space or choose another --out",
    errno.EROFS: "the file system is read-only; choose a folder you can write to",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENAMETOOLONG: "the name is too long",
}


def describe_os_error(e: OSError) -> str:
    """One line for a failed read or write: where, and what to do."""
    where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    what = _OS_ADVICE.get(e.errno or 0) or e.strerror or type(e).__name__
    return f"{where}: {what}" if where else f"{what} ({e})"


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


class SendsimGroup(click.Group):
    """The error boundary: every command's known failures become one line and an exit code
    (2 bad input, 3 reading or writing files, 130 interrupted); anything else is a bug in
    sendsim, reported as such (its traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Interrupted:
            ctx.exit(EXIT_INTERRUPTED)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except USER_ERRORS as e:
            raise BadInput(_one_line(str(e))) from None
        except OSError as e:
            raise IOFailure(describe_os_error(e)) from None
        except Exception as e:
            if ctx.meta.get(DEBUG) or os.environ.get("SENDSIM_DEBUG"):
                raise
            click.echo(
                f"Error: internal error ({type(e).__name__}: {_one_line(str(e))[:300]}). This "
                "is a bug in sendsim: please report it with the command you ran; "
                "`sendsim --debug ...` shows the traceback.",
                err=True,
            )
            ctx.exit(EXIT_BUG)


FIT_OPTION = click.option(
    "--fit/--no-fit",
    default=True,
    show_default=True,
    help="Fit the EP and coordinator teams' capacity by simulating the LA's recent history "
    "(--no-fit: size them directly from last year's volumes; faster).",
)
FIT_REPLICATIONS_OPTION = click.option(
    "--fit-replications",
    type=click.IntRange(1, 1000),
    default=4,
    show_default=True,
    help="Replications (common random numbers) per evaluation of the capacity fit.",
)
MAX_EVALUATIONS_OPTION = click.option(
    "--max-evaluations",
    type=click.IntRange(5, 10_000),
    default=40,
    show_default=True,
    help="Simplex evaluations the capacity fit may use.",
)
UNCERTAINTY_OPTION = click.option(
    "--parameter-uncertainty/--no-parameter-uncertainty",
    default=True,
    show_default=True,
    help="Each replication draws its parameters from the calibration's estimated "
    "uncertainty, so the bands show what we do not know as well as chance.",
)


def _version() -> str:
    try:
        return version("sendsim")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@click.group(cls=SendsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="sendsim")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the Python traceback of an unexpected error (for a bug report).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """sendsim: simulate a local authority's SEND system (EHC needs assessments, plans,
    placements, reviews) and project it forward with honest uncertainty.

    Exit codes: 0 done; 1 a bug in sendsim (please report it); 2 bad input (an option,
    scenario, data file or folder that cannot be used as asked); 3 a file could not be read
    or written (permissions, a full or read-only disk, a damaged run file); 130 interrupted
    (a run or back-test continues with --resume)."""
    ctx.meta[DEBUG] = debug


def library() -> dict[str, Path]:
    """The bundled scenarios: name -> file."""
    folder = resources.files("experiments.scenarios")
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".toml")}


def resolve_scenario(value: str) -> Path:
    """A scenario file, or the name of one in the bundled library."""
    path = Path(value)
    if path.is_file():
        return path
    lib = library()
    if value in lib:
        return lib[value]
    raise ParameterError(
        f"scenario '{value}' is neither a file nor a bundled scenario "
        f"(bundled: {', '.join(sorted(lib))})"
    )


def _waterfall_steps(
    runs: dict[str, tuple[Parameters, str | None, str]],
) -> tuple[dict[str, tuple[Parameters, str | None, str]], dict[str, list[list[str]]]]:
    """Scenarios with levers, preceded by their cumulative steps (the first lever, the
    first two, ...), and for each plan its steps as (scenario, lever name)."""
    out: dict[str, tuple[Parameters, str | None, str]] = {}
    steps: dict[str, list[list[str]]] = {}
    for name, (params, source, description) in runs.items():
        levers = params.levers
        if levers:
            steps[name] = []
            for k in range(1, len(levers)):
                step = f"{name}.{k}"
                if step in runs:
                    raise ParameterError(
                        f"{runs[step][1]}: scenario name '{step}' is the name --waterfall gives "
                        f"the first {k} levers of '{name}'; rename the scenario"
                    )
                out[step] = (
                    params.replace(levers=levers[:k]),
                    source,
                    f"{name}: the first {k} of its {len(levers)} levers",
                )
                steps[name].append([step, levers[k - 1].name or levers[k - 1].type])
            steps[name].append([name, levers[-1].name or levers[-1].type])
        out[name] = (params, source, description)
    return out, steps


def _scenarios(
    base: Parameters, names: tuple[str, ...], years: int | None
) -> dict[str, tuple[Parameters, str | None, str]]:
    """Baseline first, then each scenario named, applied over the LA's defaults."""
    runs: dict[str, tuple[Parameters, str | None, str]] = {}
    lib_baseline = library().get("baseline")
    if lib_baseline is not None:
        runs["baseline"] = (base, str(lib_baseline), scenario_description(lib_baseline))
    else:  # pragma: no cover - the library always has it
        runs["baseline"] = (base, None, "")
    for value in names:
        path = resolve_scenario(value)
        name = scenario_name(path)
        if not SCENARIO_NAME.fullmatch(name):
            raise ParameterError(
                f"{path}: scenario name {name!r} must be letters, digits, '_', '-' or '.', "
                "not starting with '.' (it names files in the output folder)"
            )
        if name == "baseline" and path == lib_baseline:
            continue
        if name in runs and not (name == "baseline" and value == "baseline"):
            raise ParameterError(f"{path}: scenario name '{name}' is used twice")
        p = apply_scenario(base, path)
        if years is not None:
            p = p.override({"run": {"years": years}})
        runs[name] = (p, str(path), scenario_description(path))
    return runs


class _Bar:
    """A tqdm progress bar on stderr, silent with --quiet or when stderr is not a terminal."""

    def __init__(self, quiet: bool):
        self.bar: Any = None
        self.enabled = not quiet and sys.stderr.isatty()

    def total(self, n: int) -> None:
        if not self.enabled or n == 0:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=n, unit="rep", file=sys.stderr, desc="replications")
        else:
            self.bar.total += n
            self.bar.refresh()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@main.command()
@click.option(
    "--la",
    default=DEFAULT_LA,
    show_default=True,
    help="Local authority: name, GSS code (E08000007) or DfE number (356).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your own data in the bundled tidy schema (default: bundled SEN2 data).",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="FILE|NAME",
    help="Scenario TOML (or a bundled scenario's name, see `sendsim scenarios`) "
    "run beside the baseline with the same random numbers; repeatable.",
)
@click.option(
    "--start-year", type=int, help="January census to start from (default: the latest in the data)."
)
@click.option(
    "--years", type=click.IntRange(1, 50), help="Calendar years to simulate [default: 5]."
)
@click.option(
    "--replications",
    type=click.IntRange(1, 1_000_000),
    default=50,
    show_default=True,
    help="Replications per scenario (the cap with --precision).",
)
@click.option(
    "--precision",
    type=click.FloatRange(0, 1, min_open=True),
    help="Run replications in rounds until every headline mean's 95% confidence "
    "half-width is within this fraction of it (e.g. 0.02), up to --replications.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=20250101,
    show_default=True,
    help="Root seed; replication i of every scenario gets the same stream.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Local worker processes [default: cores, at most 8].",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run on an existing Dask cluster (needs sendsim[distributed]).",
)
@click.option(
    "--dask-workers",
    type=click.IntRange(1, 1024),
    help="Start a Dask LocalCluster of this many workers for the run.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    help="Replications per task sent to a worker [default: automatic].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: runs/<la>-<timestamp>].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted run in --out (its "
    "own settings and parameters; finished replications are kept).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--waterfall",
    is_flag=True,
    help="Also run each scenario's levers added one at a time, for the savings waterfall.",
)
@click.option(
    "--event-log",
    is_flag=True,
    help="Keep every replication's event log and write event_log.csv (slow, large).",
)
@click.option(
    "--calibrated",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Start from a calibration folder written by `sendsim calibrate` (its LA, start "
    "census, parameters and uncertainty) instead of direct estimates.",
)
@UNCERTAINTY_OPTION
def run(
    la: str,
    data: Path | None,
    scenarios: tuple[str, ...],
    start_year: int | None,
    years: int | None,
    replications: int,
    precision: float | None,
    seed: int,
    jobs: int | None,
    scheduler: str | None,
    dask_workers: int | None,
    batch_size: int | None,
    out: Path | None,
    overwrite: bool,
    resume: bool,
    quiet: bool,
    waterfall: bool,
    event_log: bool,
    calibrated: Path | None,
    parameter_uncertainty: bool,
) -> None:
    """Project an LA's SEND system forward from its latest census, for the baseline and
    any scenarios, with Monte Carlo uncertainty bands."""
    started = time.perf_counter()
    if resume:
        if out is None:
            raise StoreError("--resume needs --out, the folder of the run to continue")
        with OutputFolder(out, "run", resume=True) as folder:
            store = RunStore.open(folder.working)
            ds = load_dataset(Path(store.spec["data"]["path"]) if data is None else data)
            history = ds.la(store.spec["la"]["code"])
            executor = make_executor(jobs or default_jobs(), scheduler, dask_workers)
            _simulate(store, folder, executor, history, batch_size, quiet, started, started)
        return
    if out is not None:  # before the estimates, so a bad --out fails at once
        check_destination(out, overwrite, resumable=True)
    ctx = click.get_current_context()
    if calibrated is not None:
        ds, base, uncertainty, notes = _from_calibration(calibrated, data, start_year, ctx, la)
        history = ds.la(base.la_code)
        if years is not None:
            base = base.override({"run": {"years": years}})
    else:
        ds = load_dataset(data)
        history = ds.la(la)
        base, estimates = estimate_parameters(ds, la, start_year, years or 5)
        notes = [{"key": n.key, "value": n.value, "source": n.source} for n in estimates]
        uncertainty = direct_uncertainty(ds, history.la_code, base)
    drawn = uncertainty if parameter_uncertainty else None
    if event_log:
        base = base.override({"run": {"event_log": True}})
    runs = _scenarios(base, scenarios, years)
    steps: dict[str, list[list[str]]] = {}
    if waterfall:
        runs, steps = _waterfall_steps(runs)
    if out is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{_slug(history.la_name)}-{stamp}"
    check_destination(out, overwrite, resumable=True)
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
        command=[Path(sys.argv[0]).name, *sys.argv[1:]],
        arguments={k: str(v) if isinstance(v, Path) else v for k, v in ctx.params.items()},
        version=_version(),
    )
    spec["waterfall"] = steps
    if drawn is not None:  # a bad draw fails here, before the run folder exists
        trial = replication_seeds(seed, min(replications, 20))
        for params, _, _ in runs.values():
            for child in trial:
                drawn.draw_and_apply(params, child)
    estimated = time.perf_counter()
    # The executor before the folder: a missing Dask extra leaves nothing behind.
    executor = make_executor(jobs or default_jobs(), scheduler, dask_workers)
    try:
        with OutputFolder(out, "run", overwrite=overwrite, resumable=True) as folder:
            store = RunStore.create(folder.working, spec)
            _simulate(store, folder, executor, history, batch_size, quiet, started, estimated)
    finally:
        executor.close()


def _simulate(
    store: RunStore,
    folder: OutputFolder,
    executor: Executor,
    history: LAHistory,
    batch_size: int | None,
    quiet: bool,
    started: float,
    estimated: float,
) -> None:
    """Run (or continue) the replications of a run folder and write its outputs. An
    interruption, or a failure once replications are saved, keeps the finished ones (each
    file whole, and no manifest, so the folder reads as unfinished) for --resume."""
    out = folder.target
    resume_hint = f"continue with: sendsim run --resume --out {out}"
    bar = _Bar(quiet)
    try:
        outcome = run_experiment(store, executor, batch_size, bar.update, bar.total)
        executor.close()
        finalise(
            store,
            outcome,
            {m: _history(history, m) for m in HEADLINE_METRICS},
            history.la_name,
            {"estimate_parameters": estimated - started},
        )
    except KeyboardInterrupt:
        bar.close()
        executor.close()
        done = len(store.finished())
        click.echo(
            f"\ninterrupted: {done} finished replications are saved; {resume_hint}", err=True
        )
        raise Interrupted() from None
    except Exception:
        bar.close()
        done = len(store.finished())
        if done and not folder.resume:  # resuming, the user knows how to continue
            folder.keep()
            click.echo(
                f"{done} finished replications are kept; once the cause below is put right, "
                f"{resume_hint}",
                err=True,
            )
        raise
    finally:
        bar.close()
    if store.spec["scenarios"] and any(
        s["parameters"]["run"]["event_log"] for s in store.spec["scenarios"].values()
    ):
        _write_event_log(store.path, outcome)
    names = list(store.spec["scenarios"])
    click.echo(
        f"Wrote {outcome.replications} replications of {', '.join(names)} for "
        f"{history.la_name} to {out}"
    )
    if outcome.precision is not None:
        met = outcome.precision.solution
        text = (
            f"met at {met} replications"
            if met
            else f"not met within {outcome.replications} replications (the cap)"
        )
        blocked = outcome.precision.blocked_by
        if not met and blocked:
            worst = ", ".join(f"{label} ({p:.1%})" for label, p in blocked[:3])
            more = f" and {len(blocked) - 3} more" if len(blocked) > 3 else ""
            text += f"; furthest from it: {worst}{more}"
        click.echo(f"  precision {store.spec['precision']:.3g}: {text}")
    _echo_headlines(outcome, names)


def _from_calibration(
    folder: Path, data: Path | None, start_year: int | None, ctx: click.Context, la: str
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
    ds = load_dataset(data)
    if ctx.get_parameter_source("la") is not ParameterSource.DEFAULT:
        asked = ds.la(la).la_code
        if asked != base.la_code:
            raise ParameterError(
                f"--la {la} but {folder} calibrates {base.la_name} ({base.la_code}); "
                "leave out --la with --calibrated"
            )
    return ds, base, uncertainty, list(manifest.get("estimates", []))


def _history(h: LAHistory, metric: str) -> dict[int, float]:
    return {y: v for y, v in h.series(metric).items() if y >= 2015}


def _echo_headlines(outcome: RunOutcome, names: list[str]) -> None:
    for name in names:
        reps = [outcome.results[(name, i)] for i in range(outcome.replications)]
        last_census, last_flow = reps[0].census_years[-1], reps[0].flow_years[-1]
        plans = np.array([r.value("ehcp_total_jan", last_census) for r in reps])
        pct = np.array([r.value("pct_within_20wks_excl_exceptions", last_flow) for r in reps])
        pct_text = (
            f"median {np.nanmedian(pct):.1f}%" if not np.all(np.isnan(pct)) else "no plans issued"
        )
        click.echo(
            f"  {name}: plans in January {last_census}: median {np.median(plans):.0f} "
            f"(90% band {np.percentile(plans, 5):.0f}-{np.percentile(plans, 95):.0f}); "
            f"within 20 weeks in {last_flow}: {pct_text}"
        )


def _write_event_log(out: Path, outcome: RunOutcome) -> None:
    from .outputs import fmt
    from .store import atomic_open

    with atomic_open(out / "event_log.csv") as f:
        f.write("scenario,replication,entity_id,event,time\n")
        for (name, rep), res in sorted(outcome.results.items()):
            for entity, event, t in res.event_log:
                f.write(f"{name},{rep},{entity},{event},{fmt(t)}\n")


@main.command(name="compare")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--against", help="The scenario to compare with [default: the run's first, the baseline]."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for compare.csv, the money tables and charts "
    "[default: RUN_DIR/compare-<against>].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def compare_cmd(run_dir: Path, against: str | None, out: Path | None, overwrite: bool) -> None:
    """Paired differences between each scenario of a run and the base scenario: mean,
    5th and 95th percentiles over replications, and the probability it is better."""
    manifest = run_dir / "manifest.json"
    la_name = read_json(manifest).get("la", {}).get("name", "") if manifest.exists() else ""
    table = read_results(run_dir)
    base = check_against(table, against)
    target = out or run_dir / f"compare-{base}"
    check_destination(target, overwrite)
    with OutputFolder(target, "comparison", overwrite=overwrite) as folder:
        write_comparison(run_dir, table, base, folder.working, la_name)
    click.echo(f"Wrote {target / 'compare.csv'} (differences from {base})")


@main.command(name="scenarios")
def list_scenarios() -> None:
    """List the bundled scenarios."""
    for name, path in sorted(library().items()):
        click.echo(f"{name}: {scenario_description(path)}")


@main.command(name="las")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
def list_las(data: Path | None) -> None:
    """List the local authorities in the data."""
    ds: Dataset = load_dataset(data)
    for code, name in ds.las():
        click.echo(f"{code}  {name}")


@main.command()
@click.option("--la", default=DEFAULT_LA, show_default=True)
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--start-year", type=int)
@click.option("--years", type=click.IntRange(1, 50))
def params(la: str, data: Path | None, start_year: int | None, years: int | None) -> None:
    """Print an LA's default parameters as TOML (a starting point for a scenario)."""
    base, notes = estimate_parameters(load_dataset(data), la, start_year, years or 5)
    for n in notes:
        click.echo(f"# {n.key}: {n.source}")
    click.echo(toml_dumps(base.to_dict()))


@main.command(name="size")
@click.option("--la", default=DEFAULT_LA, show_default=True)
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--scenario",
    "scenario",
    metavar="FILE|NAME",
    help="Size on top of a scenario rather than the LA's defaults.",
)
@click.option(
    "--resource", required=True, type=click.Choice(sorted(RESOURCES)), help="What to size."
)
@click.option(
    "--target",
    "target_text",
    required=True,
    help='The target, e.g. "pct_within_20wks_excl_exceptions>=60".',
)
@click.option(
    "--year",
    type=int,
    required=True,
    help="The year the target is for (census "
    "January, calendar year or financial year, as the metric is reported).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.9,
    show_default=True,
    help="Share of replications that must meet the target.",
)
@click.option("--replications", type=click.IntRange(2, 100_000), default=40, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=20250101, show_default=True)
@click.option("--start-year", type=int)
@click.option(
    "--years", type=click.IntRange(1, 50), help="Years to simulate [default: to the end of --year]."
)
@click.option("--max-level", type=float, help="Give up above this level.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for sizing.csv and sizing.png [default: runs/<la>-size-<resource>].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def size_cmd(
    la: str,
    data: Path | None,
    scenario: str | None,
    resource: str,
    target_text: str,
    year: int,
    confidence: float,
    replications: int,
    seed: int,
    start_year: int | None,
    years: int | None,
    max_level: float | None,
    out: Path | None,
    overwrite: bool,
) -> None:
    """The smallest level of a resource (EP FTE, coordinators, panel slots, review officers,
    special places) that meets a target in a year with the stated confidence."""
    target = Target.parse(target_text)
    ds = load_dataset(data)
    history = ds.la(la)
    start = start_year or history.latest_census_year()
    span = years or max(1, year - start + 1)
    base, _ = estimate_parameters(ds, la, start, span)
    if scenario:
        base = apply_scenario(base, resolve_scenario(scenario))
    out = out or Path("runs") / f"{_slug(history.la_name)}-size-{resource}"
    check_destination(out, overwrite)
    result = size(base, resource, target, year, confidence, replications, seed, max_level)
    with OutputFolder(out, "sizing", overwrite=overwrite) as folder:
        write_sizing(folder.working, result, history.la_name)
    by_level = {p.level: p for p in result.points}
    text = f"{target.metric} {target.op} {target.value:g} in {year}"
    if result.answer is None:
        best = max(result.points, key=lambda p: (p.probability, -p.level))
        top = max(p.level for p in result.points)
        click.echo(
            f"No level up to {top:g} {resource} meets {text} with probability "
            f"{confidence:g} (best: {best.probability:.2f} at {best.level:g}); another part "
            "of the system may be the constraint."
        )
    else:
        a = by_level[result.answer]
        click.echo(
            f"{resource} = {result.answer:g} meets {text} in {a.probability:.0%} of "
            f"{replications} replications (95% interval {a.low:.0%}-{a.high:.0%}); "
            f"annual cost GBP {a.annual_cost_gbp:,.0f}."
        )
        below = by_level.get(result.answer - RESOURCES[resource].step)
        if below is not None:
            click.echo(
                f"  one step less ({below.level:g}): {below.probability:.0%} "
                f"(95% interval {below.low:.0%}-{below.high:.0%})."
            )
    if not result.monotone:
        click.echo(
            "  warning: the probability fell somewhere as the level rose; check the "
            "trade-off curve.",
            err=True,
        )
    click.echo(f"Wrote {out / 'sizing.csv'} and {out / 'sizing.png'}")


@main.command(name="report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file [default: RUN_DIR/report.html].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def report_cmd(run_dir: Path, out: Path | None, overwrite: bool) -> None:
    """One self-contained HTML report of a finished run, for a board paper (opens in any
    browser, prints to PDF)."""
    path = write_report(run_dir, out or run_dir / "report.html", overwrite)
    click.echo(f"Wrote {path}")


@main.command(name="calibrate")
@click.option("--la", default=DEFAULT_LA, show_default=True, help="Name, GSS code or DfE number.")
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your own data in the bundled tidy schema (default: bundled SEN2 data).",
)
@click.option(
    "--until",
    type=int,
    help="Calibrate on data as of this January census (flows to the year before); the "
    "calibrated model starts there [default: the latest census].",
)
@click.option(
    "--years",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Years a run of the calibrated parameters simulates unless `run --years` says.",
)
@FIT_OPTION
@FIT_REPLICATIONS_OPTION
@MAX_EVALUATIONS_OPTION
@click.option(
    "--history-replications",
    type=click.IntRange(1, 10_000),
    default=40,
    show_default=True,
    help="Replications of the simulated history in the fit report.",
)
@click.option("--seed", type=click.IntRange(0), default=20250101, show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def calibrate_cmd(
    la: str,
    data: Path | None,
    until: int | None,
    years: int,
    fit: bool,
    fit_replications: int,
    max_evaluations: int,
    history_replications: int,
    seed: int,
    out: Path,
    overwrite: bool,
) -> None:
    """Calibrate an LA on its published history: estimates with their uncertainty, team
    capacity fitted by simulation, and a fit report of the simulated history against every
    published series. `sendsim run --calibrated OUT` uses the result."""
    started = time.perf_counter()
    check_destination(out, overwrite)
    ds = load_dataset(data)
    h = ds.la(la)
    with OutputFolder(out, "calibration", overwrite=overwrite) as folder:
        cal = calibrate(
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
        write_calibration(
            cal,
            rows,
            runs,
            folder.working,
            ds.path,
            _version(),
            [Path(sys.argv[0]).name, *sys.argv[1:]],
        )
    click.echo(
        f"Calibrated {cal.la_name} to January {cal.until} in "
        f"{time.perf_counter() - started:.0f} s: {len(cal.uncertainty.items)} uncertain "
        f"quantities; {sum(r.in_90 for r in rows)} of {len(rows)} published values of the "
        f"fit window inside the simulated 90% band. Wrote {out}"
    )
    if cal.fit is not None:
        f = cal.fit
        click.echo(
            f"  team capacity at January {cal.until}: EP {f.ep_fte:.1f} FTE, coordinators "
            f"{f.coordinators:.1f} FTE (fitted over {f.window[0]}-{f.window[-1]}; rms error "
            f"{f.rms_completed_pct or 0:.0f}% on assessments completed, "
            f"{f.rms_pct20_points or 0:.0f} points on the 20-week %)"
        )


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


@main.command(name="backtest")
@click.option("--la", default=DEFAULT_LA, show_default=True, help="Name, GSS code or DfE number.")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--origin", type=int, required=True, help="The January census forecast from.")
@click.option("--horizon", type=click.IntRange(1, 50), required=True, help="Years scored.")
@click.option("--replications", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=20250101, show_default=True)
@click.option(
    "--all-las",
    is_flag=True,
    help="Every LA with a census at the origin and published values after it (not --la).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Local worker processes [default: cores, at most 8].",
)
@click.option(
    "--allow-unscored",
    is_flag=True,
    help="Forecast even where nothing is published after the origin (empty 'actual'); "
    "for checking that forecasts use no later data.",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@FIT_OPTION
@FIT_REPLICATIONS_OPTION
@MAX_EVALUATIONS_OPTION
@UNCERTAINTY_OPTION
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted back-test in --out: LAs already finished (saved in "
    "OUT/las/ as each finishes) are kept; the settings must be the same.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def backtest_cmd(
    la: str,
    data: Path | None,
    origin: int,
    horizon: int,
    replications: int,
    seed: int,
    all_las: bool,
    jobs: int | None,
    allow_unscored: bool,
    out: Path,
    fit: bool,
    fit_replications: int,
    max_evaluations: int,
    parameter_uncertainty: bool,
    resume: bool,
    overwrite: bool,
) -> None:
    """Calibrate on the data as of an earlier census only, forecast from it, and score the
    forecasts (and two naive ones) against what was published after it."""
    started = time.perf_counter()
    ds = load_dataset(data)
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
        check_destination(out, overwrite, resumable=True)
    with OutputFolder(
        out, "backtest", overwrite=overwrite, resume=resume, resumable=True
    ) as folder:
        saved = _BacktestFolder(folder.working, settings, codes, data, resume)
        args = [a for a in sys.argv[1:] if a not in ("--resume", "--overwrite")]
        try:
            rows, skipped = run_backtest(
                data,
                codes,
                settings,
                jobs or default_jobs(),
                saved.save,
                saved.done,
                worker_initializer(),
            )
        except KeyboardInterrupt:
            click.echo(
                f"\ninterrupted: {len(list(saved.las.glob('*.json')))} of {len(codes)} LAs "
                f"are saved; continue with: sendsim {' '.join(args)} --resume",
                err=True,
            )
            raise Interrupted() from None
        except Exception:
            if any(saved.las.glob("*.json")):
                folder.keep()
                click.echo(
                    "the LAs finished so far are kept; once the cause below is put right, "
                    f"continue with: sendsim {' '.join(args)} --resume",
                    err=True,
                )
            raise
        if skipped and not all_las:
            raise BacktestError(next(iter(skipped.values())))
        summary = summarise(rows)
        write_scores(folder.working / "backtest_scores.csv", rows)
        write_summary(folder.working / "backtest_summary.csv", summary)
    for code, reason in skipped.items():
        click.echo(f"skipped {code}: {reason}", err=True)
    click.echo(format_summary(summary))
    n = len({r.la_code for r in rows})
    click.echo(
        f"{n} LA(s), origin January {origin}, horizon {horizon}, {replications} replications "
        f"({'fitted' if fit else 'direct'} team capacity, "
        f"{'with' if parameter_uncertainty else 'without'} parameter uncertainty), "
        f"{time.perf_counter() - started:.0f} s. Wrote {out / 'backtest_scores.csv'} and "
        f"{out / 'backtest_summary.csv'}"
    )
