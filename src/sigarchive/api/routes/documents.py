"""/api/document/*: the seed's client API for containers."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from sigarchive.api.deps import CurrentActor, CurrentUser, ServicesDep
from sigarchive.api.multipart import UploadForm, read_upload
from sigarchive.api.schemas import (
    DocumentDetails,
    DocumentSummary,
    Envelope,
    IdName,
    SearchBody,
    SearchResult,
)
from sigarchive.archive import queries
from sigarchive.archive.download import document_content
from sigarchive.archive.ingest import (
    IncomingDocument,
    UploadRequest,
    refuse_upload,
    validate_archive_until,
)
from sigarchive.archive.ingest import (
    upload as upload_container,
)
from sigarchive.db.models import utcnow
from sigarchive.domain import SaveType
from sigarchive.errors import ArchiveError, InvalidInput

router = APIRouter(prefix="/api/document", tags=["document"])

_UPLOAD_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["Content", "StorageId", "SaveType", "ContainerName"],
                    "properties": {
                        "Content": {
                            "type": "string",
                            "format": "binary",
                            "description": "The signed document; for an attached signature, "
                            "the signature itself.",
                        },
                        "Signs": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Detached signatures (binary DER/BER, not base64). "
                            "Leave empty for an attached signature.",
                        },
                        "StorageId": {"type": "integer", "format": "int32"},
                        "SaveType": {
                            "type": "string",
                            "enum": ["Temporary", "Permanent", "1", "2"],
                        },
                        "ContainerName": {"type": "string"},
                        "StructureName": {"type": "string"},
                        "ArchiveDate": {
                            "type": "string",
                            "description": "End of storage, required for Temporary: "
                            "dd.MM.yyyy or ISO 8601.",
                        },
                        "IsNeedArchivatorSign": {
                            "type": "boolean",
                            "description": "Accepted and ignored (kept for compatibility).",
                        },
                        "UseArchiveCa": {"type": "boolean"},
                        "ArchiveCaPluginName": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post("/content", response_model=Envelope[str], openapi_extra=_UPLOAD_SCHEMA)
async def upload(
    request: Request, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Envelope[str]:
    """Create a container from a document and its signatures; returns the container id."""
    settings = services.settings
    form: UploadForm | None = None
    try:
        try:
            form = await read_upload(
                request.headers.get("content-type"),
                request.stream(),
                spool_dir=settings.spool_dir,
                max_document_bytes=settings.max_upload_bytes,
                max_signature_bytes=settings.max_signature_bytes,
                max_signatures=settings.max_signatures,
            )
            upload_request = _upload_request(form, settings.zone)
        except ArchiveError as error:
            await run_in_threadpool(refuse_upload, services.db, actor, error)
            raise
        container_id = await run_in_threadpool(
            partial(
                upload_container,
                services.db,
                services.plugins,
                actor,
                user.storage_ids,
                upload_request,
                spool_dir=settings.spool_dir,
                max_attached_bytes=settings.max_attached_bytes,
            )
        )
    finally:
        if form is not None:
            form.discard()
    return Envelope(data=container_id)


@router.post("/search", response_model=Envelope[SearchResult])
def search_documents(
    body: SearchBody | None, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Envelope[SearchResult]:
    """Containers visible to the caller, newest first; absent filters are not applied."""
    body = body or SearchBody()
    given = body.filters
    filters = queries.SearchFilters(
        storage_ids=given.storageIds if given else None,
        name=given.name if given else None,
        source_system_id=given.sourceSystemId if given else None,
        status=given.status if given else None,
        is_archived=given.isArchived if given else None,
    )
    found = queries.search(services.db, user, actor, filters, body.page, body.pageSize)
    documents = [
        DocumentSummary(id=c.id, name=c.name, status=c.status, isArchived=c.is_archived)
        for c in found.containers
    ]
    return Envelope(data=SearchResult(documents=documents, totalRecords=found.total))


@router.get("/{container_id}", response_model=Envelope[DocumentDetails])
def details(
    container_id: str, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Envelope[DocumentDetails]:
    """Full details of a container; 404 if absent or not visible to the caller."""
    found = queries.details(services.db, user, actor, container_id)
    return Envelope(data=_details(found, services.settings.zone))


@router.get("/{container_id}/status", response_model=Envelope[int])
def status(
    container_id: str, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Envelope[int]:
    """The container's status number (see /api/dictionary/statuses)."""
    return Envelope(data=queries.status(services.db, user, actor, container_id))


