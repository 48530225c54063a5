"""Admission checks on the real PostgreSQL, in a schema of their own.

Signed versions are stored as the storage service stores them (``PgRecordStore.store_batch``
with small fake PDFs); the checks go through the HTTP route (``AdmissionsApi`` on an aiohttp
test server) with tokens issued by ``PgAccessStore``. The bulk check of 1,000 lookup codes
prints its time (``-s``).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.core.lookup_code import format_lookup_code
from services.messaging.jsonform import canonical_json
from services.messaging.metrics import ServiceMetrics
from services.stack.migrations import apply_migrations
from services.storage.access import ClientKind, PgAccessStore
from services.storage.admissions import ENTRY_FIELDS, AdmissionsApi, PgAdmissionChecks
from services.storage.metrics import StorageMetrics
from services.storage.repository import PgRecordStore
from tests.unit.test_storage_contract import delivery
from tests.unit.test_storage_fixtures import _year_schema, fake_pdf, signed_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
PURPOSE = "Tuyển sinh lớp 6 năm học 2025-2026, Sở GD&ĐT TP.HCM"
OFFICE_SCHOOLS = ("79000701", "79000702")
OTHER_SCHOOL = "01000999"
NAMES = ("Nguyễn Thị Minh Ánh", "Trần Văn Đức", "Lê Hoàng Yến", "Phạm Quốc Việt", "Đặng Thu Hà")
RESULTS = ("HTXS", "HTT", "HT")
EFFECTIVE = dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC)


def datum(student_id: str, *, national_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A SignedRecord datum; ``national_id`` replaces the generated one (hashes follow)."""
    value = signed_record(student_id, **changes)
    if national_id is None:
        return value
    record = copy.deepcopy(value["record"])
    record["student"]["national_id"] = national_id
    pdf = fake_pdf(record, value["version"], value["lookup_code"])
    canonical = canonical_json(_year_schema(), record)
    return {
        **value,
        "record": record,
        "pdf": pdf,
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        "record_sha256": hashlib.sha256(canonical).hexdigest(),
    }


