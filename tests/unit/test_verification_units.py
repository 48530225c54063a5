"""Pure parts of services.verification: hex-reader speed-up, report verdicts, trust anchors,
public surface, and ``hocba verify``'s usage errors."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.misc import PdfStreamError

import services.verification
from services.verification import (
    DocumentTimestampReport,
    SignatureReport,
    TimestampReport,
    TrustRootsUnreadable,
    VerificationReport,
    dev_trust_root,
    load_trust_roots,
    trust_root_paths,
)
from services.verification.speedups import ORIGINAL_READ_HEX, fast_read_hex_string

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


@pytest.mark.parametrize(
    "module", ["errors", "report", "speedups", "timestamps", "trust", "verify"]
)
def test_public_surface_is_declared(module: str) -> None:
    loaded = importlib.import_module(f"services.verification.{module}")
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_the_package_re_exports_each_module_s_public_names() -> None:
    package = set(services.verification.__all__)
    for module in ("errors", "report", "timestamps", "trust", "verify"):
        loaded = importlib.import_module(f"services.verification.{module}")
        assert set(loaded.__all__) <= package, module
    for name in package:
        assert hasattr(services.verification, name), name


def timestamp_report(revocation: str = "good") -> TimestampReport:
    return TimestampReport(datetime(2026, 5, 1, tzinfo=UTC), "TSA", True, True, revocation)  # type: ignore[arg-type]


def signature_report(**changes: object) -> SignatureReport:
    values: dict[str, object] = {
        "field_name": "principal",
        "signer_subject": "CN=x",
        "signer_name": "Trần Văn Minh",
        "certificate_sha256": "00" * 32,
        "intact": True,
        "trust_anchor": "Hocba Dev Root CA",
        "revocation": "good",
        "revocation_source": "embedded",
        "timestamp": timestamp_report(),
        "coverage": "ENTIRE_REVISION",
        "modification_level": "FORM_FILLING",
        "lock_holds": True,
    }
    values.update(changes)
    return SignatureReport(**values)  # type: ignore[arg-type]


def _report(*signatures: SignatureReport) -> VerificationReport:
    stamp = DocumentTimestampReport("ts", timestamp_report(), "ENTIRE_FILE", None, True)
    return VerificationReport(signatures, (stamp,), "B-LTA", True, None)


def test_unknown_revocation_is_not_invalid_but_not_complete() -> None:
    report = _report(signature_report(revocation="unknown", revocation_source=None))
    assert report.valid and not report.complete


@pytest.mark.parametrize(
    "change",
    [
        {"intact": False},
        {"revocation": "revoked"},
        {"trust_anchor": None},
        {"lock_holds": False},
        {"timestamp": None},
        {"timestamp": timestamp_report("revoked")},
    ],
)
def test_any_real_failure_makes_the_report_invalid(change: dict[str, object]) -> None:
    assert not _report(signature_report(**change)).valid


def test_no_signature_at_all_is_invalid() -> None:
    assert not VerificationReport((), (), "none", None, None).valid


def test_report_json_is_plain_data() -> None:
    data = _report(signature_report()).to_json()
    assert data["valid"] is True and data["signatures"][0]["valid"] is True
    assert data["signatures"][0]["timestamp"]["time"] == "2026-05-01T00:00:00+00:00"
    assert "record_status" not in data  # the platform's view is storage's answer, not the PDF's


def test_trust_roots_come_from_the_variable_then_the_dev_pki(tmp_path: Path) -> None:
    listed = {"HOCBA_TRUST_ROOTS": "/etc/a.pem: /etc/b.pem:", "HOCBA_STATE_DIR": str(tmp_path)}
    assert trust_root_paths(listed) == (Path("/etc/a.pem"), Path("/etc/b.pem"))
    state = {"HOCBA_STATE_DIR": str(tmp_path)}
    root = dev_trust_root(state)
    assert root == tmp_path / "pki" / "certs" / "root.cert.pem"
    assert trust_root_paths(state) == ()  # not built yet
    root.parent.mkdir(parents=True)
    root.write_text("not a certificate")
    assert trust_root_paths(state) == (root,)


def test_unreadable_trust_roots_are_one_precise_error(tmp_path: Path) -> None:
    with pytest.raises(TrustRootsUnreadable):
        load_trust_roots([tmp_path / "missing.pem"])


def test_cli_verify_without_trust_anchor_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from services.cli import main

    monkeypatch.delenv("HOCBA_TRUST_ROOTS", raising=False)
    monkeypatch.setenv("HOCBA_STATE_DIR", str(tmp_path))  # no dev PKI built there
    assert main(["verify", "missing.pdf"]) == 2
    assert "no trust anchor" in capsys.readouterr().err


def test_cli_verify_with_an_unreadable_trust_anchor_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from services.cli import main

    assert main(["verify", "missing.pdf", "--trust", str(tmp_path / "none.pem")]) == 2
    assert "cannot read trust anchors" in capsys.readouterr().err
