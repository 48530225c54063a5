"""Admission checks (kiểm tra hồ sơ tuyển sinh lớp 6): an admissions office checks, in bulk,
the grade-5 result, completion and signature status of its applicants.

Shortest use (an ``ADMISSIONS_OFFICE`` client's token)::

    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"purpose": "Tuyển sinh lớp 6 năm học 2025-2026",
              "lookup_codes": ["7K3M-Q9XA-2BCD-EF4G-H"]}' \\
         https://.../v1/admissions/checks
    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/csv" -H "Accept: text/csv" \\
         --data-binary @ho-so.csv "https://.../v1/admissions/checks?purpose=Tuyen+sinh+lop+6"

An office asks by **lookup code** (mã số tra cứu, which the parent hands in with the
application: possession of the code is the entitlement) or by **national id** (số định
danh cá nhân), only for students whose grade-5 page is at one of the office's schools
(``access_clients.school_codes``). Per entry the answer is one of

* ``found`` — the student's grade-5 page: name, school, school year, year result,
  completion statement and verification status (current version signed by the homeroom
  teacher, the principal and the school seal; how many versions it superseded);
* ``not_found`` — with a reason (unknown code; the record has no signed grade-5 page);
* ``not_entitled`` — a national id whose grade-5 page is at another school: nothing else;
* ``invalid`` — a lookup code with a wrong check character, a 12-digit id malformed.

A lookup code naming another year's page answers with the latest grade-5 page of the same
record (``named_page`` false); the latest too when the code names an earlier grade-5 year
(a student who repeated grade 5), since the office decides on the year that completed it.

One request is at most :data:`MAX_ENTRIES` entries, read with **one** SQL statement, and
every record read writes one audit row (action ``READ``, the client and the purpose; a
refusal ``READ_REFUSED``; misses ``READ_NOT_FOUND``) with one COPY, in the same transaction
as the read: no audit, no answer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import asyncpg
from aiohttp import web

from services.core.avro_types import CompletionStatus, YearResult
from services.core.classification import completion_statement
from services.core.curriculum import YEAR_RESULT_NAMES_VI
from services.core.signing_flow import fully_signed
from services.storage.access import (
    AccessClient,
    AccessDenied,
    ClientKind,
    PgAccessStore,
    Requester,
    authenticate_as,
    check_purpose,
)
from services.storage.answers import NO_STORE, RefusedRequest, storage_unavailable, utc_stamp
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import StorageError, translate_db_error
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import CodeKind, parse_code

__all__ = [
    "ENTRY_FIELDS",
    "MAX_BODY_BYTES",
    "MAX_ENTRIES",
    "AdmissionEntry",
    "AdmissionQuery",
    "AdmissionsApi",
    "CheckAudit",
    "CheckRequest",
    "EntryStatus",
    "PageRow",
    "PgAdmissionChecks",
    "QueryKind",
    "Reason",
    "RequestError",
    "audit_rows",
    "decide_entry",
    "entries_csv",
    "parse_csv_body",
    "parse_json_body",
    "parse_query",
    "signed_complete",
]

MAX_ENTRIES: Final = 5_000
#: 5,000 lookup codes in JSON are about 120 KiB; a spreadsheet export with other columns
#: may be larger, but not this large.
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
_AUDITED_QUERY_MAX: Final = 64
_CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv", "text/plain"})
# Excel runs a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class QueryKind(StrEnum):
    """What an office asks by; also the CSV header and the JSON list's name (singular)."""

    LOOKUP_CODE = "lookup_code"
    NATIONAL_ID = "national_id"


class EntryStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    NOT_ENTITLED = "not_entitled"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an entry is not ``found`` (a catalogued code and its messages)."""

    code: str
    message_vi: str
    message_en: str


@dataclass(frozen=True, slots=True)
class AdmissionQuery:
    """One entry of a request: as given, and its canonical key (None: invalid)."""

    kind: QueryKind
    given: str
    key: str | None
    invalid: Reason | None = None


@dataclass(frozen=True, slots=True)
class PageRow:
    """A page's current version as the check reads it (one SQL row)."""

    #: The canonical lookup code or national id the row answers.
    query_key: str
    #: True when this is the page the lookup code names.
    is_named: bool
    record_id: str
    school_year: str
    version: int
    grade: int
    school_code: str
    school_name: str | None
    student_name: str | None
    year_result: YearResult | None
    completion_status: CompletionStatus | None
    effective_at: dt.datetime | None
    signed: bool
    signature_roles: frozenset[str]
    superseded_versions: int


