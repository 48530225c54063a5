"""The shared consume → handle → produce pipeline on the real broker.

A counting stage keeps a per-key count in changelog-backed state. Outputs, state
and offsets commit together, so after a restart the counts continue exactly where
the committed outputs left them, with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.messaging.kafka import KafkaSettings, make_consumer, make_producer
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing, TransactionalPipeline
from services.messaging.state import ChangelogState, StateBatch

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings.from_env()


@pytest.fixture
async def topics() -> AsyncIterator[tuple[str, str, str]]:
    suffix = uuid.uuid4().hex[:10]
    names = (f"test.in.{suffix}", f"test.out.{suffix}", f"test.state.{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(names[0], 3, 1),
                NewTopic(names[1], 3, 1),
                NewTopic(names[2], 3, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
        yield names
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


def counting_handler(out_topic: str):  # type: ignore[no-untyped-def]
    async def handle(batch: Sequence[Incoming], state: StateBatch | None) -> list[Outgoing]:
        assert state is not None
        outputs = []
        for message in batch:
            assert message.key is not None
            count = int(state.get(message.partition, message.key) or b"0") + 1
            state.put(message.partition, message.key, str(count).encode())
            outputs.append(Outgoing(out_topic, f"{count}".encode(), key=message.key))
        return outputs

    return handle


async def produce(topic: str, count: int, start: int = 0) -> None:
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        for i in range(start, start + count):
            await producer.send(topic, f"v{i}".encode(), key=f"k{i % 10}".encode())
        await producer.flush()
    finally:
        await producer.stop()


async def read_all(topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = make_consumer(KAFKA, topic, group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(60):
            while len(out) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    out += [(r.key, r.value) for r in records]
        # Nothing more than expected arrives.
        for records in (await consumer.getmany(timeout_ms=1500)).values():
            out += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return out


async def run_until(pipeline: TransactionalPipeline, out_topic: str, expected: int) -> None:
    stop = asyncio.Event()
    await pipeline.start()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        await read_all(out_topic, expected)
    finally:
        stop.set()
        await task
        await pipeline.stop()


def make_pipeline(names: tuple[str, str, str], group: str) -> TransactionalPipeline:
    return TransactionalPipeline(
        settings=KAFKA,
        topics=[names[0]],
        group_id=group,
        transactional_id=f"{group}-0",
        handler=counting_handler(names[1]),
        metrics=ServiceMetrics("test"),
        state=ChangelogState(names[2]),
        max_batch=37,
    )


async def test_outputs_state_and_offsets_commit_together(topics: tuple[str, str, str]) -> None:
    group = f"counting-{uuid.uuid4().hex[:8]}"
    await produce(topics[0], 200)
    await run_until(make_pipeline(topics, group), topics[1], 200)
    # A new instance restores the counts from the changelog and resumes after the offsets.
    await produce(topics[0], 100, start=200)
    restarted = make_pipeline(topics, group)
    await run_until(restarted, topics[1], 300)
    outputs = await read_all(topics[1], 300)
    assert len(outputs) == 300
    per_key: dict[bytes, list[int]] = {}
    for key, value in outputs:
        per_key.setdefault(key, []).append(int(value))
    # Each key saw 30 messages: its counts are exactly 1..30, none twice, none missing.
    assert {k: sorted(v) for k, v in per_key.items()} == {
        f"k{i}".encode(): list(range(1, 31)) for i in range(10)
    }
    assert len(restarted.state or []) == 10
