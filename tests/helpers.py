"""Shared helpers for the model tests: a small synthetic LA and replication statistics.

The synthetic LA is a few hundred plans with a couple of hundred requests a year, so one
replication of a few years takes a few tens of milliseconds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from simulation.model import run_replication
from simulation.parameters import Parameters
from simulation.results import Results
from simulation.vocabulary import BAND_NAMES, GROUPS_BY_PHASE, N_AGES, PLACEMENT_GROUPS

SCHOOL_AGES = range(5, 16)
POOL_PER_AGE = 300.0
REQUEST_HAZARD = 0.04
SEN_SUPPORT_EXIT = 0.1


def by_age(values: Mapping[int, float] | None = None, ages: Iterable[int] = (), v: float = 0.0):
    """A list over academic ages 0-25: `values` by age, or `v` at each of `ages`."""
    out = [0.0] * N_AGES
    for a in ages:
        out[a] = float(v)
    for a, x in (values or {}).items():
        out[a] = float(x)
    return out


SMALL_CASELOAD: dict[str, list[float]] = {
    # placement group -> plans by SEN2 age band (under5, 5to10, 11to15, 16to19, 20to25)
    "mainstream": [0, 180, 140, 20, 0],
    "mainstream_rp_senunit": [0, 20, 15, 3, 0],
    "special_state": [5, 70, 80, 40, 10],
    "special_independent_nm": [0, 10, 25, 15, 5],
    "fe_post16": [0, 0, 0, 45, 25],
    "early_years": [15, 0, 0, 0, 0],
}


def full_mix(mix: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """A placement mix naming every group open in each phase (0 where `mix` omits it)."""
    return {
        ph: {g: float(mix.get(ph, {}).get(g, 0.0)) for g in gs}
        for ph, gs in GROUPS_BY_PHASE.items()
    }


def caseload_total(caseload: Mapping[str, Sequence[float]]) -> float:
    return float(sum(sum(v) for v in caseload.values()))


def small_la_dict(years: int = 3) -> dict[str, Any]:
    """Overrides (nested like the TOML) describing a small synthetic LA."""
    pool = by_age(ages=SCHOOL_AGES, v=POOL_PER_AGE)
    hazard = by_age(ages=SCHOOL_AGES, v=REQUEST_HAZARD)
    # Identification balances leaving and requests, and refills age 5 after each September.
    ident = [p * (SEN_SUPPORT_EXIT + h) for p, h in zip(pool, hazard, strict=True)]
    ident[5] += POOL_PER_AGE
    return {
        "la_code": "E99999999",
        "la_name": "Smallshire",
        "run": {"start_year": 2025, "years": years},
        "demand": {
            "sen_support_by_age": pool,
            "identification_by_age": ident,
            "sen_support_exit_rate": SEN_SUPPORT_EXIT,
            "request_hazard_by_age": hazard,
            "direct_requests_by_age": by_age({2: 8, 3: 8, 4: 8, 16: 6, 17: 6, 18: 6}),
            "request_trend": 0.0,
        },
        "panel": {
            "sitting_interval_days": 7.0,
            "p_refuse": 0.2,
            "p_refusal_appealed": 0.2,
            "p_appeal_upheld": 0.9,
            "tribunal_days": 120.0,
        },
        "assessment": {"ep_fte": 8.0, "p_not_issue": 0.05, "p_exception": 0.02},
        "plan": {"coordinators": 6.0},
        "placement": {
            # Every group open in a phase is listed: groups left out of an override keep
            # their default share (mix_by_phase is merged key by key, not replaced).
            "mix_by_phase": full_mix(
                {
                    "early_years": {"mainstream": 0.6, "special_state": 0.2, "early_years": 0.2},
                    "primary": {
                        "mainstream": 0.55,
                        "mainstream_rp_senunit": 0.1,
                        "special_state": 0.3,
                        "special_independent_nm": 0.05,
                    },
                    "secondary": {
                        "mainstream": 0.45,
                        "mainstream_rp_senunit": 0.1,
                        "special_state": 0.3,
                        "special_independent_nm": 0.15,
                    },
                    "post16": {"special_state": 0.3, "fe_post16": 0.6, "neet": 0.1},
                    "post19": {"fe_post16": 0.7, "special_independent_nm": 0.2, "neet": 0.1},
                }
            ),
        },
        "review": {"officers": 3.0},
        "exits": {
            "hazard_by_band": {
                "transfer": [0.03] * 5,
                "employment": [0, 0, 0, 0.05, 0.1],
                "he": [0, 0, 0, 0.02, 0.05],
                "no_longer_engaging": [0, 0, 0.005, 0.03, 0.1],
                "moved_outside_england": [0.005] * 5,
                "deceased": [0.001] * 5,
                "other": [0.01] * 5,
            },
            "moves_in_per_year": 20.0,
        },
        # Fixed teams: the mechanism tests (queues, Erlang C, CRN monotonicity, lever
        # costs) are about a team of a given size; tests/test_capacity_response.py turns
        # the response to workload on.
        "capacity": {"respond": False},
        "initial": {
            "caseload": {g: list(v) for g, v in SMALL_CASELOAD.items()},
            "assessments_in_progress": 30,
            "requests_awaiting_decision": 5,
        },
    }


def _deep_merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in changes.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k != "caseload":
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def small_la(changes: Mapping[str, Any] | None = None, years: int = 3) -> Parameters:
    """The small synthetic LA with `changes` (nested like the TOML) applied on top."""
    d = small_la_dict(years)
    return Parameters().override(_deep_merge(d, changes or {}))


NO_EXITS = {r: [0.0] * len(BAND_NAMES) for r in small_la_dict()["exits"]["hazard_by_band"]}
NO_REQUESTS = {
    "demand": {
        "request_hazard_by_age": by_age(),
        "direct_requests_by_age": by_age(),
    },
    "initial": {"assessments_in_progress": 0, "requests_awaiting_decision": 0},
}
GENEROUS_TEAMS = {
    "assessment": {"ep_fte": 1000.0},
    "plan": {"coordinators": 1000.0},
    "panel": {"slots_per_sitting": 1_000_000},
    "review": {"officers": 1000.0},
}


def replicate(params: Parameters, seeds: Iterable[int]) -> list[Results]:
    return [run_replication(params, s) for s in seeds]


def flow(results: Sequence[Results], metric: str) -> np.ndarray:
    """(replications, years) array of a flow metric."""
    return np.array([r.flows[metric] for r in results], dtype=float)


def census(results: Sequence[Results], metric: str) -> np.ndarray:
    return np.array([r.census[metric] for r in results], dtype=float)


def mean_se(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean of independent replications and its standard error."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


def t_halfwidth(values: Sequence[float] | np.ndarray, alpha: float = 1e-3) -> float:
    """Half-width of the two-sided (1 - alpha) t confidence interval for the mean."""
    v = np.asarray(values, dtype=float)
    _, se = mean_se(v)
    return float(stats.t.ppf(1 - alpha / 2, len(v) - 1) * se)


def assert_mean_matches(
    values: Sequence[float] | np.ndarray,
    target: float,
    *,
    alpha: float = 1e-3,
    max_rel_halfwidth: float = 0.15,
    label: str = "",
) -> None:
    """The replications' mean equals `target` within a (1 - alpha) t interval, and the
    interval is narrow enough (relative to the target) for the comparison to have power."""
    mean, _ = mean_se(values)
    hw = t_halfwidth(values, alpha)
    assert hw <= max_rel_halfwidth * abs(target), (
        f"{label}: interval half-width {hw:.4g} too wide for target {target:.4g}"
    )
    assert abs(mean - target) <= hw, (
        f"{label}: mean {mean:.4g} differs from theory {target:.4g} by more than {hw:.4g}"
    )


def groups_sum(c: Mapping[str, np.ndarray]) -> np.ndarray:
    """Sum of the census placement groups, counting resourced provision once (SEN2's
    caseload_mainstream already includes it)."""
    return sum(c[f"caseload_{g}"] for g in PLACEMENT_GROUPS if g != "mainstream_rp_senunit")


@functools.cache
def stockport(years: int = 2) -> Parameters:
    """Stockport's default parameters estimated from the bundled SEN2 data."""
    from calibration.defaults import estimate_parameters
    from calibration.la_data import load_dataset

    params, _ = estimate_parameters(load_dataset(), "Stockport", years=years)
    return params


def merge(*changes: Mapping[str, Any]) -> dict[str, Any]:
    """Nested overrides combined left to right (later ones win)."""
    out: dict[str, Any] = {}
    for c in changes:
        out = _deep_merge(out, c)
    return out
