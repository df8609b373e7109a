"""The metadata repository over HTTP (SPEC §6): the tree, the audit log, references,
problems and statistics. A user sees only its storages; operators (``--admin``) see all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.api.deps import CurrentActor, CurrentViewer, ServicesDep
from sigarchive.api.schemas import Envelope
from sigarchive.db.models import Container, Storage
from sigarchive.errors import Forbidden, InvalidInput, NotFound
from sigarchive.metadata import audit_log, problem_reports, references, statistics
from sigarchive.metadata.tree import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    Viewer,
    encode_cursor,
    iso,
    split_path,
)
from sigarchive.records.audit import record
from sigarchive.records.audit import verify as verify_chain

router = APIRouter(tags=["metadata"])

PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Children per page")]
Cursor = Annotated[str | None, Query(description="nextCursor of the previous page")]


class NodeChanges(BaseModel):
    """Properties to change on a configuration node (absent ones keep their value)."""

    model_config = ConfigDict(extra="forbid")

    properties: dict[str, Any]


# ---- the tree -------------------------------------------------------------------------------


@router.get("/api/metadata", response_model=Envelope[dict[str, Any]])
@router.get("/api/metadata/{path:path}", response_model=Envelope[dict[str, Any]])
def read_node(
    viewer: CurrentViewer,
    actor: CurrentActor,
    services: ServicesDep,
    path: str = "",
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Envelope[dict[str, Any]]:
    """A node of the metadata tree: ``path``, ``type``, ``properties``, one page of
    ``children`` and the ``nextCursor`` of the next page (null on the last)."""
    node = services.metadata.node(viewer, actor, split_path(path), Page(pageSize, cursor))
    return Envelope(data=node.to_json())


@router.put("/api/metadata/{path:path}", response_model=Envelope[dict[str, Any]])
def write_node(
    path: str,
    body: Annotated[NodeChanges, Body()],
    viewer: CurrentViewer,
    actor: CurrentActor,
    services: ServicesDep,
) -> Envelope[dict[str, Any]]:
    """Change a configuration node (``server/config``, ``repositories/<id>/config``;
    operators only). The change is written to the configuration file and audited."""
    node = services.metadata.write(viewer, actor, split_path(path), body.properties)
    return Envelope(data=node.to_json())


# ---- audit ----------------------------------------------------------------------------------


@router.get("/api/audit", response_model=Envelope[dict[str, Any]])
def audit(
    viewer: CurrentViewer,
    actor: CurrentActor,
    services: ServicesDep,
    since: Annotated[datetime | None, Query(alias="from", description="From (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Until, exclusive")] = None,
    action: str | None = None,
    user: Annotated[str | None, Query(description="User name")] = None,
    userId: int | None = None,
    containerId: str | None = None,
    storageId: int | None = None,
    outcome: str | None = None,
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Envelope[dict[str, Any]]:
    """Audit entries newest first, filtered by time range, action, user, container, storage
    (each through an index); a user sees the entries of its storages, an operator all."""
    for name, moment in (("from", since), ("to", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone offset (e.g. Z)", code="InvalidDate")
    filters = audit_log.AuditFilters(
        since, until, action, user, userId, containerId, storageId, outcome
    )
    with services.db.session() as session:
        query, size = audit_log.page_of(
            audit_log.audit_query(viewer, filters), Page(pageSize, cursor)
        )
        rows = list(session.scalars(query))
        data = {
            "events": [audit_log.to_json(row) for row in rows[:size]],
            "nextCursor": audit_log.next_cursor(rows, size),
        }
        record(
            session,
            "audit.query",
            actor,
            storage_id=storageId,
            details={
                "filters": {
                    k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in filters.__dict__.items()
                    if v is not None
                }
            },
        )
    return Envelope(data=data)


@router.get("/api/audit/verify", response_model=Envelope[dict[str, Any]])
def audit_verify(
    viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Walk the whole hash chain (operators only): ``intact``, and where it breaks."""
    if not viewer.is_admin:
        raise Forbidden("Only operators verify the audit trail", code="AdminOnly")
    report = verify_chain(services.db)
    with services.db.session() as session:
        record(session, "audit.verify", actor, details=report.to_json())
    return Envelope(data=report.to_json())


# ---- references -----------------------------------------------------------------------------


