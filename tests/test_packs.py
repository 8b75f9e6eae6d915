"""Region packs read from their files: the values of SPEC sections 1 and 10, typed by hand
here, and the errors a broken pack file gives."""

from pathlib import Path

import pytest

from pulseboard import packs
from pulseboard.config import ConfigError, config_from_env

# SPEC section 1, copied by hand.
GUIZHOU_REGIONS = [
    ("520100", "Guiyang", "贵阳市", 106.713, 26.578),
    ("520200", "Liupanshui", "六盘水市", 104.847, 26.585),
    ("520300", "Zunyi", "遵义市", 106.937, 27.707),
    ("520400", "Anshun", "安顺市", 105.932, 26.246),
    ("520500", "Bijie", "毕节市", 105.285, 27.302),
    ("520600", "Tongren", "铜仁市", 109.192, 27.718),
    ("522300", "Qianxinan", "黔西南布依族苗族自治州", 104.898, 25.088),
    ("522600", "Qiandongnan", "黔东南苗族侗族自治州", 107.977, 26.583),
    ("522700", "Qiannan", "黔南布依族苗族自治州", 107.517, 26.258),
]


def test_guizhou_pack_is_spec_section_1():
    pack = packs.load("guizhou")
    assert pack.province.code == "520000"
    got = [(r.code, r.name("en"), r.name("zh"), r.lon, r.lat) for r in pack.regions]
    assert got == GUIZHOU_REGIONS
    assert pack.digital_sectors == {"big_data", "electronics", "software", "ecommerce"}
    assert pack.sector_codes == (
        "big_data", "electronics", "software", "ecommerce", "manufacturing", "liquor",
        "tourism", "agriculture", "energy_mining", "construction",
    )  # fmt: skip
    assert set(pack.cargo) == {
        "electronics", "liquor", "tea", "coal", "building_materials", "agriculture",
        "medicine", "consumer_goods", "machinery",
    }  # fmt: skip
    assert (pack.currency, pack.time_zone, pack.topic_prefix) == ("CNY", "Asia/Shanghai", "")


def test_morocco_pack_is_spec_section_10():
    pack = packs.load("morocco")
    assert pack.province.code == "MA"
    assert [r.code for r in pack.regions] == [f"MA-{i:02d}" for i in range(1, 13)]
    assert pack.languages == ("fr", "ar", "en")
    assert (pack.currency, pack.time_zone) == ("MAD", "Africa/Casablanca")
    assert pack.region("MA-06").name("fr") == "Casablanca-Settat"
    assert pack.region("MA-06").name("ar") == "الدار البيضاء سطات"
    # Every place is named in every language of the pack.
    for place in (pack.province, *pack.regions, *pack.exits):
        assert set(place.names) == {"fr", "ar", "en"}, place.code
    assert pack.topic_prefix != packs.load("guizhou").topic_prefix


def test_region_setting_picks_the_pack_and_its_topic_prefix():
    morocco = config_from_env({"PULSEBOARD_REGION": "morocco"})
    assert morocco.pack.name == "morocco"
    assert morocco.kafka.topic("freight.events") == "morocco.freight.events"
    # An explicit prefix still wins.
    mixed = config_from_env({"PULSEBOARD_REGION": "morocco", "PULSEBOARD_TOPIC_PREFIX": "t."})
    assert mixed.kafka.topic("freight.events") == "t.freight.events"
    assert config_from_env({}).kafka.topic("freight.events") == "freight.events"


def test_unknown_region_fails_saying_what_to_use():
    with pytest.raises(ConfigError, match=r"'mars' is unknown; use one of guizhou, morocco"):
        config_from_env({"PULSEBOARD_REGION": "mars"})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('time_zone = "Africa/Casablanca"', 'time_zone = "Africa/Atlantis"'), "IANA time zone"),
        (('languages = ["fr", "ar", "en"]', 'languages = ["fr", "ar", "en", "de"]'), "languages"),
        (('code = "MA-02"', 'code = "MA-01"'), "unique codes"),
        (('currency = "MAD"', 'currency = "dirham"'), "ISO 4217"),
        (('ar = "الشرق", ', ""), r"regions\[1\]\.names: needs a name in ar"),
        # The economy names only the pack's own codes, and every place is on a road.
        (('"MA-06" = 30, "MA-04" = 14', '"MA-60" = 30, "MA-04" = 14'), r"origin_trips: 'MA-60'"),
        (('["via:boujdour", "MA-12", 340],', ""), r"economy\.roads: no road reaches MA-12"),
        (("vehicles = 25, auto_parts", "trucks = 25, auto_parts"), r"origin_cargo\.MA-01"),
        (("countries = { FR = 30, ES = 18", "countries = { FX = 30, ES = 18"), "export partner"),
        (("offshoring = 0.05", "offshoring = 0.5"), r"sector_shares: must sum to 1"),
        (('region = "MA-06"', 'region = "MA-99"'), r"data_centres\[0\]\.region"),
        (('"MA-11" = "LAA-", "MA-12" = "DKH-" }', '"MA-11" = "LAA-" }'), "truck_ids"),
    ],
)
def test_a_broken_pack_file_names_the_field(tmp_path: Path, edit, message):
    text = (packs.loader.PACK_DIR / "morocco.toml").read_text(encoding="utf-8")
    assert edit[0] in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(packs.PackError, match=message) as caught:
        packs.load_file(broken)
    assert str(broken) in str(caught.value)
