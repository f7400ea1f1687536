"""Calibration: estimates with uncertainty, the capacity fit, parameter draws, known breaks,
parameter recovery and the `calibrate` / `run --calibrated` commands."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import small_la

from calibration.breaks import clean_history
from calibration.calibrate import Calibration, calibrate
from calibration.defaults import estimate_parameters
from calibration.estimation import beta_rate, poisson_trend
from calibration.la_data import DataError, LAHistory, load_dataset
from calibration.national import national_placements, national_tribunal_in_favour
from calibration.synthetic import history_rows, write_tidy
from experiments.cli import main
from experiments.experiment import scenario_parameters, spec_uncertainty
from experiments.runner import tasks
from simulation.model import run_replication
from simulation.parameters import ParameterError, Parameters, load_parameters
from simulation.uncertainty import Component, ParameterUncertainty, Uncertain

# Slow tier: calibrations with the capacity fit.
pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------- estimation


def test_poisson_trend_recovers_growth_with_honest_intervals() -> None:
    """Over many 5-year Poisson series of known level and growth, the slope estimates are
    unbiased (within 3 standard errors of their mean) and the 95% intervals cover the true
    slope at least as often as a binomial(300, 0.95) count allows at 3 sd (the quasi-Poisson
    dispersion is floored at 1, so the intervals can only be wider than Poisson's)."""
    rng = np.random.default_rng(11)
    slope, level, n = math.log(1.1), 800.0, 300
    estimates, covered = [], 0
    for _ in range(n):
        x = np.arange(-4, 1)
        counts = rng.poisson(level * np.exp(slope * x))
        fit = poisson_trend({2016 + i: float(c) for i, c in enumerate(counts)}, 2020)
        assert fit is not None
        b = math.log1p(fit.growth)
        estimates.append(b)
        covered += abs(b - slope) <= 1.96 * fit.sd_slope
    est = np.array(estimates)
    assert abs(est.mean() - slope) < 3 * est.std(ddof=1) / math.sqrt(n)
    assert covered / n >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / n)


def test_poisson_trend_widens_with_overdispersion() -> None:
    steady = {2016: 100.0, 2017: 110.0, 2018: 121.0, 2019: 133.0, 2020: 146.0}
    jumpy = {2016: 100.0, 2017: 160.0, 2018: 90.0, 2019: 170.0, 2020: 146.0}
    a, b = poisson_trend(steady, 2020), poisson_trend(jumpy, 2020)
    assert a is not None and b is not None
    assert a.dispersion == 1.0  # a near-perfect line is no less variable than Poisson
    assert b.dispersion > 3
    assert b.sd_slope > 1.5 * a.sd_slope
    assert poisson_trend({2020: 5.0}, 2020) is None
    assert poisson_trend(steady, 2017) is not None  # two years: an exact line
    assert poisson_trend(steady, 2017).dispersion == 1.0  # type: ignore[union-attr]


def test_beta_rate_binomial_or_between_years() -> None:
    den = {2018: 1000.0, 2019: 1000.0, 2020: 1000.0}
    steady = beta_rate({2018: 200.0, 2019: 200.0, 2020: 200.0}, den, 2020)
    assert steady is not None and not steady.between_years
    assert (steady.a, steady.b) == (601.0, 2401.0)  # uniform prior, pooled counts
    swings = beta_rate({2018: 50.0, 2019: 350.0, 2020: 200.0}, den, 2020)
    assert swings is not None and swings.between_years
    assert swings.mean == pytest.approx(0.2)
    rates = np.array([0.05, 0.35, 0.2])
    var = swings.a * swings.b / ((swings.a + swings.b) ** 2 * (swings.a + swings.b + 1))
    assert var == pytest.approx(rates.var(ddof=1) * (1 + 1 / 3))  # a new year's, predictive
    assert beta_rate({}, den, 2020) is None


# --------------------------------------------------------------------------- known breaks


