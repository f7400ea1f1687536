"""The `sendsim` command line."""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click

from calibration.defaults import estimate_parameters
from calibration.la_data import DataError, Dataset, load_dataset
from simulation.parameters import ParameterError, Parameters, apply_scenario, scenario_name
from simulation.results import HEADLINE_METRICS, Results

from . import outputs
from .plots import fan_chart
from .runner import default_jobs, replication_seeds, run_tasks, tasks
from .toml_out import dumps as toml_dumps

DEFAULT_LA = "Stockport"
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def _version() -> str:
    try:
        return version("sendsim")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="sendsim")
def main() -> None:
    """sendsim: simulate a local authority's SEND system (EHC needs assessments, plans,
    placements, reviews) and project it forward with honest uncertainty."""


def _dataset(data: Path | None) -> Dataset:
    return load_dataset(data)


def _base_parameters(
    ds: Dataset, la: str, start_year: int | None, years: int | None
) -> tuple[Parameters, list[Any]]:
    params, notes = estimate_parameters(ds, la, start_year, years or 5)
    return params, notes


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
    type=click.Path(path_type=Path, dir_okay=False),
    help="Scenario TOML overriding the LA's defaults; repeat to compare several.",
)
@click.option(
    "--start-year", type=int, help="January census to start from (default: the latest in the data)."
)
@click.option(
    "--years", type=click.IntRange(1, 50), help="Calendar years to simulate [default: 5]."
)
@click.option(
    "--replications",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Monte Carlo replications per scenario.",
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
    help="Processes to run replications on [default: cores, at most 8].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: runs/<la>-<timestamp>].",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--event-log", is_flag=True, help="Also write every replication's event log (slow, large)."
)
def run(
    la: str,
    data: Path | None,
    scenarios: tuple[Path, ...],
    start_year: int | None,
    years: int | None,
    replications: int,
    seed: int,
    jobs: int | None,
    out: Path | None,
    overwrite: bool,
    event_log: bool,
) -> None:
    """Project an LA's SEND system forward from its latest census."""
    started = time.perf_counter()
    try:
        ds = _dataset(data)
        base, notes = _base_parameters(ds, la, start_year, years)
        if event_log:
            base = base.override({"run": {"event_log": True}})
        runs: dict[str, Parameters] = {}
        for path in scenarios:
            name = scenario_name(path)
            if not SCENARIO_NAME.fullmatch(name):
                raise ParameterError(
                    f"{path}: scenario name {name!r} must be letters, digits, '_', '-' or "
                    "'.', not starting with '.' (it names files in the output folder)"
                )
            if name in runs:
                raise ParameterError(f"{path}: scenario name '{name}' is used twice")
            p = apply_scenario(base, path)
            if years is not None:
                p = p.override({"run": {"years": years}})
            runs[name] = p
        if not runs:
            runs["baseline"] = base
        history = ds.la(la)
        if out is None:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{_slug(history.la_name)}-{stamp}"
        outputs.check_destination(out, overwrite)
    except (DataError, ParameterError, FileExistsError) as e:
        raise click.ClickException(str(e)) from None
    estimated = time.perf_counter()

    jobs = jobs or default_jobs()
    items = tasks(runs, replications, seed)
    collected: dict[str, list[Results]] = {name: [] for name in runs}
    with outputs.staged_folder(out, overwrite) as stage:
        with (stage / "results.csv").open("w", newline="", encoding="utf-8") as f:
            f.write(",".join(outputs.RESULTS_HEADER) + "\n")
            for name, rep, res in run_tasks(items, jobs):
                collected[name].append(res)
                f.write(
                    outputs.csv_text(
                        (s, r, y, m, outputs.fmt(v))
                        for s, r, y, m, v in outputs.result_rows(name, rep, res)
                    )
                )
                if event_log:
                    _write_event_log(stage, name, rep, res)
        simulated = time.perf_counter()
        outputs.write_summary(stage / "summary.csv", outputs.summarise(collected))
        for metric in HEADLINE_METRICS:
            fan_chart(
                stage / f"fan_{metric}.png",
                metric,
                collected,
                _history(history, metric),
                history.la_name,
            )
        (stage / "parameters").mkdir()
        for name, p in runs.items():
            (stage / "parameters" / f"{name}.toml").write_text(
                toml_dumps(p.to_dict()), encoding="utf-8"
            )
        finished = time.perf_counter()
        outputs.write_json(
            stage / "manifest.json",
            {
                "sendsim_version": _version(),
                "git_commit": outputs.git_commit(),
                "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
                "arguments": {
                    k: str(v) if isinstance(v, Path) else v
                    for k, v in click.get_current_context().params.items()
                },
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0],
                "la": {"code": history.la_code, "name": history.la_name},
                "data": {"path": str(ds.path), "sha256": outputs.sha256(ds.path)},
                "root_seed": seed,
                "replications": replications,
                "replication_seeds": [
                    {"entropy": s.entropy, "spawn_key": list(s.spawn_key)}
                    for s in replication_seeds(seed, replications)
                ],
                "jobs": jobs,
                "scenarios": {
                    name: {"source": str(path) if path else None}
                    for name, path in zip(runs, scenarios or (None,), strict=False)
                },
                "estimates": [{"key": n.key, "value": n.value, "source": n.source} for n in notes],
                "parameters": {name: p.to_dict() for name, p in runs.items()},
                "timings_seconds": {
                    "estimate_parameters": round(estimated - started, 3),
                    "simulate": round(simulated - estimated, 3),
                    "write_outputs": round(finished - simulated, 3),
                    "per_replication": round((simulated - estimated) * jobs / len(items), 4),
                },
            },
        )
    click.echo(
        f"Wrote {len(items)} replications of {', '.join(runs)} for {history.la_name} to {out}"
    )
    _echo_headlines(collected)


