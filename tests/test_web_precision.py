"""Values at the wall's precision: a hand table, and format.js itself (run by node) as the
judge of "displayed exactly as the full value"."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from web.precision import UNITS, shown, wire_value

FORMAT_JS = Path(__file__).resolve().parent.parent / "web" / "frontend" / "src" / "format.js"

# (value, unit) -> what is sent, worked out by hand from format.js's rules:
# zh 亿 with 2 decimals = steps of 1e6, 万 with 1 decimal below 1e6 = 1e3, 万 with none = 1e4;
# en B with 2 decimals = 1e7, M with 1 decimal = 1e5, K = 1e3; the finer of the two is sent.
HAND = [
    (123_456_789.123, "CNY", 123_000_000),  # 1.23亿元 / ¥123M
    (12_345.678, "CNY", 12_000),  # 1.2万元 / ¥12K
    (1_234_567.8, "CNY", 1_230_000),  # 123万元 / ¥1.2M
    (987.654, "CNY", 988),  # 988元 / ¥988
    (9_999.6, "CNY", 9_999.6),  # 10,000元 (still below 1万): 10,000 would show 1.0万元
    (1_234_567.8, "count", 1_230_000),  # 123万 / 1.2M
    (54_321.4, "count", 54_321),  # below 1e5 (zh) and 1e6 (en): whole numbers
    (7.5, "count", 8),  # Math.round: half up
    (3, "count", 3),
    (0.123456, "ratio", 0.123),  # 12.3%
    (0.99951, "ratio", 1.0),  # 100.0%
    (150.4, "MW", 150),  # 150MW
    (42.25, "MW", 42.3),  # 42.3MW (42.25 is exact in binary: half away from zero)
    (99.96, "MW", 99.96),  # 100.0MW: 100 would show as 100MW
    (45.5, "min", 46),
    # 235万吨 / 2.3M t: 2,350,000 would show 2.4M t (2.35 rounds up), so one digit more
    (2_345_678.9, "t", 2_346_000),
    (4_048_853.3, "count", 4_049_000),  # 405万 / 4.0M: 4,050,000 would show 4.1M
    (None, "CNY", None),
]


@pytest.mark.parametrize(("value", "unit", "sent"), HAND)
def test_hand_table(value, unit, sent) -> None:
    got = wire_value(value, unit)
    assert got == sent and type(got) is type(sent)


def _format_js(cases: list[tuple[float, str]], tmp_path: Path) -> list[list[list[str]]]:
    """format.js's formatValue of every case in zh and en, computed by node."""
    script = tmp_path / "fmt.mjs"
    script.write_text(
        f"import {{ formatValue }} from {json.dumps(FORMAT_JS.as_uri())};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const cases = JSON.parse(readFileSync(0, 'utf8'));\n"
        "const out = cases.map(([v, u]) => ['zh', 'en'].map((l) => formatValue(v, u, l)));\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    node = shutil.which("node")
    assert node, "node is needed (scripts/setup installs it)"
    result = subprocess.run(
        [node, str(script)], input=json.dumps(cases), capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def _random_cases() -> list[tuple[float, str]]:
    """Every magnitude the wall meets, 17 significant digits each."""
    rng = random.Random(14)
    return [
        (rng.random() if unit == "ratio" else 10 ** rng.uniform(-3, 11), unit)
        for unit in UNITS
        for _ in range(400)
    ]


def _cases() -> list[tuple[float, str]]:
    """The random ones, and the neighbourhoods of every unit boundary and rounding tie."""
    cases = _random_cases()
    for unit in UNITS:
        for edge in (1e4, 1e5, 1e6, 1e8, 1e9, 100, 1):
            for d in (-0.6, -0.5, -0.4, -1e-9, 0, 1e-9, 0.4, 0.5):
                cases.append((edge + d, unit))
                cases.append((edge * (1 + d / 1000), unit))
        cases += [(0, unit), (0.5, unit), (2.5, unit), (1234549999.0, unit), (999500000.0, unit)]
    return cases


def test_what_is_sent_displays_as_the_full_value_does(tmp_path: Path) -> None:
    cases = _cases()
    sent = [(wire_value(v, u), u) for v, u in cases]
    full, rounded = _format_js(cases, tmp_path), _format_js(sent, tmp_path)
    wrong = [(c, s, f, r) for c, s, f, r in zip(cases, sent, full, rounded, strict=True) if f != r]
    assert not wrong, wrong[:5]
    # and shorter: each random value (17 significant digits) goes with fewer characters
    for v, unit in _random_cases():
        assert len(json.dumps(wire_value(v, unit))) < len(json.dumps(v)), (v, unit)


def test_the_python_model_reads_format_js_the_same(tmp_path: Path) -> None:
    cases = _cases()
    js = _format_js(cases, tmp_path)
    for (v, unit), both in zip(cases, js, strict=True):
        for lang, (text, unit_text) in zip(("zh", "en"), both, strict=True):
            assert shown(v, unit, lang)[:2] == (text.replace(",", ""), unit_text), (v, unit, lang)
