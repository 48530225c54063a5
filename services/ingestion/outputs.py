"""The messages ingestion emits: AcceptedEvent and RejectedEvent, Avro single-object encoded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from services.core.findings import Finding
from services.messaging.codec import AvroCodec

__all__ = ["ACCEPTED_EVENT", "REJECTED_EVENT", "Channel", "accepted_message", "rejected_message"]

ACCEPTED_EVENT: Final = "vn.edu.hocba.AcceptedEvent"
REJECTED_EVENT: Final = "vn.edu.hocba.RejectedEvent"
Channel = Literal["KAFKA", "HTTP"]
_ENVELOPE_TEXT: Final = ("event_id", "vendor_id", "school_code", "student_id", "school_year")


def accepted_message(
    codec: AvroCodec, event: Mapping[str, Any], channel: Channel, now: dt.datetime
) -> bytes:
    """An AcceptedEvent carrying the event as the vendor sent it."""
    return codec.encode(ACCEPTED_EVENT, {"event": event, "accepted_at": now, "channel": channel})


def rejected_message(
    codec: AvroCodec,
    *,
    envelope: Mapping[str, Any],
    findings: Iterable[Finding],
    channel: Channel,
    now: dt.datetime,
    vendor_id: str | None,
    raw_sha256: str | None = None,
    raw_size_bytes: int | None = None,
) -> bytes:
    """A RejectedEvent; envelope fields that are not readable text are left null."""
    datum: dict[str, Any] = {
        name: value if isinstance(value := envelope.get(name), str) else None
        for name in _ENVELOPE_TEXT
    }
    datum.update(
        vendor_id=vendor_id,
        stage="INGESTION",
        channel=channel,
        findings=[f.to_avro() for f in findings],
        raw_sha256=raw_sha256,
        raw_size_bytes=raw_size_bytes,
        rejected_at=now,
    )
    return codec.encode(REJECTED_EVENT, datum)
