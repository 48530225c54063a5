"""The local Apache Kafka broker: jars from Maven Central, one KRaft node on loopback.

Layout under ``<state>/kafka``: ``libs/`` (the jars, with a stamp of the pom that
fetched them), ``data/`` (the log dirs, formatted once), ``cluster.id``,
``server.properties`` (rendered on every start), ``kafka.log`` and ``kafka.pid``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.console import Console

from services.stack.errors import (
    DiskFullError,
    JavaMissingError,
    MavenError,
    MavenMissingError,
    MavenRepositoryError,
    StackError,
    StartTimeoutError,
)
from services.stack.ports import port_accepts
from services.stack.processes import is_ours, launch_detached, read_pid
from services.stack.settings import StackSettings

__all__ = [
    "MIN_JAVA_MAJOR",
    "classify_maven_failure",
    "ensure_jars",
    "ensure_storage",
    "find_java",
    "java_major",
    "kafka_answers",
    "kafka_pid",
    "last_error_line",
    "new_cluster_id",
    "render_server_properties",
    "start_broker",
    "wait_for_kafka",
]

MIN_JAVA_MAJOR = 17  # Kafka 4 brokers need Java 17+.
_JARS_STAMP = ".hocba-pom.sha256"
_LOG_ROTATE_BYTES = 50 * 1024 * 1024
_MAVEN_TIMEOUT_S = 900.0
_DEPENDENCY_PLUGIN = "3.8.1"
_START_BANNER = "===== hocba stack up: starting the Kafka broker"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

# Phrases in Maven's output that mean "the repository could not be reached or had no
# such artifact", as opposed to a broken pom or a local failure.
_MAVEN_REPOSITORY_PATTERNS = (
    "could not transfer artifact",
    "could not resolve dependencies",
    "failed to read artifact descriptor",
    "could not be resolved",
    "no plugin found for prefix",
    "non-resolvable",
    "unknown host",
    "unknownhostexception",
    "connection refused",
    "connect timed out",
    "network is unreachable",
    "connection reset",
    "temporary failure in name resolution",
    "pkix path",
    "transfer failed",
)


def java_major(version_output: str) -> int | None:
    """Major version from ``java -version`` output: ``"1.8.0_392"`` → 8, ``"17.0.15"`` → 17."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2) is not None:
        return int(match.group(2))
    return first


def find_java() -> str:
    """Path of a Java ≥ 17; raise :class:`JavaMissingError` otherwise."""
    java = shutil.which("java")
    if java is None:
        raise JavaMissingError(
            "java not found on PATH: install a Java 17+ runtime "
            "(apt-get install -y openjdk-17-jre-headless) and run `hocba stack up` again"
        )
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    major = java_major(result.stderr + result.stdout)
    if major is None or major < MIN_JAVA_MAJOR:
        raise JavaMissingError(
            f"{java} is Java {major or 'of unknown version'}; Kafka 4 needs Java "
            f"{MIN_JAVA_MAJOR}+: install openjdk-17-jre-headless and put it first on PATH"
        )
    return java


