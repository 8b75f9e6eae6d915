"""Sliding windows over per-second buckets: every indicator's running state "as of T".

``Windows`` holds, for the current ``T``, running totals for each window length (60, 300,
900 and 3600 s) and for "today", and slides them by *adding* the bucket that enters
(second ``T-1``) and *subtracting* the buckets that leave (second ``T-1-W``); nothing is
ever rescanned. For distinct trucks and latest dc readings the window keeps, per truck
(per dc), the newest in-window second it was seen in (with the reading): everything older
about it leaves the window before that second does, so when that second leaves, the truck
(the dc) has nothing left in the window and is dropped.

Every change marks ``(name, key)`` dirty, so producing a changelog costs time proportional
to what changed. Between changes the state is constant, so ``advance`` jumps straight to the
next second at which a bucket enters, a bucket leaves some window, or "today" resets:
an idle gap in event time costs O(1), not O(gap).

The same class serves the final values (fed whole, sealed buckets in order) and the
provisional ones (``add_event`` / ``add_bucket`` fold extra events into every window that
holds their second, including seconds already in the past). All money and megawatt totals are exact
ints in micro units (``buckets.micro``), converted to float only in ``value``.

What the windows keep for an hour (the buckets, the per-truck and per-dc maps) is made of
containers of atomics only, which CPython's garbage collector stops tracking: a full
collection then costs the same with full windows as with empty ones (``buckets`` module doc).
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable
from typing import Final

from consumers.buckets import ADDERS, MICRO, Bucket, Reading, TruckIds, merge_buckets
from consumers.events import DcLoad, Delivery, Output, Position, Shipment
from pulseboard.indicators import NAMES, Value
from pulseboard.localday import LocalDays
from pulseboard.packs import RegionPack

WINDOW_SECONDS: Final = (60, 300, 900, 3600)
MAX_WINDOW: Final = max(WINDOW_SECONDS)

LatestReading = tuple[int, Reading]  # (second of the bucket it came from, reading)


def _money(u: int) -> float:
    # SPEC: a sum within 1e-6 of 0 is 0 (1 micro unit is exactly 1e-6).
    if u <= 1:
        return 0.0
    try:
        return u / MICRO
    except OverflowError:  # an exact sum beyond the largest double (absurd inputs only)
        return sys.float_info.max


class Windows:
    """Running window totals as of ``T`` (see module doc)."""

    def __init__(self, pack: RegionPack, days: LocalDays | None = None) -> None:
        # The pack decides the whole-area key, which destinations are regions, which
        # sectors are digital and where "today" starts (SPEC section 10).
        self.pack = pack
        self.province = pack.province.code
        self.region_codes = pack.region_codes
        self.digital_sectors = pack.digital_sectors
        self.days = days or LocalDays(pack.time_zone)
        self.as_of: int | None = None
        # Buckets that entered and have not left the largest window, plus pending ones.
        self.store: dict[int, Bucket] = {}
        self.pending: list[int] = []  # heap of seconds >= T not entered yet
        self.inwin: dict[int, list[int]] = {w: [] for w in WINDOW_SECONDS}  # heaps
        self.today_day: int | None = None
        self.dirty: dict[str, set[str]] = {name: set() for name in NAMES}

        # Sum totals keep keys that drop back to 0: their key spaces are small and bounded
        # (regions, countries, corridors, sectors). Per-truck and per-dc maps drop keys.
        self.ship_1m: dict[str, int] = {}
        self.ship_today_n: dict[str, int] = {}
        self.ship_today_v: dict[str, int] = {}
        self.ship_w: dict[str, int] = {}
        self.ship_v: dict[str, int] = {}
        self.ship_x: dict[str, int] = {}
        self.country: dict[str, int] = {}
        self.corridor: dict[str, int] = {}
        # region (and province) -> truck -> newest in-window second with a position
        self.trucks: dict[str, dict[str, int]] = {}
        self.deliv_n: dict[str, int] = {}
        self.deliv_ok: dict[str, int] = {}
        self.deliv_s: dict[str, int] = {}
        self.sector: dict[str, int] = {}
        self.output: dict[str, int] = {}
        self.digital: dict[str, int] = {}
        # region (and province) -> dc_id -> latest reading in the 5-minute window
        self.dc_latest: dict[str, dict[str, LatestReading]] = {}
        self.dc_n: dict[str, int] = {}
        self.dc_load: dict[str, int] = {}
        self.dc_util: dict[str, int] = {}

        self._values: dict[str, Callable[[str], Value]] = {
            "shipments_1m": lambda k: self.ship_1m.get(k, 0),
            "shipments_today": lambda k: self.ship_today_n.get(k, 0),
            "tonnage_1h": lambda k: self.ship_w.get(k, 0) / 1000,
            "freight_value_1h": lambda k: _money(self.ship_v.get(k, 0)),
            "freight_value_today": lambda k: _money(self.ship_today_v.get(k, 0)),
            "export_value_1h": lambda k: _money(self.ship_x.get(k, 0)),
            "export_value_by_country_1h": lambda k: _money(self.country.get(k, 0)),
            "corridor_shipments_15m": lambda k: self.corridor.get(k, 0),
            "active_trucks_5m": lambda k: len(self.trucks.get(k, ())),
            "deliveries_1h": lambda k: self.deliv_n.get(k, 0),
            "on_time_rate_1h": self._on_time_rate,
            "avg_transit_min_1h": self._avg_transit,
            "sector_value_1h": lambda k: _money(self.sector.get(k, 0)),
            "output_value_1h": lambda k: _money(self.output.get(k, 0)),
            "digital_share_1h": self._digital_share,
            "dc_power_mw_5m": lambda k: _money(self.dc_load.get(k, 0)),
            "dc_utilization_5m": self._dc_utilization,
        }

    # ----------------------------------------------------------------- values

    def value(self, name: str, key: str) -> Value:
        """Current value of indicator ``name`` for ``key`` (SPEC section 7)."""
        return self._values[name](key)

    def value_fn(self, name: str) -> Callable[[str], Value]:
        """``value`` for one name, as a function of the key (the changelog's hot loop)."""
        return self._values[name]

    def _on_time_rate(self, key: str) -> Value:
        n = self.deliv_n.get(key, 0)
        return self.deliv_ok.get(key, 0) / n if n else None

    def _avg_transit(self, key: str) -> Value:
        n = self.deliv_n.get(key, 0)
        return self.deliv_s.get(key, 0) / (n * 60) if n else None

    def _digital_share(self, key: str) -> Value:
        total = self.output.get(key, 0)
        # Null when the sum "is 0", i.e. within 1e-6 of 0 (<= 1 micro unit).
        return self.digital.get(key, 0) / total if total > 1 else None

    def _dc_utilization(self, key: str) -> Value:
        n = self.dc_n.get(key, 0)
        return self.dc_util.get(key, 0) / (n * MICRO) if n else None

    def keys_with_values(self, name: str) -> set[str]:
        """Every key whose value may differ from absent (used to resync a changelog): the
        keys with a non-zero total behind the indicator."""
        sources: dict[str, tuple[dict, ...]] = {
            "shipments_1m": (self.ship_1m,),
            "shipments_today": (self.ship_today_n, self.ship_today_v),
            "tonnage_1h": (self.ship_w,),
            "freight_value_1h": (self.ship_v,),
            "freight_value_today": (self.ship_today_v,),
            "export_value_1h": (self.ship_x,),
            "export_value_by_country_1h": (self.country,),
            "corridor_shipments_15m": (self.corridor,),
            "active_trucks_5m": (self.trucks,),
            "deliveries_1h": (self.deliv_n,),
            "on_time_rate_1h": (self.deliv_n,),
            "avg_transit_min_1h": (self.deliv_n,),
            "sector_value_1h": (self.sector,),
            "output_value_1h": (self.output,),
            "digital_share_1h": (self.output,),
            "dc_power_mw_5m": (self.dc_n,),
            "dc_utilization_5m": (self.dc_n,),
        }
        keys: set[str] = set()
        for d in sources[name]:
            keys.update(k for k, v in d.items() if v)  # sum totals keep keys at 0
        return keys

    # ------------------------------------------------------------- time steps

    def push(self, second: int, bucket: Bucket) -> None:
        """Queue a bucket of a second not entered yet (``second >= T``). The windows own it
        from now on (and may keep it for an hour)."""
        bucket.compact()
        self.store[second] = bucket
        heapq.heappush(self.pending, second)

    def has_dirty(self) -> bool:
        return any(self.dirty.values())

    def advance(
        self, target: int, every: int = 1, emit: Callable[[int], None] | None = None
    ) -> None:
        """Move to "as of ``target``". With ``emit``, call it for every T in the emission
        schedule (multiples of ``every``) passed on the way, with the state as of that T."""
        if self.as_of is None:
            if not self.pending and emit is not None:
                return
            # As of the first bucket's own second nothing is in any window yet.
            self.as_of = min(self.pending[0], target) if self.pending else target
            self.today_day = self.days.day(self.as_of - 1)
        while self.as_of < target:
            nxt = self._next_change()
            if nxt is None or nxt > target:
                nxt = target
            if emit is not None and every > 1 and self.has_dirty():
                # The state is constant on [T, nxt): a scheduled T inside it sees it.
                m = (self.as_of // every + 1) * every
                if m < nxt:
                    emit(m)
            self._step(nxt)
            if emit is not None and nxt % every == 0:
                emit(nxt)

    def _next_change(self) -> int | None:
        best: int | None = None
        if self.pending:
            best = self.pending[0] + 1
        for w, heap in self.inwin.items():
            if heap:
                c = heap[0] + w + 1
                if best is None or c < best:
                    best = c
        if self.ship_today_n and self.today_day is not None:
            c = self.days.start(self.today_day + 1) + 1
            if best is None or c < best:
                best = c
        return best

    def _step(self, t_new: int) -> None:
        day = self.days.day(t_new - 1)
        if day != self.today_day:
            self._reset_today()
            self.today_day = day
        pending = self.pending
        while pending and pending[0] < t_new:
            s = heapq.heappop(pending)
            b = self.store[s]
            for w in WINDOW_SECONDS:
                if s >= t_new - w:
                    self._enter(w, s, b)
                    heapq.heappush(self.inwin[w], s)
            if self.days.day(s) == day:
                self._today(b)
        for w, heap in self.inwin.items():
            while heap and heap[0] < t_new - w:
                s = heapq.heappop(heap)
                self._leave(w, s, self.store[s])
                if w == MAX_WINDOW:
                    del self.store[s]
        self.as_of = t_new

    # ----------------------------------------------------- window bookkeeping

    def _enter(self, w: int, s: int, b: Bucket) -> None:
        if w == 60:
            self._sums_60(b, 1)
        elif w == 300:
            self._trucks_enter(s, b.trucks)
            self._dc_enter(s, b)
        elif w == 900:
            self._sums_900(b, 1)
        else:
            self._sums_3600(b, 1)

    def _leave(self, w: int, s: int, b: Bucket) -> None:
        if w == 60:
            self._sums_60(b, -1)
        elif w == 300:
            self._trucks_leave(s, b.trucks)
            self._dc_leave(s, b)
            # Only the 5-minute window reads these; free them for the rest of the hour.
            b.trucks = {}
            b.dc = {}
        elif w == 900:
            self._sums_900(b, -1)
        else:
            self._sums_3600(b, -1)

    def _sums_60(self, b: Bucket, sign: int) -> None:
        dirty = self.dirty["shipments_1m"]
        for origin, row in b.ship.items():
            self.ship_1m[origin] = self.ship_1m.get(origin, 0) + sign * row[0]
            self.ship_1m[self.province] = self.ship_1m.get(self.province, 0) + sign * row[0]
            dirty.add(origin)
            dirty.add(self.province)

    def _sums_900(self, b: Bucket, sign: int) -> None:
        dirty = self.dirty["corridor_shipments_15m"]
        for pair, n in b.corridor.items():
            self.corridor[pair] = self.corridor.get(pair, 0) + sign * n
            dirty.add(pair)

    def _sums_3600(self, b: Bucket, sign: int) -> None:
        d = self.dirty
        for origin, (_, weight, value, export) in b.ship.items():
            for key in (origin, self.province):
                self.ship_w[key] = self.ship_w.get(key, 0) + sign * weight
                self.ship_v[key] = self.ship_v.get(key, 0) + sign * value
                self.ship_x[key] = self.ship_x.get(key, 0) + sign * export
                d["tonnage_1h"].add(key)
                d["freight_value_1h"].add(key)
                d["export_value_1h"].add(key)
        for country, value in b.country.items():
            self.country[country] = self.country.get(country, 0) + sign * value
            d["export_value_by_country_1h"].add(country)
        for dest, (n, ok, transit) in b.deliv.items():
            for key in (dest, self.province) if dest in self.region_codes else (self.province,):
                self.deliv_n[key] = self.deliv_n.get(key, 0) + sign * n
                self.deliv_ok[key] = self.deliv_ok.get(key, 0) + sign * ok
                self.deliv_s[key] = self.deliv_s.get(key, 0) + sign * transit
                d["deliveries_1h"].add(key)
                d["on_time_rate_1h"].add(key)
                d["avg_transit_min_1h"].add(key)
        for (region, sector), value in b.output.items():
            digital = sector in self.digital_sectors
            for key in (region, self.province):
                sector_key = key + "|" + sector
                self.sector[sector_key] = self.sector.get(sector_key, 0) + sign * value
                self.output[key] = self.output.get(key, 0) + sign * value
                d["sector_value_1h"].add(sector_key)
                d["output_value_1h"].add(key)
                d["digital_share_1h"].add(key)
                if digital:
                    self.digital[key] = self.digital.get(key, 0) + sign * value

    def _today(self, b: Bucket) -> None:
        d_n = self.dirty["shipments_today"]
        d_v = self.dirty["freight_value_today"]
        for origin, row in b.ship.items():
            for key in (origin, self.province):
                self.ship_today_n[key] = self.ship_today_n.get(key, 0) + row[0]
                self.ship_today_v[key] = self.ship_today_v.get(key, 0) + row[2]
                d_n.add(key)
                d_v.add(key)

    def _reset_today(self) -> None:
        self.dirty["shipments_today"].update(self.ship_today_n)
        self.dirty["freight_value_today"].update(self.ship_today_v)
        self.ship_today_n.clear()
        self.ship_today_v.clear()

    def _trucks_enter(self, s: int, trucks: dict[str, TruckIds]) -> None:
        """Bucket ``s`` is the newest in the window: it is every one of its trucks' newest."""
        if not trucks:
            return
        dirty = self.dirty["active_trucks_5m"]
        province = self.trucks.get(self.province)
        if province is None:
            province = self.trucks[self.province] = {}
        for region, ids in trucks.items():
            seen = dict.fromkeys(ids, s)
            last = self.trucks.get(region)
            if last is None:
                self.trucks[region] = seen
            else:
                last.update(seen)
            province.update(seen)
            dirty.add(region)
        dirty.add(self.province)

    def _trucks_leave(self, s: int, trucks: dict[str, TruckIds]) -> None:
        dirty = self.dirty["active_trucks_5m"]
        for region, ids in trucks.items():
            for key in (region, self.province):
                last = self.trucks.get(key)
                if last is None:
                    continue
                for truck in ids:
                    if last.get(truck) == s:
                        del last[truck]
                if not last:
                    del self.trucks[key]
                dirty.add(key)

    def _offer_truck(self, key: str, truck: str, s: int) -> None:
        last = self.trucks.get(key)
        if last is None:
            last = self.trucks[key] = {}
        old = last.get(truck)
        if old is None or old < s:
            last[truck] = s
            self.dirty["active_trucks_5m"].add(key)

    def _dc_enter(self, s: int, b: Bucket) -> None:
        province_best: dict[str, Reading] = {}
        for (region, dc), reading in b.dc.items():
            self._offer_dc(region, dc, s, reading)
            best = province_best.get(dc)
            if best is None or reading > best:
                province_best[dc] = reading
        for dc, reading in province_best.items():
            self._offer_dc(self.province, dc, s, reading)

    def _offer_dc(self, key: str, dc: str, s: int, reading: Reading) -> None:
        """Make (s, reading) the latest reading of ``dc`` under ``key`` if it is newer."""
        latest = self.dc_latest.get(key)
        if latest is None:
            latest = self.dc_latest[key] = {}
        new = (s, reading)
        old = latest.get(dc)
        if old is not None:
            if old >= new:
                return
            self._dc_sums(key, old[1], -1)
        latest[dc] = new
        self._dc_sums(key, reading, 1)

    def _dc_leave(self, s: int, b: Bucket) -> None:
        dcs: set[str] = set()
        for region, dc in b.dc:
            self._drop_dc_if_from(region, dc, s)
            dcs.add(dc)
        for dc in dcs:
            self._drop_dc_if_from(self.province, dc, s)

    def _drop_dc_if_from(self, key: str, dc: str, s: int) -> None:
        latest = self.dc_latest.get(key)
        old = latest.get(dc) if latest is not None else None
        if old is None or old[0] != s:
            return  # a newer bucket holds this dc's latest reading
        del latest[dc]  # type: ignore[union-attr]
        if not latest:
            del self.dc_latest[key]
        self._dc_sums(key, old[1], -1)

    def _dc_sums(self, key: str, reading: Reading, sign: int) -> None:
        self.dc_n[key] = self.dc_n.get(key, 0) + sign
        self.dc_load[key] = self.dc_load.get(key, 0) + sign * reading[2]
        self.dc_util[key] = self.dc_util.get(key, 0) + sign * reading[3]
        self.dirty["dc_power_mw_5m"].add(key)
        self.dirty["dc_utilization_5m"].add(key)

    # -------------------------------------------------- provisional (live) path

    def add_event(self, s: int, ev: Shipment | Position | Delivery | Output | DcLoad) -> None:
        """Fold one counted event of second ``s`` into the state as of ``as_of``."""
        if self.as_of is None or s >= self.as_of:
            b = self.store.get(s)
            if b is None:
                b = Bucket()
                self.push(s, b)
            ADDERS[type(ev)](b, ev)  # not entered yet: just collect it
            return
        one = Bucket()
        ADDERS[type(ev)](one, ev)
        self.add_bucket(s, one)

    def add_bucket(self, s: int, d: Bucket) -> None:
        """Fold the events of ``d`` (all of second ``s``) into the state as of ``as_of``;
        ``d`` is neither kept nor changed.

        Seconds not entered yet just collect them; a second inside some window updates that
        window's totals now, and the bucket kept for the second (in ``store``) absorbs them, so
        that when the second leaves a window exactly what came in is subtracted."""
        if self.as_of is None or s >= self.as_of:
            b = self.store.get(s)
            if b is None:
                b = Bucket()
                self.push(s, b)
            b.merge_from(d)
            return
        t = self.as_of
        if s < t - MAX_WINDOW:
            # Outside every sliding window; its shipments can still belong to "today".
            if d.ship and self.days.day(s) == self.today_day:
                self._today(d)
            return
        b = self.store.get(s)
        if b is None:
            b = self.store[s] = Bucket()
            for w in WINDOW_SECONDS:
                if s >= t - w:
                    heapq.heappush(self.inwin[w], s)
        if s >= t - 300:
            for region, ids in d.trucks.items():
                for truck in ids:
                    self._offer_truck(region, truck, s)
                    self._offer_truck(self.province, truck, s)
            for (region, dc), reading in d.dc.items():
                old = b.dc.get((region, dc))
                if old is None or reading > old:  # else the window already has better
                    self._offer_dc(region, dc, s, reading)
                    self._offer_dc(self.province, dc, s, reading)
        if s >= t - 60:
            self._sums_60(d, 1)
        if s >= t - 900:
            self._sums_900(d, 1)
        self._sums_3600(d, 1)
        if self.days.day(s) == self.today_day:
            self._today(d)
        b.merge_from(d)

    def clone(self) -> Windows:
        """An independent deep copy (buckets too: leaving a window trims them)."""
        c = Windows(self.pack, self.days)
        c.as_of = self.as_of
        c.store = {s: merge_buckets([b]) for s, b in self.store.items()}
        c.pending = list(self.pending)
        c.inwin = {w: list(h) for w, h in self.inwin.items()}
        c.today_day = self.today_day
        for attr in (
            "ship_1m",
            "ship_today_n",
            "ship_today_v",
            "ship_w",
            "ship_v",
            "ship_x",
            "country",
            "corridor",
            "deliv_n",
            "deliv_ok",
            "deliv_s",
            "sector",
            "output",
            "digital",
            "dc_n",
            "dc_load",
            "dc_util",
        ):
            setattr(c, attr, dict(getattr(self, attr)))
        c.trucks = {k: dict(v) for k, v in self.trucks.items()}
        c.dc_latest = {k: dict(v) for k, v in self.dc_latest.items()}
        return c
