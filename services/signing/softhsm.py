"""A SoftHSM2 token holding dev PKI keys (thiết bị ký mô phỏng), for tests and local runs.

``provision_softhsm_token(directory, pki, roles)`` writes a SoftHSM2 configuration whose token
directory is inside ``directory``, initialises a token, imports each role's private key with
``softhsm2-util --import`` and stores its certificate on the token with python-pkcs11, then
returns a :class:`SoftHsmToken` that ``Pkcs11Config`` can use.

SoftHSM reads ``SOFTHSM2_CONF`` when the PKCS#11 module is first initialised in a process and
python-pkcs11 keeps the module loaded: this function sets ``os.environ["SOFTHSM2_CONF"]`` for the
current process, so call it before the first PKCS#11 use, once per process (tests: a session
fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, x509  # type: ignore[import-untyped]

from services.signing.devpki import DevPki
from services.signing.errors import SignerUnavailable

__all__ = ["SOFTHSM_MODULE", "SoftHsmToken", "provision_softhsm_token"]

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
"""Debian's softhsm2 PKCS#11 module."""


@dataclass(frozen=True)
class SoftHsmToken:
    """An initialised SoftHSM2 token: module, configuration, label and user PIN."""

    module: Path
    config: Path
    label: str
    pin: str


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(args, env=env, check=True, capture_output=True, text=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        raise SignerUnavailable(f"{args[0]} {args[1]} failed: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SignerUnavailable(f"{args[0]} could not run: {exc}") from exc


def provision_softhsm_token(
    directory: Path,
    pki: DevPki,
    roles: Iterable[str],
    *,
    label: str = "hocba-dev",
    pin: str = "246810",
    so_pin: str = "13579135",
    module: Path = SOFTHSM_MODULE,
) -> SoftHsmToken:
    """Create a token in ``directory`` with the keys and certificates of ``roles``.

    Each role's key and certificate get the role as label and the same CKA_ID (its index + 1).
    """
    util = shutil.which("softhsm2-util")
    if util is None or not module.exists():
        raise SignerUnavailable("SoftHSM2 is not installed (Debian package softhsm2)")
    directory = directory.resolve()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        "utf-8",
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    _run([util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin], env)
    role_list = list(roles)
    for index, role in enumerate(role_list, start=1):
        _run(
            [
                util, "--import", str(pki.key_pem(role)), "--token", label,
                "--label", role, "--id", f"{index:02x}", "--pin", pin,
            ],
            env,
        )  # fmt: skip
    os.environ["SOFTHSM2_CONF"] = str(config)
    _store_certificates(module, label, pin, [(r, i) for i, r in enumerate(role_list, 1)], pki)
    return SoftHsmToken(module=module, config=config, label=label, pin=pin)


def _store_certificates(
    module: Path, label: str, pin: str, roles: list[tuple[str, int]], pki: DevPki
) -> None:
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    try:
        token = pkcs11.lib(str(module)).get_token(token_label=label)
        with token.open(rw=True, user_pin=pin) as session:
            for role, index in roles:
                der = pem.unarmor(pki.cert_pem(role).read_bytes())[2]
                cert = x509.Certificate.load(der)
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.LABEL: role,
                        Attribute.ID: bytes([index]),
                        Attribute.SUBJECT: cert.subject.dump(),
                        Attribute.ISSUER: cert.issuer.dump(),
                        Attribute.SERIAL_NUMBER: cert["tbs_certificate"]["serial_number"].dump(),
                        Attribute.VALUE: der,
                    }
                )
    except (pkcs11.PKCS11Error, RuntimeError) as exc:
        raise SignerUnavailable(f"cannot store certificates on token {label!r}: {exc}") from exc
