"""The truck fleet: trips, position reports, deliveries, and the dispatcher that keeps the
number of trucks on the road in step with the time of day.

Life of a truck: parked at its home region -> takes a trip (one ``shipment`` event per
consignment) -> drives the route, reporting a ``position`` every ``ping_s`` seconds ->
arrives (one ``delivery`` per consignment) -> unloads -> drives home empty (``loaded``
false) -> parked.

Trips leave on a schedule that follows the daily curve. The dispatcher keeps the number of
trucks *moving* equal to what the curve asks for: when the curve falls (midday, evening)
the next trucks to report stop for a break (engine off, no reports), and when it rises they
resume, longest-resting first; if none are resting, extra trips leave. Breaks count into the
transit time, one reason night and long-haul deliveries are late more often.

Cost model: a moving truck sits in one of ``ping_s`` phase buckets (its reporting second
modulo ``ping_s``) and is visited once per period with no rescheduling; the rare actions
(first report of a leg, arrival, end of unloading) go through a per-second event calendar.
"""

from __future__ import annotations

import functools
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Final

import orjson

from producers.emitter import INGEST_RING, Emitter
from producers.freight_mix import Consignment, Trip, TripMix
from producers.geography import Route
from producers.incidents import Schedule, copies
from producers.rhythm import DailyCurve
from pulseboard import spec

TOPIC: Final = spec.TOPIC_FREIGHT
CALENDAR: Final = 8192  # seconds; longer than any gap between two events of one truck

# Truck states.
IDLE: Final = 0
LOADED: Final = 1
EMPTY: Final = 2
UNLOADING: Final = 3
RESTING: Final = 4

# Share of trips that leave on a schedule following the daily curve; the rest are extra
# departures when the curve rises faster than resting trucks can resume. Must be < 1: the
# road only has room for (trucks on the road) / (driving time per trip) trips a day.
SCHEDULED_SHARE: Final = 0.9

# Trucks already on a break when the simulation starts stopped up to this long before.
MAX_WARM_BREAK_MS: Final = 6 * 3_600_000

# After the last consignment is handed over: paperwork, cleaning, waiting for a gate slot.
UNLOAD_MS: Final = (300_000, 1_500_000)
# Mean time from arrival to driving home: the above plus handing over ~6 consignments.
MEAN_UNLOAD_MS: Final = (UNLOAD_MS[0] + UNLOAD_MS[1]) // 2 + 6 * 35_000
LOADING_GAP_MS: Final = (2_000, 20_000)  # between waybill scans while loading
HANDOVER_GAP_MS: Final = (10_000, 60_000)  # between consignments handed over


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """How big the fleet is and how often trucks report, derived from the target rates."""

    mean_moving: float  # trucks on the road, averaged over a day
    ping_s: int  # each moving truck reports its position this often
    moving_s_per_trip: float  # driving time of a trip, out and back
    shipments_per_s: float  # daily mean (deliveries equal it in the long run)
    positions_per_s: float


class _Truck:
    __slots__ = (
        "arrive",
        "dest",
        "fragments",
        "home",
        "in_bucket",
        "inbound",
        "key",
        "kmpms",
        "leg_km",
        "leg_start",
        "offset",
        "preloaded",
        "rest_from",
        "rested_ms",
        "resume_state",
        "shipments",
        "speed_kmh",
        "speeds",
        "state",
        "tail",
        "tid",
        "tnext",
    )

    def __init__(self, tid: str, home: str) -> None:
        self.tid = tid
        self.key = tid.encode()  # also the truck_id inside position records
        self.home = home
        self.state = IDLE
        self.tnext = 0  # time of the next calendar event
        self.arrive = 0  # end of the current leg (or of unloading)
        self.leg_start = 0  # shifted by breaks, so progress = (t - leg_start) * kmpms
        self.kmpms = 0.0
        self.fragments: tuple[bytes, ...] = ()  # the current leg's preformatted points
        self.speeds: tuple[bytes, ...] = ()
        self.tail = b"false}"
        self.offset = 0  # ms within its reporting second
        self.in_bucket = False
        self.inbound: Route | None = None  # the way home, once unloaded
        self.leg_km = 0.0  # length of the loaded leg
        self.speed_kmh = 0.0  # average speed on the loaded leg
        self.dest = home
        self.shipments: tuple[tuple[str, int], ...] = ()  # (shipment_id, shipment ts)
        # Consignments loaded before the simulation began, at shipments[0][1] onwards; their
        # ids are drawn at delivery (cheaper warm start, same determinism).
        self.preloaded = 0
        self.rest_from = 0
        self.rested_ms = 0
        self.resume_state = IDLE


