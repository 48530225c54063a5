"""Kafka topic names: the contract vendors, operators and services share.

Each topic carries Avro values of exactly one schema of ``schemas/`` (named here),
encoded with Avro single-object encoding. Keys are the record key
``school_code|student_id|school_year`` (UTF-8), so one student's events stay in
order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALL_TOPICS",
    "HEADER_CARRIED_FROM",
    "HEADER_EVENT_ID",
    "HEADER_PAYLOAD",
    "TRANSFERS",
    "Topic",
    "topic_by_name",
]

#: Headers of ``hocba.events.accepted``: what the validation stage needs for every event
#: (which one, of what kind) without decoding it; the body decodes once, at year end.
HEADER_EVENT_ID = "hocba-event-id"
HEADER_PAYLOAD = "hocba-payload"
#: On an accepted event validation carried into another school's student-year (a mid-year
#: school transfer): the record key of the sending school's student-year it came from.
HEADER_CARRIED_FROM = "hocba-carried-from"


@dataclass(frozen=True, slots=True)
class Topic:
    """A Kafka topic and the Avro schema (full name) of its values."""

    name: str
    value_schema: str
    description: str
    compacted: bool = False
    #: Topic-level ``max.message.bytes``; None keeps the broker's default (1 MiB).
    max_message_bytes: int | None = None
    #: Record headers its producer sets: (name, meaning). The value stays the contract.
    headers: tuple[tuple[str, str], ...] = ()

    def configs(self) -> dict[str, str]:
        """The topic configuration the platform relies on."""
        configs: dict[str, str] = {}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


VENDOR_EVENTS = Topic(
    "hocba.vendor.events",
    "vn.edu.hocba.VendorEvent",
    "Evaluation events published by vendors' school-management systems.",
    # Room above ingestion's own 1 MiB limit, so an oversized event reaches ingestion
    # and is answered with E_MESSAGE_TOO_LARGE instead of a bare broker error.
    max_message_bytes=4 * 1024 * 1024,
)
EVENTS_ACCEPTED = Topic(
    "hocba.events.accepted",
    "vn.edu.hocba.AcceptedEvent",
    "Vendor events that passed authentication, envelope checks and de-duplication.",
    headers=(
        (HEADER_EVENT_ID, "the event's `event_id` (UTF-8)"),
        (HEADER_PAYLOAD, "full name of the payload's record, e.g. `vn.edu.hocba.StudentProfile`"),
        (
            HEADER_CARRIED_FROM,
            "set by validation on an evaluation it carried into the receiving school's "
            "student-year after a mid-year transfer: the sending school's record key",
        ),
    ),
)
TRANSFERS = Topic(
    "hocba.transfers",
    "vn.edu.hocba.AcceptedEvent",
    "Accepted school transfers (chuyển trường): AcceptedEvents whose payload is a "
    "StudentTransfer, keyed like the student's year at the sending school; storage grants "
    "the receiving school access to the student's records from the effective date.",
    headers=(
        (HEADER_EVENT_ID, "the event's `event_id` (UTF-8)"),
        (HEADER_PAYLOAD, "`vn.edu.hocba.StudentTransfer`"),
    ),
)
EVENTS_REJECTED = Topic(
    "hocba.events.rejected",
    "vn.edu.hocba.RejectedEvent",
    "Vendor events refused, with coded reasons; read back by each vendor.",
)
RECORDS_VALIDATED = Topic(
    "hocba.records.validated",
    "vn.edu.hocba.ValidatedRecord",
    "Year records that passed every Circular 27 rule, with the recomputed result.",
)
RECORDS_INVALID = Topic(
    "hocba.records.invalid",
    "vn.edu.hocba.InvalidRecord",
    "Year records with rule violations, every finding listed.",
)
RECORDS_SIGNED = Topic(
    "hocba.records.signed",
    "vn.edu.hocba.SignedRecord",
    "Rendered, PAdES-signed record PDFs with lookup code and effective date.",
)
RECORDS_STORED = Topic(
    "hocba.records.stored",
    "vn.edu.hocba.StoredRecord",
    "Record versions durably stored in PostgreSQL.",
)
SYNC_STATUS = Topic(
    "hocba.sync.status",
    "vn.edu.hocba.SyncStatus",
    "Outcome of each delivery attempt to the national education database.",
)
SYNC_DLQ = Topic(
    "hocba.sync.dlq",
    "vn.edu.hocba.DeadLetter",
    "Record versions that could not be delivered, with the full attempt history.",
)

VALIDATION_LOG = Topic(
    "hocba.validation.log",
    "vn.edu.hocba.StudentEventLog",
    "Internal: the validation service's state, each student-year's accepted events "
    "(compacted changelog).",
    compacted=True,
)

SIGNING_STATE = Topic(
    "hocba.signing.state",
    "vn.edu.hocba.SigningState",
    "Internal: the signing service's state, each school-year page's identity and the "
    "version being signed (compacted changelog).",
    compacted=True,
    # A page being signed carries its PDF (≈ 100–300 KB with three signatures).
    max_message_bytes=4 * 1024 * 1024,
)

ALL_TOPICS: tuple[Topic, ...] = (
    VENDOR_EVENTS,
    EVENTS_ACCEPTED,
    TRANSFERS,
    EVENTS_REJECTED,
    RECORDS_VALIDATED,
    RECORDS_INVALID,
    RECORDS_SIGNED,
    RECORDS_STORED,
    SYNC_STATUS,
    SYNC_DLQ,
    VALIDATION_LOG,
    SIGNING_STATE,
)


def topic_by_name(name: str) -> Topic:
    """Return the topic called ``name``; raise ``KeyError`` for an unknown one."""
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