#: The entry's fields, in the JSON objects' and the CSV columns' order.
ENTRY_FIELDS: Final = (
    "query",
    "status",
    "reason_code",
    "reason_vi",
    "reason_en",
    "student_name",
    "school_code",
    "school_name",
    "school_year",
    "year_result",
    "year_result_name",
    "completion_statement",
    "signed_complete",
    "current_version",
    "superseded_versions",
    "effective_at",
    "named_page",
)


@dataclass(frozen=True, slots=True)
class AdmissionEntry:
    """The answer for one entry; ``page`` is what was read (for the audit), never shown
    whole: a ``not_entitled`` entry keeps it for the audit row and shows nothing of it."""

    query: AdmissionQuery
    status: EntryStatus
    page: PageRow | None = None
    reason: Reason | None = None

    def as_json(self) -> dict[str, Any]:
        """Every field of :data:`ENTRY_FIELDS` (null when it does not apply)."""
        shown = self.page if self.status is EntryStatus.FOUND else None
        reason = self.reason
        result = None if shown is None else shown.year_result
        return {
            "query": self.query.given,
            "status": self.status.value,
            "reason_code": None if reason is None else reason.code,
            "reason_vi": None if reason is None else reason.message_vi,
            "reason_en": None if reason is None else reason.message_en,
            "student_name": None if shown is None else shown.student_name,
            "school_code": None if shown is None else shown.school_code,
            "school_name": None if shown is None else shown.school_name,
            "school_year": None if shown is None else shown.school_year,
            "year_result": result,
            "year_result_name": None if result is None else YEAR_RESULT_NAMES_VI.get(result),
            # What the page printed (TT27 Art. 11), from the stored result and completion
            # status: storage does not keep the validated statement itself.
            "completion_statement": None
            if shown is None
            else completion_statement(shown.grade, result, shown.completion_status),
            "signed_complete": None if shown is None else signed_complete(shown),
            "current_version": None if shown is None else shown.version,
            "superseded_versions": None if shown is None else shown.superseded_versions,
            "effective_at": None if shown is None else utc_stamp(shown.effective_at, "seconds"),
            "named_page": None
            if shown is None or self.query.kind is QueryKind.NATIONAL_ID
            else shown.is_named,
        }


def signed_complete(page: PageRow) -> bool:
    """Signed and sealed: the current version carries the three required signatures."""
    return page.signed and fully_signed(page.signature_roles)


# --- entries: parsing and the per-entry decision (pure) --------------------------------


def _reason(code: str, message_vi: str, message_en: str) -> Reason:
    return Reason(code, message_vi, message_en)


def parse_query(kind: QueryKind, text: str) -> AdmissionQuery:
    """An entry as given; its canonical key, or why it is invalid."""
    if kind is QueryKind.LOOKUP_CODE:
        code = parse_code(text)
        if code is not None and code.kind is CodeKind.LOOKUP_CODE:
            return AdmissionQuery(kind, text, code.value)
        if code is not None:
            invalid = _reason(
                "E_LOOKUP_CODE_INVALID",
                "Đây là mã hồ sơ học bạ, không phải mã số tra cứu; hãy dùng mã số tra cứu "
                "in trên trang học bạ lớp 5.",
                "This is a record id, not a lookup code; use the lookup code printed on "
                "the grade-5 page.",
            )
        else:
            invalid = _reason(
                "E_LOOKUP_CODE_INVALID",
                "Mã số tra cứu không hợp lệ (16 ký tự và một ký tự kiểm tra); hãy kiểm tra "
                "lại từng ký tự.",
                "Not a valid lookup code (16 characters and a check character); check each "
                "character.",
            )
        return AdmissionQuery(kind, text, None, invalid)
    digits = "".join(text.split())
    # Spreadsheets drop leading zeros, and every province code (001-096) starts with one.
    if digits.isascii() and digits.isdigit() and len(digits) in (10, 11):
        digits = digits.zfill(12)
    if len(digits) == 12 and digits.isascii() and digits.isdigit():
        return AdmissionQuery(kind, text, digits)
    return AdmissionQuery(
        kind,
        text,
        None,
        _reason(
            "E_NATIONAL_ID_FORMAT",
            "Số định danh cá nhân phải gồm đúng 12 chữ số.",
            "A personal identification number is exactly 12 digits.",
        ),
    )


