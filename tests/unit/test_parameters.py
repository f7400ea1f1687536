"""Unit tests of simulation/parameters.py: construction, overrides, validation messages,
TOML loading, scenarios, round trips and the reference-doc iterator."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from simulation.parameters import (
    ParameterError,
    Parameters,
    apply_scenario,
    from_dict,
    iter_fields,
    load_toml,
    scenario_name,
)
from simulation.vocabulary import (
    GROUPS_BY_PHASE,
    HAZARD_REASONS,
    N_AGES,
    NEEDS,
    PHASE_NAMES,
    PLACEMENT_GROUPS,
)


def error_of(changes: dict[str, Any], text: str | None = None, source: str = "src") -> str:
    with pytest.raises(ParameterError) as info:
        Parameters().override(changes, source, text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(source)
    return message


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def leaves(d: dict[str, Any]) -> set[str]:
    """Dotted keys of the parameter leaves of a to_dict() tree (dict-valued parameters
    such as need_shares are leaves, sections are not)."""
    defaults = Parameters()
    sections = {
        f.name
        for f in dataclasses.fields(Parameters)
        if dataclasses.is_dataclass(getattr(defaults, f.name))
    }
    out: set[str] = set()
    for k, v in d.items():
        out |= {f"{k}.{x}" for x in v} if k in sections else {k}
    return out


def plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    return v


# --- construction and override ---------------------------------------------------------


def test_defaults_construct_and_are_frozen() -> None:
    p = Parameters()
    assert p.run.years >= 1
    assert set(p.placement.mix_by_phase) == set(PHASE_NAMES)
    assert set(p.exits.hazard_by_band) == set(HAZARD_REASONS)
    assert len(p.demand.sen_support_by_age) == N_AGES
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.run = p.run  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.assessment.ep_fte = 1.0  # type: ignore[misc]


def test_override_nested_key_returns_new_frozen_object() -> None:
    base = Parameters()
    new = base.override(
        {"assessment": {"ep_fte": 3.5}, "exits": {"hazard_by_band": {"he": [0.1] * 5}}}
    )
    assert new is not base
    assert new.assessment.ep_fte == 3.5
    assert new.exits.hazard_by_band["he"] == (0.1,) * 5
    # Untouched siblings keep their values; the original is unchanged.
    assert new.assessment.ep_days_per_advice == base.assessment.ep_days_per_advice
    assert new.exits.hazard_by_band["transfer"] == base.exits.hazard_by_band["transfer"]
    assert base.assessment.ep_fte == Parameters().assessment.ep_fte
    assert base.exits.hazard_by_band["he"] == Parameters().exits.hazard_by_band["he"]
    assert isinstance(new.demand.sen_support_by_age, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.assessment.ep_fte = 1.0  # type: ignore[misc]


def test_override_coerces_ints_to_floats_and_lists_to_tuples() -> None:
    p = Parameters().override({"assessment": {"ep_fte": 4}, "panel": {"slots_per_sitting": 12.0}})
    assert isinstance(p.assessment.ep_fte, float) and p.assessment.ep_fte == 4.0
    assert isinstance(p.panel.slots_per_sitting, int) and p.panel.slots_per_sitting == 12


def test_open_dicts_are_replaced_not_merged() -> None:
    p = Parameters().override({"initial": {"caseload": {"mainstream": [1, 2, 3, 4, 5]}}})
    q = p.override({"initial": {"caseload": {"special_state": [0, 1, 0, 0, 0]}}})
    assert set(q.initial.caseload) == {"special_state"}


def test_share_tables_are_replaced_whole() -> None:
    """A scenario giving a phase's placement mix or the need shares means exactly those
    shares: groups or needs left out drop to nothing rather than keeping a default."""
    q = Parameters().override(
        {
            "placement": {"mix_by_phase": {"primary": {"mainstream": 0.7, "special_state": 0.3}}},
            "demand": {"need_shares": {"asd": 1.0}},
        }
    )
    assert q.placement.mix_by_phase["primary"] == {"mainstream": 0.7, "special_state": 0.3}
    assert q.placement.mix_by_phase["secondary"] == Parameters().placement.mix_by_phase["secondary"]
    assert q.demand.need_shares == {"asd": 1.0}


def test_cross_check_errors_name_their_line_in_toml() -> None:
    text = "[review]\np_amend = 0.9\np_cease = 0.2\n"
    message = error_of(tomllib.loads(text), text, "f.toml")
    assert "f.toml, line 2" in message
    text = "[placement.mix_by_phase.primary]\nfe_post16 = 0.5\nmainstream = 0.5\n"
    message = error_of(tomllib.loads(text), text, "f.toml")
    assert "'placement.mix_by_phase.primary.fe_post16' must be 0" in message
    assert "line 2" in message


# --- unknown keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"bogus": 1}, "bogus"),
        ({"assessment": {"bogus": 1}}, "assessment.bogus"),
        ({"exits": {"hazard_by_band": {"abducted": [0.0] * 5}}}, "exits.hazard_by_band.abducted"),
    ],
)
def test_unknown_key_is_error_naming_key(changes: dict[str, Any], key: str) -> None:
    message = error_of(changes)
    assert f"unknown key '{key}'" in message
    assert "allowed here:" in message


def test_unknown_key_from_dict_names_key() -> None:
    d = Parameters().to_dict()
    d["panel"]["sittings"] = 3
    with pytest.raises(ParameterError, match=r"unknown key 'panel\.sittings'"):
        from_dict(d)


def test_unknown_key_in_toml_names_line() -> None:
    text = 'la_name = "Testshire"\n\n[assessment]\nep_fte = 2.0\nbogus = 1\n'
    message = error_of(tomllib.loads(text), text, "my.toml")
    assert "my.toml, line 5" in message
    assert "'assessment.bogus'" in message


# --- wrong types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"assessment": {"ep_fte": "ten"}}, "assessment.ep_fte", "must be a number"),
        ({"assessment": {"ep_fte": True}}, "assessment.ep_fte", "must be a number"),
        ({"panel": {"slots_per_sitting": 2.5}}, "panel.slots_per_sitting", "whole number"),
        ({"panel": {"slots_per_sitting": "3"}}, "panel.slots_per_sitting", "whole number"),
        ({"panel": {"slots_per_sitting": False}}, "panel.slots_per_sitting", "whole number"),
        ({"run": {"event_log": 1}}, "run.event_log", "true or false"),
        ({"la_name": 3}, "la_name", "must be a string"),
        ({"demand": {"sen_support_by_age": 5.0}}, "demand.sen_support_by_age", "list"),
        (
            {"demand": {"sen_support_by_age": ["a"] * N_AGES}},
            "demand.sen_support_by_age[0]",
            "must be a number",
        ),
        ({"demand": {"need_shares": 1.0}}, "demand", "table"),
        ({"assessment": 3}, "assessment", "must be a table"),
    ],
)
def test_wrong_type_is_error_naming_key_and_type(
    changes: dict[str, Any], key: str, expected: str
) -> None:
    message = error_of(changes)
    assert f"'{key}" in message
    assert expected in message


def test_wrong_type_in_toml_names_line() -> None:
    text = "[run]\nyears = 3\n\n[assessment]\n\nep_fte = 'many'\n"
    message = error_of(tomllib.loads(text), text, "t.toml")
    assert message.startswith("t.toml, line 6: 'assessment.ep_fte'")


# --- out of range ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "bound"),
    [
        ({"assessment": {"ep_fte": -1}}, "assessment.ep_fte", "minimum 0"),
        ({"assessment": {"ep_fte": 20_000}}, "assessment.ep_fte", "maximum 10000"),
        ({"panel": {"p_refuse": 1.5}}, "panel.p_refuse", "maximum 1"),
        ({"panel": {"slots_per_sitting": -1}}, "panel.slots_per_sitting", "minimum 0"),
        ({"plan": {"comment_days": 10}}, "plan.comment_days", "minimum 15"),
        ({"run": {"years": 0}}, "run.years", "minimum 1"),
        ({"exits": {"max_age": 26}}, "exits.max_age", "maximum 25"),
        (
            {"demand": {"request_hazard_by_age": [0.0] * (N_AGES - 1) + [6.0]}},
            "demand.request_hazard_by_age[25]",
            "maximum 5",
        ),
        (
            {"exits": {"hazard_by_band": {"transfer": [0.1, 0.1, 0.1, 0.1, 20.0]}}},
            "exits.hazard_by_band.transfer[4]",
            "maximum 10",
        ),
        (
            {"placement": {"mix_by_phase": {"primary": {"mainstream": -0.1}}}},
            "placement.mix_by_phase.primary.mainstream",
            "minimum 0",
        ),
    ],
)
def test_out_of_range_is_error_naming_key_and_bound(
    changes: dict[str, Any], key: str, bound: str
) -> None:
    message = error_of(changes)
    assert f"'{key}'" in message
    assert f"allowed {bound}" in message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_errors(bad: float) -> None:
    message = error_of({"assessment": {"ep_days_per_advice": bad}})
    assert "'assessment.ep_days_per_advice' must be finite" in message


def test_out_of_range_in_toml_names_line() -> None:
    text = 'la_name = "x"\n\n[exits]\nmax_age = 25\nmoves_in_per_year = -1\n'
    message = error_of(tomllib.loads(text), text, "f.toml")
    assert message.startswith("f.toml, line 5: 'exits.moves_in_per_year'")
    assert "minimum 0" in message


def test_out_of_range_list_element_in_toml_names_line() -> None:
    text = "[exits.hazard_by_band]\ntransfer = [0.1, 0.1, 0.1, 0.1, 20.0]\n"
    message = error_of(tomllib.loads(text), text, "f.toml")
    assert "line 2" in message


@pytest.mark.parametrize(
    ("changes", "key", "length"),
    [
        ({"demand": {"sen_support_by_age": [1.0, 2.0, 3.0]}}, "demand.sen_support_by_age", 26),
        ({"exits": {"hazard_by_band": {"he": [0.1] * 4}}}, "exits.hazard_by_band.he", 5),
        ({"exits": {"moves_in_band_shares": [0.5] * 6}}, "exits.moves_in_band_shares", 5),
        ({"initial": {"caseload": {"mainstream": [1.0] * 3}}}, "initial.caseload.mainstream", 5),
    ],
)
def test_wrong_list_length_is_error(changes: dict[str, Any], key: str, length: int) -> None:
    message = error_of(changes)
    assert f"'{key}' must have {length} values" in message


@pytest.mark.parametrize(
    ("changes", "key", "unknown", "allowed"),
    [
        (
            {"initial": {"caseload": {"spaceship": [1.0] * 5}}},
            "initial.caseload",
            "spaceship",
            PLACEMENT_GROUPS,
        ),
        (
            {"placement": {"need_weights": {"zzz": {"special_state": 1.0}}}},
            "placement.need_weights",
            "zzz",
            NEEDS,
        ),
        (
            {"placement": {"need_weights": {"asd": {"spaceship": 2.0}}}},
            "placement.need_weights.asd",
            "spaceship",
            PLACEMENT_GROUPS,
        ),
    ],
)
def test_unknown_dict_key_in_open_dict_is_error(
    changes: dict[str, Any], key: str, unknown: str, allowed: tuple[str, ...]
) -> None:
    message = error_of(changes)
    assert f"'{key}' has unknown key '{unknown}'" in message
    assert f"allowed: {', '.join(allowed)}" in message


def test_unknown_need_in_from_dict_names_key_and_allowed_needs() -> None:
    d = Parameters().to_dict()
    d["demand"]["need_shares"]["dyslexia"] = 0.1
    with pytest.raises(ParameterError) as info:
        from_dict(d)
    message = str(info.value)
    assert "'demand.need_shares' has unknown key 'dyslexia'" in message
    assert all(n in message for n in NEEDS)


def test_bad_choice_names_choices() -> None:
    message = error_of({"placement": {"overflow": "queue"}})
    assert "'placement.overflow' = 'queue' is not one of wait, independent" in message


# --- cross checks ------------------------------------------------------------------------


def test_review_outcome_shares_over_one_is_error() -> None:
    """Either kind of placement move (up for children outside special schools, down for
    those in them) plus amending and ceasing must fit within all reviews."""
    message = error_of(
        {"review": {"p_amend": 0.6, "p_step_up": 0.2, "p_step_down": 0.01, "p_cease": 0.3}}
    )
    assert "p_amend + max(p_step_up, p_step_down) + p_cease" in message
    assert "1.100" in message and "at most 1" in message
    message = error_of(
        {"review": {"p_amend": 0.6, "p_step_up": 0.01, "p_step_down": 0.2, "p_cease": 0.3}}
    )
    assert "1.100" in message
    # Exactly 1 is allowed.
    p = Parameters().override(
        {"review": {"p_amend": 0.5, "p_step_up": 0.2, "p_step_down": 0.1, "p_cease": 0.3}}
    )
    assert p.review.p_amend == 0.5


def test_placement_in_phase_where_group_does_not_exist_is_error() -> None:
    assert "fe_post16" not in GROUPS_BY_PHASE["primary"]
    # Through from_dict: the structural cross-check names the phase and the allowed groups.
    d = Parameters().to_dict()
    d["placement"]["mix_by_phase"]["primary"]["fe_post16"] = 0.5
    with pytest.raises(ParameterError) as info:
        from_dict(d)
    message = str(info.value)
    assert "'placement.mix_by_phase.primary.fe_post16' must be 0" in message
    assert ", ".join(GROUPS_BY_PHASE["primary"]) in message
    # A zero share for a group absent from the phase is harmless.
    d["placement"]["mix_by_phase"]["primary"]["fe_post16"] = 0.0
    assert from_dict(d).placement.mix_by_phase["primary"]["fe_post16"] == 0.0
    # Through override, the group is not a key of the phase's table at all.
    message = error_of({"placement": {"mix_by_phase": {"primary": {"fe_post16": 0.5}}}})
    assert "placement.mix_by_phase.primary.fe_post16" in message


def test_phase_mix_must_have_a_positive_share() -> None:
    zeros = {g: 0.0 for g in GROUPS_BY_PHASE["secondary"]}
    message = error_of({"placement": {"mix_by_phase": {"secondary": zeros}}})
    assert "'placement.mix_by_phase.secondary' must have a positive share" in message


def test_need_shares_must_have_a_positive_share() -> None:
    message = error_of({"demand": {"need_shares": {n: 0.0 for n in NEEDS}}})
    assert "'demand.need_shares' must have a positive share" in message


# --- TOML files and scenarios --------------------------------------------------------


def test_load_toml_invalid_file_is_one_line_error_naming_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[assessment]\nep_fte = = 3\n[[broken\n", "bad.toml")
    with pytest.raises(ParameterError) as info:
        load_toml(path)
    message = str(info.value)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "\n" not in message


def test_load_toml_missing_file_is_error_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ParameterError, match=re.escape(str(path))):
        load_toml(path)


def test_load_toml_returns_data_and_text(tmp_path: Path) -> None:
    text = "[panel]\np_refuse = 0.3\n"
    data, got = load_toml(write(tmp_path, text))
    assert data == {"panel": {"p_refuse": 0.3}}
    assert got == text


def test_apply_scenario_ignores_scenario_table_and_applies_rest(tmp_path: Path) -> None:
    text = (
        '[scenario]\nname = "More EPs"\ndescription = "Two locum EPs"\n\n'
        "[assessment]\nep_fte = 12.0\n"
    )
    path = write(tmp_path, text, "more_eps.toml")
    base = Parameters()
    p = apply_scenario(base, path)
    assert p.assessment.ep_fte == 12.0
    assert dataclasses.replace(p, assessment=base.assessment) == base
    assert scenario_name(path) == "More EPs"


def test_scenario_name_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "[assessment]\nep_fte = 12.0\n", "locum_eps.toml")
    assert scenario_name(path) == "locum_eps"


def test_apply_scenario_error_names_file_and_line(tmp_path: Path) -> None:
    text = '[scenario]\nname = "x"\n\n[panel]\np_refuse = 2.0\n'
    path = write(tmp_path, text)
    with pytest.raises(ParameterError) as info:
        apply_scenario(Parameters(), path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 5: 'panel.p_refuse'")
    assert "maximum 1" in message


# --- round trip and reference docs ---------------------------------------------------


def test_to_dict_from_dict_round_trip_is_identity() -> None:
    p = Parameters().override(
        {
            "la_name": "Roundtripshire",
            "run": {"years": 7, "event_log": True},
            "demand": {"sen_support_by_age": [float(a) for a in range(N_AGES)]},
            "placement": {
                "need_weights": {"asd": {"special_state": 2.0}},
                "overflow": "independent",
            },
            "initial": {"caseload": {"special_state": [1.0, 2.0, 3.0, 4.0, 5.5]}},
        }
    )
    d = p.to_dict()
    q = from_dict(d)
    assert q == p
    assert q.to_dict() == d
    assert from_dict(Parameters().to_dict()) == Parameters()
    # Plain data: lists and dicts only, nothing shared with the frozen object.
    d["initial"]["caseload"]["special_state"][0] = 99.0
    assert p.initial.caseload["special_state"][0] == 1.0


def test_iter_fields_covers_every_leaf_with_doc() -> None:
    fields = list(iter_fields())
    keys = [k for k, _, _ in fields]
    assert len(keys) == len(set(keys))
    assert set(keys) == leaves(Parameters().to_dict())
    defaults = Parameters().to_dict()
    for key, default, meta in fields:
        assert isinstance(meta["doc"], str) and meta["doc"].strip(), key
        node: Any = defaults
        for part in key.split("."):
            node = node[part]
        assert plain(default) == node, key
    assert {"la_code", "assessment.ep_fte", "exits.hazard_by_band", "run.event_log"} <= set(keys)


@pytest.mark.parametrize(
    "text",
    [
        "[multiply.demand]\nrequest_hazard_multiplier = 0.85\n",
        "[demand]\nrequest_hazard_multiplier = 0.85\n",
    ],
)
def test_a_removed_policy_key_says_what_to_write_instead(tmp_path: Path, text: str) -> None:
    path = tmp_path / "old.toml"
    path.write_text(f'[scenario]\nname = "old"\n\n{text}', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"was removed: .*early_intervention"):
        apply_scenario(Parameters(), path)
