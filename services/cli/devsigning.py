"""Signing on a developer's machine: the dev PKI, a signer registry and a record-id key.

``hocba run`` and ``hocba demo`` call :func:`dev_signing` when ``HOCBA_SIGNERS_FILE`` is not
set: it builds the development PKI once into ``<state>/pki`` (certomancer; fresh keys,
nothing committed), serves its OCSP responder, CRLs and timestamp authority on
127.0.0.1:9781 while the command runs, writes a registry where the dev teacher, principal
and school seal may sign for every school, and keeps a random record-id key in
``<state>/signing/record-id.key``. Production sets those variables itself (real CAs, a
key from a secret store) and never goes through here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from services.signing.devpki import DevPki, build_dev_pki, serve_dev_pki

__all__ = ["DEV_SIGNERS", "dev_signing"]

_PASSPHRASE_ENV = "HOCBA_DEV_P12_PASSPHRASE"
#: signer_id → (dev PKI role, SignerRole, name shown in the refusals)
DEV_SIGNERS: Mapping[str, tuple[str, str, str]] = {
    "dev-gvcn": ("homeroom_teacher", "HOMEROOM_TEACHER", "Giáo viên chủ nhiệm (dev)"),
    "dev-hieu-truong": ("principal", "PRINCIPAL", "Hiệu trưởng (dev)"),
    "dev-con-dau": ("school_seal", "SCHOOL_SEAL", "Con dấu nhà trường (dev)"),
    "dev-gvcn-thu-hoi": ("revoked_teacher", "HOMEROOM_TEACHER", "Chứng thư đã thu hồi (dev)"),
}


@contextmanager
def dev_signing(
    state_dir: Path, env: Mapping[str, str], *, port: int | None = None
) -> Iterator[dict[str, str]]:
    """Environment additions for the signing service; empty when the caller configured it.

    ``port``: where a newly built PKI is served (default 9781; an existing one keeps its own).
    """
    if env.get("HOCBA_SIGNERS_FILE"):
        yield {}
        return
    pki_dir = state_dir / "pki"
    built = (pki_dir / "devpki.json").exists()
    pki = DevPki(pki_dir) if built else build_dev_pki(pki_dir, port=port)
    with serve_dev_pki(pki) as services:
        registry = pki_dir / "signers.json"
        registry.write_text(
            json.dumps(_registry(pki, services.tsa_url), ensure_ascii=False, indent=2), "utf-8"
        )
        yield {
            "HOCBA_SIGNERS_FILE": str(registry),
            "HOCBA_RECORD_ID_KEY": env.get("HOCBA_RECORD_ID_KEY") or _record_id_key(state_dir),
            _PASSPHRASE_ENV: pki.p12_passphrase.decode(),
        }


def _registry(pki: DevPki, tsa_url: str) -> dict[str, object]:
    return {
        "tsa_url": tsa_url,
        "trust_roots": [str(pki.root_cert)],
        "signers": [
            {
                "signer_id": signer_id,
                "name": name,
                "role": role,
                "schools": ["*"],
                "backend": {
                    "kind": "pkcs12",
                    "file": str(pki.p12(pki_role)),
                    "passphrase_env": _PASSPHRASE_ENV,
                },
            }
            for signer_id, (pki_role, role, name) in DEV_SIGNERS.items()
        ],
    }


def _record_id_key(state_dir: Path) -> str:
    """The local stack's record-id key: random, created once, kept with the stack's state."""
    path = state_dir / "signing" / "record-id.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), "utf-8")
        path.chmod(0o600)
    return path.read_text("utf-8").strip()
