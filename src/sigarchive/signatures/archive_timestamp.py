"""Signature time-stamps and archive time-stamps of CAdES signatures (ETSI EN 319 122-1).

What is hashed:

- signature-time-stamp (EN 319 122-1 §5.3; RFC 3161 Appendix A): the value octets of the
  SignerInfo's ``signature`` field;
- archive-time-stamp-v3 (EN 319 122-1 §5.5.3) with its ats-hash-index (§5.5.2): eContentType,
  H(content), six SignerInfo fields and the index value, all "in their binary encoded form
  without any modification" — we hash the bytes as stored (:mod:`.attributes` reads them),
  and when verifying retry with the DER re-encoding Bouncy Castle based tools (DSS) hash;
- archive-time-stamp-v2 (ETSI TS 101 733 V2.2.1 §6.4.1 and Annex K; EN 319 122-1 Annex A.2.4):
  verified only, for archives made by other tools, in both the V2.2.1 and the V1.8.3 variant.

Building a new archive-time-stamp-v3 uses the very functions that verify one
(:func:`prepare_ats_v3`): the imprint sent to the TSA is :func:`ats_v3_message_imprint_input`
hashed, and the index goes into the token's unsigned attributes (:func:`ats_hash_index_attribute`).

Nothing here raises for a bad time-stamp: every finding is reported in a frozen result, with
ETSI EN 319 102-1 sub-indications as failure codes where one fits. Time-stamps are returned in
chronological order (genTime, then index size), never in their physical order, which other
tools do not keep chronological.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from asn1crypto import algos, cms, core, x509

from sigarchive.errors import ArchiveError, SignatureRejected
from sigarchive.signatures.attributes import (
    ATS_HASH_INDEX_OIDS,
    ATS_HASH_INDEX_V3,
    ATS_V1,
    ATS_V2,
    ATS_V3,
    CERTIFICATE_VALUES,
    REVOCATION_VALUES,
    SIGNATURE_TIME_STAMP,
    TIME_STAMP_ATTRIBUTE_OIDS,
    ATSHashIndexV3,
    RawAttribute,
    Tlv,
    der_length,
    der_tlv,
    encode_attribute,
    octet_string_value,
    raw_attributes,
    read_tlv,
    split_tlvs,
    to_der,
)
from sigarchive.signatures.digests import SUPPORTED_DIGESTS, digest_bytes, new_hash
from sigarchive.signatures.tokens import (
    TimestampToken,
    TokenCheck,
    parse_timestamp_token,
    verify_token,
)

__all__ = [
    "ArchiveTimestampCheck",
    "AtsHashIndex",
    "AtsKind",
    "HashIndexCheck",
    "ImprintEncoding",
    "MalformedHashIndex",
    "PreparedAtsV3",
    "SignatureTimestampCheck",
    "SignedDataParts",
    "SignerInfoParts",
    "ats_hash_index_attribute",
    "ats_v3_message_imprint_input",
    "build_ats_hash_index_v3",
    "parse_ats_hash_index",
    "prepare_ats_v3",
    "signature_timestamp_imprint_input",
    "signed_data_parts",
    "signer_info_parts",
    "verify_archive_timestamps",
    "verify_signature_timestamps",
]

#: OtherRevocationInfoFormat identifiers for OCSP (RFC 5940 §4.1; RFC 6960 §4.2.1).
_ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
_ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"
#: id-pkix-ocsp-response (Bouncy Castle's OCSPObjectIdentifiers), DSS's fallback format OID.
_ID_PKIX_OCSP_RESPONSE = "1.3.6.1.5.5.7.48.1.4"
#: AlgorithmIdentifier { id-sha256 } without parameters, the DEFAULT of hashIndAlgorithm.
_SHA256_NO_PARAMS = bytes.fromhex("300b0609608648016503040201")

ContentDigestFor = Callable[[str], bytes]
ContentChunks = Callable[[], Iterable[bytes]]


class ImprintEncoding(StrEnum):
    """How the signature fields were encoded in an imprint input that matched."""

    #: Bytes as stored: EN 319 122-1 §5.5.3 "without any modification".
    AS_STORED = "as-stored"
    #: Every field re-encoded in DER, signedAttrs DER-sorted (Bouncy Castle / DSS, notes §2.1).
    DER = "der"


class AtsKind(StrEnum):
    """Which archive time-stamp attribute."""

    V3 = "v3"  # archive-time-stamp-v3, EN 319 122-1 §5.5.3
    V2 = "v2"  # archive-time-stamp-v2, TS 101 733 §6.4.1 / Annex K
    V1 = "v1"  # archive-time-stamp (TS 101 733 V1.x), not supported


_KIND_BY_OID = {ATS_V3: AtsKind.V3, ATS_V2: AtsKind.V2, ATS_V1: AtsKind.V1}

# --- The structures, as stored --------------------------------------------------------------


def _is_context(tlv: Tlv, tag: int) -> bool:
    return tlv.tag_class == 2 and tlv.tag == tag


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
        certificates = next((p for p in parts[3:-1] if _is_context(p, 0)), None)
        crls = next((p for p in parts[3:-1] if _is_context(p, 1)), None)
        inner = encap.children()
        e_content = None
        if len(inner) > 1 and _is_context(inner[1], 0):
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
        if rest and _is_context(rest[0], 0):
            signed_attrs = rest.pop(0).encoded
        unsigned = rest[2] if len(rest) > 2 and _is_context(rest[2], 1) else None
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


# --- ats-hash-index -------------------------------------------------------------------------


class MalformedHashIndex(ValueError):
    """An ats-hash-index value that is not ATSHashIndex / ATSHashIndexV3."""


@dataclass(frozen=True)
class AtsHashIndex:
    """A parsed ATSHashIndex (TS 101 733 §6.4.2) or ATSHashIndexV3 (EN 319 122-1 §5.5.2)."""

    version: int
    algorithm: str
    #: False when hashIndAlgorithm was omitted (its DEFAULT is id-sha256).
    algorithm_explicit: bool
    certificates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    unsigned_attrs: tuple[bytes, ...]
    #: The index value as stored: this is what the archive time-stamp's imprint covers.
    encoded: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Number of entries; of two ATS with the same genTime the smaller index is older."""
        return len(self.certificates) + len(self.crls) + len(self.unsigned_attrs)


