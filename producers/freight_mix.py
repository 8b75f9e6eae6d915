"""What an area ships, from where, to where: cargo profiles and the trip mix.

A *trip* is one truck run from its home region (the origin) to a destination; it carries
one or more consignments (each one ``shipment`` event), as less-than-truckload freight does.
The weights are the region pack's (``[economy]`` of pulseboard/packs/*.toml): relative, they
encode the area's economic geography (which region is the hub, which ships what, through
which gateways exports leave).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from producers import geography as geo
from producers.geography import RoadNetwork, Route
from producers.sampling import LogUniform, Weighted
from pulseboard.packs import CargoKind, RegionPack

TRUCK_CAPACITY_KG: Final = 32_000
SHIPPERS: Final = 60  # shipper ids per (origin, cargo); a few big ones ship most


@dataclass(frozen=True, slots=True)
class CargoProfile:
    name: str
    consignments: tuple[int, int]  # per trip, inclusive range
    weight_kg: LogUniform  # per consignment
    cny_per_kg: LogUniform  # in the pack's currency (SPEC section 10: `value_cny` carries it)
    export_share: float  # of this cargo's trips
    countries: tuple[tuple[str, float], ...]  # export destinations (ISO 3166-1 alpha-2)
    heavy: bool  # heavy trucks are slower
    decay_km: float  # how fast demand falls off with distance
    local: float  # weight of deliveries inside the origin region
    dest_bias: tuple[tuple[str, float], ...]  # multipliers on destination demand


def profile(kind: CargoKind) -> CargoProfile:
    """A pack's cargo kind as the sampler uses it."""
    return CargoProfile(
        name=kind.name,
        consignments=kind.consignments,
        weight_kg=LogUniform(*kind.weight_kg),
        cny_per_kg=LogUniform(*kind.value_per_kg),
        export_share=kind.export_share,
        countries=kind.countries,
        heavy=kind.heavy,
        decay_km=kind.decay_km,
        local=kind.local,
        dest_bias=kind.dest_bias,
    )


# Average speeds over a leg (km/h), stops included: trunk roads vs. city streets.
INTERCITY_KMH: Final = (48.0, 64.0)
LOCAL_KMH: Final = (22.0, 36.0)
HEAVY_FACTOR: Final = 0.85
LOCAL_SPOKE_KM: Final = (20.0, 35.0, 50.0)
LOCAL_BEARINGS: Final = tuple(range(0, 360, 45))


class Consignment(NamedTuple):
    shipper_id: str
    weight_kg: int
    value_cny: float
    export_country: str | None


class Trip(NamedTuple):
    origin: str
    dest: str
    cargo: str
    export: bool
    outbound: Route
    inbound: Route  # the empty run home
    speed_kmh: float  # average over the leg, stops included
    consignment_count: int


def _mean_inverse_uniform(lo: float, hi: float) -> float:
    return math.log(hi / lo) / (hi - lo)


def _leg_hours(km: float, local: bool, heavy: bool) -> float:
    """Expected driving time of one leg."""
    inv_v = _mean_inverse_uniform(*(LOCAL_KMH if local else INTERCITY_KMH))
    return km * inv_v / (HEAVY_FACTOR if heavy else 1.0)


# What a trip is, before its truck and consignments: origin, cargo, destination, export?
TripKind = tuple[str, str, str, bool]


