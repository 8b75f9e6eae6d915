"""Wrong call-out options of `pulseboard replay` fail fast, before the log is read or a
broker is asked, saying what to fix."""

from __future__ import annotations

import pytest

from pulseboard.cli import main


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSEBOARD_STATE_DIR", str(tmp_path / "state"))


def test_to_history_refuses_a_separate_callout_file(tmp_path, capsys):
    log = tmp_path / "none.jsonl"  # never opened: the options are refused first
    code = main(["replay", str(log), "--to-history", "s", "--anomalies", str(tmp_path / "a")])
    assert code == 2
    assert "drop --anomalies" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("period", ["0", "-600"])
@pytest.mark.parametrize("mode", [["--to-history", "s"], ["--anomalies", "OUT"]])
def test_a_period_that_is_not_positive_is_refused(tmp_path, capsys, period, mode):
    out = tmp_path / "a.jsonl"
    args = [str(out) if a == "OUT" else a for a in mode]
    log = tmp_path / "empty.jsonl"
    log.write_bytes(b"")
    code = main(["replay", str(log), *args, "--anomaly-period", period])
    assert code == 2
    assert f"--anomaly-period must be a positive number of seconds, not {period}" in (
        capsys.readouterr().err
    )
    assert not out.exists()
