"""The platform's view of a verified PDF (services.storage.standing.platform_view, pure) and
PdfVerification's outcomes with an in-memory standing (no database, no PKI)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.messaging.metrics import ServiceMetrics
from services.storage import verify_api
from services.storage.access import Requester
from services.storage.errors import StorageUnavailableError
from services.storage.http import load_openapi
from services.storage.metrics import StorageMetrics
from services.storage.standing import (
    PageVersion,
    PlatformView,
    Supersession,
    VerifyAudit,
    platform_view,
    unavailable_view,
)
from services.storage.verify_api import (
    NotAPdf,
    NoTrustAnchors,
    PdfVerification,
    TooLarge,
    Verified,
    VerifyApi,
)
from services.verification import DocumentTimestampReport, VerificationReport
from tests.unit.test_signing_fixtures import RECORD_SHA256, make_year_page_pdf
from tests.unit.test_verification_units import signature_report, timestamp_report

pytestmark = pytest.mark.unit

PAGE = ("HB0000000000000001", "2024-2025")
MAY = dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC)


def row(
    version: int,
    current: int,
    *,
    pdf: bool = False,
    content: bool = False,
    reason: str | None = None,
    page: tuple[str, str] = PAGE,
) -> PageVersion:
    return PageVersion(
        record_id=page[0],
        school_year=page[1],
        version=version,
        current_version=current,
        effective_at=MAY + dt.timedelta(days=version),
        correction_reason=reason,
        pdf_matches=pdf,
        content_matches=content,
    )


def test_nothing_stored_matches_is_unknown_not_invalid() -> None:
    view = platform_view([])
    assert (view.status, view.reason, view.record_id, view.pdf_matches_stored) == (
        "unknown",
        "not_stored",
        None,
        None,
    )
    assert view.reason_vi and view.reason_en


def test_the_file_issued_for_the_current_version_is_current() -> None:
    view = platform_view([row(1, 1, pdf=True, content=True)])
    assert view == PlatformView(
        "current",
        record_id=PAGE[0],
        school_year=PAGE[1],
        version=1,
        current_version=1,
        pdf_matches_stored=True,
    )


def test_only_the_embedded_record_matching_says_so() -> None:
    view = platform_view([row(1, 1, content=True)])
    assert (view.status, view.version, view.pdf_matches_stored) == ("current", 1, False)


def test_a_superseded_version_names_the_version_that_replaced_it_when_and_why() -> None:
    rows = [
        row(1, 3, pdf=True, content=True),
        row(2, 3, reason="Sửa số ngày nghỉ"),
        row(3, 3, reason="Sửa nhận xét"),
    ]
    view = platform_view(rows)
    assert (view.status, view.version, view.current_version) == ("superseded", 1, 3)
    assert view.superseded_by == Supersession(2, MAY + dt.timedelta(days=2), "Sửa số ngày nghỉ")
    middle = platform_view([*rows[:1], row(2, 3, pdf=True, reason="Sửa số ngày nghỉ"), rows[2]])
    assert middle.superseded_by == Supersession(3, MAY + dt.timedelta(days=3), "Sửa nhận xét")


def test_the_file_s_own_hash_decides_before_its_embedded_record() -> None:
    # v3 undid the correction of v2: v1 and v3 hold the same record in different files.
    rows = [
        row(1, 3, pdf=True, content=True),
        row(2, 3, reason="Sửa"),
        row(3, 3, content=True, reason="Hoàn tác"),
    ]
    assert platform_view(rows).status == "superseded"
    # The same record in a file the platform never issued: the current version holding it.
    by_content = [
        row(1, 3, content=True),
        row(2, 3, reason="Sửa"),
        row(3, 3, content=True, reason="Hoàn tác"),
    ]
    view = platform_view(by_content)
    assert (view.status, view.version, view.pdf_matches_stored) == ("current", 3, False)


def test_the_view_as_json() -> None:
    view = platform_view([row(1, 2, pdf=True), row(2, 2, reason="Sửa")])
    assert view.as_json() == {
        "status": "superseded",
        "record_id": PAGE[0],
        "school_year": PAGE[1],
        "version": 1,
        "current_version": 2,
        "pdf_matches_stored": True,
        "superseded_by": {
            "version": 2,
            "effective_at": "2025-05-27T09:30:00+00:00",
            "correction_reason": "Sửa",
        },
        "reason": None,
        "reason_vi": None,
        "reason_en": None,
    }
    down = unavailable_view().as_json()
    assert (down["status"], down["reason"]) == ("unknown", "unavailable")
    assert "không tra được" in down["reason_vi"]


# ---- PdfVerification with an in-memory standing ----------------------------------------


class FakeStanding:
    """Answers ``view`` (or raises ``failure``) and keeps what it was asked."""

    def __init__(self, view: PlatformView | None = None, failure: Exception | None = None):
        self.view = view or PlatformView("unknown", reason="not_stored")
        self.failure = failure
        self.asked: list[tuple[bytes, bytes | None, VerifyAudit]] = []

    async def standing(
        self, pdf_sha256: bytes, content_sha256: bytes | None, audit: VerifyAudit
    ) -> PlatformView:
        self.asked.append((pdf_sha256, content_sha256, audit))
        if self.failure is not None:
            raise self.failure
        return self.view


def self_signed_root(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Unit Test Root")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


REQUESTER = Requester("203.0.113.7", "unit-test", None, "api")


def verification(
    standing: FakeStanding, roots: list[Path], **kwargs: Any
) -> tuple[PdfVerification, StorageMetrics]:
    metrics = StorageMetrics(ServiceMetrics("storage"))
    return PdfVerification(standing, metrics, roots, **kwargs), metrics


def counted(metrics: StorageMetrics, outcome: str, platform: str) -> float:
    labels = {"service": "storage", "outcome": outcome, "platform": platform}
    value = metrics.shared.registry.get_sample_value("hocba_storage_verifications_total", labels)
    return value or 0.0


async def test_too_large_and_not_a_pdf_are_refused_before_any_check(tmp_path: Path) -> None:
    standing = FakeStanding()
    checker, metrics = verification(standing, [], max_bytes=100)
    assert await checker.verify(b"%PDF-1.7" + b" " * 100, REQUESTER) == TooLarge(100)
    outcome = await checker.verify(b"<html>not a pdf</html>", REQUESTER)
    assert isinstance(outcome, NotAPdf)
    assert standing.asked == []
    assert counted(metrics, "too_large", "none") == 1
    assert counted(metrics, "not_a_pdf", "none") == 1


async def test_without_trust_anchors_nothing_is_judged_until_they_appear(tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    checker, metrics = verification(FakeStanding(), [root])
    pdf = make_year_page_pdf()
    assert isinstance(await checker.verify(pdf, REQUESTER), NoTrustAnchors)
    assert counted(metrics, "unavailable", "none") == 1
    self_signed_root(root)  # e.g. the dev PKI built after storage started
    assert isinstance(await checker.verify(pdf, REQUESTER), Verified)


async def test_bytes_with_a_header_that_pyhanko_cannot_read_are_not_a_pdf(tmp_path: Path) -> None:
    checker, _ = verification(FakeStanding(), [self_signed_root(tmp_path / "r.pem")])
    outcome = await checker.verify(b"%PDF-1.7\ngarbage without structure\n", REQUESTER)
    assert isinstance(outcome, NotAPdf) and outcome.reason


async def test_the_platform_is_asked_with_both_hashes_and_its_failure_is_unknown(
    tmp_path: Path,
) -> None:
    standing = FakeStanding(failure=StorageUnavailableError("standing: database unreachable"))
    checker, metrics = verification(standing, [self_signed_root(tmp_path / "r.pem")])
    pdf = make_year_page_pdf()  # readable, embedded record, no signature yet
    outcome = await checker.verify(pdf, REQUESTER)
    assert isinstance(outcome, Verified)
    assert not outcome.report.valid and outcome.report.signatures == ()
    assert outcome.platform == unavailable_view()
    ((pdf_sha256, content, audit),) = standing.asked
    assert pdf_sha256 == hashlib.sha256(pdf).digest()
    assert content == bytes.fromhex(RECORD_SHA256)
    assert (audit.actor, audit.client_id) == ("http:203.0.113.7", None)
    assert audit.detail["report_valid"] is False and audit.detail["user_agent"] == "unit-test"
    body = outcome.as_json()
    assert body["platform"]["status"] == "unknown" and body["report"]["valid"] is False
    assert body["pdf_sha256"] == pdf_sha256.hex()
    assert counted(metrics, "invalid", "unknown") == 1


async def test_at_most_the_configured_number_of_checks_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    lock = threading.Lock()
    real = verify_api._verify_blocking

    def tracked(pdf: bytes, anchors: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # hold the slot long enough for the others to queue
        try:
            return real(pdf, anchors)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(verify_api, "_verify_blocking", tracked)
    checker, metrics = verification(
        FakeStanding(), [self_signed_root(tmp_path / "r.pem")], concurrency=2
    )
    pdf = make_year_page_pdf()
    outcomes = await asyncio.gather(*(checker.verify(pdf, REQUESTER) for _ in range(6)))
    assert all(isinstance(o, Verified) for o in outcomes)
    assert most == 2
    waiting = metrics.shared.registry.get_sample_value(
        "hocba_storage_verify_waiting_requests", {"service": "storage"}
    )
    assert waiting == 0


def test_the_openapi_document_describes_the_route_and_its_answer() -> None:
    document = load_openapi()
    api = VerifyApi(verification(FakeStanding(), [])[0], None)
    assert {route.path for route in api.routes()} <= set(document["paths"])
    post = document["paths"]["/v1/verify"]["post"]
    assert {"200", "400", "413", "415", "503"} <= set(post["responses"])
    schemas = document["components"]["schemas"]
    view = platform_view([row(1, 2, pdf=True), row(2, 2, reason="Sửa")])
    assert set(schemas["PlatformView"]["required"]) == set(view.as_json())
    stamp = DocumentTimestampReport("ts", timestamp_report(), "ENTIRE_FILE", None, True)
    report = VerificationReport((signature_report(),), (stamp,), "B-LTA", True, None)
    data = report.to_json()
    assert set(schemas["VerificationReport"]["required"]) == set(data)
    assert set(schemas["VerifySignature"]["required"]) == set(data["signatures"][0])
    answer = Verified(report, view, "00" * 32).as_json()
    assert set(schemas["VerifyAnswer"]["required"]) == set(answer)
