"""Scheduled metadata work shared by every process: statistics snapshots, the fixity check,
certificates nearing expiry.

Each task has a row in ``periodic_tasks``; a process runs a task only if it moved that row's
``next_run_at`` forward itself (a conditional UPDATE), so with any number of servers and
workers each run happens once. Every run is bounded (one snapshot per storage, one fixity
batch, one page of expiring certificates) and runs in a background loop, never in a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update

from sigarchive.db.engine import Database
from sigarchive.db.metadata_models import PeriodicTask, table_of
from sigarchive.db.models import utcnow
from sigarchive.metadata import fixity, problem_reports, statistics
from sigarchive.metadata.configuration import ConfigurationStore
from sigarchive.records.audit import Actor

log = logging.getLogger("sigarchive.maintenance")

SYSTEM = Actor.system("metadata-scheduler")
#: A process looks at a task's row at most this often.
CHECK_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Claim:
    cursor: str | None


def claim(db: Database, name: str, interval: timedelta, now: datetime) -> Claim | None:
    """Take the task's run if it is due (or the interval was shortened since the last run)."""
    table = table_of(PeriodicTask)
    with db.session() as session:
        connection = session.connection()
        row = connection.execute(
            update(table)
            .where(
                table.c.name == name,
                or_(table.c.next_run_at <= now, table.c.last_run_at <= now - interval),
            )
            .values(next_run_at=now + interval, last_run_at=now)
            .returning(table.c.cursor)
        ).one_or_none()
        if row is not None:
            return Claim(row.cursor)
        if connection.scalar(select(table.c.name).where(table.c.name == name)) is not None:
            return None
        inserted = connection.execute(
            _insert_ignore(connection.dialect.name).values(
                name=name, next_run_at=now + interval, last_run_at=now
            )
        ).rowcount
        return Claim(None) if inserted else None


def _insert_ignore(dialect: str) -> Any:
    table = table_of(PeriodicTask)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing()
    return insert(table)  # pragma: no cover


def finish(db: Database, name: str, cursor: str | None, result: dict[str, Any]) -> None:
    table = table_of(PeriodicTask)
    with db.session() as session:
        session.execute(
            update(table).where(table.c.name == name).values(cursor=cursor, last_result=result)
        )


@dataclass
class Maintenance:
    """Runs the metadata tasks that are due (``workers.jobs.MaintenanceJob`` in a loop)."""

    db: Database
    configuration: ConfigurationStore
    opener: fixity.DocumentOpener
    _not_before: dict[str, float] = field(default_factory=dict)

    def tasks(self) -> list[tuple[str, timedelta, Callable[[str | None], tuple[str | None, Any]]]]:
        server = self.configuration.server()
        return [
            (
                "statistics-snapshot",
                timedelta(seconds=server.statisticsSnapshotIntervalSeconds),
                self._snapshot,
            ),
            ("fixity-check", timedelta(seconds=server.fixityCheckIntervalSeconds), self._fixity),
            (
                "certificate-expiry",
                timedelta(seconds=server.certificateExpiryCheckIntervalSeconds),
                self._expiry,
            ),
        ]

    def run_due(self, now: datetime | None = None) -> dict[str, Any]:
        """Run every task that is due now; returns what each did."""
        done: dict[str, Any] = {}
        try:
            self.configuration.observe()  # audit an edit of the configuration file
        except Exception:
            log.exception("observing the configuration file failed")
        for name, interval, task in self.tasks():
            if time.monotonic() < self._not_before.get(name, 0.0):
                continue
            self._not_before[name] = time.monotonic() + min(interval, CHECK_EVERY).total_seconds()
            taken = claim(self.db, name, interval, now or utcnow())
            if taken is None:
                continue
            try:
                cursor, result = task(taken.cursor)
            except Exception:
                log.exception("metadata task %s failed", name)
                continue
            finish(self.db, name, cursor, {"at": utcnow().isoformat(), "result": result})
            done[name] = result
        return done

    def _snapshot(self, cursor: str | None) -> tuple[str | None, Any]:
        with self.db.session() as session:
            return None, statistics.snapshot_all(session, "scheduled", SYSTEM)

    def _fixity(self, cursor: str | None) -> tuple[str | None, Any]:
        server = self.configuration.server()
        result = fixity.check_batch(
            self.db,
            self.opener,
            after=cursor,
            limit=server.fixityCheckBatchSize,
            max_bytes=server.fixityCheckBatchBytes,
        )
        return result.last_container_id, result.to_json()

    def _expiry(self, cursor: str | None) -> tuple[str | None, Any]:
        days = timedelta(days=self.configuration.server().certificateExpiryWarningDays)
        with self.db.session() as session:
            return None, problem_reports.check_certificate_expiry(session, days)
