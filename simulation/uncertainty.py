"""Parameter uncertainty: what we do not know about an LA, drawn afresh for each replication.

Calibration estimates each uncertain quantity with a distribution (a beta posterior for a
refusal rate, a bivariate normal for the level and trend of requests, a Dirichlet for a
placement mix, ...). A replication draws one value of each and moves the parameters by the
*difference* between the draw and the estimate, on the quantity's natural scale (log for
rates and team sizes, logit for probabilities, log shares for mixes). Moving by a
difference, rather than overwriting, keeps a scenario's own change: a scenario with 3 more EPs (or a
lever adding them) still has more than the baseline in every replication, in proportion
on a log scale, and replication i of every scenario draws the same values (common random
numbers for parameters as well as for chance).

The draws come from their own stream, a child of the replication's seed, so switching
parameter uncertainty on or off leaves the chance streams unchanged.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final

import numpy as np

from .fields import ParameterError
from .parameters import Parameters

__all__ = [
    "FAMILIES",
    "SCALES",
    "Component",
    "ParameterUncertainty",
    "Uncertain",
    "draw_seed",
]

#: How a delta moves a value: ``log`` multiplies by exp(delta), ``logit`` shifts the
#: log-odds, ``log1p`` moves a growth rate g to (1 + g) exp(delta) - 1, ``shift`` adds it,
#: ``log_shares`` multiplies each share of a mix and renormalises.
SCALES: Final = ("log", "logit", "log1p", "shift", "log_shares")
#: Distribution families and their parameters.
FAMILIES: Final = {
    "beta": ("a", "b"),
    "gamma": ("shape", "rate"),
    "normal": ("mean", "sd"),
    "mvnormal": ("mean", "cov"),
    "dirichlet": ("alpha",),
}
#: The spawn key of the parameter-draw stream: named like the model's chance streams
#: (the CRC-32 of the stream's name), and a name no chance stream has.
_DRAW_KEY: Final = zlib.crc32(b"parameter_draws")


@dataclass(frozen=True)
class Component:
    """One coordinate of a distribution and the parameter fields it moves.

    ``targets`` are dotted parameter paths (``panel.p_refuse``); a path to a dict's entry
    (``placement.mix_by_phase.primary``) names the whole mix for ``log_shares``. ``point``
    is the estimate the parameter file holds: the draw moves the parameters by the
    difference between the draw and it, on ``scale``."""

    targets: tuple[str, ...]
    scale: str
    point: float | tuple[float, ...]
    keys: tuple[str, ...] = ()  # the mix's keys, in the order of a Dirichlet's alpha


@dataclass(frozen=True)
class Uncertain:
    """An estimated quantity with its distribution. ``family`` is one of FAMILIES; a
    ``normal`` or ``mvnormal`` is on the components' scale already, the others on the
    natural one (a beta's draw is a probability)."""

    name: str
    family: str
    params: Mapping[str, Any]
    components: tuple[Component, ...]
    source: str
    #: Drawn from a stream of its own keyed by its name, so every LA run with the same
    #: replication seed draws the same value (a national shock shared by all LAs).
    shared: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ParameterError(
                f"uncertainty '{self.name}': unknown family {self.family!r} "
                f"(allowed: {', '.join(FAMILIES)})"
            )
        missing = set(FAMILIES[self.family]) - set(self.params)
        if missing:
            raise ParameterError(
                f"uncertainty '{self.name}': {self.family} needs {', '.join(sorted(missing))}"
            )
        for c in self.components:
            if c.scale not in SCALES:
                raise ParameterError(
                    f"uncertainty '{self.name}': unknown scale {c.scale!r} "
                    f"(allowed: {', '.join(SCALES)})"
                )

    def draw(self, rng: np.random.Generator) -> list[Any]:
        """One draw, as a delta for each component (a vector for log_shares)."""
        p = self.params
        if self.family == "beta":
            return [_delta(float(rng.beta(p["a"], p["b"])), self.components[0])]
        if self.family == "gamma":
            value = float(rng.gamma(p["shape"], 1.0 / p["rate"]))
            return [_delta(value, self.components[0])]
        if self.family == "normal":
            return [float(rng.normal(0.0, p["sd"]))]
        if self.family == "mvnormal":
            z = rng.multivariate_normal(np.zeros(len(p["mean"])), np.array(p["cov"]))
            return [float(x) for x in z]
        shares = rng.dirichlet(np.asarray(p["alpha"], dtype=float))
        return [_delta(shares, self.components[0])]

    def mean_sd(self) -> tuple[list[float], list[float]]:
        """The distribution's mean and standard deviation of each coordinate, on the
        natural scale of a beta, gamma or Dirichlet and on the delta scale otherwise."""
        p = self.params
        if self.family == "beta":
            a, b = float(p["a"]), float(p["b"])
            return [a / (a + b)], [math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))]
        if self.family == "gamma":
            k, r = float(p["shape"]), float(p["rate"])
            return [k / r], [math.sqrt(k) / r]
        if self.family == "normal":
            return [float(p["mean"])], [float(p["sd"])]
        if self.family == "mvnormal":
            return [float(m) for m in p["mean"]], [
                math.sqrt(float(np.array(p["cov"])[i, i])) for i in range(len(p["mean"]))
            ]
        alpha = np.asarray(p["alpha"], dtype=float)
        a0 = alpha.sum()
        m = alpha / a0
        return m.tolist(), np.sqrt(m * (1 - m) / (a0 + 1)).tolist()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "source": self.source,
            **({"shared": True} if self.shared else {}),
            "components": [
                {
                    "targets": list(c.targets),
                    "scale": c.scale,
                    "point": _plain(c.point),
                    "keys": list(c.keys),
                }
                for c in self.components
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "uncertainty") -> Uncertain:
        try:
            comps = tuple(
                Component(
                    targets=tuple(c["targets"]),
                    scale=c["scale"],
                    point=tuple(c["point"]) if isinstance(c["point"], list) else c["point"],
                    keys=tuple(c.get("keys", ())),
                )
                for c in data["components"]
            )
            return cls(
                data["name"],
                data["family"],
                dict(data["params"]),
                comps,
                data["source"],
                bool(data.get("shared", False)),
            )
        except (KeyError, TypeError) as e:
            raise ParameterError(f"{where}: malformed uncertainty entry ({e})") from None


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _delta(value: Any, c: Component) -> Any:
    """The difference between a natural-scale draw and the point estimate, on c's scale."""
    if c.scale == "log_shares":
        points = np.asarray(c.point, dtype=float)
        v = np.asarray(value, dtype=float)
        ok = (points > 0) & (v > 0)
        return np.where(ok, np.log(np.where(ok, v, 1.0) / np.where(ok, points, 1.0)), 0.0)
    point = float(c.point)  # type: ignore[arg-type]
    x = float(value)
    if c.scale == "log":
        return math.log(x / point) if x > 0 and point > 0 else 0.0
    if c.scale == "logit":
        eps = 1e-9
        return _logit(min(max(x, eps), 1 - eps)) - _logit(min(max(point, eps), 1 - eps))
    if c.scale == "log1p":
        return math.log1p(value) - math.log1p(point)
    return float(value - point)


