"""The content section: containers placed under ``<structure path>/<container name>/``.

SPEC §6 (after the seed's Content section, whose namespaces are "of arbitrary depth"): a
container's ``StructureName`` is a path split on ``/`` (empty segments dropped) and its name
is one more segment, so ``Dept/Sub`` + ``Contract`` hangs the container at
``content/Dept/Sub/Contract/<id>``. Each segment is a row of ``content_nodes``; children are
read with one indexed range query per page, never by scanning containers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from sigarchive.db.metadata_models import ContentNode, ContentPlacement, table_of
from sigarchive.db.models import utcnow

#: Parent id of the top-level nodes (the storage's ``content`` node itself).
ROOT = 0
#: Segment for a container whose name is empty.
UNNAMED = "(unnamed)"


def structure_segments(structure_name: str | None) -> list[str]:
    """``"/Dept//Sub/"`` → ``["Dept", "Sub"]``; None or blank → ``[]``."""
    if not structure_name:
        return []
    return [part.strip() for part in structure_name.split("/") if part.strip()]


def container_segments(structure_name: str | None, name: str) -> list[str]:
    """The content path of a container's name node: structure segments, then its name."""
    return [*structure_segments(structure_name), name.strip() or UNNAMED]


def segment_key(segment: str) -> str:
    return hashlib.sha256(segment.encode("utf-8")).hexdigest()


def _insert_ignore(connection: Connection, values: dict[str, object]) -> None:
    table = table_of(ContentNode)
    if connection.dialect.name == "postgresql":
        connection.execute(postgresql.insert(table).values(values).on_conflict_do_nothing())
    elif connection.dialect.name == "sqlite":
        connection.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        connection.execute(insert(table).values(values))


def ensure_path(connection: Connection, storage_id: int, segments: Sequence[str]) -> int:
    """The id of the node at ``segments`` under the storage's content root, created (with its
    ancestors) if absent. Concurrent callers converge on the same rows."""
    table = table_of(ContentNode)
    parent = ROOT
    for segment in segments:
        key = segment_key(segment)
        lookup = select(table.c.id).where(
            table.c.storage_id == storage_id,
            table.c.parent_id == parent,
            table.c.segment_sha256 == key,
        )
        found = connection.scalar(lookup)
        if found is None:
            _insert_ignore(
                connection,
                {
                    "storage_id": storage_id,
                    "parent_id": parent,
                    "segment": segment,
                    "segment_sha256": key,
                    "created_at": utcnow(),
                },
            )
            found = connection.scalar(lookup)
        assert found is not None
        parent = int(found)
    return parent


def place(
    connection: Connection,
    container_id: str,
    storage_id: int,
    structure_name: str | None,
    name: str,
) -> int:
    """Hang a new container in the content tree; returns its name node's id."""
    node_id = ensure_path(connection, storage_id, container_segments(structure_name, name))
    connection.execute(
        insert(table_of(ContentPlacement)).values(
            container_id=container_id, node_id=node_id, storage_id=storage_id
        )
    )
    return node_id


def find_node(connection: Connection, storage_id: int, segments: Sequence[str]) -> int | None:
    """The id of the node at ``segments``, None if there is none (no writes)."""
    table = table_of(ContentNode)
    parent = ROOT
    for segment in segments:
        found = connection.scalar(
            select(table.c.id).where(
                table.c.storage_id == storage_id,
                table.c.parent_id == parent,
                table.c.segment_sha256 == segment_key(segment),
            )
        )
        if found is None:
            return None
        parent = int(found)
    return parent


def node_path(connection: Connection, node_id: int) -> list[str]:
    """Segments from the content root down to ``node_id`` (one lookup per level)."""
    table = table_of(ContentNode)
    segments: list[str] = []
    current = node_id
    while current != ROOT:
        row = connection.execute(
            select(table.c.parent_id, table.c.segment).where(table.c.id == current)
        ).one_or_none()
        if row is None:
            break
        segments.append(row.segment)
        current = int(row.parent_id)
    return list(reversed(segments))
