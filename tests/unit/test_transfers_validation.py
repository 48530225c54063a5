"""School transfers at validation: which evaluations a mid-year transfer carries, and the
receiving school's year record assembled from them and its own events (no broker)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import ChangelogState
from services.messaging.topics import HEADER_CARRIED_FROM, HEADER_EVENT_ID, HEADER_PAYLOAD
from services.validation.assembly import YearAssembly, carried_over
from services.validation.handlers import ValidationHandler
from services.validation.settings import ValidationSettings
from tests.stage_messages import accepted, decode, run_batch
from tests.unit.test_transfers_data import EFFECTIVE_ON, SCHOOL_YEAR, SUBJECTS, at, scenario

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SETTINGS = ValidationSettings()


def key(school: str, student: str) -> bytes:
    return f"{school}|{student}|{SCHOOL_YEAR}".encode()


def test_carried_over_takes_the_evaluations_before_the_effective_date() -> None:
    s = scenario()
    log = [*s.before, s.transfer]
    assert [e["event_id"] for e in carried_over(log, s.transfer)] == [
        e["event_id"] for e in s.before[1:]
    ]
    # The effective date is a Vietnam date: 1 Feb 00:30 there is still 31 Jan in UTC.
    edge = s.event(s.vendor_x, s.school_a, dt.datetime(2025, 1, 31, 17, 30, tzinfo=dt.UTC))
    edge["payload"] = s.before[1]["payload"]
    assert carried_over([edge], s.transfer) == []
    edge["occurred_at"] = dt.datetime(2025, 1, 31, 16, 59, tzinfo=dt.UTC)
    assert carried_over([edge], s.transfer) == [edge]
    # A transfer after the year end at the sending school carries nothing.
    year_end = dict(s.after[-1], school_code=s.school_a)
    assert carried_over([*log, year_end], s.transfer) == []


def test_carried_events_name_neither_the_school_nor_the_vendor_of_the_year() -> None:
    s = scenario()
    assembly = YearAssembly.replay([*s.before[1:], *s.after], school_code=s.school_b)
    assert assembly.year_record() == s.record
    assert assembly.vendor_id == s.vendor_y
    carried_last = YearAssembly.replay([*s.after, *s.before[1:]], school_code=s.school_b)
    assert carried_last.vendor_id == s.vendor_y  # even if a carried event came last


def redelivered(outputs: list[Outgoing], offset: int) -> list[Incoming]:
    """Outputs for the accepted topic, as validation consumes them back."""
    return [
        Incoming(o.topic, 0, offset + i, o.key, o.value, 0, o.headers)
        for i, o in enumerate(outputs)
        if o.topic == SETTINGS.accepted_topic
    ]


async def test_a_mid_year_transfer_carries_evaluations_into_the_receiving_year() -> None:
    s = scenario()
    handler = ValidationHandler(SETTINGS, default_codec(), ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    sent = [accepted(e, NOW, offset=i) for i, e in enumerate([*s.before, s.transfer])]
    carried = await run_batch(handler, state, sent)
    by_id = {m.value: dict(m.headers)[HEADER_EVENT_ID] for m in sent}
    assert [o.topic for o in carried] == [SETTINGS.accepted_topic] * 4
    assert [by_id[o.value] for o in carried] == [e["event_id"].encode() for e in s.before[1:]]
    for out in carried:
        headers = dict(out.headers)
        assert out.key == key(s.school_b, s.student)
        assert headers[HEADER_CARRIED_FROM] == key(s.school_a, s.student)
        assert headers[HEADER_PAYLOAD] in (
            SUBJECTS.encode(),
            b"vn.edu.hocba.QualityCompetencyEvaluation",
        )
    # Re-delivered (a retried batch): nothing is carried twice.
    assert await run_batch(handler, state, sent) == []
    # An evaluation made before the date but received after the transfer follows it.
    late = s.event(s.vendor_x, s.school_a, at(EFFECTIVE_ON - dt.timedelta(days=2)))
    late["payload"] = (SUBJECTS, {**s.before[1]["payload"][1], "subjects": []})
    (late_out,) = await run_batch(handler, state, [accepted(late, NOW, offset=10)])
    assert dict(late_out.headers)[HEADER_EVENT_ID] == late["event_id"].encode()

    # The receiving school's own events come first: its year end lacks A's CK1 levels.
    own = [accepted(e, NOW, offset=20 + i) for i, e in enumerate(s.after)]
    (early,) = await run_batch(handler, state, own)
    assert decode(early)["record"] != s.record
    # The carried evaluations arrive, go before B's own ones, and complete the year;
    # B's own GK1 re-evaluation wins over A's.
    outputs = await run_batch(handler, state, redelivered([*carried, late_out], 40))
    (validated,) = [o for o in outputs if o.topic == SETTINGS.validated_topic]
    message: dict[str, Any] = decode(validated)
    assert message["record"] == s.record
    assert message["vendor_id"] == s.vendor_y
    assert validated.key == key(s.school_b, s.student)
    assert set(message["source_event_ids"]) >= {e["event_id"] for e in s.before[1:]}
    # Carried again (a re-delivery upstream): de-duplicated by event id.
    assert await run_batch(handler, state, redelivered(carried, 60)) == []
    sample = handler.carried.labels("t")._value.get()
    assert sample == 5
