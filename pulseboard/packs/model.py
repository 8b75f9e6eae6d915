"""What a region pack is (SPEC section 10): the places, sectors, money, clock and languages of
one area, as plain immutable data that every stage reads instead of constants of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
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
