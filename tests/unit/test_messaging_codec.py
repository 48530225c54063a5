"""Single-object encoding: round trips of every message, and coded failures for bad bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.messaging.codec import HEADER_SIZE, MARKER, AvroCodec, Decoded, DecodeFailure
from services.messaging.schemas import default_registry
from tests.avro_data import datums

pytestmark = pytest.mark.unit

REGISTRY = default_registry()
CODEC = AvroCodec(REGISTRY)
NAMES = REGISTRY.names()


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_round_trips(name: str) -> None:
    schema = REGISTRY.current(name)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(datums(schema))
    def round_trip(datum: dict[str, object]) -> None:
        data = CODEC.encode(name, datum)
        assert data[:2] == MARKER
        assert data[2:HEADER_SIZE] == schema.fingerprint
        decoded = CODEC.decode(data, expected=name)
        assert isinstance(decoded, Decoded), decoded
        assert decoded.schema_name == name
        assert decoded.value == datum

    round_trip()


def test_every_topic_names_a_loaded_schema() -> None:
    from services.messaging.topics import ALL_TOPICS

    for topic in ALL_TOPICS:
        assert topic.value_schema in NAMES


def _valid_rejection() -> bytes:
    return CODEC.encode(
        "vn.edu.hocba.SyncStatus",
        {
            "record_id": "r1",
            "version": 1,
            "school_code": "79000701",
            "outcome": "DELIVERED",
            "attempt": 1,
            "at": __import__("datetime").datetime(2025, 6, 1, tzinfo=__import__("datetime").UTC),
        },
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "E_NOT_AVRO_SINGLE_OBJECT"),
        (b'{"json": true}', "E_NOT_AVRO_SINGLE_OBJECT"),
        (MARKER + b"\x00" * 7, "E_NOT_AVRO_SINGLE_OBJECT"),
        (MARKER + bytes.fromhex("0123456789abcdef") + b"\x02", "E_UNKNOWN_SCHEMA_FINGERPRINT"),
        (_valid_rejection()[:-3], "E_UNDECODABLE"),
        (_valid_rejection() + b"\x00", "E_UNDECODABLE"),
        (b"\xc3\x01" + b"\x00" * 2_000_000, "E_MESSAGE_TOO_LARGE"),
    ],
    ids=["empty", "json", "short-header", "unknown-fingerprint", "truncated", "trailing", "2MB"],
)
def test_bad_bytes_are_coded_failures(data: bytes, code: str) -> None:
    result = CODEC.decode(data)
    assert isinstance(result, DecodeFailure)
    assert result.code == code
    assert result.message_en and result.message_vi


def test_a_message_of_another_type_is_refused_when_one_is_expected() -> None:
    result = CODEC.decode(_valid_rejection(), expected="vn.edu.hocba.VendorEvent")
    assert isinstance(result, DecodeFailure)
    assert result.code == "E_WRONG_MESSAGE_TYPE"


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    body=st.binary(max_size=200),
)
def test_arbitrary_bodies_never_raise(name: str, body: bytes) -> None:
    data = MARKER + REGISTRY.current(name).fingerprint + body
    assert isinstance(CODEC.decode(data), Decoded | DecodeFailure)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(CODEC.decode(data), Decoded | DecodeFailure)
