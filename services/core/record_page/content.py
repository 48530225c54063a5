"""What the year page says, as plain text: from a ValidatedRecord datum to rows and pairs.

No geometry and no PDF here: :func:`page_content` decides the wording, the order of
subjects, qualities and competencies (the curriculum's, whatever the vendor sent)
and what is left out when absent; :mod:`.layout` decides where it goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from services.core.avro_types import (
    Commendation,
    CompetencyResult,
    Completion,
    QualityResult,
    RatingPeriodResult,
    StudentIdentity,
    SubjectPeriodResult,
    SubjectResult,
    YearRecord,
    YearResult,
)
from services.core.classification import PLAN_BASED_MODES, completion_statement
from services.core.curriculum import (
    COMPETENCY_NAMES_VI,
    COMPONENT_NAMES_VI,
    GENERAL_COMPETENCIES,
    QUALITIES,
    QUALITY_NAMES_VI,
    SPECIFIC_COMPETENCIES,
    SUBJECTS,
    YEAR_RESULT_NAMES_VI,
)
from services.core.record import quality_letter, subject_letter
from services.core.record_page.contract import (
    EMBEDDED_RECORD_NAME,
    SIGNATURE_FIELDS,
    PageIdentity,
)
from services.core.record_page.labels import (
    COMMENDATION_NAMES_VI,
    DISABILITY_MODE_NAMES_VI,
    GENDER_NAMES_VI,
    LEVEL_LEGEND_VI,
    format_date,
    format_decimal,
)

__all__ = ["PageContent", "Row", "SignatureBox", "page_content"]

RowKind = Literal["item", "part", "group"]
Pair = tuple[str, str]

#: Printed where the effective date (ngày hiệu lực) belongs: it is only known when the seal signs.
EFFECTIVE_DATE_TEXT: Final = "thời điểm ký của con dấu nhà trường (xem chữ ký số)"
_NOT_RATED: Final = "Không đánh giá"
_SUBJECT_ORDER: Final = {code: i for i, code in enumerate(SUBJECTS)}


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: ``item`` (a subject, quality or competency), ``part`` (a component row,
    e.g. Âm nhạc of Nghệ thuật) or ``group`` (a heading such as Năng lực chung)."""

    cells: tuple[str, ...]
    kind: RowKind = "item"


@dataclass(frozen=True, slots=True)
class SignatureBox:
    """One signature place: who signs (in Vietnamese), how, the printed name, the PDF field."""

    field_name: str
    role: str
    hint: str
    signer: str


@dataclass(frozen=True, slots=True)
class PageContent:
    """Every text of one year page, in reading order."""

    school_heading: tuple[str, ...]
    title: str
    subtitle: str
    student: tuple[Pair, ...]
    school: tuple[Pair, ...]
    subjects: tuple[Row, ...]
    #: Qualities and competencies (phẩm chất, năng lực), with group rows.
    ratings: tuple[Row, ...]
    legend: str
    year_end: tuple[Pair, ...]
    completion: str
    digital: tuple[Pair, ...]
    qr_payload: str
    signatures: tuple[SignatureBox, ...]
    #: Repeated at the foot of every page and at the head of a continuation page.
    running_title: str


def _present(pairs: Iterable[tuple[str, str | None]]) -> tuple[Pair, ...]:
    return tuple((label, value) for label, value in pairs if value)


_P = TypeVar("_P", SubjectPeriodResult, RatingPeriodResult)


def _at_cn(periods: Sequence[_P]) -> _P | None:
    # The year page shows the end-of-year (CN) evaluation only.
    return next((p for p in periods if p["period"] == "CN"), None)


def _student(student: StudentIdentity) -> tuple[Pair, ...]:
    return _present(
        (
            ("Họ và tên", student["full_name"]),
            ("Giới tính", GENDER_NAMES_VI[student["gender"]]),
            ("Ngày sinh", format_date(student["date_of_birth"])),
            ("Dân tộc", student["ethnicity"]),
            ("Quốc tịch", student["nationality"]),
            ("Nơi sinh", student["place_of_birth"]),
            ("Quê quán", student["native_place"]),
            ("Nơi ở hiện nay", student["current_address"]),
            ("Họ và tên cha", student["father_name"]),
            ("Họ và tên mẹ", student["mother_name"]),
            ("Người giám hộ", student["guardian_name"]),
            ("Mã học sinh (CSDL ngành)", student["student_id"]),
        )
    )


