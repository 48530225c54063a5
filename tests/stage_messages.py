"""Messages as a stage's batch handler sees them, and one batch run through it (tests only).

Shared by the validation and signing handler tests, unit and integration alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from services.core.avro_types import VendorEvent
from services.core.record import key_of
from services.messaging.codec import Decoded, default_codec
from services.messaging.pipeline import Handler, Incoming, Outgoing
from services.messaging.state import ChangelogState
from services.messaging.topics import HEADER_EVENT_ID, HEADER_PAYLOAD

__all__ = ["accepted", "decode", "run_batch"]

CODEC = default_codec()


def accepted(
    event: VendorEvent,
    accepted_at: dt.datetime,
    *,
    partition: int = 0,
    offset: int = 0,
    headers: bool = True,
) -> Incoming:
    """The event as ingestion forwards it on ``hocba.events.accepted`` (``headers=False``: as
    another producer might, without the event-id and payload headers)."""
    value = CODEC.encode(
        "vn.edu.hocba.AcceptedEvent",
        {"event": event, "accepted_at": accepted_at, "channel": "KAFKA"},
    )
    key = key_of(event["school_code"], event["student_id"], event["school_year"]).encode()
    meta = (
        (HEADER_EVENT_ID, event["event_id"].encode()),
        (HEADER_PAYLOAD, event["payload"][0].encode()),
    )
    return Incoming(
        "hocba.events.accepted", partition, offset, key, value, 0, meta if headers else ()
    )


async def run_batch(
    handler: Handler, state: ChangelogState, batch: Sequence[Incoming]
) -> list[Outgoing]:
    """One batch through a stateful handler, its state changes applied as after a commit."""
    changes = state.batch()
    outputs = list(await handler(batch, changes))
    state.apply(changes)
    return outputs


def decode(out: Outgoing) -> dict[str, Any]:
    decoded = CODEC.decode(out.value)
    assert isinstance(decoded, Decoded), decoded
    return decoded.value
