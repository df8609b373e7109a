"""The metadata repository: path → node, for the API (``/api/metadata/{path}``) and the CLI.

The tree (SPEC §6, after the seed's content model)::

    repositories/                                   the storages the caller sees
      <storage id>/                                 id=, name=, created=
        config/                                     this storage's settings (read/write)
        content/<structure path>/<container name>/<container id>/
            document/                               size=, sha256=, fileCreated=, location= …
            signature-<n>/                          level=, signer=, signingTime=, expires= …
        facets/<facet id>/…                         audit, statistics, problems, third parties
        references/<certificate sha256>/references/<container id>/   referenceType=
    server/                                         operators only
      config/  facets/<facet id>/…  references/…    the same, archive-wide

Every read is audited (``metadata.read``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.metadata_models import ContentNode, ContentPlacement
from sigarchive.db.models import Container, Signature, Storage
from sigarchive.domain import STATUS_NAMES, SaveType
from sigarchive.errors import Forbidden, InvalidInput, NotFound
from sigarchive.metadata import content, references
from sigarchive.metadata.configuration import ConfigurationStore
from sigarchive.metadata.facets import FacetContext, FacetRegistry, guarded
from sigarchive.metadata.tree import Node, Page, Properties, Viewer, encode_cursor, iso, join_path
from sigarchive.records.audit import Actor, record

_STATUS = {int(entry.status): entry.code for entry in STATUS_NAMES}


@dataclass(frozen=True)
class FileInfo:
    """What the document's storage says about the stored file."""

    size: int | None
    modified: datetime | None


#: Looks up a retained document's file facts by location (None when unknown).
FileInfoLookup = Callable[[str], FileInfo | None]


def _not_found(path: Sequence[str]) -> NotFound:
    return NotFound(f"No metadata node {join_path(path)!r}", code="NodeNotFound")


class MetadataRepository:
    """Resolves tree paths; one instance per process (held by the runtime)."""

    def __init__(
        self,
        db: Database,
        configuration: ConfigurationStore,
        facets: FacetRegistry,
        file_info: FileInfoLookup | None = None,
    ) -> None:
        self.db = db
        self.configuration = configuration
        self.facets = facets
        self.file_info = file_info

    # ---- entry points -------------------------------------------------------------------

    def node(self, viewer: Viewer, actor: Actor, path: Sequence[str], page: Page) -> Node:
        """The node at ``path`` as ``viewer`` may see it (audited)."""
        if path[-1:] == ["config"]:
            self.configuration.observe()  # an edit of the file is audited before it is shown
        with self.db.session() as session:
            node = _Resolver(self, session, viewer, page).resolve(list(path))
            storage_id = _storage_of(path)
            record(
                session,
                "metadata.read",
                actor,
                storage_id=storage_id,
                container_id=node.properties.get("container.id")
                if node.type in ("container", "document", "signature")
                else None,
                details={"path": join_path(path)},
            )
            return node

    def write(
        self, viewer: Viewer, actor: Actor, path: Sequence[str], changes: dict[str, Any]
    ) -> Node:
        """Change properties of a configuration node (operators only); returns the node."""
        segments = list(path)
        if segments == ["server", "config"]:
            if not viewer.is_admin:
                raise Forbidden("Only operators change the server configuration", code="AdminOnly")
            self.configuration.update_server(actor, changes)
        elif len(segments) == 3 and segments[0] == "repositories" and segments[2] == "config":
            storage_id = _storage_id(segments[1])
            if not viewer.sees(storage_id):
                raise _not_found(segments)
            if not viewer.is_admin:
                raise Forbidden("Only operators change a storage's configuration", code="AdminOnly")
            self.configuration.update_storage(actor, storage_id, changes)
        else:
            raise InvalidInput(
                "Only configuration nodes (server/config, repositories/<id>/config) are writable",
                code="NodeNotWritable",
            )
        return self.node(viewer, actor, segments, Page())


def _storage_id(segment: str) -> int:
    if not segment.isdigit():
        raise NotFound(f"No storage {segment!r}", code="StorageNotFound")
    return int(segment)


def _storage_of(path: Sequence[str]) -> int | None:
    if len(path) >= 2 and path[0] == "repositories" and path[1].isdigit():
        return int(path[1])
    return None


