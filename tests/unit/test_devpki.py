"""The development PKI: files, certificates, and its OCSP responder and CRL over real HTTP."""

from __future__ import annotations

import base64
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from sigarchive.devpki import DevOcspResponder, DevPkiServer
from sigarchive.devpki.pki import DEV_TSA_POLICY, DevPki, ensure_dev_pki, stored_endpoint


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPki]:
    server = DevPkiServer(tmp_path_factory.mktemp("devpki"), port=0)
    yield server.start()
    server.stop()


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=20)


def ocsp_request(pki: DevPki, cert_path: Path, *, nonce: bytes | None = None) -> bytes:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert, pki.root.crypto_certificate(), hashes.SHA256()
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


# ----------------------------------------------------------------------------- files


def test_ensure_is_idempotent_and_keeps_its_endpoint(tmp_path: Path) -> None:
    first = ensure_dev_pki(tmp_path, port=40001)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.pem")}
    second = ensure_dev_pki(tmp_path, port=40002)  # the stored port wins: certs point there

    assert second.root.der == first.root.der
    assert second.tsa.der == first.tsa.der
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.pem")} == mtimes
    assert second.port == 40001 and second.tsa_url == "http://localhost:40001/tsa"
    assert stored_endpoint(tmp_path) == ("localhost", 40001)
    assert stored_endpoint(tmp_path / "nothing") is None
    assert (tmp_path / "tsa.key").stat().st_mode & 0o077 == 0
    assert "NOT FOR PRODUCTION" in (tmp_path / "README.txt").read_text()


def test_certificates_say_development_and_point_at_the_services(served: DevPki) -> None:
    for credential in served.credentials:
        subject = credential.crypto_certificate().subject.rfc4514_string()
        assert "DEVELOPMENT" in subject and "NOT FOR PRODUCTION" in subject

    tsa = served.tsa.crypto_certificate()
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]  # RFC 3161 §2.3
    aia = tsa.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [served.ocsp_url, served.ca_issuers_url]
    assert served.ocsp_url.startswith("http://localhost:")  # a host name, not an IP
    cdp = tsa.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name is not None and cdp[0].full_name[0].value == served.crl_url

    responder = served.ocsp.crypto_certificate()
    ocsp_eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(ocsp_eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert responder.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK)

    root = served.root.crypto_certificate()
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert served.tsa_policy == DEV_TSA_POLICY
    assert served.revoked_signer.serial_number in served.revocations


def test_openssl_verifies_every_chain(served: DevPki) -> None:
    leaves = [c.cert_path for c in served.credentials if c.name != "root"]
    result = openssl("verify", "-CAfile", served.root.cert_path, *leaves)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK") == len(leaves)


def test_server_warns_and_keeps_its_port_across_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="sigarchive.devpki"),
        DevPkiServer(tmp_path, port=0) as pki,
    ):
        port, root = pki.port, pki.root.der
        assert httpx.get(f"{pki.base_url}/").text.startswith("sigarchive DEVELOPMENT PKI")
    assert any("NOT FOR PRODUCTION" in r.getMessage() for r in caplog.records)
    with DevPkiServer(tmp_path, port=0) as again:
        assert (again.port, again.root.der) == (port, root)
        assert httpx.get(again.ca_issuers_url).content == root


# ----------------------------------------------------------------------------- OCSP


def test_openssl_ocsp_says_good_and_revoked(served: DevPki) -> None:
    root = served.root.cert_path
    for credential, status in ((served.signer, "good"), (served.revoked_signer, "revoked")):
        result = openssl(
            "ocsp", "-issuer", root, "-cert", credential.cert_path,
            "-url", served.ocsp_url, "-CAfile", root,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"{credential.cert_path}: {status}" in result.stdout
        assert "Response verify OK" in result.stdout + result.stderr
    assert "Reason: keyCompromise" in result.stdout


def test_ocsp_get_and_nonce(served: DevPki) -> None:
    # RFC 6960 Appendix A.1: GET with the base64 request in the path.
    encoded = base64.b64encode(ocsp_request(served, served.signer_ec.cert_path)).decode()
    response = httpx.get(f"{served.ocsp_url}/{encoded}")
    assert response.headers["content-type"] == "application/ocsp-response"
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD

    # §4.4.1: a request nonce is echoed.
    nonce = b"0123456789abcdef"
    posted = httpx.post(
        served.ocsp_url,
        content=ocsp_request(served, served.revoked_signer.cert_path, nonce=nonce),
        headers={"Content-Type": "application/ocsp-request"},
    )
    parsed = ocsp.load_der_ocsp_response(posted.content)
    assert parsed.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason is x509.ReasonFlags.key_compromise
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_ocsp_rejects_garbage_and_foreign_issuers(served: DevPki, tmp_path: Path) -> None:
    garbage = httpx.post(served.ocsp_url, content=b"\x30\x03garbage")
    assert garbage.status_code == 200
    assert asn1_ocsp.OCSPResponse.load(garbage.content)["response_status"].native == (
        "malformed_request"
    )
    bad_get = httpx.get(f"{served.ocsp_url}/not*base64")
    assert asn1_ocsp.OCSPResponse.load(bad_get.content)["response_status"].native == (
        "malformed_request"
    )
    # A certificate of another CA (here: another development PKI) is not ours to answer (§2.3).
    other = ensure_dev_pki(tmp_path, port=40003)
    request = ocsp.OCSPRequestBuilder().add_certificate(
        other.signer.crypto_certificate(), other.root.crypto_certificate(), hashes.SHA1()
    )
    answer = DevOcspResponder.from_pki(served).respond(
        request.build().public_bytes(serialization.Encoding.DER)
    )
    assert asn1_ocsp.OCSPResponse.load(answer)["response_status"].native == "unauthorized"


# ----------------------------------------------------------------------------- CRL


def test_crl_is_served_signed_and_lists_the_revoked_signer(served: DevPki, tmp_path: Path) -> None:
    response = httpx.get(served.crl_url)
    assert response.headers["content-type"] == "application/pkix-crl"
    crl_file = tmp_path / "served.crl"
    crl_file.write_bytes(response.content)
    for path in (crl_file, served.crl_path):
        result = openssl(
            "crl", "-inform", "DER", "-in", path, "-CAfile", served.root.cert_path,
            "-noout", "-text",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "verify OK" in result.stdout + result.stderr
        assert f"{served.revoked_signer.serial_number:X}" in result.stdout.replace(":", "")
    parsed = asn1_crl.CertificateList.load(response.content)
    assert [
        e["user_certificate"].native for e in parsed["tbs_cert_list"]["revoked_certificates"]
    ] == [served.revoked_signer.serial_number]
