"""Fan charts: the simulated future as quantile bands, the LA's published past as points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulation.results import Results

from .outputs import nanmean, nanpercentile, stack

TITLES = {
    "ehcp_total_jan": "EHC plans at the January census",
    "requests_received": "Requests for an EHC needs assessment per year",
    "new_ehcps": "New EHC plans issued per year",
    "pct_within_20wks_excl_exceptions": "% of new plans issued within 20 weeks",
    "ceased_total": "Plans ceased per year (incl. transfers out)",
    "caseload_special_state": "Plans in state special schools (January)",
    "caseload_special_independent_nm": "Plans in independent / non-maintained special (January)",
    "hnb_spend_gbp": "High Needs spend by financial year (GBP)",
    "dsg_cumulative_balance_gbp": "Cumulative DSG balance at 31 March (GBP; below 0 a deficit)",
}
COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def title(metric: str) -> str:
    return TITLES.get(metric, metric.replace("_", " "))


def _finish(fig: Figure, ax: Axes, path: Path, heading: str, metric: str) -> None:
    ax.set_title(heading, fontsize=11)
    census = metric.endswith("_jan") or metric.startswith("caseload")
    money = metric.endswith("_gbp") or metric.startswith("plan_days")
    ax.set_xlabel(
        "January census"
        if census
        else "financial year (April to March, by its first year)"
        if money
        else "calendar year"
    )
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    else:  # nothing to show (money needs a whole financial year inside the run)
        ax.text(
            0.5,
            0.5,
            "no values in this run",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="grey",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _history(ax: Axes, history: Mapping[int, float], la_name: str) -> None:
    if history:
        hy = sorted(history)
        ax.plot(
            hy, [history[y] for y in hy], "o", color="black", ms=4, label=f"{la_name}: published"
        )


def fan_chart(
    path: Path,
    metric: str,
    reps: Sequence[Results],
    scenario: str,
    history: Mapping[int, float],
    la_name: str,
) -> None:
    """One scenario's fan: stacked 5-95% and 25-75% bands with the median line, and the
    LA's published history as points. Census metrics sit at their January, flows at their
    calendar year."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    years, table = stack(list(reps), metric)
    if table.size and not np.all(np.isnan(table)):
        q5, q25, q50, q75, q95 = nanpercentile(table, [5, 25, 50, 75, 95], axis=0)
        colour = COLOURS[0]
        ax.fill_between(years, q5, q95, color=colour, alpha=0.2, lw=0, label="5-95%")
        ax.fill_between(years, q25, q75, color=colour, alpha=0.4, lw=0, label="25-75%")
        ax.plot(years, q50, color=colour, lw=2, label=f"{scenario}: median")
    _history(ax, history, la_name)
    _finish(fig, ax, path, f"{la_name}: {title(metric)} ({len(reps)} replications)", metric)


def scenario_chart(
    path: Path,
    metric: str,
    reps: Mapping[str, Sequence[Results]],
    history: Mapping[int, float],
    la_name: str,
) -> None:
    """Scenarios side by side: each one's median with its 25-75% band."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for k, (scenario, runs) in enumerate(reps.items()):
        years, table = stack(list(runs), metric)
        if not table.size or np.all(np.isnan(table)):
            continue
        q25, q50, q75 = nanpercentile(table, [25, 50, 75], axis=0)
        colour = COLOURS[k % len(COLOURS)]
        ax.fill_between(years, q25, q75, color=colour, alpha=0.2, lw=0)
        ax.plot(years, q50, color=colour, lw=2, label=f"{scenario} (median, 25-75%)")
    _history(ax, history, la_name)
    _finish(fig, ax, path, f"{la_name}: {title(metric)} by scenario", metric)


def difference_chart(
    path: Path,
    metric: str,
    years: Sequence[int],
    diffs: Mapping[str, np.ndarray],
    against: str,
    la_name: str,
) -> None:
    """Paired differences from the base scenario: mean line with the 5-95% band."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.axhline(0, color="black", lw=0.8)
    for k, (scenario, d) in enumerate(diffs.items()):
        if not d.size or np.all(np.isnan(d)):
            continue
        colour = COLOURS[k % len(COLOURS)]
        q5, q95 = nanpercentile(d, [5, 95], axis=0)
        ax.fill_between(years, q5, q95, color=colour, alpha=0.2, lw=0)
        ax.plot(
            years,
            nanmean(d, axis=0),
            color=colour,
            lw=2,
            label=f"{scenario} - {against} (mean, 5-95%)",
        )
    _finish(fig, ax, path, f"{la_name}: {title(metric)}, difference from {against}", metric)
