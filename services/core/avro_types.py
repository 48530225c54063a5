"""Typing of the Avro messages: GENERATED from schemas/ by services.core.typegen.

Do not edit: run `hocba generate --avro-types` after changing a schema.
"""

# ruff: noqa: E501
# fmt: off
# (generated text keeps the schemas' one-line docs; the formatter is not its author)

from __future__ import annotations

import datetime as dt
from typing import Literal, TypedDict

__all__ = [
    "Commendation",
    "CommendationKind",
    "CompetencyCode",
    "CompetencyResult",
    "Completion",
    "CompletionStatus",
    "ComponentResult",
    "Disability",
    "DisabilityMode",
    "Finding",
    "Gender",
    "InvalidRecord",
    "Period",
    "QualityCode",
    "QualityCompetencyEvaluation",
    "QualityLevel",
    "QualityResult",
    "RatingPeriodResult",
    "RecordCorrection",
    "School",
    "Severity",
    "SignatureApproval",
    "SignerRole",
    "StudentIdentity",
    "StudentProfile",
    "StudentTransfer",
    "SubjectCode",
    "SubjectComponent",
    "SubjectEvaluation",
    "SubjectLevel",
    "SubjectPeriodResult",
    "SubjectResult",
    "ValidatedRecord",
    "VendorEvent",
    "YearEndSubmission",
    "YearRecord",
    "YearResult",
]

#: Commendation (khen thưởng, TT27 Art. 13): HOC_SINH_XUAT_SAC (only for HTXS), HOC_SINH_TIEU_BIEU (Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện, only for HTT), SUDDEN (khen thưởng đột xuất), HIGHER_LEVEL (awards of higher authorities), OTHER.
CommendationKind = Literal["HOC_SINH_XUAT_SAC", "HOC_SINH_TIEU_BIEU", "SUDDEN", "HIGHER_LEVEL", "OTHER"]

#: Core competencies (năng lực cốt lõi). General (năng lực chung): TU_CHU_TU_HOC, GIAO_TIEP_HOP_TAC, GIAI_QUYET_VAN_DE_SANG_TAO. Specific (năng lực đặc thù): NGON_NGU, TINH_TOAN, KHOA_HOC, CONG_NGHE, TIN_HOC, THAM_MI, THE_CHAT.
CompetencyCode = Literal["TU_CHU_TU_HOC", "GIAO_TIEP_HOP_TAC", "GIAI_QUYET_VAN_DE_SANG_TAO", "NGON_NGU", "TINH_TOAN", "KHOA_HOC", "CONG_NGHE", "TIN_HOC", "THAM_MI", "THE_CHAT"]

#: Completion workflow of TT27 Art. 11: COMPLETED (Hoàn thành chương trình lớp học / tiểu học); SUPPLEMENTARY_ASSESSMENT (CHT, waiting for đánh giá bổ sung); COMPLETED_AFTER_SUPPLEMENTARY (completed at the supplementary assessment); PRINCIPAL_REVIEW (listed for the principal's decision); PROMOTED (được lên lớp by the principal's decision); REPEATS (chưa được lên lớp / ở lại lớp).
CompletionStatus = Literal["COMPLETED", "SUPPLEMENTARY_ASSESSMENT", "COMPLETED_AFTER_SUPPLEMENTARY", "PRINCIPAL_REVIEW", "PROMOTED", "REPEATS"]

#: How a student with disabilities (học sinh khuyết tật, TT27 Art. 8) is assessed: NONE; INCLUSIVE_ADJUSTED (hòa nhập, like others with adjustments); INCLUSIVE_PLAN (hòa nhập, against the individual education plan, kế hoạch giáo dục cá nhân); SPECIALISED (giáo dục chuyên biệt); DISABILITY_CLASS (lớp dành cho người khuyết tật: only Tiếng Việt and Toán are tested).
DisabilityMode = Literal["NONE", "INCLUSIVE_ADJUSTED", "INCLUSIVE_PLAN", "SPECIALISED", "DISABILITY_CLASS"]

#: Sex as on the birth certificate (giới tính): Nam (MALE) or Nữ (FEMALE).
Gender = Literal["MALE", "FEMALE"]

#: Periodic evaluation points of TT27 Art. 7: GK1 giữa học kỳ I, CK1 cuối học kỳ I, GK2 giữa học kỳ II, CN cuối năm học.
Period = Literal["GK1", "CK1", "GK2", "CN"]

