"""Avro messages through the real local broker: aiokafka both ways, and kcat (librdkafka).

Each test uses its own topic and consumer group. The broker must be running
(`hocba stack up`); a missing broker fails these tests, it does not skip them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from hypothesis import HealthCheck, given, settings

from services.messaging.codec import AvroCodec, Decoded
from services.messaging.jsonform import to_json
from services.messaging.kafka import KafkaSettings, make_consumer, make_producer
from services.messaging.schemas import default_registry
from tests.avro_data import datums

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings.from_env()
CODEC = AvroCodec(default_registry())
EVENT = "vn.edu.hocba.VendorEvent"


def _sample(name: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datums(default_registry().current(name)))
    def collect(datum: dict[str, Any]) -> None:
        found.append(datum)

    collect()
    return found[:count]


@pytest.fixture
async def topic() -> AsyncIterator[str]:
    name = f"test.avro.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def _consume(
    topic: str, count: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    consumer = make_consumer(KAFKA, topic, group_id=f"test-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    received: list[tuple[bytes | None, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(received) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    received += [(m.key, m.value) for m in messages if m.value is not None]
    finally:
        await consumer.stop()
    return received


async def test_avro_messages_round_trip_through_the_broker(topic: str) -> None:
    sent = _sample(EVENT, 40)
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        for i, datum in enumerate(sent):
            await producer.send(topic, CODEC.encode(EVENT, datum), key=f"k{i % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    received = await _consume(topic, len(sent))
    decoded = [CODEC.decode(value, expected=EVENT) for _, value in received]
    assert all(isinstance(d, Decoded) for d in decoded)
    values = [d.value for d in decoded if isinstance(d, Decoded)]
    assert _canonical(EVENT, values) == _canonical(EVENT, sent)


def _canonical(name: str, values: list[dict[str, Any]]) -> list[str]:
    """Order-independent comparable form of a batch of datums."""
    schema = default_registry().current(name)
    return sorted(json.dumps(to_json(schema, v), sort_keys=True) for v in values)


def _kcat() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    assert path, "kcat is required (Debian package kcat; deploy/bootstrap.sh installs it)"
    return path


async def test_kcat_reads_what_the_project_produces(topic: str) -> None:
    sent = _sample("vn.edu.hocba.RejectedEvent", 20)
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        for datum in sent:
            await producer.send(topic, CODEC.encode("vn.edu.hocba.RejectedEvent", datum))
        await producer.flush()
    finally:
        await producer.stop()
    # %R prefixes each payload with its length (32-bit big-endian), so binary values survive.
    out = subprocess.run(
        [
            _kcat(),
            "-C",
            "-b",
            KAFKA.bootstrap_servers,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%R%s",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    payloads = []
    while out:
        (size,) = struct.unpack(">i", out[:4])
        payloads.append(out[4 : 4 + size])
        out = out[4 + size :]
    decoded = [CODEC.decode(p, expected="vn.edu.hocba.RejectedEvent") for p in payloads]
    assert all(isinstance(d, Decoded) for d in decoded), decoded
    values = [d.value for d in decoded if isinstance(d, Decoded)]
    assert _canonical("vn.edu.hocba.RejectedEvent", values) == _canonical(
        "vn.edu.hocba.RejectedEvent", sent
    )


async def test_the_project_reads_what_kcat_produces(topic: str, tmp_path: Any) -> None:
    sent = _sample(EVENT, 15)
    delimiter = b"--hocba-kcat-boundary--"
    encoded = [CODEC.encode(EVENT, datum) for datum in sent]
    assert not any(delimiter in e for e in encoded)
    batch = tmp_path / "events.bin"
    batch.write_bytes(delimiter.join(encoded) + delimiter)
    subprocess.run(
        [
            _kcat(),
            "-P",
            "-b",
            KAFKA.bootstrap_servers,
            "-t",
            topic,
            "-D",
            delimiter.decode(),
            "-l",
            str(batch),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    received = await _consume(topic, len(sent))
    decoded = [CODEC.decode(value, expected=EVENT) for _, value in received]
    assert all(isinstance(d, Decoded) for d in decoded), decoded
    values = [d.value for d in decoded if isinstance(d, Decoded)]
    assert _canonical(EVENT, values) == _canonical(EVENT, sent)


@pytest.mark.parametrize("garbage", [b"not avro", b"\xc3\x01" + b"\xff" * 8 + b"x"])
async def test_garbage_on_a_topic_decodes_to_a_coded_failure(topic: str, garbage: bytes) -> None:
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(topic, garbage)
    finally:
        await producer.stop()
    [(_, value)] = await _consume(topic, 1)
    result = CODEC.decode(value, expected=EVENT)
    assert not isinstance(result, Decoded)
    assert result.code in {"E_NOT_AVRO_SINGLE_OBJECT", "E_UNKNOWN_SCHEMA_FINGERPRINT"}
