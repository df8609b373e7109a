"""The audit trail: every action with who did it and from where.

Rows are written in the same transaction as the action they describe, so an action is never
recorded without happening nor happens without being recorded. At COMMIT they are appended to
a hash chain (``metadata/audit_chain.py``), so a removed or altered entry is detected by
``sigarchive audit verify``. The metadata repository serves them as its audit facet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sigarchive.db.models import AuditEvent, utcnow
from sigarchive.metadata import audit_chain


@dataclass(frozen=True)
class Actor:
    """Who acts: an API user with its address, or the system itself (CLI, workers)."""

    user_id: int | None
    user_name: str
    remote_ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(None, name, None)


def record(
    session: Session,
    action: str,
    actor: Actor,
    *,
    container_id: str | None = None,
    storage_id: int | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    audit_event = AuditEvent(
        occurred_at=utcnow(),
        action=action,
        outcome=outcome,
        user_id=actor.user_id,
        user_name=actor.user_name,
        remote_ip=actor.remote_ip,
        container_id=container_id,
        storage_id=storage_id,
        details=details,
    )
    session.add(audit_event)
    audit_chain.enqueue(session, audit_event)
