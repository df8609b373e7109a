"""Reading containers: visibility, search, details. Every read is audited."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from sigarchive.archive.accounts import AuthenticatedUser
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


def is_archived(container: Container) -> bool:
    """False only for a Temporary container whose storage period has ended (seed semantics)."""
    return container.status != ContainerStatus.STORAGE_PERIOD_ENDED


def visible_container(session: Session, user: AuthenticatedUser, container_id: str) -> Container:
    """The container if it exists in a storage granted to ``user``; 404 otherwise."""
    container = session.get(Container, container_id)
    if container is None or container.storage_id not in user.storage_ids:
        raise NotFound(f"Container {container_id} not found", code="ContainerNotFound")
    return container


def read_container(
    session: Session, user: AuthenticatedUser, actor: Actor, container_id: str, action: str
) -> Container:
    """Fetch a visible container and audit the read; a refused read is audited too."""
    try:
        container = visible_container(session, user, container_id)
    except NotFound:
        # The caller's transaction is rolled back by the error: the refusal is recorded in a
        # transaction of its own so that it is kept.
        with Session(session.get_bind()) as refusal, refusal.begin():
            record(refusal, action, actor, container_id=container_id, outcome="not-found")
        raise
    record(session, action, actor, container_id=container.id, storage_id=container.storage_id)
    return container


def search(
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


def current_signatures(container: Container) -> list[bytes]:
    """CAdES-A forms once enhanced, the uploaded ones before (seed: GET .../sign)."""
    return [s.enhanced if s.enhanced is not None else s.original for s in container.signatures]


def signatures_zip(container: Container) -> bytes:
    """A zip with one ``signature-<n>.p7s`` per signature, in upload order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for position, raw in enumerate(current_signatures(container), 1):
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
