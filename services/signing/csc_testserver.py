"""A minimal CSC (Cloud Signature Consortium API v1) signing service for tests and local runs.

It implements exactly what pyhanko's ``CSCSigner`` calls, for one credential backed by a
dev PKI key: ``credentials/info``, ``credentials/authorize`` (PIN check, SAD for N signatures,
hash pinning when SCAL 2) and ``signatures/signHash`` (RSA PKCS#1 v1.5 or ECDSA over the
given digests). Every call needs ``Authorization: Bearer <token>``. Not for production: keys are
in memory and state is lost on restart.

Shortest use::

    async with run_csc_test_server(CscCredential.from_dev_pki(pki, "principal")) as base_url:
        config = CscConfig(base_url, "principal", bearer_token=TOKEN, pin=PIN)
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from asn1crypto import algos, pem  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from services.signing.devpki import DevPki

__all__ = ["DEFAULT_PIN", "DEFAULT_TOKEN", "CscCredential", "build_app", "run_csc_test_server"]

DEFAULT_TOKEN = "hocba-dev-csc-token"
DEFAULT_PIN = "123456"
_SAD_SECONDS = 300
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


@dataclass(frozen=True)
class CscCredential:
    """One signing credential: its id, key, certificate chain (DER, signer first) and PIN."""

    credential_id: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain_der: tuple[bytes, ...]
    pin: str = DEFAULT_PIN
    #: 2 = SAD bound to the hashes sent to credentials/authorize (CSC "SCAL2").
    scal: int = 1

    @classmethod
    def from_dev_pki(cls, pki: DevPki, role: str, *, scal: int = 1) -> CscCredential:
        """The credential of a dev PKI role (credential id = role)."""
        key = serialization.load_pem_private_key(pki.key_pem(role).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"{role}: unsupported key type {type(key).__name__}")
        chain = [pki.cert_pem(role), *pki.chain]
        der = tuple(pem.unarmor(p.read_bytes())[2] for p in chain)
        return cls(role, key, der, scal=scal)

    @property
    def algorithm_oids(self) -> list[str]:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            names = ["sha256_rsa", "sha384_rsa", "sha512_rsa"]
        else:
            names = ["sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"]
        return [algos.SignedDigestAlgorithmId(n).dotted for n in names]


@dataclass
class _Sad:
    credential_id: str
    remaining: int
    expires: float
    hashes: frozenset[str] | None


@dataclass
class _State:
    credentials: dict[str, CscCredential]
    token: str
    sads: dict[str, _Sad] = field(default_factory=dict)
    sign_calls: int = 0


_STATE: web.AppKey[_State] = web.AppKey("csc_state", _State)


def _error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def _body(request: web.Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _authorised(request: web.Request, state: _State) -> bool:
    header = request.headers.get("Authorization", "")
    return secrets.compare_digest(header, f"Bearer {state.token}")


def build_app(credentials: list[CscCredential], token: str = DEFAULT_TOKEN) -> web.Application:
    """The aiohttp application (routes under ``/csc/v1/``)."""
    state = _State({c.credential_id: c for c in credentials}, token)
    app = web.Application()
    app[_STATE] = state

    async def info(request: web.Request) -> web.Response:
        if not _authorised(request, state):
            return _error(401, "invalid_token", "missing or wrong bearer token")
        body = await _body(request)
        credential = state.credentials.get(str((body or {}).get("credentialID")))
        if credential is None:
            return _error(400, "invalid_request", "unknown credentialID")
        return web.json_response(
            {
                "key": {"status": "enabled", "algo": credential.algorithm_oids},
                "cert": {
                    "status": "valid",
                    "certificates": [base64.b64encode(c).decode() for c in credential.chain_der],
                },
                "authMode": "explicit",
                "PIN": {"presence": "true", "format": "N"},
                "SCAL": str(credential.scal),
                "multisign": 10,
            }
        )

    async def authorize(request: web.Request) -> web.Response:
        if not _authorised(request, state):
            return _error(401, "invalid_token", "missing or wrong bearer token")
        body = await _body(request) or {}
        credential = state.credentials.get(str(body.get("credentialID")))
        if credential is None:
            return _error(400, "invalid_request", "unknown credentialID")
        if not secrets.compare_digest(str(body.get("PIN", "")), credential.pin):
            return _error(400, "invalid_pin", "wrong PIN")
        count = body.get("numSignatures")
        if not isinstance(count, int) or count < 1:
            return _error(400, "invalid_request", "numSignatures must be a positive integer")
        pinned = body.get("hash")
        if credential.scal == 2 and not isinstance(pinned, list):
            return _error(400, "invalid_request", "SCAL2 credential: hashes are required")
        sad = secrets.token_urlsafe(24)
        state.sads[sad] = _Sad(
            credential.credential_id,
            count,
            time.monotonic() + _SAD_SECONDS,
            frozenset(map(str, pinned)) if isinstance(pinned, list) else None,
        )
        return web.json_response({"SAD": sad, "expiresIn": _SAD_SECONDS})

    async def sign_hash(request: web.Request) -> web.Response:
        if not _authorised(request, state):
            return _error(401, "invalid_token", "missing or wrong bearer token")
        body = await _body(request) or {}
        credential = state.credentials.get(str(body.get("credentialID")))
        sad = state.sads.get(str(body.get("SAD")))
        digests = body.get("hash")
        if credential is None or sad is None or sad.credential_id != credential.credential_id:
            return _error(400, "invalid_request", "unknown credentialID or SAD")
        if not isinstance(digests, list) or not digests:
            return _error(400, "invalid_request", "hash must be a non-empty list")
        if time.monotonic() > sad.expires or len(digests) > sad.remaining:
            return _error(400, "invalid_request", "SAD expired or used up")
        if sad.hashes is not None and not set(map(str, digests)) <= sad.hashes:
            return _error(400, "invalid_request", "hash not authorised by this SAD")
        try:
            digest_name = algos.DigestAlgorithmId(str(body.get("hashAlgo"))).native
            sign_algo = algos.SignedDigestAlgorithmId(str(body.get("signAlgo"))).native
            hash_algo = _HASHES[digest_name]
            if sign_algo not in {
                algos.SignedDigestAlgorithmId(o).native for o in credential.algorithm_oids
            }:
                raise KeyError(sign_algo)
            raw = [base64.b64decode(str(d), validate=True) for d in digests]
        except (KeyError, ValueError) as exc:
            return _error(400, "invalid_request", f"unsupported or malformed request: {exc}")
        prehashed = utils.Prehashed(hash_algo)
        key = credential.private_key
        signatures = []
        for digest in raw:
            if isinstance(key, rsa.RSAPrivateKey):
                signatures.append(key.sign(digest, padding.PKCS1v15(), prehashed))
            else:
                signatures.append(key.sign(digest, ec.ECDSA(prehashed)))
        sad.remaining -= len(raw)
        if sad.remaining <= 0:
            del state.sads[str(body.get("SAD"))]
        state.sign_calls += 1
        return web.json_response({"signatures": [base64.b64encode(s).decode() for s in signatures]})

    app.router.add_post("/csc/v1/credentials/info", info)
    app.router.add_post("/csc/v1/credentials/authorize", authorize)
    app.router.add_post("/csc/v1/signatures/signHash", sign_hash)
    return app


@asynccontextmanager
async def run_csc_test_server(
    *credentials: CscCredential, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve the CSC test service in the running event loop; yields its base URL."""
    runner = web.AppRunner(build_app(list(credentials), token))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
