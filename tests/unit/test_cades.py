"""CAdES augmentation B → T → LT → A by byte splicing (sigarchive.signatures.augment).

Real signatures (``openssl cms -sign``, pyHanko for Ed25519), a real TSA and OCSP responder
(the development PKI served over HTTP on loopback), and independent checks: ``openssl cms
-verify`` for the signatures, ``openssl ts -verify`` for every token, the archive's own
ATSv3 verifier for imprint and index.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asn1crypto import cms, ocsp
from cryptography.hazmat.primitives import serialization

from sigarchive.devpki import DevPkiServer, DevTsa
from sigarchive.devpki.pki import DevPki
from sigarchive.errors import InvalidInput, SignatureRejected
from sigarchive.signatures import augment as cades
from sigarchive.signatures.asn1 import ber
from sigarchive.signatures.asn1.oids import (
    ATS_HASH_INDEX_V3,
    ATS_V2,
    ATS_V3,
    COUNTER_SIGNATURE,
    ID_RI_OCSP_RESPONSE,
    SIGNATURE_TIME_STAMP,
)
from sigarchive.signatures.asn1.parts import signed_data_parts, signer_info_parts
from sigarchive.signatures.ats import (
    ArchiveTimestampCheck,
    ats_v3_message_imprint_input,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.cms import parse_signature, verify_against_document
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.inventory import signature_level
from sigarchive.signatures.timestamps import TsaUnavailable
from sigarchive.signatures.timestamps.http_client import HttpTimeStamper
from sigarchive.signatures.timestamps.tokens import parse_timestamp_token
from tests.support.corpus import require_corpus
from tests.support.pki import throwaway_pki
from tests.support.signing import make_signature

DOCUMENT = b"sigarchive CAdES augmentation test document\n" * 20


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPki]:
    server = DevPkiServer(tmp_path_factory.mktemp("devpki"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def tsa(dev_pki: DevPki) -> Iterator[HttpTimeStamper]:
    with HttpTimeStamper([dev_pki.tsa_url], retries=0) as stamper:
        yield stamper


@dataclass(frozen=True)
class Material:
    """Validation data fetched from the development PKI's services."""

    certificates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    ocsp_responses: tuple[bytes, ...]


