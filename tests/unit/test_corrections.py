"""Corrections (đính chính) at the edges of the pipeline: ingestion's check of a
RecordCorrection, the reason on the StoredRecord, and in the national database's body.

The decisions in between are tested with their stages (test_validation_handler.py,
test_signing_handler.py) and end to end in tests/e2e/test_corrections_e2e.py.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from services.core.findings import CATALOGUE
from services.core.national import VersionKey, version_body
from services.ingestion.envelope import check_envelope
from services.ingestion.settings import EnvelopeRules
from services.messaging.codec import Decoded, default_codec
from services.national_sim.contract import ContractError, check_body
from services.storage.mapping import stored_record_datum
from tests.unit.test_ingestion_data import OCCURRED, as_json, vendor_event
from tests.unit.test_national_sim import stored
from tests.unit.test_storage_units import _stored

pytestmark = pytest.mark.unit

CODEC = default_codec()
NOW = OCCURRED


def correction(reason: str) -> dict[str, Any]:
    return vendor_event(
        vendor_id="v",
        school_code="S1",
        payload=("vn.edu.hocba.RecordCorrection", {"reason": reason, "requested_by": "gv-01"}),
    )


@pytest.mark.parametrize(
    "reason",
    ["Sửa điểm Toán", "x", " " * 3 + "a" * 500 + "\n", "Đính chính " * 45],
)
def test_a_correction_with_a_reason_of_1_to_500_characters_is_sound(reason: str) -> None:
    event = correction(reason)
    assert check_envelope(event, EnvelopeRules(), NOW) == []
    # It travels like every other event, over Kafka (Avro) and over HTTP (JSON).
    decoded = CODEC.decode(CODEC.encode("vn.edu.hocba.VendorEvent", event))
    assert isinstance(decoded, Decoded) and decoded.value == event
    assert set(as_json(event)["payload"]) == {"RecordCorrection"}


@pytest.mark.parametrize(
    ("reason", "length"), [("", 0), ("   \n\t ", 0), ("a" * 501, 501), (" b" * 300, 599)]
)
def test_a_blank_or_too_long_reason_is_refused_with_its_length(reason: str, length: int) -> None:
    (found,) = check_envelope(correction(reason), EnvelopeRules(), NOW)
    assert (found.code, found.path) == (
        "E_CORRECTION_REASON_INVALID",
        "payload.RecordCorrection.reason",
    )
    assert f"{length} ký tự" in found.message_vi and f"{length} characters" in found.message_en
    assert found.code in CATALOGUE and found.is_error


def test_the_stored_record_names_the_reason_of_a_correction() -> None:
    corrected = dataclasses.replace(_stored(version=2), correction_reason="Sửa điểm Toán")
    datum = stored_record_datum(corrected)
    decoded = CODEC.decode(CODEC.encode("vn.edu.hocba.StoredRecord", datum))
    assert isinstance(decoded, Decoded)
    assert (decoded.value["supersedes_version"], decoded.value["correction_reason"]) == (
        1,
        "Sửa điểm Toán",
    )
    assert stored_record_datum(_stored(version=1))["correction_reason"] is None


def test_the_national_database_receives_the_reason_and_checks_it() -> None:
    key = VersionKey("HB0000000000000001", "2024-2025", 2)
    body = version_body({**stored(version=2), "correction_reason": "Sửa điểm Toán"})
    assert body["correction_reason"] == "Sửa điểm Toán"
    assert check_body(key, json.dumps(body).encode()).pdf_sha256 == body["pdf_sha256"]
    # A StoredRecord written before the field existed reads it as null: still a valid body.
    first = version_body(stored(version=1))
    assert first["correction_reason"] is None
    check_body(VersionKey("HB0000000000000001", "2024-2025", 1), json.dumps(first).encode())
    with pytest.raises(ContractError, match="only with supersedes_version"):
        check_body(
            VersionKey("HB0000000000000001", "2024-2025", 1),
            json.dumps({**first, "correction_reason": "Sửa"}).encode(),
        )
    with pytest.raises(ContractError, match="correction_reason must be null or a string"):
        check_body(key, json.dumps({**body, "correction_reason": ""}).encode())