def _move(value: float, delta: float, scale: str) -> float:
    if scale == "log":
        return value * math.exp(delta)
    if scale == "logit":
        if value <= 0.0 or value >= 1.0:
            return value  # a structural 0 or 1 stays
        return 1.0 / (1.0 + math.exp(-(_logit(value) + delta)))
    if scale == "log1p":
        return (1.0 + value) * math.exp(delta) - 1.0
    return value + delta


def _section_field(path: str) -> tuple[str, str, str | None]:
    parts = path.split(".")
    return parts[0], parts[1], ".".join(parts[2:]) or None


@functools.cache
def field_limits(section: str, name: str) -> tuple[float | None, float | None]:
    """A field's allowed range (static: read once, not on every replication's draw)."""
    sec = getattr(Parameters(), section)
    for f in fields(sec):
        if f.name == name:
            return f.metadata.get("lo"), f.metadata.get("hi")
    raise ParameterError(f"uncertainty target '{section}.{name}' is not a parameter")


def _clip(x: float, lo: float | None, hi: float | None) -> float:
    if lo is not None:
        x = max(x, lo)
    if hi is not None:
        x = min(x, hi)
    return x


@dataclass(frozen=True)
class ParameterUncertainty:
    """The estimated uncertainty of an LA's parameters: a list of uncertain quantities."""

    items: tuple[Uncertain, ...]

    def draw(self, rng: np.random.Generator) -> dict[str, list[Any]]:
        """One joint draw: item name -> its component deltas. A shared item draws from a
        stream keyed by its name under ``rng``'s seed (not from ``rng``, so the others'
        draws are as they would be without it)."""
        return {u.name: u.draw(_shared_rng(rng, u.name) if u.shared else rng) for u in self.items}

    def apply(self, params: Parameters, deltas: Mapping[str, Sequence[Any]]) -> Parameters:
        """``params`` moved by one draw's deltas (values kept inside their allowed range)."""
        updates: dict[str, dict[str, Any]] = {}

        def current(section: str, name: str) -> Any:
            if name in updates.get(section, {}):
                return updates[section][name]
            return getattr(getattr(params, section), name)

        for u in self.items:
            for c, d in zip(u.components, deltas[u.name], strict=True):
                for target in c.targets:
                    section, name, key = _section_field(target)
                    lo, hi = field_limits(section, name)
                    value = current(section, name)
                    if c.scale == "log_shares":
                        value = _move_shares(value, key, c.keys, np.asarray(d, dtype=float))
                    elif isinstance(value, dict) and key is None:
                        value = {
                            k: _move_dict_value(v, float(d), c.scale, lo, hi)
                            for k, v in value.items()
                        }
                    elif isinstance(value, dict):
                        # One entry of a table of multipliers (an entry not listed is 1).
                        old = float(value.get(key, 1.0))
                        value = {**value, key: _clip(_move(old, float(d), c.scale), lo, hi)}
                    elif isinstance(value, tuple):
                        value = tuple(_clip(_move(v, float(d), c.scale), lo, hi) for v in value)
                    else:
                        moved = _clip(_move(float(value), float(d), c.scale), lo, hi)
                        value = round(moved) if isinstance(value, int) else moved
                    updates.setdefault(section, {})[name] = value
        if not updates:
            return params
        _keep_review_outcomes_possible(params, updates)
        return params.replace(
            **{
                section: _replace_fields(getattr(params, section), changes)
                for section, changes in updates.items()
            }
        )

    def draw_and_apply(self, params: Parameters, seed: np.random.SeedSequence) -> Parameters:
        """The parameters replication ``seed`` runs with."""
        return self.apply(params, self.draw(np.random.default_rng(draw_seed(seed))))

    def to_dict(self) -> dict[str, Any]:
        return {"items": [u.to_dict() for u in self.items]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "uncertainty") -> ParameterUncertainty:
        """Read and check (targets, shapes, a trial draw) an uncertainty's plain form."""
        items = data.get("items") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise ParameterError(f"{where}: 'items' must be a list of uncertain quantities")
        out = cls(tuple(Uncertain.from_dict(d, f"{where} item {i}") for i, d in enumerate(items)))
        out.check(where)
        return out

    def check(self, where: str = "uncertainty") -> None:
        """A ParameterError naming the item if a target is not a parameter or a
        distribution's shape does not fit its components."""
        for u in self.items:
            for c in u.components:
                for target in c.targets:
                    section, name, _ = _section_field(target) if "." in target else ("", "", "")
                    if not section or not hasattr(Parameters(), section):
                        raise ParameterError(
                            f"{where}: '{u.name}' targets '{target}', not a parameter "
                            "(targets are section.field, e.g. panel.p_refuse)"
                        )
                    field_limits(section, name)
            n = len(u.components)
            p = u.params
            try:
                if u.family == "mvnormal":
                    ok = len(p["mean"]) == n and np.shape(p["cov"]) == (n, n)
                elif u.family == "dirichlet":
                    ok = n == 1 and len(p["alpha"]) == len(u.components[0].keys) > 1
                else:
                    ok = n == 1
                ok = ok and all(np.isfinite(np.asarray(v, dtype=float)).all() for v in p.values())
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ParameterError(
                    f"{where}: '{u.name}' has a {u.family} whose parameters do not fit its "
                    f"{n} component(s)"
                )


