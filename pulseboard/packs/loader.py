"""Reading and checking a pack file (TOML, one per area, beside this module)."""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from pulseboard.packs.model import (
    KNOWN_LANGUAGES,
    CargoKind,
    DataCentre,
    Economy,
    GatewayRule,
    Place,
    RegionPack,
    RoadNode,
    Sector,
    Weights,
)

PACK_DIR: Final = Path(__file__).resolve().parent
PACK_NAMES: Final = ("guizhou", "morocco")
DEFAULT_PACK: Final = "guizhou"

_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_WORD: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_NODE: Final = re.compile(r"[a-z]+:[a-z0-9_]{1,40}|[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_NODE_KINDS: Final = ("via", "border", "external")


class PackError(ValueError):
    """A pack name or file is wrong; the message names the file, the field and the fix."""


@cache
def load(name: str) -> RegionPack:
    """The pack called ``name`` (read once per process: packs are immutable data)."""
    if name not in PACK_NAMES:
        raise PackError(
            f"region {name!r} is unknown; use one of {', '.join(PACK_NAMES)} "
            "(--region / PULSEBOARD_REGION)"
        )
    return load_file(PACK_DIR / f"{name}.toml")


def load_file(path: Path) -> RegionPack:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{path}: cannot read the pack: {exc}") from None
    return _Reader(path, raw).pack()


class _Reader:
    def __init__(self, path: Path, raw: Mapping[str, Any]) -> None:
        self.path = path
        self.raw = raw

    def fail(self, where: str, what: str) -> PackError:
        return PackError(f"{self.path}: {where}: {what}")

    def field(self, table: Mapping[str, Any], where: str, key: str, kind: type) -> Any:
        value = table.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(f"{where}.{key}", f"must be a {kind.__name__} (got {value!r})")
        return value

    def pattern(self, value: str, where: str, rule: re.Pattern[str], meaning: str) -> str:
        if not rule.fullmatch(value):
            raise self.fail(where, f"{value!r} is not {meaning}")
        return value

    def names(self, table: Mapping[str, Any], where: str, languages: tuple[str, ...]) -> dict:
        names = self.field(table, where, "names", dict)
        missing = [lang for lang in languages if not isinstance(names.get(lang), str)]
        if missing:
            raise self.fail(f"{where}.names", f"needs a name in {', '.join(missing)}")
        return {lang: names[lang] for lang in languages}

    def place(self, table: Any, where: str, languages: tuple[str, ...]) -> Place:
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table")
        code = self.pattern(self.field(table, where, "code", str), f"{where}.code", _CODE, "a code")
        lon, lat = (float(self.field(table, where, k, (int, float))) for k in ("lon", "lat"))
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise self.fail(where, f"lon/lat {lon}, {lat} is not a point on Earth")
        return Place(code, self.names(table, where, languages), lon, lat)

    def incident_targets(self, table: Any) -> dict[str, str]:
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise self.fail("incident_targets", 'must be a table of kind = "target"')
        return dict(table)

    def pack(self) -> RegionPack:
        raw = self.raw
        name = self.pattern(self.field(raw, "pack", "name", str), "name", _WORD, "a pack name")
        languages = tuple(self.field(raw, "pack", "languages", list))
        unknown = [lang for lang in languages if lang not in KNOWN_LANGUAGES]
        if not languages or unknown:
            raise self.fail(
                "languages", f"must be some of {', '.join(KNOWN_LANGUAGES)} (got {languages!r})"
            )
        province = self.place(raw.get("province"), "province", languages)
        regions = tuple(
            self.place(r, f"regions[{i}]", languages)
            for i, r in enumerate(self.field(raw, "pack", "regions", list))
        )
        exits = tuple(
            self.place(p, f"exits[{i}]", languages) for i, p in enumerate(raw.get("exits", []))
        )
        codes = [province.code, *(r.code for r in regions), *(p.code for p in exits)]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if not regions or duplicates:
            raise self.fail("regions", f"needs at least one region and unique codes {duplicates}")
        sectors = []
        for i, s in enumerate(self.field(raw, "pack", "sectors", list)):
            where = f"sectors[{i}]"
            code = self.pattern(self.field(s, where, "code", str), f"{where}.code", _WORD, "a word")
            digital = self.field(s, where, "digital", bool)
            sectors.append(Sector(code, self.names(s, where, languages), digital))
        cargo = tuple(
            self.pattern(c, "cargo", _WORD, "a cargo word")
            for c in self.field(raw, "pack", "cargo", list)
        )
        partners = tuple(
            self.pattern(c, "export_partners", _COUNTRY, "an ISO 3166-1 alpha-2 code")
            for c in self.field(raw, "pack", "export_partners", list)
        )
        time_zone = self.field(raw, "pack", "time_zone", str)
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise self.fail("time_zone", f"{time_zone!r} is not an IANA time zone") from None
        exit_pattern = self.regex(raw, "exit_pattern")
        economy = None
        if "economy" in raw:
            economy = _EconomyReader(self, self.field(raw, "pack", "economy", dict)).economy(
                region_codes=[r.code for r in regions],
                exit_codes=[p.code for p in exits],
                cargo=cargo,
                sectors=[s.code for s in sectors],
            )
        return RegionPack(
            name=name,
            province=province,
            regions=regions,
            exits=exits,
            sectors=tuple(sectors),
            cargo=cargo,
            export_partners=partners,
            languages=languages,
            currency=self.pattern(
                self.field(raw, "pack", "currency", str), "currency", _CURRENCY, "ISO 4217"
            ),
            time_zone=time_zone,
            map_name=self.pattern(self.field(raw, "pack", "map", str), "map", _WORD, "a word"),
            map_attribution=str(raw.get("map_attribution", "")),
            topic_prefix=str(raw.get("topic_prefix", "")),
            incident_targets=self.incident_targets(raw.get("incident_targets", {})),
            exit_pattern=exit_pattern,
            economy=economy,
        )

    def regex(self, raw: Mapping[str, Any], key: str) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string (got {value!r})")
        try:
            re.compile(value)
        except re.error as exc:
            raise self.fail(key, f"{value!r} is not a regular expression: {exc}") from None
        return value


class _EconomyReader:
    """The ``[economy]`` table: every code it names must be one of the pack's, every weight
    positive, every place reachable by road, so a typo fails here and not mid-simulation."""

    def __init__(self, reader: _Reader, raw: Mapping[str, Any]) -> None:
        self.r = reader
        self.raw = raw

    def fail(self, where: str, what: str) -> PackError:
        return self.r.fail(f"economy.{where}", what)

    def number(self, table: Mapping[str, Any], where: str, key: str, lo: float = 0.0) -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= lo:
            raise self.fail(f"{where}.{key}" if where else key, f"must be a number >= {lo}")
        return float(value)

    def weights(self, value: Any, where: str, allowed: Iterable[str], what: str) -> Weights:
        allowed = set(allowed)
        if not isinstance(value, dict):
            raise self.fail(where, "must be a table of code = weight")
        out = []
        for code, w in value.items():
            if code not in allowed:
                raise self.fail(where, f"{code!r} is not {what}")
            if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
                raise self.fail(where, f"the weight of {code!r} must be a number > 0")
            out.append((code, float(w)))
        return tuple(out)

    def span(self, table: Mapping[str, Any], where: str, key: str) -> tuple[float, float]:
        value = table.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
            or not 0 < value[0] <= value[1]
        ):
            raise self.fail(f"{where}.{key}", f"must be [lo, hi] with 0 < lo <= hi (got {value!r})")
        return float(value[0]), float(value[1])

    def economy(
        self,
        *,
        region_codes: list[str],
        exit_codes: list[str],
        cargo: tuple[str, ...],
        sectors: list[str],
    ) -> Economy:
        raw, r = self.raw, self.r
        exit_rule = re.compile(r.raw.get("exit_pattern") or "(?!)")
        nodes = []
        for i, n in enumerate(r.field(raw, "economy", "nodes", list)):
            where = f"nodes[{i}]"
            name = r.pattern(
                r.field(n, where, "name", str),
                f"economy.{where}.name",
                _NODE,
                "kind:name or a destination code",
            )
            kind = r.field(n, where, "kind", str)
            if kind not in _NODE_KINDS:
                raise self.fail(where, f"kind must be one of {', '.join(_NODE_KINDS)}")
            nodes.append(
                RoadNode(
                    name,
                    self.number(n, where, "lon", -180),
                    self.number(n, where, "lat", -90),
                    kind,
                )
            )
        # External terminals may carry a destination code of their own (an exit, or a code
        # the pack's exit_pattern allows).
        terminals = [n.name for n in nodes if n.kind == "external" and ":" not in n.name]
        node_names = {*region_codes, *(n.name for n in nodes)}
        for name in node_names - set(region_codes):
            if ":" not in name and name not in exit_codes and not exit_rule.fullmatch(name):
                raise self.fail("nodes", f"{name!r} is neither kind:name nor a destination code")
        roads = []
        for i, road in enumerate(r.field(raw, "economy", "roads", list)):
            ok = (
                isinstance(road, list)
                and len(road) == 3
                and all(isinstance(x, str) and x in node_names for x in road[:2])
                and isinstance(road[2], int | float)
                and road[2] > 0
            )
            if not ok:
                raise self.fail(
                    f"roads[{i}]", f"must be [node, node, km > 0] of known nodes (got {road!r})"
                )
            roads.append((road[0], road[1], float(road[2])))
        reachable = _reachable(region_codes[0], roads)
        lost = [n for n in (*region_codes, *terminals) if n not in reachable]
        if lost:
            raise self.fail("roads", f"no road reaches {', '.join(lost)}")
        destinations = [*region_codes, *terminals]
        gateways = tuple(r.field(raw, "economy", "export_gateways", list))
        for g in gateways:
            if g not in destinations:
                raise self.fail("export_gateways", f"{g!r} is not a region or a terminal")
        origin_trips = self.weights(
            raw.get("origin_trips"), "origin_trips", region_codes, "a region"
        )
        origin_cargo_raw = r.field(raw, "economy", "origin_cargo", dict)
        origin_cargo = {}
        for o, _ in origin_trips:
            if o not in origin_cargo_raw:
                raise self.fail("origin_cargo", f"needs the cargo mix of {o!r}")
            origin_cargo[o] = self.weights(
                origin_cargo_raw[o], f"origin_cargo.{o}", cargo, "a cargo"
            )
        kinds = []
        partners = set(r.raw.get("export_partners", []))
        for i, c in enumerate(r.field(raw, "economy", "cargo", list)):
            where = f"cargo[{i}]"
            name = r.field(c, where, "name", str)
            if name not in cargo:
                raise self.fail(where, f"{name!r} is not in the pack's cargo list")
            lo, hi = self.span(c, where, "consignments")
            countries = self.weights(
                c.get("countries", {}), f"{where}.countries", partners, "an export partner"
            )
            share = self.number(c, where, "export_share")
            if share > 1 or (share > 0 and not countries):
                raise self.fail(
                    f"{where}.export_share", "must be <= 1, and > 0 only with countries"
                )
            kinds.append(
                CargoKind(
                    name=name,
                    consignments=(int(lo), int(hi)),
                    weight_kg=self.span(c, where, "weight_kg"),
                    value_per_kg=self.span(c, where, "value_per_kg"),
                    export_share=share,
                    countries=countries,
                    heavy=r.field(c, where, "heavy", bool),
                    decay_km=self.number(c, where, "decay_km", 1e-9),
                    local=self.number(c, where, "local"),
                    dest_bias=self.weights(
                        c.get("dest_bias", {}), f"{where}.dest_bias", destinations, "a destination"
                    ),
                )
            )
        missing = sorted(
            {c for mix in origin_cargo.values() for c, _ in mix} - {k.name for k in kinds}
        )
        if missing:
            raise self.fail("cargo", f"needs a profile for {', '.join(missing)}")
        rules = []
        for i, g in enumerate(r.field(raw, "economy", "gateway_rules", list)):
            where = f"gateway_rules[{i}]"
            rules.append(
                GatewayRule(
                    frozenset(r.field(g, where, "countries", list)),
                    self.weights(
                        g.get("gateways"), f"{where}.gateways", gateways, "an export gateway"
                    ),
                )
            )
        if not rules or rules[-1].countries or any(not g.countries for g in rules[:-1]):
            raise self.fail("gateway_rules", "the last rule, and only it, must have countries = []")
        shares = self.weights(raw.get("sector_shares"), "sector_shares", sectors, "a sector")
        if abs(sum(w for _, w in shares) - 1) > 1e-9:
            raise self.fail("sector_shares", "must sum to 1")
        split_raw = r.field(raw, "economy", "sector_regions", dict)
        splits = {}
        for sector, _ in shares:
            if sector not in split_raw:
                raise self.fail("sector_regions", f"needs the regions of {sector!r}")
            splits[sector] = self.weights(
                split_raw[sector], f"sector_regions.{sector}", region_codes, "a region"
            )
        dcs = []
        for i, d in enumerate(r.field(raw, "economy", "data_centres", list)):
            where = f"data_centres[{i}]"
            region = r.field(d, where, "region", str)
            if region not in region_codes:
                raise self.fail(f"{where}.region", f"{region!r} is not a region")
            utilization = self.number(d, where, "utilization")
            if utilization > 1:
                raise self.fail(f"{where}.utilization", "must be in [0, 1]")
            dcs.append(
                DataCentre(
                    r.field(d, where, "id", str),
                    region,
                    self.number(d, where, "capacity_mw"),
                    utilization,
                )
            )
        plates = r.field(raw, "economy", "truck_ids", dict)
        if sorted(plates) != sorted(region_codes) or not all(
            isinstance(v, str) and _CODE.fullmatch(v) for v in plates.values()
        ):
            raise self.fail("truck_ids", "needs an id prefix (letters, digits, -) for every region")
        return Economy(
            truck_ids={c: plates[c] for c in region_codes},
            value_added_per_day=self.number(raw, "", "value_added_per_day", 1e-9),
            map_latitude=self.number(raw, "", "map_latitude", -90),
            export_gateways=gateways,
            origin_trips=origin_trips,
            dest_demand=self.weights(
                raw.get("dest_demand"), "dest_demand", destinations, "a destination"
            ),
            roads=tuple(roads),
            nodes=tuple(nodes),
            origin_cargo=origin_cargo,
            cargo=tuple(kinds),
            gateway_rules=tuple(rules),
            sector_shares=shares,
            sector_regions=splits,
            data_centres=tuple(dcs),
        )


def _reachable(start: str, roads: list[tuple[str, str, float]]) -> set[str]:
    seen = {start}
    frontier = [start]
    while frontier:
        here = frontier.pop()
        for a, b, _ in roads:
            for x, y in ((a, b), (b, a)):
                if x == here and y not in seen:
                    seen.add(y)
                    frontier.append(y)
    return seen
