"""Rules on the year end: result, completion, commendations, disability (domain.md sections 4-5).

Kết quả giáo dục, xét hoàn thành chương trình lớp học (with the CHT workflow),
khen thưởng, học sinh khuyết tật.
"""

from __future__ import annotations

from typing import Final

from services.core.avro_types import CompletionStatus, YearRecord, YearResult
from services.core.classification import PLAN_BASED_MODES
from services.core.curriculum import YEAR_RESULT_NAMES_VI
from services.core.findings import Finding, finding

__all__ = ["check_year_end"]

_AFTER_CHT: Final[frozenset[CompletionStatus]] = frozenset(
    {
        "SUPPLEMENTARY_ASSESSMENT",
        "COMPLETED_AFTER_SUPPLEMENTARY",
        "PRINCIPAL_REVIEW",
        "PROMOTED",
        "REPEATS",
    }
)
_PENDING: Final[frozenset[CompletionStatus]] = frozenset(
    {"SUPPLEMENTARY_ASSESSMENT", "PRINCIPAL_REVIEW"}
)
_PRINCIPAL_DECISIONS: Final[frozenset[CompletionStatus]] = frozenset({"PROMOTED", "REPEATS"})


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _named(result: YearResult) -> str:
    return f"{result} ({YEAR_RESULT_NAMES_VI[result]})"


def _check_completion(record: YearRecord, result: YearResult | None, found: list[Finding]) -> None:
    completion = record["completion"]
    if completion is None:
        found.append(
            finding(
                "E_COMPLETION_MISSING",
                "completion",
                "Thiếu xét hoàn thành chương trình lớp học.",
                "Completion of the grade programme is missing.",
            )
        )
        return
    status = completion["status"]
    supplementary = completion["supplementary_result"]
    if result is not None:
        expected_vi = "COMPLETED" if result != "CHT" else "một bước của quy trình sau CHT"
        fits = status == "COMPLETED" if result != "CHT" else status in _AFTER_CHT
        if not fits:
            found.append(
                finding(
                    "E_COMPLETION_INCONSISTENT",
                    "completion.status",
                    f"Kết quả {_named(result)} không khớp trạng thái {status}; cần {expected_vi}.",
                    f"Result {result} does not fit completion status {status}.",
                )
            )
    if status == "COMPLETED_AFTER_SUPPLEMENTARY":
        if supplementary is None or completion["decided_on"] is None:
            found.append(
                finding(
                    "E_COMPLETION_DECISION_MISSING",
                    "completion.supplementary_result"
                    if supplementary is None
                    else "completion.decided_on",
                    "Hoàn thành sau đánh giá bổ sung cần kết quả và ngày đánh giá bổ sung.",
                    "Completion after the supplementary assessment needs its result and date.",
                )
            )
        elif supplementary == "CHT":
            found.append(
                finding(
                    "E_COMPLETION_INCONSISTENT",
                    "completion.supplementary_result",
                    "Kết quả đánh giá bổ sung là CHT nên chưa thể hoàn thành chương trình.",
                    "The supplementary result is CHT, so the programme is not completed.",
                )
            )
    elif status in _PENDING or status in _PRINCIPAL_DECISIONS:
        if supplementary is not None and supplementary != "CHT":
            found.append(
                finding(
                    "E_COMPLETION_INCONSISTENT",
                    "completion.supplementary_result",
                    f"Kết quả đánh giá bổ sung {_named(supplementary)} là hoàn thành: trạng "
                    "thái phải là COMPLETED_AFTER_SUPPLEMENTARY.",
                    f"Supplementary result {supplementary} completes the grade: the status "
                    "must be COMPLETED_AFTER_SUPPLEMENTARY.",
                )
            )
        if status in _PENDING:
            found.append(
                finding(
                    "W_COMPLETION_PENDING",
                    "completion.status",
                    f"Trạng thái {status}: học bạ chỉ được ký chính thức sau khi có quyết định.",
                    f"Status {status}: the record can be finally signed only after the decision.",
                )
            )
        elif completion["decided_on"] is None or _blank(completion["decided_by"]):
            found.append(
                finding(
                    "E_COMPLETION_DECISION_MISSING",
                    "completion.decided_by"
                    if completion["decided_on"] is not None
                    else "completion.decided_on",
                    "Quyết định của hiệu trưởng cần ngày quyết định và người quyết định.",
                    "The principal's decision needs its date and who decided.",
                )
            )


