"""The CMS signature core: parse uploaded signatures and verify them cryptographically.

RFC 5652 (CMS) SignedData, detached or attached, DER or BER. This module checks signature values
and message digests only; certificate paths, trust, validity periods and revocation belong to
another layer (an expired certificate is no reason to refuse here). It knows nothing of HTTP or
SQL and never re-encodes what it parsed except for the one documented fallback of interop
decision 1 (:func:`_signed_attrs_variants`).
"""

from sigarchive.signatures.cms.codes import (
    ASN1_ERRORS,
    CERT_NOT_FOUND,
    COUNTER_SIGNATURE_FAILED,
    DIGEST_MISMATCH,
    INVALID_SIGNED_ATTRS,
    MALFORMED,
    SIGNATURE_FAILED,
    UNSUPPORTED_ALGORITHM,
    UNSUPPORTED_SIGNATURE,
)
from sigarchive.signatures.cms.document import VerifiedSignature, verify_against_document
from sigarchive.signatures.cms.parse import ParsedSignature, certificates_of, parse_signature
from sigarchive.signatures.cms.signer import (
    SignerCheck,
    check_signer_info,
    find_signer_certificate,
    sid_matches,
)

__all__ = [
    "ASN1_ERRORS",
    "CERT_NOT_FOUND",
    "COUNTER_SIGNATURE_FAILED",
    "DIGEST_MISMATCH",
    "INVALID_SIGNED_ATTRS",
    "MALFORMED",
    "SIGNATURE_FAILED",
    "UNSUPPORTED_ALGORITHM",
    "UNSUPPORTED_SIGNATURE",
    "ParsedSignature",
    "SignerCheck",
    "VerifiedSignature",
    "certificates_of",
    "check_signer_info",
    "find_signer_certificate",
    "parse_signature",
    "sid_matches",
    "verify_against_document",
]