_UNKNOWN_CODE: Final = _reason(
    "E_RECORD_NOT_FOUND",
    "Không có trang học bạ nào mang mã số tra cứu này.",
    "No record page carries this lookup code.",
)
_NO_GRADE5_OF_CODE: Final = _reason(
    "E_ADMISSIONS_NO_GRADE5_PAGE",
    "Mã số tra cứu thuộc trang học bạ của lớp khác, và học bạ của học sinh chưa có trang "
    "lớp 5 đã ký.",
    "The lookup code names another grade's page, and the student's record has no signed "
    "grade-5 page.",
)
# The same for an unknown id and a known student without a grade-5 page: an office learns
# nothing about students it may not check.
_NO_GRADE5_OF_ID: Final = _reason(
    "E_ADMISSIONS_NO_GRADE5_PAGE",
    "Không có trang học bạ lớp 5 đã ký cho số định danh này.",
    "No signed grade-5 page for this national id.",
)
_NOT_ENTITLED: Final = _reason(
    "E_ADMISSIONS_NOT_ENTITLED",
    "Trang học bạ lớp 5 của học sinh này không thuộc trường nào mà đơn vị được cấp quyền "
    "kiểm tra theo số định danh; hãy dùng mã số tra cứu do phụ huynh cung cấp.",
    "This student's grade-5 page is not at a school this office may check by national id; "
    "use the lookup code the parent provides.",
)


def _latest(pages: Iterable[PageRow]) -> PageRow:
    return max(pages, key=lambda p: (p.school_year, p.record_id))


def decide_entry(
    query: AdmissionQuery, pages: Sequence[PageRow], client: AccessClient
) -> AdmissionEntry:
    """What one entry answers, from the rows read for its key.

    ``pages``: for a lookup code, the current version of the page it names and of every
    grade-5 page of the same record; for a national id, every grade-5 page (current
    version) of that id.
    """
    if query.key is None:
        return AdmissionEntry(query, EntryStatus.INVALID, reason=query.invalid)
    grade5 = [p for p in pages if p.grade == 5]
    if query.kind is QueryKind.LOOKUP_CODE:
        if not pages:
            return AdmissionEntry(query, EntryStatus.NOT_FOUND, reason=_UNKNOWN_CODE)
        if not grade5:
            # The named page was looked at: the audit names the record.
            return AdmissionEntry(
                query, EntryStatus.NOT_FOUND, page=pages[0], reason=_NO_GRADE5_OF_CODE
            )
        return AdmissionEntry(query, EntryStatus.FOUND, page=_latest(grade5))
    if not grade5:
        return AdmissionEntry(query, EntryStatus.NOT_FOUND, reason=_NO_GRADE5_OF_ID)
    page = _latest(grade5)
    if page.school_code not in client.school_codes:
        return AdmissionEntry(query, EntryStatus.NOT_ENTITLED, page=page, reason=_NOT_ENTITLED)
    return AdmissionEntry(query, EntryStatus.FOUND, page=page)


# --- request bodies --------------------------------------------------------------------


class RequestError(RefusedRequest):
    """A request the check refuses as a whole; carries the HTTP answer's parts."""


def _invalid(detail_vi: str, detail_en: str) -> RequestError:
    return RequestError(
        400,
        "E_ADMISSIONS_REQUEST_INVALID",
        f"Yêu cầu kiểm tra không hợp lệ: {detail_vi}",
        f"Invalid check request: {detail_en}",
    )


