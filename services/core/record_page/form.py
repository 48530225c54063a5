"""The PDF form of the page: empty signature fields with their locks, and the attached record.

Each field's lock dictionary (``/Lock``, a FieldMDP policy) is set now, before anyone
signs, so that no later signature can loosen it:

* ``homeroom_teacher`` locks itself;
* ``principal`` locks the homeroom teacher's field and itself;
* ``school_seal`` locks every field and carries ``/P 1`` (PDF 2.0, DocMDP "no changes"):
  once the seal has signed, only validation data (DSS) and document timestamps may be
  added. pyHanko reads ``/P`` from the lock when it signs and when it validates.

The fields and the attachment are written with pyHanko as one incremental update of
the reportlab PDF. pyHanko draws half of the trailer ``/ID`` from ``os.urandom`` and
stamps ``/ModDate`` with the current time; :class:`_ReproducibleWriter` derives the
``/ID`` half from the input instead and keeps the information dictionary the renderer
wrote, so the same page always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Final

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    append_signature_field,
)

from services.core.record_page.contract import EMBEDDED_RECORD_NAME, SIGNATURE_FIELDS
from services.core.record_page.layout import FieldPlace

__all__ = ["field_locks", "finish_pdf"]

_ORDER: Final = tuple(SIGNATURE_FIELDS.values())


def field_locks() -> dict[str, tuple[FieldMDPSpec, MDPPerm | None]]:
    """Field name -> (FieldMDP lock, DocMDP value): each signature locks itself and every
    earlier one; the last (the school's seal) locks everything and forbids any change."""
    locks: dict[str, tuple[FieldMDPSpec, MDPPerm | None]] = {}
    for position, name in enumerate(_ORDER):
        if position == len(_ORDER) - 1:
            locks[name] = (FieldMDPSpec(FieldMDPAction.ALL), MDPPerm.NO_CHANGES)
        else:
            locks[name] = (FieldMDPSpec(FieldMDPAction.INCLUDE, list(_ORDER[: position + 1])), None)
    return locks


class _ReproducibleWriter(IncrementalPdfFileWriter):
    """An incremental writer whose output depends only on its input and what is added."""

    @classmethod
    def _handle_id(cls, prev: PdfFileReader) -> generic.ArrayObject:
        # As pyHanko does: keep the first half (ISO 32000 § 14.4), change the second, but
        # from the digest of the input rather than at random.
        first, _ = prev.trailer["/ID"]
        stream = prev.stream
        position = stream.tell()
        stream.seek(0)
        digest = hashlib.sha256(b"hocba-form\n" + stream.read()).digest()[:16]
        stream.seek(position)
        return generic.ArrayObject(
            [generic.ByteStringObject(first.original_bytes), generic.ByteStringObject(digest)]
        )

    def _update_meta(self) -> None:
        # The base class sets /ModDate to "now" and adds itself to /Producer; the page keeps
        # the dates and producer the renderer wrote.
        return None


def finish_pdf(
    pdf: bytes, fields: Sequence[FieldPlace], record_json: bytes, description: str
) -> bytes:
    """``pdf`` with the empty, locked signature fields and ``record_json`` attached."""
    writer = _ReproducibleWriter(io.BytesIO(pdf))
    locks = field_locks()
    for place in sorted(fields, key=lambda p: _ORDER.index(p.name)):
        lock, doc_mdp = locks[place.name]
        append_signature_field(
            writer,
            SigFieldSpec(
                sig_field_name=place.name,
                on_page=place.page,
                box=place.box,
                field_mdp_spec=lock,
                doc_mdp_update_value=doc_mdp,
                readable_field_name=place.label,
            ),
        )
    data = embed.EmbeddedFileObject.from_file_data(
        writer,
        record_json,
        mime_type="application/json",
        params=embed.EmbeddedFileParams(embed_size=True, embed_checksum=True),
    )
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=EMBEDDED_RECORD_NAME,
            file_name=EMBEDDED_RECORD_NAME,
            embedded_data=data,
            description=description,
        ),
    )
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
