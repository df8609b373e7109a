"""The one loop every background job runs in: a thread, a stop event, an interval, back-off.

A job is called once per round with the loop's stop event and returns how much it did; the
loop waits ``interval`` when a round did nothing, and backs off (doubling, capped) while
rounds fail (the database is down), logging each failure. A job never stops the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("sigarchive.workers")


class Job(Protocol):
    """One round of a concern's work; returns how many items it handled (0: idle)."""

    def __call__(self, stopping: threading.Event) -> int: ...


@dataclass
class Loop:
    """Runs ``job`` in a thread until :meth:`stop`."""

    name: str
    job: Job
    interval: float = 1.0
    #: Longest wait between two failed rounds.
    max_backoff: float = 30.0
    #: Wait one interval before the first round (scheduled work, not a queue).
    wait_first: bool = False
    #: Run once when the thread starts (e.g. freeing the leases of dead workers).
    setup: Callable[[], object] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round, as the thread runs it (failures are logged, not raised)."""
        try:
            return self.job(self._stop)
        except Exception:  # database down: wait and retry
            log.exception("%s: round failed", self.name)
            raise

    def run_forever(self) -> None:
        log.info("%s started", self.name)
        if self.setup is not None:
            try:
                self.setup()
            except Exception:
                log.exception("%s: setting up failed", self.name)
        failures = 0
        if self.wait_first:
            self._stop.wait(self.interval)
        while not self._stop.is_set():
            try:
                handled = self.run_once()
                failures = 0
            except Exception:
                handled = 0
                failures += 1
            if handled == 0:
                delay = self.interval * 2 ** min(max(failures - 1, 0), 16)
                self._stop.wait(min(delay, max(self.max_backoff, self.interval)))
        log.info("%s stopped", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
