"""Indicator changelogs (SPEC section 8): records of the values that changed.

A ``Changelog`` remembers the last value it published per (name, key) and, given a
``Windows`` state, emits a record for every dirty (name, key) whose value is no longer
``indicators.same_value`` as the published one. Comparing with the last *published* value
(rather than the true value at the previous emitted T) means a reader carrying values
forward is always within tolerance of the truth, even if a value creeps by sub-tolerance
steps.
"""

from __future__ import annotations

from typing import Final

import msgspec

from consumers.windows import Windows
from pulseboard.indicators import ABSENT, KINDS, NAMES, Kind, Record, Value

_ENCODER: Final = msgspec.json.Encoder()


def encode_record(rec: Record) -> bytes:
    """One record as a newline-terminated JSON object. Byte-deterministic: fixed key order,
    ints as ints, floats in shortest round-trip form (``1e16``, no ``+`` in exponents)."""
    return _ENCODER.encode(rec) + b"\n"


def encode_records(recs: list[Record]) -> bytes:
    """Many records as JSON Lines in one call (the replay's hot path); same bytes as
    joining ``encode_record`` of each."""
    return _ENCODER.encode_lines(recs)


class Changelog:
    """Published values and the diff against a ``Windows`` state."""

    def __init__(self) -> None:
        # name -> key -> last published value; absent values are not stored.
        self.published: dict[str, dict[str, Value]] = {name: {} for name in NAMES}

    def diff(self, windows: Windows, t: int, *, full: bool = False) -> list[Record]:
        """Records as of ``t`` for the dirty (name, key)s whose value changed since it was
        last published, ordered by name then key; clears ``windows.dirty``.

        With ``full``, every key that has a value or was published is compared (used after
        the state was rebuilt from scratch)."""
        out: list[Record] = []
        for name in NAMES:
            keys = windows.dirty[name]
            published = self.published[name]
            if full:
                keys |= windows.keys_with_values(name)
                keys.update(published)
            if not keys:
                continue
            absent = ABSENT[name]
            value = windows.value_fn(name)
            exact = KINDS[name] is Kind.COUNT
            for key in sorted(keys):
                new = value(key)
                old = published.get(key, absent)
                if new == old:
                    continue
                if not exact and new is not None and old is not None:
                    # same_value(), inlined: this loop runs for every changed key.
                    d = abs(new - old)
                    if d <= 1e-6 or d <= 1e-9 * max(abs(new), abs(old)):
                        continue
                out.append(Record(t, name, key, new))
                if new is absent or (absent is not None and new == absent):
                    published.pop(key, None)
                else:
                    published[key] = new
            keys.clear()
        return out

    def snapshot(self, t: int) -> list[Record]:
        """Every published value that differs from absent, ordered by name then key."""
        return [
            Record(t, name, key, v)
            for name in NAMES
            for key, v in sorted(self.published[name].items())
        ]
