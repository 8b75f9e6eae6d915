"""A time zone's UTC offsets over a span of years, from this machine's tz database (a pure
module).

A wall's browser carries its own copy of the tz database, and it may be out of date or
coarser than the server's: Debian's Chromium 156 puts Africa/Casablanca at UTC+0 from late
2026 on, while Morocco stays at UTC+1 outside Ramadan (tzdata 2025b). The server sends the
offsets its zoneinfo knows, and the page trusts them within their span (see
web/frontend/src/travelurl.js offsetAt), so the wall's clock, "today" and URL moments agree
with the pipeline's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

_DAY = 86_400


def _offset(zone: ZoneInfo, t: int) -> int:
    delta = datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def offset_table(time_zone: str, start: int, end: int) -> list[list[int]]:
    """``[[from, offset_s], ...]``: the offset in force from each second ``from`` on, from
    ``start`` (the first row) to ``end``. Changes are found day by day and pinned to the
    second by bisection, so two changes less than a day apart would be missed (no zone
    in use does that)."""
    zone = ZoneInfo(time_zone)
    table = [[start, _offset(zone, start)]]
    t = start
    while t < end:
        nxt = min(t + _DAY, end)
        before, after = _offset(zone, t), _offset(zone, nxt)
        if before != after:
            lo, hi = t, nxt  # offset(lo) == before, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(zone, mid) == before:
                    lo = mid
                else:
                    hi = mid
            table.append([hi, after])
        t = nxt
    return table


def zone_block(
    time_zone: str, now: float, years_back: int = 2, years_ahead: int = 3
) -> dict[str, Any]:
    """The page's view of ``time_zone``: its name and offsets from 1 January ``years_back``
    years before ``now``'s year to 1 January ``years_ahead`` years after (whole years, so
    the block, and with it the page's build id, changes once a year, not at every start)."""
    year = datetime.fromtimestamp(now, UTC).year
    start = int(datetime(year - years_back, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + years_ahead, 1, 1, tzinfo=UTC).timestamp())
    return {"name": time_zone, "until": end, "offsets": offset_table(time_zone, start, end)}