#: The five main qualities (phẩm chất chủ yếu): yêu nước, nhân ái, chăm chỉ, trung thực, trách nhiệm.
QualityCode = Literal["YEU_NUOC", "NHAN_AI", "CHAM_CHI", "TRUNG_THUC", "TRACH_NHIEM"]

#: Level of a quality or competency (TT27 Art. 7 cl. 2): Tốt (printed T), Đạt (Đ), Cần cố gắng (C). A different scale from SubjectLevel: never compare the two.
QualityLevel = Literal["TOT", "DAT", "CAN_CO_GANG"]

#: ERROR findings (codes E_...) refuse the event or record; WARNING findings (codes W_...) are reported and let it pass.
Severity = Literal["ERROR", "WARNING"]

#: Who signs a year page, in this order: giáo viên chủ nhiệm (homeroom teacher), hiệu trưởng (principal), con dấu (the school's seal certificate).
SignerRole = Literal["HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"]

#: Subjects and educational activities of the 2018 programme (TT32), domain.md section 1. Môn học và hoạt động giáo dục.
SubjectCode = Literal["TIENG_VIET", "TOAN", "NGOAI_NGU_1", "DAO_DUC", "TU_NHIEN_XA_HOI", "LICH_SU_DIA_LI", "KHOA_HOC", "TIN_HOC_CONG_NGHE", "GIAO_DUC_THE_CHAT", "NGHE_THUAT", "HOAT_DONG_TRAI_NGHIEM", "TIENG_DAN_TOC"]

#: Components of a subject rated as separate rows: Âm nhạc and Mĩ thuật of Nghệ thuật; Tin học and Công nghệ of Tin học và Công nghệ.
SubjectComponent = Literal["AM_NHAC", "MI_THUAT", "TIN_HOC", "CONG_NGHE"]

#: Level of a subject or activity (mức đạt được, TT27 Art. 7 cl. 1 a): Hoàn thành tốt (printed T), Hoàn thành (H), Chưa hoàn thành (C). A different scale from QualityLevel: never compare the two.
SubjectLevel = Literal["HOAN_THANH_TOT", "HOAN_THANH", "CHUA_HOAN_THANH"]

#: Year-end educational result (kết quả giáo dục, TT27 Art. 9 cl. 2 a): HTXS Hoàn thành xuất sắc, HTT Hoàn thành tốt, HT Hoàn thành, CHT Chưa hoàn thành.
YearResult = Literal["HTXS", "HTT", "HT", "CHT"]



class StudentIdentity(TypedDict):
    """The student's identity as on the birth certificate (học bạ page 3). Optional fields are nullable so that the rules, not the encoding, report what is missing."""

    student_id: str
    """Mã định danh học sinh: the sector database's student identifier (opaque, at most 32 characters)."""
    national_id: str | None
    """Số định danh cá nhân: the 12-digit personal identification number; checked against birth year and sex."""
    full_name: str
    """Họ và tên, with diacritics."""
    gender: Gender
    """Giới tính."""
    date_of_birth: dt.date
    """Ngày sinh."""
    ethnicity: str | None
    """Dân tộc."""
    nationality: str | None
    """Quốc tịch."""
    place_of_birth: str | None
    """Nơi sinh."""
    native_place: str | None
    """Quê quán."""
    current_address: str | None
    """Nơi ở hiện nay."""
    father_name: str | None
    """Họ và tên cha."""
    mother_name: str | None
    """Họ và tên mẹ."""
    guardian_name: str | None
    """Người giám hộ (if any)."""


class School(TypedDict):
    """The school the year was spent at. Addresses keep both pre- and post-2025 administrative units (no district level since 01/07/2025)."""

    school_code: str
    """Mã trường in the sector database (opaque; pattern configured)."""
    school_name: str
    """Tên trường, with diacritics."""
    province: str | None
    """Tỉnh / thành phố."""
    commune: str | None
    """Xã / phường."""
    district: str | None
    """Huyện / quận: only for records from before 01/07/2025."""
    register_number: str | None
    """Số đăng bộ: the student's enrolment register number at this school."""


