"""A year page stand-in for signing tests, with the three signature fields of the real one.

Until ``services.core.record_page`` renders real pages, ``make_year_page_pdf`` draws a one-page
PDF with reportlab, embeds ``hoc-ba.json`` and adds the empty signature fields and FieldMDP locks
the renderer creates: homeroom_teacher locks itself; principal locks both; school_seal locks all
fields and the document (/P 1).
"""

from __future__ import annotations

import hashlib
from io import BytesIO

import pytest
from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

pytestmark = pytest.mark.unit

RECORD_JSON = b'{"student_id": "079215000001", "school_year": "2025-2026"}'
RECORD_SHA256 = hashlib.sha256(RECORD_JSON).hexdigest()
ROLE_TEXT = {
    "homeroom_teacher": "Giáo viên chủ nhiệm",
    "principal": "Hiệu trưởng",
    "school_seal": "Con dấu nhà trường",
}

FIELD_SPECS = (
    fields.SigFieldSpec(
        "homeroom_teacher",
        on_page=0,
        box=(40, 60, 200, 130),
        field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["homeroom_teacher"]),
    ),
    fields.SigFieldSpec(
        "principal",
        on_page=0,
        box=(215, 60, 385, 130),
        field_mdp_spec=fields.FieldMDPSpec(
            fields.FieldMDPAction.INCLUDE, ["homeroom_teacher", "principal"]
        ),
    ),
    fields.SigFieldSpec(
        "school_seal",
        on_page=0,
        box=(400, 60, 560, 130),
        field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.ALL),
        doc_mdp_update_value=fields.MDPPerm.NO_CHANGES,
    ),
)


def make_year_page_pdf(record_json: bytes = RECORD_JSON) -> bytes:
    """A one-page year page with hoc-ba.json embedded and three empty signature fields."""
    buffer = BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
    page.drawString(72, 780, "HOC BA SO - Nam hoc 2025-2026")
    page.drawString(72, 760, f"SHA-256 hoc-ba.json: {hashlib.sha256(record_json).hexdigest()}")
    page.showPage()
    page.save()
    writer = IncrementalPdfFileWriter(BytesIO(buffer.getvalue()))
    embed_file(
        writer,
        FileSpec(
            file_spec_string="hoc-ba.json",
            embedded_data=EmbeddedFileObject.from_file_data(
                writer, record_json, mime_type="application/json"
            ),
        ),
    )
    for spec in FIELD_SPECS:
        fields.append_signature_field(writer, spec)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_page_has_three_empty_signature_fields_with_locks() -> None:
    reader = PdfFileReader(BytesIO(make_year_page_pdf()))
    found = {name: value for name, value, _ in fields.enumerate_sig_fields(reader)}
    assert found == {"homeroom_teacher": None, "principal": None, "school_seal": None}
    seal = next(
        ref for name, _, ref in fields.enumerate_sig_fields(reader) if name == "school_seal"
    )
    lock = seal.get_object()["/Lock"]
    assert lock["/Action"] == "/All"
    assert lock["/P"] == 1
