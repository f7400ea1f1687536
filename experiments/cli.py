"""The `sendsim` command line."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from click.core import ParameterSource

from calibration.backtest import BacktestError, format_summary
from calibration.defaults import estimate_parameters
from calibration.la_data import DataError, Dataset, load_dataset
from simulation.parameters import ParameterError, scenario_description

from . import api
from .compare import CompareError
from .output_folder import Interrupted, OutputError
from .report import ReportError
from .runner import ExperimentError
from .scenarios import library
from .sizing import RESOURCES, JointSizing, Sizing, SizingError, Target
from .store import StoreError
from .toml_out import dumps as toml_dumps

DEFAULT_LA = api.DEFAULT_LA
__all__ = ["library", "main"]
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


def _echo_notes(e: BaseException) -> None:
    """What the command added to an error on its way out (what was kept, how to go on)."""
    for note in getattr(e, "__notes__", ()):
        click.echo(note, err=True)


class SendsimGroup(click.Group):
    """The error boundary: every command's known failures become one line and an exit code
    (2 bad input, 3 reading or writing files, 130 interrupted); anything else is a bug in
    sendsim, reported as such (its traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Interrupted as e:
            if str(e):
                click.echo(f"\n{e}", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except USER_ERRORS as e:
            _echo_notes(e)
            raise BadInput(_one_line(str(e))) from None
        except OSError as e:
            _echo_notes(e)
            raise IOFailure(describe_os_error(e)) from None
        except Exception as e:
            if ctx.meta.get(DEBUG) or os.environ.get("SENDSIM_DEBUG"):
                raise
            _echo_notes(e)
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


@click.group(cls=SendsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(api.sendsim_version(), prog_name="sendsim")
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
    bar = _Bar(quiet)
    try:
        if resume:
            if out is None:
                raise StoreError("--resume needs --out, the folder of the run to continue")
            result = api.resume(
                out,
                data=data,
                jobs=jobs,
                scheduler=scheduler,
                dask_workers=dask_workers,
                batch_size=batch_size,
                progress=bar.update,
                total=bar.total,
            )
        else:
            ctx = click.get_current_context()
            result = api.run(
                la,
                data=data,
                scenarios=scenarios,
                start_year=start_year,
                years=years,
                replications=replications,
                precision=precision,
                seed=seed,
                jobs=jobs,
                scheduler=scheduler,
                dask_workers=dask_workers,
                batch_size=batch_size,
                out=out,
                overwrite=overwrite,
                waterfall=waterfall,
                event_log=event_log,
                calibrated=calibrated,
                parameter_uncertainty=parameter_uncertainty,
                la_given=ctx.get_parameter_source("la") is not ParameterSource.DEFAULT,
                save_default=True,
                progress=bar.update,
                total=bar.total,
                command=[Path(sys.argv[0]).name, *sys.argv[1:]],
            )
    finally:
        bar.close()
    click.echo(
        f"Wrote {result.replications} replications of {', '.join(result.scenarios)} for "
        f"{result.la_name} to {result.folder}"
    )
    _echo_precision(result)
    _echo_headlines(result)


def _echo_precision(result: api.RunResult) -> None:
    precision = result.outcome.precision if result.outcome is not None else None
    if precision is None:
        return
    met = precision.solution
    text = (
        f"met at {met} replications"
        if met
        else f"not met within {result.replications} replications (the cap)"
    )
    if not met and precision.blocked_by:
        worst = ", ".join(f"{label} ({p:.1%})" for label, p in precision.blocked_by[:3])
        more = f" and {len(precision.blocked_by) - 3} more" if len(precision.blocked_by) > 3 else ""
        text += f"; furthest from it: {worst}{more}"
    click.echo(f"  precision {result.manifest['precision']['target']:.3g}: {text}")


def _echo_headlines(result: api.RunResult) -> None:
    for name, reps in result.results.items():
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
    result = api.compare(run_dir, against=against, out=out, overwrite=overwrite)
    assert result.folder is not None  # written, as asked
    click.echo(f"Wrote {result.folder / 'compare.csv'} (differences from {result.against})")


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
    "--resource",
    "resources",
    required=True,
    multiple=True,
    type=click.Choice(sorted(RESOURCES)),
    help="What to size; twice (--resource ep_fte --resource coordinator_fte) for the "
    "cheapest combination of the two.",
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
    help="Folder for sizing.csv and sizing.png [default: runs/<la>-size-<resources>].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def size_cmd(
    la: str,
    data: Path | None,
    scenario: str | None,
    resources: tuple[str, ...],
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
    special places) that meets a target in a year with the stated confidence, or the
    cheapest combination of two."""
    result = api.size(
        la,
        resource=resources,
        target=target_text,
        year=year,
        data=data,
        scenario=scenario,
        confidence=confidence,
        replications=replications,
        seed=seed,
        start_year=start_year,
        years=years,
        max_level=max_level,
        out=out,
        overwrite=overwrite,
        save_default=True,
    )
    if result.joint is not None:
        _echo_joint(result.joint, replications)
    elif result.sizing is not None:
        _echo_sizing(result.sizing, result.binding, replications)
    assert result.folder is not None  # save_default: always written
    click.echo(f"Wrote {result.folder / 'sizing.csv'} and {result.folder / 'sizing.png'}")


def _target_text(target: Target, year: int) -> str:
    return f"{target.metric} {target.op} {target.value:g} in {year}"


def _echo_sizing(result: Sizing, binds: list[tuple[str, float, float]], reps: int) -> None:
    resource = result.resource
    by_level = {p.level: p for p in result.points}
    text = _target_text(result.target, result.year)
    if result.answer is None:
        best = max(result.points, key=lambda p: (p.probability, -p.level))
        top = max(p.level for p in result.points)
        click.echo(
            f"No level up to {top:g} {resource} meets {text} with probability "
            f"{result.confidence:g} (best: {best.probability:.2f} at {best.level:g})."
        )
        for name, before, after in binds:
            click.echo(
                f"  {name} binds: with four times as much, the probability rises from "
                f"{before:.0%} to {after:.0%}; size the two together with "
                f"--resource {resource} --resource {name}."
            )
        if not binds:
            click.echo("  no other sizable resource lifts it: the target may be out of reach.")
    else:
        a = by_level[result.answer]
        click.echo(
            f"{resource} = {result.answer:g} meets {text} in {a.probability:.0%} of "
            f"{reps} replications (95% interval {a.low:.0%}-{a.high:.0%}); "
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


def _echo_joint(result: JointSizing, reps: int) -> None:
    a, b = result.resources
    text = _target_text(result.target, result.year)
    if result.answer is None:
        click.echo(f"No combination of {a} and {b} up to the cap meets {text}.")
        return
    best = next(p for la, lb, p in result.frontier if (la, lb) == result.answer)
    click.echo(
        f"{a} = {result.answer[0]:g} with {b} = {result.answer[1]:g} is the cheapest "
        f"combination meeting {text} ({best.probability:.0%} of {reps} replications, 95% "
        f"interval {best.low:.0%}-{best.high:.0%}); annual cost GBP "
        f"{best.annual_cost_gbp:,.0f}. The frontier ({len(result.frontier)} combinations) "
        "is in sizing.csv."
    )


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
    path = api.report(run_dir, out=out, overwrite=overwrite)
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
    result = api.calibrate(
        la,
        data=data,
        until=until,
        years=years,
        fit=fit,
        fit_replications=fit_replications,
        max_evaluations=max_evaluations,
        history_replications=history_replications,
        seed=seed,
        out=out,
        overwrite=overwrite,
        command=[Path(sys.argv[0]).name, *sys.argv[1:]],
    )
    cal, rows = result.calibration, result.history_rows
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
    args = [a for a in sys.argv[1:] if a not in ("--resume", "--overwrite")]
    result = api.backtest(
        la,
        origin=origin,
        horizon=horizon,
        out=out,
        data=data,
        replications=replications,
        seed=seed,
        all_las=all_las,
        jobs=jobs,
        allow_unscored=allow_unscored,
        fit=fit,
        fit_replications=fit_replications,
        max_evaluations=max_evaluations,
        parameter_uncertainty=parameter_uncertainty,
        resume=resume,
        overwrite=overwrite,
        resume_command=f"sendsim {' '.join(args)} --resume",
    )
    for code, reason in result.skipped.items():
        click.echo(f"skipped {code}: {reason}", err=True)
    click.echo(format_summary(result.summary_rows))
    n = len({r.la_code for r in result.rows})
    click.echo(
        f"{n} LA(s), origin January {origin}, horizon {horizon}, {replications} replications "
        f"({'fitted' if fit else 'direct'} team capacity, "
        f"{'with' if parameter_uncertainty else 'without'} parameter uncertainty), "
        f"{result.seconds:.0f} s. Wrote {out / 'backtest_scores.csv'} and "
        f"{out / 'backtest_summary.csv'}"
    )
