"""Signature validation per ETSI EN 319 102-1, and the validation material CAdES-LT embeds.

:func:`validate_signature` checks one signer of a CMS/CAdES signature and returns

- a :class:`SignatureReport` in EN 319 102-1 vocabulary (indication, sub-indication §5.1.3)
  with finer reasons in the spirit of CryptoPro's verification codes, and
- the :class:`ValidationMaterial` a CAdES-LT signature must carry to be validated offline later
  (EN 319 122-1 §5.5.1, §6.3): every certificate of the signer's path and of each time-stamp's
  TSA path (OCSP responders included, trust anchors included), and the CRLs and OCSP responses
  used.

Division of labour: :mod:`..cms` checks the signature value and message digest,
:mod:`..timestamps.tokens` and :mod:`..ats` check time-stamp tokens technically, and
:mod:`..inventory` says what the signature carries; path building, RFC 5280 §6
path validation and revocation checking (RFC 6960 OCSP, RFC 5280 CRLs, fetched from the
certificates' own AIA/CDP URLs) are pyhanko-certvalidator's. Revocation information is
required for every certificate below the trust anchor (ETSI TS 119 172 "eithercheck").

Times (EN 319 102-1 §5.5 and §5.6.2, "past signature validation"): archive time-stamps are
checked newest first, each at the proof of existence (POE) the next newer valid one gives (the
newest at the validation time); signature-time-stamps at the POE of the oldest valid archive
time-stamp; the signer's path at the best signature time, the earliest POE of the signature.
So a signer certificate that expired, or was revoked, after a valid time-stamp does not fail.
Revocation information issued after such a time is accepted (it is what proves the status at
that time); a revocation dated after it does not count against it. Simplification: OCSP
responders and CRL issuers are validated at the same time as the certificate they speak about
(pyhanko-certvalidator's point-in-time model), not with POEs of their own as §5.6.2.2 would.

Missing revocation information never raises and never blocks archiving (SPEC §3): it gives
INDETERMINATE with a reason. ``revocation_unavailable`` tells the caller to retry only when an
OCSP responder or CRL server could not be *reached*; a certificate whose CA publishes nothing is
not worth retrying. Everything here is pure: no SQL, no web framework; HTTP goes through
pyhanko-certvalidator's aiohttp fetchers (:mod:`.fetching`).

Modules: :mod:`.report` (results), :mod:`._paths` (pyhanko-certvalidator), :mod:`._poe`
(time-stamps as proofs of existence), :mod:`._validate` (the validation), :mod:`.fetching`.
"""

from sigarchive.signatures.validation._validate import (
    FETCH_LIMITS,
    TrustRoot,
    async_validate_signature,
    validate_signature,
)
from sigarchive.signatures.validation.report import (
    SignatureReport,
    TimestampSummary,
    ValidationMaterial,
)

__all__ = [
    "FETCH_LIMITS",
    "SignatureReport",
    "TimestampSummary",
    "TrustRoot",
    "ValidationMaterial",
    "async_validate_signature",
    "validate_signature",
]
