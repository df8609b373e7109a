"""The audit trail: every action with who did it and from where, as a hash chain.

Rows are written in the same transaction as the action they describe, so an action is never
recorded without happening nor happens without being recorded. The metadata repository serves
them as its audit facet; ``sigarchive audit verify`` checks the chain.

Every audit event gets a sequence number ``seq`` (1, 2, 3 … without gaps), the hash of the
previous entry and its own hash, SHA-256 over a canonical JSON of its fields and both of
those. ``audit_chain_head`` holds the last ``seq`` and hash, so a removed, inserted or altered
entry is detected.

Concurrent writers (threads, processes, machines; SQLite and PostgreSQL): the entries of a
transaction are chained in its ``before_commit``, right before COMMIT, by an
``UPDATE audit_chain_head … RETURNING``. On PostgreSQL that UPDATE row-locks the head until
the transaction ends, so appends happen one transaction after another and a waiting writer
reads the head its predecessor committed (READ COMMITTED re-reads the updated row). On SQLite
the UPDATE takes the database's single write lock, which every writer takes anyway. A
transaction that rolls back releases the head unchanged, so ``seq`` has no holes. The lock is
held only from the chaining to the COMMIT: the head is the last lock a transaction takes,
which rules out deadlocks through it.

:func:`verify` walks the chain in ``seq`` order in batches (never everything in memory).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.metadata_models import GENESIS_HASH, AuditChainHead, table_of
from sigarchive.db.models import AuditEvent, utcnow

#: Version of the canonical form; part of every hash.
CHAIN_VERSION = 1
_PENDING = "sigarchive.records.audit.pending"


def canonical(
    seq: int,
    prev_hash: str,
    occurred_at: datetime,
    action: str,
    outcome: str,
    user_id: int | None,
    user_name: str | None,
    remote_ip: str | None,
    container_id: str | None,
    storage_id: int | None,
    details: Any,
) -> bytes:
    """The bytes an entry's hash covers (UTC time with microseconds, sorted JSON keys)."""
    moment = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [
        CHAIN_VERSION,
        seq,
        prev_hash,
        moment,
        action,
        outcome,
        user_id,
        user_name,
        remote_ip,
        container_id,
        storage_id,
        details,
    ]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


class Entry(Protocol):
    """What an entry's hash covers: an ``AuditEvent``, a result row, a namespace."""

    occurred_at: datetime
    action: str
    outcome: str
    user_id: int | None
    user_name: str | None
    remote_ip: str | None
    container_id: str | None
    storage_id: int | None
    details: Any


def entry_hash(event_row: Entry, seq: int, prev_hash: str) -> str:
    """SHA-256 (hex) of an audit event chained at ``seq`` after ``prev_hash``."""
    return hashlib.sha256(
        canonical(
            seq,
            prev_hash,
            event_row.occurred_at,
            event_row.action,
            event_row.outcome,
            event_row.user_id,
            event_row.user_name,
            event_row.remote_ip,
            event_row.container_id,
            event_row.storage_id,
            event_row.details,
        )
    ).hexdigest()


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
    enqueue(session, audit_event)


def enqueue(session: Session, audit_event: AuditEvent) -> None:
    """Chain ``audit_event`` when ``session`` commits (called by :func:`record`)."""
    pending: list[AuditEvent] = session.info.setdefault(_PENDING, [])
    pending.append(audit_event)


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending: list[AuditEvent] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    head = table_of(AuditChainHead)
    connection = session.connection()
    bump = (
        update(head)
        .where(head.c.id == 1)
        .values(seq=head.c.seq + len(pending))
        .returning(head.c.seq, head.c.last_hash)
    )
    row = connection.execute(bump).one_or_none()
    if row is None:  # a database migrated by hand without the head row
        raise RuntimeError("audit_chain_head has no row: run the migrations")
    seq = int(row.seq) - len(pending)
    last = str(row.last_hash)
    for audit_event in pending:
        seq += 1
        audit_event.seq = seq
        audit_event.prev_hash = last
        last = entry_hash(audit_event, seq, last)
        audit_event.entry_hash = last
    connection.execute(
        update(head).where(head.c.id == 1).values(last_hash=last, updated_at=utcnow())
    )


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


