"""The dependency audit's verdict: vulnerable fails, unreachable is told apart from clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "audit_verdict.py"


def verdict(kind: str, report: dict) -> tuple[int, str]:
    p = subprocess.run(
        [sys.executable, str(SCRIPT), kind], input=json.dumps(report), capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    return p.returncode, p.stderr


@pytest.mark.parametrize(
    ("kind", "report", "code", "word"),
    [
        ("pip", {"dependencies": [{"name": "a", "version": "1", "vulns": []}]}, 0, "clean"),
        ("pip", {"dependencies": [{"name": "a", "version": "1", "vulns": [{"id": "X"}]}]}, 1,
         "VULNERABLE"),
        ("pip", {"dependencies": [{"name": "a", "skip_reason": "not found"}]}, 3, "NOT CHECKED"),
        ("pip", {"dependencies": [{"name": "a", "version": "1", "vulns": []},
                                  {"name": "b", "skip_reason": "not found"}]}, 1, "VULNERABLE"),
        ("npm", {"metadata": {"vulnerabilities": {"low": 2, "moderate": 1}}}, 0, "clean"),
        ("npm", {"metadata": {"vulnerabilities": {"critical": 1}}}, 1, "VULNERABLE"),
        ("npm", {"message": "405 Method Not Allowed"}, 3, "NOT CHECKED"),
    ],
)  # fmt: skip
def test_verdicts(kind: str, report: dict, code: int, word: str) -> None:
    got, said = verdict(kind, report)
    assert got == code
    assert word in said
