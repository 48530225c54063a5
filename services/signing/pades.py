"""PAdES signing of a record page (ký PAdES): B-T, B-LT per signature, B-LTA at the end.

Shortest use (inside an event loop)::

    services = SigningServices.create(tsa_url, trust_roots=[root_pem])
    signed = await sign_field(pdf, "homeroom_teacher", signer, services,
                              reason="Xác nhận kết quả học tập",
                              appearance_text="Giáo viên chủ nhiệm")
    ...  # principal, school_seal: sign_field(signed.pdf, ...)
    pdf = await add_archive_timestamp(signed.pdf, services)
    await services.close()

Every signature goes into a field created when the page was rendered (with its FieldMDP lock),
through one incremental update (:mod:`services.signing.pdfupdate`) holding: the signature
dictionary with the lock's FieldMDP reference, the visible stamp (:mod:`.appearance`), the
CAdES container with its RFC 3161 timestamp (B-T, :mod:`.cades`), and in the document security
store the certificates, OCSP responses and CRLs that showed the signer's and the TSA's
certificates valid (B-LT). The signer's certificate is validated (path to a trust anchor,
revocation hard-fail) before it signs; that result and its data are shared for
``revinfo_max_age`` seconds per certificate. A page handed in is checked first
(:func:`~services.signing.pdfupdate.check_revisions`): every earlier signature must still hold,
or :class:`EarlierSignatureBroken` names it.

:func:`check_earlier_signatures` is the same check done by pyhanko's full difference analysis —
independent of this module's writer, and what the tests and ``hocba verify`` hold its output to.

Performance (``tests/perf/bench_signing.py``): pyhanko's general signer spent most of a
signature re-reading and re-writing the document, re-checking earlier signatures with its
difference analysis, re-subsetting the stamp font and building a dummy signature to size the
placeholder; this module writes only the bytes a signature adds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from asn1crypto import x509  # type: ignore[import-untyped]
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

from services.signing.appearance import DEFAULT_FONT, prepared_stamp
from services.signing.cades import build_signature_container, request_timestamp, timestamp_of
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
from services.signing.facts import SignatureFacts
from services.signing.pdfupdate import (
    Entries,
    PageOutline,
    PreparedUpdate,
    check_revisions,
    claimed_digest,
    dictionary,
    fill,
    open_document,
    outline_of,
    ref,
    signed_digest,
    text,
    updated,
)
from services.signing.revinfo import RevocationCache, ValidationData
from services.verification import VerificationError, load_trust_roots
from services.verification.speedups import install as _install_speedups

_install_speedups()

__all__ = [
    "CheckedSignatures",
    "SignedField",
    "SigningServices",
    "add_archive_timestamp",
    "check_earlier_signatures",
    "sign_field",
]

_MD = "sha256"
#: The signing step of a revision: SHA-256 of its byte range -> the container's DER.
_Sign = Callable[[bytes], Awaitable[bytes]]
#: Room for a signature container before the TSA's token size is known (grown when needed).
_FIRST_TOKEN_ALLOWANCE = 8192
_MARGIN = 1024
_REMEMBERED_PAGES = 4096


@dataclass
class SigningServices:
    """What every signature needs besides the signer: TSA, trust anchors, revocation fetching.

    Build once per process (``create``) and share; call :meth:`close` at shutdown.
    """

    timestamper: HTTPTimeStamper
    trust_roots: tuple[x509.Certificate, ...]
    font_path: Path
    revocation_cache: RevocationCache = field(repr=False)
    #: The largest RFC 3161 token seen (bytes): sizes the next placeholders.
    token_allowance: int = _FIRST_TOKEN_ALLOWANCE
    #: Outlines of the pages this process signed last, by the page's SHA-256. Each was made
    #: here from a checked page: handed back for the next signature, it is neither parsed nor
    #: checked again.
    _produced: OrderedDict[bytes, PageOutline] = field(default_factory=OrderedDict, repr=False)

    def outline(self, pdf: bytes) -> PageOutline:
        """The outline of a page handed in: remembered if made here, else parsed and checked
        (every earlier signature must hold: :class:`EarlierSignatureBroken` otherwise)."""
        known = self._produced.get(hashlib.sha256(pdf).digest())
        if known is not None:
            return known
        document = open_document(pdf)
        check_revisions(document)
        return outline_of(document)

    def produced(self, pdf: bytes, outline: PageOutline) -> bytes:
        """Remember the outline of ``pdf``, made here (the last 4,096 pages); return ``pdf``."""
        self._produced[hashlib.sha256(pdf).digest()] = outline
        while len(self._produced) > _REMEMBERED_PAGES:
            self._produced.popitem(last=False)
        return pdf

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
        try:
            roots.extend(load_trust_roots(paths))
        except VerificationError as exc:
            raise SigningError(str(exc)) from exc
        if not roots:
            raise SigningError("at least one trust anchor is required")
        shared: aiohttp.ClientSession | LazySession = session or LazySession()  # type: ignore[no-untyped-call]  # unannotated in pyhanko
        return cls(
            timestamper=HTTPTimeStamper(tsa_url, timeout=timeout_seconds, session=shared),
            trust_roots=tuple(roots),
            font_path=font_path,
            revocation_cache=RevocationCache(shared, revinfo_max_age_seconds, timeout_seconds),
        )

    async def validation_data(
        self, cert: x509.Certificate, others: Iterable[x509.Certificate], *, tsa: bool = False
    ) -> ValidationData:
        """Validate a signer's (or with ``tsa`` the TSA's) certificate; its B-LT data."""
        return await self.revocation_cache.validation_data(
            cert,
            others,
            self.trust_roots,
            extended_usage=frozenset({"time_stamping"}) if tsa else frozenset(),
        )

    async def close(self) -> None:
        """Close the HTTP session of the fetchers and the timestamper (if created here)."""
        session = self.revocation_cache.session
        if isinstance(session, LazySession):
            await session.close()  # type: ignore[no-untyped-call]  # unannotated in pyhanko


#: What pyhanko's parts, its certificate validator, the TSA client and aiohttp raise while
#: signing or timestamping: each is translated by :func:`_translate` into a SigningError.
_SIGNING_STACK_ERRORS = (
    PyhankoSigningError,
    ValidationError,
    PathBuildingError,
    TimestampRequestError,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
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
        if isinstance(cause, TimestampRequestError | aiohttp.ClientError | TimeoutError | OSError):
            return TimestampUnavailable(f"{what}: time stamping failed: {cause}")
        cause = cause.__cause__ or cause.__context__
    return SignerUnavailable(f"{what}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class SignedField:
    """A page with one more signature, and what that signature says about itself."""

    pdf: bytes
    facts: SignatureFacts


def _pdf_date(when: dt.datetime) -> bytes:
    return text(when.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%SZ"))


def _field_mdp_reference(outline: PageOutline, lock: Entries) -> bytes:
    """The signature's ``/Reference``: a FieldMDP transform with the field's lock (ISO 32000-2
    § 12.8.2.4); a lock with ``/P`` carries it, as PDF 2.0 says."""
    params = {"/Type": b"/TransformParams", "/V": b"/1.2"}
    params.update({k: lock[k] for k in ("/Action", "/Fields", "/P") if k in lock})
    transform = {
        "/Type": b"/SigRef",
        "/TransformMethod": b"/FieldMDP",
        "/Data": ref(outline.root),
        "/TransformParams": dictionary(params),
    }
    return b"[" + dictionary(transform) + b"]"


def _appended(array: bytes, number: int) -> bytes:
    """An array of references (PDF syntax) with a reference to ``number`` added at the end."""
    inner = array.strip()
    if not (inner.startswith(b"[") and inner.endswith(b"]")):
        raise InvalidPdf("expected a direct array of references")
    return inner[:-1].rstrip() + b" " + ref(number) + b"]"


def _add_validation_data(
    update: PreparedUpdate, outline: PageOutline, data: Sequence[ValidationData]
) -> dict[str, Any]:
    """Merge ``data`` into the document security store (one new version of the DSS); the
    outline's fields that changed."""
    dss = dict(outline.dss[1]) if outline.dss is not None else {}
    content = set(outline.dss_content)
    added = False
    for key, kind in (("/Certs", "certs"), ("/OCSPs", "ocsps"), ("/CRLs", "crls")):
        for bundle in data:
            for der in getattr(bundle, kind):
                digest = hashlib.sha256(der).digest()
                if digest in content:
                    continue
                content.add(digest)
                number = update.allocate()
                update.put_stream(number, der)
                dss[key] = _appended(dss.get(key, b"[]"), number)
                added = True
    if not added:
        return {}
    changed: dict[str, Any] = {"dss_content": frozenset(content)}
    if outline.dss is not None:
        update.put(outline.dss[0], dictionary(dss))
        changed["dss"] = (outline.dss[0], dss)
        return changed
    number = update.allocate()
    update.put(number, dictionary(dss))
    catalog = updated(outline.catalog, {"/DSS": ref(number)})
    if "/Extensions" not in catalog:
        catalog["/Extensions"] = (
            b"<< /ESIC << /Type /DeveloperExtensions /BaseVersion /1.7 /ExtensionLevel 1 >> >>"
        )
    update.put(outline.root, dictionary(catalog))
    changed.update(dss=(number, dss), catalog=catalog)
    return changed


