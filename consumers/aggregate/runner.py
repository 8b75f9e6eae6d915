"""One aggregator process: the configured stages on one asyncio loop, sharing a producer
(docs/aggregator.md section 1)."""

from __future__ import annotations

import asyncio
import logging

from consumers.aggregate.finalizer_service import FinalizerService
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.options import AggregateOptions
from consumers.aggregate.sealer_service import SealerService
from consumers.aggregate.sink import BatchSink, Sink
from pulseboard import spec
from pulseboard.config import LIVE_SESSION, Config
from pulseboard.history.writer import LiveHistorySink, history_topic
from pulseboard.kafka_client import kafka_admin
from pulseboard.publishing import producer_for

log = logging.getLogger("pulseboard.aggregate")


async def run_aggregator(
    config: Config, opts: AggregateOptions, metrics: AggregatorMetrics, stop: asyncio.Event
) -> None:
    """Run the configured stages until ``stop`` is set or one of them fails."""
    producer = producer_for(config, "pulseboard-aggregate")
    await producer.start()
    admin = kafka_admin(config, "pulseboard-aggregate-admin")
    await admin.start()
    sink = Sink(producer)
    services: list[SealerService | FinalizerService] = []
    try:
        if opts.sealer:
            services.append(SealerService(config, opts, metrics, sink, admin))
        if opts.finalizer:
            indicators = BatchSink(producer, config.kafka.topic(spec.TOPIC_INDICATORS))
            # Only the live session's finals are live history: a replay session's are the
            # offline replay's, stored by `replay --to-history` (docs/history.md).
            history = (
                LiveHistorySink(producer, history_topic(config))
                if config.kafka.session == LIVE_SESSION
                else None
            )
            services.append(
                FinalizerService(config, opts, metrics, sink, admin, indicators, history)
            )
        for service in services:
            await service.start()
        tasks = [asyncio.create_task(s.run(stop), name=s.stage) for s in services]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopper.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for service, result in zip(services, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s failed: %r", service.stage, result)
                raise result
    finally:
        for service in services:
            try:
                await service.close()
            except Exception as exc:
                log.warning("%s: clean stop failed: %r", service.stage, exc)
        try:
            await sink.flush()
        finally:
            await admin.close()
            await producer.stop()
