"""National sync against the real broker and database, the project's simulator as the far side.

The simulator and the sync service run as processes (``python -m ...``), on free ports, with
this module's own topics, consumer group and PostgreSQL schema, so a developer's running
stack and its data are neither used nor disturbed. Logs go to artifacts/national-sync/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import secrets
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.cli.supervisor import ServiceProcesses
from services.cli.sync import storage_requeue
from services.core.national import VersionKey
from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import KafkaSettings, make_consumer, make_producer
from services.messaging.metrics import ServiceMetrics
from services.national_sync.client import NationalClient, NationalSettings
from services.national_sync.delivery import PROBE_MARK
from services.national_sync.operations import reconcile, replay, sync_status
from services.national_sync.settings import SyncSettings
from services.stack.migrations import apply_migrations
from services.storage.mapping import stored_record_datum
from services.storage.repository import PgRecordStore
from tests.ports import free_port
from tests.unit.test_storage_contract import delivery
from tests.unit.test_storage_fixtures import signed_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "national-sync"
CODEC = default_codec()
KAFKA = KafkaSettings.from_env()
STORED = "vn.edu.hocba.StoredRecord"
MAX_ATTEMPTS = 10
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _record_id() -> str:
    return "HB" + "".join(secrets.choice(_CROCKFORD) for _ in range(16))


def stored_datum(
    school_code: str, number: int, *, school_year: str = "2024-2025"
) -> dict[str, Any]:
    """A StoredRecord datum of a signed version (synthetic: the PDF is only its hash)."""
    student = f"S{number:08d}"
    now = dt.datetime.now(dt.UTC)
    return {
        "record_id": _record_id(),
        "version": 1,
        "lookup_code": None,
        "record_key": f"{school_code}|{student}|{school_year}",
        "school_code": school_code,
        "student_id": student,
        "national_id": None,
        "school_year": school_year,
        "grade": 1 + number % 5,
        "year_result": "HT",
        "pdf_sha256": hashlib.sha256(f"{school_code}{number}".encode()).hexdigest(),
        "pdf_size_bytes": 100_000,
        "pdf_url": None,
        "effective_at": now,
        "supersedes_version": None,
        "stored_at": now,
    }


def key_of(datum: dict[str, Any]) -> VersionKey:
    return VersionKey(datum["record_id"], datum["school_year"], datum["version"])


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"sync_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f"CREATE SCHEMA {name}")
    await apply_migrations(DSN, MIGRATIONS, schema=name)
    try:
        yield name
    finally:
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
        await admin.close()


@pytest.fixture
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(
        DSN, min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def topics() -> AsyncIterator[dict[str, str]]:
    run = uuid.uuid4().hex[:8]
    names = {kind: f"test.sync.{run}.{kind}" for kind in ("stored", "status", "dlq")}
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=4, replication_factor=1) for n in names.values()]
        )
        yield names
    finally:
        await admin.delete_topics(list(names.values()))
        await admin.close()


@pytest.fixture
def processes(schema: str, topics: dict[str, str]) -> Iterator[ServiceProcesses]:
    running = ServiceProcesses(ARTIFACTS)
    running.env.update(
        {
            "HOCBA_NATIONAL_SIM_PORT": str(free_port()),
            "HOCBA_SYNC_PORT": str(free_port()),
            "HOCBA_PG_DSN": f"{DSN}?search_path={schema}",
            "HOCBA_SYNC_STORED_TOPIC": topics["stored"],
            "HOCBA_SYNC_STATUS_TOPIC": topics["status"],
            "HOCBA_SYNC_DLQ_TOPIC": topics["dlq"],
            "HOCBA_SYNC_GROUP": f"test-sync-{uuid.uuid4().hex[:8]}",
            "HOCBA_SYNC_TIMEOUT_S": "1",
            "HOCBA_SYNC_CONCURRENCY": "32",
            "HOCBA_SYNC_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "HOCBA_SYNC_BACKOFF_BASE_MS": "50",
            "HOCBA_SYNC_BACKOFF_CAP_MS": "2000",
            "HOCBA_SYNC_BREAKER_FAILURES": "8",
            "HOCBA_SYNC_BREAKER_COOLDOWN_S": "1",
        }
    )
    running.env["HOCBA_NATIONAL_URL"] = running.url("national-sim", "")
    try:
        yield running
    finally:
        running.stop_all()


def _admin(processes: ServiceProcesses, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        processes.url("national-sim", path),
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def _held(processes: ServiceProcesses) -> dict[VersionKey, dict[str, int]]:
    stats = _admin(processes, "GET", "/admin/stats")
    return {
        VersionKey(v["record_id"], v["school_year"], v["version"]): v for v in stats["versions"]
    }


async def _publish(topic: str, data: list[dict[str, Any]]) -> None:
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, CODEC.encode(STORED, d), key=d["record_key"].encode())
            for d in data
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


async def _sync_states(pool: asyncpg.Pool) -> dict[VersionKey, str]:
    rows = await pool.fetch("SELECT record_id, school_year, version, state FROM national_sync")
    return {VersionKey(r["record_id"], r["school_year"], r["version"]): r["state"] for r in rows}


async def _until(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def _all_finished(pool: asyncpg.Pool, keys: set[VersionKey], timeout: float) -> None:
    async def done() -> bool:
        states = await _sync_states(pool)
        return keys <= {k for k, s in states.items() if s != "REPLAY_REQUESTED"}

    await _until(f"{len(keys)} versions finished", done, timeout)


async def _read_all(topic: str, expected: str) -> list[dict[str, Any]]:
    consumer = make_consumer(KAFKA, topic, group_id=None)
    await consumer.start()
    try:
        found: list[dict[str, Any]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                return found
            for records in batch.values():
                for record in records:
                    decoded = CODEC.decode(record.value or b"", expected=expected)
                    assert isinstance(decoded, Decoded), decoded
                    found.append(decoded.value)
    finally:
        await consumer.stop()


async def test_every_version_arrives_once_through_faults_and_an_outage(
    processes: ServiceProcesses, pool: asyncpg.Pool, topics: dict[str, str]
) -> None:
    processes.env["HOCBA_NATIONAL_SIM_FAULTS"] = json.dumps(
        {"error_rate": 0.2, "timeout_rate": 0.1, "timeout_seconds": 3, "seed": 11}
    )
    processes.start("national-sim")
    data = [stored_datum(f"9{n % 40:07d}", n) for n in range(2000)]
    conflicting = data[100:105]
    # The national side already holds these five versions with other PDFs: conflicts.
    async with NationalClient(
        NationalSettings(base_url=processes.env["HOCBA_NATIONAL_URL"], timeout_seconds=10)
    ) as national:
        for datum in conflicting:
            other = {**datum, "pdf_sha256": "0" * 64}
            for _ in range(20):  # the simulator's injected faults apply to these PUTs too
                if (await national.put_version(other)).http_status == 201:
                    break
    processes.start("national-sync")
    await _publish(topics["stored"], data)

    async def some_delivered() -> bool:
        return len(_held(processes)) >= 600

    await _until("600 versions delivered", some_delivered, 120)
    _admin(processes, "POST", "/admin/outage", {"seconds": 20})
    keys = {key_of(d) for d in data}
    await _all_finished(pool, keys, 300)

    held = _held(processes)
    conflict_keys = {key_of(d) for d in conflicting}
    for key in keys - conflict_keys:
        assert held[key]["creates"] == 1, (key, held[key])
    states = await _sync_states(pool)
    assert {k for k in keys if states[k] == "DEAD_LETTERED"} == conflict_keys
    letters = await _read_all(topics["dlq"], "vn.edu.hocba.DeadLetter")
    assert {key_of(letter["stored"]) for letter in letters} == conflict_keys
    assert {letter["reason_code"] for letter in letters} == {"E_SYNC_CONFLICT"}
    assert all(letter["attempts"][-1]["http_status"] == 409 for letter in letters)
    # No version used more attempts than the policy allows (breaker probes are not charged).
    charged: dict[VersionKey, int] = {}
    for status in await _read_all(topics["status"], "vn.edu.hocba.SyncStatus"):
        if not (status["detail"] or "").startswith(PROBE_MARK):
            key = VersionKey(status["record_id"], "2024-2025", status["version"])
            charged[key] = charged.get(key, 0) + 1
    assert max(charged.values()) <= MAX_ATTEMPTS
    # During the outage the breaker held the calls back: a few probes, not a retry storm.
    stats = _admin(processes, "GET", "/admin/stats")
    assert 0 < stats["faults"].get("outage", 0) <= 80, stats["faults"]

    # An operator resolves one conflict on the national side and replays its dead letter.
    fixed = conflicting[0]
    _admin(
        processes,
        "DELETE",
        f"/admin/records/{fixed['record_id']}/years/{fixed['school_year']}/versions/1",
    )
    report = await replay(
        pool,
        KAFKA,
        CODEC,
        dlq_topic=topics["dlq"],
        stored_topic=topics["stored"],
        school_code=fixed["school_code"],
    )
    assert report.replayed == [key_of(fixed)]

    async def fixed_delivered() -> bool:
        return (await _sync_states(pool)).get(key_of(fixed)) == "DELIVERED"

    await _until("the replayed version delivered", fixed_delivered, 60)
    status = await sync_status(
        pool,
        KAFKA,
        stored_topic=topics["stored"],
        group_id=processes.env["HOCBA_SYNC_GROUP"],
        metrics_url=processes.url("national-sync", "/metrics"),
    )
    assert status.dead_letters == 4 and status.service is not None
    assert status.service["breaker_state"] == 0


async def test_a_killed_sync_service_restarts_and_each_version_still_arrives_once(
    processes: ServiceProcesses, pool: asyncpg.Pool, topics: dict[str, str]
) -> None:
    processes.env["HOCBA_NATIONAL_SIM_FAULTS"] = json.dumps(
        {"error_rate": 0.1, "lost_ack_rate": 0.2, "seed": 5}
    )
    processes.start("national-sim")
    processes.start("national-sync")
    data = [stored_datum(f"8{n % 20:07d}", n) for n in range(600)]
    await _publish(topics["stored"], data)

    async def some_delivered() -> bool:
        return len(_held(processes)) >= 150

    await _until("150 versions delivered", some_delivered, 120)
    processes.kill("national-sync")
    processes.start("national-sync")
    keys = {key_of(d) for d in data}
    await _all_finished(pool, keys, 240)
    held = _held(processes)
    assert all(held[key]["creates"] == 1 for key in keys)
    assert sum(held[key]["repeats"] for key in keys) > 0  # lost acknowledgements were retried
    states = await _sync_states(pool)
    assert {states[key] for key in keys} <= {"DELIVERED", "ALREADY_PRESENT"}


async def test_reconcile_finds_and_repairs_a_version_the_national_side_lost(
    processes: ServiceProcesses, pool: asyncpg.Pool, topics: dict[str, str]
) -> None:
    processes.start("national-sim")
    processes.start("national-sync")
    school = f"7{secrets.randbelow(10**7):07d}"
    store = PgRecordStore(pool, ServiceMetrics("test"), actor="test")
    signed = [
        signed_record(f"HS{school}{n:02d}", school_code=school, record_id=_record_id())
        for n in range(6)
    ]
    results = await store.store_batch([delivery(s, n) for n, s in enumerate(signed)])
    stored = [r.stored for r in results]
    assert all(s is not None for s in stored)
    data = [stored_record_datum(s) for s in stored if s is not None]
    await _publish(topics["stored"], data)
    keys = {key_of(d) for d in data}
    await _all_finished(pool, keys, 60)
    lost = data[2]
    _admin(
        processes,
        "DELETE",
        f"/admin/records/{lost['record_id']}/years/{lost['school_year']}/versions/1",
    )
    async with NationalClient(
        NationalSettings(base_url=processes.env["HOCBA_NATIONAL_URL"])
    ) as national:
        settings = SyncSettings(stored_topic=topics["stored"])
        requeue = storage_requeue(pool, settings)
        report = await reconcile(pool, national, school_code=school, requeue=requeue)
        assert report.checked == 1
        (diff,) = report.differences
        assert diff.missing == (key_of(lost),) and not diff.extra and not diff.different
        assert report.repaired == [key_of(lost)]

        async def back() -> bool:
            held = await national.versions(school, lost["school_year"])
            return key_of(lost) in dict(held)

        await _until("the lost version delivered again", back, 60)
        again = await reconcile(pool, national, school_code=school, requeue=requeue)
        assert again.checked == 1 and again.differences == []
