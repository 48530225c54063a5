"""School transfers at storage: the grant a transfer makes and who may read (pure parts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming
from services.storage.grants import (
    Grant,
    GrantRefusal,
    TransferGrants,
    entitlement,
    grant_of,
    vietnam_today,
)
from services.storage.metrics import StorageMetrics
from tests.unit.test_transfers_data import EFFECTIVE_ON, scenario

pytestmark = pytest.mark.unit

D = EFFECTIVE_ON
DAY = dt.timedelta(days=1)


def accepted(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": event,
        "accepted_at": dt.datetime(2025, 1, 25, tzinfo=dt.UTC),
        "channel": "HTTP",
    }


def test_a_transfer_grants_the_receiving_school_from_its_effective_date() -> None:
    s = scenario()
    grant = grant_of(accepted(s.transfer))
    assert grant == Grant(
        event_id=s.transfer["event_id"],
        student_id=s.student,
        school_code=s.school_b,
        from_school_code=s.school_a,
        granted_from=D,
        school_year="2024-2025",
        vendor_id=s.vendor_x,
    )
    assert grant.audit_detail()["effective_on"] == "2025-02-01"


def test_anything_else_grants_nothing() -> None:
    s = scenario()
    refused = grant_of(accepted(s.before[0]))
    assert isinstance(refused, GrantRefusal) and refused.code == "E_STORAGE_NOT_A_TRANSFER"
    assert refused.vendor_id == s.vendor_x
    same = dict(s.transfer, school_code=s.school_b)
    assert isinstance(grant_of(accepted(same)), GrantRefusal)
    assert isinstance(grant_of({}), GrantRefusal)


@pytest.mark.parametrize(
    ("client", "pages", "grants", "today", "expected"),
    [
        ({"A"}, ["A"], [], D, "page"),  # its own student
        ({"B"}, ["A"], [("B", D)], D - DAY, None),  # the grant is not in effect yet
        ({"B"}, ["A"], [("B", D)], D, "grant"),  # from the effective date
        ({"B", "X"}, ["A"], [("B", D)], D + 400 * DAY, "grant"),  # and later
        ({"C"}, ["A"], [("B", D)], D, None),  # a third school
        ({"B"}, [], [("B", D)], D, "grant"),  # nothing stored yet: entitled, nothing to read
        (set(), ["A"], [("B", D)], D, None),  # a school client without schools
    ],
)
def test_entitlement(
    client: set[str],
    pages: list[str],
    grants: list[tuple[str, dt.date]],
    today: dt.date,
    expected: str | None,
) -> None:
    assert entitlement(client, pages, grants, today) == expected


def test_today_is_a_vietnam_date() -> None:
    assert vietnam_today(dt.datetime(2025, 1, 31, 17, 0, tzinfo=dt.UTC)) == D
    assert vietnam_today(dt.datetime(2025, 1, 31, 16, 59, tzinfo=dt.UTC)) == D - DAY


class FakeGrantStore:
    def __init__(self) -> None:
        self.granted: dict[str, Grant] = {}

    async def record(self, grants: Sequence[Grant]) -> set[str]:
        new = {g.event_id for g in grants if g.event_id not in self.granted}
        for g in grants:
            self.granted.setdefault(g.event_id, g)
        return new


async def test_the_consumer_grants_once_and_counts_refusals() -> None:
    s = scenario()
    codec = default_codec()
    metrics = StorageMetrics(ServiceMetrics("storage-test"))
    store = FakeGrantStore()
    consume = TransferGrants(store, metrics, codec=codec)  # type: ignore[arg-type]
    transfer = codec.encode("vn.edu.hocba.AcceptedEvent", accepted(s.transfer))
    other = codec.encode("vn.edu.hocba.AcceptedEvent", accepted(s.before[0]))
    batch = [
        Incoming("hocba.transfers", 0, i, b"k", v, 0)
        for i, v in enumerate([transfer, other, b"garbage", transfer])
    ]
    await consume(batch)
    assert list(store.granted) == [s.transfer["event_id"]]

    def count(outcome: str) -> float:
        return metrics.grants.labels(metrics.service, outcome)._value.get()

    assert (count("granted"), count("redelivered"), count("refused")) == (1, 1, 2)
    await consume(batch[:1])
    assert count("redelivered") == 2
