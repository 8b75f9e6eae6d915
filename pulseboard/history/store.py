"""The local history index: an SQLite file filled from the history topic (docs/history.md).

One writer (the indexer's thread) applies decoded messages in transactions that also record
the topic positions they reach, so a restart resumes exactly where the file stops and a lost
file is rebuilt from the topic. Readers open their own read-only connections (WAL mode: a
read never waits for the writer). Memory is SQLite's page cache per connection (bounded by
``cache_kib``) plus a dictionary of the (name, key)s seen, which the SPEC bounds.

Rows: ``changes(sid, nk, t, value)`` is each final record, keyed (session, name|key, t), so
"the latest record of (name, key) at or before T" is one b-tree seek; the state at T is one
seek per (name, key) of the session, a series one seek per point."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from pulseboard.anomalies import Anomaly
from pulseboard.history import callouts, lookup
from pulseboard.history.codec import (
    Anomalies,
    AnomalyRow,
    Begin,
    Cut,
    Data,
    Drop,
    End,
    Message,
    anomaly_row,
)
from pulseboard.history.params import SessionRange
from pulseboard.history.sessions import LIVE
from pulseboard.indicators import Value

log = logging.getLogger("pulseboard.history")

SCHEMA_VERSION: Final = 3
INDEX_FILE: Final = "history.sqlite3"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions(part INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
    sid INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, gen TEXT, complete INTEGER NOT NULL,
    t_from INTEGER, t_to INTEGER, records INTEGER NOT NULL DEFAULT 0, ended_ms INTEGER);
CREATE TABLE IF NOT EXISTS series(
    nk INTEGER PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL, UNIQUE(name, key));
CREATE TABLE IF NOT EXISTS session_series(
    sid INTEGER NOT NULL, nk INTEGER NOT NULL, PRIMARY KEY(sid, nk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes(
    sid INTEGER NOT NULL, nk INTEGER NOT NULL, t INTEGER NOT NULL, value,
    PRIMARY KEY(sid, nk, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cuts(
    sid INTEGER NOT NULL, t INTEGER NOT NULL, PRIMARY KEY(sid, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anomaly_positions(
    part INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS session_callouts(
    sid INTEGER NOT NULL, nk INTEGER NOT NULL, PRIMARY KEY(sid, nk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS callouts(
    sid INTEGER NOT NULL, nk INTEGER NOT NULL, t INTEGER NOT NULL, state TEXT NOT NULL,
    value, expected, low, high, score, PRIMARY KEY(sid, nk, t)) WITHOUT ROWID;
"""

_STATE_SQL: Final = """
SELECT s.name, s.key, c.t, c.value
FROM session_series k
JOIN series s ON s.nk = k.nk
JOIN changes c ON c.sid = k.sid AND c.nk = k.nk AND c.t = (
    SELECT max(t) FROM changes WHERE sid = k.sid AND nk = k.nk AND t <= :t)
WHERE k.sid = :sid
"""

_CALLOUTS_SQL: Final = """
WITH latest AS (
    SELECT k.nk, (SELECT max(t) FROM callouts
                  WHERE sid = k.sid AND nk = k.nk AND t <= :t) AS t,
           (SELECT max(t) FROM callouts
            WHERE sid = k.sid AND nk = k.nk AND t <= :t AND state = 'closed') AS closed
    FROM session_callouts k WHERE k.sid = :sid)
SELECT s.name, s.key, c.t, c.state, c.value, c.expected, c.low, c.high, c.score,
    (SELECT max(t) FROM callouts WHERE sid = :sid AND nk = l.nk AND t <= :t
     AND t > coalesce(l.closed, -1) AND state = 'opened'),
    (SELECT min(t) FROM callouts WHERE sid = :sid AND nk = l.nk AND t <= :t
     AND t > coalesce(l.closed, -1))
FROM latest l
JOIN series s ON s.nk = l.nk
JOIN callouts c ON c.sid = :sid AND c.nk = l.nk AND c.t = l.t
"""

