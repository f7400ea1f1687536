"""Ceasing and moves: plans ending by reason, and plans moving in from other LAs
(parameter sections ``exits`` and ``phase_transfer``, and ``review.p_cease``).

Ceasing is estimated from the person-level SEN2 ceased-plan counts by reason (2022 on):
moves, deaths and other reasons as hazards over all ages in proportion to the caseload;
leaving education over ages 16-25; needs met at annual reviews. Before person-level SEN2
the aggregate return's discontinued plans stand in, scaled up to the LA's net exits from
the stock-flow identity (the return undercounted plans ended). The uncertainty is the
level of every ceasing hazard together: log-normal with the predictive spread of the
yearly log ceasing rates, at least the Poisson spread.

Moves in are the stock-flow residual, stock(y+1) - stock(y) - new(y) + ceased(y), with
the predictive spread of the yearly residuals; they arrive at the ages of new plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulation.uncertainty import Component, Uncertain
from simulation.vocabulary import BAND_NAMES, CEASE_REASONS, HAZARD_REASONS

from ..la_data import LAHistory
from ..national import national_single_age_caseload
from .common import (
    RECENT_YEARS,
    Estimate,
    SectionEstimate,
    mean_recent,
    moves_in_by_year,
    net_exits_by_year,
)
from .demand import DemandEstimate
from .initial import InitialEstimate

__all__ = ["CeasingEstimate", "estimate"]


@dataclass(frozen=True, kw_only=True)
class CeasingEstimate(SectionEstimate):
    """Ceasing's estimates; ``p_cease`` the share of annual reviews that cease a plan
    (needs met), which the review outcomes leave room for."""

    @property
    def p_cease(self) -> float:
        return float(self.values["review"]["p_cease"])


@dataclass(frozen=True)
class _Ceasing:
    hazards: dict[str, tuple[float, ...]]
    p_cease_review: float
    p_cease_at_19: float
    leaving_reasons: dict[str, float]
    note: str


def _ceasing(
    h: LAHistory, until: int, stock_by_band: np.ndarray, england: LAHistory | None
) -> _Ceasing:
    """Ceasing by reason from the person-level SEN2 ceased-plan counts (2022 on): moves,
    deaths and other reasons as hazards over all ages in proportion to the caseload;
    leaving education at 19 and over ages 16-25; needs met at annual reviews."""
    counts = {
        r: mean_recent(h.series(f"ceased_{r}"), until)
        for r in (*CEASE_REASONS, "not_rec")  # SEN2's 'not_rec' goes with 'other' below
    }
    note = f"{h.la_name} ceased plans by reason, mean of up to {RECENT_YEARS} years to {until}"
    if all(v is None for v in counts.values()):
        counts, note = _discontinued(h, until, england, stock_by_band)
    c = {r: float(v or 0.0) for r, v in counts.items()}
    c["other"] += c.pop("not_rec")
    stock = np.maximum(stock_by_band, 1e-9)
    # Leaving education (work, HE, disengaging) happens over ages 16-25. The 20-25 band is
    # fed each September by the 19-year-olds of the 16-19 band (England's single ages give
    # their share of the band) and kept small by leaving: its hazard is what holds that
    # band steady; the rest of the LA's published leavers come from the 16-19 band.
    leaving = ("employment", "he", "no_longer_engaging")
    leavers = sum(c[r] for r in leaving)
    ages = national_single_age_caseload()
    share_19 = ages[19] / sum(ages[16:20]) if sum(ages[16:20]) > 0 else 0.25
    s16, s20 = stock[3], stock[4]
    h20 = max(0.0, s16 * share_19 - c.get("max_age", 0.0)) / s20
    h20 = min(h20, leavers / s20, 5.0)
    h16 = max(0.0, leavers - h20 * s20) / s16
    shape = np.array([0.0, 0.0, 0.0, h16, h20])
    level = 1.0
    hazards: dict[str, tuple[float, ...]] = {}
    for r in HAZARD_REASONS:
        if r in leaving:
            share = c[r] / leavers if leavers > 0 else 0.0
            hazards[r] = tuple(float(min(x, 10.0)) for x in level * share * shape)
        else:
            hazards[r] = (float(min(c.get(r, 0.0) / stock.sum(), 10.0)),) * len(BAND_NAMES)
    p_cease_review = c["needs_met"] / stock_by_band.sum() if stock_by_band.sum() else 0.0
    reasons = {r: c[r] / leavers if leavers > 0 else 1 / 3 for r in leaving}
    return _Ceasing(hazards, min(p_cease_review, 1.0), 0.0, reasons, note)


def _discontinued(
    h: LAHistory, until: int, england: LAHistory | None, stock_by_band: np.ndarray
) -> tuple[dict[str, float | None], str]:
    """Before person-level SEN2 (ceased plans by reason from 2022), the aggregate return's
    discontinued plans (2015-2021) stand in: transfers to another LA, needs met, left
    education (all counted as no longer engaging: the return does not split it) and other.
    The LA's own where published up to `until`, else England's scaled to the LA's caseload."""
    mapping = {
        "transfer": "discontinued_transfer_other_la",
        "needs_met": "discontinued_needs_met",
        "no_longer_engaging": "discontinued_left_education",
        "other": "discontinued_other",
    }
    for src in (h, england):
        if src is None:
            continue
        counts: dict[str, float | None] = {
            r: mean_recent(src.series(m), until) for r, m in mapping.items()
        }
        if any(v is not None for v in counts.values()):
            scale = 1.0
            if src is not h:
                eng_total = mean_recent(src.series("ehcp_total_jan"), until + 1)
                scale = stock_by_band.sum() / eng_total if eng_total else 0.0
            out: dict[str, float | None] = {r: 0.0 for r in (*CEASE_REASONS, "not_rec")}
            out.update({r: (v or 0.0) * scale for r, v in counts.items()})
            how = ""
            # The aggregate return undercounted plans ended (England's 2021 total was 62% of
            # the person-level 2022 count, and some LAs returned almost none): the
            # stock-flow identity gives the LA's net exits, new(y) - (stock(y+1) - stock(y)),
            # and the non-transfer reasons are scaled up to them in their published mix.
            net = _net_exits(h, until)
            kept = ("needs_met", "no_longer_engaging", "other")
            published = sum(out[r] or 0.0 for r in kept)
            if net is not None and net > published:
                if published > 0:
                    for r in kept:
                        out[r] = (out[r] or 0.0) * net / published
                else:
                    out["no_longer_engaging"] = net
                how = f", scaled to the LA's net exits by the stock-flow identity ({net:.0f}/yr)"
            return out, (
                f"{src.la_name} SEN2 discontinued plans to {until} (before ceased "
                f"plans by reason were published){how}"
            )
    return {r: None for r in (*CEASE_REASONS, "not_rec")}, "no ceased or discontinued plans"


