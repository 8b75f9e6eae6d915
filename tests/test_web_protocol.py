"""The push protocol's pure core (web/protocol.py): no sockets, no clocks, no Kafka."""

from __future__ import annotations

import itertools

import orjson
import pytest
from support import rows_of

from web.indicators import Applied, Indicator, Removal
from web.metadata import ClientTiming, build_meta
from web.protocol import (
    MESSAGE_TOO_BIG,
    POLICY_VIOLATION,
    TRY_AGAIN_LATER,
    ClientSession,
    Hub,
    Inbound,
    Limits,
    Offer,
    Timing,
)

WALL = 1_764_000_000_000
TIMING = Timing(coalesce_hz=4, ping_interval_s=5, stale_after_s=10)


def ind(name="shipments_1m", key="520000", value=1, t=100, final=False, ingest=None):
    return Indicator(name, key, value, t, final, ingest)


def ready_hub(*records: Indicator) -> Hub:
    hub = Hub(build_meta(ClientTiming(4, 5, 10)), TIMING)
    for r in records:
        hub.ingest(r, 0.0, WALL)
    hub.mark_ready()
    return hub


def decode(frame) -> dict:
    return orjson.loads(frame.data)


def connected(hub: Hub, limits: Limits | None = None, now: float = 0.0) -> ClientSession:
    """A session whose connect snapshot has been taken (its writer is now sending it)."""
    session = ClientSession(limits or Limits(), now)
    first = session.next_frame(hub, WALL)
    assert first is not None and first.kind == "snapshot"
    return session


def test_a_new_client_gets_a_snapshot_with_values_and_metadata():
    hub = ready_hub(ind(value=17), ind("on_time_rate_1h", "520100", None, 100, True))
    session = ClientSession(Limits(), 0.0)
    frame = session.next_frame(hub, WALL)
    msg = decode(frame)
    # No broadcast yet: the snapshot includes broadcast number 0.
    assert frame.data.startswith(b'{"seq":0,"type":"snapshot"')
    assert msg["seq"] == 0 and msg["type"] == "snapshot" and msg["ready"] is True
    assert msg["server_time"] == WALL
    assert rows_of(msg, "values") == {
        "shipments_1m": [["520000", 17, 100, False]],
        "on_time_rate_1h": [["520100", None, 100, True]],
    }
    meta = msg["meta"]
    assert [r["code"] for r in meta["regions"]][:2] == ["520100", "520200"]
    assert meta["regions"][0] == {
        "code": "520100", "names": {"en": "Guiyang", "zh": "贵阳市"}, "lon": 106.713,
        "lat": 26.578,
    }  # fmt: skip
    assert meta["indicators"]["freight_value_today"]["unit"] == "CNY"
    assert meta["indicators"]["on_time_rate_1h"]["unit"] == "ratio"
    assert {e["code"] for e in meta["exits"]} == {
        "CN-CQ", "CN-SC", "CN-YN", "CN-GX", "CN-GD", "CN-HN",
    }  # fmt: skip
    assert meta["timing"] == {"coalesce_hz": 4, "ping_interval_s": 5, "stale_after_s": 10}
    assert session.next_frame(hub, WALL) is None


def test_rows_sharing_the_common_second_are_sent_short():
    # Two provisional values of second 101 and one final value of second 100: the pair
    # (101, provisional) is the common one, so those rows drop t and final.
    hub = ready_hub()
    hub.ingest(ind("shipments_1m", "520100", 5, 101), 0.0, WALL)
    hub.ingest(ind("shipments_1m", "520200", 6, 101), 0.0, WALL)
    hub.ingest(ind("active_trucks_5m", "520000", 7, 100, final=True), 0.0, WALL)
    delta = hub.flush(now=1.0, wall_ms=WALL)
    assert delta is not None
    wire = orjson.loads(b"{" + delta.tail[1:])
    assert wire["at"] == [101, False]
    # Ids in order of first sight; all three are new, so the delta defines them.
    assert delta.tail.endswith(
        b',"changes":[[0,5],[1,6],[2,7,100,true]],"at":[101,false],'
        b'"defs":{"shipments_1m":[["520100",0],["520200",1]],"active_trucks_5m":[["520000",2]]}}'
    )
    # Known ids go without their definition.
    hub.ingest(ind("shipments_1m", "520200", 8, 102), 0.0, WALL)
    delta = hub.flush(now=2.0, wall_ms=WALL)
    assert delta is not None and delta.tail.endswith(b',"changes":[[1,8]],"at":[102,false]}')
    # An empty table's snapshot has no pair to share.
    tail, _ = ready_hub().snapshot_tail(WALL)
    assert b'"at"' not in tail