def classify_maven_failure(output: str, returncode: int, log_file: Path) -> StackError:
    """Turn a failed ``mvn`` run into one clear error (pure, for tests)."""
    lowered = output.lower()
    if "no space left on device" in lowered:
        return DiskFullError(
            f"disk full while Maven downloaded the Kafka jars; free space and retry "
            f"(Maven output: {log_file})"
        )
    if any(pattern in lowered for pattern in _MAVEN_REPOSITORY_PATTERNS):
        return MavenRepositoryError(
            "Maven could not fetch the Kafka jars from its repository (Maven Central): check "
            f"the network, proxy or ~/.m2/settings.xml mirror and retry (Maven output: {log_file})"
        )
    return MavenError(f"Maven failed (exit {returncode}) fetching the Kafka jars; see {log_file}")


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def ensure_jars(settings: StackSettings, console: Console) -> bool:
    """Fetch the broker's jars unless the ones for this exact pom are there. True if fetched."""
    libs = settings.kafka_libs_dir
    digest = _pom_digest(settings.pom_file)
    stamp = libs / _JARS_STAMP
    if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == digest:
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenMissingError(
            "mvn not found on PATH: install Maven (apt-get install -y maven) so `hocba stack up` "
            "can fetch the Kafka jars"
        )
    # Download into a scratch dir and swap it in whole: an interrupted fetch never
    # leaves a half set of jars that looks complete.
    scratch = settings.kafka_dir / "libs.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    log_file = settings.kafka_dir / "maven.log"
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(settings.pom_file),
        # Fully qualified: resolving the `dependency:` prefix needs the repository
        # before anything else, and its failure would hide the real cause.
        f"org.apache.maven.plugins:maven-dependency-plugin:{_DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={scratch}",
    ]
    with console.status("Fetching Kafka jars from Maven Central (first run only)…"):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=_MAVEN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise MavenRepositoryError(
                f"Maven did not finish within {_MAVEN_TIMEOUT_S:.0f} s fetching the Kafka jars: "
                "check the network or proxy and retry"
            ) from exc
    # Maven 3.8 colours its output even in batch mode; the log is for reading.
    output = _ANSI_RE.sub("", result.stdout + result.stderr)
    log_file.write_text(output, encoding="utf-8")
    if result.returncode != 0:
        raise classify_maven_failure(output, result.returncode, log_file)
    if not any(scratch.glob("kafka_2.13-*.jar")):
        raise MavenError(f"Maven succeeded but no kafka_2.13 jar arrived; see {log_file}")
    (scratch / _JARS_STAMP).write_text(digest + "\n", encoding="ascii")
    shutil.rmtree(libs, ignore_errors=True)
    scratch.rename(libs)
    count = sum(1 for _ in libs.glob("*.jar"))
    console.print(f"  fetched {count} jars into {libs}")
    return True


