"""The jobs the loops run: enhancement and renewal of due containers, post-enhancement
plugins, scheduled metadata work.

The seed has two programs, ``document-consumer`` and ``signature-updater``; here both are a
:class:`ContainerJob` over different statuses.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sigarchive.archive.leases import Lease, claim, release_orphaned_leases
from sigarchive.archive.post_enhancement import PostEnhancementRunner
from sigarchive.db.engine import Database
from sigarchive.metadata.maintenance import Maintenance

log = logging.getLogger("sigarchive.workers")

Handler = Callable[[Lease], None]


@dataclass
class ContainerJob:
    """Claims due containers in ``statuses`` and passes each lease to ``handler``."""

    db: Database
    owner: str
    statuses: Iterable[int]
    handler: Handler
    batch: int = 5
    lease_for: timedelta = timedelta(minutes=5)
    #: Called once per round (cheap housekeeping, e.g. ending storage periods).
    periodic: Callable[[], object] | None = None
    _statuses: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self._statuses = list(self.statuses)

    def free_orphaned_leases(self) -> None:
        """Leases of dead worker processes of this host need not wait for their expiry."""
        if freed := release_orphaned_leases(self.db, socket.gethostname()):
            log.warning("%s: freed %d lease(s) of dead workers on this host", self.owner, freed)

    def __call__(self, stopping: threading.Event) -> int:
        """One round: claim a batch and handle it; returns how many were handled."""
        if self.periodic is not None:
            try:
                self.periodic()
            except Exception:  # housekeeping must not stop the real work
                log.exception("%s: periodic task failed", self.owner)
        leases = claim(
            self.db, self.owner, self._statuses, limit=self.batch, lease_for=self.lease_for
        )
        for lease in leases:
            if stopping.is_set():
                break  # the lease expires and another worker takes the container
            try:
                self.handler(lease)
            except Exception:  # a handler failure must never stop the loop
                log.exception("%s: container %s failed", self.owner, lease.container_id)
        return len(leases)


@dataclass
class PostEnhancementJob:
    """Runs the due post-enhancement tasks (SAN connectors)."""

    runner: PostEnhancementRunner

    def __call__(self, stopping: threading.Event) -> int:
        return self.runner.run_once()


@dataclass
class MaintenanceJob:
    """Runs the scheduled metadata tasks that are due (never busy: the loop waits after)."""

    maintenance: Maintenance

    def __call__(self, stopping: threading.Event) -> int:
        self.maintenance.run_due()
        return 0
