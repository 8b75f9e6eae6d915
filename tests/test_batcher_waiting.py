"""Records held behind a batch on its way leave as soon as it is acknowledged
(pulseboard.publishing.Batcher.send_waiting), with a fake client in place of aiokafka."""

import asyncio

from pulseboard.publishing import Batcher


class FakeBuilder:
    def __init__(self) -> None:
        self.values: list[bytes | None] = []
        self.closed = False

    def append(self, *, timestamp, key, value, headers):
        self.values.append(value)
        return object()  # aiokafka returns metadata; None would mean "full"

    def record_count(self) -> int:
        return len(self.values)

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, list]] = []
        self.futures: list[asyncio.Future] = []

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder()

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int):
        assert builder.closed  # closed: the client sends it without waiting out a linger
        self.sent.append((topic, partition, builder.values))
        fut = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut


async def test_a_held_batch_leaves_when_the_one_ahead_is_acknowledged():
    producer = FakeProducer()
    batcher = Batcher(producer)  # type: ignore[arg-type]
    batcher.append("buckets", 0, b"k", b"sealed", None)
    await batcher.send_ready("buckets")
    assert producer.sent == [("buckets", 0, [b"sealed"])]
    # The next message finds the first batch on its way: it waits in an open batch.
    batcher.append("buckets", 0, b"k", b"provisional", None)
    await batcher.send_ready("buckets")
    assert len(producer.sent) == 1 and batcher.holding
    await batcher.send_waiting()
    assert len(producer.sent) == 1  # still on its way: nothing more to send yet
    producer.futures[0].set_result(None)
    await batcher.send_waiting()  # no new publish needed
    assert producer.sent[1] == ("buckets", 0, [b"provisional"])
    assert not batcher.holding
    producer.futures[1].set_result(None)
    await batcher.flush()