@functools.cache  # fixed data (its own seed); each simulation draws from it with its rng
def speed_tables() -> tuple[tuple[bytes, ...], ...]:
    """For each average leg speed (km/h, index), 256 plausible instantaneous readings,
    preformatted as JSON numbers (orjson's float format: shortest repr).

    About 6% are 0 (toll gates, lights, queues); the rest spread around the average, never
    above 98 km/h (trucks are limited to 100 km/h on expressways).
    """
    rng = random.Random("pulseboard speed readings")
    tables = []
    for base in range(101):
        values = []
        for _ in range(256):
            if rng.random() < 0.06:
                values.append(b"0.0")
            else:
                v = base * rng.uniform(0.6, 1.4)
                values.append(b"%r" % (min(980, round(v * 10)) / 10))
        tables.append(tuple(values))
    return tuple(tables)


def resting_share(curve: DailyCurve, moving_s_per_trip: float, t_ms: int) -> float:
    """Trucks on a break at ``t_ms`` per average moving truck, in the daily steady state.

    A fluid version of the dispatcher: trips leave on schedule and finish at rate
    moving / (driving time per trip); trucks on the road beyond the curve's demand are on a
    break, and a shortfall is made up by extra departures. Iterated over a few days (one-
    minute steps) from the moment it should report, so the daily cycle has settled.
    """
    step_s = 60.0
    scheduled_per_s = SCHEDULED_SHARE / moving_s_per_trip  # per average moving truck
    en_route = curve.at(t_ms)
    days = 3
    steps = days * 1440
    for i in range(steps + 1):
        g = curve.at(t_ms - (steps - i) * 60_000)
        en_route = max(g, en_route + (scheduled_per_s * g - g / moving_s_per_trip) * step_s)
    return en_route - curve.at(t_ms)


