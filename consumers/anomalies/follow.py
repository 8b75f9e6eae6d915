"""What the live anomaly service does with each history message (no I/O).

The service reads one session's messages from the history topic (docs/history.md) in topic
order, from the beginning, so a restart rebuilds the baselines from Kafka, never from a
disk. ``Follower`` turns them into detector calls:

* ``data`` of the session's current generation: its records, in order, into the detector;
  data of another generation is a stray of an older replay and is skipped.
* ``begin`` (a replayed session written again): the session starts over, so does the detector.
* ``cut``: no value carries across it (backfilled days end and start with one).
* ``drop``: the session is gone; the detector starts over.
* ``end`` (a replayed session complete): judged up to its last record, as offline.

Call-outs at or before ``published_until`` were published by an earlier run of the service
(the same input gives the same call-outs), so they are not handed out again.
"""

from __future__ import annotations

from consumers.anomalies.detector import Callout, Detector, DetectorConfig
from pulseboard.history.codec import Begin, Cut, Data, Drop, End, Message
from pulseboard.indicators import Record


class Follower:
    def __init__(self, config: DetectorConfig | None = None, published_until: int = -1) -> None:
        self._config = config
        self.detector = Detector(config)
        self.generation: str | None = None
        self.published_until = published_until
        self.skipped_messages = 0

    def apply(self, message: Message) -> list[Callout]:
        if isinstance(message, Data):
            if message.g != self.generation:
                self.skipped_messages += 1
                return []
            return self._new(self.detector.feed(Record(*r) for r in message.r))
        if isinstance(message, Cut):
            return self._new(self.detector.cut(message.t)) if message.g == self.generation else []
        if isinstance(message, Begin):
            self.generation = message.g
            self.detector = Detector(self._config)
        elif isinstance(message, Drop):
            self.generation = None
            self.detector = Detector(self._config)
        elif isinstance(message, End) and message.g == self.generation:
            # A replayed session is complete: judge up to its last record, as the offline
            # replay does at the end of the log.
            return self._new(self.detector.flush())
        return []

    def _new(self, callouts: list[Callout]) -> list[Callout]:
        return [c for c in callouts if int(c["t"]) > self.published_until]  # type: ignore[call-overload]
