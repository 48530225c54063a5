"""The validation stage: accepted events in, validated / invalid records and event
rejections out, each student's year kept as the log of its accepted events.

The state of a student-year (``StudentEventLog`` on the compacted changelog
``hocba.validation.log``) is its accepted events exactly as received: taking one in
appends its bytes. The events are decoded and merged (:mod:`services.validation.assembly`)
only when the record is validated, at the year-end submission and at any change
after it. (Decoding and re-encoding a merged ≈ 4.6 KB state for every batch a student
appeared in was most of this stage's CPU.) Which event it is and what it carries come
from the headers ingestion sets; a message without them is decoded on arrival.

Nothing here raises on bad input; a broken state entry (our own topic) does
(``StateCorruptedError``), since silently starting over would lose evaluations.
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
from services.messaging.codec import AvroCodec, DecodeFailure
from services.messaging.kafka import record_key
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.refusals import refused_event
from services.messaging.state import StateBatch
from services.messaging.topics import HEADER_EVENT_ID, HEADER_PAYLOAD
from services.validation.assembly import SIGNATURE_APPROVAL, YEAR_END, YearAssembly
from services.validation.settings import ValidationSettings

__all__ = ["ValidationHandler"]

_log = logging.getLogger("hocba.validation")

ACCEPTED = "vn.edu.hocba.AcceptedEvent"
LOG = "vn.edu.hocba.StudentEventLog"
REJECTED = "vn.edu.hocba.RejectedEvent"

_Slot = tuple[int, bytes]


@dataclass(frozen=True, slots=True)
class _Identity:
    """Which student-year an accepted event is for, its id and its payload's record name."""

    key: bytes
    event_id: str
    payload: str


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
        # Each touched log is decoded once per batch and written back once at its end.
        logs: dict[_Slot, dict[str, Any]] = {}
        changed: set[_Slot] = set()
        outputs: list[Outgoing] = []
        for message in batch:
            outputs += self._handle(message, state, logs, changed)
        now = self.clock()
        for slot in changed:
            logs[slot]["updated_at"] = now
            state.put(*slot, self.codec.encode(LOG, logs[slot]))
        return outputs

    def _handle(
        self,
        message: Incoming,
        state: StateBatch,
        logs: dict[_Slot, dict[str, Any]],
        changed: set[_Slot],
    ) -> list[Outgoing]:
        identity = self._identify(message)
        if isinstance(identity, Outgoing):
            return [identity]
        if identity.payload == SIGNATURE_APPROVAL:
            return []  # the signing stage's business, not part of the year's evaluations
        slot = (message.partition, identity.key)
        log = logs.get(slot) or state.decoded(*slot, self.codec, LOG)
        if log is None:
            log = {"record_key": identity.key.decode(), "events": [], "updated_at": self.clock()}
        logs[slot] = log
        if any(entry["event_id"] == identity.event_id for entry in log["events"]):
            self.duplicates.labels(self.metrics.service).inc()
            return []
        entry = {"event_id": identity.event_id, "payload": identity.payload}
        log["events"].append({**entry, "message": message.value or b""})
        changed.add(slot)
        if not any(logged["payload"] == YEAR_END for logged in log["events"]):
            return []
        return self._assess(log, identity)

    def _identify(self, message: Incoming) -> _Identity | Outgoing:
        """The event's identity from its headers, else from its decoded body; or a rejection."""
        raw = message.value or b""
        headers = dict(message.headers)
        event_id, payload = headers.get(HEADER_EVENT_ID), headers.get(HEADER_PAYLOAD)
        if message.key and event_id is not None and payload is not None:
            writer = self.codec.identify(raw, expected=ACCEPTED)
            if isinstance(writer, DecodeFailure):
                return self._undecodable(message, writer)
            try:
                return _Identity(message.key, event_id.decode(), payload.decode())
            except UnicodeDecodeError:
                pass  # not headers ingestion wrote: read the event itself
        decoded = self.codec.decode(raw, expected=ACCEPTED)
        if isinstance(decoded, DecodeFailure):
            return self._undecodable(message, decoded)
        event = decoded.value["event"]
        key = message.key or record_key(
            event["school_code"], event["student_id"], event["school_year"]
        )
        return _Identity(key, event["event_id"], event["payload"][0])

    def _assess(self, log: dict[str, Any], trigger: _Identity) -> list[Outgoing]:
        """Replay the log into the year record and validate it (after a year end exists)."""
        now = self.clock()
        outputs: list[Outgoing] = []
        events: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for entry in log["events"]:
            decoded = self.codec.decode(entry["message"], expected=ACCEPTED)
            if isinstance(decoded, DecodeFailure):
                # Only an event whose headers came without a readable body gets here: it
                # is refused now and leaves the log, so it is refused once.
                outputs.append(self._undecodable_logged(entry, decoded))
                continue
            kept.append(entry)
            events.append(decoded.value["event"])
        log["events"] = kept
        if not kept or kept[-1]["event_id"] != trigger.event_id:
            return outputs  # the event that triggered this was refused above
        assembly = YearAssembly.replay(events)
        record = assembly.year_record()
        if record is not None:
            return [*outputs, self._validated(record, assembly, trigger.key, now)]
        if trigger.payload != YEAR_END:
            return outputs
        missing = finding(
            "E_PROFILE_MISSING",
            "payload",
            "Chưa có hồ sơ học sinh (StudentProfile) cho năm học này: gửi hồ sơ "
            "trước, sau đó gửi lại sự kiện cuối năm với mã sự kiện mới.",
            "No StudentProfile for this school year yet: send the profile, then "
            "the year-end submission again with a new event id.",
        )
        return [*outputs, self._event_rejected(events[-1], [missing])]

    def _validated(
        self, record: dict[str, Any], assembly: YearAssembly, key: bytes, now: dt.datetime
    ) -> Outgoing:
        year_record = year_record_from_avro(record)
        outcome = validate_year_record(year_record)
        vendor_id = assembly.vendor_id or ""
        name, datum = outcome_message(
            year_record,
            outcome,
            vendor_id=vendor_id,
            validated_at=now,
            source_event_ids=assembly.applied_event_ids,
        )
        service = self.metrics.service
        if outcome.is_valid:
            self.records.labels(service, "validated").inc()
            topic = self.settings.validated_topic
        else:
            self.records.labels(service, "invalid").inc()
            topic = self.settings.invalid_topic
            for finding in outcome.errors:
                self.metrics.reject(finding.code, vendor_id)
        return Outgoing(topic, self.codec.encode(name, dict(datum)), key=key)

    def _rejection(self, datum: dict[str, Any], key: bytes | None) -> Outgoing:
        return Outgoing(self.settings.rejected_topic, self.codec.encode(REJECTED, datum), key=key)

    def _event_rejected(self, event: dict[str, Any], findings: Sequence[Finding]) -> Outgoing:
        """An event refused at this stage: back to the vendor on hocba.events.rejected."""
        return refused_event(
            event,
            findings,
            stage="VALIDATION",
            topic=self.settings.rejected_topic,
            codec=self.codec,
            metrics=self.metrics,
            at=self.clock(),
        )

    def _undecodable(self, message: Incoming, failure: DecodeFailure) -> Outgoing:
        _log.error(
            "undecodable accepted event",
            extra={"code": failure.code, "partition": message.partition, "offset": message.offset},
        )
        return self._unreadable(message.value or b"", failure)

    def _undecodable_logged(self, entry: dict[str, Any], failure: DecodeFailure) -> Outgoing:
        _log.error(
            "undecodable logged event",
            extra={"code": failure.code, "event_id": entry["event_id"]},
        )
        return self._unreadable(entry["message"], failure)

    def _unreadable(self, raw: bytes, failure: DecodeFailure) -> Outgoing:
        self.metrics.reject(failure.code, None)
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
