"""State at T and series, given the rows the index found (pure: no disk, no clock).

The index answers "the latest record of (name, key) at or before T" with one seek per
(name, key). What that row means is decided here: a record older than the latest cut at or
before T no longer counts (a cut starts a separately computed changelog, docs/history.md),
and a value equal to the indicator's absent value (SPEC section 8) is absent."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from pulseboard.indicators import ABSENT, Value

# (name, key, t of the latest record at or before T, its value)
LatestRow = tuple[str, str, int, Value]


def is_absent(name: str, value: Value) -> bool:
    """0 for counts and sums, null for rates and means (a sum within 1e-6 of 0 is 0)."""
    absent = ABSENT[name]
    if absent is None:
        return value is None
    return value is None or abs(value) <= 1e-6


def state_values(rows: Iterable[LatestRow], cut: int | None) -> dict[str, Value]:
    """``{"name|key": value}`` as of T from each (name, key)'s latest record at or before T,
    ``cut`` being the latest cut at or before T (None: none). Absent values are left out."""
    out: dict[str, Value] = {}
    for name, key, t, value in rows:
        if cut is not None and t < cut:
            continue
        if not is_absent(name, value):
            out[f"{name}|{key}"] = value
    return out


def series_times(t_from: int, t_to: int, step: int) -> list[int]:
    """``t_from + i*step`` up to ``t_to`` (SPEC section 9)."""
    return list(range(t_from, t_to + 1, step))


def series_values(
    name: str,
    points: Iterable[tuple[int, int | None, Value]],
    cuts: Sequence[int],
) -> list[Value]:
    """The value as of each T of ``points`` = (T, t of the latest record at or before T or
    None, its value); ``cuts`` ascending. Absent values are given as the absent value (0 or
    null): a series has a value at every point."""
    absent = ABSENT[name]
    out: list[Value] = []
    for T, t, value in points:
        if t is None:
            out.append(absent)
            continue
        i = bisect_right(cuts, T)
        if i and t < cuts[i - 1]:
            out.append(absent)
        else:
            out.append(absent if is_absent(name, value) else value)
    return out
