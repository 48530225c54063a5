"""The signing stage: validated records and signature approvals in, signed records out.

Per student-year page, a ``SigningState`` entry on the compacted changelog
``hocba.signing.state`` (committed in the same Kafka transaction as the outputs):

1. a validated record version is rendered to its page (``services.core.record_page``)
   with its record identifier, lookup code and version, and waits for signatures; a
   newer validated version replaces a page not yet issued (signing starts over);
   a new content for a page already issued (version n) is a correction (đính chính):
   it becomes version n+1, superseding n with the reason printed, only when validation
   carries a RecordCorrection the page has not used yet; otherwise nothing is rendered
   and the change is refused to the vendor (``E_CORRECTION_REASON_REQUIRED``);
2. an approval (``SignatureApproval`` event, read from ``hocba.events.accepted`` by its
   ``hocba-payload`` header) is checked by ``services.core.signing_flow``; if sound, the
   page is signed with the approving signer's key (PAdES B-T with validation data);
   after the principal, the school's seal is applied, then a document timestamp (B-LTA),
   and the ``SignedRecord`` is published; the effective date is the seal's timestamp;
3. refused approvals go back to the vendor on ``hocba.events.rejected`` (stage SIGNING).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from services.core.findings import Finding, finding
from services.core.lookup_code import new_lookup_code
from services.core.record_page import SIGNATURE_FIELDS, PageFonts, PageIdentity, render_year_page
from services.core.signing_flow import Approval, check_approval, record_id_for, seal_follows
from services.messaging.codec import AvroCodec, Decoded, DecodeFailure
from services.messaging.jsonform import canonical_json
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.refusals import refused_event
from services.messaging.state import StateBatch, StateCorruptedError
from services.messaging.topics import HEADER_PAYLOAD
from services.signing.facts import SignatureFacts
from services.signing.registry import SignerRegistry
from services.signing.settings import SigningSettings

__all__ = ["PageSigner", "SigningFailedError", "SigningHandler"]

_log = logging.getLogger("hocba.signing")

ACCEPTED = "vn.edu.hocba.AcceptedEvent"
VALIDATED = "vn.edu.hocba.ValidatedRecord"
SIGNED = "vn.edu.hocba.SignedRecord"
STATE = "vn.edu.hocba.SigningState"
YEAR_RECORD = "vn.edu.hocba.YearRecord"
APPROVAL = b"vn.edu.hocba.SignatureApproval"

_Slot = tuple[int, bytes]


class SigningFailedError(RuntimeError):
    """A signature could not be made (key store, TSA, revocation data, certificate)."""


class PageSigner(Protocol):
    """The crypto behind a port: both raise :class:`SigningFailedError`, nothing else."""

    async def sign(
        self, pdf: bytes, field_name: str, signer_id: str, reason: str
    ) -> tuple[bytes, SignatureFacts]:
        """Sign one empty field of the page with a registered signer's key (PAdES B-LT);
        the signed PDF and what its new signature says (read back from the PDF)."""
        ...

    async def archive(self, pdf: bytes) -> bytes:
        """Add the document timestamp that keeps the page verifiable for decades (B-LTA)."""
        ...


@dataclass
class SigningHandler:
    """``async (batch, state) -> outputs`` for the TransactionalPipeline."""

    settings: SigningSettings
    codec: AvroCodec
    metrics: ServiceMetrics
    registry: SignerRegistry
    signer: PageSigner
    fonts: PageFonts
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    _pages: Counter = field(init=False)
    _seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        registry = self.metrics.registry
        self._pages = Counter(
            "hocba_signing_pages_total",
            "Year pages by step: rendered, signed (one signature), issued (sealed, published).",
            ["service", "step"],
            registry=registry,
        )
        self._seconds = Histogram(
            "hocba_signing_seconds",
            "Time to render a page or to make one signature, by step.",
            ["service", "step"],
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def __call__(self, batch: Sequence[Incoming], state: StateBatch | None) -> list[Outgoing]:
        assert state is not None, "signing is a stateful stage"
        pages: dict[_Slot, dict[str, Any]] = {}
        changed: set[_Slot] = set()
        outputs: list[Outgoing] = []
        # Records before approvals: an approval fetched with its record in one batch finds
        # the page (the two travel different paths here and may arrive in either order).
        approvals: dict[_Slot, list[Incoming]] = {}
        for message in batch:
            if message.topic == self.settings.validated_topic:
                outputs += self._on_validated(message, state, pages, changed)
            elif dict(message.headers).get(HEADER_PAYLOAD) == APPROVAL:
                approvals.setdefault((message.partition, message.key or b""), []).append(message)
        # One page's approvals in order; different pages at once (a signature mostly waits for
        # the TSA), at most ``concurrency`` pages at a time.
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def carry_out(messages: list[Incoming]) -> list[Outgoing]:
            async with limit:
                done: list[Outgoing] = []
                for message in messages:
                    done += await self._on_approval(message, state, pages, changed)
                return done

        # A failure cancels the other pages' work: the batch's transaction aborts as a whole.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(carry_out(m)) for m in approvals.values()]
        for task in tasks:
            outputs += task.result()
        for slot in changed:
            pages[slot]["updated_at"] = self.clock()
            state.put(*slot, self.codec.encode(STATE, pages[slot]))
        return outputs

    def _read(self, raw: bytes, expected: str) -> dict[str, Any] | None:
        """Decode a consumed message; one that does not decode is counted, logged, skipped.

        Both inputs are the platform's own topics (written by validation and ingestion),
        so there is no vendor to answer: the code goes to metrics and the log.
        """
        decoded = self.codec.decode(raw, expected=expected)
        if isinstance(decoded, DecodeFailure):
            self.metrics.reject(decoded.code, None)
            _log.error("undecodable message", extra={"code": decoded.code, "expected": expected})
            return None
        return decoded.value

    # -- validated records -------------------------------------------------------------

    def _on_validated(
        self,
        message: Incoming,
        state: StateBatch,
        pages: dict[_Slot, dict[str, Any]],
        changed: set[_Slot],
    ) -> list[Outgoing]:
        raw = message.value or b""
        validated = self._read(raw, VALIDATED)
        if validated is None:
            return []
        key = validated["record_key"].encode()
        slot = (message.partition, key)
        page = self._page(state, pages, slot, validated)
        record_json = canonical_json(self.codec.registry.current(YEAR_RECORD), validated["record"])
        digest = hashlib.sha256(record_json).hexdigest()
        if page["issued_record_sha256"] == digest or self._waiting(page, digest, validated):
            return []  # delivered again: already issued or already waiting
        issued = page["issued_version"]
        correction = validated.get("correction_event_id")
        if issued and (correction is None or correction == page["issued_correction_event_id"]):
            # A signed page is never edited: without a correction of its own, the change
            # waits in validation's log until the vendor sends one.
            return [self._correction_required(validated, issued)]
        version = issued + 1
        started = time.perf_counter()
        pdf = render_year_page(
            validated,
            PageIdentity(
                record_id=page["record_id"],
                version=version,
                lookup_code=page["lookup_code"],
                verify_url=self.settings.verify_url(page["lookup_code"]),
                supersedes_version=issued or None,
                correction_reason=_reason(validated) if issued else None,
            ),
            record_json,
            self.fonts,
        )
        self._observe("render", started)
        page["pending"] = {
            "version": version,
            "validated": raw,
            "record_sha256": digest,
            "pdf": pdf,
            "signatures": [],
            "approval_event_ids": [],
        }
        changed.add(slot)
        self._pages.labels(self.metrics.service, "rendered").inc()
        return []

    def _waiting(self, page: dict[str, Any], digest: str, validated: dict[str, Any]) -> bool:
        """Whether this content already waits for signatures, for the same correction.

        A correction sent again with another reason for the same content re-renders the
        pending page (its reason is printed on it), before the first issue nothing does.
        """
        pending = page["pending"]
        if pending is None or pending["record_sha256"] != digest:
            return False
        if not page["issued_version"]:
            return True
        waiting = self.codec.decode(pending["validated"], expected=VALIDATED)
        if not isinstance(waiting, Decoded):
            raise StateCorruptedError(f"the pending record of {page['record_key']} is unreadable")
        return waiting.value.get("correction_event_id") == validated.get("correction_event_id")

    def _correction_required(self, validated: dict[str, Any], issued: int) -> Outgoing:
        """The refusal of a change to an issued page, naming the event that made the change."""
        record = validated["record"]
        source = validated["source_event_ids"]
        event = {
            "event_id": source[-1] if source else None,
            "vendor_id": validated["vendor_id"],
            "school_code": record["school"]["school_code"],
            "student_id": record["student"]["student_id"],
            "school_year": record["school_year"],
        }
        required = finding(
            "E_CORRECTION_REASON_REQUIRED",
            "payload",
            f"Học bạ năm học {record['school_year']} đã được ký và phát hành (phiên bản "
            f"{issued}): học bạ đã ký không được sửa. Gửi sự kiện RecordCorrection kèm lý do "
            f"đính chính; khi đó thay đổi này trở thành phiên bản {issued + 1}.",
            f"The {record['school_year']} page is signed and issued (version {issued}): a "
            "signed page is never edited. Send a RecordCorrection event with the reason for "
            f"the correction; this change then becomes version {issued + 1}.",
        )
        return self._refused(event, [required])

    def _page(
        self,
        state: StateBatch,
        pages: dict[_Slot, dict[str, Any]],
        slot: _Slot,
        validated: dict[str, Any],
    ) -> dict[str, Any]:
        page = pages.get(slot) or state.decoded(*slot, self.codec, STATE)
        if page is None:
            record = validated["record"]
            page = {
                "record_key": validated["record_key"],
                "record_id": record_id_for(
                    record["student"]["student_id"], self.settings.record_id_key
                ),
                "lookup_code": new_lookup_code(),
                "issued_version": 0,
                "issued_record_sha256": None,
                "issued_correction_event_id": None,
                "pending": None,
                "updated_at": self.clock(),
            }
        pages[slot] = page
        return page

    # -- approvals ---------------------------------------------------------------------

    async def _on_approval(
        self,
        message: Incoming,
        state: StateBatch,
        pages: dict[_Slot, dict[str, Any]],
        changed: set[_Slot],
    ) -> list[Outgoing]:
        accepted = self._read(message.value or b"", ACCEPTED)
        if accepted is None:
            return []
        event = accepted["event"]
        _, payload = event["payload"]
        key = message.key or b""
        slot = (message.partition, key)
        page = pages.get(slot) or state.decoded(*slot, self.codec, STATE)
        if page is not None:
            pages[slot] = page
        pending = page["pending"] if page is not None else None
        if pending is not None and event["event_id"] in pending["approval_event_ids"]:
            return []  # this approval was carried out already
        approval = Approval(
            event_id=event["event_id"],
            school_code=event["school_code"],
            role=payload["role"],
            signer_id=payload["signer_id"],
            version=payload["version"],
            record_sha256=payload.get("record_sha256"),
        )
        signed_roles = [s["role"] for s in pending["signatures"]] if pending else []
        findings = check_approval(
            approval,
            pending_version=pending["version"] if pending else None,
            pending_record_sha256=pending["record_sha256"] if pending else None,
            signed_roles=signed_roles,
            signer=self.registry.signer(approval.signer_id, approval.school_code),
        )
        if findings:
            return [self._refused(event, findings)]
        assert page is not None and pending is not None
        # Signed on a copy: a failure half-way (the seal after the principal) keeps the page
        # exactly as it was, and the approval can be sent again.
        working = {**pending, "signatures": list(pending["signatures"])}
        try:
            issued = await self._carry_out(page, working, approval, event)
        except SigningFailedError as exc:
            _log.error("signing failed", extra={"event_id": event["event_id"], "error": str(exc)})
            failed = finding(
                "E_SIGNING_FAILED",
                "payload.SignatureApproval",
                f"Không ký được: {exc}",
                f"Could not sign: {exc}",
            )
            return [self._refused(event, [failed])]
        if page["pending"] is pending:  # not issued: keep the signatures made so far
            page["pending"] = working
        changed.add(slot)
        return issued

    async def _carry_out(
        self,
        page: dict[str, Any],
        pending: dict[str, Any],
        approval: Approval,
        event: dict[str, Any],
    ) -> list[Outgoing]:
        """Sign for the approval (and seal after the principal); the SignedRecord when issued."""
        pdf = await self._sign(pending, approval.role, approval.signer_id)
        pending["approval_event_ids"] = [*pending["approval_event_ids"], approval.event_id]
        if not seal_follows([s["role"] for s in pending["signatures"]]):
            return []
        seal = self.registry.seal_of(approval.school_code)
        if seal is None:
            raise SigningFailedError(f"no SCHOOL_SEAL signer registered for {approval.school_code}")
        pdf = await self._sign(pending, "SCHOOL_SEAL", seal.signer.signer_id)
        started = time.perf_counter()
        pdf = await self.signer.archive(pdf)
        self._observe("archive", started)
        return [self._issue(page, pending, pdf, event)]

    async def _sign(self, pending: dict[str, Any], role: str, signer_id: str) -> bytes:
        field_name = SIGNATURE_FIELDS[role]
        started = time.perf_counter()
        pdf, facts = await self.signer.sign(pending["pdf"], field_name, signer_id, _REASONS[role])
        self._observe(role.lower(), started)
        pending["pdf"] = pdf
        pending["signatures"] = [
            *pending["signatures"],
            {
                "role": role,
                "signer_name": facts.signer_name,
                "certificate_sha256": facts.certificate_sha256,
                "signed_at": facts.timestamped_at,
            },
        ]
        self._pages.labels(self.metrics.service, "signed").inc()
        return pdf

    def _issue(
        self, page: dict[str, Any], pending: dict[str, Any], pdf: bytes, event: dict[str, Any]
    ) -> Outgoing:
        decoded = self.codec.decode(pending["validated"], expected=VALIDATED)
        if not isinstance(decoded, Decoded):
            raise StateCorruptedError(f"the pending record of {page['record_key']} is unreadable")
        validated = decoded.value
        correction = validated.get("correction_event_id")
        signed = {
            "record_id": page["record_id"],
            "version": pending["version"],
            "lookup_code": page["lookup_code"],
            "record_key": page["record_key"],
            "vendor_id": validated["vendor_id"],
            "record": validated["record"],
            "computed_result": validated["computed_result"],
            "pdf": pdf,
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
            "record_sha256": pending["record_sha256"],
            "signatures": pending["signatures"],
            "effective_at": pending["signatures"][-1]["signed_at"],
            "supersedes_version": page["issued_version"] or None,
            "correction_reason": _reason(validated) if page["issued_version"] else None,
            "rule_set_version": validated["rule_set_version"],
        }
        page["issued_version"] = pending["version"]
        page["issued_record_sha256"] = pending["record_sha256"]
        # Used up, on version 1 too (where it is not printed): a later change needs another.
        page["issued_correction_event_id"] = correction
        page["pending"] = None
        self._pages.labels(self.metrics.service, "issued").inc()
        return Outgoing(
            self.settings.signed_topic,
            self.codec.encode(SIGNED, signed),
            key=page["record_key"].encode(),
        )

    def _refused(self, event: dict[str, Any], findings: Sequence[Finding]) -> Outgoing:
        return refused_event(
            event,
            findings,
            stage="SIGNING",
            topic=self.settings.rejected_topic,
            codec=self.codec,
            metrics=self.metrics,
            at=self.clock(),
        )

    def _observe(self, step: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._seconds.labels(self.metrics.service, step).observe(elapsed)


def _reason(validated: dict[str, Any]) -> str | None:
    """The correction's reason as printed (ingestion refuses a blank one; None if so)."""
    return (validated.get("correction_reason") or "").strip() or None


_REASONS = {
    "HOMEROOM_TEACHER": "Giáo viên chủ nhiệm xác nhận kết quả học tập, rèn luyện năm học",
    "PRINCIPAL": "Hiệu trưởng xác nhận học bạ",
    "SCHOOL_SEAL": "Đóng dấu nhà trường: học bạ số có hiệu lực",
}
