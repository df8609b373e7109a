"""One level per signature, over HTTP: what the archive stores at upload and reports after
enhancement equals what ``sigarchive verify --json`` prints for the same bytes.

Every accepted signature of ``corpus/dss`` is uploaded to an archive whose server does not
enhance (no worker loop), so the level stored at upload can be read; then a worker brings the
containers to CAdES-A, and every level of ``GET /api/document/{id}/report`` — the top-level one
and those of its validation part — is compared with ``verify --json`` of the file ``/sign``
returns (EN 319 122-1 §6 levels, read once from the bytes by the signature inventory).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sigarchive import cli
from sigarchive.db.models import Container, Signature
from tests.integration.test_documents_api import ok, upload
from tests.support.corpus import corpus_root, require_corpus
from tests.support.server import ArchiveServer
from tests.unit.test_corpus_cms import EXPECTATIONS

ACCEPTED = sorted(name for name, expect in EXPECTATIONS.items() if expect.refused is None)
RECEIVED, PROCESSING, ARCHIVED = 1, 2, 4


@pytest.fixture(scope="module")
def quiet_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveServer]:
    """An archive (SQLite) whose server runs no worker loop: uploads stay as uploaded."""
    data_dir = tmp_path_factory.mktemp("archive-levels")
    server = ArchiveServer(
        data_dir,
        f"sqlite:///{data_dir / 'sigarchive.sqlite3'}",
        extra_env={"SIGARCHIVE_WORKERS": "0"},
    ).start()
    yield server
    server.stop()


def verify_levels(signature: Path, content: Path | None) -> list[str]:
    """The signer levels ``sigarchive verify --json`` prints (its exit code is the verdict's).

    The command runs in this process (a subprocess per file would cost seconds each).
    """
    args = ["verify", str(signature), "--json"]
    if content is not None:
        args += ["--content", str(content)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code in (0, 1, 2, 3), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return [signer["level"] for signer in report["signers"]]


def uploaded_level(archive: ArchiveServer, container_id: str) -> str:
    with archive.db.session() as session:
        level = session.scalar(
            select(Signature.level).where(
                Signature.container_id == container_id, Signature.position == 0
            )
        )
    assert level is not None
    return level


def wait_until_done(archive: ArchiveServer, ids: list[str]) -> dict[str, int]:
    """Status of every container once none is waiting or being enhanced any more.

    Read from the database, not through ``/status``: an API read writes its audit row, and on
    SQLite a read transaction that then writes fails with "database is locked" when the
    separate worker process committed in between (a known limit of SQLite with several
    writing processes, see the session note); this test is about levels, not about that.
    """
    deadline = time.monotonic() + 900
    while True:
        with archive.db.session() as session:
            rows = session.execute(
                select(Container.id, Container.status).where(Container.id.in_(ids))
            ).all()
        statuses = {container_id: status for container_id, status in rows}
        if all(status not in (RECEIVED, PROCESSING) for status in statuses.values()):
            return statuses
        assert time.monotonic() < deadline, f"still being enhanced: {statuses}"
        time.sleep(0.5)


def test_levels_at_upload_and_after_enhancement_are_what_verify_prints(
    quiet_archive: ArchiveServer, tmp_path: Path
) -> None:
    archive = quiet_archive
    storage_id = archive.create_storage()
    containers: dict[str, str] = {}
    with archive.client(archive.create_user(storage_id)) as client:
        for name in ACCEPTED:
            signature = require_corpus("dss", name).read_bytes()
            content = EXPECTATIONS[name].content
            if content is not None:
                document = (corpus_root() / "dss" / content).read_bytes()
                response = upload(
                    client,
                    storage_id,
                    document,
                    [signature],
                    content_type="application/octet-stream",
                )
            else:
                response = upload(
                    client, storage_id, signature, [], content_type="application/octet-stream"
                )
            containers[name] = ok(response)

        for name, container_id in containers.items():
            content = EXPECTATIONS[name].content
            document = corpus_root() / "dss" / content if content else None
            printed = verify_levels(require_corpus("dss", name), document)
            assert uploaded_level(archive, container_id) == printed[0], name

        worker = subprocess.Popen(
            [sys.executable, "-m", "sigarchive", "worker", "--log-level", "warning"],
            env=archive.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            statuses = wait_until_done(archive, list(containers.values()))
        finally:
            worker.terminate()
            worker.wait(timeout=30)

        archived = [name for name, cid in containers.items() if statuses[cid] == ARCHIVED]
        assert archived, statuses
        for name in archived:
            container_id = containers[name]
            report = ok(client.get(f"/api/document/{container_id}/report"))
            [entry] = report["signatures"]
            response = client.get(f"/api/document/{container_id}/sign")
            assert response.status_code == 200
            with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
                [archived_signature] = [bundle.read(n) for n in bundle.namelist()]
            path = tmp_path / f"{container_id}.p7s"
            path.write_bytes(archived_signature)
            content = EXPECTATIONS[name].content
            document = corpus_root() / "dss" / content if content else None
            printed = verify_levels(path, document)
            assert entry["level"] == printed[0], name
            validated = [signer["level"] for signer in entry["validation"]["signers"]]
            assert validated == printed, name
