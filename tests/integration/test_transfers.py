"""A school transfer end to end on the real broker and database.

Vendor X (school A) transfers a student to school B (vendor Y) from 1 February 2025:
through the real ingestion service (HTTP and Kafka entries) X's events dated before
that day are accepted and later ones refused, Y's the other way round; the validation
service carries A's evaluations into B's year record; the storage service turns the
transfer into an access grant, so school B's client reads the student's signed page of
A (audited with client and purpose) while a third school's client gets 404.

Each test has its own topics, consumer groups, vendors, schools and student; storage runs
in its own PostgreSQL schema.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.ingestion.app import Ingestion
from services.ingestion.app import bootstrap as bootstrap_ingestion
from services.ingestion.authorization import Transfer
from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.settings import IngestionSettings
from services.ingestion.store import InvalidRequestError, VendorStore
from services.ingestion.vendors import PostgresVendorStore
from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import make_consumer
from services.messaging.topics import HEADER_CARRIED_FROM, HEADER_EVENT_ID
from services.stack import apply_migrations
from services.storage.access import ClientKind, PgAccessStore
from services.storage.app import bootstrap as bootstrap_storage
from services.storage.settings import StorageSettings
from services.validation.app import bootstrap as bootstrap_validation
from services.validation.settings import ValidationSettings
from tests.integration.test_ingestion_kafka import DSN, KAFKA, MIGRATIONS, World, read_topic
from tests.integration.test_storage_service import Running, publish, read_stored
from tests.ports import free_port
from tests.unit.test_ingestion_data import as_json, encode
from tests.unit.test_storage_fixtures import SIGNED, signed_record
from tests.unit.test_transfers_data import EFFECTIVE_ON, Scenario, at, scenario

pytestmark = pytest.mark.integration

D = EFFECTIVE_ON
DAY = dt.timedelta(days=1)
CODEC = default_codec()


def short(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# -- the store contract ------------------------------------------------------------------


@pytest.fixture(params=["postgres", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[VendorStore]:
    if request.param == "memory":
        yield InMemoryVendorStore()
        return
    await apply_migrations(DSN, MIGRATIONS)
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    try:
        yield PostgresVendorStore(pool)
    finally:
        await pool.close()


async def test_recorded_transfers_come_back_per_student_in_effective_order(
    store: VendorStore,
) -> None:
    student, other = short("hs"), short("hs")
    later = Transfer(str(uuid.uuid4()), student, "B", "C", D + 30 * DAY, "2024-2025", "y")
    first = Transfer(str(uuid.uuid4()), student, "A", "B", D, "2024-2025", "x")
    assert await store.record_transfers([later, first]) == 2
    assert await store.record_transfers([first]) == 0  # an event id keeps its first row
    assert await store.student_transfers([student, other]) == {student: (first, later)}
    assert await store.student_transfers([]) == {}
    with pytest.raises(InvalidRequestError):
        await store.record_transfers(
            [dataclasses.replace(first, event_id=str(uuid.uuid4()), to_school="A")]
        )


# -- end to end --------------------------------------------------------------------------


@dataclasses.dataclass
class Stack:
    scenario: Scenario
    ingestion: World
    tokens: dict[str, str]
    names: dict[str, str]
    schema: str


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    await apply_migrations(DSN, MIGRATIONS)
    suffix = uuid.uuid4().hex[:10]
    names = {
        kind: f"test.{kind}.{suffix}"
        for kind in (
            "vendor",
            "accepted",
            "rejected",
            "transfers",
            "validated",
            "invalid",
            "state",
            "signed",
            "stored",
        )
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    await admin.create_topics(
        [
            NewTopic(
                name, 3, 1, topic_configs={"cleanup.policy": "compact"} if kind == "state" else {}
            )
            for kind, name in names.items()
        ]
    )
    schema = f"transfers_test_{suffix}"
    conn = await asyncpg.connect(DSN)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await apply_migrations(DSN, MIGRATIONS, schema=schema)
    settings = dataclasses.replace(
        IngestionSettings.from_env({"HOCBA_PG_DSN": DSN}),
        kafka=KAFKA,
        instance_id=f"test-{suffix}",
        group_id=f"test-ingestion-{suffix}",
        vendor_events_topic=names["vendor"],
        accepted_topic=names["accepted"],
        rejected_topic=names["rejected"],
        transfers_topic=names["transfers"],
        http_port=free_port(),
        vendor_cache_ttl_s=0.0,
        # Every batch reads the students' transfers from the database: what another
        # replica would see once the accepting one recorded them.
        transfer_cache_ttl_s=0.0,
    )
    service: Ingestion = await bootstrap_ingestion(settings)
    s = scenario(short("HS"), short("A"), short("B"), short("x"), short("y"))
    tokens = {}
    for vendor, school in ((s.vendor_x, s.school_a), (s.vendor_y, s.school_b)):
        await service.store.add_vendor(vendor, f"Vendor {vendor}")
        await service.store.assign(vendor, school, dt.date(2024, 8, 1), None)
        tokens[vendor] = (await service.store.issue_token(vendor)).token
    world = World(settings, service, s.vendor_x, s.school_a, s.vendor_y, s.school_b)
    task = asyncio.create_task(
        service.shell.serve([service.run_pipeline, service.run_http_producer])
    )
    try:
        await until_ready(f"http://127.0.0.1:{settings.http_port}")
        yield Stack(s, world, tokens, names, schema)
    finally:
        service.shell.stop.set()
        await task
        await service.close()
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
        await admin.delete_topics(list(names.values()))
        await admin.close()


async def until_ready(base: str) -> None:
    async with asyncio.timeout(30), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def post(stack: Stack, vendor: str, events: list[dict[str, Any]]) -> list[str]:
    """POST /v1/events as ``vendor``: each event's status, or its first refusal code."""
    url = f"http://127.0.0.1:{stack.ingestion.settings.http_port}/v1/events"
    headers = {"Authorization": f"Bearer {stack.tokens[vendor]}"}
    async with aiohttp.ClientSession() as http:
        body = {"events": [as_json(e) for e in events]}
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    return [r["findings"][0]["code"] if r["findings"] else r["status"] for r in answer["results"]]


