"""The year record (trang học bạ một năm học): the Avro datum itself, with small typed accessors.

The model is the datum of ``schemas/YearRecord.avsc`` as fastavro reads it (dates
as ``datetime.date``, nullable fields ``None``, enums as symbol strings), typed by
the generated :mod:`services.core.avro_types`; there is no second definition to
drift. Converting from and to Avro is therefore the identity, plus a type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from services.core.avro_types import (
    Period,
    QualityLevel,
    RatingPeriodResult,
    SubjectLevel,
    SubjectPeriodResult,
    YearRecord,
)
from services.core.curriculum import QUALITY_LETTERS, SUBJECT_LETTERS

__all__ = [
    "YearRecord",
    "at_period",
    "key_of",
    "quality_letter",
    "record_key",
    "subject_letter",
    "year_record_from_avro",
    "year_record_to_avro",
]


def year_record_from_avro(datum: Mapping[str, Any]) -> YearRecord:
    """A year record from a datum fastavro (or ``jsonform.from_json``) produced."""
    return cast(YearRecord, datum)


def year_record_to_avro(record: YearRecord) -> dict[str, Any]:
    """The datum to encode with ``schemas/YearRecord.avsc``."""
    return cast(dict[str, Any], record)


def key_of(school_code: str, student_id: str, school_year: str) -> str:
    """The stable key of a student's school year: ``school_code|student_id|school_year``.

    The Kafka key of every message about it, and the record key of the messages.
    """
    return f"{school_code}|{student_id}|{school_year}"


def record_key(record: YearRecord) -> str:
    """The record's stable key (:func:`key_of` of its school, student and year)."""
    return key_of(
        record["school"]["school_code"], record["student"]["student_id"], record["school_year"]
    )


def at_period(
    periods: list[SubjectPeriodResult] | list[RatingPeriodResult], period: Period
) -> SubjectPeriodResult | RatingPeriodResult | None:
    """The evaluation of one period (the first, if a faulty record repeats it)."""
    for result in periods:
        if result["period"] == period:
            return result
    return None


def subject_letter(level: SubjectLevel | None) -> str:
    """The printed letter of a subject level: T (Hoàn thành tốt), H (Hoàn thành), C."""
    return "" if level is None else SUBJECT_LETTERS[level]


def quality_letter(level: QualityLevel | None) -> str:
    """The printed letter of a quality or competency level: T (Tốt), Đ (Đạt), C (Cần cố gắng)."""
    return "" if level is None else QUALITY_LETTERS[level]
