"""The storage service on the real local stack: signed records in over Kafka, PostgreSQL,
StoredRecords out over Kafka, lookups and PDFs over HTTP.

Each test runs the service built by ``bootstrap`` on its own input/output topics and
consumer group, against its own PostgreSQL schema (migrations applied there), so tests
neither see nor disturb the platform topics and tables. A missing broker or database
fails these tests; it does not skip them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
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
from services.storage.repository import AuditEntry
from services.storage.settings import StorageSettings
from tests.ports import free_port
from tests.unit.test_storage_fixtures import SIGNED, record_id_of, signed_record

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings.from_env()
DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
CODEC = default_codec()
STORED = "vn.edu.hocba.StoredRecord"
BORN = "2015-08-06"  # the fixtures' student (tests/unit/test_storage_fixtures.py)


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
async def topics() -> AsyncIterator[tuple[str, str, str]]:
    suffix = uuid.uuid4().hex[:10]
    # Its own transfers topic too: the platform's would feed this test's schema grants.
    names = (f"test.signed.{suffix}", f"test.stored.{suffix}", f"test.transfers.{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1) for name in names])
        yield names
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


@pytest.fixture
def settings(pg_schema: str, topics: tuple[str, str, str]) -> StorageSettings:
    return dataclasses.replace(
        StorageSettings.from_env({}),
        pg_dsn=DSN,
        kafka=KAFKA,
        signed_topic=topics[0],
        stored_topic=topics[1],
        transfers_topic=topics[2],
        group_id=f"test-storage-{uuid.uuid4().hex[:8]}",
        pg_schema=pg_schema,
        http_port=free_port(),
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
    datum = signed_record(student, **changes)
    return datum["record_key"].encode(), CODEC.encode(SIGNED, datum)


def student() -> str:
    return f"HS{uuid.uuid4().hex[:12].upper()}"


async def reads_of_code(pool: asyncpg.Pool, code: str) -> list[AuditEntry]:
    """Every audited attempt to read ``code`` (found, not found or refused), oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT audit_id, at, actor, vendor_id, action, record_id, school_year, version, "
            "detail::text AS detail FROM record_audit "
            "WHERE action IN ('READ', 'READ_NOT_FOUND', 'READ_REFUSED') AND detail->>'code' = $1 "
            "ORDER BY audit_id",
            code,
        )
    return [AuditEntry(**{**dict(r), "detail": json.loads(r["detail"])}) for r in rows]


def rejected(running: Running, code: str, vendor: str = "vendor-a") -> float:
    registry = running.service.metrics.shared.registry
    labels = {"service": "storage", "code": code, "vendor": vendor}
    return registry.get_sample_value("hocba_messages_rejected_total", labels) or 0.0


async def test_a_signed_record_is_stored_pointed_audited_and_announced(
    running: Running, topics: tuple[str, str, str]
) -> None:
    sid = student()
    datum = signed_record(sid)
    await publish(topics[0], [message(sid)])
    ((key, stored, _),) = await read_stored(topics[1], 1)
    assert key == f"79000701|{sid}|2024-2025".encode()
    assert stored["record_id"] == datum["record_id"] == record_id_of(sid)
    assert (stored["version"], stored["supersedes_version"], stored["lookup_code"]) == (
        1,
        None,
        datum["lookup_code"],
    )
    assert (stored["pdf_sha256"], stored["pdf_size_bytes"]) == (
        datum["pdf_sha256"],
        len(datum["pdf"]),
    )
    assert (stored["effective_at"], stored["pdf_url"]) == (datum["effective_at"], None)
    assert (stored["student_id"], stored["school_year"], stored["grade"]) == (sid, "2024-2025", 4)
    assert (stored["year_result"], stored["national_id"]) == (
        "HTT",
        datum["record"]["student"]["national_id"],
    )

    store = running.service.store
    assert await store.record_id_of(sid) == stored["record_id"]
    (version,) = await store.all_versions(stored["record_id"])
    assert (version.version, version.status, version.stored_at) == (
        1,
        "SIGNED",
        stored["stored_at"],
    )
    (entry,) = await store.audit_trail(stored["record_id"])
    assert (entry.action, entry.actor, entry.vendor_id) == (
        "VERSION_STORED",
        "hocba-storage/0",
        "vendor-a",
    )
    assert (entry.school_year, entry.version, entry.detail["topic"]) == ("2024-2025", 1, topics[0])
    assert entry.detail["content_sha256"] == version.content_sha256.hex() == datum["record_sha256"]


