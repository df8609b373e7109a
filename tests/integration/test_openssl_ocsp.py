"""Revocation data from an OCSP responder that is not ours: `openssl ocsp` on loopback."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms, ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.conftest import Tenant
from tests.integration.test_documents_api import DOCUMENT, ok, upload, wait_for_status
from tests.integration.test_enhancement import downloaded_signatures
from tests.support.postgres import free_port
from tests.support.server import ArchiveServer
from tests.support.signing import sign_with


@dataclass
class OpenSslOcspCa:
    root: Path
    signer_cert: Path
    signer_key: Path


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture
def openssl_ocsp_ca(tmp_path: Path) -> Iterator[OpenSslOcspCa]:
    """A small CA whose signer points at an `openssl ocsp` responder it starts."""
    port = free_port()
    now = dt.datetime.now(dt.UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenSSL OCSP test root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    responder_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    responder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP")]))
        .issuer_name(root_name)
        .public_key(responder_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        # RFC 6960 §4.2.2.2.1: the responder's own certificate needs no revocation check
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Signer")]))
        .issuer_name(root_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"http://localhost:{port}/"),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    files = {
        name: tmp_path / name
        for name in ("root.pem", "root.key", "ocsp.pem", "ocsp.key", "signer.pem", "signer.key")
    }
    for name, cert in (("root.pem", root), ("ocsp.pem", responder), ("signer.pem", signer)):
        files[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for name, key in (
        ("root.key", root_key),
        ("ocsp.key", responder_key),
        ("signer.key", signer_key),
    ):
        _write_key(files[name], key)
    expiry = signer.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    index = tmp_path / "index.txt"
    index.write_text(f"V\t{expiry}\t\t{signer.serial_number:X}\tunknown\t/CN=Signer\n")
    process = subprocess.Popen(
        [
            "openssl",
            "ocsp",
            "-index",
            str(index),
            "-port",
            str(port),
            "-CA",
            str(files["root.pem"]),
            "-rsigner",
            str(files["ocsp.pem"]),
            "-rkey",
            str(files["ocsp.key"]),
            "-nmin",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    yield OpenSslOcspCa(files["root.pem"], files["signer.pem"], files["signer.key"])
    process.terminate()
    process.wait(10)


def test_revocation_from_openssl_ocsp_is_validated_and_embedded(
    archive: ArchiveServer, tenant: Tenant, openssl_ocsp_ca: OpenSslOcspCa
) -> None:
    archive.cli("trust", "add", str(openssl_ocsp_ca.root))
    signature = sign_with(DOCUMENT, openssl_ocsp_ca.signer_cert, openssl_ocsp_ca.signer_key)
    container_id = ok(upload(tenant.client, tenant.storage_id, DOCUMENT, [signature]))
    wait_for_status(tenant.client, container_id)
    report = ok(tenant.client.get(f"/api/document/{container_id}/report"))
    [signer] = report["signatures"][0]["validation"]["signers"]
    assert signer["indication"] == "TOTAL-PASSED", signer
    assert signer["revocation"] == "good"
    [archived] = downloaded_signatures(tenant.client, container_id)
    responses = [
        ocsp.OCSPResponse.load(choice.chosen["other_rev_info"].dump())
        for choice in cms.ContentInfo.load(archived)["content"]["crls"]
        if isinstance(choice.chosen, cms.OtherRevocationInfoFormat)
        and choice.chosen["other_rev_info_format"].dotted == "1.3.6.1.5.5.7.16.2"
    ]
    embedded = [r for r in responses if isinstance(r, ocsp.OCSPResponse)]
    assert embedded, "the OCSP answer of openssl's responder is not in the signature"
    assert embedded[0]["response_status"].native == "successful"
