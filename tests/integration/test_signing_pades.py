"""PAdES signing against the served dev PKI: three signatures, archive timestamp, verification.

The PKI (certomancer: CAs, OCSP responder, CRLs, TSA) is built once per module and served over
HTTP on a free loopback port, so pyhanko fetches timestamps and revocation data as in production.
pdfsig (poppler, an independent implementation) checks the result as well.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper

from services.signing.backends import LoadedKeySigner, Pkcs12Config, load_pkcs12_signer
from services.signing.devpki import DevPki, PkiServices, build_dev_pki, serve_dev_pki
from services.signing.errors import (
    EarlierSignatureBroken,
    FieldAlreadySigned,
    SignerCertificateRevoked,
    UnknownSignatureField,
)
from services.signing.pades import (
    SigningServices,
    add_archive_timestamp,
    check_earlier_signatures,
    sign_field,
)
from services.signing.pdfupdate import check_revisions, open_document
from services.verification import load_trust_roots, verify_pdf
from tests.ports import free_port
from tests.unit.test_signing_fixtures import RECORD_SHA256, ROLE_TEXT, make_year_page_pdf

pytestmark = pytest.mark.integration

ROLES = ("homeroom_teacher", "principal", "school_seal")


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return build_dev_pki(tmp_path_factory.mktemp("pki"), port=free_port())


@pytest.fixture(scope="module")
def pki_services(dev_pki: DevPki) -> Iterator[PkiServices]:
    with serve_dev_pki(dev_pki) as served:
        yield served


@pytest.fixture(scope="module")
def trust_roots(dev_pki: DevPki) -> tuple[x509.Certificate, ...]:
    return load_trust_roots([dev_pki.root_cert])


@pytest.fixture(scope="module")
def role_signers(dev_pki: DevPki) -> dict[str, LoadedKeySigner]:
    return {
        role: load_pkcs12_signer(Pkcs12Config(dev_pki.p12(role), dev_pki.p12_passphrase))
        for role in (*ROLES, "revoked_teacher")
    }


@pytest.fixture
async def services(pki_services: PkiServices, dev_pki: DevPki) -> AsyncIterator[SigningServices]:
    created = SigningServices.create(pki_services.tsa_url, [dev_pki.root_cert])
    yield created
    await created.close()


async def _sign_all(
    pdf: bytes, role_signers: dict[str, LoadedKeySigner], services: SigningServices
) -> bytes:
    for role in ROLES:
        pdf = (
            await sign_field(
                pdf,
                role,
                role_signers[role],
                services,
                reason="Xác nhận học bạ năm học 2025-2026",
                location="Hà Nội",
                appearance_text=ROLE_TEXT[role],
            )
        ).pdf
    return await add_archive_timestamp(pdf, services)


@pytest.fixture(scope="module")
def signed_pdf(
    pki_services: PkiServices, dev_pki: DevPki, role_signers: dict[str, LoadedKeySigner]
) -> bytes:
    async def run() -> bytes:
        created = SigningServices.create(pki_services.tsa_url, [dev_pki.root_cert])
        try:
            return await _sign_all(make_year_page_pdf(), role_signers, created)
        finally:
            await created.close()

    return asyncio.run(run())


async def test_three_signatures_and_archive_timestamp_verify_as_b_lta(
    signed_pdf: bytes, trust_roots: tuple[x509.Certificate, ...]
) -> None:
    report = await verify_pdf(
        signed_pdf, trust_roots, online=False, expected_record_sha256=RECORD_SHA256
    )
    assert [s.field_name for s in report.signatures] == list(ROLES)
    assert report.level == "B-LTA"
    assert report.valid and report.complete, report.to_json()
    for sig in report.signatures:
        assert sig.intact and sig.lock_holds
        assert sig.revocation == "good" and sig.revocation_source == "embedded"
        assert sig.trust_anchor is not None and "Hocba Dev Root CA" in sig.trust_anchor
        assert sig.timestamp is not None and sig.timestamp.authority.startswith("Hocba Dev Time")
    assert report.signatures[0].signer_name == "Nguyễn Thị Lan (GVCN)"
    assert len(report.document_timestamps) == 1 and report.document_timestamps[0].valid
    assert report.seal_lock_holds is True
    assert report.embedded_file is not None and report.embedded_file.matches is True
    assert check_earlier_signatures(signed_pdf).checked == 4


async def test_verification_needs_no_network(
    signed_pdf: bytes, trust_roots: tuple[x509.Certificate, ...], dev_pki: DevPki
) -> None:
    # A PKI whose services are not served: the embedded data alone must suffice.
    report = await verify_pdf(signed_pdf, trust_roots, online=True)
    assert report.valid and report.complete


async def test_wrong_trust_anchor_is_not_trusted(signed_pdf: bytes, tmp_path: Path) -> None:
    other = build_dev_pki(tmp_path, port=free_port())
    report = await verify_pdf(signed_pdf, load_trust_roots([other.root_cert]), online=False)
    assert not report.valid
    assert all(s.trust_anchor is None for s in report.signatures)


def _pdfsig(pdf: Path) -> str:
    if shutil.which("pdfsig") is None:
        pytest.fail("pdfsig (poppler-utils) is required for this test")
    result = subprocess.run(
        ["pdfsig", "-nocert", str(pdf)], capture_output=True, text=True, timeout=60
    )
    return result.stdout + result.stderr


def test_pdfsig_finds_every_signature_valid(signed_pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_pdf)
    output = _pdfsig(path)
    assert output.count("Signature Validation: Signature is Valid.") == 3, output
    for role in ROLES:
        assert f"Signature Field Name: {role}" in output


async def test_one_changed_byte_is_reported_by_verify_and_pdfsig(
    signed_pdf: bytes, trust_roots: tuple[x509.Certificate, ...], tmp_path: Path
) -> None:
    # Change one byte inside the page's content stream (covered by every signature).
    position = signed_pdf.index(b"HOC BA SO")
    tampered = signed_pdf[:position] + b"J" + signed_pdf[position + 1 :]
    report = await verify_pdf(tampered, trust_roots, online=False)
    assert not report.valid
    assert not any(s.intact for s in report.signatures)
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    output = _pdfsig(path)
    assert "Signature is Valid" not in output
    assert len(re.findall(r"Signature Validation: Digest Mismatch", output)) == 3, output


async def test_signing_with_a_revoked_certificate_is_refused(
    services: SigningServices, role_signers: dict[str, LoadedKeySigner]
) -> None:
    with pytest.raises(SignerCertificateRevoked):
        await sign_field(
            make_year_page_pdf(),
            "homeroom_teacher",
            role_signers["revoked_teacher"],
            services,
            reason="x",
            appearance_text="Giáo viên chủ nhiệm",
        )


async def test_a_revoked_signer_is_reported_revoked(
    pki_services: PkiServices,
    role_signers: dict[str, LoadedKeySigner],
    trust_roots: tuple[x509.Certificate, ...],
) -> None:
    # Made with plain pyhanko (B-T, no validation data), as a careless tool would.
    writer = IncrementalPdfFileWriter(BytesIO(make_year_page_pdf()))
    meta = signers.PdfSignatureMetadata(
        field_name="homeroom_teacher", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = await signers.PdfSigner(
        meta, role_signers["revoked_teacher"], timestamper=HTTPTimeStamper(pki_services.tsa_url)
    ).async_sign_pdf(writer, existing_fields_only=True)
    pdf = out.getvalue()
    offline = await verify_pdf(pdf, trust_roots, online=False)
    assert offline.signatures[0].revocation == "unknown"
    assert offline.level == "B-T"
    online = await verify_pdf(pdf, trust_roots, online=True)
    sig = online.signatures[0]
    assert sig.revocation == "revoked" and sig.revocation_source == "online"
    assert not online.valid


async def test_unreachable_revocation_service_gives_unknown_not_invalid(tmp_path: Path) -> None:
    # A PKI served only while signing (B-T, no validation data), then shut down: the online
    # check cannot reach its OCSP responder or CRL.
    other = build_dev_pki(tmp_path, port=free_port())
    signer = load_pkcs12_signer(Pkcs12Config(other.p12("principal"), other.p12_passphrase))
    writer = IncrementalPdfFileWriter(BytesIO(make_year_page_pdf()))
    meta = signers.PdfSignatureMetadata(
        field_name="principal", subfilter=fields.SigSeedSubFilter.PADES
    )
    with serve_dev_pki(other) as served:
        out = await signers.PdfSigner(
            meta, signer, timestamper=HTTPTimeStamper(served.tsa_url)
        ).async_sign_pdf(writer, existing_fields_only=True)
    report = await verify_pdf(out.getvalue(), load_trust_roots([other.root_cert]), online=True)
    sig = report.signatures[0]
    assert sig.revocation == "unknown" and sig.intact
    assert sig.trust_anchor is not None and "Hocba Dev Root CA" in sig.trust_anchor
    assert report.valid and not report.complete, json.dumps(report.to_json(), ensure_ascii=False)


async def test_a_change_beyond_the_lock_breaks_the_earlier_signature(
    services: SigningServices, role_signers: dict[str, LoadedKeySigner]
) -> None:
    pdf = (
        await sign_field(
            make_year_page_pdf(),
            "homeroom_teacher",
            role_signers["homeroom_teacher"],
            services,
            reason="x",
            appearance_text="Giáo viên chủ nhiệm",
        )
    ).pdf
    # An incremental update that rewrites the page content, as a careless tool might.
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    changed = page["/Contents"].data.replace(b"HOC BA SO", b"HOC BA XX")
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=changed))
    writer.mark_update(page_ref)
    out = BytesIO()
    writer.write(out)
    with pytest.raises(EarlierSignatureBroken) as caught:
        await sign_field(
            out.getvalue(),
            "principal",
            role_signers["principal"],
            services,
            reason="x",
            appearance_text="Hiệu trưởng",
        )
    assert caught.value.field_name == "homeroom_teacher"


async def test_unknown_and_already_signed_fields_are_refused(
    services: SigningServices, role_signers: dict[str, LoadedKeySigner], signed_pdf: bytes
) -> None:
    with pytest.raises(UnknownSignatureField):
        await sign_field(
            make_year_page_pdf(), "vice_principal", role_signers["principal"], services,
            reason="x", appearance_text="x",
        )  # fmt: skip
    with pytest.raises(FieldAlreadySigned):
        await sign_field(
            signed_pdf, "principal", role_signers["principal"], services,
            reason="x", appearance_text="x",
        )  # fmt: skip


def test_cli_verify_exit_codes(signed_pdf: bytes, dev_pki: DevPki, tmp_path: Path) -> None:
    from services.cli import main

    good = tmp_path / "good.pdf"
    good.write_bytes(signed_pdf)
    bad = tmp_path / "bad.pdf"
    position = signed_pdf.index(b"HOC BA SO")
    bad.write_bytes(signed_pdf[:position] + b"J" + signed_pdf[position + 1 :])
    trust = ["--trust", str(dev_pki.root_cert)]
    assert main(["verify", str(good), *trust]) == 0
    assert main(["verify", str(good), "--json", *trust]) == 0
    assert main(["verify", str(bad), *trust]) == 1
    assert main(["verify", str(tmp_path / "missing.pdf"), *trust]) == 2
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_bytes(b"hello")
    assert main(["verify", str(not_pdf), *trust]) == 2


def test_certificates_are_rebuilt_identically_when_served(dev_pki: DevPki) -> None:
    # serve_dev_pki reloads the configuration; the served CA must be the one on disk.
    assert replace(dev_pki).cert_pem("principal").exists()


def _updated(pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    """``pdf`` with one more revision, made by pyhanko's general writer."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _new_signature_field(writer: IncrementalPdfFileWriter) -> None:
    fields.append_signature_field(
        writer, fields.SigFieldSpec("vice_principal", box=(10, 10, 100, 40))
    )


