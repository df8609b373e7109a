"""Shared fixtures: a real PostgreSQL for the session, and the archive server on each backend.

Every test that takes ``archive`` runs twice: once on the embedded SQLite default and once on
PostgreSQL (SPEC §7: both database back-ends pass the same test suite).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sigarchive.db.engine import Database
from tests.support.postgres import PostgresServer
from tests.support.server import ArchiveServer

BACKENDS = ["sqlite", "postgresql"]

# Certificates in the corpus name OCSP/CRL/CA URLs on the internet. Tests must never reach
# them: every HTTP client in this process and in the servers it starts (requests, httpx,
# aiohttp with trust_env) is sent to a closed loopback proxy for anything but loopback.
CLOSED_PROXY = "http://127.0.0.1:9"
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
    os.environ[_name] = CLOSED_PROXY
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = "localhost,127.0.0.1,::1"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    yield server
    server.stop()


def database_url_for(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'sigarchive.sqlite3'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database()


@pytest.fixture(scope="session", params=BACKENDS)
def archive(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ArchiveServer]:
    """A running archive server (one per backend for the whole session)."""
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"archive-{backend}")
    server = ArchiveServer(data_dir, database_url_for(backend, data_dir, request)).start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database of each backend (no server attached)."""
    db = Database(database_url_for(request.param, tmp_path, request))
    db.migrate()
    yield db
    db.dispose()


@dataclass
class Tenant:
    """A fresh storage with a user granted to it, and a client authenticated as that user."""

    storage_id: int
    token: str
    client: httpx.Client


@pytest.fixture
def tenant(archive: ArchiveServer) -> Iterator[Tenant]:
    storage_id = archive.create_storage(f"storage-{uuid.uuid4().hex[:8]}")
    token = archive.create_user(storage_id)
    with archive.client(token) as client:
        yield Tenant(storage_id, token, client)
