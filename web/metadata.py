"""What the wall page needs to know besides the values: names, places and units.

Sent once in every snapshot so the page carries no copy of the data contract: the region
table comes from ``pulseboard.spec`` and the labels below are the only wording of the
indicators in either language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pulseboard import spec

PROTOCOL_VERSION: Final = 2


# Anchors sit a little outside Guizhou's outline in the direction of each neighbour, so
# corridor flows visibly leave the province rather than ending at a distant capital.
EXITS: Final[tuple[spec.Region, ...]] = (
    spec.Region("CN-CQ", "Chongqing", "重庆", 107.35, 29.55),
    spec.Region("CN-SC", "Sichuan", "四川", 105.45, 28.95),
    spec.Region("CN-YN", "Yunnan", "云南", 103.35, 25.95),
    spec.Region("CN-GX", "Guangxi", "广西", 107.35, 24.45),
    spec.Region("CN-GD", "Guangdong", "广东", 109.75, 25.05),
    spec.Region("CN-HN", "Hunan", "湖南", 109.95, 27.05),
)


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    name: str
    unit: str  # "count", "CNY", "t", "min", "MW" or "ratio" (0..1)
    window_s: int | None  # None: "today"
    label_en: str
    label_zh: str


INDICATORS: Final[tuple[IndicatorInfo, ...]] = (
    IndicatorInfo("shipments_1m", "count", 60, "Shipments per minute", "每分钟发运"),
    IndicatorInfo("shipments_today", "count", None, "Shipments today", "今日发运"),
    IndicatorInfo("tonnage_1h", "t", 3600, "Tonnage, last hour", "近1小时货运量"),
    IndicatorInfo("freight_value_1h", "CNY", 3600, "Freight value, last hour", "近1小时货值"),
    IndicatorInfo("freight_value_today", "CNY", None, "Freight value today", "今日货运总值"),
    IndicatorInfo("export_value_1h", "CNY", 3600, "Export value, last hour", "近1小时出口额"),
    IndicatorInfo(
        "export_value_by_country_1h", "CNY", 3600, "Exports by destination", "出口目的地"
    ),
    IndicatorInfo("corridor_shipments_15m", "count", 900, "Busiest corridors", "热门线路"),
    IndicatorInfo("active_trucks_5m", "count", 300, "Active trucks", "在途车辆"),
    IndicatorInfo("deliveries_1h", "count", 3600, "Deliveries, last hour", "近1小时送达"),
    IndicatorInfo("on_time_rate_1h", "ratio", 3600, "On-time rate", "准时率"),
    IndicatorInfo("avg_transit_min_1h", "min", 3600, "Average transit", "平均运输时长"),
    IndicatorInfo("sector_value_1h", "CNY", 3600, "Sector output, last hour", "分行业产值"),
    IndicatorInfo("output_value_1h", "CNY", 3600, "Output, last hour", "近1小时产值"),
    IndicatorInfo("digital_share_1h", "ratio", 3600, "Digital economy share", "数字经济占比"),
    IndicatorInfo("dc_power_mw_5m", "MW", 300, "Data-centre power", "数据中心负荷"),
    IndicatorInfo("dc_utilization_5m", "ratio", 300, "Data-centre utilisation", "数据中心利用率"),
)
INDICATOR_NAMES: Final = frozenset(i.name for i in INDICATORS)

SECTOR_NAMES: Final[dict[str, tuple[str, str]]] = {
    "big_data": ("Big data", "大数据"),
    "electronics": ("Electronics", "电子信息"),
    "software": ("Software", "软件信息"),
    "ecommerce": ("E-commerce", "电子商务"),
    "manufacturing": ("Manufacturing", "制造业"),
    "liquor": ("Liquor", "白酒"),
    "tourism": ("Tourism", "旅游"),
    "agriculture": ("Agriculture", "农业"),
    "energy_mining": ("Energy & mining", "能源矿产"),
    "construction": ("Construction", "建筑业"),
}


@dataclass(frozen=True, slots=True)
class ClientTiming:
    """The timing a page should expect from this server."""

    coalesce_hz: float
    ping_interval_s: float
    stale_after_s: float


def build_meta(timing: ClientTiming, build: str = "") -> dict[str, Any]:
    """The metadata block of a snapshot (see docs/push-protocol.md)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "build": build,
        "province": {"code": spec.PROVINCE, "en": "Guizhou", "zh": "贵州省"},
        "regions": [
            {"code": r.code, "en": r.name_en, "zh": r.name_zh, "lon": r.lon, "lat": r.lat}
            for r in spec.REGIONS
        ],
        "exits": [
            {"code": p.code, "en": p.name_en, "zh": p.name_zh, "lon": p.lon, "lat": p.lat}
            for p in EXITS
        ],
        "sectors": [
            {
                "code": code,
                "en": SECTOR_NAMES[code][0],
                "zh": SECTOR_NAMES[code][1],
                "digital": code in spec.DIGITAL_SECTORS,
            }
            for code in spec.SECTORS
        ],
        "indicators": {
            i.name: {"unit": i.unit, "window_s": i.window_s, "en": i.label_en, "zh": i.label_zh}
            for i in INDICATORS
        },
        "timing": {
            "coalesce_hz": timing.coalesce_hz,
            "ping_interval_s": timing.ping_interval_s,
            "stale_after_s": timing.stale_after_s,
        },
    }
