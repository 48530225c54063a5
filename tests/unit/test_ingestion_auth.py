"""Tokens (hashed, never stored), dated school assignments, and the vendor directory cache."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from services.ingestion.authorization import Assignment, VendorEntry, authorize
from services.ingestion.directory import VendorDirectory
from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.tokens import TOKEN_PREFIX, bearer_token, new_token, token_sha256

pytestmark = pytest.mark.unit


def test_tokens_are_random_and_stored_as_their_sha256() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith(TOKEN_PREFIX)
    assert len(first) >= len(TOKEN_PREFIX) + 43  # 256 random bits, base64url
    digest = token_sha256(first)
    assert digest == hashlib.sha256(first.encode()).digest() and len(digest) == 32
    assert first.encode() not in digest


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Basic abc", None),
    ],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


async def test_the_store_keeps_no_token_text() -> None:
    store = InMemoryVendorStore()
    await store.add_vendor("v1", "Vendor")
    issued = await store.issue_token("v1")
    assert all(t.sha256 != issued.token.encode() for t in store.tokens.values())
    assert await store.token_vendor(token_sha256(issued.token)) == "v1"
    await store.revoke_token("v1", issued.token_id)
    assert await store.token_vendor(token_sha256(issued.token)) is None


ENTRY = VendorEntry.of(
    "v1",
    True,
    [
        Assignment("v1", "S1", dt.date(2024, 9, 1), dt.date(2025, 5, 31)),
        Assignment("v1", "S1", dt.date(2025, 9, 1)),
        Assignment("v1", "S2", dt.date(2024, 9, 1)),
    ],
)


@pytest.mark.parametrize(
    ("school", "day", "allowed"),
    [
        ("S1", dt.date(2024, 8, 31), False),  # before the first day
        ("S1", dt.date(2024, 9, 1), True),  # the first day
        ("S1", dt.date(2025, 5, 31), True),  # the last day is included
        ("S1", dt.date(2025, 6, 1), False),  # the gap (school moved to another vendor)
        ("S1", dt.date(2025, 9, 1), True),  # assigned again, open-ended
        ("S2", dt.date(2030, 1, 1), True),
        ("S3", dt.date(2024, 10, 1), False),  # never assigned
    ],
)
def test_authorization_follows_the_dated_assignments(
    school: str, day: dt.date, allowed: bool
) -> None:
    found = authorize(ENTRY, "v1", school, day)
    assert (found == []) is allowed
    if not allowed:
        assert [f.code for f in found] == ["E_SCHOOL_NOT_ASSIGNED"]
        assert f"{day:%d/%m/%Y}" in found[0].message_vi


def test_unknown_inactive_and_mismatched_vendors() -> None:
    day = dt.date(2024, 10, 1)
    assert [f.code for f in authorize(None, "vx", "S1", day)] == ["E_VENDOR_UNKNOWN"]
    inactive = VendorEntry.of("v1", False, ENTRY.by_school["S1"])
    assert [f.code for f in authorize(inactive, "v1", "S1", day)] == ["E_VENDOR_INACTIVE"]
    mismatch = authorize(ENTRY, "v1", "S1", day, authenticated_vendor="v2")
    assert [f.code for f in mismatch] == ["E_VENDOR_MISMATCH"]
    assert authorize(ENTRY, "v1", "S1", day, authenticated_vendor="v1") == []


async def test_the_directory_reads_each_vendor_once_per_ttl() -> None:
    store = InMemoryVendorStore()
    await store.add_vendor("v1", "Vendor")
    await store.assign("v1", "S1", dt.date(2024, 9, 1), None)
    now = [0.0]
    directory = VendorDirectory(store, ttl_s=30, clock=lambda: now[0])
    first = await directory.entries({"v1", "unknown"})
    assert first["unknown"] is None and first["v1"] is not None
    assert first["v1"].assigned("S1", dt.date(2024, 10, 1))
    await store.unassign("v1", "S1", dt.date(2024, 9, 1))
    now[0] = 29.0
    cached = await directory.entries({"v1", "unknown"})
    assert cached["v1"] is not None and cached["v1"].assigned("S1", dt.date(2024, 10, 1))
    assert store.calls["vendor_entries"] == 1
    now[0] = 30.0
    fresh = await directory.entries({"v1"})
    assert fresh["v1"] is not None and not fresh["v1"].assigned("S1", dt.date(2024, 10, 1))
    assert store.calls["vendor_entries"] == 2
