"""Moments given on the command line (`produce --start`, `record --from`)."""

from __future__ import annotations

import time
from datetime import datetime

from pulseboard.config import ConfigError


def parse_start(text: str | None, flag: str = "--start") -> int:
    """An ISO 8601 moment as epoch ms (None: now). It needs an explicit UTC offset, so a
    log made with it is the same on any machine."""
    if text is None:
        return int(time.time() * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r} is not an ISO 8601 time; write e.g. 2026-11-20T08:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        raise ConfigError(f"{flag} {text!r} has no UTC offset; add one, e.g. {text}+08:00")
    return int(moment.timestamp() * 1000)
