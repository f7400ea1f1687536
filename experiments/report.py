"""The board-paper report: one self-contained HTML file from a finished run.

Everything is inside the file (charts as embedded PNG, styles inline, no scripts, nothing
fetched), so it opens anywhere and prints to PDF from a browser. Its methods section follows
the STRESS-DES reporting guideline (objectives, logic, data, experimentation,
implementation).
"""

from __future__ import annotations

import base64
import csv
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulation.results import BETTER_WHEN_HIGHER, HEADLINE_METRICS

from .compare import compare, read_results
from .plots import title
from .store import atomic_open, read_json

SECTIONS = (
    ("headline", "Headline findings"),
    ("projections", "Projections"),
    ("scenarios", "Scenarios compared"),
    ("money", "Money: unmitigated and mitigated"),
    ("capacity", "Capacity and timeliness"),
    ("assumptions", "Assumptions and data sources"),
    ("methods", "Methods (STRESS-DES)"),
)
SHORT = {
    "dsg_cumulative_balance_gbp": "a cumulative DSG balance",
    "ehcp_total_jan": "EHC plans in January",
}
CAPACITY_METRICS = (
    "pct_within_20wks_excl_exceptions",
    "weeks_to_issue_mean",
    "ep_utilisation",
    "coordinator_utilisation",
    "open_assessments",
    "reviews_overdue",
    "placement_waiting",
)
CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60em; margin: 2em auto;
       color: #1d2731; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; border-bottom: 3px solid #264653; padding-bottom: .2em; }
