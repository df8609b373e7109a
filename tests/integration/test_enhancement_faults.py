"""Faults during enhancement: TSA down then back, a worker killed with SIGKILL, racing workers,
and a TSA that is not ours (OpenSSL). Nothing is lost and no signature gets a duplicate
time-stamp. Each test runs its own archive, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms
from sqlalchemy import select

from sigarchive.db.models import AuditEvent, Container, Problem
from sigarchive.devpki import BackgroundServer, create_app
from sigarchive.devpki.pki import DevPki, ensure_dev_pki
from sigarchive.signatures import ATS_V3 as ARCHIVE_TIME_STAMP_V3
from sigarchive.signatures import SIGNATURE_TIME_STAMP
from tests.conftest import BACKENDS, database_url_for
from tests.integration.test_documents_api import DOCUMENT, ok, upload
from tests.integration.test_enhancement import downloaded_signatures, wait_for_status
from tests.support.cades_checks import check_archived_signature, unsigned_values
from tests.support.openssl_tsa import OpenSslTsa
from tests.support.postgres import free_port
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature, sign_with


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tsa_pki(tmp_path: Path) -> DevPki:
    """A PKI whose TSA the test starts and stops itself, on a port fixed in advance."""
    return ensure_dev_pki(tmp_path / "tsa-pki", port=free_port())


def slow(app: Any, delay: float) -> Any:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(delay)
        await app(scope, receive, send)

    return wrapped


def serve_tsa(pki: DevPki, stopper: list[Any], delay: float = 0.0) -> BackgroundServer:
    """The test PKI's TSA on its fixed port, optionally slowed down."""
    app = create_app(pki)
    tsa = BackgroundServer(slow(app, delay) if delay else app, port=pki.port).start()
    stopper.append(tsa)
    return tsa


def start_archive(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, stopper: list[Any], **env: str
) -> ArchiveServer:
    data_dir = tmp_path / "archive"
    data_dir.mkdir()
    server = ArchiveServer(data_dir, database_url_for(backend, data_dir, request), extra_env=env)
    stopper.append(server.start())
    return server


@pytest.fixture
def stopper() -> Iterator[list[Any]]:
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        thing.stop()


def tenant_client(archive: ArchiveServer) -> tuple[httpx.Client, int]:
    storage_id = archive.create_storage()
    return archive.client(archive.create_user(storage_id)), storage_id


def assert_archived_exactly_once(archive: ArchiveServer, ids: list[str]) -> None:
    with archive.db.session() as session:
        for container_id in ids:
            container = session.get(Container, container_id)
            assert container is not None and container.status == 4, container_id
            for signature in container.signatures:
                assert signature.enhanced is not None
                signer = cms.ContentInfo.load(signature.enhanced)["content"]["signer_infos"][0]
                assert len(unsigned_values(signer, SIGNATURE_TIME_STAMP)) == 1
                assert len(unsigned_values(signer, ARCHIVE_TIME_STAMP_V3)) == 1
            done = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.container_id == container_id,
                    AuditEvent.action == "signature.enhancement",
                    AuditEvent.outcome == "ok",
                )
            ).all()
            assert len(done) == 1, container_id


def problem_of(archive: ArchiveServer, container_id: str, kind: str) -> Problem:
    with archive.db.session() as session:
        problem = session.scalar(
            select(Problem).where(Problem.container_id == container_id, Problem.kind == kind)
        )
    assert problem is not None, f"no {kind} problem for {container_id}"
    return problem


def wait_for_problem(archive: ArchiveServer, container_id: str, kind: str, error: str) -> None:
    """The container waits (never "error"), is retried, and an open problem says why."""
    deadline = time.monotonic() + 60
    while True:
        with archive.db.session() as session:
            container = session.get(Container, container_id)
            assert container is not None
            assert container.status in (1, 2), container.last_error
            problem = session.scalar(
                select(Problem).where(Problem.container_id == container_id, Problem.kind == kind)
            )
            if container.attempts >= 2 and problem is not None:
                assert error in (container.last_error or "")
                assert problem.resolved_at is None
                return
        assert time.monotonic() < deadline, "no retry seen"
        time.sleep(0.2)


def test_tsa_down_then_back(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    archive = start_archive(
        tmp_path,
        backend,
        request,
        stopper,
        SIGARCHIVE_TSA_URL=tsa_pki.tsa_url,
        SIGARCHIVE_PROBLEM_AFTER_SECONDS="0",
    )
    client, storage_id = tenant_client(archive)
    container_id = ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)]))
    wait_for_problem(archive, container_id, "tsa-unavailable", "Tsa")
    serve_tsa(tsa_pki, stopper)
    wait_for_status(client, container_id, timeout=90)
    assert_archived_exactly_once(archive, [container_id])
    assert problem_of(archive, container_id, "tsa-unavailable").resolved_at is not None
    [signature] = downloaded_signatures(client, container_id)
    check_archived_signature(signature, DOCUMENT, tsa_pki.root.cert_path)


