"""The calls the archive's use cases make into the metadata repository."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sigarchive.db.models import Container
from sigarchive.metadata import content, problem_reports, references


def container_stored(session: Session, container: Container) -> None:
    """A new container: hang it in the content tree and index the certificates its
    signatures carry (the signer, its chain; same transaction as the upload)."""
    session.flush()
    content.place(
        session.connection(),
        container.id,
        container.storage_id,
        container.structure_name,
        container.name,
    )
    references.index_container(session, container)


def signatures_changed(session: Session, container_id: str) -> None:
    """A signature gained a time-stamp or validation data: index the certificates that came
    with it (the TSA's, the revocation responders') at once, not only when enhancement ends."""
    container = session.get(Container, container_id)
    if container is not None:
        references.index_container(session, container)


def container_enhanced(session: Session, container: Container) -> None:
    """A container was enhanced or renewed: the problems its signatures' validity raises.

    Its references are already current: every saved step indexed them
    (:func:`signatures_changed`), so they are not read again here."""
    problem_reports.report_signature_validity(session, container)
