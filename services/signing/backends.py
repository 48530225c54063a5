"""Signer back-ends behind one interface (nơi giữ khoá ký): PKCS#12, PKCS#11, CSC.

``open_signer(config)`` is an async context manager giving a pyhanko ``Signer`` for any
back-end; it closes the PKCS#11 session or the CSC HTTP session on exit. Open it once per
process (or per worker) and sign many documents with it::

    async with open_signer(Pkcs12Config(Path("lan.p12"), b"passphrase")) as signer:
        signed = await sign_field(pdf, "homeroom_teacher", signer, services, ...)

* :class:`Pkcs12Config`: a PKCS#12 file (development, small deployments). The key is parsed once
  into a ``cryptography`` key object: pyhanko's ``SimpleSigner`` re-parses it from DER on every
  signature (≈ 27 ms for RSA-2048, twice per signature counting the size estimate).
* :class:`Pkcs11Config`: a token or HSM through its PKCS#11 module (SoftHSM2 in tests). Only the
  signer's own certificates are read from the token (``other_certs_to_pull=()``: pulling every
  certificate on a shared token embeds strangers' certificates in each signature); ECDSA keys use
  the raw mechanism (the token signs a digest computed here).
* :class:`CscConfig`: a remote signing service speaking the Cloud Signature Consortium API v1
  (``credentials/info``, ``credentials/authorize``, ``signatures/signHash``) with a bearer token,
  and a PIN per authorisation when the credential asks for one.

``config_from_mapping`` reads the ``backend`` object of the signer registry file (secrets are
named by environment variable there, never written).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from services.signing.errors import SignerUnavailable

__all__ = [
    "CscConfig",
    "LoadedKeySigner",
    "Pkcs11Config",
    "Pkcs12Config",
    "SignerConfig",
    "config_from_mapping",
    "open_signer",
]


@dataclass(frozen=True)
class Pkcs12Config:
    """A PKCS#12 (.p12/.pfx) file with the key, the certificate and usually its chain."""

    file: Path
    passphrase: bytes | None = field(default=None, repr=False)
    #: CA certificates to add when the file does not carry the chain (PEM/DER files).
    chain_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Pkcs11Config:
    """A key on a PKCS#11 token or HSM, found by token label and key label."""

    module: Path
    token_label: str
    key_label: str
    pin: str = field(repr=False)
    #: Label of the certificate on the token (default: the key label) ...
    cert_label: str | None = None
    #: ... or the certificate as a file, when the token holds only the key.
    cert_file: Path | None = None
    #: CA certificates to embed (PEM/DER files); never pulled from the token.
    chain_files: tuple[Path, ...] = ()
    #: Sign a digest computed here (needed for ECDSA keys on most tokens, SoftHSM included).
    use_raw_mechanism: bool = False


@dataclass(frozen=True)
class CscConfig:
    """A credential on a remote CSC (Cloud Signature Consortium API v1) signing service."""

    service_url: str
    credential_id: str
    bearer_token: str = field(repr=False)
    pin: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0


SignerConfig = Pkcs12Config | Pkcs11Config | CscConfig


class LoadedKeySigner(signers.SimpleSigner):
    """A ``SimpleSigner`` that keeps its private key parsed (RSA PKCS#1 v1.5 and ECDSA).

    Other mechanisms (PSS, EdDSA, …) fall back to pyhanko's implementation.
    """

    def __init__(
        self,
        signing_cert: x509.Certificate,
        private_key: RSAPrivateKey | EllipticCurvePrivateKey,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        super().__init__(
            signing_cert=signing_cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=cert_registry,
        )
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algorithm = mechanism.signature_algo
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        key = self._private_key
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), hash_algo)
        if algorithm == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(hash_algo))
        return super().sign_raw(data, digest_algorithm)


def _load_chain(files: Iterable[Path]) -> list[x509.Certificate]:
    try:
        return list(load_certs_from_pemder([str(f) for f in files]))  # type: ignore[no-untyped-call]  # unannotated in pyhanko
    except (OSError, ValueError) as exc:
        raise SignerUnavailable(f"cannot read CA certificates: {exc}") from exc


