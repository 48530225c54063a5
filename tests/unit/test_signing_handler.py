"""The signing stage's decisions, with the crypto port faked (the real one: tests/integration).

Versions, corrections (a change to an issued page only with a RecordCorrection of its
own), a page replaced before it is issued, a failure half-way through, re-delivered
approvals: what the state and the outputs must be, in seconds.
"""

from __future__ import annotations

import datetime as dt
import subprocess
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


def validated(
    days_absent: int = 0, correction: tuple[str, str] | None = None, last_event: str = "e1"
) -> Incoming:
    """A validated record; ``correction``: the latest RecordCorrection (event id, reason)."""
    record = year_record_from_avro({**_RECORD, "days_absent": days_absent})
    event_id, reason = correction or (None, None)
    name, datum = outcome_message(
        record,
        validate_year_record(record),
        vendor_id="v",
        validated_at=NOW,
        source_event_ids=["e0", last_event],
        correction_event_id=event_id,
        correction_reason=reason,
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
    fixed = validated(days_absent=3, correction=("c1", "Sửa số ngày nghỉ"))
    assert await run_batch(handler, state, [fixed]) == []
    assert codes(await run_batch(handler, state, [teacher(version=1)])) == [
        "E_APPROVAL_VERSION_MISMATCH"
    ]
    (second,) = await run_batch(handler, state, [teacher(version=2), principal(version=2)])
    v1, v2 = decode(first), decode(second)
    assert (v2["version"], v2["supersedes_version"]) == (2, 1)
    assert (v2["record_id"], v2["lookup_code"]) == (v1["record_id"], v1["lookup_code"])
    assert (v1["correction_reason"], v2["correction_reason"]) == (None, "Sửa số ngày nghỉ")
    # The issued content delivered again is not a third version.
    assert await run_batch(handler, state, [fixed]) == []
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


# -- corrections (đính chính) ---------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


async def issued_once(handler: SigningHandler, state: ChangelogState, **kwargs: object) -> None:
    await run_batch(handler, state, [validated(**kwargs)])  # type: ignore[arg-type]
    (out,) = await run_batch(handler, state, [teacher(), principal()])
    assert decode(out)["version"] == 1


async def test_a_change_to_an_issued_page_without_a_correction_is_refused_and_not_rendered() -> (
    None
):
    handler, signer = make_handler()
    state = ChangelogState("s")
    await issued_once(handler, state)
    refused = await run_batch(handler, state, [validated(days_absent=3, last_event="e7")])
    assert codes(refused) == ["E_CORRECTION_REASON_REQUIRED"]
    (answer,) = (decode(o) for o in refused)
    school_code, student_id, school_year = KEY.decode().split("|")
    assert refused[0].topic == "hocba.events.rejected" and refused[0].key == b"v"
    assert (answer["stage"], answer["event_id"], answer["vendor_id"]) == ("SIGNING", "e7", "v")
    assert (answer["school_code"], answer["student_id"], answer["school_year"]) == (
        school_code,
        student_id,
        school_year,
    )
    message_vi, message_en = (
        answer["findings"][0]["message_vi"],
        answer["findings"][0]["message_en"],
    )
    assert "RecordCorrection" in message_vi and "lý do đính chính" in message_vi
    assert "RecordCorrection" in message_en and "version 2" in message_en
    assert (
        handler.metrics.registry.get_sample_value(
            "hocba_messages_rejected_total",
            {"service": "t", "code": "E_CORRECTION_REASON_REQUIRED", "vendor": "v"},
        )
        == 1
    )
    # Nothing waits for signatures: no page was rendered for the change.
    assert codes(await run_batch(handler, state, [teacher(version=2)])) == [
        "E_APPROVAL_NO_PENDING_RECORD"
    ]
    assert signer.signed == ["homeroom_teacher", "principal", "school_seal"]


async def test_a_change_with_a_new_correction_is_version_two_with_the_reason_printed() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await issued_once(handler, state)
    # The change arrives first (refused), then the vendor's RecordCorrection: same content.
    await run_batch(handler, state, [validated(days_absent=3)])
    reason = "Sửa số ngày nghỉ học theo sổ điểm danh"
    assert (
        await run_batch(handler, state, [validated(days_absent=3, correction=("c1", reason))]) == []
    )
    (out,) = await run_batch(handler, state, [teacher(version=2), principal(version=2)])
    signed = decode(out)
    assert (signed["version"], signed["supersedes_version"]) == (2, 1)
    assert signed["correction_reason"] == reason
    assert signed["record"]["days_absent"] == 3
    assert f"Đính chính phiên bản 1: {reason}" in pdf_text(signed["pdf"])


async def test_the_same_correction_does_not_cover_a_third_change() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await issued_once(handler, state)
    await run_batch(handler, state, [validated(days_absent=3, correction=("c1", "Lần một"))])
    (second,) = await run_batch(handler, state, [teacher(version=2), principal(version=2)])
    assert decode(second)["version"] == 2
    # Another change while c1 is still the latest correction of the log: refused.
    refused = await run_batch(
        handler, state, [validated(days_absent=4, correction=("c1", "Lần một"))]
    )
    assert codes(refused) == ["E_CORRECTION_REASON_REQUIRED"]
    assert "version 3" in decode(refused[0])["findings"][0]["message_en"]
    # With a correction of its own it is version 3, superseding 2.
    await run_batch(handler, state, [validated(days_absent=4, correction=("c2", "Lần hai"))])
    (third,) = await run_batch(handler, state, [teacher(version=3), principal(version=3)])
    v3 = decode(third)
    assert (v3["version"], v3["supersedes_version"], v3["correction_reason"]) == (3, 2, "Lần hai")


async def test_a_pending_correction_is_replaced_freely_until_it_is_issued() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await issued_once(handler, state)
    await run_batch(handler, state, [validated(days_absent=3, correction=("c1", "Sửa ngày nghỉ"))])
    await run_batch(handler, state, [teacher(version=2)])
    # A further change under the same, not yet issued, correction replaces the pending page.
    assert (
        await run_batch(
            handler, state, [validated(days_absent=6, correction=("c1", "Sửa ngày nghỉ"))]
        )
        == []
    )
    assert codes(await run_batch(handler, state, [principal(version=2)])) == [
        "E_APPROVAL_OUT_OF_ORDER"
    ]
    # A correction sent again with a better reason for the same content re-renders it too.
    better = validated(days_absent=6, correction=("c1b", "Sửa số ngày nghỉ học"))
    assert await run_batch(handler, state, [better]) == []
    (out,) = await run_batch(handler, state, [teacher(version=2), principal(version=2)])
    signed = decode(out)
    assert (signed["version"], signed["record"]["days_absent"]) == (2, 6)
    assert signed["correction_reason"] == "Sửa số ngày nghỉ học"


async def test_a_correction_before_the_first_issue_is_not_printed_but_used_up() -> None:
    handler, _ = make_handler()
    state = ChangelogState("s")
    await run_batch(handler, state, [validated(correction=("c0", "Gửi sớm"))])
    (out,) = await run_batch(handler, state, [teacher(), principal()])
    first = decode(out)
    assert (first["version"], first["supersedes_version"], first["correction_reason"]) == (
        1,
        None,
        None,
    )
    assert "Đính chính" not in pdf_text(first["pdf"])
    # Version 1 was made with c0 in the log: a change after it needs a correction of its own.
    refused = await run_batch(
        handler, state, [validated(days_absent=2, correction=("c0", "Gửi sớm"))]
    )
    assert codes(refused) == ["E_CORRECTION_REASON_REQUIRED"]
