"""Incremental updates of a record page, written directly (cập nhật gia tăng), and their check.

Signing a page appends one revision: a few new objects (signature dictionary, its stamp, new
validation data) and new versions of the few it touches (the signature field, the catalog's
``/DSS`` entry, for a document timestamp the page's ``/Annots`` and the form's ``/Fields``),
then an xref section and a trailer pointing back at the previous one (ISO 32000-1 § 7.5.6).
pyhanko's general writer re-reads and re-serialises far more than that and was most of the
cost of a signature; this module writes exactly those bytes. Reading still goes through
pyhanko's parser, for the handful of objects an update needs.

:func:`check_revisions` is the matching check of a document handed in for signing: every
signature's digest still matches the bytes it covers, it covers its whole revision, and every
later revision changed only what signing may change (new objects; a field's ``/V`` and ``/AP``
when that field was empty; the catalog's ``/DSS`` and ``/Extensions``; the information
dictionary; the form's ``/Fields`` and a page's ``/Annots`` growing by signature fields; after a
signature whose lock says ``/P 1`` only validation data and document timestamps). It is
stricter than pyhanko's difference analysis (which the tests and ``hocba verify`` still run)
and reads only the objects later revisions touched.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from asn1crypto import cms  # type: ignore[import-untyped]
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.errors import EarlierSignatureBroken, InvalidPdf

__all__ = [
    "Entries",
    "PageDocument",
    "PageOutline",
    "PreparedUpdate",
    "SigField",
    "SignatureSlot",
    "as_dictionary",
    "check_revisions",
    "claimed_digest",
    "dictionary",
    "fill",
    "number_of",
    "open_document",
    "outline_of",
    "ref",
    "serialise",
    "signed_digest",
    "stream_data",
    "text",
    "updated",
]

# "/ByteRange [0 a b c]" is written into a fixed-width gap once the file's length is known.
_BYTE_RANGE_WIDTH = 48
_HEX = b"0123456789abcdefABCDEF"
_READ_ERRORS = (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError)


def serialise(obj: generic.PdfObject) -> bytes:
    """An object's PDF syntax, as pyhanko writes it (indirect references as ``n g R``)."""
    out = io.BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


def text(value: str) -> bytes:
    """A PDF text string (PDFDocEncoding or UTF-16BE with BOM, as pyhanko chooses)."""
    return serialise(generic.pdf_string(value))


def ref(number: int) -> bytes:
    """An indirect reference to object ``number`` (generation 0)."""
    return b"%d 0 R" % number


def dictionary(entries: Mapping[str, bytes]) -> bytes:
    """``<< /Key value ... >>`` from keys (with their slash) and values in PDF syntax."""
    return b"<< " + b" ".join(k.encode() + b" " + v for k, v in entries.items()) + b" >>"


def updated(entries: Mapping[str, bytes], changes: Mapping[str, bytes]) -> dict[str, bytes]:
    """``entries`` with ``changes`` applied (keys added or replaced)."""
    return {**entries, **changes}


def as_dictionary(obj: object) -> generic.DictionaryObject:
    """``obj`` resolved, which must be a dictionary (:class:`InvalidPdf` otherwise)."""
    if isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()  # type: ignore[no-untyped-call]  # unannotated in pyhanko
    if not isinstance(obj, generic.DictionaryObject):
        raise InvalidPdf(f"expected a dictionary, found {type(obj).__name__}")
    return obj


def stream_data(obj: object) -> bytes:
    """The decoded data of a stream object (or reference to one)."""
    if isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()  # type: ignore[no-untyped-call]  # unannotated in pyhanko
    if not isinstance(obj, generic.StreamObject):
        raise InvalidPdf(f"expected a stream, found {type(obj).__name__}")
    return bytes(obj.data)


def number_of(obj: object) -> int:
    """The object number of an indirect reference (:class:`InvalidPdf` for a direct object)."""
    if not isinstance(obj, generic.IndirectObject):
        raise InvalidPdf("expected an indirect reference")
    return int(obj.idnum)


