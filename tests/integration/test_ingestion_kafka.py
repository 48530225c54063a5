"""The ingestion service on the real broker and database: the Kafka entry.

Each test gets its own topics, consumer group, transactional id, vendor and schools,
and runs the service's own wiring (``bootstrap``) against them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.ingestion.app import Ingestion, bootstrap
from services.ingestion.settings import IngestionSettings
from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import KafkaSettings, make_consumer, make_producer
from services.stack import apply_migrations
from tests.ports import free_port
from tests.unit.test_ingestion_data import encode, unique, vendor_event

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings.from_env()
DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
_BIG = str(4 * 1024 * 1024)


@dataclass
class World:
    settings: IngestionSettings
    service: Ingestion
    vendor: str
    school: str
    other_vendor: str
    other_school: str

    async def publish(self, *values: bytes) -> None:
        producer = make_producer(KAFKA, max_request_size=int(_BIG))
        await producer.start()
        try:
            for value in values:
                # One key: one partition, so order behind bad messages is tested.
                await producer.send_and_wait(self.settings.vendor_events_topic, value, key=b"k")
        finally:
            await producer.stop()


async def read_topic(topic: str, expected: int, settle_s: float = 1.5) -> list[dict[str, Any]]:
    """Every committed message of ``topic`` once ``expected`` arrived (and nothing more came)."""
    consumer = make_consumer(
        KAFKA, topic, group_id=None, max_partition_fetch_bytes=int(_BIG), fetch_max_bytes=int(_BIG)
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(60):
            while len(out) < expected:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    out += [_decode(r.value) for r in records]
        for records in (await consumer.getmany(timeout_ms=int(settle_s * 1000))).values():
            out += [_decode(r.value) for r in records]
    finally:
        await consumer.stop()
    return out


def _decode(value: bytes | None) -> dict[str, Any]:
    decoded = default_codec().decode(value or b"")
    assert isinstance(decoded, Decoded), decoded
    return decoded.value


@pytest.fixture
async def world() -> AsyncIterator[World]:
    await apply_migrations(DSN, MIGRATIONS)
    suffix = uuid.uuid4().hex[:10]
    names = (f"test.vendor.{suffix}", f"test.accepted.{suffix}", f"test.rejected.{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    await admin.create_topics(
        [
            NewTopic(names[0], 1, 1, topic_configs={"max.message.bytes": _BIG}),
            NewTopic(names[1], 3, 1),
            NewTopic(names[2], 3, 1),
        ]
    )
    settings = replace(
        IngestionSettings.from_env({"HOCBA_PG_DSN": DSN}),
        kafka=KAFKA,
        instance_id=f"test-{suffix}",
        group_id=f"test-ingestion-{suffix}",
        vendor_events_topic=names[0],
        accepted_topic=names[1],
        rejected_topic=names[2],
        http_port=free_port(),
        vendor_cache_ttl_s=0.0,
    )
    service = await bootstrap(settings)
    vendor, other = unique("v"), unique("v")
    school, other_school = unique("S"), unique("S")
    for v, s in ((vendor, school), (other, other_school)):
        await service.store.add_vendor(v, f"Vendor {v}")
        await service.store.assign(v, s, dt.date(2024, 9, 1), None)
    try:
        yield World(settings, service, vendor, school, other, other_school)
    finally:
        await service.close()
        await admin.delete_topics(list(names))
        await admin.close()


@pytest.fixture
async def running(world: World) -> AsyncIterator[World]:
    """The service's Kafka entry running in the background."""
    stop = asyncio.Event()
    task = asyncio.create_task(world.service.run_pipeline(stop))
    try:
        yield world
    finally:
        stop.set()
        await task


async def test_bad_messages_are_rejected_and_the_valid_one_behind_them_accepted(
    running: World,
) -> None:
    w = running
    valid = vendor_event(vendor_id=w.vendor, school_code=w.school)
    wrong_fingerprint = bytearray(encode(valid))
    wrong_fingerprint[2:10] = bytes.fromhex("0123456789abcdef")
    foreign = vendor_event(vendor_id=w.vendor, school_code=w.other_school)
    oversized = b"\xc3\x01" + os.urandom(2 * 1024 * 1024)
    await w.publish(
        b"\x00garbage\xff", bytes(wrong_fingerprint), oversized, encode(foreign), encode(valid)
    )
    accepted = await read_topic(w.settings.accepted_topic, 1)
    assert [a["event"]["event_id"] for a in accepted] == [valid["event_id"]]
    assert accepted[0]["channel"] == "KAFKA" and accepted[0]["event"] == valid
    rejected = await read_topic(w.settings.rejected_topic, 4)
    by_code = {r["findings"][0]["code"]: r for r in rejected}
    assert set(by_code) == {
        "E_NOT_AVRO_SINGLE_OBJECT",
        "E_UNKNOWN_SCHEMA_FINGERPRINT",
        "E_MESSAGE_TOO_LARGE",
        "E_SCHOOL_NOT_ASSIGNED",
    }
    assert by_code["E_MESSAGE_TOO_LARGE"]["raw_size_bytes"] == len(oversized)
    assert by_code["E_SCHOOL_NOT_ASSIGNED"]["event_id"] == foreign["event_id"]
    assert all(r["stage"] == "INGESTION" and r["channel"] == "KAFKA" for r in rejected)
    metrics = w.service.metrics
    refused = metrics.base.rejected.labels("ingestion", "E_SCHOOL_NOT_ASSIGNED", w.vendor)
    assert refused._value.get() == 1


async def test_a_resent_event_is_not_forwarded_twice(running: World) -> None:
    w = running
    event = encode(vendor_event(vendor_id=w.vendor, school_code=w.school))
    await w.publish(event)
    assert len(await read_topic(w.settings.accepted_topic, 1, settle_s=0.5)) == 1
    marker = vendor_event(vendor_id=w.vendor, school_code=w.school)
    await w.publish(event, event, encode(marker))
    accepted = await read_topic(w.settings.accepted_topic, 2)
    assert len(accepted) == 2 and accepted[1]["event"]["event_id"] == marker["event_id"]


async def test_an_event_published_with_kcat_is_accepted(running: World, tmp_path: Path) -> None:
    w = running
    events = [vendor_event(vendor_id=w.vendor, school_code=w.school) for _ in range(2)]
    delimiter = b"--hocba-kcat-delimiter--"
    payloads = [encode(e) for e in events]
    assert all(delimiter not in p for p in payloads)
    path = tmp_path / "events.bin"
    path.write_bytes(delimiter.join(payloads))
    subprocess.run(
        [
            "kcat",
            "-P",
            "-b",
            KAFKA.bootstrap_servers,
            "-t",
            w.settings.vendor_events_topic,
            "-D",
            delimiter.decode(),
            "-l",
            str(path),
        ],
        check=True,
        timeout=30,
    )
    accepted = await read_topic(w.settings.accepted_topic, 2)
    assert sorted(a["event"]["event_id"] for a in accepted) == sorted(e["event_id"] for e in events)
