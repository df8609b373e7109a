"""Verifying every signer and counter-signer of a signature against the document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asn1crypto import cms, core, x509

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.cms.codes import (
    ASN1_ERRORS,
    BROKEN,
    COUNTER_SIGNATURE_FAILED,
)
from sigarchive.signatures.cms.parse import ParsedSignature, certificates_of, first_line
from sigarchive.signatures.cms.signer import SignerCheck, check_signer_info
from sigarchive.signatures.digests import digest_bytes


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature whose every signer (and counter-signer) verified against the document."""

    parsed: ParsedSignature
    signers: tuple[SignerCheck, ...]  # top-level signers only
    digest_algorithm: str  # first signer's digestAlgorithm
    document_digest: bytes  # the document digest with that algorithm


def verify_against_document(
    parsed: ParsedSignature, document_digests: Mapping[str, bytes]
) -> VerifiedSignature:
    """Verify every signer and counter-signer of ``parsed`` against the document.

    ``document_digests`` maps each of ``parsed.required_digest_algorithms`` to the document's
    digest (for an attached signature: of ``parsed.encapsulated_content``). Raises
    :class:`SignatureRejected` with the failing signer's code (``DocumentDigestMismatch``,
    ``SignatureVerificationFailed``, ``SignerCertificateNotFound``, ``UnsupportedAlgorithm`` ...)
    or ``CounterSignatureVerificationFailed``.
    """
    missing = parsed.required_digest_algorithms - set(document_digests)
    if missing:
        raise ValueError(f"document digests missing for {sorted(missing)}")
    signed_data = parsed.signed_data
    certificates = certificates_of(signed_data)
    content_type = signed_data["encap_content_info"]["content_type"].dotted
    signer_infos = list(signed_data["signer_infos"])
    checks = []
    for index, signer_info in enumerate(signer_infos):
        check = check_signer_info(
            signer_info,
            certificates,
            document_digests.__getitem__,
            index,
            content_type=content_type,
            content=parsed.encapsulated_content,
        )
        if check.failure_code is not None:
            who = _who(check, f"Signer {index + 1} of {len(signer_infos)}")
            raise SignatureRejected(f"{who}: {check.failure_reason}.", code=check.failure_code)
        _verify_counter_signatures(signer_info, certificates, f"signer {index + 1}")
        checks.append(check)
    first = checks[0].digest_algorithm
    return VerifiedSignature(parsed, tuple(checks), first, document_digests[first])


def _verify_counter_signatures(
    signer_info: cms.SignerInfo, certificates: Sequence[x509.Certificate], path: str
) -> None:
    """Check the counter-signatures of ``signer_info`` recursively (RFC 5652 §11.4).

    Reject when one is proven wrong; a counter-signer whose certificate is absent or whose
    algorithm is unsupported cannot be checked here and is left to the validation report.
    Other unsigned attributes are not parsed at all (``Signature-C-DE_CRY-3.p7m`` wraps its
    time-stamp token in a non-conformant OCTET STRING).
    """
    unsigned = signer_info["unsigned_attrs"]
    if isinstance(unsigned, core.Void):
        return
    try:
        counter_signers = [
            cs
            for attribute in unsigned
            if attribute["type"].native == "counter_signature"
            for cs in attribute["values"]
        ]
        countersigned = signer_info["signature"].native
    except ASN1_ERRORS as exc:
        raise SignatureRejected(
            f"The counter-signature of {path} is malformed ({first_line(exc)}).",
            code=COUNTER_SIGNATURE_FAILED,
        ) from exc
    for number, counter_signer in enumerate(counter_signers, start=1):
        where = f"counter-signature {number} of {path}"
        check = check_signer_info(
            counter_signer,
            certificates,
            lambda algorithm: digest_bytes(algorithm, countersigned),
            number - 1,
            content=countersigned,
        )
        if check.failure_code in BROKEN:
            who = _who(check, where[0].upper() + where[1:])
            raise SignatureRejected(
                f"{who}: {check.failure_reason}.", code=COUNTER_SIGNATURE_FAILED
            )
        _verify_counter_signatures(counter_signer, certificates, where)


def _who(check: SignerCheck, label: str) -> str:
    return f"{label} ({check.signer_subject})" if check.signer_subject else label
