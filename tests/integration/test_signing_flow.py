"""The signing stage's handler with real keys, a real TSA/OCSP/CRL (dev PKI over loopback).

A validated record becomes a page; the teacher's then the principal's approval sign it and
the seal follows; the published SignedRecord carries a PDF that verifies (three signatures,
B-LTA, lock holding, embedded record matching) and facts that match the PDF. Wrong
approvals are refused with their codes and change nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.cli.demo import approval_events
from services.cli.devsigning import dev_signing
from services.core.outcome import outcome_message
from services.core.record import year_record_from_avro
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming
from services.messaging.state import ChangelogState
from services.signing.app import load_fonts
from services.signing.handlers import SigningHandler
from services.signing.page_signer import PadesPageSigner
from services.signing.registry import load_registry
from services.signing.settings import SigningSettings
from services.verification import load_trust_roots, verify_pdf
from tests.ports import free_port
from tests.stage_messages import accepted, decode, run_batch

pytestmark = pytest.mark.integration

CODEC = default_codec()
NOW = dt.datetime(2025, 5, 25, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def signing_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    # A port of its own: the e2e tests may be serving the default one in this session.
    with dev_signing(tmp_path_factory.mktemp("state"), {}, port=free_port()) as env:
        yield env


@pytest.fixture
async def handler(
    signing_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SigningHandler]:
    for name, value in signing_env.items():
        monkeypatch.setenv(name, value)
    settings = SigningSettings.from_env()
    registry = load_registry(settings.signers_file)
    metrics = ServiceMetrics("signing-test")
    signer = PadesPageSigner(registry, metrics)
    await signer.open()
    try:
        yield SigningHandler(
            settings, CODEC, metrics, registry, signer, load_fonts(settings), lambda: NOW
        )
    finally:
        await signer.close()


def validated_message(seed: int = 5) -> tuple[Incoming, dict[str, Any]]:
    settings = GeneratorSettings(schools=1, students_per_class=1, grades=(3,))
    generated = next(g for g in generate_school_year(settings, seed=seed) if not g.expected_codes)
    record = year_record_from_avro(generated.record)
    name, datum = outcome_message(
        record,
        validate_year_record(record),
        vendor_id="vnedu",
        validated_at=NOW,
        source_event_ids=["e1"],
    )
    key = datum["record_key"].encode()
    value = CODEC.encode(name, dict(datum))
    return Incoming("hocba.records.validated", 3, 0, key, value, 0), dict(datum)


def approvals(key: str, **changes: Any) -> list[Incoming]:
    messages = []
    for offset, event in enumerate(approval_events("vnedu", key)):
        _, payload = event["payload"]
        payload.update(changes)
        messages.append(accepted(event, NOW, partition=3, offset=offset))
    return messages


async def test_a_record_is_signed_by_teacher_principal_and_seal_and_verifies(
    handler: SigningHandler, signing_env: dict[str, str]
) -> None:
    state = ChangelogState("signing-state")
    message, datum = validated_message()
    assert await run_batch(handler, state, [message]) == []  # rendered, waiting for signatures
    outputs = await run_batch(handler, state, approvals(datum["record_key"]))
    assert [o.topic for o in outputs] == ["hocba.records.signed"]
    signed = decode(outputs[0])
    assert [s["role"] for s in signed["signatures"]] == [
        "HOMEROOM_TEACHER",
        "PRINCIPAL",
        "SCHOOL_SEAL",
    ]
    assert signed["version"] == 1 and signed["supersedes_version"] is None
    assert signed["effective_at"] == signed["signatures"][-1]["signed_at"]
    assert signed["pdf_sha256"] == hashlib.sha256(signed["pdf"]).hexdigest()
    registry = load_registry(Path(signing_env["HOCBA_SIGNERS_FILE"]))
    report = await verify_pdf(
        signed["pdf"],
        load_trust_roots(registry.trust_roots),
        online=False,
        expected_record_sha256=signed["record_sha256"],
    )
    assert report.valid, report.problems
    assert report.level == "B-LTA"
    assert report.seal_lock_holds is True
    assert report.embedded_file is not None and report.embedded_file.matches
    assert _signatures(handler, "signed") == 3
    # The same record delivered again is not a new version, and nothing waits any more.
    assert await run_batch(handler, state, [message]) == []
    late = await run_batch(handler, state, approvals(datum["record_key"]))
    codes = [f["code"] for o in late for f in decode(o)["findings"]]
    assert codes == ["E_APPROVAL_NO_PENDING_RECORD"] * 2


async def test_wrong_approvals_are_refused_and_change_nothing(handler: SigningHandler) -> None:
    state = ChangelogState("signing-state")
    message, datum = validated_message(seed=8)
    key = datum["record_key"]
    await run_batch(handler, state, [message])
    teacher, principal = approvals(key)
    refused = await run_batch(handler, state, [principal])
    assert [f["code"] for f in decode(refused[0])["findings"]] == ["E_APPROVAL_OUT_OF_ORDER"]
    wrong_version = approvals(key, version=2)[0]
    refused = await run_batch(handler, state, [wrong_version])
    assert [f["code"] for f in decode(refused[0])["findings"]] == ["E_APPROVAL_VERSION_MISMATCH"]
    stranger = approvals(key, signer_id="nobody")[0]
    refused = await run_batch(handler, state, [stranger])
    assert [f["code"] for f in decode(refused[0])["findings"]] == ["E_SIGNER_NOT_REGISTERED"]
    revoked = approvals(key, signer_id="dev-gvcn-thu-hoi")[0]
    refused = await run_batch(handler, state, [revoked])
    assert decode(refused[0])["stage"] == "SIGNING"
    assert [f["code"] for f in decode(refused[0])["findings"]] == ["E_SIGNING_FAILED"]
    assert _signatures(handler, "failed") == 1
    # Still waiting for the teacher: the right approvals now go through.
    outputs = await run_batch(handler, state, [teacher, principal])
    assert [o.topic for o in outputs] == ["hocba.records.signed"]


def _signatures(handler: SigningHandler, outcome: str) -> float:
    """Signatures counted by key store kind and outcome (the dev registry uses PKCS#12)."""
    labels = {"service": "signing-test", "backend": "pkcs12", "outcome": outcome}
    value = handler.metrics.registry.get_sample_value(
        "hocba_signing_signature_seconds_count", labels
    )
    return value or 0.0
