"""School transfers at ingestion: payload checks, authorization over a student's transfers,
and the Kafka entry that records and publishes them (in-memory store)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from services.ingestion.authorization import Transfer, authorize_student, school_on
from services.ingestion.directory import TransferDirectory, VendorDirectory
from services.ingestion.handlers import Ingestor, KafkaEntry
from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.metrics import IngestionMetrics
from services.ingestion.settings import EnvelopeRules, IngestionSettings, SettingsError
from services.ingestion.store import StoreUnavailableError
from services.ingestion.transfers import (
    authorization_day,
    check_transfer,
    transfer_of,
    transfer_window,
)
from services.messaging.codec import Decoded, default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.topics import HEADER_EVENT_ID, HEADER_PAYLOAD
from tests.unit.test_ingestion_data import encode
from tests.unit.test_transfers_data import EFFECTIVE_ON, at, scenario, transfer_payload

pytestmark = pytest.mark.unit

D = EFFECTIVE_ON
DAY = dt.timedelta(days=1)
A_TO_B = Transfer("t1", "S", "A", "B", D, "2024-2025", "x")


@pytest.mark.parametrize(
    ("school", "day", "codes"),
    [
        ("A", D - DAY, []),  # X, before the effective date
        ("A", D, ["E_STUDENT_TRANSFERRED"]),  # X, on it
        ("A", D + 30 * DAY, ["E_STUDENT_TRANSFERRED"]),  # X, after it
        ("B", D - DAY, ["E_STUDENT_NOT_YET_TRANSFERRED"]),  # Y, before
        ("B", D, []),  # Y, on
        ("B", D + 30 * DAY, []),  # Y, after
        ("C", D, ["E_STUDENT_AT_OTHER_SCHOOL"]),  # a school the student never attended
    ],
)
def test_a_transfer_flips_the_students_school_at_its_effective_date(
    school: str, day: dt.date, codes: list[str]
) -> None:
    found = authorize_student([A_TO_B], school, day)
    assert [f.code for f in found] == codes
    if codes:
        assert found[0].path == "school_code"
        assert day.strftime("%d/%m/%Y") in found[0].message_vi
        assert day.isoformat() in found[0].message_en


def test_a_finished_year_stays_with_the_sending_school_after_a_summer_transfer() -> None:
    rules = EnvelopeRules()
    summer = Transfer("t2", "S", "A", "B", dt.date(2025, 7, 15), "2024-2025", "x")

    def judged(school: str, school_year: str, day: dt.date) -> list[str]:
        event = {"school_year": school_year, "payload": ("vn.edu.hocba.RecordCorrection", {})}
        when = authorization_day(event, day, rules)
        return [f.code for f in authorize_student([summer], school, when)]

    # A correction of the finished year in August: judged on the year's last day (31 May).
    assert judged("A", "2024-2025", dt.date(2025, 8, 10)) == []
    assert judged("B", "2024-2025", dt.date(2025, 8, 10)) == ["E_STUDENT_NOT_YET_TRANSFERRED"]
    # The next year belongs to the receiving school.
    assert judged("A", "2025-2026", dt.date(2025, 9, 10)) == ["E_STUDENT_TRANSFERRED"]
    assert judged("B", "2025-2026", dt.date(2025, 9, 10)) == []
    # A mid-year transfer moves the year itself: the clamp changes nothing after it.
    assert judged("A", "2024-2025", dt.date(2025, 7, 1)) == []
    mid_year = Transfer("t3", "S", "A", "B", dt.date(2025, 2, 10), "2024-2025", "x")
    when = authorization_day({"school_year": "2024-2025"}, dt.date(2025, 3, 1), rules)
    assert [f.code for f in authorize_student([mid_year], "A", when)] == ["E_STUDENT_TRANSFERRED"]
    later = replace(rules, school_year_ends=(6, 15))
    assert authorization_day({"school_year": "2024-2025"}, dt.date(2025, 8, 1), later) == (
        dt.date(2025, 6, 15)
    )


def test_students_without_transfers_get_the_school_check_only() -> None:
    assert school_on([], D) is None
    assert authorize_student([], "ANY", D) == []


def test_a_chain_of_transfers_and_a_return() -> None:
    back = Transfer("t2", "S", "B", "A", D + 60 * DAY, "2024-2025", "y")
    chain = [back, A_TO_B]  # the order given does not matter
    assert [school_on(chain, d) for d in (D - DAY, D, D + 60 * DAY)] == ["A", "B", "A"]
    # Between the two, A's vendor hears that the student comes back, not that it left.
    assert [f.code for f in authorize_student(chain, "A", D + DAY)] == [
        "E_STUDENT_NOT_YET_TRANSFERRED"
    ]
    assert [f.code for f in authorize_student(chain, "B", D + 61 * DAY)] == [
        "E_STUDENT_TRANSFERRED"
    ]


RULES = EnvelopeRules()


def transfer_event(to_school: str, effective_on: dt.date, school_year: str = "2024-2025") -> Any:
    return {
        "event_id": str(uuid.uuid4()),
        "vendor_id": "x",
        "occurred_at": at(dt.date(2025, 1, 25)),
        "school_code": "A",
        "student_id": "S",
        "school_year": school_year,
        "payload": transfer_payload(to_school, effective_on),
        "correlation_id": None,
    }


@pytest.mark.parametrize(
    ("to_school", "effective_on", "codes"),
    [
        ("B", D, []),
        ("B", dt.date(2024, 8, 1), []),  # the window's first day
        ("B", dt.date(2025, 8, 31), []),  # the summer after the year: its last day
        ("B", dt.date(2024, 7, 31), ["E_TRANSFER_DATE_OUT_OF_RANGE"]),
        ("B", dt.date(2025, 9, 1), ["E_TRANSFER_DATE_OUT_OF_RANGE"]),
        ("A", D, ["E_TRANSFER_SAME_SCHOOL"]),
        ("", D, ["E_SCHOOL_CODE_FORMAT"]),
        ("B C", D, ["E_SCHOOL_CODE_FORMAT"]),
        ("A", dt.date(2030, 1, 1), ["E_TRANSFER_SAME_SCHOOL", "E_TRANSFER_DATE_OUT_OF_RANGE"]),
    ],
)
def test_payload_checks(to_school: str, effective_on: dt.date, codes: list[str]) -> None:
    found = check_transfer(transfer_event(to_school, effective_on), RULES)
    assert [f.code for f in found] == codes
    for f in found:
        assert f.path.startswith("payload.StudentTransfer.")
        assert f.message_vi and f.message_en and f.message_vi != f.message_en


def test_other_payloads_are_not_transfers() -> None:
    s = scenario()
    assert check_transfer(s.before[0], RULES) == []
    assert transfer_of(s.before[0]) is None
    transfer = transfer_of(s.transfer)
    assert transfer is not None
    assert (transfer.from_school, transfer.to_school, transfer.effective_on) == (
        s.school_a,
        s.school_b,
        D,
    )


def test_the_window_is_configurable() -> None:
    env = {"HOCBA_TRANSFER_WINDOW_OPENS": "09-05", "HOCBA_TRANSFER_WINDOW_CLOSES": "06-30"}
    rules = IngestionSettings.from_env(env).rules
    assert transfer_window("2024-2025", rules) == (dt.date(2024, 9, 5), dt.date(2025, 6, 30))
    assert transfer_window("2024", rules) is None
    leap = replace(rules, transfer_window_closes=(2, 29))
    assert transfer_window("2025-2026", leap) == (dt.date(2025, 9, 5), dt.date(2026, 2, 28))
    with pytest.raises(SettingsError):
        IngestionSettings.from_env({"HOCBA_TRANSFER_WINDOW_OPENS": "13-01"})


# -- the Kafka entry ------------------------------------------------------------------------

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SETTINGS = IngestionSettings(db_retry_budget_s=0.2)


class FlakyTransfers(InMemoryVendorStore):
    fail = False

    async def record_transfers(self, transfers: Any) -> int:
        if self.fail:
            raise StoreUnavailableError("connection refused")
        return await super().record_transfers(transfers)


async def make_entry(store: InMemoryVendorStore | None = None) -> tuple[KafkaEntry, Any]:
    s = scenario()
    store = store or InMemoryVendorStore()
    for vendor, school in ((s.vendor_x, s.school_a), (s.vendor_y, s.school_b)):
        await store.add_vendor(vendor, vendor)
        await store.assign(vendor, school, dt.date(2024, 8, 1), None)
    ingestor = Ingestor(
        settings=SETTINGS,
        store=store,
        directory=VendorDirectory(store, ttl_s=0),
        metrics=IngestionMetrics(ServiceMetrics("ingestion-test")),
        clock=lambda: NOW,
        # A long TTL: only what this process learns updates it.
        transfers=TransferDirectory(store, ttl_s=3600),
    )

    async def no_sleep(_: float) -> None:
        return None

    entry = KafkaEntry(ingestor=ingestor, codec=default_codec(), settings=SETTINGS, sleep=no_sleep)
    return entry, store


def incoming(events: list[dict[str, Any]]) -> list[Incoming]:
    return [Incoming("hocba.vendor.events", 0, i, None, encode(e), 0) for i, e in enumerate(events)]


def codes(outputs: list[Outgoing]) -> list[str]:
    out = []
    for o in outputs:
        decoded = default_codec().decode(o.value)
        assert isinstance(decoded, Decoded)
        if o.topic == SETTINGS.rejected_topic:
            out.append(",".join(f["code"] for f in decoded.value["findings"]))
        else:
            out.append(o.topic)
    return out


async def test_the_entry_flips_authorization_and_publishes_the_transfer() -> None:
    s = scenario()
    entry, store = await make_entry()
    # Cached before the transfer exists: the process must learn it, not re-read it.
    assert await entry.ingestor.transfers.timelines({s.student}) == {s.student: ()}
    outputs = await entry.handle(incoming([*s.before, s.transfer]), None)
    assert codes(outputs) == [SETTINGS.accepted_topic] * 6 + [SETTINGS.transfers_topic]
    accepted, published = outputs[-2], outputs[-1]
    assert (published.value, published.key, published.headers) == (
        accepted.value,
        accepted.key,
        accepted.headers,
    )
    assert dict(published.headers)[HEADER_PAYLOAD] == b"vn.edu.hocba.StudentTransfer"
    assert dict(published.headers)[HEADER_EVENT_ID] == s.transfer["event_id"].encode()
    assert store.transfers == {}  # recorded only after the commit
    await entry.committed()
    assert list(store.transfers) == [s.transfer["event_id"]]
    assert uuid.UUID(s.transfer["event_id"]) in store.events

    x_late = s.event(s.vendor_x, s.school_a, at(D))
    x_early = s.event(s.vendor_x, s.school_a, at(D - DAY))
    y_early = s.event(s.vendor_y, s.school_b, at(D - DAY))
    outputs = await entry.handle(incoming([x_late, x_early, y_early, *s.after]), None)
    assert codes(outputs) == [
        "E_STUDENT_TRANSFERRED",
        SETTINGS.accepted_topic,
        "E_STUDENT_NOT_YET_TRANSFERRED",
        *[SETTINGS.accepted_topic] * len(s.after),
    ]
    assert store.calls["student_transfers"] == 1  # learnt, not read again
    # The re-sent transfer is a duplicate: it is not refused by itself.
    assert await entry.handle(incoming([s.transfer]), None) == []


async def test_events_after_a_transfer_in_the_same_batch_follow_it() -> None:
    s = scenario()
    entry, _ = await make_entry()
    outputs = await entry.handle(
        incoming([s.transfer, s.after[0], s.event(s.vendor_x, s.school_a, at(D))]), None
    )
    assert codes(outputs) == [
        SETTINGS.accepted_topic,
        SETTINGS.transfers_topic,
        SETTINGS.accepted_topic,
        "E_STUDENT_TRANSFERRED",
    ]


async def test_a_transfer_is_checked_against_the_sending_school() -> None:
    s = scenario()
    entry, _ = await make_entry()
    await entry.handle(incoming([s.transfer]), None)
    await entry.committed()
    # X cannot move the student again once it has left A; Y can move it on from B.
    again = s.event(
        s.vendor_x, s.school_a, at(D + 10 * DAY), transfer_payload("SCHOOL-C", D + 20 * DAY)
    )
    onwards = s.event(
        s.vendor_y, s.school_b, at(D + 10 * DAY), transfer_payload("SCHOOL-C", D + 20 * DAY)
    )
    outputs = await entry.handle(incoming([again, onwards]), None)
    assert codes(outputs) == [
        "E_STUDENT_TRANSFERRED",
        SETTINGS.accepted_topic,
        SETTINGS.transfers_topic,
    ]


async def test_an_unrecorded_transfer_keeps_its_id_unrecorded_so_a_resend_records_it() -> None:
    s = scenario()
    store = FlakyTransfers()
    entry, _ = await make_entry(store)
    store.fail = True
    await entry.handle(incoming([s.before[0], s.transfer]), None)
    await entry.committed()
    assert store.transfers == {}
    assert set(store.events) == {uuid.UUID(s.before[0]["event_id"])}
    metrics = entry.ingestor.metrics
    assert metrics.transfer_record_failures.labels(metrics.service)._value.get() == 1
    # This process enforces it meanwhile; the re-send is forwarded again and recorded.
    late = await entry.handle(incoming([s.event(s.vendor_x, s.school_a, at(D))]), None)
    assert codes(late) == ["E_STUDENT_TRANSFERRED"]
    store.fail = False
    resent = await entry.handle(incoming([s.transfer]), None)
    assert codes(resent) == [SETTINGS.accepted_topic, SETTINGS.transfers_topic]
    await entry.committed()
    assert list(store.transfers) == [s.transfer["event_id"]]


async def test_the_directory_reads_each_student_once_per_ttl() -> None:
    store = InMemoryVendorStore()
    now = [0.0]
    directory = TransferDirectory(store, ttl_s=30, clock=lambda: now[0])
    assert await directory.timelines({"S"}) == {"S": ()}
    await store.record_transfers([A_TO_B])  # recorded by another replica
    now[0] = 29.0
    assert await directory.timelines({"S"}) == {"S": ()}
    now[0] = 30.0
    assert await directory.timelines({"S"}) == {"S": (A_TO_B,)}
    assert store.calls["student_transfers"] == 2
    later = Transfer("t0", "S", "B", "C", D + 9 * DAY, "2024-2025", "y")
    directory.learn([later, later, replace(A_TO_B, student_id="T")])  # T is not cached
    assert await directory.timelines({"S", "T"}) == {"S": (A_TO_B, later), "T": ()}