# ---- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops being intact, and why."""

    seq: int | None
    event_id: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "eventId": self.event_id, "reason": self.reason}


@dataclass
class ChainReport:
    """The result of :func:`verify`: ``intact`` when no break was found."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    breaks: list[ChainBreak] = field(default_factory=list)
    truncated_report: bool = False

    @property
    def intact(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "headSeq": self.head_seq,
            "headHash": self.head_hash,
            "breaks": [b.to_json() for b in self.breaks],
            "moreBreaksNotListed": self.truncated_report,
        }


def _rows(db: Database, batch: int) -> Iterator[Any]:
    """The chained entries in ``seq`` order, ``batch`` rows per query (plain rows, no ORM
    objects: verification reads every entry)."""
    columns = [c for c in table_of(AuditEvent).columns]
    after = 0
    while True:
        with db.engine.connect() as connection:
            rows = list(
                connection.execute(
                    select(*columns)
                    .where(AuditEvent.seq > after)
                    .order_by(AuditEvent.seq)
                    .limit(batch)
                )
            )
        if not rows:
            return
        yield from rows
        after = rows[-1].seq or after


def verify(db: Database, *, batch: int = 20000, max_breaks: int = 20) -> ChainReport:
    """Recompute the chain: every ``seq`` present once, each ``prev_hash`` the previous
    entry's hash, each hash matching the entry, the head matching the last entry, and no
    entry outside the chain."""
    report = ChainReport()

    def broken(seq: int | None, event_id: int | None, reason: str) -> None:
        if len(report.breaks) < max_breaks:
            report.breaks.append(ChainBreak(seq, event_id, reason))
        else:
            report.truncated_report = True

    with db.session() as session:
        head = session.get(AuditChainHead, 1)
        report.head_seq = head.seq if head else 0
        report.head_hash = head.last_hash if head else GENESIS_HASH
        unchained = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
        )
    if head is None:
        broken(None, None, "the chain head row is missing")
    if unchained:
        broken(None, None, f"{unchained} audit entries were inserted outside the chain")

    expected_seq = 1
    previous = GENESIS_HASH
    for row in _rows(db, batch):
        seq = row.seq or 0
        report.entries += 1
        if seq != expected_seq:
            broken(
                expected_seq,
                row.id,
                f"entries {expected_seq}..{seq - 1} are missing (removed)"
                if seq > expected_seq
                else f"entry {seq} appears twice",
            )
        elif row.prev_hash != previous:
            broken(seq, row.id, "the link to the previous entry does not match")
        if row.entry_hash != entry_hash(row, seq, row.prev_hash or ""):
            broken(seq, row.id, "the entry was altered (its hash does not match its content)")
        previous = row.entry_hash or ""
        expected_seq = seq + 1
    last_seq = expected_seq - 1
    if last_seq != report.head_seq:
        broken(
            last_seq + 1 if last_seq < report.head_seq else report.head_seq,
            None,
            f"the head says {report.head_seq} entries but the chain ends at {last_seq}"
            + (" (entries removed from the end)" if last_seq < report.head_seq else ""),
        )
    elif previous != report.head_hash and last_seq > 0:
        broken(last_seq, None, "the last entry's hash differs from the head's")
    return report


def chain_rows(rows: list[dict[str, Any]], seq: int, prev_hash: str) -> tuple[int, str]:
    """Fill ``seq``, ``prev_hash`` and ``entry_hash`` into plain row dicts (bulk loads);
    returns the new head. Migrations keep a frozen copy of their own."""

    for values in rows:
        seq += 1
        values["seq"] = seq
        values["prev_hash"] = prev_hash
        prev_hash = entry_hash(SimpleNamespace(**values), seq, prev_hash)
        values["entry_hash"] = prev_hash
    return seq, prev_hash