class ComponentResult(TypedDict):
    """The level of one component row of a subject (e.g. Âm nhạc of Nghệ thuật) at one period."""

    component: SubjectComponent
    """Which component."""
    level: SubjectLevel
    """Mức đạt được of the component."""
    comment: str | None
    """Nhận xét for the component."""


class SubjectPeriodResult(TypedDict):
    """A subject's evaluation at one period: level, periodic test score and comment."""

    period: Period
    """GK1, CK1, GK2 or CN."""
    level: SubjectLevel | None
    """Mức đạt được; null when the subject is rated per component (see components)."""
    test_score: int | None
    """Điểm kiểm tra định kỳ that counts (the last attempt): an integer 0-10, only where a periodic test is held."""
    earlier_test_scores: list[int]
    """Scores of earlier attempts replaced by a re-test, oldest first; kept, never counted."""
    comment: str | None
    """Nhận xét."""
    components: list[ComponentResult]
    """Component rows (Âm nhạc / Mĩ thuật, Tin học / Công nghệ), each with its own level."""


class SubjectResult(TypedDict):
    """One subject or educational activity over the year: its evaluations per period."""

    subject: SubjectCode
    """Which subject or activity."""
    optional: bool
    """Declared as an optional subject (môn tự chọn): Ngoại ngữ 1 in grades 1-2, Tiếng dân tộc thiểu số."""
    has_test: bool | None
    """For an optional subject only: the school declares that it holds periodic tests (UNCONFIRMED rule, domain.md section 1). Null: the default of the subject."""
    periods: list[SubjectPeriodResult]
    """Evaluations, at most one per period."""


class RatingPeriodResult(TypedDict):
    """A quality's or competency's level at one period."""

    period: Period
    """GK1, CK1, GK2 or CN."""
    level: QualityLevel | None
    """Mức đạt được; null means not rated (allowed only for a specific competency whose subject the grade lacks)."""
    comment: str | None
    """Nhận xét."""


class QualityResult(TypedDict):
    """One main quality (phẩm chất) over the year."""

    quality: QualityCode
    """Which quality."""
    periods: list[RatingPeriodResult]
    """Levels, at most one per period."""


class CompetencyResult(TypedDict):
    """One core competency (năng lực) over the year."""

    competency: CompetencyCode
    """Which competency."""
    periods: list[RatingPeriodResult]
    """Levels, at most one per period."""


class Completion(TypedDict):
    """Completion of the grade programme (TT27 Art. 11) and, for CHT students, the later decisions; the original year result stays recorded."""

    status: CompletionStatus
    """Where the student is in the completion workflow."""
    supplementary_result: YearResult | None
    """Result of the supplementary assessment (đánh giá bổ sung), when one was held."""
    decided_on: dt.date | None
    """Date of the last decision (supplementary assessment or principal)."""
    decided_by: str | None
    """Who decided (the principal for PROMOTED / REPEATS)."""
    note: str | None
    """Free text, e.g. the help plan."""


class Commendation(TypedDict):
    """A commendation (khen thưởng) received during the year."""

    kind: CommendationKind
    """Which kind of award."""
    title: str | None
    """The award's wording, free text (required for SUDDEN, HIGHER_LEVEL and OTHER)."""
    reason: str | None
    """For HOC_SINH_TIEU_BIEU: the subject with outstanding results or the quality/competency with remarkable progress."""
    class_recognised: bool | None
    """For HOC_SINH_TIEU_BIEU: recognised by the class (được tập thể lớp công nhận)."""
    awarded_by: str | None
    """Who awarded it (the principal, or a higher authority)."""
    awarded_on: dt.date | None
    """Date of the award."""


class Disability(TypedDict):
    """Assessment mode of a student with disabilities (TT27 Art. 8)."""

    mode: DisabilityMode
    """How the student is assessed."""
    plan_reference: str | None
    """Reference of the individual education plan (kế hoạch giáo dục cá nhân); required for INCLUSIVE_PLAN and SPECIALISED."""


