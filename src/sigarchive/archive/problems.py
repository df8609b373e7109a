"""Problem reports: one open report per (kind, container), resolved when the cause goes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.db.models import Problem, utcnow


def report(
    session: Session,
    kind: str,
    message: str,
    *,
    container_id: str | None = None,
    severity: str = "error",
) -> Problem:
    """Record a problem unless the same kind is already open for that container."""
    existing = session.scalar(
        select(Problem).where(
            Problem.kind == kind,
            Problem.container_id == container_id,
            Problem.resolved_at.is_(None),
        )
    )
    if existing is not None:
        existing.message = message
        return existing
    problem = Problem(kind=kind, severity=severity, container_id=container_id, message=message)
    session.add(problem)
    return problem


def resolve(session: Session, container_id: str, kinds: tuple[str, ...]) -> None:
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
