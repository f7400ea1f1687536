"""Parameters of one local SEND system: a tree of frozen dataclasses.

Every field carries its allowed range and a line of documentation (the `doc` metadata), so
that loading from TOML can name the key and what is allowed, and so that the parameter
reference (docs/parameters.md) is generated from the same source. Values an LA's published
history gives are filled in by `calibration`; the defaults here are the structural ones
and documented assumptions, each marked *assumption* where no published figure exists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import operator
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fields import ParameterError as ParameterError
from .fields import _p
from .levers import LEVER_TYPES, Lever
from .vocabulary import (
    BAND_NAMES,
    GROUPS_BY_PHASE,
    HAZARD_REASONS,
    N_AGES,
    NEEDS,
    PHASE_NAMES,
    PLACEMENT_GROUPS,
)

#: The largest entry of a table of shares that is normalised (need shares, placement mixes,
#: age weights): shares may be given as percentages or counts, up to ten million each.
SHARE_MAX = 10_000_000
#: Years a year-keyed table may name (as run.start_year and costs.price_base_year).
YEAR_MIN, YEAR_MAX = 2000, 2100


def _ages(value: float = 0.0) -> tuple[float, ...]:
    return (value,) * N_AGES


@dataclass(frozen=True)
class RunSettings:
    start_year: int = _p(
        2025, "January census the run starts from (the stock at 1 Jan).", lo=2000, hi=2100
    )
    years: int = _p(5, "Calendar years simulated after the start census.", lo=1, hi=50)
    event_log: bool = _p(False, "Keep a long event log (entity_id, event, time); slow.")


@dataclass(frozen=True)
class Demand:
    sen_support_by_age: tuple[float, ...] = _p(
        _ages(),
        "Children on school SEN support at the start, by academic age 0-25 (ages "
        "16 and over are cleared each September: school SEN support ends with Year 11). "
        "At most 1,000,000 at one age (*assumption*: about ten times England's ~110,000 a "
        "year group, more than a whole national year group).",
        lo=0,
        hi=1_000_000,
        length=N_AGES,
    )
    identification_by_age: tuple[float, ...] = _p(
        _ages(),
        "Children newly identified for SEN support per year, by academic age. At most "
        "1,000,000 at one age (*assumption*: about ten times England's largest, ~110,000 at "
        "age 4).",
        lo=0,
        hi=1_000_000,
        length=N_AGES,
    )
    sen_support_exit_rate: float = _p(
        0.1,
        "Rate per child-year of leaving SEN support without a request (needs met, "
        "moved away). *Assumption*: no published LA figure.",
        lo=0,
        hi=5,
    )
    request_hazard_by_age: tuple[float, ...] = _p(
        _ages(),
        "Requests for assessment per child-year on SEN support, by academic age.",
        lo=0,
        hi=5,
        length=N_AGES,
    )
    direct_requests_by_age: tuple[float, ...] = _p(
        _ages(),
        "Requests per year not from school SEN support (early years, health, "
        "post-16), by academic age. At most 100,000 at one age (*assumption*: about ten "
        "times England's largest, ~9,000).",
        lo=0,
        hi=100_000,
        length=N_AGES,
    )
    request_trend: float = _p(
        0.0,
        "Annual proportional growth of the request hazard and direct requests.",
        lo=-0.5,
        hi=1.0,
    )
    request_trend_damping: float = _p(
        1.0,
        "Damping phi of the request trend (Gardner and McKenzie's damped trend): the "
        "trend's log growth applies in the k-th year as phi^k of itself, so requests' "
        "multiplier after t years is (1 + request_trend)^(phi (1 - phi^t) / (1 - phi)), "
        "bounded however long the run; 1 compounds the trend undamped, 0 holds requests "
        "flat. Estimates choose it by rolling-origin validation on the LAs' published "
        "requests (calibration/pooling.py).",
        lo=0,
        hi=1,
    )
    request_multiplier_by_year: dict[str, float] = _p(
        {},
        "Multiplier of all requests (SEN support hazard and direct) in a calendar year "
        '(key: the year, e.g. "2022"; years not listed: 1). Calibration uses it to replay '
        "an LA's published requests when fitting team capacity to its history (which "
        "caps it at 10). Years 2000-2100.",
        lo=0,
        hi=10,
    )
    need_shares: dict[str, float] = _p(
        {n: 1.0 / len(NEEDS) for n in NEEDS},
        "Primary need of new plans (shares, percentages or counts; normalised).",
        lo=0,
        hi=SHARE_MAX,
        keys=NEEDS,
    )


@dataclass(frozen=True)
class Panel:
    sitting_interval_days: float = _p(
        7.0,
        "Days between decision-making panel sittings; 0 decides each request the "
        "day it arrives (no panel). Decision due within 6 weeks (CoP 9.14).",
        lo=0,
        hi=91,
    )
    slots_per_sitting: int = _p(
        1_000_000,
        "Requests the panel can decide at one sitting; the rest wait. The default and "
        "maximum, 1,000,000, is no limit in practice (England receives ~3,000 requests a "
        "week).",
        lo=0,
        hi=1_000_000,
    )
    p_refuse: float = _p(
        0.15, "Share of decided requests refused (decided not to assess).", lo=0, hi=1
    )
    p_refusal_appealed: float = _p(
        0.1,
        "Share of refusals appealed to the First-tier Tribunal. *Assumption*: MoJ "
        "publishes appeals for all decision types, not by type.",
        lo=0,
        hi=1,
    )
    p_appeal_upheld: float = _p(
        0.9,
        "Share of appeals against refusal decided in the family's favour (national "
        "tribunal statistics: most appeals that reach a decision are upheld).",
        lo=0,
        hi=1,
    )
    tribunal_days: float = _p(
        300.0, "Mean days from refusal to tribunal decision. *Assumption*.", lo=0, hi=1500
    )
    p_decided_late: float = _p(
        0.0,
        "Share of requests decided after 6 weeks whatever the panel's capacity (advice or "
        "evidence awaited): they wait for the first sitting after 6 weeks. Estimated "
        "(calibration/estimators/panel.py) as requests_decided_over_6wks over all "
        "decisions, recent years.",
        lo=0,
        hi=1,
    )


@dataclass(frozen=True)
class Assessment:
    ep_fte: float = _p(
        10.0, "Educational psychologist FTE writing statutory advice.", lo=0, hi=10_000
    )
    ep_days_per_advice: float = _p(
        7.0,
        "Calendar days of one EP FTE's time per statutory advice (so one FTE "
        "writes about 365/this a year).",
        lo=0.01,
        hi=365,
    )
    ep_fte_growth: float = _p(
        0.0,
        "Annual proportional growth of the EP team (recruitment keeping pace with demand); "
        "calibration estimates it from the trend of assessments completed.",
        lo=-0.5,
        hi=1,
    )
    ep_work_cv: float = _p(
        0.5, "Coefficient of variation of EP time per advice (1 = exponential).", lo=0, hi=5
    )
    health_advice_days: float = _p(
        35.0, "Mean days for health advice (due within 6 weeks).", lo=0, hi=730
    )
    social_care_advice_days: float = _p(
        35.0, "Mean days for social care advice (due within 6 weeks).", lo=0, hi=730
    )
    advice_cv: float = _p(
        0.5,
        "Coefficient of variation of health and social care advice delays. *Assumption*.",
        lo=0,
        hi=5,
    )
    issue_decision_days: float = _p(
        7.0,
        "Days from the last advice to the decision whether to issue (16-week rule).",
        lo=0,
        hi=365,
    )
    p_not_issue: float = _p(
        0.03, "Share of completed assessments with a decision not to issue.", lo=0, hi=1
    )
    p_exception: float = _p(
        0.02,
        "Share of new plans where an exception to the 20-week limit applies "
        "(excluded from the headline percentage).",
        lo=0,
        hi=1,
    )


@dataclass(frozen=True)
class PlanWriting:
    coordinators: float = _p(8.0, "EHC coordinator FTE drafting plans.", lo=0, hi=10_000)
    coordinator_growth: float = _p(
        0.0,
        "Annual proportional growth of the coordinator team; calibration estimates it "
        "from the trend of assessments completed.",
        lo=-0.5,
        hi=1,
    )
    caseload_limit: int = _p(
        6,
        "Drafts one coordinator FTE works on at a time (caseload limit). *Assumption*.",
        lo=1,
        hi=1000,
    )
    draft_days: float = _p(
        21.0, "Mean calendar days to write a draft once a coordinator takes it on.", lo=0.01, hi=730
    )
    draft_cv: float = _p(0.5, "Coefficient of variation of drafting time.", lo=0, hi=5)
    comment_days: float = _p(
        15.0, "Family comment period on the draft (at least 15 days, CoP 9.77).", lo=15, hi=365
    )
    finalise_days: float = _p(
        14.0,
        "Mean days from the end of comments to the final plan (consulting schools).",
        lo=0,
        hi=365,
    )


@dataclass(frozen=True)
class Placements:
    mix_by_phase: dict[str, dict[str, float]] = _p(
        {ph: {g: 1.0 for g in gs} for ph, gs in GROUPS_BY_PHASE.items()},
        "Placement of new plans by phase: phase -> group -> share (normalised over the "
        "groups open in that phase).",
        lo=0,
        hi=SHARE_MAX,
        keys=PHASE_NAMES,
        inner_keys=PLACEMENT_GROUPS,
    )
    need_weights: dict[str, dict[str, float]] = _p(
        {},
        "Multipliers on the placement shares by primary need: need -> group -> "
        "weight (1 = no effect). Default none: no LA publishes placement by need. At most "
        "1000 (*assumption*: a weight that large already decides the placement).",
        lo=0,
        hi=1000,
        keys=NEEDS,
        inner_keys=PLACEMENT_GROUPS,
    )
    rp_places: int = _p(
        1_000_000,
        "Resourced provision / SEN unit places at the start. The default and maximum, "
        "1,000,000, is no limit in practice (England has ~25,000).",
        lo=0,
        hi=1_000_000,
    )
    special_state_places: int = _p(
        1_000_000,
        "State special school places at the start. The default and maximum, 1,000,000, is "
        "no limit in practice (England has ~165,000).",
        lo=0,
        hi=1_000_000,
    )
    rp_places_added_per_year: int = _p(
        0, "Resourced places opening each September.", lo=-100_000, hi=100_000
    )
    special_places_added_per_year: int = _p(
        0, "State special places opening each September.", lo=-100_000, hi=100_000
    )
    overflow: str = _p(
        "wait",
        "When no state place is free: 'wait' (in mainstream or "
        "awaiting provision) or 'independent' (placed in the independent "
        "sector at once).",
        choices=("wait", "independent"),
    )
    max_wait_days: float = _p(
        365.0,
        "With overflow 'wait', a child still waiting this long goes independent.",
        lo=0,
        hi=10_000,
    )


@dataclass(frozen=True)
class Reviews:
    officers: float = _p(6.0, "Review officer FTE running annual reviews.", lo=0, hi=10_000)
    reviews_per_officer_per_week: float = _p(
        12.0, "Reviews one officer FTE completes a week. *Assumption*.", lo=0, hi=1000
    )
    interval_days: float = _p(
        365.0, "Days between annual reviews (at least every 12 months).", lo=1, hi=730
    )
    under5_interval_days: float = _p(
        182.0,
        "Days between reviews for under-5s (CoP 9.178 advises every 3-6 months).",
        lo=1,
        hi=730,
    )
    p_amend: float = _p(0.45, "Share of reviews that amend the plan.", lo=0, hi=1)
    p_step_up: float = _p(
        0.02,
        "Share of reviews of children outside special schools that move them to a special "
        "school (SEN2 transfers_mainstream_to_special per plan-year).",
        lo=0,
        hi=1,
    )
    p_step_down: float = _p(
        0.002,
        "Share of reviews of children in special schools that move them to mainstream (SEN2 "
        "transfers_special_to_mainstream per plan-year).",
        lo=0,
        hi=1,
    )
    step_up_independent_share: float = _p(
        0.2,
        "Share of moves to a special school aimed at the independent sector rather than a "
        "state special school (a full state school sends more there by placement.overflow).",
        lo=0,
        hi=1,
    )
    p_cease: float = _p(0.01, "Share of reviews that cease the plan (needs met).", lo=0, hi=1)
    overdue_after_days: float = _p(
        28.0,
        "A review not done this many days after it fell "
        "due counts as overdue (4-week decision rule).",
        lo=0,
        hi=365,
    )


@dataclass(frozen=True)
class PhaseTransfer:
    p_keep_setting: float = _p(
        0.85,
        "Chance a child outside a special school keeps the same kind of setting at a phase "
        "transfer when that kind exists in the next phase; otherwise the next phase's mix "
        "of new placements applies. *Assumption*.",
        lo=0,
        hi=1,
    )
    p_keep_specialist: float = _p(
        0.98,
        "Chance a child in a special school stays in special provision at a phase "
        "transfer (moves down are rare: SEN2 transfers_special_to_mainstream). "
        "*Assumption*.",
        lo=0,
        hi=1,
    )
    p_to_fe_at_16: float = _p(
        0.0,
        "Chance a young person outside a special school moves to further education at the "
        "end of Year 11 (the rest follow p_keep_setting). Estimated from the LA's caseload: "
        "one less the plans in mainstream per year of age at 16-18 over those at 11-15.",
        lo=0,
        hi=1,
    )
    p_cease_at_16: float = _p(
        0.02,
        "Share of plans ceasing at the end of Year 11 (left education or training).",
        lo=0,
        hi=1,
    )
    p_cease_at_19: float = _p(
        0.25,
        "Share of plans ceasing at 19 (employment, HE, or no longer in education); the rest "
        "of leaving is spread over ages 16-25 by exits.hazard_by_band.",
        lo=0,
        hi=1,
    )
    leaving_reason_shares: dict[str, float] = _p(
        {"employment": 1.0, "he": 1.0, "no_longer_engaging": 1.0},
        "Why plans cease at 19 (shares; normalised): SEN2 ceased_employment, ceased_he and "
        "ceased_no_longer_engaging.",
        lo=0,
        hi=SHARE_MAX,
        keys=("employment", "he", "no_longer_engaging"),
    )


@dataclass(frozen=True)
class Exits:
    hazard_by_band: dict[str, tuple[float, ...]] = _p(
        {r: (0.0,) * len(BAND_NAMES) for r in HAZARD_REASONS},
        "Ceasing hazards per plan-year by reason and SEN2 age band "
        "(under5, 5to10, 11to15, 16to19, 20to25).",
        lo=0,
        hi=10,
        keys=HAZARD_REASONS,
        length=len(BAND_NAMES),
    )
    max_age: int = _p(
        25, "Plans cease (max_age) at the September the academic age passes this.", lo=16, hi=25
    )
    moves_in_per_year: float = _p(
        0.0,
        "Plans transferred in from other LAs per year. At most 100,000 (*assumption*: about "
        "ten times England's ~12,000).",
        lo=0,
        hi=100_000,
    )
    moves_in_band_shares: tuple[float, ...] = _p(
        (0.1, 0.4, 0.35, 0.13, 0.02),
        "Age bands of plans moving in (shares). "
        "*Assumption*: SEN2 does not publish transfers in by age.",
        lo=0,
        hi=SHARE_MAX,
        length=len(BAND_NAMES),
    )


@dataclass(frozen=True)
class InitialState:
    caseload: dict[str, tuple[float, ...]] = _p(
        {},
        "Plans at the start census by placement group and age band. At most 1,000,000 in "
        "one (*assumption*: about ten times England's largest, ~120,000).",
        lo=0,
        hi=1_000_000,
        keys=PLACEMENT_GROUPS,
        length=len(BAND_NAMES),
    )
    age_weights: tuple[float, ...] = _p(
        (1.0,) * N_AGES,
        "Relative numbers of plans at each academic age 0-25 within an age band, for the "
        "start caseload (SEN2 gives LAs' bands only; England's single ages stand in).",
        lo=0,
        hi=SHARE_MAX,
        length=N_AGES,
    )
    assessments_in_progress: int = _p(
        0,
        "Assessments under way at the start (agreed, plan not yet issued). At most 1,000,000 "
        "(*assumption*: about ten times England's ~77,000).",
        lo=0,
        hi=1_000_000,
    )
    requests_awaiting_decision: int = _p(
        0,
        "Requests waiting for a panel decision at the start. At most 1,000,000 "
        "(*assumption*: several times all of England's requests in a year, ~150,000).",
        lo=0,
        hi=1_000_000,
    )
    issue_band_shares: tuple[float, ...] = _p(
        (1.0, 0.0, 0.0),
        "Shares of plans issued within 20 weeks, in 20-52 weeks and after 52 weeks (excluding "
        "exceptions) in the year before the start: the ages and times still to go of the "
        "assessments in progress are drawn to match them (pathway/start.py). Default all "
        "within 20 weeks (*assumption*: the statutory limit, for a model without data).",
        lo=0,
        hi=SHARE_MAX,
        length=3,
    )
    completions_per_year: float = _p(
        0.0,
        "Assessments completed (plans issued and decisions not to issue) in the year before "
        "the start: the assessments in progress finish no faster than this (0: no limit). "
        "At most 1,000,000 (*assumption*: about ten times England's ~100,000).",
        lo=0,
        hi=1_000_000,
    )
    need_shares: dict[str, float] = _p(
        {n: 1.0 / len(NEEDS) for n in NEEDS},
        "Primary need of plans held at the start (shares, percentages or counts; normalised).",
        lo=0,
        hi=SHARE_MAX,
        keys=NEEDS,
    )


@dataclass(frozen=True)
class Costs:
    price_base_year: int = _p(
        2023, "Financial year (its starting year) the costs below are priced in.", lo=2000, hi=2100
    )
    inflation: float = _p(
        0.03, "Annual growth of all costs after the price base. *Assumption*.", lo=-0.5, hi=1
    )
    annual_cost_by_group: dict[str, float] = _p(
        {
            "mainstream": 8000.0,
            "mainstream_rp_senunit": 18000.0,
            "special_state": 26000.0,
            "special_independent_nm": 63000.0,
            "ap_pru": 20000.0,
            "fe_post16": 12000.0,
            "early_years": 5000.0,
            "neet": 0.0,
            "ehe_other": 10000.0,
        },
        "High Needs cost per plan-year by placement group (place funding plus top-up). "
        "Published: special_state (GBP 26,000) and special_independent_nm (GBP 63,000) are "
        "DfE's 2023-24 per-pupil expenditure (PQ 50389, PQ 100030). *Assumptions* (no "
        "published figure; set your own): mainstream top-up 8,000; resourced provision "
        "18,000 (GBP 10,000 place funding, published, plus top-up); AP 20,000 (GBP 10,000 "
        "place funding plus top-up); FE/post-16 12,000; early years 5,000; other "
        "arrangements 10,000; NEET 0. At most GBP 10m a plan-year (*assumption*: about ten "
        "times the dearest residential placements).",
        lo=0,
        hi=10_000_000,
        keys=PLACEMENT_GROUPS,
    )
    transport_cost_by_group: dict[str, float] = _p(
        {},
        "Home-to-school transport per plan-year by group, reported as its own line "
        "(not High Needs). Default none: set your own. At most GBP 1m a plan-year "
        "(*assumption*: about ten times the dearest routes, a taxi with an escort).",
        lo=0,
        hi=1_000_000,
        keys=PLACEMENT_GROUPS,
    )
    assessment_cost_gbp: float = _p(
        0.0,
        "Cost per assessment completed beyond the teams' staff (commissioned advice). "
        "Default none: set your own. At most GBP 1m.",
        lo=0,
        hi=1_000_000,
    )
    tribunal_cost_gbp: float = _p(
        5000.0,
        "Cost to the LA of each appeal registered. *Assumption*. At most GBP 1m.",
        lo=0,
        hi=1_000_000,
    )
    ep_cost_per_fte_gbp: float = _p(
        100000.0,
        "Employed EP cost per FTE-year: the EPI/BPS estimate that 1,400 more FTE "
        "would cost about GBP 140m a year. At most GBP 1m (as for every staff cost below: "
        "*assumption*, several times any salary with on-costs).",
        lo=0,
        hi=1_000_000,
    )
    ep_locum_cost_per_fte_gbp: float = _p(
        150000.0, "Locum EP cost per FTE-year. *Assumption*.", lo=0, hi=1_000_000
    )
    coordinator_cost_per_fte_gbp: float = _p(
        45000.0,
        "EHC coordinator cost per FTE-year with on-costs. *Assumption*.",
        lo=0,
        hi=1_000_000,
    )
    review_officer_cost_per_fte_gbp: float = _p(
        42000.0,
        "Review officer cost per FTE-year with on-costs. *Assumption*.",
        lo=0,
        hi=1_000_000,
    )
    teams_in_hnb: bool = _p(
        False,
        "Whether the teams (EPs, coordinators, review officers), "
        "assessments and tribunals are charged to the High Needs Block "
        "(usually they are the LA's own budget).",
    )


@dataclass(frozen=True)
class Funding:
    hnb_income_by_year: dict[str, float] = _p(
        {},
        "High Needs Block allocation by financial year (key: its starting year, e.g. "
        '"2023" for 2023-24; years 2000-2100): the LA\'s published ESFA allocations. At '
        "most GBP 100bn a year (*assumption*: about ten times England's ~GBP 10bn).",
        lo=0,
        hi=100_000_000_000,
    )
    hnb_growth: float = _p(
        0.0, "Annual growth of the allocation after the last year given.", lo=-0.5, hi=1
    )
    dsg_opening_balance_gbp: float = _p(
        0.0,
        "Cumulative DSG balance at the start of the first full financial year of the "
        "run (negative: a deficit). Give your own: the published balances stop in March "
        "2022. Between -GBP 100bn and GBP 100bn (*assumption*: about ten times England's "
        "whole High Needs Block).",
        lo=-100_000_000_000,
        hi=100_000_000_000,
    )


@dataclass(frozen=True)
class CapacityResponse:
    """How the teams (panel, EPs, coordinators, review officers) follow their workload
    (simulation/teams.py, `Response`): an establishment that follows the smoothed workload
    with a recruitment lag, and temporary capacity when waits pass a threshold."""

    respond: bool = _p(
        True,
        "Teams follow their workload (False: hold capacity fixed, 'what if we cannot "
        "recruit'; capacity levers still add on top).",
    )
    strength: float = _p(
        0.89,
        "Elasticity of the establishment to its workload (relative to the first 26 "
        "weeks' workload; 1: in proportion). Estimated per LA "
        "(calibration/estimators/growth.py): the slope of log assessments completed on "
        "log requests 2016-2024, shrunk towards the pooled slope of all LAs (0.89).",
        lo=0,
        hi=2,
    )
    lag_days: float = _p(
        410.0,
        "Recruitment lag: time constant (days) of the establishment's response to the "
        "workload. Pooled across LAs from the lagged effect of request growth on "
        "completions growth 2017-2024 (one LA's history cannot identify it).",
        lo=7,
        hi=3650,
    )
    vacancy_rate: float = _p(
        0.1,
        "Share of posts added by the response left vacant. *Assumption*: EP and "
        "caseworker posts are hard to fill; no published LA figure.",
        lo=0,
        hi=1,
    )
    temp_trigger_weeks: float = _p(
        4.0,
        "Wait (weeks) ahead of new work at which temporary capacity (locum EPs, agency "
        "plan writers, extra panel sittings, review overtime) starts. *Assumption*: "
        "before the 6-week steps of the statutory timetable are missed.",
        lo=0,
        hi=520,
    )
    temp_cap: float = _p(
        0.3,
        "Most temporary capacity, as a share of the establishment; reached when the wait "
        "is twice the trigger. *Assumption*.",
        lo=0,
        hi=5,
    )
    priority_share: float = _p(
        0.0,
        "Share of assessments, the simplest (least EP work, least drafting), that the EP "
        "and coordinator teams keep a lane for (simulation/teams.py, `Lanes`), so that "
        "under pressure they stay on time while the rest wait. Estimated per LA "
        "(calibration/estimators/growth.py): the LA's lowest share issued within 20 "
        "weeks 2016-2024, or the bundled LAs' median lowest share (0.225) where that is "
        "lower. 0: strict first come, first served.",
        lo=0,
        hi=1,
    )


@dataclass(frozen=True)
class Parameters:
    """Everything one replication needs. Build with `Parameters()` or `load_parameters`."""

    la_code: str = _p("", "GSS code of the LA these parameters describe.")
    la_name: str = _p("", "Name of the LA.")
    run: RunSettings = field(default_factory=RunSettings)
    demand: Demand = field(default_factory=Demand)
    panel: Panel = field(default_factory=Panel)
    assessment: Assessment = field(default_factory=Assessment)
    plan: PlanWriting = field(default_factory=PlanWriting)
    placement: Placements = field(default_factory=Placements)
    review: Reviews = field(default_factory=Reviews)
    capacity: CapacityResponse = field(default_factory=CapacityResponse)
    phase_transfer: PhaseTransfer = field(default_factory=PhaseTransfer)
    exits: Exits = field(default_factory=Exits)
    initial: InitialState = field(default_factory=InitialState)
    costs: Costs = field(default_factory=Costs)
    funding: Funding = field(default_factory=Funding)
    levers: tuple[Lever, ...] = _p(
        (), "Policy levers ([[levers]] tables; see the lever types below)."
    )

    def __post_init__(self) -> None:
        _validate(self, "")

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)  # type: ignore[no-any-return]

    def override(
        self, changes: Mapping[str, Any], source: str = "<overrides>", text: str | None = None
    ) -> Parameters:
        """A copy with `changes` (nested like the TOML) applied; unknown keys are errors."""
        merged = _merge(self.to_dict(), changes, source, text, "")
        return from_dict(merged, source, text)

    def replace(self, **sections: Any) -> Parameters:
        return dataclasses.replace(self, **sections)


# --- loading and validation -------------------------------------------------------------


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _line_of(text: str | None, path: str) -> str:
    """Best-effort ', line N' of a dotted key in TOML text, for error messages. A key inside
    a list or an inline table is found by the line of the nearest enclosing key."""
    if not text or not path:
        return ""
    array = re.match(r"^(\w+)\[(\d+)\](?:\.(\w+))?", path)
    if array:  # a key in the i-th [[table]] of an array of tables
        line = _find_in_array(text, array.group(1), int(array.group(2)), array.group(3))
        if line:
            return f", line {line}"
    parts = re.sub(r"\[\d+\]", "", path).split(".")
    while parts:
        line = _find_key(text, ".".join(parts[:-1]), parts[-1])
        if line:
            return f", line {line}"
        parts = parts[:-1]
    return ""


def _find_in_array(text: str, name: str, index: int, key: str | None) -> int | None:
    seen, header = -1, None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if re.match(rf"^\[\[\s*{re.escape(name)}\s*\]\]", stripped):
            seen += 1
            if seen == index:
                header = n
                if key is None:
                    return n
            elif seen > index:
                break
            continue
        if stripped.startswith("["):
            if seen >= index:
                break
            continue
        if seen == index and key and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return n
    return header


def _find_key(text: str, section: str, key: str) -> int | None:
    in_section = section == ""
    dotted = f"{section}.{key}" if section else key
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = re.match(r"^\[+\s*([^\]]+?)\s*\]+", stripped)
        if m:
            header = m.group(1).replace(" ", "")
            if header == dotted or header.startswith(dotted + "."):
                return n
            in_section = header == section
            continue
        if in_section and re.match(rf"^(['\"]?){re.escape(key)}\1\s*=", stripped):
            return n
        if not in_section and re.match(rf"^{re.escape(dotted)}\s*=", stripped):
            return n
    return None


# Keys that no longer exist, and what to write instead.
REMOVED_KEYS = {
    "demand.request_hazard_multiplier": "a policy that lowers requests is expressed one way, "
    'as a lever: [[levers]] type = "early_intervention", request_reduction = 0.15, '
    'start = "2026-04-01" (see the lever types in docs/parameters.md)',
}


def _unknown_key(path: str, allowed: list[str], source: str, text: str | None) -> ParameterError:
    where = f"{source}{_line_of(text, path)}"
    key = path.removeprefix("add.").removeprefix("multiply.")
    if key in REMOVED_KEYS:
        return ParameterError(f"{where}: '{key}' was removed: {REMOVED_KEYS[key]}", path)
    return ParameterError(
        f"{where}: unknown key '{path}' (allowed here: {', '.join(allowed)})", path
    )


def _merge(
    base: dict[str, Any], changes: Mapping[str, Any], source: str, text: str | None, prefix: str
) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        path = f"{prefix}{key}"
        if key not in base:
            raise _unknown_key(path, sorted(base), source, text)
        if (
            isinstance(base[key], dict)
            and isinstance(value, Mapping)
            and not _is_open_dict(prefix + key)
        ):
            out[key] = _merge(base[key], value, source, text, path + ".")
        else:
            out[key] = value
    return out


# Tables of shares or counts keyed by data (needs, groups): a scenario that gives one
# replaces it whole, since a partial table merged into the defaults would keep shares the
# user meant to drop. (exits.hazard_by_band is merged by reason: each reason stands alone.)
_WHOLE_TABLES = {
    "demand.request_multiplier_by_year",
    "funding.hnb_income_by_year",
    "costs.transport_cost_by_group",
    "phase_transfer.leaving_reason_shares",
    "placement.need_weights",
    "initial.caseload",
    "demand.need_shares",
    "initial.need_shares",
}
_WHOLE_TABLE_PREFIXES = ("placement.mix_by_phase.",)


def _is_open_dict(path: str) -> bool:
    return path in _WHOLE_TABLES or path.startswith(_WHOLE_TABLE_PREFIXES)


def from_dict(
    data: Mapping[str, Any], source: str = "<dict>", text: str | None = None
) -> Parameters:
    """Build Parameters from nested plain data, naming the key of any bad value."""
    return _build(Parameters, data, source, text, "")  # type: ignore[no-any-return]


def _build(cls: type, data: Mapping[str, Any], source: str, text: str | None, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ParameterError(
            f"{source}{_line_of(text, prefix.rstrip('.'))}: '{prefix.rstrip('.')}' must be a table"
        )
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise _unknown_key(prefix + key, sorted(names), source, text)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        path = prefix + f.name
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, data[f.name], source, text, path + ".")  # type: ignore[arg-type]
        else:
            kwargs[f.name] = _coerce(hint, data[f.name], f.metadata, path, source, text)
    try:
        return cls(**kwargs)
    except ParameterError as e:
        raise ParameterError(f"{source}{_line_of(text, e.path)}: {e}", e.path) from None


def _fail(source: str, text: str | None, path: str, msg: str) -> typing.NoReturn:
    raise ParameterError(f"{source}{_line_of(text, path)}: '{path}' {msg}", path)


def _coerce(
    hint: Any, value: Any, meta: Mapping[str, Any], path: str, source: str, text: str | None
) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple and typing.get_args(hint)[0] is Lever:
        return _levers(value, path, source, text)
    if hint is bool:
        if not isinstance(value, bool):
            _fail(source, text, path, f"must be true or false, got {value!r}")
        return value
    if hint is int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not value.is_integer())
        ):
            what = "finite " if isinstance(value, float) and not math.isfinite(value) else ""
            _fail(source, text, path, f"must be a {what}whole number, got {value!r}{_range(meta)}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(source, text, path, f"must be a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:  # a whole number beyond any float
            _fail(source, text, path, f"= {_show(value)} is too large{_range(meta)}")
    if hint is str:
        if not isinstance(value, str):
            _fail(source, text, path, f"must be a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            _fail(source, text, path, f"must be a list of numbers, got {value!r}")
        return tuple(
            _coerce(float, v, meta, f"{path}[{i}]", source, text) for i, v in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            _fail(source, text, path, f"must be a table, got {value!r}")
        _, vt = typing.get_args(hint)
        inner_meta = dict(meta)
        if typing.get_origin(vt) is dict:
            inner_meta["keys"] = meta.get("inner_keys")
        return {
            str(k): _coerce(vt, v, inner_meta, f"{path}.{k}", source, text)
            for k, v in value.items()
        }
    raise TypeError(f"unsupported parameter type {hint} at {path}")  # pragma: no cover


def _levers(value: Any, path: str, source: str, text: str | None) -> tuple[Lever, ...]:
    """Levers from [[levers]] tables, each built as its type; errors name the lever."""
    if not isinstance(value, list | tuple):
        _fail(source, text, path, f"must be a list of [[{path}]] tables, got {value!r}")
    out = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(item, Lever):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            _fail(source, text, where, "must be a table")
        kind = item.get("type")
        label = f"lever '{item.get('name') or kind}' ({where})"
        if kind not in LEVER_TYPES:
            raise ParameterError(
                f"{source}{_line_of(text, where + '.type')}: {label}: '{where}.type' must be "
                f"one of {', '.join(LEVER_TYPES)}, got {kind!r}",
                where + ".type",
            )
        if isinstance(item.get("start"), dt.date):  # an unquoted TOML date
            item = {**item, "start": item["start"].isoformat()}
        try:
            lever = _build(LEVER_TYPES[kind], item, source, text, where + ".")
            _validate_lever(lever, where + ".")
        except ParameterError as e:
            message = str(e)
            if message.startswith(source):
                message = message[len(source) :].lstrip(":, ")
                message = re.sub(r"^line \d+: ", "", message)
            raise ParameterError(
                f"{source}{_line_of(text, e.path)}: {label}: {message}", e.path
            ) from None
        out.append(lever)
    return tuple(out)


def _validate_lever(lever: Lever, prefix: str) -> None:
    for f in dataclasses.fields(lever):
        _check(getattr(lever, f.name), f.metadata, prefix + f.name)
    try:
        lever.start_date()
    except ValueError:
        raise ParameterError(
            f"'{prefix}start' = {lever.start!r} is not a date (YYYY-MM-DD)", prefix + "start"
        ) from None


def _validate(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = prefix + f.name
        if dataclasses.is_dataclass(value):
            continue  # validated by its own __post_init__ or below
        _check(value, f.metadata, path)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            _validate(value, prefix + f.name + ".")
    _cross_checks(obj, prefix)


def _range(meta: Mapping[str, Any]) -> str:
    """' (allowed range LO to HI)' for error messages, or '' for a field without one."""
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return ""
    low = "-inf" if lo is None else _show(lo)
    high = "inf" if hi is None else _show(hi)
    return f" (allowed range {low} to {high})"


def _show(value: Any) -> str:
    """A number for an error message: huge whole numbers in short scientific form."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        try:
            return f"{float(value):.3g}"
        except OverflowError:
            return f"a {len(str(abs(value)))}-digit number"
    return str(value)


