"""The development and test PKI (hạ tầng khoá công khai thử nghiệm), built by certomancer.

``build_dev_pki(directory)`` generates fresh RSA-2048 keys, loads ``deploy/pki/dev-pki.yml`` with
certomancer and writes certificates, PKCS#12 bundles and the resolved configuration into
``directory``; nothing secret is committed. ``serve_dev_pki(pki)`` serves the PKI's OCSP responder,
CRLs, certificate repositories and RFC 3161 time stamping authority over real HTTP on loopback, at
the URLs the certificates carry, so that pyhanko fetches revocation data and timestamps exactly as
it does against a production CA.

Shortest use::

    pki = build_dev_pki(tmp_path)
    with serve_dev_pki(pki) as services:
        ...  # services.tsa_url, services.ocsp_url, services.crl_urls

The server runs in a daemon thread of the calling process by default; ``in_process=False`` runs
it in a child process (``python -m services.signing.devpki serve DIR``) instead, so that a
benchmark's TSA does not compete for the GIL with the code it measures.

OCSP responses, CRLs and CA certificates come from certomancer's service objects (the ones its
Animator calls: ``summon_responder``, ``get_crl``, ``get_cert``), so revocation is answered from the
configuration exactly. The Animator itself is not used: it needs Werkzeug (certomancer's ``web-api``
extra), which the project does not install. Timestamps come from :class:`_TimeStampAuthority`, a
small RFC 3161 responder of this module signing with the TSA key and certificate certomancer built
(policy :data:`DEV_TSA_POLICY`, ESS signing-certificate-v2; bad requests get a rejection with a
failInfo). certomancer's own time stamper spends ≈ 8 ms of CPU per token, mostly re-encoding the
same certificate, which a signing benchmark sharing two cores with it cannot afford; this one
spends ≈ 0.35 ms (≈ 0.5 ms with the HTTP exchange), most of it the RSA signature.

certomancer is a development dependency: it is imported inside the functions, never at module
import time.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a project dependency
from asn1crypto import algos, cms, core, ocsp, pem, tsp, x509  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.signing import der
from services.signing.errors import DevPkiError

if TYPE_CHECKING:
    from certomancer.registry import PKIArchitecture

__all__ = [
    "DEFAULT_PORT",
    "DEV_PKI_CONFIG",
    "DEV_TSA_POLICY",
    "PORT_ENV",
    "ROLES",
    "DevPki",
    "PkiServices",
    "build_dev_pki",
    "main",
    "serve_dev_pki",
]

DEV_PKI_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "pki" / "dev-pki.yml"
"""The certomancer configuration of the dev PKI (keys and URL prefix are filled in at build)."""

PORT_ENV = "HOCBA_DEV_PKI_PORT"
DEFAULT_PORT = 9781
"""Loopback port the certificates' OCSP/CRL URLs name unless ``port`` or $HOCBA_DEV_PKI_PORT."""

ROLES: tuple[str, ...] = ("homeroom_teacher", "principal", "school_seal", "revoked_teacher")
"""End-entity roles with a certificate and a private key (certomancer labels of the same name)."""

DEV_TSA_POLICY = "2.999.3161.1"
"""TSA policy of the dev timestamps: an OID under {joint-iso-itu-t example(999)}, the arc X.660
reserves for examples, since no real policy stands behind a development timestamp."""

ARCH = "hocba-dev"
_KEY_LABELS: tuple[str, ...] = ("root", "interm", "interm-ocsp", "tsa", *ROLES)
_MANIFEST = "devpki.json"
_P12_PASSPHRASE = b"hocba-dev-p12"