@router.get(
    "/{container_id}/sign",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_signatures(
    container_id: str, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Response:
    """signatures.zip: the CAdES-A signatures once archived, the uploaded ones before."""
    return Response(
        content=queries.signatures_zip(services.db, user, actor, container_id),
        media_type="application/zip",
        headers={
            "Content-Disposition": "attachment; filename=signatures.zip; "
            "filename*=UTF-8''signatures.zip"
        },
    )


@router.get(
    "/{container_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_document(
    container_id: str, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> StreamingResponse:
    """The signed document itself, when the archive retains it (UseArchiveCa=true), streamed
    from its storage; 404 DocumentNotRetained when only signatures and digests are kept."""
    content = document_content(services.db, services.plugins, user, actor, container_id)
    return StreamingResponse(
        content.chunks,
        media_type=content.media_type,
        headers={
            "Content-Length": str(content.size),
            "Content-Disposition": _attachment(content.name),
        },
    )


def _attachment(name: str) -> str:
    """Content-Disposition naming the container, with an ASCII fallback (RFC 6266)."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip() or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get("/{container_id}/report", response_model=Envelope[dict[str, Any]])
def report(
    container_id: str, user: CurrentUser, actor: CurrentActor, services: ServicesDep
) -> Envelope[dict[str, Any]]:
    """Validation report per signature (ETSI EN 319 102-1: indication, sub-indication, signer,
    times, level), as of the latest enhancement or renewal."""
    found = queries.validation_report(services.db, user, actor, container_id)
    update = found.signature_update_date
    data = {
        "id": found.id,
        "status": found.status,
        "lastError": found.last_error,
        "signatureUpdateDate": update.isoformat() if update else None,
        "signatures": [
            {
                "index": s.position + 1,
                "level": s.level,
                "signer": s.signer,
                "signingTime": s.signing_time.isoformat() if s.signing_time else None,
                "validation": s.validation,
            }
            for s in found.signatures
        ],
    }
    return Envelope(data=data)


def _details(c: queries.ContainerDetails, zone: ZoneInfo) -> DocumentDetails:
    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone) if moment is not None else None

    created = c.created_at.astimezone(zone)
    return DocumentDetails(
        storage=IdName(id=c.storage[0], name=c.storage[1]),
        sourceSystem=IdName(id=c.source_system[0], name=c.source_system[1]),
        hashes=[base64.b64encode(digest).decode() for digest in c.document_digests],
        signatures=[base64.b64encode(raw).decode() for raw in c.signatures],
        isToBeSigned=False,
        useArchiveCa=c.use_archive_ca,
        documentType=c.document_type,
        saveType=c.save_type,
        structureName=c.structure_name,
        modifiedDate=c.modified_at.astimezone(zone),
        isCreateDate=created,
        createDate=created,
        signatureUpdateDate=local(c.signature_update_date),
        archiveUntilDate=local(c.archive_until),
        isAvailable=c.is_available,
        id=c.id,
        name=c.name,
        status=c.status,
        isArchived=c.is_archived,
    )


_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_archive_date(text: str, zone: ZoneInfo) -> datetime:
    """``21.07.2023`` (the seed's form, optionally with a time) or ISO 8601.

    A value without an offset is read in the archive's time zone; a date alone means its
    midnight there.
    """
    value = text.strip()
    match = _DOTTED_DATE.match(value)
    try:
        if match:
            day, month, year, hour, minute, second = match.groups()
            parsed = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
        elif len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time())
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"ArchiveDate {text!r} is not a date: use dd.MM.yyyy or ISO 8601",
            code="InvalidArchiveDate",
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _parse_bool(name: str, text: str | None) -> bool:
    if text is None:
        return False
    lowered = text.lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise InvalidInput(f"{name} must be true or false, not {text!r}", code="InvalidField")


def _upload_request(form: UploadForm, zone: ZoneInfo) -> UploadRequest:
    if form.document is None:
        raise InvalidInput(
            "Content is required: the signed document (or attached signature)",
            code="ContentRequired",
        )
    if form.document.size == 0:
        raise InvalidInput("Content is empty", code="ContentRequired")
    storage_text = form.first("StorageId")
    if storage_text is None:
        raise InvalidInput("StorageId is required", code="StorageIdRequired")
    try:
        storage_id = int(storage_text)
    except ValueError as exc:
        raise InvalidInput(
            f"StorageId must be an integer, not {storage_text!r}", code="InvalidStorageId"
        ) from exc
    save_text = form.first("SaveType")
    if save_text is None:
        raise InvalidInput("SaveType is required: Temporary or Permanent", code="SaveTypeRequired")
    try:
        save_type = SaveType.parse(save_text)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="InvalidSaveType") from exc
    name = form.first("ContainerName")
    if name is None:
        raise InvalidInput("ContainerName is required", code="ContainerNameRequired")
    if len(name) > 1000:
        raise InvalidInput("ContainerName is longer than 1000 characters", code="InvalidField")
    structure = form.first("StructureName")
    if structure is not None and len(structure) > 2000:
        raise InvalidInput("StructureName is longer than 2000 characters", code="InvalidField")
    date_text = form.first("ArchiveDate")
    archive_until = validate_archive_until(
        save_type, parse_archive_date(date_text, zone) if date_text else None, utcnow()
    )
    use_archive_ca = _parse_bool("UseArchiveCa", form.first("UseArchiveCa"))
    plugin = form.first("ArchiveCaPluginName")  # resolved against the plugins by ingest
    return UploadRequest(
        storage_id=storage_id,
        save_type=save_type,
        container_name=name,
        structure_name=structure,
        archive_until=archive_until,
        use_archive_ca=use_archive_ca,
        archive_ca_plugin=plugin,
        document=IncomingDocument(
            path=form.document.path,
            size=form.document.size,
            digests=form.document.digests,
            declared_type=form.document.content_type,
            filename=form.document.filename,
        ),
        signatures=form.signatures,
    )
