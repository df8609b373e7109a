"""RFC 3161 over HTTP (§3.4): the one module of the signature core that does network I/O.

:class:`HttpTimeStamper` implements :class:`~sigarchive.signatures.timestamps.TimeStamper`
against a list of TSAs, with failover and retries with exponential back-off.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import httpx

from sigarchive.signatures.timestamps import TsaRejected, TsaUnavailable
from sigarchive.signatures.timestamps.protocol import (
    MAX_RESPONSE_SIZE,
    TIMESTAMP_QUERY,
    TIMESTAMP_REPLY,
    TsaFailure,
    build_request,
    check_response,
    new_nonce,
)

log = logging.getLogger(__name__)


class HttpTimeStamper:
    """RFC 3161 over HTTP (§3.4) with failover across ``urls`` and exponential back-off.

    Each round asks the TSAs in order until one grants the request; a TSA that refuses for
    good (rejection, 4xx) is not asked again. After a round without success it sleeps
    ``backoff * 2**round`` seconds (capped at ``max_backoff``, plus up to 10 % jitter) and
    tries again, ``retries`` times. Every attempt uses a fresh nonce.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        client: httpx.Client | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        policy: str | None = None,
        cert_req: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not urls:
            raise ValueError("at least one TSA URL is needed")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")
        self.urls: tuple[str, ...] = tuple(urls)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.policy = policy
        self.cert_req = cert_req
        self._auth = auth
        self._timeout = httpx.Timeout(timeout)
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=self._timeout)
        self._sleep = sleep

    def timestamp(self, digest: bytes, algorithm: str) -> bytes:
        """A TimeStampToken (DER) over ``digest`` from the first TSA that grants it."""
        build_request(digest, algorithm, nonce=None)  # validates before any network I/O
        failures: dict[str, TsaFailure] = {}
        given_up: set[str] = set()
        for round_ in range(self.retries + 1):
            if round_:
                delay = min(self.max_backoff, self.backoff * 2 ** (round_ - 1))
                self._sleep(delay + random.uniform(0, delay / 10))
            for url in self.urls:
                if url in given_up:
                    continue
                try:
                    return self._attempt(url, digest, algorithm)
                except TsaFailure as failure:
                    failures[url] = failure
                    log.warning("time-stamp from %s failed: %s", url, failure)
                    if failure.permanent:
                        given_up.add(url)
            if len(given_up) == len(self.urls):
                break
        summary = "; ".join(f"{url}: {failure}" for url, failure in failures.items())
        if all(failure.rejected for failure in failures.values()):
            raise TsaRejected(f"every TSA refused the request: {summary}")
        raise TsaUnavailable(f"no TSA answered after {self.retries + 1} round(s): {summary}")

    def _attempt(self, url: str, digest: bytes, algorithm: str) -> bytes:
        request = build_request(
            digest, algorithm, nonce=new_nonce(), cert_req=self.cert_req, policy=self.policy
        )
        try:
            response = self._client.post(
                url,
                content=request.dump(),
                headers={"Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY},
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise TsaFailure(f"{type(exc).__name__}: {exc}") from exc
        body = response.content
        if len(body) > MAX_RESPONSE_SIZE:
            raise TsaFailure(f"answer of {len(body)} bytes is too large")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code != 200 and media_type != TIMESTAMP_REPLY:
            transient = response.status_code >= 500 or response.status_code in (408, 429)
            raise TsaFailure(
                f"HTTP {response.status_code}", permanent=not transient, rejected=not transient
            )
        return check_response(body, request)

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