def test_known_breaks_are_handled() -> None:
    ds = load_dataset(None)
    raw = ds.la("St Helens")
    h, adjustments = clean_history(raw)
    assert raw.get("requests_refused", 2021) == 0
    assert h.get("requests_refused", 2021) == 107  # DfE's correction
    assert raw.get("ehcp_total_jan", 2012) is not None  # statements only
    assert h.get("ehcp_total_jan", 2012) is None
    assert any(a.metric == "requests_refused" and "107" in a.action for a in adjustments)
    dorset, _ = clean_history(ds.la("E06000059"))
    assert ds.la("E06000059").get("pct_within_20wks_excl_exceptions", 2021) is not None
    assert dorset.get("pct_within_20wks_excl_exceptions", 2021) is None
    assert dorset.get("plans_issued_excl_exceptions", 2024) is None
    cambs, _ = clean_history(ds.la("Cambridgeshire"))
    assert cambs.get("caseload_mainstream", 2025) is None
    assert cambs.get("ehcp_total_jan", 2025) == ds.la("Cambridgeshire").get("ehcp_total_jan", 2025)
    # The transition years' statements-plus-plans are kept as plans.
    assert h.get("ehcp_total_jan", 2016) == raw.get("ehcp_total_jan", 2016)


def test_successor_authority_history_starts_at_its_creation() -> None:
    ds = load_dataset(None)
    north = ds.la("North Northamptonshire")
    assert min(north.series("ehcp_total_jan")) == 2022
    cal = calibrate(ds, "North Northamptonshire", fit=False)
    assert cal.requests is not None
    assert cal.requests.years[0] >= 2021  # no predecessor years spliced on


# --------------------------------------------------------------------------- parameter draws


def _toy_uncertainty(sd: float = 0.2) -> ParameterUncertainty:
    return ParameterUncertainty(
        (
            Uncertain(
                "p_refuse",
                "beta",
                {"a": 30.0, "b": 120.0},
                (Component(("panel.p_refuse",), "logit", 0.2),),
                "test",
            ),
            Uncertain(
                "teams",
                "normal",
                {"mean": 0.0, "sd": sd},
                (Component(("assessment.ep_fte", "plan.coordinators"), "log", 0.0),),
                "test",
            ),
            Uncertain(
                "mix",
                "dirichlet",
                {"alpha": [40.0, 10.0]},
                (
                    Component(
                        ("placement.mix_by_phase.primary",),
                        "log_shares",
                        (0.8, 0.2),
                        ("mainstream", "special_state"),
                    ),
                ),
                "test",
            ),
        )
    )


def test_draws_follow_their_distributions() -> None:
    """4,000 draws of p_refuse from Beta(30, 120) applied to a base of exactly its point
    estimate reproduce the beta's mean and sd within 4 standard errors."""
    unc = _toy_uncertainty()
    base = Parameters().override({"panel": {"p_refuse": 0.2}})
    rng = np.random.default_rng(5)
    values = np.array([unc.apply(base, unc.draw(rng)).panel.p_refuse for _ in range(4000)])
    (mean,), (sd,) = unc.items[0].mean_sd()
    assert abs(values.mean() - mean) < 4 * sd / math.sqrt(len(values))
    assert values.std(ddof=1) == pytest.approx(sd, rel=4 * math.sqrt(1 / (2 * len(values))))


def test_zero_deltas_change_nothing_and_scenarios_keep_their_change() -> None:
    unc = _toy_uncertainty()
    base = Parameters()
    zero = {"p_refuse": [0.0], "teams": [0.0], "mix": [np.zeros(2)]}
    assert unc.apply(base, zero) == base
    more = base.override({"assessment": {"ep_fte": base.assessment.ep_fte + 3}})
    deltas = unc.draw(np.random.default_rng(1))
    a, b = unc.apply(base, deltas), unc.apply(more, deltas)
    factor = math.exp(deltas["teams"][0])
    assert b.assessment.ep_fte - a.assessment.ep_fte == pytest.approx(3 * factor)
    mix = a.placement.mix_by_phase["primary"]
    assert sum(mix.values()) == pytest.approx(sum(base.placement.mix_by_phase["primary"].values()))


def test_every_scenario_draws_the_same_parameters_for_a_replication() -> None:
    unc = _toy_uncertainty()
    base = Parameters()
    extra = base.override({"assessment": {"ep_fte": base.assessment.ep_fte + 3}})
    ts = tasks({"base": base, "extra": extra}, 3, 20250101, unc)
    by_rep: dict[int, list[Parameters]] = {}
    for t in ts:
        by_rep.setdefault(t.replication, []).append(t.parameters())
    refusals = [ps[0].panel.p_refuse for ps in by_rep.values()]
    assert len(set(refusals)) == 3  # replications differ
    for ps in by_rep.values():
        assert ps[0].panel.p_refuse == ps[1].panel.p_refuse  # scenarios agree


