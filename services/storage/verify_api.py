"""Verification of a PDF handed in (xác minh học bạ): its signatures, and the platform's view.

* ``POST /v1/verify`` — body: the PDF itself (``application/pdf`` or
  ``application/octet-stream``) or ``multipart/form-data`` with a field ``pdf``, at most
  ``HOCBA_VERIFY_MAX_BYTES`` → ``{"report": ..., "platform": ..., "pdf_sha256": ...}``.

The signatures are checked offline (:func:`services.verification.verify_pdf` with
``online=False``): revocation from the data embedded in the PDF, at its timestamps' times, so
the answer needs no outside service. Checking is CPU-bound: it runs in a worker thread, at most
``HOCBA_VERIFY_CONCURRENCY`` at once, so lookups and the Kafka pipeline of the same process
keep their event loop. The platform's view (:mod:`services.storage.standing`) is read and
audited afterwards; a database that does not answer leaves the report intact and the view
``unknown`` (reason ``unavailable``), never "invalid".

Shortest use (the web page does the same with ``channel="web"``)::

    upload = await read_upload(request, verification.max_bytes)
    outcome = await verification.verify(upload.pdf, Requester.of(request))
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from aiohttp import BodyPartReader, web
from asn1crypto import x509  # type: ignore[import-untyped]

from services.storage.access import AccessDenied, PgAccessStore, Requester, authenticate
from services.storage.answers import NO_STORE, error_response
from services.storage.errors import StorageError
from services.storage.metrics import StorageMetrics
from services.storage.standing import PlatformView, Supersession, VerifyAudit, unavailable_view
from services.verification import (
    InvalidPdf,
    TrustRootsUnreadable,
    VerificationReport,
    load_trust_roots,
    verify_pdf,
)

__all__ = [
    "NoTrustAnchors",
    "NotAPdf",
    "PdfVerification",
    "PlatformView",
    "Standing",
    "Supersession",
    "TooLarge",
    "UnsupportedMediaType",
    "Upload",
    "Verified",
    "VerifyApi",
    "VerifyOutcome",
    "read_upload",
]

_log = logging.getLogger("hocba.storage.verify")

_CHUNK: Final = 64 * 1024
#: A PDF's header is within its first 1,024 bytes (ISO 32000-1, 7.5.2, implementation note).
_HEADER_WINDOW: Final = 1024
#: Form fields besides ``pdf`` (the web form's ``lang``): kept when this short, else dropped.
_FIELD_MAX: Final = 1024
_RAW_TYPES: Final = frozenset({"application/pdf", "application/octet-stream"})
#: Room for a form's boundaries, part headers and short fields around the PDF.
_FORM_OVERHEAD: Final = 64 * 1024
#: Parts of a form read at most (the web form has two: ``pdf`` and ``lang``).
_PARTS_MAX: Final = 16


class Standing(Protocol):
    """The platform's view of a PDF, audited (:class:`services.storage.standing.PgStanding`)."""

    async def standing(
        self, pdf_sha256: bytes, content_sha256: bytes | None, audit: VerifyAudit
    ) -> PlatformView: ...


@dataclass(frozen=True, slots=True)
class Verified:
    """The PDF was read: what its signatures say, and what the platform says of it."""

    report: VerificationReport
    platform: PlatformView
    pdf_sha256: str

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.report.to_json(),
            "platform": self.platform.as_json(),
            "pdf_sha256": self.pdf_sha256,
        }


@dataclass(frozen=True, slots=True)
class NotAPdf:
    """The bytes cannot be read as a PDF (``reason`` in English, for logs and the answer)."""

    reason: str


@dataclass(frozen=True, slots=True)
class TooLarge:
    """The upload exceeds ``limit`` bytes; it was not read further."""

    limit: int


@dataclass(frozen=True, slots=True)
class NoTrustAnchors:
    """No trust anchor could be loaded: nothing can be judged (a configuration problem)."""

    reason: str


VerifyOutcome = Verified | NotAPdf | TooLarge | NoTrustAnchors


@dataclass(frozen=True, slots=True)
class UnsupportedMediaType:
    """The request body is neither a PDF nor ``multipart/form-data``."""

    content_type: str


@dataclass(frozen=True, slots=True)
class Upload:
    """What a verification request carried: the PDF (None: no field ``pdf``) and the short
    text fields of a form."""

    pdf: bytes | None
    fields: Mapping[str, str]


