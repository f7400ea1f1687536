"""The start: the plans open at the start census by setting and age, and the requests and
assessments in progress (parameter section ``initial``).

The caseload is an iterative proportional fit of the published placement and age margins
(from the nearest census that has them, rescaled to the start's total) over the settings
that exist at each age. The work in progress is the published count where there is one,
else Little's law: last year's completed assessments (throughput, not next year's trend)
times the mean time in progress implied by last year's published timeliness bands, whose
shares also set each case's elapsed time (pathway/start.py). No uncertainty: the start is
a census, not an estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulation.pathway.start import weeks_in_progress
from simulation.vocabulary import AGE_BANDS, BAND_NAMES, GROUPS_BY_PHASE, PHASES, PLACEMENT_GROUPS

from ..la_data import DataError, LAHistory, national_need_shares
from .common import Estimate, SectionEstimate
from .demand import WEEKS, DemandEstimate

__all__ = ["InitialEstimate", "estimate", "initial_caseload", "ipf"]


@dataclass(frozen=True, kw_only=True)
class InitialEstimate(SectionEstimate):
    """The start's estimates; ``caseload`` the plans by group and age band."""

    caseload: dict[str, tuple[float, ...]]

    @property
    def stock_by_band(self) -> np.ndarray:
        """Plans by age band at the start."""
        return np.array([sum(v[b] for v in self.caseload.values()) for b in range(len(BAND_NAMES))])