def test_drawing_parameters_leaves_the_chance_streams_alone() -> None:
    """A degenerate uncertainty (sd 0) gives the very same replication as none."""
    small_params = small_la()
    unc = ParameterUncertainty(
        (
            Uncertain(
                "teams",
                "normal",
                {"mean": 0.0, "sd": 0.0},
                (Component(("assessment.ep_fte",), "log", 0.0),),
                "test",
            ),
        )
    )
    seed = np.random.SeedSequence(3).spawn(1)[0]
    a = run_replication(small_params, seed)
    b = run_replication(unc.draw_and_apply(small_params, seed), seed)
    assert [repr(r) for r in a.rows()] == [repr(r) for r in b.rows()]  # nan == nan too


def test_uncertainty_round_trips_through_json() -> None:
    unc = _toy_uncertainty()
    back = ParameterUncertainty.from_dict(json.loads(json.dumps(unc.to_dict())))
    deltas = unc.draw(np.random.default_rng(9))
    again = back.draw(np.random.default_rng(9))
    assert json.dumps({k: np.asarray(v).tolist() for k, v in deltas.items()}) == json.dumps(
        {k: np.asarray(v).tolist() for k, v in again.items()}
    )


# --------------------------------------------------------------------------- recovery


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Parameters, Calibration]:
    """Bexley's structure with known refusal, not-issue, request growth, team sizes and
    team growth, simulated 2019-2024 and written as published data; then calibrated on it."""
    ds = load_dataset(None)
    p, _ = estimate_parameters(ds, "Bexley", 2019, years=6)
    truth = p.override(
        {
            "panel": {"p_refuse": 0.2},
            "assessment": {"p_not_issue": 0.05, "ep_fte_growth": 0.05},
            "plan": {"coordinator_growth": 0.05},
            # Undamped: the history grows at 8% a year throughout.
            "demand": {"request_trend": 0.08, "request_trend_damping": 1.0},
            # teams of known size and growth (the replay's model of history)
            "capacity": {"respond": False, "priority_share": 0.0},
        }
    )
    history = run_replication(truth, np.random.SeedSequence(7))
    path = tmp_path_factory.mktemp("recovery") / "synthetic.csv"
    write_tidy(path, history_rows(history, truth.la_code, truth.la_name))
    cal = calibrate(load_dataset(path), truth.la_code, until=2025)
    return truth, cal


def _sd(cal: Calibration, name: str) -> list[float]:
    item = next(u for u in cal.uncertainty.items if u.name == name)
    return item.mean_sd()[1]


def test_recovers_known_rates(recovery: tuple[Parameters, Calibration]) -> None:
    _, cal = recovery
    p = cal.params
    assert abs(p.panel.p_refuse - 0.2) <= 3 * _sd(cal, "p_refuse")[0]
    assert abs(p.assessment.p_not_issue - 0.05) <= 3 * _sd(cal, "p_not_issue")[0]
    growth_sd = _sd(cal, "capacity_growth")[0]
    # The trend the replay grows the teams at (the projection's teams follow their
    # workload instead, so the parameters' growth stays 0).
    assert cal.growth is not None and p.assessment.ep_fte_growth == 0.0
    assert abs(math.log1p(cal.growth.growth) - math.log1p(0.05)) <= 3 * growth_sd


def test_recovers_request_growth(recovery: tuple[Parameters, Calibration]) -> None:
    """Requests grow at the hazard's trend (the SEN support pool is held steady), so the
    LA-alone regression's growth recovers request_trend within its standard error. (The
    parameters' trend is the damped one pooled with England's and all LAs' (issue 10):
    deliberately not the LA's own line, so it is not compared with this LA's truth.)"""
    _, cal = recovery
    assert cal.requests is not None
    assert abs(math.log1p(cal.requests.growth) - math.log1p(0.08)) <= 3 * cal.requests.sd_slope


