"""Default parameters for an LA, estimated directly from its own published history.

Each estimate is a plain statistic of the SEN2 series (a recent mean, a ratio, a log-linear
trend, an iterative proportional fit), documented where it is made; where the LA publishes
nothing the England figure stands in, and where nobody publishes anything the value is an
assumption named in the parameter's documentation. Fitted calibration with uncertainty is
a separate step (`sendsim calibrate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from simulation.parameters import Parameters
from simulation.vocabulary import (
    AGE_BANDS,
    BAND_NAMES,
    CEASE_REASONS,
    GROUPS_BY_PHASE,
    HAZARD_REASONS,
    N_AGES,
    PHASES,
    PLACEMENT_GROUPS,
)

from .breaks import clean_history
from .la_data import (
    DataError,
    Dataset,
    LAHistory,
    load_dataset,
    national_need_shares,
    national_sen_support_and_ehcp,
)
from .national import (
    dsg_balance_pct,
    hnb_allocations,
    national_placements,
    national_single_age_caseload,
    national_tribunal_in_favour,
    national_unit_costs,
)

RECENT_YEARS = 3
TREND_YEARS = 5
# Share of the teams' time the defaults assume is taken by the present workload: the
# teams are sized so that last year's volume runs at 90% utilisation. *Assumption*,
# replaced by fitted capacity in `sendsim calibrate`.
DEFAULT_UTILISATION = 0.9
# A team whose plans are mostly late (under half within 20 weeks) is taken to be working
# at capacity, 98% busy. *Assumption*.
BACKLOG_PCT_WITHIN_20WKS = 50.0
FLAT_OUT_UTILISATION = 0.98
POOL_AGES = range(4, 16)  # Reception to Year 11: school SEN support


@dataclass(frozen=True)
class Estimate:
    """A default with a line on where it came from, for the run manifest."""

    key: str
    value: object
    source: str


def _recent(series: dict[int, float], until: int, n: int = RECENT_YEARS) -> list[float]:
    return [series[y] for y in sorted(series) if y <= until][-n:]


def _mean_recent(series: dict[int, float], until: int, n: int = RECENT_YEARS) -> float | None:
    vals = _recent(series, until, n)
    return float(np.mean(vals)) if vals else None


def _ratio_recent(
    num: dict[int, float], den: dict[int, float], until: int, n: int = RECENT_YEARS
) -> float | None:
    years = [y for y in sorted(set(num) & set(den)) if y <= until][-n:]
    d = sum(den[y] for y in years)
    return sum(num[y] for y in years) / d if years and d > 0 else None


def log_linear_trend(series: dict[int, float], until: int, n: int = TREND_YEARS) -> float:
    """Annual proportional growth from a least-squares line through log values of the last
    `n` years (0 when fewer than 3 positive values)."""
    years = [y for y in sorted(series) if y <= until and series[y] > 0][-n:]
    if len(years) < 3:
        return 0.0
    slope = np.polyfit(years, np.log([series[y] for y in years]), 1)[0]
    return float(math.expm1(slope))


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
    h: LAHistory, year: int, getter: object, latest: int | None = None
) -> tuple[np.ndarray, int] | None:
    """The nearest census to `year` with values, never later than `latest` (default: the
    year itself, so a forecast never reads a later census)."""
    fn = getter  # a callable (h, year) -> array | None
    latest = year if latest is None else latest
    for d in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5):
        if year + d > latest:
            continue
        v = fn(h, year + d)  # type: ignore[operator]
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


def _new_plan_mix(
    h: LAHistory, year: int, latest: int | None = None
) -> dict[str, dict[str, float]]:
    """Placement of new plans by phase: the LA's own caseload mix at each phase, tilted by
    how England's new plans differ from England's caseload (new plans start in mainstream
    far more often than the caseload as a whole is placed there)."""
    caseload, _ = initial_caseload(h, year, latest)
    stock = np.array([caseload.get(g, (0.0,) * len(BAND_NAMES)) for g in PLACEMENT_GROUPS]).T
    new_nat, stock_nat = national_placements(year)
    tilt = np.array(
        [new_nat.get(g, 0.0) / stock_nat[g] if stock_nat.get(g) else 1.0 for g in PLACEMENT_GROUPS]
    )
    mix: dict[str, dict[str, float]] = {}
    for phase, (lo, hi) in PHASES.items():
        bands = [i for i, (blo, bhi) in enumerate(AGE_BANDS.values()) if blo <= hi and lo <= bhi]
        row = stock[bands].sum(axis=0) * tilt
        allowed = GROUPS_BY_PHASE[phase]
        shares = {g: float(row[j]) for j, g in enumerate(PLACEMENT_GROUPS) if g in allowed}
        if sum(shares.values()) <= 0:
            shares = {allowed[0]: 1.0}
        s = sum(shares.values())
        mix[phase] = {g: round(v / s, 6) for g, v in shares.items()}
    return mix


def _band_shares(h: LAHistory, until: int, prefix: str, england: LAHistory | None) -> np.ndarray:
    """Recent shares by age band of a banded SEN2 series (new plans by age at start),
    England's where the LA publishes none."""
    for src in (h, england):
        if src is None:
            continue
        totals = np.array([sum(_recent(src.series(f"{prefix}{b}"), until)) for b in BAND_NAMES])
        if totals.sum() > 0:
            return np.asarray(totals / totals.sum(), dtype=float)
    raise DataError(f"{h.la_name}: no {prefix}* series up to {until}, nor for England")


