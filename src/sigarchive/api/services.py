"""What the API layer is handed: settings, database, document store. Built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from sigarchive.archive.documents import LocalDocumentStore
from sigarchive.config import Settings
from sigarchive.db.engine import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    documents: LocalDocumentStore

    @classmethod
    def start(cls, settings: Settings) -> Services:
        settings.prepare_directories()
        db = Database(settings.resolved_database_url)
        db.migrate()
        return cls(settings, db, LocalDocumentStore(settings.documents_dir))

    def close(self) -> None:
        self.db.dispose()
