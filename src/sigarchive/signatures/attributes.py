"""CAdES attribute identifiers, their asn1crypto registration, and raw-encoding helpers.

asn1crypto knows none of the CAdES long-term attributes. They are registered here through its
documented extension points (``cms.CMSAttributeType._map`` and ``cms.CMSAttribute._oid_specs``),
idempotently, on import. An OID another library (pyHanko) registered first keeps that library's
name and value spec; our code always compares attribute types by dotted OID, never by name.

Archive time-stamps hash encodings *as stored* (ETSI EN 319 122-1 §5.5.3: "without any
modification"), and asn1crypto re-encodes indefinite lengths and re-sorts SET OF members on
``dump()``. The second half of this module therefore reads the original BER bytes itself: a
minimal TLV reader (X.690 §8.1) and a DER normaliser used only for the tolerant retries that
accept the DER re-encodings other tools (Bouncy Castle / DSS) hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import algos, cms, core, crl, ocsp, x509
from asn1crypto import tsp as _tsp  # noqa: F401  (registers signing-certificate(-v2), TSTInfo)

__all__ = [
    "ATS_HASH_INDEX_OIDS",
    "ATS_HASH_INDEX_V1",
    "ATS_HASH_INDEX_V2",
    "ATS_HASH_INDEX_V3",
    "ATS_V1",
    "ATS_V2",
    "ATS_V3",
    "CERTIFICATE_VALUES",
    "CERTS_CRLS_TIME_STAMP",
    "COMPLETE_CERTIFICATE_REFS",
    "COMPLETE_REVOCATION_REFS",
    "CONTENT_TIME_STAMP",
    "COUNTER_SIGNATURE",
    "ESC_TIME_STAMP",
    "REVOCATION_VALUES",
    "SIGNATURE_POLICY_STORE",
    "SIGNATURE_TIME_STAMP",
    "SIGNING_CERTIFICATE",
    "SIGNING_CERTIFICATE_V2",
    "TIME_STAMP_ATTRIBUTE_OIDS",
    "ATSHashIndexV3",
    "CertificateValues",
    "RawAttribute",
    "RevocationValues",
    "Tlv",
    "der_length",
    "der_tlv",
    "encode_attribute",
    "octet_string_value",
    "raw_attributes",
    "read_tlv",
    "register_cades_attributes",
    "split_tlvs",
    "to_der",
]

# --- Attribute type OIDs -------------------------------------------------------------------

#: RFC 5652 §11.4.
COUNTER_SIGNATURE = "1.2.840.113549.1.9.6"
#: RFC 2634 §5.4 (ESS signing-certificate) and RFC 5035 §3 (signing-certificate-v2).
SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
#: signature-time-stamp, RFC 3161 Appendix A; EN 319 122-1 §5.3.
SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"
#: content-time-stamp, EN 319 122-1 §5.2.8.
CONTENT_TIME_STAMP = "1.2.840.113549.1.9.16.2.20"
#: complete-certificate-references / complete-revocation-references, EN 319 122-1 Annex A.1.1/A.1.2.
COMPLETE_CERTIFICATE_REFS = "1.2.840.113549.1.9.16.2.21"
COMPLETE_REVOCATION_REFS = "1.2.840.113549.1.9.16.2.22"
#: certificate-values / revocation-values, EN 319 122-1 Annex A.1.3/A.1.4 (TS 101 733 §6.3.3/6.3.4).
CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"
REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
#: CAdES-C-time-stamp (escTimeStamp) and time-stamped-certs-crls-references, EN 319 122-1 A.1.5.
ESC_TIME_STAMP = "1.2.840.113549.1.9.16.2.25"
CERTS_CRLS_TIME_STAMP = "1.2.840.113549.1.9.16.2.26"
#: archive-time-stamp (v1, TS 101 733 V1.x), archive-time-stamp-v2 (TS 101 733 §6.4.1, Annex K;
#: EN 319 122-1 Annex A.2.4) and archive-time-stamp-v3 (EN 319 122-1 §5.5.3).
ATS_V1 = "1.2.840.113549.1.9.16.2.27"
ATS_V2 = "1.2.840.113549.1.9.16.2.48"
ATS_V3 = "0.4.0.1733.2.4"
#: ATSHashIndex (TS 101 733 V2.2.1 §6.4.2), ats-hash-index-v2 (EN 319 122-1 V1.0.0),
#: ats-hash-index-v3 (EN 319 122-1 §5.5.2).
ATS_HASH_INDEX_V1 = "0.4.0.1733.2.5"
ATS_HASH_INDEX_V2 = "0.4.0.19122.1.4"
ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
#: signature-policy-store, EN 319 122-1 §5.2.10.
SIGNATURE_POLICY_STORE = "0.4.0.19122.1.3"

#: Index attribute OID → index version.
ATS_HASH_INDEX_OIDS: dict[str, int] = {
    ATS_HASH_INDEX_V1: 1,
    ATS_HASH_INDEX_V2: 2,
    ATS_HASH_INDEX_V3: 3,
}

#: Unsigned attributes whose values are RFC 3161 TimeStampTokens.
TIME_STAMP_ATTRIBUTE_OIDS: frozenset[str] = frozenset(
    {
        SIGNATURE_TIME_STAMP,
        CONTENT_TIME_STAMP,
        ESC_TIME_STAMP,
        CERTS_CRLS_TIME_STAMP,
        ATS_V1,
        ATS_V2,
        ATS_V3,
    }
)

# --- ASN.1 types (TS 101 733 Annex A "ExplicitSyntax88" module: explicit tags) -------------


class CertificateValues(core.SequenceOf):  # type: ignore[misc]
    """CertificateValues ::= SEQUENCE OF Certificate (EN 319 122-1 A.1.3)."""

    _child_spec = x509.Certificate


class CertificateLists(core.SequenceOf):  # type: ignore[misc]
    _child_spec = crl.CertificateList


class BasicOCSPResponses(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ocsp.BasicOCSPResponse


class OtherRevVals(core.Sequence):  # type: ignore[misc]
    """OtherRevVals ::= SEQUENCE { otherRevValType OID, otherRevVals ANY }."""

    _fields: ClassVar[list[Any]] = [
        ("other_rev_val_type", core.ObjectIdentifier),
        ("other_rev_vals", core.Any),
    ]


class RevocationValues(core.Sequence):  # type: ignore[misc]
    """RevocationValues (EN 319 122-1 A.1.4): crlVals [0], ocspVals [1], otherRevVals [2]."""

    _fields: ClassVar[list[Any]] = [
        ("crl_vals", CertificateLists, {"explicit": 0, "optional": True}),
        ("ocsp_vals", BasicOCSPResponses, {"explicit": 1, "optional": True}),
        ("other_rev_vals", OtherRevVals, {"explicit": 2, "optional": True}),
    ]


class OtherHashAlgAndValue(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("hash_algorithm", algos.DigestAlgorithm),
        ("hash_value", core.OctetString),
    ]


class OtherHash(core.Choice):  # type: ignore[misc]
    """OtherHash ::= CHOICE { sha1Hash OCTET STRING, otherHash OtherHashAlgAndValue }."""

    _alternatives: ClassVar[list[Any]] = [
        ("sha1_hash", core.OctetString),
        ("other_hash", OtherHashAlgAndValue),
    ]


class OtherCertID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("other_cert_hash", OtherHash),
        ("issuer_serial", cms.IssuerSerial, {"optional": True}),
    ]


class CompleteCertificateRefs(core.SequenceOf):  # type: ignore[misc]
    """CompleteCertificateRefs ::= SEQUENCE OF OtherCertID (EN 319 122-1 A.1.1)."""

    _child_spec = OtherCertID


class CrlIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crlissuer", x509.Name),
        ("crl_issued_time", core.UTCTime),
        ("crl_number", core.Integer, {"optional": True}),
    ]


class CrlValidatedID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crl_hash", OtherHash),
        ("crl_identifier", CrlIdentifier, {"optional": True}),
    ]


class CrlValidatedIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = CrlValidatedID


class CRLListID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("crls", CrlValidatedIDs)]


class OcspIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("ocsp_responder_id", ocsp.ResponderId),
        ("produced_at", core.GeneralizedTime),
    ]


class OcspResponsesID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("ocsp_identifier", OcspIdentifier),
        ("ocsp_rep_hash", OtherHash, {"optional": True}),
    ]


class OcspResponsesIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = OcspResponsesID


class OcspListID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("ocsp_responses", OcspResponsesIDs)]


class OtherRevRefs(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("other_rev_ref_type", core.ObjectIdentifier),
        ("other_rev_refs", core.Any),
    ]


class CrlOcspRef(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crlids", CRLListID, {"explicit": 0, "optional": True}),
        ("ocspids", OcspListID, {"explicit": 1, "optional": True}),
        ("other_rev", OtherRevRefs, {"explicit": 2, "optional": True}),
    ]


class CompleteRevocationRefs(core.SequenceOf):  # type: ignore[misc]
    """CompleteRevocationRefs ::= SEQUENCE OF CrlOcspRef (EN 319 122-1 A.1.2)."""

    _child_spec = CrlOcspRef


class SequenceOfOctetString(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class ATSHashIndexV3(core.Sequence):  # type: ignore[misc]
    """ATSHashIndexV3 as sigarchive writes it: the algorithm always explicit (EN 319 122-1 §5.5.2).

    Only used to *build* an index. Reading goes through
    :func:`sigarchive.signatures.archive_timestamp.parse_ats_hash_index`, because the algorithm
    may be omitted (DEFAULT sha256) and asn1crypto matches optional members by tag, which
    cannot tell an AlgorithmIdentifier from a SEQUENCE OF OCTET STRING.
    """

    _fields: ClassVar[list[Any]] = [
        ("hash_ind_algorithm", algos.DigestAlgorithm),
        ("certificates_hash_index", SequenceOfOctetString),
        ("crls_hash_index", SequenceOfOctetString),
        ("unsigned_attrs_values_hash_index", SequenceOfOctetString),
    ]


class SPDocSpecification(core.Choice):  # type: ignore[misc]
    _alternatives: ClassVar[list[Any]] = [
        ("oid", core.ObjectIdentifier),
        ("uri", core.IA5String),
    ]


class SignaturePolicyDocument(core.Choice):  # type: ignore[misc]
    _alternatives: ClassVar[list[Any]] = [
        ("sig_policy_encoded", core.OctetString),
        ("sig_policy_local_uri", core.IA5String),
    ]


class SignaturePolicyStore(core.Sequence):  # type: ignore[misc]
    """SignaturePolicyStore (EN 319 122-1 §5.2.10)."""

    _fields: ClassVar[list[Any]] = [
        ("sp_doc_spec", SPDocSpecification),
        ("sp_document", SignaturePolicyDocument),
    ]


def _set_of(spec: type[core.Asn1Value]) -> type[core.SetOf]:
    """A ``SET OF spec`` class, the shape of ``Attribute.attrValues`` (RFC 5652 §5.3)."""
    return type(f"SetOf{spec.__name__}", (core.SetOf,), {"_child_spec": spec})


# Value specs are deliberately Any for the index attributes (parsed by hand, see above) and
# for attributes we only carry through, so that a third-party oddity in them cannot make
# asn1crypto raise when someone asks for ``.native`` of a whole SignerInfo.
_REGISTRATIONS: tuple[tuple[str, str, type[core.Asn1Value]], ...] = (
    (CONTENT_TIME_STAMP, "content_time_stamp", cms.ContentInfo),
    ("1.2.840.113549.1.9.16.2.15", "signature_policy_identifier", core.Any),
    ("1.2.840.113549.1.9.16.2.16", "commitment_type", core.Any),
    ("1.2.840.113549.1.9.16.2.17", "signer_location", core.Any),
    ("1.2.840.113549.1.9.16.2.18", "signer_attributes", core.Any),
    ("1.2.840.113549.1.9.16.2.4", "content_hints", core.Any),
    ("1.2.840.113549.1.9.16.2.7", "content_identifier", core.Any),
    ("1.2.840.113549.1.9.16.2.10", "content_reference", core.Any),
    (COMPLETE_CERTIFICATE_REFS, "complete_certificate_references", CompleteCertificateRefs),
    (COMPLETE_REVOCATION_REFS, "complete_revocation_references", CompleteRevocationRefs),
    (CERTIFICATE_VALUES, "certificate_values", CertificateValues),
    (REVOCATION_VALUES, "revocation_values", RevocationValues),
    (ESC_TIME_STAMP, "esc_time_stamp", cms.ContentInfo),
    (CERTS_CRLS_TIME_STAMP, "certs_crls_time_stamp", cms.ContentInfo),
    (ATS_V1, "archive_time_stamp_v1", cms.ContentInfo),
    ("1.2.840.113549.1.9.16.2.44", "attribute_certificate_references", core.Any),
    ("1.2.840.113549.1.9.16.2.45", "attribute_revocation_references", core.Any),
    (ATS_V2, "archive_time_stamp_v2", cms.ContentInfo),
    ("1.2.840.113549.1.9.16.2.49", "internal_evidence_record", core.Any),
    ("1.2.840.113549.1.9.16.2.50", "external_evidence_record", core.Any),
    ("0.4.0.1733.2.1", "mime_type", core.Any),
    (ATS_V3, "archive_time_stamp_v3", cms.ContentInfo),
    (ATS_HASH_INDEX_V1, "ats_hash_index", core.Any),
    ("0.4.0.19122.1.1", "signer_attributes_v2", core.Any),
    (SIGNATURE_POLICY_STORE, "signature_policy_store", SignaturePolicyStore),
    (ATS_HASH_INDEX_V2, "ats_hash_index_v2", core.Any),
    (ATS_HASH_INDEX_V3, "ats_hash_index_v3", core.Any),
)


def register_cades_attributes() -> None:
    """Teach asn1crypto the CAdES attribute OIDs; safe to call any number of times.

    An OID that is already known (asn1crypto itself, pyHanko, or an earlier call) keeps its
    name, and a name that already has a value spec keeps it.
    """
    type_map: dict[str, str] = cms.CMSAttributeType._map
    specs: dict[str, Any] = cms.CMSAttribute._oid_specs
    for oid, name, spec in _REGISTRATIONS:
        known = type_map.setdefault(oid, name)
        if known not in specs:
            specs[known] = _set_of(spec)
    # asn1crypto builds its name → OID map once, when the class is first used: rebuild it so
    # the new names resolve even if an attribute type was used before this module loaded.
    cms.CMSAttributeType._reverse_map = {name: oid for oid, name in type_map.items()}


register_cades_attributes()

# --- Raw BER reading (X.690 §8.1) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tlv:
    """One BER element as stored: ``encoded`` is its complete encoding, ``content`` its
    content octets (without the end-of-contents octets of an indefinite length)."""

    tag_class: int
    constructed: bool
    tag: int
    encoded: bytes
    header_length: int
    content: bytes
    indefinite: bool

    @property
    def first_byte(self) -> int:
        return self.encoded[0]

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        return split_tlvs(self.content)


def _read_header(data: bytes, offset: int) -> tuple[int, bool, int, int, int | None]:
    """(class, constructed, tag, content_offset, length or None for indefinite)."""
    end = len(data)
    if offset >= end:
        raise ValueError("truncated BER element")
    first = data[offset]
    tag_class = first >> 6
    constructed = bool(first & 0x20)
    tag = first & 0x1F
    pos = offset + 1
    if tag == 0x1F:
        tag = 0
        while True:
            if pos >= end:
                raise ValueError("truncated BER tag")
            octet = data[pos]
            pos += 1
            tag = (tag << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
    if pos >= end:
        raise ValueError("truncated BER length")
    length_octet = data[pos]
    pos += 1
    if length_octet == 0x80:
        if not constructed:
            raise ValueError("indefinite length on a primitive element")
        return tag_class, constructed, tag, pos, None
    if length_octet < 0x80:
        return tag_class, constructed, tag, pos, length_octet
    count = length_octet & 0x7F
    if count > 8 or pos + count > end:
        raise ValueError("bad BER length")
    length = int.from_bytes(data[pos : pos + count], "big")
    return tag_class, constructed, tag, pos + count, length


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """Read the element at ``offset``; return it and the offset just after it."""
    tag_class, constructed, tag, content_start, length = _read_header(data, offset)
    if length is None:
        pos = content_start
        while True:
            if data[pos : pos + 2] == b"\x00\x00":
                content_end, end = pos, pos + 2
                break
            _, pos = read_tlv(data, pos)
    else:
        content_end = end = content_start + length
        if end > len(data):
            raise ValueError("BER element longer than its container")
    return (
        Tlv(
            tag_class=tag_class,
            constructed=constructed,
            tag=tag,
            encoded=data[offset:end],
            header_length=content_start - offset,
            content=data[content_start:content_end],
            indefinite=length is None,
        ),
        end,
    )


def iter_tlvs(data: bytes) -> Iterator[Tlv]:
    """The consecutive elements that make up ``data`` (e.g. a constructed element's content)."""
    pos = 0
    while pos < len(data):
        tlv, pos = read_tlv(data, pos)
        yield tlv


def split_tlvs(data: bytes) -> list[Tlv]:
    """:func:`iter_tlvs` as a list."""
    return list(iter_tlvs(data))


def octet_string_value(tlv: Tlv) -> bytes:
    """An OCTET STRING value; a constructed (BER) one has its segments joined (X.690 §8.7)."""
    if not tlv.constructed:
        return tlv.content
    return b"".join(octet_string_value(child) for child in tlv.children())


# --- DER writing ---------------------------------------------------------------------------


def der_length(length: int) -> bytes:
    """A definite, minimal length (X.690 §10.1)."""
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _identifier(tag_class: int, constructed: bool, tag: int) -> bytes:
    first = (tag_class << 6) | (0x20 if constructed else 0)
    if tag < 0x1F:
        return bytes([first | tag])
    groups = []
    while True:
        groups.append(tag & 0x7F)
        tag >>= 7
        if not tag:
            break
    tail = [g | 0x80 for g in reversed(groups[1:])] + [groups[0]]
    return bytes([first | 0x1F, *tail])


def der_tlv(identifier: int | bytes, content: bytes) -> bytes:
    """An element with a definite length; ``identifier`` is the identifier octet(s)."""
    ident = bytes([identifier]) if isinstance(identifier, int) else identifier
    return ident + der_length(len(content)) + content


# Universal string types that BER may encode as constructed segments (X.690 §8.21).
_STRING_TAGS = frozenset({4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30})


def _der_sorted(encodings: list[bytes]) -> list[bytes]:
    """SET OF order (X.690 §11.6): octet-wise, the shorter padded with trailing zeros."""
    width = max((len(e) for e in encodings), default=0)
    return sorted(encodings, key=lambda e: e.ljust(width, b"\x00"))


def to_der(encoded: bytes, *, sort_outer_set: bool = False) -> bytes:
    """Best-effort DER re-encoding of a BER element, as Bouncy Castle would produce it.

    Definite minimal lengths, constructed strings joined, universal SET members sorted. DER
    rules that need the ASN.1 type (implicitly tagged SET OF, DEFAULT members) are out of reach
    of a schema-less walker; ``sort_outer_set`` sorts the children of the outermost element
    (for ``[0] IMPLICIT SET OF Attribute``, i.e. signedAttrs). Used only for tolerant retries.
    """
    tlv, _ = read_tlv(encoded)
    return _to_der(tlv, sort_children=sort_outer_set)


def _to_der(tlv: Tlv, *, sort_children: bool = False) -> bytes:
    ident = _identifier(tlv.tag_class, tlv.constructed, tlv.tag)
    if not tlv.constructed:
        return ident + der_length(len(tlv.content)) + tlv.content
    if tlv.tag_class == 0 and tlv.tag in _STRING_TAGS:
        value = octet_string_value(tlv)
        return _identifier(0, False, tlv.tag) + der_length(len(value)) + value
    if tlv.tag_class == 0 and tlv.tag == 3:
        parts = [child.content for child in tlv.children()]
        unused = parts[-1][:1] if parts else b"\x00"
        value = unused + b"".join(p[1:] for p in parts)
        return b"\x03" + der_length(len(value)) + value
    children = [_to_der(child) for child in tlv.children()]
    if sort_children or (tlv.tag_class == 0 and tlv.tag == 17):
        children = _der_sorted(children)
    content = b"".join(children)
    return ident + der_length(len(content)) + content


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
    return der_tlv(0x30, type_tlv + der_tlv(0x31, b"".join(_der_sorted(list(values)))))
