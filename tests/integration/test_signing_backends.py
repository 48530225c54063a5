"""The signer back-ends against real key stores: PKCS#12 file, SoftHSM2 token, CSC service.

Each back-end signs a year page through ``open_signer`` + ``sign_field`` (PAdES B-LT against the
served dev PKI) and the result verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509

from services.signing.backends import CscConfig, Pkcs11Config, Pkcs12Config, open_signer
from services.signing.csc_testserver import (
    DEFAULT_PIN,
    DEFAULT_TOKEN,
    CscCredential,
    run_csc_test_server,
)
from services.signing.devpki import DevPki
from services.signing.errors import SignerUnavailable
from services.signing.pades import SigningServices, sign_field
from services.signing.softhsm import SoftHsmToken, provision_softhsm_token
from services.verification import verify_pdf
from tests.integration import test_signing_pades as _pades
from tests.unit.test_signing_fixtures import make_year_page_pdf

pytestmark = pytest.mark.integration

# The served dev PKI and signing services of the PAdES tests, shared as fixtures here.
dev_pki = _pades.dev_pki
pki_services = _pades.pki_services
services = _pades.services
trust_roots = _pades.trust_roots


async def _sign_and_verify(
    config: Pkcs12Config | Pkcs11Config | CscConfig,
    services: SigningServices,
    trust_roots: tuple[x509.Certificate, ...],
    field: str,
    expected_signer: str,
) -> None:
    async with open_signer(config) as signer:
        pdf = (
            await sign_field(
                make_year_page_pdf(),
                field,
                signer,
                services,
                reason="Ký thử",
                appearance_text="Thử nghiệm",
            )
        ).pdf
    report = await verify_pdf(pdf, trust_roots, online=False)
    (sig,) = report.signatures
    assert sig.valid and sig.revocation == "good", report.to_json()
    assert sig.signer_name == expected_signer
    assert report.level == "B-LT"


async def test_pkcs12_file(
    dev_pki: DevPki, services: SigningServices, trust_roots: tuple[x509.Certificate, ...]
) -> None:
    config = Pkcs12Config(dev_pki.p12("homeroom_teacher"), dev_pki.p12_passphrase)
    await _sign_and_verify(
        config, services, trust_roots, "homeroom_teacher", "Nguyễn Thị Lan (GVCN)"
    )


async def test_pkcs12_wrong_passphrase_is_signer_unavailable(dev_pki: DevPki) -> None:
    with pytest.raises(SignerUnavailable, match="wrong passphrase"):
        async with open_signer(Pkcs12Config(dev_pki.p12("principal"), b"nope")):
            pass


@pytest.fixture(scope="module")
def softhsm_token(dev_pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> SoftHsmToken:
    return provision_softhsm_token(
        tmp_path_factory.mktemp("softhsm"), dev_pki, ["principal", "school_seal"]
    )


async def test_pkcs11_softhsm_token(
    softhsm_token: SoftHsmToken,
    dev_pki: DevPki,
    services: SigningServices,
    trust_roots: tuple[x509.Certificate, ...],
) -> None:
    config = Pkcs11Config(
        module=softhsm_token.module,
        token_label=softhsm_token.label,
        key_label="principal",
        pin=softhsm_token.pin,
        chain_files=dev_pki.chain,
    )
    await _sign_and_verify(
        config, services, trust_roots, "principal", "Trần Văn Minh (Hiệu trưởng)"
    )


async def test_pkcs11_wrong_pin_is_signer_unavailable(softhsm_token: SoftHsmToken) -> None:
    config = Pkcs11Config(
        module=softhsm_token.module,
        token_label=softhsm_token.label,
        key_label="principal",
        pin="000000",
    )
    with pytest.raises(SignerUnavailable):
        async with open_signer(config):
            pass


@pytest.fixture
def csc_credential(dev_pki: DevPki) -> Iterator[CscCredential]:
    yield CscCredential.from_dev_pki(dev_pki, "school_seal", scal=2)


async def test_csc_remote_signing(
    csc_credential: CscCredential,
    services: SigningServices,
    trust_roots: tuple[x509.Certificate, ...],
) -> None:
    async with run_csc_test_server(csc_credential) as base_url:
        config = CscConfig(base_url, "school_seal", bearer_token=DEFAULT_TOKEN, pin=DEFAULT_PIN)
        await _sign_and_verify(
            config, services, trust_roots, "school_seal", "Trường Tiểu học Lê Văn Tám (con dấu)"
        )


async def test_csc_wrong_token_and_wrong_pin(
    csc_credential: CscCredential, services: SigningServices
) -> None:
    async with run_csc_test_server(csc_credential) as base_url:
        with pytest.raises(SignerUnavailable, match="HTTP 401"):
            async with open_signer(CscConfig(base_url, "school_seal", bearer_token="wrong")):
                pass
        config = CscConfig(base_url, "school_seal", bearer_token=DEFAULT_TOKEN, pin="999999")
        async with open_signer(config) as signer:
            # pyhanko logs the refused authorisation and raises "no signing results".
            with pytest.raises(SignerUnavailable):
                await sign_field(
                    make_year_page_pdf(), "school_seal", signer, services,
                    reason="x", appearance_text="x",
                )  # fmt: skip


def test_registry_backend_objects_become_configs(tmp_path: Path) -> None:
    from services.signing.backends import config_from_mapping

    env = {"P12_PASS": "secret", "PIN": "1234", "CSC_TOKEN": "tok"}
    p12 = config_from_mapping(
        {"kind": "pkcs12", "file": "/x.p12", "passphrase_env": "P12_PASS"}, env
    )
    assert p12 == Pkcs12Config(Path("/x.p12"), b"secret")
    hsm = config_from_mapping(
        {
            "kind": "pkcs11",
            "module": "/m.so",
            "token_label": "t",
            "key_label": "k",
            "pin_env": "PIN",
        },
        env,
    )
    assert isinstance(hsm, Pkcs11Config) and hsm.pin == "1234"
    csc = config_from_mapping(
        {"kind": "csc", "service_url": "http://h", "credential_id": "c", "token_env": "CSC_TOKEN"},
        env,
    )
    assert isinstance(csc, CscConfig) and csc.bearer_token == "tok"
    with pytest.raises(SignerUnavailable, match="not set"):
        config_from_mapping({"kind": "pkcs12", "file": "/x", "passphrase_env": "MISSING"}, env)
    with pytest.raises(SignerUnavailable, match="unknown signer backend"):
        config_from_mapping({"kind": "smartcard"}, env)
