"""The validation stage: accepted events in, validated / invalid records and event
rejections out, each student's year assembled in changelog-backed state.

A thin shell around :mod:`services.validation.assembly` and
:func:`services.core.validation.validate_year_record`: decode, apply, validate,
encode. Nothing here raises on bad input; a broken state entry (our own topic)
does, since silently starting over would lose evaluations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from services.core.findings import Finding, finding
from services.core.outcome import outcome_message, rejected_event
from services.core.record import year_record_from_avro
from services.core.validation import validate_year_record
from services.messaging.codec import AvroCodec, Decoded, DecodeFailure
from services.messaging.kafka import record_key
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import StateBatch
from services.validation.assembly import (
    YEAR_END,
    apply_event,
    assemble_year_record,
    event_duplicates,
    new_state,
)
from services.validation.settings import ValidationSettings

__all__ = ["StateCorruptedError", "ValidationHandler"]

_log = logging.getLogger("hocba.validation")

ACCEPTED = "vn.edu.hocba.AcceptedEvent"
STATE = "vn.edu.hocba.ValidationState"
REJECTED = "vn.edu.hocba.RejectedEvent"


class StateCorruptedError(RuntimeError):
    """A state entry of the changelog cannot be decoded: stop rather than forget evaluations."""


@dataclass
class ValidationHandler:
    """``async (batch, state) -> outputs`` for the TransactionalPipeline."""

    settings: ValidationSettings
    codec: AvroCodec
    metrics: ServiceMetrics
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def __post_init__(self) -> None:
        registry = self.metrics.registry
        self.duplicates = Counter(
            "hocba_validation_duplicate_events_total",
            "Events delivered again and applied only once.",
            ["service"],
            registry=registry,
        )
        self.records = Counter(
            "hocba_validation_records_total",
            "Year records validated, by outcome (validated, invalid).",
            ["service", "outcome"],
            registry=registry,
        )

    async def __call__(self, batch: Sequence[Incoming], state: StateBatch | None) -> list[Outgoing]:
        assert state is not None, "validation is a stateful stage"
        # A student's events usually come together: decode each state once per batch and
        # encode it once at the end (encoding the whole state per event dominated the cost).
        working: dict[tuple[int, bytes], dict[str, Any]] = {}
        outputs: list[Outgoing] = []
        for message in batch:
            outputs += self._handle(message, state, working)
        for (partition, key), current in working.items():
            state.put(partition, key, self.codec.encode(STATE, current))
        return outputs

    def _handle(
        self,
        message: Incoming,
        state: StateBatch,
        working: dict[tuple[int, bytes], dict[str, Any]],
    ) -> list[Outgoing]:
        decoded = self.codec.decode(message.value or b"", expected=ACCEPTED)
        if isinstance(decoded, DecodeFailure):
            return [self._undecodable(message, decoded)]
        event: dict[str, Any] = decoded.value["event"]
        key = message.key or record_key(
            event["school_code"], event["student_id"], event["school_year"]
        )
        now = self.clock()
        duplicates = event_duplicates(event)
        if duplicates:
            return [self._event_rejected(event, duplicates)]
        slot = (message.partition, key)
        current = working.get(slot) or self._load(state, *slot) or new_state(event, now)
        if not apply_event(current, event, now):
            self.duplicates.labels(self.metrics.service).inc()
            return []
        working[slot] = current
        if current["year_end"] is None:
            return []
        record = assemble_year_record(current)
        if record is None:
            kind, _ = event["payload"]
            if kind != YEAR_END:
                return []
            missing = finding(
                "E_PROFILE_MISSING",
                "payload",
                "Chưa có hồ sơ học sinh (StudentProfile) cho năm học này: gửi hồ sơ "
                "trước, sau đó gửi lại sự kiện cuối năm với mã sự kiện mới.",
                "No StudentProfile for this school year yet: send the profile, then "
                "the year-end submission again with a new event id.",
            )
            return [self._event_rejected(event, [missing])]
        return [self._validated(record, current, key, now)]

    def _load(self, state: StateBatch, partition: int, key: bytes) -> dict[str, Any] | None:
        raw = state.get(partition, key)
        if raw is None:
            return None
        decoded = self.codec.decode(raw, expected=STATE)
        if not isinstance(decoded, Decoded):
            raise StateCorruptedError(
                f"state of {key!r} in {self.settings.state_topic}[{partition}]: {decoded.code}"
            )
        return decoded.value

    def _validated(
        self, record: dict[str, Any], current: dict[str, Any], key: bytes, now: dt.datetime
    ) -> Outgoing:
        year_record = year_record_from_avro(record)
        outcome = validate_year_record(year_record)
        name, datum = outcome_message(
            year_record,
            outcome,
            vendor_id=current["vendor_id"],
            validated_at=now,
            source_event_ids=current["applied_event_ids"],
        )
        current["submissions"] += 1
        service = self.metrics.service
        if outcome.is_valid:
            self.records.labels(service, "validated").inc()
            topic = self.settings.validated_topic
        else:
            self.records.labels(service, "invalid").inc()
            topic = self.settings.invalid_topic
            for finding in outcome.errors:
                self.metrics.reject(finding.code, current["vendor_id"])
        return Outgoing(topic, self.codec.encode(name, dict(datum)), key=key)

    def _rejection(self, datum: dict[str, Any], key: bytes | None) -> Outgoing:
        return Outgoing(self.settings.rejected_topic, self.codec.encode(REJECTED, datum), key=key)

    def _event_rejected(self, event: dict[str, Any], findings: Sequence[Finding]) -> Outgoing:
        """An event refused at this stage: back to the vendor on hocba.events.rejected."""
        for item in findings:
            self.metrics.reject(item.code, event["vendor_id"])
        datum = rejected_event(
            stage="VALIDATION",
            envelope=event,
            findings=findings,
            rejected_at=self.clock(),
            vendor_id=event["vendor_id"],
        )
        return self._rejection(datum, event["vendor_id"].encode())

    def _undecodable(self, message: Incoming, failure: DecodeFailure) -> Outgoing:
        self.metrics.reject(failure.code, None)
        raw = message.value or b""
        _log.error(
            "undecodable accepted event",
            extra={"code": failure.code, "partition": message.partition, "offset": message.offset},
        )
        datum = rejected_event(
            stage="VALIDATION",
            envelope={},
            findings=[finding(failure.code, "", failure.message_vi, failure.message_en)],
            rejected_at=self.clock(),
            vendor_id=None,
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_size_bytes=len(raw),
        )
        return self._rejection(datum, None)
