"""Enhancement: every signature of a container to CAdES-A, and renewal of archive time-stamps.

Steps per signature (ETSI EN 319 122-1): signature-time-stamp (B-T); validation, then the
certificates and revocation values it used (B-LT); archive-time-stamp-v3 (B-LTA). Each result
is written under the container's lease (fenced), so a retry resumes from what was saved and
never adds a second time-stamp for the same step:

- B-T is added only to signers that have no signature-time-stamp yet;
- an archive time-stamp is added only when the signature's newest one is older than the
  step's *threshold*: the container's creation for the first enhancement (so an archive
  time-stamp uploaded with the signature is followed by ours, one we made is not repeated),
  the moment renewal became due for a renewal.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms, x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.archive.leases import Lease, hold, release
from sigarchive.archive.trust import trust_roots
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, Signature, utcnow
from sigarchive.domain import ContainerStatus
from sigarchive.errors import ArchiveError, ServiceUnavailable
from sigarchive.metadata.hooks import container_enhanced, signatures_changed
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record
from sigarchive.signatures import (
    SignatureReport,
    TimeStamper,
    TimestampToken,
    ValidationMaterial,
    read_inventory,
    validate_signature,
)
from sigarchive.signatures import augment as cades

log = logging.getLogger("sigarchive.enhancement")

SYSTEM = Actor.system("signature-updater")
#: Problems that a successful enhancement closes.
ENHANCEMENT_PROBLEMS = ("enhancement-failed", "tsa-unavailable")
REVOCATION_PROBLEM = "revocation-unavailable"


@dataclass(frozen=True)
class EnhancementPolicy:
    """How enhancement behaves; built from Settings."""

    timestamp_algorithm: str = "sha256"
    #: Renew this long before the newest archive time-stamp's TSA certificate expires.
    renewal_margin: timedelta = timedelta(days=180)
    #: Wait this long for an unreachable TSA/OCSP/CRL before recording a problem
    #: (the container keeps waiting and is archived once the service is back).
    problem_after: timedelta = timedelta(hours=1)
    #: Retry back-off: first delay, doubled per attempt, capped.
    retry_first: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(hours=1)
    revocation_timeout: float = 10.0
    #: Archive without revocation data once it has been unreachable for this long.
    revocation_patience: timedelta = timedelta(hours=1)
    #: Hash algorithms no longer trusted: an archive time-stamp using one is renewed at once.
    weak_digests: frozenset[str] = frozenset({"md5", "sha1"})


@dataclass
class Enhancer:
    """Runs enhancement and renewal for leased containers."""

    db: Database
    timestamper: TimeStamper
    policy: EnhancementPolicy = field(default_factory=EnhancementPolicy)
    #: Digests of a retained document, read through its storage plugin: (location, algorithms).
    document_digests: Callable[[str, list[str]], dict[str, bytes]] | None = None
    after_enhancement: Callable[[str], None] | None = None
    #: Called inside the transaction that ends an enhancement or renewal (archived or failed),
    #: to plan the post-enhancement plugins atomically with the new status.
    on_outcome: Callable[[Session, Container], None] | None = None
    #: A storage's own renewal margin (the configuration section); None: the policy's.
    renewal_margin_for: Callable[[int], timedelta | None] | None = None

    # ---- entry points -------------------------------------------------------------------

    def process(self, lease: Lease) -> None:
        """Worker handler: first enhancement of a received container, or its due renewal."""
        self._run(lease, renewal_threshold=None)

    def renew(self, lease: Lease, threshold: datetime) -> None:
        """Add an archive time-stamp to every signature whose newest one predates ``threshold``."""
        self._run(lease, renewal_threshold=threshold)

    # ---- the pipeline -------------------------------------------------------------------

    def _run(self, lease: Lease, renewal_threshold: datetime | None) -> None:
        with self.db.session() as session:
            container = hold(session, lease)
            if container.status == ContainerStatus.STORAGE_PERIOD_ENDED:
                release(session, lease)
                return
            renewal = container.status == ContainerStatus.ARCHIVED
            if renewal and renewal_threshold is None:
                renewal_threshold = container.signature_update_date or utcnow()
            if not renewal:
                container.status = int(ContainerStatus.PROCESSING)
            created_at = container.created_at
            digests = dict(container.document_digests)
            location = container.document_location
            work = [(s.id, s.enhanced or s.original) for s in container.signatures]
            roots = trust_roots(session)
        threshold = renewal_threshold or created_at
        digest_for = self._digest_source(digests, location)
        without_revocation = False
        try:
            for signature_id, current in work:
                without_revocation |= self._enhance_signature(
                    lease, signature_id, current, digest_for, roots, threshold, created_at
                )
        except ServiceUnavailable as error:
            self._retry_later(lease, error, created_at)
            return
        except ArchiveError as error:
            if renewal:  # an archived container stays archived; the problem is reported
                self._retry_later(lease, error, created_at, kind="renewal-failed")
            else:
                self._fail(lease, error)
            return
        # a wait for OCSP/CRL that ended with their answers is over; one that ran out stays open
        resolved = ENHANCEMENT_PROBLEMS + (() if without_revocation else (REVOCATION_PROBLEM,))
        self._finish(lease, renewal=renewal, resolved=resolved)

    def _enhance_signature(
        self,
        lease: Lease,
        signature_id: int,
        current: bytes,
        digest_for: Callable[[str], bytes],
        roots: list[x509.Certificate],
        threshold: datetime,
        created_at: datetime,
    ) -> bool:
        """Bring one signature to B-LTA; True when it was archived without revocation data."""
        algorithm = self.policy.timestamp_algorithm
        # B-T: EN 319 122-1 §5.3 (signers that already have one are left alone).
        stamped = cades.add_signature_timestamp(current, self.timestamper, algorithm=algorithm)
        if stamped != current:
            self._save(lease, signature_id, stamped, None)
            current = stamped
        newest = newest_archive_time(current)
        if newest is not None and newest >= threshold:
            return False  # this step was done by an earlier attempt
        # B-LT then B-LTA: validation material for every signer and time-stamp, then an
        # archive-time-stamp-v3 over everything (EN 319 122-1 §5.5.3).
        reports, material, unreachable = self._reports(current, digest_for, roots, fetch=True)
        if unreachable:
            if utcnow() - created_at < self.policy.revocation_patience:
                raise ServiceUnavailable(
                    "OCSP/CRL services of the signature's certificates are unreachable",
                    code="RevocationUnavailable",
                )
            self._report_problem(
                lease,
                REVOCATION_PROBLEM,
                "Archived without revocation data: OCSP/CRL unreachable",
            )
        extended = cades.add_validation_data(
            current,
            certificates=material.certificates,
            crls=material.crls,
            ocsp_responses=material.ocsp_responses,
        )
        archived = cades.add_archive_timestamp_v3(
            extended, digest_for, self.timestamper, algorithm=algorithm
        )
        self._save(lease, signature_id, archived, reports)
        return unreachable

    def _reports(
        self,
        signature: bytes,
        digest_for: Callable[[str], bytes],
        roots: list[x509.Certificate],
        *,
        fetch: bool,
    ) -> tuple[list[dict[str, Any]], ValidationMaterial, bool]:
        signer_count = len(cms.ContentInfo.load(signature)["content"]["signer_infos"])
        reports: list[SignatureReport] = []
        certificates: list[bytes] = []
        crls: list[bytes] = []
        ocsp: list[bytes] = []
        for index in range(signer_count):
            report, material = validate_signature(
                signature,
                index,
                digest_for,
                trust_roots=roots,
                fetch_revocation=fetch,
                timeout=self.policy.revocation_timeout,
            )
            reports.append(report)
            certificates += material.certificates
            crls += material.crls
            ocsp += material.ocsp_responses
        material = ValidationMaterial(
            tuple(dict.fromkeys(certificates)),
            tuple(dict.fromkeys(crls)),
            tuple(dict.fromkeys(ocsp)),
        )
        unreachable = any(r.revocation_unavailable for r in reports)
        return [r.to_json() for r in reports], material, unreachable

    # ---- writes (each fenced by the lease) ----------------------------------------------

    def _save(
        self, lease: Lease, signature_id: int, data: bytes, reports: list[dict[str, Any]] | None
    ) -> None:
        # One reading of the saved bytes gives every level stored: the signature's, and those of
        # the reports, which were made before B-LT/B-LTA were added (EN 319 122-1 §6).
        signers = read_inventory(data).signers
        with self.db.session() as session:
            hold(session, lease)
            signature = session.get(Signature, signature_id)
            assert signature is not None
            signature.enhanced = data
            signature.level = signers[0].level
            if reports is not None:
                levels = {s.index: s.level for s in signers}
                signature.report = {
                    "signers": [
                        {**r, "level": levels.get(r.get("signer_index", -1), r.get("level"))}
                        for r in reports
                    ]
                }
            signatures_changed(session, lease.container_id)

    def _report_problem(self, lease: Lease, kind: str, message: str) -> None:
        with self.db.session() as session:
            hold(session, lease)
            problems.report(
                session, kind, message, container_id=lease.container_id, severity="warning"
            )

    def _finish(
        self, lease: Lease, *, renewal: bool, resolved: tuple[str, ...] = ENHANCEMENT_PROBLEMS
    ) -> None:
        with self.db.session() as session:
            container = hold(session, lease)
            container.status = int(ContainerStatus.ARCHIVED)
            container.signature_update_date = self.next_renewal(container)
            container.attempts = 0
            container.last_error = None
            # the updater claims it again when renewal is due
            container.next_attempt_at = container.signature_update_date
            problems.resolve(session, container.id, resolved)
            container_enhanced(session, container)
            record(
                session,
                "signature.renewal" if renewal else "signature.enhancement",
                SYSTEM,
                container_id=container.id,
                storage_id=container.storage_id,
                details={
                    "signatures": len(container.signatures),
                    "nextRenewal": container.signature_update_date.isoformat()
                    if container.signature_update_date
                    else None,
                },
            )
            if self.on_outcome is not None:
                self.on_outcome(session, container)
            release(session, lease)
        if self.after_enhancement is not None:
            self.after_enhancement(lease.container_id)

    def _retry_later(
        self, lease: Lease, error: ArchiveError, created_at: datetime, kind: str | None = None
    ) -> None:
        with self.db.session() as session:
            container = hold(session, lease)
            container.attempts += 1
            delay = min(
                self.policy.retry_first * (2 ** min(container.attempts - 1, 20)),
                self.policy.retry_max,
            )
            container.next_attempt_at = utcnow() + delay
            container.last_error = f"{error.code}: {error.description}"
            if kind is not None or utcnow() - created_at >= self.policy.problem_after:
                kind = kind or (
                    "revocation-unavailable"
                    if error.code == "RevocationUnavailable"
                    else "tsa-unavailable"
                )
                problems.report(
                    session,
                    kind,
                    container.last_error,
                    container_id=container.id,
                    severity="warning",
                )
            release(session, lease)
        log.warning(
            "container %s waits (%s), attempt %d", lease.container_id, error, container.attempts
        )

    def _fail(self, lease: Lease, error: ArchiveError) -> None:
        with self.db.session() as session:
            container = hold(session, lease)
            container.status = int(ContainerStatus.ERROR)
            container.last_error = f"{error.code}: {error.description}"
            container.next_attempt_at = None
            problems.report(
                session, "enhancement-failed", container.last_error, container_id=container.id
            )
            record(
                session,
                "signature.enhancement",
                SYSTEM,
                container_id=container.id,
                storage_id=container.storage_id,
                outcome="failed",
                details={"errorCode": error.code, "errorDescription": error.description},
            )
            if self.on_outcome is not None:
                self.on_outcome(session, container)
            release(session, lease)

    # ---- helpers ------------------------------------------------------------------------

    def next_renewal(self, container: Container) -> datetime | None:
        """When the next archive time-stamp is due: before the newest one's TSA certificate
        expires, less the margin, or now when its hash algorithm is no longer trusted
        (SPEC §3.5; EN 319 102-1 §5.6.3: renew while the newest time-stamp still proves)."""
        margin = self.policy.renewal_margin
        if self.renewal_margin_for is not None:
            margin = self.renewal_margin_for(container.storage_id) or margin
        dues = []
        for signature in container.signatures:
            if signature.enhanced is None:
                continue
            expiry, algorithm = newest_archive_timestamp(signature.enhanced)
            if algorithm in self.policy.weak_digests:
                dues.append(utcnow())
            elif expiry is not None:
                dues.append(expiry - margin)
        if not dues:
            return None
        return max(min(dues), utcnow() + timedelta(hours=1))

    def _digest_source(
        self, digests: dict[str, str], location: str | None
    ) -> Callable[[str], bytes]:
        known = {name: base64.b64decode(value) for name, value in digests.items()}

        def digest_for(algorithm: str) -> bytes:
            if algorithm in known:
                return known[algorithm]
            if location is None or self.document_digests is None:
                raise ArchiveError(
                    f"The document's {algorithm} digest is needed but the document is not "
                    "retained (UseArchiveCa=false)",
                    code="DocumentDigestUnavailable",
                )
            known.update(self.document_digests(location, [algorithm]))
            return known[algorithm]

        return digest_for


def _archive_tokens(signature: bytes) -> list[TimestampToken]:
    """The archive time-stamp tokens (v2, v3) of every signer, from the signature's inventory."""
    return [t for signer in read_inventory(signature).signers for t in signer.archive_tokens()]


def newest_archive_time(signature: bytes) -> datetime | None:
    """genTime of the signature's newest archive time-stamp, if any."""
    times = [token.gen_time for token in _archive_tokens(signature)]
    return max(times) if times else None


def newest_archive_timestamp(signature: bytes) -> tuple[datetime | None, str | None]:
    """The newest archive time-stamp's TSA certificate expiry and imprint hash algorithm."""
    tokens = _archive_tokens(signature)
    if not tokens:
        return None, None
    newest = max(tokens, key=lambda token: token.gen_time)
    if newest.signer_certificate is None:
        return None, newest.hash_algorithm
    validity = newest.signer_certificate["tbs_certificate"]["validity"]
    not_after: datetime = validity["not_after"].native
    return not_after, newest.hash_algorithm


def due_containers(db: Database, due_before: datetime, limit: int = 1000) -> Sequence[str]:
    """Archived containers whose next archive time-stamp is due before ``due_before``."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Container.id)
                .where(
                    Container.status == int(ContainerStatus.ARCHIVED),
                    Container.signature_update_date < due_before,
                )
                .order_by(Container.signature_update_date)
                .limit(limit)
            )
        )