async def first_message(
    topic: str, wanted: Callable[[dict[str, Any]], bool], timeout_s: float = 60
) -> dict[str, Any]:
    """The first committed message of ``topic`` that ``wanted`` accepts."""
    consumer = make_consumer(KAFKA, topic, group_id=None)
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        decoded = CODEC.decode(r.value or b"")
                        assert isinstance(decoded, Decoded)
                        if wanted(decoded.value):
                            return decoded.value
    finally:
        await consumer.stop()


async def carried_messages(topic: str, expected: int) -> list[tuple[str, str, str]]:
    """(event id, key, carried-from) of the carried messages on ``topic``."""
    consumer = make_consumer(KAFKA, topic, group_id=None)
    await consumer.start()
    found: list[tuple[str, str, str]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        headers = dict(r.headers)
                        if HEADER_CARRIED_FROM in headers:
                            found.append(
                                (
                                    headers[HEADER_EVENT_ID].decode(),
                                    (r.key or b"").decode(),
                                    headers[HEADER_CARRIED_FROM].decode(),
                                )
                            )
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            found += [
                ("unexpected", "", "") for r in records if HEADER_CARRIED_FROM in dict(r.headers)
            ]
    finally:
        await consumer.stop()
    return found


async def test_a_transfer_flips_vendor_authorization_carries_evaluations_and_grants_access(
    stack: Stack,
) -> None:
    s = stack.scenario
    # -- ingestion: authorization flips at the effective date, both entries ----------------
    assert await post(stack, s.vendor_x, [*s.before, s.transfer]) == ["accepted"] * 6
    x_on, x_after = (s.event(s.vendor_x, s.school_a, at(d)) for d in (D, D + 20 * DAY))
    x_before = s.event(s.vendor_x, s.school_a, at(D - DAY))
    assert await post(stack, s.vendor_x, [x_on, x_after, x_before]) == [
        "E_STUDENT_TRANSFERRED",
        "E_STUDENT_TRANSFERRED",
        "accepted",
    ]
    y_before = s.event(s.vendor_y, s.school_b, at(D - DAY))
    assert await post(stack, s.vendor_y, [y_before]) == ["E_STUDENT_NOT_YET_TRANSFERRED"]
    assert await post(stack, s.vendor_y, s.after) == ["accepted"] * len(s.after)
    # The Kafka entry judges the same way.
    x_kafka = s.event(s.vendor_x, s.school_a, at(D + DAY))
    y_kafka_early = s.event(s.vendor_y, s.school_b, at(D - 2 * DAY))
    await stack.ingestion.publish(encode(x_kafka), encode(y_kafka_early))
    refusals = {
        r["event_id"]: [f["code"] for f in r["findings"]]
        for r in await read_topic(stack.names["rejected"], 5, settle_s=0.5)
    }
    assert refusals[x_kafka["event_id"]] == ["E_STUDENT_TRANSFERRED"]
    assert refusals[y_kafka_early["event_id"]] == ["E_STUDENT_NOT_YET_TRANSFERRED"]
    (published,) = await read_topic(stack.names["transfers"], 1, settle_s=0.5)
    assert published["event"] == s.transfer

    # -- validation: A's evaluations before the date complete B's year ---------------------
    validation = bootstrap_validation(
        dataclasses.replace(
            ValidationSettings(),
            kafka=KAFKA,
            instance_id=uuid.uuid4().hex[:6],
            http_port=free_port(),
            group_id=f"test-validation-{uuid.uuid4().hex[:8]}",
            accepted_topic=stack.names["accepted"],
            rejected_topic=stack.names["rejected"],
            validated_topic=stack.names["validated"],
            invalid_topic=stack.names["invalid"],
            state_topic=stack.names["state"],
        )
    )
    stop = asyncio.Event()
    await validation.pipeline.start()
    running = asyncio.create_task(validation.pipeline.run(stop))
    try:
        complete = await first_message(
            stack.names["validated"], lambda m: m["record"] == s.record, timeout_s=90
        )
    finally:
        stop.set()
        await running
        await validation.pipeline.stop()
    assert complete["vendor_id"] == s.vendor_y
    assert complete["record_key"] == f"{s.school_b}|{s.student}|2024-2025"
    assert {e["event_id"] for e in s.before[1:]} <= set(complete["source_event_ids"])
    carried = await carried_messages(stack.names["accepted"], len(s.before) - 1)
    assert sorted(carried) == sorted(
        (
            e["event_id"],
            f"{s.school_b}|{s.student}|2024-2025",
            f"{s.school_a}|{s.student}|2024-2025",
        )
        for e in s.before[1:]
    )

    # -- storage: the grant lets B read A's signed page, audited; C gets 404 ---------------
    storage_settings = dataclasses.replace(
        StorageSettings.from_env({}),
        pg_dsn=DSN,
        kafka=KAFKA,
        signed_topic=stack.names["signed"],
        stored_topic=stack.names["stored"],
        transfers_topic=stack.names["transfers"],
        group_id=f"test-storage-{uuid.uuid4().hex[:8]}",
        pg_schema=stack.schema,
        http_port=free_port(),
        db_retry_budget_s=5.0,
    )
    earlier = signed_record(
        s.student, school_code=s.school_a, school_year="2023-2024", grade=3, vendor_id=s.vendor_x
    )
    await publish(
        stack.names["signed"], [(earlier["record_key"].encode(), CODEC.encode(SIGNED, earlier))]
    )
    pool = await asyncpg.create_pool(
        DSN, min_size=1, max_size=2, server_settings={"search_path": stack.schema}
    )
    run = Running(await bootstrap_storage(storage_settings))
    try:
        await run.until_ready()
        await read_stored(stack.names["stored"], 1, settle_s=0.1)
        async with asyncio.timeout(30):
            while not await pool.fetchval(
                "SELECT count(*) FROM record_grants WHERE student_id = $1", s.student
            ):
                await asyncio.sleep(0.1)
        grant = await pool.fetchrow("SELECT * FROM record_grants WHERE student_id = $1", s.student)
        assert (grant["school_code"], grant["from_school_code"], grant["granted_from"]) == (
            s.school_b,
            s.school_a,
            D,
        )
        access = PgAccessStore(pool)
        b_id, c_id = short("b"), short("c")
        school_b = await access.add_client(b_id, ClientKind.SCHOOL, "Trường B", [s.school_b])
        school_c = await access.add_client(c_id, ClientKind.SCHOOL, "Trường C", [short("C")])
        base = f"{run.base}/v1/students/{s.student}/records"
        purpose = "Tiếp nhận học sinh chuyển trường"
        async with aiohttp.ClientSession() as http:

            async def get(path: str, token: str, **query: str) -> aiohttp.ClientResponse:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(path, headers=headers, params=query) as response:
                    await response.read()
                    return response

            async with http.get(
                base, headers={"Authorization": f"Bearer {school_b}"}, params={"purpose": purpose}
            ) as response:
                assert response.status == 200
                body = await response.json()
            assert body["entitlement"] == "grant"
            assert [(p["school_year"], p["school_code"], p["version"]) for p in body["pages"]] == [
                ("2023-2024", s.school_a, 1)
            ]
            pdf = await get(f"{base}/2023-2024/pdf", school_b, purpose=purpose)
            assert pdf.status == 200 and pdf.content_type == "application/pdf"
            refused = await get(base, school_c, purpose=purpose)
            assert refused.status == 404
            assert (await get(base, school_b)).status == 400  # no purpose
            assert (await get(base, "hbt_wrong", purpose=purpose)).status == 401
        audit = await pool.fetch(
            "SELECT action, client_id, purpose, record_id, detail::text AS detail "
            "FROM record_audit WHERE client_id IS NOT NULL OR action = 'ACCESS_GRANTED' "
            "ORDER BY audit_id"
        )
        rows = [(r["action"], r["client_id"], r["purpose"]) for r in audit]
        assert rows == [
            ("ACCESS_GRANTED", None, None),
            ("READ", b_id, purpose),
            ("READ", b_id, purpose),
            ("READ_REFUSED", c_id, purpose),
        ]
        granted = json.loads(audit[0]["detail"])
        assert (granted["from_school_code"], granted["to_school_code"]) == (s.school_a, s.school_b)
        assert granted["effective_on"] == "2025-02-01"
        assert audit[1]["record_id"] == earlier["record_id"]
        assert audit[-1]["record_id"] is None  # a refusal names no record
    finally:
        await run.stop()
        await pool.close()