def _spread(values_by_band: Iterable[float], ages_by_band: list[range]) -> list[float]:
    out = [0.0] * N_AGES
    for v, ages in zip(values_by_band, ages_by_band, strict=True):
        for a in ages:
            out[a] += v / len(ages)
    return out


def _ceasing(
    h: LAHistory, until: int, stock_by_band: np.ndarray, england: LAHistory | None
) -> Ceasing:
    """Ceasing by reason from the person-level SEN2 ceased-plan counts (2022 on): moves,
    deaths and other reasons as hazards over all ages in proportion to the caseload;
    leaving education at 19 and over ages 16-25; needs met at annual reviews."""
    counts = {
        r: _mean_recent(h.series(f"ceased_{r}"), until)
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
    return Ceasing(hazards, min(p_cease_review, 1.0), 0.0, reasons, note)


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
            r: _mean_recent(src.series(m), until) for r, m in mapping.items()
        }
        if any(v is not None for v in counts.values()):
            scale = 1.0
            if src is not h:
                eng_total = _mean_recent(src.series("ehcp_total_jan"), until + 1)
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


def net_exits_by_year(h: LAHistory, until: int) -> dict[int, float]:
    """Plans ended net of moves in, new(y) - (stock(y+1) - stock(y)), for each year up to
    ``until`` with both censuses (so the later one is no later than ``until + 1``)."""
    stock, new = h.series("ehcp_total_jan"), h.series("new_ehcps")
    return {
        y: new[y] - (stock[y + 1] - stock[y])
        for y in sorted(new)
        if y <= until and y in stock and y + 1 in stock
    }


def moves_in_by_year(h: LAHistory, until: int) -> dict[int, float]:
    """Plans moving in, the stock-flow residual stock(y+1) - stock(y) - new(y) + ceased(y),
    for each year up to ``until`` with ceased plans (person-level SEN2, 2022 on)."""
    stock, new = h.series("ehcp_total_jan"), h.series("new_ehcps")
    ceased = h.series("ceased_total")
    return {
        y: stock[y + 1] - stock[y] - new[y] + ceased[y]
        for y in sorted(ceased)
        if y <= until and y + 1 in stock and y in stock and y in new
    }


def assessments_completed(h: LAHistory) -> dict[int, float]:
    """Assessments completed by year: plans issued plus decisions not to issue."""
    not_issued = h.series("assessments_not_issued")
    return {y: v + not_issued.get(y, 0.0) for y, v in h.series("assessments_plan_issued").items()}


def _net_exits(h: LAHistory, until: int) -> float | None:
    """Mean net exits over the recent years (see net_exits_by_year)."""
    vals = list(net_exits_by_year(h, until).values())[-RECENT_YEARS:]
    return max(0.0, float(np.mean(vals))) if vals else None


