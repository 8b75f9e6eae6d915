"""The embedded single-node KRaft broker: resolve it with Maven, format once, run, stop.

Everything it writes lives outside git: artifacts in the cache folder (shared by every
state folder, so tests and the demo resolve them once), data, config, pid and logs in the
state folder (a second `up` reuses them)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pulseboard.config import REPO_ROOT, LocalBrokerSettings

KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
POM = KAFKA_DEPLOY_DIR / "pom.xml"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
READY_LINE = "Kafka Server started"
# Kafka's own launch scripts use these G1 settings; heap is sized for a 2-core, 24 GiB box
# that also runs producers, aggregators, a browser and tests beside the broker.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:ParallelGCThreads=2",
    "-XX:ConcGCThreads=1",
    "-Djava.awt.headless=true",
)


class BrokerError(RuntimeError):
    """The local broker could not be set up or started; the message says why and what to do."""


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise BrokerError(f"{POM} does not pin <kafka.version>")
    return match.group(1)


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    lib: Path
    home: Path

    @classmethod
    def of(cls, settings: LocalBrokerSettings) -> BrokerPaths:
        return cls(
            lib=settings.cache_dir / f"kafka-{kafka_version()}" / "lib",
            home=settings.state_dir / "kafka",
        )

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def stdout_log(self) -> Path:
        return self.logs / "broker.out"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            "no `java` on PATH: install OpenJDK 17 or newer (apt install openjdk-17-jre-headless)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if match and int(match.group(1)) < 17:
        raise BrokerError(
            f"Kafka 4 needs Java 17 or newer; `java -version` says: {out.splitlines()[0]}"
        )
    return java


def ensure_artifacts(settings: LocalBrokerSettings, log: Callable[[str], None] = print) -> Path:
    """Resolve the broker's jars with Maven into the cache, once per pinned POM."""
    paths = BrokerPaths.of(settings)
    marker = paths.lib / ".pom"
    pom_text = POM.read_text()
    if marker.is_file() and marker.read_text() == pom_text:
        return paths.lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "no `mvn` on PATH: install Maven (apt install maven) to fetch the Kafka broker"
        )
    staging = paths.lib.with_name("lib.partial")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"resolving Apache Kafka {kafka_version()} with Maven into {paths.lib} (first run only)")
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise BrokerError(
            f"Maven could not resolve the Kafka broker (is Maven Central reachable?):\n{tail}"
        )
    shutil.rmtree(paths.lib, ignore_errors=True)
    staging.rename(paths.lib)
    marker.write_text(pom_text)
    return paths.lib


def _classpath(paths: BrokerPaths) -> str:
    # Java expands "dir/*" itself, so no shell globbing is involved.
    return str(paths.lib / "*")


def _write_properties(settings: LocalBrokerSettings, paths: BrokerPaths) -> None:
    template = (KAFKA_DEPLOY_DIR / "server.properties").read_text()
    text = (
        template.replace("@PORT@", str(settings.port))
        .replace("@CONTROLLER_PORT@", str(settings.controller_port))
        .replace("@DATA_DIR@", str(paths.data))
    )
    paths.properties.write_text(text)


def _ensure_formatted(java: str, paths: BrokerPaths) -> None:
    if (paths.data / "meta.properties").is_file():
        return
    cluster_id = (
        subprocess.run(
            [java, "-cp", _classpath(paths), STORAGE_TOOL, "random-uuid"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    result = subprocess.run(
        [
            java,
            "-cp",
            _classpath(paths),
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={paths.logs}",
            STORAGE_TOOL,
            "format",
            "-t",
            cluster_id,
            "-c",
            str(paths.properties),
            "--standalone",
            "--ignore-formatted",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BrokerError(
            f"formatting KRaft storage in {paths.data} failed:\n{result.stdout}{result.stderr}"
        )


def running_pid(paths: BrokerPaths) -> int | None:
    """The pid of this state folder's broker if it is alive."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return (
        pid
        if MAIN_CLASS.encode() in cmdline and str(paths.properties).encode() in cmdline
        else None
    )


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def _failure_reason(paths: BrokerPaths) -> str:
    # The whole start-up log: the cause comes before a long configuration dump.
    text = tail(paths.stdout_log, 5000) + "\n" + tail(paths.server_log, 5000)
    if "Address already in use" in text:
        return "a port is already taken (another Kafka?); set PULSEBOARD_KAFKA_PORT or stop it"
    if "OutOfMemoryError" in text or "Could not reserve enough space" in text:
        return "the JVM could not get its heap; lower PULSEBOARD_KAFKA_HEAP"
    if "InconsistentClusterIdException" in text or "meta.properties" in text:
        return (
            f"the data folder {paths.data} belongs to another cluster; "
            "remove it or use another PULSEBOARD_STATE_DIR"
        )
    return "the broker exited during start"


def start(
    settings: LocalBrokerSettings, *, timeout_s: float = 90.0, log: Callable[[str], None] = print
) -> int:
    """Start the broker (or find it running) and wait until it accepts clients."""
    paths = BrokerPaths.of(settings)
    pid = running_pid(paths)
    if pid is not None:
        log(f"local Kafka broker already running (pid {pid}) on {settings.bootstrap}")
        return pid
    java = _java()
    for port in (settings.port, settings.controller_port):
        if port_in_use(port):
            raise BrokerError(
                f"port {port} on 127.0.0.1 is taken by another process; stop it or choose another "
                "port with --kafka-port / PULSEBOARD_KAFKA_PORT (the controller uses port+1)"
            )
    ensure_artifacts(settings, log)
    for folder in (paths.home, paths.data, paths.logs):
        folder.mkdir(parents=True, exist_ok=True)
    _write_properties(settings, paths)
    _ensure_formatted(java, paths)
    command = [
        java,
        f"-Xms{settings.heap}",
        f"-Xmx{settings.heap}",
        *JVM_FLAGS,
        f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={paths.logs}",
        "-cp",
        _classpath(paths),
        MAIN_CLASS,
        str(paths.properties),
    ]
    with open(paths.stdout_log, "ab") as out:
        # A new session: Ctrl-C in the terminal that ran `up` must not kill the broker
        # behind `down`'s back; `down` stops it with SIGTERM.
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    paths.pid_file.write_text(str(proc.pid))
    log(f"starting local Kafka {kafka_version()} (pid {proc.pid}); logs: {paths.server_log}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(
                f"{_failure_reason(paths)}.\n"
                f"Last lines of {paths.stdout_log}:\n{tail(paths.stdout_log)}"
                f"\nLast lines of {paths.server_log}:\n{tail(paths.server_log)}"
            )
        if READY_LINE in tail(paths.server_log, 400) and port_in_use(settings.port):
            return proc.pid
        time.sleep(0.2)
    proc.terminate()
    raise BrokerError(
        f"the broker did not become ready within {timeout_s:.0f} s.\n"
        f"Last lines of {paths.server_log}:\n{tail(paths.server_log)}"
    )


def stop(settings: LocalBrokerSettings, *, timeout_s: float = 60.0) -> bool:
    """Stop the broker cleanly (SIGTERM, then SIGKILL after the timeout). False if not running."""
    paths = BrokerPaths.of(settings)
    pid = running_pid(paths)
    if pid is None:
        paths.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and running_pid(paths) == pid:
        time.sleep(0.2)
    if running_pid(paths) == pid:
        os.kill(pid, signal.SIGKILL)
    paths.pid_file.unlink(missing_ok=True)
    return True
