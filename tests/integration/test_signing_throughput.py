"""Signing throughput guard: 3 signatures + archive timestamp per record, RSA-2048, one core.

Measured on the 2-core dev machine (dev TSA/OCSP served in the same process): ≈ 36–50 ms per
signature, ≈ 40 ms per archive timestamp, ≈ 180 ms per record. The bound below is 5x that, so it
catches a lost optimisation (key re-parsing, font subsetting, per-signature OCSP requests, the
40 ms Nagle stall) without failing on a busy machine. Run with -s to see the figures.
"""

from __future__ import annotations

import statistics
import time

import pytest

from services.signing.backends import LoadedKeySigner
from services.signing.pades import SigningServices, add_archive_timestamp, sign_field
from tests.integration import test_signing_pades as _pades
from tests.unit.test_signing_fixtures import ROLE_TEXT, make_year_page_pdf

pytestmark = pytest.mark.integration

dev_pki = _pades.dev_pki
pki_services = _pades.pki_services
services = _pades.services
role_signers = _pades.role_signers

RECORDS = 6
MAX_RECORD_SECONDS = 1.0


async def test_a_record_is_signed_in_well_under_a_second(
    services: SigningServices, role_signers: dict[str, LoadedKeySigner]
) -> None:
    page = make_year_page_pdf()
    per_record: list[float] = []
    for _ in range(RECORDS):
        start = time.perf_counter()
        pdf = page
        for role in _pades.ROLES:
            pdf = await sign_field(
                pdf, role, role_signers[role], services, reason="x", appearance_text=ROLE_TEXT[role]
            )
        await add_archive_timestamp(pdf, services)
        per_record.append(time.perf_counter() - start)
    steady = statistics.median(per_record[1:])  # the first record warms caches up
    print(f"\nsigning: median {steady * 1000:.0f} ms per record (3 signatures + archive timestamp)")
    assert steady < MAX_RECORD_SECONDS
