"""Raw views of CMS parts: attributes, SignedData and SignerInfo members, as stored.

What a time-stamp hashes is the stored encoding of these parts (EN 319 122-1 §5.5.3), so they
are split with :mod:`.ber`, never re-encoded through asn1crypto.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from asn1crypto import cms, core

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.asn1.ber import (
    CONTEXT,
    Tlv,
    der_sorted,
    der_tlv,
    iter_tlvs,
    octet_string_value,
    split_tlvs,
    to_der,
)

__all__ = [
    "ImprintEncoding",
    "RawAttribute",
    "SignedDataParts",
    "SignerInfoParts",
    "encode_attribute",
    "raw_attributes",
    "signed_data_parts",
    "signer_info_parts",
    "unsigned_attribute_oids",
]


class ImprintEncoding(StrEnum):
    """How the signature fields were encoded in an imprint input that matched."""

    #: Bytes as stored: EN 319 122-1 §5.5.3 "without any modification".
    AS_STORED = "as-stored"
    #: Every field re-encoded in DER, signedAttrs DER-sorted (Bouncy Castle / DSS, notes §2.1).
    DER = "der"


# --- Attributes as stored -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawAttribute:
    """An Attribute (RFC 5652 §5.3) with every part as stored.

    ``type_tlv`` is the attrType OBJECT IDENTIFIER element, ``values`` the AttributeValue
    elements in stored order, ``encoded`` the whole Attribute SEQUENCE, ``position`` its place
    among its siblings.
    """

    oid: str
    type_tlv: bytes
    values: tuple[bytes, ...]
    encoded: bytes
    position: int


def _oid_from_tlv(tlv: Tlv) -> str:
    if tlv.tag_class != 0 or tlv.tag != 6 or tlv.constructed:
        raise ValueError("attrType is not an OBJECT IDENTIFIER")
    oid: str = core.ObjectIdentifier.load(tlv.encoded).dotted
    return oid


def raw_attributes(set_content: bytes) -> tuple[RawAttribute, ...]:
    """Parse the content of a SET OF Attribute (signedAttrs / unsignedAttrs) without re-encoding."""
    result: list[RawAttribute] = []
    for position, element in enumerate(iter_tlvs(set_content)):
        parts = element.children()
        if len(parts) != 2 or parts[1].tag != 17:
            raise ValueError("Attribute is not SEQUENCE { OID, SET OF value }")
        result.append(
            RawAttribute(
                oid=_oid_from_tlv(parts[0]),
                type_tlv=parts[0].encoded,
                values=tuple(v.encoded for v in parts[1].children()),
                encoded=element.encoded,
                position=position,
            )
        )
    return tuple(result)


def encode_attribute(oid: str, values: list[bytes]) -> bytes:
    """A DER Attribute from an OID and already-encoded values (values DER-sorted, X.690 §11.6)."""
    type_tlv = core.ObjectIdentifier(oid).dump()
    return der_tlv(0x30, type_tlv + der_tlv(0x31, b"".join(der_sorted(list(values)))))


def unsigned_attribute_oids(signer_info: cms.SignerInfo) -> list[str]:
    """OIDs of the unsigned attributes, in physical order (values are not parsed)."""
    attrs = signer_info["unsigned_attrs"]
    if isinstance(attrs, core.Void):  # the optional field is absent
        return []
    return [attr["type"].dotted for attr in attrs]


# --- SignedData (RFC 5652 §5.1) -------------------------------------------------------------


@dataclass(frozen=True)
class SignedDataParts:
    """The SignedData members the time-stamps hash, each as its stored encoding (RFC 5652 §5.1)."""

    encap_content_info: bytes
    e_content_type: bytes
    #: eContent octets (segments of a BER OCTET STRING joined); None when detached.
    e_content: bytes | None
    #: The ``[0] IMPLICIT CertificateSet`` element, if any.
    certificates: Tlv | None
    #: The ``[1] IMPLICIT RevocationInfoChoices`` element, if any.
    crls: Tlv | None

    @property
    def certificate_choices(self) -> tuple[bytes, ...]:
        """Every CertificateChoices element as stored, in stored order."""
        return tuple(c.encoded for c in self.certificates.children()) if self.certificates else ()

    @property
    def revocation_choices(self) -> tuple[bytes, ...]:
        """Every RevocationInfoChoice element as stored (an OCSP one with its [1] tag)."""
        return tuple(c.encoded for c in self.crls.children()) if self.crls else ()


def signed_data_parts(signed_data: cms.SignedData) -> SignedDataParts:
    """Split a SignedData into its stored parts; ``SignatureRejected`` if it is not one."""
    try:
        parts = split_tlvs(signed_data.contents)
        # version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
        encap = parts[2]
        certificates = next((p for p in parts[3:-1] if p.is_a(CONTEXT, 0)), None)
        crls = next((p for p in parts[3:-1] if p.is_a(CONTEXT, 1)), None)
        inner = encap.children()
        e_content = None
        if len(inner) > 1 and inner[1].is_a(CONTEXT, 0):
            e_content = octet_string_value(inner[1].children()[0])
        return SignedDataParts(
            encap_content_info=encap.encoded,
            e_content_type=inner[0].encoded,
            e_content=e_content,
            certificates=certificates,
            crls=crls,
        )
    except (ValueError, IndexError) as exc:
        raise SignatureRejected(f"Malformed SignedData: {exc}") from exc


# --- SignerInfo (RFC 5652 §5.3) -------------------------------------------------------------


@dataclass(frozen=True)
class SignerInfoParts:
    """A SignerInfo's members as stored (RFC 5652 §5.3)."""

    version: bytes
    sid: bytes
    digest_algorithm: bytes
    #: ``[0] IMPLICIT SignedAttributes`` with its A0 tag, if present.
    signed_attrs: bytes | None
    signature_algorithm: bytes
    signature: Tlv
    unsigned_attrs: Tlv | None

    @property
    def signature_value(self) -> bytes:
        """The octets of the signature value (no tag, no length)."""
        return octet_string_value(self.signature)

    @property
    def signed_attributes(self) -> tuple[RawAttribute, ...]:
        """The signed attributes as stored, in stored order."""
        if self.signed_attrs is None:
            return ()
        return raw_attributes(split_tlvs(self.signed_attrs)[0].content)

    @property
    def unsigned_attributes(self) -> tuple[RawAttribute, ...]:
        """The unsigned attributes as stored, in stored order."""
        return raw_attributes(self.unsigned_attrs.content) if self.unsigned_attrs else ()

    def signed_fields(self, encoding: ImprintEncoding = ImprintEncoding.AS_STORED) -> list[bytes]:
        """version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature (§5.5.3 c)."""
        der = encoding is ImprintEncoding.DER

        def field_bytes(encoded: bytes) -> bytes:
            return to_der(encoded) if der else encoded

        fields = [field_bytes(self.version), field_bytes(self.sid)]
        fields.append(field_bytes(self.digest_algorithm))
        if self.signed_attrs is not None:
            # [0] IMPLICIT SET OF Attribute: a DER encoder sorts it (X.690 §11.6)
            attrs = self.signed_attrs
            fields.append(to_der(attrs, sort_outer_set=True) if der else attrs)
        fields.append(field_bytes(self.signature_algorithm))
        fields.append(field_bytes(self.signature.encoded))
        return fields


def signer_info_parts(signer_info: cms.SignerInfo) -> SignerInfoParts:
    """Split a SignerInfo into its stored members; ``SignatureRejected`` if it is not one."""
    try:
        parts = split_tlvs(signer_info.contents)
        rest = parts[3:]
        signed_attrs = None
        if rest and rest[0].is_a(CONTEXT, 0):
            signed_attrs = rest.pop(0).encoded
        unsigned = rest[2] if len(rest) > 2 and rest[2].is_a(CONTEXT, 1) else None
        return SignerInfoParts(
            version=parts[0].encoded,
            sid=parts[1].encoded,
            digest_algorithm=parts[2].encoded,
            signed_attrs=signed_attrs,
            signature_algorithm=rest[0].encoded,
            signature=rest[1],
            unsigned_attrs=unsigned,
        )
    except (ValueError, IndexError) as exc:
        raise SignatureRejected(f"Malformed SignerInfo: {exc}") from exc
