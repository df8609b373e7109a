"""Signature validation (EN 319 102-1) and CAdES-LT material, against the development PKI's
real OCSP responder, CRL and TSA served on loopback. Nothing is mocked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from sigarchive.devpki import DevPkiServer, DevTsa
from sigarchive.devpki.pki import DevPki
from sigarchive.signatures.indications import Indication
from sigarchive.signatures.validation import (
    SignatureReport,
    ValidationMaterial,
    validate_signature,
)

TOTAL_PASSED, TOTAL_FAILED = Indication.TOTAL_PASSED, Indication.TOTAL_FAILED
INDETERMINATE = Indication.INDETERMINATE

CORPUS = Path("/work/shared/corpus/dss/cades")
DOCUMENT = b"sigarchive validation test document\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPki]:
    server = DevPkiServer(tmp_path_factory.mktemp("devpki"), port=0)
    yield server.start()
    server.stop()


def digests(document: bytes) -> Callable[[str], bytes]:
    return lambda algorithm: hashlib.new(algorithm, document).digest()


def sign(cert_path: Path, key_path: Path, document: bytes = DOCUMENT) -> bytes:
    """A detached CMS signature by ``openssl cms -sign`` (signing-time included)."""
    run = subprocess.run(
        [
            *("openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER"),
            *("-signer", str(cert_path), "-inkey", str(key_path)),
        ],
        input=document,
        capture_output=True,
        timeout=20,
        check=True,
    )
    return run.stdout


def validate(
    signature: bytes,
    pki: DevPki | None,
    *,
    document: bytes = DOCUMENT,
    validation_time: dt.datetime | None = None,
    fetch_revocation: bool = True,
    timeout: float = 5.0,
) -> tuple[SignatureReport, ValidationMaterial]:
    """Validate signer 0 with the development root as the only trust anchor (or none)."""
    return validate_signature(
        signature,
        0,
        digests(document),
        trust_roots=[pki.root.certificate] if pki is not None else [],
        validation_time=validation_time,
        fetch_revocation=fetch_revocation,
        timeout=timeout,
    )


def outcome(report: SignatureReport) -> tuple[str, str | None]:
    return report.indication, report.sub_indication


def issue(
    pki: DevPki,
    directory: Path,
    *,
    name: str,
    not_after: dt.datetime,
    base_url: str | None = None,
) -> tuple[Path, Path]:
    """A signer certificate from the development root, with AIA OCSP and CRL DP URLs."""
    base_url = base_url or pki.base_url
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = pki.root.crypto_certificate()
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"TEST ONLY {name}")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.root.private_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{base_url}/ocsp"),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(f"{base_url}/crl")],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(pki.root.private_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def time_stamped(signature: bytes, pki: DevPki) -> bytes:
    """B-T: a signature-time-stamp from the development TSA (in process, no HTTP)."""
    cades = pytest.importorskip("sigarchive.signatures.augment")
    return bytes(cades.add_signature_timestamp(signature, DevTsa.from_pki(pki)))


def ocsp_statuses(material: ValidationMaterial) -> dict[int, str]:
    """serial number -> certStatus of every OCSP response in the material."""
    statuses = {}
    for der in material.ocsp_responses:
        response = asn1_ocsp.OCSPResponse.load(der)
        assert response["response_status"].native == "successful"
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
            statuses[single["cert_id"]["serial_number"].native] = single["cert_status"].name
    return statuses


# ----------------------------------------------------------------------------- outcomes


def test_dev_signer_passes_and_the_material_has_the_chain_and_ocsp(served: DevPki) -> None:
    signature = sign(served.signer.cert_path, served.signer.key_path)
    report, material = validate(signature, served)

    assert (report.indication, report.sub_indication, report.reasons) == (TOTAL_PASSED, None, ())
    assert report.revocation == "good" and not report.revocation_unavailable
    assert report.level == "B-B" and report.timestamps == ()
    assert report.chain == (
        served.signer.certificate.subject.human_friendly,
        served.root.certificate.subject.human_friendly,
    )
    assert report.signer_certificate_sha256 == hashlib.sha256(served.signer.der).hexdigest()
    assert report.claimed_signing_time is not None
    assert report.best_signature_time == report.validation_time  # no time-stamp: no POE
    assert material.certificates[:2] == (served.signer.der, served.root.der)
    assert served.ocsp.der in material.certificates  # the responder that signed the OCSP answer
    assert ocsp_statuses(material) == {served.signer.serial_number: "good"}
    json.dumps(report.to_json())  # serialisable as is


def test_no_trust_anchor_is_no_certificate_chain_found(served: DevPki) -> None:
    signature = sign(served.signer.cert_path, served.signer.key_path)
    report, material = validate(signature, None)

    assert outcome(report) == (INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    assert report.reasons == ("NoChain",)
    assert report.revocation == "not-checked" and not report.revocation_unavailable
    assert material.certificates == (served.signer.der,)


def test_revoked_signer_is_total_failed_revoked(served: DevPki) -> None:
    credential = served.revoked_signer
    signature = sign(credential.cert_path, credential.key_path)  # signed after the revocation
    report, material = validate(signature, served)

    assert outcome(report) == (TOTAL_FAILED, "REVOKED")
    assert report.reasons == ("SignerRevoked",) and report.revocation == "revoked"
    assert any("revoked" in message for message in report.messages)
    # The evidence of the revocation is material too.
    assert ocsp_statuses(material) == {credential.serial_number: "revoked"}


def test_unreachable_ocsp_and_crl_are_try_later(tmp_path: Path) -> None:
    server = DevPkiServer(tmp_path / "pki", port=0)
    pki = server.start()
    signature = sign(pki.signer.cert_path, pki.signer.key_path)
    server.stop()  # OCSP responder and CRL server gone: connection refused

    report, material = validate(signature, pki)

    assert outcome(report) == (INDETERMINATE, "TRY_LATER")
    assert report.reasons == ("RevocationUnavailable",)
    assert report.revocation_unavailable and report.revocation == "unavailable"
    assert any(f"{pki.base_url}/ocsp" in m for m in report.messages)
    assert material.certificates == (pki.signer.der, pki.root.der)
    assert material.ocsp_responses == () and material.crls == ()


def test_a_responder_that_never_answers_times_out_into_try_later(
    served: DevPki, tmp_path: Path
) -> None:
    with socket.socket() as blackhole:  # accepts connections (backlog), never answers
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)
        base_url = f"http://localhost:{blackhole.getsockname()[1]}"
        not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        cert, key = issue(served, tmp_path, name="silent", not_after=not_after, base_url=base_url)
        started = time.monotonic()
        report, _ = validate(sign(cert, key), served, timeout=0.5)

    assert time.monotonic() - started < 10
    assert outcome(report) == (INDETERMINATE, "TRY_LATER")
    assert report.revocation_unavailable and report.reasons == ("RevocationUnavailable",)


def test_a_ca_that_publishes_no_revocation_info_is_not_worth_retrying() -> None:
    from tests.support.pki import throwaway_pki
    from tests.support.signing import make_signature

    pki = throwaway_pki()  # its certificates have no AIA and no CRL distribution point
    signature = make_signature(DOCUMENT)
    roots = [pki.root_cert]

    report, material = validate_signature(signature, 0, digests(DOCUMENT), trust_roots=roots)
    assert outcome(report) == (INDETERMINATE, "TRY_LATER")
    assert report.reasons == ("NoRevocationInfo",) and report.revocation == "unknown"
    assert not report.revocation_unavailable
    assert len(material.certificates) == 2 and material.ocsp_responses == ()

    offline, _ = validate_signature(
        signature, 0, digests(DOCUMENT), trust_roots=roots, fetch_revocation=False
    )
    assert offline.reasons == ("RevocationNotChecked",) and offline.revocation == "not-checked"


def test_tampered_document_and_tampered_signature_are_total_failed(served: DevPki) -> None:
    signature = sign(served.signer.cert_path, served.signer.key_path)

    other_document, _ = validate(signature, served, document=DOCUMENT + b"!")
    assert outcome(other_document) == (
        TOTAL_FAILED,
        "HASH_FAILURE",
    )
    assert other_document.reasons == ("BadSignature",)

    value = asn1_cms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"]
    position = signature.rfind(value.native)
    assert position > 0
    broken = bytearray(signature)
    broken[position + 10] ^= 0x01
    bad_value, material = validate(bytes(broken), served)
    assert outcome(bad_value) == (TOTAL_FAILED, "SIG_CRYPTO_FAILURE")
    assert bad_value.signer_subject == served.signer.certificate.subject.human_friendly
    assert material == ValidationMaterial((), (), ())  # nothing fetched for a broken signature


def test_corpus_double_lta_offline_without_trust_is_indeterminate() -> None:
    signature = (CORPUS / "CAdESDoubleLTA.p7m").read_bytes()
    content = asn1_cms.ContentInfo.load(signature)["content"]["encap_content_info"]["content"]

    report, material = validate_signature(
        signature, 0, digests(content.native), trust_roots=[], fetch_revocation=False
    )

    assert outcome(report) == (INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    assert "NoChain" in report.reasons and "NoValidArchiveTimestamp" in report.reasons
    assert report.level == "B-LTA"
    assert [t.kind for t in report.timestamps] == ["signature", "archive-v3", "archive-v3"]
    assert all(t.imprint_ok and t.signature_ok for t in report.timestamps)
    assert all(t.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND" for t in report.timestamps)
    assert report.signer_subject is not None and "good-user" in report.signer_subject
    # The signature's own CRL and OCSP response are carried over; nothing was fetched.
    assert len(material.crls) == 1 and len(material.ocsp_responses) == 1
    json.dumps(report.to_json())


# ----------------------------------------------------------------------------- time


def test_time_stamp_is_the_poe_that_keeps_an_expired_signer_valid(
    served: DevPki, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    cert, key = issue(served, tmp_path, name="short-lived", not_after=now + dt.timedelta(days=1))
    plain = sign(cert, key)
    stamped = time_stamped(plain, served)
    later = now + dt.timedelta(days=2)  # the signer's certificate has expired by then

    report, material = validate(stamped, served, validation_time=later)
    assert (report.indication, report.reasons) == (TOTAL_PASSED, ())
    assert report.level == "B-T" and len(report.timestamps) == 1
    stamp = report.timestamps[0]
    assert stamp.kind == "signature" and stamp.valid and stamp.validated_at == later
    assert stamp.tsa_subject == served.tsa.certificate.subject.human_friendly
    assert stamp.gen_time is not None and abs(stamp.gen_time - now) < dt.timedelta(minutes=1)
    assert report.best_signature_time == stamp.gen_time
    # The TSA is validated two days on: its one-day OCSP answer is stale then, its CRL is not.
    assert material.crls and served.tsa.der in material.certificates

    unstamped, _ = validate(plain, served, validation_time=later)
    assert outcome(unstamped) == (INDETERMINATE, "OUT_OF_BOUNDS_NO_POE")
    assert unstamped.reasons == ("CertificateExpired",)


def test_material_makes_the_signature_verifiable_offline(served: DevPki) -> None:
    cades = pytest.importorskip("sigarchive.signatures.augment")
    stamped = time_stamped(sign(served.signer.cert_path, served.signer.key_path), served)

    online, material = validate(stamped, served)
    assert online.indication == TOTAL_PASSED and online.timestamps[0].valid
    assert set(ocsp_statuses(material)) == {
        served.signer.serial_number,
        served.tsa.serial_number,
    }

    lt = cades.add_validation_data(
        stamped,
        certificates=material.certificates,
        crls=material.crls,
        ocsp_responses=material.ocsp_responses,
    )
    offline, again = validate(lt, served, fetch_revocation=False)
    assert (offline.indication, offline.revocation, offline.level) == (TOTAL_PASSED, "good", "B-LT")
    assert offline.timestamps[0].valid and offline.timestamps[0].revocation == "good"
    assert set(again.ocsp_responses) == set(material.ocsp_responses)


def test_corpus_lta_is_valid_offline_at_a_time_its_archive_time_stamps_cover() -> None:
    """Past validation from the signature's own data (DSS-made B-LTA, fetch disabled): the
    newest archive time-stamp is validated at the validation time and gives the POE at which
    the older time-stamps and finally the signer are validated (EN 319 102-1 §5.6)."""
    from sigarchive.signatures.cms import certificates_of, parse_signature

    signature = (CORPUS / "cades-lta-duplicated-atst.p7m").read_bytes()
    parsed = parse_signature(signature)
    assert parsed.encapsulated_content is not None
    roots = [c for c in certificates_of(parsed.signed_data) if c.self_signed == "maybe"]
    assert [r.subject.native["common_name"] for r in roots] == ["root-ca"]
    content_digest = digests(parsed.encapsulated_content)

    at = dt.datetime(2023, 12, 8, tzinfo=dt.UTC)  # a day after the signature, TSA still valid
    then, material = validate_signature(
        signature, 0, content_digest, trust_roots=roots, validation_time=at, fetch_revocation=False
    )
    assert (then.indication, then.revocation, then.level) == (TOTAL_PASSED, "good", "B-LTA")
    assert [t.kind for t in then.timestamps] == ["signature", "archive-v3", "archive-v3"]
    assert all(t.valid for t in then.timestamps)
    newest = then.timestamps[-1]
    assert newest.validated_at == at and newest.gen_time is not None
    assert then.timestamps[0].validated_at == newest.gen_time  # the POE the newest one gives
    assert then.best_signature_time == then.timestamps[0].gen_time
    assert material.ocsp_responses and material.crls

    # Today the TSA certificate has expired and no newer archive time-stamp renews the chain.
    today, _ = validate_signature(
        signature, 0, content_digest, trust_roots=roots, fetch_revocation=False
    )
    assert today.indication == INDETERMINATE
    assert "NoValidArchiveTimestamp" in today.reasons
    assert all(t.sub_indication == "OUT_OF_BOUNDS_NO_POE" for t in today.timestamps[1:])
