"""The validation stage without a broker: generated events in, records out.

The synthetic generator's events, applied in order, must assemble to exactly the
record it generated; valid records come out validated once, planted errors come
out invalid with their codes, and a re-delivered batch changes nothing. The latest
RecordCorrection of a student-year travels beside its record, never into it.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest

from services.core.events import vendor_events
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.messaging.codec import Decoded, default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import ChangelogState
from services.messaging.topics import HEADER_EVENT_ID, HEADER_PAYLOAD
from services.validation.handlers import ValidationHandler
from services.validation.settings import ValidationSettings
from tests.stage_messages import accepted, decode, run_batch

pytestmark = pytest.mark.unit

CODEC = default_codec()
NOW = dt.datetime(2025, 5, 25, tzinfo=dt.UTC)


def accepted_batch(
    seed: int, invalid_share: float, *, headers: bool = True
) -> tuple[list[Incoming], list[Any]]:
    """Accepted events as ingestion writes them (``headers=False``: as another producer might)."""
    settings = GeneratorSettings(
        schools=1,
        students_per_class=4,
        invalid_share=invalid_share,
        # The repeats are refused by ingestion before validation sees them.
        exclude_codes=frozenset(
            {"E_COMPLETION_MISSING", "E_DUPLICATE_ENTRY", "E_DUPLICATE_PERIOD"}
        ),
    )
    records = list(generate_school_year(settings, seed=seed))
    rng = random.Random(seed)
    batch = []
    for generated in records:
        for event in vendor_events(generated.record, "vnedu", rng):
            batch.append(accepted(event, NOW, offset=len(batch), headers=headers))
    return batch, records


@pytest.mark.parametrize(("seed", "headers"), [(7, True), (11, True), (12, False)])
async def test_generated_year_comes_out_validated_or_refused_with_planted_codes(
    seed: int, headers: bool
) -> None:
    batch, records = accepted_batch(seed=seed, invalid_share=0.4, headers=headers)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    outputs = await run_batch(handler, ChangelogState("state"), batch)
    refused: dict[str, set[str]] = {}
    validated: dict[str, dict[str, Any]] = {}
    for out in outputs:
        message = decode(out)
        if out.topic == "hocba.records.validated":
            validated[message["record_key"]] = message["record"]
        elif out.topic == "hocba.records.invalid":
            codes = {f["code"] for f in message["findings"] if f["severity"] == "ERROR"}
            refused.setdefault(message["record_key"], set()).update(codes)
        else:  # an event refused at this stage (a year end before any profile)
            key = f"{message['school_code']}|{message['student_id']}|{message['school_year']}"
            refused.setdefault(key, set()).update(f["code"] for f in message["findings"])
    for generated in records:
        record = generated.record
        key = f"{record['school']['school_code']}|{record['student']['student_id']}|2024-2025"
        if generated.expected_codes:
            assert key not in validated
            assert set(generated.expected_codes) <= refused[key]
        else:
            assert validated[key] == record  # the events assemble to the generated record
            assert key not in refused


async def test_a_redelivered_batch_emits_nothing_more() -> None:
    batch, _ = accepted_batch(seed=3, invalid_share=0.0)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    first = await run_batch(handler, state, batch)
    assert first
    assert await run_batch(handler, state, batch) == []


async def test_one_event_per_batch_through_fresh_handlers_gives_the_same_records() -> None:
    batch, _ = accepted_batch(seed=9, invalid_share=0.3)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    whole = await run_batch(handler, ChangelogState("state"), batch)
    state = ChangelogState("state")
    one_by_one: list[Outgoing] = []
    for message in batch:
        # A new handler each time (as after a restart): all it knows is the changelog.
        fresh = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
        one_by_one += await run_batch(fresh, state, [message])
    assert [(o.topic, o.key, o.value) for o in one_by_one] == [
        (o.topic, o.key, o.value) for o in whole
    ]


async def test_a_year_end_before_the_profile_is_refused_and_counts_once_it_arrives() -> None:
    batch, _ = accepted_batch(seed=4, invalid_share=0.0)
    first_key = batch[0].key
    events = [m for m in batch if m.key == first_key]
    profile, *evaluations, year_end = events
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    early = await run_batch(handler, state, [*evaluations, year_end])
    assert [f["code"] for o in early for f in decode(o)["findings"]] == ["E_PROFILE_MISSING"]
    late = await run_batch(handler, state, [profile])
    assert [o.topic for o in late] == ["hocba.records.validated"]


@pytest.mark.parametrize("headers", [True, False])
async def test_garbage_is_rejected_and_the_rest_flows(headers: bool) -> None:
    batch, records = accepted_batch(seed=5, invalid_share=0.0)
    meta = ((HEADER_EVENT_ID, b"e1"), (HEADER_PAYLOAD, b"x")) if headers else ()
    garbage = Incoming("hocba.events.accepted", 0, 999, b"k", b"\x00garbage", 0, meta)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    outputs = await run_batch(handler, ChangelogState("state"), [garbage, *batch])
    rejected = [decode(o) for o in outputs if o.topic == "hocba.events.rejected"]
    assert [f["code"] for r in rejected for f in r["findings"]] == ["E_NOT_AVRO_SINGLE_OBJECT"]
    assert sum(o.topic == "hocba.records.validated" for o in outputs) == len(records)


# -- corrections (đính chính) ---------------------------------------------------------------


def one_student() -> list[Incoming]:
    """The accepted events of one valid student-year, profile first, year end last."""
    batch, _ = accepted_batch(seed=6, invalid_share=0.0)
    return [m for m in batch if m.key == batch[0].key]


def correction(template: Incoming, reason: str, offset: int) -> Incoming:
    """A RecordCorrection for the student-year of ``template`` (an accepted event)."""
    event = dict(decode_accepted(template))
    event["event_id"] = str(uuid.uuid4())
    event["payload"] = ("vn.edu.hocba.RecordCorrection", {"reason": reason, "requested_by": "gv"})
    return accepted(event, NOW, offset=offset)  # type: ignore[arg-type]


def decode_accepted(message: Incoming) -> dict[str, Any]:
    decoded = CODEC.decode(message.value or b"", expected="vn.edu.hocba.AcceptedEvent")
    assert isinstance(decoded, Decoded), decoded
    return dict(decoded.value["event"])


def year_end_again(template: Incoming, days_absent: int, offset: int) -> Incoming:
    """The year-end submission sent again (a new event id) with another days_absent."""
    event = dict(decode_accepted(template))
    kind, payload = event["payload"]
    event["event_id"] = str(uuid.uuid4())
    event["payload"] = (kind, {**payload, "days_absent": days_absent})
    return accepted(event, NOW, offset=offset)  # type: ignore[arg-type]


async def test_the_latest_correction_travels_beside_the_record_and_is_not_an_evaluation() -> None:
    events = one_student()
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    (first,) = [decode(o) for o in await run_batch(handler, state, events)]
    assert (first["correction_event_id"], first["correction_reason"]) == (None, None)
    # A correction alone re-validates: same record, the correction beside it, reason stripped.
    fix = correction(events[0], "  Sửa số ngày nghỉ học  ", offset=100)
    (out,) = await run_batch(handler, state, [fix])
    second = decode(out)
    fix_id = decode_accepted(fix)["event_id"]
    assert out.topic == "hocba.records.validated"
    assert second["record"] == first["record"]
    assert (second["correction_event_id"], second["correction_reason"]) == (
        fix_id,
        "Sửa số ngày nghỉ học",
    )
    assert second["source_event_ids"] == [*first["source_event_ids"], fix_id]
    # A later change keeps the latest correction; a newer correction replaces it.
    (changed,) = [
        decode(o) for o in await run_batch(handler, state, [year_end_again(events[-1], 4, 101)])
    ]
    assert changed["record"]["days_absent"] == 4 and changed["correction_event_id"] == fix_id
    again = correction(events[0], "Lần hai", offset=102)
    (latest,) = [decode(o) for o in await run_batch(handler, state, [again])]
    assert latest["correction_event_id"] == decode_accepted(again)["event_id"]
    assert (latest["correction_reason"], latest["record"]["days_absent"]) == ("Lần hai", 4)


async def test_a_correction_before_the_year_end_waits_in_the_log() -> None:
    *before, year_end = one_student()
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    fix = correction(before[0], "Sửa trước khi nộp", offset=100)
    assert await run_batch(handler, state, [*before, fix]) == []
    (out,) = await run_batch(handler, state, [year_end])
    validated = decode(out)
    assert validated["correction_event_id"] == decode_accepted(fix)["event_id"]
    assert validated["correction_reason"] == "Sửa trước khi nộp"