def _too_many(count: int) -> RequestError:
    return RequestError(
        413,
        "E_ADMISSIONS_REQUEST_TOO_LARGE",
        f"Mỗi yêu cầu tối đa {MAX_ENTRIES:,} mục (yêu cầu này có {count:,}); hãy chia danh "
        "sách thành nhiều lần gửi.",
        f"At most {MAX_ENTRIES:,} entries per request (this one has {count:,}); split the list.",
    )


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A parsed request body: what is asked by, the entries as given, the purpose."""

    kind: QueryKind
    entries: tuple[str, ...]
    purpose: str | None


def _checked(kind: QueryKind, entries: Sequence[str], purpose: str | None) -> CheckRequest:
    if not entries:
        raise _invalid("danh sách trống.", "the list is empty.")
    if len(entries) > MAX_ENTRIES:
        raise _too_many(len(entries))
    return CheckRequest(kind, tuple(entries), purpose)


def parse_json_body(body: bytes, query_purpose: str | None = None) -> CheckRequest:
    """``{purpose, lookup_codes: [...]}`` or ``{purpose, national_ids: [...]}``."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid("nội dung không phải JSON.", f"the body is not JSON ({exc}).") from exc
    if not isinstance(document, dict):
        raise _invalid("nội dung phải là một đối tượng JSON.", "the body must be a JSON object.")
    lists = [k for k in (QueryKind.LOOKUP_CODE, QueryKind.NATIONAL_ID) if f"{k}s" in document]
    if len(lists) != 1:
        raise _invalid(
            "cần đúng một trong hai danh sách lookup_codes hoặc national_ids.",
            "give exactly one of the lists lookup_codes or national_ids.",
        )
    kind = lists[0]
    items = document[f"{kind}s"]
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _invalid(
            f"{kind}s phải là danh sách chuỗi ký tự.", f"{kind}s must be a list of strings."
        )
    purpose = document.get("purpose", query_purpose)
    if purpose is not None and not isinstance(purpose, str):
        raise _invalid("purpose phải là chuỗi ký tự.", "purpose must be a string.")
    return _checked(kind, items, purpose)


def _sniff_delimiter(header: str) -> str:
    # Spreadsheets in some locales export ';'-separated "CSV".
    return ";" if header.count(";") > header.count(",") else ","


