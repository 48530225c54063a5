"""The development and test PKI (hạ tầng khoá công khai thử nghiệm), built by certomancer.

``build_dev_pki(directory)`` generates fresh RSA-2048 keys, loads ``deploy/pki/dev-pki.yml`` with
certomancer and writes certificates, PKCS#12 bundles and the resolved configuration into
``directory``; nothing secret is committed. ``serve_dev_pki(pki)`` serves the PKI's OCSP responder,
CRLs, certificate repositories and RFC 3161 time stamping authority over real HTTP on loopback (a
daemon thread), at the URLs the certificates carry, so that pyhanko fetches revocation data and
timestamps exactly as it does against a production CA.

Shortest use::

    pki = build_dev_pki(tmp_path)
    with serve_dev_pki(pki) as services:
        ...  # services.tsa_url, services.ocsp_url, services.crl_urls

Why not certomancer's own Animator: it needs Werkzeug (certomancer's ``web-api`` extra), which
the project does not install; the routes below call the same certomancer service objects the
Animator calls (``summon_responder``, ``summon_timestamper``, ``get_crl``, ``get_cert``).

certomancer is a development dependency: it is imported inside the functions, never at module
import time.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a project dependency
from asn1crypto import ocsp, pem, tsp  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.signing.errors import DevPkiError

if TYPE_CHECKING:
    from certomancer.registry import PKIArchitecture

__all__ = [
    "DEFAULT_PORT",
    "DEV_PKI_CONFIG",
    "PORT_ENV",
    "ROLES",
    "DevPki",
    "PkiServices",
    "build_dev_pki",
    "serve_dev_pki",
]

DEV_PKI_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "pki" / "dev-pki.yml"
"""The certomancer configuration of the dev PKI (keys and URL prefix are filled in at build)."""

PORT_ENV = "HOCBA_DEV_PKI_PORT"
DEFAULT_PORT = 9781
"""Loopback port the certificates' OCSP/CRL URLs name unless ``port`` or $HOCBA_DEV_PKI_PORT."""

ROLES: tuple[str, ...] = ("homeroom_teacher", "principal", "school_seal", "revoked_teacher")
"""End-entity roles with a certificate and a private key (certomancer labels of the same name)."""

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


_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ocsp", re.compile(rf"^/{ARCH}/ocsp/(?P<label>[\w-]+)$")),
    ("tsa", re.compile(rf"^/{ARCH}/tsa/(?P<label>[\w-]+)$")),
    ("crl", re.compile(rf"^/{ARCH}/crls/(?P<label>[\w-]+)/latest\.crl(?P<pem>\.pem)?$")),
    ("ca", re.compile(rf"^/{ARCH}/certs/(?P<label>[\w-]+)/ca\.(?:crt|cert\.pem)$")),
)


class _PkiHttpHandler(BaseHTTPRequestHandler):
    """Answers the certomancer service URLs from one loaded :class:`PKIArchitecture`."""

    arch: PKIArchitecture  # set on a per-server subclass
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the client's delayed ACK
    # stalls every keep-alive response by ≈ 40 ms (measured on timestamps).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log: tests and benchmarks issue thousands."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
                if name in ("ocsp", "tsa") and method == "POST":
                    length = int(self.headers.get("Content-Length", "0"))
                    data = self.rfile.read(length)
                    if name == "ocsp":
                        responder = registry.summon_responder(label, now)
                        response = responder.build_ocsp_response(ocsp.OCSPRequest.load(data))
                        self._send(200, response.dump(), "application/ocsp-response")
                    else:
                        stamper = registry.summon_timestamper(label, now)
                        reply = stamper.request_tsa_response(tsp.TimeStampReq.load(data))
                        self._send(200, reply.dump(), "application/timestamp-reply")
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
    """Make certomancer keep the CA/TSA/OCSP keys parsed (dev server only, process-wide).

    certomancer parses the signing key from DER for every OCSP response and every timestamp it
    signs (≈ 30 ms of CPU each for RSA-2048); the dev TSA shares the CPU with the code under test,
    so that parsing would distort every signing benchmark.
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
            from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
            from pyhanko_certvalidator.util import get_pyca_cryptography_hash

            der = private_key.dump()
            key = self._keys.get(der)
            if key is None:
                key = self._keys[der] = serialization.load_der_private_key(der, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                return bytes(super().generic_sign(private_key, tbs_bytes, sd_algo))
            digest = get_pyca_cryptography_hash(sd_algo.hash_algo)
            return bytes(key.sign(tbs_bytes, PKCS1v15(), digest))

    crypto_utils.CRYPTO_BACKEND = _KeyCachingBackend()


@contextmanager
def serve_dev_pki(
    pki: DevPki, *, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[PkiServices]:
    """Serve the PKI's OCSP, CRL, certificate and TSA endpoints over HTTP on loopback.

    ``port`` defaults to the port the PKI was built for (the certificates name it: serving elsewhere
    leaves OCSP/CRL unreachable, which is useful to test offline verification). Pass 0 for any free
    port. The server runs in a daemon thread and stops when the context exits.
    """
    _install_key_cache()

    config: dict[str, Any] = yaml.safe_load(pki.config_file.read_text("utf-8"))
    arch = _load_arch(config, pki.directory / "keys", pki.url_prefix)
    handler = type("_BoundPkiHttpHandler", (_PkiHttpHandler,), {"arch": arch})
    try:
        server = ThreadingHTTPServer((host, pki.port if port is None else port), handler)
    except OSError as exc:
        wanted = pki.port if port is None else port
        raise DevPkiError(f"cannot listen on {host}:{wanted}: {exc.strerror}") from exc
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dev-pki-http", daemon=True)
    thread.start()
    bound_port = server.server_address[1]
    base = f"http://{host}:{bound_port}/{ARCH}"
    try:
        yield PkiServices(
            base_url=base,
            tsa_url=f"{base}/tsa/tsa",
            ocsp_url=f"{base}/ocsp/interm",
            crl_urls=(f"{base}/crls/root/latest.crl", f"{base}/crls/interm/latest.crl"),
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
