"""Trust anchors (chứng thư gốc tin cậy): which root certificates a verifier accepts.

Production names its anchors in ``HOCBA_TRUST_ROOTS`` (PEM or DER files, several certificates a
file allowed, files separated by ``:``). Unset, a developer's machine uses the root of the
development PKI that ``hocba run`` / ``hocba demo`` build under the state directory
(``$HOCBA_STATE_DIR``, by default ``.state`` in the checkout), when it exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from asn1crypto import x509  # type: ignore[import-untyped]
from pyhanko.sign.general import load_certs_from_pemder

from services.verification.errors import TrustRootsUnreadable

__all__ = ["TRUST_ROOTS_ENV", "dev_trust_root", "load_trust_roots", "trust_root_paths"]

TRUST_ROOTS_ENV = "HOCBA_TRUST_ROOTS"
_STATE_ENV = "HOCBA_STATE_DIR"
#: The checkout's state directory (services/verification/trust.py → the repository root).
_DEFAULT_STATE_DIR = Path(__file__).resolve().parents[2] / ".state"


def load_trust_roots(paths: Iterable[Path]) -> tuple[x509.Certificate, ...]:
    """Read trust anchors (PEM or DER files, several certificates a file allowed), once."""
    try:
        return tuple(load_certs_from_pemder([str(p) for p in paths]))  # type: ignore[no-untyped-call]  # unannotated in pyhanko
    except (OSError, ValueError) as exc:
        raise TrustRootsUnreadable(f"cannot read trust anchors: {exc}") from exc


def dev_trust_root(env: Mapping[str, str] | None = None) -> Path:
    """Where the development PKI's root certificate is (whether or not it was built yet)."""
    environ = os.environ if env is None else env
    state = environ.get(_STATE_ENV, "").strip()
    return (Path(state) if state else _DEFAULT_STATE_DIR) / "pki" / "certs" / "root.cert.pem"


def trust_root_paths(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The files of ``$HOCBA_TRUST_ROOTS``; unset, the dev PKI's root if built; else none."""
    environ = os.environ if env is None else env
    listed = environ.get(TRUST_ROOTS_ENV, "")
    if listed.strip():
        return tuple(Path(p.strip()) for p in listed.split(":") if p.strip())
    dev = dev_trust_root(environ)
    return (dev,) if dev.is_file() else ()
