"""The signer registry (danh sách người ký): who may sign for which school, with which key.

A JSON file (``HOCBA_SIGNERS_FILE``), read at start-up::

    {
      "tsa_url": "http://127.0.0.1:9781/hocba-dev/tsa/tsa",
      "trust_roots": ["/etc/hocba/trust/root.pem"],
      "signers": [
        {"signer_id": "gv-79000701-lan", "name": "Nguyễn Thị Lan", "role": "HOMEROOM_TEACHER",
         "schools": ["79000701"],
         "backend": {"kind": "pkcs12", "file": "/run/secrets/lan.p12",
                     "passphrase_env": "HOCBA_P12_PASSPHRASE"}},
        ...
      ]
    }

``role`` is a SignerRole symbol; each school needs one ``SCHOOL_SEAL`` signer (its
organisation certificate), applied after the principal. ``backend`` says where the key
lives (``pkcs12``, ``pkcs11``, ``csc``; see :mod:`services.signing.backends`); secrets are
named by environment variable, never written in the file. ``"schools": ["*"]`` registers
a signer for every school: for development PKIs only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.core.signing_flow import SIGNING_ORDER, RegisteredSigner

__all__ = ["RegistryError", "SignerEntry", "SignerRegistry", "load_registry"]

_ANY_SCHOOL = "*"


class RegistryError(ValueError):
    """The signer registry file cannot be used (the service does not start)."""


@dataclass(frozen=True, slots=True)
class SignerEntry:
    """A registered signer and where its key is."""

    signer: RegisteredSigner
    backend: Mapping[str, Any]
    any_school: bool = False

    def serves(self, school_code: str) -> bool:
        return self.any_school or school_code in self.signer.school_codes


@dataclass(frozen=True, slots=True)
class SignerRegistry:
    """Every registered signer, and the services every signature needs."""

    tsa_url: str
    trust_roots: tuple[Path, ...]
    entries: Mapping[str, SignerEntry] = field(default_factory=dict)

    def signer(self, signer_id: str, school_code: str) -> RegisteredSigner | None:
        """The signer as the flow checks it (for ``school_code``); None if not registered."""
        entry = self.entries.get(signer_id)
        if entry is None:
            return None
        if entry.any_school and school_code not in entry.signer.school_codes:
            schools = entry.signer.school_codes | {school_code}
            return RegisteredSigner(
                entry.signer.signer_id, entry.signer.role, entry.signer.name, schools
            )
        return entry.signer

    def seal_of(self, school_code: str) -> SignerEntry | None:
        """The school's seal signer, if one is registered."""
        for entry in self.entries.values():
            if entry.signer.role == "SCHOOL_SEAL" and entry.serves(school_code):
                return entry
        return None


def load_registry(path: Path) -> SignerRegistry:
    """Read and check the registry file; raises :class:`RegistryError` with the reason."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: the registry is a JSON object")
    tsa_url = raw.get("tsa_url")
    if not isinstance(tsa_url, str) or not tsa_url.startswith(("http://", "https://")):
        raise RegistryError(f"{path}: tsa_url must be the HTTP(S) URL of an RFC 3161 TSA")
    roots = raw.get("trust_roots")
    if not isinstance(roots, list) or not roots or not all(isinstance(r, str) for r in roots):
        raise RegistryError(f"{path}: trust_roots must list PEM files of trust anchors")
    entries: dict[str, SignerEntry] = {}
    for index, item in enumerate(raw.get("signers") or []):
        entry = _entry(item, f"{path}: signers[{index}]")
        if entry.signer.signer_id in entries:
            raise RegistryError(f"{path}: signer_id {entry.signer.signer_id!r} twice")
        entries[entry.signer.signer_id] = entry
    if not entries:
        raise RegistryError(f"{path}: no signers registered")
    return SignerRegistry(tsa_url, tuple(Path(r) for r in roots), entries)


def _entry(item: object, where: str) -> SignerEntry:
    if not isinstance(item, dict):
        raise RegistryError(f"{where}: a signer is a JSON object")
    signer_id, name, role = item.get("signer_id"), item.get("name"), item.get("role")
    if not isinstance(signer_id, str) or not signer_id:
        raise RegistryError(f"{where}: signer_id is required")
    if not isinstance(name, str) or not name:
        raise RegistryError(f"{where}: name is required")
    if role not in SIGNING_ORDER:
        raise RegistryError(f"{where}: role must be one of {', '.join(SIGNING_ORDER)}")
    schools = item.get("schools")
    if not isinstance(schools, list) or not schools or not all(isinstance(s, str) for s in schools):
        raise RegistryError(f'{where}: schools must list school codes (or "*")')
    backend = item.get("backend")
    if not isinstance(backend, dict) or not isinstance(backend.get("kind"), str):
        raise RegistryError(f"{where}: backend must be an object with a kind")
    codes = frozenset(s for s in schools if s != _ANY_SCHOOL)
    return SignerEntry(
        RegisteredSigner(signer_id, str(role), name, codes),
        backend,
        any_school=_ANY_SCHOOL in schools,
    )
