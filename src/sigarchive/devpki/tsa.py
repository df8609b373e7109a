"""The development TSA: an RFC 3161 time-stamping authority in memory (bytes in, bytes out).

Speed: keys and certificates are parsed once and every constant part of a token (signer
identifier, ESS signing-certificate-v2 attribute, certificate) is encoded once, so a token
costs one RSA signature plus a little asn1crypto work (see ``bench/bench_tsa.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import threading
import time

from asn1crypto import algos, cms, core, tsp, x509

from sigarchive.devpki.pki import (
    DevCredential,
    DevPki,
    signing_function,
)
from sigarchive.signatures import SUPPORTED_DIGESTS
from sigarchive.signatures.timestamps.protocol import TimeStampResp

log = logging.getLogger("sigarchive.devpki")

#: Imprint algorithms the dev TSA accepts: the archive's, except SHA-1 (too weak to stamp).
TSA_DIGESTS: frozenset[str] = SUPPORTED_DIGESTS - {"sha1"}


class SerialNumbers:
    """Unique TSTInfo serial numbers (RFC 3161 §2.4.2), also across processes.

    ``microseconds since 1970 << 64 | random per-process tag << 32 | counter``: a counter
    keeps them unique within a process even if the clock stands still or steps back, the
    random tag (re-drawn after ``fork``) across processes. About 115 bits, under the 160
    that requesters must handle.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._tag = 0
        self._counter = 0

    def next(self) -> int:
        with self._lock:
            if os.getpid() != self._pid:
                self._pid = os.getpid()
                self._tag = secrets.randbits(32)
                self._counter = 0
            self._counter = (self._counter + 1) & 0xFFFFFFFF
            return (time.time_ns() // 1000) << 64 | self._tag << 32 | self._counter


class DevTsa:
    """An RFC 3161 time-stamping authority in memory.

    :meth:`respond` answers a DER TimeStampReq with a DER TimeStampResp and never raises;
    :meth:`timestamp` makes it a :class:`~sigarchive.signatures.timestamps.TimeStamper`
    too (no HTTP), handy for tests. Thread-safe.
    """

    def __init__(
        self,
        credential: DevCredential,
        *,
        policy: str,
        accuracy_seconds: int = 1,
        digests: frozenset[str] = TSA_DIGESTS,
    ) -> None:
        cert = credential.certificate
        self.policy = policy
        self.digests = digests
        self._digest_algorithm, self._signature_algorithm, self._sign = signing_function(
            credential.private_key
        )
        self._serials = SerialNumbers()
        # Constant parts, encoded once and re-loaded (lazily, cheaply) for every token.
        self._cert_der = credential.der
        self._sid_der = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": cert.issuer, "serial_number": cert.serial_number},
        ).dump()
        self._tsa_name_der = x509.GeneralName(name="directory_name", value=cert.subject).dump()
        self._policy_der = core.ObjectIdentifier(policy).dump()
        self._accuracy_der = tsp.Accuracy({"seconds": accuracy_seconds}).dump()
        self._content_type_der = cms.CMSAttribute(
            {"type": "content_type", "values": ["tst_info"]}
        ).dump()
        digest_algorithm = algos.DigestAlgorithm({"algorithm": self._digest_algorithm})
        self._digest_algorithm_der = digest_algorithm.dump()
        self._digest_algorithms_der = cms.DigestAlgorithms([digest_algorithm]).dump()
        self._signature_algorithm_der = algos.SignedDigestAlgorithm(
            {"algorithm": self._signature_algorithm}
        ).dump()
        self._certificates_der = cms.CertificateSet([cert]).dump()
        # RFC 5816 §2.2.1 / RFC 5035 §5.4: ESS signing-certificate-v2 identifies the TSA
        # certificate by its SHA-256 hash (the default, hence hashAlgorithm omitted) and
        # issuer/serial.
        self._ess_der = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(self._cert_der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        x509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        ).dump()

    @classmethod
    def from_pki(cls, pki: DevPki) -> DevTsa:
        return cls(pki.tsa, policy=pki.tsa_policy)

    # -- TimeStamper

    def timestamp(self, digest: bytes, algorithm: str) -> bytes:
        """A TimeStampToken (DER) over ``digest``, without HTTP and without a nonce."""
        if algorithm not in self.digests or len(digest) != hashlib.new(algorithm).digest_size:
            raise ValueError(f"cannot time-stamp a {len(digest)}-byte {algorithm} digest")
        imprint = tsp.MessageImprint(
            {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}
        )
        return self._token(imprint, nonce=None, cert_req=True)

    # -- protocol

    def respond(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq; a rejection for anything bad."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            _ = request.native  # parse everything now: garbage must fail here
        except Exception as exc:  # asn1crypto raises many types on garbage
            return self.rejection("bad_data_format", f"not a DER TimeStampReq: {exc}")

        # RFC 3161 §2.4.1 / §2.4.2: version 1; known hash algorithm with a digest of its size;
        # requested policy must be ours; no extension is recognised, so any is refused.
        if request["version"].native != "v1":
            return self.rejection("bad_request", "TimeStampReq version must be 1")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in self.digests:
            return self.rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
        if len(imprint["hashed_message"].native) != hashlib.new(algorithm).digest_size:
            return self.rejection("bad_data_format", f"wrong length for a {algorithm} digest")
        policy = request["req_policy"]
        if policy.native is not None and policy.dotted != self.policy:
            return self.rejection("unaccepted_policy", f"only policy {self.policy} is offered")
        if request["extensions"].native:
            return self.rejection("unaccepted_extensions", "no extension is supported")

        try:
            token = self._token(
                tsp.MessageImprint.load(imprint.dump()),
                nonce=request["nonce"].native,
                cert_req=bool(request["cert_req"].native),
            )
            return bytes(
                TimeStampResp(
                    {
                        "status": {"status": "granted"},
                        "time_stamp_token": cms.ContentInfo.load(token),
                    }
                ).dump()
            )
        except Exception:  # never a 500: the client gets systemFailure
            log.exception("development TSA failed to sign")
            return self.rejection("system_failure", "the TSA failed to sign")

    def rejection(self, failure: str, message: str) -> bytes:
        """A TimeStampResp with status rejection and one PKIFailureInfo bit (§2.4.2)."""
        return bytes(
            TimeStampResp(
                {
                    "status": {
                        "status": "rejection",
                        "status_string": [message[:200]],
                        "fail_info": tsp.PKIFailureInfo({failure}),
                    }
                }
            ).dump()
        )

    def _token(self, imprint: tsp.MessageImprint, *, nonce: int | None, cert_req: bool) -> bytes:
        """DER TimeStampToken. Each layer is dumped once and re-loaded lazily into the next:
        asn1crypto then copies bytes instead of re-encoding (and deep-copying) whole trees."""
        # genTime in UTC (§2.4.2), to the millisecond; asn1crypto drops trailing zeros of the
        # fraction as DER and §2.4.2 require.
        now = dt.datetime.now(dt.UTC)
        tst_fields: dict[str, object] = {
            "version": "v1",
            "policy": core.ObjectIdentifier.load(self._policy_der),
            "message_imprint": imprint,
            "serial_number": self._serials.next(),
            "gen_time": now.replace(microsecond=now.microsecond // 1000 * 1000),
            "accuracy": tsp.Accuracy.load(self._accuracy_der),
            "tsa": x509.GeneralName.load(self._tsa_name_der),
        }
        if nonce is not None:
            tst_fields["nonce"] = nonce  # §2.4.2: MUST echo the request's nonce
        tst_der = tsp.TSTInfo(tst_fields).dump()

        # RFC 5652 §5.3/§11: content-type (id-ct-TSTInfo, RFC 3161 §2.4.2) and message-digest,
        # plus ESS signing-certificate-v2. §5.4: the signature covers the DER of the
        # SET OF attributes, which is what CMSAttributes.dump() gives.
        signed_attrs_der = cms.CMSAttributes(
            [
                cms.CMSAttribute.load(self._content_type_der),
                cms.CMSAttribute(
                    {
                        "type": "message_digest",
                        "values": [hashlib.new(self._digest_algorithm, tst_der).digest()],
                    }
                ),
                cms.CMSAttribute.load(self._ess_der),
            ]
        ).dump()
        signer_info_der = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": algos.DigestAlgorithm.load(self._digest_algorithm_der),
                "signed_attrs": cms.CMSAttributes.load(signed_attrs_der),
                "signature_algorithm": algos.SignedDigestAlgorithm.load(
                    self._signature_algorithm_der
                ),
                "signature": self._sign(signed_attrs_der),
            }
        ).dump()
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": cms.DigestAlgorithms.load(self._digest_algorithms_der),
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_der),
            },
            "signer_infos": cms.SignerInfos([cms.SignerInfo.load(signer_info_der)]),
        }
        if cert_req:
            # §2.4.1: with certReq the TSA certificate named by the ESS attribute MUST be there.
            signed_data["certificates"] = cms.CertificateSet.load(self._certificates_der)
        signed_data_der = cms.SignedData(signed_data).dump()
        return bytes(
            cms.ContentInfo(
                {"content_type": "signed_data", "content": cms.SignedData.load(signed_data_der)}
            ).dump()
        )


# ----------------------------------------------------------------------------- OCSP
