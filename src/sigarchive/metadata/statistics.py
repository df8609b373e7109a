"""The statistics facet: live totals from indexed aggregates, and snapshots over time.

The seed regrets that its statistics are tied to a scan and "cannot be 'live'", and hopes
they "can be derived by functions of the content repository", with history "by taking a
snapshot at a given point in time". Here the live totals are two GROUP BY queries answered
from covering indexes alone (``ix_containers_totals`` over storage, status, save type,
retention and size; ``ix_signatures_storage_level``): they read the storage's index entries,
never the table rows, and hold nothing but the grouped counts in memory. A snapshot is the
same totals stored with ``scanStartTime``/``scanEndTime``, taken on a schedule
(``statisticsSnapshotIntervalSeconds``) and on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sigarchive.db.metadata_models import StatisticsSnapshot
from sigarchive.db.models import Container, Signature, Storage, utcnow
from sigarchive.metadata.facets import FacetContext, PropertySpec, TimelineEntry, TimelineFacet
from sigarchive.metadata.tree import Properties, iso
from sigarchive.records.audit import Actor, record


@dataclass
class Totals:
    """What the statistics count, for one storage or the whole archive."""

    containers: int = 0
    documents: int = 0
    document_bytes: int = 0
    signatures: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_save_type: dict[str, int] = field(default_factory=dict)
    signatures_by_level: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "totalContainerCount": self.containers,
            "totalDocumentCount": self.documents,
            "totalDocumentBytes": self.document_bytes,
            "totalSignatureCount": self.signatures,
            "containersByStatus": self.by_status,
            "containersBySaveType": self.by_save_type,
            "signaturesByLevel": self.signatures_by_level,
        }


def live_totals(session: Session, storage_id: int | None) -> Totals:
    """Totals now, from the covering indexes (``storage_id`` None: every storage)."""
    totals = Totals()
    query = select(
        Container.status,
        Container.save_type,
        Container.use_archive_ca,
        func.count(),
        func.coalesce(func.sum(Container.document_size), 0),
    ).group_by(Container.status, Container.save_type, Container.use_archive_ca)
    if storage_id is not None:
        query = query.where(Container.storage_id == storage_id)
    for status, save_type, retained, count, size in session.execute(query):
        totals.containers += count
        totals.by_status[str(status)] = totals.by_status.get(str(status), 0) + count
        totals.by_save_type[str(save_type)] = totals.by_save_type.get(str(save_type), 0) + count
        if retained:
            totals.documents += count
            totals.document_bytes += int(size)
    levels = select(Signature.level, func.count()).group_by(Signature.level)
    if storage_id is not None:
        levels = levels.where(Signature.storage_id == storage_id)
    for level, count in session.execute(levels):
        totals.signatures += count
        totals.signatures_by_level[level] = count
    return totals


def take_snapshot(
    session: Session, storage_id: int | None, trigger: str, actor: Actor
) -> StatisticsSnapshot:
    """Store the totals of now as a snapshot (and audit it)."""
    started = utcnow()
    totals = live_totals(session, storage_id)
    snapshot = StatisticsSnapshot(
        storage_id=storage_id,
        trigger=trigger,
        scan_start_time=started,
        scan_end_time=utcnow(),
        total_container_count=totals.containers,
        total_document_count=totals.documents,
        total_document_bytes=totals.document_bytes,
        total_signature_count=totals.signatures,
        containers_by_status=totals.by_status,
        containers_by_save_type=totals.by_save_type,
        signatures_by_level=totals.signatures_by_level,
    )
    session.add(snapshot)
    session.flush()
    record(
        session,
        "statistics.snapshot",
        actor,
        storage_id=storage_id,
        details={"snapshotId": snapshot.id, "trigger": trigger, **totals.to_json()},
    )
    return snapshot


def snapshot_all(session: Session, trigger: str, actor: Actor) -> int:
    """A snapshot of every storage and of the whole archive; returns how many were taken."""
    storage_ids = list(session.scalars(select(Storage.id).order_by(Storage.id)))
    for storage_id in [*storage_ids, None]:
        take_snapshot(session, storage_id, trigger, actor)
    return len(storage_ids) + 1


def snapshot_properties(snapshot: StatisticsSnapshot) -> Properties:
    return {
        "id": snapshot.id,
        "storage.id": snapshot.storage_id,
        "trigger": snapshot.trigger,
        "scanStartTime": iso(snapshot.scan_start_time),
        "scanEndTime": iso(snapshot.scan_end_time),
        "totalContainerCount": snapshot.total_container_count,
        "totalDocumentCount": snapshot.total_document_count,
        "totalDocumentBytes": snapshot.total_document_bytes,
        "totalSignatureCount": snapshot.total_signature_count,
        "containersByStatus": snapshot.containers_by_status,
        "containersBySaveType": snapshot.containers_by_save_type,
        "signaturesByLevel": snapshot.signatures_by_level,
    }


STATISTICS_PROPERTIES = (
    PropertySpec("scanStartTime", "datetime", "when the totals were taken"),
    PropertySpec("scanEndTime", "datetime", "when taking them ended"),
    PropertySpec("trigger", "string", "scheduled or manual"),
    PropertySpec("totalContainerCount", "integer", "containers"),
    PropertySpec("totalDocumentCount", "integer", "documents the archive retains"),
    PropertySpec("totalDocumentBytes", "integer", "their size in bytes"),
    PropertySpec("totalSignatureCount", "integer", "signatures"),
    PropertySpec("containersByStatus", "object", "status number → containers"),
    PropertySpec("containersBySaveType", "object", "save type number → containers"),
    PropertySpec("signaturesByLevel", "object", "CAdES level → signatures"),
)


def _scope(storage_id: int | None) -> Any:
    if storage_id is None:
        return StatisticsSnapshot.storage_id.is_(None)
    return StatisticsSnapshot.storage_id == storage_id


class StatisticsFacet(TimelineFacet):
    """``facets/statistics``: live totals as its properties, snapshots below by time."""

    id = "statistics"
    name = "Repository statistics"
    properties: tuple[PropertySpec, ...] = STATISTICS_PROPERTIES

    def root_properties(self, context: FacetContext) -> Properties:
        properties: Properties = {"id": self.id, "name": self.name, "computedAt": iso(utcnow())}
        properties.update(live_totals(context.session, context.storage_id).to_json())
        return properties

    def bounds(self, context: FacetContext) -> tuple[datetime, datetime] | None:
        row = context.session.execute(
            select(
                func.min(StatisticsSnapshot.scan_start_time),
                func.max(StatisticsSnapshot.scan_start_time),
            ).where(_scope(context.storage_id))
        ).one()
        return (row[0], row[1]) if row[0] is not None else None

    def any_between(self, context: FacetContext, start: datetime, end: datetime) -> bool:
        return (
            context.session.scalar(
                select(StatisticsSnapshot.id)
                .where(
                    _scope(context.storage_id),
                    StatisticsSnapshot.scan_start_time >= start,
                    StatisticsSnapshot.scan_start_time < end,
                )
                .limit(1)
            )
            is not None
        )

    def entries(
        self,
        context: FacetContext,
        start: datetime,
        end: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[TimelineEntry]:
        query = select(StatisticsSnapshot).where(
            _scope(context.storage_id),
            StatisticsSnapshot.scan_start_time >= start,
            StatisticsSnapshot.scan_start_time < end,
        )
        if after is not None:
            query = query.where(
                (StatisticsSnapshot.scan_start_time > after[0])
                | (
                    (StatisticsSnapshot.scan_start_time == after[0])
                    & (StatisticsSnapshot.id > after[1])
                )
            )
        rows = context.session.scalars(
            query.order_by(StatisticsSnapshot.scan_start_time, StatisticsSnapshot.id).limit(limit)
        )
        return [
            TimelineEntry(row.id, row.scan_start_time, snapshot_properties(row)) for row in rows
        ]

    def entry(self, context: FacetContext, entry_id: int) -> TimelineEntry | None:
        row = context.session.get(StatisticsSnapshot, entry_id)
        if row is None or row.storage_id != context.storage_id:
            return None
        return TimelineEntry(row.id, row.scan_start_time, snapshot_properties(row))
