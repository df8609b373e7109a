"""Built-in document storage on a file system (entry point ``filesystem``).

The seed's example plugin (``FilesystemStoragePlugin``, parameter ``DocumentsFolderPath``,
one file per container id) made atomic: the document is written to a temporary name in the
target directory, fsynced, renamed into place and the directory fsynced, so the final path
never holds a half-written file. Files are fanned out by the first two characters of the
container id; the location is the path relative to ``DocumentsFolderPath`` (so the folder can
move), and an absolute path inside the folder — what the seed's plugin returned — is accepted
too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sigarchive.plugins.protocols import CHUNK_SIZE, ContainerInfo, Document, Parameters
from sigarchive.plugins.result import Result


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemDocumentStorage:
    """Documents as files under ``DocumentsFolderPath``."""

    def __init__(self) -> None:
        self.root: Path | None = None

    def initialize(self, parameters: Mapping[str, str]) -> None:
        params = parameters if isinstance(parameters, Parameters) else Parameters(parameters)
        root = Path(params.require("DocumentsFolderPath")).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def _root(self) -> Path:
        if self.root is None:
            raise RuntimeError("initialize() was not called")
        return self.root

    def _path(self, location: str) -> Path | None:
        """The file a location names, or None if it points outside the folder."""
        root = self._root()
        candidate = Path(location)
        path = (candidate if candidate.is_absolute() else root / candidate).resolve()
        if not path.is_relative_to(root) or path == root:
            return None
        return path

    def save(self, container: ContainerInfo) -> Result[str]:
        if container.document is None:
            return Result.fail("no document to save")
        root = self._root()
        relative = Path(container.id[:2]) / container.id
        target = root / relative
        temporary: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{container.id}.", suffix=".tmp", dir=target.parent
            )
            temporary = Path(name)
            with os.fdopen(fd, "wb") as out:
                for chunk in container.document.chunks(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
            temporary = None
            fsync_directory(target.parent)
        except OSError as exc:
            return Result.fail(f"Unable to save document to {target}: {exc}")
        finally:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        return Result.ok(relative.as_posix())

    def get(self, location: str) -> Result[Document]:
        path = self._path(location)
        if path is None:
            return Result.fail(f"Location {location!r} is outside {self._root()}")
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            return Result.fail(f"File not found: {path}")
        except OSError as exc:
            return Result.fail(f"Unable to open {path}: {exc}")
        return Result.ok(Document(stream, os.fstat(stream.fileno()).st_size))

    def delete(self, location: str) -> Result[None]:
        path = self._path(location)
        if path is None:
            return Result.fail(f"Location {location!r} is outside {self._root()}")
        try:
            path.unlink(missing_ok=True)  # already gone: deleted by an earlier attempt
            fsync_directory(path.parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            return Result.fail(f"Unable to delete {path}: {exc}")
        return Result.ok(None)