def _school(record: YearRecord) -> tuple[Pair, ...]:
    school = record["school"]
    address = ", ".join(
        part for part in (school["commune"], school["district"], school["province"]) if part
    )
    disability = record["disability"]
    mode = disability["mode"]
    assessed = None
    if mode != "NONE":
        assessed = DISABILITY_MODE_NAMES_VI[mode]
        if disability["plan_reference"]:
            assessed += f" ({disability['plan_reference']})"
    height, weight, absent = record["height_cm"], record["weight_kg"], record["days_absent"]
    body = None
    if (height, weight, absent) != (None, None, None):
        body = " / ".join(
            (
                "—" if height is None else f"{format_decimal(height)} cm",
                "—" if weight is None else f"{format_decimal(weight)} kg",
                "—" if absent is None else str(absent),
            )
        )
    # The school's name and code head the page; here: where, which class, since when.
    return _present(
        (
            ("Địa chỉ trường", address),
            ("Lớp", f"{record['class_name']} (khối lớp {record['grade']})"),
            ("Số đăng bộ", school["register_number"]),
            (
                "Ngày nhập học / chuyển đến",
                format_date(record["enrolled_on"]) if record["enrolled_on"] else None,
            ),
            ("Chiều cao / cân nặng / số ngày nghỉ", body),
            ("Học sinh khuyết tật", assessed),
        )
    )


def _subject_rows(subjects: Sequence[SubjectResult]) -> tuple[Row, ...]:
    rows: list[Row] = []
    for subject in sorted(subjects, key=lambda s: _SUBJECT_ORDER.get(s["subject"], 99)):
        rule = SUBJECTS[subject["subject"]]
        name = f"{rule.name_vi} (tự chọn)" if subject["optional"] else rule.name_vi
        cn = _at_cn(subject["periods"])
        if cn is None:
            rows.append(Row((name, "", "", "")))
            continue
        score = cn["test_score"]
        rows.append(
            Row(
                (
                    name,
                    subject_letter(cn["level"]),
                    "" if score is None else str(score),
                    cn["comment"] or "",
                )
            )
        )
        for component in cn["components"]:
            rows.append(
                Row(
                    (
                        COMPONENT_NAMES_VI[component["component"]],
                        subject_letter(component["level"]),
                        "",
                        component["comment"] or "",
                    ),
                    kind="part",
                )
            )
    return tuple(rows)


def _rating_row(name: str, periods: Sequence[RatingPeriodResult]) -> Row:
    cn = _at_cn(periods)
    if cn is None or cn["level"] is None:
        return Row((name, "–", (cn and cn["comment"]) or _NOT_RATED))
    return Row((name, quality_letter(cn["level"]), cn["comment"] or ""))


def _rating_rows(
    qualities: Sequence[QualityResult], competencies: Sequence[CompetencyResult]
) -> tuple[Row, ...]:
    """Phẩm chất chủ yếu, năng lực chung, năng lực đặc thù: a group row, then its items."""
    quality_by_code = {q["quality"]: q for q in qualities}
    competency_by_code = {c["competency"]: c for c in competencies}
    groups = (
        (
            "Phẩm chất chủ yếu",
            [
                (QUALITY_NAMES_VI[c], quality_by_code[c]["periods"])
                for c in QUALITIES
                if c in quality_by_code
            ],
        ),
        *(
            (
                heading,
                [
                    (COMPETENCY_NAMES_VI[c], competency_by_code[c]["periods"])
                    for c in codes
                    if c in competency_by_code
                ],
            )
            for heading, codes in (
                ("Năng lực chung", GENERAL_COMPETENCIES),
                ("Năng lực đặc thù", SPECIFIC_COMPETENCIES),
            )
        ),
    )
    rows: list[Row] = []
    for heading, items in groups:
        if items:
            rows.append(Row((heading, "", ""), kind="group"))
            rows.extend(_rating_row(name, periods) for name, periods in items)
    return tuple(rows)


def _commendation_text(commendation: Commendation) -> str:
    text = COMMENDATION_NAMES_VI[commendation["kind"]]
    details = [d for d in (commendation["title"], commendation["reason"]) if d]
    return f"{text}: {' — '.join(details)}" if details else text


def _commendations(validated: Mapping[str, Any], record: YearRecord) -> str:
    texts = [_commendation_text(c) for c in record["commendations"]]
    derived = validated.get("derived_commendation")
    if derived and derived not in {c["kind"] for c in record["commendations"]}:
        # The platform derives Học sinh Xuất sắc from an HTXS result even when not declared.
        texts.insert(0, COMMENDATION_NAMES_VI[derived])
    return "; ".join(texts) or "Không"


