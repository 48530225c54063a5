"""``up``, ``down``, ``status`` and ``logs`` of the local stack (Kafka + PostgreSQL).

``up --with-monitoring`` also starts the local Prometheus (:mod:`services.stack.monitoring`);
``down`` stops it and ``status`` shows it while it was started.

``up`` is idempotent and starts only what is missing; ``down`` stops only what ``up``
started (a reused PostgreSQL is left running). Every failure is a :class:`StackError`
whose message says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.console import Console

from services.messaging.topics import ALL_TOPICS
from services.stack import kafka, monitoring, postgres
from services.stack.errors import DatabaseUnavailableError, DiskFullError, StackError
from services.stack.kafka_topics import TopicReport, ensure_topics, topic_partitions
from services.stack.migrations import apply_migrations
from services.stack.ports import (
    KafkaPlan,
    PostgresPlan,
    decide_kafka,
    decide_postgres,
    port_accepts,
    speaks_postgres,
)
from services.stack.processes import remove_pid_file, stop_process
from services.stack.settings import StackSettings

__all__ = [
    "COMPONENTS",
    "MIN_FREE_BYTES",
    "ComponentStatus",
    "check_free_space",
    "down",
    "log_file",
    "status",
    "tail_lines",
    "up",
]

COMPONENTS = ("kafka", "postgres", "prometheus")
MIN_FREE_BYTES = 1024**3
_KAFKA_START_TIMEOUT_S = 60.0
_PG_START_TIMEOUT_S = 30.0
_KAFKA_STOP_TIMEOUT_S = 60.0
_PG_STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One line of ``hocba stack status``."""

    name: str
    address: str
    healthy: bool
    managed: bool  # started by this project (``down`` will stop it)
    pid: int | None
    detail: str
    log_file: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_free_space(free_bytes: int, path: Path, minimum: int = MIN_FREE_BYTES) -> None:
    """Raise :class:`DiskFullError` when ``free_bytes`` is below ``minimum``."""
    if free_bytes < minimum:
        raise DiskFullError(
            f"only {free_bytes / 1024**2:.0f} MiB free for {path} (the stack needs "
            f"{minimum / 1024**3:.0f} GiB): free some space or set HOCBA_STATE_DIR to a "
            "larger disk"
        )


def _free_bytes(path: Path) -> int:
    # The state dir may not exist yet: measure the nearest existing parent.
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


@contextlib.contextmanager
def _translate_enospc(settings: StackSettings) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"disk full writing under {settings.state_dir}: free space or set "
                "HOCBA_STATE_DIR to a larger disk"
            ) from exc
        raise


@contextlib.contextmanager
def _exclusive(settings: StackSettings, console: Console) -> Iterator[None]:
    """One ``up``/``down`` at a time per state dir (two racing ``up`` would start twice)."""
    with (settings.state_dir / "stack.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print("Another `hocba stack` command is running; waiting for it…")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def up(settings: StackSettings, console: Console, *, with_monitoring: bool = False) -> None:
    """Start what is missing, wait until both answer, create topics, apply migrations.

    ``with_monitoring``: also the local Prometheus, scraping every service.
    """
    with _translate_enospc(settings):
        check_free_space(_free_bytes(settings.state_dir), settings.state_dir)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        settings.kafka_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(settings, console):
            await _up_locked(settings, console, with_monitoring)


async def _up_locked(settings: StackSettings, console: Console, with_monitoring: bool) -> None:
    # Decide everything before starting anything: a busy port or a missing tool
    # should fail the run before half of the stack is up.
    metrics = monitoring.MonitoringSettings.from_env(settings) if with_monitoring else None
    if metrics is not None and monitoring.prometheus_pid(metrics) is None:
        monitoring.find_prometheus()
        monitoring.check_port(metrics)
    kafka_pid = kafka.kafka_pid(settings)
    busy = [
        port
        for port in (settings.kafka_port, settings.kafka_controller_port)
        if kafka_pid is None and port_accepts(settings.kafka_host, port)
    ]
    kafka_plan = decide_kafka(ours_running=kafka_pid is not None, busy_ports=busy)
    pg_plan = _postgres_plan(settings)
    java = kafka.find_java() if kafka_plan is KafkaPlan.START else ""

    process: subprocess.Popen[bytes] | None = None
    if kafka_plan is KafkaPlan.START:
        remove_pid_file(settings.kafka_pid_file)
        kafka.ensure_jars(settings, console)
        properties = settings.kafka_dir / "server.properties"
        properties.write_text(kafka.render_server_properties(settings), encoding="utf-8")
        kafka.ensure_storage(settings, java, console)
        process = kafka.start_broker(settings, java)
        console.print(f"kafka: starting (pid {process.pid}), log {settings.kafka_log_file}")
    else:
        console.print(f"kafka: already running (pid {kafka_pid}) on {settings.kafka_bootstrap}")

    # PostgreSQL comes up while the JVM warms up.
    await _up_postgres(settings, pg_plan, console)

    await kafka.wait_for_kafka(settings, process, console, timeout=_KAFKA_START_TIMEOUT_S)
    report = await _ensure_topics(settings)
    console.print(
        f"kafka: ready on {settings.kafka_bootstrap}; topics created: {len(report.created)}, "
        f"already there: {len(report.existing)}"
    )
    for name, count in sorted(report.other_partitions.items()):
        console.print(
            f"  note: existing topic {name} has {count} partitions, not "
            f"{settings.topic_partitions}; left as is"
        )
    if metrics is not None:
        await monitoring.up_prometheus(metrics, console)


async def _ensure_topics(settings: StackSettings) -> TopicReport:
    return await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS, settings.topic_partitions)


