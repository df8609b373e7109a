"""Download: a retained document streamed from its storage plugin, checked on the way out.

The document is delivered only when the archive retains it (UseArchiveCa=true, or the
storage's policy); its bytes are checked against the size and SHA-256 taken at upload
(fixity), and the last chunk is held back until they match, so a document that no longer
matches is never delivered whole: the stream is cut and a problem recorded.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sigarchive.archive.accounts import AuthenticatedUser
from sigarchive.db.engine import Database
from sigarchive.db.models import Container
from sigarchive.domain import ContainerStatus
from sigarchive.errors import NotFound
from sigarchive.plugins.loader import PluginRegistry
from sigarchive.plugins.protocols import Document
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

#: Problem recorded when a retained document no longer matches its upload.
MISMATCH_PROBLEM = "document-digest-mismatch"


@dataclass(frozen=True)
class DocumentContent:
    """A retained document ready to stream: ``chunks`` checks it as it goes."""

    name: str
    media_type: str
    size: int
    chunks: Iterator[bytes]


def document_content(
    db: Database, plugins: PluginRegistry, user: AuthenticatedUser, actor: Actor, container_id: str
) -> DocumentContent:
    """The signed document of a visible container (audited as ``document.content``, with
    outcome ``not-found`` or ``not-retained`` when refused); 404 DocumentNotRetained when only
    signatures and digests are kept."""
    with db.session() as session:
        c = session.get(Container, container_id)
        if c is not None and c.storage_id not in user.storage_ids:
            c = None
        outcome = "not-found" if c is None else "ok" if c.document_location else "not-retained"
        record(
            session,
            "document.content",
            actor,
            container_id=container_id,
            storage_id=c.storage_id if c is not None else None,
            outcome=outcome,
        )
        if c is not None:
            location, name, mime = c.document_location, c.name, c.document_type
            size, sha256 = c.document_size, c.document_digests.get("sha256")
            ended = c.status == ContainerStatus.STORAGE_PERIOD_ENDED and c.use_archive_ca
    if c is None:
        raise NotFound(f"Container {container_id} not found", code="ContainerNotFound")
    if location is None:
        reason = (
            "its storage period ended and the document was deleted"
            if ended
            else "it was uploaded with UseArchiveCa=false: only its signatures and digests are kept"
        )
        raise NotFound(
            f"Container {container_id} does not retain its document: {reason}",
            code="DocumentNotRetained",
        )
    document = plugins.open_document(location)

    def mismatch(message: str) -> None:
        with db.session() as session:
            problems.report(session, MISMATCH_PROBLEM, message, container_id=container_id)

    expected = base64.b64decode(sha256) if sha256 else None
    chunks = _verified_stream(document, size, expected, location, mismatch)
    return DocumentContent(name, mime, size, chunks)


def _verified_stream(
    document: Document,
    size: int,
    sha256: bytes | None,
    location: str,
    mismatch: Callable[[str], None],
) -> Iterator[bytes]:
    """The document's bytes, checked against the digest taken at upload (fixity).

    The last chunk is held back until the digest is checked: a document that no longer
    matches is never delivered whole (the connection is cut and a problem recorded).
    """
    digest = hashlib.sha256()
    held: bytes | None = None
    read = 0
    with document:
        for chunk in document.chunks():
            digest.update(chunk)
            read += len(chunk)
            if held is not None:
                yield held
            held = chunk
    if read != size or (sha256 is not None and digest.digest() != sha256):
        message = (
            f"Stored document at {location} does not match its upload: {read} bytes "
            f"(expected {size}), sha256 {'differs' if sha256 else 'unknown'}"
        )
        mismatch(message)
        raise OSError(message)
    if held is not None:
        yield held
