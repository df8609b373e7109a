"""Nodes of the metadata tree: paths, properties, paginated children, who may see what.

The seed models metadata as "a typical content repository structure, where there is a path to
a particular node, and nodes can have properties and values". A path is a ``/``-joined list
of segments; a segment that itself contains ``/`` or ``%`` (a container name like ``a/b``)
has them written ``%2F`` / ``%25``. Children are always one page (``Page``) with an opaque
cursor for the next, read by an indexed range query: no node is built by loading a table.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigarchive.errors import InvalidInput

#: Property values are JSON values (dates as ISO 8601 strings).
Properties = dict[str, Any]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_ESCAPE = re.compile(r"%(25|2F|2f)")


def escape_segment(segment: str) -> str:
    return segment.replace("%", "%25").replace("/", "%2F")


def unescape_segment(segment: str) -> str:
    return _ESCAPE.sub(lambda m: "%" if m.group(1) == "25" else "/", segment)


def split_path(path: str) -> list[str]:
    """``"repositories/3/content/a%2Fb"`` → ``["repositories", "3", "content", "a/b"]``."""
    return [unescape_segment(part) for part in path.strip("/").split("/") if part]


def join_path(segments: Sequence[str]) -> str:
    return "/".join(escape_segment(segment) for segment in segments)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class Page:
    """Which page of children to return: at most ``size``, after ``cursor``."""

    size: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"pageSize must be between 1 and {MAX_PAGE_SIZE}", code="InvalidPageSize"
            )

    def position(self) -> list[Any] | None:
        """The decoded cursor (whatever the node encoded), None on the first page."""
        return decode_cursor(self.cursor) if self.cursor else None


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this archive gave", code="InvalidCursor") from exc
    if not isinstance(parts, list):
        raise InvalidInput("The cursor is not one this archive gave", code="InvalidCursor")
    return parts


@dataclass(frozen=True)
class Child:
    name: str
    type: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "path": self.path}


@dataclass
class Node:
    """One node: its properties and one page of its children."""

    path: str
    type: str
    properties: Properties = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    next_cursor: str | None = None

    @property
    def name(self) -> str:
        segments = split_path(self.path)
        return segments[-1] if segments else ""

    def add_child(self, name: str, type_: str) -> None:
        segments = [*split_path(self.path), name]
        self.children.append(Child(name, type_, join_path(segments)))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "type": self.type,
            "properties": self.properties,
            "children": [child.to_json() for child in self.children],
            "nextCursor": self.next_cursor,
        }


@dataclass(frozen=True)
class Viewer:
    """Who reads the tree: an API user (sees its storages) or an operator (sees everything)."""

    user_id: int | None
    name: str
    is_admin: bool
    storage_ids: frozenset[int] = frozenset()

    def sees(self, storage_id: int | None) -> bool:
        if self.is_admin:
            return True
        return storage_id is not None and storage_id in self.storage_ids

    @classmethod
    def operator(cls, name: str = "cli") -> Viewer:
        return cls(None, name, True)
