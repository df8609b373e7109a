"""Problem reports: one open report per (kind, container, certificate), resolved when the
cause goes. The metadata repository serves them as its ``problems`` facet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.db.models import Container, Problem, utcnow


def report(
    session: Session,
    kind: str,
    message: str,
    *,
    container_id: str | None = None,
    severity: str = "error",
    storage_id: int | None = None,
    certificate_sha256: str | None = None,
) -> Problem:
    """Record a problem unless the same kind is already open for that container/certificate."""
    existing = session.scalar(
        select(Problem).where(
            Problem.kind == kind,
            Problem.container_id == container_id,
            Problem.certificate_sha256 == certificate_sha256,
            Problem.resolved_at.is_(None),
        )
    )
    if existing is not None:
        existing.message = message
        return existing
    if storage_id is None and container_id is not None:
        container = session.get(Container, container_id)
        storage_id = container.storage_id if container is not None else None
    problem = Problem(
        kind=kind,
        severity=severity,
        container_id=container_id,
        message=message,
        storage_id=storage_id,
        certificate_sha256=certificate_sha256,
    )
    session.add(problem)
    return problem


def resolve(
    session: Session, container_id: str, kinds: tuple[str, ...], resolved_by: str = "system"
) -> None:
    """Close open problems of ``kinds`` for a container (the condition went away)."""
    now = utcnow()
    for problem in session.scalars(
        select(Problem).where(
            Problem.container_id == container_id,
            Problem.kind.in_(kinds),
            Problem.resolved_at.is_(None),
        )
    ):
        problem.resolved_at = now
        problem.resolved_by = resolved_by


def resolve_open(
    session: Session,
    kind: str,
    *,
    certificate_sha256: str | None = None,
    resolved_by: str = "system",
) -> None:
    """Close open problems of ``kind`` not tied to a container (e.g. configuration, a
    certificate)."""
    now = utcnow()
    for problem in session.scalars(
        select(Problem).where(
            Problem.kind == kind,
            Problem.container_id.is_(None),
            Problem.certificate_sha256 == certificate_sha256,
            Problem.resolved_at.is_(None),
        )
    ):
        problem.resolved_at = now
        problem.resolved_by = resolved_by
