"""The RFC 3161 protocol: building a TimeStampReq and checking the TimeStampResp that answers it.

What belongs to the protocol is checked here (status, nonce, message imprint, policy); the
token's signature and the TSA's certificate path are checked like any other CMS signature
(:mod:`.tokens`, :mod:`sigarchive.signatures.validation`). No I/O: the HTTP client is
:mod:`.http_client`.
"""

from __future__ import annotations

import hashlib
import secrets

from asn1crypto import cms, tsp

from sigarchive.errors import InvalidInput
from sigarchive.signatures.digests import SUPPORTED_DIGESTS

#: RFC 3161 §3.4 media types.
TIMESTAMP_QUERY = "application/timestamp-query"


TIMESTAMP_REPLY = "application/timestamp-reply"


#: Largest TimeStampResp accepted (a token with a long certificate chain is a few KiB).
MAX_RESPONSE_SIZE = 1024 * 1024


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
