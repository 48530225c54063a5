"""The AcceptedEvent spliced from the vendor's body is byte for byte the full encoding."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingestion.outputs import accepted_message
from services.messaging.codec import HEADER_SIZE, default_codec
from services.messaging.schemas import default_registry
from tests.avro_data import datums

pytestmark = pytest.mark.unit

CODEC = default_codec()
STAMPS = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)  # microseconds included: the service clock has them


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=datums(default_registry().current("vn.edu.hocba.VendorEvent")),
    now=STAMPS,
    channel=st.sampled_from(["KAFKA", "HTTP"]),
)
def test_spliced_equals_encoded(event: dict[str, Any], now: dt.datetime, channel: Any) -> None:
    body = CODEC.encode("vn.edu.hocba.VendorEvent", event)[HEADER_SIZE:]
    spliced = accepted_message(CODEC, event, channel, now, body)
    assert spliced == accepted_message(CODEC, event, channel, now)
