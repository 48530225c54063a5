"""``hocba verify FILE.pdf``: verify the signatures of a record page, offline by default.

Checks every signature (integrity, chain to a trust anchor, revocation from the data embedded in
the PDF, timestamp), the document timestamps (PAdES B-LTA), the school seal's lock and the
embedded hoc-ba.json. Prints a summary in Vietnamese and English, or the full report with --json.

Trust anchors: --trust PEM (repeatable), else the files listed in $HOCBA_TRUST_ROOTS
(separated by ':'), else the development PKI's root when `hocba run`/`hocba demo` built it
($HOCBA_STATE_DIR/pki, by default .state/pki). --platform asks the platform's database
($HOCBA_PG_DSN) what it holds of this file, as POST /v1/verify answers: the current version of
its page, or superseded (by which version, when, why), or unknown; the PDF is matched by its own
SHA-256, else by its embedded record's, and the read is audited. --online does both: it also
asks the certificates' OCSP/CRL services when the embedded data leaves a status unknown. A
service or database that does not answer gives "unknown", never "invalid".

Exit status: 0 valid (revocation possibly unknown: see the summary), 1 invalid, 2 usage error
(unreadable file, not a PDF, no trust anchor).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.messaging.settings import DEFAULT_PG_DSN
from services.storage.errors import StorageError
from services.storage.standing import PgStanding, PlatformView, VerifyAudit, unavailable_view
from services.verification import (
    TRUST_ROOTS_ENV,
    InvalidPdf,
    VerificationError,
    VerificationReport,
    load_trust_roots,
    trust_root_paths,
    verify_pdf,
)

__all__ = ["platform_lines", "register", "summary_lines"]

_ACTOR = "hocba-verify"
_REVOCATION_VI = {"good": "còn hiệu lực", "revoked": "ĐÃ BỊ THU HỒI", "unknown": "chưa xác định"}


def _yes(flag: bool) -> str:
    return "có / yes" if flag else "KHÔNG / NO"


def summary_lines(report: VerificationReport, source: str) -> list[str]:
    """The human summary, one statement a line, Vietnamese then English."""
    verdict = "HỢP LỆ / VALID" if report.valid else "KHÔNG HỢP LỆ / INVALID"
    lines = [f"{source}: {verdict} (PAdES {report.level})"]
    if report.valid and not report.complete:
        lines.append(
            "  Lưu ý: chưa xác định được tình trạng thu hồi của một số chứng thư / "
            "Note: revocation status unknown for some certificates"
        )
    for sig in report.signatures:
        lines.append(f"- Chữ ký / Signature '{sig.field_name}': {sig.signer_name}")
        lines.append(f"    Chứng thư / Certificate SHA-256: {sig.certificate_sha256}")
        lines.append(f"    Toàn vẹn / Intact: {_yes(sig.intact)}")
        anchor = sig.trust_anchor or "KHÔNG / NONE"
        lines.append(f"    Gốc tin cậy / Trust anchor: {anchor}")
        source_text = f" ({sig.revocation_source})" if sig.revocation_source else ""
        lines.append(
            f"    Thu hồi / Revocation: {_REVOCATION_VI[sig.revocation]} / {sig.revocation}"
            f"{source_text}"
        )
        if sig.timestamp is not None:
            lines.append(
                f"    Dấu thời gian / Timestamp: {sig.timestamp.time.isoformat()} "
                f"({sig.timestamp.authority}, trusted: {sig.timestamp.trusted})"
            )
        else:
            lines.append("    Dấu thời gian / Timestamp: KHÔNG CÓ / NONE")
        lines.append(
            f"    Phạm vi / Coverage: {sig.coverage}, sửa đổi sau ký / later changes: "
            f"{sig.modification_level or '-'}, trong giới hạn khoá / within lock: "
            f"{_yes(sig.lock_holds)}"
        )
        lines.extend(f"    ! {problem}" for problem in sig.problems)
    for ts in report.document_timestamps:
        lines.append(
            f"- Dấu thời gian lưu trữ / Archive timestamp '{ts.field_name}': "
            f"{ts.timestamp.time.isoformat()} ({ts.timestamp.authority}), hợp lệ / valid: "
            f"{_yes(ts.valid)}"
        )
    if report.seal_lock_holds is not None:
        lines.append(
            f"- Khoá của con dấu còn nguyên / Seal lock holds: {_yes(report.seal_lock_holds)}"
        )
    if report.embedded_file is not None:
        ef = report.embedded_file
        match = "" if ef.matches is None else f", khớp / matches: {_yes(ef.matches)}"
        lines.append(f"- Tệp đính kèm / Embedded {ef.name} SHA-256: {ef.sha256}{match}")
    lines.extend(f"! {problem}" for problem in report.problems)
    return lines


def platform_lines(view: PlatformView) -> list[str]:
    """What the platform holds of the file (as POST /v1/verify's ``platform``), vi / en."""
    if view.status == "unknown":
        return [f"- Trên nền tảng / On the platform: {view.reason_vi} / {view.reason_en}"]
    page = f"{view.record_id}, {view.school_year}, v{view.version}"
    if view.status == "current":
        lines = [
            f"- Trên nền tảng / On the platform: phiên bản hiện hành / current version ({page})"
        ]
    else:
        lines = [
            f"- Trên nền tảng / On the platform: ĐÃ ĐƯỢC THAY THẾ / SUPERSEDED ({page}; "
            f"hiện hành / current: v{view.current_version})"
        ]
        by = view.superseded_by
        if by is not None:
            when = by.effective_at.date().isoformat() if by.effective_at else "?"
            why = by.correction_reason or "-"
            lines.append(
                f"    bởi phiên bản / by version {by.version}, hiệu lực / effective {when}, "
                f"lý do / reason: {why}"
            )
    if view.pdf_matches_stored is False:
        lines.append(
            "    ! Tệp khác với tệp nền tảng đã cấp (chỉ học bạ đính kèm khớp) / the file differs "
            "from the one issued (only its embedded record matches)"
        )
    return lines


def _trust_paths(args: argparse.Namespace) -> list[Path]:
    if args.trust:
        return [Path(p) for p in args.trust]
    return list(trust_root_paths())


def _run(args: argparse.Namespace) -> int:
    source: str = args.file
    paths = _trust_paths(args)
    if not paths:
        print(
            f"hocba verify: no trust anchor: pass --trust PEM or set ${TRUST_ROOTS_ENV}",
            file=sys.stderr,
        )
        return 2
    try:
        roots = load_trust_roots(paths)
        pdf = Path(source).read_bytes()
    except VerificationError as exc:
        print(f"hocba verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hocba verify: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            verify_pdf(pdf, roots, online=args.online, expected_record_sha256=args.record_sha256)
        )
    except InvalidPdf as exc:
        print(f"hocba verify: {source}: {exc}", file=sys.stderr)
        return 2
    platform = asyncio.run(platform_view_of(pdf, report)) if args.platform or args.online else None
    if args.json:
        document: dict[str, Any] = {"source": source, **report.to_json()}
        if platform is not None:
            document["platform"] = platform.as_json()
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        lines = summary_lines(report, source)
        if platform is not None:
            lines.extend(platform_lines(platform))
        print("\n".join(lines))
    return 0 if report.valid else 1


async def platform_view_of(pdf: bytes, report: VerificationReport) -> PlatformView:
    """The platform's view of ``pdf`` from its database, as storage answers it (audited)."""
    try:
        pool = await asyncpg.create_pool(
            os.environ.get("HOCBA_PG_DSN", DEFAULT_PG_DSN), min_size=1, max_size=1, timeout=5
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"hocba verify: the platform database does not answer ({exc})", file=sys.stderr)
        return unavailable_view()
    embedded = report.embedded_file
    audit = VerifyAudit(
        _ACTOR, None, {"channel": "cli", "report_valid": report.valid, "level": report.level}
    )
    try:
        return await PgStanding(pool, ServiceMetrics("verify")).standing(
            hashlib.sha256(pdf).digest(),
            None if embedded is None else bytes.fromhex(embedded.sha256),
            audit,
        )
    except StorageError as exc:
        print(f"hocba verify: the platform database does not answer ({exc})", file=sys.stderr)
        return unavailable_view()
    finally:
        await pool.close()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify the signatures of a signed record page (PDF), offline by default",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE.pdf", help="the signed record page")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument(
        "--trust",
        action="append",
        metavar="PEM",
        help=f"trust anchor certificate file (repeatable; default ${TRUST_ROOTS_ENV}, else the "
        "dev PKI's root)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask OCSP/CRL services when the embedded data leaves a status unknown, and "
        "the platform database (as --platform)",
    )
    parser.add_argument(
        "--platform",
        action="store_true",
        help="also ask the platform database whether this file is the current version of its "
        "page, or superseded (by which version, when, why)",
    )
    parser.add_argument(
        "--record-sha256",
        metavar="HEX",
        help="SHA-256 printed on the page: compared with the embedded hoc-ba.json",
    )
    parser.set_defaults(handler=_run)
