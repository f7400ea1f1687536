"""Shares made to sum to one, and counts rounded to keep their total."""

from __future__ import annotations

import numpy as np


def normalise(shares: dict[str, float], keys: tuple[str, ...]) -> np.ndarray:
    """Shares by key, in the order of `keys`, summing to 1 (equal shares if all are 0)."""
    v = np.array([shares.get(k, 0.0) for k in keys], dtype=float)
    return v / v.sum() if v.sum() > 0 else np.full(len(keys), 1.0 / len(keys))


def normalise_seq(values: tuple[float, ...]) -> np.ndarray:
    """Shares summing to 1 (equal shares if all are 0)."""
    v = np.array(values, dtype=float)
    return v / v.sum() if v.sum() > 0 else np.full(len(v), 1.0 / len(v))


def round_preserving_total(values: tuple[float, ...]) -> list[int]:
    """Whole numbers summing to the rounded total (largest remainder)."""
    v = np.array(values, dtype=float)
    floors = np.floor(v).astype(int)
    short = round(v.sum()) - int(floors.sum())
    if short > 0:
        floors[np.argsort(-(v - floors), kind="stable")[:short]] += 1
    return [int(x) for x in floors]