def _check(value: Any, meta: Mapping[str, Any], path: str) -> None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"'{path}' must be finite, got {value}{_range(meta)}", path)
        if lo is not None and value < lo:
            raise ParameterError(
                f"'{path}' = {_show(value)} is below the allowed minimum {lo}{_range(meta)}", path
            )
        if hi is not None and value > hi:
            raise ParameterError(
                f"'{path}' = {_show(value)} is above the allowed maximum {hi}{_range(meta)}", path
            )
    elif isinstance(value, str):
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ParameterError(f"'{path}' = {value!r} is not one of {', '.join(choices)}", path)
    elif isinstance(value, tuple):
        length = meta.get("length")
        if length is not None and len(value) != length:
            raise ParameterError(f"'{path}' must have {length} values, got {len(value)}", path)
        for i, v in enumerate(value):
            _check(v, {**meta, "length": None}, f"{path}[{i}]")
    elif isinstance(value, dict):
        keys = meta.get("keys")
        for k, v in value.items():
            if keys is not None and k not in keys:
                raise ParameterError(
                    f"'{path}' has unknown key '{k}' (allowed: {', '.join(keys)})", path
                )
            inner = {**meta, "keys": meta.get("inner_keys")}
            _check(v, inner, f"{path}.{k}")


def _year_keys(table: Mapping[str, Any], path: str, what: str) -> None:
    for key in table:
        if not (key.isdigit() and len(key) == 4 and YEAR_MIN <= int(key) <= YEAR_MAX):
            raise ParameterError(
                f"'{path}' has key {key!r}: keys are {what} ({YEAR_MIN} to {YEAR_MAX})",
                f"{path}.{key}",
            )


