"""The served dev PKI: its RFC 3161 TSA, OCSP from a child process, starting and stopping.

The TSA is the module's own responder (not certomancer's): its tokens must validate with pyhanko
and survive a PDF signature that pdfsig checks; bad requests get a rejection, never HTTP 500.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from asn1crypto import algos, cms, ocsp, pem, tsp, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen.canvas import Canvas

from services.signing.devpki import (
    DEV_TSA_POLICY,
    DevPki,
    PkiServices,
    main,
    serve_dev_pki,
)
from services.signing.errors import DevPkiError
from tests.integration import test_signing_pades as _pades

pytestmark = pytest.mark.integration

IMPRINT = hashlib.sha256(b"hoc ba so").digest()


class _TimeStampResp(tsp.TimeStampResp):
    """RFC 3161's TimeStampResp, whose token is OPTIONAL (absent from a rejection).

    asn1crypto 1.5.1 requires it and cannot read a rejection (wbond/asn1crypto#286).
    """

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


# The dev PKI of the PAdES tests, built and served once per module, shared as fixtures here.
dev_pki = _pades.dev_pki
served = _pades.pki_services


def _load_cert(path: Path) -> x509.Certificate:
    return x509.Certificate.load(pem.unarmor(path.read_bytes())[2])


def _request(
    algorithm: str = "sha256",
    digest: bytes = IMPRINT,
    *,
    nonce: int | None = 0x5EED,
    cert_req: bool = True,
    policy: str | None = None,
    **more: Any,
) -> bytes:
    values: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
        **more,
    }
    if nonce is not None:
        values["nonce"] = nonce
    if policy is not None:
        values["req_policy"] = policy
    return bytes(tsp.TimeStampReq(values).dump())


def _post(url: str, body: bytes, content_type: str) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def _stamp(url: str, request: bytes) -> _TimeStampResp:
    status, content_type, body = _post(url, request, "application/timestamp-query")
    assert (status, content_type) == (200, "application/timestamp-reply")
    return _TimeStampResp.load(body)


def _tst_info(response: _TimeStampResp) -> tsp.TSTInfo:
    assert response["status"]["status"].native == "granted"
    return response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed


def test_a_token_carries_what_rfc_3161_asks(served: PkiServices, dev_pki: DevPki) -> None:
    before = datetime.now(UTC)
    response = _stamp(served.tsa_url, _request())
    der = response.dump()
    # Hand-assembled, yet DER: asn1crypto re-encodes it from its parts (the TSTInfo parsed too)
    # to the same bytes.
    again = _TimeStampResp.load(der)
    assert isinstance(_tst_info(again), tsp.TSTInfo)
    assert again.dump(force=True) == der
    token = response["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    signed_data = token["content"]
    assert signed_data["version"].native == "v3"
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    info = _tst_info(response)
    assert info["version"].native == "v1"
    assert info["policy"].native == DEV_TSA_POLICY
    assert info["message_imprint"].native == {
        "hash_algorithm": {"algorithm": "sha256", "parameters": None},
        "hashed_message": IMPRINT,
    }
    assert info["nonce"].native == 0x5EED
    assert before - timedelta(seconds=1) <= info["gen_time"].native <= datetime.now(UTC)
    tsa_cert = _load_cert(dev_pki.cert_file("tsa"))
    assert info["tsa"].chosen == tsa_cert.subject
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [tsa_cert.dump()]

    (signer_info,) = signed_data["signer_infos"]
    assert signer_info["sid"].chosen["serial_number"].native == tsa_cert.serial_number
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert signer_info["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attrs["content_type"].native == "tst_info"
    tst_info_der = signed_data["encap_content_info"]["content"].contents
    assert attrs["message_digest"].native == hashlib.sha256(tst_info_der).digest()
    (ess,) = attrs["signing_certificate_v2"]["certs"]
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(tsa_cert.dump()).digest()


async def test_pyhanko_validates_a_token_and_its_tsa_chain(
    served: PkiServices, dev_pki: DevPki
) -> None:
    # Hard-fail revocation: the TSA certificate's CRL comes from the same server.
    context = ValidationContext(
        trust_roots=[_load_cert(dev_pki.root_cert)],
        allow_fetching=True,
        revocation_mode="hard-fail",
    )
    token = await HTTPTimeStamper(served.tsa_url).async_timestamp(IMPRINT, "sha256")
    status = await validate_tst_signed_data(token["content"], context, lambda _: IMPRINT)
    assert status["intact"] and status["valid"], status
    assert status["trust_problem_indic"] is None, status
    assert status["signing_cert"].subject.native["common_name"].startswith("Hocba Dev Time")


def test_serials_differ_and_the_certificate_is_sent_only_when_asked(served: PkiServices) -> None:
    serials = {_tst_info(_stamp(served.tsa_url, _request()))["serial_number"].native}
    without = _stamp(served.tsa_url, _request("sha512", bytes(64), nonce=None, cert_req=False))
    info = _tst_info(without)
    serials.add(info["serial_number"].native)
    assert len(serials) == 2
    assert info["nonce"].native is None
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"
    assert without["time_stamp_token"]["content"]["certificates"].native is None


def test_concurrent_clients_get_distinct_serials(served: PkiServices) -> None:
    found: list[int] = []

    def client() -> None:
        parts = urlsplit(served.tsa_url)
        connection = http.client.HTTPConnection(parts.netloc, timeout=10)
        for nonce in range(25):
            connection.request("POST", parts.path, body=_request(nonce=nonce))
            response = _TimeStampResp.load(connection.getresponse().read())
            info = _tst_info(response)
            assert info["nonce"].native == nonce
            found.append(info["serial_number"].native)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == len(set(found)) == 100


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (_request("sha1", bytes(20)), "bad_alg"),
        (_request("md5", bytes(16)), "bad_alg"),
        (_request("sha256", bytes(20)), "bad_data_format"),
        (b"\x30\x03\x02\x01", "bad_data_format"),
        (b"not a request", "bad_data_format"),
        (b"", "bad_data_format"),
        (_request(policy="1.2.3.4"), "unaccepted_policy"),
        (_request(version=2), "bad_request"),
        (
            _request(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"x"}]),
            "unaccepted_extensions",
        ),
    ],
)
def test_bad_requests_are_rejected_with_a_fail_info(
    served: PkiServices, request_der: bytes, fail_info: str
) -> None:
    status = _stamp(served.tsa_url, request_der)["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {fail_info}
    assert status["status_string"].native


def test_the_policy_the_tsa_issues_may_be_requested(served: PkiServices) -> None:
    info = _tst_info(_stamp(served.tsa_url, _request(policy=DEV_TSA_POLICY)))
    assert info["policy"].native == DEV_TSA_POLICY


def test_an_unknown_tsa_is_not_found(served: PkiServices) -> None:
    status, _, _ = _post(served.base_url + "/tsa/other", _request(), "application/timestamp-query")
    assert status == 404


async def test_a_pdf_signed_against_the_tsa_validates_with_pyhanko_and_pdfsig(
    served: PkiServices, dev_pki: DevPki, tmp_path: Path
) -> None:
    page = BytesIO()
    canvas = Canvas(page)
    canvas.drawString(72, 720, "HOC BA SO")
    canvas.save()
    signer = signers.SimpleSigner.load_pkcs12(
        dev_pki.p12("principal"), passphrase=dev_pki.p12_passphrase
    )
    assert signer is not None
    meta = signers.PdfSignatureMetadata(
        field_name="principal", subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = IncrementalPdfFileWriter(BytesIO(page.getvalue()))
    out = await signers.PdfSigner(
        meta, signer, timestamper=HTTPTimeStamper(served.tsa_url)
    ).async_sign_pdf(writer)
    signed = out.getvalue()

    context = ValidationContext(trust_roots=[_load_cert(dev_pki.root_cert)], allow_fetching=True)
    (embedded,) = PdfFileReader(BytesIO(signed)).embedded_signatures
    status = await async_validate_pdf_signature(
        embedded, signer_validation_context=context, ts_validation_context=context
    )
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    if shutil.which("pdfsig") is None:
        pytest.fail("pdfsig (poppler-utils) is required for this test")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    result = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60
    )
    assert "Signature Validation: Signature is Valid." in result.stdout, result.stdout


def _ocsp_status(url: str, dev_pki: DevPki, role: str) -> str:
    cert = _load_cert(dev_pki.cert_pem(role))
    issuer = _load_cert(dev_pki.cert_file("interm"))
    request = ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [
                    {
                        "req_cert": {
                            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
                            "issuer_name_hash": issuer.subject.sha1,
                            "issuer_key_hash": issuer.public_key.sha1,
                            "serial_number": cert.serial_number,
                        }
                    }
                ]
            }
        }
    )
    status, content_type, body = _post(url, request.dump(), "application/ocsp-request")
    assert (status, content_type) == (200, "application/ocsp-response")
    basic = ocsp.OCSPResponse.load(body)["response_bytes"]["response"].parsed
    return str(basic["tbs_response_data"]["responses"][0]["cert_status"].name)


def test_a_child_process_serves_tsa_ocsp_and_crls_then_stops(dev_pki: DevPki) -> None:
    with serve_dev_pki(dev_pki, port=0, in_process=False) as child:
        info = _tst_info(_stamp(child.tsa_url, _request(nonce=7)))
        assert info["nonce"].native == 7
        # OCSP still comes from certomancer's configuration, revocation included.
        assert _ocsp_status(child.ocsp_url, dev_pki, "revoked_teacher") == "revoked"
        assert _ocsp_status(child.ocsp_url, dev_pki, "principal") == "good"
        parts = urlsplit(child.crl_url)
        connection = http.client.HTTPConnection(parts.netloc, timeout=10)
        connection.request("GET", parts.path)
        assert connection.getresponse().status == 200
        connection.close()
        address = parts.hostname, parts.port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(address, timeout=5):
        pass


def test_a_child_that_cannot_listen_raises_dev_pki_error(dev_pki: DevPki) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (
            pytest.raises(DevPkiError, match="cannot listen"),
            serve_dev_pki(dev_pki, port=port, in_process=False),
        ):
            pass


def test_serve_command_reports_a_missing_pki(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", str(tmp_path)]) == 1
    assert "holds no built dev PKI" in json.loads(capsys.readouterr().out)["error"]
