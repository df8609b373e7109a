"""Trust anchors: the roots validation builds certificate paths to (managed by operators)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from asn1crypto import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.db.models import TrustAnchor
from sigarchive.errors import InvalidInput, NotFound
from sigarchive.records.audit import Actor, record
from sigarchive.signatures import load_certificates


def add_anchor(
    session: Session, certificate: x509.Certificate, actor: Actor, source: str = "configured"
) -> TrustAnchor:
    """Trust ``certificate`` (idempotent: an anchor already trusted is returned as is)."""
    der = certificate.dump()
    digest = hashlib.sha256(der).hexdigest()
    existing = session.scalar(select(TrustAnchor).where(TrustAnchor.sha256 == digest))
    if existing is not None:
        return existing
    anchor = TrustAnchor(
        sha256=digest,
        subject=certificate.subject.human_friendly,
        not_after=certificate["tbs_certificate"]["validity"]["not_after"].native,
        der=der,
        source=source,
    )
    session.add(anchor)
    session.flush()
    record(
        session,
        "trust.add",
        actor,
        details={"sha256": digest, "subject": anchor.subject, "source": source},
    )
    return anchor


def add_anchors_from_file(session: Session, path: Path, actor: Actor) -> list[TrustAnchor]:
    return [add_anchor(session, c, actor) for c in load_certificates(path.read_bytes(), str(path))]


def remove_anchor(session: Session, sha256_prefix: str, actor: Actor) -> TrustAnchor:
    prefix = sha256_prefix.strip().lower()
    if len(prefix) < 8:
        raise InvalidInput(
            "Give at least 8 hex digits of the anchor's SHA-256", code="InvalidInput"
        )
    matches = list(
        session.scalars(select(TrustAnchor).where(TrustAnchor.sha256.startswith(prefix)))
    )
    if len(matches) != 1:
        raise NotFound(f"{len(matches)} trust anchors match {prefix!r}", code="AnchorNotFound")
    anchor = matches[0]
    session.delete(anchor)
    record(
        session, "trust.remove", actor, details={"sha256": anchor.sha256, "subject": anchor.subject}
    )
    return anchor


def list_anchors(session: Session) -> list[TrustAnchor]:
    return list(session.scalars(select(TrustAnchor).order_by(TrustAnchor.id)))


def trust_roots(session: Session) -> list[x509.Certificate]:
    return [x509.Certificate.load(anchor.der) for anchor in list_anchors(session)]
