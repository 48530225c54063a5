"""The official year page of the học bạ (trang học bạ năm học) as a PDF ready to sign.

Pure: the caller passes the validated record, the page identity, the record's
canonical JSON and the font files; the result is the PDF's bytes, the same bytes
for the same arguments. The shortest use::

    from services.core.record_page import PageFonts, PageIdentity, render_year_page

    pdf = render_year_page(validated, identity, record_json, fonts)

The page carries, beside the Circular 27 contents, the digital additions: the lookup
code (mã số tra cứu học bạ) and a QR code of the verification URL, the student's
identifier, the version (and for a correction, what it corrects), the SHA-256 of the
attached record JSON, and three empty signature fields (homeroom teacher, principal,
school seal) whose locks are fixed before the first signature.

Modules: :mod:`.contract` (the public names), :mod:`.content` (the wording),
:mod:`.layout` (positions, measured with reportlab's font metrics), :mod:`.paint` (the
pages' content), :mod:`.subsets` (the embedded fonts), :mod:`.qr` (the QR code),
:mod:`.form` (signature fields and attachment), :mod:`.pdf` (PDF syntax and file),
:mod:`.render` (the pipeline). The PDF is written directly, in one revision.
"""

from services.core.record_page.contract import (
    EMBEDDED_RECORD_NAME,
    SIGNATURE_FIELDS,
    PageFonts,
    PageIdentity,
    RecordPageError,
)
from services.core.record_page.render import render_year_page

__all__ = [
    "EMBEDDED_RECORD_NAME",
    "SIGNATURE_FIELDS",
    "PageFonts",
    "PageIdentity",
    "RecordPageError",
    "render_year_page",
]
