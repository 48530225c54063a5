"""The 12-digit personal identification number (số định danh cá nhân), domain.md section 7.

Structure (Decree 137/2015 Art. 13, codes continued by TT59): ``PPP G YY RRRRRR``:
province of birth registration, century + sex, two-digit birth year, six random
digits. No check digit is documented, so the checks are structural.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final

from services.core.avro_types import Gender
from services.core.findings import Finding, finding

__all__ = [
    "PROVINCE_CODES",
    "century_sex_digit",
    "check_national_id",
]

#: The 63 pre-2025 province codes (Phụ lục 1, TT 07/2016/TT-BCA). Numbers never change after
#: the 2025 merger into 34 provinces, so these stay valid.
PROVINCE_CODES: Final[Mapping[str, str]] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

_DIGITS: Final = frozenset("0123456789")


def century_sex_digit(birth_year: int, gender: Gender) -> int | None:
    """Digit 4: 0/1 for 1900s male/female, 2/3 for 2000s, ... up to 8/9; None outside."""
    century = birth_year // 100 - 19
    if not 0 <= century <= 4:
        return None
    return 2 * century + (1 if gender == "FEMALE" else 0)


def check_national_id(
    national_id: str, date_of_birth: dt.date, gender: Gender, path: str
) -> list[Finding]:
    """Every inconsistency of a personal number with the birth date and sex (giới tính)."""
    if len(national_id) != 12 or not _DIGITS.issuperset(national_id):
        return [
            finding(
                "E_NATIONAL_ID_FORMAT",
                path,
                f"Số định danh cá nhân '{national_id}' phải gồm đúng 12 chữ số.",
                f"Personal identification number '{national_id}' must be exactly 12 digits.",
            )
        ]
    found: list[Finding] = []
    province = national_id[:3]
    if province not in PROVINCE_CODES:
        found.append(
            finding(
                "E_NATIONAL_ID_PROVINCE",
                path,
                f"Mã tỉnh '{province}' (3 chữ số đầu) không thuộc 63 mã tỉnh.",
                f"Province code '{province}' (first 3 digits) is not one of the 63 codes.",
            )
        )
    expected = century_sex_digit(date_of_birth.year, gender)
    if expected is None or int(national_id[3]) != expected:
        sex_vi = "nữ" if gender == "FEMALE" else "nam"
        found.append(
            finding(
                "E_NATIONAL_ID_CENTURY_SEX",
                path,
                f"Chữ số thứ 4 là {national_id[3]}, nhưng học sinh {sex_vi} sinh năm "
                f"{date_of_birth.year} phải có {expected}.",
                f"Digit 4 is {national_id[3]}, but a {gender.lower()} student born in "
                f"{date_of_birth.year} needs {expected}.",
            )
        )
    if national_id[4:6] != f"{date_of_birth.year % 100:02d}":
        found.append(
            finding(
                "E_NATIONAL_ID_BIRTH_YEAR",
                path,
                f"Chữ số 5-6 là '{national_id[4:6]}', nhưng năm sinh là {date_of_birth.year}.",
                f"Digits 5-6 are '{national_id[4:6]}', but the year of birth is "
                f"{date_of_birth.year}.",
            )
        )
    return found