def _year_end(validated: Mapping[str, Any], record: YearRecord) -> tuple[Pair, ...]:
    result: YearResult | None = validated.get("computed_result")
    if result is not None:
        result_text = YEAR_RESULT_NAMES_VI[result]
    elif record["disability"]["mode"] in PLAN_BASED_MODES:
        result_text = "Đánh giá theo kế hoạch giáo dục cá nhân"
    else:
        result_text = "Chưa xếp loại"
    completion: Completion | None = record["completion"]
    supplementary = principal = None
    if completion is not None:
        decided_on = completion["decided_on"]
        on = f", ngày {format_date(decided_on)}" if decided_on else ""
        if completion["supplementary_result"] is not None:
            supplementary = YEAR_RESULT_NAMES_VI[completion["supplementary_result"]] + on
        if completion["status"] in {"PROMOTED", "REPEATS"} and completion["decided_by"]:
            principal = completion["decided_by"] + on
    return _present(
        (
            ("Đánh giá kết quả giáo dục", result_text),
            ("Đánh giá bổ sung", supplementary),
            ("Quyết định của hiệu trưởng", principal),
            ("Khen thưởng", _commendations(validated, record)),
        )
    )


def _completion(validated: Mapping[str, Any], record: YearRecord) -> str:
    statement: str | None = validated.get("completion_statement")
    if statement:
        return statement
    completion = record["completion"]
    return completion_statement(
        record["grade"],
        validated.get("computed_result"),
        None if completion is None else completion["status"],
    )


def _digital(
    validated: Mapping[str, Any], student: StudentIdentity, identity: PageIdentity, sha256: str
) -> tuple[Pair, ...]:
    if student["national_id"]:
        person = ("Mã số định danh (số định danh cá nhân)", student["national_id"])
    else:
        person = ("Mã số định danh (mã học sinh)", student["student_id"])
    correction: tuple[str, str | None] = ("", None)
    if identity.supersedes_version is not None:
        correction = (
            f"Đính chính phiên bản {identity.supersedes_version}",
            identity.correction_reason or "lý do đính chính không được ghi kèm",
        )
    return _present(
        (
            ("Mã số tra cứu học bạ", identity.lookup_code),
            person,
            ("Mã hồ sơ học bạ", f"{identity.record_id}, phiên bản {identity.version}"),
            correction,
            ("Ngày hiệu lực", EFFECTIVE_DATE_TEXT),
            (f"SHA-256 của {EMBEDDED_RECORD_NAME}", sha256),
            ("Bộ quy tắc kiểm tra", validated.get("rule_set_version")),
            ("Xác minh trực tuyến", identity.verify_url),
        )
    )


def _signatures(record: YearRecord) -> tuple[SignatureBox, ...]:
    return (
        SignatureBox(
            SIGNATURE_FIELDS["HOMEROOM_TEACHER"],
            "Giáo viên chủ nhiệm",
            "(ký, ghi rõ họ tên)",
            record["homeroom_teacher"] or "",
        ),
        SignatureBox(
            SIGNATURE_FIELDS["PRINCIPAL"],
            "Hiệu trưởng",
            "(ký, ghi rõ họ tên)",
            record["principal"] or "",
        ),
        SignatureBox(
            SIGNATURE_FIELDS["SCHOOL_SEAL"],
            "Con dấu nhà trường",
            "(chữ ký số của nhà trường)",
            record["school"]["school_name"],
        ),
    )


def page_content(
    validated: Mapping[str, Any], identity: PageIdentity, record_sha256: str
) -> PageContent:
    """The texts of the year page of a ValidatedRecord datum (``validated["record"]``).

    Raises ``KeyError`` or ``TypeError`` for a datum that does not follow the schema;
    :func:`~services.core.record_page.render_year_page` reports those as
    :class:`~services.core.record_page.RecordPageError`.
    """
    record: YearRecord = validated["record"]
    student = record["student"]
    school = record["school"]
    school_year = record["school_year"]
    date_of_birth: dt.date = student["date_of_birth"]
    return PageContent(
        school_heading=(school["school_name"].upper(), f"Mã trường: {school['school_code']}"),
        title="HỌC BẠ",
        subtitle=f"Kết quả học tập, rèn luyện năm học {school_year}",
        student=_student(student),
        school=_school(record),
        subjects=_subject_rows(record["subjects"]),
        ratings=_rating_rows(record["qualities"], record["competencies"]),
        legend=LEVEL_LEGEND_VI,
        year_end=_year_end(validated, record),
        completion=_completion(validated, record),
        digital=_digital(validated, student, identity, record_sha256),
        qr_payload=identity.verify_url,
        signatures=_signatures(record),
        running_title=(
            f"Học bạ năm học {school_year} — {student['full_name']} "
            f"({format_date(date_of_birth)}) — {identity.record_id}, "
            f"phiên bản {identity.version}"
        ),
    )