async def _signed_revision(
    update: PreparedUpdate, number: int, entries: bytes, capacity: int, sign: _Sign
) -> tuple[bytes, int, int]:
    """Put signature dictionary ``number``, assemble, sign the byte range.

    Returns (the signed file, the container's size, where its xref section starts), or
    (b"", size, 0) when the container did not fit and the revision must be built again with
    more room.
    """
    update.put_signature(number, entries, capacity)
    out, slot, xref_at = update.assemble()
    container = await sign(signed_digest(out, slot))
    if len(container) > slot.capacity:
        return b"", len(container), 0
    return fill(out, slot, container), len(container), xref_at


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
) -> SignedField:
    """Sign the empty field ``field_name`` of ``pdf``: PAdES B-T + B-LT, incremental, visible.

    ``appearance_text`` is the first line of the stamp (the role, e.g. "Giáo viên chủ nhiệm");
    the stamp also shows the signer's name (certificate CN unless ``signer_name``) and the
    signing time. Raises a :class:`SigningError` subclass; never signs a PDF in which an
    earlier signature no longer holds.
    """
    outline = services.outline(pdf)
    sig_field = outline.field(field_name)
    if sig_field is None:
        raise UnknownSignatureField(
            f"no signature field {field_name!r}; fields are created when the page is rendered"
        )
    if sig_field.signed:
        raise FieldAlreadySigned(f"signature field {field_name!r} is already signed")
    cert = signer.signing_cert
    if cert is None:
        raise SignerUnavailable("the signer has no certificate")
    common_name = str(cert.subject.native.get("common_name", cert.subject.human_friendly))
    what = f"signing {field_name!r}"
    try:
        others = [c for c in signer.cert_registry if c.sha256 != cert.sha256]
        needed = [await services.validation_data(cert, others)]
        timestamp_certs = list(services.timestamper.cert_registry)
        for tsa_cert in timestamp_certs:
            needed.append(await services.validation_data(tsa_cert, timestamp_certs, tsa=True))
        stamp = prepared_stamp(appearance_text, signer_name or common_name, services.font_path)
    except _SIGNING_STACK_ERRORS as exc:
        raise _translate(exc, what) from exc
    now = dt.datetime.now(dt.UTC)
    x1, y1, x2, y2 = sig_field.rect
    values = {
        "/Type": b"/Sig",
        "/Filter": b"/Adobe.PPKLite",
        "/SubFilter": b"/ETSI.CAdES.detached",
        "/M": _pdf_date(now),
        "/Reason": text(reason),
    }
    if location:
        values["/Location"] = text(location)
    if sig_field.lock is not None:
        values["/Reference"] = _field_mdp_reference(outline, sig_field.lock)
    entries = dictionary(values)[3:-3]
    timestamped: list[dt.datetime] = []

    async def sign(digest: bytes) -> bytes:
        container = await build_signature_container(signer, digest, services.timestamper)
        timestamped.append(container.timestamped_at)
        return container.der

    chain_size = sum(len(c.dump()) for c in signer.cert_registry)
    capacity = chain_size + services.token_allowance + _MARGIN
    for _attempt in range(2):
        update = PreparedUpdate(pdf, outline)
        changed: dict[str, Any] = {}
        form_number, form = outline.form
        if form.get("/SigFlags") != b"3":
            form = updated(form, {"/SigFlags": b"3"})
            update.put(form_number, dictionary(form))
            changed["form"] = (form_number, form)
        appearance = stamp.write(update, abs(x2 - x1), abs(y2 - y1), now)
        changed.update(_add_validation_data(update, outline, needed))
        signature_number = update.allocate()
        field_entries = updated(
            sig_field.entries,
            {"/V": ref(signature_number), "/AP": b"<< /N %s >>" % ref(appearance)},
        )
        update.put(sig_field.number, dictionary(field_entries))
        try:
            signed, size, xref_at = await _signed_revision(
                update, signature_number, entries, capacity, sign
            )
        except _SIGNING_STACK_ERRORS as exc:
            raise _translate(exc, what) from exc
        if not signed:
            capacity = size + _MARGIN
            continue
        services.token_allowance = max(services.token_allowance, size - chain_size)
        now_signed = replace(sig_field, entries=field_entries, signed=True)
        after = replace(
            outline,
            startxref=xref_at,
            size=update.size,
            fields=tuple(now_signed if f is sig_field else f for f in outline.fields),
            **changed,
        )
        facts = SignatureFacts(
            field_name=field_name,
            signer_name=common_name,
            certificate_sha256=cert.sha256.hex(),
            timestamped_at=timestamped[-1],
        )
        return SignedField(services.produced(signed, after), facts)
    raise SignerUnavailable(f"{what}: the signature container kept outgrowing its placeholder")


