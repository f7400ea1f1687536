"""Running an experiment into a run folder, resuming it, and writing its outputs."""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulation.parameters import Parameters, from_dict
from simulation.results import HEADLINE_METRICS, Results
from simulation.uncertainty import ParameterUncertainty, draw_seed

from . import outputs
from .finance import money_outputs, results_source
from .plots import fan_chart, scenario_chart
from .precision import Columns, PrecisionCheck, check, look_ahead
from .runner import Executor, batches, replication_seeds, tasks
from .store import RunStore, atomic_open
from .toml_out import dumps as toml_dumps

Progress = Callable[[int], None]


@dataclass
class RunOutcome:
    results: dict[tuple[str, int], Results] = field(default_factory=dict)
    replications: int = 0  # complete replications of every scenario
    precision: PrecisionCheck | None = None
    executor: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # simulating, in this session
    simulated: int = 0  # replications simulated in this session (not resumed from disk)


def spec_uncertainty(spec: Mapping[str, Any]) -> ParameterUncertainty | None:
    """The parameter uncertainty replications draw from, or None (point estimates)."""
    data = spec.get("parameter_uncertainty")
    return None if data is None else ParameterUncertainty.from_dict(data, "run.json")


def scenario_parameters(spec: Mapping[str, Any]) -> dict[str, Parameters]:
    return {
        name: from_dict(s["parameters"], f"{name} in run.json")
        for name, s in spec["scenarios"].items()
    }


def _complete(results: Mapping[tuple[str, int], Results], scenarios: list[str]) -> int:
    """How many replications 0..n-1 are complete for every scenario."""
    n = 0
    while all((s, n) in results for s in scenarios):
        n += 1
    return n


def headline_matrix(
    results: Mapping[tuple[str, int], Results], scenarios: list[str], n: int
) -> tuple[np.ndarray, Columns]:
    """Replications x (scenario, headline metric, year) values, for the precision rule,
    and what the columns are."""
    cols = []
    keys: list[tuple[str, str, int]] = []
    for s in scenarios:
        reps = [results[(s, i)] for i in range(n)]
        for metric in HEADLINE_METRICS:
            years, table = outputs.stack(reps, metric)
            cols.append(table.reshape(n, len(years)))
            keys.extend((s, metric, int(y)) for y in years)
    return (np.hstack(cols) if cols else np.zeros((n, 0))), Columns.of(keys)


def run_experiment(
    store: RunStore,
    executor: Executor,
    batch_size: int | None = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
) -> RunOutcome:
    """Run (or continue) the replications the run folder's specification asks for, saving
    each as it finishes. With a precision target, replications run in rounds until the
    headline means meet it (Hoad, Robinson and Davies) or the cap is reached."""
    spec = store.spec
    params = scenario_parameters(spec)
    uncertainty = spec_uncertainty(spec)
    names = list(params)
    started = time.perf_counter()
    outcome = RunOutcome(executor=executor.describe())
    for s, i in sorted(store.finished()):
        outcome.results[(s, i)] = store.load(s, i)
    cap = int(spec["replications"])
    target = spec.get("precision")

    def run_until(n: int) -> None:
        todo = [
            t
            for t in tasks(params, range(n), int(spec["root_seed"]), uncertainty)
            if (t.scenario, t.replication) not in outcome.results
        ]
        if total:
            total(len(todo))
        if not todo:
            return
        for batch in executor.run(batches(todo, batch_size, executor.workers)):
            for scenario, rep, res in batch:
                store.save(scenario, rep, res)
                outcome.results[(scenario, rep)] = res
                outcome.simulated += 1
                if progress:
                    progress(1)

    if target is None:
        run_until(cap)
    else:
        # Rounds follow a fixed schedule from zero, whatever is already on disk, so a
        # resumed run checks at the same counts and stops where an uninterrupted one would.
        n = 0
        while True:
            n = min(cap, max(n + look_ahead(n) + 1, math.ceil(n * 1.25), 10))
            run_until(n)
            values, columns = headline_matrix(outcome.results, names, n)
            outcome.precision = check(values, target, columns)
            if outcome.precision.solution is not None or n >= cap:
                break
    outcome.replications = _complete(outcome.results, names)
    outcome.seconds = time.perf_counter() - started
    return outcome


