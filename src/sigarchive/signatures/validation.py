"""Signature validation per ETSI EN 319 102-1, and the validation material CAdES-LT embeds.

:func:`validate_signature` checks one signer of a CMS/CAdES signature and returns

- a :class:`SignatureReport` in EN 319 102-1 vocabulary (indication, sub-indication §5.1.3)
  with finer reasons in the spirit of CryptoPro's verification codes, and
- the :class:`ValidationMaterial` a CAdES-LT signature must carry to be validated offline later
  (EN 319 122-1 §5.5.1, §6.3): every certificate of the signer's path and of each time-stamp's
  TSA path (OCSP responders included, trust anchors included), and the CRLs and OCSP responses
  used.

Division of labour: :mod:`.cms` checks the signature value and message digest, :mod:`.tokens`
and :mod:`.archive_timestamp` check time-stamp tokens technically; path building, RFC 5280 §6
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
pyhanko-certvalidator's aiohttp fetchers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from asn1crypto import cms, crl, ocsp, x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
)
from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from sigarchive.errors import ArchiveError, InvalidInput, SignatureRejected
from sigarchive.signatures import cms as cms_core
from sigarchive.signatures.archive_timestamp import (
    ArchiveTimestampCheck,
    SignatureTimestampCheck,
    signed_data_parts,
    signer_info_parts,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.attributes import (
    CERTIFICATE_VALUES,
    REVOCATION_VALUES,
    TIME_STAMP_ATTRIBUTE_OIDS,
    CertificateValues,
    RevocationValues,
    split_tlvs,
)
from sigarchive.signatures.fetching import (
    FetchFailure,
    http_session,
    logging_fetchers,
)
from sigarchive.signatures.levels import signature_level
from sigarchive.signatures.tokens import TimestampToken, TokenCheck, parse_timestamp_token

__all__ = [
    "INDETERMINATE",
    "TOTAL_FAILED",
    "TOTAL_PASSED",
    "SignatureReport",
    "TimestampSummary",
    "ValidationMaterial",
    "async_validate_signature",
    "validate_signature",
]

log = logging.getLogger(__name__)

# EN 319 102-1 §5.1.3, Table 5: main indications.
TOTAL_PASSED = "TOTAL-PASSED"
TOTAL_FAILED = "TOTAL-FAILED"
INDETERMINATE = "INDETERMINATE"

# EN 319 102-1 §5.1.3, Table 6: the sub-indications used here.
FORMAT_FAILURE = "FORMAT_FAILURE"
HASH_FAILURE = "HASH_FAILURE"
SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
REVOKED = "REVOKED"
NOT_YET_VALID = "NOT_YET_VALID"
NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
REVOKED_NO_POE = "REVOKED_NO_POE"
REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
TRY_LATER = "TRY_LATER"
SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"

# Revocation status of the signer's path (SignatureReport.revocation).
GOOD = "good"
REVOKED_STATUS = "revoked"
UNKNOWN = "unknown"
UNAVAILABLE = "unavailable"
NOT_CHECKED = "not-checked"

#: Bounds on the fetching one validation may cause (URLs come from the certificates checked).
FETCH_LIMITS = FetchLimits(max_requests=64, max_cert_requests=16, max_aia_urls_per_object=4)

#: OtherRevocationInfoFormat identifiers (RFC 5940 §4.1; id-pkix-ocsp-basic as some tools write).
_ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
_ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"

#: CertID hash algorithms pyhanko-certvalidator can match (RFC 6960 §4.1.1).
_CERT_ID_HASHES = frozenset({"sha1", "sha256"})

#: Failure code of a signer whose signed content digest the caller could not give.
_CONTENT_NOT_FOUND = "SignedContentNotFound"

#: cms.py failure codes -> (indication, sub-indication, reason) (EN 319 102-1 §5.2.7, §5.2.8).
_SIGNER_FAILURES: dict[str, tuple[str, str, str]] = {
    cms_core.DIGEST_MISMATCH: (TOTAL_FAILED, HASH_FAILURE, "BadSignature"),
    cms_core.SIGNATURE_FAILED: (TOTAL_FAILED, SIG_CRYPTO_FAILURE, "BadSignature"),
    cms_core.INVALID_SIGNED_ATTRS: (TOTAL_FAILED, FORMAT_FAILURE, "BadSignature"),
    cms_core.MALFORMED: (TOTAL_FAILED, FORMAT_FAILURE, "BadSignature"),
    cms_core.CERT_NOT_FOUND: (INDETERMINATE, NO_SIGNING_CERTIFICATE_FOUND, "SignerNotFound"),
    cms_core.UNSUPPORTED_ALGORITHM: (
        INDETERMINATE,
        CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        "UnsupportedAlgorithm",
    ),
    cms_core.UNSUPPORTED_SIGNATURE: (INDETERMINATE, SIGNED_DATA_NOT_FOUND, "UnsupportedSignature"),
    _CONTENT_NOT_FOUND: (INDETERMINATE, SIGNED_DATA_NOT_FOUND, "ContentNotFound"),
}

ContentDigestFor = Callable[[str], bytes]
TrustRoot: TypeAlias = "x509.Certificate | crypto_x509.Certificate"


# ---------------------------------------------------------------------------------------------
# Results


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
    indication: str
    sub_indication: str | None
    revocation: str  # of the TSA path, as SignatureReport.revocation
    #: The time the TSA path was validated at (the POE a newer archive time-stamp gives).
    validated_at: datetime | None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.indication == TOTAL_PASSED

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
    indication: str  # TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE
    sub_indication: str | None  # EN 319 102-1 §5.1.3 name, None when TOTAL-PASSED
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
    revocation: str  # good | revoked | unknown | unavailable | not-checked (signer's path)
    validation_time: datetime
    #: True when an OCSP responder or CRL server needed here could not be reached (network,
    #: timeout, HTTP error, OCSP tryLater): retrying later may improve the result or material.
    revocation_unavailable: bool
    #: Human-readable detail for each finding, for problem records and logs.
    messages: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.indication == TOTAL_PASSED

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


# ---------------------------------------------------------------------------------------------
# Validation material already in the signature


@dataclass
class _Embedded:
    """Certificates and revocation values the signature carries (for offline validation)."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[crl.CertificateList] = field(default_factory=list)
    ocsps: list[ocsp.OCSPResponse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _seen: set[bytes] = field(default_factory=set)

    def _new(self, der: bytes) -> bool:
        if der in self._seen:
            return False
        self._seen.add(der)
        return True

    def add_certificate(self, certificate: x509.Certificate) -> None:
        try:
            der = certificate.dump()
            _ = certificate.subject, certificate.serial_number
        except cms_core._ASN1_ERRORS as exc:
            self.problems.append(f"an embedded certificate is malformed ({exc})")
            return
        if self._new(der):
            self.certificates.append(certificate)

    def add_crl(self, der: bytes) -> None:
        try:
            loaded = crl.CertificateList.load(der)
            _ = loaded["tbs_cert_list"]["this_update"].native
        except cms_core._ASN1_ERRORS as exc:
            self.problems.append(f"an embedded CRL is malformed ({exc})")
            return
        if self._new(der):
            self.crls.append(loaded)

    def add_ocsp(self, der: bytes, *, basic: bool) -> None:
        try:
            if basic:
                response = ocsp.OCSPResponse(
                    {
                        "response_status": "successful",
                        "response_bytes": {
                            "response_type": "basic_ocsp_response",
                            "response": ocsp.BasicOCSPResponse.load(der),
                        },
                    }
                )
                der = response.dump()
            response = ocsp.OCSPResponse.load(der)
            if response["response_status"].native != "successful":
                return  # RFC 6960 §4.2.1: no status information in it
            algorithms = {
                single["cert_id"]["hash_algorithm"]["algorithm"].native
                for single in response.basic_ocsp_response["tbs_response_data"]["responses"]
            }
        except (*cms_core._ASN1_ERRORS, AttributeError) as exc:
            self.problems.append(f"an embedded OCSP response is malformed ({exc})")
            return
        if not algorithms <= _CERT_ID_HASHES:
            # pyhanko-certvalidator matches CertIDs by SHA-1 and SHA-256 only, and fails on
            # anything else (even when a CRL could answer): leave such responses out.
            self.problems.append(
                "an embedded OCSP response identifies certificates by "
                f"{', '.join(sorted(algorithms - _CERT_ID_HASHES))}, which cannot be used"
            )
            return
        if self._new(der):
            self.ocsps.append(response)

    def add_revocation_choices(self, choices: Iterable[bytes]) -> None:
        """RevocationInfoChoice elements as stored (RFC 5652 §10.2.1, RFC 5940 §4.1)."""
        for choice in choices:
            try:
                if choice[:1] == b"\x30":
                    self.add_crl(choice)
                elif choice[:1] == b"\xa1":
                    oid_tlv, value = split_tlvs(split_tlvs(choice)[0].content)
                    oid = cms.OtherRevInfoFormatId.load(oid_tlv.encoded).dotted
                    if oid in (_ID_RI_OCSP_RESPONSE, _ID_PKIX_OCSP_BASIC):
                        self.add_ocsp(value.encoded, basic=oid == _ID_PKIX_OCSP_BASIC)
            except (ValueError, IndexError) as exc:
                self.problems.append(f"an embedded revocation value is malformed ({exc})")

    def add_signed_data(self, signed_data: cms.SignedData) -> None:
        parts = signed_data_parts(signed_data)
        for encoding in parts.certificate_choices:
            if encoding[:1] == b"\x30":  # CertificateChoices: only plain certificates
                try:
                    self.add_certificate(x509.Certificate.load(encoding))
                except cms_core._ASN1_ERRORS as exc:
                    self.problems.append(f"an embedded certificate is malformed ({exc})")
        self.add_revocation_choices(parts.revocation_choices)

    def add_unsigned_attributes(self, signer_info: cms.SignerInfo) -> None:
        """certificate-values / revocation-values (EN 319 122-1 A.1.3, A.1.4)."""
        for attribute in signer_info_parts(signer_info).unsigned_attributes:
            for value in attribute.values:
                try:
                    if attribute.oid == CERTIFICATE_VALUES:
                        for certificate in CertificateValues.load(value):
                            self.add_certificate(certificate)
                    elif attribute.oid == REVOCATION_VALUES:
                        values = RevocationValues.load(value)
                        for certificate_list in values["crl_vals"] or []:
                            self.add_crl(certificate_list.dump())
                        for basic in values["ocsp_vals"] or []:
                            self.add_ocsp(basic.dump(), basic=True)
                except cms_core._ASN1_ERRORS as exc:
                    self.problems.append(f"a {attribute.oid} attribute is malformed ({exc})")


# ---------------------------------------------------------------------------------------------
# Certificate paths with pyhanko-certvalidator


@dataclass(frozen=True)
class _PathOutcome:
    """The validation of one certificate's path at one time."""

    indication: str
    sub_indication: str | None
    reasons: tuple[str, ...]
    messages: tuple[str, ...]
    revocation: str
    path: ValidationPath | None  # the validated path, or the one that failed
    network_failure: bool = False
    leaf_revoked_at: datetime | None = None
    leaf_not_yet_valid: bool = False

    @property
    def passed(self) -> bool:
        return self.indication == TOTAL_PASSED

    def chain(self, leaf: x509.Certificate) -> tuple[str, ...]:
        if self.path is None:
            return (leaf.subject.human_friendly,)
        return tuple(c.subject.human_friendly for c in reversed(list(_path_certs(self.path))))


def _path_certs(path: ValidationPath) -> Iterable[x509.Certificate]:
    """Trust anchor first, end entity last (pyhanko's order)."""
    return path.iter_certs(include_root=True)


class _Paths:
    """Validates certificate paths for one :func:`validate_signature` call.

    One ValidationContext per validation time, all sharing the fetchers (so nothing is fetched
    twice and every response fetched ends up in the material) and the embedded material.
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        embedded: _Embedded,
        fetchers: Fetchers | None,
        failures: list[FetchFailure],
    ) -> None:
        self._trust_roots = list(trust_roots)
        self._embedded = embedded
        self._fetchers = fetchers
        self._failures = failures
        self._contexts: dict[datetime, ValidationContext] = {}
        self.paths: list[ValidationPath] = []

    def context(self, moment: datetime) -> ValidationContext:
        found = self._contexts.get(moment)
        if found is None:
            found = self._contexts[moment] = ValidationContext(
                trust_roots=self._trust_roots,
                other_certs=self._embedded.certificates,
                moment=moment,
                best_signature_time=moment,
                allow_fetching=self._fetchers is not None,
                fetchers=self._fetchers,
                crls=list(self._embedded.crls),
                ocsps=list(self._embedded.ocsps),
                # Every certificate below the anchor needs an OCSP response or a CRL (TS 119 172
                # "eithercheck"); revocation information younger than `moment` is accepted, as
                # past signature validation needs (EN 319 102-1 §5.6.2.1): a revocation dated
                # after `moment` still does not count (pyhanko compares it with `moment`).
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, retroactive_revinfo=True),
            )
        return found

    async def validate(self, certificate: x509.Certificate, moment: datetime) -> _PathOutcome:
        """RFC 5280 §6.1 path validation with revocation at ``moment``; never raises."""
        start = len(self._failures)
        try:
            path = await CertificateValidator(
                certificate, validation_context=self.context(moment)
            ).async_validate_path()
        except PathValidationError as exc:
            self.paths.append(exc.original_path)
            return self._path_failure(exc, self._failures[start:])
        except (PathBuildingError, InvalidCertificateError) as exc:
            # EN 319 102-1 §5.2.6.4 / RFC 5280 §6: no path to a configured trust anchor.
            fetches = (f.message for f in self._failures[start:] if f.kind == "certificate")
            return _PathOutcome(
                INDETERMINATE,
                NO_CERTIFICATE_CHAIN_FOUND,
                ("NoChain",),
                (f"no certificate path to a trust anchor: {exc}", *fetches),
                NOT_CHECKED,
                None,
            )
        except Exception as exc:
            # Malformed certificates or revocation data, and pyhanko-certvalidator's own
            # failures (e.g. AttributeError on an OCSP CertID hashed with SHA-512): a report,
            # never an exception (SPEC §3: archiving is never blocked).
            log.warning("certificate path validation failed unexpectedly", exc_info=True)
            return _PathOutcome(
                INDETERMINATE,
                CERTIFICATE_CHAIN_GENERAL_FAILURE,
                ("ChainInvalid",),
                (f"the certificate path could not be validated: {exc!r}",),
                NOT_CHECKED,
                None,
            )
        self.paths.append(path)
        # A certificate that is itself a trust anchor has no revocation to check (§6.1).
        revocation = GOOD if path.pkix_len > 0 else NOT_CHECKED
        return _PathOutcome(TOTAL_PASSED, None, (), (), revocation, path)

    def _path_failure(
        self, exc: PathValidationError, failures: Sequence[FetchFailure]
    ) -> _PathOutcome:
        """EN 319 102-1 §5.2.6.4: the X.509 validation building block's sub-indications."""

        def failed(
            sub: str,
            reason: str,
            revocation: str = NOT_CHECKED,
            *,
            revoked_at: datetime | None = None,
            not_yet_valid: bool = False,
        ) -> _PathOutcome:
            return _PathOutcome(
                INDETERMINATE,
                sub,
                (reason,),
                (str(exc),),
                revocation,
                exc.original_path,
                leaf_revoked_at=revoked_at,
                leaf_not_yet_valid=not_yet_valid,
            )

        if isinstance(exc, RevokedError):
            if exc.is_ee_cert:  # TOTAL-FAILED/REVOKED is decided with the signing time
                return failed(
                    REVOKED_NO_POE, "SignerRevoked", REVOKED_STATUS, revoked_at=exc.revocation_dt
                )
            return failed(REVOKED_CA_NO_POE, "ChainCertificateRevoked", REVOKED_STATUS)
        if isinstance(exc, ExpiredError | NotYetValidError):
            # Outside the validity period at the time validated at (no POE inside it).
            reason = (
                "CertificateExpired" if isinstance(exc, ExpiredError) else "CertificateNotYetValid"
            )
            if not exc.is_ee_cert:
                reason = "Chain" + reason
            not_yet_valid = isinstance(exc, NotYetValidError) and exc.is_ee_cert
            return failed(OUT_OF_BOUNDS_NO_POE, reason, not_yet_valid=not_yet_valid)
        if isinstance(exc, DisallowedAlgorithmError):
            # EN 319 102-1 §5.2.8: cryptographic constraints, no POE before the algorithm aged.
            return failed(CRYPTO_CONSTRAINTS_FAILURE_NO_POE, "WeakAlgorithm")
        if isinstance(exc, InsufficientRevinfoError):
            return self._no_revocation(exc, failures)
        return failed(CERTIFICATE_CHAIN_GENERAL_FAILURE, "ChainInvalid")

    def _no_revocation(
        self, exc: InsufficientRevinfoError, failures: Sequence[FetchFailure]
    ) -> _PathOutcome:
        """EN 319 102-1 §5.2.5 / §5.2.6.4: no acceptable revocation status -> TRY_LATER.

        Which kind it is decides what the caller does: unreachable services are retried,
        a CA that publishes nothing (or nothing fresh) is recorded as a problem.
        """
        revocation_failures = [f for f in failures if f.kind in ("ocsp", "crl")]
        messages = (str(exc), *(f.message for f in revocation_failures))
        if any(f.network for f in revocation_failures):
            return _PathOutcome(
                INDETERMINATE,
                TRY_LATER,
                ("RevocationUnavailable",),
                messages,
                UNAVAILABLE,
                exc.original_path,
                network_failure=True,
            )
        if isinstance(exc, StaleRevinfoError):
            reason, status = "RevocationNotFresh", UNKNOWN
        elif self._fetchers is None and not (self._embedded.crls or self._embedded.ocsps):
            reason, status = "RevocationNotChecked", NOT_CHECKED
        else:
            reason, status = "NoRevocationInfo", UNKNOWN
        return _PathOutcome(
            INDETERMINATE, TRY_LATER, (reason,), messages, status, exc.original_path
        )

    def material(self, fetched_ocsps: Iterable[bytes], fetched_crls: Iterable[bytes]) -> _Material:
        """Certificates of every path validated, responders and CRL issuers with theirs."""
        material = _Material()
        for path in self.paths:
            material.add_path(path)
        ocsp_ders = [*fetched_ocsps, *(r.dump() for r in self._embedded.ocsps)]
        crl_ders = [*fetched_crls, *(c.dump() for c in self._embedded.crls)]
        for der in ocsp_ders:
            material.ocsps.setdefault(der, None)
            for responder in _ocsp_certificates(der):
                material.certificates.setdefault(responder.dump(), None)
                self._add_validated_path(material, responder)
        for der in crl_ders:
            material.crls.setdefault(der, None)
            certificate_list = crl.CertificateList.load(der)
            for context in self._contexts.values():
                issuer = context.revinfo_manager.check_crl_issuer(certificate_list)
                if issuer is not None:
                    material.certificates.setdefault(issuer.dump(), None)
                    self._add_validated_path(material, issuer)
        return material

    def _add_validated_path(self, material: _Material, certificate: x509.Certificate) -> None:
        for context in self._contexts.values():
            path = context.check_validation(certificate)  # type: ignore[no-untyped-call]
            if path is not None:
                material.add_path(path)
                return


def _ocsp_certificates(der: bytes) -> list[x509.Certificate]:
    try:
        response = ocsp.OCSPResponse.load(der)
        basic = response["response_bytes"]["response"].parsed
        certs = basic["certs"]
        return [] if certs.native is None else list(certs)
    except (*cms_core._ASN1_ERRORS, AttributeError):
        return []


@dataclass
class _Material:
    """Ordered, de-duplicated DER (dicts keep insertion order)."""

    certificates: dict[bytes, None] = field(default_factory=dict)
    crls: dict[bytes, None] = field(default_factory=dict)
    ocsps: dict[bytes, None] = field(default_factory=dict)

    def add_path(self, path: ValidationPath) -> None:
        for certificate in reversed(list(_path_certs(path))):
            self.certificates.setdefault(certificate.dump(), None)

    def freeze(self) -> ValidationMaterial:
        return ValidationMaterial(
            certificates=tuple(self.certificates),
            crls=tuple(self.crls),
            ocsp_responses=tuple(self.ocsps),
        )


# ---------------------------------------------------------------------------------------------
# Time-stamps


@dataclass(frozen=True)
class _Stamp:
    """A signature- or archive-time-stamp check, whatever its kind."""

    kind: str
    token: TimestampToken | None
    token_check: TokenCheck | None
    gen_time: datetime | None
    imprint_ok: bool | None
    technically_ok: bool
    failure_code: str | None
    failure_reason: str | None

    @classmethod
    def of_signature(cls, check: SignatureTimestampCheck) -> _Stamp:
        return cls(
            "signature",
            check.token,
            check.token_check,
            check.gen_time,
            check.imprint_ok,
            check.ok,
            check.failure_code,
            check.failure_reason,
        )

    @classmethod
    def of_archive(cls, check: ArchiveTimestampCheck) -> _Stamp:
        return cls(
            f"archive-{check.kind.value}",
            check.token,
            check.token_check,
            check.gen_time,
            check.imprint_ok,
            check.ok,
            check.failure_code,
            check.failure_reason,
        )


async def _check_stamp(stamp: _Stamp, paths: _Paths, moment: datetime) -> _StampResult:
    """A time-stamp is valid when intact and its TSA path validates at ``moment``
    (EN 319 102-1 §5.4, time-stamp validation building block)."""
    tsa = stamp.token_check.signer_certificate if stamp.token_check is not None else None
    signature_ok = stamp.token_check is not None and stamp.token_check.signature_ok
    outcome: _PathOutcome | None = None
    indication: str
    sub: str | None
    problem: str | None
    if not stamp.technically_ok:
        code = stamp.failure_code or HASH_FAILURE
        broken = code in (HASH_FAILURE, SIG_CRYPTO_FAILURE, FORMAT_FAILURE)
        indication, sub, revocation = (TOTAL_FAILED if broken else INDETERMINATE), code, NOT_CHECKED
        problem = stamp.failure_reason or "the time-stamp token is not intact"
    elif tsa is None:  # cannot happen for a technically valid token; kept for the type checker
        indication, sub, revocation = INDETERMINATE, NO_SIGNING_CERTIFICATE_FOUND, NOT_CHECKED
        problem = "the TSA certificate was not found"
    else:
        outcome = await paths.validate(tsa, moment)
        indication, sub, revocation = outcome.indication, outcome.sub_indication, outcome.revocation
        problem = "; ".join(outcome.messages) or None
    summary = TimestampSummary(
        kind=stamp.kind,
        gen_time=stamp.gen_time,
        tsa_subject=tsa.subject.human_friendly if tsa is not None else None,
        tsa_certificate_not_after=tsa.not_valid_after if tsa is not None else None,
        imprint_ok=stamp.imprint_ok,
        signature_ok=signature_ok,
        indication=indication,
        sub_indication=sub,
        revocation=revocation,
        validated_at=moment if outcome is not None else None,
        problem=problem,
    )
    return _StampResult(summary, outcome is not None and outcome.network_failure)


@dataclass(frozen=True)
class _StampResult:
    summary: TimestampSummary
    network_failure: bool


async def _check_stamps(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest_for: ContentDigestFor,
    paths: _Paths,
    validation_time: datetime,
) -> tuple[list[_StampResult], list[_StampResult], datetime | None, list[str]]:
    """Check every time-stamp along the time slide (EN 319 102-1 §5.6.2.3, §5.6.3).

    Returns the signature-time-stamp results, the archive ones, the earliest POE of the
    signature (None: no valid time-stamp), and problems met while reading them.
    """
    problems: list[str] = []
    try:
        signature_stamps = [
            _Stamp.of_signature(c) for c in verify_signature_timestamps(signed_data, signer_info)
        ]
        archive_stamps = [
            _Stamp.of_archive(c)
            for c in verify_archive_timestamps(signed_data, signer_info, content_digest_for)
        ]
    except ArchiveError as exc:  # a SignedData/SignerInfo its parsers cannot split
        return [], [], None, [f"the time-stamps could not be read: {exc}"]

    # Newest archive time-stamp first, at the validation time; each valid one gives a POE at
    # its genTime for everything it covers, older archive time-stamps included.
    poe = validation_time
    archive_results: list[_StampResult] = []
    for stamp in reversed(archive_stamps):
        result = await _check_stamp(stamp, paths, poe)
        archive_results.append(result)
        if result.summary.valid and stamp.gen_time is not None:
            poe = min(poe, stamp.gen_time)
    archive_results.reverse()

    signature_results = [await _check_stamp(s, paths, poe) for s in signature_stamps]
    proofs = [
        r.summary.gen_time
        for r in signature_results + archive_results
        if r.summary.valid and r.summary.gen_time is not None
    ]
    return signature_results, archive_results, min(proofs) if proofs else None, problems


# ---------------------------------------------------------------------------------------------
# The validation


def validate_signature(
    signature: bytes,
    signer_index: int,
    content_digest_for: ContentDigestFor,
    *,
    trust_roots: Sequence[TrustRoot],
    validation_time: datetime | None = None,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> tuple[SignatureReport, ValidationMaterial]:
    """Validate signer ``signer_index`` of a CMS/CAdES ``signature`` (EN 319 102-1 §5.3-§5.6).

    ``content_digest_for(algorithm)`` is the digest of the signed content (the detached
    document, or eContent) for an asn1crypto algorithm name; it may raise ``LookupError`` for
    one it does not have. ``trust_roots`` are the only trust anchors (none: nothing is
    trusted). ``validation_time`` defaults to now. With ``fetch_revocation=False`` nothing is
    fetched: only the material inside the signature is used. ``timeout`` bounds each request.

    Returns the report and the material for CAdES-LT. Raises only :class:`SignatureRejected`
    (not a CMS SignedData) or :class:`InvalidInput` (no such signer). Synchronous wrapper of
    :func:`async_validate_signature`; do not call it from a running event loop.
    """
    return asyncio.run(
        async_validate_signature(
            signature,
            signer_index,
            content_digest_for,
            trust_roots=trust_roots,
            validation_time=validation_time,
            fetch_revocation=fetch_revocation,
            timeout=timeout,
        )
    )


async def async_validate_signature(
    signature: bytes,
    signer_index: int,
    content_digest_for: ContentDigestFor,
    *,
    trust_roots: Sequence[TrustRoot],
    validation_time: datetime | None = None,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> tuple[SignatureReport, ValidationMaterial]:
    """:func:`validate_signature` for asynchronous callers."""
    if validation_time is None:
        validation_time = datetime.now(UTC)
    elif validation_time.utcoffset() is None:
        raise ValueError("validation_time must be timezone-aware")
    parsed = cms_core.parse_signature(signature)
    signed_data = parsed.signed_data
    signer_infos = list(signed_data["signer_infos"])
    if not 0 <= signer_index < len(signer_infos):
        raise InvalidInput(
            f"The signature has {len(signer_infos)} signer(s); there is no signer {signer_index}.",
            code="NoSuchSigner",
        )
    signer_info = signer_infos[signer_index]
    run = _Run(signer_index, signed_data, signer_info, validation_time)

    embedded = _Embedded()
    try:
        embedded.add_signed_data(signed_data)
        embedded.add_unsigned_attributes(signer_info)
    except SignatureRejected as exc:
        run.messages.append(exc.description)

    # EN 319 102-1 §5.2.7 / §5.2.8: the signature value and the message digest.
    check = _check_signer(
        parsed, signer_index, signer_info, embedded.certificates, content_digest_for
    )
    run.signer_check = check
    if check.failure_code is not None:
        indication, sub, reason = _SIGNER_FAILURES.get(
            check.failure_code, (INDETERMINATE, FORMAT_FAILURE, "BadSignature")
        )
        run.messages.append(check.failure_reason or check.failure_code)
        return run.report(indication, sub, (reason,)), ValidationMaterial((), (), ())
    signer = check.signer_certificate
    assert signer is not None  # a verified signature has its certificate

    session = http_session() if fetch_revocation else None
    backend = (
        AIOHttpFetcherBackend(session, per_request_timeout=timeout, limits=FETCH_LIMITS)
        if session is not None
        else None
    )
    failures: list[FetchFailure] = []
    fetchers = logging_fetchers(backend.get_fetchers(), failures) if backend else None
    try:
        return await _validate_with_paths(
            run, signer, embedded, trust_roots, fetchers, failures, content_digest_for
        )
    finally:
        if session is not None:
            await session.close()


async def _validate_with_paths(
    run: _Run,
    signer: x509.Certificate,
    embedded: _Embedded,
    trust_roots: Sequence[TrustRoot],
    fetchers: Fetchers | None,
    failures: list[FetchFailure],
    content_digest_for: ContentDigestFor,
) -> tuple[SignatureReport, ValidationMaterial]:
    # Certificates inside time-stamp tokens help build any path (EN 319 122-1 §5.5.3).
    for stamp_attr in _token_signed_data(run.signer_info):
        embedded.add_signed_data(stamp_attr)
    run.messages.extend(embedded.problems)
    paths = _Paths([_asn1_certificate(r) for r in trust_roots], embedded, fetchers, failures)

    signature_stamps, archive_stamps, poe, problems = await _check_stamps(
        run.signed_data, run.signer_info, content_digest_for, paths, run.validation_time
    )
    run.messages.extend(problems)
    run.timestamps = tuple(r.summary for r in signature_stamps + archive_stamps)
    run.best_signature_time = poe or run.validation_time

    # EN 319 102-1 §5.5 / §5.6.2.1: the signer's path at the best signature time.
    outcome = await paths.validate(signer, run.best_signature_time)
    run.chain = outcome.chain(signer)
    run.revocation = outcome.revocation
    run.messages.extend(outcome.messages)
    indication, sub, reasons = outcome.indication, outcome.sub_indication, list(outcome.reasons)
    if outcome.leaf_revoked_at is not None:
        claimed = run.signer_check.signing_time if run.signer_check else None
        if claimed is not None and outcome.leaf_revoked_at <= claimed:
            # EN 319 102-1 §5.2.6.4: revoked before the time the signer claims to have signed.
            indication, sub = TOTAL_FAILED, REVOKED
    elif outcome.leaf_not_yet_valid and poe is not None:
        # EN 319 102-1 §5.5.4: proven to exist before the signing certificate was issued.
        indication, sub = TOTAL_FAILED, NOT_YET_VALID
    elif outcome.passed and not _key_usage_allows_signing(signer):
        indication, sub = INDETERMINATE, CHAIN_CONSTRAINTS_FAILURE
        reasons.append("KeyUsageMismatch")
        run.messages.append(
            "the signer's certificate allows neither digitalSignature nor nonRepudiation "
            "(RFC 5280 §4.2.1.3)"
        )

    if signature_stamps and not any(r.summary.valid for r in signature_stamps):
        reasons.append("NoValidSignatureTimestamp")
    if archive_stamps and not archive_stamps[-1].summary.valid:
        reasons.append("NoValidArchiveTimestamp")
    for result in signature_stamps + archive_stamps:
        if not result.summary.valid and result.summary.problem:
            run.messages.append(f"{result.summary.kind} time-stamp: {result.summary.problem}")
    run.revocation_unavailable = outcome.network_failure or any(
        r.network_failure for r in signature_stamps + archive_stamps
    )

    material = paths.material(
        sorted(r.dump() for r in fetchers.ocsp_fetcher.fetched_responses()) if fetchers else (),
        sorted(c.dump() for c in fetchers.crl_fetcher.fetched_crls()) if fetchers else (),
    )
    material.certificates = {signer.dump(): None, **material.certificates}
    return run.report(indication, sub, tuple(reasons)), material.freeze()


def _check_signer(
    parsed: cms_core.ParsedSignature,
    index: int,
    signer_info: cms.SignerInfo,
    certificates: Sequence[x509.Certificate],
    content_digest_for: ContentDigestFor,
) -> cms_core.SignerCheck:
    try:
        return cms_core.check_signer_info(
            signer_info,
            certificates,
            content_digest_for,
            index,
            content_type=parsed.signed_data["encap_content_info"]["content_type"].native,
            content=parsed.encapsulated_content,
        )
    except (LookupError, ArchiveError) as exc:
        # EN 319 102-1 §5.2.8: the signed data object cannot be obtained.
        return cms_core.SignerCheck(
            index=index,
            signer_certificate=cms_core.find_signer_certificate(signer_info["sid"], certificates),
            signer_subject=None,
            digest_algorithm=signer_info["digest_algorithm"]["algorithm"].native,
            signature_algorithm="unknown",
            signing_time=None,
            signed_attrs_encoding="none",
            message_digest_ok=False,
            signature_ok=False,
            failure_code=_CONTENT_NOT_FOUND,
            failure_reason=f"the digest of the signed content is not available: {exc}",
        )


def _token_signed_data(signer_info: cms.SignerInfo) -> list[cms.SignedData]:
    """SignedData of every time-stamp token in the unsigned attributes (parse errors skipped)."""
    found = []
    for attribute in signer_info_parts(signer_info).unsigned_attributes:
        if attribute.oid in TIME_STAMP_ATTRIBUTE_OIDS:
            for value in attribute.values:
                try:
                    found.append(parse_timestamp_token(value).signed_data)
                except SignatureRejected:
                    continue
    return found


def _asn1_certificate(root: TrustRoot) -> x509.Certificate:
    if isinstance(root, crypto_x509.Certificate):
        return x509.Certificate.load(root.public_bytes(Encoding.DER))
    return root


def _key_usage_allows_signing(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.3: without the extension any use is allowed."""
    usage = certificate.key_usage_value
    if usage is None:
        return True
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


class _Run:
    """What is known so far about one signer; becomes the report."""

    def __init__(
        self,
        signer_index: int,
        signed_data: cms.SignedData,
        signer_info: cms.SignerInfo,
        validation_time: datetime,
    ) -> None:
        self.signer_index = signer_index
        self.signed_data = signed_data
        self.signer_info = signer_info
        self.validation_time = validation_time
        self.signer_check: cms_core.SignerCheck | None = None
        self.best_signature_time: datetime | None = None
        self.chain: tuple[str, ...] = ()
        self.timestamps: tuple[TimestampSummary, ...] = ()
        self.revocation = NOT_CHECKED
        self.revocation_unavailable = False
        self.messages: list[str] = []

    def report(self, indication: str, sub: str | None, reasons: tuple[str, ...]) -> SignatureReport:
        check = self.signer_check
        certificate = check.signer_certificate if check is not None else None
        subject = certificate.subject.human_friendly if certificate is not None else None
        return SignatureReport(
            signer_index=self.signer_index,
            indication=indication,
            sub_indication=None if indication == TOTAL_PASSED else sub,
            reasons=tuple(dict.fromkeys(reasons)),
            signer_subject=subject,
            signer_certificate_sha256=(
                hashlib.sha256(certificate.dump()).hexdigest() if certificate is not None else None
            ),
            claimed_signing_time=check.signing_time if check is not None else None,
            best_signature_time=self.best_signature_time,
            level=_level(self.signed_data, self.signer_info),
            chain=self.chain or ((subject,) if subject else ()),
            timestamps=self.timestamps,
            revocation=self.revocation,
            validation_time=self.validation_time,
            revocation_unavailable=self.revocation_unavailable,
            messages=tuple(dict.fromkeys(self.messages)),
        )


def _level(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> str:
    """levels.signature_level, plus B-LT by revocation data in SignedData.crls (EN 319 122-1
    §6.3 baseline B-LT puts it there rather than in revocation-values)."""
    level = signature_level(signer_info)
    if level == "B-T":
        try:
            if signed_data_parts(signed_data).revocation_choices:
                return "B-LT"
        except SignatureRejected:
            pass
    return level
