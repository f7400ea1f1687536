"""Money for finance teams: the DSG management plan's categories (CSV and an Excel
workbook), the unmitigated-against-mitigated table, and the savings waterfall."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from simulation.results import Results

from .outputs import fmt, nanmean, nanpercentile, stack, write_csv
from .store import atomic_open

# (scenario, metric) -> (years, replications x years): read from Results in memory or from
# a run's results.csv alike.
Source = Callable[[str, str], tuple[list[int], np.ndarray]]


def results_source(results: Mapping[str, Sequence[Results]]) -> Source:
    return lambda scenario, metric: stack(list(results[scenario]), metric)


# The DSG management plan's High Needs categories, and the placement groups (and lines)
# that make each one up.
DSG_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Mainstream schools": ("hnb_spend_mainstream_gbp",),
    "Resourced provision and SEN units": ("hnb_spend_mainstream_rp_senunit_gbp",),
    "Maintained special schools and special academies": ("hnb_spend_special_state_gbp",),
    "Independent and non-maintained special schools": ("hnb_spend_special_independent_nm_gbp",),
    "Hospital education and alternative provision": ("hnb_spend_ap_pru_gbp",),
    "Post-16 and further education": ("hnb_spend_fe_post16_gbp",),
    "Other (early years, other arrangements, NEET, programmes)": (
        "hnb_spend_early_years_gbp",
        "hnb_spend_neet_gbp",
        "hnb_spend_ehe_other_gbp",
        "lever_spend_gbp",
    ),
}
BALANCE_LINES = (
    ("High Needs spend", "hnb_spend_gbp"),
    ("High Needs Block income", "hnb_income_gbp"),
    ("In-year balance", "dsg_in_year_balance_gbp"),
    ("Cumulative DSG balance", "dsg_cumulative_balance_gbp"),
)
MITIGATION_METRICS = (
    "hnb_spend_gbp",
    "dsg_cumulative_balance_gbp",
    "total_spend_gbp",
    "ehcp_total_jan",
    "pct_within_20wks_excl_exceptions",
    "caseload_special_independent_nm",
)


def fy_label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def category_values(source: Source, scenario: str) -> tuple[list[int], dict[str, np.ndarray]]:
    """Financial years and replications x years spend by DSG category."""
    years, first = source(scenario, "hnb_spend_gbp")
    out = {}
    for category, metrics in DSG_CATEGORIES.items():
        out[category] = np.asarray(
            sum(source(scenario, m)[1] for m in metrics), dtype=float
        ).reshape(first.shape)
    return years, out


def write_dsg_plan(folder: Path, source: Source, scenarios: Sequence[str]) -> None:
    """dsg_management_plan.csv and .xlsx: spend by category and the balance lines, by
    financial year, with the mean and the 5th and 95th percentiles over replications."""
    rows: list[tuple[Any, ...]] = []
    for scenario in scenarios:
        years, cats = category_values(source, scenario)
        lines = {**cats, **{label: source(scenario, m)[1] for label, m in BALANCE_LINES}}
        for label, table in lines.items():
            for j, year in enumerate(years):
                col = table[:, j]
                rows.append(
                    (
                        scenario,
                        fy_label(year),
                        label,
                        float(np.mean(col)),
                        float(np.percentile(col, 5)),
                        float(np.percentile(col, 95)),
                    )
                )
    write_csv(
        folder / "dsg_management_plan.csv",
        ("scenario", "financial_year", "line", "mean_gbp", "p5_gbp", "p95_gbp"),
        ((*row[:3], *(fmt(round(v)) for v in row[3:])) for row in rows),
    )
    _workbook(folder / "dsg_management_plan.xlsx", source, scenarios, rows)


def _workbook(
    path: Path, source: Source, scenarios: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for scenario in scenarios:
        ws = wb.create_sheet(scenario[:31])
        fy, table = source(scenario, "hnb_spend_gbp")
        years = [fy_label(y) for y in fy]
        ws.append(
            [
                f"{scenario}: High Needs by DSG management plan category (GBP, mean of "
                f"{table.shape[0]} replications)"
            ]
        )
        ws["A1"].font = Font(bold=True)
        ws.append(["Line", *years])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        means = {(r[2], r[1]): r[3] for r in rows if r[0] == scenario}
        labels = [*DSG_CATEGORIES, *(label for label, _ in BALANCE_LINES)]
        for label in labels:
            if label == BALANCE_LINES[0][0]:
                ws.append([])
            ws.append([label, *(round(means[(label, y)]) for y in years)])
        ws.column_dimensions["A"].width = 58
        for row in ws.iter_rows(min_row=3, min_col=2):
            for cell in row:
                cell.number_format = "#,##0"
    bands = wb.create_sheet("bands")
    bands.append(["scenario", "financial_year", "line", "mean_gbp", "p5_gbp", "p95_gbp"])
    for row in rows:
        bands.append([*row[:3], *(round(v) for v in row[3:])])
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    with atomic_open(path, "wb") as f:
        f.write(reproducible_zip(raw.getvalue()))


# An .xlsx is a zip of XML parts. openpyxl stamps the time of saving on the document's
# properties (docProps/core.xml: created, modified) and on every zip entry, so the same
# figures made different bytes every run. The workbook is re-packed with one fixed time
# (the zip format's epoch, as reproducible builds use) in both places, in the same order
# and with the same compression, so the same seed gives the same bytes.
FIXED_TIME = dt.datetime(1980, 1, 1)
_CORE = "docProps/core.xml"
_CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*(</dcterms:)")


def reproducible_zip(data: bytes) -> bytes:
    """The zip archive `data` with every entry's time, and the document properties'
    created and modified times, set to FIXED_TIME."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename == _CORE:
                content = _CORE_TIME.sub(rb"\g<1>" + stamp + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            entry.create_system = 3  # as written on Unix, wherever it is written
            target.writestr(entry, content)
    return out.getvalue()


def mitigation_table(source: Source, scenarios: Sequence[str], base: str) -> list[tuple[Any, ...]]:
    """Unmitigated (the base) against each mitigated scenario, per year: both means and the
    paired difference's mean and 5-95% band (common random numbers)."""
    out: list[tuple[Any, ...]] = []
    for scenario in scenarios:
        if scenario == base:
            continue
        for metric in MITIGATION_METRICS:
            years, a = source(base, metric)
            _, b = source(scenario, metric)
            n = min(len(a), len(b))
            d = b[:n] - a[:n]
            for j, year in enumerate(years):
                out.append(
                    (
                        scenario,
                        base,
                        metric,
                        year,
                        float(nanmean(a[:n, j])),
                        float(nanmean(b[:n, j])),
                        float(nanmean(d[:, j])),
                        float(nanpercentile(d[:, j], 5)),
                        float(nanpercentile(d[:, j], 95)),
                    )
                )
    return out


def waterfall(source: Source, steps: Sequence[tuple[str, str]], base: str) -> list[tuple[Any, ...]]:
    """Savings as levers are added one at a time: for each step (scenario, lever name), the
    fall in total SEND spend over the run's financial years from the step before (paired by
    replication), net of the levers' own costs, with its 5-95% band and the probability it
    saves money."""
    out: list[tuple[Any, ...]] = []
    previous = base
    for scenario, lever in steps:
        before = source(previous, "total_spend_gbp")[1].sum(axis=1)
        after = source(scenario, "total_spend_gbp")[1].sum(axis=1)
        n = min(len(before), len(after))
        saving = before[:n] - after[:n]
        out.append(
            (
                lever,
                scenario,
                float(saving.mean()),
                float(np.percentile(saving, 5)),
                float(np.percentile(saving, 95)),
                float(np.mean(saving > 0)),
            )
        )
        previous = scenario
    return out


def write_waterfall(
    folder: Path, rows: list[tuple[Any, ...]], base: str, la_name: str, plan: str
) -> None:
    write_csv(
        folder / f"waterfall_{plan}.csv",
        ("lever", "scenario", "saving_gbp", "p5_gbp", "p95_gbp", "prob_saves"),
        ((*row[:2], *(fmt(round(v)) for v in row[2:5]), fmt(row[5])) for row in rows),
    )
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    bottom = 0.0
    for k, (_lever, _, mean, p5, p95, _) in enumerate(rows):
        colour = "#2a9d8f" if mean >= 0 else "#e76f51"
        ax.bar(k, mean, bottom=bottom, color=colour)
        ax.errorbar(
            k, bottom + mean, yerr=[[mean - p5], [p95 - mean]], color="black", capsize=4, lw=1
        )
        bottom += mean
    ax.bar(len(rows), bottom, color="#264653")
    ax.set_xticks(
        range(len(rows) + 1),
        [r[0] for r in rows] + ["all levers"],
        rotation=20,
        ha="right",
        fontsize=8,
    )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("saving over the run, GBP (net of lever costs)")
    ax.set_title(f"{la_name}: {plan} against {base}, lever by lever (5-95% bars)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_open(folder / f"waterfall_{plan}.png", "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def write_mitigation(folder: Path, rows: list[tuple[Any, ...]]) -> None:
    write_csv(
        folder / "mitigated.csv",
        (
            "scenario",
            "against",
            "metric",
            "year",
            "unmitigated_mean",
            "mitigated_mean",
            "difference_mean",
            "difference_p5",
            "difference_p95",
        ),
        ((*row[:4], *(fmt(v) for v in row[4:])) for row in rows),
    )


def money_outputs(
    folder: Path,
    source: Source,
    scenarios: Sequence[str],
    steps: Mapping[str, Sequence[Sequence[str]]],
    la_name: str,
    base: str | None = None,
) -> None:
    """The DSG management plan tables, and with several scenarios the unmitigated against
    mitigated table and each plan's savings waterfall."""
    base = base or scenarios[0]
    if not source(base, "hnb_spend_gbp")[0]:
        return  # no whole financial year in the run
    write_dsg_plan(folder, source, scenarios)
    if len(scenarios) > 1:
        write_mitigation(folder, mitigation_table(source, scenarios, base))
    for plan, plan_steps in steps.items():
        rows = waterfall(source, [(s, lever) for s, lever in plan_steps], base)
        write_waterfall(folder, rows, base, la_name, plan)
