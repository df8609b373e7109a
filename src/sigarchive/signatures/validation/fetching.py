"""Fetching revocation data and issuer certificates for validation (pyhanko-certvalidator's
aiohttp fetchers, wrapped).

The wrappers remember *why* a fetch failed — the service did not answer (retry later) or
answered with nothing usable — which pyhanko-certvalidator does not tell apart, turn the
timeouts it lets escape into fetch errors, and share fresh OCSP answers across validations.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import certifi
from asn1crypto import cms, crl, ocsp, x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import (
    CertificateFetchError,
    CRLFetchError,
    CRLValidationError,
    OCSPFetchError,
    OCSPValidationError,
)
from pyhanko_certvalidator.fetchers import CertificateFetcher, CRLFetcher, Fetchers, OCSPFetcher


@dataclass(frozen=True)
class FetchFailure:
    kind: str  # "ocsp" | "crl" | "certificate"
    network: bool  # the service did not answer (vs. answered with something unusable)
    message: str


def describe(cert: x509.Certificate | cms.AttributeCertificateV2) -> str:
    if isinstance(cert, x509.Certificate):
        return str(cert.subject.human_friendly)
    return "an attribute certificate"


def is_network_failure(exc: BaseException) -> bool:
    """Did the service fail to answer at all, rather than answer with something unusable?

    pyhanko-certvalidator's aiohttp fetchers chain the cause: an aiohttp connection or HTTP
    status error, or a timeout, means unreachable; a parse or OCSP status error means the
    service answered. RFC 6960 §2.3 ``tryLater`` is the one answer that means "not now".
    """
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is exc:
        return False  # no cause: fetch budget exhausted, no URL ...
    if isinstance(root, OCSPValidationError | CRLValidationError | ValueError):
        return "try_later" in str(root)
    return True


class _LoggingOCSPFetcher(OCSPFetcher):
    """Delegates to pyhanko's fetcher; records failures, turns escaping timeouts into errors."""

    def __init__(self, inner: OCSPFetcher, failures: list[FetchFailure]) -> None:
        self._inner = inner
        self._failures = failures
        self._from_cache: list[tuple[bytes, ocsp.OCSPResponse]] = []

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, authority: Authority
    ) -> ocsp.OCSPResponse:
        key = cert.sha256 if isinstance(cert, x509.Certificate) else None
        cached = _OCSP_CACHE.get(key) if key is not None else None
        if cached is not None and cached[0] > time.monotonic():
            self._from_cache.append((cached[1].dump(), cached[1]))
            return cached[1]
        try:
            response = await self._inner.fetch(cert, authority)
        except OCSPFetchError as exc:
            self._failures.append(
                FetchFailure("ocsp", is_network_failure(exc), f"{exc} ({describe(cert)})")
            )
            raise
        except OSError as exc:  # TimeoutError from aiohttp's total timeout is not wrapped
            message = f"OCSP request for {describe(cert)} failed: {type(exc).__name__} {exc}"
            self._failures.append(FetchFailure("ocsp", True, message))
            raise OCSPFetchError(message) from exc
        if key is not None:
            _remember_ocsp(key, response)
        return response

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [*self._inner.fetched_responses(), *(r for _, r in self._from_cache)]

    def fetched_responses_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[ocsp.OCSPResponse]:
        return self._inner.fetched_responses_for_cert(cert)


#: OCSP answers shared by the validations of this process, keyed by the certificate's
#: SHA-256: the same TSA and CA certificates recur in every container, and an answer may be
#: reused until its nextUpdate (RFC 6960 §4.2.2.1; RFC 5019 §6 caching), here for at most
#: OCSP_CACHE_SECONDS so revocations still show within minutes.
OCSP_CACHE_SECONDS = 300.0
_OCSP_CACHE_LIMIT = 10_000
_OCSP_CACHE: dict[bytes, tuple[float, ocsp.OCSPResponse]] = {}


def _remember_ocsp(key: bytes, response: ocsp.OCSPResponse) -> None:
    if response["response_status"].native != "successful":
        return
    lifetime = OCSP_CACHE_SECONDS
    try:
        single = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
        next_update = single["next_update"].native
    except (KeyError, IndexError, ValueError, TypeError):
        return
    if next_update is not None:
        lifetime = min(lifetime, (next_update - datetime.now(UTC)).total_seconds())
    if lifetime <= 0:
        return
    if len(_OCSP_CACHE) >= _OCSP_CACHE_LIMIT:
        _OCSP_CACHE.clear()
    _OCSP_CACHE[key] = (time.monotonic() + lifetime, response)


class _LoggingCRLFetcher(CRLFetcher):
    """Delegates to pyhanko's fetcher; records failures, turns escaping timeouts into errors."""

    def __init__(self, inner: CRLFetcher, failures: list[FetchFailure]) -> None:
        self._inner = inner
        self._failures = failures

    async def fetch(
        self,
        cert: x509.Certificate | cms.AttributeCertificateV2,
        *,
        use_deltas: bool | None = None,
    ) -> Iterable[crl.CertificateList]:
        try:
            return await self._inner.fetch(cert, use_deltas=use_deltas)
        except CRLFetchError as exc:
            self._failures.append(
                FetchFailure("crl", is_network_failure(exc), f"{exc} ({describe(cert)})")
            )
            raise
        except OSError as exc:
            message = f"CRL download for {describe(cert)} failed: {type(exc).__name__} {exc}"
            self._failures.append(FetchFailure("crl", True, message))
            raise CRLFetchError(message) from exc

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return self._inner.fetched_crls()

    def fetched_crls_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[crl.CertificateList]:
        return self._inner.fetched_crls_for_cert(cert)


class _LoggingCertificateFetcher(CertificateFetcher):
    """AIA caIssuers fetching; a timeout (which pyhanko does not catch) ends the search."""

    def __init__(self, inner: CertificateFetcher, failures: list[FetchFailure]) -> None:
        self._inner = inner
        self._failures = failures

    async def fetch_cert_issuers(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> AsyncGenerator[x509.Certificate, None]:
        try:
            async for issuer in self._inner.fetch_cert_issuers(cert):
                yield issuer
        except (OSError, CertificateFetchError) as exc:
            message = f"issuer certificate of {describe(cert)} not fetched: {exc!r}"
            self._failures.append(FetchFailure("certificate", True, message))

    async def fetch_crl_issuers(
        self, certificate_list: crl.CertificateList
    ) -> AsyncGenerator[x509.Certificate, None]:
        try:
            async for issuer in self._inner.fetch_crl_issuers(certificate_list):
                yield issuer
        except (OSError, CertificateFetchError) as exc:
            message = f"CRL issuer certificate not fetched: {exc!r}"
            self._failures.append(FetchFailure("certificate", True, message))

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return self._inner.fetched_certs()


def http_session() -> aiohttp.ClientSession:
    """The session OCSP/CRL/AIA fetches use. ``trust_env``: the HTTP(S)_PROXY / NO_PROXY of
    the environment apply, as they do for every other client of the archive (deployments
    behind a proxy; the tests keep every fetch on loopback this way)."""
    context = ssl.create_default_context(cafile=certifi.where())
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), trust_env=True)


def logging_fetchers(fetchers: Fetchers, failures: list[FetchFailure]) -> Fetchers:
    return Fetchers(
        ocsp_fetcher=_LoggingOCSPFetcher(fetchers.ocsp_fetcher, failures),
        crl_fetcher=_LoggingCRLFetcher(fetchers.crl_fetcher, failures),
        cert_fetcher=_LoggingCertificateFetcher(fetchers.cert_fetcher, failures),
    )
