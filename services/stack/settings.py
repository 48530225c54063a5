"""Configuration of the local stack, read once from the environment.

Environment variables (all optional):

``HOCBA_STATE_DIR``
    Where the stack keeps its data, logs, pid files and the Kafka jars.
    Default: ``<repo>/.state``. Needs ≥ 1 GiB free, and the ``postgres`` OS user must be
    able to reach it (so not inside a private home directory).
``HOCBA_KAFKA_BOOTSTRAP``
    ``host:port`` of the broker's client listener. Default ``127.0.0.1:9092``. The KRaft
    controller listens on the next port (default ``9093``).
``HOCBA_KAFKA_HEAP``
    JVM maximum heap of the broker (``-Xmx``), e.g. ``512m`` or ``1g``. Default ``512m``.
``HOCBA_PG_DSN``
    ``postgresql://user:password@host:port/database`` the services use. Default
    ``postgresql://hocba:hocba@127.0.0.1:5432/hocba``. ``stack up`` creates that role and
    database; on a loopback host it runs a project-owned cluster on that port unless a
    PostgreSQL already answers there (then it is reused and left running by ``down``).
``HOCBA_TOPIC_PARTITIONS``
    Partitions of each topic ``stack up`` creates (existing topics are left alone).
    Default ``12``. ``--partitions`` overrides it.

The Kafka version is deliberately not configurable: it is pinned in
``deploy/local/pom.xml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from services.stack.errors import ConfigError

__all__ = ["REPO_ROOT", "PgTarget", "StackSettings", "parse_pg_dsn"]

# services/stack/settings.py → the repository root holds deploy/ and .state/.
REPO_ROOT = Path(__file__).resolve().parents[2]

_DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_DEFAULT_HEAP = "512m"
_DEFAULT_DSN = "postgresql://hocba:hocba@127.0.0.1:5432/hocba"
_DEFAULT_PARTITIONS = 12
_HEAP_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class PgTarget:
    """The parts of ``HOCBA_PG_DSN`` the stack needs to prepare the database."""

    host: str
    port: int
    user: str
    password: str | None
    database: str

    @property
    def is_loopback(self) -> bool:
        """True when the stack may run (or reuse) a server for it on this machine."""
        return self.host in _LOOPBACK_HOSTS


@dataclass(frozen=True, slots=True)
class StackSettings:
    """Typed, validated configuration of ``hocba stack``; build it with :meth:`from_env`."""

    state_dir: Path
    kafka_host: str
    kafka_port: int
    kafka_heap: str
    pg_dsn: str
    pg: PgTarget
    topic_partitions: int
    repo_root: Path = REPO_ROOT

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, repo_root: Path = REPO_ROOT
    ) -> StackSettings:
        """Read and validate the ``HOCBA_*`` variables; raise :class:`ConfigError` on bad ones."""
        env = os.environ if environ is None else environ
        state_raw = env.get("HOCBA_STATE_DIR", "").strip()
        state_dir = Path(state_raw).expanduser() if state_raw else repo_root / ".state"
        host, port = _parse_bootstrap(env.get("HOCBA_KAFKA_BOOTSTRAP", _DEFAULT_BOOTSTRAP))
        heap = env.get("HOCBA_KAFKA_HEAP", _DEFAULT_HEAP).strip()
        if not _HEAP_RE.match(heap):
            raise ConfigError(
                f"HOCBA_KAFKA_HEAP={heap!r} is not a JVM heap size: use e.g. 512m or 1g"
            )
        dsn = env.get("HOCBA_PG_DSN", _DEFAULT_DSN).strip()
        partitions = _parse_partitions(
            env.get("HOCBA_TOPIC_PARTITIONS", str(_DEFAULT_PARTITIONS)), "HOCBA_TOPIC_PARTITIONS"
        )
        return cls(
            state_dir=state_dir.resolve(),
            kafka_host=host,
            kafka_port=port,
            kafka_heap=heap,
            pg_dsn=dsn,
            pg=parse_pg_dsn(dsn),
            topic_partitions=partitions,
            repo_root=repo_root,
        )

    def with_partitions(self, partitions: int) -> StackSettings:
        """A copy with another topic partition count (the ``--partitions`` option)."""
        return replace(self, topic_partitions=_parse_partitions(str(partitions), "--partitions"))

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def kafka_controller_port(self) -> int:
        # One fixed offset keeps the pair predictable: 9092 clients, 9093 the KRaft quorum.
        return self.kafka_port + 1

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def kafka_libs_dir(self) -> Path:
        return self.kafka_dir / "libs"

    @property
    def kafka_data_dir(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_log_file(self) -> Path:
        return self.kafka_dir / "kafka.log"

    @property
    def kafka_pid_file(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def pg_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def pg_data_dir(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_dir / "run"

    @property
    def pg_log_file(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def pg_external_marker(self) -> Path:
        """Present while ``up`` reuses a PostgreSQL it did not start (``down`` leaves it)."""
        return self.state_dir / "postgres.external"

    @property
    def deploy_dir(self) -> Path:
        return self.repo_root / "deploy" / "local"

    @property
    def pom_file(self) -> Path:
        return self.deploy_dir / "pom.xml"

    @property
    def log4j2_config(self) -> Path:
        return self.deploy_dir / "log4j2.properties"

    @property
    def migrations_dir(self) -> Path:
        return self.repo_root / "services" / "storage" / "migrations"


def _parse_bootstrap(raw: str) -> tuple[str, int]:
    value = raw.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or "," in value:
        raise ConfigError(
            f"HOCBA_KAFKA_BOOTSTRAP={raw!r} must be one host:port, e.g. 127.0.0.1:9092"
        )
    port = _parse_port(port_text, "HOCBA_KAFKA_BOOTSTRAP")
    if port >= 65535:
        # The controller takes port + 1.
        raise ConfigError(f"HOCBA_KAFKA_BOOTSTRAP port {port} leaves no room for the controller")
    return host.strip("[]"), port


def _parse_port(text: str, source: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{source}: {text!r} is not a TCP port (1-65535)")
    return int(text)


def _parse_partitions(raw: str, source: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise ConfigError(f"{source}={raw!r} must be a whole number of partitions from 1 to 10000")
    return int(text)


def parse_pg_dsn(dsn: str) -> PgTarget:
    """Split a ``postgresql://`` URL; raise :class:`ConfigError` when a needed part is missing."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"HOCBA_PG_DSN must be a postgresql:// URL, e.g. {_DEFAULT_DSN} (got scheme "
            f"{parts.scheme!r})"
        )
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise ConfigError(f"HOCBA_PG_DSN has a bad port: {exc}") from exc
    user = unquote(parts.username or "")
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not user or not database:
        raise ConfigError(
            f"HOCBA_PG_DSN must name a host, a user and a database, e.g. {_DEFAULT_DSN}"
        )
    password = unquote(parts.password) if parts.password is not None else None
    return PgTarget(parts.hostname, port, user, password, database)