_SERIES_SQL: Final = """
WITH RECURSIVE ts(t) AS (
    SELECT :t_from UNION ALL SELECT t + :step FROM ts WHERE t + :step <= :t_to)
SELECT ts.t, c.t, c.value
FROM ts LEFT JOIN changes c ON c.sid = :sid AND c.nk = :nk AND c.t = (
    SELECT max(t) FROM changes WHERE sid = :sid AND nk = :nk AND t <= ts.t)
ORDER BY ts.t
"""


class IndexMismatch(RuntimeError):
    """The index file was built from another topic or schema; it is rebuilt."""


def index_path(directory: Path) -> Path:
    return directory / INDEX_FILE


def _connect(path: Path, *, readonly: bool, cache_kib: int) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a crash may lose the last transactions, never corrupt the
        # file; what is lost is read again from Kafka (positions are in the same commit).
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class HistoryWriter:
    """The one connection that changes the index. Not thread-safe: one thread uses it."""

    def __init__(self, directory: Path, topic: str, *, cache_kib: int = 32_768) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(directory)
        self.path = index_path(directory)
        self.topic = topic
        try:
            self.conn = _connect(self.path, readonly=False, cache_kib=cache_kib)
            self._check(topic)
        except BaseException:
            if hasattr(self, "conn"):
                self.conn.close()
            os.close(self._lock_fd)
            raise

    def _check(self, topic: str) -> None:
        self.conn.executescript(_SCHEMA)
        meta = dict(self.conn.execute("SELECT k, v FROM meta").fetchall())
        wanted = {"schema": str(SCHEMA_VERSION), "topic": topic}
        if meta and meta != wanted:
            raise IndexMismatch(
                f"{self.path} indexes {meta.get('topic')!r} (schema {meta.get('schema')}), "
                f"not {topic!r} (schema {SCHEMA_VERSION})"
            )
        if not meta:
            self.conn.executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
        self._load_caches()

    def _load_caches(self) -> None:
        self._nk: dict[tuple[str, str], int] = {
            (name, key): nk
            for nk, name, key in self.conn.execute("SELECT nk, name, key FROM series")
        }
        self._sessions: dict[str, tuple[int, str | None, bool]] = {
            name: (sid, gen, bool(complete))
            for sid, name, gen, complete in self.conn.execute(
                "SELECT sid, name, gen, complete FROM sessions"
            )
        }
        self._session_series: set[tuple[int, int]] = set()

    @classmethod
    def open_or_rebuild(cls, directory: Path, topic: str, **kw: int) -> HistoryWriter:
        """Open the index, or start it afresh if it belongs to another topic or schema."""
        try:
            return cls(directory, topic, **kw)
        except (IndexMismatch, sqlite3.DatabaseError) as exc:
            log.warning("history index %s: %s; rebuilding it from Kafka", directory, exc)
            wipe(directory)
            return cls(directory, topic, **kw)

    def close(self) -> None:
        self.conn.close()
        os.close(self._lock_fd)

    def positions(self) -> dict[int, int]:
        return dict(self.conn.execute("SELECT part, next_offset FROM positions").fetchall())

    def anomaly_positions(self) -> dict[int, int]:
        """Where reading the (live) anomalies topic resumes, per partition."""
        rows = self.conn.execute("SELECT part, next_offset FROM anomaly_positions").fetchall()
        return dict(rows)

    def apply(
        self,
        messages: Iterable[tuple[str, Message, int]],
        positions: dict[int, int],
        anomalies: Iterable[Anomaly] = (),
        anomaly_positions: dict[int, int] | None = None,
    ) -> int:
        """Apply (session, message, write time in ms) in order, and anomaly records of the
        live session, and record the positions reached in both topics, in one transaction.
        Returns the number of indicator records inserted."""
        inserted = 0
        conn = self.conn
        conn.execute("BEGIN")
        try:
            for session, msg, written_ms in messages:
                inserted += self._apply_one(session, msg, written_ms)
            self._insert_anomalies(list(anomalies))
            conn.executemany(
                "INSERT OR REPLACE INTO positions VALUES (?, ?)", sorted(positions.items())
            )
            conn.executemany(
                "INSERT OR REPLACE INTO anomaly_positions VALUES (?, ?)",
                sorted((anomaly_positions or {}).items()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            # The caches may hold what the rollback undid: read them again.
            self._load_caches()
            raise
        return inserted

    def _sid(self, session: str, gen: str | None, *, create: bool) -> int | None:
        """The session's id if ``gen`` is its current generation (creating it if unknown
        and ``create``); None if the message belongs to a replaced generation."""
        known = self._sessions.get(session)
        if known is None:
            if not create:
                return None
            # Live is complete from its first record; a replayed session once its end
            # arrived. One met without its begin (retention deleted the start of it) is
            # never shown: part of a session is not the session.
            complete = 1 if gen is None else -1
            cur = self.conn.execute(
                "INSERT INTO sessions(name, gen, complete) VALUES (?, ?, ?)",
                (session, gen, complete),
            )
            sid = int(cur.lastrowid or 0)
            self._sessions[session] = (sid, gen, complete == 1)
            return sid
        sid, current, _ = known
        return sid if current == gen else None

    def _forget(self, session: str) -> None:
        known = self._sessions.pop(session, None)
        if known is None:
            return
        sid = known[0]
        tables = ("changes", "cuts", "session_series", "callouts", "session_callouts", "sessions")
        for table in tables:
            self.conn.execute(f"DELETE FROM {table} WHERE sid = ?", (sid,))
        self._session_series = {p for p in self._session_series if p[0] != sid}

    def _apply_one(self, session: str, msg: Message, written_ms: int) -> int:
        if isinstance(msg, Data):
            sid = self._sid(session, msg.g, create=True)
            if sid is None or not msg.r:
                return 0
            return self._insert(sid, msg.r)
        if isinstance(msg, Anomalies):
            # A session's own call-outs (a replayed log's): of its current generation only.
            sid = self._sid(session, msg.g, create=True)
            if sid is not None and msg.r:
                self._insert_callouts(sid, msg.r)
            return 0
        if isinstance(msg, Begin):
            self._forget(session)
            cur = self.conn.execute(
                "INSERT INTO sessions(name, gen, complete) VALUES (?, ?, 0)", (session, msg.g)
            )
            self._sessions[session] = (int(cur.lastrowid or 0), msg.g, False)
            return 0
        if isinstance(msg, Drop):
            self._forget(session)
            return 0
        if isinstance(msg, Cut):
            sid = self._sid(session, msg.g, create=True)
            if sid is not None:
                self.conn.execute("INSERT OR IGNORE INTO cuts VALUES (?, ?)", (sid, msg.t))
            return 0
        if isinstance(msg, End):
            sid = self._sid(session, msg.g, create=True)
            if sid is not None:
                self.conn.execute(
                    "UPDATE sessions SET complete = CASE complete WHEN 0 THEN 1 ELSE complete END, "
                    "ended_ms = :w, "
                    "t_from = min(coalesce(t_from, :f), :f), t_to = max(coalesce(t_to, :t), :t) "
                    "WHERE sid = :sid",
                    {"f": msg.t_from, "t": msg.to, "sid": sid, "w": written_ms},
                )
            return 0
        return 0

    def prune(self, now_ms: int, retention_ms: int) -> int:
        """Forget what the topic's retention forgets, by a rule that depends only on the
        records and the clock, so an index rebuilt from the topic ends the same: a replayed
        session once its end was written longer ago than the retention; in ``live``, the
        records of Ts older than the retention (live records are written after their T).
        Returns the number of records removed."""
        horizon_ms = now_ms - retention_ms
        removed = 0
        self.conn.execute("BEGIN")
        try:
            old = self.conn.execute(
                "SELECT name FROM sessions WHERE gen IS NOT NULL AND ended_ms < ?", (horizon_ms,)
            ).fetchall()
            for (name,) in old:
                removed += self._count(name)
                self._forget(name)
            live = self._sessions.get(LIVE)
            if live is not None and live[1] is None:
                sid, horizon = live[0], horizon_ms // 1000
                nks = [r[0] for r in self.conn.execute(
                    "SELECT nk FROM session_series WHERE sid = ?", (sid,))]  # fmt: skip
                gone = 0
                for nk in nks:
                    cur = self.conn.execute(
                        "DELETE FROM changes WHERE sid = ? AND nk = ? AND t < ?", (sid, nk, horizon)
                    )
                    gone += cur.rowcount
                self.conn.execute("DELETE FROM cuts WHERE sid = ? AND t < ?", (sid, horizon))
                # Call-outs by the same rule (their records are written after their T too).
                self.conn.execute("DELETE FROM callouts WHERE sid = ? AND t < ?", (sid, horizon))
                if gone:
                    self.conn.execute(
                        "UPDATE sessions SET records = records - ?, "
                        "t_from = max(t_from, ?) WHERE sid = ?",
                        (gone, horizon, sid),
                    )
                removed += gone
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._load_caches()
            raise
        return removed

    def _count(self, name: str) -> int:
        row = self.conn.execute("SELECT records FROM sessions WHERE name = ?", (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def _series_id(self, name: str, key: str) -> int:
        nk = self._nk.get((name, key))
        if nk is None:
            cur = self.conn.execute("INSERT INTO series(name, key) VALUES (?, ?)", (name, key))
            nk = self._nk[(name, key)] = int(cur.lastrowid or 0)
        return nk

    def _insert_anomalies(self, records: list[Anomaly]) -> None:
        """Anomaly records of the live session, from the anomalies topic (docs/history.md,
        "Call-outs")."""
        if not records:
            return
        sid = self._sid(LIVE, None, create=True)
        if sid is None:  # live is never replaced by a generation; nothing to attach to
            return
        self._insert_callouts(sid, [anomaly_row(a) for a in records])

    def _insert_callouts(self, sid: int, records: list[AnomalyRow]) -> None:
        """A record read again replaces itself; two at the same second: the later one read
        stands, as on the live board."""
        rows = []
        for t, name, key, value, expected, low, high, score, state in records:
            nk = self._series_id(name, key)
            rows.append((sid, nk, t, state, value, expected, low, high, score))
        self.conn.executemany(
            "INSERT OR IGNORE INTO session_callouts VALUES (?, ?)", {(r[0], r[1]) for r in rows}
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO callouts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )

    def _insert(self, sid: int, records: list[tuple[int, str, str, Value]]) -> int:
        nks = self._nk
        pairs = self._session_series
        rows = []
        new_pairs = []
        for t, name, key, value in records:
            nk = nks.get((name, key))
            if nk is None:
                cur = self.conn.execute("INSERT INTO series(name, key) VALUES (?, ?)", (name, key))
                nk = nks[(name, key)] = int(cur.lastrowid or 0)
            if (sid, nk) not in pairs:
                pairs.add((sid, nk))
                new_pairs.append((sid, nk))
            rows.append((sid, nk, t, value))
        if new_pairs:
            self.conn.executemany("INSERT OR IGNORE INTO session_series VALUES (?, ?)", new_pairs)
        # A record seen again (an aggregator republishing after a restart, a day backfilled
        # twice) has the same value: final values are a pure function of the events.
        cur = self.conn.executemany("INSERT OR IGNORE INTO changes VALUES (?, ?, ?, ?)", rows)
        added = cur.rowcount
        lo = min(r[0] for r in records)
        hi = max(r[0] for r in records)
        self.conn.execute(
            "UPDATE sessions SET records = records + ?, t_from = min(coalesce(t_from, ?), ?), "
            "t_to = max(coalesce(t_to, ?), ?) WHERE sid = ?",
            (added, lo, lo, hi, hi, sid),
        )
        return added


class IndexInUse(RuntimeError):
    """Another process already writes this index folder."""


def _lock(directory: Path) -> int:
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexInUse(
            f"another push server indexes into {directory}; give each server its own "
            "folder (PULSEBOARD_HISTORY_DIR / --history-dir)"
        ) from None
    return fd


def wipe(directory: Path) -> None:
    """Remove the index file (and its WAL): the next writer rebuilds it from Kafka."""
    base = index_path(directory)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{base}{suffix}").unlink(missing_ok=True)


class HistoryReader:
    """Read-only queries; one instance per thread (SQLite connections are per thread)."""

    def __init__(self, directory: Path, *, cache_kib: int = 16_384) -> None:
        self.conn = _connect(index_path(directory), readonly=True, cache_kib=cache_kib)

    def close(self) -> None:
        self.conn.close()

    def sessions(self) -> list[SessionRange]:
        """Complete sessions with records, live first then by name."""
        rows = self.conn.execute(
            "SELECT name, t_from, t_to, records FROM sessions "
            "WHERE complete = 1 AND t_from IS NOT NULL ORDER BY name != ?, name",
            (LIVE,),
        ).fetchall()
        return [SessionRange(*row) for row in rows]

    def all_sessions(self) -> list[tuple[SessionRange, bool]]:
        """Every session the index knows, with whether it is complete (shown by the API)."""
        rows = self.conn.execute(
            "SELECT name, coalesce(t_from, 0), coalesce(t_to, 0), records, complete "
            "FROM sessions ORDER BY name != ?, name",
            (LIVE,),
        ).fetchall()
        return [(SessionRange(*row[:4]), bool(row[4])) for row in rows]

    def session(self, name: str) -> tuple[int, SessionRange] | None:
        row = self.conn.execute(
            "SELECT sid, name, t_from, t_to, records FROM sessions "
            "WHERE name = ? AND complete = 1 AND t_from IS NOT NULL",
            (name,),
        ).fetchone()
        return None if row is None else (row[0], SessionRange(*row[1:]))

    def sid_of(self, name: str) -> int | None:
        row = self.conn.execute("SELECT sid FROM sessions WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def has_records(self, sid: int, t_from: int, t_to: int) -> bool:
        """Whether the session has any record with t in t_from..t_to (one seek per key)."""
        row = self.conn.execute(
            "SELECT 1 FROM session_series k WHERE k.sid = ? AND EXISTS (SELECT 1 FROM changes c "
            "WHERE c.sid = k.sid AND c.nk = k.nk AND c.t BETWEEN ? AND ?) LIMIT 1",
            (sid, t_from, t_to),
        ).fetchone()
        return row is not None

    def _cut(self, sid: int, t: int) -> int | None:
        row = self.conn.execute(
            "SELECT max(t) FROM cuts WHERE sid = ? AND t <= ?", (sid, t)
        ).fetchone()
        return None if row is None else row[0]

    def state(self, sid: int, t: int) -> dict[str, Value]:
        rows = self.conn.execute(_STATE_SQL, {"sid": sid, "t": t}).fetchall()
        return lookup.state_values(rows, self._cut(sid, t))

    def callouts(self, sid: int, t: int) -> list[dict[str, Any]]:
        """The call-outs active at ``t``, most severe first (pulseboard/history/callouts.py)."""
        rows = self.conn.execute(_CALLOUTS_SQL, {"sid": sid, "t": t}).fetchall()
        return callouts.active_at(rows, self._cut(sid, t))

    def series_id(self, sid: int, name: str, key: str) -> int | None:
        row = self.conn.execute(
            "SELECT s.nk FROM series s JOIN session_series k ON k.nk = s.nk "
            "WHERE s.name = ? AND s.key = ? AND k.sid = ?",
            (name, key, sid),
        ).fetchone()
        return None if row is None else row[0]

    def series(
        self, sid: int, nk: int, name: str, t_from: int, t_to: int, step: int
    ) -> tuple[list[int], list[Value]]:
        points = self.conn.execute(
            _SERIES_SQL, {"sid": sid, "nk": nk, "t_from": t_from, "t_to": t_to, "step": step}
        ).fetchall()
        cuts = [
            r[0]
            for r in self.conn.execute(
                "SELECT t FROM cuts WHERE sid = ? AND t <= ? ORDER BY t", (sid, t_to)
            )
        ]
        return [p[0] for p in points], lookup.series_values(name, points, cuts)
