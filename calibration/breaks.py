"""Known breaks and flagged anomalies in an LA's published series, handled before estimation.

The published history is left as published in the data files; these rules decide what the
estimates read, and each adjustment is listed in the calibration's notes:

* **Statements before the reforms.** Stocks of January 2010-2014 and new "plans" of
  2009-2013 are SEN statements only (note ``statements_only``): a different instrument
  under a different law, so they are left out of every estimate and trend. The transition
  years 2015-2018 (``statements_plus_ehcps``) count statements and plans together; every
  statement had become a plan by April 2018, so they are kept as plans.
* **Person-level SEN2 (January 2023 on; calendar-year flows from 2022).** The return changed
  from aggregate counts to one record per child. Requests, assessments, new plans and
  timeliness keep their definitions and are read across the change. Placement categories
  changed (``caseload_unknown`` is new, ``caseload_neet`` widened, awaiting provision moved
  into other settings): the estimates share unknown placements pro rata and group NEET,
  home education and other settings. No LA published plans by age for January 2023: the
  nearest earlier census with ages is used. Ceased plans by reason exist only from 2022;
  before that the aggregate return's discontinued plans stand in.
* **Boundary changes.** A successor authority's series starts at its creation (Dorset and
  Bournemouth, Christchurch and Poole in 2019; North and West Northamptonshire in 2021;
  Cumberland and Westmorland and Furness in 2023): the predecessor's history is a different
  area and is never spliced on, so a successor's trends rest on fewer years, its estimates
  are wider, and an origin before its first census is refused.
* **Flagged anomalies.** A value DfE has said is wrong (``known_error_dfe_says_N``) is read
  as DfE's correction N. Timeliness figures known not to exclude exceptions
  (``dorset_2021_figures_include_exceptions``) or with every plan classed as an exception
  (``all_plans_classed_as_exceptions``) are left out. Placements of a census where many
  plans had none recorded (``placements_not_recorded_for_many_plans``) are left out, so the
  nearest earlier census gives the mix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from simulation.vocabulary import PLACEMENT_GROUPS

from .la_data import LAHistory

__all__ = ["Adjustment", "clean_history"]

_DROP_FLAGS: Final = {
    "statements_only": "SEN statements before the 2014 reforms, not EHC plans",
    "all_plans_classed_as_exceptions": "every plan was classed as an exception that year",
    "dorset_2021_figures_include_exceptions": "published figures include exceptions",
}
_CORRECTION: Final = re.compile(r"known_error_dfe_says_(\d+(?:\.\d+)?)")
_NO_PLACEMENTS: Final = "placements_not_recorded_for_many_plans"
_PLACEMENT_METRICS: Final = tuple(f"caseload_{g}" for g in (*PLACEMENT_GROUPS, "unknown"))


@dataclass(frozen=True)
class Adjustment:
    """One published value the estimates read differently, and why."""

    metric: str
    year: int
    action: str  # "left out" or "corrected to N"
    reason: str

    def describe(self) -> str:
        return f"{self.metric} {self.year}: {self.action} ({self.reason})"


def clean_history(h: LAHistory) -> tuple[LAHistory, list[Adjustment]]:
    """The history the estimates read, and the adjustments made to the published one."""
    census = {m: dict(v) for m, v in h.census.items()}
    flows = {m: dict(v) for m, v in h.flows.items()}
    done: list[Adjustment] = []

    def drop(metric: str, year: int, reason: str) -> None:
        for table in (census, flows):
            if year in table.get(metric, {}):
                del table[metric][year]
                done.append(Adjustment(metric, year, "left out", reason))

    for (metric, year), note in sorted(h.notes.items()):
        flags = note.split(";")
        for flag in flags:
            if flag in _DROP_FLAGS:
                drop(metric, year, _DROP_FLAGS[flag])
            elif (m := _CORRECTION.fullmatch(flag)) is not None:
                value = float(m.group(1))
                for table in (census, flows):
                    if year in table.get(metric, {}):
                        table[metric][year] = value
                done.append(
                    Adjustment(metric, year, f"corrected to {m.group(1)}", "DfE's footnote")
                )
            elif flag == _NO_PLACEMENTS:
                for pm in _PLACEMENT_METRICS:
                    drop(pm, year, "many plans had no placement recorded that January")
    cleaned = LAHistory(
        la_code=h.la_code,
        la_name=h.la_name,
        census={m: v for m, v in census.items() if v},
        flows={m: v for m, v in flows.items() if v},
        notes=h.notes,
    )
    return cleaned, done
