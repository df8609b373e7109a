"""Work leases on containers: how several workers share the work without doing it twice.

A worker claims due containers by writing its name and a lease expiry into them, in one
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id`` statement (on SQLite
the same statement without the row-lock clause: SQLite serialises writers). A killed worker
simply stops renewing: once its lease expires another worker claims the container again.
Every write of a result is *fenced*: it first re-checks, under lock, that the lease is still
this worker's, so a worker that lost its lease (paused, partitioned) cannot overwrite the
work of the one that took over.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.models import Container, utcnow
from sigarchive.errors import ArchiveError


class LeaseLost(ArchiveError):
    """The lease expired and another worker may hold the container now."""

    code = "LeaseLost"
    http_status = 409


def worker_name(kind: str) -> str:
    """A lease owner's name, unique per process and loop: ``kind@host:pid:suffix``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Lease:
    container_id: str
    owner: str
    until: datetime


def claim(
    db: Database,
    owner: str,
    statuses: Iterable[int],
    *,
    limit: int = 10,
    lease_for: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[Lease]:
    """Lease up to ``limit`` containers in ``statuses`` that are due and not leased."""
    now = now or utcnow()
    until = now + lease_for
    due = (
        select(Container.id)
        .where(
            Container.status.in_(list(statuses)),
            Container.next_attempt_at <= now,
            or_(Container.lease_until.is_(None), Container.lease_until < now),
        )
        .order_by(Container.next_attempt_at)
        .limit(limit)
    )
    if db.is_postgresql:
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Container)
        .where(
            Container.id.in_(due.scalar_subquery()),
            or_(Container.lease_until.is_(None), Container.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=until)
        .returning(Container.id)
        .execution_options(synchronize_session=False)
    )
    with db.session() as session:
        ids = list(session.scalars(statement))
    return [Lease(container_id, owner, until) for container_id in ids]


def claim_one(
    db: Database, owner: str, container_id: str, *, lease_for: timedelta = timedelta(minutes=5)
) -> Lease | None:
    """Lease one given container if nobody holds it (whatever its status or due time)."""
    now = utcnow()
    until = now + lease_for
    with db.session() as session:
        result = session.execute(
            update(Container)
            .where(
                Container.id == container_id,
                or_(Container.lease_until.is_(None), Container.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=until)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
    return Lease(container_id, owner, until)


def hold(session: Session, lease: Lease, now: datetime | None = None) -> Container:
    """Fence: lock the container and check the lease is still ours; returns the container.

    Call it first in the transaction that writes a result.
    """
    now = now or utcnow()
    result = session.execute(
        update(Container)
        .where(
            Container.id == lease.container_id,
            Container.lease_owner == lease.owner,
            Container.lease_until >= now,
        )
        .values(modified_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"lease on {lease.container_id} is no longer held by {lease.owner}")
    container = session.get(Container, lease.container_id, populate_existing=True)
    assert container is not None
    return container


def extend(db: Database, lease: Lease, lease_for: timedelta = timedelta(minutes=5)) -> Lease:
    """Renew a lease still held (long steps call this between network calls)."""
    now = utcnow()
    with db.session() as session:
        hold(session, lease, now)
        until = now + lease_for
        session.execute(
            update(Container).where(Container.id == lease.container_id).values(lease_until=until)
        )
    return Lease(lease.container_id, lease.owner, until)


def release(session: Session, lease: Lease) -> None:
    """Give the container back (inside the fenced transaction that wrote the result)."""
    session.execute(
        update(Container)
        .where(Container.id == lease.container_id, Container.lease_owner == lease.owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def release_orphaned_leases(db: Database, host: str) -> int:
    """Free leases held by dead worker processes of this host; returns how many.

    A worker's name is ``kind@host:pid:suffix`` (:func:`worker_name`). When a process
    restarts after a crash, leases of its dead predecessors on the same host need not wait for
    their expiry: a pid that no longer runs cannot be working. A pid that runs again (reused)
    is left alone — its lease then simply expires.
    """
    with db.session() as session:
        owners = session.scalars(
            select(Container.lease_owner)
            .where(Container.lease_owner.like(f"%@{host}:%"), Container.lease_until >= utcnow())
            .distinct()
        ).all()
        dead = [owner for owner in owners if owner is not None and not _pid_alive(owner)]
        if not dead:
            return 0
        result = session.execute(
            update(Container)
            .where(Container.lease_owner.in_(dead))
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _pid_alive(owner: str) -> bool:
    try:
        pid = int(owner.split("@", 1)[1].split(":")[1])
    except (IndexError, ValueError):
        return True  # not one of ours: leave it to expire
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
