"""Deterministic weighted sampling helpers (insertion-ordered, never hash-ordered)."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Weighted(Generic[T]):
    """Pick one of ``items`` with probability proportional to its weight."""

    items: tuple[T, ...]
    cumulative: tuple[float, ...]

    @staticmethod
    def of(pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
        kept = [(item, float(w)) for item, w in pairs if w > 0]
        if not kept:
            raise ValueError("a weighted choice needs at least one positive weight")
        return Weighted(tuple(i for i, _ in kept), tuple(accumulate(w for _, w in kept)))

    @property
    def total(self) -> float:
        return self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        i = bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        return self.items[min(i, len(self.items) - 1)]

    def probabilities(self) -> list[tuple[T, float]]:
        prev, out = 0.0, []
        for item, c in zip(self.items, self.cumulative, strict=True):
            out.append((item, (c - prev) / self.total))
            prev = c
        return out


@dataclass(frozen=True, slots=True)
class LogUniform:
    """A positive quantity spread evenly on a log scale between ``lo`` and ``hi``."""

    lo: float
    hi: float
    _log_ratio: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.lo <= self.hi:
            raise ValueError(f"need 0 < lo <= hi, got {self.lo}, {self.hi}")
        object.__setattr__(self, "_log_ratio", math.log(self.hi / self.lo))

    def sample(self, rng: random.Random) -> float:
        return self.lo * math.exp(rng.random() * self._log_ratio)


def quantile_table(inverse_cdf: Callable[[float], float], size: int) -> tuple[float, ...]:
    """``size`` evenly spaced quantiles of a distribution, for O(1) sampling by random index.

    ``inverse_cdf`` maps u in (0, 1) to a value; the midpoints (i + 0.5) / size are used so
    neither extreme is ever hit exactly.
    """
    return tuple(float(inverse_cdf((i + 0.5) / size)) for i in range(size))
