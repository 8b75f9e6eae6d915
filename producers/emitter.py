"""Turns simulated events into Kafka records: event ids, ingest delays, fault injection, and
the reorder buffer that releases records in ingest-time order.

Every event happens at a true time ``t``. It reaches Kafka ``delay`` ms later (a small,
heavy-tailed network/batching delay), so its ``ingest_ts`` is ``t + delay`` and ``ts`` is
slightly out of order across records, as with real devices. Faults:

* late: the device was offline (a tunnel, a mountain valley) and uploads its buffer much
  later: ``ingest_ts - ts`` in (30 s, 600 s];
* future: the device clock runs fast: ``ts - ingest_ts`` in (5 s, 120 s];
* invalid: the record is replaced by broken bytes (see ``producers.faults``).

Records are buffered per ingest second and released once the event-time clock has passed
that second, so the output order never depends on how callers slice it.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from itertools import count
from operator import itemgetter
from statistics import NormalDist
from typing import Any, Final

import orjson

from producers.faults import corrupt
from producers.records import SimRecord
from producers.sampling import LogUniform, quantile_table
from pulseboard.spec import DEFAULT_FUTURE_MS, DEFAULT_LATENESS_MS

# Seconds of ingest time buffered ahead of the event clock. Must exceed the furthest ahead
# any record can land: events scheduled ahead (deliveries while unloading, <= ~25 min) plus
# the longest lateness (10 min) plus the delay tail.
INGEST_RING: Final = 4096
DELAY_TABLE_BITS: Final = 16
MAX_NORMAL_DELAY_MS: Final = 10_000  # well inside the 30 s allowed lateness
LATE_MS: Final = LogUniform(DEFAULT_LATENESS_MS + 1, 600_000)
FUTURE_MS: Final = LogUniform(DEFAULT_FUTURE_MS + 1, 120_000)

_INGEST = itemgetter(0)
_new_record = tuple.__new__
# A record waiting in the reorder buffer: (ingest_ts, topic, key, value, kind, fault).
Pending = tuple[int, str, bytes, bytes, str, str]


@functools.cache  # pure; ~65k inverse-CDF evaluations, so build it once per process
def delay_table() -> tuple[int, ...]:
    """Quantiles of the normal publish delay: 20 ms floor, median ~200 ms, long tail."""
    normal = NormalDist(math.log(180.0), 1.0)
    table = quantile_table(lambda u: 20.0 + math.exp(normal.inv_cdf(u)), 1 << DELAY_TABLE_BITS)
    return tuple(min(MAX_NORMAL_DELAY_MS, round(d)) for d in table)


@dataclass(frozen=True, slots=True)
class FaultRates:
    invalid: float = 0.0
    late: float = 0.0
    future: float = 0.0

    @property
    def any(self) -> bool:
        return self.invalid + self.late + self.future > 0


class Emitter:
    """Shared by all event sources of one simulation; single-threaded by design."""

    __slots__ = (
        "_delays",
        "_fault_total",
        "_ids",
        "_late_cut",
        "_p_invalid",
        "_ring",
        "faulty",
        "id_prefix",
        "rng",
    )

    def __init__(self, seed: int, faults: FaultRates, rng: random.Random) -> None:
        self.rng = rng
        self.id_prefix = f"e-{seed}-"
        self._ids = count(1)
        self._delays = delay_table()
        # Pending records are plain tuples (same fields as SimRecord): the garbage collector
        # stops tracking a tuple of strings, bytes and ints after one look, but never a
        # NamedTuple, and hundreds of thousands of tracked records make full collections slow.
        self._ring: list[list[Pending]] = [[] for _ in range(INGEST_RING)]
        self.faulty = faults.any
        self._p_invalid = faults.invalid
        self._late_cut = faults.invalid + faults.late
        self._fault_total = faults.invalid + faults.late + faults.future

    # The hot loops in the sources inline what these do; keep them in step.
    def next_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids)}"

    @property
    def ids(self) -> count:
        return self._ids

    @property
    def delays(self) -> tuple[int, ...]:
        return self._delays

    @property
    def fault_total(self) -> float:
        return self._fault_total

    @property
    def ring(self) -> list[list[Pending]]:
        return self._ring

    def emit(self, t: int, topic: str, key: bytes, kind: str, event: dict[str, Any]) -> None:
        """Publish ``event`` (which happened at ``t`` and carries ``ts == t``)."""
        if self.faulty:
            u = self.rng.random()
            if u < self._fault_total:
                self.emit_fault(u, t, topic, key, kind, event)
                return
        ingest = t + self._delays[self.rng.getrandbits(DELAY_TABLE_BITS)]
        self._ring[(ingest // 1000) % INGEST_RING].append(
            (ingest, topic, key, orjson.dumps(event), kind, "")
        )

    def emit_encoded(self, t: int, topic: str, key: bytes, kind: str, value: bytes) -> None:
        """Like ``emit`` for an event already encoded (exactly as orjson would encode it)."""
        if self.faulty:
            u = self.rng.random()
            if u < self._fault_total:
                self.emit_fault(u, t, topic, key, kind, orjson.loads(value))
                return
        ingest = t + self._delays[self.rng.getrandbits(DELAY_TABLE_BITS)]
        self._ring[(ingest // 1000) % INGEST_RING].append((ingest, topic, key, value, kind, ""))

    def emit_fault(
        self, u: float, t: int, topic: str, key: bytes, kind: str, event: dict[str, Any]
    ) -> None:
        """The rare path: ``u`` (uniform in [0, 1)) below the fault total picks the fault."""
        rng = self.rng
        ingest = t + self._delays[rng.getrandbits(DELAY_TABLE_BITS)]
        if u < self._p_invalid:
            value, fault = corrupt(event, orjson.dumps(event), rng)
            kind = "invalid"
        elif u < self._late_cut:
            ingest = t + math.floor(LATE_MS.sample(rng))
            value, fault = orjson.dumps(event), "late"
        else:
            skew = math.floor(FUTURE_MS.sample(rng))
            value, fault = orjson.dumps({**event, "ts": ingest + skew}), "future"
        self._ring[(ingest // 1000) % INGEST_RING].append((ingest, topic, key, value, kind, fault))

    def release(self, second: int) -> list[Pending]:
        """All records with ingest time in ``second`` (epoch s), in ingest order.

        Only call once no further event with true time before ``second + 1`` can be emitted.
        Ties keep emission order (sort is stable), which is itself deterministic.
        """
        slot = second % INGEST_RING
        bucket = self._ring[slot]
        self._ring[slot] = []
        bucket.sort(key=_INGEST)
        return bucket


def as_records(pending: list[Pending]) -> list[SimRecord]:
    """Pending tuples as SimRecords, created only when handed out (see Emitter._ring)."""
    new, record = _new_record, SimRecord
    return [new(record, p) for p in pending]
