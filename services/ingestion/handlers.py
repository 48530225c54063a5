"""Judging vendor events, and the Kafka entry's batch handler.

Both entries (Kafka ``hocba.vendor.events`` and HTTP ``POST /v1/events``) turn what they
received into :class:`Candidate` values and ask :meth:`Ingestor.judge` for one
:class:`Judgement` each: accepted, duplicate or rejected with every coded finding.
A batch costs at most two database round trips (vendor directory, when its cache is
stale; known event ids), never one per event.

Order of durability (never the reverse):

1. the accepted events are made durable on ``hocba.events.accepted`` (Kafka entry: the
   pipeline's transaction commits outputs and input offsets together; HTTP entry: the
   idempotent ``acks=all`` producer's sends are awaited);
2. only then are their ids and content hashes recorded in ``ingested_events`` (and an
   accepted StudentTransfer in ``student_transfers``, before its id: an id recorded
   without its transfer would turn the re-send that could repair it into a duplicate).

A crash between 1 and 2 forgets the ids, so a re-send is forwarded a second time; the
validation stage absorbs that (it de-duplicates by event id per student). Recording
first would be worse: a crash before the produce would leave an id "seen" that was
never forwarded, and the vendor's re-send would be dropped as a duplicate: a lost event.

School transfers: a student with recorded transfers belongs to one school on each day;
an event for another school is refused (authorization.authorize_student). Transfers
accepted earlier in a batch count for the events after them in it. An accepted
StudentTransfer is also published on ``hocba.transfers`` (same value, key and headers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from services.core.findings import Finding, finding
from services.ingestion.authorization import Transfer, authorize, authorize_student
from services.ingestion.dedup import BatchDedup, Verdict
from services.ingestion.directory import TransferDirectory, VendorDirectory
from services.ingestion.envelope import (
    VENDOR_EVENT,
    check_envelope,
    content_sha256,
    current_body,
    local_date,
    parse_event_id,
)
from services.ingestion.metrics import IngestionMetrics
from services.ingestion.outputs import Channel, accepted_message, rejected_message
from services.ingestion.settings import EnvelopeRules, IngestionSettings
from services.ingestion.store import IngestedEvent, StoreUnavailableError, VendorStore
from services.ingestion.transfers import authorization_day, check_transfer, transfer_of
from services.messaging.codec import AvroCodec, Decoded
from services.messaging.kafka import record_key
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import StateBatch
from services.messaging.topics import HEADER_EVENT_ID, HEADER_PAYLOAD

__all__ = [
    "Candidate",
    "Ingestor",
    "Judgement",
    "KafkaEntry",
    "Outcome",
    "outgoing",
    "utc_now",
]

_log = logging.getLogger("hocba.ingestion")
Outcome = Literal["accepted", "duplicate", "rejected"]
_T = TypeVar("_T")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One received event, decoded (``event``) or not (``None``, with its ``findings``)."""

    event: Mapping[str, Any] | None
    #: Problems found while reading it (codec, JSON form).
    findings: tuple[Finding, ...] = ()
    #: Readable envelope fields of an event that did not decode, for the rejection.
    hints: Mapping[str, Any] = field(default_factory=dict)
    raw_sha256: str | None = None
    raw_size_bytes: int | None = None
    #: The event's Avro body under the current schema, when received so (saves a re-encode).
    avro_body: bytes | None = None

    @property
    def envelope(self) -> Mapping[str, Any]:
        return self.event if self.event is not None else self.hints


@dataclass(frozen=True, slots=True)
class Judgement:
    """What ingestion decided about one candidate."""

    outcome: Outcome
    candidate: Candidate
    findings: tuple[Finding, ...] = ()
    #: The metric label: a registered vendor id, or ``unknown``.
    vendor_label: str = "unknown"
    event_id: uuid.UUID | None = None
    content_sha256: bytes | None = None

    def ingested(self) -> IngestedEvent:
        """The row that remembers an accepted event for de-duplication."""
        event = self.candidate.event
        if self.outcome != "accepted" or event is None or self.event_id is None:
            raise ValueError("only an accepted event is recorded")
        assert self.content_sha256 is not None
        return IngestedEvent(self.event_id, str(event["vendor_id"]), self.content_sha256)

    def transfer(self) -> Transfer | None:
        """The school transfer an accepted StudentTransfer records; None otherwise."""
        event = self.candidate.event
        if self.outcome != "accepted" or event is None:
            return None
        return transfer_of(event)


