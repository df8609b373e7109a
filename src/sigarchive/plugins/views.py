"""The container as plugins see it (:class:`ContainerInfo`), built from the database rows."""

from __future__ import annotations

import base64
from datetime import datetime

from sigarchive.db.models import Container
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.errors import ArchiveError
from sigarchive.plugins.protocols import ContainerInfo, Document, SignatureInfo
from sigarchive.signatures import read_inventory


def signature_expiry(signature: bytes) -> datetime | None:
    """When the signature stops being provable without renewal: the not-after of the newest
    archive time-stamp's TSA certificate, or of the first signer's certificate before that."""
    try:
        signers = read_inventory(signature).signers
    except ArchiveError:
        return None
    if not signers:
        return None
    newest = max(signers[0].archive_tokens(), key=lambda token: token.gen_time, default=None)
    certificate = (
        newest.signer_certificate
        if newest is not None and newest.signer_certificate is not None
        else signers[0].signer_certificate
    )
    if certificate is None:
        return None
    try:
        not_after: datetime = certificate["tbs_certificate"]["validity"]["not_after"].native
    except (ValueError, TypeError, KeyError):
        return None
    return not_after


def container_info(container: Container, document: Document | None = None) -> ContainerInfo:
    """What a plugin is given; ``document`` only for a save."""
    signatures = []
    for signature in container.signatures:
        current = signature.enhanced or signature.original
        signatures.append(SignatureInfo(current, signature_expiry(current), signature.level))
    return ContainerInfo(
        id=container.id,
        name=container.name,
        status=ContainerStatus(container.status),
        save_type=SaveType(container.save_type),
        storage_id=container.storage_id,
        storage_name=container.storage.name,
        structure_name=container.structure_name,
        document_type=container.document_type,
        document_size=container.document_size,
        digests={k: base64.b64decode(v) for k, v in container.document_digests.items()},
        signatures=tuple(signatures),
        document=document,
    )
