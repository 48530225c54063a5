"""The lookup API's HTTP answers over a scripted store (no database): status codes,
bodies, headers, the reads counter, and the OpenAPI document against the views."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.messaging.metrics import ServiceMetrics
from services.storage.access import PgAccessStore
from services.storage.http import RecordsApi, load_openapi
from services.storage.lookup import (
    AccessEntry,
    AccessLog,
    LookupLimits,
    PdfFound,
    RecordLookup,
    StoreAnswer,
)
from services.storage.lookup_guard import ClientLimits
from services.storage.metrics import StorageMetrics
from tests.unit.test_storage_lookup import CODE, ScriptedStore, _clock, _view

pytestmark = pytest.mark.unit

BORN = {"X-Birth-Date": "2015-08-06"}
PDF = PdfFound(b"%PDF-1.7 test", "ab" * 32, "2024-2025", 2, f"hocba-{CODE}-v2.pdf")


class Api:
    def __init__(self, client: TestClient[Any, Any], store: ScriptedStore, metrics: StorageMetrics):
        self.client = client
        self.store = store
        self.metrics = metrics

    def reads(self, resource: str, outcome: str) -> float:
        labels = {"service": "storage", "resource": resource, "outcome": outcome}
        value = self.metrics.shared.registry.get_sample_value("hocba_storage_reads_total", labels)
        return value or 0.0


def _no_database() -> PgAccessStore:
    # Requests without Authorization never reach the access store.
    return PgAccessStore(cast(asyncpg.Pool, None))


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    clock = _clock()
    store = ScriptedStore(clock, StoreAnswer("found", view=_view()))
    metrics = StorageMetrics(ServiceMetrics("storage"))
    limits = LookupLimits(0.0, ClientLimits(rate_per_minute=1000, failures=3))
    lookup = RecordLookup(store, metrics, limits, clock=clock, sleep=clock.sleep)
    app = web.Application()
    app.add_routes(RecordsApi(lookup, _no_database(), metrics, load_openapi()).routes())
    async with TestClient(TestServer(app)) as client:
        yield Api(client, store, metrics)


async def test_found_is_the_view_without_caching(api: Api) -> None:
    response = await api.client.get(f"/v1/records/{CODE.lower()}", headers=BORN)
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert await response.json() == _view().as_json()
    ((query, by),) = api.store.reads
    assert query.birth_date == dt.date(2015, 8, 6) and by.detail["user_agent"].startswith("Python")
    assert api.reads("record", "found") == 1


async def test_each_refusal_has_its_status_and_code(api: Api) -> None:
    response = await api.client.get(f"/v1/records/{CODE}")
    assert response.status == 400
    assert (await response.json())["code"] == "E_LOOKUP_BIRTH_DATE_REQUIRED"
    response = await api.client.get(f"/v1/records/{CODE}", headers={"X-Birth-Date": "6/8/2015"})
    assert (await response.json())["code"] == "E_LOOKUP_BIRTH_DATE_REQUIRED"
    api.store.answer = StoreAnswer("not_found")
    unknown = await api.client.get(f"/v1/records/{CODE}", headers=BORN)
    other = await api.client.get("/v1/records/HB0000000000000000/access-log", headers=BORN)
    assert unknown.status == other.status == 404
    assert await unknown.json() == await other.json()
    assert (await unknown.json())["code"] == "E_RECORD_NOT_FOUND"
    typo = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    response = await api.client.get(f"/v1/records/{typo}/pdf", headers=BORN)
    assert (response.status, (await response.json())["code"]) == (400, "E_LOOKUP_CODE_INVALID")
    # The third failure locked this client out.
    response = await api.client.get(f"/v1/records/{CODE}", headers=BORN)
    assert (response.status, (await response.json())["code"]) == (429, "E_LOOKUP_LOCKED")
    assert 1700 <= int(response.headers["Retry-After"]) <= 1800
    assert api.reads("record", "locked") == 1 and api.reads("record", "birth_date_required") == 2


async def test_a_code_lock_is_429_and_an_outage_503(api: Api) -> None:
    api.store.answer = StoreAnswer("locked", retry_after_s=61)
    response = await api.client.get(f"/v1/records/{CODE}/pdf", headers=BORN)
    assert (response.status, response.headers["Retry-After"]) == (429, "61")
    assert "2 " in (await response.json())["message_en"]  # about 2 minutes
    api.store.down = True
    for path in (f"/v1/records/{CODE}", f"/v1/records/{CODE}/pdf", "/v1/records/typo"):
        response = await api.client.get(path, headers=BORN)
        assert (response.status, (await response.json())["code"]) == (
            503,
            "E_STORAGE_UNAVAILABLE",
        ), path


async def test_the_pdf_with_etag_304_and_query_checks(api: Api) -> None:
    api.store.answer = StoreAnswer("found", pdf=PDF)
    response = await api.client.get(f"/v1/records/{CODE}/pdf?version=1", headers=BORN)
    assert response.status == 200 and await response.read() == PDF.pdf
    assert response.headers["ETag"] == f'"{PDF.sha256}"'
    assert response.headers["Content-Disposition"] == f'attachment; filename="{PDF.filename}"'
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert api.store.reads[0][0].version == 1
    headers = {**BORN, "If-None-Match": f'W/"{PDF.sha256}"'}
    response = await api.client.get(f"/v1/records/{CODE}/pdf", headers=headers)
    assert response.status == 304
    for query in ("version=0", "version=x", "version=99999999999", "school_year=2024"):
        response = await api.client.get(f"/v1/records/{CODE}/pdf?{query}", headers=BORN)
        assert (response.status, (await response.json())["code"]) == (
            400,
            "E_LOOKUP_QUERY_INVALID",
        ), query
    assert len(api.store.reads) == 2  # invalid parameters are refused before any lookup
    served = api.metrics.shared.registry.get_sample_value(
        "hocba_storage_pdf_served_bytes_total", {"service": "storage"}
    )
    assert served == len(PDF.pdf)


async def test_the_access_log(api: Api) -> None:
    at = dt.datetime(2025, 9, 5, 8, tzinfo=dt.UTC)
    log = AccessLog("Nguyễn Thị Minh Anh", (AccessEntry(at, "READ", None, None, None, None),))
    api.store.answer = StoreAnswer("found", log=log)
    response = await api.client.get(f"/v1/records/{CODE}/access-log", headers=BORN)
    assert response.status == 200 and await response.json() == log.as_json()
    assert api.store.reads[0][0].resource == "access_log"


def test_openapi_describes_the_routes_and_the_views() -> None:
    document = load_openapi()
    api = RecordsApi(
        RecordLookup(ScriptedStore(_clock(), StoreAnswer("not_found")), _metrics()),
        _no_database(),
        _metrics(),
        document,
    )
    assert {route.path for route in api.routes()} <= set(document["paths"])
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
    schemas = document["components"]["schemas"]
    assert set(schemas["Error"]["required"]) == {"code", "message_vi", "message_en"}
    view = _view().as_json()
    assert set(schemas["RecordLookup"]["required"]) == set(view)
    page = schemas["LookupPage"]
    assert set(page["required"]) == set(page["properties"]) == set(view["pages"][0])
    signature = view["pages"][0]["signatures"][0]
    assert set(schemas["LookupSignature"]["required"]) == set(signature)
    at = dt.datetime(2025, 9, 5, 8, tzinfo=dt.UTC)
    log = AccessLog("x", (AccessEntry(at, "READ", None, None, None, None),)).as_json()
    assert set(schemas["AccessLog"]["required"]) == set(log)
    assert set(schemas["AccessLogEntry"]["required"]) == set(log["entries"][0])
    for path in ("/v1/records/{code}", "/v1/records/{code}/pdf", "/v1/records/{code}/access-log"):
        responses = document["paths"][path]["get"]["responses"]
        assert {"200", "400", "401", "404", "429", "503"} <= set(responses), path
        assert "Retry-After" in responses["429"]["headers"]
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert {"code", "X-Birth-Date", "purpose"} <= names


def _metrics() -> StorageMetrics:
    return StorageMetrics(ServiceMetrics("storage"))
