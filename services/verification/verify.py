"""Verification of a signed record page (xác minh học bạ số), offline first.

``await verify_pdf(pdf, trust_roots, online=False)`` returns a
:class:`~services.verification.report.VerificationReport`: for each signature its field, signer,
certificate SHA-256, integrity, the trust anchor its chain ends at, revocation status (good /
revoked / unknown), timestamp time and TSA, coverage and modification level; the document
timestamps (PAdES B-LTA); whether the school seal's lock holds; the SHA-256 of the embedded
``hoc-ba.json``.

Revocation is decided from the data embedded in the PDF (DSS), at the time of the signature's
timestamp — a record verifies with no network. With ``online=True`` a status the embedded data
leaves unknown is asked of the OCSP responder / CRL named in the certificate; a service that does
not answer leaves it "unknown", never "invalid" (a verifier must not condemn a record because a
server is down). Whether the platform still holds the page as its current version is not a
question for this library: the storage service answers it (``POST /v1/verify``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from io import BytesIO
from typing import Any, Literal

import aiohttp
from asn1crypto import x509  # type: ignore[import-untyped]
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathBuildingError,
    PathValidationError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from services.verification.errors import InvalidPdf
from services.verification.report import (
    EMBEDDED_RECORD_NAME,
    DocumentTimestampReport,
    EmbeddedFileReport,
    Level,
    Revocation,
    SignatureReport,
    TimestampReport,
    VerificationReport,
)
from services.verification.speedups import install as _install_speedups
from services.verification.timestamps import timestamp_time, timestamp_token

_install_speedups()

__all__ = ["verify_pdf"]

_UNKNOWN_INDICATIONS = {
    AdESIndeterminate.TRY_LATER,
    AdESIndeterminate.NO_POE,
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
}
_REVOKED_INDICATIONS = {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}


def _name_of(cert: x509.Certificate) -> str:
    native = cert.subject.native
    return str(native.get("common_name") or native.get("organization_name") or "?")


def _timestamp_report(status: Any, revinfo_gap: bool = False) -> TimestampReport | None:
    """``revinfo_gap``: the chain is sound and only revocation data is missing (checked apart)."""
    if status is None:
        return None
    revocation: Revocation
    if status.trusted:
        revocation = "good"
    elif status.revoked or status.trust_problem_indic in _REVOKED_INDICATIONS:
        revocation = "revoked"
    else:
        revocation = "unknown"
    chain_ok = bool(status.trusted) or (
        revocation == "unknown"
        and (status.trust_problem_indic in _UNKNOWN_INDICATIONS or revinfo_gap)
        and status.validation_path is not None
    )
    return TimestampReport(
        time=status.timestamp,
        authority=_name_of(status.signing_cert),
        intact=bool(status.intact and status.valid),
        trusted=chain_ok,
        revocation=revocation,
    )


def _anchor(status: Any) -> str | None:
    if not status.trusted or status.validation_path is None:
        return None
    try:
        return str(status.validation_path.trust_anchor.authority.name.human_friendly)
    except (AttributeError, ValueError):
        return None


def _revocation(status: PdfSignatureStatus) -> Revocation:
    if status.revoked:
        return "revoked"
    if status.trusted:
        return "good"
    indication = status.trust_problem_indic
    if indication in _REVOKED_INDICATIONS:
        return "revoked"
    return "unknown"


def _modification(status: PdfSignatureStatus | DocumentTimestampStatus) -> tuple[str, str | None]:
    coverage = status.coverage.name if status.coverage is not None else "UNKNOWN"
    level = status.modification_level
    return coverage, (level.name if level is not None else None)


def _read(pdf: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        _ = reader.root
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    return reader


def _embedded_file(reader: PdfFileReader, expected_sha256: str | None) -> EmbeddedFileReport | None:
    try:
        return _embedded_record(reader, expected_sha256)
    except (PdfError, ValueError, TypeError, IndexError, AttributeError) as exc:
        # A damaged name tree or file stream (found by fuzzing uploads): a broken file.
        raise InvalidPdf(f"cannot read the embedded {EMBEDDED_RECORD_NAME}: {exc}") from exc


def _embedded_record(
    reader: PdfFileReader, expected_sha256: str | None
) -> EmbeddedFileReport | None:
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for index in range(0, len(names) - 1, 2):
        if str(names[index]) != EMBEDDED_RECORD_NAME:
            continue
        spec = names[index + 1].get_object()
        stream = spec["/EF"]["/F"].get_object()
        if not isinstance(stream, generic.StreamObject):
            return None
        digest = hashlib.sha256(stream.data).hexdigest()
        expected = expected_sha256.lower() if expected_sha256 else None
        return EmbeddedFileReport(
            EMBEDDED_RECORD_NAME, digest, expected, None if expected is None else expected == digest
        )
    return None


class _Verifier:
    def __init__(self, reader: PdfFileReader, trust_roots: list[x509.Certificate]) -> None:
        self.reader = reader
        self.trust_roots = trust_roots
        try:
            self.dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            self.dss = None
        except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            # A damaged store (found by fuzzing uploads): the file is broken, not a verdict.
            raise InvalidPdf(f"cannot read the document security store: {exc}") from exc

    def offline_context(self, moment: datetime | None) -> ValidationContext:
        """Embedded data only, validated at ``moment`` (the signature's timestamp)."""
        kwargs: dict[str, Any] = {
            "trust_roots": self.trust_roots,
            "allow_fetching": False,
            "revocation_mode": "hard-fail",
            "moment": moment,
            "crls": [],
            "ocsps": [],
        }
        if self.dss is None:
            return ValidationContext(**kwargs)
        return self.dss.as_validation_context(kwargs)

    async def signature(
        self, sig: EmbeddedPdfSignature, online: bool, backend: AIOHttpFetcherBackend | None
    ) -> SignatureReport:
        moment = timestamp_time(sig.signer_info)
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=self.offline_context(moment),
            ts_validation_context=self.offline_context(moment),
        )
        revocation = _revocation(status)
        source: Literal["embedded", "online"] | None = (
            "embedded" if revocation != "unknown" else None
        )
        anchor = _anchor(status)
        problems: list[str] = []
        if revocation == "unknown" and online and backend is not None:
            online_status = await _online_check(sig, self.trust_roots, backend, problems)
            if online_status is not None:
                revocation = _revocation(online_status)
                if revocation != "unknown":
                    source = "online"
                    anchor = anchor or _anchor(online_status)
        cert = status.signing_cert
        if (
            anchor is None
            and revocation == "unknown"
            and status.validation_path is not None
            and await _only_revinfo_missing(
                cert, _cms_certs(sig.signed_data), self.offline_context(moment)
            )
        ):
            # The chain reaches an anchor; only revocation data is missing: name the anchor.
            anchor = _path_anchor(status)
        ts_status = status.timestamp_validity
        ts_gap = False
        tst = timestamp_token(sig.signer_info)
        if ts_status is not None and not ts_status.trusted and tst is not None:
            ts_gap = await _only_revinfo_missing(
                ts_status.signing_cert, _cms_certs(tst), self.offline_context(moment)
            )
        coverage, level = _modification(status)
        return SignatureReport(
            field_name=str(sig.field_name),
            signer_subject=cert.subject.human_friendly,
            signer_name=_name_of(cert),
            certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
            intact=bool(status.intact and status.valid),
            trust_anchor=anchor,
            revocation=revocation,
            revocation_source=source,
            timestamp=_timestamp_report(ts_status, ts_gap),
            coverage=coverage,
            modification_level=level,
            lock_holds=bool(status.docmdp_ok),
            problems=tuple(problems),
        )

    async def document_timestamp(self, sig: EmbeddedPdfSignature) -> DocumentTimestampReport:
        status = await async_validate_pdf_timestamp(
            sig, validation_context=self.offline_context(None)
        )
        coverage, level = _modification(status)
        gap = not status.trusted and await _only_revinfo_missing(
            status.signing_cert, _cms_certs(sig.signed_data), self.offline_context(None)
        )
        report = _timestamp_report(status, gap)
        assert report is not None
        # pyhanko leaves docmdp_ok unset for document timestamps: after one, only signature
        # maintenance (DSS, further document timestamps) is acceptable.
        modification = status.modification_level
        holds = (
            status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            if modification is None
            else modification.value <= ModificationLevel.LTA_UPDATES.value
        )
        return DocumentTimestampReport(
            field_name=str(sig.field_name),
            timestamp=report,
            coverage=coverage,
            modification_level=level,
            lock_holds=holds,
        )