def load_pkcs12_signer(config: Pkcs12Config) -> LoadedKeySigner:
    """Parse a PKCS#12 file once into a :class:`LoadedKeySigner`."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        data = config.file.read_bytes()
        key, cert, extra = pkcs12.load_key_and_certificates(data, config.passphrase)
    except OSError as exc:
        raise SignerUnavailable(f"cannot read {config.file}: {exc.strerror}") from exc
    except ValueError as exc:
        # cryptography says ValueError for a wrong passphrase and for a corrupt file alike.
        raise SignerUnavailable(f"{config.file}: wrong passphrase or not PKCS#12") from exc
    if not isinstance(key, RSAPrivateKey | EllipticCurvePrivateKey) or cert is None:
        raise SignerUnavailable(f"{config.file}: needs an RSA or EC key and its certificate")
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # unannotated in certvalidator
    store.register_multiple(
        [x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
    )
    store.register_multiple(_load_chain(config.chain_files))
    signing_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return LoadedKeySigner(signing_cert, key, store)


@asynccontextmanager
async def _open_pkcs11(config: Pkcs11Config) -> AsyncIterator[signers.Signer]:
    from pkcs11 import PKCS11Error
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    try:
        session = open_pkcs11_session(
            str(config.module),
            token_criteria=TokenCriteria(label=config.token_label),
            user_pin=config.pin,
        )
    except (PKCS11Error, PyhankoSigningError, OSError, RuntimeError) as exc:
        raise SignerUnavailable(
            f"cannot open PKCS#11 token {config.token_label!r} with {config.module}: "
            f"{type(exc).__name__}: {exc}",
            retriable=True,
        ) from exc
    try:
        signing_cert = None
        if config.cert_file is not None:
            certs = _load_chain([config.cert_file])
            if not certs:
                raise SignerUnavailable(f"{config.cert_file} holds no certificate")
            signing_cert = certs[0]
        signer = PKCS11Signer(
            session,
            cert_label=None if signing_cert else (config.cert_label or config.key_label),
            signing_cert=signing_cert,
            key_label=config.key_label,
            ca_chain=_load_chain(config.chain_files),
            other_certs_to_pull=(),
            use_raw_mechanism=config.use_raw_mechanism,
        )
        try:
            # Fail here, at start-up, when the certificate or key is missing, not at the first
            # signature.
            _ = signer.signing_cert
        except (PKCS11Error, PyhankoSigningError) as exc:
            raise SignerUnavailable(
                f"token {config.token_label!r} has no certificate/key {config.key_label!r}: {exc}"
            ) from exc
        yield signer
    finally:
        session.close()


class _PinAuthorizationManager(CSCAuthorizationManager):
    """Asks ``credentials/authorize`` for a SAD per signature, with the PIN if configured.

    Hashes are sent (pinned) when the credential's SCAL is 2, as the CSC spec requires.
    """

    def __init__(
        self,
        session_info: CSCServiceSessionInfo,
        credential_info: Any,
        http: aiohttp.ClientSession,
        pin: str | None,
        timeout: float,
    ) -> None:
        super().__init__(session_info, credential_info)
        self._http = http
        self._pin = pin
        self._timeout = timeout

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        pinned = self.credential_info.hash_pinning_required
        body = self.format_csc_auth_request(
            num_signatures=len(hash_b64s),
            pin=self._pin,
            hash_b64s=hash_b64s if pinned else None,
        )
        url = self.csc_session_info.endpoint_url("credentials/authorize")  # type: ignore[no-untyped-call]  # unannotated in pyhanko
        try:
            async with self._http.post(
                url,
                json=body,
                headers=self.auth_headers,
                raise_for_status=True,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                data = await response.json()
        except aiohttp.ClientResponseError as exc:
            raise PyhankoSigningError(f"CSC authorisation refused: HTTP {exc.status}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PyhankoSigningError(f"CSC authorisation failed: {exc}") from exc
        return self.parse_csc_auth_response(data)


@asynccontextmanager
async def _open_csc(config: CscConfig) -> AsyncIterator[signers.Signer]:
    info = CSCServiceSessionInfo(
        service_url=config.service_url.rstrip("/"),
        credential_id=config.credential_id,
        oauth_token=config.bearer_token,
    )
    async with aiohttp.ClientSession() as http:
        try:
            credential = await fetch_certs_in_csc_credential(
                http, info, timeout=int(config.timeout_seconds)
            )
        except PyhankoSigningError as exc:
            cause = exc.__cause__
            status = getattr(cause, "status", None)
            raise SignerUnavailable(
                f"CSC credential {config.credential_id!r} at {config.service_url}: {exc}"
                + (f" (HTTP {status})" if status else ""),
                retriable=status is None or status >= 500,
            ) from exc
        manager = _PinAuthorizationManager(
            info, credential, http, config.pin, config.timeout_seconds
        )
        yield CSCSigner(http, manager, sign_timeout=int(config.timeout_seconds))


@asynccontextmanager
async def open_signer(config: SignerConfig) -> AsyncIterator[signers.Signer]:
    """A pyhanko signer for ``config``; resources (token session, HTTP session) close on exit.

    Raises :class:`SignerUnavailable` when the key store cannot be opened.
    """
    if isinstance(config, Pkcs12Config):
        yield load_pkcs12_signer(config)
    elif isinstance(config, Pkcs11Config):
        async with _open_pkcs11(config) as signer:
            yield signer
    else:
        async with _open_csc(config) as signer:
            yield signer


def _secret(backend: Mapping[str, Any], key: str, env: Mapping[str, str]) -> str | None:
    name = backend.get(key)
    if name is None:
        return None
    if not isinstance(name, str) or name not in env:
        raise SignerUnavailable(f"backend {key}: environment variable {name!r} is not set")
    return env[name]


def config_from_mapping(
    backend: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> SignerConfig:
    """A config from the signer registry's ``backend`` object (secrets named by env variable).

    ``{"kind": "pkcs12", "file": ..., "passphrase_env": ..., "chain": [...]}``;
    ``{"kind": "pkcs11", "module": ..., "token_label": ..., "key_label": ..., "pin_env": ...,
    "cert_label" | "cert_file": ..., "chain": [...], "raw_mechanism": bool}``;
    ``{"kind": "csc", "service_url": ..., "credential_id": ..., "token_env": ..., "pin_env": ...}``.
    """
    env = os.environ if env is None else env
    kind = backend.get("kind")
    try:
        chain = tuple(Path(p) for p in backend.get("chain", ()))
        if kind == "pkcs12":
            passphrase = _secret(backend, "passphrase_env", env)
            return Pkcs12Config(
                Path(backend["file"]),
                passphrase.encode() if passphrase is not None else None,
                chain,
            )
        if kind == "pkcs11":
            pin = _secret(backend, "pin_env", env)
            if pin is None:
                raise SignerUnavailable("pkcs11 backend needs pin_env")
            cert_file = backend.get("cert_file")
            return Pkcs11Config(
                module=Path(backend["module"]),
                token_label=str(backend["token_label"]),
                key_label=str(backend["key_label"]),
                pin=pin,
                cert_label=backend.get("cert_label"),
                cert_file=Path(cert_file) if cert_file else None,
                chain_files=chain,
                use_raw_mechanism=bool(backend.get("raw_mechanism", False)),
            )
        if kind == "csc":
            token = _secret(backend, "token_env", env)
            if token is None:
                raise SignerUnavailable("csc backend needs token_env")
            return CscConfig(
                service_url=str(backend["service_url"]),
                credential_id=str(backend["credential_id"]),
                bearer_token=token,
                pin=_secret(backend, "pin_env", env),
            )
    except KeyError as exc:
        raise SignerUnavailable(f"{kind} backend: {exc.args[0]} is required") from exc
    raise SignerUnavailable(f"unknown signer backend kind {kind!r}: pkcs12, pkcs11 or csc")