def _octet_list(tlv: Tlv) -> tuple[bytes, ...]:
    if tlv.tag_class != 0 or tlv.tag != 16:
        raise MalformedHashIndex("a hash list is not a SEQUENCE")
    entries = tlv.children()
    if any(e.tag_class != 0 or e.tag != 4 for e in entries):
        raise MalformedHashIndex("a hash list holds something else than OCTET STRINGs")
    return tuple(octet_string_value(e) for e in entries)


def parse_ats_hash_index(encoded: bytes, version: int) -> AtsHashIndex:
    """Parse an index value, with or without its hashIndAlgorithm, by looking at its members.

    asn1crypto cannot do this: it matches an optional member by tag, and an AlgorithmIdentifier
    and a SEQUENCE OF OCTET STRING share the SEQUENCE tag. Here a first member that starts with
    an OBJECT IDENTIFIER is the algorithm.
    """
    try:
        tlv, end = read_tlv(encoded)
        if end != len(encoded) or tlv.tag_class != 0 or tlv.tag != 16:
            raise MalformedHashIndex("the index is not a single SEQUENCE")
        members = tlv.children()
        explicit = len(members) == 4
        if len(members) not in (3, 4):
            raise MalformedHashIndex(f"the index has {len(members)} members, not 3 or 4")
        algorithm = "sha256"
        if explicit:
            first = members[0].children()
            if not first or first[0].tag != 6:
                raise MalformedHashIndex("the first of 4 members is not an AlgorithmIdentifier")
            algorithm = algos.DigestAlgorithm.load(members[0].encoded)["algorithm"].native
            members = members[1:]
        if algorithm not in SUPPORTED_DIGESTS:
            raise MalformedHashIndex(f"unsupported hashIndAlgorithm {algorithm}")
        certs, crls, attrs = (_octet_list(m) for m in members)
    except MalformedHashIndex:
        raise
    except (ValueError, KeyError) as exc:
        raise MalformedHashIndex(str(exc).splitlines()[0]) from exc
    return AtsHashIndex(version, algorithm, explicit, certs, crls, attrs, encoded)


def _attribute_value_hashes(attribute: RawAttribute, algorithm: str) -> list[bytes]:
    """EN 319 122-1 §5.5.2: H(attrType || one AttributeValue), one entry per value."""
    return [digest_bytes(algorithm, attribute.type_tlv + value) for value in attribute.values]


def build_ats_hash_index_v3(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, algorithm: str
) -> ATSHashIndexV3:
    """The ats-hash-index-v3 for a new archive-time-stamp-v3 (EN 319 122-1 §5.5.2).

    One entry per CertificateChoices and per RevocationInfoChoice of the root SignedData (an
    OCSP response: the whole [1] OtherRevocationInfoFormat element) and one per value of every
    unsigned attribute of ``signer_info``; everything hashed as stored. The algorithm is always
    written, without parameters (RFC 5754 §2), and must be the time-stamp's hash algorithm.
    """
    new_hash(algorithm)  # rejects an unsupported algorithm
    sd = signed_data_parts(signed_data)
    si = signer_info_parts(signer_info)
    algorithm_id = der_tlv(0x30, algos.DigestAlgorithmId(algorithm).dump())
    return ATSHashIndexV3(
        {
            "hash_ind_algorithm": algos.DigestAlgorithm.load(algorithm_id),
            "certificates_hash_index": [digest_bytes(algorithm, c) for c in sd.certificate_choices],
            "crls_hash_index": [digest_bytes(algorithm, c) for c in sd.revocation_choices],
            "unsigned_attrs_values_hash_index": [
                h for a in si.unsigned_attributes for h in _attribute_value_hashes(a, algorithm)
            ],
        }
    )


