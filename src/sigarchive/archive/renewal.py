"""Renewal on demand (`sigarchive renew --due-before DATE`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sigarchive.archive.enhancement import due_containers
from sigarchive.db.models import Container, utcnow
from sigarchive.runtime import ArchiveRuntime
from sigarchive.workers.leases import claim_one
from sigarchive.workers.runner import worker_name


def renew_due(runtime: ArchiveRuntime, due_before: datetime) -> tuple[int, int]:
    """Renew every archived container due before ``due_before``; returns (renewed, skipped).

    The run's start is the threshold: a signature whose newest archive time-stamp is newer was
    already renewed by this run (or after it started), so a re-run or retry adds nothing twice.
    """
    started = utcnow()
    enhancer = runtime.enhancer()
    owner = worker_name("renew")
    renewed = skipped = 0
    for container_id in due_containers(runtime.db, due_before):
        lease = claim_one(
            runtime.db,
            owner,
            container_id,
            lease_for=timedelta(seconds=runtime.settings.lease_seconds),
        )
        if lease is None:
            skipped += 1
            continue
        enhancer.renew(lease, threshold=started)
        with runtime.db.session() as session:
            container = session.get(Container, container_id)
            if container is not None and container.last_error is None:
                renewed += 1
            else:
                skipped += 1
    return renewed, skipped
