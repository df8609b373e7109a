"""archive-time-stamp-v3 (EN 319 122-1 §5.5.3): its imprint input, building a new one, and
verifying an existing one with its ats-hash-index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import cms

from sigarchive.signatures.asn1.ber import (
    der_tlv,
    read_tlv,
    to_der,
)
from sigarchive.signatures.asn1.oids import (
    ATS_HASH_INDEX_OIDS,
)
from sigarchive.signatures.asn1.parts import (
    ImprintEncoding,
    SignedDataParts,
    SignerInfoParts,
    signed_data_parts,
    signer_info_parts,
)
from sigarchive.signatures.asn1.schema import ATSHashIndexV3
from sigarchive.signatures.ats.hash_index import (
    AtsHashIndex,
    MalformedHashIndex,
    build_ats_hash_index_v3,
    check_index,
    parse_ats_hash_index,
)
from sigarchive.signatures.ats.results import ContentDigestFor, Outcome, digest_or_reason
from sigarchive.signatures.digests import digest_bytes, new_hash
from sigarchive.signatures.indications import FindingCode, SubIndication
from sigarchive.signatures.inventory import SignerInventory
from sigarchive.signatures.timestamps.tokens import TimestampToken

#: AlgorithmIdentifier { id-sha256 } without parameters, the DEFAULT of hashIndAlgorithm.
_SHA256_NO_PARAMS = bytes.fromhex("300b0609608648016503040201")


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


def verify_v3(
    token: TimestampToken,
    sd: SignedDataParts,
    si: SignerInfoParts,
    inventory: SignerInventory,
    signed_data: cms.SignedData,
    content_digest_for: ContentDigestFor,
) -> Outcome:
    """EN 319 122-1 §5.5.3 imprint, then §5.5.2 index consistency (notes §4)."""
    out = Outcome()
    index_attrs = [a for a in token.unsigned_attributes if a.oid in ATS_HASH_INDEX_OIDS]
    if not index_attrs or not index_attrs[0].values:
        # Without an index the imprint cannot be recomputed, hence it is not intact (§4.1).
        out.imprint_ok = False
        out.fail(
            FindingCode.ATS_HASH_INDEX_MISSING, "The ats-hash-index was not found or not supported."
        )
        return out
    version = ATS_HASH_INDEX_OIDS[index_attrs[0].oid]
    index_value = index_attrs[0].values[0]
    out.index_version = version
    if len(index_attrs) > 1 or len(index_attrs[0].values) > 1:
        count = sum(len(a.values) for a in index_attrs)
        out.fail(
            FindingCode.ATS_HASH_INDEX_MALFORMED,
            f"{count} ats-hash-index values where EN 319 122-1 §5.5.2 allows exactly one",
        )
    index: AtsHashIndex | None = None
    try:
        index = parse_ats_hash_index(index_value, version)
    except MalformedHashIndex as exc:
        out.fail(FindingCode.ATS_HASH_INDEX_MALFORMED, f"malformed ats-hash-index: {exc}")
    if index is not None and index.algorithm != token.hash_algorithm:
        out.warnings.append(
            f"hashIndAlgorithm {index.algorithm} differs from the time-stamp's "
            f"{token.hash_algorithm} (EN 319 122-1 §5.5.2)"
        )

    digest, reason = digest_or_reason(content_digest_for, token.hash_algorithm)
    if digest is None:
        out.fail(SubIndication.SIGNED_DATA_NOT_FOUND, reason)
    else:
        out.imprint_ok = False
        attempts = (
            (ImprintEncoding.AS_STORED, index_value),
            (ImprintEncoding.DER, _dss_index_encoding(index_value, version)),
        )
        for encoding, index_bytes in attempts:
            try:
                data = ats_v3_message_imprint_input(
                    signed_data, inventory.signer_info, digest, index_bytes, encoding=encoding
                )
            except ValueError:
                continue
            if digest_bytes(token.hash_algorithm, data) == token.message_imprint:
                out.imprint_ok, out.imprint_encoding = True, encoding.value
                break
        else:
            out.fail(
                SubIndication.HASH_FAILURE,
                "the archive-time-stamp-v3 messageImprint does not match",
            )
    if index is not None:
        out.index = check_index(index, sd, si, inventory)
    return out


def _dss_index_encoding(index_value: bytes, version: int) -> bytes:
    """The index as DSS recomposes it before hashing (notes §2.1): DER, and for idx v2/v3
    without an algorithm, SHA-256 inserted without parameters."""
    try:
        der = to_der(index_value)
        tlv = read_tlv(der)
        if version >= 2 and len(tlv.children()) == 3:
            return der_tlv(0x30, _SHA256_NO_PARAMS + tlv.content)
        return der
    except ValueError:
        return index_value
