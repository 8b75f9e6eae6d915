"""No Guizhou fact is written in code outside the guizhou pack (issue 16): the program reads
places, codes and names from pulseboard/packs/*.toml, so another pack works end to end.

What is searched: Guizhou's region codes (GB/T 2260 520xxx and 522xxx), `CN-XX` codes of the
provinces around it, and the names of the province and its prefectures in English and Chinese
(case-sensitive: the pack's identifier ``guizhou`` is a name the program may use).

Exempt, on purpose:
* pulseboard/packs/guizhou.toml: the pack itself;
* tests/ and web/frontend/test/: hand-worked tables are written out in the tests, never
  derived from the code;
* docs/ and README.md: they describe both packs;
* deploy/prometheus/tests/: the promtool unit tests, hand-worked input series with a key
  of each pack (the rules, panels and manifests themselves name no area);
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

AREA_FACT = re.compile(
    r"(?<![0-9])52[02][0-9]{3}(?![0-9])"
    r"|\bCN-[A-Z]{2}\b"
    r"|Guizhou|Guiyang|Zunyi|Liupanshui|Anshun|Bijie|Tongren|Qianxinan|Qiandongnan|Qiannan"
    r"|贵州|贵阳|遵义|六盘水|安顺|毕节|铜仁|黔"
)
EXEMPT_DIRS = ("tests/", "web/frontend/test/", "docs/", "deploy/prometheus/tests/")
EXEMPT_FILES = {"README.md", "pulseboard/packs/guizhou.toml"}


def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [p for p in out.split("\0") if p]


def test_no_guizhou_code_or_name_outside_the_guizhou_pack() -> None:
    found = []
    for path in _tracked():
        if path.startswith(EXEMPT_DIRS) or path in EXEMPT_FILES:
            continue
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary (fonts, images), or deleted in the work tree
        for n, line in enumerate(text.splitlines(), 1):
            m = AREA_FACT.search(line)
            if m:
                found.append(f"{path}:{n}: {m.group(0)!r} in {line.strip()[:120]}")
    assert not found, "Guizhou facts outside its pack:\n" + "\n".join(found)


def test_the_search_finds_what_it_is_meant_to_find() -> None:
    hits = [
        '"origin": "520100"',
        "dest CN-GD",
        "Qiandongnan",
        "贵阳市",
        "522700",
        "the Guizhou wall",
    ]
    misses = ["--region guizhou", "1764000000000", "MA-06", "CN", "5201000", "CNY"]
    assert all(AREA_FACT.search(h) for h in hits)
    assert not any(AREA_FACT.search(m) for m in misses)


def test_the_exemptions_name_files_that_exist() -> None:
    tracked = set(_tracked())
    assert tracked >= EXEMPT_FILES


# The stages' configurations default to the default pack (as the Config does when no region is
# set), which suits tests; the program itself must always say which pack.
PACKED = {"EngineConfig", "SealerConfig", "SimConfig", "FinalizerState"}
PROGRAM_DIRS = ("pulseboard/", "consumers/", "producers/", "web/")


def test_the_program_passes_the_pack_to_every_stage() -> None:
    missing = []
    for path in _tracked():
        if not path.startswith(PROGRAM_DIRS) or not path.endswith(".py"):
            continue
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name not in PACKED:
                continue
            if not node.args and not node.keywords:
                continue  # `config or EngineConfig()`: the class's own fallback
            if not any(k.arg == "pack" for k in node.keywords):
                missing.append(f"{path}:{node.lineno}: {name}(...) without pack=")
        if path == "consumers/aggregate/command.py":
            assert "AggregatorMetrics.create(province_key=config.pack" in (ROOT / path).read_text()
    assert not missing, "\n".join(missing)
