"""What fastavro writes, the Apache Avro project's own Python library reads, and the reverse.

Also pins the fingerprint to an independent CRC-64-AVRO implementation (the
``avro`` library's) over the Parsing Canonical Form.
"""

from __future__ import annotations

import io
import json
from typing import Any

import avro.io
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings

from services.messaging.codec import HEADER_SIZE, MARKER, AvroCodec, Decoded
from services.messaging.schemas import default_registry
from tests.avro_data import datums, without_record_names

pytestmark = pytest.mark.unit

REGISTRY = default_registry()
CODEC = AvroCodec(REGISTRY)
NAMES = REGISTRY.names()
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _apache(name: str) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(REGISTRY.current(name).expanded))


def _spec_canonical(apache_canonical: str) -> str:
    # avro 1.12's Python canonical form keeps logical-type primitives as {"type":"long"};
    # the specification's [PRIMITIVES] rule (and Java) reduce them to "long".
    for primitive in ("int", "long", "bytes", "string"):
        apache_canonical = apache_canonical.replace(f'{{"type":"{primitive}"}}', f'"{primitive}"')
    return apache_canonical


@pytest.mark.parametrize("name", NAMES)
def test_fingerprint_matches_an_independent_crc64(name: str) -> None:
    ours = REGISTRY.current(name)
    apache = _apache(name)
    assert _spec_canonical(apache.canonical_form) == ours.canonical_form
    crc = avro.schema._crc_64_fingerprint(ours.canonical_form.encode())
    assert bytes(crc) == ours.fingerprint


@pytest.mark.parametrize("name", NAMES)
def test_apache_avro_reads_what_fastavro_writes(name: str) -> None:
    reader = avro.io.DatumReader(_apache(name))

    @_SETTINGS
    @given(datums(REGISTRY.current(name)))
    def check(datum: dict[str, Any]) -> None:
        data = CODEC.encode(name, datum)
        assert data[:2] == MARKER
        body = io.BytesIO(data[HEADER_SIZE:])
        read = reader.read(avro.io.BinaryDecoder(body))
        assert body.tell() == len(data) - HEADER_SIZE
        assert read == without_record_names(datum)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_fastavro_reads_what_apache_avro_writes(name: str) -> None:
    schema = REGISTRY.current(name)
    writer = avro.io.DatumWriter(_apache(name))

    @_SETTINGS
    @given(datums(schema))
    def check(datum: dict[str, Any]) -> None:
        body = io.BytesIO()
        writer.write(without_record_names(datum), avro.io.BinaryEncoder(body))
        crc = bytes(avro.schema._crc_64_fingerprint(schema.canonical_form.encode()))
        decoded = CODEC.decode(MARKER + crc + body.getvalue(), expected=name)
        assert isinstance(decoded, Decoded), decoded
        assert without_record_names(decoded.value) == without_record_names(datum)

    check()
