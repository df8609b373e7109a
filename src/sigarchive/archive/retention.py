"""End of storage: Temporary containers past their ArchiveDate leave archival storage,
and their retained documents are deleted through the storage plugin that keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from sigarchive.archive.leases import claim_one, hold, release
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, utcnow
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.plugins.loader import PluginRegistry
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

OPEN_STATUSES = [int(s) for s in ContainerStatus if s != ContainerStatus.STORAGE_PERIOD_ENDED]
SYSTEM = Actor.system("signature-updater")
DELETE_PROBLEM = "document-delete-failed"


def end_storage_periods(db: Database, now: datetime | None = None, limit: int = 100) -> int:
    """Mark Temporary containers whose ArchiveDate has passed (never Permanent ones)."""
    now = now or utcnow()
    with db.session() as session:
        query = (
            select(Container)
            .where(
                Container.save_type == int(SaveType.TEMPORARY),
                Container.archive_until < now,
                # the statuses spelled out (not "!= ended") so the index is used
                Container.status.in_(OPEN_STATUSES),
                (Container.lease_until.is_(None)) | (Container.lease_until < now),
            )
            .limit(limit)
        )
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True, of=Container)
        ended = list(session.scalars(query))
        for container in ended:
            container.status = int(ContainerStatus.STORAGE_PERIOD_ENDED)
            container.next_attempt_at = None
            container.modified_at = now
            record(
                session,
                "container.storage-period-ended",
                SYSTEM,
                container_id=container.id,
                storage_id=container.storage_id,
                details={
                    "archiveUntil": container.archive_until.isoformat()
                    if container.archive_until
                    else None
                },
            )
    return len(ended)


def delete_ended_documents(
    db: Database,
    plugins: PluginRegistry,
    owner: str,
    *,
    now: datetime | None = None,
    limit: int = 20,
    lease_for: timedelta = timedelta(minutes=5),
    retry_first: timedelta = timedelta(seconds=5),
    retry_max: timedelta = timedelta(hours=1),
) -> int:
    """Delete the retained documents of Temporary containers whose storage period ended.

    Each goes through its storage plugin's ``delete``, outside any transaction, under the
    container's lease; then the location is cleared and ``document.delete`` audited in one
    transaction. A failure is audited, recorded as a ``document-delete-failed`` problem and
    retried with back-off. Permanent containers are never touched (checked twice).
    """
    now = now or utcnow()
    with db.session() as session:
        candidates = list(
            session.scalars(
                select(Container.id)
                .where(
                    Container.status == int(ContainerStatus.STORAGE_PERIOD_ENDED),
                    Container.save_type == int(SaveType.TEMPORARY),
                    Container.document_location.is_not(None),
                    (Container.next_attempt_at.is_(None)) | (Container.next_attempt_at <= now),
                    (Container.lease_until.is_(None)) | (Container.lease_until < now),
                )
                .limit(limit)
            )
        )
    deleted = 0
    for container_id in candidates:
        lease = claim_one(db, owner, container_id, lease_for=lease_for)
        if lease is None:
            continue
        with db.session() as session:
            container = hold(session, lease)
            location = container.document_location
            if (
                container.save_type != SaveType.TEMPORARY
                or container.status != ContainerStatus.STORAGE_PERIOD_ENDED
                or location is None
            ):
                release(session, lease)
                continue
        result = plugins.delete_document(location)
        with db.session() as session:
            container = hold(session, lease)
            details: dict[str, object] = {"location": location}
            if result.is_success:
                container.document_location = None
                container.attempts = 0
                container.next_attempt_at = None
                problems.resolve(session, container.id, (DELETE_PROBLEM,))
                deleted += 1
            else:
                container.attempts += 1
                delay = min(retry_first * (2 ** min(container.attempts - 1, 20)), retry_max)
                container.next_attempt_at = utcnow() + delay
                problems.report(
                    session,
                    DELETE_PROBLEM,
                    f"End of storage: the document could not be deleted: {result.error}",
                    container_id=container.id,
                    severity="warning",
                )
                details["error"] = result.error
            record(
                session,
                "document.delete",
                SYSTEM,
                container_id=container.id,
                storage_id=container.storage_id,
                outcome="ok" if result.is_success else "failed",
                details=details,
            )
            release(session, lease)
    return deleted


def retire(
    db: Database,
    plugins: PluginRegistry,
    owner: str,
    *,
    lease_for: timedelta = timedelta(minutes=5),
    retry_first: timedelta = timedelta(seconds=5),
) -> tuple[int, int]:
    """The end-of-storage use case, one bounded round: end the storage periods that have
    passed, then delete the documents whose storage period ended; returns (ended, deleted)."""
    ended = end_storage_periods(db)
    deleted = delete_ended_documents(
        db, plugins, owner, lease_for=lease_for, retry_first=retry_first
    )
    return ended, deleted
