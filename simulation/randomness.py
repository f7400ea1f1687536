"""Named random streams: no global random state, and numbers that stay put across scenarios.

Each stream's seed is the replication's `SeedSequence` extended by a CRC of the stream's
name, so adding a stream never shifts another's numbers. Two kinds:

- ordinary PCG64 streams (`STREAMS`) for work on the caseload, drawn in caseload order;
- weekly counter-based streams (`WEEKLY_STREAMS`, Philox with the counter set to the week)
  for everything that arrives week by week. A week's numbers are then the same however many
  numbers other weeks drew, so when a scenario changes capacity (and so how many refused
  children come back to SEN support) the first-time requests and their fortunes stay the
  same children with the same fortunes (common random numbers).

A request's uniform draws come as one block of `len(CASE_UNIFORMS)` numbers a case, read by
name through `U` (``u[:, U.REFUSE]``) rather than by position.
"""

from __future__ import annotations

import zlib
from enum import IntEnum
from typing import Any

import numpy as np

# Streams for work on the caseload: the start caseload, review outcomes, ceasing hazards of
# new plans, moves in, phase transfer.
STREAMS = ("initial", "reviews", "exits", "moves_in", "phase_transfer")

# Streams read in weekly blocks (counter = week): the pool's dynamics, repeat requests from
# children back on SEN support, direct requests, and every random fortune of a request.
# A week's first-time requests then draw the same numbers whatever earlier weeks drew.
CASE_STREAMS = ("uniforms", "tribunal", "ep_advice", "other_advice", "drafting")
WEEKLY_STREAMS = ("sen_support", "returned", "requests_direct", "exits_september", *CASE_STREAMS)
INITIAL_WEEKS = (1 << 40, (1 << 40) + 1)  # blocks for the cases under way at the start


class U(IntEnum):
    """The columns of a request's block of uniform draws (stream `uniforms`), in the order
    they are drawn: the order is part of the random numbers, so never reorder it."""

    NEED = 0  # primary type of need
    REFUSE = 1  # the panel refuses to assess
    APPEAL = 2  # a refusal is appealed
    UPHELD = 3  # the tribunal finds for the family
    NOT_ISSUE = 4  # the LA decides not to issue a plan
    EXCEPTION = 5  # the plan is an exception to the 20 weeks
    PLACE = 6  # the setting drawn for the new plan
    INCLUSION = 7  # the mainstream inclusion lever keeps a special placement in mainstream


CASE_UNIFORMS = len(U)


def _stream_seed(seed: int | np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, zlib.crc32(name.encode()))
    )


def streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One generator per named activity. Each stream's seed depends only on the root seed
    and the stream's name, so adding a stream never shifts the others' numbers."""
    return {
        name: np.random.Generator(np.random.PCG64(_stream_seed(seed, name))) for name in STREAMS
    }


class WeeklyStream:
    """A counter-based generator (Philox) whose counter is set to the week: each week's
    draws are a block of their own, so a week that draws more or fewer numbers (a binomial
    over a pool that differs between scenarios) never shifts another week's numbers."""

    def __init__(self, seed: int | np.random.SeedSequence, name: str):
        key = _stream_seed(seed, f"weekly:{name}").generate_state(2, np.uint64)
        self._key = key
        self.generator = np.random.Generator(np.random.Philox(key=key))

    def week(self, week: int) -> np.random.Generator:
        self.generator.bit_generator.state = {
            "bit_generator": "Philox",
            "state": {"counter": np.array([0, week, 0, 0], dtype=np.uint64), "key": self._key},
            "buffer": np.zeros(4, dtype=np.uint64),
            "buffer_pos": 4,
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self.generator


def weekly_streams(seed: int | np.random.SeedSequence) -> dict[str, WeeklyStream]:
    """Every weekly stream of a replication, by name."""
    return {name: WeeklyStream(seed, name) for name in WEEKLY_STREAMS}


def gamma(rng: np.random.Generator, mean: float, cv: float, size: int | None = None) -> Any:
    """Gamma-distributed durations with the given mean and coefficient of variation
    (cv 1 is exponential, cv 0 is the mean exactly)."""
    if cv <= 0 or mean <= 0:
        return mean if size is None else np.full(size, float(mean))
    shape = 1.0 / (cv * cv)
    return rng.gamma(shape, mean / shape, size)
