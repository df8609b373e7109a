"""The composition root: everything a process of the archive needs, built from Settings.

`sigarchive serve`, `sigarchive worker` and `sigarchive renew` all start an
:class:`ArchiveRuntime`; what differs is which parts they run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sigarchive.archive.audit import Actor
from sigarchive.archive.documents import LocalDocumentStore
from sigarchive.archive.model import ContainerStatus
from sigarchive.archive.retention import end_storage_periods
from sigarchive.archive.trust import add_anchor
from sigarchive.config import Settings
from sigarchive.db.engine import Database
from sigarchive.devpki.pki import stored_endpoint
from sigarchive.devpki.services import DevPkiServer
from sigarchive.errors import ServiceUnavailable
from sigarchive.signatures.timestamps import HttpTimeStamper
from sigarchive.workers.runner import WorkerLoop

if TYPE_CHECKING:
    from sigarchive.archive.enhancement import Enhancer

log = logging.getLogger("sigarchive")

DEV_WARNING = (
    "DEVELOPMENT PKI in use: time-stamps and revocation data come from a local test CA and "
    "prove nothing. Configure SIGARCHIVE_TSA_URL and trust anchors for production."
)
#: Statuses the signature-updater works on (ARCHIVED: when renewal is due).
UPDATER_STATUSES = (ContainerStatus.RECEIVED, ContainerStatus.PROCESSING, ContainerStatus.ARCHIVED)


@dataclass
class ArchiveRuntime:
    settings: Settings
    db: Database
    documents: LocalDocumentStore
    tsa_urls: list[str]
    development_pki: bool
    _devpki: DevPkiServer | None = None
    _timestamper: HttpTimeStamper | None = None
    _loops: list[WorkerLoop] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings, *, serve_devpki: bool = False) -> ArchiveRuntime:
        """Open the database (migrated) and find the TSA; start the development PKI if asked."""
        settings.prepare_directories()
        db = Database(settings.resolved_database_url)
        db.migrate()
        runtime = cls(
            settings,
            db,
            LocalDocumentStore(settings.documents_dir),
            settings.tsa_urls,
            development_pki=False,
        )
        if not runtime.tsa_urls and settings.devpki:
            runtime._use_development_pki(serve_devpki)
        return runtime

    def _use_development_pki(self, serve: bool) -> None:
        directory = self.settings.devpki_dir
        if serve:
            self._devpki = DevPkiServer(directory, host=self.settings.devpki_host)
            pki = self._devpki.start()
            with self.db.session() as session:
                add_anchor(
                    session, pki.root.certificate, Actor.system("devpki"), source="development"
                )
            self.tsa_urls = [pki.tsa_url]
        else:
            endpoint = stored_endpoint(directory)
            if endpoint is None:
                return
            self.tsa_urls = [f"http://{endpoint[0]}:{endpoint[1]}/tsa"]
        self.development_pki = True
        log.warning(DEV_WARNING)

    @property
    def timestamper(self) -> HttpTimeStamper:
        if not self.tsa_urls:
            raise ServiceUnavailable(
                "No TSA configured: set SIGARCHIVE_TSA_URL (or run `sigarchive serve` once "
                "with the development PKI on this data directory)",
                code="TsaNotConfigured",
            )
        if self._timestamper is None:
            self._timestamper = HttpTimeStamper(
                self.tsa_urls, timeout=self.settings.network_timeout
            )
        return self._timestamper

    def enhancer(self) -> Enhancer:
        from sigarchive.archive.enhancement import EnhancementPolicy, Enhancer

        s = self.settings
        policy = EnhancementPolicy(
            timestamp_algorithm=s.timestamp_algorithm,
            renewal_margin=timedelta(days=s.renewal_margin_days),
            problem_after=timedelta(seconds=s.problem_after_seconds),
            retry_first=timedelta(seconds=s.retry_first_seconds),
            revocation_timeout=s.network_timeout,
            revocation_patience=timedelta(seconds=s.revocation_patience_seconds),
        )
        return Enhancer(self.db, self.timestamper, policy, self.settings.documents_dir)

    def start_workers(self, count: int) -> None:
        """Start ``count`` signature-updater loops in threads of this process."""
        enhancer = self.enhancer()
        for _ in range(count):
            loop = WorkerLoop(
                self.db,
                "signature-updater",
                UPDATER_STATUSES,
                enhancer.process,
                poll_interval=self.settings.poll_interval,
                lease_for=timedelta(seconds=self.settings.lease_seconds),
                periodic=lambda: end_storage_periods(self.db),
            )
            loop.start()
            self._loops.append(loop)

    def close(self) -> None:
        for loop in self._loops:
            loop.stop()
        self._loops.clear()
        if self._timestamper is not None:
            self._timestamper.close()
        if self._devpki is not None:
            self._devpki.stop()
        self.db.dispose()
