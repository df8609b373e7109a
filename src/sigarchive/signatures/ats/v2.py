"""archive-time-stamp-v2 (ETSI TS 101 733 V2.2.1 §6.4.1 and Annex K; EN 319 122-1 Annex A.2.4):
verified only, for archives made by other tools, in both the V2.2.1 and the V1.8.3 variant.
"""

from __future__ import annotations

from collections.abc import Callable

from sigarchive.errors import ArchiveError
from sigarchive.signatures.asn1.ber import (
    der_length,
)
from sigarchive.signatures.asn1.parts import (
    ImprintEncoding,
    RawAttribute,
    SignedDataParts,
    SignerInfoParts,
)
from sigarchive.signatures.ats.results import ContentChunks, Outcome
from sigarchive.signatures.digests import new_hash
from sigarchive.signatures.indications import SubIndication
from sigarchive.signatures.timestamps.tokens import TimestampToken


def verify_v2(
    token: TimestampToken,
    attribute: RawAttribute,
    sd: SignedDataParts,
    si: SignerInfoParts,
    later: Callable[[RawAttribute], bool],
    detached_content: ContentChunks | None,
) -> Outcome:
    """TS 101 733 V2.2.1 §6.4.1: H(encapContentInfo || [content] || certificates || crls ||
    SignerInfo fields || unsignedAttrs present before this time-stamp).

    V2.2.1 hashes the unsignedAttrs element with its [1] tag and length; V1.8.3 (Annex K note 3)
    only the attributes. Both are tried, each with signedAttrs as stored and in DER.
    """
    out = Outcome()
    try:
        h = new_hash(token.hash_algorithm)
    except ArchiveError as exc:
        out.fail(SubIndication.FORMAT_FAILURE, exc.description)
        return out
    h.update(sd.encap_content_info)
    if sd.e_content is None:
        if detached_content is None:
            out.fail(
                SubIndication.SIGNED_DATA_NOT_FOUND,
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
    out.fail(
        SubIndication.HASH_FAILURE,
        "the archive-time-stamp-v2 messageImprint does not match (Annex K)",
    )
    return out
