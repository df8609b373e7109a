"""A throw-away test PKI made with ``cryptography``: one root CA and signer certificates.

Keys and certificates are written as PEM files to a temporary directory (removed at exit) so
that command-line tools such as ``openssl cms -sign`` can use them. Everything is created
lazily and cached per process: the first RSA identity costs ~0.1 s, later calls are free.

    pki = throwaway_pki()
    signer = pki.identity("ec-p256")        # or "rsa", "rsa-pss", "ec-p384", "ec-p521", "ed25519"
    signer.cert_path, signer.key_path       # PEM files
    pki.root_cert_path                      # the trust anchor, PEM
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Key types a signer identity can have. "rsa-pss" is an ordinary RSA key (rsaEncryption
#: certificate) that :func:`~tests.support.signing.make_signature` uses with PSS padding.
KEY_TYPES = ("rsa", "rsa-pss", "ec-p256", "ec-p384", "ec-p521", "ed25519")

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "ec-p256": ec.SECP256R1(),
    "ec-p384": ec.SECP384R1(),
    "ec-p521": ec.SECP521R1(),
}
_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class Identity:
    """A signer: private key, certificate, and both as PEM files."""

    name: str
    key_type: str
    private_key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    cert_path: Path
    key_path: Path


def _new_key(key_type: str) -> CertificateIssuerPrivateKeyTypes:
    if key_type in ("rsa", "rsa-pss"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[key_type])
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}; known: {', '.join(KEY_TYPES)}")


def _sign_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.HashAlgorithm | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


class ThrowawayPki:
    """Root CA plus lazily created signer identities, all in one temporary directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._identities: dict[tuple[str, int], Identity] = {}
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigarchive tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, "sigarchive TEST ONLY root CA"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        self.root_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, hashes.SHA256())
        )
        self.root_cert_path = directory / "root.pem"
        self.root_cert_path.write_bytes(self.root_cert.public_bytes(serialization.Encoding.PEM))

    def identity(self, key_type: str = "rsa", number: int = 1) -> Identity:
        """Signer number ``number`` with a key of ``key_type`` (created on first use)."""
        with self._lock:
            found = self._identities.get((key_type, number))
            if found is None:
                found = self._identities[(key_type, number)] = self._issue(key_type, number)
            return found

    def _issue(self, key_type: str, number: int) -> Identity:
        key = _new_key(key_type)
        name = f"{key_type}-signer-{number}"
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigarchive tests"),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"TEST ONLY {name}"),
                    ]
                )
            )
            .issuer_name(self.root_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, _sign_hash(self.root_key))
        )
        cert_path = self.directory / f"{name}.pem"
        key_path = self.directory / f"{name}.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Identity(name, key_type, key, certificate, cert_path, key_path)


@functools.cache
def throwaway_pki() -> ThrowawayPki:
    """The process-wide test PKI (created on first call, deleted at interpreter exit)."""
    directory = Path(tempfile.mkdtemp(prefix="sigarchive-test-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return ThrowawayPki(directory)