def _document_info(writer: IncrementalPdfFileWriter) -> None:
    writer.trailer["/Info"]["/Subject"] = generic.pdf_string("Học bạ (sửa thông tin)")
    writer.update_container(writer.trailer["/Info"])


def _retitled_field(writer: IncrementalPdfFileWriter) -> None:
    form_fields = writer.root["/AcroForm"]["/Fields"]
    teacher = form_fields[0]
    teacher["/TU"] = generic.pdf_string("Người ký khác")
    writer.mark_update(form_fields.raw_get(0))


def test_the_revision_check_passes_the_platforms_own_pages(signed_pdf: bytes) -> None:
    assert check_revisions(open_document(signed_pdf)) == 4
    assert check_revisions(open_document(make_year_page_pdf())) == 0


@pytest.mark.parametrize(
    ("change", "allowed"),
    [(_new_signature_field, False), (_retitled_field, False), (_document_info, True)],
    ids=["signature field added after the seal", "signed field changed", "metadata changed"],
)
def test_the_revision_check_and_pyhanko_agree_on_changes_after_the_seal(
    signed_pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None], allowed: bool
) -> None:
    changed = _updated(signed_pdf, change)
    if allowed:
        assert check_revisions(open_document(changed)) == 4
        assert check_earlier_signatures(changed).checked == 4
        return
    with pytest.raises(EarlierSignatureBroken):
        check_revisions(open_document(changed))
    with pytest.raises(EarlierSignatureBroken):
        check_earlier_signatures(changed)


def test_the_revision_check_refuses_a_changed_byte(
    signed_pdf: bytes,
) -> None:
    position = signed_pdf.index(b"HOC BA SO")
    with pytest.raises(EarlierSignatureBroken, match="digest mismatch") as caught:
        check_revisions(open_document(signed_pdf[:position] + b"J" + signed_pdf[position + 1 :]))
    assert caught.value.field_name == "homeroom_teacher"
