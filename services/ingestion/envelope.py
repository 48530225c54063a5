"""Envelope checks of a vendor event (kiểm tra phong bì sự kiện), as pure functions.

The envelope is what every VendorEvent carries around its payload: event id, vendor,
time, school, student and school year. Checked with it, because they need no state:
the payload's identifiers agree with the envelope, no item or period is named twice
in one event, no text holds U+0000. Every problem is reported at once, each as a
coded :class:`~services.core.findings.Finding`, so a vendor fixes them in one go.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from services.core.findings import Finding, finding
from services.core.rules_identity import school_year_start
from services.ingestion.settings import EnvelopeRules
from services.messaging.codec import HEADER_SIZE, Decoded, default_codec
from services.messaging.schemas import MessageSchema, default_registry

__all__ = [
    "VENDOR_EVENT",
    "VIETNAM_TIME",
    "check_envelope",
    "content_sha256",
    "current_body",
    "local_date",
    "parse_event_id",
    "vendor_event_schema",
]

VENDOR_EVENT: Final = "vn.edu.hocba.VendorEvent"
_STUDENT_PROFILE: Final = "vn.edu.hocba.StudentProfile"
_RECORD_CORRECTION: Final = "vn.edu.hocba.RecordCorrection"
#: A correction's reason is printed on the corrected page (lý do đính chính): 1-500 characters.
CORRECTION_REASON_MAX: Final = 500
#: Vietnam has kept UTC+07:00 all year since 1975: assignment dates are dates there.
VIETNAM_TIME: Final = dt.timezone(dt.timedelta(hours=7), "ICT")
_UUID_TEXT: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@cache
def vendor_event_schema() -> MessageSchema:
    """The current VendorEvent schema, loaded once."""
    return default_registry().current(VENDOR_EVENT)


def parse_event_id(event_id: object) -> uuid.UUID | None:
    """The event id as a UUID, or ``None`` unless it is written 8-4-4-4-12 in hex."""
    if not isinstance(event_id, str) or _UUID_TEXT.fullmatch(event_id) is None:
        return None
    return uuid.UUID(event_id)


def local_date(occurred_at: dt.datetime) -> dt.date:
    """The calendar date in Vietnam of an instant (naive instants are UTC)."""
    stamp = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=dt.UTC)
    return stamp.astimezone(VIETNAM_TIME).date()


def content_sha256(event: Mapping[str, Any], avro_body: bytes | None = None) -> bytes:
    """SHA-256 of the event's Avro binary body under the current VendorEvent schema.

    Avro's binary encoding of a datum is deterministic (VendorEvent has no maps), so the
    same event hashes the same whether it came as Avro on Kafka or as JSON over HTTP.
    ``avro_body``: the body as received, when its writer schema is the current one (it
    is then that very encoding, and nothing is re-encoded).
    """
    if avro_body is None:
        avro_body = default_codec().encode(VENDOR_EVENT, event)[HEADER_SIZE:]
    return hashlib.sha256(avro_body).digest()


def current_body(decoded: Decoded, raw: bytes) -> bytes | None:
    """The Avro body of ``raw`` if it was written with the current VendorEvent schema."""
    if decoded.writer_fingerprint != vendor_event_schema().fingerprint:
        return None
    return raw[HEADER_SIZE:]


def _check_identifier(
    value: object,
    path: str,
    code: str,
    label_vi: str,
    pattern: re.Pattern[str],
    rules: EnvelopeRules,
) -> list[Finding]:
    text = value if isinstance(value, str) else ""
    max_length = rules.identifier_max_length
    if not text:
        return [finding(code, path, f"{label_vi} bị trống", f"{path} is empty")]
    if len(text) > max_length:
        return [
            finding(
                code,
                path,
                f"{label_vi} dài {len(text)} ký tự, tối đa {max_length}",
                f"{path} has {len(text)} characters, at most {max_length} are allowed",
            )
        ]
    if pattern.fullmatch(text) is None:
        return [
            finding(
                code,
                path,
                f"{label_vi} {text!r} không khớp mẫu {pattern.pattern}",
                f"{path} {text!r} does not match the pattern {pattern.pattern}",
            )
        ]
    return []


def _check_school_year(value: object) -> list[Finding]:
    if isinstance(value, str) and school_year_start(value) is not None:
        return []
    return [
        finding(
            "E_SCHOOL_YEAR_FORMAT",
            "school_year",
            f"năm học {value!r} phải có dạng 'YYYY-YYYY' gồm hai năm liên tiếp, ví dụ '2024-2025'",
            f"school_year {value!r} must be 'YYYY-YYYY' with consecutive years, e.g. '2024-2025'",
        )
    ]


def _check_occurred_at(value: object, rules: EnvelopeRules, now: dt.datetime) -> list[Finding]:
    if not isinstance(value, dt.datetime):
        return [
            finding(
                "E_SCHEMA_MISMATCH",
                "occurred_at",
                "occurred_at phải là một thời điểm",
                "occurred_at must be a timestamp",
            )
        ]
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    latest = now + rules.max_future_skew
    if stamp <= latest:
        return []
    ahead = int((stamp - now).total_seconds())
    return [
        finding(
            "E_OCCURRED_IN_FUTURE",
            "occurred_at",
            f"thời điểm phát sinh {stamp.isoformat()} đi trước đồng hồ hệ thống {ahead} giây "
            f"(cho phép tối đa {int(rules.max_future_skew.total_seconds())} giây)",
            f"occurred_at {stamp.isoformat()} is {ahead} s ahead of the platform clock "
            f"(at most {int(rules.max_future_skew.total_seconds())} s allowed)",
        )
    ]


def _check_profile(event: Mapping[str, Any]) -> list[Finding]:
    payload = event.get("payload")
    if not (isinstance(payload, tuple) and payload[0] == _STUDENT_PROFILE):
        return []
    profile = payload[1]
    findings = []
    pairs = (
        ("student", "student_id", "mã học sinh"),
        ("school", "school_code", "mã trường"),
    )
    for part, name, label_vi in pairs:
        inner = profile.get(part) or {}
        value, envelope_value = inner.get(name), event.get(name)
        if value != envelope_value:
            path = f"payload.StudentProfile.{part}.{name}"
            findings.append(
                finding(
                    "E_ENVELOPE_MISMATCH",
                    path,
                    f"{label_vi} trong nội dung ({value!r}) khác {label_vi} của phong bì "
                    f"({envelope_value!r})",
                    f"{path} {value!r} differs from the envelope's {name} {envelope_value!r}",
                )
            )
    return findings


def _check_correction(event: Mapping[str, Any]) -> list[Finding]:
    payload = event.get("payload")
    if not (isinstance(payload, tuple) and payload[0] == _RECORD_CORRECTION):
        return []
    reason = payload[1].get("reason")
    # Counted as printed: the spaces around the reason are not part of it.
    length = len(reason.strip()) if isinstance(reason, str) else 0
    if 1 <= length <= CORRECTION_REASON_MAX:
        return []
    path = "payload.RecordCorrection.reason"
    return [
        finding(
            "E_CORRECTION_REASON_INVALID",
            path,
            f"lý do đính chính có {length} ký tự (không kể khoảng trắng ở hai đầu), phải có "
            f"từ 1 đến {CORRECTION_REASON_MAX} ký tự",
            f"{path} has {length} characters (spaces around it not counted), it must have "
            f"1 to {CORRECTION_REASON_MAX}",
        )
    ]


def _nul_paths(value: Any, path: str) -> list[str]:
    """Paths of the texts that contain U+0000 (the union of a payload reads as a tuple)."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _nul_paths(item, f"{path}.{key}")]
    if isinstance(value, tuple):
        name, inner = value
        return _nul_paths(inner, f"{path}.{str(name).rpartition('.')[2]}")
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}[{i}]")]
    return []


