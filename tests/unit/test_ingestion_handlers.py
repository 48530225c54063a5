"""The Kafka entry's handler on an in-memory store: outputs, order, dedup, post-commit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from services.ingestion.directory import VendorDirectory
from services.ingestion.handlers import Ingestor, KafkaEntry
from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.metrics import IngestionMetrics
from services.ingestion.settings import IngestionSettings
from services.ingestion.store import StoreUnavailableError
from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import record_key
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from tests.unit.test_ingestion_data import OCCURRED, encode, vendor_event

pytestmark = pytest.mark.unit

SETTINGS = IngestionSettings(db_retry_budget_s=0.5)
NOW = OCCURRED + dt.timedelta(hours=1)


async def make_entry(store: InMemoryVendorStore | None = None) -> tuple[KafkaEntry, Any]:
    store = store or InMemoryVendorStore()
    if "v1" not in store.vendors:
        await store.add_vendor("v1", "Vendor one")
        await store.add_vendor("v2", "Vendor two")
        await store.assign("v1", "S1", dt.date(2024, 9, 1), None)
        await store.assign("v2", "S2", dt.date(2024, 9, 1), None)
    metrics = IngestionMetrics(ServiceMetrics("ingestion-test"))
    ingestor = Ingestor(
        settings=SETTINGS,
        store=store,
        directory=VendorDirectory(store, ttl_s=0),
        metrics=metrics,
        clock=lambda: NOW,
    )

    async def no_sleep(_: float) -> None:
        return None

    return KafkaEntry(
        ingestor=ingestor, codec=default_codec(), settings=SETTINGS, sleep=no_sleep
    ), store


def incoming(values: Sequence[bytes]) -> list[Incoming]:
    return [Incoming("hocba.vendor.events", 0, i, None, v, 0) for i, v in enumerate(values)]


def read(out: Outgoing) -> dict[str, Any]:
    decoded = default_codec().decode(out.value)
    assert isinstance(decoded, Decoded)
    return decoded.value


async def test_bad_messages_are_answered_and_the_valid_one_behind_them_accepted() -> None:
    entry, store = await make_entry()
    valid = vendor_event(vendor_id="v1", school_code="S1")
    foreign = vendor_event(vendor_id="v1", school_code="S2")
    fingerprint = bytearray(encode(valid))
    fingerprint[2:10] = b"\x00" * 8
    wrong_type = default_codec().encode(
        "vn.edu.hocba.AcceptedEvent", {"event": valid, "accepted_at": NOW, "channel": "KAFKA"}
    )
    values = [
        b"garbage",
        bytes(fingerprint),
        wrong_type,
        b"\xc3\x01" + b"x" * (2 * 1024 * 1024),
        encode(foreign),
        encode(valid),
    ]
    outputs = await entry.handle(incoming(values), None)
    assert [o.topic for o in outputs] == [SETTINGS.rejected_topic] * 5 + [SETTINGS.accepted_topic]
    rejected = [read(o) for o in outputs[:5]]
    assert [r["findings"][0]["code"] for r in rejected] == [
        "E_NOT_AVRO_SINGLE_OBJECT",
        "E_UNKNOWN_SCHEMA_FINGERPRINT",
        "E_WRONG_MESSAGE_TYPE",
        "E_MESSAGE_TOO_LARGE",
        "E_SCHOOL_NOT_ASSIGNED",
    ]
    assert rejected[0]["raw_size_bytes"] == 7 and len(rejected[0]["raw_sha256"]) == 64
    assert rejected[0]["stage"] == "INGESTION" and rejected[0]["channel"] == "KAFKA"
    assert rejected[0]["vendor_id"] is None and rejected[4]["vendor_id"] == "v1"
    assert outputs[4].key == b"v1"
    accepted = read(outputs[5])
    assert accepted["event"] == valid and accepted["channel"] == "KAFKA"
    assert outputs[5].key == record_key("S1", valid["student_id"], "2024-2025")
    # Ids are recorded only after the commit.
    assert store.events == {}
    await entry.committed()
    assert list(store.events) == [uuid.UUID(valid["event_id"])]


async def test_one_store_round_trip_per_batch() -> None:
    entry, store = await make_entry()
    events = [encode(vendor_event(vendor_id="v1", school_code="S1")) for _ in range(200)]
    outputs = await entry.handle(incoming(events), None)
    assert len(outputs) == 200
    # One query each: vendors, known ids, the students' transfers.
    assert store.calls == {"vendor_entries": 1, "known_events": 1, "student_transfers": 1}


async def test_a_resent_event_is_dropped_and_a_reused_id_rejected() -> None:
    entry, _ = await make_entry()
    event = vendor_event(vendor_id="v1", school_code="S1")
    assert len(await entry.handle(incoming([encode(event)]), None)) == 1
    await entry.committed()
    reused = dict(event, correlation_id="other content")
    outputs = await entry.handle(incoming([encode(event), encode(reused)]), None)
    assert [o.topic for o in outputs] == [SETTINGS.rejected_topic]
    assert read(outputs[0])["findings"][0]["code"] == "E_EVENT_ID_REUSED"
    metrics = entry.ingestor.metrics
    sample = metrics.events.labels(metrics.service, "KAFKA", "duplicate", "v1")
    assert sample._value.get() == 1


async def test_copies_within_one_batch_are_forwarded_once() -> None:
    entry, _ = await make_entry()
    event = encode(vendor_event(vendor_id="v1", school_code="S1"))
    outputs = await entry.handle(incoming([event, event, event]), None)
    assert [o.topic for o in outputs] == [SETTINGS.accepted_topic]


async def test_an_aborted_batch_records_nothing() -> None:
    entry, store = await make_entry()
    first = encode(vendor_event(vendor_id="v1", school_code="S1"))
    await entry.handle(incoming([first]), None)
    # The transaction aborted: the pipeline hands in the batch again, then commits.
    second = encode(vendor_event(vendor_id="v1", school_code="S1"))
    await entry.handle(incoming([second]), None)
    await entry.committed()
    assert len(store.events) == 1
    await entry.committed()
    assert len(store.events) == 1


async def test_unknown_and_inactive_vendors_are_rejected() -> None:
    entry, store = await make_entry()
    await store.set_active("v2", False)
    values = [
        encode(vendor_event(vendor_id="nobody", school_code="S1")),
        encode(vendor_event(vendor_id="v2", school_code="S2")),
    ]
    outputs = await entry.handle(incoming(values), None)
    assert [read(o)["findings"][0]["code"] for o in outputs] == [
        "E_VENDOR_UNKNOWN",
        "E_VENDOR_INACTIVE",
    ]


class FlakyStore(InMemoryVendorStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def known_events(self, event_ids: Any) -> dict[uuid.UUID, bytes]:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("connection refused")
        return await super().known_events(event_ids)


async def test_a_short_database_outage_is_retried_a_long_one_stops_the_entry() -> None:
    entry, _ = await make_entry(FlakyStore(failures=2))
    event = encode(vendor_event(vendor_id="v1", school_code="S1"))
    assert len(await entry.handle(incoming([event]), None)) == 1
    entry, _ = await make_entry(FlakyStore(failures=10_000))
    with pytest.raises(StoreUnavailableError):
        await entry.handle(incoming([event]), None)