def ats_hash_index_attribute(index: ATSHashIndexV3 | bytes) -> bytes:
    """The ats-hash-index-v3 Attribute (DER) for the unsignedAttrs of the ATS token's SignerInfo."""
    value = index if isinstance(index, bytes) else index.dump()
    return encode_attribute(ATS_HASH_INDEX_V3, [value])


# --- Imprint inputs -------------------------------------------------------------------------


def signature_timestamp_imprint_input(signer_info: cms.SignerInfo) -> bytes:
    """What a signature-time-stamp covers: the signature value octets (EN 319 122-1 §5.3)."""
    return signer_info_parts(signer_info).signature_value


def ats_v3_message_imprint_input(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest: bytes,
    index_der: bytes,
    *,
    encoding: ImprintEncoding = ImprintEncoding.AS_STORED,
) -> bytes:
    """The octets an archive-time-stamp-v3 imprint is computed over (EN 319 122-1 §5.5.3).

    The concatenation of: a) eContentType, b) ``content_digest`` = H(signed content) with the
    time-stamp's own hash algorithm, c) version, sid, digestAlgorithm, signedAttrs (with its
    [0] tag), signatureAlgorithm and signature of ``signer_info``, d) the ats-hash-index value
    ``index_der``. unsignedAttrs is covered through the index, not here.
    """
    sd = signed_data_parts(signed_data)
    si = signer_info_parts(signer_info)
    e_content_type = sd.e_content_type
    if encoding is ImprintEncoding.DER:
        e_content_type = to_der(e_content_type)
    return b"".join([e_content_type, content_digest, *si.signed_fields(encoding), index_der])


@dataclass(frozen=True)
class PreparedAtsV3:
    """Everything needed to request and attach a new archive-time-stamp-v3."""

    algorithm: str
    index: ATSHashIndexV3 = field(compare=False, repr=False)
    #: The index value; goes, as :func:`ats_hash_index_attribute`, into the token's unsignedAttrs.
    index_der: bytes = field(repr=False)
    #: The digest to send to the TSA (its messageImprint), computed with ``algorithm``.
    imprint: bytes


def prepare_ats_v3(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest: bytes,
    algorithm: str,
) -> PreparedAtsV3:
    """Index and imprint for a new archive-time-stamp-v3 over ``signer_info`` as it is now.

    Call it after the validation data has been added to the root SignedData (EN 319 122-1
    §5.5.3: certificates and crls go there first when no ATSv2 is present), since the index
    lists what is present at this moment. ``content_digest`` is H(signed content) computed with
    ``algorithm``. The same imprint code verifies existing time-stamps.
    """
    size = new_hash(algorithm).digest_size  # SignatureRejected for an unsupported algorithm
    if len(content_digest) != size:
        raise ValueError(
            f"content digest has {len(content_digest)} bytes, {algorithm} gives {size}"
        )
    index = build_ats_hash_index_v3(signed_data, signer_info, algorithm)
    index_der = index.dump()
    data = ats_v3_message_imprint_input(signed_data, signer_info, content_digest, index_der)
    return PreparedAtsV3(algorithm, index, index_der, digest_bytes(algorithm, data))


# --- Results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashIndexCheck:
    """Consistency of an ats-hash-index with the signature as it is now (§5.5.2; notes §4).

    Positions refer to the index lists. Entries with no matching object ("not found") and
    entries matching only objects outside SignedData.certificates / crls ("outside") make the
    index inconsistent; objects missing from the index are later additions, never an error.
    """

    version: int
    algorithm: str
    certificates: int
    crls: int
    unsigned_attrs: int
    certificates_not_found: tuple[int, ...] = ()
    certificates_outside: tuple[int, ...] = ()
    crls_not_found: tuple[int, ...] = ()
    crls_outside: tuple[int, ...] = ()
    unsigned_attrs_not_found: tuple[int, ...] = ()
    #: (position in unsignedAttrs, attrType) of the attributes the index covers.
    covered_attributes: tuple[tuple[int, str], ...] = ()

    @property
    def size(self) -> int:
        return self.certificates + self.crls + self.unsigned_attrs

    @property
    def ok(self) -> bool:
        return not self.messages

    @property
    def messages(self) -> tuple[str, ...]:
        """Findings, worded like DSS's so that reports can be compared."""
        found = []
        if self.certificates_outside:
            found.append(
                "ats-hash-index attribute contains certificates present outside of "
                "SignedData.certificates."
            )
        if self.certificates_not_found:
            found.append(
                "Some ats-hash-index attribute certificates have not been found in document "
                "attributes."
            )
        if self.crls_outside:
            found.append(
                "ats-hash-index attribute contains crls present outside of SignedData.crls."
            )
        if self.crls_not_found:
            found.append(
                "Some ats-hash-index attribute crls have not been found in document attributes."
            )
        if self.unsigned_attrs_not_found:
            found.append(
                "Some ats-hash-index attribute entries have not been found in unsignedAttrs."
            )
        return tuple(found)