class YearRecord(TypedDict):
    """One student's school-year page of the học bạ (TT27 Phụ lục 1): identity, school, every evaluation of the year, year-end result, commendations and completion. What vendors submit, what `hocba validate` checks, and what is rendered and signed."""

    student: StudentIdentity
    """Who."""
    school: School
    """Where."""
    school_year: str
    """Năm học as 'YYYY-YYYY' with consecutive years, e.g. '2024-2025'."""
    grade: int
    """Lớp (grade) 1-5."""
    class_name: str
    """Tên lớp, e.g. '4A2'."""
    enrolled_on: dt.date | None
    """Ngày nhập học / chuyển đến at this school."""
    homeroom_teacher: str | None
    """Giáo viên chủ nhiệm: full name."""
    principal: str | None
    """Hiệu trưởng: full name."""
    height_cm: float | None
    """Chiều cao (cm)."""
    weight_kg: float | None
    """Cân nặng (kg)."""
    days_absent: int | None
    """Số ngày nghỉ."""
    subjects: list[SubjectResult]
    """Các môn học và hoạt động giáo dục, one entry per subject."""
    qualities: list[QualityResult]
    """Những phẩm chất chủ yếu, one entry per quality."""
    competencies: list[CompetencyResult]
    """Những năng lực cốt lõi, one entry per competency."""
    declared_result: YearResult | None
    """The year-end result as the vendor's system classified it; the platform recomputes it and refuses a mismatch."""
    completion: Completion | None
    """Completion of the grade programme; required at year end."""
    commendations: list[Commendation]
    """Khen thưởng."""
    disability: Disability
    """Assessment mode for students with disabilities."""


class StudentProfile(TypedDict):
    """Create or update the student's identity and class for the year."""

    student: StudentIdentity
    """Identity as on the birth certificate."""
    school: School
    """The school."""
    grade: int
    """Lớp (grade) 1-5."""
    class_name: str
    """Tên lớp."""
    enrolled_on: dt.date | None
    """Ngày nhập học / chuyển đến."""
    homeroom_teacher: str | None
    """Giáo viên chủ nhiệm."""
    principal: str | None
    """Hiệu trưởng."""
    disability: Disability
    """Assessment mode for students with disabilities."""


class SubjectEvaluation(TypedDict):
    """Periodic evaluation of subjects (levels, test scores, comments) for one or more periods; merged by (subject, period), a later event replacing an earlier one."""

    subjects: list[SubjectResult]
    """The evaluated subjects with the periods this event covers."""
    evaluated_by: str | None
    """The teacher who entered the evaluation."""


class QualityCompetencyEvaluation(TypedDict):
    """Periodic evaluation of qualities and competencies by the homeroom teacher; merged by (item, period)."""

    qualities: list[QualityResult]
    """Evaluated qualities."""
    competencies: list[CompetencyResult]
    """Evaluated competencies."""
    evaluated_by: str | None
    """The homeroom teacher."""


class YearEndSubmission(TypedDict):
    """Closes the year: the vendor's result, completion and commendations; the platform then validates the whole year record."""

    declared_result: YearResult | None
    """The vendor's classification, checked against the recomputed one."""
    completion: Completion
    """Completion of the grade programme."""
    commendations: list[Commendation]
    """Khen thưởng."""
    height_cm: float | None
    """Chiều cao (cm)."""
    weight_kg: float | None
    """Cân nặng (kg)."""
    days_absent: int | None
    """Số ngày nghỉ."""
    submitted_by: str | None
    """The homeroom teacher who submitted."""


class SignatureApproval(TypedDict):
    """A signer approves the year page of a validated record version (phê duyệt, ký số): the platform then signs it with that signer's registered key. The homeroom teacher approves first, then the principal; the school's seal follows the principal's signature."""

    role: SignerRole
    """HOMEROOM_TEACHER or PRINCIPAL (the seal is applied by the platform after the principal)."""
    signer_id: str
    """The signer as registered with the platform for this school and role (their key and certificate)."""
    version: int
    """The record version approved (1 for the first issue of the school year's page)."""
    record_sha256: str | None
    """SHA-256 (hex) of the canonical JSON of the record the signer saw; when given, an approval of other content is refused."""


class RecordCorrection(TypedDict):
    """Asks for a signed year page to be corrected (đính chính): the year record as it stands after the events sent since the page was signed becomes a new version that names the version it supersedes and this reason, and is signed again through the same approvals (homeroom teacher, principal, school seal). A change to a signed page without a new RecordCorrection is refused (E_CORRECTION_REASON_REQUIRED)."""

    reason: str
    """Lý do đính chính: why the signed page is corrected, as it will be printed on the new version (1-500 characters, with diacritics)."""
    requested_by: str | None
    """Who asked for the correction in the vendor's system (user id or name)."""


