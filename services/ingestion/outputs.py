"""The messages ingestion emits: AcceptedEvent and RejectedEvent, Avro single-object encoded."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from services.core.findings import Finding
from services.core.outcome import rejected_event
from services.ingestion.envelope import VENDOR_EVENT
from services.messaging.codec import MARKER, AvroCodec
from services.messaging.schemas import SchemaRegistry

__all__ = ["ACCEPTED_EVENT", "REJECTED_EVENT", "Channel", "accepted_message", "rejected_message"]

ACCEPTED_EVENT: Final = "vn.edu.hocba.AcceptedEvent"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
REJECTED_EVENT: Final = "vn.edu.hocba.RejectedEvent"
Channel = Literal["KAFKA", "HTTP"]


def _zigzag_varint(value: int) -> bytes:
    """Avro's binary encoding of an int or long (zig-zag, then base-128 varint)."""
    number = (value << 1) ^ (value >> 63)
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


@functools.lru_cache(maxsize=4)
def _splice_layout(registry: SchemaRegistry) -> tuple[bytes, tuple[str, ...]] | None:
    """AcceptedEvent's header and channel symbols, if its layout allows splicing.

    An Avro record is the concatenation of its fields. While AcceptedEvent is
    exactly (event: the current VendorEvent, accepted_at: timestamp-millis, channel:
    enum), its body is the vendor's VendorEvent body followed by two small values,
    so the event need not be encoded again (it was ≈ a quarter of ingestion's CPU).
    Any other layout (a future schema version) falls back to a full encode.
    """
    accepted = registry.current(ACCEPTED_EVENT).expanded
    vendor = registry.current(VENDOR_EVENT).expanded
    fields = accepted["fields"]
    if [f["name"] for f in fields] != ["event", "accepted_at", "channel"]:
        return None
    event_type, stamp_type, channel_type = (f["type"] for f in fields)
    if not isinstance(event_type, dict) or event_type.get("name") != vendor["name"]:
        return None
    if stamp_type != {"type": "long", "logicalType": "timestamp-millis"}:
        return None
    if not isinstance(channel_type, dict) or channel_type.get("type") != "enum":
        return None
    header = MARKER + registry.current(ACCEPTED_EVENT).fingerprint
    return header, tuple(channel_type["symbols"])


def accepted_message(
    codec: AvroCodec,
    event: Mapping[str, Any],
    channel: Channel,
    now: dt.datetime,
    avro_body: bytes | None = None,
) -> bytes:
    """An AcceptedEvent carrying the event as the vendor sent it.

    ``avro_body``: the event's Avro body under the current VendorEvent schema, when at
    hand; the message is then spliced from it instead of encoding the event again.
    """
    layout = _splice_layout(codec.registry) if avro_body is not None else None
    if avro_body is None or layout is None:
        return codec.encode(
            ACCEPTED_EVENT, {"event": event, "accepted_at": now, "channel": channel}
        )
    header, symbols = layout
    millis = (now - _EPOCH) // dt.timedelta(milliseconds=1)
    return b"".join(
        (header, avro_body, _zigzag_varint(millis), _zigzag_varint(symbols.index(channel)))
    )


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
    datum = rejected_event(
        stage="INGESTION",
        envelope=envelope,
        findings=findings,
        rejected_at=now,
        vendor_id=vendor_id,
        channel=channel,
        raw_sha256=raw_sha256,
        raw_size_bytes=raw_size_bytes,
    )
    return codec.encode(REJECTED_EVENT, datum)
