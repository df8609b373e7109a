"""References: for each certificate, the containers that depend on it.

The seed's References section "contains information about references to a given artifact. It
is the inverse of the dependency relationship", kept "outside the main model" and needing no
referential integrity. A container depends on the certificates its signatures carry:

- ``signer``: a signer's certificate (matched by the SignerInfo's identifier);
- ``tsa``: the certificate that signed a signature- or archive-time-stamp;
- ``revocation``: an OCSP responder's certificate (from the OCSP responses embedded in
  SignedData.crls, in revocation-values, or in a time-stamp token);
- ``chain``: any other certificate carried (CAs of the signer's and the TSAs' paths).

They are read from the signature bytes at upload and again whenever enhancement or renewal
adds to them (one row per certificate, container and type), so "this CA was compromised —
which containers are affected?" is one range of the unique index on ``certificate_sha256``,
page by page, on every backend (Archiva's "used by" queries were answered by some backends
only).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import ocsp, x509
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sigarchive.db.metadata_models import CertificateRecord, CertificateReference, table_of
from sigarchive.db.models import Container, utcnow
from sigarchive.errors import ArchiveError
from sigarchive.signatures import Inventory, TimestampKind, read_inventory

log = logging.getLogger("sigarchive.metadata.references")

REFERENCE_TYPES = ("signer", "chain", "tsa", "revocation")
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, ArchiveError)


@dataclass(frozen=True)
class Dependency:
    sha256: str
    reference_type: str
    certificate: x509.Certificate


def certificate_sha256(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.dump()).hexdigest()


class _Collector:
    """Certificates a signature carries (its inventory), with every role each one plays."""

    def __init__(self) -> None:
        self.certificates: dict[str, x509.Certificate] = {}
        self.roles: dict[str, set[str]] = {}
        self.responders: list[ocsp.ResponderId] = []

    def add(self, certificate: x509.Certificate, role: str | None) -> None:
        digest = certificate_sha256(certificate)
        self.certificates.setdefault(digest, certificate)
        roles = self.roles.setdefault(digest, set())
        if role is not None:
            roles.add(role)

    def inventory(self, inventory: Inventory) -> None:
        for signer in inventory.signers:
            for carried in signer.certificates:
                self.add(carried.certificate, None)
            if signer.signer_certificate is not None:
                self.add(signer.signer_certificate, "signer")
            for stamp in signer.timestamps:
                if stamp.token is not None and stamp.token.signer_certificate is not None:
                    self.add(stamp.token.signer_certificate, "tsa")
            for revocation in signer.revocations:
                if revocation.kind != "ocsp":
                    continue
                try:
                    basic = revocation.basic_response()
                    self.responders.append(basic["tbs_response_data"]["responder_id"])
                    certs = basic["certs"]
                    for certificate in certs if certs.native is not None else []:
                        self.add(certificate, None)
                except _PARSE_ERRORS:
                    continue

    def mark_responders(self) -> None:
        for responder in self.responders:
            for digest, certificate in self.certificates.items():
                try:
                    if responder.name == "by_name":
                        match = responder.chosen == certificate.subject
                    else:
                        match = responder.chosen.native == certificate.public_key.sha1
                except _PARSE_ERRORS:
                    match = False
                if match:
                    self.roles[digest].add("revocation")


def dependencies(signature: bytes) -> list[Dependency]:
    """Every certificate ``signature`` depends on, with its role(s). Never raises: what cannot
    be parsed is skipped (and logged)."""
    collector = _Collector()
    try:
        collector.inventory(read_inventory(signature))
        collector.mark_responders()
    except _PARSE_ERRORS as exc:
        log.warning("certificates of a signature could not all be read: %s", exc)
    found: list[Dependency] = []
    for digest, certificate in collector.certificates.items():
        roles = collector.roles.get(digest) or {"chain"}
        found.extend(Dependency(digest, role, certificate) for role in sorted(roles))
    return found


def _certificate_row(certificate: x509.Certificate, digest: str) -> dict[str, object]:
    validity = certificate["tbs_certificate"]["validity"]
    return {
        "sha256": digest,
        "subject": certificate.subject.human_friendly,
        "issuer": certificate.issuer.human_friendly,
        "serial_number": format(certificate.serial_number, "x"),
        "not_before": validity["not_before"].native,
        "not_after": validity["not_after"].native,
        "is_ca": bool(certificate.ca),
        "first_seen_at": utcnow(),
    }


def _insert_ignore(
    connection: Connection, table: object, rows: Sequence[dict[str, object]]
) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(postgresql.insert(table).on_conflict_do_nothing(), list(rows))  # type: ignore[arg-type]
    else:
        connection.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows))  # type: ignore[arg-type]


def index_container(session: Session, container: Container) -> int:
    """Replace the container's references with those of its current signatures; returns how
    many were written."""
    connection = session.connection()
    references = table_of(CertificateReference)
    connection.execute(delete(references).where(references.c.container_id == container.id))
    certificates: dict[str, dict[str, object]] = {}
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for signature in container.signatures:
        for dependency in dependencies(signature.enhanced or signature.original):
            if dependency.sha256 not in certificates:
                try:
                    certificates[dependency.sha256] = _certificate_row(
                        dependency.certificate, dependency.sha256
                    )
                except _PARSE_ERRORS:
                    continue
            rows[(dependency.sha256, dependency.reference_type)] = {
                "certificate_sha256": dependency.sha256,
                "container_id": container.id,
                "storage_id": container.storage_id,
                "reference_type": dependency.reference_type,
                "created_at": utcnow(),
            }
    _insert_ignore(connection, table_of(CertificateRecord), list(certificates.values()))
    if rows:
        connection.execute(insert(references), list(rows.values()))
    return len(rows)


@dataclass(frozen=True)
class TimestampInfo:
    """A time-stamp a signature carries: kind (signature / archive), genTime, its TSA."""

    kind: str
    gen_time: datetime
    tsa_subject: str | None
    tsa_not_after: datetime | None


def timestamps_of(signature: bytes) -> list[TimestampInfo]:
    """Signature- and archive-time-stamps of every signer, oldest first (never raises)."""
    found: list[TimestampInfo] = []
    try:
        for signer in read_inventory(signature).signers:
            for stamp in signer.timestamps:
                token = stamp.token
                if token is None or stamp.depth:
                    continue
                if stamp.kind is TimestampKind.SIGNATURE:
                    kind = "signature"
                elif stamp.kind.archival:
                    kind = "archive"
                else:
                    continue
                tsa = token.signer_certificate
                found.append(
                    TimestampInfo(
                        kind,
                        token.gen_time,
                        tsa.subject.human_friendly if tsa is not None else None,
                        tsa["tbs_certificate"]["validity"]["not_after"].native
                        if tsa is not None
                        else None,
                    )
                )
    except _PARSE_ERRORS as exc:
        log.warning("time-stamps of a signature could not all be read: %s", exc)
    return sorted(found, key=lambda t: t.gen_time)


# ---- queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Referrer:
    container_id: str
    storage_id: int
    reference_types: tuple[str, ...]


def referrers(
    session: Session,
    sha256: str,
    *,
    storage_ids: Sequence[int] | None,
    after: str | None,
    limit: int,
    reference_type: str | None = None,
) -> list[Referrer]:
    """Containers depending on the certificate, by container id after ``after``; at most
    ``limit`` containers (``storage_ids`` None: every storage)."""
    ref = CertificateReference
    query = select(ref.container_id, ref.storage_id, ref.reference_type).where(
        ref.certificate_sha256 == sha256.lower()
    )
    if storage_ids is not None:
        query = query.where(ref.storage_id.in_(list(storage_ids) or [-1]))
    if reference_type is not None:
        query = query.where(ref.reference_type == reference_type)
    if after is not None:
        query = query.where(ref.container_id > after)
    # at most 4 types per container: 4 * limit rows hold ``limit`` containers
    found: dict[str, Referrer] = {}
    for container_id, storage_id, kind in session.execute(
        query.order_by(ref.container_id, ref.reference_type).limit(limit * len(REFERENCE_TYPES))
    ):
        if container_id not in found and len(found) == limit:
            break
        previous = found.get(container_id)
        types = (*previous.reference_types, kind) if previous else (kind,)
        found[container_id] = Referrer(container_id, storage_id, types)
    return list(found.values())


def referrer(
    session: Session, sha256: str, container_id: str, *, storage_ids: Sequence[int] | None
) -> Referrer | None:
    """How one container depends on the certificate (None if it does not, or is not visible)."""
    ref = CertificateReference
    query = select(ref.storage_id, ref.reference_type).where(
        ref.certificate_sha256 == sha256.lower(), ref.container_id == container_id
    )
    if storage_ids is not None:
        query = query.where(ref.storage_id.in_(list(storage_ids) or [-1]))
    rows = list(session.execute(query.order_by(ref.reference_type)))
    if not rows:
        return None
    return Referrer(container_id, rows[0].storage_id, tuple(row.reference_type for row in rows))


def certificates_of_storage(
    session: Session, storage_id: int | None, after: str | None, limit: int
) -> list[str]:
    """Distinct certificates the storage's containers depend on, in SHA-256 order, one page:
    a loose index scan (one index seek per certificate), never a scan of the references."""
    ref = CertificateReference
    found: list[str] = []
    current = after or ""
    while len(found) < limit:
        query = select(ref.certificate_sha256).where(ref.certificate_sha256 > current)
        if storage_id is not None:
            query = query.where(ref.storage_id == storage_id)
        nxt = session.scalar(query.order_by(ref.certificate_sha256).limit(1))
        if nxt is None:
            break
        found.append(nxt)
        current = nxt
    return found


def certificate(session: Session, sha256: str) -> CertificateRecord | None:
    return session.get(CertificateRecord, sha256.lower())
