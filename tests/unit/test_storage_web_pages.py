"""The record pages' routes (services.storage.web) on an aiohttp test server, with in-memory
fakes of the verification (and lookup) they ask: status codes, security headers, the
language carried through forms, and every outcome answered with a page."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.storage.access import Requester
from services.storage.http import load_openapi
from services.storage.lookup import (
    AccessEntry,
    AccessLog,
    AccessLogFound,
    BirthDateRequired,
    Found,
    InvalidCode,
    Locked,
    LookupView,
    NotFound,
    PageView,
    PdfFound,
    SignatureView,
    Unavailable,
)
from services.storage.verify_api import NotAPdf, NoTrustAnchors, TooLarge, Verified, VerifyOutcome
from services.storage.web import LookupPages, VerifyPages
from services.storage.web.responses import SECURITY_HEADERS
from services.storage.web.texts import text
from tests.unit.test_storage_web import CURRENT, report

pytestmark = pytest.mark.unit

PDF = b"%PDF-1.7\n% a record page\n"


@dataclass
class FakeVerification:
    """Answers with ``outcome``; remembers what it was handed."""

    outcome: VerifyOutcome
    max_bytes: int = 1024
    handed: list[tuple[bytes, Requester]] = field(default_factory=list)
    refused_too_large: int = 0

    async def verify(self, pdf: bytes, requester: Requester) -> VerifyOutcome:
        self.handed.append((pdf, requester))
        return self.outcome

    def too_large(self) -> TooLarge:
        self.refused_too_large += 1
        return TooLarge(self.max_bytes)


Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def verification() -> FakeVerification:
    return FakeVerification(Verified(report(), CURRENT, "00" * 32))


@pytest.fixture
async def client(verification: FakeVerification) -> AsyncIterator[Client]:
    app = web.Application()
    app.add_routes(VerifyPages(verification).routes())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def assert_secure(response: aiohttp.ClientResponse, lang: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Language"] == lang


def form(pdf: bytes | None, lang: str = "vi", filename: str = "hoc-ba.pdf") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("lang", lang)
    data.add_field("pdf", pdf or b"", filename=filename, content_type="application/pdf")
    return data


@pytest.mark.parametrize(("query", "lang"), [("", "vi"), ("?lang=en", "en")])
async def test_the_verification_form_is_served_in_the_language_asked_for(
    client: Client, query: str, lang: str
) -> None:
    response = await client.get(f"/xac-minh{query}")
    assert response.status == 200
    assert_secure(response, lang)
    page = await response.text()
    assert f'<html lang="{lang}">' in page
    assert 'enctype="multipart/form-data"' in page and 'accept="application/pdf,.pdf"' in page
    assert f'<input type="hidden" name="lang" value="{lang}">' in page


async def test_a_pdf_is_verified_as_the_web_channel(
    client: Client, verification: FakeVerification
) -> None:
    response = await client.post("/xac-minh?lang=en", data=form(PDF, "en"))
    assert response.status == 200
    assert_secure(response, "en")
    page = await response.text()
    assert text("en", "verdict_current") in page
    ((pdf, requester),) = verification.handed
    assert pdf == PDF and requester.channel == "web" and requester.client is None


async def test_the_language_field_wins_over_a_missing_query(client: Client) -> None:
    response = await client.post("/xac-minh", data=form(PDF, "en"))
    assert response.headers["Content-Language"] == "en"


async def test_a_form_without_a_file_is_answered_with_the_form_and_its_error(
    client: Client, verification: FakeVerification
) -> None:
    response = await client.post("/xac-minh?lang=en", data=form(None, "en"))
    assert response.status == 400
    assert_secure(response, "en")
    page = await response.text()
    assert text("en", "err_pdf_missing") in page and 'role="alert"' in page
    assert 'aria-describedby="pdf-hint pdf-error"' in page
    assert verification.handed == []


async def test_a_file_too_large_is_refused_unread_and_counted(
    client: Client, verification: FakeVerification
) -> None:
    response = await client.post("/xac-minh", data=form(PDF * 100))
    assert response.status == 413
    assert text("vi", "err_too_large", mib=f"{1024 / (1024 * 1024):g}") in await response.text()
    assert verification.refused_too_large == 1 and verification.handed == []


async def test_a_body_that_is_not_a_form_is_refused(client: Client) -> None:
    response = await client.post(
        "/xac-minh", data=b"code=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert text("vi", "err_form_type") in await response.text()


@pytest.mark.parametrize(
    ("outcome", "status", "key"),
    [
        (NotAPdf("no header"), 400, "err_not_a_pdf"),
        (TooLarge(1024), 413, "err_too_large"),
        (NoTrustAnchors("none configured"), 503, "verify_unavailable"),
    ],
)
async def test_every_verification_outcome_has_its_page(
    client: Client, verification: FakeVerification, outcome: VerifyOutcome, status: int, key: str
) -> None:
    verification.outcome = outcome
    response = await client.post("/xac-minh", data=form(PDF))
    assert response.status == status
    assert_secure(response, "vi")
    page = await response.text()
    assert "<script" not in page
    assert text("vi", key, mib="0.000976562").split(":")[0] in page


# --- the lookup pages --------------------------------------------------------------------

CODE = "0TKP-SW9Y-1WA3-2RDZ-A"
SIGNED_AT = dt.datetime(2025, 5, 20, 3, 4, tzinfo=dt.UTC)
VIEW = LookupView(
    student_name="Phạm Minh Khôi",
    pages=(
        PageView(
            school_year="2024-2025",
            grade=5,
            school_code="79000001",
            school_name="Trường Tiểu học Lê Văn Tám",
            year_result="HTXS",
            completion_statement="Hoàn thành chương trình tiểu học",
            version=2,
            effective_at=SIGNED_AT,
            signatures=(
                SignatureView("HOMEROOM_TEACHER", "Nguyễn Thị Hoa", SIGNED_AT),
                SignatureView("PRINCIPAL", "Trần Văn Bình", SIGNED_AT),
                SignatureView("SCHOOL_SEAL", "Trường Tiểu học Lê Văn Tám", SIGNED_AT),
            ),
            signed_complete=True,
            superseded_versions=1,
            is_named_page=True,
            lookup_code=CODE,
        ),
    ),
)


@dataclass
class FakeLookup:
    """Answers every call with ``outcome`` (or the found thing of the call); remembers calls."""

    outcome: object = None
    calls: list[tuple[str, str, str | None, Requester]] = field(default_factory=list)

    def _answer(self, method: str, code: str, birth_date: str | None, who: Requester) -> Any:
        self.calls.append((method, code, birth_date, who))
        return self.outcome

    async def look_up(self, code: str, birth_date: str | None, requester: Requester) -> Any:
        return self._answer("look_up", code, birth_date, requester) or Found(VIEW)

    async def pdf(self, code: str, birth_date: str | None, requester: Requester) -> Any:
        found = PdfFound(PDF, "ab" * 32, "2024-2025", 2, "hocba-HB1-2024-2025-v2.pdf")
        return self._answer("pdf", code, birth_date, requester) or found

    async def access_log(self, code: str, birth_date: str | None, requester: Requester) -> Any:
        entries = (
            AccessEntry(SIGNED_AT, "READ", None, None, None, "2024-2025"),
            AccessEntry(SIGNED_AT, "READ", "SCHOOL", "Trường TH Kim Đồng", "Tiếp nhận", None),
        )
        log = AccessLog("Phạm Minh Khôi", entries, 200)
        return self._answer("access_log", code, birth_date, requester) or AccessLogFound(log)


@pytest.fixture
async def lookup() -> FakeLookup:
    return FakeLookup()


@pytest.fixture
async def pages(lookup: FakeLookup) -> AsyncIterator[Client]:
    app = web.Application()
    app.add_routes(LookupPages(lookup).routes())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/tra-cuu", "/tra-cuu?lang=en", f"/tra-cuu/{CODE}"])
async def test_the_lookup_form_is_served_with_the_security_headers(
    pages: Client, path: str
) -> None:
    response = await pages.get(path)
    lang = "en" if "lang=en" in path else "vi"
    assert response.status == 200
    assert_secure(response, lang)
    page = await response.text()
    assert 'action="/tra-cuu"' in page and 'type="date"' in page


async def test_the_qr_target_fills_the_code_in_and_escapes_whatever_the_url_holds(
    pages: Client,
) -> None:
    page = await (await pages.get(f"/tra-cuu/{CODE}")).text()
    assert f'value="{CODE}"' in page and 'href="/xac-minh"' in page
    hostile = await (await pages.get("/tra-cuu/%22%3E%3Cscript%3Ex%3C%2Fscript%3E")).text()
    assert "<script" not in hostile and 'value="&quot;&gt;&lt;script&gt;' in hostile


@pytest.mark.parametrize("typed", ["2014-09-05", "05/09/2014", "5/9/2014"])
async def test_a_lookup_asks_with_the_iso_birth_date_as_the_web_channel(
    pages: Client, lookup: FakeLookup, typed: str
) -> None:
    response = await pages.post("/tra-cuu", data={"code": CODE, "birth_date": typed})
    assert response.status == 200
    assert_secure(response, "vi")
    page = await response.text()
    assert "Phạm Minh Khôi" in page and text("vi", "result_HTXS") in page
    assert text("vi", "fully_signed") in page
    ((method, code, birth_date, requester),) = lookup.calls
    assert (method, code, birth_date) == ("look_up", CODE, "2014-09-05")
    assert requester.channel == "web" and requester.client is None


async def test_the_language_travels_with_the_form(pages: Client) -> None:
    response = await pages.post(
        "/tra-cuu", data={"code": CODE, "birth_date": "2014-09-05", "lang": "en"}
    )
    assert_secure(response, "en")
    page = await response.text()
    assert text("en", "result_title") in page
    assert page.count('<input type="hidden" name="lang" value="en">') == 2  # PDF, access log
    assert '<input type="hidden" name="lang" value="vi">' in page  # the switch


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({}, ["err_code_missing", "err_birth_missing"]),
        (
            {"code": "0TKP-SW9Y-1WA3-2RDZ-B", "birth_date": "05/13/2014"},
            ["err_code_invalid", "err_birth_invalid"],
        ),
        ({"code": "0TKP-SW9Y-1WA3-2RDZ-B"}, ["err_code_invalid", "err_birth_missing"]),
        ({"code": CODE, "birth_date": "31/02/2014"}, ["err_birth_invalid"]),
        ({"code": CODE, "birth_date": ""}, ["err_birth_missing"]),
    ],
)
async def test_a_malformed_form_is_answered_with_its_errors_and_no_lookup(
    pages: Client, lookup: FakeLookup, form: dict[str, str], errors: list[str]
) -> None:
    response = await pages.post("/tra-cuu", data=form)
    assert response.status == 400
    page = await response.text()
    for key in errors:
        assert text("vi", key) in page
    assert 'role="alert"' in page and lookup.calls == []


async def test_a_body_too_large_or_not_a_form_is_refused_unread(
    pages: Client, lookup: FakeLookup
) -> None:
    large = await pages.post("/tra-cuu", data={"code": "x" * 5000, "birth_date": "2014-09-05"})
    other = await pages.post(
        "/tra-cuu", data=b'{"code": "x"}', headers={"Content-Type": "application/json"}
    )
    assert (large.status, other.status) == (400, 400)
    assert text("vi", "err_form_too_large") in await large.text()
    assert lookup.calls == []


@pytest.mark.parametrize(
    ("outcome", "status", "key"),
    [
        (NotFound(), 404, "not_found_text"),
        (InvalidCode(), 400, "err_code_invalid"),
        (BirthDateRequired(), 400, "err_birth_missing"),
        (Unavailable(), 503, "unavailable_text"),
    ],
)
@pytest.mark.parametrize("path", ["/tra-cuu", "/tra-cuu/pdf", "/tra-cuu/nhat-ky"])
async def test_every_refusal_has_its_page_on_every_route(
    pages: Client, lookup: FakeLookup, outcome: object, status: int, key: str, path: str
) -> None:
    lookup.outcome = outcome
    response = await pages.post(path, data={"code": CODE, "birth_date": "2014-09-05"})
    assert response.status == status
    assert_secure(response, "vi")
    assert text("vi", key) in await response.text()


async def test_a_locked_code_says_when_to_retry(pages: Client, lookup: FakeLookup) -> None:
    lookup.outcome = Locked(890)
    response = await pages.post("/tra-cuu", data={"code": CODE, "birth_date": "2014-09-05"})
    assert response.status == 429 and response.headers["Retry-After"] == "890"
    assert text("vi", "locked_text", minutes=15) in await response.text()


async def test_the_pdf_is_an_attachment_with_the_security_headers(
    pages: Client, lookup: FakeLookup
) -> None:
    response = await pages.post("/tra-cuu/pdf", data={"code": CODE, "birth_date": "05/09/2014"})
    assert response.status == 200
    assert await response.read() == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="hocba-HB1-2024-2025-v2.pdf"'
    )
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert [call[:3] for call in lookup.calls] == [("pdf", CODE, "2014-09-05")]


async def test_the_access_log_lists_who_read_the_record(pages: Client) -> None:
    response = await pages.post(
        "/tra-cuu/nhat-ky", data={"code": CODE, "birth_date": "2014-09-05", "lang": "en"}
    )
    assert response.status == 200
    page = await response.text()
    assert text("en", "holder") in page and "School: Trường TH Kim Đồng" in page
    assert "Tiếp nhận" in page and "(school year 2024-2025)" in page


def test_the_openapi_document_describes_every_page_route() -> None:
    document = load_openapi()
    verification = FakeVerification(NotAPdf("unused"))
    routes = [*LookupPages(FakeLookup()).routes(), *VerifyPages(verification).routes()]
    served = {(route.method.lower(), route.path) for route in routes}
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served <= described
    qr = document["paths"]["/tra-cuu/{code}"]["get"]
    assert "{HOCBA_PUBLIC_URL}/tra-cuu/{code}" in qr["summary"]


async def test_a_mistyped_code_is_looked_up_to_be_audited_and_counted_like_the_api(
    pages: Client, lookup: FakeLookup
) -> None:
    lookup.outcome = InvalidCode()
    response = await pages.post(
        "/tra-cuu", data={"code": "0TKP-SW9Y-1WA3-2RDZ-B", "birth_date": "2014-09-05"}
    )
    assert response.status == 400
    assert text("vi", "err_code_invalid") in await response.text()
    assert [call[:3] for call in lookup.calls] == [
        ("look_up", "0TKP-SW9Y-1WA3-2RDZ-B", "2014-09-05")
    ]