@dataclass
class PageDocument:
    """A record page parsed by pyhanko (for the first signature a process makes on it)."""

    data: bytes
    reader: PdfFileReader
    startxref: int

    def sig_fields(self) -> Iterator[tuple[str, int, generic.DictionaryObject]]:
        """(name, object number, dictionary) of every signature field in the form, in order."""
        if "/AcroForm" not in self.reader.root:
            return
        form = as_dictionary(self.reader.root.raw_get("/AcroForm"))
        for raw in form.raw_get("/Fields"):
            found = as_dictionary(raw)
            if found.get("/FT") == "/Sig":
                yield str(found["/T"]), number_of(raw), found


def open_document(pdf: bytes) -> PageDocument:
    """Parse ``pdf`` (classic xref tables or streams both read); :class:`InvalidPdf` if broken."""
    tail = pdf[-1024:]
    at = tail.rfind(b"startxref")
    try:
        if at < 0:
            raise ValueError("no startxref")
        startxref = int(tail[at + 9 :].split()[0])
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        _ = reader.root
    except (*_READ_ERRORS, OSError) as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    if reader.encrypted:
        raise InvalidPdf("encrypted PDFs are not record pages")
    return PageDocument(pdf, reader, startxref)


Entries = dict[str, bytes]
"""A dictionary's entries: key (with its slash) -> value in PDF syntax."""


def entries_of(obj: generic.DictionaryObject) -> Entries:
    return {str(k): serialise(obj.raw_get(k)) for k in obj}


@dataclass(frozen=True)
class SigField:
    """A signature field of the page (merged with its widget)."""

    name: str
    number: int
    entries: Entries
    signed: bool
    rect: tuple[float, float, float, float]
    lock: Entries | None  # the field's /Lock dictionary (FieldMDP), if it has one


@dataclass(frozen=True)
class PageOutline:
    """What an incremental update needs to know of a page's last revision, without parsing it.

    Made once by :func:`outline_of` from a parsed page; every update made here returns the
    outline of the page it produced (:meth:`PreparedUpdate.assemble`'s caller builds it), so
    the next signature on that page reads nothing.
    """

    startxref: int
    size: int
    root: int
    trailer_extra: bytes  # /Info and the first half of /ID, in trailer syntax
    first_id: bytes
    catalog: Entries
    form: tuple[int, Entries]
    fields: tuple[SigField, ...]
    page: tuple[int, Entries]  # the page the signature fields are on
    dss: tuple[int, Entries] | None
    dss_content: frozenset[bytes]  # SHA-256 of every certificate, OCSP response and CRL in it

    def field(self, name: str) -> SigField | None:
        return next((f for f in self.fields if f.name == name), None)


def outline_of(document: PageDocument) -> PageOutline:
    """The outline of a parsed page (:class:`InvalidPdf` if it is not a record page's shape)."""
    reader = document.reader
    try:
        trailer = reader.trailer
        root_raw = trailer.raw_get("/Root")
        catalog = as_dictionary(root_raw)
        form_raw = catalog.raw_get("/AcroForm")
        fields = []
        page_ref: object = None
        for name, number, found in document.sig_fields():
            if page_ref is None:
                page_ref = found.raw_get("/P")
            lock = as_dictionary(found.raw_get("/Lock")) if "/Lock" in found else None
            x1, y1, x2, y2 = (float(v) for v in found["/Rect"])
            fields.append(
                SigField(
                    name=name,
                    number=number,
                    entries=entries_of(found),
                    signed="/V" in found,
                    rect=(x1, y1, x2, y2),
                    lock=entries_of(lock) if lock is not None else None,
                )
            )
        if not fields:
            raise InvalidPdf("the page has no signature fields")
        dss_raw = catalog.raw_get("/DSS") if "/DSS" in catalog else None
        dss = as_dictionary(dss_raw) if dss_raw is not None else None
        content = frozenset(
            hashlib.sha256(stream_data(item)).digest()
            for key in ("/Certs", "/OCSPs", "/CRLs")
            if dss is not None and key in dss
            for item in dss.raw_get(key)
        )
        first_id = trailer["/ID"][0].original_bytes if "/ID" in trailer else b""
        info = trailer.raw_get("/Info") if "/Info" in trailer else None
        return PageOutline(
            startxref=document.startxref,
            size=int(trailer["/Size"]),
            root=number_of(root_raw),
            trailer_extra=b" /Info " + serialise(info) if info is not None else b"",
            first_id=bytes(first_id),
            catalog=entries_of(catalog),
            form=(number_of(form_raw), entries_of(as_dictionary(form_raw))),
            fields=tuple(fields),
            page=(number_of(page_ref), entries_of(as_dictionary(page_ref))),
            dss=(number_of(dss_raw), entries_of(dss)) if dss is not None else None,
            dss_content=content,
        )
    except InvalidPdf:
        raise
    except _READ_ERRORS as exc:
        raise InvalidPdf(f"not a record page: {exc}") from exc


