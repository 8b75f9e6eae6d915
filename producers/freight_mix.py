"""What Guizhou ships, from where, to where: cargo profiles and the trip mix.

A *trip* is one truck run from its home prefecture (the origin) to a destination; it carries
one or more consignments (each one ``shipment`` event), as less-than-truckload freight does.
Weights are relative; they encode the province's economic geography: Guiyang is the hub,
Zunyi ships liquor (Maotai, Renhuai), Liupanshui and Bijie ship coal, Qiandongnan, Tongren,
Qiannan and Meitan (Zunyi) ship tea, Guiyang/Gui'an ships electronics, and export cargo goes to
the Beibu Gulf ports (CN-GX), Guangzhou/Shenzhen (CN-GD) or China–Europe rail (CN-CQ).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final, NamedTuple

from producers import geography as geo
from producers.geography import RoadNetwork, Route
from producers.sampling import LogUniform, Weighted
from pulseboard import spec

GY, LPS, ZY, AS, BJ = geo.GUIYANG, geo.LIUPANSHUI, geo.ZUNYI, geo.ANSHUN, geo.BIJIE
TR, QXN, QDN, QN = geo.TONGREN, geo.QIANXINAN, geo.QIANDONGNAN, geo.QIANNAN
CQ, GD, GX, SC, YN, HN = (
    geo.CHONGQING,
    geo.GUANGDONG,
    geo.GUANGXI,
    geo.SICHUAN,
    geo.YUNNAN,
    geo.HUNAN,
)

TRUCK_CAPACITY_KG: Final = 32_000
SHIPPERS: Final = 60  # shipper ids per (origin, cargo); a few big ones ship most


@dataclass(frozen=True, slots=True)
class CargoProfile:
    name: str
    consignments: tuple[int, int]  # per trip, inclusive range
    weight_kg: LogUniform  # per consignment
    cny_per_kg: LogUniform
    export_share: float  # of this cargo's trips
    countries: tuple[tuple[str, float], ...]  # export destinations (ISO 3166-1 alpha-2)
    heavy: bool  # heavy trucks climb Guizhou's grades slowly
    decay_km: float  # how fast demand falls off with distance
    local: float  # weight of deliveries inside the origin prefecture
    dest_bias: tuple[tuple[str, float], ...]  # multipliers on destination demand


def _weights(text: str) -> tuple[tuple[str, float], ...]:
    """ "VN 20 DE 15" -> (("VN", 20.0), ("DE", 15.0)): keeps the tables below readable."""
    words = text.split()
    return tuple((words[i], float(words[i + 1])) for i in range(0, len(words), 2))


CARGO_PROFILES: Final[tuple[CargoProfile, ...]] = (
    CargoProfile(
        name="electronics",  # servers and phones from Gui'an, components
        consignments=(3, 14),
        weight_kg=LogUniform(80, 4000),
        cny_per_kg=LogUniform(120, 1500),
        export_share=0.30,
        countries=_weights("VN 20 DE 15 US 15 JP 10 KR 10 NL 8 MY 7 SG 5 IN 5 MX 5"),
        heavy=False,
        decay_km=500,
        local=1.0,
        dest_bias=((GY, 1.5), (GD, 2.0), (CQ, 1.5), (SC, 1.2)),
    ),
    CargoProfile(
        name="liquor",  # baijiu: Maotai at the top, thousands of CNY a bottle
        consignments=(2, 10),
        weight_kg=LogUniform(150, 6000),
        cny_per_kg=LogUniform(60, 2000),
        export_share=0.08,
        countries=_weights("SG 20 MY 15 US 15 HK 15 AU 8 JP 8 KR 7 TH 6 FR 6"),
        heavy=False,
        decay_km=450,
        local=0.5,
        dest_bias=((GY, 1.6), (GD, 1.8), (CQ, 1.4), (HN, 1.4), (SC, 0.8)),
    ),
    CargoProfile(
        name="tea",  # Duyun Maojian, Meitan, Fanjingshan, Leishan
        consignments=(3, 12),
        weight_kg=LogUniform(30, 2000),
        cny_per_kg=LogUniform(60, 1200),
        export_share=0.15,
        countries=_weights("MA 20 RU 15 DE 12 UZ 10 US 10 JP 8 KZ 8 FR 7 GB 5 MY 5"),
        heavy=False,
        decay_km=400,
        local=0.8,
        dest_bias=((GY, 1.6), (GD, 1.3), (CQ, 1.1)),
    ),
    CargoProfile(
        name="coal",  # thermal coal to power plants and industry, full truckloads
        consignments=(1, 1),
        weight_kg=LogUniform(25_000, 32_000),
        cny_per_kg=LogUniform(0.75, 1.1),
        export_share=0.0,
        countries=(),
        heavy=True,
        decay_km=350,
        local=2.0,
        dest_bias=(
            (GY, 1.5),
            (AS, 1.6),
            (ZY, 1.2),
            (CQ, 2.5),
            (YN, 1.5),
            (GX, 0.3),
            (GD, 0.15),
            (HN, 0.6),
            (SC, 0.5),
            (TR, 0.5),
            (QDN, 0.5),
        ),
    ),
    CargoProfile(
        name="building_materials",  # cement, aggregates, steel, mostly short haul
        consignments=(1, 2),
        weight_kg=LogUniform(8000, 28_000),
        cny_per_kg=LogUniform(0.3, 4.0),
        export_share=0.0,
        countries=(),
        heavy=True,
        decay_km=120,
        local=5.0,
        dest_bias=((CQ, 0.3), (GD, 0.2), (GX, 0.3), (SC, 0.3), (YN, 0.3), (HN, 0.3)),
    ),
    CargoProfile(
        name="agriculture",  # vegetables, chilli, kiwi: Guizhou feeds the Greater Bay Area
        consignments=(1, 8),
        weight_kg=LogUniform(500, 12_000),
        cny_per_kg=LogUniform(2, 25),
        export_share=0.05,
        countries=_weights("VN 25 HK 20 TH 15 MY 15 SG 10 AE 10 RU 5"),
        heavy=False,
        decay_km=300,
        local=1.6,
        dest_bias=((GY, 2.0), (GD, 2.0), (CQ, 1.5)),
    ),
    CargoProfile(
        name="medicine",  # Miao medicine, pharmaceutical plants, distribution via Guiyang
        consignments=(4, 16),
        weight_kg=LogUniform(50, 2500),
        cny_per_kg=LogUniform(40, 600),
        export_share=0.05,
        countries=_weights("VN 20 TH 15 MY 15 PK 10 KE 10 SG 10 KH 10 LA 10"),
        heavy=False,
        decay_km=300,
        local=1.2,
        dest_bias=((GY, 2.0),),
    ),
    CargoProfile(
        name="consumer_goods",  # less-than-truckload parcels for shops and e-commerce
        consignments=(6, 24),
        weight_kg=LogUniform(100, 4000),
        cny_per_kg=LogUniform(12, 120),
        export_share=0.06,
        countries=_weights("VN 25 TH 20 MY 15 PH 15 LA 15 US 10"),
        heavy=False,
        decay_km=200,
        local=3.2,
        dest_bias=(),
    ),
    CargoProfile(
        name="machinery",  # mining and aviation equipment (Anshun), Belt and Road projects
        consignments=(1, 4),
        weight_kg=LogUniform(1500, 18_000),
        cny_per_kg=LogUniform(25, 150),
        export_share=0.12,
        countries=_weights("LA 20 VN 20 TH 15 MM 10 KH 10 ID 10 PK 8 RU 7"),
        heavy=False,
        decay_km=300,
        local=1.3,
        dest_bias=((LPS, 1.5), (BJ, 1.5), (QXN, 1.2)),
    ),
)
CARGO_BY_NAME: Final = {c.name: c for c in CARGO_PROFILES}

# Relative number of truck trips starting in each prefecture.
ORIGIN_TRIPS: Final = (
    (GY, 30), (ZY, 16), (LPS, 9), (BJ, 9), (AS, 8), (QN, 8), (QDN, 7), (QXN, 7), (TR, 6),
)  # fmt: skip

# Cargo mix of the trips from each prefecture (percent-ish).
ORIGIN_CARGO: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    GY: (("electronics", 24), ("consumer_goods", 22), ("medicine", 12), ("machinery", 12),
         ("building_materials", 10), ("agriculture", 8), ("liquor", 4), ("tea", 4), ("coal", 2)),
    ZY: (("liquor", 35), ("building_materials", 12), ("tea", 10), ("agriculture", 10),
         ("consumer_goods", 10), ("machinery", 8), ("coal", 7), ("medicine", 5),
         ("electronics", 3)),
    LPS: (("coal", 50), ("building_materials", 15), ("agriculture", 10), ("machinery", 8),
          ("consumer_goods", 8), ("medicine", 3), ("tea", 3), ("electronics", 2), ("liquor", 1)),
    AS: (("machinery", 20), ("building_materials", 15), ("agriculture", 15),
         ("consumer_goods", 12), ("electronics", 10), ("medicine", 10), ("coal", 8), ("tea", 5),
         ("liquor", 5)),
    BJ: (("coal", 40), ("agriculture", 15), ("building_materials", 15), ("medicine", 8),
         ("consumer_goods", 8), ("machinery", 5), ("tea", 4), ("liquor", 4), ("electronics", 1)),
    TR: (("tea", 25), ("agriculture", 20), ("building_materials", 15), ("consumer_goods", 12),
         ("medicine", 10), ("electronics", 7), ("machinery", 5), ("coal", 3), ("liquor", 3)),
    QXN: (("coal", 25), ("agriculture", 20), ("building_materials", 15), ("medicine", 10),
          ("consumer_goods", 10), ("tea", 7), ("machinery", 5), ("electronics", 5),
          ("liquor", 3)),
    QDN: (("agriculture", 20), ("tea", 18), ("building_materials", 15), ("medicine", 15),
          ("consumer_goods", 12), ("machinery", 5), ("liquor", 5), ("electronics", 5),
          ("coal", 5)),
    QN: (("tea", 22), ("building_materials", 18), ("agriculture", 15), ("consumer_goods", 12),
         ("machinery", 10), ("medicine", 10), ("coal", 5), ("electronics", 5), ("liquor", 3)),
}  # fmt: skip

# Demand pulling freight into each destination (before cargo bias and distance decay).
DEST_DEMAND: Final = (
    (GY, 10.0), (ZY, 5.5), (AS, 3.0), (LPS, 2.5), (BJ, 3.0), (TR, 1.8), (QXN, 2.0),
    (QDN, 2.2), (QN, 2.5), (CQ, 4.5), (GD, 4.5), (SC, 2.5), (YN, 2.2), (HN, 2.2), (GX, 2.2),
)  # fmt: skip

_ASEAN: Final = frozenset({"VN", "TH", "MY", "SG", "LA", "MM", "KH", "ID", "PH"})
_EURASIA_RAIL: Final = frozenset({"DE", "NL", "FR", "GB", "RU", "UZ", "KZ", "PL", "HU"})


def gateway_weights(country: str) -> tuple[tuple[str, float], ...]:
    """Which exit a consignment for ``country`` leaves through."""
    if country in _ASEAN:  # Beibu Gulf ports and the Pingxiang land port
        return ((GX, 0.75), (GD, 0.25))
    if country in _EURASIA_RAIL:  # China–Europe Railway Express from Chongqing
        return ((CQ, 0.70), (GD, 0.30))
    return ((GD, 0.85), (GX, 0.15))  # deep-sea from Guangzhou/Shenzhen


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
    # Per prefecture, local delivery runs: (out from the centre, back to it).
    spokes: dict[str, tuple[tuple[Route, Route], ...]]
    shippers: dict[tuple[str, str], tuple[str, ...]]  # (origin, cargo) -> shipper ids

    @staticmethod
    def guizhou() -> TripMix:
        net = RoadNetwork.guizhou()
        codes = [r.code for r in spec.REGIONS]
        routes: dict[tuple[str, str], Route] = {}
        for o in codes:
            for d in [*codes, *geo.EXTERNAL_DESTS]:
                if d != o and (o, d) not in routes:
                    r = net.route(o, d)
                    routes[(o, d)] = r
                    routes.setdefault((d, o), r.reversed())
        spokes = {
            o: tuple(
                (run, run.reversed())
                for run in (
                    geo.local_spoke(o, b, km) for km in LOCAL_SPOKE_KM for b in LOCAL_BEARINGS
                )
            )
            for o in codes
        }
        local_km = sum(LOCAL_SPOKE_KM) / len(LOCAL_SPOKE_KM)

        country_choice: dict[tuple[str, str], Weighted[str]] = {}
        kinds: list[tuple[TripKind, float]] = []
        origin_total = sum(w for _, w in ORIGIN_TRIPS)
        for o, w_origin in ORIGIN_TRIPS:
            cargo_total = sum(w for _, w in ORIGIN_CARGO[o])
            for cargo_name, w_cargo in ORIGIN_CARGO[o]:
                cargo = CARGO_BY_NAME[cargo_name]
                p = w_origin / origin_total * w_cargo / cargo_total
                # Domestic destinations: demand, biased by cargo, decaying with distance.
                bias = dict(cargo.dest_bias)
                domestic = []
                for d, demand in DEST_DEMAND:
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
                for gw in geo.EXPORT_GATEWAYS:
                    pairs = [
                        (country, w * dict(gateway_weights(country)).get(gw, 0.0))
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
            return _leg_hours(km, d == o, CARGO_BY_NAME[cargo_name].heavy)

        shippers = {
            (o, c.name): tuple(f"shp-{o}-{c.name[:4]}-{i:03d}" for i in range(SHIPPERS))
            for o in codes
            for c in CARGO_PROFILES
        }
        return TripMix(
            kinds=Weighted.of(kinds),
            kinds_on_road=Weighted.of([(k, p * hours(k)) for k, p in kinds]),
            country_by_cargo_gateway=country_choice,
            routes=routes,
            spokes=spokes,
            shippers=shippers,
        )

    def sample(self, rng: random.Random, *, on_road: bool = False) -> Trip:
        random_ = rng.random
        o, cargo_name, dest, export = (self.kinds_on_road if on_road else self.kinds).pick(rng)
        cargo = CARGO_BY_NAME[cargo_name]
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
        cargo = CARGO_BY_NAME[trip.cargo]
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
            cargo = CARGO_BY_NAME[cargo_name]
            lo, hi = cargo.consignments
            e_k += p * (lo + hi) / 2
            if d == o:
                km = sum(out.km for out, _ in self.spokes[o]) / len(self.spokes[o])
            else:
                km = self.routes[(o, d)].km
            e_s += p * 2 * _leg_hours(km, d == o, cargo.heavy) * 3600
        return e_k, e_s
