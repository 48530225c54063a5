"""Record lookup over HTTP on the real PostgreSQL, in a schema of its own.

The lookup API (:class:`RecordsApi` over :class:`RecordLookup` and :class:`PgLookupStore`)
in an aiohttp test server; signed records stored by :class:`PgRecordStore`. A test-only
middleware takes the client address from ``X-Test-Remote``, so one test plays several
clients. Checked: the found view, the second factor, the response-time floor (an unknown
code and a wrong birth date are indistinguishable), brute force against the client and
against a code, the national database's PDF fetch, the access log, the lock-out metrics.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from services.core.lookup_code import format_lookup_code
from services.messaging.metrics import ServiceMetrics
from services.stack.migrations import apply_migrations
from services.storage.access import ClientKind, PgAccessStore, Requester
from services.storage.http import RecordsApi, load_openapi
from services.storage.lookup import AccessLogFound, LookupLimits, RecordLookup
from services.storage.lookup_guard import ClientLimits, CodeLimits
from services.storage.lookup_store import PgLookupStore
from services.storage.metrics import StorageMetrics
from services.storage.repository import PgRecordStore
from tests.unit.test_storage_contract import delivery
from tests.unit.test_storage_fixtures import signed_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
BORN = "2015-08-06"  # the fixtures' student (tests/unit/test_storage_fixtures.py)
WRONG = "2015-08-07"
NOT_FOUND_BODY = {
    "code": "E_RECORD_NOT_FOUND",
    "message_vi": "Không tìm thấy học bạ với mã số tra cứu và ngày sinh này; "
    "vui lòng kiểm tra lại.",
    "message_en": "No record found for this code and date of birth; please check both.",
}


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    name = f"storage_lookup_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f"CREATE SCHEMA {name}")
    try:
        await apply_migrations(DSN, MIGRATIONS, schema=name)
        created = await asyncpg.create_pool(
            DSN, min_size=2, max_size=6, server_settings={"search_path": name}
        )
        try:
            yield created
        finally:
            await created.close()
    finally:
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
        await admin.close()


@web.middleware
async def _remote_from_header(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    remote = request.headers.get("X-Test-Remote")
    return await handler(request.clone(remote=remote) if remote else request)


@dataclass
class Api:
    http: TestClient[Any, Any]
    pool: asyncpg.Pool
    store: PgRecordStore
    metrics: StorageMetrics

    async def get(
        self,
        path: str,
        born: str | None = BORN,
        remote: str = "203.0.113.1",
        **headers: str,
    ) -> tuple[int, Any, Mapping[str, str]]:
        sent = {"X-Test-Remote": remote, **headers}
        if born is not None:
            sent["X-Birth-Date"] = born
        async with self.http.get(path, headers=sent) as response:
            body = await response.read()
            kind = response.content_type
            parsed = json.loads(body) if kind == "application/json" else body
            return response.status, parsed, response.headers.copy()

    async def metrics_text(self) -> str:
        async with self.http.get("/metrics") as response:
            return await response.text()


def _api_factory(
    pool: asyncpg.Pool,
) -> Callable[..., Awaitable[Api]]:
    clients: list[TestClient[Any, Any]] = []

    async def make(
        *,
        min_seconds: float = 0.0,
        client: ClientLimits | None = None,
        code: CodeLimits | None = None,
    ) -> Api:
        shared = ServiceMetrics("storage")
        metrics = StorageMetrics(shared)
        lookup = RecordLookup(
            PgLookupStore(pool, code or CodeLimits(), metrics=shared),
            metrics,
            LookupLimits(min_seconds, client or ClientLimits(rate_per_minute=10_000)),
        )
        app = web.Application(middlewares=[_remote_from_header])
        app.add_routes(RecordsApi(lookup, PgAccessStore(pool), metrics, load_openapi()).routes())

        async def metrics_page(request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(shared.registry), content_type="text/plain")

        app.router.add_get("/metrics", metrics_page)
        http: TestClient[Any, Any] = TestClient(TestServer(app))
        await http.start_server()
        clients.append(http)
        return Api(http, pool, PgRecordStore(pool, shared, actor="test"), metrics)

    make.clients = clients  # type: ignore[attr-defined]
    return make


@pytest.fixture
async def make_api(pool: asyncpg.Pool) -> AsyncIterator[Callable[..., Awaitable[Api]]]:
    make = _api_factory(pool)
    try:
        yield make
    finally:
        for http in make.clients:  # type: ignore[attr-defined]
            await http.close()


async def _two_years(api: Api, student: str = "HS-LOOKUP") -> tuple[dict[str, Any], ...]:
    """Grade 4 (2023-2024, v1) and grade 5 (2024-2025, v1 then a correction v2)."""
    year1 = signed_record(student, school_year="2023-2024", grade=4)
    year2 = signed_record(student, school_year="2024-2025", grade=5)
    year2_v2 = signed_record(
        student, school_year="2024-2025", grade=5, version=2, days_absent=9,
        correction_reason="Sửa số ngày nghỉ",
    )  # fmt: skip
    results = await api.store.store_batch(
        [delivery(year1, 0), delivery(year2, 1), delivery(year2_v2, 2)]
    )
    assert all(r.stored is not None for r in results)
    return year1, year2, year2_v2


def _random_code(rng: random.Random) -> str:
    return format_lookup_code(rng.getrandbits(80))


async def _audit_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT action, record_id, school_year, version, client_id, purpose, detail::text "
            "FROM record_audit WHERE action LIKE 'READ%' ORDER BY audit_id"
        )
    return rows


# --- found --------------------------------------------------------------------------------


async def test_found_shows_what_a_school_needs_and_names_only_the_codes_page(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api()
    year1, year2, year2_v2 = await _two_years(api)
    code = year1["lookup_code"]
    for typed in (code, code.lower().replace("-", "")):
        status, body, headers = await api.get(f"/v1/records/{typed}")
        assert status == 200 and headers["Cache-Control"] == "no-store"
    assert body["student_name"] == "Nguyễn Thị Minh Anh"
    first, second = body["pages"]
    assert (first["school_year"], first["grade"], first["version"]) == ("2023-2024", 4, 1)
    assert (second["school_year"], second["grade"], second["version"]) == ("2024-2025", 5, 2)
    assert first["is_named_page"] and first["lookup_code"] == code
    assert first["pdf_path"] == f"/v1/records/{code}/pdf"
    assert not second["is_named_page"] and second["lookup_code"] is None
    assert second["pdf_path"] is None and second["superseded_versions"] == 1
    assert second["completion_statement"] == "Hoàn thành chương trình tiểu học"
    assert second["school_name"] == year2["record"]["school"]["school_name"]
    assert second["signed_complete"] and [s["role"] for s in second["signatures"]] == [
        "HOMEROOM_TEACHER",
        "PRINCIPAL",
        "SCHOOL_SEAL",
    ]
    text = json.dumps(body, ensure_ascii=False)
    student = year1["record"]["student"]
    for secret in (
        year1["record_id"],
        year2["lookup_code"],
        student["date_of_birth"].isoformat(),
        student["national_id"],
        student["father_name"],
        student["mother_name"],
        student["current_address"],
    ):
        assert secret not in text, secret
    # A record id names every year: each page with its own code and PDF link.
    status, body, _ = await api.get(f"/v1/records/{year1['record_id']}")
    assert status == 200
    assert [(p["is_named_page"], p["lookup_code"]) for p in body["pages"]] == [
        (True, year1["lookup_code"]),
        (True, year2["lookup_code"]),
    ]
    assert year2_v2["version"] == 2


async def test_the_pdf_current_or_superseded_with_etag_and_audited(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api()
    _, year2, year2_v2 = await _two_years(api)
    code = year2["lookup_code"]
    status, pdf, headers = await api.get(f"/v1/records/{code}/pdf")
    assert (status, pdf) == (200, year2_v2["pdf"])
    etag = f'"{year2_v2["pdf_sha256"]}"'
    assert headers["ETag"] == etag
    assert headers["Content-Disposition"] == f'attachment; filename="hocba-{code}-v2.pdf"'
    status, _, _ = await api.get(f"/v1/records/{code}/pdf", **{"If-None-Match": etag})
    assert status == 304
    status, pdf, _ = await api.get(f"/v1/records/{code}/pdf?version=1")
    assert (status, pdf) == (200, year2["pdf"])
    status, body, _ = await api.get(f"/v1/records/{code}/pdf?version=3")
    assert (status, body) == (404, NOT_FOUND_BODY)
    status, pdf, _ = await api.get(f"/v1/records/{year2['record_id']}/pdf?school_year=2023-2024")
    assert status == 200 and pdf != year2_v2["pdf"]
    for query in ("version=0", "version=x", "school_year=2024"):
        status, body, _ = await api.get(f"/v1/records/{code}/pdf?{query}")
        assert (status, body["code"]) == (400, "E_LOOKUP_QUERY_INVALID"), query
    status, body, _ = await api.get(f"/v1/records/{code}/pdf", born=WRONG)
    assert (status, body) == (404, NOT_FOUND_BODY)
    reads = [(r["action"], r["record_id"], r["version"]) for r in await _audit_rows(api.pool)]
    record_id = year2["record_id"]
    assert reads == [
        ("READ", record_id, 2),
        ("READ", record_id, 2),
        ("READ", record_id, 1),
        ("READ_NOT_FOUND", None, None),
        ("READ", record_id, 1),
        ("READ_REFUSED", None, None),
    ]


# --- the second factor ------------------------------------------------------------------------


async def test_birth_date_is_required_before_any_lookup(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api()
    year1, *_ = await _two_years(api)
    code = year1["lookup_code"]
    for path in (
        f"/v1/records/{code}",
        f"/v1/records/{code}/pdf",
        f"/v1/records/{code}/access-log",
    ):
        for born in (None, "06/08/2015", "2015-02-30", ""):
            status, body, _ = await api.get(path, born=born)
            assert (status, body["code"]) == (400, "E_LOOKUP_BIRTH_DATE_REQUIRED"), (path, born)
    assert await _audit_rows(api.pool) == []
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM lookup_attempts") == 0


async def test_unknown_code_and_wrong_birth_date_are_indistinguishable(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    floor = 0.25
    api = await make_api(
        min_seconds=floor,
        client=ClientLimits(rate_per_minute=10_000, failures=1_000),
        code=CodeLimits(failures=1_000),
    )
    year1, *_ = await _two_years(api)
    rng = random.Random(8)
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(10):
        for sample, path in (
            (known, f"/v1/records/{year1['lookup_code']}"),
            (unknown, f"/v1/records/{_random_code(rng)}"),
        ):
            started = time.perf_counter()
            status, body, headers = await api.get(path, born=WRONG)
            sample.append(time.perf_counter() - started)
            assert (status, body) == (404, NOT_FOUND_BODY)
            assert headers["Cache-Control"] == "no-store"
    assert min(known) >= floor and min(unknown) >= floor
    assert abs(statistics.median(known) - statistics.median(unknown)) < 0.1
    # Neither left a trace naming the record.
    assert {r["record_id"] for r in await _audit_rows(api.pool)} == {None}


# --- brute force --------------------------------------------------------------------------


async def test_one_client_guessing_codes_is_locked_out_and_learns_nothing(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api(
        client=ClientLimits(rate_per_minute=10_000, failures=20, lockout_s=1800),
        code=CodeLimits(failures=5),
    )
    year1, *_ = await _two_years(api)
    rng = random.Random(20)
    answers = [await api.get(f"/v1/records/{_random_code(rng)}") for _ in range(20)]
    assert {(status, json.dumps(body)) for status, body, _ in answers} == {
        (404, json.dumps(NOT_FOUND_BODY))
    }
    for path in (f"/v1/records/{_random_code(rng)}", f"/v1/records/{year1['lookup_code']}"):
        status, body, headers = await api.get(path)  # even a real code with the right date
        assert (status, body["code"]) == (429, "E_LOOKUP_LOCKED")
        assert 1700 <= int(headers["Retry-After"]) <= 1800
    # Another address is not locked out by this one.
    status, _, _ = await api.get(f"/v1/records/{year1['lookup_code']}", remote="198.51.100.2")
    assert status == 200
    text = await api.metrics_text()
    assert 'hocba_storage_lookup_lockouts_total{scope="client",service="storage"} 1.0' in text
    assert (
        'hocba_storage_lookups_total{channel="api",outcome="locked",resource="record",'
        'service="storage"} 2.0'
    ) in text


async def test_guessing_birth_dates_locks_the_code_for_everyone(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api(code=CodeLimits(failures=5, window_s=900, lockout_s=900))
    year1, *_ = await _two_years(api)
    code = year1["lookup_code"]
    for day in range(1, 6):  # five wrong dates, each from another address
        status, body, _ = await api.get(
            f"/v1/records/{code}", born=f"2015-01-0{day}", remote=f"203.0.113.{day}"
        )
        assert (status, body) == (404, NOT_FOUND_BODY)
    for remote in ("203.0.113.1", "198.51.100.77"):
        for path in (f"/v1/records/{code}", f"/v1/records/{code}/pdf"):
            status, body, headers = await api.get(path, born=BORN, remote=remote)
            assert (status, body["code"]) == (429, "E_LOOKUP_LOCKED"), (path, remote)
            assert 800 <= int(headers["Retry-After"]) <= 900
    # The same code typed otherwise is the same code; the record id is another key.
    status, _, _ = await api.get(f"/v1/records/{code.lower().replace('-', ' ')}")
    assert status == 429
    status, _, _ = await api.get(f"/v1/records/{year1['record_id']}")
    assert status == 200
    # An unknown code locks the same way: a lock says nothing about existence.
    other = _random_code(random.Random(5))
    for day in range(1, 6):
        await api.get(f"/v1/records/{other}", born=f"2015-01-0{day}", remote=f"192.0.2.{day}")
    status, body, _ = await api.get(f"/v1/records/{other}", remote="192.0.2.99")
    assert (status, body["code"]) == (429, "E_LOOKUP_LOCKED")
    text = await api.metrics_text()
    assert 'hocba_storage_lookup_lockouts_total{scope="code",service="storage"} 2.0' in text
    refused = [r for r in await _audit_rows(api.pool) if r["action"] == "READ_REFUSED"]
    assert refused and {r["record_id"] for r in refused} == {None}
    reasons = [json.loads(r["detail"])["reason"] for r in refused]
    assert reasons.count("birth_date_mismatch") == 5 and "locked" in reasons


async def test_a_mistyped_code_is_400_and_counts_against_the_client(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api(client=ClientLimits(rate_per_minute=10_000, failures=3))
    code = format_lookup_code(0x1234_5678_9ABC_DEF0_1234)
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    for _ in range(3):
        status, body, _ = await api.get(f"/v1/records/{typo}")
        assert (status, body["code"]) == (400, "E_LOOKUP_CODE_INVALID")
    status, body, _ = await api.get(f"/v1/records/{code}")
    assert (status, body["code"]) == (429, "E_LOOKUP_LOCKED")
    rows = await _audit_rows(api.pool)
    assert [(r["action"], json.loads(r["detail"])["error"]) for r in rows] == [
        ("READ_NOT_FOUND", "E_LOOKUP_CODE_INVALID")
    ] * 3


# --- clients: the national database, a school; the access log --------------------------------


async def test_the_national_database_fetches_pdfs_without_birth_date(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api()
    _, year2, _ = await _two_years(api)
    access = PgAccessStore(api.pool)
    token = await access.add_client("csdl-nganh", ClientKind.NATIONAL_DB, "CSDL ngành", [])
    bearer = {"Authorization": f"Bearer {token}"}
    code = year2["lookup_code"]
    status, pdf, _ = await api.get(f"/v1/records/{code}/pdf?version=1", born=None, **bearer)
    assert (status, pdf) == (200, year2["pdf"])
    status, body, _ = await api.get(f"/v1/records/{code}", born=None, **bearer)
    assert (status, body["code"]) == (400, "E_LOOKUP_BIRTH_DATE_REQUIRED")
    status, body, headers = await api.get(
        f"/v1/records/{code}/pdf", born=None, Authorization="Bearer hbt_wrong"
    )
    assert (status, body["code"]) == (401, "E_ACCESS_TOKEN_INVALID")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    (row,) = [r for r in await _audit_rows(api.pool) if r["client_id"] is not None]
    assert (row["action"], row["version"], row["client_id"]) == ("READ", 1, "csdl-nganh")


async def test_the_access_log_lists_reads_with_their_purpose_and_no_attempts(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api()
    year1, year2, _ = await _two_years(api)
    access = PgAccessStore(api.pool)
    token = await access.add_client(
        "th-vo-thi-sau", ClientKind.SCHOOL, "Trường Tiểu học Võ Thị Sáu", ["79000701"]
    )
    bearer = {"Authorization": f"Bearer {token}"}
    code = year1["lookup_code"]
    status, body, _ = await api.get(f"/v1/records/{code}", **bearer)
    assert (status, body["code"]) == (400, "E_ACCESS_PURPOSE_REQUIRED")
    purpose = "Tiếp nhận học sinh chuyển trường"
    status, _, _ = await api.get(f"/v1/records/{code}?purpose={purpose}", **bearer)
    assert status == 200
    await api.get(f"/v1/records/{year2['lookup_code']}/pdf")  # a holder of the other code
    await api.get(f"/v1/records/{code}", born=WRONG)  # a wrong date: not a read
    await api.get(f"/v1/records/{_random_code(random.Random(3))}")  # another record
    status, log, _ = await api.get(f"/v1/records/{code}/access-log")
    assert status == 200 and log["student_name"] == "Nguyễn Thị Minh Anh"
    assert [(e["action"], e["client_kind"], e["purpose"]) for e in log["entries"]] == [
        ("READ", None, None),
        ("READ", "SCHOOL", purpose),
    ]
    holder, school = log["entries"]
    assert (holder["reader_vi"], holder["reader_en"], holder["school_year"]) == (
        "người có mã tra cứu",
        "holder of the lookup code",
        "2024-2025",
    )
    assert school["reader_vi"] == "Trường Tiểu học Võ Thị Sáu"
    assert "203.0.113" not in json.dumps(log)
    # The log's own read is audited, and shows in the next one.
    status, log, _ = await api.get(f"/v1/records/{year1['record_id']}/access-log")
    assert [e["school_year"] for e in log["entries"]] == ["2023-2024", "2024-2025", "2023-2024"]
    status, body, _ = await api.get(f"/v1/records/{code}/access-log", born=WRONG)
    assert (status, body) == (404, NOT_FOUND_BODY)
    # At most the limit, newest first, and it says when there is more.
    short = RecordLookup(PgLookupStore(api.pool, access_log_limit=2), api.metrics)
    found = await short.access_log(code, BORN, Requester("192.0.2.1", "pytest"))
    assert isinstance(found, AccessLogFound) and found.log.truncated
    assert [e.school_year for e in found.log.entries] == [None, "2023-2024"]


async def test_a_database_outage_is_503(make_api: Callable[..., Awaitable[Api]]) -> None:
    api = await make_api()
    year1, *_ = await _two_years(api)
    await api.pool.close()
    status, body, _ = await api.get(f"/v1/records/{year1['lookup_code']}")
    assert (status, body["code"]) == (503, "E_STORAGE_UNAVAILABLE")


async def test_attempt_rows_that_hold_nothing_are_purged(
    make_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await make_api(code=CodeLimits(failures=2, window_s=60, lockout_s=600))
    rng = random.Random(11)
    stale, locked, recent = (_random_code(rng) for _ in range(3))
    for code in (stale, locked, locked, recent):
        await api.get(f"/v1/records/{code}")
    async with api.pool.acquire() as conn:
        await conn.execute(
            "UPDATE lookup_attempts SET window_started = now() - interval '2 minutes' "
            "WHERE lookup_code = ANY($1::text[])",
            [stale, locked],
        )
        purged = await PgLookupStore(api.pool, CodeLimits(window_s=60)).purge()
        left = await conn.fetch("SELECT lookup_code FROM lookup_attempts ORDER BY 1")
    assert purged == 1
    assert sorted(r["lookup_code"] for r in left) == sorted([locked, recent])