async def add_archive_timestamp(pdf: bytes, services: SigningServices) -> bytes:
    """Append a document timestamp after the last signature (PAdES B-LTA).

    The timestamp protects all signatures and the DSS below it, and can be renewed by another
    document timestamp before its TSA certificate expires. The TSA's own validation data goes
    into the DSS in the same revision, before the timestamp, so the timestamp covers it.
    """
    outline = services.outline(pdf)
    what = "document timestamp"
    try:
        timestamp_certs = list(services.timestamper.cert_registry)
        if not timestamp_certs:
            await services.timestamper.async_dummy_response(_MD)
            timestamp_certs = list(services.timestamper.cert_registry)
        needed = [
            await services.validation_data(cert, timestamp_certs, tsa=True)
            for cert in timestamp_certs
        ]
    except _SIGNING_STACK_ERRORS as exc:
        raise _translate(exc, what) from exc
    stamps: list[dt.datetime] = []

    async def stamp(digest: bytes) -> bytes:
        token = await request_timestamp(services.timestamper, digest)
        stamps.append(timestamp_of(token))
        der: bytes = token.dump()
        return der

    entries = b"/Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161"
    capacity = services.token_allowance + _MARGIN
    page_number, page = outline.page
    form_number, form = outline.form
    for _attempt in range(2):
        update = PreparedUpdate(pdf, outline)
        _add_validation_data(update, outline, needed)
        widget, signature_number = update.allocate(), update.allocate()
        update.put(
            widget,
            b"<< /FT /Sig /T (doc_timestamp_%d) /Type /Annot /Subtype /Widget /F 132 "
            b"/Rect [0 0 0 0] /P %s /V %s >>"
            % (len(outline.fields) + 1, ref(page_number), ref(signature_number)),
        )
        new_page = updated(page, {"/Annots": _appended(page.get("/Annots", b"[]"), widget)})
        update.put(page_number, dictionary(new_page))
        new_form = updated(form, {"/Fields": _appended(form["/Fields"], widget)})
        update.put(form_number, dictionary(new_form))
        try:
            stamped, size, _xref_at = await _signed_revision(
                update, signature_number, entries, capacity, stamp
            )
        except _SIGNING_STACK_ERRORS as exc:
            raise _translate(exc, what) from exc
        if stamped:
            services.token_allowance = max(services.token_allowance, size)
            return stamped
        capacity = size + _MARGIN
    raise TimestampUnavailable(f"{what}: the token kept outgrowing its placeholder")