def ipf(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Iterative proportional fitting of a non-negative seed to row and column totals;
    zeros in the seed (settings that do not exist at an age) stay zero."""
    m = seed.astype(float).copy()
    for _ in range(iterations):
        r = m.sum(axis=1)
        m *= np.divide(rows, r, out=np.zeros_like(rows, dtype=float), where=r > 0)[:, None]
        c = m.sum(axis=0)
        m *= np.divide(cols, c, out=np.zeros_like(cols, dtype=float), where=c > 0)[None, :]
    return m


def _band_groups() -> np.ndarray:
    """Structural seed: 1 where a placement group exists at some age of a band."""
    seed = np.zeros((len(BAND_NAMES), len(PLACEMENT_GROUPS)))
    for b, (lo, hi) in enumerate(AGE_BANDS.values()):
        for phase, (plo, phi) in PHASES.items():
            if plo <= hi and lo <= phi:
                for g in GROUPS_BY_PHASE[phase]:
                    seed[b, PLACEMENT_GROUPS.index(g)] = 1.0
    return seed


def _groups_at(h: LAHistory, year: int) -> np.ndarray | None:
    """Plans by placement group at a January census; SEN2's mainstream includes resourced
    provision, which is split out, and 'unknown' is shared pro rata."""
    vals = {g: h.get(f"caseload_{g}", year) for g in PLACEMENT_GROUPS}
    if any(v is None for v in vals.values()):
        return None
    v = np.array([float(vals[g] or 0.0) for g in PLACEMENT_GROUPS])
    v[PLACEMENT_GROUPS.index("mainstream")] -= v[PLACEMENT_GROUPS.index("mainstream_rp_senunit")]
    v = np.maximum(v, 0.0)
    total = h.get("ehcp_total_jan", year)
    if total is not None and v.sum() > 0:
        v *= total / v.sum()
    return np.asarray(v, dtype=float)


def _bands_at(h: LAHistory, year: int) -> np.ndarray | None:
    vals = [h.get(f"caseload_age_{b}", year) for b in BAND_NAMES]
    if any(v is None for v in vals):
        return None
    return np.array([float(v or 0.0) for v in vals])


def _nearest(
    h: LAHistory,
    year: int,
    getter: Callable[[LAHistory, int], np.ndarray | None],
    latest: int | None = None,
) -> tuple[np.ndarray, int] | None:
    """The nearest census to `year` with values, never later than `latest` (default: the
    year itself, so a forecast never reads a later census)."""
    latest = year if latest is None else latest
    for d in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5):
        if year + d > latest:
            continue
        v = getter(h, year + d)
        if v is not None and v.sum() > 0:
            return v, year + d
    return None


def initial_caseload(
    h: LAHistory, year: int, latest: int | None = None
) -> tuple[dict[str, tuple[float, ...]], str]:
    """Plans at the start census by group and age band: an IPF of the published placement
    and age margins (taken from the nearest census that has them, no later than `latest`,
    rescaled to the year's total) over the settings that exist at each age."""
    total = h.get("ehcp_total_jan", year)
    if total is None:
        raise DataError(f"{h.la_name}: no ehcp_total_jan for January {year}")
    groups = _nearest(h, year, _groups_at, latest)
    bands = _nearest(h, year, _bands_at, latest)
    if groups is None or bands is None:
        raise DataError(f"{h.la_name}: no caseload by placement and age near January {year}")
    g, gy = groups
    b, by = bands
    g = g * total / g.sum()
    b = b * total / b.sum()
    joint = ipf(_band_groups(), b, g)
    caseload = {
        grp: tuple(float(x) for x in joint[:, j])
        for j, grp in enumerate(PLACEMENT_GROUPS)
        if joint[:, j].sum() > 0
    }
    return caseload, (
        f"IPF of placement groups (Jan {gy}) and age bands (Jan {by}) "
        f"scaled to {total:.0f} plans (Jan {year})"
    )


def issue_band_shares(h: LAHistory, year: int) -> tuple[tuple[float, float, float], str]:
    """Shares of plans issued within 20 weeks, in 20-52 and after 52 weeks (excluding
    exceptions) in ``year``: the published bands (2023 on), else the 20-week % with the rest
    in 20-52 weeks, else all within 20 weeks (*assumption*)."""
    w20 = h.get("issued_within_20wks_excl_exceptions", year)
    w52 = h.get("issued_20to52wks_excl_exceptions", year)
    over = h.get("issued_over52wks_excl_exceptions", year)
    if w20 is not None and w52 is not None and over is not None and w20 + w52 + over > 0:
        t = w20 + w52 + over
        return (w20 / t, w52 / t, over / t), f"published timeliness bands {year}"
    pct = h.get("pct_within_20wks_excl_exceptions", year)
    if pct is not None:
        return (pct / 100, 1 - pct / 100, 0.0), f"published 20-week % {year}, the rest 20-52"
    return (1.0, 0.0, 0.0), "no timeliness published: all within 20 weeks (*assumption*)"


def _completions(h: LAHistory, year: int) -> float | None:
    """Assessments completed in ``year``: plans issued plus decisions not to issue."""
    new = h.get("new_ehcps", year)
    not_issued = h.get("assessments_not_issued", year)
    if new is None:
        return None
    return new + (not_issued or 0.0)


def estimate(
    h: LAHistory,
    england: LAHistory | None,
    as_of: int,
    *,
    demand: DemandEstimate,
    p_refuse: float,
    census_until: int | None = None,
) -> InitialEstimate:
    """The state at January ``as_of``; the caseload's shape may come from a census up to
    ``census_until`` (default: ``as_of`` itself; a history replay may read later ones)."""
    last = as_of - 1
    notes: list[Estimate] = []
    outstanding = h.get("requests_decision_outstanding", last)
    # Else 3 weeks of last year's requests (*assumption*: half the 6 weeks to decide).
    awaiting = (
        round(outstanding)
        if outstanding is not None
        else round(demand.requests_last_year / WEEKS * 3)
    )
    bands, bands_note = issue_band_shares(h, last)
    notes.append(Estimate("initial.issue_band_shares", bands, bands_note))
    done = _completions(h, last)
    how = f"assessments completed in {last}"
    if done is None:
        done = demand.requests_last_year * (1 - p_refuse)
        how = f"requests in {last} less refusals"
    notes.append(Estimate("initial.completions_per_year", round(done), how))
    in_progress = h.get("assessments_in_progress_at_31dec", last)
    if in_progress is None:
        weeks = weeks_in_progress(bands)
        in_progress = done * weeks / WEEKS
        notes.append(
            Estimate(
                "initial.assessments_in_progress",
                round(in_progress),
                f"Little's law: {done:.0f} a year ({how}) x {weeks:.1f} weeks from the "
                f"decision to assess to the plan ({bands_note})",
            )
        )
    caseload, caseload_note = initial_caseload(h, as_of, census_until)
    la_total = float(h.get("ehcp_total_jan", as_of) or 0.0)
    notes.append(Estimate("initial.caseload", round(la_total), caseload_note))
    _, need_all = national_need_shares()
    return InitialEstimate(
        values={
            "initial": {
                "caseload": caseload,
                "assessments_in_progress": round(in_progress),
                "requests_awaiting_decision": awaiting,
                "issue_band_shares": bands,
                "completions_per_year": float(done),
                "need_shares": need_all,
            }
        },
        notes=tuple(notes),
        caseload=caseload,
    )
