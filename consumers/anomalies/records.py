"""Call-out records as bytes: JSON values (key order fixed), Kafka keys ``name|key``."""

from __future__ import annotations

import orjson

from consumers.anomalies.detector import Callout


def encode_callout(c: Callout) -> bytes:
    return orjson.dumps(c)


def callout_key(c: Callout) -> bytes:
    return f"{c['name']}|{c['key']}".encode()


def encode_lines(callouts: list[Callout]) -> bytes:
    return b"".join(orjson.dumps(c) + b"\n" for c in callouts)
