"""Kafka clients configured the one way the platform uses them.

Producers are idempotent with ``acks=all`` (no loss, no duplicate on retry);
consumers never auto-commit: a service commits only after its outputs are durable.
Settings come from the environment:

* ``HOCBA_KAFKA_BOOTSTRAP`` — bootstrap servers (default ``127.0.0.1:9092``)
* ``HOCBA_KAFKA_CLIENT_ID`` — client id prefix (default ``hocba``)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.core.record import key_of

__all__ = [
    "KafkaSettings",
    "make_consumer",
    "make_producer",
    "partitions_of",
    "record_key",
    "uncommitted_ranges",
]

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


async def partitions_of(settings: KafkaSettings, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of those ``topics`` that exist (none is created by asking)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=settings.client_id
    )
    await admin.start()
    try:
        # Only names the broker listed are described: naming an unknown topic in a metadata
        # request may auto-create it.
        present = [t for t in topics if t in set(await admin.list_topics())]
        described = await admin.describe_topics(present) if present else []
    finally:
        await admin.close()
    return sorted(
        TopicPartition(entry["topic"], part["partition"])
        for entry in described
        for part in entry["partitions"]
    )


async def uncommitted_ranges(
    settings: KafkaSettings, group_id: str, topics: Sequence[str]
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition of ``topics``, the offsets [first, end) ``group_id`` has not committed;
    only partitions with such a range. (On a transactional topic the range counts commit
    markers too: read it to count messages.)"""
    partitions = await partitions_of(settings, topics)
    if not partitions:
        return {}
    consumer = make_consumer(settings, group_id=group_id)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ranges: dict[TopicPartition, tuple[int, int]] = {}
        for tp in partitions:
            committed = await consumer.committed(tp)
            first = max(committed or 0, starts[tp])
            if ends[tp] > first:
                ranges[tp] = (first, ends[tp])
        return ranges
    finally:
        await consumer.stop()
