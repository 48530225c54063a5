"""The ingestion service on the real broker and database: the HTTP entry and its shell."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.ingestion.envelope import vendor_event_schema
from services.messaging.jsonform import to_json
from tests.integration.test_ingestion_kafka import World, read_topic, world  # noqa: F401
from tests.unit.test_ingestion_data import encode, vendor_event

pytestmark = pytest.mark.integration


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    async def post(self, events: Any, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.session.post(
            f"{self.base}/v1/events", json={"events": events}, headers=headers
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def served(world: World) -> AsyncIterator[tuple[World, Client]]:  # noqa: F811
    """The whole service (Kafka entry, HTTP entry, metrics, health) until the test ends."""
    service = world.service
    task = asyncio.create_task(
        service.shell.serve([service.run_pipeline, service.run_http_producer])
    )
    base = f"http://{world.settings.http_host}:{world.settings.http_port}"
    token = (await service.store.issue_token(world.vendor)).token
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with session.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        try:
            yield world, Client(session, base, token)
        finally:
            service.shell.stop.set()
            await task


def as_json(event: dict[str, Any]) -> dict[str, Any]:
    return to_json(vendor_event_schema(), event)


async def test_accepted_events_are_on_the_topic_when_the_answer_comes(
    served: tuple[World, Client],
) -> None:
    w, client = served
    good = vendor_event(vendor_id=w.vendor, school_code=w.school)
    foreign = vendor_event(vendor_id=w.vendor, school_code=w.other_school)
    impostor = vendor_event(vendor_id=w.other_vendor, school_code=w.other_school)
    status, body = await client.post([as_json(good), as_json(foreign), as_json(impostor), {"x": 1}])
    assert status == 200
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [r["findings"][0]["code"] for r in body["results"][1:]] == [
        "E_SCHOOL_NOT_ASSIGNED",
        "E_VENDOR_MISMATCH",
        "E_SCHEMA_MISMATCH",
    ]
    accepted = await read_topic(w.settings.accepted_topic, 1, settle_s=0.5)
    assert [(a["event"], a["channel"]) for a in accepted] == [(good, "HTTP")]
    rejected = await read_topic(w.settings.rejected_topic, 3, settle_s=0.5)
    assert {r["channel"] for r in rejected} == {"HTTP"}
    assert {r["vendor_id"] for r in rejected} == {w.vendor}
    # Re-sent: acknowledged as a duplicate, not forwarded again.
    status, body = await client.post([as_json(good)])
    assert body["results"][0]["status"] == "duplicate"
    assert len(await read_topic(w.settings.accepted_topic, 1, settle_s=1.0)) == 1


async def test_the_same_event_via_kafka_then_http_is_a_duplicate(
    served: tuple[World, Client],
) -> None:
    w, client = served
    event = vendor_event(vendor_id=w.vendor, school_code=w.school)
    await w.publish(encode(event))
    await read_topic(w.settings.accepted_topic, 1, settle_s=0.2)
    event_id = uuid.UUID(event["event_id"])
    async with asyncio.timeout(10):
        # The id is recorded just after the Kafka transaction commits.
        while not await w.service.store.known_events([event_id]):
            await asyncio.sleep(0.05)
    _, body = await client.post([as_json(event)])
    assert body["results"][0]["status"] == "duplicate"
    assert len(await read_topic(w.settings.accepted_topic, 1, settle_s=0.5)) == 1


async def test_tokens_batch_limit_and_service_routes(served: tuple[World, Client]) -> None:
    w, client = served
    status, body = await client.post([], token="hocba_wrong")
    assert (status, body["error"]) == (401, "E_TOKEN_INVALID")
    async with client.session.post(f"{client.base}/v1/events", json={"events": []}) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "E_TOKEN_MISSING"
    many = [as_json(vendor_event(vendor_id=w.vendor, school_code=w.school))] * 1001
    status, body = await client.post(many)
    assert (status, body["error"]) == (413, "E_BATCH_TOO_LARGE")
    tokens = await w.service.store.list_vendors()
    token_id = next(v for v in tokens if v.vendor_id == w.vendor).tokens[0].token_id
    await w.service.store.revoke_token(w.vendor, token_id)
    status, body = await client.post([])
    assert (status, body["error"]) == (401, "E_TOKEN_INVALID")
    async with client.session.get(f"{client.base}/v1/openapi.json") as response:
        assert (await response.json())["info"]["title"].startswith("Học bạ số")
    async with client.session.get(f"{client.base}/metrics") as response:
        text = await response.text()
    assert 'hocba_http_request_seconds_count{route="/v1/events"' in text
    assert "hocba_ingestion_events_total" in text
    async with client.session.get(f"{client.base}/healthz") as response:
        assert response.status == 200
