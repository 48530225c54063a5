"""Configuration of the validation service, read once from the environment.

| variable | meaning | default |
| --- | --- | --- |
| ``HOCBA_KAFKA_BOOTSTRAP`` | Kafka bootstrap servers | ``127.0.0.1:9092`` |
| ``HOCBA_INSTANCE_ID`` | this replica's number: suffix of its Kafka transactional id | ``0`` |
| ``HOCBA_VALIDATION_PORT`` | HTTP port (metrics, health) | ``8082`` |
| ``HOCBA_HTTP_HOST`` | HTTP bind address | ``127.0.0.1`` |
| ``HOCBA_LOG_LEVEL`` | level of the JSON logs | ``WARNING`` |
| ``HOCBA_VALIDATION_MAX_BATCH`` | events per Kafka batch (one transaction) | ``2000`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.messaging.kafka import KafkaSettings
from services.messaging.settings import env_number
from services.messaging.topics import (
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    RECORDS_INVALID,
    RECORDS_VALIDATED,
    VALIDATION_LOG,
)

__all__ = ["ValidationSettings"]


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """Everything the validation service is configured with."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    instance_id: str = "0"
    http_host: str = "127.0.0.1"
    http_port: int = 8082
    log_level: str = "WARNING"
    max_batch: int = 2000
    group_id: str = "hocba-validation"
    accepted_topic: str = EVENTS_ACCEPTED.name
    rejected_topic: str = EVENTS_REJECTED.name
    validated_topic: str = RECORDS_VALIDATED.name
    invalid_topic: str = RECORDS_INVALID.name
    state_topic: str = VALIDATION_LOG.name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ValidationSettings:
        env = os.environ if env is None else env
        return cls(
            kafka=KafkaSettings.from_env(),
            instance_id=env.get("HOCBA_INSTANCE_ID", "0"),
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1"),
            http_port=env_number(env, "HOCBA_VALIDATION_PORT", 8082, int),
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING"),
            max_batch=max(1, env_number(env, "HOCBA_VALIDATION_MAX_BATCH", 2000, int)),
        )

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance_id}"
