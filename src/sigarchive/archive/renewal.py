"""Renewal on demand (`sigarchive renew --due-before DATE` / `--certificate SHA256`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sigarchive.archive.enhancement import Enhancer, due_containers
from sigarchive.db.models import Container, utcnow
from sigarchive.domain import ContainerStatus
from sigarchive.metadata.references import referrers
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
        if _renew_one(runtime, enhancer, owner, container_id, started):
            renewed += 1
        else:
            skipped += 1
    return renewed, skipped


def _renew_one(
    runtime: ArchiveRuntime, enhancer: Enhancer, owner: str, container_id: str, started: datetime
) -> bool:
    """Lease one container and renew it now; False when busy (leased) or the renewal failed."""
    lease = claim_one(
        runtime.db, owner, container_id, lease_for=timedelta(seconds=runtime.settings.lease_seconds)
    )
    if lease is None:
        return False
    enhancer.renew(lease, threshold=started)
    with runtime.db.session() as session:
        container = session.get(Container, container_id)
        return container is not None and container.last_error is None


def renew_dependents(
    runtime: ArchiveRuntime,
    sha256: str,
    *,
    storage_ids: list[int] | None = None,
    reference_type: str | None = None,
) -> tuple[int, int]:
    """Renew now every archived container that depends on a certificate (e.g. a TSA or CA
    that was compromised), found through the references (in ``storage_ids`` if given);
    returns (renewed, skipped).

    The containers are read a page at a time from the references index, never all at once.
    """
    started = utcnow()
    enhancer = runtime.enhancer()
    owner = worker_name("renew")
    renewed = skipped = 0
    after: str | None = None
    while True:
        with runtime.db.session() as session:
            page = referrers(
                session,
                sha256,
                storage_ids=storage_ids,
                after=after,
                limit=200,
                reference_type=reference_type,
            )
        if not page:
            return renewed, skipped
        after = page[-1].container_id
        for referrer in page:
            with runtime.db.session() as session:
                container = session.get(Container, referrer.container_id)
                archived = container is not None and container.status == ContainerStatus.ARCHIVED
            if not archived:
                continue  # not enhanced yet: its first enhancement is still to come
            if _renew_one(runtime, enhancer, owner, referrer.container_id, started):
                renewed += 1
            else:
                skipped += 1