def _ocsp_response(pki: DevPki, cert_path: Path, out: Path) -> bytes:
    """An OCSP response about ``cert_path`` from the dev responder (``openssl ocsp``)."""
    command = ["openssl", "ocsp", "-issuer", str(pki.root.cert_path), "-cert", str(cert_path)]
    command += ["-url", pki.ocsp_url, "-respout", str(out), "-noverify", "-no_nonce"]
    subprocess.run(command, check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def tsa_material(dev_pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Material:
    """The TSA's chain, the CRL and an OCSP response for the TSA certificate."""
    crl = httpx.get(dev_pki.crl_url).content
    ocsp = _ocsp_response(dev_pki, dev_pki.tsa.cert_path, tmp_path_factory.mktemp("o") / "r")
    return Material((dev_pki.tsa.der, dev_pki.root.der), (crl,), (ocsp,))


def _signer_material(base: Material, signers: int, key: str) -> Material:
    pki = throwaway_pki()
    certs = [
        pki.identity(key, n).certificate.public_bytes(serialization.Encoding.DER)
        for n in range(1, signers + 1)
    ]
    root = pki.root_cert.public_bytes(serialization.Encoding.DER)
    return Material((*certs, root, *base.certificates), base.crls, base.ocsp_responses)


# --- independent checks --------------------------------------------------------------------------


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def openssl_cms_verify(signature: bytes, tmp: Path, content: bytes | None) -> None:
    (tmp / "sig.p7s").write_bytes(signature)
    command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-noverify"]
    command += ["-in", str(tmp / "sig.p7s"), "-out", "/dev/null"]
    if content is not None:
        (tmp / "content").write_bytes(content)
        command += ["-content", str(tmp / "content")]
    result = _run(command)
    assert result.returncode == 0, result.stderr


def openssl_ts_verify(token: bytes, digest: bytes, pki: DevPki, tmp: Path) -> None:
    (tmp / "token.tst").write_bytes(token)
    command = ["openssl", "ts", "-verify", "-digest", digest.hex(), "-token_in"]
    command += ["-in", str(tmp / "token.tst"), "-CAfile", str(pki.root.cert_path)]
    command += ["-untrusted", str(pki.tsa.cert_path)]
    result = _run(command)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def _signers(signature: bytes) -> tuple[cms.SignedData, list[cms.SignerInfo]]:
    signed_data = cms.ContentInfo.load(signature)["content"]
    return signed_data, list(signed_data["signer_infos"])


def _values(signer_info: cms.SignerInfo, oid: str) -> list[bytes]:
    attributes = signer_info_parts(signer_info).unsigned_attributes
    return [v for a in attributes if a.oid == oid for v in a.values]


def _signed_fields(signature: bytes) -> list[list[bytes]]:
    """version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature per signer."""
    return [signer_info_parts(si).signed_fields() for si in _signers(signature)[1]]


def check_tokens(
    signature: bytes,
    digest_for: Callable[[str], bytes],
    pki: DevPki,
    tmp: Path,
) -> list[list[ArchiveTimestampCheck]]:
    """Every sig-tst and ATSv3 of our TSA: openssl ts -verify and our verifier agree."""
    signed_data, signer_infos = _signers(signature)
    archive_checks = []
    for signer_info in signer_infos:
        value = signer_info_parts(signer_info).signature_value
        for check in verify_signature_timestamps(signed_data, signer_info):
            assert check.imprint_ok, check
        for token in _values(signer_info, SIGNATURE_TIME_STAMP):
            parsed = parse_timestamp_token(token)
            if parsed.policy == pki.tsa_policy:
                digest = digest_bytes(parsed.hash_algorithm, value)
                openssl_ts_verify(token, digest, pki, tmp)
        checks = verify_archive_timestamps(signed_data, signer_info, digest_for)
        for check in checks:
            assert check.imprint_ok, check
            if check.kind.value == "v3":
                assert check.index is not None and check.index.ok, check
        for token in _values(signer_info, ATS_V3):
            parsed = parse_timestamp_token(token)
            if parsed.policy != pki.tsa_policy:
                continue
            [index] = [a for a in parsed.unsigned_attributes if a.oid == ATS_HASH_INDEX_V3]
            algorithm = parsed.hash_algorithm
            data = ats_v3_message_imprint_input(
                signed_data, signer_info, digest_for(algorithm), index.values[0]
            )
            openssl_ts_verify(token, digest_bytes(algorithm, data), pki, tmp)
        archive_checks.append(checks)
    return archive_checks


def _document_digests(document: bytes) -> Callable[[str], bytes]:
    return lambda algorithm: digest_bytes(algorithm, document)


def verify_document(signature: bytes, document: bytes) -> None:
    """Our own CMS verifier: every signer and counter-signer against the document."""
    parsed = parse_signature(signature)
    digests = {a: digest_bytes(a, document) for a in parsed.required_digest_algorithms}
    verify_against_document(parsed, digests)


def _levels(signature: bytes) -> set[str]:
    signed_data = cms.ContentInfo.load(signature)["content"]
    return {signature_level(signed_data, si) for si in _signers(signature)[1]}


# --- the TLV splicing helper --------------------------------------------------------------------


def test_rewrap_keeps_the_length_form_and_identifier() -> None:
    definite = ber.read_tlv(bytes.fromhex("3003020101"))
    assert ber.rewrap(definite, b"\x05\x00" * 100) == b"\x30\x81\xc8" + b"\x05\x00" * 100
    indefinite = ber.read_tlv(bytes.fromhex("a0800201010000"))
    assert indefinite.indefinite and bytes(indefinite.content_view) == b"\x02\x01\x01"
    assert ber.append_children(indefinite, [b"\x05\x00"]) == bytes.fromhex("a08002010105000000")
    high_tag = ber.read_tlv(bytes.fromhex("bf812103020101"))  # [161] constructed
    assert (high_tag.tag, high_tag.identifier) == (161, bytes.fromhex("bf8121"))
    assert ber.append_children(high_tag, [b"\x05\x00"]) == bytes.fromhex("bf8121050201010500")
    long_form = ber.read_tlv(b"\x04\x82\x00\x02ab")  # non-minimal length: made minimal
    assert ber.rewrap(long_form, b"abc") == b"\x04\x03abc"


def test_read_element_walks_nested_indefinite_lengths_by_offset() -> None:
    data = bytes.fromhex("3080a0800401ff00000201050000")
    outer = ber.read_tlv(data)
    assert (outer.content_start, outer.content_end, outer.end) == (2, 12, 14)
    inner, integer = outer.children()
    assert inner.indefinite and inner.encoded == bytes.fromhex("a0800401ff0000")
    assert integer.encoded == bytes.fromhex("020105") and not integer.indefinite
    assert [c.encoded for c in inner.children()] == [bytes.fromhex("0401ff")]
    # Splicing an inner element keeps the outer one's indefinite form.
    spliced = ber.wrap(outer, [*ber.appended(inner, [b"\x05\x00"]), integer.view])
    assert b"".join(spliced) == bytes.fromhex("3080a0800401ff050000000201050000")
    for bad in ("3080", "04800000", "3005020101", "30820001", "1f"):
        with pytest.raises(ValueError):
            ber.read_tlv(bytes.fromhex(bad))


def test_not_cms_is_rejected(tsa: HttpTimeStamper) -> None:
    with pytest.raises(SignatureRejected):
        cades.add_signature_timestamp(b"\x30\x03\x02\x01\x01", tsa)
    with pytest.raises(SignatureRejected):
        cades.add_validation_data(make_signature(DOCUMENT) + b"\x00")


# --- B → T → LT → A → renewal ------------------------------------------------------------------

CASES = [
    # key, detached, ber, signers, ATS algorithm
    pytest.param("rsa", True, False, 1, "sha256", id="rsa-detached-der"),
    pytest.param("rsa", False, True, 1, "sha256", id="rsa-attached-ber-stream"),
    pytest.param("ec-p256", False, False, 1, "sha512", id="ec-attached-der-sha512"),
    pytest.param("ec-p256", True, True, 1, "sha256", id="ec-detached-ber"),
    pytest.param("ed25519", True, False, 1, "sha256", id="ed25519-detached"),
    pytest.param("ed25519", False, True, 1, "sha384", id="ed25519-attached-ber"),
    pytest.param("rsa", False, False, 2, "sha256", id="two-signers-attached"),
    pytest.param("ec-p256", True, True, 2, "sha256", id="two-signers-detached-ber"),
]


@pytest.mark.parametrize(("key", "detached", "ber", "signers", "algorithm"), CASES)
def test_b_to_lta_and_renewal(
    key: str,
    detached: bool,
    ber: bool,
    signers: int,
    algorithm: str,
    dev_pki: DevPki,
    tsa: HttpTimeStamper,
    tsa_material: Material,
    tmp_path: Path,
) -> None:
    original = make_signature(
        DOCUMENT,
        key=key,
        digest="sha512" if key == "ed25519" else "sha256",  # RFC 8419 §3: SHA-512 with Ed25519
        detached=detached,
        ber=ber,
        signers=signers,
    )
    content = DOCUMENT if detached else None
    digest_for = _document_digests(DOCUMENT)
    fields = _signed_fields(original)
    openssl_can_verify = key != "ed25519"  # OpenSSL 3.0 CMS cannot verify Ed25519

    def still_valid(signature: bytes) -> None:
        verify_document(signature, DOCUMENT)
        if openssl_can_verify:
            openssl_cms_verify(signature, tmp_path, content)
        assert _signed_fields(signature) == fields
        for signer_fields in fields:
            for field in signer_fields:
                assert field in signature  # byte-identical, as stored
        if ber:
            assert signature[:2] == b"\x30\x80"  # indefinite envelopes stay indefinite

    assert _levels(original) == {"B-B"}

    # B-T: EN 319 122-1 §5.3
    t_level = cades.add_signature_timestamp(original, tsa, algorithm=algorithm)
    still_valid(t_level)
    assert _levels(t_level) == {"B-T"}
    check_tokens(t_level, digest_for, dev_pki, tmp_path)
    assert cades.add_signature_timestamp(t_level, tsa) is t_level

    # B-LT: validation data in SignedData.certificates / crls
    material = _signer_material(tsa_material, signers, key)
    lt_level = cades.add_validation_data(
        t_level,
        certificates=material.certificates,
        crls=material.crls,
        ocsp_responses=material.ocsp_responses,
    )
    still_valid(lt_level)  # B-LT level: see test_levels_reports_b_lt
    again = cades.add_validation_data(
        lt_level,
        certificates=material.certificates,
        crls=material.crls,
        ocsp_responses=material.ocsp_responses,
    )
    assert again is lt_level
    signed_data = cms.ContentInfo.load(lt_level)["content"]
    assert signed_data["version"].native == "v5"  # RFC 5652 §5.1: other revocation info
    revocation = [c.name for c in signed_data["crls"]]
    assert revocation == ["crl", "other"]

    # B-LTA: EN 319 122-1 §5.5.3
    # Attached: let eContent (BER: its segments) give H(content).
    lta = cades.add_archive_timestamp_v3(
        lt_level, digest_for if detached else None, tsa, algorithm=algorithm
    )
    still_valid(lta)
    assert _levels(lta) == {"B-LTA"}
    digest_algorithms = {
        a["algorithm"].native for a in cms.ContentInfo.load(lta)["content"]["digest_algorithms"]
    }
    assert algorithm in digest_algorithms
    [checks] = {len(c) for c in check_tokens(lta, digest_for, dev_pki, tmp_path)}
    assert checks == 1

    # Renewal: validation data of the newest ATS's TSA, then a new ATSv3 covering the old.
    renewed = cades.add_validation_data(lta, certificates=tsa_material.certificates)
    assert renewed is lta  # the TSA chain is already there
    renewed = cades.add_archive_timestamp_v3(renewed, digest_for, tsa, algorithm="sha256")
    still_valid(renewed)
    for signer_checks in check_tokens(renewed, digest_for, dev_pki, tmp_path):
        first, second = signer_checks
        assert first.ok and second.ok
        assert second.index is not None
        covered = {oid for _, oid in second.index.covered_attributes}
        assert {SIGNATURE_TIME_STAMP, ATS_V3} <= covered


def test_levels_reports_b_lt(tsa: HttpTimeStamper, tsa_material: Material) -> None:
    t_level = cades.add_signature_timestamp(make_signature(DOCUMENT), tsa)
    lt_level = cades.add_validation_data(
        t_level,
        certificates=_signer_material(tsa_material, 1, "rsa").certificates,
        crls=tsa_material.crls,
        ocsp_responses=tsa_material.ocsp_responses,
    )
    assert _levels(lt_level) == {"B-LT"}


def test_no_certificates_no_crls_no_signed_attributes(
    dev_pki: DevPki, tsa: HttpTimeStamper, tsa_material: Material, tmp_path: Path
) -> None:
    """[0] and [1] are created in their RFC 5652 §5.1 places; no signedAttrs is fine too."""
    signer = throwaway_pki().identity("rsa")
    (tmp_path / "doc").write_bytes(DOCUMENT)
    command = ["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-nocerts", "-noattr"]
    command += ["-signer", str(signer.cert_path), "-inkey", str(signer.key_path)]
    command += ["-in", str(tmp_path / "doc"), "-out", str(tmp_path / "b.p7s")]
    subprocess.run(command, check=True, capture_output=True)
    original = (tmp_path / "b.p7s").read_bytes()
    assert isinstance(cms.ContentInfo.load(original)["content"]["certificates"].native, type(None))

    signer_der = signer.certificate.public_bytes(serialization.Encoding.DER)
    lt_level = cades.add_validation_data(
        cades.add_signature_timestamp(original, tsa),
        certificates=[signer_der],
        ocsp_responses=tsa_material.ocsp_responses,
    )
    lta = cades.add_archive_timestamp_v3(lt_level, _document_digests(DOCUMENT), tsa)
    signed_data = cms.ContentInfo.load(lta)["content"]
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [signer_der]
    assert [c.name for c in signed_data["crls"]] == ["other"]
    openssl_cms_verify(lta, tmp_path, DOCUMENT)
    check_tokens(lta, _document_digests(DOCUMENT), dev_pki, tmp_path)


def test_validation_data_is_deduplicated_and_appended(tsa_material: Material) -> None:
    signature = make_signature(DOCUMENT)
    cert = throwaway_pki().identity("rsa").certificate.public_bytes(serialization.Encoding.DER)
    assert cades.add_validation_data(signature, certificates=[cert]) is signature
    stored = [c.dump() for c in cms.ContentInfo.load(signature)["content"]["certificates"]]
    extended = cades.add_validation_data(
        signature, certificates=[*tsa_material.certificates, *tsa_material.certificates]
    )
    after = [c.dump() for c in cms.ContentInfo.load(extended)["content"]["certificates"]]
    assert after == [*stored, *tsa_material.certificates]  # appended once, originals first


def test_basic_ocsp_response_is_wrapped_and_bad_ones_refused(tsa_material: Material) -> None:
    full = tsa_material.ocsp_responses[0]
    basic_der = ocsp.OCSPResponse.load(full)["response_bytes"]["response"].contents
    signature = make_signature(DOCUMENT)
    from_basic = cades.add_validation_data(signature, ocsp_responses=[basic_der])
    [other] = cms.ContentInfo.load(from_basic)["content"]["crls"]
    assert other.chosen["other_rev_info_format"].dotted == ID_RI_OCSP_RESPONSE
    assert ocsp.OCSPResponse.load(other.chosen["other_rev_info"].dump())["response_status"].native
    # The same response given in full form is already there.
    assert cades.add_validation_data(from_basic, ocsp_responses=[full]) is from_basic
    unauthorized = bytes.fromhex("30030a0106")
    with pytest.raises(InvalidInput):
        cades.add_validation_data(signature, ocsp_responses=[unauthorized])
    with pytest.raises(InvalidInput):
        cades.add_validation_data(signature, certificates=[b"\x04\x01x"])


class WrongImprintTsa:
    """A real (in-process) TSA asked for the wrong digest: its token must be refused."""

    def __init__(self, pki: DevPki) -> None:
        self.tsa = DevTsa.from_pki(pki)

    def timestamp(self, digest: bytes, algorithm: str) -> bytes:
        return self.tsa.timestamp(hashlib.new(algorithm, digest).digest(), algorithm)


def test_a_token_for_another_imprint_is_refused(dev_pki: DevPki) -> None:
    signature = make_signature(DOCUMENT)
    with pytest.raises(TsaUnavailable):
        cades.add_signature_timestamp(signature, WrongImprintTsa(dev_pki))
    with pytest.raises(TsaUnavailable):
        cades.add_archive_timestamp_v3(
            signature, _document_digests(DOCUMENT), WrongImprintTsa(dev_pki)
        )


def test_detached_needs_the_document(tsa: HttpTimeStamper) -> None:
    with pytest.raises(InvalidInput):
        cades.add_archive_timestamp_v3(make_signature(DOCUMENT), None, tsa)


# --- signatures made by other tools (corpus) --------------------------------------------------


def _corpus(*parts: str) -> bytes:
    return require_corpus("dss", "cades", *parts).read_bytes()


def _e_content_digests(signature: bytes) -> Callable[[str], bytes]:
    content = parse_signature(signature).encapsulated_content
    assert content is not None
    return _document_digests(content)


def test_corpus_t_with_duplicated_sig_tst_to_lta(
    dev_pki: DevPki, tsa: HttpTimeStamper, tsa_material: Material, tmp_path: Path
) -> None:
    original = _corpus("cades-t-duplicated-sigtst.p7m")
    digest_for = _e_content_digests(original)
    fields = _signed_fields(original)
    assert cades.add_signature_timestamp(original, tsa) is original
    lt_level = cades.add_validation_data(
        original,
        certificates=tsa_material.certificates,
        crls=tsa_material.crls,
        ocsp_responses=tsa_material.ocsp_responses,
    )
    lta = cades.add_archive_timestamp_v3(lt_level, digest_for, tsa)
    openssl_cms_verify(lta, tmp_path, None)
    assert _signed_fields(lta) == fields
    [[check]] = check_tokens(lta, digest_for, dev_pki, tmp_path)
    assert check.ok and check.index is not None
    assert check.index.unsigned_attrs == 2  # both (identical) signature-time-stamps
    assert len(verify_signature_timestamps(*_first_signer(lta))) == 2


def _first_signer(signature: bytes) -> tuple[cms.SignedData, cms.SignerInfo]:
    signed_data, signer_infos = _signers(signature)
    return signed_data, signer_infos[0]


def test_corpus_ber_cades_a_gets_another_ats(
    dev_pki: DevPki, tsa: HttpTimeStamper, tmp_path: Path
) -> None:
    original = _corpus("Signature-C-HU_POL-3.p7m")  # BER, idx v1 ATSv3 already
    digest_for = _e_content_digests(original)
    before = verify_archive_timestamps(*_first_signer(original))
    assert [c.imprint_ok for c in before] == [True]
    renewed = cades.add_archive_timestamp_v3(original, digest_for, tsa, algorithm="sha512")
    openssl_cms_verify(renewed, tmp_path, None)
    # encapContentInfo .. signature value as stored: the only change before the new ATS is
    # the sha512 entry appended to digestAlgorithms (EN 319 122-1 §5.5.3).
    unsigned_start = original.index(bytes.fromhex("a180"))  # the BER [1] unsignedAttrs
    assert original[37:unsigned_start] in renewed
    sha512 = bytes.fromhex("300b0609608648016503040203")  # RFC 5754 §2: no parameters
    assert renewed[17:50] == original[17:20] + b"\x31\x1c" + original[22:37] + sha512
    [[old, new]] = check_tokens(renewed, digest_for, dev_pki, tmp_path)
    assert old.imprint_ok and old.index_version == 1
    assert new.ok and new.index_version == 3 and new.hash_algorithm == "sha512"


def test_corpus_detached_lta(dev_pki: DevPki, tsa: HttpTimeStamper, tmp_path: Path) -> None:
    original = _corpus("dss-2011", "cades-lta-detached.pkcs7")
    document = _corpus("dss-2011", "hello-world.txt")
    digest_for = _document_digests(document)
    renewed = cades.add_archive_timestamp_v3(original, digest_for, tsa)
    openssl_cms_verify(renewed, tmp_path, document)
    [[old, new]] = check_tokens(renewed, digest_for, dev_pki, tmp_path)
    assert old.imprint_ok and new.ok
    assert new.index is not None and (len(new.index.covered_attributes)) == 2


def test_corpus_counter_signature_is_kept(
    dev_pki: DevPki, tsa: HttpTimeStamper, tmp_path: Path
) -> None:
    original = _corpus("counterSignedLTA.p7s")
    digest_for = _e_content_digests(original)
    [counter] = _values(_first_signer(original)[1], COUNTER_SIGNATURE)
    renewed = cades.add_archive_timestamp_v3(original, digest_for, tsa)
    assert _values(_first_signer(renewed)[1], COUNTER_SIGNATURE) == [counter]
    content = parse_signature(original).encapsulated_content
    assert content is not None
    verify_document(renewed, content)  # counter-signature checked too
    openssl_cms_verify(renewed, tmp_path, None)
    [[old, new]] = check_tokens(renewed, digest_for, dev_pki, tmp_path)
    assert old.ok and new.ok and new.index is not None
    assert COUNTER_SIGNATURE in {oid for _, oid in new.index.covered_attributes}


def test_corpus_atsv2_keeps_root_certificates(
    dev_pki: DevPki, tsa: HttpTimeStamper, tsa_material: Material, tmp_path: Path
) -> None:
    """With an ATSv2 present, new validation data goes into the newest archive token."""
    original = _corpus("dss-1401", "sig_with_atsv2.p7s")  # BER, ATSv2 (TS 101 733 Annex K)
    digest_for = _e_content_digests(original)
    extended = cades.add_validation_data(
        original, certificates=tsa_material.certificates, crls=tsa_material.crls
    )
    root_before = signed_data_parts(_signers(original)[0])
    root_after = signed_data_parts(_signers(extended)[0])
    assert root_before.certificates is not None and root_after.certificates is not None
    assert root_after.certificates.encoded == root_before.certificates.encoded
    assert root_after.revocation_choices == root_before.revocation_choices
    [ats_v2] = _values(_first_signer(extended)[1], ATS_V2)
    token_certs = {c.dump() for c in parse_timestamp_token(ats_v2).certificates}
    assert set(tsa_material.certificates) <= token_certs
    lta = cades.add_archive_timestamp_v3(extended, digest_for, tsa)
    openssl_cms_verify(lta, tmp_path, None)
    [[v2, v3]] = check_tokens(lta, digest_for, dev_pki, tmp_path)
    assert v2.kind.value == "v2" and v2.imprint_ok
    assert v3.ok