def _cross_checks(obj: Any, prefix: str) -> None:
    if isinstance(obj, Parameters):
        for i, lever in enumerate(obj.levers):
            _validate_lever(lever, f"levers[{i}].")
    if isinstance(obj, Reviews):
        total = obj.p_amend + max(obj.p_step_up, obj.p_step_down) + obj.p_cease
        if total > 1 + 1e-9:
            raise ParameterError(
                f"'{prefix}p_amend + max(p_step_up, p_step_down) + p_cease' = {total:.3f} must be "
                "at most 1 (the rest of reviews maintain the plan)",
                f"{prefix}p_amend",
            )
    if isinstance(obj, Placements):
        for phase, mix in obj.mix_by_phase.items():
            allowed = GROUPS_BY_PHASE[phase]
            for g, share in mix.items():
                if share > 0 and g not in allowed:
                    raise ParameterError(
                        f"'{prefix}mix_by_phase.{phase}.{g}' must be 0: no {g} placements "
                        f"in the {phase} phase (allowed: {', '.join(allowed)})",
                        f"{prefix}mix_by_phase.{phase}.{g}",
                    )
            if sum(mix.values()) <= 0:
                raise ParameterError(
                    f"'{prefix}mix_by_phase.{phase}' must have a positive share",
                    f"{prefix}mix_by_phase.{phase}",
                )
        missing = set(PHASE_NAMES) - set(obj.mix_by_phase)
        if missing:
            raise ParameterError(
                f"'{prefix}mix_by_phase' lacks phases: {', '.join(sorted(missing))}",
                f"{prefix}mix_by_phase",
            )
    if isinstance(obj, Funding):
        _year_keys(
            obj.hnb_income_by_year,
            f"{prefix}hnb_income_by_year",
            'the starting year of the financial year, e.g. "2023" for 2023-24',
        )
    if isinstance(obj, Demand):
        _year_keys(
            obj.request_multiplier_by_year,
            f"{prefix}request_multiplier_by_year",
            'calendar years, e.g. "2022"',
        )
    if isinstance(obj, Demand | InitialState) and sum(obj.need_shares.values()) <= 0:
        raise ParameterError(
            f"'{prefix}need_shares' must have a positive share", f"{prefix}need_shares"
        )