@router.get("/api/references/certificate/{sha256}", response_model=Envelope[dict[str, Any]])
def certificate_references(
    sha256: str,
    viewer: CurrentViewer,
    actor: CurrentActor,
    services: ServicesDep,
    referenceType: Annotated[
        str | None, Query(description="signer, chain, tsa or revocation")
    ] = None,
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Envelope[dict[str, Any]]:
    """The containers that depend on a certificate (SHA-256 of its DER, hex): "this CA was
    compromised — which containers are affected?" Only the caller's storages are listed."""
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput("sha256 must be 64 hex digits", code="InvalidCertificateHash")
    if referenceType is not None and referenceType not in references.REFERENCE_TYPES:
        raise InvalidInput(
            f"referenceType must be one of {', '.join(references.REFERENCE_TYPES)}",
            code="InvalidReferenceType",
        )
    page = Page(pageSize, cursor)
    position = page.position()
    scope = None if viewer.is_admin else sorted(viewer.storage_ids)
    with services.db.session() as session:
        found = references.referrers(
            session,
            digest,
            storage_ids=scope,
            after=str(position[0]) if position else None,
            limit=page.size + 1,
            reference_type=referenceType,
        )
        shown = found[: page.size]
        containers = {
            c.id: c
            for c in session.scalars(
                select(Container).where(Container.id.in_([r.container_id for r in shown]))
            )
        }
        record_ = references.certificate(session, digest)
        data = {
            "certificate": None
            if record_ is None
            else {
                "sha256": record_.sha256,
                "subject": record_.subject,
                "issuer": record_.issuer,
                "serialNumber": record_.serial_number,
                "notBefore": iso(record_.not_before),
                "notAfter": iso(record_.not_after),
                "ca": record_.is_ca,
            },
            "containers": [
                {
                    "id": r.container_id,
                    "storageId": r.storage_id,
                    "name": containers[r.container_id].name
                    if r.container_id in containers
                    else None,
                    "status": containers[r.container_id].status
                    if r.container_id in containers
                    else None,
                    "referenceTypes": list(r.reference_types),
                }
                for r in shown
            ],
            "nextCursor": encode_cursor(shown[-1].container_id) if len(found) > page.size else None,
        }
        record(
            session,
            "references.query",
            actor,
            details={"certificate": digest, "returned": len(shown)},
        )
    return Envelope(data=data)


# ---- problems -------------------------------------------------------------------------------


@router.get("/api/problems", response_model=Envelope[dict[str, Any]])
def list_problems(
    viewer: CurrentViewer,
    services: ServicesDep,
    kind: str | None = None,
    severity: str | None = None,
    open: Annotated[bool | None, Query(description="true: open only; false: resolved")] = None,
    containerId: str | None = None,
    storageId: int | None = None,
    certificate: Annotated[str | None, Query(description="SHA-256 of a certificate")] = None,
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Envelope[dict[str, Any]]:
    """Problem reports, newest first, filtered (a user sees those of its storages)."""
    filters = problem_reports.ProblemFilters(
        kind, severity, open, containerId, storageId, certificate
    )
    with services.db.session() as session:
        rows, next_cursor = problem_reports.list_problems(
            session, viewer, filters, Page(pageSize, cursor)
        )
        data = {
            "problems": [problem_reports.problem_properties(p) for p in rows],
            "nextCursor": next_cursor,
        }
    return Envelope(data=data)


@router.post("/api/problems/{problem_id}/resolve", response_model=Envelope[dict[str, Any]])
def resolve_problem(
    problem_id: int, viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Mark a problem resolved (audited)."""
    with services.db.session() as session:
        problem = problem_reports.resolve_problem(session, viewer, actor, problem_id)
        return Envelope(data=problem_reports.problem_properties(problem))


# ---- statistics -----------------------------------------------------------------------------


def _visible_storage(session: Session, viewer: Viewer, storage_id: int) -> None:
    if not viewer.sees(storage_id) or session.get(Storage, storage_id) is None:
        raise NotFound(f"No storage {storage_id}", code="StorageNotFound")


@router.get("/api/statistics/{storage_id}", response_model=Envelope[dict[str, Any]])
def live_statistics(
    storage_id: int, viewer: CurrentViewer, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Live totals of a storage, from indexes."""
    with services.db.session() as session:
        _visible_storage(session, viewer, storage_id)
        totals = statistics.live_totals(session, storage_id)
    return Envelope(data={"storageId": storage_id, **totals.to_json()})


@router.post("/api/statistics/{storage_id}/snapshots", response_model=Envelope[dict[str, Any]])
def snapshot_statistics(
    storage_id: int, viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Take a statistics snapshot of a storage now (audited); it appears under
    ``facets/statistics/YYYY/MM/DD/``."""
    with services.db.session() as session:
        _visible_storage(session, viewer, storage_id)
        snapshot = statistics.take_snapshot(session, storage_id, "manual", actor)
        return Envelope(data=statistics.snapshot_properties(snapshot))
