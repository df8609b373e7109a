"""Real CMS signatures made by another tool, for tests: ``openssl cms -sign``.

    from tests.support.signing import make_signature
    sig = make_signature(b"document")                 # detached, RSA-2048, SHA-256, DER
    sig = make_signature(doc, key="ec-p384", digest="sha384", detached=False, ber=True)
    sig = make_signature(doc, signers=2)              # two parallel signers

Keys come from the process-wide :func:`~tests.support.pki.throwaway_pki` (root CA in
``throwaway_pki().root_cert_path``). What OpenSSL 3.0 cannot do is made as close to it as
possible, and said so here:

- Ed25519: OpenSSL 3.0's CMS can neither sign nor verify it ("no default digest"); pyHanko
  (an independent RFC 8419 implementation) signs instead. Tests skip when pyHanko is absent.
- BER: ``openssl cms -stream`` is used for attached RSA and ECDSA signatures. For detached ones
  (with DER output ``-stream`` embeds the content) and for RSA-PSS and Ed25519 (``-stream``
  fails: "illegal zero content") the DER output is re-framed with indefinite lengths in the
  places ``-stream`` uses them (:func:`to_indefinite_length`); signed bytes are untouched.
- SHA-3 works with RSA PKCS#1 v1.5 only (OpenSSL 3.0 refuses it for PSS and ECDSA in CMS).
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms

from tests.support.pki import KEY_TYPES, Identity, throwaway_pki

#: asn1crypto/hashlib digest names -> OpenSSL names.
OPENSSL_DIGESTS = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha512_224": "sha512-224",
    "sha512_256": "sha512-256",
    "sha3_224": "sha3-224",
    "sha3_256": "sha3-256",
    "sha3_384": "sha3-384",
    "sha3_512": "sha3-512",
}

_CANNOT_STREAM = ("rsa-pss", "ed25519")


def make_signature(
    document: bytes,
    *,
    key: str = "rsa",
    digest: str = "sha256",
    detached: bool = True,
    ber: bool = False,
    signers: int = 1,
    signed_attributes: bool = True,
) -> bytes:
    """A CMS SignedData over ``document`` made by ``openssl cms -sign -binary``.

    ``key``: one of :data:`~tests.support.pki.KEY_TYPES` ("rsa", "rsa-pss", "ec-p256", "ec-p384",
    "ec-p521", "ed25519"); ``digest``: asn1crypto name ("sha256", "sha3_256" ...);
    ``detached=False`` embeds the document (``-nodetach``); ``ber=True`` gives BER with
    indefinite lengths (``-stream``); ``signers``: number of parallel signers, each with its own
    certificate; ``signed_attributes=False`` signs the content directly (``-noattr``).
    """
    if key not in KEY_TYPES:
        raise ValueError(f"unknown key type {key!r}; known: {', '.join(KEY_TYPES)}")
    pki = throwaway_pki()
    identities = [pki.identity(key, n) for n in range(1, signers + 1)]
    stream = ber and not detached and key not in _CANNOT_STREAM
    if key == "ed25519":
        der = _pyhanko_sign(document, identities, digest, detached, signed_attributes)
    else:
        der = _openssl_sign(document, identities, digest, detached, stream, signed_attributes)
    return to_indefinite_length(der) if ber and not stream else der


def _openssl_sign(
    document: bytes,
    identities: list[Identity],
    digest: str,
    detached: bool,
    stream: bool,
    signed_attributes: bool,
) -> bytes:
    with tempfile.TemporaryDirectory(prefix="sign-", dir=throwaway_pki().directory) as work:
        document_path = Path(work) / "document"
        document_path.write_bytes(document)
        output_path = Path(work) / "signature.p7s"
        command = ["openssl", "cms", "-sign", "-binary", "-outform", "DER"]
        command += ["-in", str(document_path), "-out", str(output_path)]
        command += ["-md", OPENSSL_DIGESTS[digest]]
        for identity in identities:
            command += ["-signer", str(identity.cert_path), "-inkey", str(identity.key_path)]
            if identity.key_type == "rsa-pss":
                command += ["-keyopt", "rsa_padding_mode:pss"]  # applies to the signer before
        if not detached:
            command.append("-nodetach")
        if stream:
            command.append("-stream")
        if not signed_attributes:
            command.append("-noattr")
        run = subprocess.run(command, capture_output=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {run.stderr.decode(errors='replace')}")
        return output_path.read_bytes()


def _pyhanko_sign(
    document: bytes,
    identities: list[Identity],
    digest: str,
    detached: bool,
    signed_attributes: bool,
) -> bytes:
    if len(identities) != 1 or not signed_attributes:
        raise ValueError("Ed25519 test signatures have exactly one signer and signed attributes")
    signer = _pyhanko_signer(identities[0].key_path, identities[0].cert_path)
    signing = signer.async_sign_general_data(document, digest, detached=detached)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: no event loop in this thread
        return bytes(asyncio.run(signing).dump())
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from async code (pytest-asyncio)
        return bytes(pool.submit(asyncio.run, signing).result().dump())


@functools.cache
def _pyhanko_signer(key_path: Path, cert_path: Path) -> Any:
    signers = pytest.importorskip(
        "pyhanko.sign.signers", reason="Ed25519 CMS needs pyHanko (OpenSSL 3.0 cannot sign it)"
    )
    # pyHanko adds attribute names to asn1crypto's map but not to the name -> OID map asn1crypto
    # caches on first use; rebuild that so names such as signing_certificate_v2 resolve.
    attribute_type = cms.CMSAttributeType
    attribute_type._reverse_map = {name: oid for oid, name in attribute_type._map.items()}
    return signers.SimpleSigner.load(str(key_path), str(cert_path))


def to_indefinite_length(der: bytes) -> bytes:
    """Re-frame a DER ContentInfo(SignedData) as BER the way ``openssl cms -stream`` does.

    ContentInfo, its [0], SignedData, EncapsulatedContentInfo and its [0] get indefinite
    lengths, and eContent becomes a constructed OCTET STRING of two segments (X.690 §8.7.3).
    Certificates and SignerInfos keep their bytes, so every signature still verifies.
    """
    content_type, explicit = _children(der)
    signed_data = _children(explicit)[0]
    parts = _children(signed_data)  # version, digestAlgorithms, encapContentInfo, ...
    parts[2] = _encap_content_info(parts[2])
    return _indefinite(0x30, content_type + _indefinite(0xA0, _indefinite(0x30, *parts)))


def _encap_content_info(der: bytes) -> bytes:
    children = _children(der)
    if len(children) == 1:  # detached: no eContent
        return _indefinite(0x30, children[0])
    octets = _value(_children(children[1])[0])
    half = len(octets) // 2
    segments = [b"\x04" + _length(len(s)) + s for s in (octets[:half], octets[half:])]
    return _indefinite(0x30, children[0], _indefinite(0xA0, _indefinite(0x24, *segments)))


def _indefinite(tag: int, *children: bytes) -> bytes:
    return bytes([tag, 0x80]) + b"".join(children) + b"\x00\x00"


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _header(der: bytes) -> tuple[int, int]:
    """(header size, value size) of a DER TLV with a one-byte tag."""
    first = der[1]
    if first < 0x80:
        return 2, first
    count = first & 0x7F
    return 2 + count, int.from_bytes(der[2 : 2 + count], "big")


def _value(der: bytes) -> bytes:
    size, length = _header(der)
    return der[size : size + length]


def _children(der: bytes) -> list[bytes]:
    """The TLVs inside a constructed DER TLV."""
    value = _value(der)
    children = []
    while value:
        size, length = _header(value)
        children.append(value[: size + length])
        value = value[size + length :]
    return children


def sign_with(document: bytes, certificate: Path, private_key: Path) -> bytes:
    """A detached CMS signature over ``document`` by a given certificate and key (openssl)."""
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp, "document")
        content.write_bytes(document)
        return _sign_file_with(content, certificate, private_key)


def sign_file(path: Path, *, key: str = "rsa") -> bytes:
    """A detached signature over a file on disk, streamed by openssl (for large documents)."""
    identity = throwaway_pki().identity(key, 1)
    return _sign_file_with(path, identity.cert_path, identity.key_path)


def _sign_file_with(path: Path, certificate: Path, private_key: Path) -> bytes:
    result = subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-in", str(path), "-signer", str(certificate),
         "-inkey", str(private_key), "-outform", "DER", "-md", "sha256"],
        capture_output=True, check=True,
    )  # fmt: skip
    return result.stdout
