"""The CMS signature core against real signatures made by ``openssl cms -sign`` (and pyHanko).

Every accepted case goes through parse_signature + verify_against_document exactly as an upload
does; every refused one checks the error code the API will show.
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.asn1.ber import to_der as _to_der
from sigarchive.signatures.cms import (
    ParsedSignature,
    VerifiedSignature,
    certificates_of,
    check_signer_info,
    parse_signature,
    verify_against_document,
)
from sigarchive.signatures.digests import digest_bytes
from tests.support.pki import KEY_TYPES, throwaway_pki
from tests.support.signing import make_signature

DOCUMENT = b"%PDF-1.7\nA document to be archived for fifty years.\n" * 20
OTHER_DOCUMENT = DOCUMENT + b"tampered"

#: key type -> (default digest for it, signatureAlgorithm name OpenSSL/pyHanko writes)
ALGORITHMS = {
    "rsa": ("sha256", "rsassa_pkcs1v15"),  # OpenSSL writes plain rsaEncryption
    "rsa-pss": ("sha256", "rsassa_pss"),
    "ec-p256": ("sha256", "sha256_ecdsa"),
    "ec-p384": ("sha384", "sha384_ecdsa"),
    "ec-p521": ("sha512", "sha512_ecdsa"),
    "ed25519": ("sha512", "ed25519"),  # RFC 8419 §3.1: message digest with SHA-512
}


def verify(signature: bytes, document: bytes = DOCUMENT) -> VerifiedSignature:
    """What an upload does: parse, hash the document as required, verify."""
    parsed = parse_signature(signature)
    content = parsed.encapsulated_content if parsed.is_attached else document
    assert content is not None
    digests = {name: digest_bytes(name, content) for name in parsed.required_digest_algorithms}
    return verify_against_document(parsed, digests)


def refused(signature: bytes, document: bytes = DOCUMENT) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as caught:
        verify(signature, document)
    return caught.value


def flip_signature_byte(signature: bytes, signer: int = 0) -> bytes:
    """The signature with one bit of a signer's signature value flipped."""
    parsed = parse_signature(signature)
    value: bytes = parsed.signed_data["signer_infos"][signer]["signature"].native
    at = signature.index(value) + len(value) // 2
    return signature[:at] + bytes([signature[at] ^ 0x01]) + signature[at + 1 :]


# --- accepted: every algorithm, detached/attached, DER/BER -------------------------------------


@pytest.mark.parametrize("ber", [False, True], ids=["der", "ber"])
@pytest.mark.parametrize("detached", [True, False], ids=["detached", "attached"])
@pytest.mark.parametrize("key", KEY_TYPES)
def test_every_algorithm_and_encoding_is_accepted(key: str, detached: bool, ber: bool) -> None:
    digest, algorithm = ALGORITHMS[key]
    signature = make_signature(DOCUMENT, key=key, digest=digest, detached=detached, ber=ber)
    assert signature[:2] == (b"\x30\x80" if ber else b"\x30\x82")  # BER: indefinite length

    result = verify(signature)

    assert result.parsed.raw == signature
    assert result.parsed.is_attached is not detached
    assert result.parsed.encapsulated_content == (None if detached else DOCUMENT)
    assert result.parsed.required_digest_algorithms == {digest}
    assert result.digest_algorithm == digest
    assert result.document_digest == digest_bytes(digest, DOCUMENT)
    [signer] = result.signers
    assert (signer.signature_algorithm, signer.digest_algorithm) == (algorithm, digest)
    assert signer.message_digest_ok and signer.signature_ok
    assert signer.failure_code is None and signer.failure_reason is None
    assert signer.signed_attrs_encoding == "der"
    assert signer.signer_subject is not None and f"{key}-signer-1" in signer.signer_subject
    assert signer.signer_certificate is not None
    expected = throwaway_pki().identity(key).certificate.public_bytes(Encoding.DER)
    assert signer.signer_certificate.dump() == expected


@pytest.mark.parametrize(
    ("key", "digest"),
    [
        ("rsa", "sha1"),
        ("rsa", "sha224"),
        ("rsa", "sha384"),
        ("rsa", "sha512"),
        ("rsa", "sha512_256"),
        ("rsa", "sha3_256"),
        ("rsa", "sha3_512"),
        ("rsa-pss", "sha384"),
        ("rsa-pss", "sha512"),
        ("ec-p256", "sha512"),
        ("ec-p521", "sha256"),
    ],
)
def test_digest_algorithms(key: str, digest: str) -> None:
    [signer] = verify(make_signature(DOCUMENT, key=key, digest=digest)).signers
    assert signer.digest_algorithm == digest
    assert signer.signature_ok and signer.message_digest_ok


