"""The national database simulator through aiohttp's test client (no server, injected clock)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

import services.national_sim
from services.core.national import VersionKey, combined_sha256, idempotency_key, version_body
from services.messaging.metrics import ServiceMetrics
from services.messaging.settings import SettingsError
from services.national_sim.app import NationalSimService, bootstrap, load_openapi, main
from services.national_sim.faults import FaultConfig, FaultConfigError, RateLimit
from services.national_sim.settings import SimSettings

pytestmark = pytest.mark.unit

YEAR = "2024-2025"
SCHOOL = "04400001"
FORM = {
    "grant_type": "client_credentials",
    "client_id": "hocba-dev",
    "client_secret": "hocba-dev-secret",
}


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stored(
    record: str = "HB0000000000000001",
    version: int = 1,
    pdf: str = "ab" * 32,
    school: str = SCHOOL,
    year: str = YEAR,
) -> dict[str, Any]:
    """A StoredRecord datum as national sync reads it from hocba.records.stored."""
    return {
        "record_id": record,
        "version": version,
        "lookup_code": "ABCD",
        "record_key": f"{school}|S-{record}|{year}",
        "school_code": school,
        "student_id": f"S-{record}",
        "national_id": None,
        "school_year": year,
        "grade": 3,
        "year_result": "HTT",
        "pdf_sha256": pdf,
        "pdf_size_bytes": 1000,
        "pdf_url": None,
        "effective_at": dt.datetime(2025, 5, 30, 8, 0, tzinfo=dt.UTC),
        "supersedes_version": None if version == 1 else version - 1,
        "stored_at": dt.datetime(2025, 5, 30, 8, 1, tzinfo=dt.UTC),
    }


def key_of(datum: dict[str, Any]) -> VersionKey:
    return VersionKey(datum["record_id"], datum["school_year"], datum["version"])


def path_of(key: VersionKey) -> str:
    return f"/v1/records/{key.record_id}/years/{key.school_year}/versions/{key.version}"


class Harness:
    def __init__(self, client: TestClient[Any, Any], service: NationalSimService, clock: FakeClock):
        self.client, self.service, self.clock = client, service, clock
        self.bearer = ""

    async def token(self) -> str:
        response = await self.client.post("/oauth/token", data=FORM)
        assert response.status == 200, await response.text()
        self.bearer = str((await response.json())["access_token"])
        return self.bearer

    async def put(
        self,
        datum: dict[str, Any],
        *,
        body: Any = None,
        key: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        version = key_of(datum)
        headers = {
            "Authorization": f"Bearer {self.bearer if token is None else token}",
            "Idempotency-Key": idempotency_key(version) if key is None else key,
            "Content-Type": "application/json",
        }
        payload = version_body(datum) if body is None else body
        return await self.client.put(
            path_of(version),
            data=json.dumps(payload).encode(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def get(self, path: str, **params: str) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {self.bearer}"}
        return await self.client.get(path, params=params, headers=headers)

    async def summary(self, school: str = SCHOOL, year: str = YEAR) -> dict[str, Any]:
        response = await self.get(f"/v1/schools/{school}/summary", school_year=year)
        assert response.status == 200, await response.text()
        found: dict[str, Any] = await response.json()
        return found

    async def faults(self, config: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.client.put("/admin/faults", json=config)

    async def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = await (await self.client.get("/admin/stats")).json()
        return found


@pytest.fixture
async def sim() -> AsyncIterator[Harness]:
    clock = FakeClock()
    service = bootstrap(SimSettings(), metrics=ServiceMetrics("national-sim-test"), clock=clock)
    async with TestClient(TestServer(service.shell.app())) as client:
        harness = Harness(client, service, clock)
        await harness.token()
        yield harness


# --- tokens ------------------------------------------------------------------------------


async def test_a_token_is_issued_for_form_or_basic_credentials(sim: Harness) -> None:
    response = await sim.client.post("/oauth/token", data=FORM)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = await response.json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert len(answer["access_token"]) >= 32
    basic = base64.b64encode(b"hocba-dev:hocba-dev-secret").decode()
    response = await sim.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status == 200
    assert (await response.json())["access_token"] != answer["access_token"]


@pytest.mark.parametrize(
    ("form", "authorization", "status", "error"),
    [
        ({**FORM, "grant_type": "password"}, None, 400, "unsupported_grant_type"),
        (
            {"client_id": "hocba-dev", "client_secret": "hocba-dev-secret"},
            None,
            400,
            "invalid_request",
        ),
        ({**FORM, "client_secret": "wrong"}, None, 401, "invalid_client"),
        ({**FORM, "client_id": "someone-else"}, None, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "Basic bm90LWJhc2U2NA", 401, "invalid_client"),
        (
            FORM,
            "Basic " + base64.b64encode(b"hocba-dev:hocba-dev-secret").decode(),
            400,
            "invalid_request",
        ),
    ],
)
async def test_token_refusals(
    sim: Harness, form: dict[str, str], authorization: str | None, status: int, error: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await sim.client.post("/oauth/token", data=form, headers=headers)
    assert response.status == status
    assert (await response.json())["error"] == error
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_a_token_expires_after_its_lifetime_or_when_the_admin_says_so(sim: Harness) -> None:
    assert (await sim.faults({"token_ttl_seconds": 60})).status == 200
    token = await sim.token()
    assert (await sim.get(f"/v1/schools/{SCHOOL}/summary", school_year=YEAR)).status == 200
    sim.clock.advance(60)
    response = await sim.get(f"/v1/schools/{SCHOOL}/summary", school_year=YEAR)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert await response.json() == {
        "error": "invalid_token",
        "detail": "the bearer token is expired",
    }

    assert await sim.token() != token
    assert (await sim.put(stored())).status == 201
    expired = await (await sim.client.post("/admin/tokens/expire")).json()
    assert expired == {"expired": 2}  # the fixture's token (3600 s) and this one
    assert (await sim.put(stored())).status == 401
    await sim.token()
    assert (await sim.put(stored())).status == 200
    assert (await sim.stats())["faults"] == {"token_expired": 2}


async def test_no_or_an_unknown_token_is_refused(sim: Harness) -> None:
    for token, detail in (("", "Bearer token is required"), ("not-issued", "is unknown")):
        response = await sim.put(stored(), token=token)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert detail in (await response.json())["detail"]
    response = await sim.client.get(f"/v1/schools/{SCHOOL}/versions?school_year={YEAR}")
    assert response.status == 401
    assert (await sim.stats())["versions_held"] == 0


# --- PUT ---------------------------------------------------------------------------------


async def test_a_version_is_stored_once_then_repeats_get_the_first_receipt(sim: Harness) -> None:
    first = await sim.put(stored())
    assert first.status == 201
    receipt = await first.json()
    assert set(receipt) == {"receipt_id", "received_at"}
    assert receipt["received_at"].endswith("Z")
    retry = await sim.put(stored())
    assert retry.status == 200
    assert await retry.json() == receipt
    conflict = await sim.put(stored(pdf="cd" * 32))
    assert conflict.status == 409
    assert await conflict.json() == {
        "error": "conflict",
        "detail": f"version {key_of(stored())} is held with another PDF: "
        "a new content needs a new version",
        "existing_pdf_sha256": "ab" * 32,
    }
    stats = await sim.stats()
    assert stats["versions_held"] == 1
    assert stats["requests_by_status"] == {"200": 2, "201": 1, "409": 1}  # with the token
    assert stats["versions"] == [
        {
            "record_id": "HB0000000000000001",
            "school_year": YEAR,
            "version": 1,
            "creates": 1,
            "repeats": 1,
            "conflicts": 1,
            "lost_acks": 0,
        }
    ]


async def test_concurrent_puts_of_one_version_store_it_once(sim: Harness) -> None:
    answers = await asyncio.gather(*(sim.put(stored()) for _ in range(10)))
    assert sorted(a.status for a in answers) == [200] * 9 + [201]
    receipts = [await a.json() for a in answers]
    assert all(r == receipts[0] for r in receipts)


def _body(**changes: Any) -> dict[str, Any]:
    return {**version_body(stored()), **changes}


def _without(name: str) -> dict[str, Any]:
    body = version_body(stored())
    del body[name]
    return body


@pytest.mark.parametrize(
    ("body", "key", "detail"),
    [
        (None, "HB0000000000000001:2024-2025:2", "does not name this version"),
        (None, "", "does not name this version"),
        (_body(version=2), None, "version 2 differs from the path's 1"),
        (_body(version=True), None, "version True differs"),
        (_body(record_id="HB0000000000000009"), None, "record_id 'HB0000000000000009' differs"),
        (_body(school_year="2023-2024"), None, "school_year '2023-2024' differs"),
        (_body(pdf_sha256="AB" * 32), None, "pdf_sha256 must be 64 lowercase hexadecimal"),
        (_body(pdf_sha256=None), None, "pdf_sha256 must be"),
        (_body(grade=6), None, "grade must be a whole number from 1 to 5"),
        (_body(year_result="GOOD"), None, "year_result must be"),
        (_body(effective_at="2025-05-30T08:00:00"), None, "effective_at must be"),
        (_body(supersedes_version=1), None, "supersedes_version must be null or a version"),
        (_body(extra=1), None, "unknown field extra"),
        (_without("pdf_url"), None, "missing field pdf_url"),
        ([1, 2], None, "the body must be a JSON object"),
    ],
)
async def test_a_put_that_breaks_the_contract_is_refused(
    sim: Harness, body: Any, key: str | None, detail: str
) -> None:
    response = await sim.put(stored(), body=body, key=key)
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "invalid_request"
    assert detail in answer["detail"]
    assert (await sim.stats())["versions_held"] == 0


async def test_a_put_without_idempotency_key_or_with_a_bad_path_is_refused(sim: Harness) -> None:
    headers = {"Authorization": f"Bearer {sim.bearer}"}
    body = json.dumps(version_body(stored())).encode()
    path = path_of(key_of(stored()))
    response = await sim.client.put(path, data=body, headers=headers)
    assert response.status == 400
    assert "Idempotency-Key header is required" in (await response.json())["detail"]
    response = await sim.client.put(
        path,
        data=b"{not json",
        headers={**headers, "Idempotency-Key": idempotency_key(key_of(stored()))},
    )
    assert "the body is not JSON" in (await response.json())["detail"]
    for bad in (
        f"/v1/records/HB1/years/{YEAR}/versions/0",
        f"/v1/records/HB1/years/{YEAR}/versions/x",
        "/v1/records/HB1/years/2024-2026/versions/1",
        f"/v1/records/HB%20/years/{YEAR}/versions/1",
    ):
        response = await sim.client.put(bad, data=body, headers=headers)
        assert response.status == 400, bad


# --- summaries and version lists ---------------------------------------------------------


async def test_the_summary_is_the_combined_hash_of_what_was_put(sim: Harness) -> None:
    empty = await sim.summary()
    assert empty == {
        "school_code": SCHOOL,
        "school_year": YEAR,
        "count": 0,
        "combined_sha256": hashlib.sha256(b"").hexdigest(),
    }
    put = [
        stored("HB0000000000000002", 1, "01" * 32),
        stored("HB0000000000000001", 1, "02" * 32),
        stored("HB0000000000000001", 2, "03" * 32),
    ]
    elsewhere = [
        stored("HB0000000000000003", 1, "04" * 32, school="04400002"),
        stored("HB0000000000000001", 1, "05" * 32, year="2023-2024"),
    ]
    for datum in put + elsewhere:
        assert (await sim.put(datum)).status == 201
    pairs = [(key_of(d), d["pdf_sha256"]) for d in put]
    summary = await sim.summary()
    assert summary["count"] == 3
    assert summary["combined_sha256"] == combined_sha256(pairs)
    listed = await (await sim.get(f"/v1/schools/{SCHOOL}/versions", school_year=YEAR)).json()
    assert listed == {
        "versions": [
            {
                "record_id": k.record_id,
                "school_year": k.school_year,
                "version": k.version,
                "pdf_sha256": h,
            }
            for k, h in sorted(pairs)
        ]
    }

    forgotten = key_of(put[0])
    deleted = await sim.client.delete(f"/admin{path_of(forgotten)[3:]}")
    assert deleted.status == 204
    assert (await sim.client.delete(f"/admin{path_of(forgotten)[3:]}")).status == 404
    after = await sim.summary()
    assert after["count"] == 2
    assert after["combined_sha256"] == combined_sha256(pairs[1:]) != summary["combined_sha256"]
    # Reconciliation re-delivers it: stored anew, the summaries agree again.
    assert (await sim.put(put[0])).status == 201
    assert await sim.summary() == summary
    creates = {
        (v["record_id"], v["version"]): v["creates"] for v in (await sim.stats())["versions"]
    }
    assert creates[("HB0000000000000002", 1)] == 2


@pytest.mark.parametrize("query", [{}, {"school_year": "2024"}, {"school_year": "2024-2024"}])
async def test_a_summary_needs_a_school_year(sim: Harness, query: dict[str, str]) -> None:
    for path in (f"/v1/schools/{SCHOOL}/summary", f"/v1/schools/{SCHOOL}/versions"):
        response = await sim.get(path, **query)
        assert response.status == 400
        assert "school_year" in (await response.json())["detail"]


# --- faults ------------------------------------------------------------------------------


async def test_error_rate_one_answers_5xx_and_stores_nothing(sim: Harness) -> None:
    assert (await sim.faults({"error_rate": 1, "seed": 3})).status == 200
    statuses = []
    for _ in range(12):
        response = await sim.put(stored())
        statuses.append(response.status)
        if response.status == 503:
            assert response.headers["Retry-After"] == "1"
    assert set(statuses) <= {500, 502, 503} and len(set(statuses)) > 1
    stats = await sim.stats()
    assert stats["versions_held"] == 0 and stats["versions"] == []
    assert stats["faults"] == {"error": 12}
    assert (await sim.summary())["count"] == 0


async def test_a_lost_acknowledgement_stores_and_the_retry_gets_200(sim: Harness) -> None:
    assert (await sim.faults({"lost_ack_rate": 1})).status == 200
    lost = await sim.put(stored())
    assert lost.status == 503 and lost.headers["Retry-After"] == "1"
    assert (await sim.summary())["count"] == 1
    retry = await sim.put(stored())
    assert retry.status == 200
    assert set(await retry.json()) == {"receipt_id", "received_at"}
    stats = await sim.stats()
    assert stats["faults"] == {"lost_ack": 1}
    (counts,) = stats["versions"]
    assert (counts["creates"], counts["repeats"], counts["lost_acks"]) == (1, 1, 1)


async def test_the_rate_limit_refuses_the_last_of_every_window_with_retry_after(
    sim: Harness,
) -> None:
    config = {"rate_limit": {"every": 3, "burst": 1, "retry_after_seconds": 7}}
    assert (await sim.faults(config)).status == 200
    statuses = []
    for _ in range(6):
        response = await sim.get(f"/v1/schools/{SCHOOL}/summary", school_year=YEAR)
        statuses.append(response.status)
        if response.status == 429:
            assert response.headers["Retry-After"] == "7"
            assert (await response.json())["error"] == "rate_limited"
    assert statuses == [200, 200, 429, 200, 200, 429]
    await sim.token()  # the token endpoint is not rate-limited
    assert (await sim.stats())["faults"] == {"rate_limit": 2}


async def test_an_outage_answers_503_until_it_ends(sim: Harness) -> None:
    response = await sim.client.post("/admin/outage", json={"seconds": 5})
    assert await response.json() == {"seconds": 5.0}
    sim.clock.advance(0.5)
    refused = await sim.put(stored())
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "5"
    token = await sim.client.post("/oauth/token", data=FORM)
    assert token.status == 503
    # The simulator's own endpoints keep answering.
    assert (await sim.client.get("/healthz")).status == 200
    assert (await sim.client.get("/admin/stats")).status == 200
    sim.clock.advance(4.5)
    assert (await sim.put(stored())).status == 201
    stats = await sim.stats()
    assert stats["faults"] == {"outage": 2}
    assert stats["requests_by_status"] == {"200": 1, "201": 1, "503": 2}  # 200: the token


async def test_a_timeout_hangs_then_answers_504_and_stores_nothing(sim: Harness) -> None:
    assert (await sim.faults({"timeout_rate": 1, "timeout_seconds": 0.05})).status == 200
    started = time.perf_counter()
    response = await sim.put(stored())
    assert response.status == 504
    assert time.perf_counter() - started >= 0.05
    assert (await sim.faults({"timeout_rate": 1, "timeout_seconds": 0.3})).status == 200
    with pytest.raises(TimeoutError):
        await sim.put(stored(), timeout=0.05)
    stats = await sim.stats()
    assert stats["versions_held"] == 0
    assert stats["faults"] == {"timeout": 2}


async def test_latency_delays_every_national_request(sim: Harness) -> None:
    assert (await sim.faults({"latency_ms": [30, 30]})).status == 200
    started = time.perf_counter()
    assert (await sim.put(stored())).status == 201
    assert time.perf_counter() - started >= 0.03
    assert (await sim.stats())["faults"] == {"latency": 1}


async def test_a_seed_makes_the_faults_repeatable(sim: Harness) -> None:
    config = {"error_rate": 0.3, "lost_ack_rate": 0.3, "seed": 42}

    async def run() -> list[int]:
        await sim.client.post("/admin/reset")
        await sim.token()
        assert (await sim.faults(config)).status == 200
        return [(await sim.put(stored(f"HB{n:016d}"))).status for n in range(30)]

    first = await run()
    assert set(first) >= {201, 503}
    assert await run() == first


# --- admin -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ({"eror_rate": 0.1}, "unknown key(s) eror_rate"),
        ({"error_rate": 1.5}, "error_rate=1.5 is outside [0, 1]"),
        ({"error_rate": True}, "error_rate must be a number"),
        ({"error_rate": 0.6, "lost_ack_rate": 0.6}, "must not exceed 1"),
        ({"timeout_seconds": 0}, "timeout_seconds=0 is outside (0, 300]"),
        ({"latency_ms": [50, 10]}, "latency_ms[1]=10 is outside [50, 60000]"),
        ({"latency_ms": 10}, "latency_ms must be a list"),
        ({"rate_limit": {"every": 2, "burst": 3}}, "burst must be a whole number in [1, 2]"),
        ({"rate_limit": {"every": 2}}, "rate_limit needs both every and burst"),
        ({"rate_limit": {"every": 2, "burst": 1, "x": 1}}, "unknown key(s) rate_limit.x"),
        ({"token_ttl_seconds": 0.5}, "token_ttl_seconds must be a whole number"),
        ({"seed": "x"}, "seed must be a whole number or null"),
        ([], "must be a JSON object"),
    ],
)
async def test_a_bad_fault_configuration_is_refused_and_changes_nothing(
    sim: Harness, config: Any, detail: str
) -> None:
    before = await (await sim.client.get("/admin/faults")).json()
    response = await sim.faults(config)
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "invalid_request" and detail in answer["detail"]
    assert await (await sim.client.get("/admin/faults")).json() == before


async def test_the_fault_configuration_round_trips(sim: Harness) -> None:
    config = {
        "error_rate": 0.1,
        "timeout_rate": 0.2,
        "timeout_seconds": 2,
        "latency_ms": [1, 2],
        "rate_limit": {"every": 10, "burst": 2, "retry_after_seconds": 3},
        "token_ttl_seconds": 30,
        "lost_ack_rate": 0.3,
        "seed": 9,
    }
    response = await sim.faults(config)
    assert await response.json() == config
    assert await (await sim.client.get("/admin/faults")).json() == config
    parsed = FaultConfig.from_json(config)
    assert parsed.rate_limit == RateLimit(10, 2, 3)
    assert FaultConfig.from_json(parsed.as_json()) == parsed
    bad_body = await sim.client.put("/admin/faults", data=b"{")
    assert bad_body.status == 400
    for outage in ({"seconds": -1}, {"seconds": "5"}, {"secs": 5}, {"seconds": 1e9}):
        assert (await sim.client.post("/admin/outage", json=outage)).status == 400


async def test_reset_forgets_everything_and_restores_the_start_faults() -> None:
    start = FaultConfig(latency_ms=(0.0, 1.0))
    clock = FakeClock()
    service = bootstrap(SimSettings(faults=start), metrics=ServiceMetrics("t"), clock=clock)
    async with TestClient(TestServer(service.shell.app())) as client:
        sim = Harness(client, service, clock)
        await sim.token()
        assert (await sim.put(stored())).status == 201
        await sim.faults({"error_rate": 1})
        await client.post("/admin/outage", json={"seconds": 60})
        assert (await client.post("/admin/reset")).status == 204
        assert await (await client.get("/admin/faults")).json() == start.as_json()
        assert await sim.stats() == {
            "versions_held": 0,
            "requests_by_status": {},
            "faults": {},
            "versions": [],
        }
        assert (await sim.put(stored())).status == 401  # tokens forgotten
        await sim.token()
        assert (await sim.put(stored())).status == 201  # no outage, nothing held


async def test_metrics_count_requests_and_faults(sim: Harness) -> None:
    await sim.faults({"lost_ack_rate": 1})
    await sim.put(stored())
    await sim.put(stored())
    text = await (await sim.client.get("/metrics")).text()
    service = 'service="national-sim-test"'
    assert (
        f'hocba_national_sim_requests_total{{endpoint="putVersion",{service},status="503"}} 1.0'
        in text
    )
    assert (
        f'hocba_national_sim_requests_total{{endpoint="putVersion",{service},status="200"}} 1.0'
        in text
    )
    assert f'hocba_national_sim_faults_total{{kind="lost_ack",{service}}} 1.0' in text
    assert f"hocba_national_sim_versions_held{{{service}}} 1.0" in text


async def test_every_request_is_logged_as_one_line(
    sim: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hocba.national_sim"):
        await sim.put(stored())
        await sim.client.get("/admin/stats")
    lines = [r for r in caplog.records if r.name == "hocba.national_sim"]
    assert [(r.endpoint, r.status) for r in lines] == [("putVersion", 201), ("getStats", 200)]  # type: ignore[attr-defined]
    assert lines[0].faults == []  # type: ignore[attr-defined]


# --- configuration, OpenAPI, surface -----------------------------------------------------


def test_settings_from_the_environment() -> None:
    assert SimSettings.from_env({}) == SimSettings()
    env = {
        "HOCBA_NATIONAL_SIM_PORT": "9100",
        "HOCBA_NATIONAL_CLIENT_ID": "c",
        "HOCBA_NATIONAL_CLIENT_SECRET": "s",
        "HOCBA_NATIONAL_SIM_FAULTS": '{"error_rate": 0.25, "seed": 1}',
    }
    settings = SimSettings.from_env(env)
    assert (settings.http_port, settings.client_id, settings.client_secret) == (9100, "c", "s")
    assert settings.faults == FaultConfig(error_rate=0.25, seed=1)
    for bad in ('{"nope": 1}', "{", "[]"):
        with pytest.raises(SettingsError, match="HOCBA_NATIONAL_SIM_FAULTS"):
            SimSettings.from_env({"HOCBA_NATIONAL_SIM_FAULTS": bad})
    with pytest.raises(SettingsError):
        SimSettings.from_env({"HOCBA_NATIONAL_SIM_PORT": "70000"})
    with pytest.raises(FaultConfigError):
        FaultConfig.from_json({"lost_ack_rate": -0.1})


def test_main_refuses_a_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCBA_NATIONAL_SIM_FAULTS", '{"error_rate": 2}')
    assert main([]) == 2


def test_the_openapi_document_names_every_route_the_app_serves() -> None:
    document = load_openapi()  # JSON: the loader refuses anything else
    assert document["openapi"] == "3.1.0"
    service = bootstrap(SimSettings(), metrics=ServiceMetrics("t"), openapi=document)
    served = {
        (route.method, route.resource.canonical)
        for route in service.shell.app().router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert served == documented
    ids = {(op.method, op.path): op.operation_id for op in service.operations}
    for (method, path), operation_id in ids.items():
        operation = document["paths"][path][method.lower()]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == (
            ["national"] if path.startswith(("/v1/", "/oauth/")) else ["simulator"]
        )
    schemas = document["components"]["schemas"]
    body = schemas["VersionBody"]
    assert set(body["properties"]) == set(body["required"]) == set(version_body({}))
    assert set(schemas["FaultConfig"]["properties"]) == set(FaultConfig().as_json())
    stats = service.simulator.stats.as_json(0)
    assert set(schemas["Stats"]["required"]) == set(stats)
    put = document["paths"]["/v1/records/{record_id}/years/{school_year}/versions/{version}"]["put"]
    assert set(put["responses"]) == {
        "200",
        "201",
        "400",
        "401",
        "409",
        "429",
        "500",
        "502",
        "503",
        "504",
    }


async def test_the_openapi_document_is_served(sim: Harness) -> None:
    response = await sim.client.get("/admin/openapi.json")
    assert response.status == 200
    assert await response.json() == load_openapi()


def test_public_surface() -> None:
    assert sorted(services.national_sim.__all__) == [
        "FaultConfig",
        "FaultConfigError",
        "NationalSimService",
        "RateLimit",
        "SimSettings",
        "bootstrap",
    ]
    for name in services.national_sim.__all__:
        assert hasattr(services.national_sim, name)
