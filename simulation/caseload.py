"""The caseload: every plan made in a run, open or ceased, as a struct of numpy arrays.

A plan is a row number; the arrays hold its state (open or not, academic age, placement
group, need, next review, the setting it is waiting for). Whole-caseload work (reviews due,
September ageing, the census) is vectorised over these arrays; a plan's journey through
settings is in `pathway/placement.py` and its end in `pathway/ceasing.py`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

NOT_WAITING = -1  # waiting_for of a plan that waits for no place


class Caseload:
    """Plans by row: grown by doubling as plans are made, never shrunk (a ceased plan keeps
    its row, inactive)."""

    # Each array and the value of a row not yet used.
    FILL: ClassVar[dict[str, float]] = {
        "active": False,
        "age": 0,
        "group": 0,
        "need": 0,
        "next_review": np.inf,
        "waiting_for": NOT_WAITING,
        "wait_since": 0.0,
        "group_since": 0.0,
        "child": -1,
    }

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0  # plans made so far (rows used)
        self.n_open = 0
        self.active = np.zeros(capacity, dtype=bool)
        self.age = np.zeros(capacity, dtype=np.int64)  # academic age
        self.group = np.zeros(capacity, dtype=np.int64)  # placement group (vocabulary)
        self.need = np.zeros(capacity, dtype=np.int64)  # primary need (vocabulary.NEEDS)
        self.next_review = np.full(capacity, np.inf)
        self.waiting_for = np.full(capacity, NOT_WAITING, dtype=np.int64)
        self.wait_since = np.zeros(capacity)
        self.group_since = np.zeros(capacity)  # when the plan entered its current setting
        self.child = np.full(capacity, -1, dtype=np.int64)  # the event log's entity id

    def add(
        self, child: int, age: int, need: int, group: int, since: float, next_review: float
    ) -> int:
        """A new open plan for entity `child`; returns its row."""
        if self.n == len(self.active):
            self._grow()
        i = self.n
        self.n += 1
        self.active[i] = True
        self.child[i] = child
        self.age[i] = age
        self.need[i] = need
        self.group[i] = group
        self.group_since[i] = since
        self.next_review[i] = next_review
        self.n_open += 1
        return i

    def open_plans(self) -> np.ndarray:
        """Rows of the open plans, in the order they were made."""
        return np.flatnonzero(self.active[: self.n])

    def _grow(self) -> None:
        n = len(self.active) * 2
        for name, fill in self.FILL.items():
            old = getattr(self, name)
            new = np.full(n, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
