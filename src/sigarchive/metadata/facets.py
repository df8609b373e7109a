"""Facets: small typed plugins that hang metadata under ``facets/<facet id>/``.

The seed: "The facets section allows storage of other repository metadata for specific
plugins. Each is named by the plugin's unique identifier." As in Archiva a facet is tiny —
an ``id``, a ``name`` and the typed ``properties`` its entries carry — plus one method that
answers for a node below it. Built in: ``audit``, ``statistics``, ``problems``. A third party
adds one with an entry point in the group ``sigarchive.metadata_facets`` naming a facet
instance, class or factory; it is registered by id (a duplicate id is refused).

:class:`TimelineFacet` does the seed's ``YYYY/MM/DD/HHMMSS.mmm`` layout ("audit logs are
stored by the time they occur") for any facet whose entries have a time and an integer id:
the year, month and day levels are answered with existence probes on an index, the day level
with one range query per page.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from sigarchive.errors import ArchiveError, NotFound
from sigarchive.metadata.tree import Node, Page, Properties, Viewer, encode_cursor, join_path

log = logging.getLogger("sigarchive.metadata")

ENTRY_POINT_GROUP = "sigarchive.metadata_facets"

PropertyType = Literal["string", "integer", "number", "boolean", "datetime", "object", "list"]


@dataclass(frozen=True)
class PropertySpec:
    """One property a facet's entries carry, with its type."""

    name: str
    type: PropertyType
    description: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "description": self.description}


@dataclass(frozen=True)
class FacetContext:
    """What a facet is given to answer for a node.

    ``storage_id`` is the storage whose ``facets/`` is read, None for ``server/facets/``
    (operators only). ``path`` is the facet node's own tree path.
    """

    session: Session
    viewer: Viewer
    storage_id: int | None
    path: Sequence[str]
    page: Page

    def node(self, rest: Sequence[str], type_: str, properties: Properties | None = None) -> Node:
        return Node(join_path([*self.path, *rest]), type_, properties or {})


@runtime_checkable
class Facet(Protocol):
    """A facet: ``id`` (its segment under ``facets/``), ``name``, typed ``properties``."""

    id: str
    name: str
    properties: tuple[PropertySpec, ...]

    def node(self, context: FacetContext, rest: Sequence[str]) -> Node:
        """The node at ``facets/<id>/<rest…>``; raise ``NotFound`` for an unknown one."""
        ...


