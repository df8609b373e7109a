"""Retained documents on the embedded default: files under the data directory.

A document is first streamed into the spool, then moved into place with an atomic rename after
fsync, so the final path never holds a half-written file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalDocumentStore:
    """Documents kept as files named by container id, fanned out by the id's first two chars."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, container_id: str) -> Path:
        return self.root / container_id[:2] / container_id

    def adopt(self, spooled: Path, container_id: str) -> str:
        """Move a fully written, fsynced spool file into place; returns its location."""
        target = self.path_for(container_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(spooled, target)
        except OSError:  # spool on another file system: copy, fsync, then rename
            partial = target.with_suffix(".partial")
            shutil.copyfile(spooled, partial)
            with partial.open("rb") as stream:
                os.fsync(stream.fileno())
            os.replace(partial, target)
            spooled.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return str(target.relative_to(self.root))

    def open(self, location: str) -> Path:
        return self.root / location

    def delete(self, location: str) -> None:
        (self.root / location).unlink(missing_ok=True)
