"""A process-wide cache of OCSP responses and CRLs (dữ liệu thu hồi), scoped per signature.

Why not pyhanko's fetchers as they are: a fresh set per signature asks the OCSP responder again
for every signature of every record; one long-lived set would (1) report *every* response it ever
fetched as "fetched", and pyhanko embeds all of those in each document's DSS — thousands of other
teachers' OCSP responses in every record —, (2) remember failures forever and (3) exhaust its
request budget. Here a shared cache keeps successful answers for ``max_age`` seconds only, and each
signature gets fetchers that report just the responses *it* used.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from asn1crypto import crl, ocsp  # type: ignore[import-untyped]
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.crl_client import AIOHttpCRLFetcher
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.ocsp_client import AIOHttpOCSPFetcher
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession
from pyhanko_certvalidator.fetchers.api import CRLFetcher, Fetchers, OCSPFetcher
from pyhanko_certvalidator.util import issuer_serial

__all__ = ["RevocationCache", "ValidationData"]

# x509.Certificate | cms.AttributeCertificateV2; asn1crypto has no types, so Any to mypy.
_Cert = Any


@dataclass(frozen=True)
class ValidationData:
    """What a verifier needs offline for one certificate (PAdES B-LT): DER of the certificates
    of its path, the OCSP responses and CRLs that showed it unrevoked."""

    certs: tuple[bytes, ...]
    ocsps: tuple[bytes, ...]
    crls: tuple[bytes, ...]


@dataclass
class RevocationCache:
    """Successful OCSP/CRL fetches, shared by all signatures of a process for ``max_age`` s."""

    session: aiohttp.ClientSession | LazySession
    max_age_seconds: float = 300.0
    timeout_seconds: float = 10.0
    _ocsp: dict[Any, tuple[float, ocsp.OCSPResponse]] = field(default_factory=dict)
    _crl: dict[Any, tuple[float, list[crl.CertificateList]]] = field(default_factory=dict)
    _validation: dict[Any, tuple[float, ValidationData]] = field(default_factory=dict)

    def fetchers(self) -> Fetchers:
        """Fetchers for one signature or one validation."""
        # certvalidator annotates ClientSession only but accepts its own LazySession too.
        session: Any = self.session
        backend = AIOHttpFetcherBackend(session, per_request_timeout=self.timeout_seconds)
        return Fetchers(
            ocsp_fetcher=_ScopedOcspFetcher(self),
            crl_fetcher=_ScopedCrlFetcher(self),
            cert_fetcher=backend.get_fetchers().cert_fetcher,
        )

    async def validation_data(
        self,
        cert: _Cert,
        intermediates: Iterable[_Cert],
        trust_roots: Iterable[_Cert],
        *,
        extended_usage: frozenset[str] = frozenset(),
    ) -> ValidationData:
        """Validate ``cert`` (path to a trust anchor, revocation hard-fail) and return the data
        that showed it valid, shared for ``max_age`` seconds per certificate and usage.

        Raises pyhanko-certvalidator's errors (revoked, no path, no revocation data); failures
        are not cached, so a revoked certificate is refused on every attempt.
        """
        tag = (cert.sha256, extended_usage)
        cached = self._validation.get(tag)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        fetchers = self.fetchers()
        context = ValidationContext(
            trust_roots=list(trust_roots),
            allow_fetching=True,
            fetchers=fetchers,
            revocation_mode="hard-fail",
        )
        validator = CertificateValidator(
            cert, intermediate_certs=list(intermediates), validation_context=context
        )
        path = await validator.async_validate_usage(set(), set(extended_usage) or None)  # type: ignore[no-untyped-call]  # unannotated
        certs = [c.dump() for c in path.iter_certs(include_root=True)]
        ocsps = [r.dump() for r in fetchers.ocsp_fetcher.fetched_responses()]
        for response in fetchers.ocsp_fetcher.fetched_responses():
            basic = response["response_bytes"]["response"].parsed
            certs.extend(c.dump() for c in basic["certs"] or ())
        crls = [c.dump() for c in fetchers.crl_fetcher.fetched_crls()]
        found = ValidationData(
            tuple(dict.fromkeys(certs)), tuple(dict.fromkeys(ocsps)), tuple(dict.fromkeys(crls))
        )
        self._validation[tag] = (time.monotonic(), found)
        return found

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp <= self.max_age_seconds

    async def ocsp(self, cert: _Cert, authority: Authority) -> tuple[Any, ocsp.OCSPResponse]:
        tag = (issuer_serial(cert), authority.hashable)
        cached = self._ocsp.get(tag)
        if cached is not None and self._fresh(cached[0]):
            return tag, cached[1]
        fetcher = AIOHttpOCSPFetcher(self.session, per_request_timeout=self.timeout_seconds)
        response = await fetcher.fetch(cert, authority)  # raises: failures are not cached
        self._ocsp[tag] = (time.monotonic(), response)
        return tag, response

    async def crls(self, cert: _Cert, use_deltas: bool) -> list[crl.CertificateList]:
        tag = (issuer_serial(cert), use_deltas)
        cached = self._crl.get(tag)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        fetcher = AIOHttpCRLFetcher(self.session, per_request_timeout=self.timeout_seconds)
        result = list(await fetcher.fetch(cert, use_deltas=use_deltas))
        self._crl[tag] = (time.monotonic(), result)
        return result


class _ScopedOcspFetcher(OCSPFetcher):
    def __init__(self, cache: RevocationCache) -> None:
        self._cache = cache
        self._used: dict[Any, ocsp.OCSPResponse] = {}

    async def fetch(self, cert: _Cert, authority: Authority) -> ocsp.OCSPResponse:
        tag, response = await self._cache.ocsp(cert, authority)
        self._used[tag] = response
        return response

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return list(self._used.values())

    def fetched_responses_for_cert(self, cert: _Cert) -> Iterable[ocsp.OCSPResponse]:
        target = issuer_serial(cert)
        return [resp for (subject, _), resp in self._used.items() if subject == target]


class _ScopedCrlFetcher(CRLFetcher):
    def __init__(self, cache: RevocationCache) -> None:
        self._cache = cache
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(
        self, cert: _Cert, *, use_deltas: bool | None = True
    ) -> list[crl.CertificateList]:
        result = await self._cache.crls(cert, bool(use_deltas))
        self._by_cert[issuer_serial(cert)] = result
        return result

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        seen: dict[bytes, crl.CertificateList] = {}
        for crls in self._by_cert.values():
            for item in crls:
                seen[item.dump()] = item
        return list(seen.values())

    def fetched_crls_for_cert(self, cert: _Cert) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]