@dataclass(frozen=True)
class Ceasing:
    hazards: dict[str, tuple[float, ...]]
    p_cease_review: float
    p_cease_at_19: float
    leaving_reasons: dict[str, float]
    note: str


def _step_rates(h: LAHistory, england: LAHistory | None, until: int) -> tuple[float, float, str]:
    """Moves into and out of special schools per plan-year: the aggregate SEN2 transfers
    (2015-2021) over the January caseload of the same year (placement groups from 2019),
    the LA's own where it has both, else England's."""
    for src in (h, england):
        if src is None:
            continue
        up, down = (
            src.series("transfers_mainstream_to_special"),
            src.series("transfers_special_to_mainstream"),
        )
        main = src.series("caseload_mainstream")
        special = {
            y: v + src.series("caseload_special_independent_nm").get(y, 0.0)
            for y, v in src.series("caseload_special_state").items()
        }
        # Transfers are published to 2021 only: a later start uses the last published.
        p_up = _ratio_recent(up, main, until)
        p_down = _ratio_recent(down, special, until)
        if p_up is not None and p_down is not None:
            return (
                min(p_up, 0.5),
                min(p_down, 0.5),
                f"{src.la_name} SEN2 transfers mainstream<->special per plan-year, 2019-2021",
            )
    base = Parameters().review
    return (
        base.p_step_up,
        base.p_step_down,
        f"no SEN2 transfers up to {until}: the parameter's default (*assumption*)",
    )


def _independent_share(caseload: dict[str, tuple[float, ...]]) -> float:
    state = sum(caseload.get("special_state", ()))
    independent = sum(caseload.get("special_independent_nm", ()))
    return independent / (state + independent) if state + independent > 0 else 0.0


def _moves_in(h: LAHistory, until: int) -> tuple[float, str]:
    """Plans moving in per year from the stock-flow identity:
    in(y) = stock(y+1) - stock(y) - new(y) + ceased(y), over years with ceased plans."""
    vals = list(moves_in_by_year(h, until).values())[-RECENT_YEARS:]
    if not vals:
        # Before person-level SEN2, transfers in are taken to match the plans transferred
        # out to other LAs (they cancel across England), which the aggregate return gives.
        out = _mean_recent(h.series("discontinued_transfer_other_la"), until)
        if out is not None:
            return out, (
                "no ceased-plan data up to the start: moves in taken to equal the "
                f"discontinued transfers to other LAs ({out:.0f} a year, *assumption*)"
            )
        return 0.0, "no ceased-plan data up to the start: no moves in assumed"
    return max(0.0, float(np.mean(vals))), (
        f"stock-flow residual stock(y+1)-stock(y)-new(y)+ceased(y), mean of {len(vals)} years"
    )


def require_census(h: LAHistory, year: int) -> None:
    """A one-line DataError if the LA has no January ``year`` census to start from."""
    if h.get("ehcp_total_jan", year) is None:
        years = sorted(h.census.get("ehcp_total_jan", {}))
        avail = f"{years[0]}-{years[-1]}" if years else "none"
        raise DataError(
            f"{h.la_name} has no January {year} census (ehcp_total_jan; available: {avail})"
        )


#: Series an LA must publish for the estimates (flows: in some year before the start;
#: the caseload's shape: at some census up to five years either side of it).
REQUIRED_FLOWS: Final = (
    "requests_received",
    "requests_refused",
    "assessments_plan_issued",
    "new_ehcps",
)
REQUIRED_SHAPE: Final = (
    *(f"caseload_{g}" for g in PLACEMENT_GROUPS),
    *(f"caseload_age_{b}" for b in BAND_NAMES),
)


