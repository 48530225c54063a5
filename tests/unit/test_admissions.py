"""Admission checks without a database: entries as given, the per-entry decision (grade-5
page, possession of a lookup code, the national-id entitlement), request bodies (JSON and
CSV, with Vietnamese and a BOM), the CSV answer, the audit rows, and the HTTP refusals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.core.lookup_code import format_lookup_code
from services.messaging.metrics import ServiceMetrics
from services.storage.access import AccessClient, ClientKind, Requester, token_digest
from services.storage.admissions import (
    ENTRY_FIELDS,
    MAX_ENTRIES,
    AdmissionEntry,
    AdmissionQuery,
    AdmissionsApi,
    CheckAudit,
    EntryStatus,
    PageRow,
    QueryKind,
    RequestError,
    audit_rows,
    decide_entry,
    entries_csv,
    parse_csv_body,
    parse_json_body,
    parse_query,
    signed_complete,
)
from services.storage.errors import StorageUnavailableError
from services.storage.metrics import StorageMetrics

pytestmark = pytest.mark.unit

CODE = format_lookup_code(123_456_789)
OTHER_CODE = format_lookup_code(987_654_321)
OFFICE = AccessClient("so-gddt-hcm", ClientKind.ADMISSIONS_OFFICE, "Sở GD&ĐT", frozenset({"S1"}))
ALL_ROLES = frozenset({"HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"})


def page(
    key: str = CODE,
    *,
    grade: int = 5,
    school_year: str = "2024-2025",
    school_code: str = "S1",
    is_named: bool = True,
    record_id: str = "HB0000000000000001",
    result: Any = "HTT",
    completion: Any = "COMPLETED",
    roles: frozenset[str] = ALL_ROLES,
    signed: bool = True,
    version: int = 1,
) -> PageRow:
    return PageRow(
        query_key=key,
        is_named=is_named,
        record_id=record_id,
        school_year=school_year,
        version=version,
        grade=grade,
        school_code=school_code,
        school_name="Trường Tiểu học Võ Thị Sáu",
        student_name="Nguyễn Thị Minh Ánh",
        year_result=result,
        completion_status=completion,
        effective_at=dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC),
        signed=signed,
        signature_roles=roles,
        superseded_versions=version - 1,
    )


def code_query(text: str = CODE) -> AdmissionQuery:
    return parse_query(QueryKind.LOOKUP_CODE, text)


def id_query(text: str = "079215000123") -> AdmissionQuery:
    return parse_query(QueryKind.NATIONAL_ID, text)


# --- entries as given --------------------------------------------------------------------


def test_lookup_codes_are_read_as_people_type_them() -> None:
    typed = CODE.lower().replace("-", " ")
    query = code_query(typed)
    assert (query.given, query.key, query.invalid) == (typed, CODE, None)


@pytest.mark.parametrize(
    "text",
    [
        CODE[:-1] + ("0" if CODE[-1] != "0" else "1"),  # wrong check character
        CODE[:5],
        "",
        "HB0000000000000001",  # a record id names the whole record, not a page
    ],
)
def test_a_mistyped_code_or_a_record_id_is_invalid(text: str) -> None:
    query = code_query(text)
    assert query.key is None and query.invalid is not None
    assert query.invalid.code == "E_LOOKUP_CODE_INVALID"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("079215000123", "079215000123"),
        (" 079 215 000 123 ", "079215000123"),
        ("79215000123", "079215000123"),  # a spreadsheet dropped the leading zero
        ("1215000123", "001215000123"),  # ... or two (Hà Nội, 001)
    ],
)
def test_national_ids_are_twelve_digits(text: str, key: str) -> None:
    assert id_query(text).key == key


@pytest.mark.parametrize("text", ["", "792150001", "0792150001234", "07921500012A", "٠٧٩٢١٥٠٠٠١٢٣"])
def test_a_malformed_national_id_is_invalid(text: str) -> None:
    query = id_query(text)
    assert query.key is None and query.invalid is not None
    assert query.invalid.code == "E_NATIONAL_ID_FORMAT"


# --- the per-entry decision --------------------------------------------------------------


def test_a_code_naming_a_grade_5_page_finds_it_wherever_the_school() -> None:
    # Possession of the code is the entitlement: the office's schools do not matter.
    named = page(school_code="ELSEWHERE")
    entry = decide_entry(code_query(), [named], OFFICE)
    assert entry.status is EntryStatus.FOUND and entry.page == named
    shown = entry.as_json()
    assert shown["student_name"] == "Nguyễn Thị Minh Ánh"
    assert shown["school_code"] == "ELSEWHERE"
    assert shown["year_result"] == "HTT"
    assert shown["year_result_name"] == "Hoàn thành tốt"
    assert shown["completion_statement"] == "Hoàn thành chương trình tiểu học"
    assert shown["signed_complete"] is True
    assert shown["named_page"] is True
    assert shown["effective_at"] == "2025-05-25T09:30:00Z"
    assert shown["reason_code"] is None


def test_a_code_naming_another_grade_reports_the_grade_5_page_of_the_record() -> None:
    grade4 = page(grade=4, school_year="2023-2024")
    grade5 = page(is_named=False, version=2)
    entry = decide_entry(code_query(), [grade4, grade5], OFFICE)
    assert entry.status is EntryStatus.FOUND and entry.page == grade5
    shown = entry.as_json()
    assert (shown["named_page"], shown["current_version"], shown["superseded_versions"]) == (
        False,
        2,
        1,
    )


def test_a_repeated_grade_5_reports_the_latest_grade_5_year() -> None:
    first = page(school_year="2023-2024", result="CHT", completion="REPEATS")
    second = page(school_year="2024-2025", is_named=False)
    entry = decide_entry(code_query(), [first, second], OFFICE)
    assert entry.page == second
    alone = decide_entry(code_query(), [first], OFFICE).as_json()
    assert (
        alone["completion_statement"] == "Chưa hoàn thành chương trình tiểu học; chưa được lên lớp"
    )
    assert alone["year_result_name"] == "Chưa hoàn thành"


def test_a_code_without_a_grade_5_page_is_not_found_with_a_reason() -> None:
    grade3 = page(grade=3)
    entry = decide_entry(code_query(), [grade3], OFFICE)
    assert entry.status is EntryStatus.NOT_FOUND
    assert entry.reason is not None and entry.reason.code == "E_ADMISSIONS_NO_GRADE5_PAGE"
    assert entry.page == grade3  # read, so audited against the record
    shown = entry.as_json()
    assert shown["student_name"] is None and shown["school_year"] is None
    unknown = decide_entry(code_query(), [], OFFICE)
    assert unknown.status is EntryStatus.NOT_FOUND and unknown.page is None
    assert unknown.reason is not None and unknown.reason.code == "E_RECORD_NOT_FOUND"


def test_a_national_id_is_checked_only_at_the_office_s_schools() -> None:
    inside = decide_entry(id_query(), [page("079215000123", is_named=False)], OFFICE)
    assert inside.status is EntryStatus.FOUND
    assert inside.as_json()["named_page"] is None
    outside_page = page("079215000123", is_named=False, school_code="S2")
    outside = decide_entry(id_query(), [outside_page], OFFICE)
    assert outside.status is EntryStatus.NOT_ENTITLED
    assert outside.reason is not None and outside.reason.code == "E_ADMISSIONS_NOT_ENTITLED"
    shown = outside.as_json()
    # Nothing about the student: only the query, the status and the reason.
    assert {k for k, v in shown.items() if v is not None} == {
        "query",
        "status",
        "reason_code",
        "reason_vi",
        "reason_en",
    }
    assert outside.page == outside_page  # kept for the READ_REFUSED audit row only


def test_the_latest_grade_5_page_decides_the_national_id_entitlement() -> None:
    pages = [
        page("079215000123", school_year="2023-2024", school_code="S1"),
        page("079215000123", school_year="2024-2025", school_code="S2"),
    ]
    assert decide_entry(id_query(), pages, OFFICE).status is EntryStatus.NOT_ENTITLED
    office2 = AccessClient("o2", ClientKind.ADMISSIONS_OFFICE, "o2", frozenset({"S2"}))
    assert decide_entry(id_query(), pages, office2).page == pages[1]


def test_an_unknown_national_id_and_one_without_grade_5_answer_alike() -> None:
    unknown = decide_entry(id_query(), [], OFFICE)
    grade4 = decide_entry(id_query(), [page("079215000123", grade=4)], OFFICE)
    assert unknown.as_json() == grade4.as_json()
    assert unknown.status is EntryStatus.NOT_FOUND


def test_an_invalid_entry_is_decided_without_rows() -> None:
    entry = decide_entry(id_query("12"), [], OFFICE)
    assert entry.status is EntryStatus.INVALID
    assert entry.as_json()["reason_code"] == "E_NATIONAL_ID_FORMAT"


def test_signed_complete_needs_teacher_principal_and_seal_on_a_signed_version() -> None:
    assert signed_complete(page())
    assert not signed_complete(page(roles=frozenset({"HOMEROOM_TEACHER", "PRINCIPAL"})))
    assert not signed_complete(page(signed=False))


# --- request bodies ----------------------------------------------------------------------


def test_json_bodies_take_one_list_and_a_purpose() -> None:
    asked = parse_json_body(
        json.dumps({"purpose": "Tuyển sinh lớp 6", "national_ids": ["1", "2"]}).encode()
    )
    assert (asked.kind, asked.entries, asked.purpose) == (
        QueryKind.NATIONAL_ID,
        ("1", "2"),
        "Tuyển sinh lớp 6",
    )
    from_query = parse_json_body(b'{"lookup_codes": ["x"]}', "Tuyen sinh")
    assert from_query.purpose == "Tuyen sinh"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        (b'{"purpose": "p"}', 400),
        (b'{"lookup_codes": ["a"], "national_ids": ["1"]}', 400),
        (b'{"lookup_codes": "a"}', 400),
        (b'{"national_ids": [79215000123]}', 400),
        (b'{"lookup_codes": []}', 400),
        (b'{"lookup_codes": ["a"], "purpose": 7}', 400),
        (json.dumps({"lookup_codes": ["a"] * (MAX_ENTRIES + 1)}).encode(), 413),
    ],
)
def test_bad_json_bodies_are_refused_whole(body: bytes, status: int) -> None:
    with pytest.raises(RequestError) as refused:
        parse_json_body(body)
    assert refused.value.status == status
    expected = "E_ADMISSIONS_REQUEST_TOO_LARGE" if status == 413 else "E_ADMISSIONS_REQUEST_INVALID"
    assert refused.value.code == expected


def test_exactly_the_maximum_is_accepted() -> None:
    asked = parse_json_body(json.dumps({"lookup_codes": ["a"] * MAX_ENTRIES}).encode())
    assert len(asked.entries) == MAX_ENTRIES


def test_csv_from_excel_with_bom_vietnamese_and_other_columns() -> None:
    text = (
        "\ufeffHọ và tên;Lookup_Code;Ghi chú\r\n"
        f"Nguyễn Thị Ánh;{CODE};đã nộp\r\n"
        "\r\n"
        f"Trần Văn Đức; {OTHER_CODE.lower()} ;\r\n"
        ";;\r\n"
        "Lê Thị Hà;;chưa có mã\r\n"
    )
    asked = parse_csv_body(text.encode("utf-8"), "Tuyển sinh")
    assert asked.kind is QueryKind.LOOKUP_CODE
    # Blank rows are skipped; a named row without a code is an (invalid) entry.
    assert asked.entries == (CODE, OTHER_CODE.lower(), "")
    assert asked.purpose == "Tuyển sinh"


def test_csv_of_national_ids_with_a_single_column() -> None:
    asked = parse_csv_body(b"national_id\n079215000123\n79215000124\n", None)
    assert asked.kind is QueryKind.NATIONAL_ID
    assert [parse_query(asked.kind, e).key for e in asked.entries] == [
        "079215000123",
        "079215000124",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n\r\n",
        b"code\nX\n",
        b"lookup_code,national_id\nX,1\n",
        b"lookup_code,lookup_code\nX,Y\n",
        "lookup_code\nmã\n".encode("utf-16"),
        # Excel's "CSV" in a Vietnamese Windows: cp1258, with combining tones.
        "Hoàng Văn Tên,lookup_code\nX,Y\n".encode("cp1258"),
        b"lookup_code\n",
    ],
)
def test_bad_csv_bodies_are_refused_whole(body: bytes) -> None:
    with pytest.raises(RequestError) as refused:
        parse_csv_body(body, "p")
    assert refused.value.status == 400


# --- the CSV answer ----------------------------------------------------------------------


def _entries() -> list[AdmissionEntry]:
    return [
        decide_entry(code_query(), [page()], OFFICE),
        decide_entry(code_query("=HYPERLINK(1)"), [], OFFICE),
        decide_entry(id_query(), [page("079215000123", school_code="S9")], OFFICE),
    ]


def test_the_csv_answer_is_utf8_with_bom_for_excel_and_agrees_with_json() -> None:
    entries = _entries()
    data = entries_csv(entries)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == ENTRY_FIELDS
    assert rows[0]["student_name"] == "Nguyễn Thị Minh Ánh"
    assert rows[0]["school_name"] == "Trường Tiểu học Võ Thị Sáu"
    assert rows[0]["completion_statement"] == "Hoàn thành chương trình tiểu học"
    assert rows[0]["signed_complete"] == "true"
    assert rows[2]["status"] == "not_entitled" and rows[2]["student_name"] == ""
    for row, entry in zip(rows, entries, strict=True):
        for name, value in entry.as_json().items():
            if name == "query":
                continue
            expected = (
                ""
                if value is None
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
            assert row[name] == expected, name


def test_the_csv_answer_never_hands_excel_a_formula() -> None:
    rows = list(csv.DictReader(io.StringIO(entries_csv(_entries()).decode("utf-8-sig"))))
    assert rows[1]["query"] == "'=HYPERLINK(1)"
    assert rows[0]["query"] == CODE


# --- the audit rows ----------------------------------------------------------------------


def test_one_audit_row_per_record_page_read_and_one_for_the_misses() -> None:
    requester = Requester("10.0.0.5", "pytest", OFFICE)
    audit = CheckAudit(requester, OFFICE, "Tuyển sinh lớp 6", "req-1", QueryKind.LOOKUP_CODE)
    found = page()
    entries = [
        decide_entry(code_query(), [found], OFFICE),
        # A second code of the same record reading the same page: one row.
        decide_entry(
            code_query(OTHER_CODE),
            [page(OTHER_CODE, grade=4), page(OTHER_CODE, is_named=False)],
            OFFICE,
        ),
        decide_entry(
            code_query(format_lookup_code(5)),
            [page(grade=2, record_id="HB0000000000000002")],
            OFFICE,
        ),
        decide_entry(code_query(format_lookup_code(6)), [], OFFICE),
        decide_entry(code_query("nonsense"), [], OFFICE),
    ]
    rows = audit_rows(entries, audit)
    actions = [(r[2], r[3]) for r in rows]
    assert actions == [
        ("READ", "HB0000000000000001"),
        ("READ_NOT_FOUND", "HB0000000000000002"),
        ("READ_NOT_FOUND", None),
    ]
    for row in rows:
        assert row[0] == "client:so-gddt-hcm"
        assert (row[7], row[8]) == ("so-gddt-hcm", "Tuyển sinh lớp 6")
        detail = json.loads(row[6])
        assert detail["request_id"] == "req-1" and detail["address"] == "10.0.0.5"
    read = json.loads(rows[0][6])
    assert read["queries"] == [CODE, OTHER_CODE]
    assert (rows[0][4], rows[0][5]) == ("2024-2025", 1)
    misses = json.loads(rows[2][6])["unmatched"]
    assert misses == {"invalid": ["nonsense"], "not_found": [format_lookup_code(6)]}


def test_a_refused_national_id_is_audited_as_read_refused() -> None:
    requester = Requester("10.0.0.5", "", OFFICE)
    audit = CheckAudit(requester, OFFICE, "Tuyển sinh", "req-2", QueryKind.NATIONAL_ID)
    entry = decide_entry(id_query(), [page("079215000123", school_code="S9")], OFFICE)
    ((_, _, action, record_id, *_),) = audit_rows([entry], audit)
    assert (action, record_id) == ("READ_REFUSED", "HB0000000000000001")


# --- HTTP refusals (fakes for the database) ----------------------------------------------


class FakeAccess:
    def __init__(self, clients: dict[str, AccessClient]) -> None:
        self._by_digest = {token_digest(t): c for t, c in clients.items()}

    async def client_by_token(self, digest: bytes) -> AccessClient | None:
        return self._by_digest.get(digest)


class FakeChecks:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.calls: list[Sequence[AdmissionQuery]] = []

    async def check(self, queries: Sequence[AdmissionQuery], **_: Any) -> list[AdmissionEntry]:
        if self.down:
            raise StorageUnavailableError("down")
        self.calls.append(queries)
        return [decide_entry(q, [page(q.key or "")] if q.key else [], OFFICE) for q in queries]


@pytest.fixture
async def api() -> AsyncIterator[
    tuple[TestClient[web.Request, web.Application], FakeChecks, StorageMetrics]
]:
    metrics = StorageMetrics(ServiceMetrics("storage"))
    checks = FakeChecks()
    school = AccessClient("school", ClientKind.SCHOOL, "school", frozenset({"S1"}))
    access = FakeAccess({"office-token": OFFICE, "school-token": school})
    app = web.Application()
    app.add_routes(AdmissionsApi(checks, access, metrics).routes())  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, checks, metrics
    finally:
        await client.close()


OFFICE_AUTH = {"Authorization": "Bearer office-token"}
PURPOSE = "Tuyển sinh lớp 6 năm học 2025-2026"


async def test_http_refusals_are_coded_and_counted(api: Any) -> None:
    client, checks, metrics = api
    body = {"purpose": PURPOSE, "lookup_codes": [CODE]}
    cases = [
        ({}, body, None, 401, "E_ACCESS_TOKEN_INVALID"),
        ({"Authorization": "Bearer nope"}, body, None, 401, "E_ACCESS_TOKEN_INVALID"),
        ({"Authorization": "Bearer school-token"}, body, None, 403, "E_ACCESS_FORBIDDEN"),
        (OFFICE_AUTH, {"lookup_codes": [CODE]}, None, 400, "E_ACCESS_PURPOSE_REQUIRED"),
        (
            OFFICE_AUTH,
            {"purpose": "x", "lookup_codes": [CODE]},
            None,
            400,
            "E_ACCESS_PURPOSE_REQUIRED",
        ),
        (OFFICE_AUTH, body, "xml", 400, "E_ADMISSIONS_REQUEST_INVALID"),
    ]
    for headers, payload, fmt, status, code in cases:
        params = {"format": fmt} if fmt else {}
        async with client.post(
            "/v1/admissions/checks", json=payload, headers=headers, params=params
        ) as answer:
            assert answer.status == status, (headers, payload)
            assert (await answer.json())["code"] == code
    async with client.post(
        "/v1/admissions/checks",
        data=b"<x/>",
        headers={**OFFICE_AUTH, "Content-Type": "application/xml"},
    ) as answer:
        assert answer.status == 415
        assert (await answer.json())["code"] == "E_ADMISSIONS_MEDIA_TYPE"
    big = b"lookup_code\n" + b"A" * (3 * 1024 * 1024)
    async with client.post(
        "/v1/admissions/checks?purpose=Tuyen+sinh",
        data=big,
        headers={**OFFICE_AUTH, "Content-Type": "text/csv"},
    ) as answer:
        assert answer.status == 413
        assert (await answer.json())["code"] == "E_ADMISSIONS_REQUEST_TOO_LARGE"
    assert checks.calls == []  # nothing refused reached the database
    outcomes = {
        s.labels["outcome"]: s.value
        for s in metrics.admission_requests.collect()[0].samples
        if s.name.endswith("_total")
    }
    assert outcomes == {
        "unauthorised": 2,
        "forbidden": 1,
        "invalid": 3,
        "unsupported_media_type": 1,
        "too_large": 1,
    }


async def test_http_answers_json_or_csv_and_counts_entries(api: Any) -> None:
    client, _, metrics = api
    body = {"purpose": PURPOSE, "lookup_codes": [CODE, "sai-ma"]}
    async with client.post("/v1/admissions/checks", json=body, headers=OFFICE_AUTH) as answer:
        assert answer.status == 200
        document = await answer.json()
        assert answer.headers["X-Request-Id"] == document["request_id"]
    assert document["counts"] == {"found": 1, "not_found": 0, "not_entitled": 0, "invalid": 1}
    assert [e["status"] for e in document["entries"]] == ["found", "invalid"]
    assert (document["client_id"], document["purpose"]) == ("so-gddt-hcm", PURPOSE)
    for headers, params in (({"Accept": "text/csv"}, {}), ({}, {"format": "csv"})):
        async with client.post(
            "/v1/admissions/checks", json=body, headers={**OFFICE_AUTH, **headers}, params=params
        ) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert "attachment" in answer.headers["Content-Disposition"]
            data = await answer.read()
            assert data.startswith(b"\xef\xbb\xbf")
    csv_body = f"lookup_code\n{CODE}\n".encode()
    async with client.post(
        "/v1/admissions/checks",
        data=csv_body,
        params={"purpose": PURPOSE},
        headers={**OFFICE_AUTH, "Content-Type": "text/csv"},
    ) as answer:
        assert answer.status == 200
        assert (await answer.json())["entries"][0]["status"] == "found"
    statuses = {
        s.labels["status"]: s.value
        for s in metrics.admission_checks.collect()[0].samples
        if s.name.endswith("_total")
    }
    assert statuses == {"found": 4, "invalid": 3}
    sizes = [
        s.value for s in metrics.admission_entries.collect()[0].samples if s.name.endswith("_count")
    ]
    assert sizes == [4]


async def test_http_answers_503_when_the_database_is_down(api: Any) -> None:
    client, checks, _ = api
    checks.down = True
    body = {"purpose": PURPOSE, "lookup_codes": [CODE]}
    async with client.post("/v1/admissions/checks", json=body, headers=OFFICE_AUTH) as answer:
        assert answer.status == 503
        assert (await answer.json())["code"] == "E_STORAGE_UNAVAILABLE"
