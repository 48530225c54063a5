"""The signing stage's decisions, with the crypto port faked (the real one: tests/integration).

Versions, corrections, a page replaced before it is issued, a failure half-way through,
re-delivered approvals: what the state and the outputs must be, in seconds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from services.cli.demo import approval_event
from services.core.avro_types import SignerRole
from services.core.findings import CATALOGUE
from services.core.outcome import outcome_message
from services.core.record import year_record_from_avro
from services.core.record_page import PageFonts
from services.core.signing_flow import RegisteredSigner
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.state import ChangelogState
from services.signing.facts import SignatureFacts
from services.signing.handlers import SigningFailedError, SigningHandler
from services.signing.registry import SignerEntry, SignerRegistry
from services.signing.settings import SigningSettings
from tests.stage_messages import accepted, decode, run_batch

pytestmark = pytest.mark.unit

CODEC = default_codec()
NOW = dt.datetime(2025, 5, 25, 8, 0, tzinfo=dt.UTC)
FONTS_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = PageFonts(
    (FONTS_DIR / "DejaVuSans.ttf").read_bytes(), (FONTS_DIR / "DejaVuSans-Bold.ttf").read_bytes()
)
SIGNERS = {
    "gv": ("HOMEROOM_TEACHER", "Nguyễn Thị Lan"),
    "ht": ("PRINCIPAL", "Trần Văn Minh"),
    "dau": ("SCHOOL_SEAL", "Trường Tiểu học Lê Văn Tám"),
}


class FakePageSigner:
    """Appends a marker per signature; fails for the signers named in ``failing``."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.signed: list[str] = []

    async def sign(
        self, pdf: bytes, field_name: str, signer_id: str, reason: str
    ) -> tuple[bytes, SignatureFacts]:
        if signer_id in self.failing:
            raise SigningFailedError(f"{signer_id}: the timestamp authority does not answer")
        self.signed.append(field_name)
        stamp = NOW + dt.timedelta(seconds=len(self.signed))
        facts = SignatureFacts(field_name, SIGNERS[signer_id][1], signer_id * 8, stamp)
        return pdf + f"%signed {field_name}\n".encode(), facts

    async def archive(self, pdf: bytes) -> bytes:
        return pdf + b"%archive timestamp\n"


def registry(seal: bool = True) -> SignerRegistry:
    entries = {
        signer_id: SignerEntry(
            RegisteredSigner(signer_id, role, name, frozenset({"SCHOOL"})), {"kind": "fake"}, True
        )
        for signer_id, (role, name) in SIGNERS.items()
        if seal or role != "SCHOOL_SEAL"
    }
    return SignerRegistry("http://127.0.0.1:1/tsa", (Path("root.pem"),), entries)


def make_handler(seal: bool = True) -> tuple[SigningHandler, FakePageSigner]:
    settings = SigningSettings(signers_file=Path("signers.json"), record_id_key=b"k" * 16)
    signer = FakePageSigner()
    handler = SigningHandler(
        settings, CODEC, ServiceMetrics("t"), registry(seal), signer, FONTS, lambda: NOW
    )
    return handler, signer


_RECORD = next(
    g.record
    for g in generate_school_year(GeneratorSettings(schools=1, students_per_class=1), seed=4)
    if not g.expected_codes
)


def validated(days_absent: int = 0) -> Incoming:
    record = year_record_from_avro({**_RECORD, "days_absent": days_absent})
    name, datum = outcome_message(
        record, validate_year_record(record), vendor_id="v", validated_at=NOW, source_event_ids=[]
    )
    value = CODEC.encode(name, dict(datum))
    return Incoming("hocba.records.validated", 0, 0, datum["record_key"].encode(), value, 0)


KEY = validated().key or b""


def approval(
    role: SignerRole, signer_id: str, version: int = 1, event_id: str | None = None
) -> Incoming:
    event = approval_event("v", KEY.decode(), role, signer_id, version)
    if event_id is not None:
        event["event_id"] = event_id
    return accepted(event, NOW)


def teacher(version: int = 1, event_id: str | None = None) -> Incoming:
    return approval("HOMEROOM_TEACHER", "gv", version, event_id)


def principal(version: int = 1) -> Incoming:
    return approval("PRINCIPAL", "ht", version)


def codes(outputs: list[Outgoing]) -> list[str]:
    found = [f["code"] for o in outputs for f in decode(o).get("findings", [])]
    assert all(code in CATALOGUE for code in found)
    return found


