"""The aggregator's options (from `pulseboard aggregate`'s flags and the one Config)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.aggregate.sealer import MARKERS, SealerConfig
from pulseboard import spec
from pulseboard.packs import RegionPack


@dataclass(frozen=True, slots=True)
class AggregateOptions:
    lateness_ms: int = spec.DEFAULT_LATENESS_MS
    future_ms: int = spec.DEFAULT_FUTURE_MS
    idle_ms: int = 2000
    idle_speed: float = 1.0
    progress: str = MARKERS
    producer_timeout_ms: int = 30_000
    seal_interval_ms: int = 200
    # Provisional values every 100 ms (with the push server's 10 deltas a second): event →
    # frame p99 within 300 ms at 10,000 events/s (docs/benchmarks.md).
    provisional_interval_ms: int = 100
    commit_interval_ms: int = 1000
    checkpoint_interval_ms: int = 10_000
    sealer: bool = True
    finalizer: bool = True
    max_records: int = 10_000

    def sealer_config(self, pack: RegionPack) -> SealerConfig:
        return SealerConfig(
            pack=pack,
            lateness_ms=self.lateness_ms,
            future_ms=self.future_ms,
            idle_ms=self.idle_ms,
            idle_speed=self.idle_speed,
            progress=self.progress,
            producer_timeout_ms=self.producer_timeout_ms,
        )
