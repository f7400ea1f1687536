"""Writing parameters back out as TOML that `tomllib` reads to the same values.

The standard library reads TOML but does not write it; the parameter tree is simple (tables
of numbers, strings, booleans, dates and lists, and arrays of tables for levers), so a
small writer is enough.
"""

from __future__ import annotations

import datetime as dt
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
    if isinstance(v, dt.date | dt.time):  # dt.datetime is a dt.date
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    """A bare key where TOML allows one (ASCII letters, digits, '_' and '-'), else quoted."""
    bare = k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k)
    return k if bare else json.dumps(k)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _is_scalar(v: Any) -> bool:
    return not isinstance(v, Mapping) and not _is_table_array(v)


def dumps(data: Mapping[str, Any], prefix: str = "") -> str:
    """TOML for nested mappings: a table's plain values, then its [tables] and
    [[arrays of tables]]."""
    out = "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items() if _is_scalar(v))
    for k, v in data.items():
        name = prefix + _key(k)
        if isinstance(v, Mapping):
            out += f"\n[{name}]\n" + dumps(v, name + ".")
        elif _is_table_array(v):
            for item in v:
                out += f"\n[[{name}]]\n" + dumps(item, name + ".")
    return out
