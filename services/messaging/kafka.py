"""Kafka clients configured the one way the platform uses them.

Producers are idempotent with ``acks=all`` (no loss, no duplicate on retry);
consumers never auto-commit: a service commits only after its outputs are durable.
Settings come from the environment:

* ``HOCBA_KAFKA_BOOTSTRAP`` — bootstrap servers (default ``127.0.0.1:9092``)
* ``HOCBA_KAFKA_CLIENT_ID`` — client id prefix (default ``hocba``)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.core.record import key_of

__all__ = ["KafkaSettings", "make_consumer", "make_producer", "record_key"]

_DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_DEFAULT_CLIENT_ID = "hocba"


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str = _DEFAULT_BOOTSTRAP
    client_id: str = _DEFAULT_CLIENT_ID

    @classmethod
    def from_env(cls) -> KafkaSettings:
        return cls(
            bootstrap_servers=os.environ.get("HOCBA_KAFKA_BOOTSTRAP", _DEFAULT_BOOTSTRAP),
            client_id=os.environ.get("HOCBA_KAFKA_CLIENT_ID", _DEFAULT_CLIENT_ID),
        )


def record_key(school_code: str, student_id: str, school_year: str) -> bytes:
    """The partitioning key: one student's year stays in order on one partition."""
    return key_of(school_code, student_id, school_year).encode()


def make_producer(settings: KafkaSettings, **overrides: object) -> AIOKafkaProducer:
    """An idempotent producer (acks=all); start it with ``await producer.start()``."""
    options: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None, **overrides: object
) -> AIOKafkaConsumer:
    """A consumer that commits only when told to (``enable_auto_commit=False``)."""
    options: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)
