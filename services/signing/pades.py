"""PAdES signing of a record page (ký PAdES): B-T, B-LT per signature, B-LTA at the end.

Shortest use (inside an event loop; pyhanko's synchronous API fails there)::

    services = SigningServices.create(tsa_url, trust_roots=[root_pem])
    pdf = await sign_field(pdf, "homeroom_teacher", signer, services,
                           reason="Xác nhận kết quả học tập", appearance_text="Giáo viên chủ nhiệm")
    ...  # principal, school_seal
    pdf = await add_archive_timestamp(pdf, services)
    await services.close()

Every signature goes into a field created when the page was rendered (with its FieldMDP lock),
through an incremental update; it carries an RFC 3161 timestamp (B-T) and its certificates' OCSP
responses and CRLs go into the document security store (B-LT). After signing, every earlier
signature is checked again — digest, coverage, modifications against its lock — and the new PDF is
refused with :class:`EarlierSignatureBroken` if one no longer holds (the failure users of other
tools met when a later signature silently broke an earlier one).

Performance notes (measured, see the package README in the report): the signer keeps its key
parsed (``backends``), the stamp font is prepared once (``appearance``), OCSP/CRL fetches are
shared by all signatures of a process for ``revinfo_max_age`` seconds, and the re-check of
earlier signatures skips certificate path validation (their certificates did not change; only the
bytes after them did).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import aiohttp
from asn1crypto import cms, x509  # type: ignore[import-untyped]
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.general import load_certs_from_pemder
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

from services.signing.appearance import DEFAULT_FONT, stamp_text_params, vietnamese_stamp_style
from services.signing.errors import (
    EarlierSignatureBroken,
    FieldAlreadySigned,
    InvalidPdf,
    RevocationInfoUnavailable,
    SignerCertificateRejected,
    SignerCertificateRevoked,
    SignerUnavailable,
    SigningError,
    TimestampUnavailable,
    UnknownSignatureField,
)
from services.signing.revinfo import RevocationCache
from services.signing.speedups import install as _install_speedups

_install_speedups()

__all__ = [
    "CheckedSignatures",
    "SigningServices",
    "add_archive_timestamp",
    "check_earlier_signatures",
    "load_trust_roots",
    "sign_field",
]

_MD = "sha256"


def load_trust_roots(paths: Iterable[Path]) -> tuple[x509.Certificate, ...]:
    """Read trust anchors (PEM or DER files, several certificates a file allowed), once."""
    try:
        return tuple(load_certs_from_pemder([str(p) for p in paths]))  # type: ignore[no-untyped-call]  # unannotated in pyhanko
    except (OSError, ValueError) as exc:
        raise SigningError(f"cannot read trust anchors: {exc}") from exc


@dataclass(frozen=True)
class SigningServices:
    """What every signature needs besides the signer: TSA, trust anchors, revocation fetching.

    Build once per process (``create``) and share; call :meth:`close` at shutdown. A fresh
    :class:`ValidationContext` is made per signature by :meth:`validation_context` (its
    validation time is "now" at construction, so a long-lived one would go stale), all sharing
    one :class:`RevocationCache`.
    """

    timestamper: HTTPTimeStamper
    trust_roots: tuple[x509.Certificate, ...]
    stamp_style: TextStampStyle
    revocation_cache: RevocationCache = field(repr=False)
    #: Signature container size (hex digits) per signer certificate, learnt from its first
    #: signature: pyhanko otherwise builds a complete dummy signature before every real one
    #: just to size the placeholder (≈ 15 % of signing time).
    reserved_sizes: dict[bytes, int] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        tsa_url: str,
        trust_roots: Iterable[Path | x509.Certificate],
        *,
        font_path: Path = DEFAULT_FONT,
        timeout_seconds: float = 10.0,
        revinfo_max_age_seconds: float = 300.0,
        session: aiohttp.ClientSession | None = None,
    ) -> SigningServices:
        """Services for a TSA URL and trust anchors (PEM/DER paths or parsed certificates).

        ``session``: an aiohttp session to reuse for TSA and OCSP/CRL requests (one per event
        loop); by default a lazily created session that :meth:`close` closes.
        """
        roots: list[x509.Certificate] = []
        paths: list[Path] = []
        for item in trust_roots:
            if isinstance(item, x509.Certificate):
                roots.append(item)
            else:
                paths.append(item)
        roots.extend(load_trust_roots(paths))
        if not roots:
            raise SigningError("at least one trust anchor is required")
        shared: aiohttp.ClientSession | LazySession = session or LazySession()  # type: ignore[no-untyped-call]  # unannotated in pyhanko
        return cls(
            timestamper=HTTPTimeStamper(tsa_url, timeout=timeout_seconds, session=shared),
            trust_roots=tuple(roots),
            stamp_style=vietnamese_stamp_style(font_path),
            revocation_cache=RevocationCache(shared, revinfo_max_age_seconds, timeout_seconds),
        )

    def validation_context(self) -> ValidationContext:
        """A validation context for one signature: trust anchors, fetching on, hard-fail.

        Hard-fail: a certificate that names an OCSP responder or CRL that cannot be reached does
        not validate, because a B-LT signature without its revocation data is not one.
        """
        return ValidationContext(
            trust_roots=list(self.trust_roots),
            allow_fetching=True,
            fetchers=self.revocation_cache.fetchers(),
            revocation_mode="hard-fail",
        )

    async def close(self) -> None:
        """Close the HTTP session of the fetchers and the timestamper (if created here)."""
        session = self.revocation_cache.session
        if isinstance(session, LazySession):
            await session.close()  # type: ignore[no-untyped-call]  # unannotated in pyhanko


def _reader(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"not a PDF that can take an incremental update: {exc}") from exc


def _check_field(writer: BasePdfFileWriter, field_name: str) -> fields.MDPPerm | None:
    """Check the field exists and is empty; return the DocMDP level its /Lock asks for (/P)."""
    try:
        found = list(fields.enumerate_sig_fields(writer, with_name=field_name))
    except (PdfError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"cannot read the form fields: {exc}") from exc
    if not found:
        raise UnknownSignatureField(
            f"no signature field {field_name!r}; fields are created when the page is rendered"
        )
    _name, value, ref = found[0]
    if value is not None:
        raise FieldAlreadySigned(f"signature field {field_name!r} is already signed")
    try:
        return fields.MDPPerm(ref.get_object()["/Lock"]["/P"])
    except (KeyError, ValueError, TypeError):
        return None


#: What pyhanko, its certificate validator, the TSA client and aiohttp raise while signing or
#: timestamping: each is translated by :func:`_translate` into a SigningError subclass.
_SIGNING_STACK_ERRORS = (
    PyhankoSigningError,
    ValidationError,
    PathBuildingError,
    TimestampRequestError,
    aiohttp.ClientError,
    TimeoutError,
    PdfError,
    ValueError,
    KeyError,
)


def _translate(exc: BaseException, what: str) -> SigningError:
    """One pyhanko/certvalidator/network error as the package's precise error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, SigningError):
            return cause
        if isinstance(cause, RevokedError):
            return SignerCertificateRevoked(f"{what}: certificate revoked: {cause}")
        if isinstance(cause, InsufficientRevinfoError):
            return RevocationInfoUnavailable(f"{what}: no usable OCSP/CRL data: {cause}")
        if isinstance(cause, PathBuildingError):
            return SignerCertificateRejected(f"{what}: no path to a trust anchor: {cause}")
        if isinstance(cause, PathValidationError | ValidationError):
            return SignerCertificateRejected(f"{what}: certificate not valid: {cause}")
        if isinstance(cause, TimestampRequestError | aiohttp.ClientError | TimeoutError):
            return TimestampUnavailable(f"{what}: time stamping failed: {cause}")
        cause = cause.__cause__ or cause.__context__
    return SignerUnavailable(f"{what}: {type(exc).__name__}: {exc}")


