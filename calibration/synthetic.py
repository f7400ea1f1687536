"""A replication's output written as published data: the tidy SEN2 schema of the bundled
file, for data the model itself generated (the parameter-recovery test simulates with known
parameters, writes the history, calibrates on it and checks the parameters come back).

The model's metrics follow SEN2's names; two differ in what they count and are converted
here: SEN2's mainstream caseload includes resourced provision and SEN units (the model
keeps them apart), and SEN2 publishes plans issued both with and without exceptions (the
model's new plans include them).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from simulation.results import Results
from simulation.vocabulary import BAND_NAMES, CEASE_REASONS, PLACEMENT_GROUPS

from .la_data import CENSUS, FLOW, REQUIRED_COLUMNS

__all__ = ["history_rows", "write_tidy"]

CENSUS_PUBLISHED: Final = (
    "ehcp_total_jan",
    *(f"caseload_{g}" for g in PLACEMENT_GROUPS),
    *(f"caseload_age_{b}" for b in BAND_NAMES),
)
FLOWS_PUBLISHED: Final = (
    "requests_received",
    "requests_refused",
    "pct_requests_decided_within_6wks",
    "assessments_not_issued",
    "new_ehcps",
    *(f"newplans_age_{b}" for b in BAND_NAMES),
    "plans_issued_excl_exceptions",
    "issued_within_20wks_excl_exceptions",
    "pct_within_20wks_excl_exceptions",
    "ceased_total",
    *(f"ceased_{r}" for r in CEASE_REASONS),
)


def history_rows(r: Results, la_code: str, la_name: str) -> list[tuple[object, ...]]:
    """Rows (la_code, la_name, year, period_type, metric, value) of one replication's
    census stocks and calendar-year flows, as SEN2 would publish them."""
    rows: list[tuple[object, ...]] = []
    for metric in CENSUS_PUBLISHED:
        years, values = r.table(metric)
        for y, v in zip(years, values, strict=True):
            if metric == "caseload_mainstream":
                v = v + r.value("caseload_mainstream_rp_senunit", y)
            rows.append((la_code, la_name, y, CENSUS, metric, round(float(v))))
    for metric in FLOWS_PUBLISHED:
        years, values = r.table(metric)
        for y, v in zip(years, values, strict=True):
            if not math.isfinite(float(v)):
                continue
            value = round(float(v), 1) if metric.startswith("pct_") else round(float(v))
            rows.append((la_code, la_name, y, FLOW, metric, value))
        if metric == "new_ehcps":
            for y, v in zip(years, values, strict=True):
                rows.append((la_code, la_name, y, FLOW, "assessments_plan_issued", round(float(v))))
                rows.append(
                    (la_code, la_name, y, FLOW, "plans_issued_incl_exceptions", round(float(v)))
                )
    return rows


def write_tidy(path: Path, rows: Iterable[tuple[object, ...]]) -> None:
    """A data file in the bundled schema (see docs/data-schema.md)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(REQUIRED_COLUMNS)
        w.writerows(rows)
