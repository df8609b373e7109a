"""Built-in document storage in the archive's database (``database``, the default).

The seed: without ``ArchiveCaPluginName`` the Archive CA subsystem keeps the document in its
database. Documents may be gigabytes, so they are kept as 1 MiB rows of ``document_chunks``,
written a few chunks per transaction (a long write never blocks other writers for long, which
matters on SQLite) and read back a few chunks at a time: never whole in memory. A document
becomes readable only when its ``stored_documents`` row is marked complete, so a save that
fails half-way leaves nothing ``get`` would serve, and its chunks are removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from sqlalchemy import delete, insert, select

from sigarchive.db.engine import Database
from sigarchive.db.models import DocumentChunk, StoredDocument, utcnow
from sigarchive.plugins.protocols import CHUNK_SIZE, ContainerInfo, Document
from sigarchive.plugins.result import Result

#: Chunks written per transaction and read per query.
BATCH = 8


class DatabaseDocumentStorage:
    """Documents as chunk rows of the archive's own database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def initialize(self, parameters: Mapping[str, str]) -> None:
        """Nothing to configure: it uses the archive's database."""

    def save(self, container: ContainerInfo) -> Result[str]:
        if container.document is None:
            return Result.fail("no document to save")
        location = container.id
        try:
            self._remove(location)  # a leftover of an earlier, failed attempt
            with self.db.session() as session:
                session.add(StoredDocument(location=location, size=0, chunks=0))
            seq = size = 0
            batch: list[dict[str, object]] = []
            for chunk in container.document.chunks(CHUNK_SIZE):
                batch.append({"location": location, "seq": seq, "data": chunk})
                seq += 1
                size += len(chunk)
                if len(batch) == BATCH:
                    self._write(batch)
                    batch = []
            if batch:
                self._write(batch)
            with self.db.session() as session:
                row = session.get(StoredDocument, location)
                assert row is not None
                row.size, row.chunks, row.completed_at = size, seq, utcnow()
        except Exception as exc:
            # if the database is gone, the incomplete row stays but is never served
            with contextlib.suppress(Exception):
                self._remove(location)
            return Result.fail(f"Unable to store the document in the database: {exc}")
        return Result.ok(location)

    def _write(self, rows: list[dict[str, object]]) -> None:
        with self.db.session() as session:
            session.execute(insert(DocumentChunk), rows)

    def _remove(self, location: str) -> None:
        with self.db.session() as session:
            session.execute(delete(DocumentChunk).where(DocumentChunk.location == location))
            session.execute(delete(StoredDocument).where(StoredDocument.location == location))

    def get(self, location: str) -> Result[Document]:
        try:
            with self.db.session() as session:
                row = session.get(StoredDocument, location)
                if row is None or row.completed_at is None:
                    return Result.fail(f"No document {location!r} in the database")
                size, chunks = row.size, row.chunks
        except Exception as exc:
            return Result.fail(f"Unable to read document {location!r}: {exc}")
        return Result.ok(Document(_ChunkReader(self.db, location, chunks), size))

    def delete(self, location: str) -> Result[None]:
        try:
            self._remove(location)
        except Exception as exc:
            return Result.fail(f"Unable to delete document {location!r}: {exc}")
        return Result.ok(None)


class _ChunkReader:
    """A read-only stream over a document's chunk rows, a few rows per query."""

    def __init__(self, db: Database, location: str, chunks: int) -> None:
        self.db = db
        self.location = location
        self.chunks = chunks
        self.next_seq = 0
        self.buffer = bytearray()
        self.closed = False

    def _fill(self) -> bool:
        if self.next_seq >= self.chunks:
            return False
        with self.db.session() as session:
            rows = list(
                session.execute(
                    select(DocumentChunk.seq, DocumentChunk.data)
                    .where(
                        DocumentChunk.location == self.location,
                        DocumentChunk.seq >= self.next_seq,
                        DocumentChunk.seq < self.next_seq + BATCH,
                    )
                    .order_by(DocumentChunk.seq)
                )
            )
        for seq, data in rows:
            if seq != self.next_seq:
                raise OSError(f"document {self.location}: chunk {self.next_seq} is missing")
            self.buffer += data
            self.next_seq += 1
        if not rows:
            raise OSError(f"document {self.location}: chunk {self.next_seq} is missing")
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read from a closed document stream")
        while (size < 0 or len(self.buffer) < size) and self._fill():
            pass
        if size < 0 or size >= len(self.buffer):
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
        return data

    def close(self) -> None:
        self.closed = True
        self.buffer.clear()
