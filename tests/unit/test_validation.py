"""Parameter and scenario validation (issue 13, "never show a traceback"): every numeric
parameter has a finite allowed range that admits England-scale values, relative scenario
changes are range-checked after they are applied, and bad scenario files (not UTF-8,
empty, a non-string name) are one-line ParameterErrors naming the file."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from helpers import stockport

from experiments.experiment import scenario_parameters
from simulation.levers import LEVER_TYPES
from simulation.parameters import (
    ParameterError,
    Parameters,
    apply_scenario,
    from_dict,
    iter_fields,
    load_parameters,
    scenario_description,
    scenario_name,
)


def write(tmp_path: Path, text: str, name: str = "scen.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def scenario_error(base: Parameters, path: Path) -> str:
    """The one-line ParameterError that applying `path` to `base` gives."""
    with pytest.raises(ParameterError) as info:
        apply_scenario(base, path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert len(message) < 400, message
    return message


@functools.cache
def england() -> Parameters:
    from calibration.defaults import estimate_parameters
    from calibration.la_data import load_dataset

    params, _ = estimate_parameters(load_dataset(), "England", years=1)
    return params


def bundled_baseline() -> Path:
    return Path(str(resources.files("experiments.scenarios").joinpath("baseline.toml")))


def numeric_fields() -> list[tuple[str, Any, dict[str, Any]]]:
    """(key, default, metadata) of every numeric parameter and lever field."""
    out = []
    for key, default, meta in iter_fields():
        if key != "levers" and not isinstance(default, bool | str):
            out.append((key, default, dict(meta)))
    for kind, cls in LEVER_TYPES.items():
        lever = cls()
        for f in dataclasses.fields(cls):
            value = getattr(lever, f.name)
            if not isinstance(value, bool | str):
                out.append((f"levers.{kind}.{f.name}", value, dict(f.metadata)))
    return out


def numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, tuple | list):
        return [x for v in value for x in numbers(v)]
    return [value]


# --- every numeric parameter has a finite range ----------------------------------------


@pytest.mark.parametrize(("key", "default", "meta"), numeric_fields(), ids=lambda v: str(v)[:40])
def test_every_numeric_parameter_has_a_finite_range(
    key: str, default: Any, meta: dict[str, Any]
) -> None:
    lo, hi = meta["lo"], meta["hi"]
    assert lo is not None and hi is not None, f"{key} needs a lower and an upper bound"
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi, key
    for v in numbers(default):
        assert lo <= v <= hi, (key, v)


def test_england_defaults_validate_with_room_to_spare(tmp_path: Path) -> None:
    """The bounds admit England as a whole, with headroom: England's counts, places, teams
    and money times four still validate (the caps are about ten times England)."""
    base = england()
    assert sum(base.initial.caseload["special_state"]) > 100_000  # it is England-sized
    counts = {
        "demand": ["sen_support_by_age", "identification_by_age", "direct_requests_by_age"],
        "panel": ["slots_per_sitting"],
        "assessment": ["ep_fte"],
        "plan": ["coordinators"],
        "review": ["officers"],
        "placement": ["rp_places", "special_state_places"],
        "exits": ["moves_in_per_year"],
        "initial": ["caseload", "assessments_in_progress", "requests_awaiting_decision"],
        "funding": ["hnb_income_by_year"],
    }
    text = "\n".join(
        f"[multiply.{section}]\n" + "".join(f"{k} = 4\n" for k in keys)
        for section, keys in counts.items()
    )
    bigger = apply_scenario(base, write(tmp_path, text))
    assert bigger.initial.assessments_in_progress == 4 * base.initial.assessments_in_progress
    assert bigger.funding.hnb_income_by_year == {
        k: 4 * v for k, v in base.funding.hnb_income_by_year.items()
    }


# --- defects reproduced ----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "+nan"])
@pytest.mark.parametrize("kind", ["multiply", "add"])
def test_non_finite_relative_change_is_an_error(tmp_path: Path, kind: str, bad: str) -> None:
    path = write(tmp_path, f"[{kind}.panel]\nslots_per_sitting = {bad}\n")
    message = scenario_error(Parameters(), path)
    assert message.startswith(f"{path}, line 2: "), message
    assert f"'{kind}.panel.slots_per_sitting'" in message
    assert "finite" in message


@pytest.mark.parametrize("bad", ["inf", "nan"])
@pytest.mark.parametrize(
    ("section", "key"), [("panel", "slots_per_sitting"), ("assessment", "ep_fte")]
)
def test_non_finite_absolute_value_is_an_error(
    tmp_path: Path, bad: str, section: str, key: str
) -> None:
    path = write(tmp_path, f"[{section}]\n{key} = {bad}\n")
    message = scenario_error(Parameters(), path)
    assert message.startswith(f"{path}, line 2: '{section}.{key}'"), message


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("[multiply.demand]\nsen_support_by_age = 1e300\n", "demand.sen_support_by_age[", "e+"),
        ("[multiply.panel]\nslots_per_sitting = 1e300\n", "panel.slots_per_sitting", "e+"),
        ("[add.initial]\nassessments_in_progress = 5000000\n", "initial.assessments", "5000"),
        ("[multiply.exits]\nmoves_in_per_year = 1e20\n", "exits.moves_in_per_year", "e+"),
        ("[multiply.costs]\nannual_cost_by_group = 1e20\n", "costs.annual_cost_by_group.", "e+"),
    ],
)
def test_relative_result_out_of_range_names_file_key_value_and_range(
    tmp_path: Path, text: str, key: str, value: str
) -> None:
    """Checked after the change, element by element, on an LA's own values."""
    path = write(tmp_path, text)
    message = scenario_error(stockport(1), path)
    assert message.startswith(f"{path}, line 2: "), message
    assert f"'{key}" in message
    found = re.search(
        r"' = (\S+) is above the allowed maximum (\S+) \(allowed range (\S+) to", message
    )
    assert found, message
    assert value in found.group(1)
    assert float(found.group(1)) > float(found.group(2))


