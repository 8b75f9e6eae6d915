"""Logging for every service: human-readable lines by default, JSON lines (one object per
line: ts, level, logger, msg, then any extra fields) with ``PULSEBOARD_LOG_FORMAT=json`` or
``--log-format json`` for log shippers.

Services log one line per significant event (start with the effective configuration,
partition assignment, rebalance, error, stop), never one per record."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pulseboard.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=_jsonable, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with extra fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = extra_fields(record)
        if not extras:
            return line
        tail = " ".join(
            f"{k}={json.dumps(v, default=_jsonable, ensure_ascii=False)}" for k, v in extras.items()
        )
        head, sep, trace = line.partition("\n")
        return f"{head} {tail}{sep}{trace}"


class RepeatFilter(logging.Filter):
    """Lets through at most one record per ``window_s`` for each (logger, message template)
    of the loggers under ``prefix``; the next one let through says how many were held back.

    aiokafka logs every failed fetch, heartbeat and reconnect while a broker is away, ten
    lines a second per client; an outage must show in the log, not fill the disk."""

    def __init__(self, prefix: str = "aiokafka", window_s: float = 30.0) -> None:
        super().__init__()
        self.prefix = prefix
        self.window_s = window_s
        self._last: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, record.msg)
        last = self._last.get(key)
        if last is not None and record.created - last[0] < self.window_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        if len(self._last) > 1000:  # bounded: message templates are few, but be safe
            self._last.clear()
        self._last[key] = (record.created, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this since the last one shown)"
        return True


def configure_logging(config: Config, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route every logger of the process to ``stream`` (stderr) in the configured format;
    replaces whatever handlers were there, so calling it again switches formats."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if config.log_format == "json" else TextFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if level != "DEBUG":
        # aiokafka logs every join/sync step; ours say what matters, once.
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


def public_settings(obj: object) -> dict[str, Any]:
    """A config dataclass as a dict, without the fields it hides from repr (secrets): what
    its repr shows is what a log may show."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = public_settings(value)
        elif isinstance(value, Path):
            value = str(value)
        out[f.name] = value
    return out


def log_start(log: logging.Logger, service: str, config: Config, **settings: object) -> None:
    """The one start line: the service, the cluster, the effective configuration and the
    service's own settings."""
    log.info(
        "%s: starting on %s",
        service,
        config.bootstrap_servers,
        extra={"event": "start", "service": service, "config": public_settings(config), **settings},
    )


def log_stop(log: logging.Logger, service: str, **fields: object) -> None:
    log.info("%s: stopped", service, extra={"event": "stop", "service": service, **fields})
