"""RFC 3161 time-stamping: the :class:`TimeStamper` protocol and its errors, the protocol
messages (:mod:`.protocol`), token parsing and technical verification (:mod:`.tokens`).

:class:`TimeStamper` is what the enhancement code needs: a digest in, a DER TimeStampToken
out. The HTTP implementation lives apart, in :mod:`.http_client`.

Errors: no usable answer at all raises :class:`TsaUnavailable`; a TSA that answers but
refuses the request (RFC 3161 §2.4.2 ``rejection`` with a permanent failure such as
``badAlg``) raises :class:`TsaRejected` once every TSA did so. Both are
:class:`~sigarchive.errors.ServiceUnavailable`: neither is the uploader's fault, the
container waits and a problem is recorded; the distinct codes tell an operator whether to
wait (network) or fix the configuration (algorithm or policy the TSA refuses).
"""

from __future__ import annotations

from typing import Protocol

from sigarchive.errors import ServiceUnavailable


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
