"""End of storage: Temporary containers past their ArchiveDate leave archival storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sigarchive.archive.audit import Actor, record
from sigarchive.archive.model import ContainerStatus, SaveType
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, utcnow

SYSTEM = Actor.system("signature-updater")


def end_storage_periods(db: Database, now: datetime | None = None, limit: int = 100) -> int:
    """Mark Temporary containers whose ArchiveDate has passed (never Permanent ones)."""
    now = now or utcnow()
    with db.session() as session:
        query = (
            select(Container)
            .where(
                Container.save_type == int(SaveType.TEMPORARY),
                Container.archive_until < now,
                Container.status != int(ContainerStatus.STORAGE_PERIOD_ENDED),
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
