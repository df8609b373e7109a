"""Offline verification of a CMS/CAdES signature file: what ``sigarchive verify`` reports.

An auditor runs this years later, without the archive and without network access. For every
signer it checks, and reports separately:

- the signature value and the message-digest (RFC 5652 §5.4, §11.2; EN 319 102-1 §5.2.7
  "cryptographic verification"), with :mod:`..cms`;
- every signature-time-stamp (EN 319 122-1 §5.3) and archive time-stamp — v3 with its
  ats-hash-index (EN 319 122-1 §5.5.3, §5.5.2), v2 (TS 101 733 Annex K; EN 319 122-1 Annex
  A.2.4); the old v1 is reported as unsupported — with :mod:`..ats`;
- counter-signatures (RFC 5652 §11.4) and their signature-time-stamps.

Verdicts, worst wins (signer, then file):

- ``PASSED``: everything intact;
- ``WARNINGS``: everything intact, but e.g. ats-hash-index entries that match nothing now
  (EN 319 122-1 §5.5.2 consistency; a warning, as in DSS's default policy);
- ``INDETERMINATE``: something could not be checked (detached content not given:
  SIGNED_DATA_NOT_FOUND; signer certificate absent; unsupported algorithm or archive
  time-stamp v1) — EN 319 102-1 §5.1.3 main indication INDETERMINATE;
- ``FAILED``: something is broken — a signature value (SIG_CRYPTO_FAILURE), a message digest
  or a time-stamp imprint (HASH_FAILURE), a missing or malformed ats-hash-index, a structure
  that is not what the standard requires (FORMAT_FAILURE) — EN 319 102-1 TOTAL-FAILED.

Not verified here, and said so in the report: content-time-stamps, CAdES-C time-stamps and
evidence records (ETSI TS 119 122-3; these give WARNINGS, so an ER never passes unchecked).
Trust (certificate paths, revocation) is not judged unless trust anchors are given, in which
case :func:`sigarchive.signatures.validation.validate_signature` runs offline
(``fetch_revocation=False``) and its EN 319 102-1 indication joins the verdict.
A detached document is hashed as a stream (:func:`..digests.digest_file`), never loaded whole.
"""

from sigarchive.signatures.indications import Verdict
from sigarchive.signatures.verify._verifier import verify_file
from sigarchive.signatures.verify.files import load_certificates, load_trust_roots, read_signature
from sigarchive.signatures.verify.report import (
    CounterSignatureReport,
    Finding,
    IndexReport,
    SignerReport,
    TimestampReport,
    VerificationReport,
)

__all__ = [
    "CounterSignatureReport",
    "Finding",
    "IndexReport",
    "SignerReport",
    "TimestampReport",
    "Verdict",
    "VerificationReport",
    "load_certificates",
    "load_trust_roots",
    "read_signature",
    "verify_file",
]
