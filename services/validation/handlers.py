"""The validation stage: accepted events in, validated / invalid records and event
rejections out, each student's year kept as the log of its accepted events.

The state of a student-year (``StudentEventLog`` on the compacted changelog
``hocba.validation.log``) is its accepted events exactly as received: taking one in
appends its bytes. The events are decoded and merged (:mod:`services.validation.assembly`)
only when the record is validated, at the year-end submission and at any change
after it. (Decoding and re-encoding a merged ≈ 4.6 KB state for every batch a student
appeared in was most of this stage's CPU.) Which event it is and what it carries come
from the headers ingestion sets; a message without them is decoded on arrival.

School transfer (chuyển trường): a StudentTransfer in the sending school's log, mid-year,
carries the log's evaluations made before it takes effect to the receiving school's
student-year: the same AcceptedEvent bytes again on ``hocba.events.accepted``, keyed by
the receiving school's record key, with the ``hocba-carried-from`` header, in the same
transaction as the log (a re-delivered transfer is a duplicate there and carries
nothing again). The receiving log puts carried events before its own, so the receiving
school's own later evaluations win; it de-duplicates them by event id like any event.

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
from services.messaging.topics import HEADER_CARRIED_FROM, HEADER_EVENT_ID, HEADER_PAYLOAD
from services.validation.assembly import (
    CARRIED_KINDS,
    SIGNATURE_APPROVAL,
    TRANSFER,
    YEAR_END,
    YearAssembly,
    carried_over,
)
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
        self.carried = Counter(
            "hocba_validation_carried_events_total",
            "Evaluations carried into the receiving school's student-year after a mid-year "
            "school transfer.",
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
        # Years completed before evaluations were carried into them: assessed once, after
        # the batch's carried events (they come together), not once per carried event.
        deferred: dict[_Slot, _Identity] = {}
        for message in batch:
            outputs += self._handle(message, state, logs, changed, deferred)
        for slot, trigger in deferred.items():
            outputs += self._assess(logs[slot], trigger)
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
        deferred: dict[_Slot, _Identity],
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
        is_carried = dict(message.headers).get(HEADER_CARRIED_FROM) is not None
        if is_carried:
            # Before the year's own events, so the receiving school's evaluations win.
            position = self._carried_count(log)
            log["events"].insert(position, {**entry, "message": message.value or b""})
        else:
            log["events"].append({**entry, "message": message.value or b""})
        changed.add(slot)
        carried = self._carry(log, identity)
        if identity.payload == TRANSFER:
            return carried  # a transfer changes no content of this year
        if not any(logged["payload"] == YEAR_END for logged in log["events"]):
            return carried
        if is_carried:
            deferred[slot] = identity
            return carried
        deferred.pop(slot, None)  # this assessment includes the carried events
        return [*carried, *self._assess(log, identity)]

    def _carried_count(self, log: dict[str, Any]) -> int:
        """How many events at the head of the log were carried in from another school."""
        school = str(log["record_key"]).partition("|")[0]
        for position, entry in enumerate(log["events"]):
            decoded = self.codec.decode(entry["message"], expected=ACCEPTED)
            if isinstance(decoded, DecodeFailure):
                return position
            if decoded.value["event"]["school_code"] == school:
                return position
        return len(log["events"])

    def _carry(self, log: dict[str, Any], trigger: _Identity) -> list[Outgoing]:
        """Evaluations a mid-year transfer in this log carries to the receiving school.

        On the transfer's arrival: every evaluation before its date; on a late evaluation
        (made before the date, received after the transfer): that one.
        """
        entries = log["events"]
        if trigger.payload not in CARRIED_KINDS and trigger.payload != TRANSFER:
            return []
        if not any(e["payload"] == TRANSFER for e in entries):
            return []
        decoded: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for entry in entries:
            if entry["payload"] in CARRIED_KINDS or entry["payload"] in (TRANSFER, YEAR_END):
                value = self.codec.decode(entry["message"], expected=ACCEPTED)
                if not isinstance(value, DecodeFailure):
                    decoded.append((entry, value.value["event"]))
        events = [event for _, event in decoded]
        messages = {entry["event_id"]: entry["message"] for entry, _ in decoded}
        transfers = [e for e in events if e["payload"][0] == TRANSFER]
        if trigger.payload == TRANSFER:
            # An earlier transfer of this log carried its share when it came.
            transfers = [t for t in transfers if t["event_id"] == trigger.event_id]
        outputs: list[Outgoing] = []
        for transfer in transfers:
            to_key = record_key(
                transfer["payload"][1]["to_school_code"],
                transfer["student_id"],
                transfer["school_year"],
            )
            for event in carried_over(events, transfer):
                if trigger.payload != TRANSFER and event["event_id"] != trigger.event_id:
                    continue
                headers = (
                    (HEADER_EVENT_ID, str(event["event_id"]).encode()),
                    (HEADER_PAYLOAD, str(event["payload"][0]).encode()),
                    (HEADER_CARRIED_FROM, str(log["record_key"]).encode()),
                )
                outputs.append(
                    Outgoing(
                        self.settings.accepted_topic,
                        messages[event["event_id"]],
                        key=to_key,
                        headers=headers,
                    )
                )
        self.carried.labels(self.metrics.service).inc(len(outputs))
        return outputs

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
        if all(entry["event_id"] != trigger.event_id for entry in kept):
            return outputs  # the event that triggered this was refused above
        # Carried events (from a school the student left) name their own school.
        assembly = YearAssembly.replay(events, school_code=trigger.key.decode().partition("|")[0])
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
            correction_event_id=assembly.correction_event_id,
            correction_reason=assembly.correction_reason,
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
