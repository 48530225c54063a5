"""Every word the record pages show (tra cứu và xác minh học bạ số), in Vietnamese and English.

Vietnamese is the page's first language; English is asked for with ``?lang=en`` (or the
form field ``lang``). Texts are plain text with ``{name}`` fields: the templates escape
what :func:`text` returns, so a value put into a field (a school name, a reason) can
never become markup.

Shortest use::

    text("en", "locked_text", minutes=15)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = ["LANGS", "TEXTS", "Lang", "lang_of", "other_lang", "text"]

Lang = Literal["vi", "en"]
#: The page languages, first the default.
LANGS: Final[tuple[Lang, ...]] = ("vi", "en")

# key: (Vietnamese, English)
TEXTS: Final[Mapping[str, tuple[str, str]]] = {
    # --- every page ----------------------------------------------------------------------
    "site_name": ("Học bạ số tiểu học", "Digital primary school records"),
    "site_owner": (
        "Nền tảng học bạ số quốc gia — Bộ Giáo dục và Đào tạo",
        "National digital school record platform — Ministry of Education and Training",
    ),
    "skip_link": ("Bỏ qua, đến nội dung chính", "Skip to the main content"),
    "nav_label": ("Chức năng", "Functions"),
    "nav_lookup": ("Tra cứu học bạ", "Look a record up"),
    "nav_verify": ("Xác minh tệp học bạ", "Verify a record file"),
    # The switch names the *other* language, in that language.
    "switch_to": ("English", "Tiếng Việt"),
    "switch_hint": ("Xem trang này bằng tiếng Anh", "View this page in Vietnamese"),
    "footer_privacy": (
        "Mỗi lần tra cứu, tải tệp hay xác minh đều được ghi vào nhật ký truy cập của học bạ. "
        "Trang này không dùng cookie và không chạy JavaScript.",
        "Every lookup, download and verification is written to the record's access log. "
        "This page uses no cookies and runs no JavaScript.",
    ),
    "time_zone": ("giờ Việt Nam", "Vietnam time"),
    "error_summary_title": ("Cần sửa thông tin sau", "There is a problem"),
    "error_prefix": ("Lỗi:", "Error:"),
    # --- lookup form -------------------------------------------------------------------
    "lookup_title": ("Tra cứu học bạ số", "Look up a digital school record"),
    "lookup_intro": (
        "Nhập mã số tra cứu in trên học bạ và ngày sinh của học sinh. Chỉ người có cả hai "
        "thông tin này mới xem được học bạ.",
        "Enter the lookup code printed on the record and the student's date of birth. "
        "Only someone who has both can see the record.",
    ),
    "qr_intro": (
        "Bạn mở trang này từ mã QR trên học bạ: mã số tra cứu đã được điền sẵn. Nhập ngày "
        "sinh của học sinh để xem học bạ.",
        "You opened this page from the QR code on a record: the lookup code is filled in. "
        "Enter the student's date of birth to see the record.",
    ),
    "qr_verify_link": (
        "Bạn có tệp PDF của học bạ? Xác minh chữ ký số của tệp",
        "Have the record's PDF file? Verify its digital signatures",
    ),
    "code_label": ("Mã số tra cứu học bạ", "Record lookup code"),
    "code_hint": (
        "17 ký tự in trên học bạ, ví dụ 0TKP-SW9Y-1WA3-2RDZ-A. Không phân biệt chữ hoa, "
        "chữ thường; có thể bỏ dấu gạch ngang.",
        "The 17 characters printed on the record, e.g. 0TKP-SW9Y-1WA3-2RDZ-A. Upper or "
        "lower case; the hyphens are optional.",
    ),
    "birth_label": ("Ngày sinh của học sinh", "Student's date of birth"),
    "birth_hint": (
        "Chọn ngày trên lịch, hoặc nhập ngày/tháng/năm (ví dụ 05/09/2014) hoặc "
        "năm-tháng-ngày (2014-09-05).",
        "Pick the date, or type it as day/month/year (e.g. 05/09/2014) or "
        "year-month-day (2014-09-05).",
    ),
    "lookup_submit": ("Tra cứu", "Look up"),
    "err_code_missing": ("Nhập mã số tra cứu học bạ.", "Enter the record lookup code."),
    "err_code_invalid": (
        "Mã số tra cứu không đúng: mã gồm 16 ký tự và một ký tự kiểm tra. Hãy kiểm tra "
        "lại từng ký tự.",
        "The lookup code is not valid: it has 16 characters and a check character. "
        "Check each character.",
    ),
    "err_birth_missing": ("Nhập ngày sinh của học sinh.", "Enter the student's date of birth."),
    "err_birth_invalid": (
        "Ngày sinh không đúng: nhập ngày/tháng/năm, ví dụ 05/09/2014.",
        "The date of birth is not a valid date: type day/month/year, e.g. 05/09/2014.",
    ),
    "err_form_too_large": (
        "Biểu mẫu gửi lên không hợp lệ; vui lòng nhập lại.",
        "The form sent is not valid; please fill it in again.",
    ),
    # --- lookup answers ----------------------------------------------------------------
    "not_found_title": ("Không tìm thấy học bạ", "No record found"),
    "not_found_text": (
        "Không có học bạ nào khớp với mã số tra cứu và ngày sinh đã nhập. Hãy kiểm tra lại "
        "mã số in trên học bạ và ngày sinh của học sinh.",
        "No record matches the lookup code and date of birth entered. Check the code "
        "printed on the record and the student's date of birth.",
    ),
    "not_found_limit": (
        "Sau nhiều lần nhập sai, việc tra cứu mã này sẽ tạm bị khóa.",
        "After several wrong attempts, lookups of this code are locked for a while.",
    ),
    "locked_title": ("Tạm khóa tra cứu", "Lookups temporarily locked"),
    "locked_text": (
        "Có quá nhiều lần tra cứu không thành công. Vui lòng thử lại sau {minutes} phút.",
        "There have been too many unsuccessful lookups. Please try again after {minutes} minutes.",
    ),
    "unavailable_title": ("Hệ thống tạm thời gián đoạn", "Service temporarily unavailable"),
    "unavailable_text": (
        "Kho học bạ tạm thời không truy cập được. Vui lòng thử lại sau ít phút.",
        "The record store cannot be reached right now. Please try again in a few minutes.",
    ),
    "try_again": ("Nhập lại", "Try again"),
    "result_title": ("Kết quả tra cứu học bạ", "Record lookup result"),
    "student": ("Học sinh", "Student"),
    "school_year_heading": ("Năm học {year}", "School year {year}"),
    "school": ("Trường", "School"),
    "grade": ("Lớp", "Grade"),
    "year_result": ("Kết quả giáo dục cả năm", "Year result"),
    "completion": ("Xác nhận hoàn thành", "Completion"),
    "version": ("Phiên bản", "Version"),
    "effective_at": ("Ngày hiệu lực", "Effective date"),
    "not_stated": ("(chưa có)", "(none)"),
    "signatures_heading": ("Chữ ký số", "Digital signatures"),
    "signed_at": ("ký lúc {time}", "signed {time}"),
    "not_signed": ("chưa ký", "not signed"),
    "fully_signed": ("Đã ký đủ", "Fully signed"),
    "not_fully_signed": ("Chưa ký đủ", "Not fully signed"),
    "superseded_versions": (
        "Học bạ năm học này đã được đính chính: {count} phiên bản trước đã được thay thế. "
        "Thông tin trên là phiên bản đang có hiệu lực.",
        "This school year's record has been corrected: {count} earlier version(s) were "
        "replaced. What is shown is the version in force.",
    ),
    "pdf_button": ("Tải tệp PDF học bạ (đã ký số)", "Download the signed PDF"),
    "access_log_button": ("Xem ai đã tra cứu học bạ này", "See who has read this record"),
    "another_lookup": ("Tra cứu mã khác", "Look up another code"),
    "verify_this": ("Xác minh một tệp PDF học bạ", "Verify a record PDF"),
    "no_pdf_here": (
        "Tệp PDF chỉ tải được cho năm học mà mã số tra cứu này ghi trên đó.",
        "The PDF can only be downloaded for the school year this lookup code is printed on.",
    ),
    # --- access log --------------------------------------------------------------------
    "access_log_title": ("Nhật ký truy cập học bạ", "Record access log"),
    "access_log_intro": (
        "Những lần học bạ của {name} được đọc, tải về hoặc xác minh, mới nhất trước.",
        "Every time {name}'s record was read, downloaded or verified, newest first.",
    ),
    "access_log_intro_anonymous": (
        "Những lần học bạ này được đọc, tải về hoặc xác minh, mới nhất trước.",
        "Every time this record was read, downloaded or verified, newest first.",
    ),
    "access_log_empty": ("Chưa có lần truy cập nào.", "No access yet."),
    "col_when": ("Thời gian", "When"),
    "col_who": ("Ai", "Who"),
    "col_what": ("Hoạt động", "What"),
    "col_purpose": ("Mục đích", "Purpose"),
    "holder": ("Người có mã tra cứu", "Holder of the lookup code"),
    "kind_SCHOOL": ("Trường học", "School"),
    "kind_ADMISSIONS_OFFICE": ("Hội đồng tuyển sinh", "Admissions office"),
    "kind_NATIONAL_DB": ("CSDL quốc gia về giáo dục", "National education database"),
    "kind_PLATFORM": ("Nền tảng học bạ số", "The record platform"),
    "action_READ": ("Tra cứu hoặc tải học bạ", "Looked the record up or downloaded it"),
    "action_VERIFIED": ("Xác minh tệp PDF", "Verified a PDF"),
    "action_READ_REFUSED": ("Bị từ chối", "Refused"),
    "action_ACCESS_GRANTED": ("Cấp quyền cho trường mới", "Access granted to a new school"),
    "for_school_year": ("năm học {year}", "school year {year}"),
    "access_log_truncated": (
        "Chỉ hiện {count} lần truy cập gần nhất.",
        "Only the latest {count} accesses are shown.",
    ),
    "back_to_record": ("Quay lại tra cứu", "Back to the lookup"),
    # --- verification ------------------------------------------------------------------
    "verify_title": ("Xác minh tệp học bạ số", "Verify a digital school record file"),
    "verify_intro": (
        "Chọn tệp PDF học bạ (tối đa {mib} MiB). Hệ thống kiểm tra chữ ký số của giáo viên "
        "chủ nhiệm, hiệu trưởng và con dấu của trường, các dấu thời gian, và đối chiếu tệp "
        "với học bạ đang lưu trên nền tảng. Tệp không được lưu lại.",
        "Choose the record's PDF file (at most {mib} MiB). The platform checks the digital "
        "signatures of the homeroom teacher, the principal and the school seal, the "
        "timestamps, and compares the file with the records it holds. The file is not kept.",
    ),
    "pdf_label": ("Tệp PDF học bạ", "Record PDF file"),
    "pdf_hint": (
        "Tệp .pdf tải về từ trang tra cứu, hoặc nhận từ phụ huynh học sinh.",
        "The .pdf file downloaded from the lookup page, or received from the student's parents.",
    ),
    "verify_submit": ("Xác minh", "Verify"),
    "err_pdf_missing": ("Chọn một tệp PDF học bạ.", "Choose a record PDF file."),
    "err_not_a_pdf": (
        "Tệp đã chọn không phải tệp PDF đọc được.",
        "The file chosen is not a readable PDF.",
    ),
    "err_too_large": (
        "Tệp quá lớn: tối đa {mib} MiB.",
        "The file is too large: at most {mib} MiB.",
    ),
    "err_form_type": (
        "Biểu mẫu phải gửi tệp dưới dạng multipart/form-data.",
        "The form must send the file as multipart/form-data.",
    ),
    "verify_unavailable": (
        "Chức năng xác minh tạm thời chưa sẵn sàng. Vui lòng thử lại sau.",
        "Verification is not available right now. Please try again later.",
    ),
    "verify_result_title": ("Kết quả xác minh", "Verification result"),
    "verdict_label": ("Kết luận", "Verdict"),
    "verdict_current": ("Hợp lệ và đang có hiệu lực", "Valid and in force"),
    "verdict_superseded": ("Hợp lệ nhưng đã được đính chính", "Valid, but since corrected"),
    "verdict_broken": ("Không hợp lệ: chữ ký bị phá vỡ", "Not valid: a signature is broken"),
    "verdict_untrusted": (
        "Không hợp lệ: chữ ký không xuất phát từ tổ chức cung cấp dịch vụ chứng thực được "
        "công nhận",
        "Not valid: a signature does not come from a recognised certification authority",
    ),
    "verdict_revoked": (
        "Không hợp lệ: chứng thư số đã bị thu hồi",
        "Not valid: a certificate has been revoked",
    ),
    "verdict_unsigned": ("Không hợp lệ: tệp không có chữ ký số", "Not valid: the file is unsigned"),
    "verdict_invalid": ("Không hợp lệ", "Not valid"),
    "verdict_not_found": ("Không tìm thấy trên hệ thống", "Not found on the platform"),
    "verdict_unknown": (
        "Chữ ký hợp lệ; chưa đối chiếu được với hệ thống",
        "Signatures valid; not yet compared with the platform",
    ),
    "verdict_current_text": (
        "Các chữ ký số nguyên vẹn và tin cậy; đây là phiên bản {version} đang có hiệu lực "
        "của học bạ năm học {year}.",
        "The digital signatures are intact and trusted; this is version {version}, in "
        "force, of the {year} school year record.",
    ),
    "verdict_superseded_text": (
        "Các chữ ký số nguyên vẹn, nhưng phiên bản {version} này đã được thay thế bởi "
        "phiên bản {new_version} từ ngày {date}. Lý do đính chính: {reason}",
        "The digital signatures are intact, but this version {version} was replaced by "
        "version {new_version} on {date}. Reason for the correction: {reason}",
    ),
    "verdict_superseded_short": (
        "Các chữ ký số nguyên vẹn, nhưng phiên bản {version} này đã được thay thế; phiên "
        "bản đang có hiệu lực là {current}.",
        "The digital signatures are intact, but this version {version} was replaced; the "
        "version in force is {current}.",
    ),
    "verdict_broken_text": (
        "Tệp đã bị thay đổi sau khi ký: không được dùng tệp này thay cho học bạ.",
        "The file was changed after it was signed: it must not be used as the record.",
    ),
    "verdict_invalid_text": (
        "Không được dùng tệp này thay cho học bạ. Chi tiết từng chữ ký ở bên dưới.",
        "This file must not be used as the record. Each signature's details are below.",
    ),
    "verdict_not_found_text": (
        "Nền tảng không lưu học bạ nào khớp với tệp này.",
        "The platform holds no record matching this file.",
    ),
    "reason_not_stated": ("(không ghi lý do)", "(no reason given)"),
    "platform_heading": ("Tình trạng trên nền tảng", "Standing on the platform"),
    "platform_current": (
        "Phiên bản {version} của học bạ {record_id}, năm học {year}: đang có hiệu lực.",
        "Version {version} of record {record_id}, school year {year}: in force.",
    ),
    "platform_superseded": (
        "Phiên bản {version} của học bạ {record_id}, năm học {year}: đã được thay thế; "
        "phiên bản đang có hiệu lực là {current}.",
        "Version {version} of record {record_id}, school year {year}: replaced; the "
        "version in force is {current}.",
    ),
    "platform_same_file": (
        "Tệp trùng khớp từng byte với tệp nền tảng đã phát hành.",
        "The file is byte for byte the one the platform issued.",
    ),
    "platform_same_content": (
        "Dữ liệu học bạ gắn trong tệp trùng khớp, nhưng bản thân tệp khác tệp nền tảng đã "
        "phát hành.",
        "The record embedded in the file matches, but the file itself differs from the one "
        "the platform issued.",
    ),
    "signatures_report_heading": ("Các chữ ký số trong tệp", "Signatures in the file"),
    "signer": ("Người ký", "Signer"),
    "time": ("Thời điểm (dấu thời gian)", "Time (timestamp)"),
    "no_timestamp": ("không có dấu thời gian", "no timestamp"),
    "integrity": ("Toàn vẹn", "Integrity"),
    "intact": ("Nguyên vẹn", "Intact"),
    "tampered": ("Bị thay đổi sau khi ký", "Changed after signing"),
    "lock_broken": (
        "Tài liệu bị sửa vượt quá phạm vi cho phép sau chữ ký này",
        "The document was changed beyond what this signature allows",
    ),
    "trust": ("Tin cậy", "Trust"),
    "trusted_by": ("Được chứng thực bởi: {anchor}", "Certified by: {anchor}"),
    "untrusted": ("Không tin cậy", "Not trusted"),
    "revocation": ("Tình trạng thu hồi", "Revocation"),
    "revocation_good": ("Chưa bị thu hồi", "Not revoked"),
    "revocation_revoked": ("Đã bị thu hồi", "Revoked"),
    "revocation_unknown": ("Không xác định được", "Could not be established"),
    "signature_valid": ("Chữ ký hợp lệ", "Valid signature"),
    "signature_invalid": ("Chữ ký không hợp lệ", "Invalid signature"),
    "document_timestamp": ("Dấu thời gian của tài liệu", "Document timestamp"),
    "timestamp_by": ("{time}, do {authority} cấp", "{time}, issued by {authority}"),
    "report_level": ("Mức chữ ký PAdES: {level}", "PAdES level: {level}"),
    "problems_heading": ("Vấn đề phát hiện", "Problems found"),
    "verify_another": ("Xác minh tệp khác", "Verify another file"),
    "role_HOMEROOM_TEACHER": ("Giáo viên chủ nhiệm", "Homeroom teacher"),
    "role_PRINCIPAL": ("Hiệu trưởng", "Principal"),
    "role_SCHOOL_SEAL": ("Con dấu của trường", "School seal"),
    # --- year results (Thông tư 27/2020, Điều 9) ---------------------------------------
    "result_HTXS": ("Hoàn thành xuất sắc", "Completed with distinction"),
    "result_HTT": ("Hoàn thành tốt", "Completed well"),
    "result_HT": ("Hoàn thành", "Completed"),
    "result_CHT": ("Chưa hoàn thành", "Not yet completed"),
}


def lang_of(value: str | None) -> Lang:
    """The page language a request asks for: ``en`` when it says so, else Vietnamese."""
    return "en" if (value or "").strip().lower() == "en" else "vi"


def other_lang(lang: Lang) -> Lang:
    return "vi" if lang == "en" else "en"


def text(lang: Lang, key: str, **values: object) -> str:
    """The text ``key`` in ``lang``, its ``{fields}`` filled (plain text: escape it)."""
    vi, en = TEXTS[key]
    template = en if lang == "en" else vi
    return template.format(**values) if values else template
