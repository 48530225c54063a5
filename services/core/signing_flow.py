"""The signature flow of a year page (quy trình ký học bạ), as pure decisions.

A validated record version becomes a page waiting for signatures. The homeroom
teacher (giáo viên chủ nhiệm) approves first, then the principal (hiệu trưởng); the
school's seal (con dấu, an organisation certificate) follows the principal's signature.
Each approval names its signer, who must be registered for that school and role; an
approval out of order, by the wrong person, for another version or other content is
refused with a coded finding and changes nothing.

The record identifier (mã hồ sơ học bạ) is derived from the student's identifier with
a keyed hash: stable across school years, schools and versions without any shared
state, and revealing nothing about the student to whoever lacks the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from services.core.findings import Finding, finding

__all__ = [
    "SIGNING_ORDER",
    "Approval",
    "RegisteredSigner",
    "check_approval",
    "fully_signed",
    "next_role",
    "record_id_for",
    "seal_follows",
]

#: SignerRole symbols in the order they sign a page.
SIGNING_ORDER: Final = ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")
#: The role whose signature the platform applies itself, right after the one before it.
_SEAL: Final = "SCHOOL_SEAL"
_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ROLE_VI: Final = {
    "HOMEROOM_TEACHER": "giáo viên chủ nhiệm",
    "PRINCIPAL": "hiệu trưởng",
    "SCHOOL_SEAL": "con dấu nhà trường",
}


@dataclass(frozen=True, slots=True)
class RegisteredSigner:
    """A signer the platform holds a key for (người ký đã đăng ký)."""

    signer_id: str
    #: A SignerRole symbol.
    role: str
    name: str
    school_codes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Approval:
    """A SignatureApproval event, as the flow needs it."""

    event_id: str
    school_code: str
    role: str
    signer_id: str
    version: int
    record_sha256: str | None = None


def record_id_for(student_id: str, key: bytes) -> str:
    """The record identifier of a student: ``HB`` + 16 Crockford base32 characters.

    HMAC-SHA-256 of the student identifier under the platform's record-id key, first
    80 bits. The key must never change (every identifier would); keep it as a secret.
    """
    digest = hmac.new(key, student_id.encode(), hashlib.sha256).digest()
    bits = int.from_bytes(digest[:10], "big")
    return "HB" + "".join(_CROCKFORD[(bits >> (5 * i)) & 0x1F] for i in reversed(range(16)))


def next_role(signed_roles: Sequence[str]) -> str | None:
    """The role that signs next, after ``signed_roles`` (in order); None when complete."""
    done = len(signed_roles)
    return SIGNING_ORDER[done] if done < len(SIGNING_ORDER) else None


def check_approval(
    approval: Approval,
    *,
    pending_version: int | None,
    pending_record_sha256: str | None,
    signed_roles: Sequence[str],
    signer: RegisteredSigner | None,
) -> list[Finding]:
    """Why this approval cannot be carried out now; empty when the signer may sign.

    ``pending_*`` describe the version waiting for signatures (None: none waits);
    ``signed_roles`` the roles that signed it so far; ``signer`` the registered signer
    the approval names (None: not registered).
    """
    if pending_version is None:
        return [
            finding(
                "E_APPROVAL_NO_PENDING_RECORD",
                "payload.SignatureApproval",
                "Không có phiên bản học bạ nào đang chờ ký cho học sinh và năm học này.",
                "No record version of this student and school year is waiting for signatures.",
            )
        ]
    if approval.version != pending_version:
        return [
            finding(
                "E_APPROVAL_VERSION_MISMATCH",
                "payload.SignatureApproval.version",
                f"Phê duyệt phiên bản {approval.version}, nhưng phiên bản đang chờ ký là "
                f"{pending_version}.",
                f"The approval is for version {approval.version}; version {pending_version} "
                "is waiting for signatures.",
            )
        ]
    if approval.record_sha256 is not None and approval.record_sha256 != pending_record_sha256:
        return [
            finding(
                "E_APPROVAL_CONTENT_MISMATCH",
                "payload.SignatureApproval.record_sha256",
                "Nội dung người ký đã xem khác nội dung học bạ đang chờ ký.",
                "The content the signer saw is not the record waiting for signatures.",
            )
        ]
    expected = next_role(signed_roles)
    if approval.role == _SEAL or approval.role != expected:
        wanted = _ROLE_VI.get(expected or "", "không ai")
        return [
            finding(
                "E_APPROVAL_OUT_OF_ORDER",
                "payload.SignatureApproval.role",
                f"Chưa đến lượt {_ROLE_VI.get(approval.role, approval.role)} ký; lượt ký "
                f"tiếp theo: {wanted}.",
                f"{approval.role} cannot sign now; next to sign: {expected or 'nobody'}.",
            )
        ]
    return _check_signer(approval, signer)


def _check_signer(approval: Approval, signer: RegisteredSigner | None) -> list[Finding]:
    if signer is None:
        return [
            finding(
                "E_SIGNER_NOT_REGISTERED",
                "payload.SignatureApproval.signer_id",
                f"Người ký {approval.signer_id!r} chưa được đăng ký với nền tảng.",
                f"Signer {approval.signer_id!r} is not registered with the platform.",
            )
        ]
    if signer.role != approval.role or approval.school_code not in signer.school_codes:
        return [
            finding(
                "E_SIGNER_NOT_AUTHORISED",
                "payload.SignatureApproval.signer_id",
                f"{signer.name} không được đăng ký ký với vai trò "
                f"{_ROLE_VI.get(approval.role, approval.role)} cho trường {approval.school_code}.",
                f"{signer.name} is not registered to sign as {approval.role} for school "
                f"{approval.school_code}.",
            )
        ]
    return []


def fully_signed(signed_roles: Iterable[str]) -> bool:
    """Whether a page carries every signature it needs (teacher, principal, seal): the
    record is then valid (có hiệu lực)."""
    return set(SIGNING_ORDER) <= set(signed_roles)


def seal_follows(signed_roles: Sequence[str]) -> bool:
    """Whether the platform applies the school seal now (the principal has just signed)."""
    return next_role(signed_roles) == _SEAL
