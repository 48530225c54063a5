"""The validation stage without a broker: generated events in, records out.

The synthetic generator's events, applied in order, must assemble to exactly the
record it generated; valid records come out validated once, planted errors come
out invalid with their codes, and a re-delivered batch changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from services.core.events import vendor_events
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.messaging.codec import Decoded, default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import ChangelogState
from services.validation.handlers import ValidationHandler
from services.validation.settings import ValidationSettings

pytestmark = pytest.mark.unit

CODEC = default_codec()
NOW = dt.datetime(2025, 5, 25, tzinfo=dt.UTC)


def accepted_batch(seed: int, invalid_share: float) -> tuple[list[Incoming], list[Any]]:
    settings = GeneratorSettings(
        schools=1,
        students_per_class=4,
        invalid_share=invalid_share,
        exclude_codes=frozenset({"E_COMPLETION_MISSING"}),
    )
    records = list(generate_school_year(settings, seed=seed))
    rng = random.Random(seed)
    batch = []
    for generated in records:
        for event in vendor_events(generated.record, "vnedu", rng):
            value = CODEC.encode(
                "vn.edu.hocba.AcceptedEvent",
                {"event": event, "accepted_at": NOW, "channel": "KAFKA"},
            )
            key = f"{event['school_code']}|{event['student_id']}|{event['school_year']}"
            batch.append(Incoming("hocba.events.accepted", 0, len(batch), key.encode(), value, 0))
    return batch, records


async def run(
    handler: ValidationHandler, state: ChangelogState, batch: list[Incoming]
) -> list[Outgoing]:
    changes = state.batch()
    outputs = list(await handler(batch, changes))
    state.apply(changes)
    return outputs


def decode(out: Outgoing) -> dict[str, Any]:
    decoded = CODEC.decode(out.value)
    assert isinstance(decoded, Decoded), decoded
    return decoded.value


@pytest.mark.parametrize("seed", [7, 11, 12])
async def test_generated_year_comes_out_validated_or_refused_with_planted_codes(seed: int) -> None:
    batch, records = accepted_batch(seed=seed, invalid_share=0.4)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    outputs = await run(handler, ChangelogState("state"), batch)
    refused: dict[str, set[str]] = {}
    validated: dict[str, dict[str, Any]] = {}
    for out in outputs:
        message = decode(out)
        if out.topic == "hocba.records.validated":
            validated[message["record_key"]] = message["record"]
        elif out.topic == "hocba.records.invalid":
            codes = {f["code"] for f in message["findings"] if f["severity"] == "ERROR"}
            refused.setdefault(message["record_key"], set()).update(codes)
        else:  # an event refused at this stage (e.g. a subject twice in one event)
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
    first = await run(handler, state, batch)
    assert first
    assert await run(handler, state, batch) == []


async def test_garbage_is_rejected_and_the_rest_flows() -> None:
    batch, records = accepted_batch(seed=5, invalid_share=0.0)
    garbage = Incoming("hocba.events.accepted", 0, 999, b"k", b"\x00garbage", 0)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    outputs = await run(handler, ChangelogState("state"), [garbage, *batch])
    rejected = [decode(o) for o in outputs if o.topic == "hocba.events.rejected"]
    assert [f["code"] for r in rejected for f in r["findings"]] == ["E_NOT_AVRO_SINGLE_OBJECT"]
    assert sum(o.topic == "hocba.records.validated" for o in outputs) == len(records)
