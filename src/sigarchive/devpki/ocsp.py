"""The development OCSP responder (RFC 6960): bytes in, bytes out, never raising on bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping

from asn1crypto import core, ocsp, x509

from sigarchive.devpki.pki import (
    DevCredential,
    DevPki,
    Revocation,
    signing_function,
)
from sigarchive.signatures import SUPPORTED_DIGESTS

log = logging.getLogger("sigarchive.devpki")

OCSP_VALIDITY = dt.timedelta(days=1)


class DevOcspResponder:
    """An RFC 6960 OCSP responder for the certificates issued by one CA, in memory.

    Signs with a delegated responder certificate (§4.2.2.2). A certificate of that CA is
    ``good`` unless listed in ``revocations``; entries for another issuer are ``unknown``,
    and a request with none of ours gets ``unauthorized`` (§2.3).
    """

    def __init__(
        self,
        issuer: DevCredential,
        responder: DevCredential,
        revocations: Mapping[int, Revocation] | None = None,
        *,
        validity: dt.timedelta = OCSP_VALIDITY,
    ) -> None:
        self._issuer_name_der = issuer.certificate.subject.dump()
        self._issuer_key_bits = bytes(issuer.certificate.public_key["public_key"])
        self._issuer_hashes: dict[str, tuple[bytes, bytes]] = {}
        self._revocations = dict(revocations or {})
        self._validity = validity
        self._responder_cert_der = responder.der
        # §4.2.1: KeyHash is the SHA-1 hash of the responder's public key bit string.
        self._responder_key_hash = hashlib.sha1(
            bytes(responder.certificate.public_key["public_key"])
        ).digest()
        _, self._signature_algorithm, self._sign = signing_function(responder.private_key)

    @classmethod
    def from_pki(cls, pki: DevPki) -> DevOcspResponder:
        return cls(pki.root, pki.ocsp, pki.revocations)

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse for a DER OCSPRequest; never raises."""
        try:
            request = ocsp.OCSPRequest.load(request_der, strict=True)
            _ = request.native
            tbs = request["tbs_request"]
            entries = list(tbs["request_list"])
            if not entries:
                raise ValueError("empty requestList")
        except Exception:  # asn1crypto raises many types on garbage
            return self.error("malformed_request")
        try:
            return self._answer(tbs, entries)
        except Exception:
            log.exception("development OCSP responder failed")
            return self.error("internal_error")

    def _answer(self, tbs: ocsp.TBSRequest, entries: list[ocsp.Request]) -> bytes:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        responses = []
        ours = 0
        for entry in entries:
            cert_id = entry["req_cert"]
            status = self._status(cert_id)
            ours += status.name != "unknown"
            responses.append(
                {
                    "cert_id": ocsp.CertId.load(cert_id.dump()),
                    "cert_status": status,
                    "this_update": now,
                    "next_update": now + self._validity,
                }
            )
        if not ours:
            return self.error("unauthorized")
        response_data: dict[str, object] = {
            "responder_id": ocsp.ResponderId(name="by_key", value=self._responder_key_hash),
            "produced_at": now,
            "responses": responses,
        }
        # §4.4.1 (and RFC 8954): a nonce in the request is echoed in the response.
        for extension in tbs["request_extensions"] or []:
            if extension["extn_id"].native == "nonce":
                response_data["response_extensions"] = [
                    {"extn_id": "nonce", "extn_value": extension["extn_value"].native}
                ]
        tbs_response = ocsp.ResponseData(response_data)
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs_response,
                "signature_algorithm": {"algorithm": self._signature_algorithm},
                "signature": self._sign(tbs_response.dump()),
                "certs": [x509.Certificate.load(self._responder_cert_der)],
            }
        )
        return bytes(
            ocsp.OCSPResponse(
                {
                    "response_status": "successful",
                    "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
                }
            ).dump()
        )

    def _status(self, cert_id: ocsp.CertId) -> ocsp.CertStatus:
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        try:
            name_hash, key_hash = self._hashes(algorithm)
        except ValueError:
            return ocsp.CertStatus(name="unknown", value=core.Null())
        if (
            cert_id["issuer_name_hash"].native != name_hash
            or cert_id["issuer_key_hash"].native != key_hash
        ):
            return ocsp.CertStatus(name="unknown", value=core.Null())
        revocation = self._revocations.get(cert_id["serial_number"].native)
        if revocation is None:
            return ocsp.CertStatus(name="good", value=core.Null())
        revoked: dict[str, object] = {"revocation_time": revocation.revoked_at}
        if revocation.reason.name != "unspecified":
            revoked["revocation_reason"] = revocation.reason.name
        return ocsp.CertStatus(name="revoked", value=revoked)

    def _hashes(self, algorithm: str) -> tuple[bytes, bytes]:
        # §4.1.1: issuerNameHash and issuerKeyHash use the request's hash algorithm.
        if algorithm not in self._issuer_hashes:
            if algorithm not in SUPPORTED_DIGESTS:
                raise ValueError(algorithm)
            self._issuer_hashes[algorithm] = (
                hashlib.new(algorithm, self._issuer_name_der).digest(),
                hashlib.new(algorithm, self._issuer_key_bits).digest(),
            )
        return self._issuer_hashes[algorithm]

    @staticmethod
    def error(status: str) -> bytes:
        """An unsuccessful OCSPResponse (``malformed_request``, ``unauthorized`` ...)."""
        # §4.2.1: an unsuccessful OCSPResponse has no responseBytes.
        return bytes(ocsp.OCSPResponse({"response_status": status}).dump())


# ----------------------------------------------------------------------------- HTTP app
