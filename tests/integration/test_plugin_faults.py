"""Plugin faults at the level of the whole server.

- The S3 server restarting in the middle of an upload: the archive either finishes the upload
  once the server is back (the multipart upload is started again from the spooled document)
  or refuses it cleanly — never a container whose document is half-stored. Each backend runs
  its own archive against its own moto server, killed with SIGKILL and started again.
- A bad plugin-config.json stops the server at start with a message naming the entry.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from sigarchive.db.models import Container
from tests.conftest import BACKENDS, database_url_for
from tests.integration.test_documents_api import ok, refused, spool_is_empty
from tests.support.s3 import MotoServer
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature

BUCKET = "sigarchive-restart"
MIB = 1024 * 1024


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_s3_server_restarting_mid_upload(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    moto = MotoServer(tmp_path / "moto", buckets=(BUCKET,)).start()
    archive: ArchiveServer | None = None
    try:
        config = tmp_path / "elsewhere" / "plugins.json"  # SIGARCHIVE_PLUGIN_CONFIG
        config.parent.mkdir()
        parameters = moto.parameters(BUCKET, PartSizeMiB="5", Concurrency="1", ConnectTimeout="2")
        entry = {
            "IsEnabled": True,
            "PluginName": "s3",
            "AssemblyName": "s3",
            "Parameters": parameters,
        }
        config.write_text(json.dumps({"Plugins": {"DocumentStorage": [entry]}}))
        data_dir = tmp_path / "archive"
        data_dir.mkdir()
        archive = ArchiveServer(
            data_dir,
            database_url_for(backend, data_dir, request),
            extra_env={"SIGARCHIVE_PLUGIN_CONFIG": str(config), "SIGARCHIVE_WORKERS": "0"},
        ).start()
        storage_id = archive.create_storage()
        token = archive.create_user(storage_id)
        document = os.urandom(40 * MIB)
        signature = make_signature(document)

        def send() -> httpx.Response:
            with archive.client(token) as client:  # type: ignore[union-attr]
                return client.post(
                    "/api/document/content",
                    data={
                        "ContainerName": "big",
                        "StorageId": str(storage_id),
                        "SaveType": "Permanent",
                        "UseArchiveCa": "true",
                        "ArchiveCaPluginName": "s3",
                    },
                    files=[
                        ("Content", ("big.bin", document, "application/octet-stream")),
                        ("Signs", ("big.sig", signature, "application/sig")),
                    ],
                )

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(send)
            s3 = moto.client()
            deadline = time.monotonic() + 60
            while True:  # wait until parts of the document are on the server
                uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
                if uploads and s3.list_parts(
                    Bucket=BUCKET, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
                ).get("Parts"):
                    break
                assert not pending.done(), pending.result().text
                assert time.monotonic() < deadline, "the upload never reached S3"
                time.sleep(0.02)
            moto.kill()
            time.sleep(0.5)
            moto.start()  # with its bucket, but without the unfinished upload
            response = pending.result(timeout=180)

        with archive.client(token) as client:
            if response.status_code == 200:
                container_id = ok(response)
                content = client.get(f"/api/document/{container_id}/content").content
                assert hashlib.sha256(content).digest() == hashlib.sha256(document).digest()
            else:  # refused cleanly: nothing kept, and the client can simply try again
                refused(response, 503, "DocumentStorageFailed")
                with archive.db.session() as session:
                    assert not session.scalar(
                        select(func.count())
                        .select_from(Container)
                        .where(Container.storage_id == storage_id)
                    )
                assert spool_is_empty(archive)
                assert ok(send())
        objects = moto.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])
        assert len(objects) == 1 and objects[0]["Size"] == len(document)
        assert not moto.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads")
        print(f"S3 restart mid-upload on {backend}: answered {response.status_code}")
    finally:
        if archive is not None:
            archive.stop()
        moto.stop()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"IsEnabled": True, "PluginName": "fs", "AssemblyName": "FilesystemStoragePlugin.dll"},
            "AssemblyName 'FilesystemStoragePlugin.dll' is neither 'module:Class' nor",
        ),
        (
            {"IsEnabled": True, "PluginName": "fs", "AssemblyName": "filesystem"},
            "parameter 'DocumentsFolderPath' is required",
        ),
    ],
)
def test_a_bad_plugin_config_stops_the_start_naming_the_entry(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "plugin-config.json").write_text(
        json.dumps({"Plugins": {"DocumentStorage": [entry]}})
    )
    server = ArchiveServer(tmp_path, f"sqlite:///{tmp_path / 'sigarchive.sqlite3'}")
    with pytest.raises(RuntimeError, match="server exited") as refused_start:
        server.start()
    log = " ".join(str(refused_start.value).split())  # the console wraps long lines
    assert 'Plugins.DocumentStorage[0] ("fs")' in log and message in log
