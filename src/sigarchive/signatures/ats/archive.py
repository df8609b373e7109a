"""Verifying every archive time-stamp of a signer (v3, v2; v1 reported as unsupported), oldest
first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from asn1crypto import cms

from sigarchive.signatures.asn1.oids import (
    ATS_V1,
    ATS_V2,
    ATS_V3,
)
from sigarchive.signatures.asn1.parts import (
    RawAttribute,
    SignedDataParts,
    signed_data_parts,
    signer_info_parts,
)
from sigarchive.signatures.ats.results import (
    ArchiveTimestampCheck,
    AtsKind,
    ContentChunks,
    ContentDigestFor,
    Outcome,
    outer_certificates,
    token_or_problem,
)
from sigarchive.signatures.ats.v2 import verify_v2
from sigarchive.signatures.ats.v3 import verify_v3
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.indications import FindingCode, SubIndication
from sigarchive.signatures.inventory import SignerInventory, read_signer
from sigarchive.signatures.timestamps.tokens import TimestampToken, TokenCheck, verify_token

_KIND_BY_OID = {ATS_V3: AtsKind.V3, ATS_V2: AtsKind.V2, ATS_V1: AtsKind.V1}


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


def verify_archive_timestamps(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest_for: ContentDigestFor | None = None,
    *,
    detached_content: ContentChunks | None = None,
    inventory: SignerInventory | None = None,
) -> list[ArchiveTimestampCheck]:
    """Verify every archive time-stamp of ``signer_info``, oldest first.

    ``content_digest_for(alg)`` gives H(signed content) — the eContent octets, or the detached
    document; by default it is computed from eContent. It may raise ``LookupError`` when the
    content is not available (SIGNED_DATA_NOT_FOUND). ``detached_content()`` yields the detached
    document in chunks; only archive-time-stamp-v2 needs it (Annex K hashes the content itself).
    Order: genTime, then index size (notes §4.7), then position. ``inventory`` is the
    signer's, when the caller has it already.
    """
    sd = signed_data_parts(signed_data)
    si = signer_info_parts(signer_info)
    digest_for = _content_digest_for(sd, content_digest_for)
    if inventory is None:
        inventory = read_signer(signed_data, signer_info)
    certificates = outer_certificates(inventory)
    tokens: dict[tuple[int, int], TimestampToken | str] = {
        (stamp.attribute_position, stamp.value_position): token_or_problem(stamp)
        for stamp in inventory.timestamps
        if stamp.kind.archival and stamp.depth == 0
    }

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
                out = Outcome()
                out.fail(SubIndication.FORMAT_FAILURE, parsed)
                checks.append(_assemble(kind, attribute, n, None, out, None))
                continue
            if kind is AtsKind.V3:
                out = verify_v3(parsed, sd, si, inventory, signed_data, digest_for)
            elif kind is AtsKind.V2:
                later = later_than(parsed.gen_time)
                out = verify_v2(parsed, attribute, sd, si, later, detached_content)
            else:
                out = Outcome()
                out.fail(FindingCode.ATS_V1_UNSUPPORTED, "archive-time-stamp (v1, TS 101 733 V1.x)")
            # The imprint is compared above; the token check covers the TSA's signature.
            token_check = verify_token(parsed, None, extra_certificates=certificates)
            checks.append(_assemble(kind, attribute, n, parsed, out, token_check))
    return sorted(checks, key=_chronological)


def _assemble(
    kind: AtsKind,
    attribute: RawAttribute,
    value_position: int,
    token: TimestampToken | None,
    out: Outcome,
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