def finalise(
    store: RunStore,
    outcome: RunOutcome,
    history: Mapping[str, Mapping[int, float]],
    la_name: str,
    timings: Mapping[str, float],
) -> None:
    """Write results, summaries, charts, parameters and the manifest (last: its presence
    marks a complete run)."""
    t0 = time.perf_counter()
    spec = store.spec
    names = list(spec["scenarios"])
    n = outcome.replications
    by_scenario = {s: [outcome.results[(s, i)] for i in range(n)] for s in names}
    with_reps = {s: [(i, outcome.results[(s, i)]) for i in range(n)] for s in names}
    for metric in HEADLINE_METRICS:
        fan_chart(
            store.path / f"fan_{metric}.png",
            metric,
            by_scenario[names[0]],
            names[0],
            history.get(metric, {}),
            la_name,
        )
        if len(names) > 1:
            scenario_chart(
                store.path / f"scenarios_{metric}.png",
                metric,
                by_scenario,
                history.get(metric, {}),
                la_name,
            )
    (store.path / "parameters").mkdir(exist_ok=True)
    for name, s in spec["scenarios"].items():
        store.write_text(f"parameters/{name}.toml", toml_dumps(s["parameters"]))
    money_outputs(
        store.path, results_source(by_scenario), names, spec.get("waterfall", {}), la_name
    )
    uncertainty = spec_uncertainty(spec)
    if uncertainty is not None:
        _write_draws(store, uncertainty, replication_seeds(int(spec["root_seed"]), n))
    # The tables last, just before the manifest: a folder with them is a finished run.
    with atomic_open(store.path / "results.csv") as f:
        outputs.write_results(f, with_reps)
    with atomic_open(store.path / "summary.csv") as f:
        outputs.write_summary(f, outputs.summarise(by_scenario))
    _write_manifest(store, outcome, timings, time.perf_counter() - t0)


def _precision_record(spec: Mapping[str, Any], outcome: RunOutcome) -> dict[str, Any] | None:
    if outcome.precision is None:
        return None
    return {
        "target": spec.get("precision"),
        "solution_replications": outcome.precision.solution,
        "worst_relative_precision_at_end": outcome.precision.precision_by_n[-1],
        "met": outcome.precision.solution is not None,
        # Without a solution: the means (scenario, metric, year) that missed the target
        # the last time it was missed, worst first.
        "blocked_by": [
            {"mean": label, "precision": value} for label, value in outcome.precision.blocked_by
        ],
        "blocked_at_replications": outcome.precision.blocked_at,
    }


def _write_manifest(
    store: RunStore, outcome: RunOutcome, timings: Mapping[str, float], writing: float
) -> None:
    """manifest.json, written last: its presence marks a finished run."""
    spec = store.spec
    n = outcome.replications
    seeds = replication_seeds(int(spec["root_seed"]), n)
    store.write_json(
        "manifest.json",
        {
            **{k: v for k, v in spec.items() if k != "scenarios"},
            "scenarios": {
                name: {k: v for k, v in s.items() if k != "parameters"}
                for name, s in spec["scenarios"].items()
            },
            "parameters": {name: s["parameters"] for name, s in spec["scenarios"].items()},
            "replications_run": n,
            "replication_seeds": [
                {"entropy": s.entropy, "spawn_key": list(s.spawn_key)} for s in seeds
            ],
            "precision": _precision_record(spec, outcome),
            "executor": outcome.executor,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "timings_seconds": {
                **{k: round(v, 3) for k, v in timings.items()},
                "simulate": round(outcome.seconds, 3),
                "per_replication": round(
                    outcome.seconds
                    * max(1, int(outcome.executor.get("workers", 1)))
                    / max(1, outcome.simulated),
                    4,
                ),
                "replications_simulated": outcome.simulated,
                "write_outputs": round(writing, 3),
            },
        },
    )


def _write_draws(
    store: RunStore, uncertainty: ParameterUncertainty, seeds: list[np.random.SeedSequence]
) -> None:
    """parameter_draws.csv: what each replication drew (every scenario drew the same), as
    the delta on each quantity's scale, one row per coordinate."""
    rows = []
    for i, seed in enumerate(seeds):
        draws = uncertainty.draw(np.random.default_rng(draw_seed(seed)))
        for item in uncertainty.items:
            for c, d in zip(item.components, draws[item.name], strict=True):
                for k, value in enumerate(np.atleast_1d(np.asarray(d, dtype=float))):
                    key = c.keys[k] if c.keys else ""
                    rows.append(
                        (i, item.name, "+".join(c.targets), key, c.scale, outputs.fmt(value))
                    )
    outputs.write_csv(
        store.path / "parameter_draws.csv",
        ("replication", "quantity", "targets", "key", "scale", "delta"),
        rows,
    )


def new_spec(
    *,
    la_code: str,
    la_name: str,
    data_path: Path,
    root_seed: int,
    replications: int,
    precision: float | None,
    scenarios: Mapping[str, tuple[Parameters, str | None, str]],
    estimates: list[dict[str, Any]],
    uncertainty: ParameterUncertainty | None,
    command: list[str],
    arguments: Mapping[str, Any],
    version: str,
) -> dict[str, Any]:
    return {
        "sendsim_version": version,
        "git_commit": outputs.git_commit(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "arguments": dict(arguments),
        "la": {"code": la_code, "name": la_name},
        "data": {"path": str(data_path), "sha256": outputs.sha256(data_path)},
        "root_seed": root_seed,
        "replications": replications,
        "precision": precision,
        "estimates": estimates,
        "parameter_uncertainty": None if uncertainty is None else uncertainty.to_dict(),
        "scenarios": {
            name: {"source": source, "description": description, "parameters": params.to_dict()}
            for name, (params, source, description) in scenarios.items()
        },
    }
