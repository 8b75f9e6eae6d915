"""What a region pack is (SPEC section 10): the places, sectors, money, clock and languages of
one area, as plain immutable data that every stage reads instead of constants of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Languages a pack may name things in; the page has its wording for exactly these.
KNOWN_LANGUAGES: Final = ("zh", "en", "fr", "ar")


@dataclass(frozen=True, slots=True)
class Place:
    """A region, the whole area, or an exit to a place outside it."""

    code: str
    names: Mapping[str, str]  # language -> name, one per language of the pack
    lon: float
    lat: float

    def name(self, language: str) -> str:
        return self.names[language]


@dataclass(frozen=True, slots=True)
class Sector:
    code: str
    names: Mapping[str, str]
    digital: bool


Weights = tuple[tuple[str, float], ...]  # (code, relative weight), in the file's order


@dataclass(frozen=True, slots=True)
class RoadNode:
    """A point of the road network that is not a region centre."""

    name: str
    lon: float
    lat: float
    kind: str  # "via" (a bend), "border" (where a road leaves the area), "external"


@dataclass(frozen=True, slots=True)
class CargoKind:
    """How one kind of cargo moves: consignment sizes, value, exports, where it goes."""

    name: str
    consignments: tuple[int, int]  # per trip, inclusive range
    weight_kg: tuple[float, float]  # per consignment, spread on a log scale
    value_per_kg: tuple[float, float]  # in the pack's currency, spread on a log scale
    export_share: float  # of this cargo's trips
    countries: Weights  # export destinations (ISO 3166-1 alpha-2)
    heavy: bool  # heavy trucks are slower
    decay_km: float  # how fast demand falls off with distance
    local: float  # weight of deliveries inside the origin region
    dest_bias: Weights  # multipliers on destination demand


@dataclass(frozen=True, slots=True)
class GatewayRule:
    """Export consignments for ``countries`` (all others when empty) leave through these."""

    countries: frozenset[str]
    gateways: Weights


@dataclass(frozen=True, slots=True)
class DataCentre:
    dc_id: str
    region: str
    capacity_mw: float  # IT capacity
    utilization: float  # at the evening peak


# eq=False: compared and hashed by identity (packs are loaded once), so caches can key on it.
@dataclass(frozen=True, slots=True, eq=False)
class Economy:
    """What the simulation draws from: roads, freight, sector output, data centres."""

    value_added_per_day: float  # in the pack's currency
    map_latitude: float  # where the equirectangular projection of the area is true
    export_gateways: tuple[str, ...]  # destinations export trips end at
    origin_trips: Weights  # relative number of trips starting in each region
    dest_demand: Weights  # demand pulling freight into each destination
    roads: tuple[tuple[str, str, float], ...]  # (node, node, road km)
    nodes: tuple[RoadNode, ...]  # besides the region centres
    origin_cargo: Mapping[str, Weights]  # region -> cargo mix of its trips
    cargo: tuple[CargoKind, ...]
    gateway_rules: tuple[GatewayRule, ...]  # the first naming a country, else the catch-all
    sector_shares: Weights  # sector -> share of the area's value added (sums to 1)
    sector_regions: Mapping[str, Weights]  # sector -> how its value splits over regions
    data_centres: tuple[DataCentre, ...]
    truck_ids: Mapping[str, str]  # region -> prefix of the ids of trucks based there

    def gateway_weights(self, country: str) -> Weights:
        """Which exit a consignment for ``country`` leaves through."""
        for rule in self.gateway_rules:
            if country in rule.countries or not rule.countries:
                return rule.gateways
        return ()


# eq=False: one object per pack (``load`` reads each once), hashed by identity, so caches of
# what is derived from a pack (event types, route tables) can key on it.
@dataclass(frozen=True, slots=True, eq=False)
class RegionPack:
    """One area. ``languages[0]`` is what a wall shows unless told otherwise."""

    name: str
    province: Place  # the whole area: the key of its rows (SPEC section 7)
    regions: tuple[Place, ...]
    exits: tuple[Place, ...]  # destinations outside the area, anchored beside its outline
    sectors: tuple[Sector, ...]
    cargo: tuple[str, ...]
    export_partners: tuple[str, ...]  # ISO 3166-1 alpha-2
    languages: tuple[str, ...]
    currency: str  # ISO 4217; the unit of every `value_cny` field of this pack's events
    time_zone: str  # IANA name; "today" starts at local midnight here (SPEC section 6)
    map_name: str  # the outline the page bundles under this name
    map_attribution: str  # shown on the wall and in the README when the licence asks for it
    topic_prefix: str  # default topic prefix, so two packs on one cluster never mix
    # A regex for more `dest` codes outside the area than the listed exits (a pack whose
    # contract allows any code of a family of places); "" for none.
    exit_pattern: str = ""
    economy: Economy | None = None  # None only for a pack that is never simulated
    # `produce --incident` targets when TARGET is left out, per kind (producers/incidents.py).
    incident_targets: Mapping[str, str] = field(default_factory=dict)

    @property
    def sim(self) -> Economy:
        """The economy, for code that simulates (every shipped pack has one)."""
        if self.economy is None:
            raise ValueError(f"region pack {self.name!r} has no [economy] to simulate")
        return self.economy

    @property
    def region_codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.regions)

    @property
    def exit_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.exits)

    @property
    def sector_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.sectors)

    @property
    def digital_sectors(self) -> frozenset[str]:
        return frozenset(s.code for s in self.sectors if s.digital)

    def region(self, code: str) -> Place:
        for r in self.regions:
            if r.code == code:
                return r
        raise KeyError(code)
