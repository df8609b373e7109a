"""Failure codes of the CMS checks, and what asn1crypto raises on malformed input."""

from __future__ import annotations

#: What asn1crypto raises on malformed input (it parses lazily, so also on first access).
ASN1_ERRORS = (ValueError, TypeError, OverflowError, KeyError)


# Failure codes a SignerCheck can carry (verify_against_document raises them unchanged).
DIGEST_MISMATCH = "DocumentDigestMismatch"


SIGNATURE_FAILED = "SignatureVerificationFailed"


CERT_NOT_FOUND = "SignerCertificateNotFound"


UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm"


UNSUPPORTED_SIGNATURE = "UnsupportedSignature"


INVALID_SIGNED_ATTRS = "InvalidSignedAttributes"


MALFORMED = "MalformedSignature"


COUNTER_SIGNATURE_FAILED = "CounterSignatureVerificationFailed"


#: Failures that prove a signature wrong, as opposed to "cannot be checked here".
BROKEN = frozenset({DIGEST_MISMATCH, SIGNATURE_FAILED, INVALID_SIGNED_ATTRS, MALFORMED})
