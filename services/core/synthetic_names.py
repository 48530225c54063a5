"""Vietnamese names, places and comments for synthetic records (dữ liệu giả lập).

Family names with rough national frequencies (percent); the rest is sampled uniformly.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COMMENTS_QUALITY",
    "COMMENTS_SUBJECT",
    "COMMUNES",
    "ETHNICITIES",
    "FAMILY_NAMES",
    "GIVEN_NAMES_FEMALE",
    "GIVEN_NAMES_MALE",
    "MIDDLE_NAMES_FEMALE",
    "MIDDLE_NAMES_MALE",
    "SCHOOL_NAMES",
    "STREETS",
]

FAMILY_NAMES: Final[tuple[tuple[str, float], ...]] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.5),
    ("Trịnh", 0.4),
)
MIDDLE_NAMES_MALE: Final = (
    "Văn", "Đức", "Minh", "Quang", "Hữu", "Gia", "Anh", "Hoàng", "Thành", "Bảo", "Tuấn", "Đăng",
)  # fmt: skip
MIDDLE_NAMES_FEMALE: Final = (
    "Thị", "Ngọc", "Thu", "Phương", "Khánh", "Bảo", "Minh", "Gia", "Thanh", "Hải", "Mai", "Diệu",
)  # fmt: skip
GIVEN_NAMES_MALE: Final = (
    "An", "Bảo", "Dũng", "Duy", "Hải", "Hiếu", "Hoàng", "Huy", "Hùng", "Khang", "Khoa", "Khôi",
    "Kiên", "Long", "Minh", "Nam", "Nghĩa", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thịnh", "Trí",
    "Tuấn", "Việt", "Vinh", "Vũ", "Đạt", "Đức",
)  # fmt: skip
GIVEN_NAMES_FEMALE: Final = (
    "Anh", "Châu", "Chi", "Diệp", "Giang", "Hà", "Hân", "Hằng", "Hoa", "Hương", "Lan", "Linh",
    "Mai", "My", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thư",
    "Trang", "Trâm", "Uyên", "Vy", "Yến", "Ánh",
)  # fmt: skip
ETHNICITIES: Final[tuple[tuple[str, float], ...]] = (
    ("Kinh", 85.0),
    ("Tày", 2.0),
    ("Thái", 2.0),
    ("Mường", 1.5),
    ("Khmer", 1.5),
    ("Hoa", 1.0),
    ("Nùng", 1.0),
    ("H'Mông", 1.5),
    ("Dao", 0.8),
    ("Ê Đê", 0.4),
)
SCHOOL_NAMES: Final = (
    "Kim Đồng", "Lê Văn Tám", "Nguyễn Du", "Trần Quốc Toản", "Võ Thị Sáu", "Chu Văn An",
    "Lê Quý Đôn", "Hòa Bình", "Thăng Long", "Nguyễn Bỉnh Khiêm", "Quang Trung", "Đoàn Thị Điểm",
    "Lý Thường Kiệt", "Phan Chu Trinh", "Nguyễn Trãi", "Hai Bà Trưng", "Bế Văn Đàn", "Ngọc Hồi",
)  # fmt: skip
COMMUNES: Final = (
    "Phường Bến Nghé", "Phường Hàng Bạc", "Xã Tân Phú", "Phường Thạch Thang", "Xã Hòa Bắc",
    "Phường Đông Hòa", "Xã Nghĩa Đô", "Phường Lộc Thọ", "Xã Phú Mỹ", "Phường Trường Thi",
)  # fmt: skip
STREETS: Final = (
    "đường Lê Lợi", "đường Trần Hưng Đạo", "đường Nguyễn Huệ", "đường Hùng Vương",
    "đường Lý Thái Tổ", "đường Điện Biên Phủ", "ngõ Văn Chương", "đường Bạch Đằng",
)  # fmt: skip
#: Comments (nhận xét) by subject level: HOAN_THANH_TOT, HOAN_THANH, CHUA_HOAN_THANH.
COMMENTS_SUBJECT: Final[dict[str, tuple[str, ...]]] = {
    "HOAN_THANH_TOT": (
        "Nắm vững kiến thức, vận dụng tốt vào bài tập.",
        "Hoàn thành tốt nội dung học tập, tích cực phát biểu xây dựng bài.",
        "Tiếp thu nhanh, trình bày sạch đẹp.",
    ),
    "HOAN_THANH": (
        "Hoàn thành nội dung học tập; cần cẩn thận hơn khi làm bài.",
        "Có tiến bộ; cần luyện tập thêm ở nhà.",
        "Nắm được kiến thức cơ bản, cần mạnh dạn phát biểu.",
    ),
    "CHUA_HOAN_THANH": (
        "Chưa hoàn thành một số yêu cầu; cần được hỗ trợ thêm.",
        "Còn chậm, cần gia đình phối hợp kèm cặp thêm.",
    ),
}
COMMENTS_QUALITY: Final = (
    "Chăm ngoan, lễ phép với thầy cô.",
    "Biết giúp đỡ bạn bè, đoàn kết với mọi người.",
    "Tự giác học tập, giữ gìn đồ dùng cẩn thận.",
    "Mạnh dạn, tự tin khi trao đổi với bạn.",
)