def start_worker(archive: ArchiveServer) -> subprocess.Popen[bytes]:
    log = (archive.data_dir / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sigarchive", "worker", "--log-level", "warning"],
        env=archive.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def upload_many(client: httpx.Client, storage_id: int, count: int) -> list[str]:
    signature = make_signature(DOCUMENT)
    return [ok(upload(client, storage_id, DOCUMENT, [signature])) for _ in range(count)]


def archive_with_workers(
    archive: ArchiveServer, client: httpx.Client, ids: list[str], workers: int
) -> None:
    """Run `sigarchive worker` processes until every container is archived, exactly once."""
    processes = [start_worker(archive) for _ in range(workers)]
    try:
        for container_id in ids:
            wait_for_status(client, container_id, timeout=120)
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
    assert_archived_exactly_once(archive, ids)


def statuses(archive: ArchiveServer, ids: list[str]) -> list[int]:
    with archive.db.session() as session:
        return [c.status for c in session.scalars(select(Container).where(Container.id.in_(ids)))]


def test_worker_killed_mid_enhancement(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    serve_tsa(tsa_pki, stopper, delay=0.25)
    archive = start_archive(
        tmp_path,
        backend,
        request,
        stopper,
        SIGARCHIVE_TSA_URL=tsa_pki.tsa_url,
        SIGARCHIVE_WORKERS="0",
        SIGARCHIVE_LEASE_SECONDS="3",
    )
    client, storage_id = tenant_client(archive)
    ids = upload_many(client, storage_id, 8)
    first = start_worker(archive)
    deadline = time.monotonic() + 60
    while 4 not in statuses(archive, ids):
        assert time.monotonic() < deadline and first.poll() is None, archive.log_tail()
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert statuses(archive, ids).count(4) < len(ids), "killed too late to prove anything"
    archive_with_workers(archive, client, ids, workers=1)


def test_two_workers_racing(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    serve_tsa(tsa_pki, stopper, delay=0.05)
    archive = start_archive(
        tmp_path,
        backend,
        request,
        stopper,
        SIGARCHIVE_TSA_URL=tsa_pki.tsa_url,
        SIGARCHIVE_WORKERS="0",
    )
    client, storage_id = tenant_client(archive)
    ids = upload_many(client, storage_id, 12)
    archive_with_workers(archive, client, ids, workers=2)


def test_a_tsa_that_is_not_ours(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    openssl_tsa = OpenSslTsa(
        tsa_pki.tsa.cert_path, tsa_pki.tsa.key_path, tmp_path / "openssl-tsa"
    ).start()
    stopper.append(openssl_tsa)
    archive = start_archive(tmp_path, backend, request, stopper, SIGARCHIVE_TSA_URL=openssl_tsa.url)
    client, storage_id = tenant_client(archive)
    container_id = ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)]))
    wait_for_status(client, container_id)
    [signature] = downloaded_signatures(client, container_id)
    assert check_archived_signature(signature, DOCUMENT, tsa_pki.root.cert_path) == (1, 1)


def test_tsa_failover_from_the_config_file(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    serve_tsa(tsa_pki, stopper)
    config = tmp_path / "sigarchive.toml"
    dead = f"http://localhost:{free_port()}/tsa"
    config.write_text(f'tsa_url = ["{dead}", "{tsa_pki.tsa_url}"]\n')
    archive = start_archive(tmp_path, backend, request, stopper, SIGARCHIVE_CONFIG_FILE=str(config))
    client, storage_id = tenant_client(archive)
    with client:
        system = ok(client.get("/api/dictionary/system"))
        assert system["tsaUrls"] == [dead, tsa_pki.tsa_url]
        assert system["developmentPki"] is False
        container_id = ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)]))
        wait_for_status(client, container_id)
    assert_archived_exactly_once(archive, [container_id])


def test_ocsp_down_then_back(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    tsa_pki: DevPki,
    stopper: list[Any],
) -> None:
    """The signer's OCSP responder is unreachable: the container waits (never "error"), a
    problem says why, and once the responder is back it is archived with its answer."""
    archive = start_archive(
        tmp_path,
        backend,
        request,
        stopper,
        SIGARCHIVE_REVOCATION_PATIENCE_SECONDS="3600",
        SIGARCHIVE_PROBLEM_AFTER_SECONDS="0",
    )
    archive.cli("trust", "add", str(tsa_pki.root.cert_path))
    client, storage_id = tenant_client(archive)
    # signed by the test PKI, whose OCSP responder (its own services) is not running yet
    signature = sign_with(DOCUMENT, tsa_pki.signer.cert_path, tsa_pki.signer.key_path)
    container_id = ok(upload(client, storage_id, DOCUMENT, [signature]))
    wait_for_problem(archive, container_id, "revocation-unavailable", "RevocationUnavailable")
    serve_tsa(tsa_pki, stopper)  # its OCSP responder comes back
    wait_for_status(client, container_id, timeout=90)
    report = ok(client.get(f"/api/document/{container_id}/report"))
    [signer] = report["signatures"][0]["validation"]["signers"]
    assert signer["indication"] == "TOTAL-PASSED" and signer["revocation"] == "good", signer
    assert problem_of(archive, container_id, "revocation-unavailable").resolved_at is not None
