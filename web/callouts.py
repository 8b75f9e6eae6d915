"""The active call-outs of the wall: a pure state object fed anomaly records.

Per (name, key) the newest record decides (the greatest ``t``; on equal ``t`` the one that
arrived last, as for indicators): ``opened`` and ``ongoing`` make the call-out active
(``ongoing`` without an ``opened`` before it too: a server that starts reading after the
opening still shows what is open), ``closed`` ends it. A record older than the newest seen
for its (name, key), closed ones included, changes nothing. The wire form is sorted most
severe (``|score|``) first; which and how many the wall draws is the page's decision
(web/frontend/src/callouts.js)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulseboard.anomalies import Anomaly

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Callout:
    latest: Anomaly
    since: int  # the t of its opening (or of the first record seen, without one)

    def wire(self) -> dict[str, Any]:
        a = self.latest
        return {
            "name": a.name,
            "key": a.key,
            "t": a.t,
            "since": self.since,
            "value": a.value,
            "expected": a.expected,
            "low": a.low,
            "high": a.high,
            "score": a.score,
        }


@dataclass(slots=True)
class CalloutBoard:
    active: dict[Key, Callout] = field(default_factory=dict)
    # The newest t seen per (name, key), closed ones included (bounded by the SPEC's keys).
    _newest: dict[Key, int] = field(default_factory=dict)
    version: int = 0

    def apply(self, record: Anomaly) -> bool:
        """Take one record; True if the active call-outs changed."""
        ident = record.ident
        newest = self._newest.get(ident)
        if newest is not None and record.t < newest:
            return False
        self._newest[ident] = record.t
        held = self.active.get(ident)
        if record.state == "closed":
            if held is None:
                return False
            del self.active[ident]
        else:
            since = record.t if held is None or record.state == "opened" else held.since
            if held is not None and held.latest == record and held.since == since:
                return False
            self.active[ident] = Callout(record, since)
        self.version += 1
        return True

    def wire(self) -> list[dict[str, Any]]:
        """Every active call-out, most severe first (then by name and key: a stable order)."""
        ranked = sorted(
            self.active.values(),
            key=lambda c: (-c.latest.severity, c.latest.name, c.latest.key),
        )
        return [c.wire() for c in ranked]