def check_required(
    h: LAHistory, start_year: int, label: str, census_until: int | None = None
) -> None:
    """One DataError listing every required series the LA lacks for a start in January
    ``start_year`` (see docs/data-schema.md)."""
    latest = start_year if census_until is None else census_until
    missing = [
        f"{m} (a calendar year up to {start_year - 1})"
        for m in REQUIRED_FLOWS
        if not any(y < start_year for y in h.series(m))
    ]
    window = range(start_year - 5, latest + 1)
    missing += [
        f"{m} (a January census in {window[0]}-{window[-1]})"
        for m in REQUIRED_SHAPE
        if m != "caseload_mainstream_rp_senunit" and not any(y in window for y in h.series(m))
    ]
    if missing:
        raise DataError(
            f"{label}: {h.la_name} ({h.la_code}) lacks series the estimates need for a start "
            f"in January {start_year}: {'; '.join(missing)}"
        )


def estimate_parameters(
    ds: Dataset,
    la: str,
    start_year: int | None = None,
    years: int = 5,
    census_until: int | None = None,
) -> tuple[Parameters, list[Estimate]]:
    """Default Parameters for `la` starting from the January census `start_year` (default:
    the latest census in the data), with a note on the source of each estimate. The
    caseload's placement and age shape may come from a census up to `census_until`
    (default: the start itself; a history replay may read later ones)."""
    h, adjustments = clean_history(ds.la(la))
    # A user's own file may hold only their LA: England's published figures (the SEN support
    # pool, fallbacks) then come from the bundled data.
    england = ds.england() or load_dataset(None).england()
    if start_year is None:
        start_year = h.latest_census_year()
    require_census(h, start_year)
    last = start_year - 1  # the last complete calendar year of flows
    check_required(h, start_year, str(ds.path), census_until)
    notes: list[Estimate] = []

    def note(key: str, value: object, source: str) -> None:
        notes.append(Estimate(key, value, source))

    for adj in adjustments:  # those inside the years the estimates read
        if start_year - TREND_YEARS - 1 <= adj.year <= start_year:
            note("data", adj.action, adj.describe())

    def flow(metric: str) -> dict[int, float]:
        s = h.series(metric)
        if not _recent(s, last) and england is not None:
            return {}
        return s

    # Demand. Requests by age are not published: new plans by age at start stand in.
    requests = flow("requests_received")
    req = _mean_recent(requests, last, 1)
    if req is None:
        raise DataError(f"{h.la_name}: no requests_received up to {last}")
    trend = float(np.clip(log_linear_trend(requests, last), -0.2, 0.3))
    note(
        "demand.request_trend",
        round(trend, 4),
        f"log-linear trend of requests_received over up to {TREND_YEARS} years to {last}",
    )
    shares = _band_shares(h, last, "newplans_age_", england)
    sen_nat, _ = _national_census(start_year)
    eng_total = england.get("ehcp_total_jan", start_year) if england else None
    la_total = float(h.get("ehcp_total_jan", start_year) or 0.0)
    la_share = la_total / eng_total if eng_total else 0.0
    pool_total = sen_nat * la_share
    pool = [0.0] * N_AGES
    for a in POOL_AGES:
        pool[a] = pool_total / len(POOL_AGES)
    note(
        "demand.sen_support_by_age",
        round(pool_total),
        f"England pupils on SEN support ({sen_nat:.0f}) x the LA's share of England's "
        f"plans ({la_share:.4f}), spread evenly over ages 4-15 (*assumption*)",
    )
    school = shares[1] + shares[2]
    hazard = [0.0] * N_AGES
    for b, ages in ((1, range(5, 11)), (2, range(11, 16))):
        per_age_pool = sum(pool[a] for a in ages)
        for a in ages:
            hazard[a] = req * shares[b] / per_age_pool if per_age_pool else 0.0
    direct = _spread(
        [req * shares[0], 0.0, 0.0, req * shares[3], req * shares[4]],
        [range(2, 5), range(5, 6), range(11, 12), range(16, 20), range(20, 26)],
    )
    note(
        "demand.request_hazard_by_age",
        round(req * school),
        f"{req:.0f} requests in {last} split by the age bands of new plans; the school-age "
        f"share ({school:.2f}) comes from SEN support, the rest directly",
    )
    exit_rate = Parameters().demand.sen_support_exit_rate
    # Identification keeps each age's pool steady: it replaces leavers and requesters, and
    # at Reception (4) rebuilds the year group that ages on each September.
    ident = [pool[a] * (exit_rate + hazard[a]) for a in range(N_AGES)]
    ident[POOL_AGES[0]] = pool[POOL_AGES[0]] * (1 + exit_rate / 2)

    # Panel and decisions.
    refused = flow("requests_refused")
    p_refuse = _ratio_recent(refused, requests, last) or 0.0
    with_tribunal = h.series("requests_with_tribunal")
    p_appealed = _ratio_recent(with_tribunal, refused, last)
    if p_appealed is None and england is not None:
        p_appealed = _ratio_recent(
            england.series("requests_with_tribunal"), england.series("requests_refused"), last
        )
    not_issued, issued = flow("assessments_not_issued"), flow("assessments_plan_issued")
    p_not_issue = (
        _ratio_recent(not_issued, {y: not_issued.get(y, 0) + issued[y] for y in issued}, last)
        or 0.0
    )
    excl, incl = flow("plans_issued_excl_exceptions"), flow("plans_issued_incl_exceptions")
    p_excl = _ratio_recent(excl, incl, last)
    p_exception = max(0.0, 1.0 - p_excl) if p_excl is not None else 0.0
    agreed = req * (1 - p_refuse) * (1 + trend)
    weekly = req * (1 + trend) / 52.18
    note(
        "panel.p_refuse",
        round(p_refuse, 4),
        f"requests_refused / requests_received, last {RECENT_YEARS} years",
    )

    # Teams. A team with a backlog (most plans late) is working flat out, so its output
    # last year is its capacity; a team that keeps up is sized to next year's volume at
    # the assumed utilisation. EP advice is the usual bottleneck, so coordinators are sized
    # to keep up with what the EPs deliver.
    base = Parameters()
    p20 = h.get("pct_within_20wks_excl_exceptions", last)
    throughput = (h.get("assessments_plan_issued", last) or 0.0) + (
        h.get("assessments_not_issued", last) or 0.0
    )
    backlogged = p20 is not None and p20 < BACKLOG_PCT_WITHIN_20WKS and throughput > 0
    if backlogged:
        ep_volume, ep_util = throughput, FLAT_OUT_UTILISATION
        ep_how = (
            f"{throughput:.0f} assessments completed in {last} with {p20:.0f}% within "
            f"20 weeks: a backlogged team's output is its capacity"
        )
    else:
        ep_volume, ep_util = agreed, DEFAULT_UTILISATION
        ep_how = (
            f"{agreed:.0f} assessments expected next year at {DEFAULT_UTILISATION:.0%} utilisation"
        )
    ep_fte = ep_volume * base.assessment.ep_days_per_advice / 365.25 / ep_util
    drafts = ep_volume * (1 - p_not_issue)
    coordinators = (
        drafts * base.plan.draft_days / 365.25 / base.plan.caseload_limit / DEFAULT_UTILISATION
    )
    note(
        "assessment.ep_fte",
        round(ep_fte, 2),
        f"{ep_how}, {base.assessment.ep_days_per_advice} FTE-days per advice "
        "(*assumption* until fitted)",
    )
    note(
        "plan.coordinators",
        round(coordinators, 2),
        f"drafts for {drafts:.0f} plans a year at {DEFAULT_UTILISATION:.0%} utilisation",
    )

    # In progress at the start (Little's law with a published or assumed duration).
    outstanding = h.get("requests_decision_outstanding", last)
    awaiting = round(outstanding) if outstanding is not None else round(weekly * 3)
    in_progress = h.get("assessments_in_progress_at_31dec", last)
    if in_progress is None:
        weeks = _mean_weeks_to_issue(h, last)
        in_progress = agreed * weeks / 52.18
        note(
            "initial.assessments_in_progress",
            round(in_progress),
            f"Little's law: {agreed:.0f} a year x {weeks:.1f} weeks mean duration",
        )

    caseload, caseload_note = initial_caseload(h, start_year, census_until)
    note("initial.caseload", round(la_total), caseload_note)
    stock_by_band = np.array([sum(v[b] for v in caseload.values()) for b in range(len(BAND_NAMES))])
    ceasing = _ceasing(h, last, stock_by_band, england)
    note("exits.hazard_by_band", "", ceasing.note)
    moves_in, moves_note = _moves_in(h, last)
    note("exits.moves_in_per_year", round(moves_in, 1), moves_note)

    # Reviews.
    # Annual review outcomes (published from 2024), the LA's or England's, up to the start.
    ar_src = h
    if not _recent(h.series("ar_outcome_amend"), last) and england is not None:
        ar_src = england
    ar_years = [y for y in ar_src.series("ar_outcome_amend") if y <= last]
    ar_year = max(ar_years, default=0)
    amend = ar_src.get("ar_outcome_amend", ar_year) or 0.0
    maintain = ar_src.get("ar_outcome_maintain", ar_year) or 0.0
    ar_total = amend + maintain + (ar_src.get("ar_outcome_cease", ar_year) or 0.0)
    p_amend = amend / ar_total if ar_total else base.review.p_amend
    step_up, step_down, step_note = _step_rates(h, england, last)
    note("review.p_step_up", round(step_up, 4), step_note)
    held = _ratio_recent(h.series("ar_meeting_held_total"), h.series("ar_review_expected"), last)
    held = held if held is not None else 1.0
    reviews_per_week = la_total * held / 52.18
    officers = reviews_per_week / base.review.reviews_per_officer_per_week
    note(
        "review.officers",
        round(officers, 2),
        f"{la_total:.0f} plans x {held:.2f} of "
        "reviews held (SEN2 annual reviews) / 52 weeks / reviews per officer-week",
    )

    # Places: state special and resourced places start full (they are in most LAs) and
    # grow by the observed annual growth of their caseload.
    def growth(metric: str) -> int:
        s = {y: v for y, v in h.series(metric).items() if y <= start_year}
        ys = sorted(s)[-TREND_YEARS:]
        if len(ys) < 2:
            return 0
        return round((s[ys[-1]] - s[ys[0]]) / (ys[-1] - ys[0]))

    costs, funding = _money(h, start_year, note)
    special = caseload.get("special_state", (0.0,))
    rp = caseload.get("mainstream_rp_senunit", (0.0,))
    need_new, need_all = national_need_shares()
    params = Parameters().override(
        {
            "la_code": h.la_code,
            "la_name": h.la_name,
            "run": {"start_year": start_year, "years": years},
            "demand": {
                "sen_support_by_age": pool,
                "identification_by_age": ident,
                "request_hazard_by_age": hazard,
                "direct_requests_by_age": direct,
                "request_trend": trend,
                "need_shares": need_new,
            },
            "panel": {
                "slots_per_sitting": max(1, math.ceil(2 * weekly)),
                "p_refuse": p_refuse,
                "p_refusal_appealed": min(1.0, p_appealed if p_appealed is not None else 0.0),
                "p_appeal_upheld": national_tribunal_in_favour(start_year),
            },
            "assessment": {
                "ep_fte": round(ep_fte, 2),
                "p_not_issue": p_not_issue,
                "p_exception": p_exception,
            },
            "plan": {"coordinators": round(coordinators, 2)},
            "placement": {
                "mix_by_phase": _new_plan_mix(h, start_year, census_until),
                "special_state_places": round(sum(special)),
                "rp_places": round(sum(rp)),
                "special_places_added_per_year": max(0, growth("caseload_special_state")),
                "rp_places_added_per_year": max(0, growth("caseload_mainstream_rp_senunit")),
            },
            "review": {
                "officers": round(officers, 2),
                # SEN2's outcomes are shares of all reviews; placement changes and
                # ceasing come from other series, so amendments take what is left.
                "p_amend": max(
                    0.0,
                    min(p_amend, 1 - max(step_up, step_down) - min(ceasing.p_cease_review, 0.5)),
                ),
                "p_step_up": step_up,
                "p_step_down": step_down,
                "step_up_independent_share": _independent_share(caseload),
                "p_cease": min(ceasing.p_cease_review, 0.5),
            },
            "phase_transfer": {
                "p_cease_at_16": 0.0,
                "p_cease_at_19": ceasing.p_cease_at_19,
                "leaving_reason_shares": ceasing.leaving_reasons,
            },
            "exits": {
                "hazard_by_band": ceasing.hazards,
                "moves_in_per_year": moves_in,
                "moves_in_band_shares": list(shares),
            },
            "costs": costs,
            "funding": funding,
            "initial": {
                "caseload": caseload,
                "assessments_in_progress": round(in_progress),
                "requests_awaiting_decision": awaiting,
                "need_shares": need_all,
            },
        },
        source=f"estimates for {h.la_name}",
    )
    return params, notes


