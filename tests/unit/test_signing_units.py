"""Pure parts of services.signing: stamp font, errors, public surface.

(The verifier, its hex-reader speed-up and ``hocba verify`` moved to services.verification:
tests/unit/test_verification_units.py.)
"""

from __future__ import annotations

import importlib
from io import BytesIO

import pytest
from fontTools import ttLib

from services.signing import errors
from services.signing.appearance import prepare_font, stamp_lines
from services.verification import errors as verification_errors

pytestmark = pytest.mark.unit


def test_stamp_font_is_rescaled_to_1000_units_and_covers_vietnamese() -> None:
    font = ttLib.TTFont(BytesIO(prepare_font().data))
    assert font["head"].unitsPerEm == 1000
    cmap = font.getBestCmap()
    assert all(ord(ch) in cmap for ch in "Nguyễn Thị Lan Trần Văn Minh Hiệu trưởng Đ đ ơ ư ỹ")
    assert "GPOS" not in font and "GSUB" not in font


def test_stamp_text_is_normalised_to_precomposed_letters() -> None:
    decomposed = "Nguye\u0302\u0303n"
    assert stamp_lines(decomposed, decomposed) == ("Nguyễn", "Nguyễn")


def test_errors_form_one_hierarchy_with_retriable_flags() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SigningError)
    assert errors.TimestampUnavailable.retriable
    assert not errors.SignerCertificateRevoked("x").retriable
    assert issubclass(errors.SignerCertificateRevoked, errors.SignerCertificateRejected)
    broken = errors.EarlierSignatureBroken("homeroom_teacher", "digest mismatch")
    assert broken.field_name == "homeroom_teacher" and "digest mismatch" in str(broken)
    # An unreadable page is one error for signing and for verification alike.
    assert issubclass(errors.InvalidPdf, verification_errors.InvalidPdf)


@pytest.mark.parametrize(
    "module",
    [
        "appearance", "backends", "csc_testserver", "devpki", "errors", "pades", "revinfo",
        "softhsm",
    ],
)  # fmt: skip
def test_public_surface_is_declared(module: str) -> None:
    loaded = importlib.import_module(f"services.signing.{module}")
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.{name}"