@dataclass(frozen=True)
class SignatureSlot:
    """Where the signature container goes in an assembled update, and what it must cover."""

    contents_start: int  # offset of "<"
    contents_end: int  # offset after ">"

    @property
    def capacity(self) -> int:
        """Bytes of DER the placeholder holds."""
        return (self.contents_end - self.contents_start - 2) // 2


@dataclass
class PreparedUpdate:
    """One revision being built: objects by number, then :meth:`assemble` and :func:`fill`."""

    pdf: bytes
    outline: PageOutline
    _objects: dict[int, bytes] = field(default_factory=dict)
    _next: int = 0
    _signature: int | None = None
    _capacity: int = 0

    def __post_init__(self) -> None:
        self._next = self.outline.size

    @property
    def size(self) -> int:
        """The trailer's /Size after this update."""
        return self._next

    def allocate(self) -> int:
        """A fresh object number."""
        number = self._next
        self._next += 1
        return number

    def put(self, number: int, body: bytes) -> None:
        """Set object ``number``'s body (a new object or a new version of an existing one)."""
        self._objects[number] = body

    def put_stream(
        self, number: int, data: bytes, entries: bytes = b"", *, compress: bool = False
    ) -> None:
        """A stream object; ``entries`` are extra dictionary entries in PDF syntax."""
        if compress:
            data = zlib.compress(data, 6)
            entries += b" /Filter /FlateDecode"
        self.put(
            number,
            b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), entries, data),
        )

    def put_signature(self, number: int, entries: bytes, capacity: int) -> None:
        """The signature (or document timestamp) dictionary, with room for ``capacity`` bytes."""
        if self._signature is not None:
            raise ValueError("one signature per revision")
        self._signature = number
        self._capacity = capacity
        self.put(
            number,
            b"<< %s /ByteRange [%s] /Contents <%s> >>"
            % (entries, b" " * _BYTE_RANGE_WIDTH, b"0" * (2 * capacity)),
        )

    def assemble(self) -> tuple[bytearray, SignatureSlot, int]:
        """The whole file with this revision appended, ``/ByteRange`` filled, contents empty;
        the placeholder; where the new xref section starts (the next revision's /Prev)."""
        if self._signature is None:
            raise ValueError("no signature dictionary in this update")
        base = self.pdf
        out = bytearray(base)
        if not base.endswith(b"\n"):
            out += b"\n"
        offsets: dict[int, int] = {}
        slot_at = 0
        for number in sorted(self._objects):
            offsets[number] = len(out)
            header = b"%d 0 obj\n" % number
            if number == self._signature:
                slot_at = len(out) + len(header)
            out += header + self._objects[number] + b"\nendobj\n"
        xref_at = len(out)
        out += b"xref\n0 1\n0000000000 65535 f \n"
        numbers = sorted(offsets)
        run_start = 0
        for i in range(1, len(numbers) + 1):
            if i == len(numbers) or numbers[i] != numbers[i - 1] + 1:
                run = numbers[run_start:i]
                out += b"%d %d\n" % (run[0], len(run))
                out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in run)
                run_start = i
        outline = self.outline
        second_id = hashlib.sha256(base).digest()[:16]
        out += b"trailer\n<< /Size %d /Root %d 0 R%s /ID [<%s> <%s>] /Prev %d >>\n" % (
            self._next,
            outline.root,
            outline.trailer_extra,
            outline.first_id.hex().encode(),
            second_id.hex().encode(),
            outline.startxref,
        )
        out += b"startxref\n%d\n%%%%EOF\n" % xref_at
        body = self._objects[self._signature]
        range_at = slot_at + body.index(b"/ByteRange [") + len(b"/ByteRange [")
        contents_start = slot_at + body.index(b"/Contents <") + len(b"/Contents ")
        contents_end = contents_start + 2 + 2 * self._capacity
        numbers_text = b"0 %d %d %d" % (contents_start, contents_end, len(out) - contents_end)
        out[range_at : range_at + len(numbers_text)] = numbers_text
        return out, SignatureSlot(contents_start, contents_end), xref_at


