"""Ingest: check an upload's signatures against its document and keep the container.

Either everything is stored (container, signatures, retained document, audit entry) or
nothing is: signatures are verified before anything is written; a retained document is saved
through its storage plugin (which leaves nothing behind when it fails) before the container's
transaction, and deleted again if that transaction fails.
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update

from sigarchive.archive.mime import document_type
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, Problem, Signature, Storage, utcnow
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.errors import (
    ArchiveError,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    ServiceUnavailable,
    SignatureRejected,
)
from sigarchive.metadata.hooks import container_stored
from sigarchive.plugins.loader import PluginRegistry, StorageHandle
from sigarchive.plugins.protocols import ContainerInfo, Document, SignatureInfo
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record
from sigarchive.signatures import (
    ParsedSignature,
    VerifiedSignature,
    digest_bytes,
    digest_file,
    missing,
    parse_signature,
    signature_level,
    verify_against_document,
)

log = logging.getLogger("sigarchive.ingest")


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


def _check_upload(request: UploadRequest, spool_dir: Path, max_attached_bytes: int) -> _Checked:
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


@dataclass(frozen=True)
class Retention:
    """Where an upload's document is kept (``handle`` None: signatures and digests only)."""

    handle: StorageHandle | None
    storage_name: str


#: Problem recorded when a storage plugin refuses a document (open until a save succeeds).
STORAGE_PROBLEM = "document-storage-failed"


def _plan_retention(db: Database, plugins: PluginRegistry, request: UploadRequest) -> Retention:
    """Archive CA subsystem: keep the document when asked (``UseArchiveCa``) or when the
    storage's policy requires it; in ``ArchiveCaPluginName``'s plugin, else the storage's
    default plugin, else the database (the seed's default)."""
    with db.session() as session:
        storage = session.get(Storage, request.storage_id)
        require = storage is not None and storage.require_retention
        default_plugin = storage.document_plugin if storage is not None else None
        storage_name = storage.name if storage is not None else ""
    if request.archive_ca_plugin is not None:
        handle = plugins.for_upload(request.archive_ca_plugin)  # unknown: 400, even if unused
    elif default_plugin is not None and (request.use_archive_ca or require):
        if default_plugin not in plugins.storages:
            raise ServiceUnavailable(
                f"Storage {storage_name!r} keeps documents in plugin {default_plugin!r}, "
                "which is not configured",
                code="PluginNotConfigured",
            )
        handle = plugins.for_upload(default_plugin)
    else:
        handle = plugins.for_upload(None)
    return Retention(handle if request.use_archive_ca or require else None, storage_name)


def _save_document(
    db: Database, container_id: str, request: UploadRequest, checked: _Checked, plan: Retention
) -> str:
    """Save the document through its plugin; returns the location (``name:plugin location``)."""
    handle = plan.handle
    assert handle is not None
    info = ContainerInfo(
        id=container_id,
        name=request.container_name,
        status=ContainerStatus.RECEIVED,
        save_type=request.save_type,
        storage_id=request.storage_id,
        storage_name=plan.storage_name,
        structure_name=request.structure_name,
        document_type=checked.mime,
        document_size=checked.document_size,
        digests=dict(checked.digests),
        signatures=tuple(SignatureInfo(v.parsed.raw, None, "") for v in checked.verified),
        document=Document(checked.document_path.open("rb"), checked.document_size),
    )
    assert info.document is not None
    with info.document:
        result = handle.save(info)
    if result.is_failure:
        with db.session() as session:
            problems.report(session, STORAGE_PROBLEM, str(result.error), severity="error")
        raise ServiceUnavailable(
            f"The document could not be stored ({result.error}); nothing was kept, "
            "try the upload again later",
            code="DocumentStorageFailed",
        )
    return f"{handle.name}:{result.value}"


def _store_container(
    db: Database,
    actor: Actor,
    request: UploadRequest,
    checked: _Checked,
    plan: Retention,
) -> str:
    """Save the retained document, then write the container, its signatures and the audit
    entry in one transaction (the document is deleted again if that fails)."""
    container_id = str(uuid.uuid4())
    location: str | None = None
    if plan.handle is not None:
        location = _save_document(db, container_id, request, checked, plan)
    now = utcnow()
    try:
        with db.session() as session:
            if location is not None:
                session.execute(
                    update(Problem)
                    .where(
                        Problem.kind == STORAGE_PROBLEM,
                        Problem.container_id.is_(None),
                        Problem.resolved_at.is_(None),
                    )
                    .values(resolved_at=now)
                )
            container = Container(
                id=container_id,
                storage_id=request.storage_id,
                source_system_id=actor.user_id,
                name=request.container_name,
                structure_name=request.structure_name,
                save_type=int(request.save_type),
                archive_until=request.archive_until,
                use_archive_ca=location is not None,
                archive_ca_plugin=plan.handle.name if plan.handle is not None else None,
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
                            verified.parsed.signed_data,
                            verified.parsed.signed_data["signer_infos"][0],
                        ),
                        signer_subject=signer.signer_subject,
                        signing_time=signer.signing_time,
                    )
                )
            session.add(container)
            container_stored(session, container)
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
                    "retainedIn": plan.handle.name if plan.handle is not None else None,
                },
            )
    except BaseException:
        if location is not None:
            plugins_result = plan.handle.delete(location.partition(":")[2]) if plan.handle else None
            if plugins_result is not None and plugins_result.is_failure:
                log.error("orphaned document %s: %s", location, plugins_result.error)
        raise
    return container_id


def upload(
    db: Database,
    plugins: PluginRegistry,
    actor: Actor,
    storage_ids: frozenset[int],
    request: UploadRequest,
    *,
    spool_dir: Path,
    max_attached_bytes: int,
) -> str:
    """The upload use case: may the caller upload here, where is the document kept, are the
    signatures valid over it; then keep everything at once. Returns the container id; a
    refusal is audited (:func:`refuse_upload`) and raised."""
    try:
        _ensure_may_upload(storage_ids, request.storage_id)
        retention = _plan_retention(db, plugins, request)
        checked = _check_upload(request, spool_dir, max_attached_bytes)
        try:
            return _store_container(db, actor, request, checked, retention)
        finally:
            if checked.extra_spool is not None:
                checked.extra_spool.unlink(missing_ok=True)
    except ArchiveError as error:
        refuse_upload(db, actor, error)
        raise


def refuse_upload(db: Database, actor: Actor, error: ArchiveError) -> None:
    """Audit a refused upload (also one refused before it reached :func:`upload`: an
    unreadable form, a missing field)."""
    with db.session() as session:
        record(
            session,
            "document.upload",
            actor,
            outcome="refused",
            details={"errorCode": error.code, "errorDescription": error.description},
        )


def _ensure_may_upload(storage_ids: frozenset[int], storage_id: int) -> None:
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