async def sign_field(
    pdf: bytes,
    field_name: str,
    signer: signers.Signer,
    services: SigningServices,
    *,
    reason: str,
    location: str | None = None,
    appearance_text: str,
    signer_name: str | None = None,
) -> bytes:
    """Sign the empty field ``field_name`` of ``pdf``: PAdES B-T + B-LT, incremental, visible.

    ``appearance_text`` is the first line of the stamp (the role, e.g. "Giáo viên chủ nhiệm");
    the stamp also shows the signer's name (certificate CN unless ``signer_name``) and the
    signing time. Raises a :class:`SigningError` subclass; never returns a PDF in which an
    earlier signature no longer holds.
    """
    writer = _writer(pdf)
    lock_level = _check_field(writer, field_name)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=_MD,
        reason=reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=services.validation_context(),
        use_pades_lta=False,
        # The seal's lock says /P 1: ask for exactly that (pyhanko warns and downgrades otherwise).
        docmdp_permissions=lock_level or fields.MDPPerm.FILL_FORMS,
        # Revocation data goes into the signature's own revision (no VRI: deprecated in PAdES,
        # and it would force a separate revision): one revision per signature, not two, which
        # halves what every later signature and every verification has to diff.
        dss_settings=DSSContentSettings(
            include_vri=False, placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE
        ),
    )
    pdf_signer = signers.PdfSigner(
        meta, signer, timestamper=services.timestamper, stamp_style=services.stamp_style
    )
    cert = signer.signing_cert
    size_key = cert.sha256 if cert is not None else b""
    try:
        out = await pdf_signer.async_sign_pdf(
            writer,
            existing_fields_only=True,
            bytes_reserved=services.reserved_sizes.get(size_key),
            appearance_text_params=stamp_text_params(appearance_text, signer_name),
        )
    except _SIGNING_STACK_ERRORS as exc:
        raise _translate(exc, f"signing {field_name!r}") from exc
    signed = bytes(out.getbuffer())
    newest = check_earlier_signatures(signed, exclude_last=1)
    if size_key and size_key not in services.reserved_sizes:
        services.reserved_sizes[size_key] = newest.reserved_hex_digits
    return signed