class _Resolver:
    def __init__(
        self, repository: MetadataRepository, session: Session, viewer: Viewer, page: Page
    ) -> None:
        self.repository = repository
        self.session = session
        self.viewer = viewer
        self.page = page

    def resolve(self, path: list[str]) -> Node:
        if not path:
            node = Node("", "root")
            node.add_child("repositories", "repositories")
            if self.viewer.is_admin:
                node.add_child("server", "server")
            return node
        head, rest = path[0], path[1:]
        if head == "repositories":
            if not rest:
                return self._storages()
            storage = self._storage(rest[0])
            return self._storage_node(storage, rest[1:], path)
        if head == "server":
            if not self.viewer.is_admin:
                raise Forbidden("The server node is for operators only", code="AdminOnly")
            return self._scope(None, rest, path)
        raise _not_found(path)

    # ---- storages -----------------------------------------------------------------------

    def _storages(self) -> Node:
        node = Node("repositories", "repositories")
        query = select(Storage.id).order_by(Storage.id)
        if not self.viewer.is_admin:
            query = query.where(Storage.id.in_(sorted(self.viewer.storage_ids) or [-1]))
        position = self.page.position()
        if position:
            query = query.where(Storage.id > int(position[0]))
        ids = list(self.session.scalars(query.limit(self.page.size + 1)))
        for storage_id in ids[: self.page.size]:
            node.add_child(str(storage_id), "repository")
        if len(ids) > self.page.size:
            node.next_cursor = encode_cursor(ids[self.page.size - 1])
        return node

    def _storage(self, segment: str) -> Storage:
        storage_id = _storage_id(segment)
        storage = self.session.get(Storage, storage_id) if self.viewer.sees(storage_id) else None
        if storage is None:
            raise NotFound(f"No storage {segment!r}", code="StorageNotFound")
        return storage

    def _storage_node(self, storage: Storage, rest: list[str], path: list[str]) -> Node:
        if not rest:
            node = Node(
                join_path(path),
                "repository",
                {"id": storage.id, "name": storage.name, "created": iso(storage.created_at)},
            )
            for child in ("config", "content", "facets", "references"):
                node.add_child(child, child)
            return node
        if rest[0] == "content":
            return self._content(storage.id, rest[1:], path)
        if rest == ["config"]:
            return Node(
                join_path(path),
                "config",
                self.repository.configuration.storage_properties(self.session, storage),
            )
        return self._scope(storage.id, rest, path)

    def _scope(self, storage_id: int | None, rest: list[str], path: list[str]) -> Node:
        """``config``, ``facets/…`` and ``references/…`` of a storage or of the server."""
        if not rest:
            node = Node(join_path(path), "server")
            for child in ("config", "facets", "references"):
                node.add_child(child, child)
            return node
        if rest == ["config"] and storage_id is None:
            return Node(
                join_path(path), "config", self.repository.configuration.server_properties()
            )
        if rest[0] == "facets":
            return self._facets(storage_id, rest[1:], path)
        if rest[0] == "references":
            return self._references(storage_id, rest[1:], path)
        raise _not_found(path)

    # ---- facets -------------------------------------------------------------------------

    def _facets(self, storage_id: int | None, rest: list[str], path: list[str]) -> Node:
        if not rest:
            node = Node(join_path(path), "facets")
            node.properties["facets"] = [
                {"id": facet.id, "name": facet.name} for facet in self.repository.facets
            ]
            for facet in self.repository.facets:
                node.add_child(facet.id, "facet")
            return node
        facet = self.repository.facets.get(rest[0])
        context = FacetContext(
            self.session,
            self.viewer,
            storage_id,
            path[: len(path) - len(rest) + 1],
            self.page,
        )
        return guarded(facet, context, rest[1:])

    # ---- references ---------------------------------------------------------------------

    def _references(self, storage_id: int | None, rest: list[str], path: list[str]) -> Node:
        if not rest:
            node = Node(join_path(path), "references")
            position = self.page.position()
            found = references.certificates_of_storage(
                self.session,
                storage_id,
                str(position[0]) if position else None,
                self.page.size + 1,
            )
            for sha256 in found[: self.page.size]:
                node.add_child(sha256, "certificate")
            if len(found) > self.page.size:
                node.next_cursor = encode_cursor(found[self.page.size - 1])
            return node
        sha256 = rest[0].lower()
        scope = [storage_id] if storage_id is not None else None
        if not references.referrers(self.session, sha256, storage_ids=scope, after=None, limit=1):
            raise _not_found(path)
        if len(rest) == 1:
            node = Node(
                join_path(path), "certificate", _certificate_properties(self.session, sha256)
            )
            node.add_child("references", "certificate-references")
            return node
        if rest[1] != "references":
            raise _not_found(path)
        if len(rest) == 2:
            node = Node(join_path(path), "certificate-references", {"certificate": sha256})
            position = self.page.position()
            referrers = references.referrers(
                self.session,
                sha256,
                storage_ids=scope,
                after=str(position[0]) if position else None,
                limit=self.page.size + 1,
            )
            for referrer in referrers[: self.page.size]:
                node.add_child(referrer.container_id, "reference")
            if len(referrers) > self.page.size:
                node.next_cursor = encode_cursor(referrers[self.page.size - 1].container_id)
            return node
        if len(rest) == 3:
            hit = references.referrer(self.session, sha256, rest[2], storage_ids=scope)
            if hit is None:
                raise _not_found(path)
            return Node(
                join_path(path),
                "reference",
                {
                    "referenceType": list(hit.reference_types),
                    "container.id": hit.container_id,
                    "storage.id": hit.storage_id,
                    "container.path": self._container_path(hit.container_id),
                },
            )
        raise _not_found(path)

    def _container_path(self, container_id: str) -> str | None:
        placement = self.session.get(ContentPlacement, container_id)
        if placement is None:
            return None
        segments = content.node_path(self.session.connection(), placement.node_id)
        return join_path(
            ["repositories", str(placement.storage_id), "content", *segments, container_id]
        )

    # ---- content ------------------------------------------------------------------------

    def _content(self, storage_id: int, rest: list[str], path: list[str]) -> Node:
        node_id = content.ROOT
        consumed = 0
        for segment in rest:
            found = _child(self.session, storage_id, node_id, segment)
            if found is None:
                break
            node_id = found
            consumed += 1
        if consumed == len(rest):
            return self._folder(storage_id, node_id, path)
        remaining = rest[consumed:]
        placement = self.session.get(ContentPlacement, remaining[0])
        if node_id == content.ROOT or placement is None or placement.node_id != node_id:
            raise _not_found(path)
        container = self.session.get(Container, remaining[0])
        if container is None or container.storage_id != storage_id:
            raise _not_found(path)
        container_path = path[: len(path) - len(remaining) + 1]
        if len(remaining) == 1:
            return self._container(container, container_path)
        if len(remaining) == 2 and remaining[1] == "document":
            return self._document(container, path)
        if len(remaining) == 2 and remaining[1].startswith("signature-"):
            number = remaining[1].removeprefix("signature-")
            if number.isdigit() and 1 <= int(number) <= len(container.signatures):
                return self._signature(container, container.signatures[int(number) - 1], path)
        raise _not_found(path)

    def _folder(self, storage_id: int, node_id: int, path: list[str]) -> Node:
        node = Node(join_path(path), "content" if node_id == content.ROOT else "folder")
        if node_id != content.ROOT:
            folder = self.session.get(ContentNode, node_id)
            node.properties["segment"] = folder.segment if folder is not None else None
        position = self.page.position() or ["n", 0]
        room = self.page.size
        if position[0] == "n":
            rows = list(
                self.session.execute(
                    select(ContentNode.id, ContentNode.segment)
                    .where(
                        ContentNode.storage_id == storage_id,
                        ContentNode.parent_id == node_id,
                        ContentNode.id > int(position[1]),
                    )
                    .order_by(ContentNode.id)
                    .limit(room + 1)
                )
            )
            for row in rows[:room]:
                node.add_child(row.segment, "folder")
            if len(rows) > room:
                node.next_cursor = encode_cursor("n", rows[room - 1].id)
                return node
            room -= len(rows)
            position = ["c", ""]
        if node_id == content.ROOT:
            return node
        ids = list(
            self.session.scalars(
                select(ContentPlacement.container_id)
                .where(
                    ContentPlacement.node_id == node_id,
                    ContentPlacement.container_id > str(position[1]),
                )
                .order_by(ContentPlacement.container_id)
                .limit(room + 1)
            )
        )
        for container_id in ids[:room]:
            node.add_child(container_id, "container")
        if len(ids) > room:
            node.next_cursor = encode_cursor("c", ids[room - 1] if room else position[1])
        return node

    def _container(self, c: Container, path: list[str]) -> Node:
        node = Node(
            join_path(path),
            "container",
            {
                "container.id": c.id,
                "name": c.name,
                "structureName": c.structure_name,
                "storage.id": c.storage_id,
                "status": c.status,
                "statusName": _STATUS.get(c.status),
                "saveType": SaveType(c.save_type).api_name,
                "sourceSystem": c.source_system.name,
                "sourceSystemId": c.source_system_id,
                "created": iso(c.created_at),
                "updated": iso(c.modified_at),
                "archiveUntil": iso(c.archive_until),
                "signatureUpdateDate": iso(c.signature_update_date),
                "useArchiveCa": c.use_archive_ca,
                "documentType": c.document_type,
                "lastError": c.last_error,
            },
        )
        node.add_child("document", "document")
        for signature in c.signatures:
            node.add_child(f"signature-{signature.position + 1}", "signature")
        return node

    def _document(self, c: Container, path: list[str]) -> Node:
        info = (
            self.repository.file_info(c.document_location)
            if c.document_location is not None and self.repository.file_info is not None
            else None
        )
        digests = dict(c.document_digests or {})
        properties: Properties = {
            "container.id": c.id,
            "size": c.document_size,
            "mimeType": c.document_type,
            "digests": digests,
            "sha256": digests.get("sha256"),
            "retained": c.document_location is not None,
            "location": c.document_location,
            "fileCreated": iso(c.created_at),
            # documents are written once: the storage's own time when it tells, else creation
            "fileLastModified": iso(info.modified if info and info.modified else c.created_at),
            "storedSize": info.size if info else None,
        }
        return Node(join_path(path), "document", properties)

    def _signature(self, c: Container, s: Signature, path: list[str]) -> Node:
        signers = (s.report or {}).get("signers", [])
        stamps = references.timestamps_of(s.enhanced or s.original)
        archive = [t for t in stamps if t.kind == "archive"]
        signer_certificates = [x.get("signer_certificate_sha256") for x in signers]
        signer_expiry = [
            found.not_after
            for sha256 in signer_certificates
            if sha256
            for found in [references.certificate(self.session, sha256)]
            if found is not None
        ]
        # provable until the newest archive time-stamp's TSA certificate expires (CAdES-A),
        # else until the signer's certificate does
        expires = archive[-1].tsa_not_after if archive else min(signer_expiry, default=None)
        properties: Properties = {
            "container.id": c.id,
            "position": s.position + 1,
            "level": s.level,
            "signer": s.signer_subject,
            "signerCertificate": signer_certificates[0] if signer_certificates else None,
            "signingTime": iso(s.signing_time),
            "digestAlgorithm": s.digest_algorithm,
            "attached": s.is_attached,
            "size": len(s.enhanced or s.original),
            "enhanced": s.enhanced is not None,
            "indication": [x.get("indication") for x in signers],
            "subIndication": [x.get("sub_indication") for x in signers],
            "bestSignatureTime": [x.get("best_signature_time") for x in signers],
            "validatedAt": [x.get("validation_time") for x in signers],
            "signatureTimeStamps": [iso(t.gen_time) for t in stamps if t.kind == "signature"],
            "archiveTimeStamps": [iso(t.gen_time) for t in archive],
            "timeStampAuthorities": sorted({t.tsa_subject for t in stamps if t.tsa_subject}),
            "expires": iso(expires),
        }
        return Node(join_path(path), "signature", properties)