def _postgres_plan(settings: StackSettings) -> PostgresPlan | None:
    """``None`` for a DSN on another machine: nothing to run locally, only migrate."""
    pg = settings.pg
    if not pg.is_loopback:
        return None
    ours = postgres.postgres_pid(settings) is not None
    port_open = not ours and port_accepts(pg.host, pg.port)
    return decide_postgres(
        ours_running=ours,
        port_open=port_open,
        answers_as_postgres=port_open and speaks_postgres(pg.host, pg.port),
        port=pg.port,
    )


async def _up_postgres(
    settings: StackSettings, plan: PostgresPlan | None, console: Console
) -> None:
    pg = settings.pg
    address = f"{pg.host}:{pg.port}"
    if plan is None:
        console.print(f"postgres: using the remote server {address} named by HOCBA_PG_DSN")
    elif plan is PostgresPlan.REUSE_EXTERNAL:
        settings.pg_external_marker.write_text(address + "\n", encoding="utf-8")
        console.print(f"postgres: reusing the PostgreSQL already on {address} (not ours)")
        try:
            await postgres.check_dsn(settings.pg_dsn)
        except DatabaseUnavailableError:
            # The role or database is missing there: create them as its superuser.
            bindir = postgres.ensure_installed(settings, console)
            postgres.ensure_role_and_database(settings, bindir, own=False)
    else:
        settings.pg_external_marker.unlink(missing_ok=True)
        bindir = postgres.ensure_installed(settings, console)
        postgres.ensure_cluster(settings, bindir, console)
        if plan is PostgresPlan.START_OWN:
            postgres.start_cluster(settings, bindir)
            console.print(f"postgres: starting, log {settings.pg_log_file}")
        else:
            console.print(f"postgres: already running (pid {postgres.postgres_pid(settings)})")
        await postgres.wait_for_postgres(settings, bindir, console, timeout=_PG_START_TIMEOUT_S)
        postgres.ensure_role_and_database(settings, bindir, own=True)
    version = await postgres.check_dsn(settings.pg_dsn)
    applied = await apply_migrations(settings.pg_dsn, settings.migrations_dir)
    console.print(
        f"postgres: ready on {address} (PostgreSQL {version}); migrations applied now: "
        f"{', '.join(applied) if applied else 'none pending'}"
    )


