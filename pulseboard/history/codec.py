"""The history topic's messages (docs/history.md), as bytes and back. Pure: no Kafka here.

Every message is keyed by its session's name, so one session's messages stay in order in one
partition, and its control messages are ordered with its data:

* ``data``: final records (SPEC section 8) ``[t, name, key, value]``, ordered by ``t``, of one
  writer generation ``g`` (``None`` for the live aggregator, which never replaces ``live``);
* ``begin``: generation ``g`` replaces the session; everything of it written before is void;
* ``end``: generation ``g`` is complete, covering Ts ``from``..``to`` in ``records`` records;
* ``cut``: no value carries across ``t``: every value is absent at ``t`` unless a record at
  ``t`` says otherwise (a changelog computed separately starts at ``t``, e.g. a backfilled day);
* ``drop``: the session is gone;
* ``anomalies``: anomaly records (pulseboard/anomalies.py) of generation ``g``, the session's
  call-outs, as rows ``[t, name, key, value, expected, low, high, score, state]`` ordered by
  ``t``: a replayed session's call-outs travel with its data and are replaced with it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from pulseboard.anomalies import Anomaly
from pulseboard.indicators import Value

HistoryRecord = tuple[int, str, str, Value]


class Data(msgspec.Struct, tag_field="k", tag="data", frozen=True, gc=False):
    g: str | None
    r: list[HistoryRecord]


class Begin(msgspec.Struct, tag_field="k", tag="begin", frozen=True):
    g: str


class End(msgspec.Struct, tag_field="k", tag="end", frozen=True, rename={"t_from": "from"}):
    g: str | None
    t_from: int
    to: int
    records: int


class Cut(msgspec.Struct, tag_field="k", tag="cut", frozen=True):
    g: str | None
    t: int


class Drop(msgspec.Struct, tag_field="k", tag="drop", frozen=True):
    pass


AnomalyRow = tuple[int, str, str, Value, float, float, float, float, str]


class Anomalies(msgspec.Struct, tag_field="k", tag="anomalies", frozen=True):
    g: str | None
    r: list[AnomalyRow]


Message = Data | Begin | End | Cut | Drop | Anomalies

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Message)

# Records per data message: ~40 bytes each, so a message stays far below Kafka's 1 MB
# default limit, and a rebuild decodes few large messages rather than many small ones.
MAX_RECORDS_PER_MESSAGE: Final = 8_000


class BadMessage(ValueError):
    """Bytes on the history topic that are not a history message (skipped, counted)."""


def encode(message: Message) -> bytes:
    return _ENCODER.encode(message)


def decode(value: bytes | None) -> Message:
    if value is None:
        raise BadMessage("empty value")
    try:
        return _DECODER.decode(value)
    except msgspec.DecodeError as exc:
        raise BadMessage(str(exc)) from None


def data_messages(
    records: list[HistoryRecord], generation: str | None, per_message: int = MAX_RECORDS_PER_MESSAGE
) -> list[bytes]:
    """``records`` (ordered by t) cut into encoded data messages of at most ``per_message``."""
    return [
        encode(Data(generation, records[i : i + per_message]))
        for i in range(0, len(records), per_message)
    ]


def anomaly_row(a: Anomaly) -> AnomalyRow:
    return (a.t, a.name, a.key, a.value, a.expected, a.low, a.high, a.score, a.state)


def anomaly_messages(
    records: list[Anomaly], generation: str | None, per_message: int = MAX_RECORDS_PER_MESSAGE // 2
) -> list[bytes]:
    """Anomaly records (ordered by t) as encoded ``anomalies`` messages of at most
    ``per_message`` rows (~100 bytes each: far below the topic's message limit)."""
    rows = [anomaly_row(a) for a in records]
    return [
        encode(Anomalies(generation, rows[i : i + per_message]))
        for i in range(0, len(rows), per_message)
    ]
