"""The container as plugins see it (:class:`ContainerInfo`), built from the database rows."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from asn1crypto import cms

from sigarchive.db.models import Container
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.errors import ArchiveError
from sigarchive.plugins.protocols import ContainerInfo, Document, SignatureInfo
from sigarchive.signatures import ATS_V2 as ARCHIVE_TIME_STAMP_V2
from sigarchive.signatures import ATS_V3 as ARCHIVE_TIME_STAMP_V3
from sigarchive.signatures import find_signer_certificate, parse_timestamp_token


def signature_expiry(signature: bytes) -> datetime | None:
    """When the signature stops being provable without renewal: the not-after of the newest
    archive time-stamp's TSA certificate, or of the first signer's certificate before that."""
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        signer_info = signed_data["signer_infos"][0]
        newest: Any = None
        attributes = signer_info["unsigned_attrs"]
        if isinstance(attributes, cms.CMSAttributes):
            for attribute in attributes:
                if attribute["type"].dotted not in (ARCHIVE_TIME_STAMP_V3, ARCHIVE_TIME_STAMP_V2):
                    continue
                for value in attribute["values"]:
                    try:
                        token = parse_timestamp_token(value.dump())
                    except ArchiveError:
                        continue
                    if newest is None or token.gen_time > newest.gen_time:
                        newest = token
        if newest is not None and newest.signer_certificate is not None:
            certificate = newest.signer_certificate
        else:
            certificates = [
                c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"
            ]
            certificate = find_signer_certificate(signer_info["sid"], certificates)
        if certificate is None:
            return None
        not_after: datetime = certificate["tbs_certificate"]["validity"]["not_after"].native
        return not_after
    except (ValueError, TypeError, KeyError):
        return None


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