class Fleet:
    def __init__(
        self,
        *,
        mix: TripMix,
        plan: FleetPlan,
        curve: DailyCurve,
        emitter: Emitter,
        rng: random.Random,
        seed: int,
        start_ms: int,
        incidents: Schedule | None = None,
    ) -> None:
        self._mix = mix
        self._incidents = incidents
        self._held: set[bytes] = set()  # trucks that already waited out a closure
        self._plan = plan
        self._curve = curve
        self._em = emitter
        self._rng = rng
        self._ping_s = plan.ping_s
        self._ping_ms = plan.ping_s * 1000
        self._buckets: list[list[_Truck]] = [[] for _ in range(plan.ping_s)]
        self._events: list[list[_Truck]] = [[] for _ in range(CALENDAR)]
        # The second being generated; before the first one, the one before it.
        self._now_s = start_ms // 1000 - 1
        self._idle: dict[str, list[_Truck]] = {code: [] for code in mix.spokes}
        self._resting: deque[_Truck] = deque()
        self._serial: dict[str, int] = dict.fromkeys(mix.plates, 0)
        self._shipment_prefix = f"s-{seed}-"
        self._shipments = 0
        self._trucks = 0
        self.moving = 0
        self._rest_quota = 0
        self._departure_credit = 0.0
        self._scheduled_trips_per_ms = (
            SCHEDULED_SHARE * plan.mean_moving / plan.moving_s_per_trip / 1000
        )
        self._speeds = speed_tables()
        # Position records are assembled from preformatted pieces: byte-identical to
        # orjson.dumps of the event dict, at a fraction of the cost (positions are ~80% of
        # all records). Ids are "<prefix><n>" like every other event's.
        self._position_format = (
            b'{"v":1,"id":"%b%%d","type":"position","ts":%%d,"truck_id":"%%b",%%b,'
            b'"speed_kmh":%%b,"loaded":%%b' % emitter.id_prefix.encode()
        )
        self._warm_start(start_ms)

    # ----------------------------------------------------------------- bookkeeping

    @property
    def size(self) -> int:
        """Trucks that exist (moving, unloading, resting or parked)."""
        return self._trucks

    def _new_truck(self, home: str) -> _Truck:
        self._serial[home] += 1
        self._trucks += 1
        # Plate-style truck ids: the pack's prefix for the home region, then a serial.
        return _Truck(f"{self._mix.plates[home]}{self._serial[home]:05d}", home)

    def _at(self, tr: _Truck, t: int) -> None:
        """Calendar ``tr``'s next event (first report of a leg, arrival, end of unloading)."""
        tr.tnext = t
        self._events[(t // 1000) % CALENDAR].append(tr)

    def _report_from(self, tr: _Truck, t: int) -> None:
        """Start reporting at a random phase after ``t``, or just arrive if the leg ends first.

        A uniform phase makes every leg yield (duration / ping) reports on average.
        """
        first = t + int(self._rng.random() * self._ping_ms)
        if first >= tr.arrive:
            self._at(tr, tr.arrive)
            return
        # The phase bucket for ``first`` is next visited exactly in ``first``'s second when
        # that second is ahead of the one being generated and less than a period away; then
        # the truck joins it directly. Otherwise its first report goes via the calendar.
        ahead = first // 1000 - self._now_s
        if 0 < ahead < self._ping_s:
            tr.offset = first % 1000
            tr.in_bucket = True
            self._buckets[(first // 1000) % self._ping_s].append(tr)
        else:
            self._at(tr, first)

    def _start_leg(self, tr: _Truck, t: int, route: Route, loaded: bool, speed_kmh: float) -> None:
        tr.state = LOADED if loaded else EMPTY
        tr.tail = b"true}" if loaded else b"false}"
        tr.fragments = route.fragments
        tr.kmpms = speed_kmh / 3_600_000
        tr.speeds = self._speeds[min(100, int(speed_kmh))]
        tr.leg_start = t
        tr.arrive = t + int(route.km / tr.kmpms)
        self.moving += 1

    def _next_shipment_id(self) -> str:
        self._shipments += 1
        return f"{self._shipment_prefix}{self._shipments}"

    # ----------------------------------------------------------------- trips

    def _dispatch(self, t: int) -> None:
        """A truck at the trip's origin takes the consignments and sets off."""
        rng, em = self._rng, self._em
        trip = self._mix.sample(rng)
        if self._incidents is not None:
            trip = self._open_trip(trip, t)
        idle = self._idle[trip.origin]
        tr = idle.pop() if idle else self._new_truck(trip.origin)
        self._assign(tr, trip)
        shipments = []
        ts = t
        lo, hi = LOADING_GAP_MS
        consignments = self._mix.consignments(rng, trip)
        if self._incidents is not None:
            consignments = self._ordered(consignments, t)
        for c in consignments:
            sid = self._next_shipment_id()
            em.emit(
                ts,
                TOPIC,
                tr.key,
                "shipment",
                {
                    "v": 1,
                    "id": em.next_id(),
                    "type": "shipment",
                    "ts": ts,
                    "truck_id": tr.tid,
                    "shipment_id": sid,
                    "shipper_id": c.shipper_id,
                    "origin": trip.origin,
                    "dest": trip.dest,
                    "cargo": trip.cargo,
                    "weight_kg": c.weight_kg,
                    "value_cny": c.value_cny,
                    "export_country": c.export_country,
                },
            )
            shipments.append((sid, ts))
            ts += lo + int(rng.random() * (hi - lo))
        tr.shipments = tuple(shipments)
        self._start_leg(tr, ts, trip.outbound, True, trip.speed_kmh)
        self._report_from(tr, ts)

    def _assign(self, tr: _Truck, trip: Trip) -> None:
        # Keep only what the rest of the trip needs (trucks live long; trips are many).
        tr.dest = trip.dest
        tr.inbound = trip.inbound
        tr.leg_km = trip.outbound.km
        tr.speed_kmh = trip.speed_kmh
        tr.rested_ms = 0

    def _on_event(self, tr: _Truck, t: int) -> None:
        state = tr.state
        if t < tr.arrive:  # first report of a leg: report, then join a phase bucket
            self._report(tr, t)
            if t + self._ping_ms >= tr.arrive:  # short leg: that was the only report
                self._at(tr, tr.arrive)
            else:
                tr.offset = t % 1000
                tr.in_bucket = True
                self._buckets[(t // 1000) % self._ping_s].append(tr)
        elif state == LOADED:
            if self._incidents is not None and self._held_at_closure(tr, t):
                return
            self._deliver(tr, t)
        elif state == UNLOADING:  # unloaded: drive home empty
            assert tr.inbound is not None
            self._start_leg(tr, t, tr.inbound, False, min(100.0, tr.speed_kmh * 1.05))
            self._report_from(tr, t)
        elif state == EMPTY:  # back home
            tr.state = IDLE
            tr.inbound = None
            self.moving -= 1
            self._idle[tr.home].append(tr)

    def _report(self, tr: _Truck, t: int) -> None:
        """One position report outside the hot loop (same bytes as the loop's)."""
        em = self._em
        rng = self._rng
        value = self._position_format % (
            next(em.ids),
            t,
            tr.key,
            tr.fragments[int((t - tr.leg_start) * tr.kmpms)],
            tr.speeds[rng.getrandbits(8)],
            tr.tail,
        )
        em.emit_encoded(t, TOPIC, tr.key, "position", value)

    def _deliver(self, tr: _Truck, t: int) -> None:
        rng, em = self._rng, self._em
        self.moving -= 1
        # Punctuality: good on short daytime runs, worse on long hauls, at night, and after
        # the truck had to stop for a break.
        p_on_time = 0.965 - 0.12 * min(1.0, tr.leg_km / 1000)
        hour = self._curve.hour(t)
        if hour < 6 or hour >= 22:
            p_on_time -= 0.06
        if tr.rested_ms:
            p_on_time -= 0.15
        if tr.preloaded:
            first = tr.shipments[0][1]
            tr.shipments = tuple(
                (self._next_shipment_id(), first + i * 10_000) for i in range(tr.preloaded)
            )
            tr.preloaded = 0
        ts = t
        lo, hi = HANDOVER_GAP_MS
        for sid, shipped in tr.shipments:
            em.emit(
                ts,
                TOPIC,
                tr.key,
                "delivery",
                {
                    "v": 1,
                    "id": em.next_id(),
                    "type": "delivery",
                    "ts": ts,
                    "truck_id": tr.tid,
                    "shipment_id": sid,
                    "dest": tr.dest,
                    "on_time": rng.random() < p_on_time,
                    "transit_s": (ts - shipped) // 1000,
                },
            )
            ts += lo + int(rng.random() * (hi - lo))
        tr.shipments = ()
        tr.state = UNLOADING
        tr.arrive = ts + UNLOAD_MS[0] + int(rng.random() * (UNLOAD_MS[1] - UNLOAD_MS[0]))
        self._at(tr, tr.arrive)

    # ----------------------------------------------------------------- warm start

    def _warm_start(self, t0: int) -> None:
        """Put the fleet on the road as it would be at ``t0`` so the first simulated hours
        look like any other (no burst of departures): trucks mid-trip, sampled as a snapshot
        of the road would show them, trucks on a break (waiting for the curve to rise
        again), and trucks unloading at their destinations."""
        rng = self._rng
        plan = self._plan
        target = round(plan.mean_moving * self._curve.at(t0))
        on_break = round(plan.mean_moving * resting_share(self._curve, plan.moving_s_per_trip, t0))
        for i in range(target + on_break):
            trip = self._mix.sample(rng, on_road=True)
            tr = self._new_truck(trip.origin)
            self._assign(tr, trip)
            loaded = rng.random() < 0.5
            speed = trip.speed_kmh if loaded else min(100.0, trip.speed_kmh * 1.05)
            route = trip.outbound if loaded else trip.inbound
            duration = int(route.km / (speed / 3_600_000))
            # Breaks began some time in the last few hours, longest ago first in the queue.
            stopped = t0 - int((1 - i / (target + on_break)) * MAX_WARM_BREAK_MS)
            start = (t0 if i < target else stopped) - int(rng.random() * duration)
            self._start_leg(tr, start, route, loaded, speed)
            if loaded:
                # The consignments were picked up before the simulation began; they still
                # get delivered (a consumer sees a delivery without its shipment).
                tr.preloaded = trip.consignment_count
                tr.shipments = (("", start - tr.preloaded * 10_000),)
            if i < target:
                self._report_from(tr, t0)
            else:
                self._start_rest(tr, stopped)
        # Trucks unloading: trips end at target / (moving seconds per trip) per second, and
        # each spends MEAN_UNLOAD_MS at the destination. Their remaining stays are those of a
        # snapshot (long stays more likely to be caught, then a uniform point within), so
        # trucks keep leaving at the steady rate until new arrivals take over.
        unloading = round(target * MEAN_UNLOAD_MS / 1000 / plan.moving_s_per_trip)
        spread = MEAN_UNLOAD_MS - (UNLOAD_MS[0] + UNLOAD_MS[1]) // 2
        lo, hi = UNLOAD_MS[0] + spread, UNLOAD_MS[1] + spread
        for _ in range(unloading):
            trip = self._mix.sample(rng)
            tr = self._new_truck(trip.origin)
            self._assign(tr, trip)
            tr.state = UNLOADING
            stay = math.sqrt(lo * lo + rng.random() * (hi * hi - lo * lo))
            tr.arrive = t0 + int(rng.random() * stay)
            self._at(tr, tr.arrive)

    # ----------------------------------------------------------------- one second

    def step(self, c0: int, c1: int) -> None:
        """Emit every truck event with true time in [c0, c1), a span within one second."""
        second = c0 // 1000
        self._now_s = second
        self._control(c0, c1)
        self._reports(second)
        # Events last: reports above may have put arrivals into this very second, and an
        # event may add another one for later in it (the list iterator picks those up).
        slot_i = second % CALENDAR
        slot = self._events[slot_i]
        if slot:
            for tr in slot:
                self._on_event(tr, tr.tnext)
            self._events[slot_i] = []

    def _reports(self, second: int) -> None:
        """The hot loop: every truck in this second's phase bucket reports its position."""
        bucket = self._buckets[second % self._ping_s]
        if not bucket:
            return
        em = self._em
        getrandbits = self._rng.getrandbits
        random_ = em.rng.random
        ring = em.ring
        delays = em.delays
        ids = em.ids
        faulty = em.faulty
        fault_total = em.fault_total
        fmt = self._position_format
        ping = self._ping_ms
        resting = self._rest_quota > 0
        base = second * 1000
        leaving = 0
        for tr in bucket:
            t = base + tr.offset
            bits = getrandbits(24)
            value = fmt % (
                next(ids),
                t,
                tr.key,
                tr.fragments[int((t - tr.leg_start) * tr.kmpms)],
                b"0.0" if resting else tr.speeds[bits & 255],
                tr.tail,
            )
            if faulty and (u := random_()) < fault_total:
                em.emit_fault(u, t, TOPIC, tr.key, "position", orjson.loads(value))
            else:  # Emitter.emit_encoded, inlined: nearly all records come from here
                ingest = t + delays[bits >> 8]
                ring[(ingest // 1000) % INGEST_RING].append(
                    (ingest, TOPIC, tr.key, value, "position", "")
                )
            if resting:  # this report was the one with the engine off
                tr.in_bucket = False
                leaving += 1
                self._start_rest(tr, t)
                resting = self._rest_quota > 0
            elif t + ping >= tr.arrive:  # last report of this leg
                tr.in_bucket = False
                leaving += 1
                self._at(tr, tr.arrive)
        if leaving:
            self._buckets[second % self._ping_s] = [tr for tr in bucket if tr.in_bucket]

    # ----------------------------------------------------------------- the dispatcher

    def _control(self, c0: int, c1: int) -> None:
        rng = self._rng
        curve_now = self._curve.at(c0)
        target = self._plan.mean_moving * curve_now
        # Scheduled departures follow the daily curve; spread evenly, fractions carried over.
        self._departure_credit += self._scheduled_trips_per_ms * curve_now * (c1 - c0)
        departures = int(self._departure_credit)
        self._departure_credit -= departures
        need = target - self.moving - departures
        # More trucks are needed on the road: first those resting, then extra departures
        # (rising edges of the curve). Fewer: the next trucks to report stop for a break.
        # Either way the moving count stays within about one truck of the target.
        resumes = 0
        self._rest_quota = 0
        if need >= 1:
            resumes = min(int(need), len(self._resting))
            departures += int(need) - resumes
        elif need < -1:
            self._rest_quota = int(-need)
        span = c1 - c0
        for _ in range(resumes):
            self._resume(self._resting.popleft(), c0 + int(rng.random() * span))
        for _ in range(departures):
            self._dispatch(c0 + int(rng.random() * span))

    def _start_rest(self, tr: _Truck, t: int) -> None:
        self._rest_quota = max(0, self._rest_quota - 1)
        self.moving -= 1
        tr.resume_state = tr.state
        tr.state = RESTING
        tr.rest_from = t
        self._resting.append(tr)

    def _resume(self, tr: _Truck, t: int) -> None:
        shift = t - tr.rest_from
        tr.leg_start += shift
        tr.arrive += shift
        tr.rested_ms += shift
        tr.state = tr.resume_state
        self.moving += 1
        # The break began with a report (speed 0); the next comes at a random phase, as
        # after any departure, so breaks do not add reports on average.
        self._report_from(tr, t)

    # ----------------------------------------------------------------- incidents

    def _open_trip(self, trip: Trip, t: int) -> Trip:
        """A trip that does not set off on a closed corridor: shippers on it hold their
        loads, and the truck takes the next load on offer instead."""
        assert self._incidents is not None
        for _ in range(100):
            if not self._incidents.closed(trip.origin, trip.dest, t):
                break
            trip = self._mix.sample(self._rng)
        return trip

    def _ordered(self, consignments: tuple[Consignment, ...], t: int) -> list[Consignment]:
        """The consignments actually ordered when a country's demand is off its usual."""
        assert self._incidents is not None
        out: list[Consignment] = []
        for c in consignments:
            if c.export_country is None:
                out.append(c)
                continue
            factor = self._incidents.export_factor(c.export_country, t)
            n = 1 if factor == 1.0 else copies(factor, self._rng.random())
            out.extend([c] * n)
        return out

    def _held_at_closure(self, tr: _Truck, t: int) -> bool:
        """A loaded truck whose corridor closed under it waits, engine off, until it opens:
        its arrival moves by the wait, which counts as a break (late more often)."""
        assert self._incidents is not None
        if tr.key in self._held:  # the road is open again: on to the delivery
            self._held.discard(tr.key)
            self.moving += 1
            return False
        held = self._incidents.held_ms(tr.home, tr.dest, tr.leg_start, t)
        if held <= 0:
            return False
        self._held.add(tr.key)
        self.moving -= 1  # the dispatcher counts it off the road while it waits
        tr.arrive = t + held
        tr.rested_ms += held
        self._at(tr, tr.arrive)
        return True