def _holds_nul(event: Mapping[str, Any]) -> bool:
    """Whether any text in the event contains U+0000 (an iterative walk, no paths)."""
    pending: list[Any] = list(event.values())
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                return True
        elif kind is dict:
            pending.extend(value.values())
        elif kind is list or kind is tuple:
            pending.extend(value)
        elif isinstance(value, str | dict | list | tuple):  # a subclass: the exact walk
            return bool(_nul_paths(value, ""))
    return False


def _check_text(event: Mapping[str, Any]) -> list[Finding]:
    # PostgreSQL text cannot hold U+0000 and a PDF would not show it: refused at the door,
    # where the vendor hears of it, rather than by storage at the end of the pipeline.
    # Almost no event has one: a plain walk answers first, the paths are built only then.
    if not _holds_nul(event):
        return []
    return [
        finding(
            "E_TEXT_NUL_CHARACTER",
            path.lstrip("."),
            "văn bản chứa ký tự NUL (U+0000), không lưu được",
            "the text contains a NUL character (U+0000), which cannot be stored",
        )
        for path in _nul_paths(dict(event), "")
    ]


_ITEM_KEYS = (("subjects", "subject"), ("qualities", "quality"), ("competencies", "competency"))


def _check_duplicates(event: Mapping[str, Any]) -> list[Finding]:
    """Items or periods an evaluation event names twice.

    Validation merges a student's events by (item, period), so a duplicate inside one
    event would be silently collapsed; it is refused here, with the paths of the repeats.
    """
    payload = event.get("payload")
    if not isinstance(payload, tuple):
        return []
    name, body = payload
    short = str(name).rpartition(".")[2]
    found: list[Finding] = []
    for plural, key in _ITEM_KEYS:
        seen: set[str] = set()
        for i, item in enumerate(body.get(plural) or ()):
            path = f"payload.{short}.{plural}[{i}]"
            if item[key] in seen:
                found.append(
                    finding(
                        "E_DUPLICATE_ENTRY",
                        f"{path}.{key}",
                        f"{item[key]} xuất hiện hai lần trong cùng một sự kiện.",
                        f"{item[key]} appears twice in one event.",
                    )
                )
            seen.add(item[key])
            periods: set[str] = set()
            for j, period in enumerate(item["periods"]):
                if period["period"] in periods:
                    found.append(
                        finding(
                            "E_DUPLICATE_PERIOD",
                            f"{path}.periods[{j}].period",
                            f"{item[key]}: có hai lần đánh giá {period['period']} trong "
                            "cùng một sự kiện.",
                            f"{item[key]} is evaluated twice at {period['period']} in one event.",
                        )
                    )
                periods.add(period["period"])
    return found