def test_relative_result_below_range_names_the_element(tmp_path: Path) -> None:
    path = write(tmp_path, "[add.placement.mix_by_phase.primary]\nmainstream = -5\n")
    message = scenario_error(stockport(1), path)
    assert "'placement.mix_by_phase.primary.mainstream' = " in message
    assert "below the allowed minimum 0" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[initial]\nassessments_in_progress = 99999999999999999999\n", "initial.assessments"),
        ("[initial]\nassessments_in_progress = 5000000\n", "initial.assessments"),
        ("[initial]\nrequests_awaiting_decision = 5000000\n", "initial.requests"),
        ("[panel]\nslots_per_sitting = 1e17\n", "panel.slots_per_sitting"),
        ("[placement]\nspecial_state_places = 100000000\n", "placement.special_state_places"),
        ("[demand]\nsen_support_by_age = [" + "1e300, " * 25 + "0]\n", "demand.sen_support"),
        ("[exits]\nmoves_in_per_year = 1e9\n", "exits.moves_in_per_year"),
        ("[funding]\ndsg_opening_balance_gbp = -1e300\n", "funding.dsg_opening_balance_gbp"),
        ("[costs]\nep_cost_per_fte_gbp = 1e12\n", "costs.ep_cost_per_fte_gbp"),
    ],
)
def test_absurd_absolute_value_is_an_error(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    message = scenario_error(Parameters(), path)
    assert re.match(rf"{re.escape(str(path))}, line 2: '{re.escape(key)}", message), message
    assert "allowed range" in message


def test_huge_integer_for_a_float_parameter_is_an_error(tmp_path: Path) -> None:
    big = "1" + "0" * 400  # float() of it overflows
    for text in (f"[assessment]\nep_fte = {big}\n", f"[add.assessment]\nep_fte = {big}\n"):
        path = write(tmp_path, text)
        message = scenario_error(Parameters(), path)
        assert "ep_fte" in message and "line 2" in message


def test_huge_lever_cost_is_an_error(tmp_path: Path) -> None:
    text = (
        '[[levers]]\ntype = "early_intervention"\nname = "x"\n'
        "annual_cost_gbp = 1e300\nrequest_reduction = 0.1\n"
    )
    message = scenario_error(Parameters(), write(tmp_path, text))
    assert "annual_cost_gbp" in message and "allowed range" in message


# --- year-keyed tables -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[funding.hnb_income_by_year]\n"2023" = 1e300\n', "'funding.hnb_income_by_year.2023'"),
        ('[funding.hnb_income_by_year]\n"1850" = 1e6\n', "1850"),
        ('[funding.hnb_income_by_year]\n"2023-24" = 1e6\n', "2023-24"),
        ('[demand.request_multiplier_by_year]\n"2022" = 50\n', "maximum 10"),
        ('[demand.request_multiplier_by_year]\n"3000" = 1.1\n', "3000"),
    ],
)
def test_year_keyed_tables_check_keys_and_values(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    message = scenario_error(Parameters(), path)
    assert message.startswith(f"{path}, line 2: "), message
    assert fragment in message, message


def test_relative_change_of_a_year_keyed_table_is_checked_per_year(tmp_path: Path) -> None:
    base = stockport(1)
    years = sorted(base.funding.hnb_income_by_year)
    assert years
    ok = apply_scenario(base, write(tmp_path, "[multiply.funding]\nhnb_income_by_year = 1.1\n"))
    assert ok.funding.hnb_income_by_year == {
        y: v * 1.1 for y, v in base.funding.hnb_income_by_year.items()
    }
    path = write(tmp_path, "[multiply.funding]\nhnb_income_by_year = 1e300\n")
    message = scenario_error(base, path)
    assert f"'funding.hnb_income_by_year.{years[0]}' = " in message
    assert "allowed range 0 to" in message


# --- scenario files --------------------------------------------------------------------


def test_non_utf8_scenario_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[scenario]\nname = "café"\n\n[assessment]\nep_fte = 3.0\n'.encode("latin-1"))
    for read in (
        lambda: apply_scenario(Parameters(), path),
        lambda: scenario_name(path),
        lambda: scenario_description(path),
        lambda: load_parameters(path),
    ):
        with pytest.raises(ParameterError) as info:
            read()
        assert str(info.value).startswith(f"{path}: ")
        assert "is not UTF-8 text" in str(info.value)


def test_utf8_scenario_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(
        b"\xef\xbb\xbf" + '[scenario]\nname = "café"\n\n[assessment]\nep_fte = 3.0\n'.encode()
    )
    assert apply_scenario(Parameters(), path).assessment.ep_fte == 3.0
    assert scenario_name(path) == "café"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n\n",
        '[scenario]\nname = "x"\ndescription = "nothing"\n',
        '[scenario]\nname = "x"\n\n[add.assessment]\n\n[panel]\n',
        "[multiply]\n",
    ],
)
def test_scenario_that_changes_nothing_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = scenario_error(Parameters(), path)
    assert "changes nothing" in message
    assert "no_change = true" in message