@dataclass(frozen=True)
class CheckedSignatures:
    """What :func:`check_earlier_signatures` found: how many signatures held."""

    checked: int


def check_earlier_signatures(pdf: bytes) -> CheckedSignatures:
    """Check that every signature and document timestamp still holds.

    For each one: the digest of its byte range equals the
    digest it signed, it covers its whole revision, and the revisions after it stay within its
    lock (FieldMDP/DocMDP). Certificates are not re-validated: later updates cannot change them.
    Raises :class:`EarlierSignatureBroken` naming the first signature that fails.
    """
    reader = open_document(pdf).reader
    try:
        embedded: list[EmbeddedPdfSignature] = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidPdf(f"cannot read the signatures: {exc}") from exc
    for sig in embedded:
        name = str(sig.field_name)
        try:
            sig.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # type: ignore[no-untyped-call]  # unannotated in pyhanko
            status = sig.summarise_integrity_info()
            digest = sig.compute_digest()
        except (SignatureValidationError, PdfError, ValueError, KeyError) as exc:
            raise EarlierSignatureBroken(name, f"cannot be evaluated: {exc}") from exc
        if claimed_digest(sig.pkcs7_content) != digest:
            raise EarlierSignatureBroken(name, "the signed bytes changed (digest mismatch)")
        if status["docmdp_ok"] is not True:
            level = getattr(status["diff_result"], "modification_level", None)
            raise EarlierSignatureBroken(
                name,
                f"later changes are not allowed by its lock (coverage {status['coverage'].name}, "
                f"modification level {getattr(level, 'name', 'suspicious')})",
            )
    return CheckedSignatures(len(embedded))
