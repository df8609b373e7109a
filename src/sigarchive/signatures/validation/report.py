"""What a validation returns: the EN 319 102-1 report of one signer and the validation
material a CAdES-LT signature must carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigarchive.signatures.indications import Indication, RevocationStatus, SubIndication


@dataclass(frozen=True)
class ValidationMaterial:
    """What CAdES-LT must embed (EN 319 122-1 §5.5.1, §6.3), all DER.

    Certificates go to SignedData.certificates, CRLs to SignedData.crls and OCSP responses to
    SignedData.crls as OtherRevocationInfoFormat id-ri-ocsp-response (RFC 5940 §4.1). Material
    the signature already carries is listed too: de-duplicating is the augmenter's job.
    """

    #: Every certificate of the signer's path and of each TSA path (OCSP responders and CRL
    #: issuers included), trust anchors included; signer path first, end entity first.
    certificates: tuple[bytes, ...]
    #: CertificateList.
    crls: tuple[bytes, ...]
    #: Full OCSPResponse (an embedded BasicOCSPResponse is wrapped in a successful one).
    ocsp_responses: tuple[bytes, ...]


@dataclass(frozen=True)
class TimestampSummary:
    """One time-stamp of the signer: technical checks and its TSA path at its POE."""

    kind: str  # "signature" | "archive-v3" | "archive-v2" | "archive-v1"
    gen_time: datetime | None
    tsa_subject: str | None
    tsa_certificate_not_after: datetime | None
    imprint_ok: bool | None  # None: could not be computed
    signature_ok: bool
    indication: Indication
    #: An EN 319 102-1 sub-indication, or a sigarchive FindingCode (ats-hash-index ...).
    sub_indication: str | None
    revocation: RevocationStatus  # of the TSA path, as SignatureReport.revocation
    #: The time the TSA path was validated at (the POE a newer archive time-stamp gives).
    validated_at: datetime | None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.indication == Indication.TOTAL_PASSED

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "gen_time": _iso(self.gen_time),
            "tsa_subject": self.tsa_subject,
            "tsa_certificate_not_after": _iso(self.tsa_certificate_not_after),
            "imprint_ok": self.imprint_ok,
            "signature_ok": self.signature_ok,
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "revocation": self.revocation,
            "validated_at": _iso(self.validated_at),
            "problem": self.problem,
        }


@dataclass(frozen=True)
class SignatureReport:
    """The validation report of one signer, in EN 319 102-1 vocabulary."""

    signer_index: int
    indication: Indication  # TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE
    sub_indication: SubIndication | None  # EN 319 102-1 §5.1.3 name, None when TOTAL-PASSED
    #: Finer reasons (CryptoPro-style codes): BadSignature, SignerNotFound, NoChain,
    #: SignerRevoked, ChainCertificateRevoked, CertificateExpired, RevocationUnavailable,
    #: NoRevocationInfo, NoValidSignatureTimestamp, NoValidArchiveTimestamp ... Time-stamp
    #: findings may appear with TOTAL-PASSED when they did not change the outcome.
    reasons: tuple[str, ...]
    signer_subject: str | None
    signer_certificate_sha256: str | None
    claimed_signing_time: datetime | None
    #: The earliest POE of the signature (a valid time-stamp's genTime), else validation_time.
    best_signature_time: datetime | None
    level: str  # B-B | B-T | B-LT | B-LTA
    chain: tuple[str, ...]  # subjects, signer first, trust anchor last
    timestamps: tuple[TimestampSummary, ...]  # signature-time-stamps, then archive ones, by time
    revocation: (
        RevocationStatus  # good | revoked | unknown | unavailable | not-checked (signer's path)
    )
    validation_time: datetime
    #: True when an OCSP responder or CRL server needed here could not be reached (network,
    #: timeout, HTTP error, OCSP tryLater): retrying later may improve the result or material.
    revocation_unavailable: bool
    #: Human-readable detail for each finding, for problem records and logs.
    messages: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.indication == Indication.TOTAL_PASSED

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (datetimes as ISO 8601 with offset)."""
        return {
            "signer_index": self.signer_index,
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "reasons": list(self.reasons),
            "signer_subject": self.signer_subject,
            "signer_certificate_sha256": self.signer_certificate_sha256,
            "claimed_signing_time": _iso(self.claimed_signing_time),
            "best_signature_time": _iso(self.best_signature_time),
            "level": self.level,
            "chain": list(self.chain),
            "timestamps": [t.to_json() for t in self.timestamps],
            "revocation": self.revocation,
            "validation_time": _iso(self.validation_time),
            "revocation_unavailable": self.revocation_unavailable,
            "messages": list(self.messages),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
