"""Default parameters estimated from each LA's published history."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.defaults import estimate_parameters, initial_caseload, ipf, log_linear_trend
from calibration.la_data import load_dataset
from simulation.model import run_replication
from simulation.vocabulary import BAND_NAMES, PLACEMENT_GROUPS


@pytest.mark.slow
def test_every_bundled_la_gets_valid_defaults_that_run() -> None:
    """Each LA with a latest census gets parameters that validate, and one simulated year
    starts from exactly its published January total."""
    ds = load_dataset()
    failures = []
    ran = 0
    for code, name in ds.las():
        h = ds.la(code)
        try:
            year = h.latest_census_year()
        except ValueError:
            continue
        if year < 2020:  # abolished authorities (pre-reorganisation) have no recent flows
            continue
        try:
            params, _ = estimate_parameters(ds, code, years=1)
        except ValueError as e:
            failures.append(f"{name}: {e}")
            continue
        res = run_replication(params, 1)
        ran += 1
        published = h.get("ehcp_total_jan", year)
        if res.census["ehcp_total_jan"][0] != round(published or 0):
            failures.append(
                f"{name}: start census {res.census['ehcp_total_jan'][0]} != published {published}"
            )
    assert not failures, failures
    assert ran >= 130  # every current LA in the bundled data (a few are held back)


def test_log_linear_trend_recovers_a_known_growth_rate() -> None:
    series = {2018 + i: 100 * 1.07**i for i in range(6)}
    assert log_linear_trend(series, 2023) == pytest.approx(0.07, rel=1e-9)
    assert log_linear_trend({2022: 5.0, 2023: 6.0}, 2023) == 0.0  # too few points


def test_ipf_matches_both_margins_and_keeps_structural_zeros() -> None:
    seed = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    rows, cols = np.array([30.0, 70.0]), np.array([40.0, 35.0, 25.0])
    m = ipf(seed, rows, cols)
    np.testing.assert_allclose(m.sum(axis=1), rows, rtol=1e-9)
    np.testing.assert_allclose(m.sum(axis=0), cols, rtol=1e-9)
    assert m[0, 1] == 0.0


def test_initial_caseload_reproduces_published_margins() -> None:
    """Stockport, January 2025: the fitted caseload by group x band sums to the published
    total, its age-band margins match the published bands, and its group margins match the
    published groups (mainstream net of resourced provision; unknown shared pro rata)."""
    ds = load_dataset()
    h = ds.la("Stockport")
    caseload, _ = initial_caseload(h, 2025)
    joint = np.array([caseload.get(g, (0.0,) * len(BAND_NAMES)) for g in PLACEMENT_GROUPS])
    total = h.get("ehcp_total_jan", 2025)
    assert joint.sum() == pytest.approx(total)
    bands = np.array([h.get(f"caseload_age_{b}", 2025) for b in BAND_NAMES], dtype=float)
    np.testing.assert_allclose(joint.sum(axis=0), bands * total / bands.sum(), rtol=1e-6)
    special = h.get("caseload_special_state", 2025)
    known = sum(
        h.get(f"caseload_{g}", 2025) or 0 for g in PLACEMENT_GROUPS if g != "mainstream_rp_senunit"
    )
    assert joint[PLACEMENT_GROUPS.index("special_state")].sum() == pytest.approx(
        special * total / known, rel=1e-6
    )
