"""The audit facet and ``GET /api/audit``: every action, by time, filtered through indexes.

The seed stores audit logs "by the time they occur" and admits that "filtering by an action
or other field would require querying the content repository" — a scan. Here each filter has
an index that starts with it and ends with the time (``audit_events``: action, user id, user
name, container, storage, each with ``occurred_at``), so a query by action, user, container
or storage and a time range reads one index range, newest first, one page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.sql import Select

from sigarchive.db.models import AuditEvent
from sigarchive.errors import InvalidInput
from sigarchive.metadata.facets import FacetContext, PropertySpec, TimelineEntry, TimelineFacet
from sigarchive.metadata.tree import Page, Properties, Viewer, encode_cursor, iso

AUDIT_PROPERTIES = (
    PropertySpec("action", "string", "what was done, e.g. document.upload"),
    PropertySpec("outcome", "string", "ok, refused, not-found, failed"),
    PropertySpec("user", "string", "who (a user, or a system part such as signature-updater)"),
    PropertySpec("userId", "integer", "the API user's id (none for the system)"),
    PropertySpec("remoteIP", "string", "the caller's address"),
    PropertySpec("container.id", "string", "the container concerned"),
    PropertySpec("storage.id", "integer", "the storage concerned"),
    PropertySpec("occurredAt", "datetime", "when"),
    PropertySpec("details", "object", "what else the action recorded"),
    PropertySpec("seq", "integer", "position in the hash chain"),
    PropertySpec("entryHash", "string", "SHA-256 chaining this entry to the previous"),
)


def event_properties(event: AuditEvent) -> Properties:
    return {
        "id": event.id,
        "action": event.action,
        "outcome": event.outcome,
        "user": event.user_name,
        "userId": event.user_id,
        "remoteIP": event.remote_ip,
        "container.id": event.container_id,
        "storage.id": event.storage_id,
        "occurredAt": iso(event.occurred_at),
        "details": event.details,
        "seq": event.seq,
        "entryHash": event.entry_hash,
    }


def _scope(storage_id: int | None) -> list[ColumnElement[bool]]:
    return [AuditEvent.storage_id == storage_id] if storage_id is not None else []


class AuditFacet(TimelineFacet):
    """``facets/audit/YYYY/MM/DD/HHMMSS.mmm-<id>``: the storage's audit entries (under
    ``server/facets/audit`` every entry, including those of no storage)."""

    id = "audit"
    name = "Audit log"
    properties: tuple[PropertySpec, ...] = AUDIT_PROPERTIES

    def bounds(self, context: FacetContext) -> tuple[datetime, datetime] | None:
        where = _scope(context.storage_id)
        first = context.session.scalar(select(func.min(AuditEvent.occurred_at)).where(*where))
        last = context.session.scalar(select(func.max(AuditEvent.occurred_at)).where(*where))
        return (first, last) if first is not None and last is not None else None

    def any_between(self, context: FacetContext, start: datetime, end: datetime) -> bool:
        found = context.session.scalar(
            select(AuditEvent.id)
            .where(
                *_scope(context.storage_id),
                AuditEvent.occurred_at >= start,
                AuditEvent.occurred_at < end,
            )
            .limit(1)
        )
        return found is not None

    def entries(
        self,
        context: FacetContext,
        start: datetime,
        end: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[TimelineEntry]:
        query = select(AuditEvent).where(
            *_scope(context.storage_id),
            AuditEvent.occurred_at >= start,
            AuditEvent.occurred_at < end,
        )
        if after is not None:
            query = query.where(
                AuditEvent.occurred_at >= after[0],
                not_(and_(AuditEvent.occurred_at == after[0], AuditEvent.id <= after[1])),
            )
        rows = context.session.scalars(
            query.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(limit)
        )
        return [TimelineEntry(row.id, row.occurred_at, event_properties(row)) for row in rows]

    def entry(self, context: FacetContext, entry_id: int) -> TimelineEntry | None:
        row = context.session.get(AuditEvent, entry_id)
        if row is None or (context.storage_id is not None and row.storage_id != context.storage_id):
            return None
        return TimelineEntry(row.id, row.occurred_at, event_properties(row))


# ---- GET /api/audit -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    user: str | None = None
    user_id: int | None = None
    container_id: str | None = None
    storage_id: int | None = None
    outcome: str | None = None


def audit_query(viewer: Viewer, filters: AuditFilters) -> Select[Any]:
    """The SELECT for ``filters`` as ``viewer`` may see it (newest first), without paging."""
    conditions: list[ColumnElement[bool]] = []
    if filters.storage_id is not None:
        if not viewer.sees(filters.storage_id):
            conditions.append(AuditEvent.id.is_(None))  # nothing: not the caller's storage
        conditions.append(AuditEvent.storage_id == filters.storage_id)
    elif not viewer.is_admin:
        conditions.append(AuditEvent.storage_id.in_(sorted(viewer.storage_ids) or [-1]))
    if filters.since is not None:
        conditions.append(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEvent.occurred_at < filters.until)
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    if filters.user:
        conditions.append(AuditEvent.user_name == filters.user)
    if filters.user_id is not None:
        conditions.append(AuditEvent.user_id == filters.user_id)
    if filters.container_id:
        conditions.append(AuditEvent.container_id == filters.container_id)
    if filters.outcome:
        conditions.append(AuditEvent.outcome == filters.outcome)
    return (
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )


def page_of(query: Select[Any], page: Page) -> tuple[Select[Any], int]:
    """Apply the cursor (time, id of the last row of the previous page) and the page size;
    returns the query and how many rows to fetch (one more, to know if a page follows)."""
    position = page.position()
    if position is not None:
        try:
            moment, last_id = datetime.fromisoformat(position[0]), int(position[1])
        except (IndexError, TypeError, ValueError) as exc:
            raise InvalidInput(
                "The cursor is not one this archive gave", code="InvalidCursor"
            ) from exc
        # the index range stays ``occurred_at <= moment``; the tie on the same moment is a filter
        query = query.where(
            AuditEvent.occurred_at <= moment,
            not_(and_(AuditEvent.occurred_at == moment, AuditEvent.id >= last_id)),
        )
    return query.limit(page.size + 1), page.size


def next_cursor(rows: list[AuditEvent], size: int) -> str | None:
    if len(rows) <= size:
        return None
    last = rows[size - 1]
    return encode_cursor(last.occurred_at.isoformat(), last.id)


def to_json(event: AuditEvent) -> dict[str, Any]:
    return event_properties(event)
