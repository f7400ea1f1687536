"""Fan charts: the simulated future as quantile bands, the LA's published past as points."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from simulation.results import Results

TITLES = {
    "ehcp_total_jan": "EHC plans at the January census",
    "requests_received": "Requests for an EHC needs assessment per year",
    "new_ehcps": "New EHC plans issued per year",
    "pct_within_20wks_excl_exceptions": "% of new plans issued within 20 weeks",
    "ceased_total": "Plans ceased per year (incl. transfers out)",
    "caseload_special_state": "Plans in state special schools (January)",
    "caseload_special_independent_nm": "Plans in independent / non-maintained special (January)",
}


def fan_chart(
    path: Path,
    metric: str,
    reps: Mapping[str, list[Results]],
    history: Mapping[int, float],
    la_name: str,
) -> None:
    """One PNG: 5-95% and 25-75% bands with the median for each scenario, history as
    points. Census metrics are plotted at their January, flows at their calendar year."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (scenario, runs) in enumerate(reps.items()):
        first = runs[0]
        census = metric in first.census
        years = np.array(first.census_years if census else first.flow_years)
        stack = np.array([(r.census if census else r.flows)[metric] for r in runs], float)
        colour = colours[k % len(colours)]
        if np.all(np.isnan(stack)):
            continue
        q5, q25, q50, q75, q95 = np.nanpercentile(stack, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(years, q5, q95, color=colour, alpha=0.18, lw=0, label=f"{scenario}: 5-95%")
        ax.fill_between(
            years, q25, q75, color=colour, alpha=0.35, lw=0, label=f"{scenario}: 25-75%"
        )
        ax.plot(years, q50, color=colour, lw=2, label=f"{scenario}: median")
    if history:
        hy = sorted(history)
        ax.plot(
            hy, [history[y] for y in hy], "o", color="black", ms=4, label=f"{la_name}: published"
        )
    ax.set_title(f"{la_name}: {TITLES.get(metric, metric)}", fontsize=11)
    ax.set_xlabel(
        "January census"
        if metric.endswith("_jan") or metric.startswith("caseload")
        else "calendar year"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