def test_an_id_is_defined_to_every_client_that_can_meet_it():
    # Ids hold for the server's life; a delta defines those absent from the table at the
    # previous broadcast, so a client whose snapshot came after an id's first definition
    # still learns it when a tombstoned (name, key) comes back.
    hub = ready_hub(ind(key="520000", value=1, t=100))
    early = ClientSession(Limits(), 0.0)
    ids: dict[int, tuple[str, str]] = {}
    snap = decode(early.next_frame(hub, WALL))
    assert snap["defs"] == {"shipments_1m": [["520000", 0]]} and snap["values"] == [[0, 1]]
    rows_of(snap, "values", ids)
    hub.ingest(Removal("shipments_1m", "520000"), 1.0, WALL)
    hub.ingest(ind(key="520100", value=2, t=101), 1.0, WALL)
    delta = hub.flush(now=1.1, wall_ms=WALL)
    assert delta is not None
    wire = orjson.loads(b"{" + delta.tail[1:])
    assert wire["removed"] == [0] and wire["defs"] == {"shipments_1m": [["520100", 1]]}
    # A client that connects now never hears of id 0.
    late = ClientSession(Limits(), 1.2)
    late_ids: dict[int, tuple[str, str]] = {}
    late_snap = decode(late.next_frame(hub, WALL))
    assert late_snap["defs"] == {"shipments_1m": [["520100", 1]]}
    rows_of(late_snap, "values", late_ids)
    # 520000 comes back under its old id, defined again for the late client's sake.
    hub.ingest(ind(key="520000", value=3, t=102), 2.0, WALL)
    delta = hub.flush(now=2.1, wall_ms=WALL)
    assert delta is not None
    assert delta.tail.endswith(
        b',"changes":[[0,3]],"at":[102,false],"defs":{"shipments_1m":[["520000",0]]}}'
    )
    wire = orjson.loads(b"{" + delta.tail[1:])
    for known in (ids, late_ids):
        assert rows_of(wire, "changes", known) == {"shipments_1m": [["520000", 3, 102, False]]}


def test_changes_become_one_shared_delta_and_sequence_numbers_count_every_message():
    hub = ready_hub(ind(value=1))
    a, b = connected(hub), connected(hub)
    hub.ingest(ind(value=2, t=101, ingest=WALL - 40), 0.0, WALL)
    hub.ingest(ind("tonnage_1h", "520100", 3.5, 101), 0.0, WALL)
    assert hub.flush_due() is not None
    delta = hub.flush(now=1.0, wall_ms=WALL + 5)
    assert delta is not None and delta.changes == 2 and delta.oldest_ingest_ms == WALL - 40
    for s in (a, b):
        assert s.offer(delta).outcome is Offer.QUEUED
    fa, fb = a.next_frame(hub, WALL), b.next_frame(hub, WALL)
    assert fa.data == fb.data  # one serialisation for everyone
    msg = decode(fa)
    assert msg["seq"] == 1 and msg["type"] == "delta" and msg["server_time"] == WALL + 5
    assert msg["ingest_ts"] == WALL - 40  # the oldest change's event ingest time
    # 520000 was defined by the connect snapshot (id 0); 520100 is new, so defined here.
    assert msg["defs"] == {"tonnage_1h": [["520100", 1]]}
    assert rows_of(msg, "changes", {0: ("shipments_1m", "520000")}) == {
        "shipments_1m": [["520000", 2, 101, False]],
        # tonnes below 1万 show as whole tonnes (format.js), so 3.5 t goes as 4
        "tonnage_1h": [["520100", 4, 101, False]],
    }
    a.offer(hub.ping(now=2.0, wall_ms=WALL + 9))
    ping = decode(a.next_frame(hub, WALL))
    assert ping == {
        "seq": 2, "type": "ping", "server_time": WALL + 9, "ready": True, "last_data": WALL,
    }  # fmt: skip


