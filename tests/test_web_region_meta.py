"""The wall's metadata, fake feed and page for a region pack other than the default
(SPEC section 10): Morocco's places, languages, currency and clock reach the page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pulseboard import packs
from web.assets import StaticAssets
from web.fake_feed import FakeIndicators
from web.metadata import INDICATOR_NAMES, PROTOCOL_VERSION, ClientTiming, build_meta, page_pack
from web.page_html import with_pack
from web.precision import wire_value
from web.zone_table import offset_table

MOROCCO = packs.load("morocco")
MA_CODES = [f"MA-{i:02d}" for i in range(1, 13)]  # ISO 3166-2:MA, SPEC section 10


def test_the_morocco_block_names_its_places_languages_money_clock_and_map():
    meta = build_meta(ClientTiming(4, 5, 10), "b1", MOROCCO)
    assert meta["protocol"] == PROTOCOL_VERSION == 3
    assert [r["code"] for r in meta["regions"]] == MA_CODES
    casablanca = next(r for r in meta["regions"] if r["code"] == "MA-06")
    assert casablanca["names"] == {
        "fr": "Casablanca-Settat", "ar": "الدار البيضاء سطات", "en": "Casablanca-Settat",
    }  # fmt: skip
    assert meta["province"]["code"] == "MA" and meta["province"]["names"]["ar"] == "المغرب"
    assert meta["languages"] == ["fr", "ar", "en"]
    assert meta["currency"] == "MAD" and meta["time_zone"] == "Africa/Casablanca"
    assert meta["map"] == {"name": "morocco", "attribution": MOROCCO.map_attribution}
    assert "ODbL" in meta["map"]["attribution"]
    # Money follows the pack's currency; the other units do not change.
    units = {name: i["unit"] for name, i in meta["indicators"].items()}
    assert units["freight_value_today"] == units["export_value_by_country_1h"] == "MAD"
    assert units["on_time_rate_1h"] == "ratio" and units["tonnage_1h"] == "t"
    sectors = {s["code"]: s for s in meta["sectors"]}
    assert sectors["offshoring"]["digital"] and not sectors["phosphates"]["digital"]
    assert sectors["fishing"]["names"]["fr"] == "Pêche"


def test_every_indicator_is_labelled_in_the_four_languages():
    for pack in (MOROCCO, packs.load("guizhou")):
        for name, info in build_meta(ClientTiming(4, 5, 10), "", pack)["indicators"].items():
            assert set(info["labels"]) == {"zh", "en", "fr", "ar"}, name
            assert all(info["labels"].values()), name
    labels = build_meta(ClientTiming(4, 5, 10), "", MOROCCO)["indicators"]["on_time_rate_1h"]
    assert labels["labels"]["fr"] == "Taux de ponctualité"


def test_the_default_block_is_still_guizhou_in_cny():
    meta = build_meta(ClientTiming(4, 5, 10))
    assert meta["languages"] == ["zh", "en"] and meta["currency"] == "CNY"
    assert meta["indicators"]["freight_value_1h"]["unit"] == "CNY"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        # Any currency shows the digits of CNY (format.js: same scales): hand-worked.
        (123_456_789.123, 123_000_000),
        (9_999.6, 9_999.6),  # 1.0万 would differ from 9,999.6: keeps its digits
        (45_678.9, 46_000),  # 4.6万 / 46K, one step of 1,000 in both
    ],
)
def test_money_in_mad_is_sent_at_the_displayed_precision(value, sent):
    assert wire_value(value, "MAD") == sent == wire_value(value, "CNY")


class _HtmlAttrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.attrs = dict(attrs)


def _html_attrs(page: bytes) -> dict[str, str | None]:
    parser = _HtmlAttrs()
    parser.feed(page.decode())
    return parser.attrs


def test_the_page_carries_its_area_escaped_as_an_attribute():
    awkward = {"name": 'x"y', "attribution": 'a < b & c\'s "map"', "ar": "المغرب"}
    page = with_pack(b"<!doctype html>\n<html>\n<head></head></html>", awkward)
    assert json.loads(_html_attrs(page)["data-pack"] or "") == awkward
    assert b"<script" not in page  # an attribute, not an inline script (the CSP forbids them)
    # A page that leaves out its optional <html> tag gets one, after the doctype.
    bare = with_pack(b"<!doctype html><title>x</title>", {"a": 1})
    assert bare.startswith(b'<!doctype html><html data-pack="{&quot;a&quot;:1}"><title>')
    assert json.loads(_html_attrs(bare)["data-pack"] or "") == {"a": 1}


def test_the_served_index_names_the_area_and_another_area_is_another_build(tmp_path: Path):
    (tmp_path / "index.html").write_text("<!doctype html>\n<html>\n<body></body></html>\n")
    morocco = StaticAssets.load(tmp_path, page_pack(MOROCCO))
    guizhou = StaticAssets.load(tmp_path, page_pack(packs.load("guizhou")))
    index = morocco.get("/")
    assert index is not None
    pack = json.loads(_html_attrs(index.body)["data-pack"] or "")
    assert pack["languages"] == ["fr", "ar", "en"] and pack["time_zone"] == "Africa/Casablanca"
    assert pack["map"]["name"] == "morocco" and pack["province"]["code"] == "MA"
    assert morocco.build_id != guizhou.build_id  # walls reload when their area changes


def test_the_fake_feed_speaks_for_the_pack_it_is_given():
    full = FakeIndicators(seed=5, pack=MOROCCO).all_records(1_771_120_800)
    assert {r["name"] for r in full} == INDICATOR_NAMES
    keys = {r["key"] for r in full}
    regions = {k for k in keys if k.startswith("MA-") and "|" not in k and ">" not in k}
    assert regions == set(MA_CODES)
    assert "MA" in keys and "MA|phosphates" in keys and "ES" in keys  # Spain: a partner
    assert any(k.endswith(">ES-AN") for k in keys)  # corridors leave by Tanger Med
    assert not any(k.startswith(("52", "CN-")) for k in keys)


def _utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_the_zone_table_pins_casablancas_ramadan_changes_to_the_second():
    # tzdata's Morocco rules for 2026: to UTC+0 on 15 February at 03:00 local (UTC+1), back
    # to UTC+1 on 22 March at 02:00 local (UTC+0): both at 02:00 UTC.
    start, end = _utc(2026, 1, 1), _utc(2027, 1, 1)
    table = offset_table("Africa/Casablanca", start, end)
    assert table == [[start, 3600], [_utc(2026, 2, 15, 2), 0], [_utc(2026, 3, 22, 2), 3600]]
    assert offset_table("Asia/Shanghai", start, end) == [[start, 8 * 3600]]


def test_the_page_gets_whole_years_of_offsets_so_its_build_changes_once_a_year():
    early, late = _utc(2026, 1, 2), _utc(2026, 12, 4, 18)
    block = page_pack(MOROCCO, late)["zone"]
    assert block == page_pack(MOROCCO, early)["zone"]
    assert block["name"] == "Africa/Casablanca"
    assert block["offsets"][0][0] == _utc(2024, 1, 1) and block["until"] == _utc(2029, 1, 1)
    # December 2026 is UTC+1 (the browser's own data may say otherwise; the page trusts this).
    in_force = [o for t, o in block["offsets"] if t <= late][-1]
    assert in_force == 3600
    assert "zone" not in page_pack(MOROCCO)  # no clock given: the page asks its browser
