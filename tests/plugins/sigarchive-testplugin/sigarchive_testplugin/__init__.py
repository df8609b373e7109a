"""Test-only plugins for sigarchive, written against its public plugin API only.

- ``PiecesStorage`` (document storage): keeps a document as numbered piece files in
  ``<Folder>/<container id>/`` with a ``complete`` marker written last; ``get`` streams the
  pieces back. Fault switches: ``FailSave`` (return a failure after writing the pieces),
  ``RaiseOn`` (``save``/``get``/``delete``: raise instead of returning a Result).
- ``RecordingProcessor`` (post-enhancement): appends one JSON line per call to ``Log``;
  ``FailTimes`` makes the first N calls for each container fail (counted in files next to
  ``Log``, so across processes too), ``Raise`` makes those failures exceptions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from sigarchive.plugins.protocols import ContainerInfo, Document
from sigarchive.plugins.result import Result


def _flag(parameters: Mapping[str, str], name: str) -> str:
    return parameters.get(name, "").strip().lower()


class _PiecesReader:
    def __init__(self, pieces: list[Path]) -> None:
        self._pieces: Iterator[Path] = iter(pieces)
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece.read_bytes()
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        self._buffer = b""


class PiecesStorage:
    def __init__(self) -> None:
        self.folder = Path()
        self.piece_size = 256 * 1024
        self.fail_save = False
        self.raise_on = ""

    def initialize(self, parameters: Mapping[str, str]) -> None:
        self.folder = Path(parameters["Folder"])
        self.folder.mkdir(parents=True, exist_ok=True)
        self.piece_size = int(parameters.get("PieceSize", str(self.piece_size)))
        self.fail_save = _flag(parameters, "FailSave") == "true"
        self.raise_on = _flag(parameters, "RaiseOn")

    def save(self, container: ContainerInfo) -> Result[str]:
        if self.raise_on == "save":
            raise RuntimeError("PiecesStorage was told to raise in save")
        assert container.document is not None
        target = self.folder / container.id
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        try:
            for number, piece in enumerate(container.document.chunks(self.piece_size)):
                (target / f"part-{number:06d}").write_bytes(piece)
            if self.fail_save:  # after writing everything, like a failed final commit
                shutil.rmtree(target)
                return Result.fail("PiecesStorage was told to fail in save")
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            return Result.fail(f"PiecesStorage could not save: {exc}")
        (target / "complete").write_text("ok")
        return Result.ok(container.id)

    def get(self, location: str) -> Result[Document]:
        if self.raise_on == "get":
            raise RuntimeError("PiecesStorage was told to raise in get")
        target = self.folder / location
        if not (target / "complete").exists():
            return Result.fail(f"no document {location}")
        pieces = sorted(target.glob("part-*"))
        size = sum(p.stat().st_size for p in pieces)
        return Result.ok(Document(_PiecesReader(pieces), size))

    def delete(self, location: str) -> Result[None]:
        if self.raise_on == "delete":
            raise RuntimeError("PiecesStorage was told to raise in delete")
        shutil.rmtree(self.folder / location, ignore_errors=True)
        return Result.ok(None)


class RecordingProcessor:
    def __init__(self) -> None:
        self.log = Path()
        self.fail_times = 0
        self.raise_failures = False

    def initialize(self, parameters: Mapping[str, str]) -> None:
        self.log = Path(parameters["Log"])
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.fail_times = int(parameters.get("FailTimes", "0"))
        self.raise_failures = _flag(parameters, "Raise") == "true"

    async def process(self, container: ContainerInfo) -> Result[None]:
        counter = self.log.with_name(f"{self.log.name}.{container.id}.count")
        calls = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(calls + 1))
        failing = calls < self.fail_times
        with self.log.open("a") as out:
            out.write(
                json.dumps(
                    {
                        "id": container.id,
                        "status": int(container.status),
                        "signatures": len(container.signatures),
                        "levels": [s.level for s in container.signatures],
                        "failed": failing,
                    }
                )
                + "\n"
            )
        if failing:
            if self.raise_failures:
                raise RuntimeError(f"RecordingProcessor call {calls + 1} raises")
            return Result.fail(f"RecordingProcessor call {calls + 1} fails on purpose")
        return Result.ok(None)