class FacetRegistry:
    """Facets by id, in registration order."""

    def __init__(self, facets: Iterable[Facet] = ()) -> None:
        self._facets: dict[str, Facet] = {}
        for facet in facets:
            self.register(facet)

    def register(self, facet: Facet) -> None:
        if not isinstance(facet, Facet):
            raise TypeError(f"{facet!r} is not a metadata facet (id, name, properties, node)")
        if not facet.id or "/" in facet.id:
            raise ValueError(f"facet id {facet.id!r} must be a non-empty path segment")
        if facet.id in self._facets:
            raise ValueError(f"a facet with id {facet.id!r} is already registered")
        self._facets[facet.id] = facet

    def get(self, facet_id: str) -> Facet:
        try:
            return self._facets[facet_id]
        except KeyError:
            raise NotFound(f"No facet with id {facet_id!r}", code="FacetNotFound") from None

    def __iter__(self) -> Any:
        return iter(self._facets.values())

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register the facets third parties installed; returns their ids. A broken one is
        logged and skipped: it must not keep the archive from starting."""
        loaded = []
        for entry in entry_points(group=group):
            try:
                target = entry.load()
                # a class or a factory is called; an instance is used as is
                is_instance = isinstance(target, Facet) and not isinstance(target, type)
                facet = target if is_instance else target()
                self.register(facet)
                loaded.append(facet.id)
            except Exception:
                log.exception("metadata facet entry point %s could not be loaded", entry.name)
        return loaded


# ---- the YYYY/MM/DD/HHMMSS.mmm layout -------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    properties: Properties


def entry_name(entry_id: int, at: datetime) -> str:
    """``093600.123-17``: time of day (UTC) to the millisecond, then the entry's id (two
    entries in one millisecond stay apart)."""
    moment = at.astimezone(UTC)
    return f"{moment:%H%M%S}.{moment.microsecond // 1000:03d}-{entry_id}"


def _parse_entry_id(name: str) -> int:
    _, _, tail = name.rpartition("-")
    if not tail.isdigit():
        raise NotFound(f"No entry {name!r}", code="NodeNotFound")
    return int(tail)


def _number(segment: str, low: int, high: int) -> int:
    if not segment.isdigit() or not low <= int(segment) <= high:
        raise NotFound(f"No node {segment!r}", code="NodeNotFound")
    return int(segment)


def _next_month(year: int, month: int) -> datetime:
    return datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)


class TimelineFacet(ABC):
    """A facet whose entries are laid out by time: ``YYYY/MM/DD/HHMMSS.mmm-<id>`` (UTC)."""

    id: str
    name: str
    properties: tuple[PropertySpec, ...]
    #: The type of the facet's own node and of its entries.
    root_type = "facet"
    entry_type = "facet-entry"

    @abstractmethod
    def bounds(self, context: FacetContext) -> tuple[datetime, datetime] | None:
        """Time of the first and of the last entry (None when there is none)."""

    @abstractmethod
    def any_between(self, context: FacetContext, start: datetime, end: datetime) -> bool:
        """Is there an entry in [start, end)?"""

    @abstractmethod
    def entries(
        self,
        context: FacetContext,
        start: datetime,
        end: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[TimelineEntry]:
        """Entries in [start, end) after ``after`` (time, id), oldest first, at most ``limit``."""

    @abstractmethod
    def entry(self, context: FacetContext, entry_id: int) -> TimelineEntry | None:
        """One entry by id, None if absent or not visible in this context."""

    def root_properties(self, context: FacetContext) -> Properties:
        return {"id": self.id, "name": self.name}

    def node(self, context: FacetContext, rest: Sequence[str]) -> Node:
        depth = len(rest)
        if depth == 0:
            node = context.node([], self.root_type, self.root_properties(context))
            node.properties["entryProperties"] = [p.to_json() for p in self.properties]
            bounds = self.bounds(context)
            if bounds is not None:
                for year in range(bounds[0].year, bounds[1].year + 1):
                    start = datetime(year, 1, 1, tzinfo=UTC)
                    if self.any_between(context, start, datetime(year + 1, 1, 1, tzinfo=UTC)):
                        node.add_child(f"{year:04d}", "year")
            return node
        year = _number(rest[0], 1, 9999)
        if depth == 1:
            return self._periods(
                context,
                rest,
                "year",
                "month",
                [
                    (f"{m:02d}", datetime(year, m, 1, tzinfo=UTC), _next_month(year, m))
                    for m in range(1, 13)
                ],
            )
        month = _number(rest[1], 1, 12)
        first = datetime(year, month, 1, tzinfo=UTC)
        days = (_next_month(year, month) - first).days
        if depth == 2:
            return self._periods(
                context,
                rest,
                "month",
                "day",
                [
                    (f"{d:02d}", first + timedelta(days=d - 1), first + timedelta(days=d))
                    for d in range(1, days + 1)
                ],
            )
        day = _number(rest[2], 1, days)
        start = first + timedelta(days=day - 1)
        if depth == 3:
            node = context.node(rest, "day", {"date": start.date().isoformat()})
            position = context.page.position()
            after = (datetime.fromisoformat(position[0]), int(position[1])) if position else None
            found = self.entries(
                context, start, start + timedelta(days=1), after, context.page.size + 1
            )
            for item in found[: context.page.size]:
                node.add_child(entry_name(item.id, item.at), self.entry_type)
            if len(found) > context.page.size:
                last = found[context.page.size - 1]
                node.next_cursor = encode_cursor(last.at.isoformat(), last.id)
            return node
        if depth == 4:
            entry = self.entry(context, _parse_entry_id(rest[3]))
            if entry is None or not start <= entry.at < start + timedelta(days=1):
                raise NotFound(f"No entry {rest[3]!r} on {start.date()}", code="NodeNotFound")
            return context.node(rest, self.entry_type, entry.properties)
        raise NotFound("No such node below a facet entry", code="NodeNotFound")

    def _periods(
        self,
        context: FacetContext,
        rest: Sequence[str],
        type_: str,
        child_type: str,
        periods: list[tuple[str, datetime, datetime]],
    ) -> Node:
        node = context.node(rest, type_)
        for name, start, end in periods:
            if self.any_between(context, start, end):
                node.add_child(name, child_type)
        return node


FacetFactory = Callable[[], Facet]


def guarded(facet: Facet, context: FacetContext, rest: Sequence[str]) -> Node:
    """Ask a facet for a node; a third party's failure becomes a clear error, not a 500."""
    try:
        return facet.node(context, rest)
    except ArchiveError:
        raise
    except Exception as exc:
        log.exception("facet %s failed", facet.id)
        raise ArchiveError(f"The facet {facet.id!r} failed: {exc}", code="FacetFailed") from exc