def test_a_change_after_a_quiet_spell_goes_out_once_its_burst_has_gathered():
    hub = ready_hub()
    first = hub.ingest(ind(value=1, t=100), 5.0, WALL)
    assert not first.coalesced
    hub.ingest(ind("tonnage_1h", value=2, t=100), 5.01, WALL)
    assert hub.flush_due() == pytest.approx(5.0 + TIMING.gather_s)
    assert hub.flush(now=5.02, wall_ms=WALL).changes == 2


def test_updates_are_coalesced_to_the_latest_and_deltas_kept_to_the_rate():
    hub = ready_hub()
    sent: list[tuple[float, list]] = []
    ids: dict[int, tuple[str, str]] = {}
    now = 0.0
    for step in range(1000):  # an update every 10 ms for 10 s
        now = step * 0.01
        due = hub.flush_due()
        if due is not None and due <= now:
            delta = hub.flush(now, WALL)
            sent.append((now, rows_of(orjson.loads(b"{" + delta.tail[1:]), "changes", ids)))
        hub.ingest(ind(value=step, t=100 + step), now, WALL)
    assert 10 * TIMING.coalesce_hz <= len(sent) <= 10 / TIMING.min_spacing_s + 1
    # Each delta carries one change per key: the newest value, not the history.
    assert all(len(changes["shipments_1m"]) == 1 for _, changes in sent)
    last_at, last = sent[-1]
    assert last["shipments_1m"][0][1] == round(last_at / 0.01) - 1
    # Spacing is kept between due times; a send may lag its due time by one 10 ms tick.
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= TIMING.min_spacing_s - 0.01 - 1e-9


def test_an_upstream_at_the_same_rate_is_followed_without_a_lasting_lag():
    """Steps every 250 ms, one extra burst out of phase, and late timer wake-ups: the
    lag behind each step shrinks back to the gather time instead of persisting."""
    hub = ready_hub()
    lags = []
    events = [(0.2, -1)] + [(0.25 * k, k) for k in range(1, 80)]  # the extra one first
    for at, k in events:
        due = hub.flush_due()
        while due is not None and due <= at:
            hub.flush(due + 0.004, WALL)  # timers fire a little late
            due = hub.flush_due()
        hub.ingest(ind(value=k, t=1000 + k + 1), at, WALL)
        due = hub.flush_due()
        lags.append(due - at)
    assert lags[1] > 0.15  # the out-of-phase burst pushed a step back...
    assert all(lag == pytest.approx(TIMING.gather_s) for lag in lags[-40:])  # ...not for long


def test_coalesced_updates_are_reported():
    hub = ready_hub()
    hub.ingest(ind(value=1, t=100), 0.0, WALL)
    hub.flush(now=0.1, wall_ms=WALL)
    outcomes = [hub.ingest(ind(value=v, t=100 + v), 0.2, WALL) for v in (2, 3, 4)]
    assert [o.coalesced for o in outcomes] == [False, True, True]


def test_unchanged_and_older_records_make_no_delta():
    hub = ready_hub(ind(value=5, t=100))
    hub.ingest(ind(value=5, t=100), 0.0, WALL)  # the same again
    hub.ingest(ind(value=9, t=99), 0.0, WALL)  # older
    assert hub.flush_due() is None


