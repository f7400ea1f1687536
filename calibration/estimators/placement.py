"""Placement: where new plans are placed, and the state special and resourced places
(parameter section ``placement``).

SEN2 does not publish new plans by placement for an LA, so the mix of new plans at each
phase is the LA's own caseload mix at that phase: a phase's new plans then keep its mix,
and the shares move only by the moves at reviews and phase transfers (estimated from the
LA's transfers and its post-16 caseload) and by places. England's all-age tilt (new plans
start in mainstream far more often than the caseload is placed there) is not applied: it
moved the mainstream share 1.3-3.5 points a year against LAs' own -0.8 to +0.8. Its
uncertainty is a Dirichlet per phase, as certain as one year of that phase's new plans
would make it (*assumption*). State special and resourced places start full (they are in
most LAs) and grow by the observed annual growth of their caseload.
"""

from __future__ import annotations

import numpy as np

from simulation.uncertainty import Component, Uncertain
from simulation.vocabulary import AGE_BANDS, BAND_NAMES, GROUPS_BY_PHASE, PHASES, PLACEMENT_GROUPS

from ..la_data import LAHistory
from .common import RECENT_YEARS, TREND_YEARS, SectionEstimate
from .initial import InitialEstimate

__all__ = ["estimate"]


def _new_plan_mix(caseload: dict[str, tuple[float, ...]]) -> dict[str, dict[str, float]]:
    """Placement of new plans by phase: the LA's own caseload mix at each phase (its ages'
    bands in the start caseload), so that a phase's new plans keep its mix."""
    stock = np.array([caseload.get(g, (0.0,) * len(BAND_NAMES)) for g in PLACEMENT_GROUPS]).T
    mix: dict[str, dict[str, float]] = {}
    for phase, (lo, hi) in PHASES.items():
        bands = [i for i, (blo, bhi) in enumerate(AGE_BANDS.values()) if blo <= hi and lo <= bhi]
        row = stock[bands].sum(axis=0)
        allowed = GROUPS_BY_PHASE[phase]
        shares = {g: float(row[j]) for j, g in enumerate(PLACEMENT_GROUPS) if g in allowed}
        if sum(shares.values()) <= 0:
            shares = {allowed[0]: 1.0}
        s = sum(shares.values())
        mix[phase] = {g: round(v / s, 6) for g, v in shares.items()}
    return mix


def _growth(h: LAHistory, metric: str, as_of: int) -> int:
    """The mean yearly change of a census series over up to TREND_YEARS censuses to
    ``as_of`` (0 with under two)."""
    s = {y: v for y, v in h.series(metric).items() if y <= as_of}
    ys = sorted(s)[-TREND_YEARS:]
    if len(ys) < 2:
        return 0
    return round((s[ys[-1]] - s[ys[0]]) / (ys[-1] - ys[0]))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Share of band ``b``'s ages that fall in ``a``."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return max(0, hi - lo + 1) / (b[1] - b[0] + 1)


def _uncertainty(
    h: LAHistory, last: int, mix_by_phase: dict[str, dict[str, float]]
) -> tuple[Uncertain, ...]:
    """A Dirichlet per phase, worth one year of the phase's new plans."""
    items: list[Uncertain] = []
    new = h.series("new_ehcps")
    new_last = np.mean([v for y, v in new.items() if y <= last][-RECENT_YEARS:] or [0.0])
    band_new = np.array(
        [sum(v for y, v in h.series(f"newplans_age_{b}").items() if y <= last) for b in BAND_NAMES]
    )
    band_share = band_new / band_new.sum() if band_new.sum() > 0 else np.full(len(BAND_NAMES), 0.2)
    for phase, (lo, hi) in PHASES.items():
        mix = mix_by_phase.get(phase, {})
        keys = tuple(k for k, v in mix.items() if v > 0)
        if len(keys) < 2:
            continue
        share = sum(
            band_share[b] * _overlap((lo, hi), rng) for b, rng in enumerate(AGE_BANDS.values())
        )
        n_year = float(new_last * share)
        if n_year < 2:
            continue
        total = sum(mix[k] for k in keys)
        point = tuple(mix[k] / total for k in keys)
        items.append(
            Uncertain(
                f"placement_{phase}",
                "dirichlet",
                {"alpha": [p * n_year for p in point]},
                (Component((f"placement.mix_by_phase.{phase}",), "log_shares", point, keys),),
                f"mix of new {phase} plans, as certain as one year's {n_year:.0f} plans "
                "(*assumption*)",
            )
        )
    return tuple(items)


def estimate(
    h: LAHistory, england: LAHistory | None, as_of: int, *, initial: InitialEstimate
) -> SectionEstimate:
    """Placement from January ``as_of`` (flows to the year before), from ``initial``'s
    caseload."""
    caseload = initial.caseload
    mix = _new_plan_mix(caseload)
    return SectionEstimate(
        values={
            "placement": {
                "mix_by_phase": mix,
                "special_state_places": round(sum(caseload.get("special_state", (0.0,)))),
                "rp_places": round(sum(caseload.get("mainstream_rp_senunit", (0.0,)))),
                "special_places_added_per_year": max(
                    0, _growth(h, "caseload_special_state", as_of)
                ),
                "rp_places_added_per_year": max(
                    0, _growth(h, "caseload_mainstream_rp_senunit", as_of)
                ),
            }
        },
        uncertainty=_uncertainty(h, as_of - 1, mix),
    )
