"""School transfers (chuyển trường) at the door: payload checks of a StudentTransfer, and
the transfer an accepted one records (pure functions, no I/O).

A StudentTransfer is published by the sending school's vendor: the envelope names the
sending school, the payload the receiving one and the first day the student belongs
there (``effective_on``, a Vietnam date). Accepted, it is recorded in
``student_transfers`` (after it is durable on Kafka, like the de-duplication rows) and
from then on decides which school, hence which vendor, may publish for the student on
each day (:func:`services.ingestion.authorization.authorize_student`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from services.core.findings import Finding, finding
from services.core.rules_identity import school_year_start
from services.ingestion.authorization import Transfer
from services.ingestion.settings import EnvelopeRules, MonthDay

__all__ = [
    "STUDENT_TRANSFER",
    "authorization_day",
    "check_transfer",
    "transfer_of",
    "transfer_window",
]

STUDENT_TRANSFER: Final = "vn.edu.hocba.StudentTransfer"
_PATH: Final = "payload.StudentTransfer"


def _transfer_payload(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    payload = event.get("payload")
    if isinstance(payload, tuple) and payload[0] == STUDENT_TRANSFER:
        body = payload[1]
        return body if isinstance(body, Mapping) else None
    return None


def _day_of(year: int, month_day: MonthDay) -> dt.date:
    month, day = month_day
    # 29 February in a common year is the last day of February.
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def transfer_window(school_year: str, rules: EnvelopeRules) -> tuple[dt.date, dt.date] | None:
    """The first and last day a transfer of ``school_year`` may take effect (None: the
    school year is malformed, which the envelope check reports)."""
    start = school_year_start(school_year)
    if start is None:
        return None
    return (
        _day_of(start, rules.transfer_window_opens),
        _day_of(start + 1, rules.transfer_window_closes),
    )


def check_transfer(event: Mapping[str, Any], rules: EnvelopeRules) -> list[Finding]:
    """Every problem of a StudentTransfer payload; empty for a sound one or another payload."""
    body = _transfer_payload(event)
    if body is None:
        return []
    found: list[Finding] = []
    target = body.get("to_school_code")
    text = target if isinstance(target, str) else ""
    path = f"{_PATH}.to_school_code"
    if (
        not text
        or len(text) > rules.identifier_max_length
        or rules.school_code_pattern.fullmatch(text) is None
    ):
        found.append(
            finding(
                "E_SCHOOL_CODE_FORMAT",
                path,
                f"mã trường chuyển đến {text!r} trống, dài quá {rules.identifier_max_length} "
                f"ký tự hoặc không khớp mẫu {rules.school_code_pattern.pattern}",
                f"{path} {text!r} is empty, longer than {rules.identifier_max_length} "
                f"characters or does not match {rules.school_code_pattern.pattern}",
            )
        )
    elif text == event.get("school_code"):
        found.append(
            finding(
                "E_TRANSFER_SAME_SCHOOL",
                path,
                f"trường chuyển đến {text!r} trùng trường chuyển đi (school_code của phong bì)",
                f"{path} {text!r} is the sending school (the envelope's school_code)",
            )
        )
    effective = body.get("effective_on")
    window = transfer_window(str(event.get("school_year") or ""), rules)
    if isinstance(effective, dt.date) and window is not None:
        first, last = window
        if not first <= effective <= last:
            found.append(
                finding(
                    "E_TRANSFER_DATE_OUT_OF_RANGE",
                    f"{_PATH}.effective_on",
                    f"ngày chuyển trường {effective.strftime('%d/%m/%Y')} nằm ngoài năm học "
                    f"{event.get('school_year')} và kỳ nghỉ hè sau đó "
                    f"({first.strftime('%d/%m/%Y')} – {last.strftime('%d/%m/%Y')})",
                    f"effective_on {effective.isoformat()} is outside school year "
                    f"{event.get('school_year')} and the summer after it "
                    f"({first.isoformat()} to {last.isoformat()})",
                )
            )
    return found


def transfer_of(event: Mapping[str, Any]) -> Transfer | None:
    """The transfer a StudentTransfer event records; None for any other payload."""
    body = _transfer_payload(event)
    if body is None or not isinstance(body.get("effective_on"), dt.date):
        return None
    return Transfer(
        # As PostgreSQL's uuid prints it, so a re-sent transfer is known by its id.
        event_id=str(event["event_id"]).lower(),
        student_id=str(event["student_id"]),
        from_school=str(event["school_code"]),
        to_school=str(body["to_school_code"]),
        effective_on=body["effective_on"],
        school_year=str(event["school_year"]),
        vendor_id=str(event["vendor_id"]),
    )


def authorization_day(
    event: Mapping[str, Any], occurred_on: dt.date, rules: EnvelopeRules
) -> dt.date:
    """The day the student must belong to the envelope's school for this event.

    An ordinary event: the day it occurred, but no later than its school year's last day
    (``rules.school_year_ends``): a year the student finished at the sending school stays
    that school's after a summer transfer, so its vendor can still correct it. A transfer:
    the day before it takes effect, the sending school's last day with the student
    (whenever it is reported).
    """
    transfer = transfer_of(event)
    if transfer is not None:
        return transfer.effective_on - dt.timedelta(days=1)
    school_year = event.get("school_year")
    start = school_year_start(school_year) if isinstance(school_year, str) else None
    if start is None:
        return occurred_on
    return min(occurred_on, _day_of(start + 1, rules.school_year_ends))
