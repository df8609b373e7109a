"""Built-in post-enhancement plugin (entry point ``filesystem``): the seed's SAN connector.

As the seed's ``FilesystemSanConnectorPlugin`` (parameter ``folder``): for each container,
``<folder>/<container id>/signature-{i}.sig`` holds signature *i* as it is now, and
``report.txt`` says ``Signature {i} expiration date: {expires}.`` per signature when the
container is archived, or ``Error. Container status: {status}.`` when it is not. Unlike the
seed's example every file is replaced atomically (temporary name, fsync, rename), so a reader
never sees a half-written signature or report, and a missing ``folder`` is a configuration
error rather than the current directory.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sigarchive.domain import STATUS_NAMES, ContainerStatus
from sigarchive.plugins.filesystem import fsync_directory
from sigarchive.plugins.protocols import ContainerInfo, Parameters
from sigarchive.plugins.result import Result


def write_atomically(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def report_text(container: ContainerInfo) -> str:
    """The seed's report: one expiration line per signature, or the failed status."""
    if container.status != ContainerStatus.ARCHIVED:
        name = next(
            (s.code for s in STATUS_NAMES if s.status == container.status), str(container.status)
        )
        return f"Error. Container status: {name}."
    return "".join(
        f"Signature {index} expiration date: "
        f"{signature.expires.isoformat() if signature.expires else 'unknown'}.\n"
        for index, signature in enumerate(container.signatures)
    )


class FilesystemPostEnhancement:
    """Copies each container's signatures and a short report into ``folder``."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    def initialize(self, parameters: Mapping[str, str]) -> None:
        params = parameters if isinstance(parameters, Parameters) else Parameters(parameters)
        folder = Path(params.require("folder")).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    async def process(self, container: ContainerInfo) -> Result[None]:
        if self.folder is None:
            return Result.fail("initialize() was not called")
        target = self.folder / container.id
        try:
            await asyncio.to_thread(self._write, target, container)
        except OSError as exc:
            return Result.fail(f"Unable to write to {target}: {exc}")
        return Result.ok(None)

    def _write(self, target: Path, container: ContainerInfo) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for index, signature in enumerate(container.signatures):
            write_atomically(target / f"signature-{index}.sig", signature.raw)
        write_atomically(target / "report.txt", report_text(container).encode())
        fsync_directory(target)
