"""Labelled incidents: what goes wrong in the simulation, when, and what it changes (no I/O).

``pulseboard produce --incident KIND@START/DURATION[:TARGET]`` (repeatable). An incident acts
through a cause inside the simulation, never by editing an indicator:

* ``corridor_closure``, target ``origin>dest``: no trip sets off on the corridor (shippers
  hold the loads, trucks take other trips); loaded trucks already on it wait, engine off,
  until it opens, and deliver late.
* ``dc_outage``, a dc id: its IT load drops to 5%; the other data centres
  of its region pick up 10% more.
* ``export_surge`` / ``export_slump``, an ISO country: each consignment for that
  country is ordered 3 times over / 4 of 5 of them are cancelled.
* ``sector_slump`` / ``festival_peak``, ``region|sector``: each output of that sector in that
  region is worth 30% / 250% of usual.

START is an ISO 8601 time with a UTC offset (``2026-12-03T14:00:00+08:00``) or a duration
after the simulation start (``+2h``, ``+1d3h30m``); DURATION is a duration (``45m``, ``2h``).
Targets are codes only; which codes exist is checked by the caller (``check_targets``). A
target left out is the region pack's default for the kind (``incident_targets`` in its file).

The pure functions below answer "what does the schedule change at time t"; the fleet and
the sector streams call them only when a schedule is given, so a run without incidents
draws exactly the same random numbers as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import orjson

KINDS: Final = (
    "corridor_closure",
    "dc_outage",
    "export_surge",
    "export_slump",
    "sector_slump",
    "festival_peak",
)
# What each kind does to its target (see the table above).
DC_OUTAGE_LOAD: Final = 0.05
DC_PICKUP: Final = 1.10
EXPORT_FACTOR: Final = {"export_surge": 3.0, "export_slump": 0.2}
OUTPUT_FACTOR: Final = {"sector_slump": 0.3, "festival_peak": 2.5}

_PLACE = r"(?:\d{6}|CN-[A-Z]{2}|[A-Z]{2}-\d{2}|[A-Z]{2})"
_TARGET_FORM: Final = {
    "corridor_closure": (re.compile(rf"{_PLACE}>{_PLACE}\Z"), "origin>dest (region codes)"),
    "dc_outage": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"), "a data centre id"),
    "export_surge": (re.compile(r"[A-Z]{2}\Z"), "an ISO 3166-1 alpha-2 code, e.g. VN"),
    "export_slump": (re.compile(r"[A-Z]{2}\Z"), "an ISO 3166-1 alpha-2 code, e.g. VN"),
    "sector_slump": (re.compile(rf"{_PLACE}\|[a-z_]+\Z"), "region|sector"),
    "festival_peak": (re.compile(rf"{_PLACE}\|[a-z_]+\Z"), "region|sector"),
}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")
_UNIT_MS: Final = (86_400_000, 3_600_000, 60_000, 1_000)
_FORM = "KIND@START/DURATION[:TARGET], e.g. dc_outage@+2h/45m"


class IncidentError(ValueError):
    """A bad incident spec; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str
    target: str
    start_ms: int
    end_ms: int

    def active(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms < self.end_ms

    def truth(self) -> dict[str, object]:
        """The ground-truth line (``--incidents-out``): times are epoch ms, like ``ts``."""
        return {"kind": self.kind, "target": self.target, "start": self.start_ms,
                "end": self.end_ms}  # fmt: skip


def parse_duration_ms(text: str, what: str, *, zero: bool = False) -> int:
    m = _DURATION.match(text)
    if not text or m is None or not any(m.groups()):
        raise IncidentError(f"{what} {text!r} is not a duration; write e.g. 45m, 2h, 1h30m, 1d")
    ms = sum(int(g or 0) * unit for g, unit in zip(m.groups(), _UNIT_MS, strict=True))
    if ms <= 0 and not zero:
        raise IncidentError(f"{what} {text!r} must be longer than 0")
    return ms


def parse_start_ms(text: str, sim_start_ms: int) -> int:
    if text.startswith("+"):
        return sim_start_ms + parse_duration_ms(text[1:], "START", zero=True)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise IncidentError(
            f"START {text!r} is neither +DURATION (e.g. +2h) nor an ISO 8601 time"
            " (e.g. 2026-12-03T14:00:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        raise IncidentError(f"START {text!r} has no UTC offset; add one, e.g. {text}+08:00")
    return int(moment.timestamp() * 1000)


def parse_incident(
    spec: str, sim_start_ms: int, defaults: Mapping[str, str] | None = None
) -> Incident:
    """``KIND@START/DURATION[:TARGET]`` -> Incident (IncidentError says what to fix);
    ``defaults``: the target per kind when TARGET is left out (the region pack's)."""
    kind, at, rest = spec.partition("@")
    if not at:
        raise IncidentError(f"--incident {spec!r}: missing '@'; write {_FORM}")
    if kind not in KINDS:
        kinds = ", ".join(KINDS)
        raise IncidentError(f"--incident {spec!r}: unknown kind {kind!r}; one of {kinds}")
    # START may be an ISO time, which holds ':' but never '/': split at the first '/'.
    start_text, slash, rest = rest.partition("/")
    if not slash:
        raise IncidentError(f"--incident {spec!r}: missing '/DURATION'; write {_FORM}")
    duration_text, colon, target = rest.partition(":")
    if not colon:
        if not defaults or kind not in defaults:
            raise IncidentError(
                f"--incident {spec!r}: this region has no default {kind} target; add "
                f":TARGET ({_TARGET_FORM[kind][1]})"
            )
        target = defaults[kind]
    form, example = _TARGET_FORM[kind]
    if not form.match(target):
        raise IncidentError(f"--incident {spec!r}: target {target!r} is not {example}")
    try:
        start = parse_start_ms(start_text, sim_start_ms)
        length = parse_duration_ms(duration_text, "DURATION")
    except IncidentError as exc:
        raise IncidentError(f"--incident {spec!r}: {exc}") from None
    return Incident(kind, target, start, start + length)


def check_targets(incidents: Iterable[Incident], known: Mapping[str, frozenset[str]]) -> None:
    """Refuse a target the simulation does not have (it would silently change nothing).
    ``known`` maps each kind to its valid targets."""
    for inc in incidents:
        valid = known[inc.kind]
        if inc.target not in valid:
            some = ", ".join(sorted(valid)[:8])
            raise IncidentError(
                f"incident {inc.kind}:{inc.target}: no such target in the simulation;"
                f" known ones include {some}"
            )


@dataclass(frozen=True, slots=True)
class Schedule:
    """The incidents of one run, with the questions the simulation asks about them."""

    incidents: tuple[Incident, ...]

    def _of(self, kind: str, target: str, t_ms: int) -> Incident | None:
        for inc in self.incidents:
            if inc.kind == kind and inc.target == target and inc.active(t_ms):
                return inc
        return None

    def closed(self, origin: str, dest: str, t_ms: int) -> bool:
        """Is the corridor closed at t (no trip may set off on it)?"""
        return self._of("corridor_closure", f"{origin}>{dest}", t_ms) is not None

    def held_ms(self, origin: str, dest: str, leg_start_ms: int, t_ms: int) -> int:
        """How long a truck on origin>dest, driving since leg_start and due at t, waits at a
        closure: from when the road closed under it (or it set off) until it reopens."""
        target = f"{origin}>{dest}"
        held = 0
        for inc in self.incidents:
            if (
                inc.kind == "corridor_closure"
                and inc.target == target
                and inc.start_ms < t_ms
                and inc.end_ms > leg_start_ms
            ):
                held = max(held, inc.end_ms - max(inc.start_ms, leg_start_ms))
        return held

    def export_factor(self, country: str, t_ms: int) -> float:
        f = 1.0
        for kind, factor in EXPORT_FACTOR.items():
            if self._of(kind, country, t_ms) is not None:
                f *= factor
        return f

    def output_factor(self, key: str, t_ms: int) -> float:
        f = 1.0
        for kind, factor in OUTPUT_FACTOR.items():
            if self._of(kind, key, t_ms) is not None:
                f *= factor
        return f

    def dc_factor(self, regions: Mapping[str, str]) -> Callable[[str, int], float]:
        """A function (dc_id, t) -> load multiplier, given every dc's region."""
        outages = [inc for inc in self.incidents if inc.kind == "dc_outage"]

        def factor(dc_id: str, t_ms: int) -> float:
            f = 1.0
            for inc in outages:
                if not inc.active(t_ms):
                    continue
                if inc.target == dc_id:
                    f *= DC_OUTAGE_LOAD
                elif regions.get(inc.target) == regions.get(dc_id):
                    f *= DC_PICKUP
            return f

        return factor


def copies(factor: float, u: float) -> int:
    """How many times an order is placed when demand is ``factor`` times usual, with ``u``
    uniform in [0, 1): floor(factor), plus one with the fractional part's probability."""
    whole = int(factor)
    return whole + (1 if u < factor - whole else 0)


def truth_lines(incidents: Iterable[Incident]) -> bytes:
    return b"".join(orjson.dumps(inc.truth()) + b"\n" for inc in incidents)