def test_recovers_team_capacity(recovery: tuple[Parameters, Calibration]) -> None:
    """The capacity fit, replaying the synthetic history, finds the EP and coordinator teams
    the history was made with (grown to January 2025) within 3 of its standard deviations."""
    truth, cal = recovery
    years = 6
    sd_ep, sd_coord = _sd(cal, "team_capacity")
    true_ep = truth.assessment.ep_fte * 1.05**years
    true_coord = truth.plan.coordinators * 1.05**years
    p = cal.params
    assert abs(math.log(p.assessment.ep_fte / true_ep)) <= 3 * sd_ep
    assert abs(math.log(p.plan.coordinators / true_coord)) <= 3 * sd_coord


# --------------------------------------------------------------------------- commands


def invoke(args: list[str]) -> Result:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["sendsim", *args])
        return CliRunner().invoke(main, args)


FAST = ["--fit-replications", "2", "--max-evaluations", "8", "--history-replications", "6"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "bexley"
    result = invoke(["calibrate", "--la", "Bexley", "--until", "2024", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    return out


def test_calibrate_writes_the_folder(calibrated: Path) -> None:
    names = {p.name for p in calibrated.iterdir()}
    for f in (
        "parameters.toml",
        "uncertainty.json",
        "calibration.json",
        "fit_errors.csv",
        "fit_capacity.csv",
        "fit_report.html",
        "fit_ehcp_total_jan.png",
    ):
        assert f in names
    manifest = json.loads((calibrated / "calibration.json").read_text())
    assert manifest["calibration"]["until"] == 2024
    fit = manifest["calibration"]["capacity_fit"]
    assert fit["window"] == [2021, 2022, 2023]
    # The panel is fitted to the 6-week share, published from 2023 (person-level SEN2).
    assert [p["year"] for p in fit["panel_pct_within_6wks"]] == [2023]
    assert 0.5 <= fit["panel_slots_per_weekly_request"] <= 2.0
    level = manifest["calibration"]["requests"]["level"]
    slots = load_parameters(calibrated / "parameters.toml").panel.slots_per_sitting
    assert slots == max(1, round(fit["panel_slots_per_weekly_request"] * level / 52.18))
    report = (calibrated / "fit_report.html").read_text()
    assert report.count("data:image/png;base64,") >= 5
    rows = (calibrated / "fit_errors.csv").read_text().splitlines()
    assert rows[0] == "metric,year,observed,median,p5,p95,ape,in_90"
    assert all(2021 <= int(r.split(",")[1]) <= 2024 for r in rows[1:])


def test_run_calibrated_uses_the_folder(calibrated: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--calibrated", str(calibrated), "--replications", "3", "--years", "2"]
    result = invoke([*args, "--out", str(out), "--quiet", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "run.json").read_text())
    params = spec["scenarios"]["baseline"]["parameters"]
    assert spec["la"]["name"] == "Bexley"
    assert params["run"]["start_year"] == 2024 and params["run"]["years"] == 2
    saved = Parameters().override(params)
    assert (
        saved.assessment.ep_fte == load_parameters(calibrated / "parameters.toml").assessment.ep_fte
    )
    names = {u["name"] for u in spec["parameter_uncertainty"]["items"]}
    assert {"requests", "team_capacity", "p_refuse"} <= names
    # parameter_draws.csv holds the very deltas the replications ran with.
    with (out / "parameter_draws.csv").open(encoding="utf-8") as f:
        draws = [r for r in csv.DictReader(f) if r["quantity"] == "p_refuse"]
    assert [int(r["replication"]) for r in draws] == [0, 1, 2]
    base = scenario_parameters(spec)["baseline"]
    for t in tasks({"baseline": base}, 3, spec["root_seed"], spec_uncertainty(spec)):
        delta = float(draws[t.replication]["delta"])
        logit = math.log(base.panel.p_refuse / (1 - base.panel.p_refuse)) + delta
        assert t.parameters().panel.p_refuse == pytest.approx(1 / (1 + math.exp(-logit)))
    off = tmp_path / "off"
    result = invoke(
        [*args, "--out", str(off), "--quiet", "--jobs", "1", "--no-parameter-uncertainty"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((off / "run.json").read_text())["parameter_uncertainty"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--la", "Stockport"], "calibrates Bexley"),
        (["--start-year", "2023"], "--start-year cannot be used with --calibrated"),
    ],
)
def test_run_calibrated_refuses_contradictions(
    calibrated: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "o"
    result = invoke(["run", "--calibrated", str(calibrated), *extra, "--out", str(out)])
    assert result.exit_code == 2  # bad input
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--la", "Nowhere Shire"], "unknown LA"),
        (["--la", "Bexley", "--until", "2005"], "no January 2005 census"),
    ],
)
def test_calibrate_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "o"
    result = invoke(["calibrate", *args, "--out", str(out)])
    assert result.exit_code == 2  # bad input
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no half-written folder beside it either


def test_run_calibrated_needs_a_calibration_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke(["run", "--calibrated", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # bad input
    assert "calibration.json" in result.output


def test_fit_window_is_shorter_for_a_young_authority() -> None:
    from calibration.calibrate import fit_window

    ds = load_dataset(None)
    h: LAHistory = clean_history(ds.la("North Northamptonshire"))[0]
    assert fit_window(h, 2025) == [2022, 2023, 2024]
    assert fit_window(h, 2023) == [2022]


def test_missing_required_series_are_listed_together(tmp_path: Path) -> None:
    """A user's file without refusals or special-school placements is refused with one
    message naming the file and both series."""
    params = small_la({"la_code": "E09000004", "la_name": "Bexley"}, years=3)
    rows = history_rows(run_replication(params, np.random.SeedSequence(1)), "E09000004", "Bexley")
    dropped = {"requests_refused", "caseload_special_state"}
    path = tmp_path / "mine.csv"
    write_tidy(path, [r for r in rows if r[4] not in dropped])
    with pytest.raises(DataError) as e:
        estimate_parameters(load_dataset(path), "Bexley", 2027)
    message = str(e.value)
    assert str(path) in message
    assert "requests_refused" in message and "caseload_special_state" in message
    assert "\n" not in message


def test_draws_keep_review_outcomes_possible() -> None:
    """Estimates often leave p_amend at exactly what a review's other outcomes leave; a draw
    that raises moves to special schools makes amendments give way, not the run fail."""
    base = Parameters().override(
        {"review": {"p_step_up": 0.05, "p_step_down": 0.01, "p_cease": 0.02, "p_amend": 0.93}}
    )
    unc = ParameterUncertainty(
        (
            Uncertain(
                "p_step_up",
                "beta",
                {"a": 5.0, "b": 95.0},
                (Component(("review.p_step_up",), "logit", 0.05),),
                "test",
            ),
        )
    )
    moved = unc.apply(base, {"p_step_up": [math.log(4)]})  # odds x4: about 0.17
    r = moved.review
    assert r.p_step_up > 0.15
    assert r.p_amend + max(r.p_step_up, r.p_step_down) + r.p_cease == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targets": ["panel.no_such_field"]}, "not a parameter"),
        ({"targets": ["nosection"]}, "not a parameter"),
    ],
)
def test_malformed_uncertainty_is_refused_on_reading(
    change: dict[str, object], message: str
) -> None:
    data = _toy_uncertainty().to_dict()
    data["items"][0]["components"][0].update(change)
    with pytest.raises(ParameterError, match=message):
        ParameterUncertainty.from_dict(data)


def test_malformed_distribution_is_refused_on_reading() -> None:
    data = _toy_uncertainty().to_dict()
    data["items"][2]["params"]["alpha"] = [1.0, 2.0, 3.0]  # three shares for a two-share mix
    with pytest.raises(ParameterError, match="do not fit"):
        ParameterUncertainty.from_dict(data)
    with pytest.raises(ParameterError, match="'items' must be a list"):
        ParameterUncertainty.from_dict([1, 2])


def test_national_stand_ins_are_read_as_of_the_start() -> None:
    """The tribunal figure and England's placement shares come from years published before
    the start census (HMCTS published 95% for 2019/20 and 98.3% for 2022/23)."""
    assert national_tribunal_in_favour(2021) == pytest.approx(0.95)
    assert national_tribunal_in_favour(None) == pytest.approx(0.983)
    assert national_placements(2021) != national_placements(None)
