"""Deterministic synthetic events for an area's freight and sector economy (no I/O); the area
is the region pack of ``SimConfig.pack``.

``Simulation(SimConfig(start_ms=...))`` yields Kafka records in ingest-time order through
``take(n)`` or ``advance(until_ms)``. The same config always yields byte-identical records,
however the caller slices them: all randomness comes from ``random.Random(seed)``, simulated
time never looks at the wall clock, and records are generated one simulated second at a time
independently of the calls.

Rate model: the records' mean rate over a simulated day is ``events_per_sim_second``; the
instantaneous rate follows a daily curve in the area's local time (quiet around 03:00-05:00,
peaks mid-morning and mid-afternoon). Data-centre reports are periodic (~1.5% of records);
``output_share`` of records are sector outputs; the rest is freight: trucks on the road
report their position every ``ping_interval_s`` and each trip produces shipment and delivery
events. See ``plan_rates`` for how the fleet is sized.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from producers.emitter import Emitter, FaultRates, Pending, as_records
from producers.fleet import Fleet, FleetPlan
from producers.freight_mix import TripMix
from producers.incidents import Incident, Schedule
from producers.records import SimRecord, Tally, TallyCounter
from producers.rhythm import datacentre_curve, freight_curve
from producers.sectors import SectorStreams
from pulseboard import packs
from pulseboard.packs import RegionPack

__all__ = ["RatePlan", "SimConfig", "SimRecord", "Simulation", "Tally", "plan_rates"]

_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_DC_SHARE = 0.015  # data-centre reports as a share of all records, when not set explicitly
_MIN_DC_REPORT_S = 5.0
_INGEST = itemgetter(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    seed: int = 0
    start_ms: int  # simulated clock start, epoch ms UTC
    events_per_sim_second: float = 200.0  # mean over a simulated day of ALL records
    invalid_fraction: float = 0.0  # records replaced by invalid bytes (SPEC section 3)
    late_fraction: float = 0.0  # valid records with ingest_ts - ts in (30 s, 600 s]
    future_fraction: float = 0.0  # valid records with ts - ingest_ts in (5 s, 120 s]
    # Each truck on the road reports its position this often (simulated seconds). Below 300
    # so every moving truck shows up in every 5-minute active_trucks window.
    ping_interval_s: int = 280
    output_share: float = 0.08  # share of records that are sector ``output`` events
    # Cap on trucks on the road at the daily peak (~1.5 kB of memory each). Above the rate
    # where it binds (~230 events/s with the defaults) trucks report more often instead of
    # the fleet growing, and positions take a larger share of the records (~90% at 1,000/s).
    max_trucks: int = 100_000
    dc_report_s: float | None = None  # each data centre's report period; None: automatic
    # The area's value added per day, in its currency; None: the pack's.
    gdp_cny_per_day: float | None = None
    pack: RegionPack = field(default_factory=lambda: packs.load(packs.DEFAULT_PACK))
    incidents: tuple[Incident, ...] = ()  # labelled incidents (producers/incidents.py)

    def __post_init__(self) -> None:
        _require_int("seed", self.seed, 0, 2**63 - 1)
        _require_int("start_ms", self.start_ms, 0, _MAX_EPOCH_MS)
        _require_number("events_per_sim_second", self.events_per_sim_second)
        if self.events_per_sim_second <= 0:
            raise ValueError(
                f"events_per_sim_second must be > 0 (got {self.events_per_sim_second})"
            )
        fractions = ("invalid_fraction", "late_fraction", "future_fraction")
        for name in fractions:
            value = getattr(self, name)
            _require_number(name, value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1] (got {value})")
        total = sum(getattr(self, name) for name in fractions)
        if total > 1.0 + 1e-12:
            raise ValueError(
                f"invalid_fraction + late_fraction + future_fraction must be <= 1 (got {total});"
                " lower one of them"
            )
        _require_int("ping_interval_s", self.ping_interval_s, 1, 3600)
        _require_number("output_share", self.output_share)
        if not 0.0 <= self.output_share <= 0.9:
            raise ValueError(f"output_share must be in [0, 0.9] (got {self.output_share})")
        _require_int("max_trucks", self.max_trucks, 100, 10_000_000)
        if self.dc_report_s is not None:
            _require_number("dc_report_s", self.dc_report_s)
            if self.dc_report_s < 1.0:
                raise ValueError(f"dc_report_s must be >= 1 or None (got {self.dc_report_s})")
        if self.gdp_cny_per_day is not None:
            _require_number("gdp_cny_per_day", self.gdp_cny_per_day)
            if self.gdp_cny_per_day <= 0:
                raise ValueError(f"gdp_cny_per_day must be > 0 (got {self.gdp_cny_per_day})")


def _require_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int (got {value!r})")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}] (got {value})")


def _require_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number (got {value!r})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite (got {value})")


@dataclass(frozen=True, slots=True)
class RatePlan:
    """Daily-mean rates (records per simulated second) and the fleet sizing behind them."""

    total: float
    positions: float
    shipments: float
    deliveries: float
    outputs: float
    dc_loads: float
    dc_report_ms: int
    fleet: FleetPlan
    consignments_per_trip: float
    moving_s_per_shipment: float  # truck time on the road per consignment, both legs


def plan_rates(config: SimConfig, mix: TripMix) -> RatePlan:
    """Split the requested rate over the event kinds and size the truck fleet.

    Trucks on the road (``mean_moving``, following the daily curve) each report every
    ``ping`` seconds, and every ``moving_s_per_shipment`` seconds of driving corresponds to one
    shipment and one delivery, so freight = moving * (1 / ping + 2 / moving_s_per_shipment).
    """
    rate = float(config.events_per_sim_second)
    n_dc = len(config.pack.sim.data_centres)
    dc_report_s = config.dc_report_s
    if dc_report_s is None:
        dc_report_s = max(_MIN_DC_REPORT_S, n_dc / (_DC_SHARE * rate))
    dc_rate = n_dc / dc_report_s
    outputs = config.output_share * rate
    freight = rate - dc_rate - outputs
    if freight <= 0:
        raise ValueError(
            f"events_per_sim_second={rate} leaves no room for freight after data-centre reports"
            f" ({dc_rate:.3f}/s) and outputs ({outputs:.3f}/s); raise dc_report_s or lower"
            " output_share"
        )
    k, moving_s_per_trip = mix.expected_trip()
    per_shipment = moving_s_per_trip / k
    ping_s = config.ping_interval_s
    peak = freight_curve(config.pack.time_zone).peak
    if freight / (1.0 / ping_s + 2.0 / per_shipment) * peak > config.max_trucks:
        # Fleet capped: keep shipments per truck realistic, report positions more often.
        capped = config.max_trucks / peak
        positions = freight - 2.0 * capped / per_shipment
        ping_s = round(capped / positions)
        if ping_s < 1:
            raise ValueError(
                f"events_per_sim_second={rate} needs trucks reporting more than once a second"
                f" with max_trucks={config.max_trucks}; raise max_trucks"
            )
    mean_moving = freight / (1.0 / ping_s + 2.0 / per_shipment)
    shipments = mean_moving / per_shipment
    fleet = FleetPlan(
        mean_moving=mean_moving,
        ping_s=ping_s,
        moving_s_per_trip=moving_s_per_trip,
        shipments_per_s=shipments,
        positions_per_s=mean_moving / ping_s,
    )
    return RatePlan(
        total=rate,
        positions=fleet.positions_per_s,
        shipments=shipments,
        deliveries=shipments,
        outputs=outputs,
        dc_loads=dc_rate,
        dc_report_ms=round(dc_report_s * 1000),
        fleet=fleet,
        consignments_per_trip=k,
        moving_s_per_shipment=per_shipment,
    )


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cycle collector while generating (the previous state is restored).

    Generation allocates several objects per record and creates no reference cycles, so
    reference counting frees everything; a collection triggered midway would only re-scan
    the long-lived fleet (~100k objects) and, every few batches, cost more than generating
    them. Producers should also ``gc.freeze()`` once after building the Simulation, which
    takes the fleet out of the collections that their own code triggers.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# Road network and route tables are pure data; build them once per process (and pack).
_trip_mix = functools.cache(TripMix.of)


class Simulation:
    """Records in ingest order. Not thread-safe; one instance per producer."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        mix = _trip_mix(config.pack)
        self.rates = plan_rates(config, mix)
        # One stream per component, seeded from the master in a fixed order, so a change in
        # how one component draws numbers leaves the others' sequences alone.
        master = random.Random(config.seed)
        rng_emit = random.Random(master.getrandbits(64))
        rng_fleet = random.Random(master.getrandbits(64))
        rng_sectors = random.Random(master.getrandbits(64))
        faults = FaultRates(config.invalid_fraction, config.late_fraction, config.future_fraction)
        self._em = Emitter(config.seed, faults, rng_emit)
        curve = freight_curve(config.pack.time_zone)
        incidents = Schedule(config.incidents) if config.incidents else None
        self._fleet = Fleet(
            mix=mix,
            plan=self.rates.fleet,
            curve=curve,
            emitter=self._em,
            rng=rng_fleet,
            seed=config.seed,
            start_ms=config.start_ms,
            incidents=incidents,
        )
        self._sectors = SectorStreams(
            outputs_per_s=self.rates.outputs,
            gdp_cny_per_day=config.gdp_cny_per_day or config.pack.sim.value_added_per_day,
            dc_interval_ms=self.rates.dc_report_ms,
            curve=curve,
            dc_curve=datacentre_curve(config.pack.time_zone),
            emitter=self._em,
            rng=rng_sectors,
            start_ms=config.start_ms,
            economy=config.pack.sim,
            incidents=incidents,
        )
        self._second = config.start_ms // 1000  # next simulated second to generate
        # Released records not yet handed out, as plain tuples (see Emitter); _pos is the
        # first one not handed out.
        self._buf: list[Pending] = []
        self._pos = 0
        self._tally = TallyCounter(faults=self._em.faulty)

    # ----------------------------------------------------------------- public API

    def advance(self, until_ms: int) -> list[SimRecord]:
        """All records with ingest_ts <= until_ms not yet returned, in ingest order."""
        last_second = until_ms // 1000
        with _cyclic_gc_paused():
            while self._second <= last_second:
                self._generate_second()
            end = bisect_right(self._buf, until_ms, lo=self._pos, key=_INGEST)
            return self._hand_out(end)

    def take(self, n: int) -> list[SimRecord]:
        """The next n records, in ingest order (advancing the simulated clock as needed)."""
        if n < 0:
            raise ValueError(f"n must be >= 0 (got {n})")
        with _cyclic_gc_paused():
            while len(self._buf) - self._pos < n:
                self._generate_second()
            return self._hand_out(self._pos + n)

    @property
    def tally(self) -> Tally:
        """Counts by kind and fault of all records returned so far."""
        return self._tally.snapshot()

    @property
    def generated_until_ms(self) -> int:
        """Every record with ingest_ts below this has been generated (returned or buffered)."""
        return self._second * 1000

    @property
    def fleet_size(self) -> int:
        return self._fleet.size

    # ----------------------------------------------------------------- internals

    def _generate_second(self) -> None:
        s = self._second
        c0 = max(s * 1000, self.config.start_ms)
        c1 = s * 1000 + 1000
        self._fleet.step(c0, c1)
        self._sectors.step(c0, c1)
        self._buf.extend(self._em.release(s))
        self._second = s + 1

    def _hand_out(self, end: int) -> list[SimRecord]:
        out = as_records(self._buf[self._pos : end])
        self._pos = end
        # Drop what was handed out once it is at least half the buffer (amortised O(1)).
        if self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._tally.add(out)
        return out
