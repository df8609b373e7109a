"""The metadata repository over HTTP (SPEC §6): the tree, the audit log, references,
problems and statistics. A user sees only its storages; operators (``--admin``) see all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict

from sigarchive.api.deps import CurrentActor, CurrentViewer, ServicesDep
from sigarchive.api.schemas import Envelope
from sigarchive.errors import InvalidInput
from sigarchive.metadata import audit_log, problem_reports, queries, references
from sigarchive.metadata.tree import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    split_path,
)

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
    return Envelope(
        data=queries.audit_page(services.db, viewer, actor, filters, Page(pageSize, cursor))
    )


@router.get("/api/audit/verify", response_model=Envelope[dict[str, Any]])
def audit_verify(
    viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Walk the whole hash chain (operators only): ``intact``, and where it breaks."""
    return Envelope(data=queries.audit_verification(services.db, viewer, actor))


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
    data = queries.certificate_references(
        services.db, viewer, actor, digest, referenceType, Page(pageSize, cursor)
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
    return Envelope(
        data=queries.problems_page(services.db, viewer, filters, Page(pageSize, cursor))
    )


@router.post("/api/problems/{problem_id}/resolve", response_model=Envelope[dict[str, Any]])
def resolve_problem(
    problem_id: int, viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Mark a problem resolved (audited)."""
    return Envelope(data=queries.resolve_problem(services.db, viewer, actor, problem_id))


# ---- statistics -----------------------------------------------------------------------------


@router.get("/api/statistics/{storage_id}", response_model=Envelope[dict[str, Any]])
def live_statistics(
    storage_id: int, viewer: CurrentViewer, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Live totals of a storage, from indexes."""
    return Envelope(data=queries.live_statistics(services.db, viewer, storage_id))


@router.post("/api/statistics/{storage_id}/snapshots", response_model=Envelope[dict[str, Any]])
def snapshot_statistics(
    storage_id: int, viewer: CurrentViewer, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Take a statistics snapshot of a storage now (audited); it appears under
    ``facets/statistics/YYYY/MM/DD/``."""
    return Envelope(data=queries.snapshot_statistics(services.db, viewer, actor, storage_id))
