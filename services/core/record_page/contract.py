"""What other services rely on: the inputs of the page, its field names, its attachment name.

The signing service fills the signature fields by name, in the order of
:data:`SIGNATURE_FIELDS`; the verification service reads the attachment by
:data:`EMBEDDED_RECORD_NAME`. Renaming any of them breaks records already issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from services.core.lookup_code import parse_lookup_code

__all__ = [
    "EMBEDDED_RECORD_NAME",
    "SIGNATURE_FIELDS",
    "PageFonts",
    "PageIdentity",
    "RecordPageError",
]

#: SignerRole symbol -> name of the empty PDF signature field, in signing order: giáo viên chủ
#: nhiệm (homeroom teacher), hiệu trưởng (principal), con dấu nhà trường (the school's seal).
SIGNATURE_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "HOMEROOM_TEACHER": "homeroom_teacher",
        "PRINCIPAL": "principal",
        "SCHOOL_SEAL": "school_seal",
    }
)

#: Name of the file attached to the PDF: the canonical JSON of the record, so that the signed
#: page carries its own machine-readable data (its SHA-256 is printed on the page).
EMBEDDED_RECORD_NAME: Final = "hoc-ba.json"


class RecordPageError(ValueError):
    """The inputs cannot make a record page (a malformed identity, record or font)."""


@dataclass(frozen=True, slots=True)
class PageFonts:
    """TrueType font files (bytes) the page is set in: embedded, subset, with Vietnamese glyphs.

    The service loads DejaVuSans.ttf and DejaVuSans-Bold.ttf once and passes the same
    object to every call, which keeps the parsed fonts cached.
    """

    regular: bytes = field(repr=False)
    bold: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PageIdentity:
    """The identifiers printed on a year page that do not come from the record itself.

    ``lookup_code`` (mã số tra cứu học bạ) must be in the canonical form of
    :mod:`services.core.lookup_code`; ``verify_url`` is what the QR code encodes. A
    correction (đính chính) names the version it supersedes and, when known, why (the
    page says so when the reason was not recorded).
    """

    record_id: str
    version: int
    lookup_code: str
    verify_url: str
    supersedes_version: int | None = None
    correction_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.record_id.strip():
            raise RecordPageError("record_id is empty")
        if self.version < 1:
            raise RecordPageError(f"version must be 1 or more, got {self.version}")
        if parse_lookup_code(self.lookup_code) != self.lookup_code:
            raise RecordPageError(
                f"lookup_code {self.lookup_code!r} is not a canonical lookup code"
            )
        if not self.verify_url.strip():
            raise RecordPageError("verify_url is empty")
        if self.correction_reason is not None:
            if self.supersedes_version is None:
                raise RecordPageError("correction_reason given without supersedes_version")
            if not self.correction_reason.strip():
                raise RecordPageError("correction_reason is empty")
        if self.supersedes_version is not None and not 1 <= self.supersedes_version < self.version:
            raise RecordPageError(
                f"version {self.version} cannot supersede version {self.supersedes_version}"
            )
