"""Parameter fields that carry their documentation and allowed range."""

from __future__ import annotations

from dataclasses import field
from typing import Any


class ParameterError(ValueError):
    """A parameter value or key that is not allowed; the message names where and why."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def _p(
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    length: int | None = None,
    keys: tuple[str, ...] | None = None,
    inner_keys: tuple[str, ...] | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    meta = {
        "doc": doc,
        "lo": lo,
        "hi": hi,
        "length": length,
        "keys": keys,
        "inner_keys": inner_keys,
        "choices": choices,
    }
    if isinstance(default, dict | list):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v
