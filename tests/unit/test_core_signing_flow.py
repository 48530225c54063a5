"""The signature flow: who may sign what, when; refusals coded, nothing else changes."""

from __future__ import annotations

import pytest

from services.core.findings import CATALOGUE
from services.core.signing_flow import (
    Approval,
    RegisteredSigner,
    check_approval,
    fully_signed,
    next_role,
    record_id_for,
    seal_follows,
)

pytestmark = pytest.mark.unit

TEACHER = RegisteredSigner("gv-lan", "HOMEROOM_TEACHER", "Nguyễn Thị Lan", frozenset({"79000701"}))
PRINCIPAL = RegisteredSigner("ht-minh", "PRINCIPAL", "Trần Văn Minh", frozenset({"79000701"}))


def approval(role: str = "HOMEROOM_TEACHER", **changes: object) -> Approval:
    fields: dict[str, object] = {
        "event_id": "e1",
        "school_code": "79000701",
        "role": role,
        "signer_id": "gv-lan" if role == "HOMEROOM_TEACHER" else "ht-minh",
        "version": 1,
        "record_sha256": None,
    }
    fields.update(changes)
    return Approval(**fields)  # type: ignore[arg-type]


def codes(
    item: Approval,
    signed: tuple[str, ...] = (),
    signer: RegisteredSigner | None = TEACHER,
    version: int | None = 1,
    sha: str | None = "ab",
) -> list[str]:
    found = check_approval(
        item,
        pending_version=version,
        pending_record_sha256=sha,
        signed_roles=signed,
        signer=signer,
    )
    return [f.code for f in found]


def test_the_teacher_then_the_principal_then_the_seal() -> None:
    assert next_role(()) == "HOMEROOM_TEACHER"
    assert codes(approval()) == []
    assert codes(approval("PRINCIPAL"), ("HOMEROOM_TEACHER",), PRINCIPAL) == []
    assert seal_follows(("HOMEROOM_TEACHER", "PRINCIPAL"))
    assert not seal_follows(("HOMEROOM_TEACHER",))
    assert next_role(("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")) is None


@pytest.mark.parametrize(
    ("item", "signed", "signer", "version", "expected"),
    [
        (approval(), (), TEACHER, None, "E_APPROVAL_NO_PENDING_RECORD"),
        (approval(version=2), (), TEACHER, 1, "E_APPROVAL_VERSION_MISMATCH"),
        (approval(record_sha256="cd"), (), TEACHER, 1, "E_APPROVAL_CONTENT_MISMATCH"),
        (approval("PRINCIPAL"), (), PRINCIPAL, 1, "E_APPROVAL_OUT_OF_ORDER"),
        (approval(), ("HOMEROOM_TEACHER",), TEACHER, 1, "E_APPROVAL_OUT_OF_ORDER"),
        (
            approval("SCHOOL_SEAL", signer_id="ht-minh"),
            ("HOMEROOM_TEACHER", "PRINCIPAL"),
            PRINCIPAL,
            1,
            "E_APPROVAL_OUT_OF_ORDER",
        ),
        (approval(signer_id="nobody"), (), None, 1, "E_SIGNER_NOT_REGISTERED"),
        (approval(signer_id="ht-minh"), (), PRINCIPAL, 1, "E_SIGNER_NOT_AUTHORISED"),
        (approval(school_code="01000001"), (), TEACHER, 1, "E_SIGNER_NOT_AUTHORISED"),
    ],
)
def test_each_wrong_approval_is_refused_with_one_catalogued_code(
    item: Approval,
    signed: tuple[str, ...],
    signer: RegisteredSigner | None,
    version: int | None,
    expected: str,
) -> None:
    found = check_approval(
        item,
        pending_version=version,
        pending_record_sha256="ab",
        signed_roles=signed,
        signer=signer,
    )
    assert [f.code for f in found] == [expected]
    assert expected in CATALOGUE
    assert found[0].message_vi and found[0].message_en


def test_matching_content_passes() -> None:
    assert codes(approval(record_sha256="ab")) == []


def test_record_ids_are_stable_per_student_and_differ_by_key() -> None:
    first = record_id_for("079215000123", b"k1")
    assert first == record_id_for("079215000123", b"k1")
    assert first != record_id_for("079215000124", b"k1")
    assert first != record_id_for("079215000123", b"k2")
    assert first.startswith("HB") and len(first) == 18
    assert set(first[2:]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_a_page_is_fully_signed_only_with_teacher_principal_and_seal() -> None:
    assert fully_signed(["HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"])
    assert fully_signed(iter(["SCHOOL_SEAL", "PRINCIPAL", "HOMEROOM_TEACHER"]))
    assert not fully_signed(["HOMEROOM_TEACHER", "PRINCIPAL"])
    assert not fully_signed([])
