"""The benchmark's cheap walls (benchmarks/ws_walls.py): frames as websockets itself writes
them, split anywhere, come out whole or cut to their head; gaps and latencies are counted
as hand-worked below; and the walls follow a real push server over real sockets."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import serve_settings
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from benchmarks.ws_walls import (
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    ProtocolError,
    SequenceCheck,
    Tally,
    check_handshake,
    masked_frame,
    run_walls,
)
from web.harness import serving
from web.indicators import Indicator


def server_bytes(frames: list[Frame]) -> bytes:
    # websockets' own encoder is the independent model of the wire format.
    return b"".join(f.serialize(mask=False) for f in frames)


def text(size: int, seq: int) -> bytes:
    head = b'{"seq":%d,"type":"delta"' % seq
    return head + b',"pad":"' + b"x" * max(0, size - len(head) - 10) + b'"}'


frames_strategy = st.lists(
    st.one_of(
        st.tuples(st.just(OP_TEXT), st.sampled_from([20, 125, 126, 300, 65535, 65536, 70000])),
        st.tuples(st.just(OP_PING), st.integers(0, 125)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(spec=frames_strategy, cuts=st.lists(st.integers(1, 5000), max_size=40))
def test_frames_split_anywhere_come_out_whole_or_cut_to_their_head(spec, cuts):
    frames, expected, data_frames = [], [], 0
    for i, (op, size) in enumerate(spec):
        if op == OP_TEXT:
            payload = text(size, i)
            frames.append(Frame(Opcode.TEXT, payload))
            # every third data frame (the first included) whole, the others their 40 bytes
            head = payload if data_frames % 3 == 0 else payload[:40]
            data_frames += 1
        else:
            payload = bytes(range(size))
            frames.append(Frame(Opcode.PING, payload))
            head = payload
        expected.append((op, head, len(payload)))
    stream = server_bytes(frames)
    reader = FrameReader(keep=40, whole_every=3)
    got, pos = [], 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[pos : pos + cut])
        pos += cut
        if pos >= len(stream):
            break
    got += reader.feed(stream[pos:]) if pos < len(stream) else []
    assert got == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (bytes([0x01, 0x03]) + b"abc", "fragmented"),  # FIN bit clear
        (bytes([0xC1, 0x03]) + b"abc", "reserved bits"),  # RSV1: compressed
        (bytes([0x81, 0x83]) + b"\0\0\0\0abc", "masked"),
        (bytes([0x89, 0x7E, 0x00, 0x80]) + b"x" * 128, "control frame longer"),
    ],
)
def test_what_a_push_server_never_sends_is_a_clear_error(raw, problem):
    with pytest.raises(ProtocolError, match=problem):
        FrameReader().feed(raw)


def test_gaps_and_latencies_are_counted_as_a_wall_would():
    tally = Tally()
    check = SequenceCheck(tally)
    frames = [  # (head, arrival ms)
        (b'{"seq":5,"type":"snapshot","server_time":1000,"ready":true', 1000.0),
        (b'{"seq":6,"type":"delta","server_time":1100,"ingest_ts":1010,"changes":[', 1120.0),
        (b'{"seq":7,"type":"ping","server_time":1200,"ready":true', 1200.0),
        # 8 is lost: one gap
        (b'{"seq":9,"type":"delta","server_time":1300,"ingest_ts":null,"changes":[', 1310.0),
        # a snapshot may jump ahead (it carries the last broadcast it includes)
        (b'{"seq":20,"type":"snapshot","server_time":1400,"ready":true', 1400.0),
        (b'{"seq":21,"type":"delta","server_time":1500,"ingest_ts":1250,"changes":[', 1530.0),
        # going back is a gap too
        (b'{"seq":3,"type":"delta","server_time":1600,"ingest_ts":1600,"changes":[', 1650.0),
    ]
    for head, now in frames:
        check.frame(head, len(head) + 100, now)
    assert tally.received == 7
    assert tally.gaps == 2
    assert tally.kinds == {"snapshot": 2, "delta": 4, "ping": 1}
    assert list(tally.lat) == [110.0, 280.0, 50.0]  # 1120-1010, 1530-1250, 1650-1600
    assert list(tally.t) == [1120.0, 1530.0, 1650.0]


def test_a_whole_frame_must_agree_with_its_header():
    check = SequenceCheck(Tally())
    good = b'{"seq":4,"type":"delta","server_time":1,"ingest_ts":1,"changes":[]}'
    check.frame(good, len(good), 2.0)
    lying = b'{"seq":5,"type":"delta","server_time":1,"ingest_ts":1,"seq":6}'
    with pytest.raises(ProtocolError, match="disagrees"):
        check.frame(lying, len(lying), 2.0)
    with pytest.raises(ProtocolError, match="not a pulseboard frame"):
        check.frame(b'{"type":"delta"}', 16, 2.0)


def test_the_handshake_answer_is_checked_against_the_key():
    # RFC 6455 section 1.3's worked example.
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    ok = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    check_handshake(ok, key)
    with pytest.raises(ProtocolError, match="wrong"):
        check_handshake(ok.replace(b"s3p", b"s3q"), key)
    with pytest.raises(ProtocolError, match="refused"):
        check_handshake(b"HTTP/1.1 503 Service Unavailable\r\n", key)


def test_a_pong_is_a_masked_frame_websockets_reads_back():
    raw = masked_frame(OP_PONG, b"\x01\x02\x03\x04", b"\x0f\xf0\x55\xaa")
    reader = StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.data, frame.fin) == (Opcode.PONG, b"\x01\x02\x03\x04", True)


async def test_the_walls_follow_a_real_push_server_without_a_gap(static_dir):
    count, values = 30, 8
    loop = asyncio.get_running_loop()
    deltas_seen: asyncio.Queue[int] = asyncio.Queue()
    stop = threading.Event()
    opened = threading.Event()

    def stopped(tally: Tally) -> bool:  # called by the walls' thread every 0.2 s
        loop.call_soon_threadsafe(deltas_seen.put_nowait, tally.kinds.get("delta", 0))
        return stop.is_set()

    async with serving(serve_settings(static_dir), None) as server:
        server.mark_ready()
        walls = asyncio.create_task(
            asyncio.to_thread(
                run_walls, "127.0.0.1", server.port, count, ready=opened.set, stopped=stopped
            )
        )
        assert await asyncio.to_thread(opened.wait, 10)
        await asyncio.wait_for(server.wait_for_clients(count), 10)
        published = []
        for v in range(1, values + 1):
            published.append(time.time() * 1000)
            stamp = int(published[-1])
            server.ingest(Indicator("shipments_1m", "520000", v, 100 + v, False, stamp))
            # one delta per value: the next value only once every wall has this one
            async with asyncio.timeout(10):
                while await deltas_seen.get() < v * count:
                    pass
        stop.set()
        tally = await asyncio.wait_for(walls, 10)
        received_by = time.time() * 1000
    assert tally.errors == []
    assert tally.connected == count
    assert tally.kinds["snapshot"] == count
    assert tally.kinds["delta"] == values * count
    assert tally.gaps == 0
    assert len(tally.lat) == values * count
    # each delta's latency is its arrival minus the time its value was published
    assert all(0 <= lat <= received_by - published[0] for lat in tally.lat)
