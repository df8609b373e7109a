"""The metadata reads and writes of the client API beside the tree, one function each: the
audit query and its verification, certificate references, problems, statistics.

Each opens its own transaction, applies the viewer's scope (a user sees its storages, an
operator all), audits what the seed asks to be audited, and returns the JSON the route sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.models import Container, Storage
from sigarchive.errors import Forbidden, NotFound
from sigarchive.metadata import audit_log, problem_reports, references, statistics
from sigarchive.metadata.tree import Page, Viewer, encode_cursor, iso
from sigarchive.records.audit import Actor, record
from sigarchive.records.audit import verify as verify_chain


def audit_page(
    db: Database, viewer: Viewer, actor: Actor, filters: audit_log.AuditFilters, page: Page
) -> dict[str, Any]:
    """Audit entries newest first, one page (audited as ``audit.query``)."""
    with db.session() as session:
        query, size = audit_log.page_of(audit_log.audit_query(viewer, filters), page)
        rows = list(session.scalars(query))
        data = {
            "events": [audit_log.to_json(row) for row in rows[:size]],
            "nextCursor": audit_log.next_cursor(rows, size),
        }
        record(
            session,
            "audit.query",
            actor,
            storage_id=filters.storage_id,
            details={
                "filters": {
                    k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in filters.__dict__.items()
                    if v is not None
                }
            },
        )
    return data


def audit_verification(db: Database, viewer: Viewer, actor: Actor) -> dict[str, Any]:
    """Walk the whole hash chain (operators only; audited as ``audit.verify``)."""
    if not viewer.is_admin:
        raise Forbidden("Only operators verify the audit trail", code="AdminOnly")
    report = verify_chain(db)
    with db.session() as session:
        record(session, "audit.verify", actor, details=report.to_json())
    return report.to_json()


def certificate_references(
    db: Database,
    viewer: Viewer,
    actor: Actor,
    sha256: str,
    reference_type: str | None,
    page: Page,
) -> dict[str, Any]:
    """The certificate and one page of the visible containers depending on it (audited as
    ``references.query``)."""
    position = page.position()
    scope = None if viewer.is_admin else sorted(viewer.storage_ids)
    with db.session() as session:
        found = references.referrers(
            session,
            sha256,
            storage_ids=scope,
            after=str(position[0]) if position else None,
            limit=page.size + 1,
            reference_type=reference_type,
        )
        shown = found[: page.size]
        containers = {
            c.id: c
            for c in session.scalars(
                select(Container).where(Container.id.in_([r.container_id for r in shown]))
            )
        }
        certificate = references.certificate(session, sha256)
        data = {
            "certificate": None
            if certificate is None
            else {
                "sha256": certificate.sha256,
                "subject": certificate.subject,
                "issuer": certificate.issuer,
                "serialNumber": certificate.serial_number,
                "notBefore": iso(certificate.not_before),
                "notAfter": iso(certificate.not_after),
                "ca": certificate.is_ca,
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
            details={"certificate": sha256, "returned": len(shown)},
        )
    return data


def problems_page(
    db: Database, viewer: Viewer, filters: problem_reports.ProblemFilters, page: Page
) -> dict[str, Any]:
    """Problem reports, newest first, one page."""
    with db.session() as session:
        rows, next_cursor = problem_reports.list_problems(session, viewer, filters, page)
        return {
            "problems": [problem_reports.problem_properties(p) for p in rows],
            "nextCursor": next_cursor,
        }


def resolve_problem(db: Database, viewer: Viewer, actor: Actor, problem_id: int) -> dict[str, Any]:
    """Mark a problem resolved (audited)."""
    with db.session() as session:
        problem = problem_reports.resolve_problem(session, viewer, actor, problem_id)
        return problem_reports.problem_properties(problem)


def _visible_storage(session: Session, viewer: Viewer, storage_id: int) -> None:
    if not viewer.sees(storage_id) or session.get(Storage, storage_id) is None:
        raise NotFound(f"No storage {storage_id}", code="StorageNotFound")


def live_statistics(db: Database, viewer: Viewer, storage_id: int) -> dict[str, Any]:
    """Live totals of a storage, from indexes."""
    with db.session() as session:
        _visible_storage(session, viewer, storage_id)
        totals = statistics.live_totals(session, storage_id)
    return {"storageId": storage_id, **totals.to_json()}


def snapshot_statistics(
    db: Database, viewer: Viewer, actor: Actor, storage_id: int
) -> dict[str, Any]:
    """Take a statistics snapshot of a storage now (audited)."""
    with db.session() as session:
        _visible_storage(session, viewer, storage_id)
        snapshot = statistics.take_snapshot(session, storage_id, "manual", actor)
        return statistics.snapshot_properties(snapshot)
