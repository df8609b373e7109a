"""Renewal on demand (`sigarchive renew --due-before DATE` / `--certificate SHA256`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sigarchive.archive.enhancement import due_containers
from sigarchive.archive.leases import Lease, claim_one, worker_name
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, utcnow
from sigarchive.domain import ContainerStatus
from sigarchive.metadata.references import referrers


class Renewer(Protocol):
    """What renews a leased container (``archive.enhancement.Enhancer``)."""

    def renew(self, lease: Lease, threshold: datetime) -> None: ...


@dataclass(frozen=True)
class Renewal:
    """What renewal on demand needs: the database, what renews, how long a lease lasts."""

    db: Database
    renewer: Renewer
    lease_for: timedelta = timedelta(minutes=5)


def renew_due(renewal: Renewal, due_before: datetime) -> tuple[int, int]:
    """Renew every archived container due before ``due_before``; returns (renewed, skipped).

    The run's start is the threshold: a signature whose newest archive time-stamp is newer was
    already renewed by this run (or after it started), so a re-run or retry adds nothing twice.
    """
    started = utcnow()
    owner = worker_name("renew")
    renewed = skipped = 0
    for container_id in due_containers(renewal.db, due_before):
        if _renew_one(renewal, owner, container_id, started):
            renewed += 1
        else:
            skipped += 1
    return renewed, skipped


def _renew_one(renewal: Renewal, owner: str, container_id: str, started: datetime) -> bool:
    """Lease one container and renew it now; False when busy (leased) or the renewal failed."""
    lease = claim_one(renewal.db, owner, container_id, lease_for=renewal.lease_for)
    if lease is None:
        return False
    renewal.renewer.renew(lease, threshold=started)
    with renewal.db.session() as session:
        container = session.get(Container, container_id)
        return container is not None and container.last_error is None


def renew_dependents(
    renewal: Renewal,
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
    owner = worker_name("renew")
    renewed = skipped = 0
    after: str | None = None
    while True:
        with renewal.db.session() as session:
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
            with renewal.db.session() as session:
                container = session.get(Container, referrer.container_id)
                archived = container is not None and container.status == ContainerStatus.ARCHIVED
            if not archived:
                continue  # not enhanced yet: its first enhancement is still to come
            if _renew_one(renewal, owner, referrer.container_id, started):
                renewed += 1
            else:
                skipped += 1
