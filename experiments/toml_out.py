"""Writing parameters back out as TOML that `tomllib` reads to the same values.

The standard library reads TOML but does not write it; the parameter tree is simple (tables
of numbers, strings, booleans and lists of numbers), so a small writer is enough.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def dumps(data: Mapping[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    lines = [f"{_key(k)} = {_value(v)}" for k, v in scalars]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in tables:
        name = f"{prefix}{_key(k)}"
        if any(isinstance(x, Mapping) for x in v.values()) and not all(
            isinstance(x, Mapping) for x in v.values()
        ):
            inner_scalars = {a: b for a, b in v.items() if not isinstance(b, Mapping)}
            inner_tables = {a: b for a, b in v.items() if isinstance(b, Mapping)}
            out += f"\n[{name}]\n" + dumps(inner_scalars)
            out += dumps_tables(inner_tables, name + ".")
        elif v and all(isinstance(x, Mapping) for x in v.values()):
            out += f"\n[{name}]\n" if not v else ""
            out += dumps_tables(v, name + ".")
            if not v:
                out += f"\n[{name}]\n"
        else:
            out += f"\n[{name}]\n" + dumps(v, name + ".")
    return out


def dumps_tables(tables: Mapping[str, Any], prefix: str) -> str:
    out = ""
    for k, v in tables.items():
        out += f"\n[{prefix}{_key(k)}]\n" + dumps(v, f"{prefix}{_key(k)}.")
    return out
