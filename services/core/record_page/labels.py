"""Vietnamese wording of the page that the curriculum does not already define.

Subject, component, quality, competency, level and result names come from
:mod:`services.core.curriculum`; what is here is only what the page adds: sex,
commendations, assessment modes of students with disabilities, and how dates
and decimals are written in Vietnamese (``05/09/2024``, ``121,5``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final, TypeVar

from services.core.avro_types import CommendationKind, DisabilityMode, Gender
from services.core.curriculum import (
    QUALITY_LETTERS,
    QUALITY_LEVEL_NAMES_VI,
    SUBJECT_LETTERS,
    SUBJECT_LEVEL_NAMES_VI,
)

__all__ = [
    "COMMENDATION_NAMES_VI",
    "DISABILITY_MODE_NAMES_VI",
    "GENDER_NAMES_VI",
    "LEVEL_LEGEND_VI",
    "format_date",
    "format_decimal",
]

GENDER_NAMES_VI: Final[Mapping[Gender, str]] = {"MALE": "Nam", "FEMALE": "Nữ"}

#: Khen thưởng (TT27 Art. 13); SUDDEN, HIGHER_LEVEL and OTHER print their own title after this.
COMMENDATION_NAMES_VI: Final[Mapping[CommendationKind, str]] = {
    "HOC_SINH_XUAT_SAC": "Học sinh Xuất sắc",
    "HOC_SINH_TIEU_BIEU": "Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện",
    "SUDDEN": "Khen thưởng đột xuất",
    "HIGHER_LEVEL": "Khen thưởng của cấp trên",
    "OTHER": "Khen thưởng khác",
}

#: How a student with disabilities (học sinh khuyết tật, TT27 Art. 8) is assessed.
DISABILITY_MODE_NAMES_VI: Final[Mapping[DisabilityMode, str]] = {
    "NONE": "Không",
    "INCLUSIVE_ADJUSTED": "Giáo dục hòa nhập, đánh giá như học sinh khác có điều chỉnh",
    "INCLUSIVE_PLAN": "Giáo dục hòa nhập, đánh giá theo kế hoạch giáo dục cá nhân",
    "SPECIALISED": "Giáo dục chuyên biệt, đánh giá theo kế hoạch giáo dục cá nhân",
    "DISABILITY_CLASS": "Lớp dành cho người khuyết tật",
}


_Level = TypeVar("_Level", bound=str)


def _legend(letters: Mapping[_Level, str], names: Mapping[_Level, str]) -> str:
    return "; ".join(f"{letters[level]}: {names[level]}" for level in letters)


#: The key to the printed letters, built from the curriculum so the two cannot drift.
LEVEL_LEGEND_VI: Final = (
    "Mức đạt được: môn học và hoạt động giáo dục — "
    f"{_legend(SUBJECT_LETTERS, SUBJECT_LEVEL_NAMES_VI)}. "
    f"Phẩm chất, năng lực — {_legend(QUALITY_LETTERS, QUALITY_LEVEL_NAMES_VI)}."
)


def format_date(day: dt.date) -> str:
    """Ngày tháng năm as written in Vietnam: ``05/09/2024``."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def format_decimal(value: float, digits: int = 1) -> str:
    """A decimal with the Vietnamese decimal comma: ``121,5``."""
    return f"{value:.{digits}f}".replace(".", ",")