def test_scenario_that_says_it_changes_nothing_is_the_base(tmp_path: Path) -> None:
    path = write(tmp_path, '[scenario]\nname = "same"\nno_change = true\n')
    base = stockport(1)
    assert apply_scenario(base, path) == base
    assert scenario_name(path) == "same"


def test_bundled_baseline_still_applies_as_no_change() -> None:
    base = stockport(1)
    assert apply_scenario(base, bundled_baseline()) == base
    assert scenario_name(bundled_baseline()) == "baseline"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[scenario]\nno_change = true\n\n[assessment]\nep_fte = 3.0\n", "no_change"),
        ('[scenario]\nno_change = "yes"\n', "'scenario.no_change' must be true or false"),
    ],
)
def test_no_change_flag_is_checked(tmp_path: Path, text: str, fragment: str) -> None:
    message = scenario_error(Parameters(), write(tmp_path, text))
    assert fragment in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[scenario]\nname = 5\n\n[assessment]\nep_fte = 3.0\n", "name"),
        ('[scenario]\nname = ["a"]\n\n[assessment]\nep_fte = 3.0\n', "name"),
        ("[scenario]\ndescription = 1.5\n\n[assessment]\nep_fte = 3.0\n", "description"),
    ],
)
def test_scenario_name_and_description_must_be_text(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    for read in (
        lambda: apply_scenario(Parameters(), path),
        lambda: scenario_name(path),
        lambda: scenario_description(path),
    ):
        with pytest.raises(ParameterError) as info:
            read()
        message = str(info.value)
        assert message.startswith(f"{path}, line 2: 'scenario.{key}' must be a string"), message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[foo]\nbar = 1\n", "unknown key 'foo'"),
        ("foo = 1\n", "unknown key 'foo'"),
        ("[add.foo]\nbar = 1\n", "unknown key 'add.foo'"),
        ("[multiply]\nfoo = 2\n", "unknown key 'multiply.foo'"),
        ("[panel]\nslots = 2\n", "unknown key 'panel.slots'"),
        ('[scenario]\nname = "x"\ntitle = "y"\n', "unknown key 'scenario.title'"),
        ("[subtract.assessment]\nep_fte = 1\n", "unknown key 'subtract'"),
    ],
)
def test_unknown_tables_and_keys_are_errors(tmp_path: Path, text: str, fragment: str) -> None:
    message = scenario_error(Parameters(), write(tmp_path, text))
    assert fragment in message, message
    assert ", line " in message


# --- the resume path: parameters saved in run.json -------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("panel", "slots_per_sitting", 10**17),
        ("panel", "slots_per_sitting", math.inf),
        ("demand", "request_trend", math.nan),
        ("initial", "assessments_in_progress", 5_000_000),
        ("exits", "moves_in_per_year", 1e300),
    ],
)
def test_out_of_range_value_in_run_json_is_a_parameter_error(
    section: str, key: str, value: Any
) -> None:
    d = Parameters().to_dict()
    d[section][key] = value
    with pytest.raises(ParameterError) as info:
        from_dict(d, "baseline in run.json")
    assert str(info.value).startswith(f"baseline in run.json: '{section}.{key}'")
    spec = {"scenarios": {"baseline": {"parameters": d}}}
    with pytest.raises(ParameterError):
        scenario_parameters(spec)
