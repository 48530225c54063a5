"""``POST /v1/verify`` on the storage service built by ``bootstrap``, against the real
PostgreSQL (a schema of its own) and pages genuinely signed with the served dev PKI.

Each page embeds the canonical JSON of a generated year record, so storage's content hash
(record_sha256) is the SHA-256 of the embedded ``hoc-ba.json``, as the signing service makes
them. Versions are stored through the service's own store (the Kafka path is
tests/integration/test_storage_service.py's subject).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from services.messaging.jsonform import canonical_json
from services.messaging.metrics import ServiceMetrics
from services.messaging.schemas import default_registry
from services.signing.backends import LoadedKeySigner, Pkcs12Config, load_pkcs12_signer
from services.signing.devpki import DevPki, PkiServices
from services.signing.pades import SigningServices
from services.storage.access import Requester
from services.storage.app import bootstrap
from services.storage.metrics import StorageMetrics
from services.storage.repository import PgRecordStore
from services.storage.settings import StorageSettings
from services.storage.standing import PgStanding, unavailable_view
from services.storage.verify_api import PdfVerification, Verified
from tests.integration import test_signing_pades as _pades
from tests.integration import test_storage_service as _service
from tests.ports import free_port
from tests.unit.test_signing_fixtures import make_year_page_pdf
from tests.unit.test_storage_contract import delivery
from tests.unit.test_storage_fixtures import signed_record, year_record

pytestmark = pytest.mark.integration

# The served dev PKI of the PAdES tests and the storage service of the storage tests.
dev_pki = _pades.dev_pki
pki_services = _pades.pki_services
pg_schema = _service.pg_schema
topics = _service.topics

MAY = dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC)
JUNE = dt.datetime(2025, 6, 10, 8, 0, tzinfo=dt.UTC)
REASON = "Sửa số ngày nghỉ theo sổ điểm danh"
STUDENT = f"HS{uuid.uuid4().hex[:12].upper()}"
STRANGER = f"HS{uuid.uuid4().hex[:12].upper()}"


@functools.cache
def _year_schema() -> Any:
    return default_registry().current("vn.edu.hocba.YearRecord")


@pytest.fixture(scope="module")
def signed_pages(dev_pki: DevPki, pki_services: PkiServices) -> dict[str, bytes]:
    """Three genuinely signed pages: the student's v1 and v2 (a correction), a stranger's."""
    signers: dict[str, LoadedKeySigner] = {
        role: load_pkcs12_signer(Pkcs12Config(dev_pki.p12(role), dev_pki.p12_passphrase))
        for role in _pades.ROLES
    }
    contents = {
        "v1": year_record(STUDENT, days_absent=2),
        "v2": year_record(STUDENT, days_absent=5),
        "stranger": year_record(STRANGER, days_absent=1),
    }

    async def sign_all() -> dict[str, bytes]:
        services = SigningServices.create(pki_services.tsa_url, [dev_pki.root_cert])
        try:
            return {
                name: await _pades._sign_all(
                    make_year_page_pdf(canonical_json(_year_schema(), record)), signers, services
                )
                for name, record in contents.items()
            }
        finally:
            await services.close()

    return asyncio.run(sign_all())


def version_1(pages: dict[str, bytes]) -> dict[str, Any]:
    return signed_record(STUDENT, pdf=pages["v1"], days_absent=2, effective_at=MAY)


def version_2(pages: dict[str, bytes]) -> dict[str, Any]:
    return signed_record(
        STUDENT,
        version=2,
        pdf=pages["v2"],
        days_absent=5,
        effective_at=JUNE,
        correction_reason=REASON,
    )


@pytest.fixture
def settings(pg_schema: str, topics: tuple[str, str], dev_pki: DevPki) -> StorageSettings:
    return dataclasses.replace(
        StorageSettings.from_env({"HOCBA_TRUST_ROOTS": str(dev_pki.root_cert)}),
        pg_dsn=_service.DSN,
        kafka=_service.KAFKA,
        signed_topic=topics[0],
        stored_topic=topics[1],
        group_id=f"test-storage-{uuid.uuid4().hex[:8]}",
        pg_schema=pg_schema,
        http_port=free_port(),
    )


@pytest.fixture
async def running(settings: StorageSettings) -> AsyncIterator[_service.Running]:
    run = _service.Running(await bootstrap(settings))
    try:
        await run.until_ready()
        yield run
    finally:
        await run.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"User-Agent": "verify-test"}) as session:
        yield session


async def post_pdf(
    http: aiohttp.ClientSession, running: _service.Running, pdf: bytes
) -> tuple[int, dict[str, Any]]:
    async with http.post(
        f"{running.base}/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"}
    ) as response:
        return response.status, await response.json()


async def audit_rows(running: _service.Running) -> list[asyncpg.Record]:
    async with running.service.pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT action, actor, record_id, school_year, version, client_id, detail "
                "FROM record_audit WHERE detail->>'resource' = 'verify' ORDER BY audit_id"
            )
        )


def verifications(running: _service.Running, outcome: str, platform: str) -> float:
    labels = {"service": "storage", "outcome": outcome, "platform": platform}
    registry = running.service.metrics.shared.registry
    return registry.get_sample_value("hocba_storage_verifications_total", labels) or 0.0


async def test_a_stored_page_verifies_as_current_and_the_check_is_audited(
    running: _service.Running, http: aiohttp.ClientSession, signed_pages: dict[str, bytes]
) -> None:
    first = version_1(signed_pages)
    await running.service.store.store_batch([delivery(first)])
    status, body = await post_pdf(http, running, signed_pages["v1"])
    assert status == 200, body
    report, platform = body["report"], body["platform"]
    assert report["valid"] and report["complete"] and report["level"] == "B-LTA"
    assert [s["field_name"] for s in report["signatures"]] == list(_pades.ROLES)
    assert all(s["timestamp"]["time"] for s in report["signatures"])
    assert report["embedded_file"]["sha256"] == first["record_sha256"]
    assert platform == {
        "status": "current",
        "record_id": first["record_id"],
        "school_year": "2024-2025",
        "version": 1,
        "current_version": 1,
        "pdf_matches_stored": True,
        "superseded_by": None,
        "reason": None,
        "reason_vi": None,
        "reason_en": None,
    }
    assert body["pdf_sha256"] == first["pdf_sha256"]

    # The same file as the web form sends it: multipart/form-data, field "pdf".
    form = aiohttp.FormData()
    form.add_field("lang", "en")
    form.add_field("pdf", signed_pages["v1"], filename="r.pdf", content_type="application/pdf")
    async with http.post(f"{running.base}/v1/verify", data=form) as response:
        assert response.status == 200
        assert (await response.json())["platform"] == platform

    rows = await audit_rows(running)
    assert [(r["action"], r["record_id"], r["school_year"], r["version"]) for r in rows] == [
        ("VERIFIED", first["record_id"], "2024-2025", 1)
    ] * 2
    assert rows[0]["actor"] == "http:127.0.0.1" and rows[0]["client_id"] is None
    assert '"pdf_sha256": "' + first["pdf_sha256"] in rows[0]["detail"]
    assert verifications(running, "valid", "current") == 2


async def test_a_correction_supersedes_the_first_version_by_whom_when_and_why(
    running: _service.Running, http: aiohttp.ClientSession, signed_pages: dict[str, bytes]
) -> None:
    first, second = version_1(signed_pages), version_2(signed_pages)
    await running.service.store.store_batch([delivery(first)])
    await running.service.store.store_batch([delivery(second, offset=1)])
    status, old = await post_pdf(http, running, signed_pages["v1"])
    assert status == 200 and old["report"]["valid"]
    assert old["platform"]["status"] == "superseded"
    assert (old["platform"]["version"], old["platform"]["current_version"]) == (1, 2)
    assert old["platform"]["pdf_matches_stored"] is True
    assert old["platform"]["superseded_by"] == {
        "version": 2,
        "effective_at": JUNE.isoformat(),
        "correction_reason": REASON,
    }
    status, new = await post_pdf(http, running, signed_pages["v2"])
    assert status == 200 and new["report"]["valid"]
    assert (new["platform"]["status"], new["platform"]["version"]) == ("current", 2)
    assert new["platform"]["superseded_by"] is None
    assert [(r["action"], r["version"]) for r in await audit_rows(running)] == [
        ("VERIFIED", 1),
        ("VERIFIED", 2),
    ]


async def test_a_tampered_page_shows_the_broken_signature_and_a_file_not_the_stored_one(
    running: _service.Running, http: aiohttp.ClientSession, signed_pages: dict[str, bytes]
) -> None:
    first = version_1(signed_pages)
    await running.service.store.store_batch([delivery(first)])
    pdf = bytearray(signed_pages["v1"])
    at = pdf.index(b"HOC BA SO")  # the page's content stream (written uncompressed)
    pdf[at] = ord("X")
    status, body = await post_pdf(http, running, bytes(pdf))
    assert status == 200, body
    report, platform = body["report"], body["platform"]
    assert not report["valid"]
    assert not any(s["intact"] for s in report["signatures"])
    assert platform["pdf_matches_stored"] is False
    # The embedded record is untouched: the platform knows which page it claims to be.
    assert (platform["status"], platform["record_id"], platform["version"]) == (
        "current",
        first["record_id"],
        1,
    )
    assert verifications(running, "invalid", "current") == 1


async def test_an_unknown_page_is_unknown_and_audited_as_not_found(
    running: _service.Running, http: aiohttp.ClientSession, signed_pages: dict[str, bytes]
) -> None:
    await running.service.store.store_batch([delivery(version_1(signed_pages))])
    status, body = await post_pdf(http, running, signed_pages["stranger"])
    assert status == 200
    assert body["report"]["valid"]  # genuinely signed, but never issued by this platform
    assert (body["platform"]["status"], body["platform"]["reason"]) == ("unknown", "not_stored")
    assert body["platform"]["record_id"] is None
    ((row,),) = [await audit_rows(running)]
    assert (row["action"], row["record_id"], row["version"]) == ("READ_NOT_FOUND", None, None)


async def test_what_is_not_a_pdf_or_too_large_is_refused_with_a_code(
    running: _service.Running, http: aiohttp.ClientSession
) -> None:
    base = f"{running.base}/v1/verify"
    refusals: list[tuple[int, str]] = []
    for data, content_type in (
        (b"<html>not a pdf</html>", "application/pdf"),
        (b"%PDF-1.7\nno structure at all\n", "application/octet-stream"),
        (b"hello", "text/plain"),
    ):
        async with http.post(base, data=data, headers={"Content-Type": content_type}) as r:
            refusals.append((r.status, (await r.json())["code"]))
    for field, content in (("file", b"%PDF-1.7"), ("pdf", b"")):  # no pdf; no file chosen
        form = aiohttp.FormData()
        form.add_field(field, content, filename="r.pdf", content_type="application/pdf")
        async with http.post(base, data=form) as response:
            refusals.append((response.status, (await response.json())["code"]))
    big = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024)
    async with http.post(base, data=big, headers={"Content-Type": "application/pdf"}) as r:
        refusals.append((r.status, (await r.json())["code"]))

    async def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for _ in range(11):
            yield b"%" * (1024 * 1024)

    async with http.post(base, data=chunks(), headers={"Content-Type": "application/pdf"}) as r:
        refusals.append((r.status, (await r.json())["code"]))
    assert refusals == [
        (400, "E_VERIFY_NOT_A_PDF"),
        (400, "E_VERIFY_NOT_A_PDF"),
        (415, "E_VERIFY_MEDIA_TYPE"),
        (400, "E_VERIFY_PDF_MISSING"),
        (400, "E_VERIFY_PDF_MISSING"),
        (413, "E_VERIFY_TOO_LARGE"),
        (413, "E_VERIFY_TOO_LARGE"),
    ]
    assert await audit_rows(running) == []  # nothing was read of any record
    assert verifications(running, "not_a_pdf", "none") == 2
    assert verifications(running, "too_large", "none") == 2
    async with http.get(f"{running.base}/metrics") as response:
        assert "hocba_storage_verify_seconds_bucket" in await response.text()


async def test_damaged_files_are_answered_never_with_a_server_error(
    running: _service.Running, http: aiohttp.ClientSession, signed_pages: dict[str, bytes]
) -> None:
    # Structures fuzzing once broke through the verifier (pyhanko's PdfReadError from the
    # embedded-file name tree, errors from the DSS): each is a damaged file, answered.
    answers = {}
    for marker in (b"/EmbeddedFiles", b"/EF", b"/DSS", b"/Certs", b"/ByteRange", b"/Names"):
        pdf = bytearray(signed_pages["v1"])
        at = pdf.index(marker) + len(marker)
        pdf[at : at + 12] = b"(" * 12
        status, body = await post_pdf(http, running, bytes(pdf))
        answers[marker] = (status, body.get("code") or body["report"]["valid"])
    assert answers[b"/EmbeddedFiles"] == (400, "E_VERIFY_NOT_A_PDF")
    assert answers[b"/Certs"] == (200, False)  # read, and the damage shows in the report
    assert all(answer in {(400, "E_VERIFY_NOT_A_PDF"), (200, False)} for answer in answers.values())


async def test_a_database_that_is_down_leaves_the_report_and_an_unknown_view(
    signed_pages: dict[str, bytes], dev_pki: DevPki
) -> None:
    # Nothing listens on a free port: a database that is down.
    pool = await asyncpg.create_pool(
        f"postgresql://hocba:hocba@127.0.0.1:{free_port()}/hocba", min_size=0, max_size=1
    )
    try:
        metrics = ServiceMetrics("storage")
        checker = PdfVerification(
            PgStanding(pool, metrics), StorageMetrics(metrics), [Path(dev_pki.root_cert)]
        )
        outcome = await checker.verify(signed_pages["v1"], Requester("127.0.0.1", "t"))
    finally:
        await pool.close()
    assert isinstance(outcome, Verified)
    assert outcome.report.valid  # never "invalid" because the platform is down
    assert outcome.platform == unavailable_view()
    assert outcome.pdf_sha256 == hashlib.sha256(signed_pages["v1"]).hexdigest()


def test_hocba_verify_online_reports_the_same_platform_view(
    pg_schema: str,
    signed_pages: dict[str, bytes],
    dev_pki: DevPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from services.cli import main

    async def store_both() -> None:
        pool = await asyncpg.create_pool(
            _service.DSN, min_size=1, max_size=2, server_settings={"search_path": pg_schema}
        )
        try:
            store = PgRecordStore(pool, ServiceMetrics("storage"), actor="test")
            await store.store_batch([delivery(version_1(signed_pages))])
            await store.store_batch([delivery(version_2(signed_pages), offset=1)])
        finally:
            await pool.close()

    asyncio.run(store_both())
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(signed_pages["v1"])
    # asyncpg reads a DSN's unknown parameters as server settings: the test's schema.
    monkeypatch.setenv("HOCBA_PG_DSN", f"{_service.DSN}?search_path={pg_schema}")
    monkeypatch.setenv("HOCBA_TRUST_ROOTS", str(dev_pki.root_cert))
    assert main(["verify", str(pdf), "--online", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True
    assert document["platform"]["status"] == "superseded"
    assert document["platform"]["superseded_by"]["correction_reason"] == REASON
    assert main(["verify", str(pdf), "--platform"]) == 0
    text = capsys.readouterr().out
    assert "ĐÃ ĐƯỢC THAY THẾ / SUPERSEDED" in text and REASON in text
    monkeypatch.setenv("HOCBA_PG_DSN", f"postgresql://hocba:hocba@127.0.0.1:{free_port()}/x")
    assert main(["verify", str(pdf), "--platform", "--json"]) == 0  # valid all the same
    captured = capsys.readouterr()
    assert json.loads(captured.out)["platform"]["reason"] == "unavailable"
    assert "does not answer" in captured.err
