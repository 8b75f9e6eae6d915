"""Replay sessions: which topics a replayed log goes to, and when a replay must be refused
(pure decisions; ``producers/replay_to_kafka.py`` asks Kafka for the facts).

A session is a named run of the pipeline (SPEC section 9): ``live``, or one per replayed
log, each with its own topics (``session-NAME.`` after the topic prefix), so that old events
never reach the live wall and a replay's final values are its own.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from pulseboard.config import LIVE_SESSION, SESSION_NAME

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def session_for_log(path: str) -> str:
    """The session a replayed log goes to by default: its file name without the log
    suffixes, made a valid session name (``Day 3.jsonl.gz`` -> ``day-3``)."""
    name = PurePath(path).name.lower()
    for suffix in (".gz", ".jsonl", ".json", ".log", ".txt"):
        name = name.removesuffix(suffix)
    name = _NOT_ALLOWED.sub("-", name).strip("-_")[:63].rstrip("-_")
    if not name or name == LIVE_SESSION or not SESSION_NAME.fullmatch(name):
        return "replay"
    return name


def replay_refusal(
    session: str, *, force: bool, live_consumers: int, records_in_topics: int
) -> str | None:
    """Why a replay into ``session`` must not go ahead (None: it may).

    ``live_consumers``: members of the session's aggregator group right now;
    ``records_in_topics``: records already in the session's events topics."""
    if force:
        return None
    if session == LIVE_SESSION and live_consumers > 0:
        return (
            f"{live_consumers} aggregator(s) are consuming the live topics: this log's old "
            "events would be counted into the live wall's values (and mostly as too late). "
            "Replay into a session of its own instead (--session NAME, then "
            "`pulseboard up --session NAME`), or pass --force to publish into the running "
            "pipeline on purpose"
        )
    if session != LIVE_SESSION and records_in_topics > 0:
        return (
            f"session {session!r} already holds {records_in_topics} records: a session is one "
            "log, and once a replay has ended its final values are complete. Choose another "
            f"--session name, delete this one with `pulseboard kafka drop --session {session}`, "
            "or pass --force to add to it (e.g. the next part of a log replayed with --no-end)"
        )
    return None
