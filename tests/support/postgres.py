"""A throw-away PostgreSQL server for the test session (installed on the machine, not running).

PostgreSQL refuses to run as root, and CI runs as root: the cluster then belongs to the
``postgres`` system user and is driven through ``su``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _find(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"PostgreSQL's {tool} is not installed; `make test` installs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    directory: Path
    port: int
    as_user: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = list(args)
        if self.as_user:
            command = ["su", self.as_user, "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @classmethod
    def start(cls) -> PostgresServer:
        as_user = "postgres" if os.geteuid() == 0 else None
        directory = Path(tempfile.mkdtemp(prefix="sigarchive-pg-"))
        if as_user:
            shutil.chown(directory, as_user, as_user)
        server = cls(directory, free_port(), as_user)
        server._run(
            _find("initdb"),
            "-D",
            str(directory / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        server._run(
            _find("pg_ctl"),
            "-D",
            str(directory / "data"),
            "-o",
            options,
            "-l",
            str(directory / "log"),
            "-w",
            "start",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(server.admin_url, connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return server

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run(
                _find("pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"
