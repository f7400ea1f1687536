"""The bundled scenario library (the TOML files in this folder) and how a run's scenarios
are assembled: the baseline first, then each scenario applied over the LA's defaults, and
with --waterfall each plan's levers added one at a time."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from simulation.parameters import (
    ParameterError,
    Parameters,
    apply_scenario,
    scenario_description,
    scenario_name,
)

SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
Runs = dict[str, tuple[Parameters, str | None, str]]  # name -> (parameters, source, description)


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


def waterfall_steps(
    runs: Runs,
) -> tuple[Runs, dict[str, list[list[str]]]]:
    """Scenarios with levers, preceded by their cumulative steps (the first lever, the
    first two, ...), and for each plan its steps as (scenario, lever name)."""
    out: Runs = {}
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


def scenario_runs(base: Parameters, names: tuple[str, ...], years: int | None) -> Runs:
    """Baseline first, then each scenario named, applied over the LA's defaults."""
    runs: Runs = {}
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