h2 { font-size: 1.3em; color: #264653; margin-top: 1.8em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; margin: .8em 0; font-size: .88em; width: 100%; }
th, td { border: 1px solid #ccd; padding: .25em .5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef2f5; }
figure { margin: 1em 0; page-break-inside: avoid; }
figure img { max-width: 100%; }
figcaption { font-size: .85em; color: #555; }
.note { font-size: .85em; color: #555; }
ul.findings li { margin-bottom: .4em; }
@media print { body { max-width: none; margin: 0; } h2 { page-break-after: avoid; }
               table, figure { page-break-inside: avoid; } }
"""


GENERATOR = "sendsim report"


class ReportError(Exception):
    """A run folder a report cannot be made from; one-line message."""


def _esc(text: Any) -> str:
    return html.escape(str(text))


def _num(v: float, metric: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if metric.endswith("_gbp"):
        return f"£{v / 1e6:,.1f}m"
    if metric.startswith("pct_") or metric.endswith("_utilisation"):
        return f"{v * (100 if metric.endswith('_utilisation') else 1):.1f}%"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _img(path: Path, caption: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(run_dir: Path) -> dict[tuple[str, str, int], dict[str, float]]:
    out: dict[tuple[str, str, int], dict[str, float]] = {}
    with (run_dir / "summary.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            out[(r["scenario"], r["metric"], int(r["year"]))] = {
                k: (float(r[k]) if r[k] else math.nan)
                for k in ("mean", "p5", "p25", "p50", "p75", "p95")
            }
    return out


def _years(summary: Mapping[tuple[str, str, int], Any], scenario: str, metric: str) -> list[int]:
    return sorted(y for (s, m, y) in summary if s == scenario and m == metric)


def build_report(run_dir: Path) -> str:
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise ReportError(f"{run_dir} is not a finished sendsim run (no manifest.json)")
    m = read_json(manifest_path)
    if not (
        isinstance(m.get("scenarios"), dict)
        and m["scenarios"]
        and isinstance(m.get("la"), dict)
        and isinstance(m["la"].get("name"), str)
    ):
        raise ReportError(f"{manifest_path} is damaged (no scenarios or LA name)")
    summary = _summary(run_dir)
    scenarios = list(m["scenarios"])
    base = scenarios[0]
    la = m["la"]["name"]
    n = m.get("replications_run", m.get("replications"))
    parts = [
        f"<h1>{_esc(la)}: SEND system projection</h1>",
        f'<p class="note">sendsim {_esc(m.get("sendsim_version"))}, {n} Monte Carlo '
        f"replications per scenario, scenarios: {_esc(', '.join(scenarios))}.</p>",
    ]
    parts.append(_section("headline", _headline(summary, scenarios, base, la)))
    figs = "".join(
        _img(
            run_dir / f"fan_{metric}.png",
            f"{title(metric)} ({base}): median, "
            "25-75% and 5-95% bands; points are the published history",
        )
        for metric in HEADLINE_METRICS
    )
    parts.append(_section("projections", figs))
    parts.append(_section("scenarios", _scenarios(run_dir, scenarios, base)))
    parts.append(_section("money", _money(run_dir, summary, scenarios, base)))
    parts.append(_section("capacity", _capacity(summary, scenarios)))
    parts.append(_section("assumptions", _assumptions(m)))
    parts.append(_section("methods", _methods(m, scenarios)))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{GENERATOR}">'
        f"<title>{_esc(la)}: SEND projection</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )


def _section(key: str, body: str) -> str:
    heading = dict(SECTIONS)[key]
    body = body or "<p>None in this run.</p>"
    return f'<section id="{key}"><h2>{_esc(heading)}</h2>{body}</section>'


def _band(s: Mapping[str, float], metric: str) -> str:
    return (
        f"{_num(s['p50'], metric)} (90% range {_num(s['p5'], metric)} to {_num(s['p95'], metric)})"
    )


def _headline(
    summary: Mapping[tuple[str, str, int], dict[str, float]],
    scenarios: list[str],
    base: str,
    la: str,
) -> str:
    items = []
    census = _years(summary, base, "ehcp_total_jan")
    if census:
        a, b = (
            summary[(base, "ehcp_total_jan", census[0])],
            summary[(base, "ehcp_total_jan", census[-1])],
        )
        items.append(
            f"Without change ({base}), {la}'s EHC plans go from {_num(a['mean'])} in "
            f"January {census[0]} to {_band(b, 'ehcp_total_jan')} in January "
            f"{census[-1]}."
        )
    flows = _years(summary, base, "pct_within_20wks_excl_exceptions")
    if flows:
        s = summary[(base, "pct_within_20wks_excl_exceptions", flows[-1])]
        items.append(
            f"In {flows[-1]}, {_band(s, 'pct_within_20wks_excl_exceptions')} of new "
            "plans would be issued within the 20-week limit."
        )
        r = summary[(base, "requests_received", flows[-1])]
        items.append(f"Requests for assessment in {flows[-1]}: {_band(r, 'requests_received')}.")
    money = _years(summary, base, "dsg_cumulative_balance_gbp")
    if money:
        s = summary[(base, "dsg_cumulative_balance_gbp", money[-1])]
        items.append(
            f"The cumulative DSG balance would stand at "
            f"{_band(s, 'dsg_cumulative_balance_gbp')} at 31 March {money[-1] + 1} "
            "(negative: a deficit), from the opening balance given."
        )
    for sc in scenarios[1:]:
        for metric, years in (("dsg_cumulative_balance_gbp", money), ("ehcp_total_jan", census)):
            if not years:
                continue
            got_a = summary.get((base, metric, years[-1]))
            got_b = summary.get((sc, metric, years[-1]))
            if got_a and got_b:
                a, b = got_a, got_b
                items.append(
                    f"{sc}: {SHORT[metric]} of {_num(b['mean'], metric)} "
                    f"against {_num(a['mean'], metric)} without change "
                    f"({years[-1]})."
                )
                break
    return '<ul class="findings">' + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>"


def _scenarios(run_dir: Path, scenarios: list[str], base: str) -> str:
    if len(scenarios) < 2:
        return "<p>Only the baseline ran; run scenarios with --scenario to compare them.</p>"
    rows = compare(read_results(run_dir), base)
    keep = [r for r in rows if r[3] in (*HEADLINE_METRICS, "total_spend_gbp")]
    last: dict[tuple[str, str], tuple[Any, ...]] = {}
    for r in keep:
        last[(r[0], r[3])] = r  # the latest year of each
    table_rows = [
        [
            sc,
            title(metric),
            str(r[2]),
            _num(r[4], metric),
            _num(r[5], metric),
            _num(r[6], metric),
            "-" if math.isnan(r[7]) else f"{r[7]:.0%}",
        ]
        for (sc, metric), r in sorted(last.items())
    ]
    charts = "".join(
        _img(run_dir / f"scenarios_{metric}.png", f"{title(metric)} by scenario")
        for metric in (
            "ehcp_total_jan",
            "dsg_cumulative_balance_gbp",
            "pct_within_20wks_excl_exceptions",
        )
    )
    return (
        f"<p>Differences from {_esc(base)}, paired by replication (every scenario met the "
        "same children: common random numbers), in the last year of the run.</p>"
        + _table(
            [
                "scenario",
                "measure",
                "year",
                "mean difference",
                "5th pct",
                "95th pct",
                "chance it is better",
            ],
            table_rows,
        )
        + charts
    )


def _money(
    run_dir: Path,
    summary: Mapping[tuple[str, str, int], dict[str, float]],
    scenarios: list[str],
    base: str,
) -> str:
    years = _years(summary, base, "hnb_spend_gbp")
    if not years:
        return "<p>The run covers no whole financial year: run at least two years.</p>"
    rows = []
    for sc in scenarios:
        for metric in (
            "hnb_spend_gbp",
            "hnb_income_gbp",
            "dsg_in_year_balance_gbp",
            "dsg_cumulative_balance_gbp",
        ):
            rows.append(
                [sc, title(metric).replace(" (GBP)", "")]
                + [_num(summary[(sc, metric, y)]["mean"], metric) for y in years]
            )
    out = _table(["scenario", "line", *(f"{y}-{(y + 1) % 100:02d}" for y in years)], rows)
    out += _img(run_dir / "fan_dsg_cumulative_balance_gbp.png", f"Cumulative DSG balance ({base})")
    for path in sorted(run_dir.glob("waterfall_*.png")):
        out += _img(path, f"Savings lever by lever: {path.stem.removeprefix('waterfall_')}")
    if (run_dir / "dsg_management_plan.xlsx").exists():
        out += (
            '<p class="note">Spend in the DSG management plan\'s categories is in '
            "dsg_management_plan.xlsx and .csv beside this report.</p>"
        )
    return out


def _capacity(
    summary: Mapping[tuple[str, str, int], dict[str, float]], scenarios: list[str]
) -> str:
    rows = []
    for sc in scenarios:
        for metric in CAPACITY_METRICS:
            years = _years(summary, sc, metric)
            if years:
                s = summary[(sc, metric, years[-1])]
                rows.append(
                    [
                        sc,
                        title(metric),
                        str(years[-1]),
                        _num(s["mean"], metric),
                        _num(s["p5"], metric),
                        _num(s["p95"], metric),
                    ]
                )
    higher = ", ".join(title(m) for m in CAPACITY_METRICS if m in BETTER_WHEN_HIGHER)
    return (
        _table(["scenario", "measure", "year", "mean", "5th pct", "95th pct"], rows)
        + f'<p class="note">Higher is better for: {_esc(higher)}; lower for the rest.</p>'
    )


def _assumptions(m: Mapping[str, Any]) -> str:
    rows = [[e["key"], str(e["value"]), e["source"]] for e in m.get("estimates", [])]
    return (
        "<p>Defaults estimated from the authority's published history (SEN2, DfE "
        "<i>Education, health and care plans</i> 2025 and 2022 releases; MoJ tribunal "
        "statistics; ESFA High Needs Block allocations; DfE per-pupil costs). Values marked "
        "<i>assumption</i> in the parameter reference have no published source and should "
        "be replaced by the authority's own.</p>" + _table(["parameter", "value", "source"], rows)
    )


def _methods(m: Mapping[str, Any], scenarios: list[str]) -> str:
    seeds = m.get("replication_seeds", [])
    rows = [
        [
            "Objectives",
            "Project the authority's EHC plans, assessment timeliness, placements "
            "and High Needs spend for its board, with uncertainty bands, and test the options "
            f"named: {', '.join(scenarios)}.",
        ],
        [
            "Logic",
            "A discrete-event simulation (SimPy) of children from SEN support through "
            "request, panel decision, EP and other advice, draft and final plan, placement, "
            "annual reviews, phase transfer and ceasing, with capacity-limited teams (panel, EPs, "
            "coordinators, review officers) and places (state special, resourced provision).",
        ],
        [
            "Data",
            f"Bundled published data for {m['la']['name']} (file "
            f"{Path(m['data']['path']).name}, SHA-256 {m['data']['sha256'][:16]}...): the "
            "start caseload is the January census; rates come from recent years.",
        ],
        [
            "Experimentation",
            f"{m.get('replications_run')} replications per scenario, root "
            f"seed {m.get('root_seed')}; replication i of every scenario shares its random "
            "numbers (common random numbers); bands are quantiles over replications; "
            f"precision rule: {m.get('precision') or 'fixed number of replications'}.",
        ],
        [
            "Uncertainty",
            _uncertainty_text(m.get("parameter_uncertainty")),
        ],
        [
            "Implementation",
            f"sendsim {m.get('sendsim_version')} (commit "
            f"{m.get('git_commit') or 'not from a git checkout'}), Python {m.get('python')}, "
            f"executor {m.get('executor', {}).get('executor')}; command: "
            f"{' '.join(m.get('command', []))}; {len(seeds)} replication seeds are listed in "
            "manifest.json, with every parameter.",
        ],
    ]
    return _table(["STRESS-DES", "this run"], rows)


def _uncertainty_text(data: Mapping[str, Any] | None) -> str:
    if not data:
        return (
            "Chance only: every replication ran with the same parameters, so the bands do "
            "not include what is not known about them."
        )
    names = [str(item.get("name")) for item in data.get("items", [])]
    return (
        "Chance and parameters: each replication drew its parameters from their estimated "
        f"uncertainty ({', '.join(names)}; the same draw for every scenario), listed in "
        "parameter_draws.csv."
    )


def write_report(run_dir: Path, out: Path, overwrite: bool = False) -> Path:
    """The report as one HTML file, written whole; an existing file is replaced only with
    `overwrite`, and only if sendsim wrote it."""
    if out.is_dir():
        raise ReportError(f"--out {out} is a folder; give the HTML file's name")
    if out.exists():
        if not overwrite:
            raise ReportError(f"{out} already exists (use --overwrite to replace it)")
        with out.open("rb") as f:
            made_by_us = GENERATOR.encode() in f.read(4096)
        if not made_by_us:
            raise ReportError(
                f"{out} was not written by sendsim, so --overwrite will not replace it; "
                "choose another --out"
            )
    text = build_report(run_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out) as f:
        f.write(text)
    return out