@dataclass(frozen=True)
class DevPki:
    """A dev PKI built in ``directory`` (see :func:`build_dev_pki`); cheap to construct."""

    directory: Path

    @property
    def url_prefix(self) -> str:
        """The ``http://127.0.0.1:PORT`` prefix baked into the certificates' AIA/CRL URLs."""
        return str(self._manifest()["url_prefix"])

    @property
    def port(self) -> int:
        """The loopback port of :attr:`url_prefix`."""
        return int(self._manifest()["port"])

    @property
    def root_cert(self) -> Path:
        """The trust anchor "Hocba Dev Root CA" (PEM)."""
        return self.directory / "certs" / "root.cert.pem"

    @property
    def chain(self) -> tuple[Path, ...]:
        """CA certificates above the end entities, intermediate first then root (PEM)."""
        return (self.directory / "certs" / "interm.cert.pem", self.root_cert)

    @property
    def p12_passphrase(self) -> bytes:
        """Passphrase of every PKCS#12 bundle of this PKI (a development secret)."""
        return _P12_PASSPHRASE

    @property
    def config_file(self) -> Path:
        """The resolved certomancer configuration (absolute key paths, baked URL prefix)."""
        return self.directory / "certomancer.yml"

    def cert_pem(self, role: str) -> Path:
        """The end-entity certificate of ``role`` (PEM)."""
        return self.directory / "certs" / f"{_checked(role)}.cert.pem"

    def key_pem(self, role: str) -> Path:
        """The private key of ``role``: unencrypted PKCS#8 PEM."""
        return self.directory / "keys" / f"{_checked(role)}.key.pem"

    def p12(self, role: str) -> Path:
        """Key, certificate and chain of ``role`` as PKCS#12 (passphrase :attr:`p12_passphrase`)."""
        return self.directory / "p12" / f"{_checked(role)}.p12"

    def cert_file(self, label: str) -> Path:
        """Any certificate of the PKI by certomancer label (root, interm, interm-ocsp, tsa, …)."""
        return self.directory / "certs" / f"{label}.cert.pem"

    def _manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.directory / _MANIFEST).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DevPkiError(f"{self.directory} holds no built dev PKI: {exc}") from exc
        return data