@dataclass
class Fixture:
    pool: asyncpg.Pool
    store: PgRecordStore
    access: PgAccessStore
    client: TestClient[web.Request, web.Application]
    office_token: str
    school_token: str

    async def store_all(self, datums: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(datums), 250):
            batch = [delivery(d, i) for i, d in enumerate(datums[start : start + 250])]
            results = await self.store.store_batch(batch)
            assert all(r.outcome.refusal_code is None for r in results), results

    async def check(
        self,
        payload: Any = None,
        *,
        token: str | None = None,
        csv_body: bytes | None = None,
        params: dict[str, str] | None = None,
        accept: str | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if accept is not None:
            headers["Accept"] = accept
        if csv_body is not None:
            headers["Content-Type"] = "text/csv; charset=utf-8"
            request = self.client.post(
                "/v1/admissions/checks", data=csv_body, headers=headers, params=params or {}
            )
        else:
            request = self.client.post(
                "/v1/admissions/checks", json=payload, headers=headers, params=params or {}
            )
        async with request as answer:
            body: Any = await answer.read()
            if answer.content_type == "application/json":
                body = await answer.json()
            return answer.status, body, answer.headers.copy()

    async def audit_of_request(self, request_id: str) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(
                await conn.fetch(
                    "SELECT * FROM record_audit WHERE detail->>'request_id' = $1 ORDER BY audit_id",
                    request_id,
                )
            )

    async def audit_count(self) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM record_audit"))


@pytest.fixture
async def fx() -> AsyncIterator[Fixture]:
    schema = f"admissions_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        await apply_migrations(DSN, MIGRATIONS, schema=schema)
        pool = await asyncpg.create_pool(
            DSN, min_size=2, max_size=4, server_settings={"search_path": schema}
        )
        try:
            shared = ServiceMetrics("storage")
            metrics = StorageMetrics(shared)
            access = PgAccessStore(pool)
            office_token = await access.add_client(
                "so-gddt-hcm",
                ClientKind.ADMISSIONS_OFFICE,
                "Sở GD&ĐT TP. Hồ Chí Minh",
                OFFICE_SCHOOLS,
            )
            school_token = await access.add_client(
                "th-vo-thi-sau", ClientKind.SCHOOL, "Trường Tiểu học Võ Thị Sáu", OFFICE_SCHOOLS
            )
            app = web.Application()
            app.add_routes(
                AdmissionsApi(PgAdmissionChecks(pool, metrics), access, metrics).routes()
            )
            client = TestClient(TestServer(app))
            await client.start_server()
            try:
                yield Fixture(
                    pool=pool,
                    store=PgRecordStore(pool, shared, actor="hocba-storage/test"),
                    access=access,
                    client=client,
                    office_token=office_token,
                    school_token=school_token,
                )
            finally:
                await client.close()
        finally:
            await pool.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def _expected(value: dict[str, Any]) -> dict[str, Any]:
    record = value["record"]
    result = value["computed_result"]
    return {
        "status": "found",
        "student_name": record["student"]["full_name"],
        "school_code": record["school"]["school_code"],
        "school_name": record["school"]["school_name"],
        "school_year": record["school_year"],
        "year_result": result,
        "completion_statement": "Hoàn thành chương trình tiểu học",
        "signed_complete": True,
        "current_version": value["version"],
        "superseded_versions": value["version"] - 1,
        "effective_at": "2025-05-25T09:30:00Z",
        "named_page": True,
        "reason_code": None,
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def test_bulk_check_of_1000_lookup_codes(fx: Fixture) -> None:
    datums = [
        datum(
            f"HS{i:08d}",
            grade=5,
            school_code=OFFICE_SCHOOLS[i % 2] if i % 3 else OTHER_SCHOOL,
            full_name=f"{NAMES[i % len(NAMES)]} {i:04d}",
            result=RESULTS[i % len(RESULTS)],
            national_id=f"0792150{i:05d}",
            effective_at=EFFECTIVE,
        )
        for i in range(1000)
    ]
    started = time.perf_counter()
    await fx.store_all(datums)
    print(f"\nstored 1,000 signed grade-5 versions in {time.perf_counter() - started:.2f} s")
    unknown = [format_lookup_code(n) for n in (1, 2, 3)]
    mistyped = datums[0]["lookup_code"][:-1] + ("0" if datums[0]["lookup_code"][-1] != "0" else "1")
    invalid = [mistyped, "KHÔNG-CÓ-MÃ", datums[1]["record_id"]]
    # As offices type them: some lower case, without hyphens.
    given = [
        d["lookup_code"].lower().replace("-", "") if i % 7 == 0 else d["lookup_code"]
        for i, d in enumerate(datums)
    ]
    asked = [*given[:500], *unknown, *invalid, *given[500:]]
    before = await fx.audit_count()

    started = time.perf_counter()
    status, document, headers = await fx.check(
        {"purpose": PURPOSE, "lookup_codes": asked}, token=fx.office_token
    )
    elapsed = time.perf_counter() - started
    print(f"admission check of {len(asked):,} entries (JSON): {elapsed:.2f} s")
    assert status == 200, document
    assert elapsed < 30  # a guard against pathologies, not a benchmark
    entries = document["entries"]
    assert [e["query"] for e in entries] == asked
    assert document["counts"] == {"found": 1000, "not_found": 3, "not_entitled": 0, "invalid": 3}
    found = [e for e in entries if e["status"] == "found"]
    for value, entry in zip(datums, found, strict=True):
        expected = _expected(value)
        assert {k: entry[k] for k in expected} == expected, entry["query"]
    by_query = {e["query"]: e for e in entries}
    for code in unknown:
        assert (by_query[code]["status"], by_query[code]["reason_code"]) == (
            "not_found",
            "E_RECORD_NOT_FOUND",
        )
    for text in invalid:
        assert by_query[text]["status"] == "invalid"
        assert by_query[text]["reason_code"] == "E_LOOKUP_CODE_INVALID"
        assert by_query[text]["student_name"] is None

    # Exactly one READ row per record, with the client and the purpose, in this request.
    rows = await fx.audit_of_request(document["request_id"])
    reads = [r for r in rows if r["action"] == "READ"]
    assert len(reads) == 1000
    assert {r["record_id"] for r in reads} == {d["record_id"] for d in datums}
    assert {(r["client_id"], r["purpose"], r["actor"]) for r in reads} == {
        ("so-gddt-hcm", PURPOSE, "client:so-gddt-hcm")
    }
    assert {(r["school_year"], r["version"]) for r in reads} == {("2024-2025", 1)}
    (misses,) = [r for r in rows if r["action"] == "READ_NOT_FOUND"]
    assert misses["record_id"] is None and misses["client_id"] == "so-gddt-hcm"
    assert len(rows) == 1001 == await fx.audit_count() - before

    # The same request answered as CSV agrees with the JSON answer, field by field.
    started = time.perf_counter()
    status, data, headers = await fx.check(
        {"purpose": PURPOSE, "lookup_codes": asked}, token=fx.office_token, accept="text/csv"
    )
    print(f"admission check of {len(asked):,} entries (CSV): {time.perf_counter() - started:.2f} s")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert data.startswith(b"\xef\xbb\xbf")
    rows_csv = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert list(rows_csv[0]) == ["\ufeff" + ENTRY_FIELDS[0], *ENTRY_FIELDS[1:]]
    rows_csv = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows_csv) == len(entries)
    for row, entry in zip(rows_csv, entries, strict=True):
        assert row == {k: _csv_cell(entry[k]) for k in ENTRY_FIELDS}
    assert len(await fx.audit_of_request(headers["X-Request-Id"])) == 1001

    # A CSV upload of the same codes (Excel: BOM, Vietnamese names beside) answers the same.
    upload = io.StringIO()
    writer = csv.writer(upload, lineterminator="\r\n")
    writer.writerow(["Họ và tên học sinh", "lookup_code"])
    for value, code in zip(datums, given, strict=True):
        writer.writerow([value["record"]["student"]["full_name"], code])
    status, from_csv, _ = await fx.check(
        csv_body=("\ufeff" + upload.getvalue()).encode("utf-8"),
        params={"purpose": PURPOSE},
        token=fx.office_token,
    )
    assert status == 200
    assert [{k: v for k, v in e.items() if k != "query"} for e in from_csv["entries"]] == [
        {k: v for k, v in e.items() if k != "query"} for e in found
    ]


async def test_lookup_codes_of_other_years_corrections_and_missing_signatures(
    fx: Fixture,
) -> None:
    grade4 = datum("HS-G4", grade=4, school_year="2023-2024", effective_at=EFFECTIVE)
    grade5 = datum("HS-G4", grade=5, school_year="2024-2025", effective_at=EFFECTIVE)
    only4 = datum("HS-ONLY4", grade=4, effective_at=EFFECTIVE)
    first = datum("HS-CORR", grade=5, result="HT", effective_at=EFFECTIVE)
    corrected = datum(
        "HS-CORR",
        grade=5,
        version=2,
        result="HTT",
        days_absent=9,
        correction_reason="Sai số ngày nghỉ",
        effective_at=EFFECTIVE,
    )
    unsealed = datum("HS-NOSEAL", grade=5, effective_at=EFFECTIVE)
    unsealed["signatures"] = unsealed["signatures"][:2]
    await fx.store_all([grade4, grade5, only4, first, unsealed])
    await fx.store_all([corrected])
    codes = [
        grade4["lookup_code"],
        only4["lookup_code"],
        first["lookup_code"],
        unsealed["lookup_code"],
    ]
    status, document, _ = await fx.check(
        {"purpose": PURPOSE, "lookup_codes": codes}, token=fx.office_token
    )
    assert status == 200
    by_grade4, by_only4, by_corrected, by_unsealed = document["entries"]
    assert by_grade4["status"] == "found"
    assert (by_grade4["school_year"], by_grade4["named_page"]) == ("2024-2025", False)
    assert by_only4["status"] == "not_found"
    assert by_only4["reason_code"] == "E_ADMISSIONS_NO_GRADE5_PAGE"
    assert (by_corrected["current_version"], by_corrected["superseded_versions"]) == (2, 1)
    assert by_corrected["year_result"] == "HTT"
    assert by_unsealed["status"] == "found" and by_unsealed["signed_complete"] is False
    rows = await fx.audit_of_request(document["request_id"])
    assert sorted(
        (r["action"], r["record_id"], r["school_year"], r["version"]) for r in rows
    ) == sorted(
        [
            ("READ", grade5["record_id"], "2024-2025", 1),
            ("READ_NOT_FOUND", only4["record_id"], "2024-2025", 1),
            ("READ", first["record_id"], "2024-2025", 2),
            ("READ", unsealed["record_id"], "2024-2025", 1),
        ]
    )


async def test_national_ids_in_and_out_of_the_office_s_schools(fx: Fixture) -> None:
    inside = datum("HS-IN", grade=5, school_code=OFFICE_SCHOOLS[1], national_id="079215000001")
    outside = datum("HS-OUT", grade=5, school_code=OTHER_SCHOOL, national_id="001215000002")
    grade4 = datum("HS-G4", grade=4, school_code=OFFICE_SCHOOLS[0], national_id="079215000003")
    await fx.store_all([inside, outside, grade4])
    asked = ["079215000001", "1215000002", "079215000003", "079215999999", "07921500000X"]
    status, document, _ = await fx.check(
        {"purpose": PURPOSE, "national_ids": asked}, token=fx.office_token
    )
    assert status == 200
    found, refused, no_grade5, unknown, malformed = document["entries"]
    assert (found["status"], found["student_name"]) == ("found", "Nguyễn Thị Minh Anh")
    assert found["school_code"] == OFFICE_SCHOOLS[1] and found["named_page"] is None
    assert refused["status"] == "not_entitled"
    assert refused["reason_code"] == "E_ADMISSIONS_NOT_ENTITLED"
    assert {k for k, v in refused.items() if v is not None} == {
        "query",
        "status",
        "reason_code",
        "reason_vi",
        "reason_en",
    }
    # No grade-5 page and no student at all answer alike.
    assert {k: v for k, v in no_grade5.items() if k != "query"} == {
        k: v for k, v in unknown.items() if k != "query"
    }
    assert no_grade5["status"] == "not_found"
    assert malformed["status"] == "invalid"
    assert malformed["reason_code"] == "E_NATIONAL_ID_FORMAT"
    rows = await fx.audit_of_request(document["request_id"])
    actions = sorted((r["action"], r["record_id"] or "") for r in rows)
    assert actions == sorted(
        [
            ("READ", inside["record_id"]),
            ("READ_REFUSED", outside["record_id"]),
            ("READ_NOT_FOUND", ""),
        ]
    )
    assert all((r["client_id"], r["purpose"]) == ("so-gddt-hcm", PURPOSE) for r in rows)


async def test_only_admissions_offices_with_a_purpose_are_answered(fx: Fixture) -> None:
    value = datum("HS-AUTH", grade=5)
    await fx.store_all([value])
    body = {"purpose": PURPOSE, "lookup_codes": [value["lookup_code"]]}
    before = await fx.audit_count()
    status, answer, headers = await fx.check(body)
    assert (status, answer["code"]) == (401, "E_ACCESS_TOKEN_INVALID")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, answer, _ = await fx.check(body, token=fx.school_token)
    assert (status, answer["code"]) == (403, "E_ACCESS_FORBIDDEN")
    status, answer, _ = await fx.check(
        {"lookup_codes": [value["lookup_code"]]}, token=fx.office_token
    )
    assert (status, answer["code"]) == (400, "E_ACCESS_PURPOSE_REQUIRED")
    status, answer, _ = await fx.check(
        csv_body=f"lookup_code\n{value['lookup_code']}\n".encode(), token=fx.office_token
    )
    assert (status, answer["code"]) == (400, "E_ACCESS_PURPOSE_REQUIRED")
    status, answer, _ = await fx.check(
        {"purpose": PURPOSE, "lookup_codes": ["x"] * 5001}, token=fx.office_token
    )
    assert (status, answer["code"]) == (413, "E_ADMISSIONS_REQUEST_TOO_LARGE")
    assert await fx.audit_count() == before  # refused requests read nothing
    assert await fx.access.revoke("so-gddt-hcm")
    status, answer, _ = await fx.check(body, token=fx.office_token)
    assert (status, answer["code"]) == (401, "E_ACCESS_TOKEN_INVALID")
