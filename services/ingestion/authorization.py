"""Which vendor may publish for which school on which day (phân công trường cho nhà cung cấp).

Assignments are dated, so that a school changing vendor (or a student transfer handled
by another vendor) flips authorization at an effective date. ``valid_to`` is the last
day included; ``None`` means open-ended. Dates are calendar dates in Vietnam.

A student with recorded school transfers (chuyển trường) belongs to one school on each
day (:func:`school_on`); an event for another school is refused
(:func:`authorize_student`), so a transfer flips which vendor may publish for the
student at its effective date. Students without transfers get the school check only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from services.core.findings import Finding, finding

__all__ = ["Assignment", "Transfer", "VendorEntry", "authorize", "authorize_student", "school_on"]


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


@dataclass(frozen=True, slots=True)
class Transfer:
    """One accepted school transfer (chuyển trường): from ``effective_on`` on, the student
    belongs to ``to_school``."""

    event_id: str
    student_id: str
    from_school: str
    to_school: str
    effective_on: dt.date
    school_year: str
    vendor_id: str


def _by_date(transfers: Iterable[Transfer]) -> list[Transfer]:
    # Stable: transfers effective the same day keep the order they were recorded in.
    return sorted(transfers, key=lambda t: t.effective_on)


def school_on(transfers: Iterable[Transfer], day: dt.date) -> str | None:
    """The student's school on ``day``: the receiving school of the latest transfer in
    effect, else the sending school of the earliest; ``None`` without transfers."""
    ordered = _by_date(transfers)
    in_effect = [t for t in ordered if t.effective_on <= day]
    if in_effect:
        return in_effect[-1].to_school
    return ordered[0].from_school if ordered else None


def authorize_student(
    transfers: Sequence[Transfer], school_code: str, day: dt.date
) -> list[Finding]:
    """Why an event of ``school_code`` on ``day`` is not the student's; empty if it is.

    ``transfers`` are the student's recorded transfers (none: only the school check of
    :func:`authorize` applies). The refusal says what the vendor can act on: the student
    left the school (E_STUDENT_TRANSFERRED), arrives there later
    (E_STUDENT_NOT_YET_TRANSFERRED), or was never there (E_STUDENT_AT_OTHER_SCHOOL).
    """
    current = school_on(transfers, day)
    if current is None or current == school_code:
        return []
    ordered = _by_date(transfers)
    on = day.strftime("%d/%m/%Y")
    arrival = next(
        (t for t in ordered if t.to_school == school_code and t.effective_on > day), None
    )
    if arrival is not None:
        return [
            finding(
                "E_STUDENT_NOT_YET_TRANSFERRED",
                "school_code",
                f"học sinh chỉ chuyển đến trường {school_code!r} từ ngày "
                f"{arrival.effective_on.strftime('%d/%m/%Y')}; ngày {on} học sinh thuộc "
                f"trường {current!r}",
                f"the student transfers to school {school_code!r} only on "
                f"{arrival.effective_on.isoformat()}; on {day.isoformat()} the student "
                f"belongs to school {current!r}",
            )
        ]
    departure = next(
        (t for t in reversed(ordered) if t.from_school == school_code and t.effective_on <= day),
        None,
    )
    if departure is not None:
        return [
            finding(
                "E_STUDENT_TRANSFERRED",
                "school_code",
                f"học sinh đã chuyển từ trường {school_code!r} sang trường "
                f"{departure.to_school!r} từ ngày "
                f"{departure.effective_on.strftime('%d/%m/%Y')}; ngày {on} học sinh thuộc "
                f"trường {current!r}",
                f"the student left school {school_code!r} for school {departure.to_school!r} "
                f"on {departure.effective_on.isoformat()}; on {day.isoformat()} the student "
                f"belongs to school {current!r}",
            )
        ]
    return [
        finding(
            "E_STUDENT_AT_OTHER_SCHOOL",
            "school_code",
            f"theo các lần chuyển trường đã ghi nhận, ngày {on} học sinh thuộc trường "
            f"{current!r}, không phải trường {school_code!r}",
            f"by the recorded transfers the student belongs to school {current!r} on "
            f"{day.isoformat()}, not to school {school_code!r}",
        )
    ]
