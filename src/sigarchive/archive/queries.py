"""Reading containers: search, details, status, validation report, signatures.zip.

Each public function is one use case of the client API: it opens its own transaction, checks
visibility (unknown and ungranted containers answer alike: 404 ContainerNotFound), audits the
read (a refused one too) and returns plain values, never a database row.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from sigarchive.archive.accounts import AuthenticatedUser
from sigarchive.db.engine import Database
from sigarchive.db.models import Container
from sigarchive.domain import ContainerStatus
from sigarchive.errors import NotFound
from sigarchive.records.audit import Actor, record


@dataclass(frozen=True)
class SearchFilters:
    storage_ids: list[int] | None = None
    name: str | None = None
    source_system_id: int | None = None
    status: int | None = None
    is_archived: bool | None = None


def _is_archived(container: Container) -> bool:
    """False only for a Temporary container whose storage period has ended (seed semantics)."""
    return container.status != ContainerStatus.STORAGE_PERIOD_ENDED


def _visible_container(session: Session, user: AuthenticatedUser, container_id: str) -> Container:
    """The container if it exists in a storage granted to ``user``; 404 otherwise."""
    container = session.get(Container, container_id)
    if container is None or container.storage_id not in user.storage_ids:
        raise NotFound(f"Container {container_id} not found", code="ContainerNotFound")
    return container


def _read_container(
    session: Session, user: AuthenticatedUser, actor: Actor, container_id: str, action: str
) -> Container:
    """Fetch a visible container and audit the read; a refused read is audited too."""
    try:
        container = _visible_container(session, user, container_id)
    except NotFound:
        # The caller's transaction is rolled back by the error: the refusal is recorded in a
        # transaction of its own so that it is kept.
        with Session(session.get_bind()) as refusal, refusal.begin():
            record(refusal, action, actor, container_id=container_id, outcome="not-found")
        raise
    record(session, action, actor, container_id=container.id, storage_id=container.storage_id)
    return container


def _search(
    session: Session,
    user: AuthenticatedUser,
    actor: Actor,
    filters: SearchFilters,
    page: int,
    page_size: int,
) -> tuple[list[Container], int]:
    """Containers visible to ``user`` matching ``filters``, newest first, one page."""
    allowed = set(user.storage_ids)
    if filters.storage_ids is not None:
        allowed &= set(filters.storage_ids)
    conditions: list[ColumnElement[bool]] = [Container.storage_id.in_(allowed)]
    if filters.name:
        escaped = filters.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Container.name.like(f"%{escaped}%", escape="\\"))
    if filters.source_system_id is not None:
        conditions.append(Container.source_system_id == filters.source_system_id)
    if filters.status is not None:
        conditions.append(Container.status == filters.status)
    if filters.is_archived is True:
        conditions.append(Container.status != int(ContainerStatus.STORAGE_PERIOD_ENDED))
    elif filters.is_archived is False:
        conditions.append(Container.status == int(ContainerStatus.STORAGE_PERIOD_ENDED))
    total = 0
    rows: list[Container] = []
    if allowed:
        total = session.scalar(select(func.count()).select_from(Container).where(*conditions)) or 0
        rows = list(
            session.scalars(
                select(Container)
                .where(*conditions)
                .order_by(Container.created_at.desc(), Container.id.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            )
        )
    record(
        session,
        "document.search",
        actor,
        details={
            "filters": {k: v for k, v in filters.__dict__.items() if v is not None},
            "page": page,
            "pageSize": page_size,
            "totalRecords": total,
        },
    )
    return rows, total


def _current_signatures(container: Container) -> list[bytes]:
    """CAdES-A forms once enhanced, the uploaded ones before (seed: GET .../sign)."""
    return [s.enhanced if s.enhanced is not None else s.original for s in container.signatures]


def _signatures_zip(container: Container) -> bytes:
    """A zip with one ``signature-<n>.p7s`` per signature, in upload order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for position, raw in enumerate(_current_signatures(container), 1):
            info = zipfile.ZipInfo(f"signature-{position}.p7s", _zip_time(container.modified_at))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, raw)
    return buffer.getvalue()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    return (
        max(moment.year, 1980),
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


# ---- the use cases --------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerSummary:
    id: str
    name: str
    status: int
    is_archived: bool


@dataclass(frozen=True)
class SearchPage:
    containers: list[ContainerSummary]
    total: int


def search(
    db: Database,
    user: AuthenticatedUser,
    actor: Actor,
    filters: SearchFilters,
    page: int,
    page_size: int,
) -> SearchPage:
    """Containers visible to ``user`` matching ``filters``, newest first, one page (audited
    as ``document.search``)."""
    with db.session() as session:
        rows, total = _search(session, user, actor, filters, page, page_size)
        return SearchPage(
            [ContainerSummary(c.id, c.name, c.status, _is_archived(c)) for c in rows], total
        )


@dataclass(frozen=True)
class ContainerDetails:
    """What the client API shows of a container (``GET /api/document/{id}``)."""

    id: str
    name: str
    status: int
    is_archived: bool
    storage: tuple[int, str]
    source_system: tuple[int, str]
    document_digests: list[bytes]
    signatures: list[bytes]
    use_archive_ca: bool
    document_type: str
    save_type: int
    structure_name: str | None
    created_at: datetime
    modified_at: datetime
    signature_update_date: datetime | None
    archive_until: datetime | None
    is_available: bool


def details(
    db: Database, user: AuthenticatedUser, actor: Actor, container_id: str
) -> ContainerDetails:
    """Full details of a visible container (audited as ``document.details``)."""
    with db.session() as session:
        c = _read_container(session, user, actor, container_id, "document.details")
        return ContainerDetails(
            id=c.id,
            name=c.name,
            status=c.status,
            is_archived=_is_archived(c),
            storage=(c.storage.id, c.storage.name),
            source_system=(c.source_system.id, c.source_system.name),
            document_digests=[s.document_digest for s in c.signatures],
            signatures=_current_signatures(c),
            use_archive_ca=c.use_archive_ca,
            document_type=c.document_type,
            save_type=c.save_type,
            structure_name=c.structure_name,
            created_at=c.created_at,
            modified_at=c.modified_at,
            signature_update_date=c.signature_update_date,
            archive_until=c.archive_until,
            is_available=c.document_location is not None,
        )


def status(db: Database, user: AuthenticatedUser, actor: Actor, container_id: str) -> int:
    """The container's status number (audited as ``document.status``)."""
    with db.session() as session:
        return _read_container(session, user, actor, container_id, "document.status").status


def signatures_zip(db: Database, user: AuthenticatedUser, actor: Actor, container_id: str) -> bytes:
    """signatures.zip: the CAdES-A signatures once archived, the uploaded ones before
    (audited as ``document.sign``)."""
    with db.session() as session:
        return _signatures_zip(_read_container(session, user, actor, container_id, "document.sign"))


@dataclass(frozen=True)
class SignatureReportEntry:
    position: int
    level: str
    signer: str | None
    signing_time: datetime | None
    validation: dict[str, Any] | None


@dataclass(frozen=True)
class ContainerReport:
    """The validation report of every signature, as of the latest enhancement or renewal."""

    id: str
    status: int
    last_error: str | None
    signature_update_date: datetime | None
    signatures: list[SignatureReportEntry]


def validation_report(
    db: Database, user: AuthenticatedUser, actor: Actor, container_id: str
) -> ContainerReport:
    """Per signature: ETSI EN 319 102-1 indication, sub-indication, signer, times, level
    (audited as ``document.report``); 404 ReportNotReady before the first validation."""
    with db.session() as session:
        c = _read_container(session, user, actor, container_id, "document.report")
        entries = [
            SignatureReportEntry(s.position, s.level, s.signer_subject, s.signing_time, s.report)
            for s in c.signatures
        ]
        if all(entry.validation is None for entry in entries) and c.status in (
            ContainerStatus.RECEIVED,
            ContainerStatus.PROCESSING,
        ):
            raise NotFound(
                f"Container {container_id} has not been validated yet (status {c.status})",
                code="ReportNotReady",
            )
        return ContainerReport(c.id, c.status, c.last_error, c.signature_update_date, entries)
