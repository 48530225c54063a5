"""Configuration of the national-sync service, read once from the environment.

=================================  ==========================================  ===================
variable                           meaning                                     default
=================================  ==========================================  ===================
``HOCBA_KAFKA_BOOTSTRAP``          Kafka bootstrap servers                     ``127.0.0.1:9092``
``HOCBA_PG_DSN``                   PostgreSQL (sync state, local summaries)    the platform's
``HOCBA_SYNC_PORT``                HTTP port (metrics, health)                 ``8085``
``HOCBA_HTTP_HOST``                HTTP bind address                           ``127.0.0.1``
``HOCBA_LOG_LEVEL``                level of the JSON logs                      ``WARNING``
``HOCBA_NATIONAL_URL``             base URL of the national database's API     ``http://127.0.0.1:8090``
``HOCBA_NATIONAL_CLIENT_ID``       OAuth2 client id                            ``hocba-dev``
``HOCBA_NATIONAL_CLIENT_SECRET``   OAuth2 client secret                        ``hocba-dev-secret``
``HOCBA_SYNC_TIMEOUT_S``           one request's time limit                    ``5``
``HOCBA_SYNC_CONCURRENCY``         versions in flight at once                  ``16``
``HOCBA_SYNC_MAX_BATCH``           messages per batch (offsets commit after    ``200``
                                   the whole batch is delivered or given up)
``HOCBA_SYNC_MAX_ATTEMPTS``        attempts per version before dead-lettering  ``8``
``HOCBA_SYNC_BACKOFF_BASE_MS``     first back-off ceiling (doubles each time)  ``200``
``HOCBA_SYNC_BACKOFF_CAP_MS``      largest back-off ceiling                    ``30000``
``HOCBA_SYNC_BREAKER_FAILURES``    consecutive failures that open the breaker  ``5``
``HOCBA_SYNC_BREAKER_COOLDOWN_S``  first wait before a probe (doubles, max 30)  ``2``
``HOCBA_SYNC_GROUP``               consumer group                              (below)
``HOCBA_SYNC_STORED_TOPIC``,       the topics (tests and staged migrations     (below)
``HOCBA_SYNC_STATUS_TOPIC``,       point a replica at their own)
``HOCBA_SYNC_DLQ_TOPIC``
=================================  ==========================================  ===================

By default the group is ``hocba-national-sync`` and the topics are ``hocba.records.stored``,
``hocba.sync.status`` and ``hocba.sync.dlq``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.messaging.kafka import KafkaSettings
from services.messaging.settings import DEFAULT_PG_DSN, SettingsError, env_number
from services.messaging.topics import RECORDS_STORED, SYNC_DLQ, SYNC_STATUS
from services.national_sync.client import NationalSettings
from services.national_sync.policy import Backoff

__all__ = ["SettingsError", "SyncSettings"]


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """Everything the national-sync service is configured with (see the module docstring)."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    national: NationalSettings = field(default_factory=NationalSettings)
    backoff: Backoff = field(default_factory=Backoff)
    pg_dsn: str = DEFAULT_PG_DSN
    http_host: str = "127.0.0.1"
    http_port: int = 8085
    log_level: str = "WARNING"
    concurrency: int = 16
    max_batch: int = 200
    breaker_failures: int = 5
    breaker_cooldown_s: float = 2.0
    stored_topic: str = RECORDS_STORED.name
    status_topic: str = SYNC_STATUS.name
    dlq_topic: str = SYNC_DLQ.name
    group_id: str = "hocba-national-sync"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SyncSettings:
        """Raises :class:`SettingsError` for a malformed variable."""
        env = os.environ if env is None else env
        backoff = Backoff(
            base_seconds=env_number(env, "HOCBA_SYNC_BACKOFF_BASE_MS", 200, int) / 1000,
            cap_seconds=env_number(env, "HOCBA_SYNC_BACKOFF_CAP_MS", 30000, int) / 1000,
            max_attempts=max(1, env_number(env, "HOCBA_SYNC_MAX_ATTEMPTS", 8, int)),
        )
        defaults = NationalSettings()
        national = NationalSettings(
            base_url=env.get("HOCBA_NATIONAL_URL", defaults.base_url).rstrip("/"),
            client_id=env.get("HOCBA_NATIONAL_CLIENT_ID", defaults.client_id),
            client_secret=env.get("HOCBA_NATIONAL_CLIENT_SECRET", defaults.client_secret),
            timeout_seconds=env_number(env, "HOCBA_SYNC_TIMEOUT_S", 5.0, float),
        )
        return cls(
            kafka=KafkaSettings.from_env(),
            national=national,
            backoff=backoff,
            pg_dsn=env.get("HOCBA_PG_DSN", DEFAULT_PG_DSN),
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1"),
            http_port=env_number(env, "HOCBA_SYNC_PORT", 8085, int),
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING"),
            concurrency=max(1, env_number(env, "HOCBA_SYNC_CONCURRENCY", 16, int)),
            max_batch=max(1, env_number(env, "HOCBA_SYNC_MAX_BATCH", 200, int)),
            breaker_failures=max(1, env_number(env, "HOCBA_SYNC_BREAKER_FAILURES", 5, int)),
            breaker_cooldown_s=env_number(env, "HOCBA_SYNC_BREAKER_COOLDOWN_S", 2.0, float),
            stored_topic=env.get("HOCBA_SYNC_STORED_TOPIC", RECORDS_STORED.name),
            status_topic=env.get("HOCBA_SYNC_STATUS_TOPIC", SYNC_STATUS.name),
            dlq_topic=env.get("HOCBA_SYNC_DLQ_TOPIC", SYNC_DLQ.name),
            group_id=env.get("HOCBA_SYNC_GROUP", "hocba-national-sync"),
        )