def down(settings: StackSettings, console: Console) -> None:
    """Stop what ``up`` started: the broker, then the project's cluster; nothing else."""
    if not settings.state_dir.is_dir():
        console.print("nothing to stop (no state directory yet)")
        return
    with _exclusive(settings, console):
        monitoring.stop_prometheus(monitoring.MonitoringSettings(settings.state_dir), console)
        pid = kafka.kafka_pid(settings)
        if pid is not None:
            with console.status(f"Stopping Kafka (pid {pid})…"):
                killed = stop_process(pid, sig=signal.SIGTERM, timeout=_KAFKA_STOP_TIMEOUT_S)
            console.print(f"kafka: stopped{' (killed after timeout)' if killed else ''}")
        else:
            console.print("kafka: not running")
        remove_pid_file(settings.kafka_pid_file)

        pid = postgres.postgres_pid(settings)
        if pid is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: SIGTERM ("smart") would wait for
            # every client to disconnect.
            with console.status(f"Stopping PostgreSQL (pid {pid})…"):
                killed = stop_process(pid, sig=signal.SIGINT, timeout=_PG_STOP_TIMEOUT_S)
            console.print(f"postgres: stopped{' (killed after timeout)' if killed else ''}")
        elif settings.pg_external_marker.exists():
            console.print("postgres: reused server left running (hocba did not start it)")
        else:
            console.print("postgres: not running")
        settings.pg_external_marker.unlink(missing_ok=True)


async def status(settings: StackSettings) -> list[ComponentStatus]:
    """Health of each component, and whether this project started it.

    Prometheus is listed while ``up --with-monitoring`` has started it (until ``down``).
    """
    components = [await _kafka_status(settings), await _postgres_status(settings)]
    prometheus = await monitoring.prometheus_status(
        monitoring.MonitoringSettings.from_env(settings)
    )
    if prometheus is not None:
        components.append(
            ComponentStatus(
                name="prometheus",
                address=prometheus.address,
                healthy=prometheus.healthy,
                managed=prometheus.pid is not None,
                pid=prometheus.pid,
                detail=prometheus.detail,
                log_file=prometheus.log_file,
            )
        )
    return components


async def _kafka_status(settings: StackSettings) -> ComponentStatus:
    pid = kafka.kafka_pid(settings)
    healthy = False
    detail = "not answering"
    if port_accepts(settings.kafka_host, settings.kafka_port):
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5_000
        )
        try:
            await asyncio.wait_for(admin.start(), 5)
            present = await asyncio.wait_for(topic_partitions(admin), 5)
            expected = [topic.name for topic in ALL_TOPICS]
            have = sum(1 for name in expected if name in present)
            healthy = True
            detail = f"{have}/{len(expected)} platform topics"
        except (KafkaError, OSError, TimeoutError) as exc:
            detail = f"port open but broker not answering: {type(exc).__name__}"
        finally:
            await admin.close()
    return ComponentStatus(
        name="kafka",
        address=settings.kafka_bootstrap,
        healthy=healthy,
        managed=pid is not None,
        pid=pid,
        detail=detail,
        log_file=str(settings.kafka_log_file),
    )


async def _postgres_status(settings: StackSettings) -> ComponentStatus:
    pid = postgres.postgres_pid(settings) if settings.pg.is_loopback else None
    try:
        version = await postgres.check_dsn(settings.pg_dsn, timeout=3)
        healthy, detail = True, f"PostgreSQL {version}, database {settings.pg.database!r}"
    except DatabaseUnavailableError as exc:
        healthy, detail = False, str(exc).split(";")[0]
    external = pid is None and settings.pg_external_marker.exists()
    if external:
        detail += " (reused)"
    return ComponentStatus(
        name="postgres",
        address=f"{settings.pg.host}:{settings.pg.port}",
        healthy=healthy,
        managed=pid is not None,
        pid=pid,
        detail=detail,
        # A reused server logs wherever its owner configured, not in our state dir.
        log_file=None if external else str(settings.pg_log_file),
    )


def log_file(settings: StackSettings, component: str) -> Path:
    """The log file of ``component`` (``kafka``, ``postgres`` or ``prometheus``)."""
    if component == "kafka":
        return settings.kafka_log_file
    if component == "postgres":
        return settings.pg_log_file
    if component == "prometheus":
        return monitoring.MonitoringSettings(settings.state_dir).log_file
    raise StackError(f"unknown component {component!r}: use one of {', '.join(COMPONENTS)}")


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path``, reading only the end of a large file."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            block = 64 * 1024
            data = b""
            position = size
            while position > 0 and data.count(b"\n") <= count:
                step = min(block, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError as exc:
        raise StackError(f"no log yet at {path}: run `hocba stack up` first") from exc
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]
