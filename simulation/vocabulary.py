"""The categories the model shares with SEN2 and the school census.

Placement groups are the SEN2 establishment groups used in the bundled LA data
(`caseload_<group>`); age bands are SEN2's; needs are the school census primary-need codes.
Ages are *academic* ages: age on 31 August before the academic year, which is how SEN2 and
the school census band children, so a child ages one year each September.
"""

from __future__ import annotations

PLACEMENT_GROUPS: tuple[str, ...] = (
    "mainstream",  # mainstream school, excluding resourced provision and SEN units
    "mainstream_rp_senunit",  # resourced provision or SEN unit in a mainstream school
    "special_state",  # LA-maintained special school, special academy or free school
    "special_independent_nm",  # independent or non-maintained special school
    "ap_pru",  # alternative provision or pupil referral unit
    "fe_post16",  # FE, sixth-form college, specialist post-16 institution
    "early_years",  # non-maintained early-years setting
    "neet",  # not in education, employment or training
    "ehe_other",  # elective home education, other arrangements, awaiting provision
)
GROUP_INDEX = {g: i for i, g in enumerate(PLACEMENT_GROUPS)}

MAX_AGE = 25
SCHOOL_LEAVING_AGE = 16  # academic age after Year 11: school SEN support ends
N_AGES = MAX_AGE + 1  # academic ages 0..25

AGE_BANDS: dict[str, tuple[int, int]] = {
    "under5": (0, 4),
    "5to10": (5, 10),
    "11to15": (11, 15),
    "16to19": (16, 19),
    "20to25": (20, 25),
}
BAND_NAMES: tuple[str, ...] = tuple(AGE_BANDS)


def band_of_age(age: int) -> int:
    """Index into BAND_NAMES of an academic age."""
    for i, (lo, hi) in enumerate(AGE_BANDS.values()):
        if lo <= age <= hi:
            return i
    raise ValueError(f"age {age} outside 0..{MAX_AGE}")


AGE_TO_BAND: tuple[int, ...] = tuple(band_of_age(a) for a in range(N_AGES))

# Phases of education by academic age; a phase transfer happens when a September birthday
# moves a child into the next phase (Reception at 4, Year 7 at 11, post-16 at 16, post-19 at 19).
PHASES: dict[str, tuple[int, int]] = {
    "early_years": (0, 3),
    "primary": (4, 10),
    "secondary": (11, 15),
    "post16": (16, 18),
    "post19": (19, 25),
}
PHASE_NAMES: tuple[str, ...] = tuple(PHASES)
AGE_TO_PHASE: tuple[int, ...] = tuple(
    next(i for i, (lo, hi) in enumerate(PHASES.values()) if lo <= a <= hi) for a in range(N_AGES)
)
PHASE_START_AGES: frozenset[int] = frozenset(lo for lo, _ in PHASES.values() if lo > 0)

# Which settings exist in each phase: a structural fact (early-years settings take only
# under-5s, FE and NEET only apply post-16), not an estimate.
GROUPS_BY_PHASE: dict[str, tuple[str, ...]] = {
    "early_years": (
        "mainstream",
        "special_state",
        "special_independent_nm",
        "early_years",
        "ehe_other",
    ),
    "primary": (
        "mainstream",
        "mainstream_rp_senunit",
        "special_state",
        "special_independent_nm",
        "ap_pru",
        "ehe_other",
    ),
    "secondary": (
        "mainstream",
        "mainstream_rp_senunit",
        "special_state",
        "special_independent_nm",
        "ap_pru",
        "ehe_other",
    ),
    "post16": (
        "mainstream",
        "mainstream_rp_senunit",
        "special_state",
        "special_independent_nm",
        "ap_pru",
        "fe_post16",
        "neet",
        "ehe_other",
    ),
    "post19": ("special_state", "special_independent_nm", "fe_post16", "neet", "ehe_other"),
}

NEEDS: tuple[str, ...] = (
    "asd",
    "semh",
    "slcn",
    "mld",
    "sld",
    "pmld",
    "spld",
    "hi",
    "vi",
    "msi",
    "pd",
    "oth",
)

# Reasons a plan ceases, named as SEN2's ceased_<reason> columns. `transfer` is a move to
# another LA, counted in ceased_total as SEN2 does.
CEASE_REASONS: tuple[str, ...] = (
    "transfer",
    "needs_met",
    "max_age",
    "employment",
    "he",
    "no_longer_engaging",
    "moved_outside_england",
    "deceased",
    "other",
)
# Reasons drawn as hazards while a plan is open (needs_met comes from annual reviews and
# max_age from the September birthday).
HAZARD_REASONS: tuple[str, ...] = (
    "transfer",
    "employment",
    "he",
    "no_longer_engaging",
    "moved_outside_england",
    "deceased",
    "other",
)