async def test_the_same_message_twice_is_one_version_and_the_same_stored_message(
    running: Running, topics: tuple[str, str, str]
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


async def test_corrections_late_versions_and_lookups_by_code_id_and_pdf(
    running: Running, topics: tuple[str, str, str]
) -> None:
    sid = student()
    v1 = signed_record(sid, days_absent=2)
    v2 = signed_record(sid, version=2, days_absent=5, result="HT", correction_reason="Sửa")
    v3 = signed_record(sid, version=3, days_absent=6, result="HT")
    # Version 2 overtakes version 1 (e.g. after a replay upstream); then the correction v3.
    key = v1["record_key"].encode()
    await publish(topics[0], [(key, CODEC.encode(SIGNED, v2))])
    await read_stored(topics[1], 1, settle_s=0.2)
    await publish(
        topics[0],
        [message(sid, days_absent=2), message(sid, version=3, days_absent=6, result="HT")],
    )
    outputs = await read_stored(topics[1], 3)
    assert [(o[1]["version"], o[1]["supersedes_version"]) for o in outputs] == [
        (2, 1),
        (1, None),
        (3, 2),
    ]
    record_id = v1["record_id"]
    store = running.service.store
    assert [(v.version, v.year_result) for v in await store.all_versions(record_id)] == [
        (1, "HTT"),
        (2, "HT"),
        (3, "HT"),
    ]
    actions = [(e.action, e.version) for e in await store.audit_trail(record_id)]
    assert actions == [
        ("VERSION_STORED", 2),
        ("VERSION_STORED_LATE", 1),
        ("VERSION_SUPERSEDED", 3),
    ]
    # Another school year of the same student: same record id, its own code, version 1.
    await publish(topics[0], [message(sid, school_year="2025-2026", grade=5)])
    (next_year,) = [
        o for o in await read_stored(topics[1], 4) if o[1]["school_year"] == "2025-2026"
    ]
    assert (next_year[1]["record_id"], next_year[1]["version"]) == (record_id, 1)
    assert next_year[1]["lookup_code"] != v1["lookup_code"]

    code = v1["lookup_code"]
    headers = {"User-Agent": "storage-test", "X-Birth-Date": BORN}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{running.base}/v1/records/{record_id}") as response:
            assert response.status == 200
            by_id = await response.json()
        async with http.get(f"{running.base}/v1/records/{code.replace('-', '').lower()}") as r:
            assert r.status == 200
            by_code = await r.json()
        async with http.get(f"{running.base}/v1/records/{code}/pdf") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/pdf"
            etag = response.headers["ETag"]
            assert "attachment" in response.headers["Content-Disposition"]
            pdf = await response.read()
        async with http.get(
            f"{running.base}/v1/records/{code}/pdf", headers={"If-None-Match": etag}
        ) as response:
            assert response.status == 304
        async with http.get(f"{running.base}/v1/records/{code}/pdf?version=1") as response:
            assert response.status == 200
            old_pdf = await response.read()
    assert [(v["school_year"], v["version"]) for v in by_id["pages"]] == [
        ("2024-2025", 3),
        ("2025-2026", 1),
    ]
    # The code names its page; the record's other year is shown, without its code.
    view, other_year = by_code["pages"]
    assert (view["version"], view["lookup_code"], view["superseded_versions"]) == (3, code, 2)
    assert (other_year["is_named_page"], other_year["lookup_code"]) == (False, None)
    assert [s["role"] for s in view["signatures"]] == [
        "HOMEROOM_TEACHER",
        "PRINCIPAL",
        "SCHOOL_SEAL",
    ]
    assert (pdf, etag, old_pdf) == (v3["pdf"], f'"{v3["pdf_sha256"]}"', v1["pdf"])
    assert v2["pdf"] != pdf


async def test_conflicts_and_inconsistent_records_are_refused_counted_and_never_stored(
    running: Running, topics: tuple[str, str, str]
) -> None:
    sid, thief = student(), student()
    original = signed_record(sid)
    await publish(topics[0], [message(sid)])
    await read_stored(topics[1], 1, settle_s=0.2)
    key = original["record_key"].encode()
    other_content = signed_record(sid, days_absent=40)
    tampered = signed_record(sid, version=2, days_absent=3)
    tampered["pdf"] += b"tampered"
    stolen_id = signed_record(thief, record_id=original["record_id"])
    ok = message(sid, version=2, days_absent=3)
    await publish(
        topics[0],
        [
            (key, CODEC.encode(SIGNED, other_content)),
            (key, CODEC.encode(SIGNED, tampered)),
            (stolen_id["record_key"].encode(), CODEC.encode(SIGNED, stolen_id)),
            ok,
        ],
    )
    outputs = await read_stored(topics[1], 2)
    assert [o[1]["version"] for o in outputs] == [1, 2]
    assert rejected(running, "E_STORAGE_VERSION_CONFLICT") == 1
    assert rejected(running, "E_STORAGE_HASH_MISMATCH") == 1
    assert rejected(running, "E_STORAGE_RECORD_ID_CONFLICT") == 1
    store = running.service.store
    versions = await store.all_versions(original["record_id"])
    assert [(v.version, v.pdf_sha256 and v.pdf_sha256.hex()) for v in versions] == [
        (1, original["pdf_sha256"]),
        (2, signed_record(sid, version=2, days_absent=3)["pdf_sha256"]),
    ]
    assert await store.record_id_of(thief) is None
    actions = [e.action for e in await store.audit_trail(original["record_id"])]
    assert sorted(actions) == sorted(
        [
            "VERSION_STORED",
            "VERSION_CONFLICT_REFUSED",
            "RECORD_ID_CONFLICT_REFUSED",
            "VERSION_SUPERSEDED",
        ]
    )


async def test_garbage_is_counted_and_the_partition_keeps_flowing(
    running: Running, topics: tuple[str, str, str]
) -> None:
    sid = student()
    key, good = message(sid)
    unknown = b"\xc3\x01" + b"\xff" * 8 + b"\x00"
    await publish(topics[0], [(key, b"garbage"), (key, unknown), (key, b""), (key, good)])
    ((_, stored, _),) = await read_stored(topics[1], 1)
    assert stored["student_id"] == sid
    assert rejected(running, "E_NOT_AVRO_SINGLE_OBJECT", "unknown") == 2
    assert rejected(running, "E_UNKNOWN_SCHEMA_FINGERPRINT", "unknown") == 1
    assert running.service.pipeline.ready


async def test_http_lookup_found_not_found_typo_and_every_read_audited(
    running: Running, topics: tuple[str, str, str]
) -> None:
    sid = student()
    await publish(topics[0], [message(sid)])
    ((_, stored, _),) = await read_stored(topics[1], 1, settle_s=0.2)
    record_id, code = stored["record_id"], stored["lookup_code"]
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    missing = "HB0000000000000000"
    headers = {"User-Agent": "storage-test", "X-Birth-Date": BORN}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{running.base}/v1/records/{record_id.lower()}") as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(f"{running.base}/v1/records/{missing}") as response:
            assert response.status == 404
            error = await response.json()
        async with http.get(f"{running.base}/v1/records/{typo}") as response:
            assert response.status == 400
            invalid = await response.json()
        async with http.get(f"{running.base}/v1/records/{missing}/pdf") as response:
            assert response.status == 404
            assert (await response.json())["code"] == "E_RECORD_NOT_FOUND"
        async with http.get(f"{running.base}/v1/openapi.json") as response:
            assert response.status == 200
            paths = (await response.json())["paths"]
            assert {"/v1/records/{code}", "/v1/records/{code}/pdf"} <= set(paths)
        async with http.get(
            f"{running.base}/v1/records/{code}", headers={"X-Birth-Date": "2015-08-07"}
        ) as response:
            assert response.status == 404
            assert await response.json() == error  # a wrong birth date: the same answer
    (view,) = body["pages"]
    assert (view["version"], view["grade"], view["lookup_code"], view["signed_complete"]) == (
        1,
        4,
        code,
        True,
    )
    assert body["student_name"] == "Nguyễn Thị Minh Anh"
    assert BORN not in str(body) and record_id not in str(body)  # nothing else of the record
    assert error["code"] == "E_RECORD_NOT_FOUND" and error["message_vi"] and error["message_en"]
    assert invalid["code"] == "E_LOOKUP_CODE_INVALID"

    store, pool = running.service.store, running.service.pool
    (read,) = [e for e in await store.audit_trail(record_id) if e.action == "READ"]
    assert read.actor.startswith("http:127.0.0.1") and read.detail["user_agent"] == "storage-test"
    assert read.detail["versions"] == [{"school_year": "2024-2025", "version": 1}]
    assert [e.detail["resource"] for e in await reads_of_code(pool, missing)] == [
        "record",
        "pdf",
    ]
    # The wrong birth date was refused and names no record.
    refused = [e for e in await reads_of_code(pool, code) if e.action != "READ"]
    assert [(e.action, e.record_id) for e in refused] == [("READ_REFUSED", None)]
    (typo_read,) = await reads_of_code(pool, typo)
    assert (typo_read.action, typo_read.detail["error"]) == (
        "READ_NOT_FOUND",
        "E_LOOKUP_CODE_INVALID",
    )


async def test_a_crash_after_the_database_commit_replays_without_a_new_version(
    settings: StorageSettings, topics: tuple[str, str, str]
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
