"""Reading and checking a pack file (TOML, one per area, beside this module)."""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from pulseboard.packs.model import KNOWN_LANGUAGES, Place, RegionPack, Sector

PACK_DIR: Final = Path(__file__).resolve().parent
PACK_NAMES: Final = ("guizhou", "morocco")
DEFAULT_PACK: Final = "guizhou"

_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_WORD: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")


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
        )
