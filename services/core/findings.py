"""Findings (lỗi, cảnh báo): coded reasons why an event or a record is refused or questioned.

Every code the platform emits is in :data:`CATALOGUE`, from which ``docs/errors.md``
is generated. Codes are stable: ``E_...`` errors refuse the event or record,
``W_...`` warnings are reported and let it pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services.core.avro_types import Finding as FindingDatum
from services.core.avro_types import Severity

__all__ = ["CATALOGUE", "CatalogueEntry", "Finding", "finding"]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What a code means: its severity, a title in both languages and an explanation."""

    severity: Severity
    title_vi: str
    title_en: str
    explanation: str
    #: Where the rule comes from (domain.md section, or the transport layer).
    source: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One coded finding: code, severity, field path, message in Vietnamese and English."""

    code: str
    severity: Severity
    path: str
    message_vi: str
    message_en: str

    def to_avro(self) -> FindingDatum:
        """The datum of ``schemas/types/Finding.avsc``."""
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }

    @property
    def is_error(self) -> bool:
        return self.severity == "ERROR"


def _e(title_vi: str, title_en: str, explanation: str, source: str) -> CatalogueEntry:
    return CatalogueEntry("ERROR", title_vi, title_en, explanation, source)


def _w(title_vi: str, title_en: str, explanation: str, source: str) -> CatalogueEntry:
    return CatalogueEntry("WARNING", title_vi, title_en, explanation, source)


_TRANSPORT = "transport (messaging layer)"
_SIGNING = "signing service (signature approvals)"
_STORAGE = "storage service"

CATALOGUE: Final[Mapping[str, CatalogueEntry]] = {
    # Transport: bytes or documents that cannot be read as the expected message.
    "E_MESSAGE_TOO_LARGE": _e(
        "Thông điệp quá lớn",
        "Message too large",
        "The message exceeds the broker's size limit (1 MiB by default); split the batch.",
        _TRANSPORT,
    ),
    "E_NOT_AVRO_SINGLE_OBJECT": _e(
        "Không phải thông điệp Avro single-object",
        "Not an Avro single-object message",
        "Binary messages must start with the marker C3 01 and the 8-byte CRC-64-AVRO "
        "fingerprint of the writer schema (Avro specification, single-object encoding).",
        _TRANSPORT,
    ),
    "E_UNKNOWN_SCHEMA_FINGERPRINT": _e(
        "Mã vân tay lược đồ không xác định",
        "Unknown schema fingerprint",
        "The fingerprint is not one of a released version of any message schema; use the "
        "published schemas (schemas/ and docs/messages.md).",
        _TRANSPORT,
    ),
    "E_WRONG_MESSAGE_TYPE": _e(
        "Sai loại thông điệp",
        "Wrong message type",
        "The message is a valid Avro message, but of another type than the one expected here.",
        _TRANSPORT,
    ),
    "E_UNDECODABLE": _e(
        "Không giải mã được",
        "Undecodable body",
        "The body does not decode with the schema its fingerprint names (truncated, corrupted, "
        "or trailing bytes).",
        _TRANSPORT,
    ),
    "E_SCHEMA_MISMATCH": _e(
        "Tài liệu JSON không khớp lược đồ",
        "JSON document does not fit its schema",
        "A field is missing, unknown, of the wrong type or not one of the enum symbols; the "
        "path names the field. JSON documents use the field names of the Avro schema.",
        _TRANSPORT,
    ),
    # Identity, school and frame of the year page (domain.md sections 6-7).
    "E_REQUIRED_FIELD_MISSING": _e(
        "Thiếu thông tin bắt buộc",
        "Required field missing",
        "A field the học bạ requires is empty: the identity of page 3 (họ và tên, dân tộc, "
        "quốc tịch, nơi sinh, quê quán, nơi ở hiện nay, a parent or guardian), the personal "
        "number, the school name or the class name.",
        "domain.md 6",
    ),
    "E_NATIONAL_ID_FORMAT": _e(
        "Số định danh cá nhân sai định dạng",
        "Malformed personal identification number",
        "The personal identification number has exactly 12 digits.",
        "domain.md 7",
    ),
    "E_NATIONAL_ID_PROVINCE": _e(
        "Mã tỉnh trong số định danh không hợp lệ",
        "Unknown province code in the personal number",
        "Digits 1-3 are the province of birth registration: one of the 63 pre-2025 codes "
        "(001 Hà Nội ... 096 Cà Mau).",
        "domain.md 7",
    ),
    "E_NATIONAL_ID_CENTURY_SEX": _e(
        "Mã thế kỷ và giới tính không khớp",
        "Century and sex digit does not match",
        "Digit 4 encodes the century of birth and the sex (0/1: 1900s male/female, 2/3: "
        "2000s, 4/5: 2100s ...); it must match the date of birth and the gender.",
        "domain.md 7",
    ),
    "E_NATIONAL_ID_BIRTH_YEAR": _e(
        "Năm sinh trong số định danh không khớp",
        "Birth year in the personal number does not match",
        "Digits 5-6 are the last two digits of the year of birth.",
        "domain.md 7",
    ),
    "E_STUDENT_ID_FORMAT": _e(
        "Mã định danh học sinh sai định dạng",
        "Malformed student identifier",
        "The sector database's student identifier does not match the configured pattern "
        "(format UNCONFIRMED; opaque, at most 32 characters).",
        "domain.md 7",
    ),
    "E_SCHOOL_CODE_FORMAT": _e(
        "Mã trường sai định dạng",
        "Malformed school code",
        "The school code does not match the configured pattern (format UNCONFIRMED).",
        "domain.md 7",
    ),
    "E_SCHOOL_YEAR_FORMAT": _e(
        "Năm học sai định dạng",
        "Malformed school year",
        "The school year is written 'YYYY-YYYY' with consecutive years, e.g. '2024-2025'.",
        "domain.md 6",
    ),
    "E_GRADE_OUT_OF_RANGE": _e(
        "Lớp không hợp lệ",
        "Grade out of range",
        "Primary school has grades 1 to 5; rules that depend on the grade are skipped.",
        "domain.md 1",
    ),
    "W_AGE_UNUSUAL": _w(
        "Tuổi không thường gặp so với lớp",
        "Unusual age for the grade",
        "Children enter grade 1 in the year they turn 6; the age differs from that by more "
        "than two years (possible, but often a typing error in the date of birth).",
        "domain.md 6",
    ),
    "W_SIGNER_MISSING": _w(
        "Thiếu tên người ký",
        "Signer's name missing",
        "The homeroom teacher (giáo viên chủ nhiệm) and the principal (hiệu trưởng) sign the "
        "year page; their names are needed before signing.",
        "domain.md 6",
    ),
    # Subjects and activities (domain.md sections 1-3).
    "E_SUBJECT_NOT_IN_GRADE": _e(
        "Môn học không có ở lớp này",
        "Subject not taught in this grade",
        "The subject or activity is not part of the grade's programme (TT32), e.g. Khoa học "
        "in grade 2.",
        "domain.md 1",
    ),
    "E_SUBJECT_MISSING": _e(
        "Thiếu môn học bắt buộc",
        "Compulsory subject missing",
        "Every compulsory subject and activity of the grade has a row in the record.",
        "domain.md 1",
    ),
    "E_OPTIONAL_NOT_DECLARED": _e(
        "Môn tự chọn chưa khai báo tự chọn",
        "Optional subject not declared optional",
        "Ngoại ngữ 1 in grades 1-2 and Tiếng dân tộc thiểu số are optional subjects (môn tự "
        "chọn): send them with optional = true.",
        "domain.md 1",
    ),
    "E_SUBJECT_NOT_OPTIONAL": _e(
        "Môn bắt buộc bị khai báo tự chọn",
        "Compulsory subject declared optional",
        "The subject is compulsory in this grade and cannot be declared optional.",
        "domain.md 1",
    ),
    "W_HAS_TEST_IGNORED": _w(
        "Khai báo kiểm tra định kỳ bị bỏ qua",
        "has_test ignored",
        "has_test is only for optional subjects; compulsory subjects follow TT27's test rules.",
        "domain.md 1",
    ),
    "E_DUPLICATE_ENTRY": _e(
        "Trùng mục đánh giá",
        "Duplicate entry",
        "A subject, quality, competency or component appears more than once.",
        "domain.md 6",
    ),
    "E_DUPLICATE_PERIOD": _e(
        "Trùng thời điểm đánh giá",
        "Duplicate period",
        "An item has more than one evaluation for the same period (GK1, CK1, GK2, CN).",
        "domain.md 3",
    ),
    "E_COMPONENT_NOT_OF_SUBJECT": _e(
        "Phân môn không thuộc môn học",
        "Component not of this subject",
        "Only Nghệ thuật (Âm nhạc, Mĩ thuật) and Tin học và Công nghệ (Tin học, Công nghệ) "
        "have component rows, each its own.",
        "domain.md 1",
    ),
    "E_COMPONENT_MISSING": _e(
        "Thiếu phân môn",
        "Component missing",
        "A subject rated per component rates every component at that period.",
        "domain.md 1",
    ),
    "E_CN_LEVEL_MISSING": _e(
        "Thiếu mức đạt được cuối năm",
        "End-of-year level missing",
        "Every subject row, quality and competency has a level at the end of the year (CN); "
        "only a specific competency the grade has no subject for may stay unrated.",
        "domain.md 2, 4",
    ),
    "W_LEVEL_MISSING": _w(
        "Thiếu mức đạt được giữa kỳ",
        "Mid-year level missing",
        "An evaluation of GK1, CK1 or GK2 has no level.",
        "domain.md 3",
    ),
    "W_PERIOD_MISSING": _w(
        "Thiếu thời điểm đánh giá",
        "Evaluation period missing",
        "The item has no evaluation for one of GK1, CK1, GK2.",
        "domain.md 3",
    ),
    "E_SCORE_NOT_ALLOWED": _e(
        "Không có bài kiểm tra định kỳ",
        "No periodic test here",
        "Test scores exist only for tested subjects at CK1 and CN, plus GK1 and GK2 for "
        "Tiếng Việt and Toán in grades 4-5; untested subjects, optional subjects without a "
        "declared test, and in disability classes every subject but Tiếng Việt and Toán "
        "have none.",
        "domain.md 3, 5",
    ),
    "W_SCORE_OUTSIDE_TT27_PERIOD": _w(
        "Điểm kiểm tra ngoài thời điểm quy định",
        "Test score outside TT27's periods",
        "Reported instead of E_SCORE_NOT_ALLOWED when the platform is configured to accept "
        "scores of tested subjects at periods where TT27 holds no test.",
        "domain.md 3 (configurable)",
    ),
    "E_SCORE_OUT_OF_RANGE": _e(
        "Điểm ngoài thang 0-10",
        "Score out of range",
        "Test scores are whole numbers from 0 to 10.",
        "domain.md 3",
    ),
    "E_CN_SCORE_MISSING": _e(
        "Thiếu điểm kiểm tra cuối năm",
        "End-of-year test score missing",
        "Every tested subject has its end-of-year (CN) test score.",
        "domain.md 3, 4",
    ),
    "W_SCORE_MISSING": _w(
        "Thiếu điểm kiểm tra định kỳ",
        "Periodic test score missing",
        "A tested subject has an evaluation at a test period (CK1; GK1/GK2 in grades 4-5) "
        "without a score.",
        "domain.md 3",
    ),
    "E_COMMENT_TOO_LONG": _e(
        "Nhận xét quá dài",
        "Comment too long",
        "Comments (nhận xét) are checked only for length; shorten the text.",
        "domain.md 3",
    ),
    "E_RATING_MISSING": _e(
        "Thiếu phẩm chất hoặc năng lực",
        "Quality or competency missing",
        "The five qualities and the ten competencies each have an entry; a specific "
        "competency the grade has no subject for may be left out (configurable).",
        "domain.md 2",
    ),
    # Year end (domain.md sections 4-5).
    "E_RESULT_MISMATCH": _e(
        "Kết quả giáo dục không khớp",
        "Declared result differs",
        "The vendor's year-end result differs from the one the platform computes from the "
        "end-of-year levels and scores; the message gives both.",
        "domain.md 4",
    ),
    "W_RESULT_NOT_APPLICABLE": _w(
        "Kết quả giáo dục không áp dụng",
        "Standard result not applicable",
        "The student is assessed against an individual education plan: the declared result "
        "is kept but not checked.",
        "domain.md 5",
    ),
    "E_COMPLETION_MISSING": _e(
        "Thiếu xét hoàn thành chương trình",
        "Completion missing",
        "The year-end record states the completion of the grade programme.",
        "domain.md 5",
    ),
    "E_COMPLETION_INCONSISTENT": _e(
        "Xét hoàn thành không khớp kết quả",
        "Completion inconsistent with the result",
        "HTXS, HTT and HT complete the grade (COMPLETED); a CHT student goes through the "
        "supplementary assessment and, if needed, the principal's decision; a supplementary "
        "result must fit the state.",
        "domain.md 5",
    ),
    "E_COMPLETION_DECISION_MISSING": _e(
        "Thiếu thông tin quyết định",
        "Decision details missing",
        "A supplementary assessment needs its result and date; the principal's decision "
        "(PROMOTED, REPEATS) needs its date and who decided.",
        "domain.md 5",
    ),
    "W_COMPLETION_PENDING": _w(
        "Chưa có quyết định cuối cùng",
        "Completion still pending",
        "The student waits for the supplementary assessment or the principal's decision; the "
        "record can be finally signed only afterwards.",
        "domain.md 5",
    ),
    "E_COMMENDATION_NOT_EARNED": _e(
        "Khen thưởng không đúng kết quả",
        "Commendation does not fit the result",
        "Học sinh Xuất sắc is only for HTXS; Học sinh Tiêu biểu hoàn thành tốt trong học tập "
        "và rèn luyện is only for HTT.",
        "domain.md 5",
    ),
    "E_COMMENDATION_INCOMPLETE": _e(
        "Khen thưởng thiếu thông tin",
        "Commendation incomplete",
        "Học sinh Tiêu biểu needs its reason and the class's recognition; sudden, "
        "higher-level and other awards need their title.",
        "domain.md 5",
    ),
    "W_COMMENDATION_NOT_DECLARED": _w(
        "Chưa ghi khen thưởng Học sinh Xuất sắc",
        "Học sinh Xuất sắc not declared",
        "An HTXS student receives Học sinh Xuất sắc; the platform derives it.",
        "domain.md 5",
    ),
    "E_DISABILITY_PLAN_MISSING": _e(
        "Thiếu kế hoạch giáo dục cá nhân",
        "Individual education plan missing",
        "Assessment against an individual education plan (INCLUSIVE_PLAN, SPECIALISED) "
        "names the plan (plan_reference).",
        "domain.md 5",
    ),
    # ---- BEGIN ingestion codes (owner: services/ingestion; its engineer edits only this
    # block). Ingestion also answers with the transport codes above and with
    # E_SCHOOL_YEAR_FORMAT, E_SCHOOL_CODE_FORMAT, E_STUDENT_ID_FORMAT for the envelope. ----
    "E_TOKEN_MISSING": _e(
        "Thiếu mã truy cập",
        "Access token missing",
        "POST /v1/events needs the header `Authorization: Bearer <token>` (HTTP 401).",
        "ingestion (authentication, authorization)",
    ),
    "E_TOKEN_INVALID": _e(
        "Mã truy cập không hợp lệ hoặc đã bị thu hồi",
        "Access token unknown or revoked",
        "The bearer token is not one the platform issued, or it was revoked (HTTP 401); ask "
        "the operator for a new one (`hocba vendor token`).",
        "ingestion (authentication, authorization)",
    ),
    "E_VENDOR_UNKNOWN": _e(
        "Nhà cung cấp chưa đăng ký",
        "Vendor not registered",
        "The event's vendor_id is not a vendor registered with the platform.",
        "ingestion (authentication, authorization)",
    ),
    "E_VENDOR_INACTIVE": _e(
        "Nhà cung cấp đã bị vô hiệu hoá",
        "Vendor deactivated",
        "The vendor is registered but deactivated; its events are refused.",
        "ingestion (authentication, authorization)",
    ),
    "E_VENDOR_MISMATCH": _e(
        "Nhà cung cấp trong sự kiện khác nhà cung cấp đã xác thực",
        "Event vendor differs from the authenticated vendor",
        "The event's vendor_id must be the vendor of the token (HTTP) or of the Kafka "
        "principal (production).",
        "ingestion (authentication, authorization)",
    ),
    "E_SCHOOL_NOT_ASSIGNED": _e(
        "Nhà cung cấp không được phân công cho trường này",
        "School not assigned to the vendor",
        "A vendor may publish only for the schools assigned to it on the event's date "
        "(occurred_at, Vietnam time); assignments are dated (`hocba vendor assign`).",
        "ingestion (authentication, authorization)",
    ),
    "E_EVENT_ID_INVALID": _e(
        "Mã sự kiện không phải UUID",
        "Event id is not a UUID",
        "event_id is a UUID written 8-4-4-4-12 in hexadecimal.",
        "ingestion (envelope, de-duplication)",
    ),
    "E_EVENT_ID_REUSED": _e(
        "Mã sự kiện đã dùng cho nội dung khác",
        "Event id reused with different content",
        "An event with this id was already accepted with other content. A re-send must be "
        "the same event (then it is acknowledged as a duplicate); a new fact needs a new id.",
        "ingestion (envelope, de-duplication)",
    ),
    "E_OCCURRED_IN_FUTURE": _e(
        "Thời điểm phát sinh ở tương lai",
        "Event time in the future",
        "occurred_at is later than the platform's clock plus the allowed skew (5 minutes by "
        "default); check the vendor system's clock and time zone.",
        "ingestion (envelope, de-duplication)",
    ),
    "E_ENVELOPE_MISMATCH": _e(
        "Nội dung khác phong bì sự kiện",
        "Payload disagrees with the envelope",
        "In a StudentProfile, student.student_id and school.school_code equal the "
        "envelope's student_id and school_code.",
        "ingestion (envelope, de-duplication)",
    ),
    "E_BATCH_TOO_LARGE": _e(
        "Lô sự kiện quá lớn",
        "Batch too large",
        "POST /v1/events takes at most 1,000 events per request (HTTP 413); split the batch.",
        "ingestion (HTTP entry)",
    ),
    "E_REQUEST_NOT_JSON": _e(
        "Nội dung yêu cầu không phải JSON",
        "Request body is not JSON",
        "The body of POST /v1/events is UTF-8 JSON (HTTP 400).",
        "ingestion (HTTP entry)",
    ),
    "E_REQUEST_INVALID": _e(
        "Yêu cầu thiếu danh sách sự kiện",
        "Request lacks the events list",
        'The body of POST /v1/events is an object {"events": [...]} (HTTP 400).',
        "ingestion (HTTP entry)",
    ),
    "E_SERVICE_UNAVAILABLE": _e(
        "Dịch vụ tạm thời không sẵn sàng",
        "Service temporarily unavailable",
        "Kafka or PostgreSQL did not answer (HTTP 503); send the same events again later: "
        "re-sends are idempotent.",
        "ingestion (HTTP entry)",
    ),
    "E_TEXT_NUL_CHARACTER": _e(
        "Ký tự NUL trong văn bản",
        "NUL character in a text",
        "A text of the event contains U+0000, which the record store and the PDF cannot "
        "hold; remove it and send the event again with a new event id.",
        "ingestion (envelope and text checks)",
    ),
    # ---- END ingestion codes ----
    # ---- BEGIN transfer codes (issue 8, school transfers: ingestion checks and
    # authorization, storage's hocba.transfers consumer). ----
    "E_TRANSFER_SAME_SCHOOL": _e(
        "Trường chuyển đến trùng trường chuyển đi",
        "Transfer to the same school",
        "A StudentTransfer's to_school_code must be another school than the envelope's "
        "school_code (the sending school).",
        "ingestion (school transfer)",
    ),
    "E_TRANSFER_DATE_OUT_OF_RANGE": _e(
        "Ngày chuyển trường ngoài năm học",
        "Transfer date outside the school year",
        "A StudentTransfer's effective_on must fall within the event's school year or the "
        "summer after it (by default 1 August of the first year to 31 August of the second; "
        "HOCBA_TRANSFER_WINDOW_OPENS / _CLOSES).",
        "ingestion (school transfer)",
    ),
    "E_STUDENT_TRANSFERRED": _e(
        "Học sinh đã chuyển sang trường khác",
        "Student transferred to another school",
        "The student left the envelope's school before the event's date (a recorded "
        "StudentTransfer): from its effective date only the receiving school's vendor "
        "publishes for the student.",
        "ingestion (school transfer)",
    ),
    "E_STUDENT_NOT_YET_TRANSFERRED": _e(
        "Học sinh chưa chuyển đến trường này",
        "Student not yet transferred to this school",
        "The student's transfer to the envelope's school takes effect after the event's "
        "date: events of the receiving school start on the transfer's effective date.",
        "ingestion (school transfer)",
    ),
    "E_STUDENT_AT_OTHER_SCHOOL": _e(
        "Học sinh thuộc trường khác",
        "Student belongs to another school",
        "The recorded transfers place the student at another school on the event's date, "
        "and the student was never transferred from or to the envelope's school.",
        "ingestion (school transfer)",
    ),
    "E_STORAGE_NOT_A_TRANSFER": _e(
        "Không phải sự kiện chuyển trường",
        "Not a school transfer",
        "A message on hocba.transfers is an AcceptedEvent whose payload is a StudentTransfer "
        "with a receiving school; anything else grants nothing and is counted.",
        _STORAGE,
    ),
    # ---- END transfer codes ----
    # ---- BEGIN correction codes (issue 8, corrections (đính chính): ingestion's check of
    # a RecordCorrection, signing's refusal of a change to an issued page). ----
    "E_CORRECTION_REASON_INVALID": _e(
        "Lý do đính chính không hợp lệ",
        "Invalid correction reason",
        "A RecordCorrection's reason is printed on the corrected page: after removing the "
        "spaces around it, it must have 1 to 500 characters.",
        "ingestion (correction, domain.md section 6)",
    ),
    "E_CORRECTION_REASON_REQUIRED": _e(
        "Cần sự kiện đính chính kèm lý do",
        "Correction with a reason required",
        "The school-year page is already signed and issued: a signed page is never edited, "
        "a change becomes its next version only with a RecordCorrection event (with the "
        "reason to print) sent for it. Send the RecordCorrection; the change already sent "
        "then becomes the next version (a correction may also be sent before the change).",
        _SIGNING,
    ),
    # ---- END correction codes ----
    # Validation stage: events that cannot be assembled into a year record.
    "E_PROFILE_MISSING": _e(
        "Chưa có hồ sơ học sinh",
        "Student profile missing",
        "A year-end submission arrived for a student-year with no StudentProfile event: "
        "send the profile, then the year-end submission again (with a new event id).",
        "validation service (assembly of the year record)",
    ),
    # Storage stage: signed records storage refuses, and the lookup API.
    "E_STORAGE_KEY_MISMATCH": _e(
        "Khóa học bạ không khớp",
        "Record key mismatch",
        "The message's record_key is not school_code|student_id|school_year of its record.",
        _STORAGE,
    ),
    "E_STORAGE_MISSING_IDENTIFIER": _e(
        "Thiếu mã định danh",
        "Identifier missing",
        "The record has an empty student id or school code and cannot be keyed.",
        _STORAGE,
    ),
    "E_STORAGE_BAD_SCHOOL_YEAR": _e(
        "Năm học không hợp lệ",
        "Invalid school year",
        "The record's school year is not 'YYYY-YYYY'.",
        _STORAGE,
    ),
    "E_STORAGE_BAD_GRADE": _e(
        "Lớp không hợp lệ",
        "Invalid grade",
        "The record's grade is not a primary grade (1-5).",
        _STORAGE,
    ),
    "E_STORAGE_NUL_CHARACTER": _e(
        "Ký tự NUL trong học bạ",
        "NUL character in the record",
        "PostgreSQL text cannot hold U+0000; the record is refused and counted.",
        _STORAGE,
    ),
    "E_STORAGE_DB_REFUSED": _e(
        "Cơ sở dữ liệu từ chối học bạ",
        "Database refused the record",
        "PostgreSQL refused a value of this record (SQLSTATE class 22 or 54); the other "
        "records of the batch were stored.",
        _STORAGE,
    ),
    "E_STORAGE_UNAVAILABLE": _e(
        "Kho học bạ tạm thời không truy cập được",
        "Record store unavailable",
        "The database did not answer; retry later (HTTP 503).",
        _STORAGE,
    ),
    "E_RECORD_NOT_FOUND": _e(
        "Không tìm thấy học bạ",
        "Record not found",
        "No record answers this code (HTTP 404).",
        _STORAGE,
    ),
    "E_LOOKUP_CODE_INVALID": _e(
        "Mã số tra cứu không hợp lệ",
        "Invalid lookup code",
        "Not a lookup code: 16 Crockford base32 characters and a check character; a typo "
        "is caught by the check character (HTTP 400).",
        _STORAGE,
    ),
    "E_LOOKUP_QUERY_INVALID": _e(
        "Tham số tra cứu không hợp lệ",
        "Invalid lookup parameter",
        "GET /v1/records/{code}/pdf takes version as a version number (1, 2, ...) and "
        "school_year as 'YYYY-YYYY' (HTTP 400).",
        _STORAGE,
    ),
    "E_STORAGE_HASH_MISMATCH": _e(
        "Mã băm của học bạ đã ký không khớp",
        "Signed record hash mismatch",
        "The SignedRecord's pdf_sha256 is not the SHA-256 of its PDF, or its record_sha256 "
        "not the SHA-256 of the canonical JSON of its record: what would be stored is not "
        "what was signed. Nothing is stored.",
        _STORAGE,
    ),
    "E_STORAGE_VERSION_CONFLICT": _e(
        "Phiên bản đã lưu với nội dung khác",
        "Version already stored with other content",
        "This version of the record page (record id, school year, version) is already "
        "stored with another record or PDF; a signed version is never overwritten, a "
        "correction is the next version. The message is refused and audited.",
        _STORAGE,
    ),
    "E_STORAGE_RECORD_ID_CONFLICT": _e(
        "Mã hồ sơ học bạ không khớp học sinh",
        "Record id conflicts with the stored one",
        "The student already has another record id, or the record id belongs to another "
        "student; a student's record id never changes. The message is refused and audited.",
        _STORAGE,
    ),
    "E_STORAGE_LOOKUP_CODE_CONFLICT": _e(
        "Mã số tra cứu đã thuộc học bạ khác",
        "Lookup code names another record page",
        "The lookup code is already stored for another student's school-year page; a code "
        "names one page for ever. The message is refused and audited.",
        _STORAGE,
    ),
    "E_STORAGE_BAD_RECORD_ID": _e(
        "Mã hồ sơ học bạ không hợp lệ",
        "Invalid record id",
        "The record id is not 'HB' followed by 16 Crockford base32 characters.",
        _STORAGE,
    ),
    "E_STORAGE_BAD_LOOKUP_CODE": _e(
        "Mã số tra cứu không đúng dạng chuẩn",
        "Lookup code not in canonical form",
        "The signed record's lookup code is not 16 Crockford base32 characters in groups of "
        "four and a matching check character, upper case, joined by hyphens.",
        _STORAGE,
    ),
    "E_STORAGE_BAD_VERSION": _e(
        "Số phiên bản không hợp lệ",
        "Invalid version number",
        "The version is below 1, or supersedes_version is not an earlier version (1 to "
        "version - 1).",
        _STORAGE,
    ),
    # ---- BEGIN admission checks codes (owner: admissions, services/storage/admissions.py;
    # entries also carry E_LOOKUP_CODE_INVALID, E_NATIONAL_ID_FORMAT, E_RECORD_NOT_FOUND) ----
    "E_ADMISSIONS_REQUEST_INVALID": _e(
        "Yêu cầu kiểm tra tuyển sinh không hợp lệ",
        "Invalid admission check request",
        "POST /v1/admissions/checks takes JSON {purpose, lookup_codes: [...]} or {purpose, "
        "national_ids: [...]} (lists of strings, not empty), or a UTF-8 CSV file with one "
        "column lookup_code or national_id and ?purpose=; ?format is csv or json (HTTP 400).",
        _STORAGE,
    ),
    "E_ADMISSIONS_REQUEST_TOO_LARGE": _e(
        "Yêu cầu kiểm tra tuyển sinh quá lớn",
        "Admission check request too large",
        "At most 5,000 entries and 2 MiB per request; split the list (HTTP 413).",
        _STORAGE,
    ),
    "E_ADMISSIONS_MEDIA_TYPE": _e(
        "Định dạng yêu cầu không được hỗ trợ",
        "Unsupported request media type",
        "The body of an admission check is application/json or text/csv (HTTP 415).",
        _STORAGE,
    ),
    "E_ADMISSIONS_NO_GRADE5_PAGE": _e(
        "Không có trang học bạ lớp 5 đã ký",
        "No signed grade-5 page",
        "Entry status not_found: the lookup code names another grade's page and the record "
        "has no signed grade-5 page, or no signed grade-5 page carries the national id.",
        _STORAGE,
    ),
    "E_ADMISSIONS_NOT_ENTITLED": _e(
        "Không được cấp quyền kiểm tra học sinh này",
        "Not entitled to check this student",
        "Entry status not_entitled: by national id, an admissions office checks only "
        "students whose grade-5 page is at one of its schools (access_clients.school_codes); "
        "nothing else is answered and the refusal is audited (READ_REFUSED). The parent's "
        "lookup code gives the entitlement instead.",
        _STORAGE,
    ),
    # ---- END admission checks codes ----
    # ---- BEGIN lookup codes (owner: lookup, services/storage/lookup.py; GET
    # /v1/records/{code}[/pdf|/access-log] and the /tra-cuu pages) ----
    "E_LOOKUP_BIRTH_DATE_REQUIRED": _e(
        "Thiếu ngày sinh của học sinh",
        "Student's date of birth required",
        "A lookup by lookup code or record id needs the student's date of birth as the "
        "second factor: header X-Birth-Date: YYYY-MM-DD (the web form's date field). "
        "Missing or not a date: nothing is looked up (HTTP 400). Only the national "
        "education database, authenticated, fetches a PDF without it.",
        _STORAGE,
    ),
    "E_LOOKUP_LOCKED": _e(
        "Tạm khóa tra cứu",
        "Lookups locked for a while",
        "Too many failed lookups: by this client (an address or access client: 20 in 10 "
        "minutes locks it for 30 minutes; more than 30 lookups a minute are refused too) "
        "or of this code, known or not (5 in 15 minutes lock it for 15 minutes, even for "
        "the right date of birth). Retry after the Retry-After header's seconds "
        "(HTTP 429).",
        _STORAGE,
    ),
    # ---- END lookup codes ----
    # ---- BEGIN verification codes (owner: verify, services/storage/verify_api.py,
    # POST /v1/verify) ----
    "E_VERIFY_NOT_A_PDF": _e(
        "Tệp không phải PDF",
        "Not a PDF",
        "The file handed to POST /v1/verify cannot be read as a PDF (no %PDF header, or "
        "pyhanko cannot read its structure), so nothing can be said of its signatures "
        "(HTTP 400).",
        _STORAGE,
    ),
    "E_VERIFY_PDF_MISSING": _e(
        "Thiếu tệp PDF",
        "PDF missing",
        "A multipart/form-data request to POST /v1/verify carries the file in a field named "
        "pdf (HTTP 400).",
        _STORAGE,
    ),
    "E_VERIFY_TOO_LARGE": _e(
        "Tệp PDF quá lớn",
        "PDF too large",
        "A record page is far smaller than HOCBA_VERIFY_MAX_BYTES (10 MiB by default); a "
        "larger file is refused unread (HTTP 413).",
        _STORAGE,
    ),
    "E_VERIFY_MEDIA_TYPE": _e(
        "Định dạng yêu cầu không được hỗ trợ",
        "Unsupported request media type",
        "The body of POST /v1/verify is the PDF itself (application/pdf or "
        "application/octet-stream) or multipart/form-data with a field pdf (HTTP 415).",
        _STORAGE,
    ),
    "E_VERIFY_UNAVAILABLE": _e(
        "Chức năng xác minh chưa sẵn sàng",
        "Verification unavailable",
        "The storage service has no trust anchor to verify against (HOCBA_TRUST_ROOTS unset "
        "or unreadable and no development PKI built); nothing is judged (HTTP 503).",
        _STORAGE,
    ),
    # ---- END verification codes ----
    # Signing stage: signature approvals that cannot be carried out (domain.md section 6).
    "E_APPROVAL_NO_PENDING_RECORD": _e(
        "Không có học bạ chờ ký",
        "No record waiting for signatures",
        "The student's school-year page has no validated version waiting to be signed: "
        "the year-end submission was not validated (yet), or the version is already issued.",
        _SIGNING,
    ),
    "E_APPROVAL_VERSION_MISMATCH": _e(
        "Phê duyệt sai phiên bản",
        "Approval for another version",
        "The approval names a version other than the one waiting for signatures (an older, "
        "superseded or not yet existing version); approve the version being signed.",
        _SIGNING,
    ),
    "E_APPROVAL_CONTENT_MISMATCH": _e(
        "Nội dung phê duyệt không khớp",
        "Approved content differs",
        "The approval's record_sha256 is not the SHA-256 of the record waiting for "
        "signatures: the signer saw other content.",
        _SIGNING,
    ),
    "E_APPROVAL_OUT_OF_ORDER": _e(
        "Phê duyệt sai thứ tự",
        "Approval out of order",
        "The homeroom teacher signs first, then the principal; the school seal follows the "
        "principal and is never approved by an event.",
        _SIGNING,
    ),
    "E_SIGNER_NOT_REGISTERED": _e(
        "Người ký chưa được đăng ký",
        "Signer not registered",
        "No signer with this signer_id is registered with the platform.",
        _SIGNING,
    ),
    "E_SIGNER_NOT_AUTHORISED": _e(
        "Người ký không có thẩm quyền",
        "Signer not authorised",
        "The signer is not registered for this school and role (e.g. a teacher of another "
        "school, or a teacher approving as principal).",
        _SIGNING,
    ),
    "E_SIGNING_FAILED": _e(
        "Ký số không thành công",
        "Signing failed",
        "The signature could not be made or did not validate (key store, timestamp or "
        "revocation service unavailable, certificate revoked or expired); the page keeps "
        "its earlier signatures and the approval can be sent again with a new event id.",
        _SIGNING,
    ),
    # ---- access clients (services/storage/access.py) ----
    "E_ACCESS_TOKEN_INVALID": _e(
        "Mã truy cập không hợp lệ",
        "Access token invalid",
        "The bearer token of a school, admissions office or the national database is "
        "unknown or revoked, or a function for access clients was called without one "
        "(HTTP 401). Tokens are issued by an operator with `hocba access add-client`.",
        _STORAGE,
    ),
    "E_ACCESS_FORBIDDEN": _e(
        "Không có quyền dùng chức năng này",
        "Function not allowed for this client",
        "The access client is of another kind than the function serves (e.g. a school "
        "calling the admission checks) (HTTP 403).",
        _STORAGE,
    ),
    "E_ACCESS_PURPOSE_REQUIRED": _e(
        "Thiếu mục đích truy cập",
        "Purpose of access missing",
        "A school's or an admissions office's read must state its purpose (3-200 "
        "printable characters); the purpose is kept with the read in the record's audit "
        "trail, which parents can see (HTTP 400).",
        _STORAGE,
    ),
}


def finding(code: str, path: str, message_vi: str, message_en: str) -> Finding:
    """A finding of a catalogued code (its severity comes from the catalogue)."""
    return Finding(code, CATALOGUE[code].severity, path, message_vi, message_en)
