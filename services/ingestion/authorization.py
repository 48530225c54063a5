"""Which vendor may publish for which school on which day (phân công trường cho nhà cung cấp).

Assignments are dated, so that a school changing vendor (or a student transfer handled
by another vendor) flips authorization at an effective date. ``valid_to`` is the last
day included; ``None`` means open-ended. Dates are calendar dates in Vietnam.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.core.findings import Finding, finding

__all__ = ["Assignment", "VendorEntry", "authorize"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One dated assignment of a school to a vendor."""

    vendor_id: str
    school_code: str
    valid_from: dt.date
    valid_to: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class VendorEntry:
    """A registered vendor as authorization sees it: active or not, and its schools."""

    vendor_id: str
    active: bool
    by_school: Mapping[str, tuple[Assignment, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def of(cls, vendor_id: str, active: bool, assignments: Iterable[Assignment]) -> VendorEntry:
        by_school: dict[str, tuple[Assignment, ...]] = {}
        for item in assignments:
            by_school[item.school_code] = (*by_school.get(item.school_code, ()), item)
        return cls(vendor_id, active, MappingProxyType(by_school))

    def assigned(self, school_code: str, day: dt.date) -> bool:
        """Is ``school_code`` assigned to this vendor on ``day``?"""
        return any(a.covers(day) for a in self.by_school.get(school_code, ()))


def authorize(
    entry: VendorEntry | None,
    vendor_id: str,
    school_code: str,
    day: dt.date | None,
    *,
    authenticated_vendor: str | None = None,
) -> list[Finding]:
    """Why ``vendor_id`` may not publish for ``school_code`` on ``day``; empty if it may.

    ``authenticated_vendor`` is who presented the credentials (HTTP token; in production
    the Kafka principal mapped to its vendor): the envelope must name that vendor.
    ``day`` ``None`` (no readable time) skips the school check; the envelope check has
    reported the time already.
    """
    if authenticated_vendor is not None and vendor_id != authenticated_vendor:
        return [
            finding(
                "E_VENDOR_MISMATCH",
                "vendor_id",
                f"sự kiện ghi nhà cung cấp {vendor_id!r} nhưng mã truy cập thuộc "
                f"{authenticated_vendor!r}",
                f"the event names vendor {vendor_id!r} but the credentials are "
                f"{authenticated_vendor!r}'s",
            )
        ]
    if entry is None:
        return [
            finding(
                "E_VENDOR_UNKNOWN",
                "vendor_id",
                f"nhà cung cấp {vendor_id!r} chưa đăng ký với hệ thống",
                f"vendor {vendor_id!r} is not registered with the platform",
            )
        ]
    if not entry.active:
        return [
            finding(
                "E_VENDOR_INACTIVE",
                "vendor_id",
                f"nhà cung cấp {vendor_id!r} đã bị vô hiệu hoá",
                f"vendor {vendor_id!r} is deactivated",
            )
        ]
    if day is None or not school_code or entry.assigned(school_code, day):
        return []
    return [
        finding(
            "E_SCHOOL_NOT_ASSIGNED",
            "school_code",
            f"trường {school_code!r} không được phân công cho nhà cung cấp {vendor_id!r} "
            f"vào ngày {day.strftime('%d/%m/%Y')}",
            f"school {school_code!r} is not assigned to vendor {vendor_id!r} on {day.isoformat()}",
        )
    ]
