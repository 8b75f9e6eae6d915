"""The history API's parameters (SPEC section 9), parsed and checked (pure).

Each check that fails raises ``ApiError`` with the HTTP status and a message that says what
is wrong and, where it helps, what would be right."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl

from pulseboard.history.sessions import BadSessionName, check_session_name
from pulseboard.indicators import KINDS

# A series answer stays small (about 20 bytes a point): a day at 10 s, a week at 1 min.
MAX_POINTS: Final = 10_080
MAX_QUERY_CHARS: Final = 1_024
# Integer seconds up to year 9999; negative Ts are not seconds of any session.
MAX_T: Final = 253_402_300_799
_OFFSET_SPACE: Final = re.compile(r"^(.*\d) (\d\d(?::?\d\d)?)$")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class SessionRange:
    """What the index knows of a session: the Ts its final records cover."""

    name: str
    t_from: int
    t_to: int
    records: int


@dataclass(frozen=True, slots=True)
class StateQuery:
    session: str
    t: int


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    session: str
    name: str
    key: str
    t_from: int
    t_to: int
    step: int


def parse_query(query: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """The parameters of a query string: each at most once, none unknown."""
    if len(query) > MAX_QUERY_CHARS:
        raise ApiError(400, f"query string too long ({len(query)} characters, at most 1024)")
    out: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False, max_num_fields=16)
    except ValueError:
        raise ApiError(400, "too many query parameters") from None
    for name, value in pairs:
        if name not in allowed:
            takes = ", ".join(allowed) or "no parameters"
            raise ApiError(400, f"unknown parameter {name[:40]!r}; this request takes {takes}")
        if name in out:
            raise ApiError(400, f"parameter {name!r} given twice")
        out[name] = value
    return out


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"missing parameter {name!r}")
    return value


def parse_time(text: str, what: str = "t") -> int:
    """Integer Unix seconds, or ISO 8601 with a UTC offset (``2026-12-03T14:05:00+08:00``,
    ``...Z``). A '+' sent unescaped in a URL arrives as a space; it is taken back."""
    text = text.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        t = int(text)
    else:
        iso = _OFFSET_SPACE.sub(r"\1+\2", text)
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise ApiError(
                400,
                f"{what}={text[:64]!r} is neither integer Unix seconds nor ISO 8601 "
                "(e.g. 2026-12-03T14:05:00+08:00)",
            ) from None
        if moment.tzinfo is None:
            raise ApiError(400, f"{what}={text[:64]!r} has no UTC offset; add one, e.g. +08:00")
        if moment.microsecond:
            raise ApiError(400, f"{what}={text[:64]!r} is not a whole second")
        t = int(moment.timestamp())
    if not 0 <= t <= MAX_T:
        raise ApiError(400, f"{what}={text[:64]!r} is out of range")
    return t


def parse_session(params: dict[str, str]) -> str:
    try:
        return check_session_name(_required(params, "session"))
    except BadSessionName as exc:
        raise ApiError(400, str(exc)) from None


def parse_state(query: str) -> StateQuery:
    params = parse_query(query, ("session", "t"))
    return StateQuery(parse_session(params), parse_time(_required(params, "t")))


def parse_series(query: str) -> SeriesQuery:
    params = parse_query(query, ("session", "name", "key", "from", "to", "step"))
    session = parse_session(params)
    name = _required(params, "name")
    if name not in KINDS:
        raise ApiError(
            404, f"unknown indicator name {name[:64]!r}; known: {', '.join(sorted(KINDS))}"
        )
    key = _required(params, "key")
    if len(key) > 64:
        raise ApiError(400, "key is longer than 64 characters")
    t_from = parse_time(_required(params, "from"), "from")
    t_to = parse_time(_required(params, "to"), "to")
    raw_step = _required(params, "step")
    if not re.fullmatch(r"\d{1,9}", raw_step) or int(raw_step) < 1:
        raise ApiError(400, f"step={raw_step[:32]!r} must be a whole number of seconds >= 1")
    step = int(raw_step)
    if t_to < t_from:
        raise ApiError(400, f"from ({t_from}) is after to ({t_to})")
    points = (t_to - t_from) // step + 1
    if points > MAX_POINTS:
        least = -(-(t_to - t_from) // (MAX_POINTS - 1))
        raise ApiError(
            400,
            f"step {step} s is too small for the range {t_from}..{t_to}: {points} points, "
            f"at most {MAX_POINTS}; use step >= {least}",
        )
    return SeriesQuery(session, name, key, t_from, t_to, step)


def check_in_range(session: SessionRange, t: int, what: str = "t") -> None:
    """4xx unless ``t`` is within the Ts the session covers."""
    if not session.t_from <= t <= session.t_to:
        raise ApiError(
            400,
            f"{what}={t} is outside session {session.name!r}, which covers "
            f"{session.t_from}..{session.t_to}",
        )


def unknown_session(name: str, known: list[str]) -> ApiError:
    listed = ", ".join(known[:20]) or "none"
    return ApiError(404, f"unknown session {name!r}; sessions: {listed}")