class StudentTransfer(TypedDict):
    """Chuyển trường: the student leaves the school named in the envelope (published by that school's vendor) for another school from a date. From effective_on on, only the receiving school's vendor may publish for the student (at the receiving school) and the sending school's vendor may not; evaluations made at the sending school before a mid-year transfer are carried into the receiving school's year record; the receiving school may read the student's earlier signed records (each read audited)."""

    to_school_code: str
    """Mã trường of the receiving school."""
    to_school_name: str | None
    """Tên trường of the receiving school, with diacritics."""
    effective_on: dt.date
    """The first day (Vietnam date) the student belongs to the receiving school."""
    reason: str | None
    """Lý do chuyển trường, when given."""


class VendorEvent(TypedDict):
    """An event a vendor's school-management system publishes about one student's school year (topic hocba.vendor.events, or POST /v1/events)."""

    event_id: str
    """The vendor's unique id of this event (a UUID); re-sending the same id is acknowledged, not processed twice."""
    vendor_id: str
    """The publishing vendor (nhà cung cấp), as registered with the platform."""
    occurred_at: dt.datetime
    """When the fact happened in the vendor's system (UTC)."""
    school_code: str
    """Mã trường of the school the event is about; the vendor must be assigned to it."""
    student_id: str
    """Mã định danh học sinh of the student."""
    school_year: str
    """Năm học, 'YYYY-YYYY'."""
    payload: tuple[str, StudentProfile | SubjectEvaluation | QualityCompetencyEvaluation | YearEndSubmission | SignatureApproval | RecordCorrection | StudentTransfer]
    """What happened: one of StudentProfile, SubjectEvaluation, QualityCompetencyEvaluation, YearEndSubmission, SignatureApproval, RecordCorrection, StudentTransfer."""
    correlation_id: str | None
    """Optional id the vendor uses to trace a batch."""


class Finding(TypedDict):
    """One coded reason why an event or record was refused or questioned."""

    code: str
    """Stable code: E_... for errors, W_... for warnings (catalogue in docs/errors.md)."""
    severity: Severity
    """ERROR or WARNING."""
    path: str
    """Where in the message, as a dotted path with indexes (e.g. record.subjects[2].periods[3].test_score); empty for the whole message."""
    message_vi: str
    """Explanation in Vietnamese, with diacritics."""
    message_en: str
    """The same explanation in English."""


class ValidatedRecord(TypedDict):
    """A year record that passed every Circular 27 rule, with the platform's own classification (topic hocba.records.validated)."""

    record_key: str
    """school_code|student_id|school_year."""
    vendor_id: str
    """The vendor whose events built the record."""
    record: YearRecord
    """The assembled year record."""
    computed_result: YearResult | None
    """The recomputed year result; null when the standard classification does not apply (individual education plan)."""
    completion_statement: str | None
    """The completion statement to print, e.g. 'Hoàn thành chương trình lớp học' or 'Hoàn thành chương trình tiểu học'."""
    derived_commendation: CommendationKind | None
    """The commendation the result itself implies (HOC_SINH_XUAT_SAC for HTXS)."""
    warnings: list[Finding]
    """Warnings (W_...) that did not stop the record."""
    source_event_ids: list[str]
    """Ids of the vendor events the record was assembled from."""
    correction_event_id: str | None
    """The latest RecordCorrection event in the student-year's log, if any: signing issues a change to a signed page only for a correction it has not used yet."""
    correction_reason: str | None
    """That correction's reason (lý do đính chính)."""
    rule_set_version: str
    """Version of the rule set the record was validated with."""
    validated_at: dt.datetime
    """When (UTC)."""


class InvalidRecord(TypedDict):
    """A year record refused at year-end validation, with every finding at once (topic hocba.records.invalid)."""

    record_key: str
    """school_code|student_id|school_year."""
    vendor_id: str
    """The vendor whose events built the record."""
    record: YearRecord
    """The assembled year record as it stood."""
    findings: list[Finding]
    """Every error and warning."""
    computed_result: YearResult | None
    """The recomputed result when it could be computed."""
    source_event_ids: list[str]
    """Ids of the vendor events the record was assembled from."""
    rule_set_version: str
    """Version of the rule set used."""
    validated_at: dt.datetime
    """When (UTC)."""