def _child(session: Session, storage_id: int, parent_id: int, segment: str) -> int | None:
    found = session.scalar(
        select(ContentNode.id).where(
            ContentNode.storage_id == storage_id,
            ContentNode.parent_id == parent_id,
            ContentNode.segment_sha256 == content.segment_key(segment),
        )
    )
    return int(found) if found is not None else None


def _certificate_properties(session: Session, sha256: str) -> Properties:
    record_ = references.certificate(session, sha256)
    if record_ is None:
        return {"sha256": sha256}
    return {
        "sha256": record_.sha256,
        "subject": record_.subject,
        "issuer": record_.issuer,
        "serialNumber": record_.serial_number,
        "notBefore": iso(record_.not_before),
        "notAfter": iso(record_.not_after),
        "ca": record_.is_ca,
        "expired": record_.not_after < datetime.now(UTC),
    }


CONFIG_FILE = "sigarchive-config.json"


def build_repository(
    db: Database,
    data_dir: Path,
    file_info: FileInfoLookup | None = None,
    known_plugins: Callable[[], list[str]] | None = None,
) -> MetadataRepository:
    """The repository with the built-in facets and those installed as entry points."""
    from sigarchive.metadata.audit_log import AuditFacet
    from sigarchive.metadata.problem_reports import ProblemsFacet
    from sigarchive.metadata.statistics import StatisticsFacet

    facets = FacetRegistry([AuditFacet(), StatisticsFacet(), ProblemsFacet()])
    facets.load_entry_points()
    configuration = ConfigurationStore(data_dir / "config" / CONFIG_FILE, db, known_plugins)
    return MetadataRepository(db, configuration, facets, file_info)
