"""Back-test of the calibration: forecast from an earlier census, score against what was
published after it.

For each LA the model is calibrated on the data as of the origin census
(:func:`calibration.calibrate.calibrate` with ``until=origin``: flows up to ``origin - 1``
and the January census of ``origin``, nothing published later), the model is run for
``horizon`` years, each replication drawing its parameters from the calibration's
uncertainty, and each scored metric is compared with the published value ``h`` years on (a
census metric at January ``origin + h``, a flow in calendar year ``origin + h - 1``). Two
naive forecasts
are scored the same way: the last published value carried forward, and a log-linear trend of
the last five published years.

Scores: the absolute percentage error of the median of the replications
(``|median - actual| / |actual| * 100``, none when the actual is 0 or missing) and whether
the actual lies in the 50% band (p25-p75) and the 90% band (p5-p95) of the replications.

This module does not import ``experiments`` (calibration must not): replication seeds are
``numpy.random.SeedSequence(seed).spawn(R)``, the same children for every LA.
"""

from __future__ import annotations

import csv
import functools
import math
import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Final

import numpy as np

from simulation.model import run_replication
from simulation.parameters import ParameterError

from .breaks import clean_history
from .calibrate import calibrate
from .defaults import require_census
from .la_data import DataError, Dataset, LAHistory, load_dataset

__all__ = [
    "CENSUS_SCORED",
    "METRICS",
    "BacktestError",
    "ScoreRow",
    "Settings",
    "SummaryRow",
    "ape",
    "check_horizon",
    "eligible_las",
    "format_summary",
    "in_band",
    "last_value_forecast",
    "rows_from_json",
    "rows_to_json",
    "run_backtest",
    "score_la",
    "summarise",
    "target_year",
    "trend_forecast",
    "write_scores",
    "write_summary",
]

METRICS: Final = (
    "ehcp_total_jan",
    "new_ehcps",
    "requests_received",
    "pct_within_20wks_excl_exceptions",
)
#: Scored metrics that are January stocks; the others are calendar-year flows.
CENSUS_SCORED: Final = frozenset({"ehcp_total_jan"})
TREND_POINTS: Final = 5
DEFAULT_REPLICATIONS: Final = 20
DEFAULT_SEED: Final = 20250101