@dataclass(frozen=True)
class ArchiveTimestampCheck:
    """The verification of one archive time-stamp of a signer."""

    kind: AtsKind
    #: Position of the attribute in unsignedAttrs, and of the token among its values.
    attribute_position: int
    value_position: int
    token: TimestampToken | None = field(compare=False, repr=False)
    gen_time: datetime | None
    hash_algorithm: str | None
    #: The messageImprint equals the recomputed one (None: could not be computed).
    imprint_ok: bool | None
    #: Which input variant matched (ImprintEncoding for v3, "v2.2.1"/"v1.8.3" ± "der" for v2).
    imprint_encoding: str | None
    token_check: TokenCheck | None = field(repr=False)
    #: ats-hash-index version found in the token (None: no index).
    index_version: int | None
    index: HashIndexCheck | None
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def signature_ok(self) -> bool:
        """The token's own CMS signature verifies."""
        return self.token_check is not None and self.token_check.signature_ok

    @property
    def index_present(self) -> bool:
        return self.index_version is not None

    @property
    def ok(self) -> bool:
        """Imprint intact and token technically valid (index inconsistency is only a warning)."""
        return self.failure_code is None and self.imprint_ok is True


@dataclass(frozen=True)
class SignatureTimestampCheck:
    """The verification of one signature-time-stamp (EN 319 122-1 §5.3)."""

    attribute_position: int
    value_position: int
    token: TimestampToken | None = field(compare=False, repr=False)
    gen_time: datetime | None
    hash_algorithm: str | None
    imprint_ok: bool | None
    token_check: TokenCheck | None = field(repr=False)
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure_code is None and self.imprint_ok is True


# --- Verification helpers -------------------------------------------------------------------


def _der_or_none(encoding: bytes) -> bytes | None:
    try:
        der = to_der(encoding)
    except ValueError:
        return None
    return der if der != encoding else None


class _Candidates:
    """Objects an index entry may stand for, hashed as stored and — only when needed, since
    re-encoding a large CRL is slow — in DER, as Bouncy Castle based tools hash them."""

    def __init__(self, algorithm: str, encodings: Iterable[bytes]) -> None:
        self._algorithm = algorithm
        self._encodings = list(encodings)
        self.stored = {digest_bytes(algorithm, e) for e in self._encodings}
        self._der: set[bytes] | None = None

    @property
    def der(self) -> set[bytes]:
        if self._der is None:
            variants = (_der_or_none(e) for e in self._encodings)
            self._der = {digest_bytes(self._algorithm, v) for v in variants if v is not None}
        return self._der

    def __contains__(self, entry: object) -> bool:
        return entry in self.stored or entry in self.der


def _wrap_basic_ocsp(basic: bytes) -> list[bytes]:
    """Encodings under which a BasicOCSPResponse held outside SignedData.crls (e.g. in
    revocation-values) may have been indexed.

    The response itself, wrapped in a successful OCSPResponse (RFC 6960 §4.2.1), and either as
    an OtherRevocationInfoFormat element ([1], RFC 5940 §4.1) — including DSS's form with
    1.3.6.1.5.5.7.48.1.4 as format identifier, which ``cades-ats-v3-rev-val-ocsp.p7s`` uses.
    """
    response_bytes = der_tlv(
        0x30, core.ObjectIdentifier(_ID_PKIX_OCSP_BASIC).dump() + der_tlv(0x04, basic)
    )
    full = der_tlv(0x30, b"\x0a\x01\x00" + der_tlv(0xA0, response_bytes))
    found = [basic, full]
    for oid in (_ID_RI_OCSP_RESPONSE, _ID_PKIX_OCSP_BASIC, _ID_PKIX_OCSP_RESPONSE):
        for response in (full, basic):
            found.append(der_tlv(0xA1, core.ObjectIdentifier(oid).dump() + response))
    return found


