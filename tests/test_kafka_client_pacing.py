"""Backoff between failed metadata refreshes (`pulseboard.kafka_client.paced`), on a fake
client: aiokafka itself retries them in a tight loop while the cluster is unreachable."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from pulseboard.kafka_client import METADATA_RETRY_FIRST_S, METADATA_RETRY_MAX_S, paced


class FakeClient:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.calls = 0

    async def _metadata_update(self, cluster: object, topics: object) -> bool:
        self.calls += 1
        return self.answers.pop(0)


class Owner:
    def __init__(self, client: FakeClient) -> None:
        self._client = client


async def test_failed_refreshes_back_off_exponentially_and_success_resets() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = FakeClient([False] * 7 + [True, False])
    owner = paced(Owner(client), sleep=sleep)
    assert owner._client is client
    results = [await client._metadata_update(None, None) for _ in range(9)]
    assert results == [False] * 7 + [True, False]
    # 0.1, 0.2, 0.4, 0.8, 1.6, then capped at 2 s (each with +/-20 % jitter); none after
    # the success, and the next failure starts again from the first delay.
    first, cap = METADATA_RETRY_FIRST_S, METADATA_RETRY_MAX_S
    nominal = [first * 2**i for i in range(5)] + [cap, cap, first]
    assert len(slept) == len(nominal)
    for got, want in zip(slept, nominal, strict=True):
        assert 0.8 * want <= got <= 1.2 * want


async def test_pacing_twice_wraps_once_and_real_clients_are_reached() -> None:
    client = FakeClient([True])
    paced(paced(Owner(client)))
    assert await client._metadata_update(None, None) is True
    assert client.calls == 1
    # The private method this relies on exists in the installed aiokafka: if a release
    # renamed it, pacing would silently do nothing, so this test would say so.
    consumer = paced(AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1"))
    assert getattr(consumer._client._metadata_update, "_pulseboard_paced", False)
    await consumer.stop()