def test_nothing_is_broadcast_until_the_compacted_state_is_read():
    hub = Hub(build_meta(ClientTiming(4, 5, 10)), TIMING)
    session = ClientSession(Limits(), 0.0)
    early = decode(session.next_frame(hub, WALL))
    assert early["ready"] is False and early["values"] == []
    for v in range(50):
        hub.ingest(ind(value=v, t=100 + v), 0.0, WALL)
    assert hub.flush_due() is None
    hub.mark_ready()
    session.owe_snapshot("ready")  # what the server does for every client
    frame = session.next_frame(hub, WALL + 1000)
    assert frame.reason == "ready"
    assert rows_of(decode(frame), "values") == {"shipments_1m": [["520000", 49, 149, False]]}
    assert hub.flush_due() is None


def test_a_tombstone_removes_the_value_and_is_announced():
    hub = ready_hub(ind(value=5))
    session = connected(hub)
    hub.ingest(Removal("shipments_1m", "520000"), 0.0, WALL)
    session.offer(hub.flush(now=1.0, wall_ms=WALL))
    msg = decode(session.next_frame(hub, WALL))
    assert msg["changes"] == [] and msg["removed"] == [0]  # the id of 520000 (snapshot)
    assert hub.table.values == {}


def test_resync_replaces_the_queue_by_a_fresh_snapshot_numbered_as_the_last_delta_in_it():
    hub = ready_hub(ind(value=1))
    session = connected(hub)
    hub.ingest(ind(value=2, t=101), 0.0, WALL)
    session.offer(hub.flush(now=1.0, wall_ms=WALL))
    assert session.receive('{"type":"resync"}', now=1.0) is Inbound.RESYNC
    frame = session.next_frame(hub, WALL)
    # Delta 1 is in the snapshot, so the snapshot is number 1 and the next delta 2.
    assert frame.kind == "snapshot" and frame.reason == "resync" and frame.seq == 1
    assert rows_of(decode(frame), "values") == {"shipments_1m": [["520000", 2, 101, False]]}
    assert session.next_frame(hub, WALL) is None  # the queued delta was superseded


def test_a_client_in_step_takes_frames_directly_and_one_behind_queues_them():
    hub = ready_hub(ind(value=1))
    direct, behind, fresh = connected(hub), connected(hub), ClientSession(Limits(), 0.0)
    hub.ingest(ind(value=2, t=101), 0.0, WALL)
    first = hub.flush(now=1.0, wall_ms=WALL)
    assert direct.take_direct(first) and direct.seq == 1
    # One with a frame queued keeps its order: this one and the next go through the queue.
    assert behind.offer(first).outcome is Offer.QUEUED
    hub.ingest(ind(value=3, t=102), 0.0, WALL)
    second = hub.flush(now=2.0, wall_ms=WALL)
    assert not behind.take_direct(second)
    assert fresh.take_direct(second) is False  # it owes its snapshot first
    assert direct.take_direct(second) and direct.seq == 2
    behind.offer(second)
    assert [behind.next_frame(hub, WALL).seq for _ in range(2)] == [1, 2]
    # Every client gets the very same bytes for broadcast 2.
    assert second.data == b'{"seq":2' + second.tail
    # The newcomer's snapshot includes broadcast 2; its next frame is 3.
    snap = fresh.next_frame(hub, WALL)
    assert snap.kind == "snapshot" and snap.seq == 2
    assert rows_of(decode(snap), "values") == {"shipments_1m": [["520000", 3, 102, False]]}


def test_heartbeats_keep_a_client_and_silence_closes_it():
    hub = ready_hub()
    session = connected(hub, Limits(client_timeout_s=30), now=0.0)
    assert session.receive('{"type":"heartbeat"}', now=25.0) is Inbound.HEARTBEAT
    assert not session.expired(50.0)
    assert session.expired(56.0)
    assert session.close.code == POLICY_VIOLATION and session.close.reason == "no heartbeat"
    assert session.next_frame(hub, WALL) is None
    assert session.offer(hub.ping(now=1, wall_ms=WALL)).outcome is Offer.CLOSED


