"""What a broker outage costs the services: CPU, log lines, and the time to catch up.

    .venv/bin/python benchmarks/bench_outage.py [--outage-s 20] [--rate 400]

Starts the project's local broker in a throwaway state folder, then `pulseboard produce
--rate R` and `pulseboard aggregate` as separate processes. After 12 s of traffic it stops
the broker for `--outage-s`, and measures over the outage the CPU seconds each service used
(from /proc) and the lines each logged; then it starts the broker again and measures how
long until the producer's in-flight records are acknowledged. Results go to stdout and
bench-results/outage.json.

Before clients backed off between failed metadata refreshes (pulseboard.kafka_client.paced),
aiokafka retried in a tight loop: each service used a whole core for the whole outage."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, machine, save_report, scrape  # noqa: E402
from pulseboard import localbroker  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import config_from_env  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402

CLI = [sys.executable, "-m", "pulseboard.cli"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port: int, name: str) -> float:
    return scrape(port).get(name, -1.0)


def lines(path: Path) -> int:
    return len(path.read_text(errors="replace").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-s", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=400.0)
    args = parser.parse_args()
    load = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="pulseboard-bench-outage-"))
    env = {
        **os.environ,
        "PULSEBOARD_STATE_DIR": str(tmp / "kafka"),
        "PULSEBOARD_KAFKA_PORT": str(free_port()),
        "PULSEBOARD_KAFKA_HEAP": "384m",
    }
    config = config_from_env(env)
    localbroker.start(config.broker, log=lambda _: None)
    asyncio.run(ensure_topics(config))
    ports = {"produce": free_port(), "aggregate": free_port()}
    start = datetime.now(UTC).replace(microsecond=0).isoformat()
    argv = {
        "produce": ["--rate", str(args.rate), "--start", start, "--count", "100000000"],
        "aggregate": [],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    try:
        for name, extra in argv.items():
            logs[name] = tmp / f"{name}.log"
            procs[name] = subprocess.Popen(
                [*CLI, name, *cluster_argv(config), *extra, "--metrics-port", str(ports[name])],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=logs[name].open("w"),
            )
        time.sleep(12)  # steady traffic before the outage (a measurement, not a test)
        before = {n: (cpu_seconds(p.pid), lines(logs[n])) for n, p in procs.items()}
        localbroker.stop(config.broker)
        down = time.monotonic()
        time.sleep(args.outage_s)
        during = {n: (cpu_seconds(p.pid), lines(logs[n])) for n, p in procs.items()}
        held = metric(ports["produce"], "pulseboard_producer_unacked_records")
        localbroker.start(config.broker, log=lambda _: None)
        back = time.monotonic()
        unacked = "pulseboard_producer_unacked_records"
        while metric(ports["produce"], unacked) > 0 and time.monotonic() - back < 120:
            time.sleep(0.1)
        drained = time.monotonic() - back
        report = {
            "benchmark": "outage",
            "machine": machine(load, outage_s=args.outage_s, rate=args.rate),
            "outage_measured_s": round(back - down, 1),
            "per_service": {
                n: {
                    "cpu_seconds_during_outage": round(during[n][0] - before[n][0], 2),
                    "log_lines_during_outage": during[n][1] - before[n][1],
                }
                for n in procs
            },
            "producer_unacked_at_end_of_outage": held,
            "producer_in_flight_acked_s_after_restart": round(drained, 1),
            "services_alive": {n: p.poll() is None for n, p in procs.items()},
        }
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        localbroker.stop(config.broker)
    save_report("outage", report)


if __name__ == "__main__":
    main()