class PdfVerification:
    """Verifies PDFs for the JSON API and the web page (one instance per process).

    ``trust_roots``: the anchor files, loaded at the first verification and kept (the dev PKI
    may be built after the service starts; until then :class:`NoTrustAnchors`).
    """

    def __init__(
        self,
        standing: Standing,
        metrics: StorageMetrics,
        trust_roots: Sequence[Path],
        *,
        concurrency: int = 2,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self._standing = standing
        self._metrics = metrics
        self._root_paths = tuple(trust_roots)
        self._anchors: tuple[x509.Certificate, ...] | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self.max_bytes = max_bytes

    def trust_anchors(self) -> tuple[x509.Certificate, ...]:
        """The anchors, read once; raises :class:`TrustRootsUnreadable` (tried again later)."""
        if self._anchors is None:
            if not self._root_paths:
                raise TrustRootsUnreadable("no trust anchor configured (HOCBA_TRUST_ROOTS)")
            anchors = load_trust_roots(self._root_paths)
            if not anchors:
                raise TrustRootsUnreadable("the trust anchor files hold no certificate")
            self._anchors = anchors
        return self._anchors

    async def verify(self, pdf: bytes, requester: Requester) -> VerifyOutcome:
        """Check ``pdf``'s signatures offline, then read (and audit) the platform's view."""
        started = time.perf_counter()
        outcome = await self._verify(pdf, requester)
        self._metrics.verify_seconds.labels(self._metrics.service).observe(
            time.perf_counter() - started
        )
        label, platform = _labels(outcome)
        self._metrics.verifications.labels(self._metrics.service, label, platform).inc()
        return outcome

    async def _verify(self, pdf: bytes, requester: Requester) -> VerifyOutcome:
        if len(pdf) > self.max_bytes:
            return TooLarge(self.max_bytes)
        if b"%PDF-" not in pdf[:_HEADER_WINDOW]:
            return NotAPdf("no %PDF- header in the first 1024 bytes")
        try:
            anchors = self.trust_anchors()
        except TrustRootsUnreadable as exc:
            _log.error("POST /v1/verify cannot judge: %s", exc)
            return NoTrustAnchors(str(exc))
        try:
            report = await self._checked(pdf, anchors)
        except InvalidPdf as exc:
            return NotAPdf(str(exc))
        pdf_sha256 = hashlib.sha256(pdf).digest()
        embedded = report.embedded_file
        content = None if embedded is None else bytes.fromhex(embedded.sha256)
        audit = VerifyAudit(
            requester.actor,
            None if requester.client is None else requester.client.client_id,
            {**requester.audit_detail(), "report_valid": report.valid, "level": report.level},
        )
        try:
            platform = await self._standing.standing(pdf_sha256, content, audit)
        except StorageError as exc:
            _log.warning("POST /v1/verify: the platform's view is unavailable: %s", exc)
            platform = unavailable_view()
        return Verified(report, platform, pdf_sha256.hex())

    async def _checked(
        self, pdf: bytes, anchors: tuple[x509.Certificate, ...]
    ) -> VerificationReport:
        """The signature check on a worker thread, holding one of the slots until the thread
        ends (a request given up does not free its slot while its thread still works)."""
        waiting = self._metrics.verify_waiting.labels(self._metrics.service)
        waiting.inc()
        try:
            await self._slots.acquire()
        finally:
            waiting.dec()
        work = asyncio.ensure_future(asyncio.to_thread(_verify_blocking, pdf, anchors))
        work.add_done_callback(self._release)
        return await asyncio.shield(work)

    def _release(self, work: asyncio.Future[VerificationReport]) -> None:
        self._slots.release()
        if not work.cancelled():
            work.exception()  # retrieved here: a request given up leaves no unread error

    def too_large(self) -> TooLarge:
        """Count an upload refused for its size before it reached :meth:`verify`."""
        self._metrics.verifications.labels(self._metrics.service, "too_large", "none").inc()
        return TooLarge(self.max_bytes)


def _verify_blocking(pdf: bytes, anchors: tuple[x509.Certificate, ...]) -> VerificationReport:
    """The verification on a worker thread's own event loop (no network: online=False)."""
    return asyncio.run(verify_pdf(pdf, anchors, online=False))


def _labels(outcome: VerifyOutcome) -> tuple[str, str]:
    if isinstance(outcome, Verified):
        return ("valid" if outcome.report.valid else "invalid"), outcome.platform.status
    if isinstance(outcome, NotAPdf):
        return "not_a_pdf", "none"
    if isinstance(outcome, TooLarge):
        return "too_large", "none"
    return "unavailable", "none"


async def read_upload(
    request: web.Request, max_bytes: int
) -> Upload | TooLarge | UnsupportedMediaType:
    """The PDF of a verification request, read in chunks and never beyond ``max_bytes``."""
    declared = request.content_length
    content_type = request.content_type
    if content_type in _RAW_TYPES:
        if declared is not None and declared > max_bytes:
            return TooLarge(max_bytes)
        raw = await _read_limited(request.content.iter_chunked(_CHUNK), max_bytes)
        return TooLarge(max_bytes) if raw is None else Upload(raw, {})
    if content_type != "multipart/form-data":
        return UnsupportedMediaType(content_type)
    if declared is not None and declared > max_bytes + _FORM_OVERHEAD:
        return TooLarge(max_bytes)
    pdf: bytes | None = None
    fields: dict[str, str] = {}
    reader = await request.multipart()
    for _ in range(_PARTS_MAX):
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: no browser sends one for a file field
        if part.name == "pdf" and pdf is None:
            pdf = await _read_limited(_chunks(part), max_bytes)
            if pdf is None:
                return TooLarge(max_bytes)
        else:
            value = await _read_limited(_chunks(part), _FIELD_MAX)
            if value is not None and part.name and part.filename is None:
                fields[part.name] = value.decode("utf-8", "replace")
    return Upload(pdf, fields)


async def _chunks(part: BodyPartReader) -> Any:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _read_limited(chunks: Any, limit: int) -> bytes | None:
    """Every chunk joined, or None as soon as more than ``limit`` bytes came (the rest
    unread: aiohttp closes the connection rather than drain it)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


class VerifyApi:
    """The route of the JSON verification API; mounted in the :class:`ServiceShell`."""

    def __init__(self, verification: PdfVerification, access: PgAccessStore | None) -> None:
        self._verification = verification
        self._access = access

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.post("/v1/verify", self.post_verify)]

    async def _client(self, request: web.Request) -> Requester:
        """The requester; a bearer token, when sent, names the client in the audit row."""
        client = None
        if self._access is not None and request.headers.get("Authorization"):
            try:
                client = await authenticate(request, self._access)
            except StorageError:
                # Verification is open to anyone: a token only names who asks, and a
                # database that does not answer must not stop the signature check.
                client = None
        return Requester.of(request, client, "api")

    async def post_verify(self, request: web.Request) -> web.Response:
        """``POST /v1/verify``: 200 with the report and the platform's view; 400/413/415/503."""
        try:
            requester = await self._client(request)
        except AccessDenied as denied:
            return denied.response()
        limit = self._verification.max_bytes
        upload = await read_upload(request, limit)
        if isinstance(upload, UnsupportedMediaType):
            return error_response(
                415,
                "E_VERIFY_MEDIA_TYPE",
                "Gửi chính tệp PDF (application/pdf) hoặc biểu mẫu multipart/form-data có "
                "trường pdf.",
                "Send the PDF itself (application/pdf) or multipart/form-data with a field pdf.",
            )
        if isinstance(upload, TooLarge):
            return _answer(self._verification.too_large())
        if not upload.pdf:  # no field pdf, or a form sent without choosing a file
            return error_response(
                400,
                "E_VERIFY_PDF_MISSING",
                "Biểu mẫu không có trường pdf chứa tệp học bạ.",
                "The form has no field pdf holding the record file.",
            )
        return _answer(await self._verification.verify(upload.pdf, requester))


def _answer(outcome: VerifyOutcome) -> web.Response:
    """The JSON answer of an outcome (the web page renders its own HTML)."""
    if isinstance(outcome, Verified):
        return web.json_response(outcome.as_json(), headers=NO_STORE)
    if isinstance(outcome, NotAPdf):
        return error_response(
            400,
            "E_VERIFY_NOT_A_PDF",
            "Tệp gửi lên không phải là tệp PDF đọc được (hoặc tệp đã bị hỏng).",
            f"The file is not a readable PDF (or it is damaged): {outcome.reason}.",
        )
    if isinstance(outcome, TooLarge):
        mib = outcome.limit / (1024 * 1024)
        return error_response(
            413,
            "E_VERIFY_TOO_LARGE",
            f"Tệp quá lớn: tối đa {mib:g} MiB.",
            f"The file is too large: at most {mib:g} MiB.",
        )
    return error_response(
        503,
        "E_VERIFY_UNAVAILABLE",
        "Chức năng xác minh tạm thời chưa sẵn sàng; vui lòng thử lại sau.",
        "Verification is not available right now; please retry later.",
    )
