"""A calibration's folder: the calibrated parameters, their uncertainty and the fit report.

The folder is built beside its destination and renamed into place when complete, so a
failed or interrupted calibration leaves nothing half-written. ``calibration.json`` is the
manifest; ``sendsim run --calibrated DIR`` reads ``parameters.toml`` and
``uncertainty.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from calibration.calibrate import Calibration, HistoryRow
from simulation.parameters import ParameterError, Parameters, load_parameters
from simulation.results import Results
from simulation.uncertainty import ParameterUncertainty

from . import outputs
from .plots import fan_chart, title
from .report import CSS, _esc, _img, _table
from .store import StoreError, read_json
from .toml_out import dumps as toml_dumps

PARAMETERS = "parameters.toml"
UNCERTAINTY = "uncertainty.json"
MANIFEST = "calibration.json"
FIT_ERRORS = "fit_errors.csv"
FIT_CAPACITY = "fit_capacity.csv"
REPORT = "fit_report.html"
#: Series charted in the fit report (when the LA publishes them).
CHARTED = (
    "ehcp_total_jan",
    "requests_received",
    "requests_refused",
    "new_ehcps",
    "assessments_not_issued",
    "pct_within_20wks_excl_exceptions",
    "ceased_total",
    "caseload_special_state",
    "caseload_special_independent_nm",
    "caseload_mainstream",
)


def write_calibration(
    cal: Calibration,
    rows: Sequence[HistoryRow],
    runs: Sequence[Results],
    folder: Path,
    data_path: Path,
    version: str,
    command: list[str],
) -> None:
    """Write the calibration's files into `folder` (an output_folder.OutputFolder, which
    builds it beside its destination and swaps it in when whole)."""
    _write_all(cal, rows, runs, folder, data_path, version, command)


def _write_all(
    cal: Calibration,
    rows: Sequence[HistoryRow],
    runs: Sequence[Results],
    folder: Path,
    data_path: Path,
    version: str,
    command: list[str],
) -> None:
    """Every file of a calibration folder: parameters.toml, uncertainty.json, the fit
    tables and charts, the report and the manifest. Long because it writes each file in
    turn, in the order the README's table of a calibration's files lists them."""
    header = (
        f"# sendsim calibration of {cal.la_name} ({cal.la_code}) to the January {cal.until} "
        "census.\n# Use it with: sendsim run --calibrated <this folder>\n"
    )
    (folder / PARAMETERS).write_text(header + toml_dumps(cal.params.to_dict()), encoding="utf-8")
    (folder / UNCERTAINTY).write_text(
        json.dumps(cal.uncertainty.to_dict(), indent=1) + "\n", encoding="utf-8"
    )
    outputs.write_csv(
        folder / FIT_ERRORS,
        ("metric", "year", "observed", "median", "p5", "p95", "ape", "in_90"),
        (
            (
                r.metric,
                r.year,
                outputs.fmt(r.observed),
                outputs.fmt(r.median),
                outputs.fmt(r.p5),
                outputs.fmt(r.p95),
                "" if r.ape is None else outputs.fmt(r.ape),
                int(r.in_90),
            )
            for r in rows
        ),
    )
    fit = cal.fit
    if fit is not None:
        outputs.write_csv(
            folder / FIT_CAPACITY,
            (
                "year",
                "requests_observed",
                "requests_simulated",
                "completed_observed",
                "completed_simulated",
                "pct20_observed",
                "pct20_simulated",
            ),
            (
                (
                    y.year,
                    _opt(y.requests_observed),
                    outputs.fmt(y.requests_simulated),
                    _opt(y.completed_observed),
                    outputs.fmt(y.completed_simulated),
                    _opt(y.pct20_observed),
                    outputs.fmt(y.pct20_simulated),
                )
                for y in fit.years
            ),
        )
    charts = []
    for metric in CHARTED:
        published = cal.history.series(metric)
        if not runs or not published or not any(r.metric == metric for r in rows):
            continue
        first = min(runs[0].table(metric)[0])
        last = cal.until if metric in runs[0].census else cal.until - 1  # what it read
        history = {y: v for y, v in published.items() if first - 3 <= y <= last}
        path = folder / f"fit_{metric}.png"
        fan_chart(path, metric, runs, "simulated history", history, cal.la_name)
        charts.append((path, metric))
    (folder / REPORT).write_text(_report(cal, rows, charts), encoding="utf-8")
    manifest = {
        "sendsim_version": version,
        "git_commit": outputs.git_commit(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "data": {"path": str(data_path), "sha256": outputs.sha256(data_path)},
        "calibration": cal.summary(),
        "estimates": [{"key": n.key, "value": n.value, "source": n.source} for n in cal.notes],
        "files": [*sorted(p.name for p in folder.iterdir()), MANIFEST],
    }
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8"
    )


def _opt(v: float | None) -> str:
    return "" if v is None else outputs.fmt(v)


def _report(cal: Calibration, rows: Sequence[HistoryRow], charts: list[tuple[Path, str]]) -> str:
    """The fit report's HTML. Long because it lays out the page top to bottom: the fitted
    capacity, the charts, the error table, the uncertainty and the data adjustments."""
    s = cal.summary()
    fit = cal.fit
    parts = [
        f"<h1>Calibration of {_esc(cal.la_name)} to January {cal.until}</h1>",
        "<p>Estimated from the LA's published data up to that census only (flows to "
        f"{cal.until - 1}). The charts replay the fit window with the calibrated team capacity, "
        "requests at their published level and every other parameter drawn from its "
        "estimated uncertainty (bands: 5-95% and 25-75% of the replications; points: "
        "published).</p>",
    ]
    if fit is not None:
        parts.append("<h2>Team capacity fitted by simulation</h2>")
        parts.append(
            _table(
                ["quantity", "value"],
                [
                    ["window", f"{fit.window[0]}-{fit.window[-1]}"],
                    [f"EP FTE at January {cal.until}", f"{fit.ep_fte:.2f}"],
                    [f"coordinator FTE at January {cal.until}", f"{fit.coordinators:.2f}"],
                    ["objective (sum of squared standardised misfits)", f"{fit.objective:.2f}"],
                    ["evaluations", str(fit.evaluations)],
                    ["rms error, assessments completed", f"{fit.rms_completed_pct or 0:.1f}%"],
                    ["rms error, % within 20 weeks", f"{fit.rms_pct20_points or 0:.1f} points"],
                    [
                        "panel slots per weekly sitting (x weekly requests)",
                        "not fitted: no published 6-week share in the window"
                        if fit.panel is None
                        else f"{fit.panel.slots_per_weekly_request:.2f} (decided within 6 weeks: "
                        + ", ".join(
                            f"{y} published {o:.1f}%, simulated {m:.1f}%"
                            for y, o, m in fit.panel.years
                        )
                        + ")",
                    ],
                ],
            )
        )
        parts.append(
            _table(
                ["year", "completed: published", "simulated", "20-wk %: published", "simulated"],
                [
                    [
                        str(y.year),
                        _opt(y.completed_observed),
                        f"{y.completed_simulated:.0f}",
                        _opt(y.pct20_observed),
                        f"{y.pct20_simulated:.1f}",
                    ]
                    for y in fit.years
                ],
            )
        )
    parts.append("<h2>Simulated history against every published series</h2>")
    for path, metric in charts:
        parts.append(_img(path, title(metric)))
    covered = [r.in_90 for r in rows]
    parts.append(
        f"<p>{sum(covered)} of {len(covered)} published values lie inside the simulated "
        "90% band.</p>"
    )
    parts.append(
        _table(
            ["metric", "year", "published", "median", "5%", "95%", "error %", "in 90%"],
            [
                [
                    r.metric,
                    str(r.year),
                    f"{r.observed:,.1f}",
                    f"{r.median:,.1f}",
                    f"{r.p5:,.1f}",
                    f"{r.p95:,.1f}",
                    "-" if r.ape is None else f"{r.ape:.1f}",
                    "yes" if r.in_90 else "no",
                ]
                for r in rows
            ],
        )
    )
    parts.append("<h2>Parameter uncertainty drawn by each replication</h2>")
    unc_rows = []
    for u in cal.uncertainty.items:
        mean, sd = u.mean_sd()
        unc_rows.append(
            [
                u.name,
                u.family,
                ", ".join(t for c in u.components for t in c.targets),
                ", ".join(f"{m:.4g}±{d:.2g}" for m, d in zip(mean, sd, strict=True)),
                u.source,
            ]
        )
    parts.append(_table(["quantity", "distribution", "moves", "mean ± sd", "source"], unc_rows))
    parts.append("<h2>Data adjustments</h2>")
    adjustments = list(s.get("adjustments", []))  # type: ignore[call-overload]
    parts.append(
        "<ul>" + "".join(f"<li>{_esc(a)}</li>" for a in adjustments) + "</ul>"
        if adjustments
        else "<p>None in the years read.</p>"
    )
    body = "\n".join(parts)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>sendsim calibration:"
        f" {_esc(cal.la_name)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def load_calibrated(folder: Path) -> tuple[Parameters, ParameterUncertainty, dict[str, Any]]:
    """The parameters, uncertainty and manifest of a calibration folder."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise StoreError(
            f"--calibrated {folder}: no {MANIFEST} (not a complete folder written by "
            "`sendsim calibrate`)"
        )
    try:
        manifest = read_json(manifest_path)
        unc_data = read_json(folder / UNCERTAINTY)
    except (OSError, json.JSONDecodeError) as e:
        raise StoreError(f"--calibrated {folder}: cannot read its files ({e})") from None
    params = load_parameters(folder / PARAMETERS)
    try:
        uncertainty = ParameterUncertainty.from_dict(unc_data, str(folder / UNCERTAINTY))
    except ParameterError as e:
        raise StoreError(str(e)) from None
    return params, uncertainty, manifest