def _revocation_choice_variants(choice: bytes) -> list[bytes]:
    """Encodings an index entry may use for this RevocationInfoChoice (notes §3).

    The element as stored; for an OCSP response in OtherRevocationInfoFormat also the
    OCSPResponse and the BasicOCSPResponse inside, which DSS accepts from old writers.
    """
    tlv, _ = read_tlv(choice)
    if not _is_context(tlv, 1):
        return [choice]
    variants = [choice]
    try:
        fmt, info = tlv.children()
        oid = core.ObjectIdentifier.load(fmt.encoded).dotted
        if oid == _ID_RI_OCSP_RESPONSE:
            variants.append(info.encoded)
            # OCSPResponse { responseStatus, [0] EXPLICIT ResponseBytes { OID, OCTET STRING } }
            response_bytes = info.children()[1].children()[0]
            variants.append(octet_string_value(response_bytes.children()[1]))
        elif oid == _ID_PKIX_OCSP_BASIC:
            variants.append(info.encoded)
    except (ValueError, IndexError):
        pass
    return variants


def _collect_outside(
    attributes: Sequence[RawAttribute], certs: list[bytes], crls: list[bytes], depth: int = 0
) -> None:
    """Certificates and revocation values held in unsigned attributes (certificate-values,
    revocation-values, time-stamp tokens and the attributes inside those tokens).

    A certificate found only inside an OCSP response does not count, as for DSS (notes §4.3,
    ``CAdES-BpLTA_removed_ocsp.p7m``: "not found").
    """
    for attribute in attributes:
        for value in attribute.values:
            try:
                if attribute.oid == CERTIFICATE_VALUES:
                    certs.extend(t.encoded for t in read_tlv(value)[0].children())
                elif attribute.oid == REVOCATION_VALUES:
                    # RevocationValues: crlVals [0], ocspVals [1] (EN 319 122-1 A.1.4)
                    for member in read_tlv(value)[0].children():
                        listed = member.children()[0].children() if member.constructed else []
                        if _is_context(member, 0):
                            crls.extend(t.encoded for t in listed)
                        elif _is_context(member, 1):
                            for basic in listed:
                                crls.extend(_wrap_basic_ocsp(basic.encoded))
                elif attribute.oid in TIME_STAMP_ATTRIBUTE_OIDS and depth < 2:
                    token = parse_timestamp_token(value)
                    certs.extend(token.certificate_encodings())
                    _collect_outside(token.unsigned_attributes, certs, crls, depth + 1)
            except (ValueError, IndexError, SignatureRejected):
                continue


