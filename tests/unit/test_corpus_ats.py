"""Signature- and archive-time-stamps of the DSS corpus, sections A, B and C of MANIFEST.md.

Each row states what the manifest says of the file (DSS's test and the independent check),
in our terms: per signature-time-stamp its failure code, per archive time-stamp (oldest first)
its kind, imprint result, failure code and ats-hash-index findings. Trust is not asserted:
these are technical checks, like DSS's base test class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from asn1crypto import cms

from sigarchive.signatures.asn1.oids import (
    ATS_V2,
    ATS_V3,
    CERTIFICATE_VALUES,
    COMPLETE_CERTIFICATE_REFS,
    COMPLETE_REVOCATION_REFS,
    COUNTER_SIGNATURE,
    ESC_TIME_STAMP,
    REVOCATION_VALUES,
    SIGNATURE_TIME_STAMP,
)
from sigarchive.signatures.asn1.parts import signer_info_parts
from sigarchive.signatures.ats import (
    ArchiveTimestampCheck,
    AtsKind,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.cms import parse_signature
from tests.support.corpus import require_corpus

V1, V2, V3 = AtsKind.V1, AtsKind.V2, AtsKind.V3
LEGACY = frozenset(
    {
        COMPLETE_CERTIFICATE_REFS,
        COMPLETE_REVOCATION_REFS,
        CERTIFICATE_VALUES,
        REVOCATION_VALUES,
        SIGNATURE_TIME_STAMP,
    }
)


@dataclass(frozen=True)
class Ats:
    """Expected result for one archive time-stamp."""

    kind: AtsKind
    imprint_ok: bool | None = True
    failure: str | None = None
    #: ats-hash-index version and (certificates, crls, unsigned attributes) entry counts.
    index: tuple[int, int, int, int] | None = None
    #: Index entries matching nothing / matching only objects outside SignedData.
    certs_not_found: int = 0
    certs_outside: int = 0
    crls_not_found: int = 0
    crls_outside: int = 0
    attrs_not_found: int = 0
    #: Attribute types the index covers, when the manifest says so.
    covers: frozenset[str] | None = None
    #: Which input variant matched ("as-stored", "v2.2.1", "v1.8.3" ...).
    encoding: str | None = None
    hash_algorithm: str = "sha256"


@dataclass(frozen=True)
class Row:
    path: str
    #: Detached content, relative to cades/.
    content: str | None = None
    signer: int = 0
    #: Failure code of each signature-time-stamp, oldest first (None = technically valid).
    sig_tsts: tuple[str | None, ...] = (None,)
    ats: tuple[Ats, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.path}#{self.signer}" if self.signer else self.path


SCREENSHOT2 = "dss-1469/screenshot2.png"

ROWS = [
    # --- A. archive-time-stamp-v3 --------------------------------------------------------------
    # valid; the 2nd ATSv3 covers the 1st; each index 3 certs / 2 crls, then 1 and 2 attributes
    Row(
        "CAdESDoubleLTA.p7m",
        ats=(
            Ats(V3, index=(1, 3, 2, 1), covers=frozenset({SIGNATURE_TIME_STAMP})),
            Ats(V3, index=(1, 3, 2, 2), covers=frozenset({SIGNATURE_TIME_STAMP, ATS_V3})),
        ),
    ),
    # same genTime: ordered by index size (4/2/1 before 5/3/2), not by position
    Row(
        "cades_signeddata_extended_after_lta.p7m",
        ats=(Ats(V3, index=(1, 4, 2, 1)), Ats(V3, index=(1, 5, 3, 2))),
    ),
    # signature-policy-store added after the ATSv3: not in its index, and that is fine
    Row(
        "cades-extended-a.pkcs7",
        ats=(Ats(V3, index=(3, 5, 2, 1), covers=frozenset({SIGNATURE_TIME_STAMP})),),
    ),
    # the ATSv3 covers the counter-signature (7 certs / 3 crls / 2 attrs, all matched)
    Row(
        "counterSignedLTA.p7s",
        ats=(
            Ats(
                V3, index=(3, 7, 3, 2), covers=frozenset({COUNTER_SIGNATURE, SIGNATURE_TIME_STAMP})
            ),
        ),
    ),
    Row(
        "cades-lta-duplicated-atst.p7m",
        ats=(Ats(V3, index=(3, 5, 2, 1)), Ats(V3, index=(3, 5, 2, 1))),
    ),
    # a copy of the sig-tst in an ATSv3 attribute: no index, imprint not intact; B and T valid
    Row(
        "cades-lta-copied-atst.p7m",
        ats=(Ats(V3, imprint_ok=False, failure="ATS_HASH_INDEX_MISSING"),),
    ),
    # one certificate hash of the index altered: HASH_FAILURE, 3/4 certificates found
    Row(
        "dss-1220/CAdES-BpLTA_modified_ats_hash_element.p7m",
        ats=(
            Ats(
                V3, imprint_ok=False, failure="HASH_FAILURE", index=(1, 4, 2, 1), certs_not_found=1
            ),
        ),
    ),
    # OCSP responder certificate removed after archiving: imprint ok, 3/4 certificates found
    Row(
        "dss-1220/CAdES-BpLTA_removed_ocsp.p7m",
        ats=(Ats(V3, index=(1, 4, 2, 1), certs_not_found=1),),
    ),
    # imprint intact, TST valid, one certificate entry matches nothing (5/6)
    Row(
        "cades-ats-v3-wrong-cert.p7m",
        ats=(Ats(V3, index=(3, 6, 2, 1), certs_not_found=1, hash_algorithm="sha512"),),
    ),
    # A valid; the index lists a certificate found only outside SignedData.certificates.
    # (DSS calls T "not valid" for a trust reason — signing time outside the TSA certificate's
    # validity; the sig-tst is technically intact, as the manifest's independent check says.)
    Row(
        "cades-broken-sig-tst-and-ats-v3.cms",
        ats=(Ats(V3, index=(3, 3, 1, 1), certs_outside=1, hash_algorithm="sha512"),),
    ),
    # legacy A + ATSv3 whose CRL entry is in revocation-values, not SignedData.crls
    Row(
        "cades-ats-v3-rev-val-crl.p7s",
        content=SCREENSHOT2,
        ats=(
            Ats(V2, encoding="v2.2.1"),
            Ats(
                V3,
                index=(3, 4, 1, 6),
                crls_outside=1,
                covers=LEGACY | {ATS_V2},
                hash_algorithm="sha512",
            ),
        ),
    ),
    Row(
        "cades-ats-v3-wrong-crl.p7s",
        content=SCREENSHOT2,
        ats=(
            Ats(V2, encoding="v2.2.1"),
            Ats(V3, index=(3, 4, 1, 6), crls_not_found=1, hash_algorithm="sha512"),
        ),
    ),
    # the OCSP entry is in revocation-values (DSS hashes it with format OID 1.3.6.1.5.5.7.48.1.4)
    Row(
        "cades-ats-v3-rev-val-ocsp.p7s",
        ats=(
            Ats(V2, encoding="v2.2.1", hash_algorithm="sha512"),
            Ats(V3, index=(3, 3, 1, 6), crls_outside=1, hash_algorithm="sha512"),
        ),
    ),
    Row(
        "Signature-C-A-XL-1.p7m",
        ats=(Ats(V3, index=(1, 4, 0, 6), covers=LEGACY | {ESC_TIME_STAMP}),),
    ),
    Row("Signature-C-HU_POL-3.p7m", ats=(Ats(V3, index=(1, 4, 2, 1)),)),
    Row(
        "Signature-C-B-LTA-10.p7m",
        ats=(Ats(V2, encoding="v2.2.1"), Ats(V3, index=(1, 4, 0, 6))),
    ),
    # certificate-values changed after the ATSv3 (idx v1 hashes whole attributes): 5/6 found
    Row("cades-dss1997.p7m", ats=(Ats(V3, index=(1, 1, 0, 6), attrs_not_found=1),)),
    # the index is malformed (its members stored as 4 attribute values): A not valid, T valid
    Row(
        "cades-dss1956.p7m",
        ats=(Ats(V3, failure="ATS_HASH_INDEX_MALFORMED", hash_algorithm="sha1"),),
    ),
    Row("Signature-C-CZ_SIX-1.p7m", ats=(Ats(V3, index=(1, 3, 2, 5)),)),
    Row(
        "dss-2011/cades-lta-detached.pkcs7",
        content="dss-2011/hello-world.txt",
        ats=(Ats(V3, index=(3, 5, 2, 1), encoding="as-stored"),),
    ),
    # ATSv3 token signed with ECDSA P-256
    Row(
        "evidence-record/Signature-C-LTA-d233a2d9-a257-40dc-bcdb-bf4516b6d1da.p7m",
        ats=(Ats(V3, index=(3, 7, 2, 1)),),
    ),
    # --- B. archive-time-stamp-v2 / old archive-time-stamp ---------------------------------------
    Row("dss-1469/cadesLTAwithATv2.sig", content=SCREENSHOT2, ats=(Ats(V2, encoding="v2.2.1"),)),
    Row(
        "dss-2011/cades-tstv2-detached.p7s",
        content="dss-2011/aaa.txt",
        ats=(Ats(V2, encoding="v1.8.3"),),
    ),
    Row("dss-1619/CAdES-XL-T1-Double-AV2.png.p7m", ats=(Ats(V2, encoding="v2.2.1"),)),
    Row("dss-1619/CAdES-XL-T1-Double-AV2.png.p7m", signer=1, ats=(Ats(V2, encoding="v1.8.3"),)),
    # BER: only matches over the original encodings
    Row("dss-1401/sig_with_atsv2.p7s", ats=(Ats(V2, encoding="v1.8.3"),)),
    Row(
        "dss-1670/signatureExtendedTwoLTA.p7s",
        content="dss-1670/screenshot.png",
        ats=(Ats(V2, encoding="v2.2.1"), Ats(V2, encoding="v2.2.1")),
    ),
    # T valid; the old archive-time-stamp (…2.27) is not supported
    Row(
        "dss-646/CAdES_A_DETACHED.csig",
        content="dss-646/document.pdf",
        ats=(Ats(V1, imprint_ok=None, failure="ATS_V1_UNSUPPORTED", hash_algorithm="sha1"),),
    ),
    # --- C. CAdES-T / LT / XL / X ----------------------------------------------------------------
    Row("cades-broken-sig-tst.p7m"),  # DSS: T not valid for a trust reason (see above)
    Row("dss-1220/CAdES-BpT_modified_ts_hash.p7m", sig_tsts=("HASH_FAILURE",)),
    Row("cades-t-copied-sigtst.p7m", sig_tsts=("HASH_FAILURE",)),
    Row("cades-t-duplicated-sigtst.p7m", sig_tsts=(None, None)),
    Row("dss-1892/detached_with_counter_sig.p7m", content="dss-1892/signed_content.bin"),
    # the sig-tst value is the token wrapped in an OCTET STRING: not a token
    Row("Signature-C-DE_CRY-3.p7m", sig_tsts=("FORMAT_FAILURE",)),
    Row("Signature-C-DE_CRY-4.p7m", sig_tsts=("FORMAT_FAILURE",)),
    Row("Signature-CBp-LT-2.p7m"),
    Row("evidence-record/Signature-C-LT-d233a2d9-a257-40dc-bcdb-bf4516b6d1da.p7m"),
    Row("cades-e-lt.p7m"),
    Row("Signature-C-X-1.p7m"),
    # the sig-tst's ESS reference names none of the certificates it carries
    Row("cms-wrong-sign-cert-ref.p7m", sig_tsts=("NO_SIGNING_CERTIFICATE_FOUND",)),
]


def _load(row: Row) -> tuple[cms.SignedData, cms.SignerInfo, bytes | None]:
    path = require_corpus("dss", "cades", row.path)
    signed_data = cms.ContentInfo.load(path.read_bytes())["content"]
    content = require_corpus("dss", "cades", row.content).read_bytes() if row.content else None
    return signed_data, signed_data["signer_infos"][row.signer], content


def _verify(row: Row) -> list[ArchiveTimestampCheck]:
    signed_data, signer_info, content = _load(row)
    if content is None:
        return verify_archive_timestamps(signed_data, signer_info)
    return verify_archive_timestamps(
        signed_data,
        signer_info,
        lambda alg: hashlib.new(alg, content).digest(),
        detached_content=lambda: [content],
    )


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_signature_timestamps(row: Row) -> None:
    signed_data, signer_info, _ = _load(row)
    checks = verify_signature_timestamps(signed_data, signer_info)
    assert tuple(c.failure_code for c in checks) == row.sig_tsts
    for check in checks:
        if check.failure_code is None:
            assert check.ok and check.imprint_ok
            assert check.token_check is not None and check.token_check.signature_ok
        elif check.failure_code == "HASH_FAILURE":
            assert check.imprint_ok is False


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_archive_timestamps(row: Row) -> None:
    checks = _verify(row)
    assert [c.kind for c in checks] == [a.kind for a in row.ats]
    for check, expected in zip(checks, row.ats, strict=True):
        assert check.imprint_ok is expected.imprint_ok
        assert check.failure_code == expected.failure, check.failure_reason
        assert check.hash_algorithm == expected.hash_algorithm
        assert check.signature_ok  # every archive token's own CMS signature verifies
        if expected.encoding is not None:
            assert check.imprint_encoding == expected.encoding
        index = check.index
        if expected.index is None:
            assert index is None
            continue
        assert index is not None
        assert (index.version, index.certificates, index.crls, index.unsigned_attrs) == (
            expected.index
        )
        found = (
            len(index.certificates_not_found),
            len(index.certificates_outside),
            len(index.crls_not_found),
            len(index.crls_outside),
            len(index.unsigned_attrs_not_found),
        )
        assert found == (
            expected.certs_not_found,
            expected.certs_outside,
            expected.crls_not_found,
            expected.crls_outside,
            expected.attrs_not_found,
        )
        assert index.ok is (sum(found) == 0)
        if expected.covers is not None:
            assert {oid for _, oid in index.covered_attributes} == expected.covers


def test_same_gen_time_ordered_by_index_size_not_position() -> None:
    first, second = _verify(Row("cades_signeddata_extended_after_lta.p7m"))
    assert first.gen_time == second.gen_time
    assert (first.attribute_position, second.attribute_position) == (2, 1)
    assert first.index is not None and second.index is not None
    assert first.index.size < second.index.size


def test_physical_order_is_not_chronological() -> None:
    """The 2024 ATSv3 is stored before the 2019 ATSv2 (Bouncy Castle sorts unsignedAttrs)."""
    v2, v3 = _verify(Row("cades-ats-v3-rev-val-crl.p7s", content=SCREENSHOT2))
    assert v3.attribute_position < v2.attribute_position
    assert v2.gen_time is not None and v3.gen_time is not None and v2.gen_time < v3.gen_time


def test_counter_signature_time_stamp() -> None:
    """The counter-signature of detached_with_counter_sig.p7m carries its own sig-tst."""
    signed_data, signer_info, _ = _load(Row("dss-1892/detached_with_counter_sig.p7m"))
    [attribute] = [
        a for a in signer_info_parts(signer_info).unsigned_attributes if a.oid == COUNTER_SIGNATURE
    ]
    counter = cms.SignerInfo.load(attribute.values[0])
    [check] = verify_signature_timestamps(signed_data, counter)
    assert check.ok


def test_modified_ts_hash_token_reports_its_own_digest_too() -> None:
    """BpT_modified_ts_hash: imprint mismatch, and the TST's own message-digest mismatches."""
    signed_data, signer_info, _ = _load(Row("dss-1220/CAdES-BpT_modified_ts_hash.p7m"))
    [check] = verify_signature_timestamps(signed_data, signer_info)
    assert check.token_check is not None
    assert check.imprint_ok is False and not check.token_check.message_digest_ok


def test_parsed_signature_from_the_cms_module_is_accepted() -> None:
    """What the application passes (cms.parse_signature of a BER upload) works the same."""
    raw = require_corpus("dss", "cades", "Signature-C-HU_POL-3.p7m").read_bytes()
    signed_data = parse_signature(raw).signed_data
    [check] = verify_archive_timestamps(signed_data, signed_data["signer_infos"][0])
    assert check.ok and check.index is not None and check.index.ok
