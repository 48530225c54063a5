"""Create the platform's topics (``services.messaging.topics.ALL_TOPICS``) on the broker.

Existing topics are left exactly as they are: changing a live topic's partition count
would move keys to other partitions and break per-student ordering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from services.messaging.topics import Topic
from services.stack.errors import TopicError

__all__ = ["TopicReport", "ensure_topics", "topic_partitions"]

_CREATE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TopicReport:
    """What :func:`ensure_topics` did."""

    created: tuple[str, ...]
    existing: tuple[str, ...]
    # Existing topics whose partition count differs from the requested one: name → count.
    other_partitions: dict[str, int] = field(default_factory=dict)


def _new_topic(topic: Topic, partitions: int) -> NewTopic:
    return NewTopic(topic.name, partitions, 1, topic_configs=topic.configs())


async def _apply_configs(admin: AIOKafkaAdminClient, topics: Sequence[Topic]) -> None:
    """Bring existing topics to the configuration the platform relies on (idempotent)."""
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=topic.configs())
        for topic in topics
        if topic.configs()
    ]
    if resources:
        await admin.alter_configs(resources)


async def topic_partitions(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """Partition count of every topic on the broker (internal ones included)."""
    # Describing only names the broker listed: a metadata request naming an unknown
    # topic may auto-create it.
    names = await admin.list_topics()
    if not names:
        return {}
    described = await admin.describe_topics(names)
    return {entry["topic"]: len(entry["partitions"]) for entry in described}


async def ensure_topics(bootstrap: str, topics: Sequence[Topic], partitions: int) -> TopicReport:
    """Create each missing topic with ``partitions`` partitions and replication factor 1."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    try:
        await admin.start()
        existing = await topic_partitions(admin)
        missing = [topic for topic in topics if topic.name not in existing]
        created = await _create(admin, missing, partitions)
        await _apply_configs(admin, [t for t in topics if t.name in existing])
        existing_names = tuple(t.name for t in topics if t.name in existing)
        others = {name: existing[name] for name in existing_names if existing[name] != partitions}
        return TopicReport(created, existing_names, others)
    except KafkaError as exc:
        raise TopicError(
            f"could not create the topics on {bootstrap}: {exc!r}; see `hocba stack logs kafka`"
        ) from exc
    finally:
        await admin.close()


async def _create(
    admin: AIOKafkaAdminClient, topics: Sequence[Topic], partitions: int
) -> tuple[str, ...]:
    pending = {topic.name: topic for topic in topics}
    created: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _CREATE_TIMEOUT_S
    while pending:
        response = await admin.create_topics(
            [_new_topic(topic, partitions) for topic in pending.values()]
        )
        retry: dict[str, Topic] = {}
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
                continue
            error = for_code(code)
            if error is TopicAlreadyExistsError:
                # Someone else (another `up`, a test) created it meanwhile: fine.
                continue
            if error.retriable and loop.time() < deadline:
                retry[name] = pending[name]
                continue
            raise TopicError(
                f"the broker refused to create topic {name}: {error.__name__} {message or ''}"
                f"; see `hocba stack logs kafka`"
            )
        pending = retry
        if pending:
            await asyncio.sleep(0.5)
    return tuple(created)


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    # CreateTopicsResponse v0 has (topic, error_code); v1+ adds error_message.
    rows: list[tuple[str, int, str | None]] = []
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((str(name), int(code), message))
    return rows
