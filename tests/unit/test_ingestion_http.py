"""POST /v1/events on an in-memory store and a recording producer (no broker)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaTimeoutError

from services.ingestion.app import OPENAPI_PATH
from services.ingestion.directory import VendorDirectory
from services.ingestion.handlers import Ingestor
from services.ingestion.http import HttpEntry, load_openapi
from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.metrics import IngestionMetrics
from services.ingestion.settings import IngestionSettings
from services.messaging.codec import Decoded, default_codec
from services.messaging.metrics import ServiceMetrics
from tests.unit.test_ingestion_data import OCCURRED, as_json, vendor_event

pytestmark = pytest.mark.unit

SETTINGS = IngestionSettings()


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.headers: list[dict[str, bytes]] = []
        self.fail = False

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(KafkaTimeoutError())
        else:
            self.sent.append((topic, value, key))
            self.headers.append(dict(headers or ()))
            future.set_result(None)
        return future


class Harness:
    def __init__(
        self,
        client: TestClient,
        store: InMemoryVendorStore,
        producer: RecordingProducer,
        token: str,
    ) -> None:
        self.client, self.store, self.producer, self.token = client, store, producer, token

    async def post(
        self, body: Any, token: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = raw if raw is not None else json.dumps(body).encode()
        response = await self.client.post("/v1/events", data=data, headers=headers)
        return response.status, await response.json()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    store = InMemoryVendorStore()
    await store.add_vendor("v1", "Vendor one")
    await store.add_vendor("v2", "Vendor two")
    await store.assign("v1", "S1", dt.date(2024, 9, 1), None)
    await store.assign("v2", "S2", dt.date(2024, 9, 1), None)
    token = (await store.issue_token("v1")).token
    ingestor = Ingestor(
        settings=SETTINGS,
        store=store,
        directory=VendorDirectory(store, ttl_s=0),
        metrics=IngestionMetrics(ServiceMetrics("ingestion-test")),
        clock=lambda: OCCURRED + dt.timedelta(hours=1),
    )
    producer = RecordingProducer()
    entry = HttpEntry(
        ingestor=ingestor,
        codec=default_codec(),
        producer=producer,  # type: ignore[arg-type]
        settings=SETTINGS,
        openapi=load_openapi(OPENAPI_PATH),
    )
    app = web.Application()
    app.add_routes(entry.routes())
    async with TestClient(TestServer(app)) as client:
        yield Harness(client, store, producer, token)


async def test_a_mixed_batch_gets_one_answer_per_event_in_order(harness: Harness) -> None:
    good = as_json(vendor_event(vendor_id="v1", school_code="S1"))
    foreign_school = as_json(vendor_event(vendor_id="v1", school_code="S2"))
    other_vendor = as_json(vendor_event(vendor_id="v2", school_code="S2"))
    broken = dict(good, event_id="also-bad", school_year=2024)
    del broken["student_id"]
    status, body = await harness.post(
        {"events": [good, foreign_school, other_vendor, broken, good]}
    )
    assert status == 200
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
    ]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 3)
    assert body["results"][0]["event_id"] == good["event_id"]
    assert body["results"][1]["findings"][0]["code"] == "E_SCHOOL_NOT_ASSIGNED"
    assert body["results"][2]["findings"][0]["code"] == "E_VENDOR_MISMATCH"
    schema = body["results"][3]["findings"]
    assert {(f["code"], f["path"]) for f in schema} == {
        ("E_SCHEMA_MISMATCH", "school_year"),
        ("E_SCHEMA_MISMATCH", "student_id"),
    }
    topics = [topic for topic, _, _ in harness.producer.sent]
    assert topics == [SETTINGS.accepted_topic] + [SETTINGS.rejected_topic] * 3
    # What validation reads without decoding: which event, what kind of payload.
    assert harness.producer.headers[0] == {
        "hocba-event-id": good["event_id"].encode(),
        "hocba-payload": b"vn.edu.hocba." + next(iter(good["payload"])).encode(),
    }
    rejected = default_codec().decode(harness.producer.sent[3][1])
    assert isinstance(rejected, Decoded)
    assert rejected.value["channel"] == "HTTP" and rejected.value["vendor_id"] == "v1"
    # Readable envelope text is kept so the vendor can match the refusal; the rest is null.
    assert rejected.value["event_id"] == "also-bad" and rejected.value["school_year"] is None
    assert len(harness.store.events) == 1


async def test_resending_the_same_request_is_idempotent(harness: Harness) -> None:
    batch = {"events": [as_json(vendor_event(vendor_id="v1", school_code="S1")) for _ in range(3)]}
    assert (await harness.post(batch))[1]["accepted"] == 3
    status, body = await harness.post(batch)
    assert status == 200 and body["duplicate"] == 3 and body["accepted"] == 0
    assert len(harness.producer.sent) == 3


async def test_tokens_are_required_and_checked(harness: Harness) -> None:
    response = await harness.client.post("/v1/events", json={"events": []})
    assert response.status == 401
    assert (await response.json())["error"] == "E_TOKEN_MISSING"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    status, body = await harness.post({"events": []}, token="hocba_not-a-token")
    assert (status, body["error"]) == (401, "E_TOKEN_INVALID")
    token_id = next(iter(harness.store.tokens))
    await harness.store.revoke_token("v1", token_id)
    status, body = await harness.post({"events": []})
    assert (status, body["error"]) == (401, "E_TOKEN_INVALID")


async def test_malformed_bodies(harness: Harness) -> None:
    status, body = await harness.post(None, raw=b"{not json")
    assert (status, body["error"]) == (400, "E_REQUEST_NOT_JSON")
    status, body = await harness.post({"evts": []})
    assert (status, body["error"]) == (400, "E_REQUEST_INVALID")
    status, body = await harness.post({"events": [{}] * 1001})
    assert (status, body["error"]) == (413, "E_BATCH_TOO_LARGE")
    finding = body["findings"][0]
    assert "1001" in finding["message_en"] and finding["message_vi"]
    assert harness.producer.sent == []


async def test_kafka_unavailable_is_a_503_and_nothing_is_recorded(harness: Harness) -> None:
    harness.producer.fail = True
    status, body = await harness.post(
        {"events": [as_json(vendor_event(vendor_id="v1", school_code="S1"))]}
    )
    assert (status, body["error"]) == (503, "E_SERVICE_UNAVAILABLE")
    assert harness.store.events == {}


async def test_the_openapi_document_is_served(harness: Harness) -> None:
    response = await harness.client.get("/v1/openapi.json")
    document = await response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]["/v1/events"]["post"]["responses"]) == {
        "200",
        "400",
        "401",
        "413",
        "503",
    }
