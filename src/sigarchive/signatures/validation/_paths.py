"""Certificate paths with pyhanko-certvalidator (RFC 5280 §6), at a given time, with the
material the signature carries and what is fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import crl, ocsp, x509
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
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from sigarchive.signatures.cms import ASN1_ERRORS
from sigarchive.signatures.indications import Indication, RevocationStatus, SubIndication
from sigarchive.signatures.inventory import SignerInventory, Source
from sigarchive.signatures.validation.fetching import FetchFailure
from sigarchive.signatures.validation.report import ValidationMaterial

log = logging.getLogger("sigarchive.signatures.validation")

#: CertID hash algorithms pyhanko-certvalidator can match (RFC 6960 §4.1.1).
_CERT_ID_HASHES = frozenset({"sha1", "sha256"})


@dataclass
class Embedded:
    """The certificates and revocation values of a signer's inventory, as pyhanko-certvalidator
    takes them (each DER once; the signature's own first, then its time-stamp tokens')."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[crl.CertificateList] = field(default_factory=list)
    ocsps: list[ocsp.OCSPResponse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, inventory: SignerInventory, *, with_timestamps: bool) -> Embedded:
        """What the signature itself carries; ``with_timestamps``: also the SignedData of its
        time-stamp tokens (their certificates help build any path, EN 319 122-1 §5.5.3)."""

        def wanted(depth: int, source: Source) -> bool:
            return depth == 0 or (with_timestamps and depth == 1 and source is Source.SIGNED_DATA)

        found = cls(problems=list(inventory.problems))
        seen: set[bytes] = set()
        certificates = sorted(
            (c for c in inventory.certificates if wanted(c.depth, c.source)),
            key=lambda c: c.depth,
        )
        for carried in certificates:
            if carried.encoded not in seen:
                seen.add(carried.encoded)
                found.certificates.append(carried.certificate)
        revocations = sorted(
            (r for r in inventory.revocations if wanted(r.depth, r.source)), key=lambda r: r.depth
        )
        for revocation in revocations:
            if revocation.kind == "crl":
                if revocation.encoded not in seen:
                    seen.add(revocation.encoded)
                    found.crls.append(crl.CertificateList.load(revocation.encoded))
            else:
                found._add_ocsp(revocation.ocsp_response(), seen)
        return found

    def _add_ocsp(self, response: ocsp.OCSPResponse, seen: set[bytes]) -> None:
        der = response.dump()
        if der in seen:
            return
        algorithms = {
            single["cert_id"]["hash_algorithm"]["algorithm"].native
            for single in response.basic_ocsp_response["tbs_response_data"]["responses"]
        }
        if not algorithms <= _CERT_ID_HASHES:
            # pyhanko-certvalidator matches CertIDs by SHA-1 and SHA-256 only, and fails on
            # anything else (even when a CRL could answer): leave such responses out.
            self.problems.append(
                "an embedded OCSP response identifies certificates by "
                f"{', '.join(sorted(algorithms - _CERT_ID_HASHES))}, which cannot be used"
            )
            return
        seen.add(der)
        self.ocsps.append(ocsp.OCSPResponse.load(der))


@dataclass(frozen=True)
class PathOutcome:
    """The validation of one certificate's path at one time."""

    indication: Indication
    sub_indication: SubIndication | None
    reasons: tuple[str, ...]
    messages: tuple[str, ...]
    revocation: RevocationStatus
    path: ValidationPath | None  # the validated path, or the one that failed
    network_failure: bool = False
    leaf_revoked_at: datetime | None = None
    leaf_not_yet_valid: bool = False

    @property
    def passed(self) -> bool:
        return self.indication == Indication.TOTAL_PASSED

    def chain(self, leaf: x509.Certificate) -> tuple[str, ...]:
        if self.path is None:
            return (leaf.subject.human_friendly,)
        return tuple(c.subject.human_friendly for c in reversed(list(_path_certs(self.path))))


def _path_certs(path: ValidationPath) -> Iterable[x509.Certificate]:
    """Trust anchor first, end entity last (pyhanko's order)."""
    return path.iter_certs(include_root=True)