def parse_csv_body(body: bytes, purpose: str | None) -> CheckRequest:
    """A CSV file (UTF-8, with or without BOM) with a ``lookup_code`` or ``national_id``
    column; other columns are ignored, blank rows skipped."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(
            "tệp CSV phải ở mã UTF-8 (trong Excel: Lưu thành › CSV UTF-8).",
            "the CSV file must be UTF-8 (in Excel: Save As › CSV UTF-8).",
        ) from exc
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(first)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise _invalid("tệp CSV trống.", "the CSV file is empty.")
    header = [cell.strip().lower() for cell in rows[0]]
    kinds = [k for k in (QueryKind.LOOKUP_CODE, QueryKind.NATIONAL_ID) if k.value in header]
    if len(kinds) != 1 or header.count(kinds[0].value) != 1:
        raise _invalid(
            "dòng tiêu đề cần đúng một cột lookup_code hoặc national_id.",
            "the header row needs exactly one column lookup_code or national_id.",
        )
    kind = kinds[0]
    column = header.index(kind.value)
    # A row with other cells but no code is an entry (reported invalid), not a blank row.
    entries = [row[column].strip() if column < len(row) else "" for row in rows[1:]]
    return _checked(kind, entries, purpose)


def entries_csv(entries: Sequence[AdmissionEntry]) -> bytes:
    """The entries as CSV: UTF-8 with a BOM (so Excel reads Vietnamese), CRLF, a header
    row of :data:`ENTRY_FIELDS`; booleans ``true``/``false``, null as an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ENTRY_FIELDS)
    for entry in entries:
        values = entry.as_json()
        writer.writerow([_csv_cell(values[name]) for name in ENTRY_FIELDS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # The query is the office's own text: never let Excel run it.
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# --- SQL --------------------------------------------------------------------------------

_PAGE_COLUMNS = """
v.record_id, v.school_year, v.version, v.grade, v.school_code,
v.record->'school'->>'school_name' AS school_name,
v.record->'student'->>'full_name' AS student_name,
v.year_result, v.record->'completion'->>'status' AS completion_status, v.effective_at,
v.status = 'SIGNED' AS signed,
ARRAY(SELECT s->>'role' FROM jsonb_array_elements(coalesce(v.signatures, '[]'::jsonb)) AS s)
    AS signature_roles,
(SELECT count(*) FROM record_versions w
  WHERE w.record_id = v.record_id AND w.school_year = v.school_year
    AND w.version < v.version)::int AS superseded_versions
"""
# Every page the codes name, and every grade-5 page of the same records (current versions).
_BY_LOOKUP_CODES = f"""
SELECT a.lookup_code AS query_key, c.school_year = a.school_year AS is_named, {_PAGE_COLUMNS}
FROM lookup_codes a
JOIN current_versions c ON c.record_id = a.record_id
JOIN record_versions v
  ON (v.record_id, v.school_year, v.version) = (c.record_id, c.school_year, c.version)
WHERE a.lookup_code = ANY($1::text[]) AND (c.school_year = a.school_year OR v.grade = 5)
"""
# The grade-5 pages whose current version carries one of the ids.
_BY_NATIONAL_IDS = f"""
SELECT v.national_id AS query_key, false AS is_named, {_PAGE_COLUMNS}
FROM record_versions v
JOIN current_versions c
  ON (c.record_id, c.school_year, c.version) = (v.record_id, v.school_year, v.version)
WHERE v.national_id = ANY($1::text[]) AND v.grade = 5
"""
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _page_row(row: Mapping[str, Any]) -> PageRow:
    return PageRow(
        query_key=row["query_key"],
        is_named=bool(row["is_named"]),
        record_id=row["record_id"],
        school_year=row["school_year"],
        version=row["version"],
        grade=row["grade"],
        school_code=row["school_code"],
        school_name=row["school_name"],
        student_name=row["student_name"],
        year_result=row["year_result"],
        completion_status=row["completion_status"],
        effective_at=row["effective_at"],
        signed=bool(row["signed"]),
        signature_roles=frozenset(row["signature_roles"]),
        superseded_versions=row["superseded_versions"],
    )


def _audited(text: str) -> str:
    """An entry as the audit keeps it: printable, bounded (jsonb refuses U+0000)."""
    return "".join(ch for ch in text if ch.isprintable())[:_AUDITED_QUERY_MAX]


@dataclass(frozen=True, slots=True)
class CheckAudit:
    """Who checks, why, in which request: what every audit row of a check carries."""

    requester: Requester
    client: AccessClient
    purpose: str
    request_id: str
    kind: QueryKind


def audit_rows(entries: Sequence[AdmissionEntry], audit: CheckAudit) -> list[tuple[Any, ...]]:
    """One row per record page read (``READ``), refused (``READ_REFUSED``) or looked at
    without a grade-5 page (``READ_NOT_FOUND``); one ``READ_NOT_FOUND`` row without a record
    for every entry that named nothing (unknown or invalid), so probing shows too."""
    base = {
        **audit.requester.audit_detail(),
        "resource": "admission_check",
        "request_id": audit.request_id,
        "query_kind": audit.kind.value,
    }
    actions = {
        EntryStatus.FOUND: "READ",
        EntryStatus.NOT_ENTITLED: "READ_REFUSED",
        EntryStatus.NOT_FOUND: "READ_NOT_FOUND",
    }
    pages: dict[tuple[str, str, int, str], list[str]] = defaultdict(list)
    unmatched: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        query = entry.query.key or _audited(entry.query.given)
        if entry.page is None:
            unmatched[entry.status.value].append(query)
        else:
            p = entry.page
            pages[(p.record_id, p.school_year, p.version, actions[entry.status])].append(query)

    def row(
        action: str, page: tuple[str, str, int] | None, detail: dict[str, Any]
    ) -> tuple[Any, ...]:
        return audit_row(
            audit.requester.actor,
            action,
            record_id=None if page is None else page[0],
            school_year=None if page is None else page[1],
            version=None if page is None else page[2],
            detail={**base, **detail},
            client_id=audit.client.client_id,
            purpose=audit.purpose,
        )

    rows = [
        row(action, (record_id, year, version), {"queries": queries})
        for (record_id, year, version, action), queries in sorted(pages.items())
    ]
    if unmatched:
        rows.append(row("READ_NOT_FOUND", None, {"unmatched": dict(sorted(unmatched.items()))}))
    return rows


class PgAdmissionChecks:
    """The check's SQL: one read statement and one audit COPY, in one transaction."""

    def __init__(self, pool: asyncpg.Pool, metrics: StorageMetrics) -> None:
        self._pool = pool
        self._metrics = metrics

    async def check(
        self,
        queries: Sequence[AdmissionQuery],
        *,
        kind: QueryKind,
        requester: Requester,
        client: AccessClient,
        purpose: str,
        request_id: str,
    ) -> list[AdmissionEntry]:
        """Decide every entry and audit the reads; :class:`StorageError` when the database
        does not answer (then nothing was answered and nothing audited)."""
        keys = sorted({q.key for q in queries if q.key is not None})
        statement = _BY_LOOKUP_CODES if kind is QueryKind.LOOKUP_CODE else _BY_NATIONAL_IDS
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                found: dict[str, list[PageRow]] = defaultdict(list)
                for record in await conn.fetch(statement, keys) if keys else []:
                    page = _page_row(record)
                    found[page.query_key].append(page)
                entries = [
                    decide_entry(q, found.get(q.key, []) if q.key else [], client) for q in queries
                ]
                rows = audit_rows(entries, CheckAudit(requester, client, purpose, request_id, kind))
                await insert_audit_rows(conn, rows)
                return entries
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "admission_check") from exc
        finally:
            shared = self._metrics.shared
            shared.db_seconds.labels(shared.service, "admission_check").observe(
                time.perf_counter() - started
            )


# --- HTTP -------------------------------------------------------------------------------


def _wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in ("csv", "json"):
            raise _invalid("format phải là csv hoặc json.", "format must be csv or json.")
        return chosen == "csv"
    accept = request.headers.get("Accept", "").lower()
    return "text/csv" in accept


async def _read_body(request: web.Request) -> bytes:
    too_large = RequestError(
        413,
        "E_ADMISSIONS_REQUEST_TOO_LARGE",
        f"Nội dung yêu cầu vượt quá {MAX_BODY_BYTES // (1024 * 1024)} MiB.",
        f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.",
    )
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse(request: web.Request) -> CheckRequest:
    media = request.content_type.lower()
    if (
        media not in _CSV_MEDIA_TYPES
        and media != "application/json"
        and not media.endswith("+json")
    ):
        raise RequestError(
            415,
            "E_ADMISSIONS_MEDIA_TYPE",
            "Nội dung phải là application/json hoặc text/csv.",
            "The body must be application/json or text/csv.",
        )
    body = await _read_body(request)
    if media in _CSV_MEDIA_TYPES:
        return parse_csv_body(body, request.query.get("purpose"))
    return parse_json_body(body, request.query.get("purpose"))


class AdmissionsApi:
    """``POST /v1/admissions/checks``; mounted in the :class:`ServiceShell`."""

    def __init__(
        self, checks: PgAdmissionChecks, access: PgAccessStore, metrics: StorageMetrics
    ) -> None:
        self._checks = checks
        self._access = access
        self._metrics = metrics

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.post("/v1/admissions/checks", self.post_checks)]

    def _answer(self, outcome: str, response: web.Response) -> web.Response:
        self._metrics.admission_requests.labels(self._metrics.service, outcome).inc()
        return response

    async def post_checks(self, request: web.Request) -> web.Response:
        """Check every entry; JSON (default) or CSV (``Accept: text/csv``, ``?format=csv``)."""
        request_id = uuid.uuid4().hex
        try:
            client = await authenticate_as(request, self._access, ClientKind.ADMISSIONS_OFFICE)
            as_csv = _wants_csv(request)
            asked = await _parse(request)
            purpose = check_purpose(asked.purpose)
        except AccessDenied as denied:
            return self._answer(denied.outcome, denied.response())
        except RequestError as refused:
            outcome = {413: "too_large", 415: "unsupported_media_type"}.get(
                refused.status, "invalid"
            )
            return self._answer(outcome, refused.response())
        except StorageError:
            return self._answer("unavailable", storage_unavailable())
        self._metrics.admission_entries.labels(self._metrics.service).observe(len(asked.entries))
        queries = [parse_query(asked.kind, text) for text in asked.entries]
        try:
            entries = await self._checks.check(
                queries,
                kind=asked.kind,
                requester=Requester.of(request, client),
                client=client,
                purpose=purpose,
                request_id=request_id,
            )
        except StorageError:
            return self._answer("unavailable", storage_unavailable())
        counts = {status.value: 0 for status in EntryStatus}
        for entry in entries:
            counts[entry.status.value] += 1
        for status, count in counts.items():
            if count:
                self._metrics.admission_checks.labels(self._metrics.service, status).inc(count)
        headers = {**NO_STORE, "X-Request-Id": request_id}
        if as_csv:
            headers["Content-Disposition"] = (
                f'attachment; filename="kiem-tra-tuyen-sinh-{request_id}.csv"'
            )
            response = web.Response(
                body=entries_csv(entries),
                content_type="text/csv",
                charset="utf-8",
                headers=headers,
            )
            return self._answer("checked", response)
        body = {
            "request_id": request_id,
            "client_id": client.client_id,
            "purpose": purpose,
            "query_kind": asked.kind.value,
            "checked_at": utc_stamp(dt.datetime.now(dt.UTC), "seconds"),
            "counts": counts,
            "entries": [e.as_json() for e in entries],
        }
        return self._answer("checked", web.json_response(body, headers=headers))
