"""The fixity check: re-read retained documents and flag any whose digest no longer matches.

A pass walks the retained documents in container-id order, a bounded batch at a time
(``fixityCheckBatchSize`` documents and ``fixityCheckBatchBytes`` bytes), remembering where it
stopped in ``periodic_tasks.cursor``; after the last container it starts over. Each document
is streamed through SHA-256 in 1 MiB pieces (never whole in memory, never inside a database
transaction) and compared with the digest recorded at upload. A mismatch raises the critical
problem ``fixity-mismatch``, an unreadable document ``fixity-unreadable``; a document that
matches again (restored from a backup) resolves them. Each finding is audited on its container
(``fixity.check``), each batch once (``fixity.batch``) — not a row per healthy document.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select

from sigarchive.db.engine import Database
from sigarchive.db.models import Container
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

log = logging.getLogger("sigarchive.fixity")

SYSTEM = Actor.system("fixity-check")
FIXITY_PROBLEMS = ("fixity-mismatch", "fixity-unreadable")
CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


#: Opens a retained document by its location, as a context manager yielding a stream.
DocumentOpener = Callable[[str], AbstractContextManager[Readable]]


@dataclass
class FixityResult:
    checked: int = 0
    bytes_read: int = 0
    mismatched: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    #: The last container checked (where the next batch continues), None at the end.
    last_container_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "bytesRead": self.bytes_read,
            "mismatched": self.mismatched,
            "unreadable": self.unreadable,
            "lastContainerId": self.last_container_id,
        }


def _digest(opener: DocumentOpener, location: str) -> tuple[bytes, int]:
    hasher = hashlib.sha256()
    size = 0
    with opener(location) as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.digest(), size


def check_container(db: Database, opener: DocumentOpener, container_id: str) -> FixityResult:
    """Check one container's retained document now."""
    return check_batch(db, opener, after=None, limit=1, max_bytes=None, only=container_id)


def check_batch(
    db: Database,
    opener: DocumentOpener,
    *,
    after: str | None,
    limit: int,
    max_bytes: int | None,
    only: str | None = None,
) -> FixityResult:
    """Check up to ``limit`` retained documents of containers after ``after`` (by id)."""
    result = FixityResult()
    query = select(Container.id, Container.document_location, Container.document_digests).where(
        Container.use_archive_ca.is_(True), Container.document_location.is_not(None)
    )
    if only is not None:
        query = query.where(Container.id == only)
    elif after is not None:
        query = query.where(Container.id > after)
    with db.session() as session:
        batch = list(session.execute(query.order_by(Container.id).limit(limit)))
    for container_id, location, digests in batch:
        assert location is not None
        expected = base64.b64decode((digests or {}).get("sha256", ""))
        outcome = "ok"
        message = ""
        try:
            actual, size = _digest(opener, location)
            result.bytes_read += size
            if not hmac.compare_digest(actual, expected):
                outcome = "mismatch"
                message = (
                    f"The retained document at {location} no longer matches its SHA-256 "
                    f"recorded at upload ({base64.b64encode(expected).decode()}; now "
                    f"{base64.b64encode(actual).decode()})"
                )
                result.mismatched.append(container_id)
        except Exception as exc:  # any storage failure is a finding, not a crash
            outcome = "unreadable"
            message = f"The retained document at {location} cannot be read: {exc}"
            result.unreadable.append(container_id)
        result.checked += 1
        result.last_container_id = container_id
        _record(db, container_id, outcome, message)
        if max_bytes is not None and result.bytes_read >= max_bytes:
            break
    if len(batch) < limit and result.checked == len(batch):
        result.last_container_id = None  # the pass is complete
    if result.checked:
        with db.session() as session:
            record(session, "fixity.batch", SYSTEM, details=result.to_json())
    return result


def _record(db: Database, container_id: str, outcome: str, message: str) -> None:
    with db.session() as session:
        if outcome == "ok":
            problems.resolve(session, container_id, FIXITY_PROBLEMS, resolved_by=SYSTEM.user_name)
        else:
            kind = "fixity-mismatch" if outcome == "mismatch" else "fixity-unreadable"
            problems.report(session, kind, message, container_id=container_id, severity="critical")
            log.error("fixity: container %s: %s", container_id, message)
            container = session.get(Container, container_id)
            record(
                session,
                "fixity.check",
                SYSTEM,
                container_id=container_id,
                storage_id=container.storage_id if container is not None else None,
                outcome=outcome,
                details={"message": message},
            )
