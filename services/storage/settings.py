"""Configuration of the storage service, read once from the environment.

=============================  ==============================================  ====================
variable                       meaning                                         default
=============================  ==============================================  ====================
``HOCBA_KAFKA_BOOTSTRAP``      Kafka bootstrap servers                         ``127.0.0.1:9092``
``HOCBA_PG_DSN``               PostgreSQL DSN of the record store              ``postgresql://hocba:hocba@127.0.0.1:5432/hocba``
``HOCBA_INSTANCE_ID``          this replica's number: transactional id suffix  ``0``
``HOCBA_STORAGE_PORT``         HTTP port (lookup API, metrics, health)         ``8084``
``HOCBA_HTTP_HOST``            HTTP bind address                               ``127.0.0.1``
``HOCBA_LOG_LEVEL``            level of the JSON logs on stderr                ``WARNING``
``HOCBA_STORAGE_MAX_BATCH``    messages per Kafka batch (= one DB transaction)  ``500``
``HOCBA_STORAGE_POOL_SIZE``    most PostgreSQL connections of the pool         ``8``
``HOCBA_STORAGE_DB_RETRY_S``   how long a database outage is retried before    ``60``
                               the service exits (to be restarted); the
                               partition is never skipped
``HOCBA_STORAGE_PUBLIC_URL``   base URL of the lookup API as others reach it   (none: ``pdf_url``
                               (``https://...``), for the ``pdf_url`` of        stays null)
                               ``hocba.records.stored``
``HOCBA_TRUST_ROOTS``          trust anchors of ``POST /v1/verify``: PEM/DER   the dev PKI's root
                               files (several certificates a file), ``:``      (``$HOCBA_STATE_DIR
                               between files                                   /pki/...``)
``HOCBA_VERIFY_CONCURRENCY``   PDFs verified at the same time (CPU-bound)      ``2``
``HOCBA_VERIFY_MAX_BYTES``     largest PDF accepted by ``POST /v1/verify``     ``10485760``
``HOCBA_TRANSFERS_TOPIC``      accepted school transfers, consumed beside      ``hocba.transfers``
                               the signed records (access grants)
=============================  ==============================================  ====================

Record lookup (tra cứu, :mod:`services.storage.lookup`):

=================================  ==========================================  =========
variable                           meaning                                     default
=================================  ==========================================  =========
``HOCBA_LOOKUP_MIN_SECONDS``       least time a lookup answer takes (found,    ``0.25``
                                   not found, locked alike), 0-10
``HOCBA_LOOKUP_RATE_PER_MINUTE``   lookups a client (address or access         ``30``
                                   client) may make a minute, per replica
``HOCBA_LOOKUP_CLIENT_FAILURES``   failed lookups that lock a client out ...   ``20``
``HOCBA_LOOKUP_CLIENT_WINDOW_S``   ... within this many seconds ...            ``600``
``HOCBA_LOOKUP_CLIENT_LOCKOUT_S``  ... for this many seconds                   ``1800``
``HOCBA_LOOKUP_CODE_FAILURES``     failed lookups that lock a code, known or   ``5``
                                   not (PostgreSQL: every replica) ...
``HOCBA_LOOKUP_CODE_WINDOW_S``     ... within this many seconds ...            ``900``
``HOCBA_LOOKUP_CODE_LOCKOUT_S``    ... for this many seconds                   ``900``
``HOCBA_TRUSTED_PROXIES``          addresses or networks (comma-separated) of  (none: the
                                   the ingress/load balancer in front, whose   peer is the
                                   ``X-Forwarded-For`` then names the client   client)
=================================  ==========================================  =========
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.messaging.kafka import KafkaSettings
from services.messaging.settings import DEFAULT_PG_DSN, SettingsError, env_number
from services.messaging.topics import RECORDS_SIGNED, RECORDS_STORED, TRANSFERS
from services.storage.access import TrustedProxies, parse_trusted_proxies
from services.storage.lookup_guard import ClientLimits, CodeLimits
from services.verification import dev_trust_root, trust_root_paths

__all__ = ["DEFAULT_PG_DSN", "SettingsError", "StorageSettings"]

_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Everything the storage service is configured with (see the module docstring)."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    pg_dsn: str = DEFAULT_PG_DSN
    instance_id: str = "0"
    http_host: str = "127.0.0.1"
    http_port: int = 8084
    log_level: str = "WARNING"
    max_batch: int = 500
    pool_size: int = 8
    db_retry_budget_s: float = 60.0
    public_url: str | None = None
    #: Trust anchors of ``POST /v1/verify`` (read when first needed: the dev PKI may be built
    #: after storage starts).
    trust_roots: tuple[Path, ...] = ()
    verify_concurrency: int = 2
    verify_max_bytes: int = 10 * 1024 * 1024
    #: Record lookup: the response-time floor and the limits per client and per code.
    lookup_min_seconds: float = 0.25
    lookup_client: ClientLimits = field(default_factory=ClientLimits)
    lookup_code: CodeLimits = field(default_factory=CodeLimits)
    #: Proxies whose X-Forwarded-For names the client (the limits and the audit need it).
    trusted_proxies: TrustedProxies = ()
    #: Not from the environment: tests point these at their own topics, group and schema.
    signed_topic: str = RECORDS_SIGNED.name
    stored_topic: str = RECORDS_STORED.name
    #: Accepted school transfers: each grants the receiving school access (grants.py).
    transfers_topic: str = TRANSFERS.name
    group_id: str = "hocba-storage"
    pg_schema: str | None = None

    @property
    def transactional_id(self) -> str:
        """One per replica: a restarted replica fences its own zombie, never another's."""
        return f"{self.group_id}-{self.instance_id}"

    @property
    def actor(self) -> str:
        """How this service signs the audit rows it writes."""
        return f"hocba-storage/{self.instance_id}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StorageSettings:
        """Read and check the variables; raise :class:`SettingsError` on an unusable one."""
        env = os.environ if environ is None else environ
        port = env_number(env, "HOCBA_STORAGE_PORT", 8084, int)
        if not 0 < port < 65536:
            raise SettingsError(f"HOCBA_STORAGE_PORT={port} is not a TCP port (1-65535)")
        max_batch = env_number(env, "HOCBA_STORAGE_MAX_BATCH", 500, int)
        pool_size = env_number(env, "HOCBA_STORAGE_POOL_SIZE", 8, int)
        if max_batch < 1 or pool_size < 2:
            raise SettingsError(
                "HOCBA_STORAGE_MAX_BATCH must be ≥ 1 and HOCBA_STORAGE_POOL_SIZE ≥ 2 "
                "(the pipeline and the HTTP API each need a connection)"
            )
        public_url = env.get("HOCBA_STORAGE_PUBLIC_URL", "").strip() or None
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"HOCBA_STORAGE_PUBLIC_URL={public_url!r} is not an http(s) URL")
        instance_id = env.get("HOCBA_INSTANCE_ID", "0").strip() or "0"
        if not instance_id.replace("-", "").replace("_", "").isalnum():
            raise SettingsError(f"HOCBA_INSTANCE_ID={instance_id!r} must be letters/digits")
        return cls(
            kafka=KafkaSettings(
                bootstrap_servers=env.get("HOCBA_KAFKA_BOOTSTRAP", "").strip() or _BOOTSTRAP,
                client_id=env.get("HOCBA_KAFKA_CLIENT_ID", "").strip() or "hocba",
            ),
            pg_dsn=env.get("HOCBA_PG_DSN", DEFAULT_PG_DSN).strip() or DEFAULT_PG_DSN,
            instance_id=instance_id,
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
            http_port=port,
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING").strip() or "WARNING",
            max_batch=max_batch,
            pool_size=pool_size,
            db_retry_budget_s=env_number(env, "HOCBA_STORAGE_DB_RETRY_S", 60.0, float),
            public_url=public_url,
            transfers_topic=env.get("HOCBA_TRANSFERS_TOPIC", "").strip() or TRANSFERS.name,
            trust_roots=trust_root_paths(env) or (dev_trust_root(env),),
            verify_concurrency=_at_least_one(env, "HOCBA_VERIFY_CONCURRENCY", 2),
            verify_max_bytes=_at_least_one(env, "HOCBA_VERIFY_MAX_BYTES", 10 * 1024 * 1024),
            lookup_min_seconds=_lookup_min_seconds(env),
            trusted_proxies=_trusted_proxies(env),
            lookup_client=ClientLimits(
                rate_per_minute=_at_least_one(env, "HOCBA_LOOKUP_RATE_PER_MINUTE", 30),
                failures=_at_least_one(env, "HOCBA_LOOKUP_CLIENT_FAILURES", 20),
                failure_window_s=_at_least_one(env, "HOCBA_LOOKUP_CLIENT_WINDOW_S", 600),
                lockout_s=_at_least_one(env, "HOCBA_LOOKUP_CLIENT_LOCKOUT_S", 1800),
            ),
            lookup_code=CodeLimits(
                failures=_at_least_one(env, "HOCBA_LOOKUP_CODE_FAILURES", 5),
                window_s=_at_least_one(env, "HOCBA_LOOKUP_CODE_WINDOW_S", 900),
                lockout_s=_at_least_one(env, "HOCBA_LOOKUP_CODE_LOCKOUT_S", 900),
            ),
        )


def _trusted_proxies(env: Mapping[str, str]) -> TrustedProxies:
    text = env.get("HOCBA_TRUSTED_PROXIES", "")
    try:
        return parse_trusted_proxies(text)
    except ValueError as exc:
        raise SettingsError(
            f"HOCBA_TRUSTED_PROXIES={text!r}: not a comma-separated list of addresses or "
            f"networks ({exc})"
        ) from exc


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    value = env_number(env, name, default, int)
    if value < 1:
        raise SettingsError(f"{name}={value} must be at least 1")
    return value


def _lookup_min_seconds(env: Mapping[str, str]) -> float:
    # Above a few seconds the floor is an outage, not a precaution.
    value = env_number(env, "HOCBA_LOOKUP_MIN_SECONDS", 0.25, float)
    if value > 10:
        raise SettingsError(f"HOCBA_LOOKUP_MIN_SECONDS={value} must be between 0 and 10")
    return value