def _net_exits(h: LAHistory, until: int) -> float | None:
    """Mean net exits over the recent years (see net_exits_by_year)."""
    vals = list(net_exits_by_year(h, until).values())[-RECENT_YEARS:]
    return max(0.0, float(np.mean(vals))) if vals else None


def _moves_in(h: LAHistory, until: int) -> tuple[float, str]:
    """Plans moving in per year from the stock-flow identity:
    in(y) = stock(y+1) - stock(y) - new(y) + ceased(y), over years with ceased plans."""
    vals = list(moves_in_by_year(h, until).values())[-RECENT_YEARS:]
    if not vals:
        # Before person-level SEN2, transfers in are taken to match the plans transferred
        # out to other LAs (they cancel across England), which the aggregate return gives.
        out = mean_recent(h.series("discontinued_transfer_other_la"), until)
        if out is not None:
            return out, (
                "no ceased-plan data up to the start: moves in taken to equal the "
                f"discontinued transfers to other LAs ({out:.0f} a year, *assumption*)"
            )
        return 0.0, "no ceased-plan data up to the start: no moves in assumed"
    return max(0.0, float(np.mean(vals))), (
        f"stock-flow residual stock(y+1)-stock(y)-new(y)+ceased(y), mean of {len(vals)} years"
    )


def _log_rates(num: dict[int, float], den: dict[int, float], years: list[int]) -> list[float]:
    return [math.log(num[y] / den[y]) for y in years if num.get(y, 0) > 0 and den.get(y, 0) > 0]


