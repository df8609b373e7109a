"""The development PKI: a throw-away root CA with a TSA, an OCSP responder and demo signers.

A fresh install must run end to end without configuration (SPEC §3, §7), so on first start
the archive creates this PKI under its data directory, serves its TSA, OCSP responder and
CRL on loopback (:mod:`sigarchive.devpki.server`) and trusts its root. Every subject
name says ``DEVELOPMENT`` and ``NOT FOR PRODUCTION``: time-stamps and revocation answers
from it prove nothing to anyone else. Production configures real TSAs and trust anchors.

Generated with :mod:`cryptography` (keys, certificates, CRL) rather than certomancer:
certomancer wants the key files made beforehand plus a YAML description, its TSA reloads the
key for every token, and we serve TSA and OCSP ourselves anyway (services.py), so it would
add a configuration format and a dependency on the hot path for what is a few builder calls.

Keys are RSA-2048 (root, TSA, OCSP responder, the main demo signer): every verifier there
is accepts them (``openssl ts``, Java, .NET, older archive tools), and an archive *verifies*
far more often than it signs -- RSA verification is ~3x faster than P-256 -- while RSA-2048
signing still allows ~800-1,000 tokens/s. Extra demo signers with P-256 and Ed25519 keys let
tests cover the other algorithms SPEC §3 requires. Creating the PKI takes about 0.5 s.

Layout of ``directory`` (``pki.json`` is written last and marks a complete PKI)::

    README.txt  root.pem root.key  tsa.pem tsa.key  ocsp.pem ocsp.key
    signer.pem signer.key  signer-ec.pem ...  signer-ed25519.pem ...
    revoked-signer.pem ...  crl.der  pki.json
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

log = logging.getLogger("sigarchive.devpki")

#: Said in every subject name and in the README written next to the keys.
DEV_WARNING = "NOT FOR PRODUCTION"

#: TSA policy of the development TSA (RFC 3161 §2.4.2 ``policy``). An OID under the
#: UUID arc 2.25 (ITU-T X.667), which needs no registration and clashes with nothing.
DEV_TSA_POLICY = "2.25.104367807703468018440974479134771011254"

MANIFEST = "pki.json"
_FORMAT = 1

ROOT_VALIDITY = dt.timedelta(days=25 * 365)
LEAF_VALIDITY = dt.timedelta(days=5 * 365)
#: Certificates start a little in the past so that a skewed clock does not reject them.
BACKDATE = dt.timedelta(hours=1)
CRL_VALIDITY = dt.timedelta(days=7)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: sign(data) -> signature value.
Signer = Callable[[bytes], bytes]


def signing_function(key: PrivateKey) -> tuple[str, str, Signer]:
    """(digest algorithm, asn1crypto signature algorithm, sign(data)) for a private key."""
    if isinstance(key, rsa.RSAPrivateKey):
        return (
            "sha256",
            "sha256_rsa",
            lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256", "sha256_ecdsa", lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))
    # RFC 8419 §3: Ed25519 in CMS signs with SHA-512 as the message digest algorithm.
    return "sha512", "ed25519", key.sign


_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class DevCredential:
    """One certificate of the development PKI with its private key and files."""

    name: str
    cert_path: Path
    key_path: Path
    certificate: asn1_x509.Certificate
    private_key: PrivateKey = field(repr=False)

    @property
    def der(self) -> bytes:
        """The certificate, DER."""
        return bytes(self.certificate.dump())

    @property
    def serial_number(self) -> int:
        return int(self.certificate.serial_number)

    def crypto_certificate(self) -> x509.Certificate:
        """The certificate as a :mod:`cryptography` object."""
        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True)
class Revocation:
    """A revoked certificate of the development PKI (RFC 5280 §5.3.1 reason code)."""

    serial_number: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags


@dataclass(frozen=True)
class DevPki:
    """A loaded development PKI: paths, certificates, keys and the URLs it is served on."""

    directory: Path
    host: str
    port: int
    tsa_policy: str
    root: DevCredential
    tsa: DevCredential
    ocsp: DevCredential
    signer: DevCredential
    signer_ec: DevCredential
    signer_ed25519: DevCredential
    revoked_signer: DevCredential
    revocations: Mapping[int, Revocation]
    crl_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/tsa"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/crl"

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.base_url}/ca.crt"

    @property
    def trust_roots(self) -> list[asn1_x509.Certificate]:
        """Trust anchors to configure for this PKI (just the root)."""
        return [self.root.certificate]

    @property
    def credentials(self) -> tuple[DevCredential, ...]:
        return (
            self.root,
            self.tsa,
            self.ocsp,
            self.signer,
            self.signer_ec,
            self.signer_ed25519,
            self.revoked_signer,
        )


# ----------------------------------------------------------------------------- public API


def ensure_dev_pki(directory: Path, host: str = "localhost", *, port: int) -> DevPki:
    """Load the development PKI from ``directory``, creating it on first use.

    ``host``/``port`` go into the certificates' AIA and CRL distribution point URLs
    (``http://host:port/ocsp`` ...) and are used only when the PKI is created: afterwards
    the stored values win (they are baked into the certificates) and ``DevPki.port`` says
    where the services must listen. Use a host *name* such as ``localhost``, not an IP.
    Safe to call from several processes at once (an advisory file lock serialises creation).
    """
    if not _HOST_RE.match(host):
        raise ValueError(f"not a host name: {host!r}")
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        if not (directory / MANIFEST).exists():
            _generate(directory, host, port)
        pki = _load(directory)
        _refresh_crl_file(pki)
    if (pki.host, pki.port) != (host, port):
        log.info(
            "development PKI in %s was created for %s; serving it there (requested %s:%d)",
            directory,
            pki.base_url,
            host,
            port,
        )
    return pki


def stored_endpoint(directory: Path) -> tuple[str, int] | None:
    """``(host, port)`` of an existing development PKI in ``directory``, else ``None``."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        return None
    return str(manifest["host"]), int(manifest["port"])


def build_crl(pki: DevPki, *, now: dt.datetime | None = None) -> bytes:
    """A fresh CRL (DER) of the root, listing ``pki.revocations`` (RFC 5280 §5)."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    root = pki.root.crypto_certificate()
    root_key = pki.root.private_key
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now)
        .next_update(now + CRL_VALIDITY)
        # RFC 5280 §5.2.1 and §5.2.3: authority key identifier and CRL number are MUSTs;
        # the number is time-based so that it keeps increasing across restarts.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .add_extension(x509.CRLNumber(_monotonic_number()), critical=False)
    )
    for revocation in pki.revocations.values():
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(revocation.serial_number)
            .revocation_date(revocation.revoked_at)
        )
        if revocation.reason is not x509.ReasonFlags.unspecified:
            # RFC 5280 §5.3.1: the reason code is omitted rather than "unspecified".
            entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(root_key, _signature_hash(root_key))
    return crl.public_bytes(serialization.Encoding.DER)


# ----------------------------------------------------------------------------- generation


# RFC 5280 Appendix A: ub-common-name is 64 characters.
_NAMES: dict[str, str] = {
    "root": "sigarchive DEVELOPMENT root CA - NOT FOR PRODUCTION",
    "tsa": "sigarchive DEVELOPMENT TSA - NOT FOR PRODUCTION",
    "ocsp": "sigarchive DEVELOPMENT OCSP responder - NOT FOR PRODUCTION",
    "signer": "sigarchive DEVELOPMENT signer RSA - NOT FOR PRODUCTION",
    "signer-ec": "sigarchive DEVELOPMENT signer P-256 - NOT FOR PRODUCTION",
    "signer-ed25519": "sigarchive DEVELOPMENT signer Ed25519 - NOT FOR PRODUCTION",
    "revoked-signer": "sigarchive DEVELOPMENT signer REVOKED - NOT FOR PRODUCTION",
}

_README = """\
sigarchive DEVELOPMENT PKI -- NOT FOR PRODUCTION

Created automatically by sigarchive on {created} so that a fresh install works end to end.
Everything here is for development and tests only: the private keys sit unprotected in
this directory, and time-stamps, OCSP answers and CRLs issued with them prove nothing.
Production deployments configure real TSA URLs and trust anchors.

Served at {base_url}: /tsa (RFC 3161), /ocsp (RFC 6960), /crl, /ca.crt.
"""


def _generate(directory: Path, host: str, port: int) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    base_url = f"http://{host}:{port}"
    installation = secrets.token_hex(4)
    log.warning(
        "creating a DEVELOPMENT PKI (%s) in %s for %s -- NOT FOR PRODUCTION",
        installation,
        directory,
        base_url,
    )

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name("root", installation)
    root_cert = (
        _builder(root_name, root_name, root_key.public_key(), now, now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    _write(directory, "root", root_cert, root_key)

    aia = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(f"{base_url}/ocsp"),
            ),
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"{base_url}/ca.crt"),
            ),
        ]
    )
    cdp = x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(f"{base_url}/crl")],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )

    def issue(
        name: str,
        key: PrivateKey,
        key_usage: x509.KeyUsage,
        *extensions: tuple[x509.ExtensionType, bool],
    ) -> None:
        builder = (
            _builder(
                _name(name, installation),
                root_name,
                key.public_key(),
                now,
                now + LEAF_VALIDITY,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
            .add_extension(cdp, critical=False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        _write(directory, name, builder.sign(root_key, hashes.SHA256()), key)

    signing = _key_usage(digital_signature=True, content_commitment=True)
    # RFC 3161 §2.3: the TSA certificate has exactly one extended key usage, id-kp-timeStamping,
    # and the extension is critical.
    issue(
        "tsa",
        _rsa(),
        signing,
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        (aia, False),
    )
    # RFC 6960 §4.2.2.2: a delegated responder carries id-kp-OCSPSigning; with
    # id-pkix-ocsp-nocheck (§4.2.2.2.1) clients need not check its own revocation.
    issue(
        "ocsp",
        _rsa(),
        _key_usage(digital_signature=True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.OCSPNoCheck(), False),
    )
    # Signers have no EKU at all, so that `openssl cms -verify` (purpose smimesign) accepts them.
    issue("signer", _rsa(), signing, (aia, False))
    issue("signer-ec", ec.generate_private_key(ec.SECP256R1()), signing, (aia, False))
    issue("signer-ed25519", ed25519.Ed25519PrivateKey.generate(), signing, (aia, False))
    issue("revoked-signer", _rsa(), signing, (aia, False))

    revoked = _load_credential(directory, "revoked-signer")
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "warning": f"sigarchive development PKI -- {DEV_WARNING}",
        "installation": installation,
        "created": now.isoformat(),
        "host": host,
        "port": port,
        "tsa_policy": DEV_TSA_POLICY,
        "revocations": [
            {
                "serial_number": revoked.serial_number,
                "revoked_at": now.isoformat(),
                "reason": x509.ReasonFlags.key_compromise.value,
            }
        ],
    }
    _atomic_write(
        directory / "README.txt",
        _README.format(created=now.isoformat(), base_url=base_url).encode("utf-8"),
    )
    # Removing a stale CRL forces _refresh_crl_file to sign one for this new root.
    (directory / "crl.der").unlink(missing_ok=True)
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(kind: str, installation: str) -> x509.Name:
    # The installation id tells the roots of two development installs apart.
    return x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, f"sigarchive development PKI - {DEV_WARNING}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"installation {installation}"),
            x509.NameAttribute(NameOID.COMMON_NAME, _NAMES[kind]),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: Any,
    now: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(directory: Path, name: str, cert: x509.Certificate, key: PrivateKey) -> None:
    _atomic_write(directory / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(directory / f"{name}.key", key_pem, mode=0o600)


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: creation is not serialised
        yield
        return
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- loading


def _load(directory: Path) -> DevPki:
    manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    if manifest.get("format") != _FORMAT:
        raise ValueError(f"{directory / MANIFEST}: unknown development PKI format")
    revocations = {
        int(entry["serial_number"]): Revocation(
            serial_number=int(entry["serial_number"]),
            revoked_at=dt.datetime.fromisoformat(entry["revoked_at"]),
            reason=x509.ReasonFlags(entry["reason"]),
        )
        for entry in manifest["revocations"]
    }
    return DevPki(
        directory=directory,
        host=str(manifest["host"]),
        port=int(manifest["port"]),
        tsa_policy=str(manifest["tsa_policy"]),
        root=_load_credential(directory, "root"),
        tsa=_load_credential(directory, "tsa"),
        ocsp=_load_credential(directory, "ocsp"),
        signer=_load_credential(directory, "signer"),
        signer_ec=_load_credential(directory, "signer-ec"),
        signer_ed25519=_load_credential(directory, "signer-ed25519"),
        revoked_signer=_load_credential(directory, "revoked-signer"),
        revocations=MappingProxyType(revocations),
        crl_path=directory / "crl.der",
    )


def _load_credential(directory: Path, name: str) -> DevCredential:
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    _, _, der = asn1_pem.unarmor(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, PrivateKey):
        raise ValueError(f"{key_path}: unsupported key type {type(key).__name__}")
    return DevCredential(
        name=name,
        cert_path=cert_path,
        key_path=key_path,
        certificate=asn1_x509.Certificate.load(der),
        private_key=key,
    )


def _refresh_crl_file(pki: DevPki) -> None:
    """Rewrite ``crl.der`` when missing or past half its validity."""
    path = pki.crl_path
    if path.exists():
        current = x509.load_der_x509_crl(path.read_bytes())
        next_update = current.next_update_utc
        if next_update is not None and next_update - dt.datetime.now(dt.UTC) > CRL_VALIDITY / 2:
            return
    _atomic_write(path, build_crl(pki))


# ----------------------------------------------------------------------------- helpers

_last_number = 0
_number_lock = threading.Lock()


def _monotonic_number() -> int:
    """Microseconds since the epoch, strictly increasing within this process."""
    global _last_number
    with _number_lock:
        now = int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
        _last_number = max(_last_number + 1, now)
        return _last_number


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs without a separate hash (RFC 8410); the others use SHA-256.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
