"""The storage service on the real local stack: Kafka in, PostgreSQL, Kafka out, HTTP.

Each test runs the service built by ``bootstrap`` on its own input/output topics and
consumer group, against its own PostgreSQL schema (migrations applied there), so tests
neither see nor disturb the platform topics and tables. A missing broker or database
fails these tests; it does not skip them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import KafkaSettings, make_consumer, make_producer
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import StateBatch
from services.stack.migrations import apply_migrations
from services.storage.app import StorageService, bootstrap
from services.storage.record_ids import is_record_id
from services.storage.settings import StorageSettings
from tests.unit.test_storage_fixtures import VALIDATED, validated_record

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings.from_env()
DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
CODEC = default_codec()
STORED = "vn.edu.hocba.StoredRecord"


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    name = f"storage_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        await apply_migrations(DSN, MIGRATIONS, schema=name)
        yield name
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def topics() -> AsyncIterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    names = (f"test.validated.{suffix}", f"test.stored.{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(names[0], 3, 1), NewTopic(names[1], 3, 1)])
        yield names
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(pg_schema: str, topics: tuple[str, str]) -> StorageSettings:
    return dataclasses.replace(
        StorageSettings.from_env({}),
        pg_dsn=DSN,
        kafka=KAFKA,
        validated_topic=topics[0],
        stored_topic=topics[1],
        group_id=f"test-storage-{uuid.uuid4().hex[:8]}",
        pg_schema=pg_schema,
        http_port=_free_port(),
        db_retry_budget_s=5.0,
    )


class Running:
    """A storage service running in the background of a test."""

    def __init__(self, service: StorageService) -> None:
        self.service = service
        self.task = asyncio.create_task(service.run())
        self.base = f"http://127.0.0.1:{service.settings.http_port}"

    async def until_ready(self) -> None:
        async with asyncio.timeout(30), aiohttp.ClientSession() as http:
            while True:
                if self.task.done():
                    await self.task
                try:
                    async with http.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self.service.shell.stop.set()
        await self.task


@pytest.fixture
async def running(settings: StorageSettings) -> AsyncIterator[Running]:
    run = Running(await bootstrap(settings))
    try:
        await run.until_ready()
        yield run
    finally:
        await run.stop()


async def publish(topic: str, values: Sequence[tuple[bytes, bytes]]) -> None:
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        for key, value in values:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def read_stored(
    topic: str, expected: int, *, settle_s: float = 1.5
) -> list[tuple[bytes, dict[str, Any], bytes]]:
    """Every committed message on ``topic`` once ``expected`` arrived and nothing more came."""
    consumer = make_consumer(KAFKA, topic, group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    raw: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(45):
            while len(raw) < expected:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    raw += [(r.key, r.value) for r in records]
        for records in (await consumer.getmany(timeout_ms=int(settle_s * 1000))).values():
            raw += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    out = []
    for key, value in raw:
        decoded = CODEC.decode(value, expected=STORED)
        assert isinstance(decoded, Decoded)
        out.append((key, decoded.value, value))
    return out


def message(student: str, **changes: Any) -> tuple[bytes, bytes]:
    datum = validated_record(student, **changes)
    return datum["record_key"].encode(), CODEC.encode(VALIDATED, datum)


def student() -> str:
    return f"HS{uuid.uuid4().hex[:12].upper()}"


async def test_a_validated_record_is_stored_pointed_audited_and_announced(
    running: Running, topics: tuple[str, str]
) -> None:
    sid = student()
    await publish(topics[0], [message(sid)])
    ((key, stored, _),) = await read_stored(topics[1], 1)
    assert key == f"79000701|{sid}|2024-2025".encode()
    assert is_record_id(stored["record_id"])
    assert (stored["version"], stored["supersedes_version"], stored["lookup_code"]) == (
        1,
        None,
        None,
    )
    assert (stored["student_id"], stored["school_year"], stored["grade"]) == (sid, "2024-2025", 4)
    assert (stored["year_result"], stored["national_id"]) == ("HTT", "079215000123")

    store = running.service.store
    assert await store.record_id_of(sid) == stored["record_id"]
    (version,) = await store.all_versions(stored["record_id"])
    assert (version.version, version.status, version.stored_at) == (
        1,
        "VALIDATED",
        stored["stored_at"],
    )
    (entry,) = await store.audit_trail(stored["record_id"])
    assert (entry.action, entry.actor, entry.vendor_id) == (
        "VERSION_STORED",
        "hocba-storage/0",
        "vendor-a",
    )
    assert (entry.school_year, entry.version, entry.detail["topic"]) == ("2024-2025", 1, topics[0])
    assert entry.detail["content_sha256"] == version.content_sha256.hex()


async def test_the_same_message_twice_is_one_version_and_the_same_stored_message(
    running: Running, topics: tuple[str, str]
) -> None:
    sid = student()
    same = message(sid)
    await publish(topics[0], [same])
    await read_stored(topics[1], 1, settle_s=0.2)
    await publish(topics[0], [same])
    outputs = await read_stored(topics[1], 2)
    assert len(outputs) == 2
    # At-least-once, idempotent: the re-emitted StoredRecord is byte-identical.
    assert outputs[0][2] == outputs[1][2]
    record_id = outputs[0][1]["record_id"]
    versions = await running.service.store.all_versions(record_id)
    assert [v.version for v in versions] == [1]
    actions = [e.action for e in await running.service.store.audit_trail(record_id)]
    assert actions == ["VERSION_STORED", "REDELIVERY_IGNORED"]


async def test_changed_content_is_the_next_version_and_moves_the_current_pointer(
    running: Running, topics: tuple[str, str]
) -> None:
    sid = student()
    await publish(topics[0], [message(sid, days_absent=2)])
    await read_stored(topics[1], 1, settle_s=0.2)
    await publish(
        topics[0], [message(sid, days_absent=5, result="HT"), message(sid, days_absent=2)]
    )
    outputs = await read_stored(topics[1], 3)
    assert [(o[1]["version"], o[1]["supersedes_version"]) for o in outputs] == [
        (1, None),
        (2, 1),
        (1, None),  # the old content again: a re-delivery of version 1, no version 3
    ]
    record_id = outputs[0][1]["record_id"]
    store = running.service.store
    assert [(v.version, v.year_result) for v in await store.all_versions(record_id)] == [
        (1, "HTT"),
        (2, "HT"),
    ]
    actions = [(e.action, e.version) for e in await store.audit_trail(record_id)]
    assert actions == [
        ("VERSION_STORED", 1),
        ("VERSION_SUPERSEDED", 2),
        ("REDELIVERY_IGNORED", 1),
    ]
    # Another school year of the same student keeps the record id, starts at version 1.
    await publish(topics[0], [message(sid, school_year="2025-2026", grade=5)])
    (next_year,) = [
        o for o in await read_stored(topics[1], 4) if o[1]["school_year"] == "2025-2026"
    ]
    assert (next_year[1]["record_id"], next_year[1]["version"]) == (record_id, 1)

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.base}/v1/records/{record_id}") as response,
    ):
        assert response.status == 200
        body = await response.json()
    assert body["record_id"] == record_id
    assert [(v["school_year"], v["version"]) for v in body["current_versions"]] == [
        ("2024-2025", 2),
        ("2025-2026", 1),
    ]


async def test_garbage_is_counted_and_the_partition_keeps_flowing(
    running: Running, topics: tuple[str, str]
) -> None:
    sid = student()
    key, good = message(sid)
    unknown = b"\xc3\x01" + b"\xff" * 8 + b"\x00"
    await publish(topics[0], [(key, b"garbage"), (key, unknown), (key, b""), (key, good)])
    ((_, stored, _),) = await read_stored(topics[1], 1)
    assert stored["student_id"] == sid
    registry = running.service.metrics.shared.registry

    def rejected(code: str) -> float:
        labels = {"service": "storage", "code": code, "vendor": "unknown"}
        return registry.get_sample_value("hocba_messages_rejected_total", labels) or 0.0

    assert rejected("E_NOT_AVRO_SINGLE_OBJECT") == 2
    assert rejected("E_UNKNOWN_SCHEMA_FINGERPRINT") == 1
    assert running.service.pipeline.ready


async def test_http_lookup_found_not_found_and_every_read_audited(
    running: Running, topics: tuple[str, str]
) -> None:
    sid = student()
    await publish(topics[0], [message(sid)])
    ((_, stored, _),) = await read_stored(topics[1], 1, settle_s=0.2)
    record_id = stored["record_id"]
    missing = "HB0000000000000000"
    async with aiohttp.ClientSession(headers={"User-Agent": "storage-test"}) as http:
        async with http.get(f"{running.base}/v1/records/{record_id.lower()}") as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(f"{running.base}/v1/records/{missing}") as response:
            assert response.status == 404
            error = await response.json()
        async with http.get(f"{running.base}/v1/records/not-a-code") as response:
            assert response.status == 404
        async with http.get(f"{running.base}/v1/openapi.json") as response:
            assert response.status == 200
            assert "/v1/records/{code}" in (await response.json())["paths"]
    (view,) = body["current_versions"]
    assert set(view) == {
        "record_id",
        "school_year",
        "version",
        "grade",
        "school_code",
        "year_result",
        "status",
        "lookup_code",
        "supersedes_version",
        "stored_at",
        "content_sha256",
    }
    assert (view["version"], view["status"], view["grade"]) == (1, "VALIDATED", 4)
    assert len(view["content_sha256"]) == 64
    assert "Nguyễn" not in str(body)  # no personal data in a lookup
    assert error["code"] == "E_RECORD_NOT_FOUND" and error["message_vi"] and error["message_en"]

    store = running.service.store
    (read,) = [e for e in await store.audit_trail(record_id) if e.action == "READ"]
    assert read.actor.startswith("http:127.0.0.1") and read.detail["user_agent"] == "storage-test"
    assert read.detail["versions"] == [{"school_year": "2024-2025", "version": 1}]
    (miss,) = await store.reads_of_code(missing)
    assert (miss.action, miss.record_id) == ("READ_NOT_FOUND", None)
    assert [e.action for e in await store.reads_of_code("NOT-A-CODE".replace("-", ""))] == [
        "READ_NOT_FOUND"
    ]


async def test_a_crash_after_the_database_commit_replays_without_a_new_version(
    settings: StorageSettings, topics: tuple[str, str]
) -> None:
    """The crash window: DB committed, Kafka not. The replay re-emits, stores nothing new."""
    sid = student()
    await publish(topics[0], [message(sid)])
    crashing = await bootstrap(settings)
    real_handler = crashing.pipeline.handler

    async def crash_after_commit(
        batch: Sequence[Incoming], state: StateBatch | None
    ) -> Sequence[Outgoing]:
        await real_handler(batch, state)  # the database transaction commits here
        raise RuntimeError("simulated crash before the Kafka commit")

    crashing.pipeline.handler = crash_after_commit
    with pytest.raises(RuntimeError, match="simulated crash"):
        await Running(crashing).task

    restarted = Running(await bootstrap(settings))
    try:
        ((_, stored, _),) = await read_stored(topics[1], 1)
        store = restarted.service.store
        (version,) = await store.all_versions(stored["record_id"])
        # The replayed StoredRecord names the version stored before the crash.
        assert (stored["version"], stored["stored_at"]) == (1, version.stored_at)
        actions = [e.action for e in await store.audit_trail(stored["record_id"])]
        assert actions == ["VERSION_STORED", "REDELIVERY_IGNORED"]
    finally:
        await restarted.stop()
