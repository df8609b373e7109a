"""The ats-hash-index (EN 319 122-1 §5.5.2; TS 101 733 V2.2.1 §6.4.2): parsing, building, and
its consistency with the signature as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core

from sigarchive.signatures.asn1.ber import (
    CONTEXT,
    Tlv,
    der_tlv,
    octet_string_value,
    read_tlv,
    to_der,
)
from sigarchive.signatures.asn1.oids import (
    ATS_HASH_INDEX_V3,
    ID_PKIX_OCSP_BASIC,
    ID_PKIX_OCSP_RESPONSE,
    ID_RI_OCSP_RESPONSE,
)
from sigarchive.signatures.asn1.parts import (
    RawAttribute,
    SignedDataParts,
    SignerInfoParts,
    encode_attribute,
    signed_data_parts,
    signer_info_parts,
)
from sigarchive.signatures.asn1.schema import ATSHashIndexV3
from sigarchive.signatures.digests import SUPPORTED_DIGESTS, digest_bytes, new_hash
from sigarchive.signatures.inventory import SignerInventory, Source


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
        tlv = read_tlv(encoded)
        if tlv.end != len(encoded) or tlv.tag_class != 0 or tlv.tag != 16:
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
        0x30, core.ObjectIdentifier(ID_PKIX_OCSP_BASIC).dump() + der_tlv(0x04, basic)
    )
    full = der_tlv(0x30, b"\x0a\x01\x00" + der_tlv(0xA0, response_bytes))
    found = [basic, full]
    for oid in (ID_RI_OCSP_RESPONSE, ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_RESPONSE):
        for response in (full, basic):
            found.append(der_tlv(0xA1, core.ObjectIdentifier(oid).dump() + response))
    return found


def _revocation_choice_variants(choice: bytes) -> list[bytes]:
    """Encodings an index entry may use for this RevocationInfoChoice (notes §3).

    The element as stored; for an OCSP response in OtherRevocationInfoFormat also the
    OCSPResponse and the BasicOCSPResponse inside, which DSS accepts from old writers.
    """
    tlv = read_tlv(choice)
    if not tlv.is_a(CONTEXT, 1):
        return [choice]
    variants = [choice]
    try:
        fmt, info = tlv.children()
        oid = core.ObjectIdentifier.load(fmt.encoded).dotted
        if oid == ID_RI_OCSP_RESPONSE:
            variants.append(info.encoded)
            # OCSPResponse { responseStatus, [0] EXPLICIT ResponseBytes { OID, OCTET STRING } }
            response_bytes = info.children()[1].children()[0]
            variants.append(octet_string_value(response_bytes.children()[1]))
        elif oid == ID_PKIX_OCSP_BASIC:
            variants.append(info.encoded)
    except (ValueError, IndexError):
        pass
    return variants


def _outside(inventory: SignerInventory) -> tuple[list[bytes], list[bytes]]:
    """Certificates and revocation values held outside SignedData.certificates / crls: in
    certificate-values, revocation-values, time-stamp tokens and the attributes inside those
    tokens (the inventory's reading).

    A certificate found only inside an OCSP response does not count, as for DSS (notes §4.3,
    ``CAdES-BpLTA_removed_ocsp.p7m``: "not found"); neither do a token's own crls.
    """
    certs = [
        c.encoded
        for c in inventory.certificates
        if c.depth > 0 or c.source is not Source.SIGNED_DATA
    ]
    crls: list[bytes] = []
    for revocation in inventory.revocations:
        if revocation.source is not Source.REVOCATION_VALUES:
            continue
        if revocation.kind == "crl":
            crls.append(revocation.encoded)
        else:
            crls.extend(_wrap_basic_ocsp(revocation.encoded))
    return certs, crls


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


def check_index(
    index: AtsHashIndex, sd: SignedDataParts, si: SignerInfoParts, inventory: SignerInventory
) -> HashIndexCheck:
    """EN 319 122-1 §5.5.2 consistency, "lax" as DSS applies it (notes §4.3, §4.4)."""
    alg = index.algorithm
    out_certs, out_crls = _outside(inventory)

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
        type_tlv = read_tlv(encoding)
        return to_der(type_tlv.encoded) + to_der(encoding[type_tlv.end :])
    except ValueError:
        return None
