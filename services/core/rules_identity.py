"""Rules on the frame of the year page: identity (page 3), school, school year, grade.

domain.md sections 6-7: thông tin học sinh theo giấy khai sinh, mã định danh,
mã trường, năm học, lớp.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import itemgetter
from typing import Final

from services.core.avro_types import YearRecord
from services.core.config import RuleConfig
from services.core.curriculum import ALL_GRADES
from services.core.findings import Finding, finding
from services.core.identifiers import check_national_id

__all__ = ["check_frame", "school_year_start"]

_SCHOOL_YEAR: Final = re.compile(r"(\d{4})-(\d{4})")

# Identity fields of học bạ page 3 that must be filled, with their Vietnamese labels, in
# the order their findings are reported.
_REQUIRED_IDENTITY: Final = (
    ("full_name", "Họ và tên"),
    ("ethnicity", "Dân tộc"),
    ("nationality", "Quốc tịch"),
    ("place_of_birth", "Nơi sinh"),
    ("native_place", "Quê quán"),
    ("current_address", "Nơi ở hiện nay"),
)
# Reads all of them in one C-level call: they are checked for every record.
_identity_values: Final = itemgetter(*(name for name, _ in _REQUIRED_IDENTITY))
# Children start grade 1 in the calendar year they turn 6; a wider gap is unusual.
_ENTRY_AGE: Final = 6
_AGE_TOLERANCE_YEARS: Final = 2


# Compiled patterns of the configured identifier formats, by pattern text. A plain dict
# rather than lru_cache: this is looked up twice per record and the configured patterns
# are few, so the call overhead of the cache wrapper is what would show.
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(text: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(text)
    if pattern is None:
        pattern = _PATTERNS[text] = re.compile(text)
    return pattern


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _missing(path: str, label_vi: str) -> Finding:
    return finding(
        "E_REQUIRED_FIELD_MISSING",
        path,
        f"Thiếu thông tin bắt buộc: {label_vi}.",
        f"Required field is empty: {path}.",
    )


# Cached: a batch of records nearly always shares its school year, and the regex match
# plus integer parsing would otherwise run for each record.
@lru_cache(maxsize=64)
def school_year_start(school_year: str) -> int | None:
    """The first calendar year of a well-formed 'YYYY-YYYY' school year (năm học), else None."""
    match = _SCHOOL_YEAR.fullmatch(school_year)
    if match is None or int(match[2]) != int(match[1]) + 1:
        return None
    return int(match[1])


def check_frame(record: YearRecord, rules: RuleConfig) -> list[Finding]:
    """Identity, identifiers, school, school year and grade of one year record."""
    found: list[Finding] = []
    student = record["student"]
    if not _pattern(rules.student_id_pattern).fullmatch(student["student_id"]):
        found.append(
            finding(
                "E_STUDENT_ID_FORMAT",
                "student.student_id",
                f"Mã định danh học sinh '{student['student_id']}' không đúng định dạng.",
                f"Student identifier '{student['student_id']}' does not match "
                f"{rules.student_id_pattern}.",
            )
        )
    identity: tuple[str | None, ...] = _identity_values(student)
    # Usually every field is filled: one pass over them (C-level, no per-field call) before
    # looking at each field in order for its finding. None is tested first: strip needs a str.
    if None in identity or not all(map(str.strip, identity)):  # type: ignore[arg-type]
        for (name, label_vi), value in zip(_REQUIRED_IDENTITY, identity, strict=True):
            if _blank(value):
                found.append(_missing(f"student.{name}", label_vi))
    if (
        _blank(student["father_name"])
        and _blank(student["mother_name"])
        and _blank(student["guardian_name"])
    ):
        found.append(
            finding(
                "E_REQUIRED_FIELD_MISSING",
                "student.guardian_name",
                "Thiếu họ và tên cha, mẹ hoặc người giám hộ.",
                "Neither father, mother nor guardian is named.",
            )
        )
    national_id = student["national_id"]
    if national_id is None:
        if rules.national_id_required:
            found.append(_missing("student.national_id", "Số định danh cá nhân"))
    else:
        found += check_national_id(
            national_id, student["date_of_birth"], student["gender"], "student.national_id"
        )

    school = record["school"]
    if not _pattern(rules.school_code_pattern).fullmatch(school["school_code"]):
        found.append(
            finding(
                "E_SCHOOL_CODE_FORMAT",
                "school.school_code",
                f"Mã trường '{school['school_code']}' không đúng định dạng.",
                f"School code '{school['school_code']}' does not match "
                f"{rules.school_code_pattern}.",
            )
        )
    if _blank(school["school_name"]):
        found.append(_missing("school.school_name", "Tên trường"))
    if _blank(record["class_name"]):
        found.append(_missing("class_name", "Tên lớp"))

    start = school_year_start(record["school_year"])
    if start is None:
        found.append(
            finding(
                "E_SCHOOL_YEAR_FORMAT",
                "school_year",
                f"Năm học '{record['school_year']}' phải có dạng 'YYYY-YYYY' với hai năm liên "
                "tiếp, ví dụ '2024-2025'.",
                f"School year '{record['school_year']}' must be 'YYYY-YYYY' with consecutive "
                "years, e.g. '2024-2025'.",
            )
        )
    grade = record["grade"]
    if grade not in ALL_GRADES:
        found.append(
            finding(
                "E_GRADE_OUT_OF_RANGE",
                "grade",
                f"Lớp {grade} không thuộc cấp tiểu học (lớp 1 đến lớp 5).",
                f"Grade {grade} is not a primary grade (1 to 5).",
            )
        )
    elif start is not None:
        expected_birth_year = start - _ENTRY_AGE - (grade - 1)
        born = student["date_of_birth"].year
        if abs(born - expected_birth_year) > _AGE_TOLERANCE_YEARS:
            found.append(
                finding(
                    "W_AGE_UNUSUAL",
                    "student.date_of_birth",
                    f"Học sinh sinh năm {born} học lớp {grade} năm học {record['school_year']} "
                    f"(thường sinh năm {expected_birth_year}); kiểm tra lại ngày sinh.",
                    f"A student born in {born} in grade {grade} in {record['school_year']} "
                    f"(usually born in {expected_birth_year}); check the date of birth.",
                )
            )
    homeroom_teacher, principal = record["homeroom_teacher"], record["principal"]
    # Usually both signers are named: skip the loop (and its per-field call) then.
    if homeroom_teacher and principal and homeroom_teacher.strip() and principal.strip():
        return found
    for field, label_vi in (
        ("homeroom_teacher", "giáo viên chủ nhiệm"),
        ("principal", "hiệu trưởng"),
    ):
        if _blank(record[field]):  # type: ignore[literal-required]
            found.append(
                finding(
                    "W_SIGNER_MISSING",
                    field,
                    f"Chưa có họ và tên {label_vi}; cần có trước khi ký số.",
                    f"The {field.replace('_', ' ')}'s name is missing; it is needed for signing.",
                )
            )
    return found
