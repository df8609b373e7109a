"""``verify_file`` against the DSS corpus (MANIFEST.md sections A, B and a few of C/D).

Each row pins the verdict for the file and, for anything but PASSED, the finding codes that
cause it: valid files PASS or carry index WARNINGS only; the tampered ones FAIL for the reason
the manifest gives. Trust is not judged (no trust anchors), as in DSS's base test class.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from sigarchive.cli.verify_render import print_report
from sigarchive.errors import SignatureRejected
from sigarchive.signatures.verify import (
    Finding,
    Verdict,
    VerificationReport,
    verify_file,
)
from tests.support.corpus import require_corpus
from tests.support.signing import make_signature

PASSED, WARNINGS, FAILED = Verdict.PASSED, Verdict.WARNINGS, Verdict.FAILED
INDETERMINATE = Verdict.INDETERMINATE
INDEX_WARNING = "ATS_HASH_INDEX_INCONSISTENT"

SCREENSHOT2 = "dss-1469/screenshot2.png"
HELLO_WORLD = "dss-2011/hello-world.txt"


@dataclass(frozen=True)
class Row:
    path: str  # relative to cades/
    verdict: Verdict
    #: (code, subject prefix) of every finding that is not a warning.
    failures: frozenset[tuple[str, str]] = frozenset()
    #: Codes of the warnings.
    warnings: frozenset[str] = frozenset()
    content: str | None = None
    #: Kinds of the signer's time-stamps, oldest first (first signer).
    kinds: tuple[str, ...] | None = None


def fail(code: str, subject: str) -> frozenset[tuple[str, str]]:
    return frozenset({(code, subject)})


INDEX = frozenset({INDEX_WARNING})
STT, V3, V2 = "signature-time-stamp", "archive-time-stamp-v3", "archive-time-stamp-v2"

ROWS = [
    # --- A. archive-time-stamp-v3 --------------------------------------------------------------
    Row("CAdESDoubleLTA.p7m", PASSED, kinds=(STT, V3, V3)),
    Row("cades_signeddata_extended_after_lta.p7m", PASSED, kinds=(STT, V3, V3)),
    Row("cades-extended-a.pkcs7", PASSED),
    Row("counterSignedLTA.p7s", PASSED),
    Row("cades-lta-duplicated-atst.p7m", PASSED, kinds=(STT, V3, V3)),
    # the ATSv3 attribute holds a copy of the signature-time-stamp: no ats-hash-index
    Row(
        "cades-lta-copied-atst.p7m",
        FAILED,
        fail("ATS_HASH_INDEX_MISSING", "archive-time-stamp-v3"),
    ),
    # a certificate hash inside the index altered: the imprint no longer matches
    Row(
        "dss-1220/CAdES-BpLTA_modified_ats_hash_element.p7m",
        FAILED,
        fail("HASH_FAILURE", "archive-time-stamp-v3"),
    ),
    # imprint intact; an index entry (the removed OCSP responder certificate) matches nothing
    Row("dss-1220/CAdES-BpLTA_removed_ocsp.p7m", WARNINGS, warnings=INDEX),
    Row("cades-ats-v3-wrong-cert.p7m", WARNINGS, warnings=INDEX),
    Row("cades-broken-sig-tst-and-ats-v3.cms", WARNINGS, warnings=INDEX),
    Row(
        "cades-ats-v3-rev-val-crl.p7s",
        WARNINGS,
        warnings=INDEX,
        content=SCREENSHOT2,
        kinds=(STT, V2, V3),  # physically the 2024 ATSv3 comes first
    ),
    Row("cades-ats-v3-wrong-crl.p7s", WARNINGS, warnings=INDEX, content=SCREENSHOT2),
    Row("cades-ats-v3-rev-val-ocsp.p7s", WARNINGS, warnings=INDEX),
    Row("Signature-C-A-XL-1.p7m", PASSED),
    Row("Signature-C-HU_POL-3.p7m", PASSED),  # BER
    Row("Signature-C-B-LTA-10.p7m", PASSED, kinds=(STT, V2, V3)),
    Row("cades-dss1997.p7m", WARNINGS, warnings=INDEX),
    # the ats-hash-index value is malformed
    Row("cades-dss1956.p7m", FAILED, fail("ATS_HASH_INDEX_MALFORMED", "archive-time-stamp-v3")),
    Row("Signature-C-CZ_SIX-1.p7m", PASSED),  # BER
    Row("dss-2011/cades-lta-detached.pkcs7", PASSED, content=HELLO_WORLD),
    Row("evidence-record/Signature-C-LTA-d233a2d9-a257-40dc-bcdb-bf4516b6d1da.p7m", PASSED),
    # --- B. archive-time-stamp-v2 / v1 -------------------------------------------------------
    Row("dss-1469/cadesLTAwithATv2.sig", PASSED, content=SCREENSHOT2, kinds=(STT, V2)),
    Row("dss-2011/cades-tstv2-detached.p7s", PASSED, content="dss-2011/aaa.txt"),
    Row("dss-1619/CAdES-XL-T1-Double-AV2.png.p7m", PASSED),  # 2 signers
    Row("dss-1401/sig_with_atsv2.p7s", PASSED),  # BER
    Row(
        "dss-1670/signatureExtendedTwoLTA.p7s",
        PASSED,
        content="dss-1670/screenshot.png",
        kinds=(STT, V2, V2),
    ),
    # signature and sig-tst intact; the old archive-time-stamp (v1) cannot be checked
    Row(
        "dss-646/CAdES_A_DETACHED.csig",
        INDETERMINATE,
        frozenset({("ATS_V1_UNSUPPORTED", "archive-time-stamp-v1")}),
        content="dss-646/document.pdf",
    ),
    # --- C. T / LT (a few) ---------------------------------------------------------------------
    Row(
        "dss-1220/CAdES-BpT_modified_ts_hash.p7m",
        FAILED,
        fail("HASH_FAILURE", "signature-time-stamp"),
    ),
    # the sig-tst is a copy of the content-time-stamp token
    Row("cades-t-copied-sigtst.p7m", FAILED, fail("HASH_FAILURE", "signature-time-stamp")),
    Row("cades-t-duplicated-sigtst.p7m", PASSED, kinds=(STT, STT)),
    Row("dss-1892/detached_with_counter_sig.p7m", PASSED, content="dss-1892/signed_content.bin"),
    Row("Signature-CBp-LT-2.p7m", PASSED),
    # the sig-tst's ESS reference names none of its certificates (DSS: INDETERMINATE too)
    Row(
        "cms-wrong-sign-cert-ref.p7m",
        INDETERMINATE,
        fail("NO_SIGNING_CERTIFICATE_FOUND", "signature-time-stamp"),
    ),
    # --- D. the broken message digest ------------------------------------------------------------
    Row(
        "dss-2011/cades-enveloping-broken.pkcs7",
        FAILED,
        fail("HASH_FAILURE", "message digest"),
    ),
]


def _verify(row: Row) -> VerificationReport:
    signature = require_corpus("dss", "cades", row.path).read_bytes()
    content = require_corpus("dss", "cades", row.content) if row.content else None
    return verify_file(signature, content)


def _not_warnings(findings: tuple[Finding, ...]) -> set[tuple[str, str]]:
    return {(f.code, f.subject) for f in findings if f.verdict is not Verdict.WARNINGS}


@pytest.mark.parametrize("row", ROWS, ids=[r.path for r in ROWS])
def test_corpus_verdict(row: Row) -> None:
    report = _verify(row)
    assert report.verdict is row.verdict, [str(f) for f in report.all_findings]
    failures = _not_warnings(report.all_findings)
    for code, subject in row.failures:
        assert any(c == code and s.startswith(subject) for c, s in failures), failures
    assert {code for code, _ in failures} == {code for code, _ in row.failures}
    warnings = {f.code for f in report.all_findings if f.verdict is Verdict.WARNINGS}
    assert warnings == row.warnings
    assert json.loads(json.dumps(report.to_json()))["verdict"] == row.verdict.value
    if row.kinds is not None:
        assert tuple(t.kind for t in report.signers[0].timestamps) == row.kinds


def test_time_stamps_are_oldest_first() -> None:
    """EN 319 122-1 does not order unsigned attributes: the report does (ATS-V3-NOTES §4.7)."""
    for row in ROWS:
        for signer in _verify(row).signers:
            known = [t.gen_time for t in signer.timestamps if t.gen_time is not None]
            assert known == sorted(known), row.path


def test_tampered_imprint_is_reported_on_the_time_stamp() -> None:
    report = _verify(ROWS[6])  # CAdES-BpLTA_modified_ats_hash_element
    signer = report.signers[0]
    assert signer.signature_ok is True and signer.message_digest_ok is True
    [ats] = [t for t in signer.timestamps if t.kind == "archive-time-stamp-v3"]
    assert ats.imprint_ok is False
    assert ats.token_signature_ok is True  # the TSA's signature is fine, the input is not
    assert ats.verdict is FAILED and ats.failure_code == "HASH_FAILURE"
    assert ats.index is not None and ats.index.certificates_not_found == 1


def test_broken_message_digest_keeps_the_signature_value_result() -> None:
    report = _verify(ROWS[-1])  # cades-enveloping-broken
    [signer] = report.signers
    assert signer.message_digest_ok is False
    assert signer.signature_ok is True  # the signed attributes are intact, the content is not
    assert signer.verdict is FAILED


def test_detached_without_content_is_signed_data_not_found() -> None:
    """EN 319 102-1: INDETERMINATE / SIGNED_DATA_NOT_FOUND, and everything else still checked."""
    signature = require_corpus("dss", "cades", "dss-2011", "cades-lta-detached.pkcs7")
    report = verify_file(signature.read_bytes(), None)
    assert report.verdict is INDETERMINATE
    assert not report.attached
    [signer] = report.signers
    assert signer.message_digest_ok is None
    assert signer.signature_ok is True  # checked over the signed attributes anyway
    codes = {f.code for f in signer.findings}
    assert codes == {"SIGNED_DATA_NOT_FOUND"}
    stt, ats = signer.timestamps
    assert stt.verdict is PASSED  # covers the signature value, not the document
    assert ats.imprint_ok is None and ats.failure_code == "SIGNED_DATA_NOT_FOUND"
    assert report.exit_code == 3


def test_detached_with_the_wrong_document_fails(tmp_path: Path) -> None:
    signature = require_corpus("dss", "cades", "dss-2011", "cades-lta-detached.pkcs7")
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(b"Hello World!")
    report = verify_file(signature.read_bytes(), wrong)
    assert report.verdict is FAILED
    failures = _not_warnings(report.all_findings)
    assert ("HASH_FAILURE", "message digest") in failures
    # the archive time-stamp covers H(document) too (EN 319 122-1 §5.5.3 b)
    assert any(c == "HASH_FAILURE" and s.startswith("archive-time-stamp-v3") for c, s in failures)


def test_attached_with_a_different_document_given_fails(tmp_path: Path) -> None:
    signature = require_corpus("dss", "cades", "CAdESDoubleLTA.p7m")
    other = tmp_path / "other"
    other.write_bytes(b"not the content")
    report = verify_file(signature.read_bytes(), other)
    assert report.verdict is FAILED
    assert [f.code for f in report.findings] == ["HASH_FAILURE"]
    assert all(s.verdict is PASSED for s in report.signers)


def test_two_parallel_signers_each_get_a_report() -> None:
    report = _verify(Row("dss-1619/CAdES-XL-T1-Double-AV2.png.p7m", PASSED))
    assert len(report.signers) == 2
    encodings = [
        t.imprint_encoding
        for s in report.signers
        for t in s.timestamps
        if t.kind == "archive-time-stamp-v2"
    ]
    assert encodings == ["v2.2.1", "v1.8.3"]


def test_counter_signature_is_checked() -> None:
    report = _verify(Row("counterSignedLTA.p7s", PASSED))
    [counter] = report.signers[0].counter_signatures
    assert counter.signature_ok and counter.verdict is PASSED


def test_evidence_records_are_not_claimed_verified() -> None:
    """An ER attribute is not verified here: never report PASSED as if it were."""
    report = verify_file(
        require_corpus("dss", "cades", "evidence-record", "C-E-ERS.p7m").read_bytes(), None
    )
    assert report.verdict is WARNINGS
    assert {f.code for f in report.all_findings} == {"EVIDENCE_RECORD_NOT_CHECKED"}
    assert "internal-evidence-record" in report.signers[0].not_checked


@pytest.mark.parametrize("garbage", [b"", b"not a signature", b"\x30\x03\x02\x01\x01"])
def test_unreadable_input_raises(garbage: bytes) -> None:
    with pytest.raises(SignatureRejected):
        verify_file(garbage, None)


@pytest.mark.parametrize("signed_attributes", [True, False])
def test_own_detached_signature(tmp_path: Path, signed_attributes: bool) -> None:
    """RFC 5652 §5.4: without signed attributes the signature covers the content itself, so
    without the document nothing but the structure can be checked."""
    document = tmp_path / "document.bin"
    document.write_bytes(b"signed bytes\n" * 1000)
    signature = make_signature(document.read_bytes(), signed_attributes=signed_attributes)
    assert verify_file(signature, document).verdict is PASSED
    alone = verify_file(signature, None)
    assert alone.verdict is INDETERMINATE
    [signer] = alone.signers
    assert signer.signature_ok is (True if signed_attributes else None)
    assert {f.code for f in signer.findings} == {"SIGNED_DATA_NOT_FOUND"}
    document.write_bytes(b"other bytes")
    assert verify_file(signature, document).verdict is FAILED


def test_readable_report_renders_every_row() -> None:
    for row in ROWS:
        console = Console(file=io.StringIO(), width=100, force_terminal=False)
        report = _verify(row)
        print_report(report, console)
        text = console.file.getvalue()  # type: ignore[attr-defined]
        assert text.rstrip().endswith(f"Verdict: {report.verdict.value}"), row.path
        for finding in report.all_findings:
            assert finding.code in text