def test_server_pings_come_every_interval():
    hub = ready_hub()
    assert hub.ping_due() == -float("inf")
    hub.ping(now=100.0, wall_ms=WALL)
    assert hub.ping_due() == 105.0


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff binary", "not json", "[1, 2]", '"heartbeat"', "{}", '{"type": 7}', "{"],
)
def test_garbage_from_a_client_is_counted_and_ignored(garbage):
    hub = ready_hub(ind())
    session = connected(hub)
    assert session.receive(garbage, now=1.0) is Inbound.INVALID
    assert session.close is None
    assert session.receive('{"type":"subscribe","topic":"x"}', now=1.0) is Inbound.IGNORED
    assert session.receive('{"type":"heartbeat"}', now=1.0) is Inbound.HEARTBEAT


def test_persistent_garbage_or_a_flood_closes_the_connection():
    limits = Limits(max_invalid_messages=3, message_burst=100)
    session = ClientSession(limits, 0.0)
    results = [session.receive("nope", now=0.1 * i) for i in range(5)]
    assert results == [Inbound.INVALID] * 3 + [Inbound.CLOSE] * 2
    assert session.close.code == POLICY_VIOLATION

    flood = ClientSession(Limits(message_burst=5, message_rate_per_s=1.0), 0.0)
    results = [flood.receive('{"type":"heartbeat"}', now=0.0) for _ in range(6)]
    assert results[-1] is Inbound.CLOSE and flood.close.reason == "too many messages"
    # A well-behaved page (a heartbeat every few seconds) never gets near the limit.
    calm = ClientSession(Limits(message_burst=5, message_rate_per_s=1.0), 0.0)
    assert all(
        calm.receive('{"type":"heartbeat"}', now=2.0 * i) is Inbound.HEARTBEAT for i in range(1000)
    )


def test_an_oversized_frame_closes_with_message_too_big():
    session = ClientSession(Limits(max_message_bytes=64), 0.0)
    assert session.receive('{"type":"heartbeat","pad":"' + "x" * 100 + '"}', 0.0) is Inbound.CLOSE
    assert session.close.code == MESSAGE_TOO_BIG


def test_a_client_that_never_reads_costs_a_bounded_buffer_then_gets_the_latest_snapshot():
    limits = Limits(max_queue_frames=8, max_queue_bytes=1 << 20, max_overflows=3)
    hub = ready_hub(ind(value=0))
    stuck = connected(hub, limits)  # its writer is blocked sending the first snapshot
    reader = connected(hub, limits)
    outcomes = []
    for v in range(1, 501):
        hub.ingest(ind(value=v, t=100 + v), 0.0, WALL)
        delta = hub.flush(now=float(v), wall_ms=WALL)
        outcomes.append(stuck.offer(delta).outcome)
        assert reader.offer(delta).outcome is Offer.QUEUED
        assert decode(reader.next_frame(hub, WALL))["changes"] == [[0, v]]
        assert stuck.queued_frames <= limits.max_queue_frames
    # Eight frames queued, one overflow, then nothing more is held for it.
    assert outcomes[:8] == [Offer.QUEUED] * 8
    assert outcomes[8] is Offer.OVERFLOW
    assert set(outcomes[9:]) == {Offer.SUPERSEDED}
    assert stuck.queued_frames == 0 and stuck.queued_bytes == 0 and stuck.close is None
    # When it reads again it gets the present, not the backlog.
    frame = stuck.next_frame(hub, WALL)
    assert frame.kind == "snapshot" and frame.reason == "overflow" and frame.seq == 500
    assert rows_of(decode(frame), "values") == {"shipments_1m": [["520000", 500, 600, False]]}
    assert stuck.next_frame(hub, WALL) is None