class Paths:
    """Validates certificate paths for one :func:`validate_signature` call.

    One ValidationContext per validation time, all sharing the fetchers (so nothing is fetched
    twice and every response fetched ends up in the material) and the embedded material.
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        embedded: Embedded,
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

    async def validate(self, certificate: x509.Certificate, moment: datetime) -> PathOutcome:
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
            return PathOutcome(
                Indication.INDETERMINATE,
                SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                ("NoChain",),
                (f"no certificate path to a trust anchor: {exc}", *fetches),
                RevocationStatus.NOT_CHECKED,
                None,
            )
        except Exception as exc:
            # Malformed certificates or revocation data, and pyhanko-certvalidator's own
            # failures (e.g. AttributeError on an OCSP CertID hashed with SHA-512): a report,
            # never an exception (SPEC §3: archiving is never blocked).
            log.warning("certificate path validation failed unexpectedly", exc_info=True)
            return PathOutcome(
                Indication.INDETERMINATE,
                SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                ("ChainInvalid",),
                (f"the certificate path could not be validated: {exc!r}",),
                RevocationStatus.NOT_CHECKED,
                None,
            )
        self.paths.append(path)
        # A certificate that is itself a trust anchor has no revocation to check (§6.1).
        revocation = RevocationStatus.GOOD if path.pkix_len > 0 else RevocationStatus.NOT_CHECKED
        return PathOutcome(Indication.TOTAL_PASSED, None, (), (), revocation, path)

    def _path_failure(
        self, exc: PathValidationError, failures: Sequence[FetchFailure]
    ) -> PathOutcome:
        """EN 319 102-1 §5.2.6.4: the X.509 validation building block's sub-indications."""

        def failed(
            sub: SubIndication,
            reason: str,
            revocation: RevocationStatus = RevocationStatus.NOT_CHECKED,
            *,
            revoked_at: datetime | None = None,
            not_yet_valid: bool = False,
        ) -> PathOutcome:
            return PathOutcome(
                Indication.INDETERMINATE,
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
                    SubIndication.REVOKED_NO_POE,
                    "SignerRevoked",
                    RevocationStatus.REVOKED,
                    revoked_at=exc.revocation_dt,
                )
            return failed(
                SubIndication.REVOKED_CA_NO_POE, "ChainCertificateRevoked", RevocationStatus.REVOKED
            )
        if isinstance(exc, ExpiredError | NotYetValidError):
            # Outside the validity period at the time validated at (no POE inside it).
            reason = (
                "CertificateExpired" if isinstance(exc, ExpiredError) else "CertificateNotYetValid"
            )
            if not exc.is_ee_cert:
                reason = "Chain" + reason
            not_yet_valid = isinstance(exc, NotYetValidError) and exc.is_ee_cert
            return failed(SubIndication.OUT_OF_BOUNDS_NO_POE, reason, not_yet_valid=not_yet_valid)
        if isinstance(exc, DisallowedAlgorithmError):
            # EN 319 102-1 §5.2.8: cryptographic constraints, no POE before the algorithm aged.
            return failed(SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, "WeakAlgorithm")
        if isinstance(exc, InsufficientRevinfoError):
            return self._no_revocation(exc, failures)
        return failed(SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, "ChainInvalid")

    def _no_revocation(
        self, exc: InsufficientRevinfoError, failures: Sequence[FetchFailure]
    ) -> PathOutcome:
        """EN 319 102-1 §5.2.5 / §5.2.6.4: no acceptable revocation status -> TRY_LATER.

        Which kind it is decides what the caller does: unreachable services are retried,
        a CA that publishes nothing (or nothing fresh) is recorded as a problem.
        """
        revocation_failures = [f for f in failures if f.kind in ("ocsp", "crl")]
        messages = (str(exc), *(f.message for f in revocation_failures))
        if any(f.network for f in revocation_failures):
            return PathOutcome(
                Indication.INDETERMINATE,
                SubIndication.TRY_LATER,
                ("RevocationUnavailable",),
                messages,
                RevocationStatus.UNAVAILABLE,
                exc.original_path,
                network_failure=True,
            )
        if isinstance(exc, StaleRevinfoError):
            reason, status = "RevocationNotFresh", RevocationStatus.UNKNOWN
        elif self._fetchers is None and not (self._embedded.crls or self._embedded.ocsps):
            reason, status = "RevocationNotChecked", RevocationStatus.NOT_CHECKED
        else:
            reason, status = "NoRevocationInfo", RevocationStatus.UNKNOWN
        return PathOutcome(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            (reason,),
            messages,
            status,
            exc.original_path,
        )

    def material(self, fetched_ocsps: Iterable[bytes], fetched_crls: Iterable[bytes]) -> Material:
        """Certificates of every path validated, responders and CRL issuers with theirs."""
        material = Material()
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

    def _add_validated_path(self, material: Material, certificate: x509.Certificate) -> None:
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
    except (*ASN1_ERRORS, AttributeError):
        return []


@dataclass
class Material:
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
