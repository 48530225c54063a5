"""The national contract's request checks, as the simulator applies them (pure, no HTTP).

A PUT of a record version names it in its path, repeats that name in its
``Idempotency-Key`` (:func:`services.core.national.idempotency_key`) and sends
:func:`services.core.national.version_body` as its JSON body; these functions check each
part and raise :class:`ContractError`, whose message is the ``detail`` of the 400 answer.
The body's fields are the ones ``version_body`` produces — never declared again here —
and must all be present, with no others.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from services.core.national import BODY_FIELDS, VersionKey, idempotency_key

__all__ = [
    "ContractError",
    "Submission",
    "check_body",
    "check_idempotency_key",
    "check_identifier",
    "check_school_year",
    "version_key",
]

#: The body's fields: whatever the shared definition emits.
_BODY_FIELDS: Final = frozenset(BODY_FIELDS)
_IDENTITY: Final = ("record_id", "school_year", "version")
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCHOOL_YEAR: Final = re.compile(r"([0-9]{4})-([0-9]{4})")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_MAX_VERSION: Final = 2**31 - 1
_YEAR_RESULTS: Final = frozenset({"HTXS", "HTT", "HT", "CHT"})
#: Lý do đính chính, as ingestion admits it (1-500 characters).
_REASON_MAX: Final = 500


class ContractError(ValueError):
    """A request that breaks the contract (answered 400 ``invalid_request``)."""


@dataclass(frozen=True, slots=True)
class Submission:
    """What the simulator keeps of a valid PUT body."""

    school_code: str
    pdf_sha256: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_identifier(name: str, value: str) -> str:
    """A record id or school code: 1-64 letters, digits, ``-`` or ``_``."""
    if _IDENTIFIER.fullmatch(value) is None:
        raise ContractError(f"{name} {value[:70]!r} is not 1-64 letters, digits, '-' or '_'")
    return value


def check_school_year(value: str | None) -> str:
    """A school year (năm học) ``YYYY-YYYY`` of two consecutive years."""
    if value is None:
        raise ContractError("school_year is required: 'YYYY-YYYY' of consecutive years")
    found = _SCHOOL_YEAR.fullmatch(value)
    if found is None or int(found[2]) != int(found[1]) + 1:
        raise ContractError(f"school_year {value[:20]!r} is not 'YYYY-YYYY' of consecutive years")
    return value


def version_key(record_id: str, school_year: str, version: str) -> VersionKey:
    """The version a path names (``.../records/{record_id}/years/{school_year}/versions/N``)."""
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= _MAX_VERSION:
        raise ContractError(f"version {version[:20]!r} is not a version number (1, 2, ...)")
    return VersionKey(
        check_identifier("record_id", record_id), check_school_year(school_year), int(version)
    )


def check_idempotency_key(key: VersionKey, header: str | None) -> None:
    """The ``Idempotency-Key`` header must name the version of the path."""
    expected = idempotency_key(key)
    if header is None:
        raise ContractError(f"the Idempotency-Key header is required (here: {expected!r})")
    if header != expected:
        raise ContractError(
            f"Idempotency-Key {header[:100]!r} does not name this version (expected {expected!r})"
        )


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _school_code(value: Any) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def _grade(value: Any) -> bool:
    return _is_int(value) and 1 <= value <= 5


def _year_result(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value in _YEAR_RESULTS)


def _sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _size(value: Any) -> bool:
    return value is None or (_is_int(value) and value >= 0)


def _reason(value: Any) -> bool:
    return value is None or (isinstance(value, str) and 1 <= len(value) <= _REASON_MAX)


def _timestamp(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


_FIELD_CHECKS: Final[Mapping[str, tuple[Callable[[Any], bool], str]]] = {
    "school_code": (_school_code, "a school code (1-64 letters, digits, '-' or '_')"),
    "student_id": (_text, "a non-empty string"),
    "national_id": (_optional_text, "a string or null"),
    "grade": (_grade, "a whole number from 1 to 5"),
    "year_result": (_year_result, "null or one of CHT, HT, HTT, HTXS"),
    "pdf_sha256": (_sha256, "64 lowercase hexadecimal digits"),
    "pdf_size_bytes": (_size, "a whole number ≥ 0 or null"),
    "pdf_url": (_optional_text, "a string or null"),
    "correction_reason": (_reason, "null or a string of 1-500 characters"),
    "effective_at": (_timestamp, "null or an ISO-8601 time with its UTC offset"),
}


def _problems(key: VersionKey, body: Mapping[str, Any]) -> list[str]:
    missing = sorted(_BODY_FIELDS - body.keys())
    unknown = sorted(body.keys() - _BODY_FIELDS)
    if missing or unknown:
        return [f"missing field {name}" for name in missing] + [
            f"unknown field {name}" for name in unknown
        ]
    problems = [
        f"{name} {body[name]!r} differs from the path's {getattr(key, name)!r}"
        for name in _IDENTITY
        if type(body[name]) is not type(getattr(key, name)) or body[name] != getattr(key, name)
    ]
    problems += [
        f"{name} must be {meaning}"
        for name, (check, meaning) in _FIELD_CHECKS.items()
        if name in body and not check(body[name])
    ]
    supersedes = body["supersedes_version"]
    if supersedes is not None and not (_is_int(supersedes) and 1 <= supersedes < key.version):
        problems.append(f"supersedes_version must be null or a version from 1 to {key.version - 1}")
    if body["correction_reason"] is not None and supersedes is None:
        problems.append("correction_reason is given only with supersedes_version (a correction)")
    return problems


def check_body(key: VersionKey, raw: bytes) -> Submission:
    """The PUT body: JSON, exactly the contract's fields, consistent with the path."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ContractError(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ContractError("the body must be a JSON object")
    problems = _problems(key, body)
    if problems:
        raise ContractError("; ".join(problems))
    return Submission(school_code=body["school_code"], pdf_sha256=body["pdf_sha256"])