def test_a_client_that_keeps_falling_behind_is_dropped():
    limits = Limits(max_queue_frames=4, max_overflows=2)
    hub = ready_hub(ind(value=0))
    slow = connected(hub, limits)
    overflows = 0
    for v in range(1, 100):
        hub.ingest(ind(value=v, t=100 + v), 0.0, WALL)
        result = slow.offer(hub.flush(now=float(v), wall_ms=WALL))
        if result.outcome is Offer.OVERFLOW:
            overflows += 1
            assert result.dropped_changes == 5
            if slow.close is None:
                slow.next_frame(hub, WALL)  # it manages one snapshot, then stalls again
        if slow.close is not None:
            break
    assert overflows == 3
    assert slow.close.code == TRY_AGAIN_LATER and slow.close.reason == "client too slow"


def test_a_client_that_catches_up_is_forgiven():
    limits = Limits(max_queue_frames=2, max_overflows=1)
    hub = ready_hub(ind(value=0))
    session = connected(hub, limits)
    for _round in range(5):
        for v in range(1, 4):  # overflow once (each a new displayed value)...
            hub.ingest(ind(value=v, t=1000 * (_round + 1) + v), 0.0, WALL)
            session.offer(hub.flush(now=float(v), wall_ms=WALL))
        session.next_frame(hub, WALL)  # ...take the snapshot...
        hub.ingest(ind(value=99, t=1000 * (_round + 1) + 500), 0.0, WALL)
        session.offer(hub.flush(now=0.0, wall_ms=WALL))
        assert session.next_frame(hub, WALL).kind == "delta"  # ...and drain to empty
    assert session.close is None and session.overflows == 0


def test_snapshots_are_serialised_once_per_version_and_second():
    hub = ready_hub(ind(value=1))
    first, _ = hub.snapshot_tail(WALL)
    assert hub.snapshot_tail(WALL + 500)[0] is first
    hub.ingest(ind(value=2, t=101), 0.0, WALL)
    assert hub.snapshot_tail(WALL + 500)[0] is not first


# ------------------------------------------------ values at the precision the wall shows


def test_values_go_at_the_walls_precision_and_only_when_what_it_shows_changes():
    hub = ready_hub(ind("freight_value_1h", "520000", 123_456_789.123, 100))
    session = connected(hub)
    # 1.23亿元 / ¥123M either way: the newer record is kept but nothing is sent
    outcome = hub.ingest(ind("freight_value_1h", "520000", 123_499_999.9, 101), 0.0, WALL)
    assert outcome.applied is Applied.SAME and hub.flush_due() is None
    assert hub.table.values[("freight_value_1h", "520000")].t == 101
    # a final record of the same shown value: nothing either
    outcome = hub.ingest(ind("freight_value_1h", "520000", 123_456_000.0, 101, True), 0.0, WALL)
    assert outcome.applied is Applied.SAME and hub.flush_due() is None
    # 1.24亿元: sent, as 124,000,000 (steps of 1e6: the zh wall's 2 decimals of 亿)
    hub.ingest(ind("freight_value_1h", "520000", 123_500_000.5, 102), 0.0, WALL)
    delta = hub.flush(now=1.0, wall_ms=WALL)
    assert delta is not None and delta.changes == 1
    session.offer(delta)
    msg = decode(session.next_frame(hub, WALL))
    assert msg["changes"] == [[0, 124_000_000]] and msg["at"] == [102, False]
    # the on-time rate at a tenth of a percent, the snapshot too
    hub.ingest(ind("on_time_rate_1h", "520000", 0.87654321, 102), 0.0, WALL)
    tail, _ = hub.snapshot_tail(WALL)
    values = rows_of(orjson.loads(b"{" + tail[1:]), "values")
    assert values["on_time_rate_1h"] == [["520000", 0.877, 102, False]]


def test_a_pending_change_that_returns_to_the_shown_value_still_goes_with_the_newest():
    hub = ready_hub(ind(value=10, t=100))
    hub.ingest(ind(value=11, t=101), 0.0, WALL)
    hub.ingest(ind(value=10.2, t=102), 0.0, WALL)  # shows 10 again: the pending 11 is stale
    delta = hub.flush(now=1.0, wall_ms=WALL)
    assert delta is not None
    assert delta.tail.endswith(b',"changes":[[0,10]],"at":[102,false]}')
