"""An event a stage refuses, answered to its vendor: counted, encoded, keyed by vendor.

Validation and signing refuse decoded vendor events the same way (ingestion, which also
answers over HTTP and for bytes that never decoded, builds its own answers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from services.core.findings import Finding
from services.core.outcome import rejected_event
from services.messaging.codec import AvroCodec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Outgoing

__all__ = ["refused_event"]

_REJECTED = "vn.edu.hocba.RejectedEvent"


def refused_event(
    event: Mapping[str, Any],
    findings: Sequence[Finding],
    *,
    stage: Literal["VALIDATION", "SIGNING"],
    topic: str,
    codec: AvroCodec,
    metrics: ServiceMetrics,
    at: dt.datetime,
) -> Outgoing:
    """The RejectedEvent for ``event`` on ``topic``, keyed by its vendor (who reads its own
    refusals in order); each finding's code is counted for that vendor."""
    vendor_id = str(event["vendor_id"])
    for item in findings:
        metrics.reject(item.code, vendor_id)
    datum = rejected_event(
        stage=stage, envelope=event, findings=findings, rejected_at=at, vendor_id=vendor_id
    )
    return Outgoing(topic, codec.encode(_REJECTED, datum), key=vendor_id.encode())
