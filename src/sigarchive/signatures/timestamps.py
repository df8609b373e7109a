"""RFC 3161 time-stamping client.

:class:`TimeStamper` is what the enhancement code needs: a digest in, a DER TimeStampToken
out. :class:`HttpTimeStamper` implements it over HTTP (RFC 3161 §3.4) against a list of
TSAs, with failover and retries with exponential back-off. It checks what belongs to the
protocol (status, nonce, message imprint, policy); the token's signature and the TSA's
certificate path are checked by the signature validator, like any other CMS signature.

Errors: no usable answer at all raises :class:`TsaUnavailable`; a TSA that answers but
refuses the request (RFC 3161 §2.4.2 ``rejection`` with a permanent failure such as
``badAlg``) raises :class:`TsaRejected` once every TSA did so. Both are
:class:`~sigarchive.errors.ServiceUnavailable`: neither is the uploader's fault, the
container waits and a problem is recorded; the distinct codes tell an operator whether to
wait (network) or fix the configuration (algorithm or policy the TSA refuses).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self

import httpx
from asn1crypto import cms, tsp

from sigarchive.errors import InvalidInput, ServiceUnavailable
from sigarchive.signatures.digests import SUPPORTED_DIGESTS

log = logging.getLogger(__name__)

#: RFC 3161 §3.4 media types.
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"

#: Largest TimeStampResp accepted (a token with a long certificate chain is a few KiB).
MAX_RESPONSE_SIZE = 1024 * 1024


class TimeStamper(Protocol):
    """Anything that turns a digest into an RFC 3161 TimeStampToken."""

    def timestamp(self, digest: bytes, algorithm: str) -> bytes:
        """DER ``TimeStampToken`` (a CMS ``ContentInfo``) over ``digest``.

        ``algorithm`` is an asn1crypto digest name (``sha256``, ``sha3_512`` ...).
        """
        ...


class TsaUnavailable(ServiceUnavailable):
    """No TSA gave a usable answer (network, server error, invalid reply)."""

    code = "TsaUnavailable"


class TsaRejected(ServiceUnavailable):
    """Every TSA reachable refused the request for good (bad algorithm, policy ...)."""

    code = "TsaRejected"


class TimeStampResp(tsp.TimeStampResp):  # type: ignore[misc]
    """RFC 3161 §2.4.2 TimeStampResp.

    asn1crypto 1.5 declares ``timeStampToken`` mandatory, but a rejection has none
    ("When status contains a value other than zero or one, a TimeStampToken MUST NOT be
    present"), so this copy marks it OPTIONAL as the RFC does.
    """

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


# ----------------------------------------------------------------------------- requests


def digest_size(algorithm: str) -> int:
    """Length in bytes of a digest of ``algorithm``; :class:`InvalidInput` if unsupported."""
    if algorithm not in SUPPORTED_DIGESTS:
        raise InvalidInput(
            f"digest algorithm {algorithm!r} cannot be time-stamped", code="UnsupportedAlgorithm"
        )
    return hashlib.new(algorithm).digest_size


def build_request(
    digest: bytes,
    algorithm: str,
    *,
    nonce: int | None,
    cert_req: bool = True,
    policy: str | None = None,
) -> tsp.TimeStampReq:
    """An RFC 3161 §2.4.1 TimeStampReq (version 1) for a precomputed digest."""
    if len(digest) != digest_size(algorithm):
        raise InvalidInput(
            f"a {algorithm} digest has {digest_size(algorithm)} bytes, not {len(digest)}",
            code="InvalidDigest",
        )
    fields: dict[str, object] = {
        "version": "v1",
        # §2.4.1: the hash algorithm of the imprint; parameters absent, as RFC 5754 §2 says.
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if policy is not None:
        fields["req_policy"] = policy
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TimeStampReq(fields)


def new_nonce() -> int:
    """A fresh 64-bit random nonce (RFC 3161 §2.4.1 "large random number")."""
    return secrets.randbits(63) | (1 << 62)


# ----------------------------------------------------------------------------- responses


class TsaFailure(Exception):
    """Why one attempt at one TSA failed.

    ``permanent``: asking this TSA again will not help; ``rejected``: the TSA itself refused.
    """

    def __init__(self, reason: str, *, permanent: bool = False, rejected: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.rejected = rejected


#: PKIFailureInfo bits after which asking again may succeed (RFC 3161 §2.4.2).
_TRANSIENT_FAILURES = frozenset({"time_not_available", "system_failure", "add_info_not_available"})


def check_response(response_der: bytes, request: tsp.TimeStampReq) -> bytes:
    """The DER TimeStampToken of a TimeStampResp that answers ``request``.

    Raises :class:`TsaFailure` when the TSA did not grant the request or the answer does not
    match it (RFC 3161 §2.4.2: status, nonce, message imprint, policy).
    """
    try:
        response = TimeStampResp.load(response_der)
        status_info = response["status"]
        status = status_info["status"].native
        token = response["time_stamp_token"]
    except (ValueError, TypeError, KeyError) as exc:
        raise TsaFailure(f"not a TimeStampResp: {exc}") from exc

    if status not in ("granted", "granted_with_mods"):
        fail_bits = _failure_bits(status_info)
        text = "; ".join(str(s) for s in (status_info["status_string"].native or []))
        reason = f"TSA answered {status}" + (
            f" ({', '.join(sorted(fail_bits))})" if fail_bits else ""
        )
        if text:
            reason += f": {text}"
        transient = status == "waiting" or bool(fail_bits & _TRANSIENT_FAILURES)
        permanent = not transient and status != "revocation_warning"
        raise TsaFailure(reason, permanent=permanent, rejected=permanent)
    if not isinstance(token, cms.ContentInfo):
        raise TsaFailure(f"TSA answered {status} without a TimeStampToken")

    try:
        info = token_info(token)
        imprint = info["message_imprint"]
        expected = request["message_imprint"]
        if (
            imprint["hash_algorithm"]["algorithm"].dotted
            != (expected["hash_algorithm"]["algorithm"].dotted)
            or imprint["hashed_message"].native != expected["hashed_message"].native
        ):
            raise TsaFailure("the token's message imprint is not the one requested")
        # §2.4.2: the nonce MUST be present and equal when the request carried one.
        if request["nonce"].native is not None and info["nonce"].native != request["nonce"].native:
            raise TsaFailure("the token does not echo the request's nonce")
        if request["req_policy"].native is not None and (
            info["policy"].dotted != request["req_policy"].dotted
        ):
            raise TsaFailure("the token's policy is not the one requested")
    except (ValueError, TypeError, KeyError) as exc:
        raise TsaFailure(f"malformed TimeStampToken: {exc}") from exc
    return bytes(token.dump())


def token_info(token: cms.ContentInfo | bytes) -> tsp.TSTInfo:
    """The TSTInfo inside a TimeStampToken (RFC 3161 §2.4.2), without checking its signature."""
    if isinstance(token, bytes):
        token = cms.ContentInfo.load(token)
    if token["content_type"].native != "signed_data":
        raise ValueError("a TimeStampToken is a SignedData")
    encap = token["content"]["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise ValueError("the TimeStampToken does not encapsulate a TSTInfo")
    info = encap["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise ValueError("the TimeStampToken does not encapsulate a TSTInfo")
    return info


def _failure_bits(status_info: tsp.PKIStatusInfo) -> frozenset[str]:
    fail_info = status_info["fail_info"]
    if fail_info.native is None:
        return frozenset()
    return frozenset(str(bit) for bit in fail_info.native)


# ----------------------------------------------------------------------------- HTTP client


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