@dataclass(frozen=True, slots=True)
class TripMix:
    """Samples trips; also knows their expected length, which sizes the truck fleet.

    Trips are sampled in two ways: as they start (``sample``) and as they are seen on the
    road at a random instant (``sample(on_road=True)``), where long trips are proportionally
    more likely because they last longer. The second fills the roads at the simulation start.
    """

    kinds: Weighted[TripKind]
    kinds_on_road: Weighted[TripKind]
    # (cargo, gateway) -> export country
    country_by_cargo_gateway: dict[tuple[str, str], Weighted[str]]
    routes: dict[tuple[str, str], Route]  # (origin, dest) both ways, dest != origin
    # Per region, local delivery runs: (out from the centre, back to it).
    spokes: dict[str, tuple[tuple[Route, Route], ...]]
    shippers: dict[tuple[str, str], tuple[str, ...]]  # (origin, cargo) -> shipper ids
    cargo_by_name: dict[str, CargoProfile]
    plates: Mapping[str, str]  # region -> truck id prefix

    @staticmethod
    def of(pack: RegionPack) -> TripMix:
        economy = pack.sim
        net = RoadNetwork.of(pack)
        codes = [r.code for r in pack.regions]
        # Destinations outside the area: the road network's terminals that carry a code.
        outside = [n.name for n in economy.nodes if n.kind == "external" and ":" not in n.name]
        cargo_profiles = tuple(profile(k) for k in economy.cargo)
        cargo_by_name = {c.name: c for c in cargo_profiles}
        routes: dict[tuple[str, str], Route] = {}
        for o in codes:
            for d in [*codes, *outside]:
                if d != o and (o, d) not in routes:
                    r = net.route(o, d)
                    routes[(o, d)] = r
                    routes.setdefault((d, o), r.reversed())
        spokes = {
            o: tuple(
                (run, run.reversed())
                for run in (
                    geo.local_spoke(r, b, km) for km in LOCAL_SPOKE_KM for b in LOCAL_BEARINGS
                )
            )
            for o, r in zip(codes, pack.regions, strict=True)
        }
        local_km = sum(LOCAL_SPOKE_KM) / len(LOCAL_SPOKE_KM)

        country_choice: dict[tuple[str, str], Weighted[str]] = {}
        kinds: list[tuple[TripKind, float]] = []
        origin_total = sum(w for _, w in economy.origin_trips)
        for o, w_origin in economy.origin_trips:
            cargo_total = sum(w for _, w in economy.origin_cargo[o])
            for cargo_name, w_cargo in economy.origin_cargo[o]:
                cargo = cargo_by_name[cargo_name]
                p = w_origin / origin_total * w_cargo / cargo_total
                # Domestic destinations: demand, biased by cargo, decaying with distance.
                bias = dict(cargo.dest_bias)
                domestic = []
                for d, demand in economy.dest_demand:
                    km = local_km if d == o else routes[(o, d)].km
                    w = demand * bias.get(d, 1.0) * math.exp(-km / cargo.decay_km)
                    domestic.append((d, w * cargo.local if d == o else w))
                dom_total = sum(w for _, w in domestic)
                for d, w in domestic:
                    kinds.append(
                        ((o, cargo_name, d, False), p * (1 - cargo.export_share) * w / dom_total)
                    )
                # Exports: each country's gateway split, pooled per gateway.
                gateway_share: dict[str, float] = {}
                for gw in economy.export_gateways:
                    pairs = [
                        (country, w * dict(economy.gateway_weights(country)).get(gw, 0.0))
                        for country, w in cargo.countries
                    ]
                    if any(w > 0 for _, w in pairs):
                        country_choice[(cargo_name, gw)] = Weighted.of(pairs)
                        gateway_share[gw] = sum(w for _, w in pairs)
                total_gw = sum(gateway_share.values())
                for gw, share in gateway_share.items():
                    kinds.append(
                        ((o, cargo_name, gw, True), p * cargo.export_share * share / total_gw)
                    )

        def hours(kind: TripKind) -> float:
            o, cargo_name, d, _ = kind
            km = local_km if d == o else routes[(o, d)].km
            return _leg_hours(km, d == o, cargo_by_name[cargo_name].heavy)

        shippers = {
            (o, c.name): tuple(f"shp-{o}-{c.name[:4]}-{i:03d}" for i in range(SHIPPERS))
            for o in codes
            for c in cargo_profiles
        }
        return TripMix(
            kinds=Weighted.of(kinds),
            kinds_on_road=Weighted.of([(k, p * hours(k)) for k, p in kinds]),
            country_by_cargo_gateway=country_choice,
            routes=routes,
            spokes=spokes,
            shippers=shippers,
            cargo_by_name=cargo_by_name,
            plates=economy.truck_ids,
        )

    def sample(self, rng: random.Random, *, on_road: bool = False) -> Trip:
        random_ = rng.random
        o, cargo_name, dest, export = (self.kinds_on_road if on_road else self.kinds).pick(rng)
        cargo = self.cargo_by_name[cargo_name]
        if dest == o:
            runs = self.spokes[o]
            outbound, inbound = runs[int(random_() * len(runs))]
            lo, hi = LOCAL_KMH
        else:
            outbound, inbound = self.routes[(o, dest)], self.routes[(dest, o)]
            lo, hi = INTERCITY_KMH
        speed = lo + (hi - lo) * random_()
        if cargo.heavy:
            speed *= HEAVY_FACTOR
        k_lo, k_hi = cargo.consignments
        k = k_lo + int(random_() * (k_hi - k_lo + 1))
        return Trip(o, dest, cargo_name, export, outbound, inbound, speed, k)

    def consignments(self, rng: random.Random, trip: Trip) -> tuple[Consignment, ...]:
        """What the trip's truck loads: one consignment per ``shipment`` event."""
        random_ = rng.random
        cargo = self.cargo_by_name[trip.cargo]
        weights = [cargo.weight_kg.sample(rng) for _ in range(trip.consignment_count)]
        total = sum(weights)
        if total > TRUCK_CAPACITY_KG:  # share one truck's capacity among the consignments
            weights = [w * TRUCK_CAPACITY_KG / total for w in weights]
        countries = self.country_by_cargo_gateway[(trip.cargo, trip.dest)] if trip.export else None
        shippers = self.shippers[(trip.origin, trip.cargo)]
        out = []
        for w in weights:
            kg = max(1, round(w))
            cents = round(kg * cargo.cny_per_kg.sample(rng) * 100)
            # Big shippers dominate: index skewed towards 0.
            shipper = shippers[int(SHIPPERS * random_() ** 2)]
            country = countries.pick(rng) if countries is not None else None
            out.append(Consignment(shipper, kg, cents / 100, country))
        return tuple(out)

    def expected_trip(self) -> tuple[float, float]:
        """(mean consignments per trip, mean moving seconds per trip: out and back)."""
        e_k = 0.0
        e_s = 0.0
        for (o, cargo_name, d, _), p in self.kinds.probabilities():
            cargo = self.cargo_by_name[cargo_name]
            lo, hi = cargo.consignments
            e_k += p * (lo + hi) / 2
            if d == o:
                km = sum(out.km for out, _ in self.spokes[o]) / len(self.spokes[o])
            else:
                km = self.routes[(o, d)].km
            e_s += p * 2 * _leg_hours(km, d == o, cargo.heavy) * 3600
        return e_k, e_s
