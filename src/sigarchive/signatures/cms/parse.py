"""Parsing an uploaded CMS SignedData (RFC 5652 §3, §5.1), DER or BER, detached or attached."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import cms, core, pem, x509

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.algorithms import (
    AlgorithmNotSupported,
    signature_scheme,
)
from sigarchive.signatures.cms.codes import (
    ASN1_ERRORS,
    UNSUPPORTED_ALGORITHM,
)
from sigarchive.signatures.cms.signer import has_signed_attrs
from sigarchive.signatures.digests import SUPPORTED_DIGESTS


class _RawEncapsulatedContentInfo(cms.EncapsulatedContentInfo):  # type: ignore[misc]
    """eContent kept as its OCTET STRING octets whatever eContentType says (RFC 5652 §5.2).

    asn1crypto would parse an eContent of type id-signedData as a SignedData and fail on a
    conformant OCTET STRING (``cades-bes-signeddata-enveloping.p7m``).
    """

    _oid_specs: ClassVar[dict[str, type]] = {}


class _SignedData(cms.SignedData):  # type: ignore[misc]
    """SignedData whose encapContentInfo is always CMS-shaped (see above)."""

    def _encap_content_info_spec(self) -> type:
        return _RawEncapsulatedContentInfo

    _spec_callbacks: ClassVar[dict[str, Callable[[Any], type]]] = {
        "encap_content_info": _encap_content_info_spec
    }


class _ContentInfo(cms.ContentInfo):  # type: ignore[misc]
    _oid_specs: ClassVar[dict[str, type]] = {"signed_data": _SignedData}


@dataclass(frozen=True)
class ParsedSignature:
    """An uploaded CMS SignedData, parsed but not yet verified."""

    raw: bytes  # exactly the uploaded bytes
    signed_data: cms.SignedData
    is_attached: bool  # eContent present
    encapsulated_content: bytes | None  # eContent octets (constructed: segments concatenated)
    required_digest_algorithms: frozenset[str]  # the document must be hashed with each of these


def parse_signature(raw: bytes) -> ParsedSignature:
    """Parse a DER or BER CMS ContentInfo holding a SignedData (RFC 5652 §3, §5.1).

    Raises :class:`SignatureRejected` with code ``SignatureIsBase64``, ``NotCms``, ``NoSigners``
    or ``UnsupportedAlgorithm`` (a digest algorithm the document cannot be hashed with).
    """
    if not raw:
        raise SignatureRejected("The signature file is empty.", code="NotCms")
    try:
        info = _ContentInfo.load(raw, strict=True)  # strict: trailing bytes are an error
        content_type = info["content_type"].native
    except ASN1_ERRORS as exc:
        _refuse_text(raw)
        raise SignatureRejected(
            f"The signature is not a DER/BER-encoded CMS structure ({first_line(exc)}).",
            code="NotCms",
        ) from exc
    if content_type != "signed_data":
        raise SignatureRejected(
            f"The file is a CMS {content_type} structure, not a SignedData signature.",
            code="NotCms",
        )
    try:
        signed_data: cms.SignedData = info["content"]
        e_content = signed_data["encap_content_info"]["content"]
        content = None if isinstance(e_content, core.Void) else bytes(e_content)
        signer_infos = list(signed_data["signer_infos"])
        required = frozenset(_required_digests(si, i) for i, si in enumerate(signer_infos))
    except ASN1_ERRORS as exc:
        raise SignatureRejected(
            f"The CMS SignedData is malformed ({first_line(exc)}).", code="NotCms"
        ) from exc
    if not signer_infos:
        raise SignatureRejected(
            "The CMS SignedData contains no signer (no SignerInfo): there is nothing to verify.",
            code="NoSigners",
        )
    return ParsedSignature(
        raw=raw,
        signed_data=signed_data,
        is_attached=content is not None,
        encapsulated_content=content,
        required_digest_algorithms=frozenset().union(*required),
    )


def _required_digests(signer_info: cms.SignerInfo, index: int) -> frozenset[str]:
    """Digests of the document that checking this signer needs (and a parse of its fields)."""
    signer_info["sid"].chosen  # noqa: B018 - parse now so that malformed input is NotCms
    signer_info["signature"].native  # noqa: B018
    digest = signer_info["digest_algorithm"]["algorithm"].native
    if digest not in SUPPORTED_DIGESTS:
        raise SignatureRejected(
            f"Signer {index + 1} uses the digest algorithm {digest}, which is not supported "
            f"(supported: {', '.join(sorted(SUPPORTED_DIGESTS))}).",
            code=UNSUPPORTED_ALGORITHM,
        )
    if has_signed_attrs(signer_info):
        return frozenset({digest})
    # Without signed attributes the signature covers the content itself (RFC 5652 §5.4), so the
    # document is also needed under the signature's own hash (interop decision 3).
    try:
        scheme = signature_scheme(signer_info["signature_algorithm"], digest)
    except AlgorithmNotSupported:
        return frozenset({digest})  # reported by verify_against_document
    return frozenset({digest, scheme.hash_algorithm or digest})


_BASE64_START = re.compile(rb"[A-Za-z0-9+/=\s]*\Z")


def _refuse_text(raw: bytes) -> None:
    """Raise ``SignatureIsBase64`` when ``raw`` is base64 or PEM text of a CMS structure."""
    if raw.lstrip()[:11] == b"-----BEGIN ":
        try:
            kind, _, der = pem.unarmor(raw.strip())
        except ASN1_ERRORS:
            return
        if _is_content_info(der):
            raise SignatureRejected(
                f"The signature is PEM text ('{kind}'), not binary CMS. This API does not accept "
                "base64/PEM: upload the DER (binary) signature file.",
                code="SignatureIsBase64",
            )
        return
    if not _BASE64_START.match(raw[:64]):
        return
    try:
        der = base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        return
    if _is_content_info(der):
        raise SignatureRejected(
            "The signature is base64 text, not binary CMS. This API does not accept base64: "
            "decode it and upload the DER (binary) signature file.",
            code="SignatureIsBase64",
        )


def _is_content_info(der: bytes) -> bool:
    try:
        return bool(cms.ContentInfo.load(der, strict=True)["content_type"].native)
    except ASN1_ERRORS:
        return False


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def certificates_of(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates of SignedData.certificates (other certificate formats skipped)."""
    certificates = signed_data["certificates"]
    if isinstance(certificates, core.Void):
        return []
    return [c.chosen for c in certificates if c.name == "certificate"]
