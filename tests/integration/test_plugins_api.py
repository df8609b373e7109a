"""Plugins through the real server, on SQLite and PostgreSQL: the Archive CA subsystem keeping
documents in the database, on a file system, in S3 (moto over loopback HTTP) and in an
out-of-tree plugin; post-enhancement plugins; end of storage; plugin failures."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from sigarchive.db.models import AuditEvent, Container, Problem
from tests.conftest import BACKENDS, database_url_for
from tests.integration.test_documents_api import (
    DOCUMENT,
    ok,
    refused,
    spool_is_empty,
    upload,
    wait_for_status,
)
from tests.support.s3 import MotoServer
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature

BUCKET = "sigarchive-api"


@dataclass
class Plugged:
    """An archive whose plugin-config.json configures every kind of plugin."""

    archive: ArchiveServer
    moto: MotoServer
    folder: Path
    prefix: str

    def tenant(self) -> tuple[httpx.Client, int]:
        storage_id = self.archive.create_storage()
        return self.archive.client(self.archive.create_user(storage_id)), storage_id


def entry(name: str, assembly: str, enabled: bool = True, **extra: Any) -> dict[str, Any]:
    parameters = extra.pop("parameters", {})
    return {
        "IsEnabled": enabled,
        "PluginName": name,
        "AssemblyName": assembly,
        "Parameters": parameters,
        **extra,
    }


def plugin_config(folder: Path, moto: MotoServer, prefix: str) -> dict[str, Any]:
    documents = str(folder / "fs")
    pieces = str(folder / "pieces")
    return {
        "Plugins": {
            "DocumentStorage": [
                entry(
                    "fs",
                    "filesystem",
                    ReadOnly=False,
                    parameters={"DocumentsFolderPath": documents},
                ),
                entry(
                    "fs_old",
                    "filesystem",
                    ReadOnly=True,
                    parameters={"DocumentsFolderPath": documents},
                ),
                entry("s3", "s3", parameters=moto.parameters(BUCKET, Prefix=prefix)),
                # the out-of-tree plugin, once by entry point and once by module:Class
                entry("pieces_ep", "pieces", parameters={"Folder": pieces}),
                entry(
                    "pieces_class",
                    "sigarchive_testplugin:PiecesStorage",
                    parameters={"Folder": pieces},
                ),
                entry("failing", "pieces", parameters={"Folder": pieces, "FailSave": "true"}),
                entry("raising", "pieces", parameters={"Folder": pieces, "RaiseOn": "save"}),
                entry("switched_off", "not_installed_anywhere:Plugin", enabled=False),
            ],
            "SanConnector": [
                entry("SanConnector_01", "filesystem", parameters={"Folder": str(folder / "san")}),
                entry("recording", "recording", parameters={"Log": str(folder / "calls.jsonl")}),
                entry(
                    "flaky",
                    "recording",
                    parameters={
                        "Log": str(folder / "flaky.jsonl"),
                        "FailTimes": "2",
                        "Raise": "true",
                    },
                ),
            ],
        }
    }


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def plugged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> Iterator[Plugged]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"plugged-{backend}")
    folder = tmp_path_factory.mktemp(f"plugin-files-{backend}")
    prefix = f"{backend}/"
    # the default place: <data>/plugins/plugin-config.json
    (data_dir / "plugins").mkdir()
    (data_dir / "plugins" / "plugin-config.json").write_text(
        json.dumps(plugin_config(folder, moto, prefix), indent=2)
    )
    server = ArchiveServer(data_dir, database_url_for(backend, data_dir, request)).start()
    yield Plugged(server, moto, folder, prefix)
    server.stop()


def container_row(archive: ArchiveServer, container_id: str) -> Container:
    with archive.db.session() as session:
        row = session.get(Container, container_id)
        assert row is not None
        return row


def retained_upload(
    client: httpx.Client, storage_id: int, plugin: str | None, **fields: str
) -> str:
    data = {"UseArchiveCa": "true", **fields}
    if plugin is not None:
        data["ArchiveCaPluginName"] = plugin
    return str(ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)], fields=data)))


def wait_until(condition: Any, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_database_is_the_default_and_content_streams_the_document_back(
    plugged: Plugged,
) -> None:
    client, storage_id = plugged.tenant()
    name = "Договор поставки № 17.txt"
    container_id = retained_upload(client, storage_id, None, ContainerName=name)
    assert container_row(plugged.archive, container_id).document_location == (
        f"database:{container_id}"
    )
    response = client.get(f"/api/document/{container_id}/content")
    assert response.status_code == 200
    assert response.content == DOCUMENT
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-length"] == str(len(DOCUMENT))
    assert f"filename*=UTF-8''{quote(name, safe='')}" in response.headers["content-disposition"]
    details = ok(client.get(f"/api/document/{container_id}"))
    assert details["useArchiveCa"] is True and details["isAvailable"] is True


@pytest.mark.parametrize("plugin", ["fs", "s3", "pieces_ep", "pieces_class"])
def test_each_plugin_keeps_the_document_and_serves_it(plugged: Plugged, plugin: str) -> None:
    client, storage_id = plugged.tenant()
    container_id = retained_upload(client, storage_id, plugin)
    location = container_row(plugged.archive, container_id).document_location
    assert location is not None and location.startswith(f"{plugin}:")
    inner = location.partition(":")[2]
    if plugin == "fs":
        assert (plugged.folder / "fs" / inner).read_bytes() == DOCUMENT
    elif plugin == "s3":
        assert inner == f"{plugged.prefix}{container_id}"
        stored = plugged.moto.client().get_object(Bucket=BUCKET, Key=inner)
        assert stored["Body"].read() == DOCUMENT
    else:
        assert (plugged.folder / "pieces" / container_id / "complete").exists()
    assert client.get(f"/api/document/{container_id}/content").content == DOCUMENT


def test_without_archive_ca_only_signatures_and_digests_are_kept(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    container_id = ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)]))
    assert container_row(plugged.archive, container_id).document_location is None
    body = refused(client.get(f"/api/document/{container_id}/content"), 404, "DocumentNotRetained")
    assert "UseArchiveCa=false" in body["errorDescription"]
    assert ok(client.get(f"/api/document/{container_id}"))["isAvailable"] is False
    refused(client.get(f"/api/document/{uuid.uuid4()}/content"), 404, "ContainerNotFound")
    with plugged.archive.db.session() as session:
        outcomes = list(
            session.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.action == "document.content",
                    AuditEvent.container_id == container_id,
                )
            )
        )
    assert outcomes == ["not-retained"]


@pytest.mark.parametrize(
    ("plugin", "status", "code"),
    [
        ("no_such_plugin", 400, "UnknownPlugin"),
        ("switched_off", 400, "UnknownPlugin"),
        ("fs_old", 400, "PluginReadOnly"),
        ("failing", 503, "DocumentStorageFailed"),
        ("raising", 503, "DocumentStorageFailed"),
    ],
)
def test_refused_storage_keeps_nothing(
    plugged: Plugged, plugin: str, status: int, code: str
) -> None:
    client, storage_id = plugged.tenant()
    response = upload(
        client,
        storage_id,
        DOCUMENT,
        [make_signature(DOCUMENT)],
        fields={"UseArchiveCa": "true", "ArchiveCaPluginName": plugin},
    )
    body = refused(response, status, code)
    assert plugin in body["errorDescription"]
    with plugged.archive.db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Container).where(Container.storage_id == storage_id)
        )
        problem = session.scalar(
            select(Problem).where(
                Problem.kind == "document-storage-failed", Problem.resolved_at.is_(None)
            )
        )
    assert count == 0
    assert spool_is_empty(plugged.archive)
    pieces = plugged.folder / "pieces"
    assert not pieces.exists() or all((p / "complete").exists() for p in pieces.iterdir())
    if status == 503:
        assert problem is not None and plugin in problem.message
    # the server (and its worker) carry on
    assert retained_upload(client, storage_id, None)


def test_a_read_only_plugin_serves_what_an_old_store_kept(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    container_id = retained_upload(client, storage_id, "fs")
    with plugged.archive.db.session() as session:
        row = session.get(Container, container_id)
        assert row is not None and row.document_location is not None
        # as if the document had been kept by a store that now only serves reads
        row.document_location = row.document_location.replace("fs:", "fs_old:", 1)
    assert client.get(f"/api/document/{container_id}/content").content == DOCUMENT


def read_calls(log: Path, container_id: str) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [c for c in calls if c["id"] == container_id]


def signatures_zip(client: httpx.Client, container_id: str) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(client.get(f"/api/document/{container_id}/sign").content)) as z:
        return [z.read(name) for name in z.namelist()]


def test_post_enhancement_plugins_run_after_enhancement_and_renewal(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    signatures = [make_signature(DOCUMENT, key="rsa"), make_signature(DOCUMENT, key="ec-p256")]
    container_id = ok(upload(client, storage_id, DOCUMENT, signatures))
    wait_for_status(client, container_id)
    san = plugged.folder / "san" / container_id
    report = wait_until(
        lambda: (san / "report.txt").exists() and (san / "report.txt").read_text(),
        what="the SAN connector's report",
    )
    archived = signatures_zip(client, container_id)
    assert [(san / f"signature-{i}.sig").read_bytes() for i in range(2)] == archived
    lines = report.splitlines()
    assert [line.split(" expiration date: ")[0] for line in lines] == ["Signature 0", "Signature 1"]
    assert all(datetime.fromisoformat(line.split(": ")[1].rstrip(".")) for line in lines)
    log = plugged.folder / "calls.jsonl"
    [call] = wait_until(lambda: read_calls(log, container_id), what="the recording plugin")
    assert call["status"] == 4 and call["levels"] == ["B-LTA", "B-LTA"]

    due_before = (datetime.now(UTC) + timedelta(days=365 * 30)).date().isoformat()
    plugged.archive.cli("renew", "--due-before", due_before)
    wait_until(lambda: len(read_calls(log, container_id)) == 2, what="a call after renewal")
    renewed = signatures_zip(client, container_id)
    assert renewed != archived
    wait_until(lambda: (san / "signature-0.sig").read_bytes() == renewed[0], what="new copy")


def test_a_failing_post_enhancement_plugin_is_retried_and_the_container_stays_archived(
    plugged: Plugged,
) -> None:
    client, storage_id = plugged.tenant()
    container_id = ok(upload(client, storage_id, DOCUMENT, [make_signature(DOCUMENT)]))
    wait_for_status(client, container_id)
    log = plugged.folder / "flaky.jsonl"
    calls = wait_until(
        lambda: [c for c in read_calls(log, container_id) if not c["failed"]],
        what="the flaky plugin to succeed",
    )
    assert len(calls) == 1
    assert [c["failed"] for c in read_calls(log, container_id)] == [True, True, False]
    assert ok(client.get(f"/api/document/{container_id}/status")) == 4

    def audited() -> list[str]:
        with plugged.archive.db.session() as session:
            return [
                e.outcome
                for e in session.scalars(
                    select(AuditEvent)
                    .where(
                        AuditEvent.action == "plugin.post-enhancement",
                        AuditEvent.container_id == container_id,
                    )
                    .order_by(AuditEvent.id)
                )
                if e.details and e.details["plugin"] == "flaky"
            ]

    assert wait_until(lambda: audited() == ["failed", "failed", "ok"], what="the audit trail")
    with plugged.archive.db.session() as session:
        [problem] = session.scalars(
            select(Problem).where(
                Problem.container_id == container_id, Problem.kind == "post-enhancement-failed"
            )
        )
        assert "flaky" in problem.message and "raised in process" in problem.message
        assert problem.resolved_at is not None


def test_a_storage_policy_can_require_retention(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    plugged.archive.cli("storage", "retention", str(storage_id), "--require", "--plugin", "fs")
    container_id = ok(
        upload(
            client,
            storage_id,
            DOCUMENT,
            [make_signature(DOCUMENT)],
            fields={"UseArchiveCa": "false"},
        )
    )
    location = container_row(plugged.archive, container_id).document_location
    assert location is not None and location.startswith("fs:")
    assert ok(client.get(f"/api/document/{container_id}"))["useArchiveCa"] is True
    assert client.get(f"/api/document/{container_id}/content").content == DOCUMENT
    unknown = plugged.archive.cli(
        "storage", "retention", str(storage_id), "--plugin", "nope", check=False
    )
    assert unknown.returncode == 2 and "UnknownPlugin" in unknown.stderr


def test_end_of_storage_deletes_the_document_through_its_plugin(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    temporary = retained_upload(client, storage_id, "s3", SaveType="Temporary", ArchiveDate=soon)
    permanent = retained_upload(client, storage_id, "s3")
    key = f"{plugged.prefix}{temporary}"
    plugged.moto.client().head_object(Bucket=BUCKET, Key=key)
    wait_for_status(client, temporary, status=5)
    wait_until(
        lambda: ok(client.get(f"/api/document/{temporary}"))["isAvailable"] is False,
        what="the document's deletion",
    )
    listed = plugged.moto.client().list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount", 0) == 0
    body = refused(client.get(f"/api/document/{temporary}/content"), 404, "DocumentNotRetained")
    assert "storage period ended" in body["errorDescription"]
    with plugged.archive.db.session() as session:
        [deletion] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "document.delete", AuditEvent.container_id == temporary
            )
        )
        assert deletion.outcome == "ok" and deletion.details == {"location": f"s3:{key}"}
        assert not list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "document.delete", AuditEvent.container_id == permanent
                )
            )
        )
    assert client.get(f"/api/document/{permanent}/content").content == DOCUMENT


def test_a_document_that_no_longer_matches_is_not_delivered(plugged: Plugged) -> None:
    client, storage_id = plugged.tenant()
    container_id = retained_upload(client, storage_id, "fs")
    location = container_row(plugged.archive, container_id).document_location
    assert location is not None
    stored = plugged.folder / "fs" / location.partition(":")[2]
    stored.write_bytes(DOCUMENT.replace(b"17", b"71"))  # same size, other bytes
    with pytest.raises(httpx.HTTPError):
        client.get(f"/api/document/{container_id}/content")
    with plugged.archive.db.session() as session:
        [problem] = session.scalars(
            select(Problem).where(
                Problem.container_id == container_id, Problem.kind == "document-digest-mismatch"
            )
        )
    assert "does not match" in problem.message


def test_plugins_list_shows_every_plugin_and_whether_it_initialised(plugged: Plugged) -> None:
    listed = json.loads(plugged.archive.cli("plugins", "list", "--json").stdout)
    assert listed["config"].endswith("plugins/plugin-config.json")
    plugins = {p["name"]: p for p in listed["plugins"]}
    assert set(plugins) == {
        "database",
        "local",
        "fs",
        "fs_old",
        "s3",
        "pieces_ep",
        "pieces_class",
        "failing",
        "raising",
        "switched_off",
        "SanConnector_01",
        "recording",
        "flaky",
    }
    assert all(p["initialised"] for name, p in plugins.items() if name != "switched_off")
    assert plugins["switched_off"]["enabled"] is False
    assert plugins["fs_old"]["readOnly"] is True
    assert plugins["SanConnector_01"]["kind"] == "SanConnector"