def check_envelope(
    event: Mapping[str, Any], rules: EnvelopeRules, now: dt.datetime
) -> list[Finding]:
    """Every envelope (and stateless payload) problem of a decoded VendorEvent; empty
    when the event is sound.

    ``now`` is an aware UTC instant. Authorization and de-duplication are checked
    elsewhere (they need the vendor directory).
    """
    findings: list[Finding] = []
    if parse_event_id(event.get("event_id")) is None:
        findings.append(
            finding(
                "E_EVENT_ID_INVALID",
                "event_id",
                f"mã sự kiện {event.get('event_id')!r} không phải UUID dạng 8-4-4-4-12",
                f"event_id {event.get('event_id')!r} is not a UUID written 8-4-4-4-12",
            )
        )
    findings += _check_occurred_at(event.get("occurred_at"), rules, now)
    findings += _check_identifier(
        event.get("school_code"),
        "school_code",
        "E_SCHOOL_CODE_FORMAT",
        "mã trường",
        rules.school_code_pattern,
        rules,
    )
    findings += _check_identifier(
        event.get("student_id"),
        "student_id",
        "E_STUDENT_ID_FORMAT",
        "mã học sinh",
        rules.student_id_pattern,
        rules,
    )
    findings += _check_school_year(event.get("school_year"))
    findings += _check_profile(event)
    findings += _check_correction(event)
    findings += _check_duplicates(event)
    findings += _check_text(event)
    return findings