def _keep_review_outcomes_possible(params: Parameters, updates: dict[str, dict[str, Any]]) -> None:
    """A review's outcomes share one probability: when a draw raises a placement change or
    ceasing, amendments give way (estimates often put p_amend at exactly what is left)."""
    review = updates.get("review")
    if review is None:
        return
    r = params.review
    up = review.get("p_step_up", r.p_step_up)
    down = review.get("p_step_down", r.p_step_down)
    cease = review.get("p_cease", r.p_cease)
    amend = review.get("p_amend", r.p_amend)
    cease = min(cease, 1.0 - max(up, down))
    review["p_cease"] = cease
    review["p_amend"] = max(0.0, min(amend, 1.0 - max(up, down) - cease))


def _move_dict_value(v: Any, d: float, scale: str, lo: float | None, hi: float | None) -> Any:
    if isinstance(v, tuple | list):
        return tuple(_clip(_move(x, d, scale), lo, hi) for x in v)
    return _clip(_move(float(v), d, scale), lo, hi)


def _move_shares(
    value: Mapping[str, Any], key: str | None, keys: tuple[str, ...], delta: np.ndarray
) -> Any:
    """A mix (or the mix at ``key`` of a table of mixes) with its shares multiplied by
    exp(delta) and renormalised to the mix's old total."""
    mix = dict(value[key]) if key is not None else dict(value)
    total = sum(mix.values())
    moved = {k: mix.get(k, 0.0) * math.exp(float(x)) for k, x in zip(keys, delta, strict=True)}
    new = {**mix, **moved}
    s = sum(new.values())
    new = {k: v * total / s for k, v in new.items()} if s > 0 else mix
    if key is None:
        return new
    out = dict(value)
    out[key] = new
    return out


def _replace_fields(section: Any, changes: Mapping[str, Any]) -> Any:
    return replace(section, **changes)


def _shared_rng(rng: np.random.Generator, name: str) -> np.random.Generator:
    """The stream of a shared item: a child of ``rng``'s seed keyed by the item's name,
    the same for every LA drawn with the same replication seed."""
    seq = rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        return rng
    key = zlib.crc32(name.encode())
    return np.random.default_rng(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, key))
    )


def draw_seed(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """The parameter-draw stream of a replication: a sibling of its chance streams that
    they never use."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, _DRAW_KEY))