def _money(h: LAHistory, start_year: int, note: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unit costs of state and independent special placements from DfE's published
    per-pupil figures (the other settings keep their documented assumptions), and the LA's
    own High Needs Block allocations with their growth carried forward."""
    base = Parameters().costs
    published = national_unit_costs()
    state = published.get("per_pupil_expenditure.maintained_special_and_special_academies")
    independent = published.get("per_pupil_expenditure.independent_and_non_maintained_special")
    by_group = dict(base.annual_cost_by_group)
    price_year = base.price_base_year
    if state and independent and state[0] == independent[0]:
        price_year = state[0]
        by_group["special_state"] = state[1]
        by_group["special_independent_nm"] = independent[1]
        note(
            "costs.annual_cost_by_group",
            "",
            f"state special GBP {state[1]:,.0f} and independent/non-maintained GBP "
            f"{independent[1]:,.0f} per pupil, DfE {price_year}-{(price_year + 1) % 100:02d} "
            "(PQ 50389); other settings are assumptions to replace",
        )
    income = hnb_allocations(h.la_code)
    growth = log_linear_trend({y: v for y, v in income.items()}, max(income, default=0))
    note(
        "funding.hnb_income_by_year",
        "",
        f"ESFA High Needs Block allocations "
        f"{min(income, default=0)}-{max(income, default=0)} for {h.la_name}, then "
        f"{growth:.1%} a year (their log-linear trend)"
        if income
        else "no published allocation for this LA: give funding.hnb_income_by_year",
    )
    balance = dsg_balance_pct(h.la_code)
    if balance:
        year, pct = balance
        note(
            "funding.dsg_opening_balance_gbp",
            0.0,
            f"not published for {start_year}: set it. The last published balance was "
            f"{pct:.2f}% of DSG income at 31 March {year + 1}",
        )
    costs = {"price_base_year": price_year, "annual_cost_by_group": by_group}
    funding = {
        "hnb_income_by_year": {str(y): v for y, v in income.items()},
        "hnb_growth": float(np.clip(growth, -0.2, 0.3)),
    }
    return costs, funding


def _national_census(year: int) -> tuple[float, float]:
    """England's SEN support and EHCP pupils at the nearest January census on or before
    `year` that published both (the series has gaps), else the latest."""
    for y in range(year, year - 6, -1):
        try:
            return national_sen_support_and_ehcp(y)
        except DataError:
            continue
    return national_sen_support_and_ehcp(None)


def _mean_weeks_to_issue(h: LAHistory, year: int) -> float:
    """Mean weeks from request to plan from the published timeliness bands (2023 on: within
    20, 20-52 and over 52 weeks), taking 16, 36 and 60 weeks as each band's typical value
    (*assumption*); earlier years use the 20-week percentage alone."""
    w20 = h.get("issued_within_20wks_excl_exceptions", year)
    w52 = h.get("issued_20to52wks_excl_exceptions", year)
    over = h.get("issued_over52wks_excl_exceptions", year)
    if w20 is not None and w52 is not None and over is not None and w20 + w52 + over > 0:
        return (16 * w20 + 36 * w52 + 60 * over) / (w20 + w52 + over)
    pct = h.get("pct_within_20wks_excl_exceptions", year)
    if pct is not None:
        return 16 * pct / 100 + 36 * (1 - pct / 100)
    return 20.0