async def _only_revinfo_missing(
    cert: x509.Certificate, others: list[x509.Certificate], context: ValidationContext
) -> bool:
    """Whether ``cert``'s chain fails only for want of revocation data (→ "unknown").

    pyhanko reports that case with the same AdES indication as a broken chain
    (CERTIFICATE_CHAIN_GENERAL_FAILURE), so the path is validated again here to tell them apart.
    """
    validator = CertificateValidator(cert, intermediate_certs=others, validation_context=context)
    try:
        await validator.async_validate_path()
    except InsufficientRevinfoError:
        return True
    except (PathBuildingError, PathValidationError, ValidationError):
        return False
    return False


def _cms_certs(signed_data: Any) -> list[x509.Certificate]:
    return [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]


def _path_anchor(status: PdfSignatureStatus) -> str | None:
    path = status.validation_path
    try:
        return str(path.trust_anchor.authority.name.human_friendly) if path else None
    except (AttributeError, ValueError):
        return None


async def _online_check(
    sig: EmbeddedPdfSignature,
    trust_roots: list[x509.Certificate],
    backend: AIOHttpFetcherBackend,
    problems: list[str],
) -> PdfSignatureStatus | None:
    """Ask the certificate's OCSP/CRL services now; None (and a note) if they do not answer."""
    context = ValidationContext(
        trust_roots=trust_roots,
        allow_fetching=True,
        revocation_mode="hard-fail",
        fetchers=backend.get_fetchers(),
    )
    try:
        status = await async_validate_pdf_signature(
            sig, signer_validation_context=context, skip_diff=True
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        problems.append(f"online revocation check failed: {exc}")
        return None
    if status.trust_problem_indic in _UNKNOWN_INDICATIONS:
        problems.append("online revocation services did not answer")
    return status


def _level(
    signatures: tuple[SignatureReport, ...],
    timestamps: tuple[DocumentTimestampReport, ...],
    has_dss: bool,
    last_is_doc_ts: bool,
) -> Level:
    if not signatures:
        return "none"
    if not all(s.timestamp is not None for s in signatures):
        return "B-B"
    if not has_dss:
        return "B-T"
    return "B-LTA" if timestamps and last_is_doc_ts else "B-LT"


async def verify_pdf(
    pdf: bytes,
    trust_roots: Iterable[x509.Certificate],
    *,
    online: bool,
    expected_record_sha256: str | None = None,
    seal_field: str = "school_seal",
) -> VerificationReport:
    """Verify every signature and document timestamp of ``pdf`` against ``trust_roots``.

    ``expected_record_sha256``: the SHA-256 printed on the page or given by the caller, compared
    with the embedded ``hoc-ba.json``. Raises :class:`InvalidPdf` for bytes that are not a PDF.
    """
    reader = _read(pdf)
    verifier = _Verifier(reader, list(trust_roots))
    try:
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"cannot read the signatures: {exc}") from exc
    signatures: list[SignatureReport] = []
    timestamps: list[DocumentTimestampReport] = []
    problems: list[str] = []
    backend = AIOHttpFetcherBackend(per_request_timeout=5) if online else None
    try:
        for sig in embedded:
            try:
                if sig.sig_object_type == "/DocTimeStamp":
                    timestamps.append(await verifier.document_timestamp(sig))
                else:
                    signatures.append(await verifier.signature(sig, online, backend))
            # TypeError/AttributeError/IndexError: pyhanko on some damaged signature
            # dictionaries (found by fuzzing uploads); the signature is reported unverifiable.
            except (
                SignatureValidationError,
                PdfError,
                ValueError,
                KeyError,
                TypeError,
                AttributeError,
                IndexError,
            ) as exc:
                problems.append(f"{sig.field_name}: cannot be validated: {exc}")
    finally:
        if backend is not None:
            await backend.close()  # type: ignore[no-untyped-call]  # unannotated in certvalidator
    seal = next((s for s in signatures if s.field_name == seal_field), None)
    embedded_file = _embedded_file(reader, expected_record_sha256)
    sig_tuple, ts_tuple = tuple(signatures), tuple(timestamps)
    return VerificationReport(
        signatures=sig_tuple,
        document_timestamps=ts_tuple,
        level=_level(
            sig_tuple,
            ts_tuple,
            verifier.dss is not None,
            bool(embedded) and embedded[-1].sig_object_type == "/DocTimeStamp",
        ),
        seal_lock_holds=None if seal is None else seal.lock_holds,
        embedded_file=embedded_file,
        problems=tuple(problems),
    )
