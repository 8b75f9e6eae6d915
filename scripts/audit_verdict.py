"""Reads the JSON of `pip-audit --format json` or `npm audit --json` on stdin and says one of:
exit 0 "clean", exit 1 "vulnerable" (known vulnerabilities: pip-audit any, npm high or
critical), exit 3 "unavailable" (the advisory service could not be asked, so nothing was
checked). scripts/audit decides what an unavailable service means for the build.

    pip-audit --format json | python scripts/audit_verdict.py pip
    npm audit --json        | python scripts/audit_verdict.py npm"""

from __future__ import annotations

import json
import sys

CLEAN, VULNERABLE, UNAVAILABLE = 0, 1, 3


def pip_verdict(report: dict) -> tuple[int, str]:
    deps = report.get("dependencies", [])
    vulnerable = [f"{d['name']} {d.get('version', '')}" for d in deps if d.get("vulns")]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    if vulnerable:
        return VULNERABLE, "known vulnerabilities in: " + ", ".join(vulnerable)
    if deps and len(skipped) == len(deps):
        return UNAVAILABLE, f"none of {len(deps)} packages could be looked up"
    if skipped:
        return VULNERABLE, "could not be looked up (so not known to be safe): " + ", ".join(skipped)
    return CLEAN, f"{len(deps)} packages, no known vulnerability"


def npm_verdict(report: dict) -> tuple[int, str]:
    if "metadata" not in report:
        return UNAVAILABLE, str(report.get("message") or report.get("error") or report)[:300]
    counts = report["metadata"].get("vulnerabilities", {})
    serious = counts.get("high", 0) + counts.get("critical", 0)
    if serious:
        return VULNERABLE, f"{serious} high or critical vulnerabilities: {counts}"
    return CLEAN, f"no high or critical vulnerability ({counts})"


def main() -> int:
    kind = sys.argv[1]
    try:
        report = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as exc:
        print(f"audit ({kind}): unreadable report: {exc}", file=sys.stderr)
        return UNAVAILABLE
    code, why = (pip_verdict if kind == "pip" else npm_verdict)(report)
    label = {CLEAN: "clean", VULNERABLE: "VULNERABLE", UNAVAILABLE: "NOT CHECKED"}[code]
    print(f"audit ({kind}): {label}: {why}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