def render_server_properties(settings: StackSettings) -> str:
    """The broker's ``server.properties``: one combined broker+controller KRaft node."""
    host = settings.kafka_host
    port = settings.kafka_port
    controller = settings.kafka_controller_port
    lines = [
        "# Rendered by `hocba stack up` on every start; edits here are overwritten.",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers={host}:{controller}",
        f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        f"advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        f"log.dirs={settings.kafka_data_dir}",
        # One node: every internal topic can only have one replica.
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "default.replication.factor=1",
        "min.insync.replicas=1",
        # Tests start consumer groups constantly; the 3 s default delay only slows them.
        "group.initial.rebalance.delay.ms=0",
        "message.max.bytes=1048588",
        # Topics of the contract are created explicitly with the configured partitions;
        # auto-creation stays on (Kafka's default) for per-test throwaway topics.
        "auto.create.topics.enable=true",
        "num.partitions=1",
        "",
    ]
    return "\n".join(lines)


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding (22 chars).

    Same form as ``kafka-storage random-uuid``, without paying a JVM start for it.
    """
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


def ensure_storage(settings: StackSettings, java: str, console: Console) -> bool:
    """Format the log dir once (KRaft needs it); the cluster id is kept. True if formatted."""
    data = settings.kafka_data_dir
    if (data / "meta.properties").is_file():
        return False
    id_file = settings.kafka_dir / "cluster.id"
    cluster_id = id_file.read_text(encoding="ascii").strip() if id_file.is_file() else ""
    if not cluster_id:
        cluster_id = new_cluster_id()
        id_file.write_text(cluster_id + "\n", encoding="ascii")
    data.mkdir(parents=True, exist_ok=True)
    command = [
        java,
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={settings.log4j2_config}",
        "-cp",
        f"{settings.kafka_libs_dir}/*",
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "--cluster-id",
        cluster_id,
        "-c",
        str(settings.kafka_dir / "server.properties"),
    ]
    with console.status("Formatting Kafka storage (first run only)…"):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    with settings.kafka_log_file.open("a", encoding="utf-8") as log:
        log.write(result.stdout + result.stderr)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).lower()
        if "no space left on device" in output:
            raise DiskFullError(f"disk full formatting Kafka storage in {data}; free space")
        raise StackError(
            f"formatting Kafka storage failed (exit {result.returncode}); see "
            f"{settings.kafka_log_file}"
        )
    console.print(f"  formatted Kafka storage (cluster id {cluster_id})")
    return True


def kafka_pid(settings: StackSettings) -> int | None:
    """Pid of the broker this project started, if it is still running."""
    pid = read_pid(settings.kafka_pid_file)
    return pid if is_ours(pid, _marker(settings)) else None


def _marker(settings: StackSettings) -> str:
    # The config path is on the broker's command line and unique to this state dir.
    return str(settings.kafka_dir / "server.properties")


def _rotate(log_file: Path) -> None:
    # The broker appends to one file across runs; cap it so a long-lived checkout
    # does not grow it without bound.
    if log_file.is_file() and log_file.stat().st_size > _LOG_ROTATE_BYTES:
        log_file.replace(log_file.with_name(log_file.name + ".1"))


def start_broker(settings: StackSettings, java: str) -> subprocess.Popen[bytes]:
    """Launch the broker detached from this process; its pid goes to ``kafka.pid``."""
    _rotate(settings.kafka_log_file)
    command = [
        java,
        f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC",
        # A broker out of memory is broken; dying makes `status` and `up` see it.
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={settings.log4j2_config}",
        f"-Dkafka.logs.dir={settings.kafka_dir}",
        "-cp",
        f"{settings.kafka_libs_dir}/*",
        "kafka.Kafka",
        _marker(settings),
    ]
    return launch_detached(
        command,
        log_file=settings.kafka_log_file,
        cwd=settings.kafka_dir,
        pid_file=settings.kafka_pid_file,
        banner=_START_BANNER,
    )


async def kafka_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when the broker at ``bootstrap`` serves a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return True


def last_error_line(log_text: str) -> str | None:
    """The last error-looking line of the latest broker run in a log, to quote in one line."""
    latest = log_text.rpartition(_START_BANNER)[2]
    lines = [line.strip() for line in latest.splitlines()[1:] if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if re.search(r"error|fatal|exception", line, re.IGNORECASE):
            follow = lines[index + 1] if index + 1 < len(lines) else ""
            # The JVM puts the cause on the next, unprefixed line ("Too small maximum heap").
            if follow and not follow.startswith("["):
                line = f"{line}: {follow}"
            return line[:300]
    return None


def _tail_error(log_file: Path) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")[-200_000:]
    except FileNotFoundError:
        return ""
    line = last_error_line(text)
    return f" (last error: {line})" if line else ""


async def wait_for_kafka(
    settings: StackSettings,
    process: subprocess.Popen[bytes] | None,
    console: Console,
    timeout: float = 60.0,
) -> None:
    """Wait until the broker answers; raise :class:`StartTimeoutError` naming the log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with console.status(f"Waiting for Kafka on {settings.kafka_bootstrap}…"):
        while loop.time() < deadline:
            if process is not None and process.poll() is not None:
                raise StartTimeoutError(
                    f"the Kafka broker exited while starting (code {process.returncode})"
                    f"{_tail_error(settings.kafka_log_file)}; see {settings.kafka_log_file}"
                )
            # A plain connect first: cheap, and spares aiokafka's connection-refused noise.
            if port_accepts(settings.kafka_host, settings.kafka_port) and await kafka_answers(
                settings.kafka_bootstrap, timeout=3.0
            ):
                return
            await asyncio.sleep(0.5)
    raise StartTimeoutError(
        f"Kafka did not answer on {settings.kafka_bootstrap} within {timeout:.0f} s"
        f"{_tail_error(settings.kafka_log_file)}; see {settings.kafka_log_file}"
    )