class BacktestError(ValueError):
    """A back-test that cannot be run as asked; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


@dataclass(frozen=True)
class ScoreRow:
    """One LA, metric and horizon (the columns of backtest_scores.csv, in order)."""

    la_code: str
    la_name: str
    metric: str
    horizon: int
    year: int
    actual: float | None
    forecast_median: float | None
    p5: float | None
    p25: float | None
    p75: float | None
    p95: float | None
    ape_model: float | None
    ape_last: float | None
    ape_trend: float | None
    in_50: bool | None
    in_90: bool | None


@dataclass(frozen=True)
class SummaryRow:
    """One metric and horizon over LAs (the columns of backtest_summary.csv, in order)."""

    metric: str
    horizon: int
    n_las: int
    mape_model: float | None
    mape_last: float | None
    mape_trend: float | None
    coverage_50: float | None
    coverage_90: float | None
    mae_model: float | None  # mean absolute error in the metric's units (points for pct_)
    mae_last: float | None
    mae_trend: float | None


SCORE_COLUMNS: Final = tuple(f.name for f in fields(ScoreRow))
SUMMARY_COLUMNS: Final = tuple(f.name for f in fields(SummaryRow))


# --------------------------------------------------------------------------- scoring


def target_year(metric: str, origin: int, horizon: int) -> int:
    """The published year scored at ``horizon``: January ``origin + h`` for a census metric,
    calendar year ``origin + h - 1`` for a flow."""
    return origin + horizon if metric in CENSUS_SCORED else origin + horizon - 1


def base_year(metric: str, origin: int) -> int:
    """The last year of ``metric`` known at the origin census: the origin's January for a
    census metric, ``origin - 1`` for a flow."""
    return origin if metric in CENSUS_SCORED else origin - 1


def ape(forecast: float | None, actual: float | None) -> float | None:
    """Absolute percentage error ``|forecast - actual| / |actual| * 100``; None when either
    is missing or the actual is 0."""
    if forecast is None or actual is None or actual == 0 or not math.isfinite(forecast):
        return None
    return abs(forecast - actual) / abs(actual) * 100.0


def in_band(actual: float | None, low: float | None, high: float | None) -> bool | None:
    """Whether ``low <= actual <= high``; None when any is missing."""
    if actual is None or low is None or high is None:
        return None
    return low <= actual <= high


def _known(series: dict[int, float], metric: str, origin: int) -> list[tuple[int, float]]:
    until = base_year(metric, origin)
    return [(y, v) for y, v in sorted(series.items()) if y <= until]


def last_value_forecast(series: dict[int, float], metric: str, origin: int) -> float | None:
    """The last published value at or before the origin (a census metric: up to the
    origin's January; a flow: up to ``origin - 1``), carried forward; None if none."""
    known = _known(series, metric, origin)
    return known[-1][1] if known else None


def trend_forecast(
    series: dict[int, float], metric: str, origin: int, year: int, n: int = TREND_POINTS
) -> float | None:
    """A least-squares line through the log values of the last ``n`` published years up to
    the origin, extrapolated to ``year`` (percentages capped at 0-100). Non-positive values
    are left out; None with fewer than two points."""
    known = [(y, v) for y, v in _known(series, metric, origin) if v > 0][-n:]
    if len(known) < 2:
        return None
    x = np.array([y for y, _ in known], dtype=float) - known[-1][0]
    logs = np.log(np.array([v for _, v in known], dtype=float))
    slope, intercept = np.polyfit(x, logs, 1)
    value = float(np.exp(intercept + slope * (year - known[-1][0])))
    if metric.startswith("pct_"):
        value = min(100.0, max(0.0, value))
    return value


# --------------------------------------------------------------------------- checks


def _published_after(h: LAHistory, origin: int, horizon: int) -> bool:
    return any(
        h.get(m, target_year(m, origin, k)) is not None
        for m in METRICS
        for k in range(1, horizon + 1)
    )


def eligible_las(ds: Dataset, origin: int, horizon: int, require_actuals: bool = True) -> list[str]:
    """GSS codes of the LAs (England excluded) with a January census at the origin and
    (``require_actuals``) a published value of a scored metric within the horizon."""
    out = []
    for code, _ in ds.las():
        h = ds.la(code)
        if h.get("ehcp_total_jan", origin) is None:
            continue
        if require_actuals and not _published_after(h, origin, horizon):
            continue
        out.append(code)
    return out


def check_origin(h: LAHistory, origin: int) -> None:
    """Raise BacktestError if the LA has no January census at the origin."""
    try:
        require_census(h, origin)
    except DataError as e:
        raise BacktestError(f"{e}; choose an origin with a published census") from None


def check_horizon(histories: Iterable[LAHistory], origin: int, horizon: int) -> None:
    """Raise BacktestError if nothing is published at the last horizon year of any scored
    metric (a census metric at January origin+horizon, a flow in origin+horizon-1)."""
    hs = list(histories)
    if any(h.get(m, target_year(m, origin, horizon)) is not None for h in hs for m in METRICS):
        return
    last = max((y for h in hs for m in METRICS for y in h.series(m)), default=None)
    raise BacktestError(
        f"horizon {horizon} from {origin} is beyond the data: no {', '.join(METRICS)} "
        f"published for January {origin + horizon} (census) or {origin + horizon - 1} (flows)"
        + (f"; the last published year is {last}" if last is not None else "")
    )


# --------------------------------------------------------------------------- one LA


def _quantiles(values: np.ndarray) -> tuple[float, ...] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return tuple(float(q) for q in np.percentile(finite, [5, 25, 50, 75, 95]))


@dataclass(frozen=True)
class Settings:
    """How each LA is back-tested (see :func:`score_la`)."""

    origin: int
    horizon: int
    replications: int = DEFAULT_REPLICATIONS
    seed: int = DEFAULT_SEED
    fit: bool = True
    parameter_uncertainty: bool = True
    fit_replications: int = 4
    max_evaluations: int = 40


def score_la(ds: Dataset, la: str, settings: Settings) -> list[ScoreRow]:
    """Calibrate ``la`` on the data as of the origin (fitting team capacity by simulation
    unless ``settings.fit`` is False), simulate (each replication drawing its parameters
    with ``settings.parameter_uncertainty``) and score every metric and horizon (rows
    metric-major, then horizon) against the published values, read as the estimates read
    them (DfE's corrections applied, flagged values left out)."""
    origin, horizon = settings.origin, settings.horizon
    raw = ds.la(la)
    check_origin(raw, origin)
    h, _ = clean_history(raw)
    cal = calibrate(
        ds,
        raw.la_code,
        until=origin,
        years=horizon,
        fit=settings.fit,
        fit_replications=settings.fit_replications,
        seed=settings.seed,
        max_evaluations=settings.max_evaluations,
    )
    seeds = np.random.SeedSequence(settings.seed).spawn(settings.replications)
    runs = [
        run_replication(
            cal.uncertainty.draw_and_apply(cal.params, s)
            if settings.parameter_uncertainty
            else cal.params,
            s,
        )
        for s in seeds
    ]
    rows: list[ScoreRow] = []
    for metric in METRICS:
        series = h.series(metric)
        last = last_value_forecast(series, metric, origin)
        for k in range(1, horizon + 1):
            year = target_year(metric, origin, k)
            sims = []
            for r in runs:
                years, values = r.table(metric)
                sims.append(float(values[years.index(year)]))
            q = _quantiles(np.array(sims))
            p5, p25, med, p75, p95 = q if q is not None else (None,) * 5
            actual = series.get(year)
            trend = trend_forecast(series, metric, origin, year)
            rows.append(
                ScoreRow(
                    la_code=h.la_code,
                    la_name=h.la_name,
                    metric=metric,
                    horizon=k,
                    year=year,
                    actual=actual,
                    forecast_median=med,
                    p5=p5,
                    p25=p25,
                    p75=p75,
                    p95=p95,
                    ape_model=ape(med, actual),
                    ape_last=ape(last, actual),
                    ape_trend=ape(trend, actual),
                    in_50=in_band(actual, p25, p75),
                    in_90=in_band(actual, p5, p95),
                )
            )
    return rows


@functools.lru_cache(maxsize=2)
def _dataset(path: str | None) -> Dataset:
    return load_dataset(path)


def _task(args: tuple[str | None, str, Settings]) -> tuple[str, list[ScoreRow] | str]:
    """One LA in a worker: its rows, or the one-line reason it was skipped."""
    path, code, s = args
    try:
        return code, score_la(_dataset(path), code, s)
    except (DataError, ParameterError, BacktestError) as e:
        return code, str(e)


def run_backtest(
    data: str | Path | None,
    las: Sequence[str],
    settings: Settings,
    jobs: int = 1,
    on_done: Callable[[str, list[ScoreRow] | str], None] | None = None,
    done: Mapping[str, list[ScoreRow] | str] | None = None,
    initializer: Callable[[], None] | None = None,
) -> tuple[list[ScoreRow], dict[str, str]]:
    """Back-test each LA (GSS codes) from the data file (None: the bundled data), over
    ``jobs`` processes (a forkserver pool when more than one). Returns the score rows in
    the order of ``las`` and the LAs skipped (code -> reason). ``on_done(code, rows or
    reason)`` is called as each LA finishes (so a caller can save it); LAs in ``done``
    (finished by an interrupted run) are not run again. ``initializer`` runs in each
    worker process as it starts (the caller's process hygiene: ignore Ctrl-C, die with the
    parent)."""
    path = None if data is None else str(data)
    results: dict[str, list[ScoreRow] | str] = dict(done or {})
    work = [(path, code, settings) for code in las if code not in results]

    def finished(code: str, out: list[ScoreRow] | str) -> None:
        results[code] = out
        if on_done is not None:
            on_done(code, out)

    if jobs <= 1 or len(work) <= 1:
        for code, out in map(_task, work):
            finished(code, out)
    else:
        context = multiprocessing.get_context("forkserver")
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=initializer)
        try:
            for future in as_completed([pool.submit(_task, w) for w in work]):
                finished(*future.result())
        finally:
            # Interrupted: the LAs not yet started are dropped rather than waited for.
            pool.shutdown(wait=True, cancel_futures=True)
    rows: list[ScoreRow] = []
    skipped: dict[str, str] = {}
    for code in las:
        out = results[code]
        if isinstance(out, str):
            skipped[code] = out
        else:
            rows.extend(out)
    return rows, skipped


