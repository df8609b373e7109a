"""No acknowledged upload is ever lost: the server is killed with SIGKILL while clients
upload, restarted, and every container it acknowledged is there and gets archived."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sigarchive.api.multipart import sweep_spool
from tests.conftest import BACKENDS, database_url_for
from tests.integration.test_documents_api import DOCUMENT, upload, wait_for_status
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature


@pytest.mark.parametrize("backend", BACKENDS)
def test_server_killed_during_uploads_loses_nothing_acknowledged(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "archive"
    data_dir.mkdir()
    archive = ArchiveServer(data_dir, database_url_for(backend, data_dir, request)).start()
    storage_id = archive.create_storage()
    token = archive.create_user(storage_id)
    signature = make_signature(DOCUMENT)
    acknowledged: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        with archive.client(token) as client:
            while not stop.is_set():
                try:
                    response = upload(client, storage_id, DOCUMENT, [signature])
                except httpx.HTTPError:
                    continue  # the server died mid-request: not acknowledged
                if response.status_code == 200:
                    acknowledged.append(response.json()["data"])

    clients = [threading.Thread(target=client_loop) for _ in range(3)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert archive.process is not None
    os.kill(archive.process.pid, signal.SIGKILL)
    archive.process.wait()
    stop.set()
    for thread in clients:
        thread.join()
    assert len(acknowledged) >= 15

    archive.start()  # same data directory and database, same development PKI
    try:
        with archive.client(token) as client:
            for container_id in acknowledged:
                details: dict[str, Any] = wait_for_status(client, container_id, timeout=120)
                assert details["hashes"]
        leftovers = [p for p in (data_dir / "spool").iterdir() if p.is_file()]
        # a killed upload may leave a spool file; it is never taken for a container
        assert all(p.name.startswith("upload-") for p in leftovers)
    finally:
        archive.stop()


def test_abandoned_spool_files_are_swept_only_when_old(tmp_path: Path) -> None:
    old, fresh = tmp_path / "upload-old.part", tmp_path / "upload-new.part"
    old.write_bytes(b"half an upload")
    fresh.write_bytes(b"an upload in progress")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert sweep_spool(tmp_path) == 1
    assert not old.exists() and fresh.exists()