async def test_teacher_then_principal_then_the_seal_issue_version_one() -> None:
    handler, signer = make_handler()
    state = ChangelogState("s")
    assert await run_batch(handler, state, [validated()]) == []
    assert await run_batch(handler, state, [teacher()]) == []
    (out,) = await run_batch(handler, state, [principal()])
    signed = decode(out)
    assert signer.signed == ["homeroom_teacher", "principal", "school_seal"]
    assert (signed["version"], signed["supersedes_version"]) == (1, None)
    assert signed["effective_at"] == signed["signatures"][-1]["signed_at"]
    assert signed["pdf"].endswith(b"%archive timestamp\n")
    assert signed["record_id"].startswith("HB") and len(signed["lookup_code"]) == 21


async def test_a_correction_becomes_version_two_and_old_approvals_are_refused() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await run_batch(handler, state, [validated()])
    (first,) = await run_batch(handler, state, [teacher(), principal()])
    assert await run_batch(handler, state, [validated(days_absent=3)]) == []
    assert codes(await run_batch(handler, state, [teacher(version=1)])) == [
        "E_APPROVAL_VERSION_MISMATCH"
    ]
    (second,) = await run_batch(handler, state, [teacher(version=2), principal(version=2)])
    v1, v2 = decode(first), decode(second)
    assert (v2["version"], v2["supersedes_version"]) == (2, 1)
    assert (v2["record_id"], v2["lookup_code"]) == (v1["record_id"], v1["lookup_code"])
    # The issued content delivered again is not a third version.
    assert await run_batch(handler, state, [validated(days_absent=3)]) == []
    assert codes(await run_batch(handler, state, [teacher(version=3)])) == [
        "E_APPROVAL_NO_PENDING_RECORD"
    ]


async def test_a_newer_record_before_issue_replaces_the_page_and_signing_starts_over() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await run_batch(handler, state, [validated()])
    await run_batch(handler, state, [teacher()])
    await run_batch(handler, state, [validated(days_absent=5)])
    assert codes(await run_batch(handler, state, [principal()])) == ["E_APPROVAL_OUT_OF_ORDER"]
    (out,) = await run_batch(handler, state, [teacher(), principal()])
    assert decode(out)["version"] == 1
    assert decode(out)["record"]["days_absent"] == 5


async def test_a_seal_that_fails_keeps_the_page_as_it_was() -> None:
    handler, signer = make_handler()
    state = ChangelogState("s")
    await run_batch(handler, state, [validated()])
    await run_batch(handler, state, [teacher()])
    signer.failing.add("dau")
    refused = await run_batch(handler, state, [principal()])
    assert codes(refused) == ["E_SIGNING_FAILED"]
    assert decode(refused[0])["stage"] == "SIGNING"
    signer.failing.clear()
    # The principal's approval sent again (new event id) goes through: the teacher's holds.
    (out,) = await run_batch(handler, state, [principal()])
    assert [s["role"] for s in decode(out)["signatures"]] == [
        "HOMEROOM_TEACHER",
        "PRINCIPAL",
        "SCHOOL_SEAL",
    ]


async def test_no_seal_registered_refuses_the_principal_with_a_reason() -> None:
    handler, _ = make_handler(seal=False)
    state = ChangelogState("s")
    await run_batch(handler, state, [validated()])
    await run_batch(handler, state, [teacher()])
    refused = await run_batch(handler, state, [principal()])
    assert codes(refused) == ["E_SIGNING_FAILED"]
    assert "SCHOOL_SEAL" in decode(refused[0])["findings"][0]["message_en"]


async def test_an_approval_delivered_again_is_carried_out_once() -> None:
    handler, signer = make_handler()
    state = ChangelogState("s")
    await run_batch(handler, state, [validated()])
    event_id = str(uuid.uuid4())
    assert await run_batch(handler, state, [teacher(event_id=event_id)]) == []
    assert await run_batch(handler, state, [teacher(event_id=event_id)]) == []
    assert signer.signed == ["homeroom_teacher"]


async def test_a_record_and_its_approvals_in_one_batch_are_taken_in_that_order() -> None:
    handler, _ = make_handler()
    (out,) = await run_batch(handler, ChangelogState("s"), [teacher(), principal(), validated()])
    assert decode(out)["version"] == 1
