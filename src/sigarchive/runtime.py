"""The composition root: everything a process of the archive needs, built from Settings.

`sigarchive serve`, `sigarchive worker` and `sigarchive renew` all start an
:class:`ArchiveRuntime`; what differs is which parts they run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING

from sigarchive.archive.leases import worker_name
from sigarchive.archive.post_enhancement import PostEnhancementRunner, enqueue
from sigarchive.archive.renewal import Renewal
from sigarchive.archive.retention import retire
from sigarchive.archive.trust import add_anchor
from sigarchive.config import Settings
from sigarchive.db.engine import Database
from sigarchive.devpki import DevPkiServer
from sigarchive.devpki.pki import stored_endpoint
from sigarchive.domain import ContainerStatus
from sigarchive.errors import ServiceUnavailable
from sigarchive.metadata.maintenance import Maintenance
from sigarchive.metadata.repository import FileInfo, MetadataRepository, build_repository
from sigarchive.plugins.config import LOCAL, load_plugin_config
from sigarchive.plugins.loader import PluginRegistry, build_registry, split_location
from sigarchive.plugins.protocols import Document
from sigarchive.records.audit import Actor
from sigarchive.signatures import MultiDigester
from sigarchive.signatures.timestamps.http_client import HttpTimeStamper
from sigarchive.workers.jobs import ContainerJob, MaintenanceJob, PostEnhancementJob
from sigarchive.workers.loop import Loop

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sigarchive.archive.enhancement import Enhancer
    from sigarchive.db.models import Container

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
    #: Document storage and post-enhancement plugins (plugin-config.json), by name.
    plugins: PluginRegistry
    tsa_urls: list[str]
    development_pki: bool
    _devpki: DevPkiServer | None = None
    _timestamper: HttpTimeStamper | None = None
    _loops: list[Loop] = field(default_factory=list)
    _maintenance: Loop | None = None

    @classmethod
    def open(cls, settings: Settings, *, serve_devpki: bool = False) -> ArchiveRuntime:
        """Open the database (migrated), load the plugins and find the TSA; start the
        development PKI if asked. A bad plugin-config.json is refused (PluginConfigError)."""
        settings.prepare_directories()
        config = load_plugin_config(settings.plugin_config_path)
        db = Database(settings.resolved_database_url)
        try:
            db.migrate()
            plugins = build_registry(config, db=db, documents_dir=settings.documents_dir)
        except BaseException:
            db.dispose()
            raise
        runtime = cls(settings, db, plugins, settings.tsa_urls, development_pki=False)
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
        return Enhancer(
            self.db,
            self.timestamper,
            policy,
            document_digests=self.document_digests,
            on_outcome=self._plan_post_enhancement,
            renewal_margin_for=self.metadata.configuration.renewal_margin,
        )

    def renewal(self) -> Renewal:
        """Renewal on demand (``sigarchive renew``) with this process's enhancer."""
        return Renewal(self.db, self.enhancer(), timedelta(seconds=self.settings.lease_seconds))

    @cached_property
    def metadata(self) -> MetadataRepository:
        """The metadata repository (tree, facets, configuration section)."""
        return build_repository(
            self.db,
            self.settings.data_dir,
            self.document_file_info,
            known_plugins=lambda: sorted(self.plugins.storages),
        )

    def open_document(self, location: str) -> Document:
        """A retained document as a stream, from its storage plugin (the fixity check)."""
        return self.plugins.open_document(location)

    def document_file_info(self, location: str) -> FileInfo | None:
        """Size and modification time of a retained document, when its storage keeps files
        the archive can look at (``local``); None otherwise."""
        name, inner = split_location(location)
        if name != LOCAL:
            return None
        try:
            stat = (self.settings.documents_dir / inner).stat()
        except OSError:
            return None
        return FileInfo(stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def maintenance(self) -> Maintenance:
        """Scheduled metadata work: statistics snapshots, fixity check, expiring certificates."""
        return Maintenance(self.db, self.metadata.configuration, self.open_document)

    def document_digests(self, location: str, algorithms: list[str]) -> dict[str, bytes]:
        """Digests of a retained document, streamed from its storage plugin."""
        digester = MultiDigester(algorithms)
        with self.plugins.open_document(location) as document:
            for chunk in document.chunks():
                digester.update(chunk)
        return digester.digests()

    def _plan_post_enhancement(self, session: Session, container: Container) -> None:
        names = [p.name for p in self.plugins.post_enhancement if p.enabled]
        if names:
            enqueue(session, container.id, names)

    def _housekeeping(self, owner: str) -> None:
        """End storage periods, then delete the documents whose storage period ended."""
        retire(
            self.db,
            self.plugins,
            owner,
            lease_for=timedelta(seconds=self.settings.lease_seconds),
            retry_first=timedelta(seconds=self.settings.retry_first_seconds),
        )

    def start_workers(self, count: int) -> None:
        """Start ``count`` signature-updater loops in threads of this process, the
        post-enhancement loop (when a plugin is enabled) and the metadata maintenance loop."""
        enhancer = self.enhancer()
        interval = self.settings.poll_interval
        lease_for = timedelta(seconds=self.settings.lease_seconds)
        for _ in range(count):
            owner = worker_name("signature-updater")
            job = ContainerJob(
                self.db,
                owner,
                UPDATER_STATUSES,
                enhancer.process,
                lease_for=lease_for,
                periodic=partial(self._housekeeping, owner),
            )
            self._start(Loop(owner, job, interval, setup=job.free_orphaned_leases))
        post = [p for p in self.plugins.post_enhancement if p.enabled]
        if post:
            runner = PostEnhancementRunner(
                self.db,
                post,
                worker_name("post-enhancement"),
                lease_for=lease_for,
                retry_first=timedelta(seconds=self.settings.retry_first_seconds),
            )
            self._start(Loop(runner.owner, PostEnhancementJob(runner), interval))
        if count > 0 and self._maintenance is None:
            scheduled = MaintenanceJob(self.maintenance())
            self._maintenance = Loop("metadata-maintenance", scheduled, interval, wait_first=True)
            self._maintenance.start()

    def _start(self, loop: Loop) -> None:
        loop.start()
        self._loops.append(loop)

    def close(self) -> None:
        if self._maintenance is not None:
            self._maintenance.stop()
        for loop in self._loops:
            loop.stop()
        self._loops.clear()
        if self._timestamper is not None:
            self._timestamper.close()
        if self._devpki is not None:
            self._devpki.stop()
        self.plugins.close()
        self.db.dispose()
