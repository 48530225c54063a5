"""``hocba verify FILE.pdf``: verify the signatures of a record page, offline by default.

Checks every signature (integrity, chain to a trust anchor, revocation from the data embedded in
the PDF, timestamp), the document timestamps (PAdES B-LTA), the school seal's lock and the
embedded hoc-ba.json. Prints a summary in Vietnamese and English, or the full report with --json.

Trust anchors: --trust PEM (repeatable), else the files listed in $HOCBA_TRUST_ROOTS
(separated by ':'). --online also asks the certificates' OCSP/CRL services when the embedded data
leaves a status unknown; a service that does not answer gives "unknown", not "invalid".
--platform also asks the platform's database ($HOCBA_PG_DSN) whether the embedded record is the
current version of its page or was superseded by a correction (the read is audited); an
unreachable database gives "unknown".

Exit status: 0 valid (revocation possibly unknown: see the summary), 1 invalid, 2 usage error
(unreadable file, not a PDF, no trust anchor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.messaging.settings import DEFAULT_PG_DSN
from services.signing.errors import InvalidPdf, SigningError
from services.signing.pades import load_trust_roots
from services.signing.verification import RecordStatus, VerificationReport, verify_pdf
from services.storage.repository import PgRecordStore, ReadAudit

__all__ = ["register", "summary_lines"]

TRUST_ENV = "HOCBA_TRUST_ROOTS"

_STATUS_TEXT: dict[RecordStatus, str] = {
    "current": "hiện hành / current",
    "superseded": "đã được thay bằng bản đính chính / superseded by a correction",
    "unknown": "nền tảng không xác định được / unknown to the platform",
}
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
    if report.record_status is not None:
        lines.append(f"- Phiên bản / Version: {_STATUS_TEXT[report.record_status]}")
    lines.extend(f"! {problem}" for problem in report.problems)
    return lines


def _trust_paths(args: argparse.Namespace) -> list[Path]:
    if args.trust:
        return [Path(p) for p in args.trust]
    env = os.environ.get(TRUST_ENV, "")
    return [Path(p) for p in env.split(":") if p]


def _run(args: argparse.Namespace) -> int:
    source: str = args.file
    paths = _trust_paths(args)
    if not paths:
        print(
            f"hocba verify: no trust anchor: pass --trust PEM or set ${TRUST_ENV}", file=sys.stderr
        )
        return 2
    try:
        roots = load_trust_roots(paths)
        pdf = Path(source).read_bytes()
    except SigningError as exc:
        print(f"hocba verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hocba verify: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_verify(pdf, roots, args))
    except InvalidPdf as exc:
        print(f"hocba verify: {source}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        document: dict[str, Any] = {"source": source, **report.to_json()}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print("\n".join(summary_lines(report, source)))
    return 0 if report.valid else 1


async def _verify(pdf: bytes, roots: Any, args: argparse.Namespace) -> VerificationReport:
    if not args.platform:
        return await verify_pdf(
            pdf, roots, online=args.online, expected_record_sha256=args.record_sha256
        )
    pool = None
    try:
        pool = await asyncpg.create_pool(
            os.environ.get("HOCBA_PG_DSN", DEFAULT_PG_DSN), min_size=1, max_size=1, timeout=5
        )
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"hocba verify: the platform database does not answer ({exc})", file=sys.stderr)
    store = PgRecordStore(pool, ServiceMetrics("verify"), actor="hocba-verify") if pool else None

    async def status(content_sha256: str) -> RecordStatus:
        if store is None:
            return "unknown"
        audit = ReadAudit("hocba-verify", {"purpose": "verify", "via": "cli"})
        return await store.content_status(bytes.fromhex(content_sha256), audit)

    try:
        return await verify_pdf(
            pdf,
            roots,
            online=args.online,
            expected_record_sha256=args.record_sha256,
            status_lookup=status,
        )
    finally:
        if pool is not None:
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
        help=f"trust anchor certificate file (repeatable; default ${TRUST_ENV})",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask OCSP/CRL services when the embedded data leaves a status unknown",
    )
    parser.add_argument(
        "--platform",
        action="store_true",
        help="also ask the platform database whether this version is current or superseded",
    )
    parser.add_argument(
        "--record-sha256",
        metavar="HEX",
        help="SHA-256 printed on the page: compared with the embedded hoc-ba.json",
    )
    parser.set_defaults(handler=_run)
