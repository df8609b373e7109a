"""Post-enhancement plugins (the seed's SAN connectors): run after every enhancement and renewal.

When an enhancement or renewal ends (archived, or failed for good), one task per enabled
post-enhancement plugin is written into ``post_enhancement_tasks`` *in the same transaction*
as the container's new status, so a crash cannot lose it. A loop in every worker process
(``workers.jobs.PostEnhancementJob``) claims due tasks with a lease (the pattern of
``archive/leases.py``: one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``), runs
the plugin with the container as it is now, and deletes the task on success. A failure is
recorded as a ``post-enhancement-failed`` problem and retried with back-off (doubling from
``retry_first``, capped at an hour); it never changes the container, which stays archived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.models import Container, PostEnhancementTask, utcnow
from sigarchive.plugins.loader import PostEnhancementHandle
from sigarchive.plugins.protocols import ContainerInfo
from sigarchive.plugins.result import Result
from sigarchive.plugins.views import container_info
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

log = logging.getLogger("sigarchive.post_enhancement")

SYSTEM = Actor.system("signature-updater")
PROBLEM = "post-enhancement-failed"


def enqueue(session: Session, container_id: str, plugins: Iterable[str]) -> None:
    """Plan a run of each plugin for the container (due now), inside the caller's transaction."""
    now = utcnow()
    for plugin in plugins:
        task = session.scalar(
            select(PostEnhancementTask).where(
                PostEnhancementTask.container_id == container_id,
                PostEnhancementTask.plugin == plugin,
            )
        )
        if task is None:
            session.add(PostEnhancementTask(container_id=container_id, plugin=plugin, due_at=now))
        else:
            task.due_at = now


@dataclass(frozen=True)
class _Claimed:
    id: int
    container_id: str
    plugin: str


@dataclass
class PostEnhancementRunner:
    """Claims due tasks and runs their plugins."""

    db: Database
    plugins: list[PostEnhancementHandle]
    owner: str
    lease_for: timedelta = timedelta(minutes=5)
    retry_first: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(hours=1)
    batch: int = 10

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.plugins if p.enabled]

    def claim(self, now: datetime | None = None) -> list[_Claimed]:
        now = now or utcnow()
        names = self.names
        if not names:
            return []
        free = or_(PostEnhancementTask.lease_until.is_(None), PostEnhancementTask.lease_until < now)
        due = (
            select(PostEnhancementTask.id)
            .where(PostEnhancementTask.due_at <= now, PostEnhancementTask.plugin.in_(names), free)
            .order_by(PostEnhancementTask.due_at)
            .limit(self.batch)
        )
        if self.db.is_postgresql:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(PostEnhancementTask)
            .where(PostEnhancementTask.id.in_(due.scalar_subquery()), free)
            .values(lease_owner=self.owner, lease_until=now + self.lease_for)
            .returning(
                PostEnhancementTask.id, PostEnhancementTask.container_id, PostEnhancementTask.plugin
            )
            .execution_options(synchronize_session=False)
        )
        with self.db.session() as session:
            return [_Claimed(*row) for row in session.execute(statement)]

    def run_once(self) -> int:
        """Claim a batch and run it; returns how many tasks were handled."""
        claimed = self.claim()
        for task in claimed:
            try:
                self.run(task)
            except Exception:  # the database went away: the lease expires, the task returns
                log.exception("post-enhancement task %s failed", task.id)
        return len(claimed)

    def run(self, task: _Claimed) -> None:
        handle = next(p for p in self.plugins if p.name == task.plugin)
        with self.db.session() as session:
            container = session.get(Container, task.container_id)
            info = container_info(container) if container is not None else None
        if info is None:  # the container is gone (the foreign key cascades; belt and braces)
            self._finish(task, Result.ok(None), None)
            return
        result = asyncio.run(self._process(handle, info))
        self._finish(task, result, info.storage_id)

    async def _process(self, handle: PostEnhancementHandle, info: ContainerInfo) -> Result[None]:
        """Run the plugin, giving up (a failure, retried later) when the lease would expire."""
        timeout = self.lease_for.total_seconds() * 0.9
        try:
            return await asyncio.wait_for(handle.process(info), timeout)
        except TimeoutError:
            return Result.fail(f"plugin {handle.name!r} did not finish within {timeout:.0f} s")

    def _finish(self, task: _Claimed, result: Result[None], storage_id: int | None) -> None:
        mine = (PostEnhancementTask.id == task.id) & (PostEnhancementTask.lease_owner == self.owner)
        with self.db.session() as session:
            row = session.scalar(select(PostEnhancementTask).where(mine))
            if row is None:
                return  # lease lost: whoever holds it now records the outcome
            details: dict[str, object] = {"plugin": task.plugin, "attempt": row.attempts + 1}
            if result.is_success:
                session.execute(delete(PostEnhancementTask).where(mine))
                others_failing = session.scalar(
                    select(func.count())
                    .select_from(PostEnhancementTask)
                    .where(
                        PostEnhancementTask.container_id == task.container_id,
                        PostEnhancementTask.last_error.is_not(None),
                    )
                )
                if not others_failing:
                    problems.resolve(session, task.container_id, (PROBLEM,))
                outcome = "ok"
            else:
                row.attempts += 1
                delay = min(self.retry_first * (2 ** min(row.attempts - 1, 20)), self.retry_max)
                row.due_at = utcnow() + delay
                row.last_error = result.error
                row.lease_owner = None
                row.lease_until = None
                problems.report(
                    session,
                    PROBLEM,
                    f"{task.plugin}: {result.error}",
                    container_id=task.container_id,
                    severity="warning",
                )
                details["error"] = result.error
                outcome = "failed"
                log.warning(
                    "post-enhancement plugin %s failed for %s (attempt %d): %s",
                    task.plugin,
                    task.container_id,
                    row.attempts,
                    result.error,
                )
            record(
                session,
                "plugin.post-enhancement",
                SYSTEM,
                container_id=task.container_id,
                storage_id=storage_id,
                outcome=outcome,
                details=details,
            )