def signed_digest(out: bytearray, slot: SignatureSlot) -> bytes:
    """SHA-256 of everything but the signature container (what the signature must cover)."""
    view = memoryview(out)
    digest = hashlib.sha256(view[: slot.contents_start])
    digest.update(view[slot.contents_end :])
    return digest.digest()


def fill(out: bytearray, slot: SignatureSlot, container: bytes) -> bytes:
    """The final file: ``container`` (DER) written into the placeholder, zero-padded."""
    if len(container) > slot.capacity:
        raise ValueError(f"signature container {len(container)} > {slot.capacity} bytes reserved")
    digits = container.hex().encode()
    out[slot.contents_start + 1 : slot.contents_start + 1 + len(digits)] = digits
    return bytes(out)


# --- the check of a document handed in for signing -------------------------------------------

_CATALOG_MAY_CHANGE = frozenset({"/DSS", "/Extensions", "/AcroForm"})
_FIELD_MAY_CHANGE = frozenset({"/V", "/AP"})
_FORM_MAY_CHANGE = frozenset({"/Fields", "/SigFlags"})
_PAGE_MAY_CHANGE = frozenset({"/Annots"})


def claimed_digest(contents: bytes) -> bytes | None:
    """The document digest a signature container (CAdES or RFC 3161 token) vouches for."""
    info = cms.ContentInfo.load(contents)
    signed_data = info["content"]
    content = signed_data["encap_content_info"]
    if content["content_type"].native == "tst_info":
        digest: bytes = content["content"].parsed["message_imprint"]["hashed_message"].native
        return digest
    for attribute in signed_data["signer_infos"][0]["signed_attrs"]:
        if attribute["type"].native == "message_digest":
            value: bytes = attribute["values"][0].native
            return value
    return None


@dataclass(frozen=True)
class _Signed:
    name: str
    revision: int  # the revision the signature covers (0 = oldest)
    locks_everything: bool  # its lock says /P 1: only DSS and document timestamps after it


def check_revisions(document: PageDocument) -> int:
    """Check every signature of ``document`` still holds; return how many there are.

    Raises :class:`EarlierSignatureBroken` naming the first signature that fails.
    """
    reader = document.reader
    data = document.data
    try:
        revisions = reader.xrefs.total_revisions
        ends = [reader.xrefs.get_startxref_for_revision(r) for r in range(revisions)]
        signed: list[_Signed] = []
        for name, _number, sig_field in document.sig_fields():
            if "/V" not in sig_field:
                continue
            sig = as_dictionary(sig_field.raw_get("/V"))
            signed.append(_check_signature(name, sig_field, sig, data, ends))
    except EarlierSignatureBroken:
        raise
    except _READ_ERRORS as exc:
        raise InvalidPdf(f"cannot read the signatures: {exc}") from exc
    signed.sort(key=lambda s: s.revision)
    if not signed:
        return 0
    for revision in range(signed[0].revision + 1, revisions):
        before = [s for s in signed if s.revision < revision]
        try:
            problem = _revision_problem(reader, revision, any(s.locks_everything for s in before))
        except _READ_ERRORS as exc:
            problem = f"revision {revision} cannot be read: {exc}"
        if problem:
            raise EarlierSignatureBroken(
                before[0].name, f"later changes are not allowed by its lock: {problem}"
            )
    return len(signed)


def _check_signature(
    name: str,
    sig_field: generic.DictionaryObject,
    sig: generic.DictionaryObject,
    data: bytes,
    ends: list[int],
) -> _Signed:
    start, first_len, second_start, second_len = (int(v) for v in sig["/ByteRange"])
    end = second_start + second_len
    if start != 0 or end > len(data) or not first_len < second_start:
        raise EarlierSignatureBroken(name, "its byte range does not fit the file")
    gap = data[first_len:second_start]
    if not (gap.startswith(b"<") and gap.endswith(b">")) or gap[1:-1].translate(None, _HEX):
        raise EarlierSignatureBroken(name, "its byte range leaves out more than its contents")
    digest = hashlib.sha256(memoryview(data)[:first_len])
    digest.update(memoryview(data)[second_start:end])
    if claimed_digest(sig["/Contents"].original_bytes) != digest.digest():
        raise EarlierSignatureBroken(name, "the signed bytes changed (digest mismatch)")
    # The revision it signed: the one that ends (%%EOF, end of line) where its byte range does.
    revision = -1
    for number, xref_at in enumerate(ends):
        eof = data.find(b"%%EOF", xref_at)
        if eof >= 0 and end - (eof + 5) in (0, 1, 2) and not data[eof + 5 : end].strip():
            revision = number
    if revision < 0:
        raise EarlierSignatureBroken(name, "it does not cover a whole revision")
    lock = as_dictionary(sig_field.raw_get("/Lock")) if "/Lock" in sig_field else None
    locks_everything = lock is not None and int(lock.get("/P", 0)) == 1
    return _Signed(name, revision, locks_everything)


