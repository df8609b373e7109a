"""The CMS signature core against real signatures from other tools (corpus/dss, MANIFEST.md).

Only signer signature values and message digests (and counter-signatures) are judged here:
time-stamps, archive time-stamps, evidence records, trust and revocation belong to other layers,
so a file whose B level is intact is ACCEPTED even when the manifest calls its T or A broken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.cms import (
    VerifiedSignature,
    certificates_of,
    check_signer_info,
    find_signer_certificate,
    parse_signature,
    verify_against_document,
)
from sigarchive.signatures.digests import digest_bytes, digest_file
from tests.support.corpus import corpus_root, require_corpus

ACCEPTED = None


@dataclass(frozen=True)
class Expect:
    """What the core must say about one corpus file."""

    refused: str | None = ACCEPTED  # the error code, or ACCEPTED
    content: str | None = None  # detached content, relative to corpus/dss
    signers: int = 1
    encoding: str = "der"  # signed_attrs_encoding of the (first) signer


SCREENSHOT2 = "cades/dss-1469/screenshot2.png"
HELLO_WORLD = "cades/dss-2011/hello-world.txt"

# Every signature file of corpus/dss/cades and corpus/dss/asic-cades-extracted (content files
# excluded); test_table_covers_the_corpus keeps this list complete.
EXPECTATIONS: dict[str, Expect] = {
    "asic-cades-extracted/twoSignaturesOneTimeOneSigner/signature001.p7s": Expect(
        # ECDSA P-256. Inside its ASiC-E DSS calls B invalid (it covers the PDF instead of the
        # ASiC manifest); as the plain detached CAdES over the PDF it is, it verifies.
        content="asic-cades-extracted/twoSignaturesOneTimeOneSigner/DigitalSingleMarket.pdf"
    ),
    "cades/CAdESDoubleLTA.p7m": Expect(),
    "cades/Signature-C-A-XL-1.p7m": Expect(),
    "cades/Signature-C-B-LTA-10.p7m": Expect(),
    "cades/Signature-C-CZ_SIX-1.p7m": Expect(),  # BER
    # Decision 6: the sig-tst is wrapped in an OCTET STRING; unsigned attributes are left alone.
    "cades/Signature-C-DE_CRY-3.p7m": Expect(),
    # Decision 1: signed as stored, in non-DER order (DSS refuses, OpenSSL accepts).
    "cades/Signature-C-DE_CRY-4.p7m": Expect(encoding="as-stored"),
    "cades/Signature-C-HU_POL-3.p7m": Expect(),  # BER
    "cades/Signature-C-X-1.p7m": Expect(),
    "cades/Signature-CBp-B-1.p7m": Expect(),  # decision 5: GeneralizedTime signing-time
    "cades/Signature-CBp-LT-2.p7m": Expect(),
    "cades/cades-ats-v3-rev-val-crl.p7s": Expect(content=SCREENSHOT2),
    "cades/cades-ats-v3-rev-val-ocsp.p7s": Expect(),
    "cades/cades-ats-v3-wrong-cert.p7m": Expect(),  # only its ats-hash-index is wrong
    "cades/cades-ats-v3-wrong-crl.p7s": Expect(content=SCREENSHOT2),  # index wrong, B fine
    "cades/cades-bes-signeddata-enveloping.p7m": Expect(),  # eContentType id-signedData
    # Decision 2: PKCS#1 DigestInfo without NULL parameters (DSS accepts, OpenSSL refuses).
    "cades/cades-broken-sig-tst-and-ats-v3.cms": Expect(),
    "cades/cades-broken-sig-tst.p7m": Expect(),
    "cades/cades-dss1956.p7m": Expect(),  # A invalid (malformed index), B fine
    "cades/cades-dss1997.p7m": Expect(),
    "cades/cades-e-lt.p7m": Expect(),
    "cades/cades-extended-a.pkcs7": Expect(),
    "cades/cades-extended-epes.pkcs7": Expect(),
    "cades/cades-lta-copied-atst.p7m": Expect(),  # A broken, B and T fine
    "cades/cades-lta-duplicated-atst.p7m": Expect(),
    "cades/cades-t-copied-sigtst.p7m": Expect(),  # T broken, B fine
    "cades/cades-t-duplicated-sigtst.p7m": Expect(),
    "cades/cades_signeddata_extended_after_lta.p7m": Expect(),
    # Decision 4: no certificates at all (and an empty subjectKeyIdentifier).
    "cades/cms-no-sign-cert.p7m": Expect(refused="SignerCertificateNotFound"),
    "cades/cms-wrong-sign-cert-ref.p7m": Expect(),  # only the sig-tst's ESS reference is wrong
    "cades/counterSig.p7m": Expect(),  # BER, counter-signature with its own sig-tst
    "cades/counterSignedLTA.p7s": Expect(),
    "cades/dss-1220/CAdES-BpB_revoked_signingCertificate.p7m": Expect(),  # revoked: not our call
    "cades/dss-1220/CAdES-BpLTA_modified_ats_hash_element.p7m": Expect(),  # A broken, B fine
    "cades/dss-1220/CAdES-BpLTA_removed_ocsp.p7m": Expect(),
    "cades/dss-1220/CAdES-BpT_modified_ts_hash.p7m": Expect(),  # T broken, B fine
    "cades/dss-1401/sig_with_atsv2.p7s": Expect(),  # BER, constructed eContent
    # Decision 3: PSS parameters say SHA3-256, digestAlgorithm SHA-256 (DSS yes, OpenSSL no).
    "cades/dss-1419/CAdES-BpB-att-SHA256-SHA3_256withRSAandMGF1.p7m": Expect(),
    # Decision 3: declares sha512WithRSA but was signed over SHA-256 (DSS no, OpenSSL yes).
    "cades/dss-1419/CAdES-BpB-att-SHA256-SHA512withRSA.p7m": Expect(
        refused="SignatureVerificationFailed"
    ),
    "cades/dss-1419/CAdES-BpB-att-SHA3_256-SHA3_256withRSA.p7m": Expect(),
    "cades/dss-1469/cadesLTAwithATv2.sig": Expect(content=SCREENSHOT2),
    "cades/dss-1619/CAdES-XL-T1-Double-AV2.png.p7m": Expect(signers=2),
    "cades/dss-1670/signatureExtendedTwoLTA.p7s": Expect(content="cades/dss-1670/screenshot.png"),
    "cades/dss-1892/detached_with_counter_sig.p7m": Expect(
        content="cades/dss-1892/signed_content.bin"
    ),
    "cades/dss-2011/cades-detached.pkcs7": Expect(content=HELLO_WORLD),
    # Content altered after signing: message-digest not intact.
    "cades/dss-2011/cades-enveloping-broken.pkcs7": Expect(refused="DocumentDigestMismatch"),
    "cades/dss-2011/cades-enveloping.pkcs7": Expect(),
    "cades/dss-2011/cades-lta-detached.pkcs7": Expect(content=HELLO_WORLD),
    "cades/dss-2011/cades-tstv2-detached.p7s": Expect(content="cades/dss-2011/aaa.txt"),
    # Decision 1: signed as stored, in non-DER order (DSS refuses, OpenSSL accepts).
    "cades/dss-646/CAdES_A_DETACHED.csig": Expect(
        content="cades/dss-646/document.pdf", encoding="as-stored"
    ),
    # Decision 1: stored in non-DER order but signed over the DER-sorted form (DSS way).
    "cades/dss-667/BER_reordered_prova.txt.p7m": Expect(encoding="der-sorted"),
    # The "invalid" one has a broken evidence record; its signature itself is valid.
    "cades/evidence-record/C-E-ERS-detached-invalid.p7s": Expect(
        content="cades/evidence-record/helloworld.txt"
    ),
    "cades/evidence-record/C-E-ERS-detached.p7s": Expect(
        content="cades/evidence-record/helloworld.txt"
    ),
    "cades/evidence-record/C-E-ERS.p7m": Expect(),
    "cades/evidence-record/C-E-ERS_renewed_hashtree.p7m": Expect(),
    "cades/evidence-record/C-E-ERS_renewed_hashtree_invalid.p7m": Expect(),  # ER broken only
    "cades/evidence-record/Signature-C-LT-d233a2d9-a257-40dc-bcdb-bf4516b6d1da.p7m": Expect(),
    "cades/evidence-record/Signature-C-LTA-d233a2d9-a257-40dc-bcdb-bf4516b6d1da.p7m": Expect(),
    "cades/signedFile.pdf.p7s": Expect(signers=3),  # + 3 counter-signatures, one nested
    "cades/wrongContentHints.p7m": Expect(),  # BER, RSASSA-PSS signer and counter-signer
}

CONTENT_SUFFIXES = {".ers", ".bin", ".txt", ".pdf", ".png"}
COUNTER_SIGNED = {
    "cades/counterSig.p7m": 1,
    "cades/counterSignedLTA.p7s": 1,
    "cades/dss-1892/detached_with_counter_sig.p7m": 1,
    "cades/signedFile.pdf.p7s": 3,
    "cades/wrongContentHints.p7m": 1,
}


def dss(path: str) -> Path:
    return require_corpus("dss", path)


def verify_file(path: str, content: str | None = None) -> VerifiedSignature:
    parsed = parse_signature(dss(path).read_bytes())
    if content is None:
        assert parsed.encapsulated_content is not None, f"{path} is detached"
        data = parsed.encapsulated_content
        digests = {a: digest_bytes(a, data) for a in parsed.required_digest_algorithms}
    else:
        assert not parsed.is_attached
        digests = digest_file(dss(content), parsed.required_digest_algorithms)
    return verify_against_document(parsed, digests)


def test_table_covers_the_corpus() -> None:
    root = require_corpus("dss")
    found = {
        path.relative_to(root).as_posix()
        for folder in ("cades", "asic-cades-extracted")
        for path in (root / folder).rglob("*")
        if path.is_file() and path.suffix not in CONTENT_SUFFIXES
    }
    assert found == set(EXPECTATIONS)


@pytest.mark.parametrize("path", sorted(EXPECTATIONS))
def test_corpus_file(path: str) -> None:
    expect = EXPECTATIONS[path]
    if expect.refused is not ACCEPTED:
        with pytest.raises(SignatureRejected) as caught:
            verify_file(path, expect.content)
        assert caught.value.code == expect.refused
        assert caught.value.description.startswith("Signer 1 of 1")
        return
    result = verify_file(path, expect.content)
    assert len(result.signers) == expect.signers
    assert all(s.signature_ok and s.message_digest_ok for s in result.signers)
    assert result.signers[0].signed_attrs_encoding == expect.encoding
    assert result.signers[0].signer_certificate is not None


def test_generalized_time_signing_time() -> None:
    """Decision 5: a GeneralizedTime signing-time is read like a UTCTime one."""
    [signer] = verify_file("cades/Signature-CBp-B-1.p7m").signers
    assert signer.signing_time == dt.datetime(2013, 12, 6, 10, 50, tzinfo=dt.UTC)


def test_digest_info_without_null_needs_leniency() -> None:
    """Decision 2: the file really carries a DigestInfo with absent parameters."""
    parsed = parse_signature(dss("cades/cades-broken-sig-tst.p7m").read_bytes())
    signer_info = parsed.signed_data["signer_infos"][0]
    certificate = find_signer_certificate(signer_info["sid"], certificates_of(parsed.signed_data))
    assert certificate is not None
    key = load_der_public_key(certificate.public_key.dump())
    recovered = key.recover_data_from_signature(  # type: ignore[union-attr]
        signer_info["signature"].native, padding.PKCS1v15(), None
    )
    digest_info = algos.DigestInfo.load(recovered)
    assert digest_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert b"\x05\x00" not in recovered[:19]  # no NULL in the AlgorithmIdentifier
    assert verify_file("cades/cades-broken-sig-tst.p7m").signers[0].signature_ok


def test_sha512_with_rsa_over_sha256_names_the_algorithm() -> None:
    """Decision 3: refused, and the user is told which algorithms were declared."""
    with pytest.raises(SignatureRejected) as caught:
        verify_file("cades/dss-1419/CAdES-BpB-att-SHA256-SHA512withRSA.p7m")
    assert "sha512_rsa" in caught.value.description
    assert "digestAlgorithm sha256" in caught.value.description


def test_no_certificate_still_checks_the_message_digest() -> None:
    """Decision 4: the digest is intact, only the signature value cannot be checked."""
    parsed = parse_signature(dss("cades/cms-no-sign-cert.p7m").read_bytes())
    content = parsed.encapsulated_content
    assert content is not None
    check = check_signer_info(
        parsed.signed_data["signer_infos"][0],
        certificates_of(parsed.signed_data),
        lambda name: digest_bytes(name, content),
    )
    assert check.message_digest_ok and not check.signature_ok
    assert check.failure_code == "SignerCertificateNotFound"


@pytest.mark.parametrize(
    ("path", "wrong_content"),
    [
        ("cades/dss-2011/cades-detached.pkcs7", "cades/dss-2011/aaa.txt"),
        ("cades/dss-646/CAdES_A_DETACHED.csig", "cades/dss-1670/screenshot.png"),
        (
            "asic-cades-extracted/twoSignaturesOneTimeOneSigner/signature001.p7s",
            "cades/dss-646/document.pdf",
        ),
    ],
)
def test_detached_signature_against_the_wrong_document(path: str, wrong_content: str) -> None:
    with pytest.raises(SignatureRejected) as caught:
        verify_file(path, wrong_content)
    assert caught.value.code == "DocumentDigestMismatch"


def _counter_signers(signer_info: cms.SignerInfo) -> list[tuple[cms.SignerInfo, bytes]]:
    """(counter-signer, countersigned signature value) pairs, nested ones included."""
    found = []
    unsigned = signer_info["unsigned_attrs"]
    for attribute in [] if isinstance(unsigned, core.Void) else unsigned:
        if attribute["type"].native == "counter_signature":
            for counter_signer in attribute["values"]:
                found.append((counter_signer, signer_info["signature"].native))
                found.extend(_counter_signers(counter_signer))
    return found


@pytest.mark.parametrize("path", sorted(COUNTER_SIGNED))
def test_counter_signatures_verify(path: str) -> None:
    """RFC 5652 §11.4: each counter-signature covers the countersigned signature value."""
    parsed = parse_signature(dss(path).read_bytes())
    certificates = certificates_of(parsed.signed_data)
    pairs = [p for si in parsed.signed_data["signer_infos"] for p in _counter_signers(si)]
    assert len(pairs) == COUNTER_SIGNED[path]
    for counter_signer, countersigned in pairs:
        check = check_signer_info(
            counter_signer, certificates, lambda name, c=countersigned: digest_bytes(name, c)
        )
        assert check.failure_code is None, check.failure_reason
        assert check.signature_ok and check.message_digest_ok


@pytest.mark.parametrize("path", ["cades/counterSig.p7m", "cades/wrongContentHints.p7m"])
def test_broken_counter_signature_is_refused(path: str) -> None:
    raw = dss(path).read_bytes()
    parsed = parse_signature(raw)
    [(counter_signer, _)] = _counter_signers(parsed.signed_data["signer_infos"][0])
    value: bytes = counter_signer["signature"].native
    at = raw.index(value) + len(value) // 2
    broken = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]
    assert raw.count(value) == 1

    parsed = parse_signature(broken)
    assert parsed.encapsulated_content is not None
    content = parsed.encapsulated_content
    digests = {a: digest_bytes(a, content) for a in parsed.required_digest_algorithms}
    with pytest.raises(SignatureRejected) as caught:
        verify_against_document(parsed, digests)
    assert caught.value.code == "CounterSignatureVerificationFailed"
    assert caught.value.description.startswith("Counter-signature 1 of signer 1")


def test_time_stamp_token_signer_info() -> None:
    """check_signer_info also checks an RFC 3161 token: its content is the TSTInfo eContent."""
    parsed = parse_signature(dss("cades/CAdESDoubleLTA.p7m").read_bytes())
    [attribute] = [
        a
        for a in parsed.signed_data["signer_infos"][0]["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    ]
    token = parse_signature(attribute["values"][0].dump())
    tst_info = token.encapsulated_content
    assert tst_info is not None
    check = check_signer_info(
        token.signed_data["signer_infos"][0],
        certificates_of(token.signed_data),
        lambda name: digest_bytes(name, tst_info),
        content_type="tst_info",
    )
    assert check.failure_code is None, check.failure_reason
    assert check.signature_ok and check.message_digest_ok


def test_corpus_location_can_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGARCHIVE_CORPUS", "/nonexistent/corpus")
    assert corpus_root() == Path("/nonexistent/corpus")
    with pytest.raises(pytest.skip.Exception, match="SIGARCHIVE_CORPUS"):
        require_corpus("dss")