def _history(h: Any, metric: str) -> dict[int, float]:
    series: dict[int, float] = h.series(metric)
    return {y: v for y, v in series.items() if y >= 2015}


def _echo_headlines(collected: dict[str, list[Results]]) -> None:
    import numpy as np

    for name, reps in collected.items():
        last_census = reps[0].census_years[-1]
        last_flow = reps[0].flow_years[-1]
        plans = np.array([r.value("ehcp_total_jan", last_census) for r in reps])
        pct = np.array([r.value("pct_within_20wks_excl_exceptions", last_flow) for r in reps])
        click.echo(
            f"  {name}: plans in January {last_census}: median {np.median(plans):.0f} "
            f"(90% band {np.percentile(plans, 5):.0f}-{np.percentile(plans, 95):.0f}); "
            f"within 20 weeks in {last_flow}: median {np.nanmedian(pct):.1f}%"
        )


def _write_event_log(stage: Path, name: str, rep: int, res: Results) -> None:
    path = stage / "event_log.csv"
    new = not path.exists()
    with path.open("a", encoding="utf-8") as f:
        if new:
            f.write("scenario,replication,entity_id,event,time\n")
        for entity, event, t in res.event_log:
            f.write(f"{name},{rep},{entity},{event},{outputs.fmt(t)}\n")


@main.command(name="las")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
def list_las(data: Path | None) -> None:
    """List the local authorities in the data."""
    try:
        ds = _dataset(data)
    except DataError as e:
        raise click.ClickException(str(e)) from None
    for code, name in ds.las():
        click.echo(f"{code}  {name}")


@main.command()
@click.option("--la", default=DEFAULT_LA, show_default=True)
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--start-year", type=int)
@click.option("--years", type=click.IntRange(1, 50))
def params(la: str, data: Path | None, start_year: int | None, years: int | None) -> None:
    """Print an LA's default parameters as TOML (a starting point for a scenario)."""
    try:
        base, notes = _base_parameters(_dataset(data), la, start_year, years)
    except (DataError, ParameterError) as e:
        raise click.ClickException(str(e)) from None
    for n in notes:
        click.echo(f"# {n.key}: {n.source}")
    click.echo(toml_dumps(base.to_dict()))