def _changed_keys(old: generic.DictionaryObject, new: generic.DictionaryObject) -> set[str]:
    keys = set(old) | set(new)
    return {
        str(k)
        for k in keys
        if k not in old or k not in new or serialise(old.raw_get(k)) != serialise(new.raw_get(k))
    }


def _grows_by_sig_fields(old: object, new: object, sealed: bool) -> bool:
    """Whether an array of references only grew, by signature fields (document timestamps only
    when ``sealed``)."""
    if not isinstance(old, generic.ArrayObject | None) or not isinstance(new, generic.ArrayObject):
        return False
    old_refs = [serialise(x) for x in old] if old is not None else []
    new_items = list(new)
    if [serialise(x) for x in new_items[: len(old_refs)]] != old_refs:
        return False
    for item in new_items[len(old_refs) :]:
        added = as_dictionary(item)
        if added.get("/FT") != "/Sig":
            return False
        value = added.raw_get("/V") if "/V" in added else None
        if sealed and (value is None or as_dictionary(value).get("/Type") != "/DocTimeStamp"):
            return False
    return True


def _revision_problem(reader: PdfFileReader, revision: int, sealed: bool) -> str | None:
    """What revision ``revision`` changed that signing may not change, or None."""
    xrefs = reader.xrefs
    root_ref = reader.trailer.raw_get("/Root").reference
    now = reader.get_historical_resolver(revision)
    then = reader.get_historical_resolver(revision - 1)
    catalog_now = now.get_object(root_ref)
    dss_ref = catalog_now.raw_get("/DSS") if "/DSS" in catalog_now else None
    info = reader.trailer.raw_get("/Info") if "/Info" in reader.trailer else None
    for ref in sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: r.idnum):
        if xrefs.get_introducing_revision(ref) == revision:
            continue  # a new object: it matters only if a changed old one points at it
        if info is not None and ref == info.reference:
            continue  # document metadata
        if isinstance(dss_ref, generic.IndirectObject) and ref == dss_ref.reference:
            continue  # validation data (DSS)
        old, new = then.get_object(ref), now.get_object(ref)
        if not isinstance(old, generic.DictionaryObject) or not isinstance(
            new, generic.DictionaryObject
        ):
            return f"object {ref.idnum} (not a dictionary) was replaced"
        changed = _changed_keys(old, new)
        if ref == root_ref:
            allowed = _CATALOG_MAY_CHANGE
            if "/AcroForm" in changed and "/AcroForm" in old:
                return "the catalog's form was replaced"
        elif old.get("/FT") == "/Sig":
            if sealed:
                return f"signature field {old.get('/T')} changed after the seal"
            if old.get("/V") is not None:
                return f"signature field {old.get('/T')} was signed again"
            allowed = _FIELD_MAY_CHANGE
        elif "/Fields" in old:
            allowed = _FORM_MAY_CHANGE
            if "/Fields" in changed and not _grows_by_sig_fields(
                old.raw_get("/Fields"), new.raw_get("/Fields"), sealed
            ):
                return "form fields other than signature fields were added or removed"
        elif old.get("/Type") == "/Page":
            allowed = _PAGE_MAY_CHANGE
            if "/Annots" in changed and not _grows_by_sig_fields(
                old.raw_get("/Annots") if "/Annots" in old else None,
                new.raw_get("/Annots"),
                sealed,
            ):
                return "annotations other than signature fields were added or removed"
        else:
            return f"object {ref.idnum} ({old.get('/Type', 'untyped')}) was changed"
        extra = changed - allowed
        if extra:
            return f"object {ref.idnum}: {', '.join(sorted(extra))} changed"
    return None
