"""Structured logs (pulseboard/logs.py): the JSON formatter's shape, extra fields, errors,
the choice of format through the one Config object, and that secrets never reach a log."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterator

import pytest
from support import run_cli

from pulseboard.config import ConfigError, config_from_env
from pulseboard.logs import (
    JsonFormatter,
    RepeatFilter,
    configure_logging,
    log_start,
    log_stop,
    public_settings,
)

SECRET = "s3cret-Pa55word"
SASL_ENV = {
    "PULSEBOARD_BOOTSTRAP": "kafka.example:9094",
    "PULSEBOARD_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "PULSEBOARD_SASL_MECHANISM": "SCRAM-SHA-256",
    "PULSEBOARD_SASL_USERNAME": "wall",
    "PULSEBOARD_SASL_PASSWORD": SECRET,
}


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    aiokafka_level = logging.getLogger("aiokafka").level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(aiokafka_level)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("pulseboard.test")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, msg, args, None, extra=extra
    )


def test_json_formatter_writes_one_object_with_the_fixed_fields_and_extras():
    record = _record("assigned %s", "freight.events[0,1]\nsecond line", partitions=2, stage="x")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["level"] == "WARNING"
    assert obj["logger"] == "pulseboard.test"
    assert obj["msg"] == "assigned freight.events[0,1]\nsecond line"
    assert obj["partitions"] == 2 and obj["stage"] == "x"
    assert obj["ts"].endswith("Z")
    # ts is the record's creation time, in UTC with milliseconds
    from datetime import datetime

    parsed = datetime.fromisoformat(obj["ts"].replace("Z", "+00:00"))
    assert abs(parsed.timestamp() - record.created) < 0.001
    assert list(obj)[:4] == ["ts", "level", "logger", "msg"]


def test_json_formatter_keeps_exceptions_and_odd_values_on_one_line():
    logger = logging.getLogger("pulseboard.test")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "failed",
            (),
            sys.exc_info(),
            extra={"obj": object(), "path": os.path},
        )
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    obj = json.loads(line)
    assert "RuntimeError: boom" in obj["exc"]
    assert obj["obj"].startswith("<object object")


def test_repeated_aiokafka_lines_are_held_back_and_counted():
    f = RepeatFilter(window_s=30)

    def rec(name: str, msg: str, created: float) -> logging.LogRecord:
        r = logging.getLogger(name).makeRecord(name, logging.ERROR, __file__, 1, msg, ("x",), None)
        r.created = created
        return r

    fetch = "Failed fetch messages from 1: %s"
    shown = [
        r.getMessage()
        for r in (rec("aiokafka.consumer.fetcher", fetch, 100 + i / 10) for i in range(200))
        if f.filter(r)
    ]
    assert shown == ["Failed fetch messages from 1: x"]  # 20 s of a tight retry loop
    later = rec("aiokafka.consumer.fetcher", fetch, 131)
    assert f.filter(later)
    assert (
        later.getMessage()
        == "Failed fetch messages from 1: x (199 more like this since the last one shown)"
    )
    # Another template, and our own loggers, are never held back.
    assert f.filter(rec("aiokafka.consumer.fetcher", "Heartbeat failed: %s", 131.5))
    assert all(f.filter(rec("pulseboard.aggregate", fetch, 131.6)) for _ in range(5))


def test_log_format_setting_is_validated_and_flags_override_the_environment():
    assert config_from_env({}).log_format == "text"
    assert config_from_env({"PULSEBOARD_LOG_FORMAT": "JSON"}).log_format == "json"
    assert config_from_env({"PULSEBOARD_LOG_FORMAT": "json"}, log_format="text").log_format == (
        "text"
    )
    with pytest.raises(
        ConfigError, match="PULSEBOARD_LOG_FORMAT / --log-format to one of text, json"
    ):
        config_from_env({"PULSEBOARD_LOG_FORMAT": "yaml"})


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_start_and_stop_lines_carry_the_config_but_never_the_password(fmt, restore_root_logging):
    config = config_from_env({**SASL_ENV, "PULSEBOARD_LOG_FORMAT": fmt})
    out = io.StringIO()
    configure_logging(config, "INFO", stream=out)
    log = logging.getLogger("pulseboard.test")
    log_start(log, "aggregate", config, role="all")
    log.info("config again: %r", config)
    log_stop(log, "aggregate")
    text = out.getvalue()
    assert SECRET not in text
    lines = text.splitlines()
    assert len(lines) == 3
    if fmt == "json":
        start = json.loads(lines[0])
        assert start["event"] == "start" and start["service"] == "aggregate"
        assert start["config"]["kafka"]["sasl_username"] == "wall"
        assert start["config"]["kafka"]["bootstrap_servers"] == "kafka.example:9094"
        assert "sasl_password" not in start["config"]["kafka"]
        assert start["role"] == "all"
        assert json.loads(lines[2])["event"] == "stop"
    else:
        assert "INFO pulseboard.test: aggregate: starting on kafka.example:9094" in lines[0]
        assert '"sasl_username": "wall"' in lines[0]


def _keys(settings: dict, prefix: str = "") -> list[str]:
    """Every key of nested settings, depth first, as dotted paths."""
    out = []
    for key, value in settings.items():
        out.append(prefix + key)
        if isinstance(value, dict):
            out += _keys(value, f"{prefix}{key}.")
    return out


def _field_paths(obj: object, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        out.append(prefix + f.name)
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _field_paths(value, f"{prefix}{f.name}.")
    return out


def test_public_settings_hide_exactly_what_repr_hides():
    config = config_from_env(SASL_ENV)
    settings = public_settings(config)
    # Every key, in order, is a name that the dataclasses' own repr shows ("name=" at each
    # nesting level, depth first), and nothing else.
    shown_by_repr = re.findall(r"(?:\(|, )(\w+)=", repr(config))
    assert [k.rpartition(".")[2] for k in _keys(settings)] == shown_by_repr
    # What is left out is the password and only the password.
    assert set(_field_paths(config)) - set(_keys(settings)) == {"kafka.sasl_password"}
    assert SECRET not in json.dumps(settings)  # plain data only, and no secret
    assert settings["kafka"]["sasl_username"] == "wall"
    assert settings["log_format"] == "text"


def test_aggregator_logs_json_lines_without_the_password(tmp_path):
    """The real command: a start line, then (no broker there) retries, giving up and exit 2;
    every line of stderr, aiokafka's and asyncio's and the final error included, is a JSON
    object and none shows the password."""
    env = {**SASL_ENV, "PULSEBOARD_BOOTSTRAP": "127.0.0.1:1", "PULSEBOARD_LOG_FORMAT": "json"}
    # Services wait for an unreachable cluster for ever unless told when to give up.
    result = run_cli(env, "aggregate", "--metrics-port", "0", "--connect-timeout", "2", timeout=120)
    assert SECRET not in result.stderr + result.stdout
    objects = [json.loads(line) for line in result.stderr.splitlines()]
    assert objects, result.stderr
    start = objects[0]
    assert start["event"] == "start" and start["service"] == "aggregate"
    assert start["config"]["kafka"]["security_protocol"] == "SASL_PLAINTEXT"
    assert start["options"]["lateness_ms"] == 30_000
    assert result.returncode == 2
    retries = [o for o in objects if o.get("event") == "kafka_unreachable"]
    assert retries and retries[0]["attempt"] == 1
    fatal = objects[-1]
    assert fatal["level"] == "ERROR" and fatal["event"] == "fatal"
    assert "--bootstrap-servers" in fatal["msg"]


def test_wrong_log_format_flag_fails_fast_naming_the_setting():
    result = run_cli({}, "aggregate", "--log-format", "xml", timeout=60)
    assert result.returncode == 2
    assert "--log-format" in result.stderr and "text, json" in result.stderr
