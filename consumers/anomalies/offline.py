"""``pulseboard replay LOG --anomalies FILE``: the call-outs of a replayed log, offline.

The final records the replay computes go through the same ``Detector`` the live service
runs, in the same order, so the file holds exactly the call-outs the live service publishes
for the same records. Written to a temporary name and renamed once the replay succeeded.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from consumers.anomalies.detector import Callout, Detector, DetectorConfig
from consumers.anomalies.records import encode_lines
from pulseboard.config import ConfigError
from pulseboard.indicators import Record


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anomalies",
        metavar="FILE",
        help="also write the anomaly call-outs of the final records to FILE (JSON Lines); "
        "baselines come from the log's own earlier days (docs/anomalies.md)",
    )
    add_period_argument(parser)


def add_period_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anomaly-period",
        type=int,
        default=DetectorConfig().period_s,
        metavar="SECONDS",
        help="length of the daily rhythm the usual level repeats with (default 86400: a day; "
        "shorter only to try the detector on short logs)",
    )


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    """The detector's configuration from the command line (wrong values fail fast)."""
    period = args.anomaly_period
    if period <= 0:  # before the offset is taken modulo it
        raise ConfigError(f"--anomaly-period must be a positive number of seconds, not {period}")
    try:
        return DetectorConfig(period_s=period, offset_s=DetectorConfig().offset_s % period)
    except ValueError as exc:
        raise ConfigError(f"--anomaly-period: {exc}") from None


class Callouts:
    """The detector on the records written through ``tee``; its call-outs go to ``take``, by
    default kept in ``found`` (a few per hour of data: `replay --to-history` writes them into
    the session once its records are out)."""

    def __init__(
        self,
        config: DetectorConfig | None = None,
        take: Callable[[list[Callout]], None] | None = None,
    ) -> None:
        self.detector = Detector(config)
        self.found: list[Callout] = []
        self._take = take if take is not None else self.found.extend

    def tee(self, write: Callable[[list[Record]], None]) -> Callable[[list[Record]], None]:
        """``write`` that also feeds the detector."""

        def both(records: list[Record]) -> None:
            write(records)
            self._take(self.detector.feed(records))

        return both

    def finish(self) -> list[Callout]:
        """Judge up to the last record (the input has ended); ``found``."""
        self._take(self.detector.flush())
        return self.found


class AnomalyFile:
    def __init__(self, path: str, config: DetectorConfig | None = None) -> None:
        self._path = Path(path)
        self._tmp = self._path.with_name(f".{self._path.name}.partial-{os.getpid()}")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close/abort
        self._detecting = Callouts(config, self._write)
        self.callouts = 0

    def tee(self, write: Callable[[list[Record]], None]) -> Callable[[list[Record]], None]:
        """``write`` that also writes the call-outs to the file."""
        return self._detecting.tee(write)

    def _write(self, callouts: list[dict[str, object]]) -> None:
        if callouts:
            self.callouts += len(callouts)
            self._fh.write(encode_lines(callouts))

    def close(self) -> None:
        self._detecting.finish()
        self._fh.close()
        os.replace(self._tmp, self._path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
