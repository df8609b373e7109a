"""The real archive server, started as ``sigarchive serve`` in a subprocess for HTTP tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sigarchive.archive import accounts
from sigarchive.db.engine import Database
from sigarchive.records.audit import Actor
from tests.support.postgres import free_port


@dataclass
class ArchiveServer:
    """A running archive and the environment its CLI needs to administer it."""

    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _db: Database | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SIGARCHIVE_DATA_DIR=str(self.data_dir),
            SIGARCHIVE_DATABASE_URL=self.database_url,
            # quick retries, and no waiting for the corpus' long-gone OCSP/CRL services
            SIGARCHIVE_POLL_INTERVAL="0.2",
            SIGARCHIVE_RETRY_FIRST_SECONDS="0.5",
            SIGARCHIVE_REVOCATION_PATIENCE_SECONDS="0",
            SIGARCHIVE_NETWORK_TIMEOUT="3",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> ArchiveServer:
        log = (self.data_dir / "server.log").open("ab")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigarchive",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self._db is not None:
            self._db.dispose()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``sigarchive ARGS`` against this archive's database."""
        result = subprocess.run(
            [sys.executable, "-m", "sigarchive", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"sigarchive {' '.join(args)} failed: {result.stderr}")
        return result

    @property
    def db(self) -> Database:
        """The archive's database, opened in the test process (same code the CLI runs)."""
        if self._db is None:
            self._db = Database(self.database_url)
        return self._db

    def create_storage(self, name: str | None = None) -> int:
        with self.db.session() as session:
            storage = accounts.create_storage(
                session, name or f"storage-{uuid.uuid4().hex[:8]}", Actor.system("tests")
            )
            return storage.id

    def create_user(self, *storage_ids: int, name: str | None = None) -> str:
        with self.db.session() as session:
            _user, token = accounts.create_user(
                session,
                name or f"user-{uuid.uuid4().hex[:8]}",
                list(storage_ids),
                Actor.system("tests"),
            )
            return token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120)
