"""Which call-outs were active at a second T (pure: no disk, no clock).

The index finds, per (name, key) of a session's anomaly records, the latest record at or
before T, the latest ``closed`` at or before T, the latest ``opened`` after that close and
the first record after it. What those mean is decided here, by the rules the push server's
live board follows (web/callouts.py), so the wall draws the same call-outs live and in time
travel: the latest record decides (``closed``: not active); a record older than the latest
cut at or before T does not count (nothing carries across a cut, docs/history.md); the
call-out began at its latest opening, or at the first record after the last close when the
opening is not there (read from a topic that no longer holds it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# (name, key, t, state, value, expected, low, high, score, latest opened since the last
#  close or None, first record since the last close or None), as of T
CalloutRow = tuple[str, str, int, str, Any, Any, Any, Any, Any, int | None, int | None]


def active_at(rows: Iterable[CalloutRow], cut: int | None) -> list[dict[str, Any]]:
    """The call-outs active at T, most severe (|score|) first, then by name and key."""
    out = []
    for name, key, t, state, value, expected, low, high, score, opened, first in rows:
        if state == "closed" or (cut is not None and t < cut):
            continue
        since = opened if opened is not None else first if first is not None else t
        if cut is not None:
            since = max(since, cut)
        out.append(
            {
                "name": name,
                "key": key,
                "t": t,
                "since": since,
                "value": value,
                "expected": expected,
                "low": low,
                "high": high,
                "score": score,
            }
        )
    out.sort(key=lambda c: (-abs(c["score"]), c["name"], c["key"]))
    return out
