"""Pure parts of services.signing: hex-reader speed-up, stamp font, errors, public surface, CLI."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from io import BytesIO

import pytest
from fontTools import ttLib
from pyhanko.pdf_utils.misc import PdfStreamError

from services.signing import errors
from services.signing.appearance import prepare_font, stamp_lines
from services.signing.speedups import ORIGINAL_READ_HEX, fast_read_hex_string
from services.signing.verification import (
    DocumentTimestampReport,
    SignatureReport,
    TimestampReport,
    VerificationReport,
)

pytestmark = pytest.mark.unit

HEX_CASES = [
    b"<48656c6c6f> rest",
    b"<48 65\n6c\r\n6c\t6f>",
    b"<486>",
    b"<>",
    b"<" + b"ab" * 50_000 + b">tail",
    b"<48 % a comment\n65>",
]


@pytest.mark.parametrize("data", HEX_CASES)
def test_fast_hex_reader_matches_pyhanko(data: bytes) -> None:
    ours, theirs = BytesIO(data), BytesIO(data)
    assert fast_read_hex_string(ours) == ORIGINAL_READ_HEX(theirs)
    assert ours.tell() == theirs.tell()


@pytest.mark.parametrize("data", [b"<48zz>", b"<4865"])
def test_fast_hex_reader_fails_like_pyhanko(data: bytes) -> None:
    with pytest.raises(PdfStreamError):
        ORIGINAL_READ_HEX(BytesIO(data))
    with pytest.raises(PdfStreamError):
        fast_read_hex_string(BytesIO(data))


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


@pytest.mark.parametrize(
    "module",
    [
        "appearance", "backends", "csc_testserver", "devpki", "errors", "pades", "revinfo",
        "softhsm", "speedups", "verification",
    ],
)  # fmt: skip
def test_public_surface_is_declared(module: str) -> None:
    loaded = importlib.import_module(f"services.signing.{module}")
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.{name}"


def _stamp(revocation: str = "good") -> TimestampReport:
    return TimestampReport(datetime(2026, 5, 1, tzinfo=UTC), "TSA", True, True, revocation)  # type: ignore[arg-type]


def _signature(**changes: object) -> SignatureReport:
    values: dict[str, object] = {
        "field_name": "principal",
        "signer_subject": "CN=x",
        "signer_name": "Trần Văn Minh",
        "certificate_sha256": "00" * 32,
        "intact": True,
        "trust_anchor": "Hocba Dev Root CA",
        "revocation": "good",
        "revocation_source": "embedded",
        "timestamp": _stamp(),
        "coverage": "ENTIRE_REVISION",
        "modification_level": "FORM_FILLING",
        "lock_holds": True,
    }
    values.update(changes)
    return SignatureReport(**values)  # type: ignore[arg-type]


def _report(*signatures: SignatureReport) -> VerificationReport:
    stamp = DocumentTimestampReport("ts", _stamp(), "ENTIRE_FILE", None, True)
    return VerificationReport(signatures, (stamp,), "B-LTA", True, None, None)


def test_unknown_revocation_is_not_invalid_but_not_complete() -> None:
    report = _report(_signature(revocation="unknown", revocation_source=None))
    assert report.valid and not report.complete


@pytest.mark.parametrize(
    "change",
    [
        {"intact": False},
        {"revocation": "revoked"},
        {"trust_anchor": None},
        {"lock_holds": False},
        {"timestamp": None},
        {"timestamp": _stamp("revoked")},
    ],
)
def test_any_real_failure_makes_the_report_invalid(change: dict[str, object]) -> None:
    assert not _report(_signature(**change)).valid


def test_report_json_is_plain_data() -> None:
    data = _report(_signature()).to_json()
    assert data["valid"] is True and data["signatures"][0]["valid"] is True
    assert data["signatures"][0]["timestamp"]["time"] == "2026-05-01T00:00:00+00:00"


def test_cli_verify_without_trust_anchor_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.delenv("HOCBA_TRUST_ROOTS", raising=False)
    assert main(["verify", "missing.pdf"]) == 2
    assert "no trust anchor" in capsys.readouterr().err
