"""What the wall page needs to know besides the values: names, places, units and the area.

Sent once in every snapshot so the page carries no copy of the data contract: places,
sectors, languages, currency, time zone and map come from the region pack (SPEC section 10,
``pulseboard.packs``) and the labels below are the only wording of the indicators, in every
language a pack may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulseboard import packs
from pulseboard.packs import Place, RegionPack
from web.zone_table import zone_block

# 2: places and sectors carry `names` by language; the block names the area's languages,
# currency, time zone and map; money indicators are in the pack's currency; value rows that
# share a message's most common (t, final) are sent short (docs/push-protocol.md).
PROTOCOL_VERSION: Final = 3

# The unit of every money indicator: replaced by the pack's ISO 4217 code in the metadata.
MONEY: Final = "money"


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    name: str
    unit: str  # "count", MONEY, "t", "min", "MW" or "ratio" (0..1)
    window_s: int | None  # None: "today"
    labels: Mapping[str, str]  # language -> label, one for each of packs.KNOWN_LANGUAGES


def _info(
    name: str, unit: str, window_s: int | None, zh: str, en: str, fr: str, ar: str
) -> IndicatorInfo:
    return IndicatorInfo(name, unit, window_s, {"zh": zh, "en": en, "fr": fr, "ar": ar})


INDICATORS: Final[tuple[IndicatorInfo, ...]] = (
    _info("shipments_1m", "count", 60, "每分钟发运", "Shipments per minute",
          "Expéditions par minute", "الشحنات في الدقيقة"),
    _info("shipments_today", "count", None, "今日发运", "Shipments today",
          "Expéditions du jour", "شحنات اليوم"),
    _info("tonnage_1h", "t", 3600, "近1小时货运量", "Tonnage, last hour",
          "Tonnage, dernière heure", "الحمولة خلال الساعة الأخيرة"),
    _info("freight_value_1h", MONEY, 3600, "近1小时货值", "Freight value, last hour",
          "Valeur du fret, dernière heure", "قيمة الشحن خلال الساعة الأخيرة"),
    _info("freight_value_today", MONEY, None, "今日货运总值", "Freight value today",
          "Valeur du fret du jour", "قيمة الشحن اليوم"),
    _info("export_value_1h", MONEY, 3600, "近1小时出口额", "Export value, last hour",
          "Exportations, dernière heure", "الصادرات خلال الساعة الأخيرة"),
    _info("export_value_by_country_1h", MONEY, 3600, "出口目的地", "Exports by destination",
          "Exportations par destination", "الصادرات حسب الوجهة"),
    _info("corridor_shipments_15m", "count", 900, "热门线路", "Busiest corridors",
          "Axes les plus actifs", "أنشط المحاور"),
    _info("active_trucks_5m", "count", 300, "在途车辆", "Active trucks",
          "Camions en route", "الشاحنات على الطريق"),
    _info("deliveries_1h", "count", 3600, "近1小时送达", "Deliveries, last hour",
          "Livraisons, dernière heure", "عمليات التسليم خلال الساعة الأخيرة"),
    _info("on_time_rate_1h", "ratio", 3600, "准时率", "On-time rate",
          "Taux de ponctualité", "نسبة الالتزام بالمواعيد"),
    _info("avg_transit_min_1h", "min", 3600, "平均运输时长", "Average transit",
          "Durée moyenne de transit", "متوسط مدة النقل"),
    _info("sector_value_1h", MONEY, 3600, "分行业产值", "Sector output, last hour",
          "Production par secteur, dernière heure", "الإنتاج حسب القطاع خلال الساعة الأخيرة"),
    _info("output_value_1h", MONEY, 3600, "近1小时产值", "Output, last hour",
          "Production, dernière heure", "الإنتاج خلال الساعة الأخيرة"),
    _info("digital_share_1h", "ratio", 3600, "数字经济占比", "Digital economy share",
          "Part de l'économie numérique", "حصة الاقتصاد الرقمي"),
    _info("dc_power_mw_5m", "MW", 300, "数据中心负荷", "Data-centre power",
          "Puissance des centres de données", "قدرة مراكز البيانات"),
    _info("dc_utilization_5m", "ratio", 300, "数据中心利用率", "Data-centre utilisation",
          "Taux d'utilisation des centres de données", "نسبة استخدام مراكز البيانات"),
)  # fmt: skip
INDICATOR_NAMES: Final = frozenset(i.name for i in INDICATORS)


@dataclass(frozen=True, slots=True)
class ClientTiming:
    """The timing a page should expect from this server."""

    coalesce_hz: float
    ping_interval_s: float
    stale_after_s: float


def unit_of(info: IndicatorInfo, pack: RegionPack) -> str:
    """The unit a page formats an indicator in: money is in the pack's currency."""
    return pack.currency if info.unit == MONEY else info.unit


def _place(p: Place) -> dict[str, Any]:
    return {"code": p.code, "names": dict(p.names), "lon": p.lon, "lat": p.lat}


def page_pack(pack: RegionPack, now: float | None = None) -> dict[str, Any]:
    """What the page must know before its first snapshot (which language to speak, which
    way to write, the clock's time zone): written into index.html by the server. With
    ``now`` (epoch seconds) it carries the zone's UTC offsets around that year from this
    machine's tz database (web/zone_table.py), which the page prefers to its browser's."""
    block = {
        "name": pack.name,
        "province": {"code": pack.province.code, "names": dict(pack.province.names)},
        "languages": list(pack.languages),
        "currency": pack.currency,
        "time_zone": pack.time_zone,
        "map": {"name": pack.map_name, "attribution": pack.map_attribution},
    }
    if now is not None:
        block["zone"] = zone_block(pack.time_zone, now)
    return block


def build_meta(
    timing: ClientTiming,
    build: str = "",
    pack: RegionPack | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The metadata block of a snapshot (see docs/push-protocol.md); ``pack``: the area on
    the wall (default: the default pack); ``now``: see ``page_pack``."""
    pack = pack or packs.load(packs.DEFAULT_PACK)
    return {
        "protocol": PROTOCOL_VERSION,
        "build": build,
        **page_pack(pack, now),
        "province": _place(pack.province),
        "regions": [_place(r) for r in pack.regions],
        "exits": [_place(p) for p in pack.exits],
        "sectors": [
            {"code": s.code, "names": dict(s.names), "digital": s.digital} for s in pack.sectors
        ],
        "indicators": {
            i.name: {"unit": unit_of(i, pack), "window_s": i.window_s, "labels": dict(i.labels)}
            for i in INDICATORS
        },
        "timing": {
            "coalesce_hz": timing.coalesce_hz,
            "ping_interval_s": timing.ping_interval_s,
            "stale_after_s": timing.stale_after_s,
        },
    }
