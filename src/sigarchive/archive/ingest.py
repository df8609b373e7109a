"""Ingest: check an upload's signatures against its document and keep the container.

Either everything is stored (container, signatures, retained document, audit entry) or
nothing is: signatures are verified before anything is written, the document is moved into
place inside the database transaction and removed again if the transaction fails.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sigarchive.archive.audit import Actor, record
from sigarchive.archive.documents import LocalDocumentStore
from sigarchive.archive.mime import document_type
from sigarchive.archive.model import ContainerStatus, SaveType
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, Signature, utcnow
from sigarchive.errors import Forbidden, InvalidInput, PayloadTooLarge, SignatureRejected
from sigarchive.signatures.cms import (
    ParsedSignature,
    VerifiedSignature,
    parse_signature,
    verify_against_document,
)
from sigarchive.signatures.digests import digest_bytes, digest_file, missing
from sigarchive.signatures.levels import signature_level


@dataclass(frozen=True)
class IncomingDocument:
    """The document part of an upload, already streamed to a spool file and hashed."""

    path: Path
    size: int
    digests: dict[str, bytes]
    declared_type: str | None
    filename: str | None


@dataclass(frozen=True)
class UploadRequest:
    storage_id: int
    save_type: SaveType
    container_name: str
    structure_name: str | None
    archive_until: datetime | None
    use_archive_ca: bool
    archive_ca_plugin: str | None
    document: IncomingDocument
    signatures: list[bytes]


@dataclass(frozen=True)
class _Checked:
    verified: list[VerifiedSignature]
    document_path: Path
    document_size: int
    digests: dict[str, bytes]
    mime: str
    extra_spool: Path | None  # a spool file made here (attached content), to clean up


def check_upload(request: UploadRequest, spool_dir: Path, max_attached_bytes: int) -> _Checked:
    """Parse and verify every signature against the document (CPU-bound; no database)."""
    document = request.document
    if request.signatures:
        parsed = [_parse(raw, position) for position, raw in enumerate(request.signatures, 1)]
        digests = dict(document.digests)
        need = set().union(*(p.required_digest_algorithms for p in parsed))
        if missing(digests, need):
            digests.update(digest_file(document.path, missing(digests, need)))
        verified = [_verify(p, digests, position) for position, p in enumerate(parsed, 1)]
        with document.path.open("rb") as stream:
            head = stream.read(512)
        mime = document_type(document.declared_type, document.filename, head)
        return _Checked(verified, document.path, document.size, digests, mime, None)

    # No Signs: the Content itself must be an attached (enveloping) signature.
    if document.size > max_attached_bytes:
        raise PayloadTooLarge(
            f"An attached signature may be at most {max_attached_bytes} bytes; "
            "send large documents with detached signatures in Signs"
        )
    raw = document.path.read_bytes()
    try:
        parsed_one = parse_signature(raw)
    except SignatureRejected as exc:
        raise SignatureRejected(
            "No signatures: Signs is empty and Content is not an attached CMS signature "
            f"({exc.description})",
            code=exc.code if exc.code == "SignatureIsBase64" else "NoSignatures",
        ) from exc
    content = parsed_one.encapsulated_content
    if content is None:
        raise SignatureRejected(
            "Content is a detached signature: send the signed document as Content and the "
            "signature in Signs",
            code="DetachedSignatureWithoutDocument",
        )
    digests = {
        name: digest_bytes(name, content)
        for name in {*parsed_one.required_digest_algorithms, "sha256"}
    }
    verified = [_verify(parsed_one, digests, 1)]
    extra = spool_dir / f"attached-{uuid.uuid4().hex}.part"
    extra.write_bytes(content)
    mime = document_type(None, None, content[:512])
    return _Checked(verified, extra, len(content), digests, mime, extra)


def store_container(
    db: Database,
    documents: LocalDocumentStore,
    actor: Actor,
    request: UploadRequest,
    checked: _Checked,
) -> str:
    """Write the container, its signatures and the audit entry in one transaction."""
    container_id = str(uuid.uuid4())
    location: str | None = None
    now = utcnow()
    try:
        with db.session() as session:
            if request.use_archive_ca:
                location = documents.adopt(checked.document_path, container_id)
            container = Container(
                id=container_id,
                storage_id=request.storage_id,
                source_system_id=actor.user_id,
                name=request.container_name,
                structure_name=request.structure_name,
                save_type=int(request.save_type),
                archive_until=request.archive_until,
                use_archive_ca=request.use_archive_ca,
                archive_ca_plugin=request.archive_ca_plugin,
                document_type=checked.mime,
                document_size=checked.document_size,
                document_digests={
                    name: base64.b64encode(value).decode()
                    for name, value in checked.digests.items()
                },
                document_location=location,
                status=int(ContainerStatus.RECEIVED),
                created_at=now,
                modified_at=now,
                next_attempt_at=now,
            )
            for position, verified in enumerate(checked.verified):
                signer = verified.signers[0]
                container.signatures.append(
                    Signature(
                        position=position,
                        original=verified.parsed.raw,
                        digest_algorithm=verified.digest_algorithm,
                        document_digest=verified.document_digest,
                        is_attached=verified.parsed.is_attached,
                        level=signature_level(
                            verified.parsed.signed_data["signer_infos"][0],
                            verified.parsed.signed_data,
                        ),
                        signer_subject=signer.signer_subject,
                        signing_time=signer.signing_time,
                    )
                )
            session.add(container)
            record(
                session,
                "document.upload",
                actor,
                container_id=container_id,
                storage_id=request.storage_id,
                details={
                    "name": request.container_name,
                    "size": checked.document_size,
                    "signatures": len(checked.verified),
                    "sha256": container.document_digests.get("sha256"),
                },
            )
    except BaseException:
        if location is not None:
            documents.delete(location)
        raise
    return container_id


def ensure_may_upload(storage_ids: frozenset[int], storage_id: int) -> None:
    """A user uploads only into storages granted to it (unknown ids look the same: 403)."""
    if storage_id not in storage_ids:
        raise Forbidden(
            f"Storage {storage_id} is not available to this user; "
            "GET /api/user/storages lists yours",
            code="StorageForbidden",
        )


def validate_archive_until(
    save_type: SaveType, archive_until: datetime | None, now: datetime
) -> datetime | None:
    """Temporary containers need a future ArchiveDate; Permanent ones keep none."""
    if save_type is SaveType.TEMPORARY:
        if archive_until is None:
            raise InvalidInput(
                "ArchiveDate is required for SaveType Temporary", code="ArchiveDateRequired"
            )
        if archive_until <= now:
            raise InvalidInput("ArchiveDate must be in the future", code="ArchiveDateInPast")
        return archive_until
    return None


def _parse(raw: bytes, position: int) -> ParsedSignature:
    try:
        return parse_signature(raw)
    except SignatureRejected as exc:
        raise SignatureRejected(f"Signature {position}: {exc.description}", code=exc.code) from exc


def _verify(parsed: ParsedSignature, digests: dict[str, bytes], position: int) -> VerifiedSignature:
    try:
        return verify_against_document(parsed, digests)
    except SignatureRejected as exc:
        raise SignatureRejected(f"Signature {position}: {exc.description}", code=exc.code) from exc
