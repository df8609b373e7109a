"""The one signer-certificate matcher (RFC 5652 §5.3), and every reader that relies on it.

issuerAndSerialNumber matches issuer and serial number; subjectKeyIdentifier matches the
certificate's SKI extension or, for a certificate without one, the SHA-1 of its public key
(RFC 5280 §4.2.1.2 method 1). A time-stamp token and a signature whose SID is such a key
identifier must find their certificate on every path: the CMS check, the token parser, the
inventory and the references index.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos, cms, core, tsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sigarchive.metadata.references import dependencies
from sigarchive.signatures import (
    find_signer_certificate,
    parse_signature,
    read_inventory,
    sid_matches,
    verify_against_document,
)
from sigarchive.signatures.timestamps.tokens import parse_timestamp_token, verify_token

CONTENT = b"content whose signer is named by a key identifier\n"


def _certificate(
    name: str, *, ski: bool, tsa: bool = False
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        cx509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )
    if ski:
        builder = builder.add_extension(
            cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if tsa:
        builder = builder.add_extension(
            cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    certificate = builder.sign(key, hashes.SHA256())
    return key, x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _method_one(certificate: x509.Certificate) -> bytes:
    """RFC 5280 §4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING value, by cryptography."""
    public_key = serialization.load_der_public_key(certificate.public_key.dump())
    return cx509.SubjectKeyIdentifier.from_public_key(public_key).digest  # type: ignore[arg-type]


def _by_key_id(key_id: bytes) -> cms.SignerIdentifier:
    return cms.SignerIdentifier(name="subject_key_identifier", value=key_id)


def _by_issuer_serial(
    certificate: x509.Certificate, serial: int | None = None
) -> cms.SignerIdentifier:
    return cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={
            "issuer": certificate.issuer,
            "serial_number": certificate.serial_number if serial is None else serial,
        },
    )


def test_issuer_and_serial_number() -> None:
    _, certificate = _certificate("by issuer and serial", ski=True)
    _, other = _certificate("another", ski=True)
    assert sid_matches(_by_issuer_serial(certificate), certificate)
    assert not sid_matches(
        _by_issuer_serial(certificate, certificate.serial_number + 1), certificate
    )
    assert not sid_matches(_by_issuer_serial(certificate), other)
    assert (
        find_signer_certificate(_by_issuer_serial(certificate), [other, certificate]) is certificate
    )


def test_subject_key_identifier_with_the_extension() -> None:
    _, certificate = _certificate("with SKI", ski=True)
    assert certificate.key_identifier == _method_one(certificate)  # cryptography used method 1
    assert sid_matches(_by_key_id(certificate.key_identifier), certificate)
    assert not sid_matches(_by_key_id(b"\x01" * 20), certificate)
    assert not sid_matches(_by_key_id(b""), certificate)


def test_subject_key_identifier_without_the_extension() -> None:
    _, certificate = _certificate("without SKI", ski=False)
    _, other = _certificate("other without SKI", ski=False)
    assert certificate.key_identifier is None
    key_id = _method_one(certificate)
    assert sid_matches(_by_key_id(key_id), certificate)
    assert not sid_matches(_by_key_id(key_id), other)
    assert find_signer_certificate(_by_key_id(key_id), [other, certificate]) is certificate


def _signed_data(
    key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    sid: cms.SignerIdentifier,
    content_type: str,
    content: bytes,
) -> bytes:
    """A DER ContentInfo/SignedData signed over signed attributes (RFC 5652 §5.3, §5.4)."""
    attributes = [
        {"type": "content_type", "values": [content_type]},
        {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
    ]
    signature = key.sign(cms.CMSAttributes(attributes).dump(), ec.ECDSA(hashes.SHA256()))
    signer_info = cms.SignerInfo(
        {
            "version": "v3",  # RFC 5652 §5.3: v3 with a subjectKeyIdentifier
            "sid": sid,
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": cms.CMSAttributes(attributes),
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": content_type,
                "content": tsp.TSTInfo.load(content) if content_type == "tst_info" else content,
            },
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


@pytest.fixture(scope="module")
def tsa() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return _certificate("TSA without SKI", ski=False, tsa=True)


def _token(tsa: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], imprint: bytes) -> bytes:
    """An RFC 3161 token whose SID is the key identifier of a TSA certificate without SKI,
    and without an ESS signing-certificate attribute: only the SID names the TSA."""
    key, certificate = tsa
    tst_info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": imprint,
            },
            "serial_number": 7,
            "gen_time": core.GeneralizedTime(datetime.now(UTC).replace(microsecond=0)),
        }
    )
    return _signed_data(
        key, certificate, _by_key_id(_method_one(certificate)), "tst_info", tst_info.dump()
    )


def test_a_token_named_by_key_identifier_without_ski_finds_its_tsa(
    tsa: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    imprint = hashlib.sha256(b"time-stamped data").digest()
    token = parse_timestamp_token(_token(tsa, imprint))
    assert token.signing_certificate_refs == ()  # the SID alone names the TSA
    assert token.signer_certificate is not None
    assert token.signer_certificate.dump() == tsa[1].dump()
    check = verify_token(token, imprint)
    assert check.signature_ok and check.imprint_ok
    assert check.signer_certificate is not None


def test_a_signature_named_by_key_identifier_without_ski_is_found_everywhere(
    tsa: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    key, certificate = _certificate("signer without SKI", ski=False)
    signature = _signed_data(
        key, certificate, _by_key_id(_method_one(certificate)), "data", CONTENT
    )
    parsed = parse_signature(signature)
    verified = verify_against_document(parsed, {"sha256": hashlib.sha256(CONTENT).digest()})
    assert verified.signers[0].signer_certificate is not None

    [signer] = read_inventory(signature).signers
    assert signer.signer_certificate is not None
    assert signer.signer_certificate.dump() == certificate.dump()

    signer_sha256 = hashlib.sha256(certificate.dump()).hexdigest()
    roles = {(d.sha256, d.reference_type) for d in dependencies(signature)}
    assert (signer_sha256, "signer") in roles