class Ingestor:
    """Authentication-independent judging: envelope, authorization, de-duplication."""

    def __init__(
        self,
        *,
        settings: IngestionSettings,
        store: VendorStore,
        directory: VendorDirectory,
        metrics: IngestionMetrics,
        clock: Callable[[], dt.datetime] = utc_now,
        transfers: TransferDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.directory = directory
        self.metrics = metrics
        self.clock = clock
        self.transfers = transfers or TransferDirectory(store, settings.transfer_cache_ttl_s)

    async def judge(
        self,
        candidates: Sequence[Candidate],
        channel: Channel,
        *,
        authenticated_vendor: str | None = None,
    ) -> list[Judgement]:
        """One judgement per candidate, in order.

        ``authenticated_vendor``: the vendor of the HTTP token (in production also the
        vendor mapped from the Kafka principal); the envelope must name it.
        Raises :class:`StoreUnavailableError` when the database does not answer.
        """
        now = self.clock()
        events = [c.event for c in candidates if c.event is not None]
        entries = await self.directory.entries({str(e["vendor_id"]) for e in events})
        first: list[tuple[list[Finding], uuid.UUID | None, str, dt.date | None]] = []
        for c in candidates:
            if c.event is None:
                first.append((list(c.findings), None, authenticated_vendor or "unknown", None))
                continue
            event = c.event
            vendor_id = str(event["vendor_id"])
            entry = entries.get(vendor_id)
            occurred = event.get("occurred_at")
            day = local_date(occurred) if isinstance(occurred, dt.datetime) else None
            findings = [
                *c.findings,
                *check_envelope(event, self.settings.rules, now),
                *check_transfer(event, self.settings.rules),
            ]
            findings += authorize(
                entry,
                vendor_id,
                str(event.get("school_code") or ""),
                day,
                authenticated_vendor=authenticated_vendor,
            )
            label = authenticated_vendor or (vendor_id if entry is not None else "unknown")
            first.append((findings, parse_event_id(event.get("event_id")), label, day))
        clean = [
            (c.event, event_id)
            for c, (findings, event_id, _, _) in zip(candidates, first, strict=True)
            if not findings and event_id is not None and c.event is not None
        ]
        lookup = {event_id for _, event_id in clean}
        dedup = BatchDedup(await self.store.known_events(lookup) if lookup else {})
        students = {str(e["student_id"]) for e, _ in clean}
        timelines = await self.transfers.timelines(students) if students else {}
        # Transfers accepted earlier in this batch, for the events after them.
        batch_transfers: dict[str, list[Transfer]] = {}
        judgements = []
        for c, (findings, event_id, label, day) in zip(candidates, first, strict=True):
            if not findings and c.event is not None and day is not None:
                findings = self._student_findings(
                    c.event, day, self.settings.rules, timelines, batch_transfers
                )
            judgement = self._decide(c, findings, event_id, label, dedup)
            transfer = judgement.transfer()
            if transfer is not None:
                batch_transfers.setdefault(transfer.student_id, []).append(transfer)
            judgements.append(judgement)
        return judgements

    @staticmethod
    def _student_findings(
        event: Mapping[str, Any],
        day: dt.date,
        rules: EnvelopeRules,
        timelines: Mapping[str, Sequence[Transfer]],
        batch_transfers: Mapping[str, Sequence[Transfer]],
    ) -> list[Finding]:
        """Whether the student belongs to the envelope's school on the event's day.

        A transfer is judged against the other transfers (a re-sent one must not refuse
        itself), on the sending school's last day with the student.
        """
        student = str(event["student_id"])
        event_id = str(event["event_id"]).lower()
        transfers = [
            t
            for t in (*timelines.get(student, ()), *batch_transfers.get(student, ()))
            if t.event_id != event_id
        ]
        if not transfers:
            return []
        return authorize_student(
            transfers, str(event["school_code"]), authorization_day(event, day, rules)
        )

    @staticmethod
    def _decide(
        candidate: Candidate,
        findings: list[Finding],
        event_id: uuid.UUID | None,
        label: str,
        dedup: BatchDedup,
    ) -> Judgement:
        if findings or candidate.event is None or event_id is None:
            return Judgement("rejected", candidate, tuple(findings), label, event_id)
        digest = content_sha256(candidate.event, candidate.avro_body)
        verdict = dedup.verdict(event_id, digest)
        if verdict is Verdict.NEW:
            dedup.accept(event_id, digest)
            return Judgement("accepted", candidate, (), label, event_id, digest)
        if verdict is Verdict.DUPLICATE:
            return Judgement("duplicate", candidate, (), label, event_id, digest)
        reused = finding(
            "E_EVENT_ID_REUSED",
            "event_id",
            f"mã sự kiện {candidate.event['event_id']} đã được tiếp nhận với nội dung khác; "
            "gửi lại phải giữ nguyên nội dung, sự kiện mới cần mã mới",
            f"event_id {candidate.event['event_id']} was already accepted with different "
            "content; a re-send must be identical, a new event needs a new id",
        )
        return Judgement("rejected", candidate, (reused,), label, event_id, digest)

    async def remember_transfers(
        self, transfers: Sequence[Transfer], record: Callable[[], Awaitable[int]]
    ) -> set[str]:
        """Transfers now durable on Kafka: in force in this process at once, then recorded
        (``record``) for every replica. Returns the event ids that could not be recorded:
        their ids must not be recorded either, so that a re-send records them."""
        self.transfers.learn(transfers)
        try:
            await record()
        except StoreUnavailableError:
            self.metrics.transfer_record_failures.labels(self.metrics.service).inc(len(transfers))
            # One line per transfer, with what the runbook needs to have it re-sent.
            for t in transfers:
                _log.error(
                    "could not record an accepted transfer",
                    extra={
                        "event_id": t.event_id,
                        "vendor_id": t.vendor_id,
                        "from_school": t.from_school,
                        "to_school": t.to_school,
                    },
                )
            return {t.event_id for t in transfers}
        return set()

    def count(self, judgements: Sequence[Judgement], channel: Channel) -> None:
        """Count (and log, one line per refused event) judgements once they are answered."""
        tally: dict[tuple[str, str], int] = {}
        for j in judgements:
            tally[(j.outcome, j.vendor_label)] = tally.get((j.outcome, j.vendor_label), 0) + 1
            if j.outcome != "rejected":
                continue
            codes = sorted({f.code for f in j.findings})
            for code in codes:
                self.metrics.base.reject(code, j.vendor_label)
            envelope = j.candidate.envelope
            # One line per refused event, at most.
            _log.warning(
                "event rejected",
                extra={
                    "channel": channel,
                    "event_id": envelope.get("event_id"),
                    "vendor": j.vendor_label,
                    "codes": codes,
                },
            )
        for (outcome, vendor), count in tally.items():
            self.metrics.outcome(channel, outcome, vendor, count)


def outgoing(
    judgement: Judgement,
    channel: Channel,
    now: dt.datetime,
    codec: AvroCodec,
    settings: IngestionSettings,
    *,
    vendor_id: str | None = None,
) -> list[Outgoing]:
    """The messages that answer a judgement: the accepted event (a transfer also on
    ``hocba.transfers``) or the rejected one; none for a duplicate.

    ``vendor_id``: the authenticated vendor; else the one the envelope names.
    """
    candidate = judgement.candidate
    event = candidate.event
    if judgement.outcome == "accepted" and event is not None:
        key = record_key(
            str(event["school_code"]), str(event["student_id"]), str(event["school_year"])
        )
        value = accepted_message(codec, event, channel, now, candidate.avro_body)
        payload_name, _ = event["payload"]
        headers = (
            (HEADER_EVENT_ID, str(event["event_id"]).encode()),
            (HEADER_PAYLOAD, str(payload_name).encode()),
        )
        accepted = Outgoing(settings.accepted_topic, value, key=key, headers=headers)
        if judgement.transfer() is None:
            return [accepted]
        return [accepted, Outgoing(settings.transfers_topic, value, key=key, headers=headers)]
    if judgement.outcome != "rejected":
        return []
    named = candidate.envelope.get("vendor_id")
    vendor = vendor_id or (named if isinstance(named, str) else None)
    value = rejected_message(
        codec,
        envelope=candidate.envelope,
        findings=judgement.findings,
        channel=channel,
        now=now,
        vendor_id=vendor,
        raw_sha256=candidate.raw_sha256,
        raw_size_bytes=candidate.raw_size_bytes,
    )
    # Keyed by vendor, so each vendor reads its own refusals in order.
    return [Outgoing(settings.rejected_topic, value, key=vendor.encode() if vendor else None)]


class KafkaEntry:
    """The batch handler of the ``hocba.vendor.events`` pipeline, and its post-commit step.

    Locally the broker has no SASL, so the envelope's ``vendor_id`` is taken as the
    publisher and must be an active registered vendor. In production each vendor
    publishes with its own Kafka principal (SASL/mTLS, ACL: write on
    ``hocba.vendor.events`` only), the principal is mapped to its vendor id and passed
    as ``authenticated_vendor``, and an envelope naming another vendor is rejected
    (E_VENDOR_MISMATCH).
    """

    def __init__(
        self,
        *,
        ingestor: Ingestor,
        codec: AvroCodec,
        settings: IngestionSettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ingestor = ingestor
        self.codec = codec
        self.settings = settings
        self._sleep = sleep
        #: Accepted in the batch in hand; recorded once its transaction has committed.
        self._pending: list[IngestedEvent] = []
        self._pending_transfers: list[Transfer] = []

    def read(self, message: Incoming) -> Candidate:
        """Decode one Kafka message; unreadable bytes become a candidate with the codec's code.

        The codec refuses messages over its ``max_message_bytes`` (E_MESSAGE_TOO_LARGE).
        """
        raw = message.value or b""
        decoded = self.codec.decode(raw, expected=VENDOR_EVENT)
        if isinstance(decoded, Decoded):
            return Candidate(decoded.value, avro_body=current_body(decoded, raw))
        return Candidate(
            None,
            (finding(decoded.code, "", decoded.message_vi, decoded.message_en),),
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_size_bytes=len(raw),
        )

    async def handle(self, batch: Sequence[Incoming], state: StateBatch | None) -> list[Outgoing]:
        """Judge a consumed batch; return the messages to commit with its offsets."""
        # A batch handed in again after an aborted transaction replaces what was pending.
        self._pending = []
        self._pending_transfers = []
        candidates = [self.read(message) for message in batch]
        judgements = await self._retrying(
            lambda: self.ingestor.judge(candidates, "KAFKA"), "judge a batch"
        )
        self.ingestor.count(judgements, "KAFKA")
        now = self.ingestor.clock()
        outputs: list[Outgoing] = []
        for j in judgements:
            # A duplicate has no output (counted above).
            outputs += outgoing(j, "KAFKA", now, self.codec, self.settings)
            if j.outcome == "accepted":
                self._pending.append(j.ingested())
                transfer = j.transfer()
                if transfer is not None:
                    self._pending_transfers.append(transfer)
        return outputs

    async def committed(self) -> None:
        """The batch's transaction committed: now remember its accepted event ids."""
        pending, self._pending = self._pending, []
        transfers, self._pending_transfers = self._pending_transfers, []
        if transfers:
            unrecorded = await self.ingestor.remember_transfers(
                transfers,
                lambda: self._retrying(
                    lambda: self.ingestor.store.record_transfers(transfers), "record transfers"
                ),
            )
            pending = [p for p in pending if str(p.event_id) not in unrecorded]
        if not pending:
            return
        try:
            await self._retrying(lambda: self.ingestor.store.record_events(pending), "record ids")
        except StoreUnavailableError:
            # The events are forwarded; only their re-sends would be forwarded again.
            self.ingestor.metrics.dedup_record_failures.labels(self.ingestor.metrics.service).inc(
                len(pending)
            )
            _log.error("could not record %d accepted event ids", len(pending))

    async def _retrying(self, attempt: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Retry while the database is unavailable, within the configured budget.

        The partition must not move on without its batch judged; past the budget the
        error ends the worker (the service stops and is restarted).
        """
        deadline = time.monotonic() + self.settings.db_retry_budget_s
        delay = 0.1
        while True:
            try:
                return await attempt()
            except StoreUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                _log.warning("cannot %s, retrying in %.1f s: %s", what, delay, exc)
                await self._sleep(delay)
                delay = min(delay * 2, 5.0)
