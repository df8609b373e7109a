"""What a signature carries, read once (sigarchive.signatures.inventory), on corpus files."""

from __future__ import annotations

from sigarchive.signatures import SignerInventory, TimestampKind, read_inventory
from sigarchive.signatures.inventory import Source
from tests.support.corpus import require_corpus


def _signer(name: str) -> SignerInventory:
    [signer] = read_inventory(require_corpus("dss", "cades", name).read_bytes()).signers
    return signer


def test_baseline_lt_carries_ocsp_in_signed_data_crls() -> None:
    signer = _signer("Signature-CBp-LT-2.p7m")
    assert signer.level == "B-LT"
    assert signer.signer_certificate is not None
    assert {(r.kind, r.source) for r in signer.revocations} == {("ocsp", Source.SIGNED_DATA)}
    assert all(
        r.ocsp_response()["response_status"].native == "successful" for r in signer.revocations
    )
    assert [t.kind for t in signer.timestamps] == [TimestampKind.SIGNATURE]
    # the TSA's certificates come from inside its token
    assert any(c.depth == 1 for c in signer.certificates)


def test_xl_form_carries_values_attributes_and_each_time_stamp_says_what_it_covers() -> None:
    signer = _signer("Signature-C-A-XL-1.p7m")
    assert signer.level == "B-LTA"
    assert {c.source for c in signer.certificates if c.depth == 0} == {
        Source.SIGNED_DATA,
        Source.CERTIFICATE_VALUES,
    }
    assert {(r.kind, r.source) for r in signer.revocations} == {("crl", Source.REVOCATION_VALUES)}
    kinds = [t.kind for t in signer.timestamps]
    assert kinds == [TimestampKind.SIGNATURE, TimestampKind.ESC, TimestampKind.ARCHIVE_V3]
    assert all(t.token is not None and t.covers for t in signer.timestamps)
    assert len(signer.archive_tokens()) == 1


def test_archive_v2_and_v3_tokens_and_what_is_inside_them() -> None:
    signer = _signer("Signature-C-B-LTA-10.p7m")
    assert {t.kind for t in signer.timestamps} >= {
        TimestampKind.ARCHIVE_V2,
        TimestampKind.ARCHIVE_V3,
    }
    assert len(signer.archive_tokens()) == 2
    # revocation-values inside a time-stamp token's own unsigned attributes are read too
    assert any(r.source is Source.REVOCATION_VALUES and r.depth == 1 for r in signer.revocations)
    assert signer.problems == ()