async def add_archive_timestamp(pdf: bytes, services: SigningServices) -> bytes:
    """Append a document timestamp after the last signature, with the TSA's validation data.

    This is PAdES B-LTA: the timestamp protects all signatures and the DSS below it, and can be
    renewed by another document timestamp before its TSA certificate expires.
    """
    writer = _writer(pdf)
    stamper = signers.PdfTimeStamper(services.timestamper)
    try:
        out = await stamper.async_timestamp_pdf(
            writer, _MD, validation_context=services.validation_context()
        )
    except _SIGNING_STACK_ERRORS as exc:
        raise _translate(exc, "document timestamp") from exc
    stamped = bytes(out.getbuffer())
    check_earlier_signatures(stamped, exclude_last=1)
    return stamped


def _claimed_digest(embedded: EmbeddedPdfSignature) -> bytes | None:
    """The document digest the signature (or document timestamp) vouches for."""
    signed_data = embedded.signed_data
    content = signed_data["encap_content_info"]
    if content["content_type"].native == "tst_info":
        tst_info = content["content"].parsed
        digest: bytes = tst_info["message_imprint"]["hashed_message"].native
        return digest
    signer_info: cms.SignerInfo = embedded.signer_info
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].native == "message_digest":
            value: bytes = attribute["values"][0].native
            return value
    return None


@dataclass(frozen=True)
class CheckedSignatures:
    """What :func:`check_earlier_signatures` found: how many held, and the newest's placeholder."""

    checked: int
    #: Hex digits reserved for the newest signature's /Contents (its size estimate, margin incl.).
    reserved_hex_digits: int


def check_earlier_signatures(pdf: bytes, *, exclude_last: int = 0) -> CheckedSignatures:
    """Check that every signature and document timestamp still holds.

    For each one (except the newest ``exclude_last``): the digest of its byte range equals the
    digest it signed, it covers its whole revision, and the revisions after it stay within its
    lock (FieldMDP/DocMDP). Certificates are not re-validated: later updates cannot change them.
    Raises :class:`EarlierSignatureBroken` naming the first signature that fails.
    """
    reader = _reader(pdf)
    try:
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"cannot read the signatures: {exc}") from exc
    to_check: Sequence[EmbeddedPdfSignature] = (
        embedded[: len(embedded) - exclude_last] if exclude_last else embedded
    )
    for sig in to_check:
        name = str(sig.field_name)
        try:
            sig.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # type: ignore[no-untyped-call]  # unannotated in pyhanko
            status = sig.summarise_integrity_info()
            digest = sig.compute_digest()
        except (SignatureValidationError, PdfError, ValueError, KeyError) as exc:
            raise EarlierSignatureBroken(name, f"cannot be evaluated: {exc}") from exc
        if _claimed_digest(sig) != digest:
            raise EarlierSignatureBroken(name, "the signed bytes changed (digest mismatch)")
        if status["docmdp_ok"] is not True:
            level = getattr(status["diff_result"], "modification_level", None)
            raise EarlierSignatureBroken(
                name,
                f"later changes are not allowed by its lock (coverage {status['coverage'].name}, "
                f"modification level {getattr(level, 'name', 'suspicious')})",
            )
    reserved = 0
    if embedded:
        _, first_len, second_start, _ = embedded[-1].byte_range
        reserved = int(second_start) - int(first_len) - 2
    return CheckedSignatures(len(to_check), reserved)
