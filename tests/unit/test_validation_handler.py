"""The validation stage without a broker: generated events in, records out.

The synthetic generator's events, applied in order, must assemble to exactly the
record it generated; valid records come out validated once, planted errors come
out invalid with their codes, and a re-delivered batch changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
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


async def test_generated_year_comes_out_validated_or_invalid_with_planted_codes() -> None:
    batch, records = accepted_batch(seed=7, invalid_share=0.3)
    handler = ValidationHandler(ValidationSettings(), CODEC, ServiceMetrics("t"), lambda: NOW)
    state = ChangelogState("state")
    outputs = await run(handler, state, batch)
    by_topic = Counter(out.topic for out in outputs)
    valid = [r for r in records if not r.expected_codes]
    assert by_topic["hocba.records.validated"] == len(valid)
    assert by_topic["hocba.records.invalid"] == len(records) - len(valid)
    expected = {
        f"{r.record['school']['school_code']}|{r.record['student']['student_id']}|2024-2025": r
        for r in records
    }
    for out in outputs:
        message = decode(out)
        generated = expected[message["record_key"]]
        assert message["record"] == generated.record  # events assemble to the generated record
        if out.topic == "hocba.records.invalid":
            codes = {f["code"] for f in message["findings"] if f["severity"] == "ERROR"}
            assert codes == set(generated.expected_codes)


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