def test_signing_time_is_read() -> None:
    [signer] = verify(make_signature(DOCUMENT)).signers
    assert signer.signing_time is not None
    assert abs(signer.signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


@pytest.mark.parametrize("detached", [True, False], ids=["detached", "attached"])
@pytest.mark.parametrize("key", ["rsa", "ec-p384"])
def test_several_signers(key: str, detached: bool) -> None:
    signature = make_signature(DOCUMENT, key=key, signers=3, detached=detached)
    result = verify(signature)
    assert [s.index for s in result.signers] == [0, 1, 2]
    assert all(s.signature_ok and s.message_digest_ok for s in result.signers)
    subjects = [s.signer_subject or "" for s in result.signers]
    assert sorted(f"signer-{n}" in " ".join(subjects) for n in (1, 2, 3)) == [True] * 3


def test_one_bad_signer_among_several_is_named() -> None:
    signature = flip_signature_byte(make_signature(DOCUMENT, signers=2), signer=1)
    error = refused(signature)
    assert error.code == "SignatureVerificationFailed"
    assert error.description.startswith("Signer 2 of 2")


@pytest.mark.parametrize("detached", [True, False], ids=["detached", "attached"])
@pytest.mark.parametrize("key", ["rsa", "ec-p256"])
def test_without_signed_attributes(key: str, detached: bool) -> None:
    """RFC 5652 §5.4: no signedAttrs, the signature covers the content (checked via a digest)."""
    signature = make_signature(DOCUMENT, key=key, detached=detached, signed_attributes=False)
    [signer] = verify(signature).signers
    assert signer.signed_attrs_encoding == "none"
    assert signer.signing_time is None
    assert signer.signature_ok

    if detached:
        error = refused(signature, OTHER_DOCUMENT)
        assert error.code == "SignatureVerificationFailed"
        assert "without signed attributes" in error.description


# --- refused: wrong document, broken signature value ------------------------------------------


@pytest.mark.parametrize("key", ["rsa", "rsa-pss", "ec-p256", "ed25519"])
def test_detached_signature_of_another_document(key: str) -> None:
    signature = make_signature(DOCUMENT, key=key, digest=ALGORITHMS[key][0])
    error = refused(signature, OTHER_DOCUMENT)
    assert error.code == "DocumentDigestMismatch"
    assert error.description.startswith("Signer 1 of 1 (")
    assert "different content" in error.description


def test_attached_content_altered() -> None:
    signature = make_signature(DOCUMENT, detached=False)
    at = signature.index(DOCUMENT) + 10
    altered = signature[:at] + b"X" + signature[at + 1 :]
    assert refused(altered).code == "DocumentDigestMismatch"


@pytest.mark.parametrize("ber", [False, True], ids=["der", "ber"])
@pytest.mark.parametrize("key", KEY_TYPES)
def test_flipped_signature_byte(key: str, ber: bool) -> None:
    signature = make_signature(DOCUMENT, key=key, digest=ALGORITHMS[key][0], ber=ber)
    error = refused(flip_signature_byte(signature))
    assert error.code == "SignatureVerificationFailed"
    assert "does not verify" in error.description


def test_check_signer_info_reports_instead_of_raising() -> None:
    parsed = parse_signature(make_signature(DOCUMENT))
    signer_info = parsed.signed_data["signer_infos"][0]
    certificates = certificates_of(parsed.signed_data)

    def digest(name: str) -> bytes:
        return digest_bytes(name, DOCUMENT)

    no_certificate = check_signer_info(signer_info, [], digest, 3)
    assert no_certificate.index == 3
    assert no_certificate.message_digest_ok and not no_certificate.signature_ok
    assert no_certificate.failure_code == "SignerCertificateNotFound"
    assert no_certificate.signer_subject is None

    wrong_type = check_signer_info(signer_info, certificates, digest, content_type="tst_info")
    assert wrong_type.failure_code == "InvalidSignedAttributes"
    assert "content-type" in (wrong_type.failure_reason or "")

    ok = check_signer_info(signer_info, certificates, digest, content_type="data")
    assert ok.failure_code is None and ok.signature_ok and ok.message_digest_ok


# --- refused: not a binary CMS signature ------------------------------------------------------


def test_base64_is_refused_with_a_clear_message() -> None:
    signature = make_signature(DOCUMENT)
    for text in (base64.b64encode(signature), base64.encodebytes(signature)):
        with pytest.raises(SignatureRejected) as caught:
            parse_signature(text)
        assert caught.value.code == "SignatureIsBase64"
        assert "base64" in caught.value.description


@pytest.mark.parametrize("label", ["CMS", "PKCS7"])
def test_pem_is_refused_with_a_clear_message(label: str) -> None:
    text = pem.armor(label, make_signature(DOCUMENT))
    with pytest.raises(SignatureRejected) as caught:
        parse_signature(text)
    assert caught.value.code == "SignatureIsBase64"
    assert "PEM" in caught.value.description


NOT_CMS = [
    "empty",
    "garbage",
    "text",
    "truncated",
    "truncated-by-one",
    "trailing-garbage",
    "trailing-text",
    "base64-of-garbage",
    "pem-certificate",
    "der-certificate",
    "data-content-info",
]


def _not_cms_cases() -> dict[str, bytes]:
    signature = make_signature(DOCUMENT)
    certificate = throwaway_pki().identity("rsa").cert_path.read_bytes()
    return {
        "empty": b"",
        "garbage": b"\x00\x01garbage\xff" * 10,
        "text": b"hello, this is not a signature\n",
        "truncated": signature[: len(signature) // 2],
        "truncated-by-one": signature[:-1],
        "trailing-garbage": signature + b"\x00",
        "trailing-text": signature + b"extra",
        "base64-of-garbage": base64.b64encode(b"\x30\x03\x02\x01\x01garbage"),
        "pem-certificate": certificate,
        "der-certificate": pem.unarmor(certificate)[2],
        "data-content-info": cms.ContentInfo(
            {"content_type": "data", "content": cms.OctetString(b"x")}
        ).dump(),
    }


@pytest.mark.parametrize("case", NOT_CMS)
def test_not_cms(case: str) -> None:
    with pytest.raises(SignatureRejected) as caught:
        parse_signature(_not_cms_cases()[case])
    assert caught.value.code == "NotCms"
    assert caught.value.description


def test_signed_data_without_signers() -> None:
    """A certificates-only SignedData (``openssl crl2pkcs7``) has nobody to verify."""
    identity = throwaway_pki().identity("rsa")
    degenerate = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(identity.cert_path), "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    with pytest.raises(SignatureRejected) as caught:
        parse_signature(degenerate)
    assert caught.value.code == "NoSigners"


def openssl_sign(cert: Path, key: Path, digest: str) -> bytes:
    """A detached signature by ``openssl cms -sign`` with any key and digest OpenSSL accepts."""
    command = ["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", digest]
    command += ["-signer", str(cert), "-inkey", str(key)]
    return subprocess.run(command, input=DOCUMENT, capture_output=True, check=True).stdout


def test_unsupported_digest_algorithm() -> None:
    identity = throwaway_pki().identity("rsa")
    with pytest.raises(SignatureRejected) as caught:
        parse_signature(openssl_sign(identity.cert_path, identity.key_path, "md5"))
    assert caught.value.code == "UnsupportedAlgorithm"
    assert "md5" in caught.value.description


def test_parsed_signature_is_what_callers_need() -> None:
    signature = make_signature(DOCUMENT, detached=False, ber=True)
    parsed = parse_signature(signature)
    assert isinstance(parsed, ParsedSignature)
    assert isinstance(parsed.signed_data, cms.SignedData)
    assert parsed.encapsulated_content == DOCUMENT  # BER segments concatenated
    assert parsed.raw is signature


def test_der_re_encoding_is_schema_less() -> None:
    """Decision 1 fallback: definite lengths, joined strings, sorted SETs, defaults untouched."""
    # SET(indefinite){SEQ{INT 2}, SEQ{INT 1}, OCTET STRING(constructed){"a", "b"}, [0]{NULL}}
    ber = bytes.fromhex("31803003020102300302010124800401610401620000a080050000000000")
    assert _to_der(ber) == bytes.fromhex("31120402616230030201013003020102a0020500")
    # SEQ{AlgorithmIdentifier sha256 (a DEFAULT in ESSCertIDv2, kept), OCTET STRING}
    explicit_default = bytes.fromhex("3011300d060960864801650304020105000400")
    assert _to_der(explicit_default) == explicit_default


def test_verification_leaves_the_parsed_structure_untouched() -> None:
    signature = make_signature(DOCUMENT, key="ec-p256", detached=False)
    result = verify(signature)
    assert result.parsed.signed_data.dump() == cms.ContentInfo.load(signature)["content"].dump()
    signer_info = result.parsed.signed_data["signer_infos"][0]
    assert signer_info["signed_attrs"].dump()[:1] == b"\xa0"


def test_unsupported_signature_algorithm(tmp_path: Path) -> None:
    """DSA is not among the required algorithms: refused as unsupported, not as broken."""
    key = dsa.generate_private_key(key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST ONLY DSA signer")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "dsa.pem").write_bytes(certificate.public_bytes(Encoding.PEM))
    (tmp_path / "dsa.key").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    signature = openssl_sign(tmp_path / "dsa.pem", tmp_path / "dsa.key", "sha256")
    error = refused(signature)
    assert error.code == "UnsupportedAlgorithm"
    assert "sha256_dsa" in error.description