def _uncertainty(h: LAHistory, last: int) -> tuple[Uncertain, ...]:
    """The level of all ceasing hazards together, and moves in."""
    items: list[Uncertain] = []
    ceased = h.series("ceased_total")
    stock = h.series("ehcp_total_jan")
    what = "plans ceased"
    if not [y for y in ceased if y <= last]:
        # Before person-level SEN2 the aggregate return undercounted plans ended (see
        # _discontinued): net exits from the stock-flow identity stand in.
        ceased = {y: v for y, v in net_exits_by_year(h, last).items() if v > 0}
        what = "net exits (new plans less the change in the caseload)"
    years = [y for y in sorted(ceased) if y <= last and y in stock][-RECENT_YEARS:]
    logs = _log_rates(ceased, stock, years)
    if logs:
        spread = (
            float(np.std(logs, ddof=1)) * math.sqrt(1 + 1 / len(logs)) if len(logs) >= 2 else 0.0
        )
        poisson = 1.0 / math.sqrt(max(1.0, sum(ceased[y] for y in years)))
        items.append(
            Uncertain(
                "ceasing",
                "normal",
                {"mean": 0.0, "sd": max(spread, poisson)},
                (Component(("exits.hazard_by_band", "review.p_cease"), "log", 0.0),),
                f"yearly {what} / January caseload, {years[0]}-{years[-1]}",
            )
        )
    residuals = list(moves_in_by_year(h, last).values())[-RECENT_YEARS:]
    if len(residuals) >= 2:
        items.append(
            Uncertain(
                "moves_in",
                "normal",
                {
                    "mean": 0.0,
                    "sd": float(np.std(residuals, ddof=1) * math.sqrt(1 + 1 / len(residuals))),
                },
                (Component(("exits.moves_in_per_year",), "shift", 0.0),),
                f"predictive spread of {len(residuals)} yearly stock-flow residuals",
            )
        )
    return tuple(items)


MAINSTREAM = ("mainstream", "mainstream_rp_senunit")


def p_to_fe_at_16(caseload: dict[str, tuple[float, ...]]) -> tuple[float, str]:
    """Chance a young person in a mainstream school leaves it for college at 16: one less
    the plans in mainstream (with resourced provision) per year of age at 16-18 over those
    per year of age at 11-15, in the start caseload (the fit of the LA's published placement
    and age margins). 0 when the LA has no mainstream plans at 11-15."""
    bands = {b: i for i, b in enumerate(BAND_NAMES)}

    def mainstream(band: str) -> float:
        return sum(caseload.get(g, (0.0,) * len(BAND_NAMES))[bands[band]] for g in MAINSTREAM)

    school = mainstream("11to15") / 5  # ages 11-15
    sixth_form = mainstream("16to19") / 3  # ages 16-18: no school after 18 (post19)
    if school <= 0:
        return 0.0, "no mainstream plans at 11-15: none move at 16"
    p = float(np.clip(1 - sixth_form / school, 0.0, 1.0))
    return p, (
        f"1 - mainstream plans a year of age at 16-18 ({sixth_form:.0f}) / at 11-15 "
        f"({school:.0f}), start caseload"
    )


def estimate(
    h: LAHistory,
    england: LAHistory | None,
    as_of: int,
    *,
    demand: DemandEstimate,
    initial: InitialEstimate,
) -> CeasingEstimate:
    """Ceasing and moves in from January ``as_of`` (flows to the year before), in
    proportion to ``initial``'s caseload; moves in at the ages of ``demand``'s new plans."""
    last = as_of - 1
    ceasing = _ceasing(h, last, initial.stock_by_band, england)
    moves_in, moves_note = _moves_in(h, last)
    to_fe, to_fe_note = p_to_fe_at_16(initial.caseload)
    return CeasingEstimate(
        values={
            "review": {"p_cease": min(ceasing.p_cease_review, 0.5)},
            "phase_transfer": {
                "p_cease_at_16": 0.0,
                "p_to_fe_at_16": to_fe,
                "p_cease_at_19": ceasing.p_cease_at_19,
                "leaving_reason_shares": ceasing.leaving_reasons,
            },
            "exits": {
                "hazard_by_band": ceasing.hazards,
                "moves_in_per_year": moves_in,
                "moves_in_band_shares": list(demand.band_shares),
            },
        },
        notes=(
            Estimate("exits.hazard_by_band", "", ceasing.note),
            Estimate("exits.moves_in_per_year", round(moves_in, 1), moves_note),
            Estimate("phase_transfer.p_to_fe_at_16", round(to_fe, 3), to_fe_note),
        ),
        uncertainty=_uncertainty(h, last),
    )