def _check_commendations(
    record: YearRecord, result: YearResult | None, found: list[Finding]
) -> None:
    declared_excellent = False
    for i, commendation in enumerate(record["commendations"]):
        kind = commendation["kind"]
        path = f"commendations[{i}]"
        if kind == "HOC_SINH_XUAT_SAC":
            declared_excellent = True
            if result is not None and result != "HTXS":
                found.append(
                    finding(
                        "E_COMMENDATION_NOT_EARNED",
                        f"{path}.kind",
                        f"Danh hiệu Học sinh Xuất sắc chỉ dành cho học sinh HTXS; kết quả là "
                        f"{_named(result)}.",
                        f"Học sinh Xuất sắc is only for HTXS; the result is {result}.",
                    )
                )
        elif kind == "HOC_SINH_TIEU_BIEU":
            if result is not None and result != "HTT":
                found.append(
                    finding(
                        "E_COMMENDATION_NOT_EARNED",
                        f"{path}.kind",
                        "Danh hiệu Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện "
                        f"chỉ dành cho học sinh HTT; kết quả là {_named(result)}.",
                        f"Học sinh Tiêu biểu is only for HTT; the result is {result}.",
                    )
                )
            if _blank(commendation["reason"]):
                found.append(
                    finding(
                        "E_COMMENDATION_INCOMPLETE",
                        f"{path}.reason",
                        "Học sinh Tiêu biểu cần nêu môn học có kết quả nổi bật hoặc phẩm chất, "
                        "năng lực có tiến bộ rõ rệt.",
                        "Học sinh Tiêu biểu needs the outstanding subject or the quality or "
                        "competency with remarkable progress.",
                    )
                )
            if commendation["class_recognised"] is not True:
                found.append(
                    finding(
                        "E_COMMENDATION_INCOMPLETE",
                        f"{path}.class_recognised",
                        "Học sinh Tiêu biểu phải được tập thể lớp công nhận.",
                        "Học sinh Tiêu biểu must be recognised by the class.",
                    )
                )
        elif _blank(commendation["title"]):
            found.append(
                finding(
                    "E_COMMENDATION_INCOMPLETE",
                    f"{path}.title",
                    "Khen thưởng đột xuất, cấp trên hoặc khác cần ghi tên khen thưởng.",
                    f"A {kind} commendation needs its title.",
                )
            )
    if result == "HTXS" and not declared_excellent:
        found.append(
            finding(
                "W_COMMENDATION_NOT_DECLARED",
                "commendations",
                "Học sinh HTXS được khen thưởng Học sinh Xuất sắc; hệ thống tự bổ sung.",
                "An HTXS student receives Học sinh Xuất sắc; the platform derives it.",
            )
        )


def check_year_end(
    record: YearRecord,
    computed: YearResult | None,
    effective: YearResult | None,
    found: list[Finding],
) -> None:
    """Append the findings on result, completion, commendations and disability mode.

    ``computed`` is the recomputed year result (None when not applicable); ``effective``
    is the result commendations are judged by (the supplementary result when configured).
    """
    disability = record["disability"]
    plan_based = disability["mode"] in PLAN_BASED_MODES
    if plan_based and _blank(disability["plan_reference"]):
        found.append(
            finding(
                "E_DISABILITY_PLAN_MISSING",
                "disability.plan_reference",
                "Đánh giá theo kế hoạch giáo dục cá nhân cần ghi số hiệu kế hoạch.",
                "Assessment against an individual education plan needs the plan's reference.",
            )
        )
    declared = record["declared_result"]
    if declared is not None:
        if computed is None:
            found.append(
                finding(
                    "W_RESULT_NOT_APPLICABLE",
                    "declared_result",
                    f"Học sinh được đánh giá theo kế hoạch giáo dục cá nhân: kết quả {declared} "
                    "được giữ nguyên, không kiểm tra.",
                    f"The student is assessed against an individual plan: {declared} is kept "
                    "unchecked.",
                )
            )
        elif declared != computed:
            found.append(
                finding(
                    "E_RESULT_MISMATCH",
                    "declared_result",
                    f"Kết quả giáo dục gửi lên là {_named(declared)}, nhưng theo Thông tư 27 "
                    f"kết quả là {_named(computed)}.",
                    f"Declared result {declared} differs from the recomputed result {computed}.",
                )
            )
    _check_completion(record, computed, found)
    _check_commendations(record, effective, found)