def _classify(
    entries: tuple[bytes, ...], inside: _Candidates, outside: _Candidates
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(positions matching nothing, positions matching only something outside)."""
    missing: list[int] = []
    elsewhere: list[int] = []
    for i, entry in enumerate(entries):
        if entry in inside:
            continue
        (elsewhere if entry in outside else missing).append(i)
    return tuple(missing), tuple(elsewhere)


def _check_index(index: AtsHashIndex, sd: SignedDataParts, si: SignerInfoParts) -> HashIndexCheck:
    """EN 319 122-1 §5.5.2 consistency, "lax" as DSS applies it (notes §4.3, §4.4)."""
    alg = index.algorithm
    out_certs: list[bytes] = []
    out_crls: list[bytes] = []
    _collect_outside(si.unsigned_attributes, out_certs, out_crls)

    certs_missing, certs_outside = _classify(
        index.certificates,
        _Candidates(alg, sd.certificate_choices),
        _Candidates(alg, out_certs),
    )
    crls_missing, crls_outside = _classify(
        index.crls,
        _Candidates(
            alg, (v for c in sd.revocation_choices for v in _revocation_choice_variants(c))
        ),
        _Candidates(alg, out_crls),
    )

    # idx v3: one entry per value, H(attrType || AttributeValue) (EN 319 122-1 §5.5.2);
    # idx v1/v2: one entry per whole Attribute (TS 101 733 V2.2.1 §6.4.2).
    per_attribute = [
        (a, [a.type_tlv + v for v in a.values] if index.version >= 3 else [a.encoded])
        for a in si.unsigned_attributes
    ]
    wanted = set(index.unsigned_attrs)
    matched: set[bytes] = set()
    covered: list[tuple[int, str]] = []
    for attribute, encodings in per_attribute:
        hits = {digest_bytes(alg, e) for e in encodings} & wanted
        if not hits and len(wanted) > len(matched):
            der = (_der_attribute_input(e, index.version) for e in encodings)
            hits = {digest_bytes(alg, d) for d in der if d is not None} & wanted
        if hits:
            covered.append((attribute.position, attribute.oid))
            matched |= hits
    attrs_missing = tuple(i for i, e in enumerate(index.unsigned_attrs) if e not in matched)
    return HashIndexCheck(
        version=index.version,
        algorithm=alg,
        certificates=len(index.certificates),
        crls=len(index.crls),
        unsigned_attrs=len(index.unsigned_attrs),
        certificates_not_found=certs_missing,
        certificates_outside=certs_outside,
        crls_not_found=crls_missing,
        crls_outside=crls_outside,
        unsigned_attrs_not_found=attrs_missing,
        covered_attributes=tuple(covered),
    )


def _der_attribute_input(encoding: bytes, version: int) -> bytes | None:
    """The DER form of an index input: attrType || value (v3) or the whole Attribute (v1/v2)."""
    if version < 3:
        return _der_or_none(encoding)
    try:
        type_tlv, end = read_tlv(encoding)
        return to_der(type_tlv.encoded) + to_der(encoding[end:])
    except ValueError:
        return None


def _token_or_failure(raw: bytes) -> tuple[TimestampToken | None, str | None]:
    try:
        return parse_timestamp_token(raw), None
    except SignatureRejected as exc:
        return None, exc.description


def _outer_certificates(sd: SignedDataParts, si: SignerInfoParts) -> list[x509.Certificate]:
    """Certificates a token may rely on when it does not carry its TSA's certificate."""
    encodings = list(sd.certificate_choices)
    for attribute in si.unsigned_attributes:
        if attribute.oid == CERTIFICATE_VALUES:
            for value in attribute.values:
                try:
                    encodings.extend(t.encoded for t in read_tlv(value)[0].children())
                except ValueError:
                    continue
    found = []
    for encoding in encodings:
        try:
            if encoding[:1] == b"\x30":
                cert = x509.Certificate.load(encoding)
                _ = cert.serial_number  # asn1crypto parses lazily: fail here, not later
                found.append(cert)
        except (ValueError, TypeError, KeyError):
            continue
    return found


def _digest_or_reason(
    content_digest_for: ContentDigestFor, algorithm: str
) -> tuple[bytes | None, str | None]:
    try:
        return content_digest_for(algorithm), None
    except ArchiveError as exc:
        return None, exc.description
    except LookupError as exc:
        return None, f"signed content not available: {exc}"


def _content_digest_for(
    sd: SignedDataParts, content_digest_for: ContentDigestFor | None
) -> ContentDigestFor:
    if content_digest_for is not None:
        return content_digest_for
    e_content = sd.e_content

    def from_e_content(algorithm: str) -> bytes:
        if e_content is None:
            raise LookupError("detached signature and no content given")
        return digest_bytes(algorithm, e_content)

    return from_e_content


@dataclass
class _Outcome:
    """What the kind-specific imprint and index checks found (assembled into a result)."""

    imprint_ok: bool | None = None
    imprint_encoding: str | None = None
    index_version: int | None = None
    index: HashIndexCheck | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    def fail(self, code: str, reason: str | None) -> None:
        if self.failure_code is None:
            self.failure_code, self.failure_reason = code, reason


# --- ATSv3 ---------------------------------------------------------------------------------


def _verify_v3(
    token: TimestampToken,
    sd: SignedDataParts,
    si: SignerInfoParts,
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest_for: ContentDigestFor,
) -> _Outcome:
    """EN 319 122-1 §5.5.3 imprint, then §5.5.2 index consistency (notes §4)."""
    out = _Outcome()
    index_attrs = [a for a in token.unsigned_attributes if a.oid in ATS_HASH_INDEX_OIDS]
    if not index_attrs or not index_attrs[0].values:
        # Without an index the imprint cannot be recomputed, hence it is not intact (§4.1).
        out.imprint_ok = False
        out.fail("ATS_HASH_INDEX_MISSING", "The ats-hash-index was not found or not supported.")
        return out
    version = ATS_HASH_INDEX_OIDS[index_attrs[0].oid]
    index_value = index_attrs[0].values[0]
    out.index_version = version
    if len(index_attrs) > 1 or len(index_attrs[0].values) > 1:
        count = sum(len(a.values) for a in index_attrs)
        out.fail(
            "ATS_HASH_INDEX_MALFORMED",
            f"{count} ats-hash-index values where EN 319 122-1 §5.5.2 allows exactly one",
        )
    index: AtsHashIndex | None = None
    try:
        index = parse_ats_hash_index(index_value, version)
    except MalformedHashIndex as exc:
        out.fail("ATS_HASH_INDEX_MALFORMED", f"malformed ats-hash-index: {exc}")
    if index is not None and index.algorithm != token.hash_algorithm:
        out.warnings.append(
            f"hashIndAlgorithm {index.algorithm} differs from the time-stamp's "
            f"{token.hash_algorithm} (EN 319 122-1 §5.5.2)"
        )

    digest, reason = _digest_or_reason(content_digest_for, token.hash_algorithm)
    if digest is None:
        out.fail("SIGNED_DATA_NOT_FOUND", reason)
    else:
        out.imprint_ok = False
        attempts = (
            (ImprintEncoding.AS_STORED, index_value),
            (ImprintEncoding.DER, _dss_index_encoding(index_value, version)),
        )
        for encoding, index_bytes in attempts:
            try:
                data = ats_v3_message_imprint_input(
                    signed_data, signer_info, digest, index_bytes, encoding=encoding
                )
            except ValueError:
                continue
            if digest_bytes(token.hash_algorithm, data) == token.message_imprint:
                out.imprint_ok, out.imprint_encoding = True, encoding.value
                break
        else:
            out.fail("HASH_FAILURE", "the archive-time-stamp-v3 messageImprint does not match")
    if index is not None:
        out.index = _check_index(index, sd, si)
    return out


def _dss_index_encoding(index_value: bytes, version: int) -> bytes:
    """The index as DSS recomposes it before hashing (notes §2.1): DER, and for idx v2/v3
    without an algorithm, SHA-256 inserted without parameters."""
    try:
        der = to_der(index_value)
        tlv, _ = read_tlv(der)
        if version >= 2 and len(tlv.children()) == 3:
            return der_tlv(0x30, _SHA256_NO_PARAMS + tlv.content)
        return der
    except ValueError:
        return index_value


# --- ATSv2 (TS 101 733 Annex K) ---------------------------------------------------------------


def _verify_v2(
    token: TimestampToken,
    attribute: RawAttribute,
    sd: SignedDataParts,
    si: SignerInfoParts,
    later: Callable[[RawAttribute], bool],
    detached_content: ContentChunks | None,
) -> _Outcome:
    """TS 101 733 V2.2.1 §6.4.1: H(encapContentInfo || [content] || certificates || crls ||
    SignerInfo fields || unsignedAttrs present before this time-stamp).

    V2.2.1 hashes the unsignedAttrs element with its [1] tag and length; V1.8.3 (Annex K note 3)
    only the attributes. Both are tried, each with signedAttrs as stored and in DER.
    """
    out = _Outcome()
    try:
        h = new_hash(token.hash_algorithm)
    except ArchiveError as exc:
        out.fail("FORMAT_FAILURE", exc.description)
        return out
    h.update(sd.encap_content_info)
    if sd.e_content is None:
        if detached_content is None:
            out.fail(
                "SIGNED_DATA_NOT_FOUND",
                "an archive-time-stamp-v2 over detached content needs the content itself",
            )
            return out
        for chunk in detached_content():
            h.update(chunk)
    common = b"".join(t.encoded for t in (sd.certificates, sd.crls) if t is not None)
    kept = b"".join(
        a.encoded
        for a in si.unsigned_attributes
        if a.position != attribute.position and not later(a)
    )
    out.imprint_ok = False
    for variant, unsigned in (("v2.2.1", b"\xa1" + der_length(len(kept)) + kept), ("v1.8.3", kept)):
        for encoding in (ImprintEncoding.AS_STORED, ImprintEncoding.DER):
            try:
                fields = b"".join(si.signed_fields(encoding))
            except ValueError:
                continue
            candidate = h.copy()
            candidate.update(common + fields + unsigned)
            if candidate.digest() == token.message_imprint:
                out.imprint_ok = True
                out.imprint_encoding = variant + ("+der" if encoding is ImprintEncoding.DER else "")
                return out
    out.fail("HASH_FAILURE", "the archive-time-stamp-v2 messageImprint does not match (Annex K)")
    return out


# --- Public verification ------------------------------------------------------------------------


def verify_archive_timestamps(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest_for: ContentDigestFor | None = None,
    *,
    detached_content: ContentChunks | None = None,
) -> list[ArchiveTimestampCheck]:
    """Verify every archive time-stamp of ``signer_info``, oldest first.

    ``content_digest_for(alg)`` gives H(signed content) — the eContent octets, or the detached
    document; by default it is computed from eContent. It may raise ``LookupError`` when the
    content is not available (SIGNED_DATA_NOT_FOUND). ``detached_content()`` yields the detached
    document in chunks; only archive-time-stamp-v2 needs it (Annex K hashes the content itself).
    Order: genTime, then index size (notes §4.7), then position.
    """
    sd = signed_data_parts(signed_data)
    si = signer_info_parts(signer_info)
    digest_for = _content_digest_for(sd, content_digest_for)
    certificates = _outer_certificates(sd, si)

    tokens: dict[tuple[int, int], TimestampToken | str] = {}
    for attribute in si.unsigned_attributes:
        if attribute.oid in _KIND_BY_OID:
            for n, value in enumerate(attribute.values):
                token, problem = _token_or_failure(value)
                tokens[(attribute.position, n)] = token if token is not None else str(problem)

    def later_than(gen_time: datetime) -> Callable[[RawAttribute], bool]:
        """Annex K: leave out every archive time-stamp not older than this one."""

        def later(other: RawAttribute) -> bool:
            if other.oid not in _KIND_BY_OID:
                return False
            parsed = (tokens[(other.position, n)] for n in range(len(other.values)))
            return any(isinstance(t, TimestampToken) and t.gen_time >= gen_time for t in parsed)

        return later

    checks: list[ArchiveTimestampCheck] = []
    for attribute in si.unsigned_attributes:
        kind = _KIND_BY_OID.get(attribute.oid)
        if kind is None:
            continue
        for n in range(len(attribute.values)):
            parsed = tokens[(attribute.position, n)]
            if isinstance(parsed, str):
                out = _Outcome()
                out.fail("FORMAT_FAILURE", parsed)
                checks.append(_assemble(kind, attribute, n, None, out, None))
                continue
            if kind is AtsKind.V3:
                out = _verify_v3(parsed, sd, si, signed_data, signer_info, digest_for)
            elif kind is AtsKind.V2:
                later = later_than(parsed.gen_time)
                out = _verify_v2(parsed, attribute, sd, si, later, detached_content)
            else:
                out = _Outcome()
                out.fail("ATS_V1_UNSUPPORTED", "archive-time-stamp (v1, TS 101 733 V1.x)")
            # The imprint is compared above; the token check covers the TSA's signature.
            token_check = verify_token(parsed, None, extra_certificates=certificates)
            checks.append(_assemble(kind, attribute, n, parsed, out, token_check))
    return sorted(checks, key=_chronological)


def _assemble(
    kind: AtsKind,
    attribute: RawAttribute,
    value_position: int,
    token: TimestampToken | None,
    out: _Outcome,
    token_check: TokenCheck | None,
) -> ArchiveTimestampCheck:
    if token_check is not None and token_check.failure_code is not None:
        out.fail(token_check.failure_code, token_check.failure_reason)
    warnings = list(out.warnings)
    if out.index is not None:
        warnings.extend(out.index.messages)
    if token_check is not None:
        warnings.extend(token_check.warnings)
    return ArchiveTimestampCheck(
        kind=kind,
        attribute_position=attribute.position,
        value_position=value_position,
        token=token,
        gen_time=token.gen_time if token is not None else None,
        hash_algorithm=token.hash_algorithm if token is not None else None,
        imprint_ok=out.imprint_ok,
        imprint_encoding=out.imprint_encoding,
        token_check=token_check,
        index_version=out.index_version,
        index=out.index,
        failure_code=out.failure_code,
        failure_reason=out.failure_reason,
        warnings=tuple(warnings),
    )


def _chronological(check: ArchiveTimestampCheck) -> tuple[bool, datetime | None, int, int, int]:
    size = check.index.size if check.index is not None else 0
    return (
        check.gen_time is None,
        check.gen_time,
        size,
        check.attribute_position,
        check.value_position,
    )


def verify_signature_timestamps(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo
) -> list[SignatureTimestampCheck]:
    """Verify every signature-time-stamp of ``signer_info`` (EN 319 122-1 §5.3), oldest first.

    A value that is not a TimeStampToken (e.g. one wrapped in an OCTET STRING) is reported as
    FORMAT_FAILURE.
    """
    sd = signed_data_parts(signed_data)
    si = signer_info_parts(signer_info)
    certificates = _outer_certificates(sd, si)
    signature_value = si.signature_value
    checks: list[SignatureTimestampCheck] = []
    for attribute in si.unsigned_attributes:
        if attribute.oid != SIGNATURE_TIME_STAMP:
            continue
        for n, value in enumerate(attribute.values):
            token, problem = _token_or_failure(value)
            if token is None:
                checks.append(
                    SignatureTimestampCheck(
                        attribute_position=attribute.position,
                        value_position=n,
                        token=None,
                        gen_time=None,
                        hash_algorithm=None,
                        imprint_ok=None,
                        token_check=None,
                        failure_code="FORMAT_FAILURE",
                        failure_reason=problem,
                    )
                )
                continue
            token_check = verify_token(
                token,
                lambda alg: digest_bytes(alg, signature_value),
                extra_certificates=certificates,
            )
            checks.append(
                SignatureTimestampCheck(
                    attribute_position=attribute.position,
                    value_position=n,
                    token=token,
                    gen_time=token.gen_time,
                    hash_algorithm=token.hash_algorithm,
                    imprint_ok=token_check.imprint_ok,
                    token_check=token_check,
                    failure_code=token_check.failure_code,
                    failure_reason=token_check.failure_reason,
                    warnings=token_check.warnings,
                )
            )
    return sorted(
        checks,
        key=lambda c: (c.gen_time is None, c.gen_time, c.attribute_position, c.value_position),
    )
