"""The PDF form of the page: empty signature fields with their locks, and the attached record.

Each field's lock dictionary (``/Lock``, a FieldMDP policy) is set now, before anyone
signs, so that no later signature can loosen it:

* ``homeroom_teacher`` locks itself;
* ``principal`` locks the homeroom teacher's field and itself;
* ``school_seal`` locks every field and carries ``/P 1`` (PDF 2.0, DocMDP "no changes"):
  once the seal has signed, only validation data (DSS) and document timestamps may be
  added. pyHanko reads ``/P`` from the lock when it signs and when it validates.

The objects are those pyHanko writes for a signature field and an attached file, written
into the page's one revision rather than as an update of it: each field is one
dictionary, field and widget merged (``/FT /Sig``, printed and locked, an empty
appearance), in the ``/Fields`` of the ``/AcroForm``, whose ``/SigFlags 3`` (signatures
exist, append only) the signing service then need not change; the record is an
embedded file named in the catalog's ``/EmbeddedFiles``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from services.core.record_page.contract import EMBEDDED_RECORD_NAME, SIGNATURE_FIELDS
from services.core.record_page.layout import FieldPlace
from services.core.record_page.pdf import PdfWriter, literal, ref, stream, text_string

__all__ = ["Form", "add_form"]

_ORDER: Final = tuple(SIGNATURE_FIELDS.values())
_PRINT_AND_LOCKED: Final = 4 | 128  # annotation flags (ISO 32000-1 § 12.5.3)


@dataclass(frozen=True, slots=True)
class Form:
    """What the page and the catalog must point at."""

    #: Catalog entries (``/AcroForm`` and ``/Names``).
    catalog: str
    #: Page index -> the fields' widgets on it.
    annotations: dict[int, list[int]]


def _lock(name: str) -> str:
    """The ``/Lock`` of field ``name``: each signature locks itself and every earlier one; the
    last (the school's seal) locks everything and forbids any change (``/P 1``)."""
    position = _ORDER.index(name)
    if position == len(_ORDER) - 1:
        return "<< /Type /SigFieldLock /Action /All /P 1 >>"
    fields = " ".join(f"({literal(n)})" for n in _ORDER[: position + 1])
    return f"<< /Type /SigFieldLock /Action /Include /Fields [{fields}] >>"


def add_form(
    writer: PdfWriter,
    pages: Sequence[int],
    fields: Sequence[FieldPlace],
    record_json: bytes,
    description: str,
) -> Form:
    """Add the signature fields (on the pages numbered ``pages``, by index) and the record."""
    annotations: dict[int, list[int]] = {}
    widgets: list[int] = []
    for place in sorted(fields, key=lambda p: _ORDER.index(p.name)):
        llx, lly, urx, ury = place.box
        appearance = writer.add(
            stream(
                "/Type /XObject /Subtype /Form"
                f" /BBox [0 0 {abs(urx - llx)} {abs(ury - lly)}] /Resources << >>",
                b"",
                compress=False,
            )
        )
        lock = writer.add(_lock(place.name))
        widget = writer.add(
            f"<< /Type /Annot /Subtype /Widget /FT /Sig /T ({literal(place.name)})"
            f" /TU {text_string(place.label)} /F {_PRINT_AND_LOCKED}"
            f" /Rect [{llx} {lly} {urx} {ury}] /P {ref(pages[place.page])}"
            f" /Lock {ref(lock)} /AP << /N {ref(appearance)} >> >>"
        )
        annotations.setdefault(place.page, []).append(widget)
        widgets.append(widget)
    acro_form = writer.add(f"<< /Fields [{' '.join(map(ref, widgets))}] /SigFlags 3 >>")
    checksum = hashlib.md5(record_json, usedforsecurity=False).hexdigest().upper()
    data = writer.add(
        stream(
            "/Type /EmbeddedFile /Subtype /application#2Fjson"
            f" /Params << /Size {len(record_json)} /CheckSum <{checksum}> >>",
            record_json,
        )
    )
    name = text_string(EMBEDDED_RECORD_NAME)
    spec = writer.add(
        f"<< /Type /Filespec /F {name} /UF {name} /EF << /F {ref(data)} /UF {ref(data)} >>"
        f" /Desc {text_string(description)} >>"
    )
    return Form(
        catalog=(
            f"/AcroForm {ref(acro_form)}"
            f" /Names << /EmbeddedFiles << /Names [{name} {ref(spec)}] >> >>"
        ),
        annotations=annotations,
    )