def _checked(role: str) -> str:
    if role not in ROLES:
        raise DevPkiError(f"unknown dev PKI role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def _port_from_env() -> int:
    raw = os.environ.get(PORT_ENV)
    if raw is None:
        return DEFAULT_PORT
    try:
        return int(raw)
    except ValueError as exc:
        raise DevPkiError(f"${PORT_ENV} must be a port number, not {raw!r}") from exc


def _write_key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _load_arch(config: dict[str, Any], key_dir: Path, url_prefix: str) -> PKIArchitecture:
    from certomancer.config_utils import ConfigurationError
    from certomancer.registry import ArchLabel, CertomancerConfig

    try:
        loaded = CertomancerConfig(
            config, key_search_dir=str(key_dir), external_url_prefix=url_prefix
        )
        return loaded.get_pki_arch(ArchLabel(ARCH))
    except (ConfigurationError, OSError, KeyError, ValueError) as exc:
        raise DevPkiError(f"certomancer cannot build the dev PKI: {exc}") from exc


def build_dev_pki(
    directory: Path, *, port: int | None = None, config_path: Path = DEV_PKI_CONFIG
) -> DevPki:
    """Generate keys and build the dev PKI into ``directory`` (created if missing).

    ``port`` is the loopback port the certificates' OCSP/CRL URLs name (default: $HOCBA_DEV_PKI_PORT
    or 9781); serve the PKI on the same port with :func:`serve_dev_pki`. Takes about a second
    (eight RSA-2048 keys).
    """
    port = _port_from_env() if port is None else port
    url_prefix = f"http://127.0.0.1:{port}"
    try:
        config: dict[str, Any] = yaml.safe_load(config_path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DevPkiError(f"cannot read the dev PKI configuration {config_path}: {exc}") from exc
    directory = directory.resolve()
    key_dir, cert_dir, p12_dir = directory / "keys", directory / "certs", directory / "p12"
    for sub in (key_dir, cert_dir, p12_dir):
        sub.mkdir(parents=True, exist_ok=True)
    for label in _KEY_LABELS:
        _write_key(key_dir / f"{label}.key.pem")

    config["external-url-prefix"] = url_prefix
    for keyset in config["keysets"].values():
        keyset["path-prefix"] = ""
    arch = _load_arch(config, key_dir, url_prefix)
    for spec in arch.enumerate_certs_by_issuer():
        for cert_spec in spec[1]:
            der = arch.get_cert(cert_spec.label).dump()
            (cert_dir / f"{cert_spec.label}.cert.pem").write_bytes(pem.armor("CERTIFICATE", der))
    for role in ROLES:
        from certomancer.registry import CertLabel

        bundle = arch.package_pkcs12(CertLabel(role), password=_P12_PASSPHRASE)
        (p12_dir / f"{role}.p12").write_bytes(bundle)

    resolved = dict(config)
    resolved["keysets"] = {
        name: {**keyset, "path-prefix": str(key_dir)} for name, keyset in config["keysets"].items()
    }
    (directory / "certomancer.yml").write_text(
        yaml.safe_dump(resolved, allow_unicode=True, sort_keys=False), "utf-8"
    )
    (directory / _MANIFEST).write_text(
        json.dumps({"url_prefix": url_prefix, "port": port, "arch": ARCH}), "utf-8"
    )
    return DevPki(directory)


@dataclass(frozen=True)
class PkiServices:
    """URLs of a served dev PKI (what a production deployment would configure)."""

    base_url: str
    tsa_url: str
    ocsp_url: str
    crl_urls: tuple[str, ...]

    @property
    def crl_url(self) -> str:
        """The CRL of the issuing CA (the one that lists end-entity revocations)."""
        return self.crl_urls[-1]


_V1 = core.Integer(1).dump()
_V3 = core.Integer(3).dump()
_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()
_SIGNED_DATA = cms.ContentType("signed_data").dump()
_TST_INFO = cms.ContentType("tst_info").dump()
_MESSAGE_DIGEST = cms.CMSAttributeType("message_digest").dump()
_IMPRINT_SIZES: Mapping[str, int] = {
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "sha3_256": 32,
    "sha3_384": 48,
    "sha3_512": 64,
}
"""Message imprint algorithms the dev TSA accepts (asn1crypto names) and their digest sizes."""


class _Rejected(Exception):
    """A time-stamp request the TSA refuses: ``fail_info`` is a PKIFailureInfo bit name."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info


class _TimeStampAuthority:
    """An RFC 3161 responder signing with one RSA key (PKCS#1 v1.5, SHA-256).

    Everything that does not change between tokens (certificates, signer identifier, algorithm
    identifiers, the signing-certificate-v2 attribute) is encoded once here; a request costs the
    TSTInfo, the message-digest attribute, the RSA signature and a few byte concatenations
    (RFC 5652 SignedData framed with :func:`services.signing.der.element`). Safe to call from
    several threads.
    """

    def __init__(
        self, cert: x509.Certificate, key: rsa.RSAPrivateKey, extra_certs: Sequence[bytes] = ()
    ) -> None:
        cert_der: bytes = cert.dump()
        self._key = key
        self._policy: bytes = core.ObjectIdentifier(DEV_TSA_POLICY).dump()
        # TSTInfo's tsa [0] GeneralName: explicit, a CHOICE cannot be tagged implicitly.
        self._tsa_name = der.element(
            der.CONTEXT_0, x509.GeneralName(name="directory_name", value=cert.subject).dump()
        )
        self._digest_algorithm: bytes = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
        self._signature_algorithm: bytes = algos.SignedDigestAlgorithm(
            {"algorithm": "sha256_rsa"}
        ).dump()
        self._sid: bytes = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": cert.issuer, "serial_number": cert.serial_number},
        ).dump()
        self._content_type_attr: bytes = cms.CMSAttribute(
            {"type": "content_type", "values": ["tst_info"]}
        ).dump()
        ess_cert_id = {  # hash_algorithm left at its DEFAULT, SHA-256
            "cert_hash": hashlib.sha256(cert_der).digest(),
            "issuer_serial": {
                "issuer": [x509.GeneralName(name="directory_name", value=cert.issuer)],
                "serial_number": cert.serial_number,
            },
        }
        self._signing_cert_attr: bytes = cms.CMSAttribute(
            {"type": "signing_certificate_v2", "values": [{"certs": [ess_cert_id]}]}
        ).dump()
        # [0] IMPLICIT CertificateSet; DER orders a SET OF by encoding.
        self._certificates = der.element(der.CONTEXT_0, *sorted({cert_der, *extra_certs}))
        # Unique per response: a random 64-bit prefix per responder, then a counter (next() on
        # itertools.count is atomic under the GIL).
        self._serials = itertools.count(secrets.randbits(64) << 32)

    def respond(self, request: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq: granted, or rejected with a failInfo."""
        try:
            tst_info, cert_req = self._tst_info(request)
        except _Rejected as refusal:
            status = {
                "status": "rejection",
                "status_string": [str(refusal)],
                "fail_info": {refusal.fail_info},
            }
            # No token with a rejection (RFC 3161 §2.4.2); asn1crypto 1.5.1 cannot encode (nor
            # read) that, its TimeStampResp wrongly requires one (wbond/asn1crypto#286).
            return der.element(der.SEQUENCE, tsp.PKIStatusInfo(status).dump())
        attributes = (
            self._content_type_attr,
            der.element(
                der.SEQUENCE,
                _MESSAGE_DIGEST,
                der.element(
                    der.SET, der.element(der.OCTET_STRING, hashlib.sha256(tst_info).digest())
                ),
            ),
            self._signing_cert_attr,
        )
        signed_attrs = b"".join(sorted(attributes))  # SET OF, in DER order
        signature = self._key.sign(
            der.element(der.SET, signed_attrs), padding.PKCS1v15(), hashes.SHA256()
        )
        signer_info = der.element(
            der.SEQUENCE,
            _V1,
            self._sid,
            self._digest_algorithm,
            der.element(der.CONTEXT_0, signed_attrs),  # signedAttrs [0] IMPLICIT
            self._signature_algorithm,
            der.element(der.OCTET_STRING, signature),
        )
        signed_data = der.element(
            der.SEQUENCE,
            _V3,  # v3: the encapsulated content is not id-data
            der.element(der.SET, self._digest_algorithm),
            der.element(
                der.SEQUENCE,
                _TST_INFO,
                der.element(der.CONTEXT_0, der.element(der.OCTET_STRING, tst_info)),
            ),
            self._certificates if cert_req else b"",
            der.element(der.SET, signer_info),
        )
        token = der.element(der.SEQUENCE, _SIGNED_DATA, der.element(der.CONTEXT_0, signed_data))
        return der.element(der.SEQUENCE, _GRANTED, token)

    def _tst_info(self, request: bytes) -> tuple[bytes, bool]:
        """The DER TSTInfo answering ``request`` and whether it asked for the TSA certificate."""
        try:
            req = tsp.TimeStampReq.load(request)
            imprint = req["message_imprint"]
            algorithm: str = imprint["hash_algorithm"]["algorithm"].native
            digest: bytes = imprint["hashed_message"].native
            version: str | int = req["version"].native  # "v1", or a number asn1crypto lacks
            policy: str | None = req["req_policy"].native
            nonce: int | None = req["nonce"].native
            cert_req: bool = req["cert_req"].native
            extensions: list[Any] | None = req["extensions"].native
        except (ValueError, TypeError, KeyError) as exc:
            raise _Rejected("bad_data_format", f"not a TimeStampReq: {exc}") from exc
        if version != "v1":
            raise _Rejected("bad_request", f"unsupported TimeStampReq version {version}")
        if algorithm not in _IMPRINT_SIZES:
            raise _Rejected("bad_alg", f"unsupported message imprint algorithm {algorithm}")
        if len(digest) != _IMPRINT_SIZES[algorithm]:
            raise _Rejected("bad_data_format", f"a {algorithm} imprint of {len(digest)} bytes")
        if policy is not None and policy != DEV_TSA_POLICY:
            raise _Rejected("unaccepted_policy", f"this TSA only issues policy {DEV_TSA_POLICY}")
        if extensions:
            raise _Rejected("unaccepted_extensions", "this TSA accepts no request extension")
        return (
            der.element(
                der.SEQUENCE,
                _V1,
                self._policy,
                imprint.dump(),  # the request's, as it came
                core.Integer(next(self._serials)).dump(),
                core.GeneralizedTime(datetime.now(UTC)).dump(),
                b"" if nonce is None else core.Integer(nonce).dump(),
                self._tsa_name,
            ),
            cert_req,
        )


def _timestampers(arch: PKIArchitecture) -> dict[str, _TimeStampAuthority]:
    """One :class:`_TimeStampAuthority` per time-stamping service of ``arch``, keys parsed once."""
    from certomancer.registry import CertLabel

    found: dict[str, _TimeStampAuthority] = {}
    for info in arch.service_registry.list_time_stamping_services():
        if info.signature_algo is not None or info.digest_algo != "sha256":
            raise DevPkiError(f"TSA {info.label}: the dev TSA signs with sha256_rsa only")
        key_der = arch.key_set.get_private_key(info.signing_key).dump()
        key = serialization.load_der_private_key(key_der, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise DevPkiError(f"TSA {info.label}: the dev TSA needs an RSA key")
        extra = [arch.get_cert(CertLabel(str(label))).dump() for label in info.certs_to_embed]
        found[str(info.label)] = _TimeStampAuthority(arch.get_cert(info.signing_cert), key, extra)
    return found


_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ocsp", re.compile(rf"^/{ARCH}/ocsp/(?P<label>[\w-]+)$")),
    ("tsa", re.compile(rf"^/{ARCH}/tsa/(?P<label>[\w-]+)$")),
    ("crl", re.compile(rf"^/{ARCH}/crls/(?P<label>[\w-]+)/latest\.crl(?P<pem>\.pem)?$")),
    ("ca", re.compile(rf"^/{ARCH}/certs/(?P<label>[\w-]+)/ca\.(?:crt|cert\.pem)$")),
)


class _PkiHttpHandler(BaseHTTPRequestHandler):
    """Answers the certomancer service URLs from one loaded :class:`PKIArchitecture`."""

    arch: PKIArchitecture  # set on a per-server subclass
    timestampers: Mapping[str, _TimeStampAuthority]  # idem, by TSA service label
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (wfile is buffered; handle_one_request flushes it), and
    # Nagle's algorithm is off for the responses that still take two: otherwise the client's
    # delayed ACK stalls a keep-alive response by ≈ 40 ms (measured on timestamps).
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log: tests and benchmarks issue thousands."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return bytes(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _route(self, method: str) -> None:
        from certomancer.registry import CertLabel, ServiceLabel

        path = self.path.split("?", 1)[0]
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            label = ServiceLabel(match["label"])
            registry = self.arch.service_registry
            now = datetime.now(UTC)
            try:
                if name == "tsa" and method == "POST" and match["label"] in self.timestampers:
                    reply = self.timestampers[match["label"]].respond(self._body())
                    self._send(200, reply, "application/timestamp-reply")
                    return
                if name == "ocsp" and method == "POST":
                    responder = registry.summon_responder(label, now)
                    response = responder.build_ocsp_response(ocsp.OCSPRequest.load(self._body()))
                    self._send(200, response.dump(), "application/ocsp-response")
                    return
                if name == "crl" and method == "GET":
                    der = registry.get_crl(label, now).dump()
                    if match["pem"]:
                        self._send(200, pem.armor("X509 CRL", der), "application/x-pem-file")
                    else:
                        self._send(200, der, "application/pkix-crl")
                    return
                if name == "ca" and method == "GET":
                    info = registry.get_cert_repo_info(label)
                    cert = self.arch.get_cert(CertLabel(str(info.issuer_cert)))
                    self._send(200, cert.dump(), "application/pkix-cert")
                    return
            except (ValueError, KeyError, TypeError) as exc:
                # A malformed request or an unknown label: the client's fault, not the server's.
                self._send(400, f"bad request: {exc}".encode(), "text/plain")
                return
        self._send(404, b"not found", "text/plain")

    def do_GET(self) -> None:
        """Serve CRLs and CA certificates."""
        self._route("GET")

    def do_POST(self) -> None:
        """Serve OCSP and RFC 3161 requests."""
        self._route("POST")


def _install_key_cache() -> None:
    """Make certomancer keep the CA and OCSP keys parsed (dev server only, process-wide).

    certomancer parses the signing key from DER for every OCSP response and CRL it signs (≈ 30 ms
    of CPU each for RSA-2048); the dev PKI shares the CPU with the code under test, so that
    parsing would distort every signing benchmark.
    """
    from certomancer import crypto_utils

    if getattr(crypto_utils.CRYPTO_BACKEND, "_hocba_key_cache", False):
        return
    base = crypto_utils.PycaCryptographyBackend

    class _KeyCachingBackend(base):  # type: ignore[misc, valid-type]
        _hocba_key_cache = True

        def __init__(self) -> None:
            super().__init__()
            self._keys: dict[bytes, Any] = {}

        def generic_sign(self, private_key: Any, tbs_bytes: bytes, sd_algo: Any) -> bytes:
            if sd_algo.signature_algo != "rsassa_pkcs1v15":
                return bytes(super().generic_sign(private_key, tbs_bytes, sd_algo))
            from pyhanko_certvalidator.util import get_pyca_cryptography_hash

            der = private_key.dump()
            key = self._keys.get(der)
            if key is None:
                key = self._keys[der] = serialization.load_der_private_key(der, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                return bytes(super().generic_sign(private_key, tbs_bytes, sd_algo))
            digest = get_pyca_cryptography_hash(sd_algo.hash_algo)
            return bytes(key.sign(tbs_bytes, padding.PKCS1v15(), digest))

    crypto_utils.CRYPTO_BACKEND = _KeyCachingBackend()


@contextmanager
def _http_server(pki: DevPki, host: str, port: int) -> Iterator[int]:
    """Serve the PKI on ``host:port`` from a daemon thread; yields the port it listens on."""
    _install_key_cache()

    config: dict[str, Any] = yaml.safe_load(pki.config_file.read_text("utf-8"))
    arch = _load_arch(config, pki.directory / "keys", pki.url_prefix)
    handler = type(
        "_BoundPkiHttpHandler",
        (_PkiHttpHandler,),
        {"arch": arch, "timestampers": _timestampers(arch)},
    )
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise DevPkiError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dev-pki-http", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


_SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The directory holding the ``services`` package, put on the child server's PYTHONPATH."""


@contextmanager
def _child_server(pki: DevPki, host: str, port: int) -> Iterator[int]:
    """Run ``main(["serve", ...])`` in a child process; yields the port it listens on.

    The child reports ``{"port": N}`` (or ``{"error": ...}``) on its standard output once it
    listens, and stops when its standard input closes: on leaving this context, or when this
    process dies without leaving it.
    """
    command = [sys.executable, "-m", "services.signing.devpki", "serve", str(pki.directory)]
    command += ["--host", host, "--port", str(port)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SOURCE_ROOT), env.get("PYTHONPATH")]))
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env) as child:
        assert child.stdin is not None and child.stdout is not None  # both are pipes
        try:
            try:
                report: dict[str, Any] = json.loads(child.stdout.readline())
            except ValueError:
                report = {"error": f"exited with status {child.wait()} (see its stderr)"}
            if "port" not in report:
                raise DevPkiError(f"the dev PKI server process failed: {report['error']}")
            yield int(report["port"])
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@contextmanager
def serve_dev_pki(
    pki: DevPki, *, host: str = "127.0.0.1", port: int | None = None, in_process: bool = True
) -> Iterator[PkiServices]:
    """Serve the PKI's OCSP, CRL, certificate and TSA endpoints over HTTP on loopback.

    ``port`` defaults to the port the PKI was built for (the certificates name it: serving elsewhere
    leaves OCSP/CRL unreachable, which is useful to test offline verification). Pass 0 for any free
    port. The server runs in a daemon thread, or with ``in_process=False`` in a child process
    (``python -m services.signing.devpki serve``: its own GIL, its own CPU time); it stops when the
    context exits.
    """
    wanted = pki.port if port is None else port
    server = _http_server if in_process else _child_server
    with server(pki, host, wanted) as bound_port:
        base = f"http://{host}:{bound_port}/{ARCH}"
        yield PkiServices(
            base_url=base,
            tsa_url=f"{base}/tsa/tsa",
            ocsp_url=f"{base}/ocsp/interm",
            crl_urls=(f"{base}/crls/root/latest.crl", f"{base}/crls/interm/latest.crl"),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.signing.devpki serve DIRECTORY``: serve a built dev PKI.

    Prints ``{"port": N}`` once listening (``{"error": ...}`` and status 1 if it cannot), then
    serves until its standard input closes or it is interrupted.
    """
    parser = argparse.ArgumentParser(
        prog="python -m services.signing.devpki", description="The development PKI."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve OCSP, CRLs, certificates and the TSA until stdin closes"
    )
    serve.add_argument("directory", type=Path, help="a PKI made by build_dev_pki")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, help="default: the port the PKI was built for; 0: any free port"
    )
    args = parser.parse_args(argv)
    pki = DevPki(args.directory)
    try:
        with _http_server(pki, args.host, pki.port if args.port is None else args.port) as port:
            print(json.dumps({"port": port}), flush=True)
            while sys.stdin.buffer.read(4096):
                pass
    except DevPkiError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