def load_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a TOML file (UTF-8, with or without a byte-order mark); a file that cannot be
    read, is not UTF-8 or is not TOML becomes a ParameterError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ParameterError(f"{p}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ParameterError(
            f"{p}: is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
            "save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise ParameterError(f"{p}: not valid TOML ({e})") from None


def load_parameters(path: str | Path) -> Parameters:
    """A complete parameter file (as `sendsim calibrate` writes), checked key by key."""
    data, text = load_toml(path)
    return from_dict(data, str(path), text)


SCENARIO_META_KEYS = ("name", "description", "no_change")
RELATIVE_TABLES = {"add": operator.add, "multiply": operator.mul}


def _scenario_meta(data: Mapping[str, Any], source: str, text: str) -> Mapping[str, Any]:
    """The checked [scenario] table: known keys, a text name and description, a boolean
    no_change."""
    meta = data.get("scenario", {})
    if not isinstance(meta, Mapping):
        raise ParameterError(f"{source}{_line_of(text, 'scenario')}: 'scenario' must be a table")
    for key, value in meta.items():
        where = f"{source}{_line_of(text, 'scenario.' + key)}: "
        if key not in SCENARIO_META_KEYS:
            raise ParameterError(
                f"{where}unknown key 'scenario.{key}' "
                f"(allowed here: {', '.join(SCENARIO_META_KEYS)})"
            )
        if key == "no_change" and not isinstance(value, bool):
            raise ParameterError(
                f"{where}'scenario.no_change' must be true or false, got {value!r}"
            )
        if key != "no_change" and not isinstance(value, str):
            raise ParameterError(f"{where}'scenario.{key}' must be a string, got {value!r}")
    return meta


def _first_change(data: Mapping[str, Any], prefix: str = "") -> str | None:
    """The dotted key of the first value the scenario sets (empty tables set nothing)."""
    for key, value in data.items():
        if not isinstance(value, Mapping):
            return prefix + key
        found = _first_change(value, f"{prefix}{key}.")
        if found:
            return found
    return None


def apply_scenario(base: Parameters, path: str | Path) -> Parameters:
    """Apply a scenario TOML file to `base`. Top-level tables set values outright;
    `[add.<section>]` and `[multiply.<section>]` change the base's values relative to what
    they are (lists and tables element by element), so one scenario file serves any LA;
    every result is range-checked. `[scenario]` holds the scenario's name and description.

    A scenario must change something: one that changes nothing is almost always a mistake
    (an empty file, changes under a misspelt table). One that means to (a baseline, or a
    check that a scenario compared with itself differs by zero) says `no_change = true`
    under [scenario]; the name "baseline" says so too, since it is the LA's defaults (the
    bundled baseline.toml)."""
    data, text = load_toml(path)
    source = str(path)
    meta = _scenario_meta(data, source, text)
    data.pop("scenario", None)
    allowed = sorted({*base.to_dict(), *RELATIVE_TABLES, "scenario"})
    for key in data:
        if key not in allowed:
            raise ParameterError(
                f"{source}{_line_of(text, key)}: unknown key '{key}' "
                f"(allowed here: {', '.join(allowed)})",
                key,
            )
    changed = _first_change(data)
    if meta.get("no_change") and changed:
        raise ParameterError(
            f"{source}{_line_of(text, changed)}: 'scenario.no_change' is true but the scenario "
            f"changes '{changed}'"
        )
    if not changed and not meta.get("no_change") and meta.get("name") != "baseline":
        raise ParameterError(
            f"{source}: the scenario changes nothing (no value, [add.*], [multiply.*] or "
            "[[levers]]); give its changes, or no_change = true under [scenario] if it is "
            "meant to be the baseline"
        )
    relative = {k: data.pop(k) for k in list(data) if k in RELATIVE_TABLES}
    params = base.override(data, source, text) if data else base
    for kind, changes in relative.items():
        if not isinstance(changes, Mapping):
            raise ParameterError(f"{source}{_line_of(text, kind)}: '{kind}' must be a table")
        current = params.to_dict()
        new = _relative(current, changes, RELATIVE_TABLES[kind], source, text, kind + ".")
        try:
            params = params.override(new, _RELATIVE_SOURCE)
        except ParameterError as e:  # out of range after the change: name both keys
            detail = str(e).removeprefix(_RELATIVE_SOURCE + ": ")
            key = kind + "." + _changed_key(changes, e.path)
            raise ParameterError(
                f"{source}{_line_of(text, kind + '.' + e.path)}: after '{key}', {detail}", e.path
            ) from None
    _same_timeline(base, params, source, text)
    return params


#: What every scenario of a run shares with its baseline, and the option that sets it.
_TIMELINE = {"start_year": "--start-year", "years": "--years"}


def _same_timeline(base: Parameters, params: Parameters, source: str, text: str) -> None:
    """A scenario starts from the baseline's census and simulates its years: scenarios are
    compared with it year by year, replication by replication."""
    for key, option in _TIMELINE.items():
        was, now = getattr(base.run, key), getattr(params.run, key)
        if now != was:
            path = f"run.{key}"
            where = (_line_of(text, p) for p in (path, f"add.{path}", f"multiply.{path}"))
            line = next((found for found in where if found), "")
            raise ParameterError(
                f"{source}{line}: a scenario cannot change '{path}' (from {was} to {now}): "
                "every scenario of a run starts from the same census and simulates the same "
                f"years as the baseline, to be compared year by year; leave it out and use "
                f"{option} of the run",
                path,
            )


_RELATIVE_SOURCE = "<relative change>"


def _changed_key(changes: Mapping[str, Any], path: str) -> str:
    """The key of `changes` (dotted) that made the value at `path`: the path itself or
    the table containing it that the scenario changed as a whole."""
    parts = re.sub(r"\[\d+\]", "", path).split(".")
    node: Any = changes
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            return ".".join(parts[:i]) or path
        node = node[part]
        if not isinstance(node, Mapping):
            return ".".join(parts[: i + 1])
    return ".".join(parts)


def _relative(
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    op: Callable[[Any, Any], Any],
    source: str,
    text: str | None,
    prefix: str,
) -> dict[str, Any]:
    """New values from `op(current value, change)` for each key in `changes`."""
    out: dict[str, Any] = {}
    for key, change in changes.items():
        path = prefix + key
        if key not in current:
            raise _unknown_key(path, sorted(current), source, text)
        value = current[key]
        if isinstance(change, Mapping):
            if not isinstance(value, Mapping):
                raise ParameterError(
                    f"{source}{_line_of(text, path)}: '{path}' is a single value, not a table"
                )
            out[key] = {**value, **_relative(value, change, op, source, text, path + ".")}
            continue
        if isinstance(change, bool) or not isinstance(change, int | float):
            raise ParameterError(
                f"{source}{_line_of(text, path)}: '{path}' must be a number, got {change!r}"
            )
        try:
            finite = math.isfinite(change)
        except OverflowError:  # a whole number beyond any float
            finite = False
        if not finite:
            raise ParameterError(
                f"{source}{_line_of(text, path)}: '{path}' must be a finite number, "
                f"got {_show(change)}"
            )
        out[key] = _apply_number(value, change, op, source, text, path)
    return out


def _apply_number(
    value: Any,
    change: float,
    op: Callable[[Any, Any], Any],
    source: str,
    text: str | None,
    path: str,
) -> Any:
    if isinstance(value, bool | str):
        raise ParameterError(
            f"{source}{_line_of(text, path)}: '{path}' is not a number and cannot be changed "
            "relatively"
        )
    if isinstance(value, int | float):
        try:
            result = op(value, change)
        except OverflowError:  # a whole-number change beyond any float, on a float
            result = math.inf
        if isinstance(value, float) or not math.isfinite(result):
            return float(result)  # non-finite: range-checked (and rejected) as a result
        return round(result)
    if isinstance(value, list):
        return [_apply_number(v, change, op, source, text, path) for v in value]
    if isinstance(value, Mapping):
        return {k: _apply_number(v, change, op, source, text, path) for k, v in value.items()}
    raise ParameterError(f"{source}{_line_of(text, path)}: '{path}' cannot be changed")


def scenario_name(path: str | Path) -> str:
    """The scenario's name: [scenario] name in the file, else the file's stem."""
    data, text = load_toml(path)
    meta = _scenario_meta(data, str(path), text)
    return str(meta.get("name", Path(path).stem))


def scenario_description(path: str | Path) -> str:
    data, text = load_toml(path)
    meta = _scenario_meta(data, str(path), text)
    return str(meta.get("description", ""))


def iter_fields(
    cls: type = Parameters, prefix: str = ""
) -> typing.Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(dotted key, default, metadata) for every leaf parameter: the reference docs."""
    defaults = cls()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from iter_fields(typing.cast(type, hint), prefix + f.name + ".")
        else:
            yield prefix + f.name, getattr(defaults, f.name), f.metadata
