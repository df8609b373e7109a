"""One contract for every document storage: filesystem, S3 (moto's server over real loopback
HTTP), the database (SQLite and PostgreSQL) and an out-of-tree plugin found through its entry
point. Each is built the way the archive builds it — from plugin-config.json through the
loader — and called through the same safe handle."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sigarchive.db.engine import Database
from sigarchive.db.models import DocumentChunk, StoredDocument
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.plugins.config import parse_plugin_config
from sigarchive.plugins.loader import StorageHandle, build_registry
from sigarchive.plugins.protocols import ContainerInfo, Document
from tests.conftest import database_url_for
from tests.support.s3 import MotoServer

IMPLEMENTATIONS = ["filesystem", "s3", "database-sqlite", "database-postgresql", "pieces"]
BUCKET = "sigarchive-contract"


@dataclass
class Storage:
    handle: StorageHandle
    #: Whatever the implementation still holds for a container id (files, objects, rows).
    leftovers: Callable[[str], list[str]]


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


def _registry_entry(name: str, assembly: str, parameters: dict[str, str]) -> dict[str, object]:
    return {
        "IsEnabled": True,
        "ReadOnly": False,
        "PluginName": name,
        "AssemblyName": assembly,
        "Parameters": parameters,
    }


@pytest.fixture(params=IMPLEMENTATIONS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    kind: str = request.param
    backend = kind.removeprefix("database-") if kind.startswith("database") else "sqlite"
    db = Database(database_url_for(backend, tmp_path, request))
    db.migrate()
    entries = []
    if kind == "filesystem":
        folder = tmp_path / "documents"
        entries.append(_registry_entry("fs", "filesystem", {"documentsfolderpath": str(folder)}))
    elif kind == "s3":
        moto: MotoServer = request.getfixturevalue("moto")
        prefix = f"t{uuid.uuid4().hex[:8]}/"
        # small parts, so that a few MiB already go up as a multipart upload
        parameters = moto.parameters(BUCKET, Prefix=prefix, PartSizeMiB="5", Concurrency="2")
        entries.append(_registry_entry("s3", "s3", parameters))
    elif kind == "pieces":
        folder = tmp_path / "pieces"
        entries.append(_registry_entry("pieces", "pieces", {"Folder": str(folder)}))
    config = parse_plugin_config({"Plugins": {"DocumentStorage": entries}})
    registry = build_registry(config, db=db, documents_dir=tmp_path / "local")
    name = {"filesystem": "fs", "s3": "s3", "pieces": "pieces"}.get(kind, "database")
    handle = registry.storages[name]
    assert handle.initialised, handle.init_error

    def leftovers(container_id: str) -> list[str]:
        if kind == "filesystem":
            return [str(p) for p in (tmp_path / "documents").rglob(f"*{container_id}*")]
        if kind == "pieces":
            return [str(p) for p in (tmp_path / "pieces").rglob(f"*{container_id}*")]
        if kind == "s3":
            client = request.getfixturevalue("moto").client()
            objects = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
            uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
            return [o["Key"] for o in objects if container_id in o["Key"]] + [
                u["Key"] for u in uploads if container_id in u["Key"]
            ]
        with db.session() as session:
            rows = session.scalar(
                select(func.count())
                .select_from(StoredDocument)
                .where(StoredDocument.location == container_id)
            )
            chunks = session.scalar(
                select(func.count())
                .select_from(DocumentChunk)
                .where(DocumentChunk.location == container_id)
            )
        return [f"{rows} rows"] * bool(rows) + [f"{chunks} chunks"] * bool(chunks)

    yield Storage(handle, leftovers)
    registry.close()
    db.dispose()


def container(
    document: Document | None, size: int, container_id: str | None = None
) -> ContainerInfo:
    return ContainerInfo(
        id=container_id or str(uuid.uuid4()),
        name="contract",
        status=ContainerStatus.RECEIVED,
        save_type=SaveType.PERMANENT,
        storage_id=1,
        storage_name="contract",
        structure_name=None,
        document_type="application/octet-stream",
        document_size=size,
        document=document,
    )


def save_bytes(handle: StorageHandle, data: bytes, container_id: str | None = None) -> str:
    info = container(Document(io.BytesIO(data), len(data)), len(data), container_id)
    result = handle.save(info)
    assert result.is_success, result.error
    return result.value


def read_all(handle: StorageHandle, location: str, piece: int = 1024 * 1024) -> bytes:
    result = handle.get(location)
    assert result.is_success, result.error
    with result.value as document:
        return b"".join(document.chunks(piece))


def test_saves_and_gets_back_exactly_the_bytes(storage: Storage) -> None:
    data = "Договор № 17\n".encode() * 100
    location = save_bytes(storage.handle, data)
    result = storage.handle.get(location)
    assert result.is_success, result.error
    with result.value as document:
        assert document.size == len(data)
        assert document.read() == data


def test_large_documents_cross_chunk_and_part_boundaries(storage: Storage) -> None:
    data = os.urandom(12 * 1024 * 1024 + 12345)  # over 2 S3 parts, 12 database chunks
    location = save_bytes(storage.handle, data)
    back = read_all(storage.handle, location, piece=777_777)  # odd-sized reads
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()


def test_a_one_byte_document(storage: Storage) -> None:
    assert read_all(storage.handle, save_bytes(storage.handle, b"x")) == b"x"


def test_unknown_location_is_a_failure_not_an_exception(storage: Storage) -> None:
    result = storage.handle.get(f"no-such-{uuid.uuid4()}")
    assert result.is_failure and result.error


def test_delete_removes_and_is_idempotent(storage: Storage) -> None:
    container_id = str(uuid.uuid4())
    location = save_bytes(storage.handle, b"to be deleted" * 1000, container_id)
    assert storage.handle.delete(location).is_success
    assert storage.handle.get(location).is_failure
    assert storage.leftovers(container_id) == []
    assert storage.handle.delete(location).is_success  # a retried deletion converges


class _BrokenStream:
    """Gives ``good`` bytes, then fails like a disk or network error."""

    def __init__(self, good: int) -> None:
        self.left = good

    def read(self, size: int = -1, /) -> bytes:
        if self.left <= 0:
            raise OSError("the spool disk failed")
        n = self.left if size < 0 else min(size, self.left)
        self.left -= n
        return b"\0" * n

    def close(self) -> None:
        pass


def test_a_failed_save_leaves_nothing_behind(storage: Storage) -> None:
    container_id = str(uuid.uuid4())
    size = 11 * 1024 * 1024
    info = container(Document(_BrokenStream(7 * 1024 * 1024), size), size, container_id)
    result = storage.handle.save(info)
    assert result.is_failure and result.error
    assert storage.leftovers(container_id) == []
    # and the same container can be stored afterwards
    location = save_bytes(storage.handle, b"second try", container_id)
    assert read_all(storage.handle, location) == b"second try"


def test_documents_do_not_collide(storage: Storage) -> None:
    first = save_bytes(storage.handle, b"first")
    second = save_bytes(storage.handle, b"second")
    assert first != second
    assert read_all(storage.handle, first) == b"first"
    assert read_all(storage.handle, second) == b"second"
