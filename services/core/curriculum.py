"""The 2018 programme as data: subjects per grade, periodic tests, levels (domain.md sections 1-3).

Môn học và hoạt động giáo dục theo lớp (TT32), bài kiểm tra định kỳ (TT27 Art. 7),
mức đạt được. Symbols are those of the Avro enums in ``schemas/types``; the printed
letters (T/H/C for subjects, T/Đ/C for qualities and competencies) are derived here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services.core.avro_types import (
    CompetencyCode,
    Period,
    QualityCode,
    QualityLevel,
    SubjectCode,
    SubjectComponent,
    SubjectLevel,
    YearResult,
)

__all__ = [
    "ALL_GRADES",
    "COMPETENCY_NAMES_VI",
    "COMPONENT_NAMES_VI",
    "GENERAL_COMPETENCIES",
    "MID_TERM_TEST_GRADES",
    "MID_TERM_TEST_SUBJECTS",
    "PERIODS",
    "PERIOD_NAMES_VI",
    "QUALITIES",
    "QUALITY_LETTERS",
    "QUALITY_LEVEL_NAMES_VI",
    "QUALITY_NAMES_VI",
    "SPECIFIC_COMPETENCIES",
    "SUBJECTS",
    "SUBJECT_LETTERS",
    "SUBJECT_LEVEL_NAMES_VI",
    "YEAR_RESULT_NAMES_VI",
    "SubjectRule",
    "competency_subjects",
]

ALL_GRADES: Final = frozenset({1, 2, 3, 4, 5})
PERIODS: Final[tuple[Period, ...]] = ("GK1", "CK1", "GK2", "CN")
PERIOD_NAMES_VI: Final[Mapping[Period, str]] = {
    "GK1": "giữa học kỳ I",
    "CK1": "cuối học kỳ I",
    "GK2": "giữa học kỳ II",
    "CN": "cuối năm học",
}


@dataclass(frozen=True, slots=True)
class SubjectRule:
    """One row of domain.md section 1: a subject or activity (môn học, hoạt động giáo dục)."""

    code: SubjectCode
    name_vi: str
    compulsory_grades: frozenset[int]
    optional_grades: frozenset[int] = frozenset()
    #: Periodic test (bài kiểm tra định kỳ) when taught as a compulsory subject.
    tested: bool = False
    components: tuple[SubjectComponent, ...] = ()

    def taught_in(self, grade: int) -> bool:
        return grade in self.compulsory_grades or grade in self.optional_grades


def _grades(first: int, last: int) -> frozenset[int]:
    return frozenset(range(first, last + 1))


SUBJECTS: Final[Mapping[SubjectCode, SubjectRule]] = {
    rule.code: rule
    for rule in (
        SubjectRule("TIENG_VIET", "Tiếng Việt", _grades(1, 5), tested=True),
        SubjectRule("TOAN", "Toán", _grades(1, 5), tested=True),
        SubjectRule("NGOAI_NGU_1", "Ngoại ngữ 1", _grades(3, 5), _grades(1, 2), tested=True),
        SubjectRule("DAO_DUC", "Đạo đức", _grades(1, 5)),
        SubjectRule("TU_NHIEN_XA_HOI", "Tự nhiên và Xã hội", _grades(1, 3)),
        SubjectRule("LICH_SU_DIA_LI", "Lịch sử và Địa lí", _grades(4, 5), tested=True),
        SubjectRule("KHOA_HOC", "Khoa học", _grades(4, 5), tested=True),
        SubjectRule(
            "TIN_HOC_CONG_NGHE",
            "Tin học và Công nghệ",
            _grades(3, 5),
            tested=True,
            components=("TIN_HOC", "CONG_NGHE"),
        ),
        SubjectRule("GIAO_DUC_THE_CHAT", "Giáo dục thể chất", _grades(1, 5)),
        SubjectRule("NGHE_THUAT", "Nghệ thuật", _grades(1, 5), components=("AM_NHAC", "MI_THUAT")),
        SubjectRule("HOAT_DONG_TRAI_NGHIEM", "Hoạt động trải nghiệm", _grades(1, 5)),
        SubjectRule("TIENG_DAN_TOC", "Tiếng dân tộc thiểu số", frozenset(), _grades(1, 5)),
    )
}

#: Grades 4 and 5 also test Tiếng Việt and Toán at mid-term (GK1, GK2), TT27 Art. 7 cl. 1 b.
MID_TERM_TEST_GRADES: Final = frozenset({4, 5})
MID_TERM_TEST_SUBJECTS: Final[frozenset[SubjectCode]] = frozenset({"TIENG_VIET", "TOAN"})

COMPONENT_NAMES_VI: Final[Mapping[SubjectComponent, str]] = {
    "AM_NHAC": "Âm nhạc",
    "MI_THUAT": "Mĩ thuật",
    "TIN_HOC": "Tin học",
    "CONG_NGHE": "Công nghệ",
}

QUALITIES: Final[tuple[QualityCode, ...]] = (
    "YEU_NUOC",
    "NHAN_AI",
    "CHAM_CHI",
    "TRUNG_THUC",
    "TRACH_NHIEM",
)
QUALITY_NAMES_VI: Final[Mapping[QualityCode, str]] = {
    "YEU_NUOC": "Yêu nước",
    "NHAN_AI": "Nhân ái",
    "CHAM_CHI": "Chăm chỉ",
    "TRUNG_THUC": "Trung thực",
    "TRACH_NHIEM": "Trách nhiệm",
}
GENERAL_COMPETENCIES: Final[tuple[CompetencyCode, ...]] = (
    "TU_CHU_TU_HOC",
    "GIAO_TIEP_HOP_TAC",
    "GIAI_QUYET_VAN_DE_SANG_TAO",
)
SPECIFIC_COMPETENCIES: Final[tuple[CompetencyCode, ...]] = (
    "NGON_NGU",
    "TINH_TOAN",
    "KHOA_HOC",
    "CONG_NGHE",
    "TIN_HOC",
    "THAM_MI",
    "THE_CHAT",
)
COMPETENCY_NAMES_VI: Final[Mapping[CompetencyCode, str]] = {
    "TU_CHU_TU_HOC": "Tự chủ và tự học",
    "GIAO_TIEP_HOP_TAC": "Giao tiếp và hợp tác",
    "GIAI_QUYET_VAN_DE_SANG_TAO": "Giải quyết vấn đề và sáng tạo",
    "NGON_NGU": "Ngôn ngữ",
    "TINH_TOAN": "Tính toán",
    "KHOA_HOC": "Khoa học",
    "CONG_NGHE": "Công nghệ",
    "TIN_HOC": "Tin học",
    "THAM_MI": "Thẩm mĩ",
    "THE_CHAT": "Thể chất",
}

# Which subjects develop each specific competency (năng lực đặc thù); a grade that teaches
# none of them may leave the competency unrated (domain.md section 2, UNCONFIRMED).
_COMPETENCY_SUBJECTS: Final[Mapping[CompetencyCode, frozenset[SubjectCode]]] = {
    "NGON_NGU": frozenset({"TIENG_VIET", "NGOAI_NGU_1", "TIENG_DAN_TOC"}),
    "TINH_TOAN": frozenset({"TOAN"}),
    "KHOA_HOC": frozenset({"TU_NHIEN_XA_HOI", "KHOA_HOC", "LICH_SU_DIA_LI"}),
    "CONG_NGHE": frozenset({"TIN_HOC_CONG_NGHE"}),
    "TIN_HOC": frozenset({"TIN_HOC_CONG_NGHE"}),
    "THAM_MI": frozenset({"NGHE_THUAT"}),
    "THE_CHAT": frozenset({"GIAO_DUC_THE_CHAT"}),
}


def competency_subjects(competency: CompetencyCode) -> frozenset[SubjectCode]:
    """The compulsory subjects that develop a specific competency (empty for general ones)."""
    return _COMPETENCY_SUBJECTS.get(competency, frozenset())


SUBJECT_LETTERS: Final[Mapping[SubjectLevel, str]] = {
    "HOAN_THANH_TOT": "T",
    "HOAN_THANH": "H",
    "CHUA_HOAN_THANH": "C",
}
SUBJECT_LEVEL_NAMES_VI: Final[Mapping[SubjectLevel, str]] = {
    "HOAN_THANH_TOT": "Hoàn thành tốt",
    "HOAN_THANH": "Hoàn thành",
    "CHUA_HOAN_THANH": "Chưa hoàn thành",
}
QUALITY_LETTERS: Final[Mapping[QualityLevel, str]] = {
    "TOT": "T",
    "DAT": "Đ",
    "CAN_CO_GANG": "C",
}
QUALITY_LEVEL_NAMES_VI: Final[Mapping[QualityLevel, str]] = {
    "TOT": "Tốt",
    "DAT": "Đạt",
    "CAN_CO_GANG": "Cần cố gắng",
}
YEAR_RESULT_NAMES_VI: Final[Mapping[YearResult, str]] = {
    "HTXS": "Hoàn thành xuất sắc",
    "HTT": "Hoàn thành tốt",
    "HT": "Hoàn thành",
    "CHT": "Chưa hoàn thành",
}