def rows_to_json(out: list[ScoreRow] | str) -> dict[str, object]:
    """One LA's outcome as plain JSON (floats round-trip exactly)."""
    if isinstance(out, str):
        return {"skipped": out}
    return {"rows": [list(astuple(r)) for r in out]}


def rows_from_json(data: Mapping[str, object]) -> list[ScoreRow] | str:
    if "skipped" in data:
        return str(data["skipped"])
    return [ScoreRow(*r) for r in data["rows"]]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- summary, files


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _abs_error(ape_value: float | None, actual: float | None) -> float | None:
    """|forecast - actual| from its percentage error (None where that is undefined)."""
    if ape_value is None or actual is None:
        return None
    return ape_value * abs(actual) / 100.0


def summarise(rows: Sequence[ScoreRow]) -> list[SummaryRow]:
    """Per metric and horizon: LAs with a published actual, mean APEs (each over the LAs
    where it is defined), the share of actuals inside the 50% and 90% bands, and mean
    absolute errors in the metric's own units (for a percentage, in points: its APE is
    large wherever the published percentage is small)."""
    out = []
    keys = sorted({(r.metric, r.horizon) for r in rows}, key=lambda k: (METRICS.index(k[0]), k[1]))
    for metric, k in keys:
        sel = [r for r in rows if r.metric == metric and r.horizon == k and r.actual is not None]
        out.append(
            SummaryRow(
                metric=metric,
                horizon=k,
                n_las=len(sel),
                mape_model=_mean(r.ape_model for r in sel),
                mape_last=_mean(r.ape_last for r in sel),
                mape_trend=_mean(r.ape_trend for r in sel),
                coverage_50=_mean(None if r.in_50 is None else float(r.in_50) for r in sel),
                coverage_90=_mean(None if r.in_90 is None else float(r.in_90) for r in sel),
                mae_model=_mean(_abs_error(r.ape_model, r.actual) for r in sel),
                mae_last=_mean(_abs_error(r.ape_last, r.actual) for r in sel),
                mae_trend=_mean(_abs_error(r.ape_trend, r.actual) for r in sel),
            )
        )
    return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write(path: Path, header: Sequence[str], rows: Iterable[tuple[object, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])


def write_scores(path: Path, rows: Sequence[ScoreRow]) -> None:
    """backtest_scores.csv: one row per LA, metric and horizon (empty cell: missing)."""
    _write(path, SCORE_COLUMNS, (astuple(r) for r in rows))


def write_summary(path: Path, summary: Sequence[SummaryRow]) -> None:
    """backtest_summary.csv: one row per metric and horizon."""
    _write(path, SUMMARY_COLUMNS, (astuple(r) for r in summary))


def format_summary(summary: Sequence[SummaryRow]) -> str:
    """The summary as a fixed-width text table (MAPE in %, coverage as a share)."""

    def num(v: float | None, fmt: str) -> str:
        width = int(fmt.split(".")[0])
        return ("-" if v is None else format(v, fmt)).rjust(width)

    head = (
        f"{'metric':<34} {'h':>2} {'n_las':>5} {'mape_model':>10} {'mape_last':>9} "
        f"{'mape_trend':>10} {'cov_50':>6} {'cov_90':>6} {'mae_model':>9} {'mae_trend':>9}"
    )
    lines = [head]
    for s in summary:
        lines.append(
            f"{s.metric:<34} {s.horizon:>2} {s.n_las:>5} {num(s.mape_model, '10.1f')} "
            f"{num(s.mape_last, '9.1f')} {num(s.mape_trend, '10.1f')} "
            f"{num(s.coverage_50, '6.2f')} {num(s.coverage_90, '6.2f')} "
            f"{num(s.mae_model, '9.1f')} {num(s.mae_trend, '9.1f')}"
        )
    return "\n".join(lines)
