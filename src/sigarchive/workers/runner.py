"""The worker loop: claim due containers, hand each to a handler, never die of one failure.

The seed has two programs, ``document-consumer`` and ``signature-updater``; here both are
loops of this one runner over different statuses. ``sigarchive serve`` runs them in threads of
the server process (embedded default); ``sigarchive worker`` runs them alone, any number of
processes on any number of machines against the same database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sigarchive.db.engine import Database
from sigarchive.workers.leases import Lease, claim, release_orphaned_leases

log = logging.getLogger("sigarchive.workers")

Handler = Callable[[Lease], None]


def worker_name(kind: str) -> str:
    """Unique per process and loop: host, pid and a random suffix."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerLoop:
    """Claims containers in ``statuses`` and passes each lease to ``handler``."""

    db: Database
    kind: str
    statuses: Iterable[int]
    handler: Handler
    batch: int = 5
    poll_interval: float = 1.0
    lease_for: timedelta = timedelta(minutes=5)
    name: str = ""
    #: Called once per round (cheap housekeeping, e.g. ending storage periods).
    periodic: Callable[[], object] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.name = self.name or worker_name(self.kind)
        self.statuses = list(self.statuses)

    def run_once(self) -> int:
        """One round: claim a batch and handle it; returns how many were handled."""
        if self.periodic is not None:
            try:
                self.periodic()
            except Exception:  # housekeeping must not stop the real work
                log.exception("%s: periodic task failed", self.name)
        leases = claim(
            self.db, self.name, self.statuses, limit=self.batch, lease_for=self.lease_for
        )
        for lease in leases:
            if self._stop.is_set():
                break  # the lease expires and another worker takes the container
            try:
                self.handler(lease)
            except Exception:  # a handler failure must never stop the loop
                log.exception("%s: container %s failed", self.name, lease.container_id)
        return len(leases)

    def run_forever(self) -> None:
        log.info("%s started", self.name)
        try:
            if freed := release_orphaned_leases(self.db, socket.gethostname()):
                log.warning("%s: freed %d lease(s) of dead workers on this host", self.name, freed)
        except Exception:
            log.exception("%s: freeing orphaned leases failed", self.name)
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # database down: wait and retry
                log.exception("%s: claiming work failed", self.name)
                handled = 0
            if handled == 0:
                self._stop.wait(self.poll_interval)
        log.info("%s stopped", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
