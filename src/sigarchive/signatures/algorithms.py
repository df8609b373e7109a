"""Signature algorithms of CMS signer infos: which hash, which padding, and the check itself.

Supported: RSA PKCS#1 v1.5 (RFC 8017 §8.2, RFC 5754 §3.2), RSASSA-PSS (RFC 4056), ECDSA on the
curves ``cryptography`` knows (RFC 5758 §3.2, RFC 5753) and Ed25519 (RFC 8419), with the digests of
:data:`~sigarchive.signatures.digests.SUPPORTED_DIGESTS` (SHA-1, SHA-2, SHA-3).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_der_public_key

from sigarchive.signatures.digests import SUPPORTED_DIGESTS, digest_bytes

Family = Literal["rsa_pkcs1v15", "rsa_pss", "ecdsa", "ed25519"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
assert set(_HASHES) == SUPPORTED_DIGESTS

# Signature algorithm OIDs asn1crypto 1.5 does not name; the names follow its own scheme.
_EXTRA_NAMES = {
    "1.2.840.113549.1.1.15": "sha512_224_rsa",  # RFC 8017 appendix A.2.4
    "1.2.840.113549.1.1.16": "sha512_256_rsa",
    "2.16.840.1.101.3.4.3.13": "sha3_224_rsa",  # NIST CSOR, RFC 8702 §3.2 family
    "2.16.840.1.101.3.4.3.14": "sha3_256_rsa",
    "2.16.840.1.101.3.4.3.15": "sha3_384_rsa",
    "2.16.840.1.101.3.4.3.16": "sha3_512_rsa",
    "1.2.840.10045.2.1": "ec_public_key",  # id-ecPublicKey, used by some signers as "ECDSA"
}

# name -> (family, hash named by the algorithm or None when it names none).
_SCHEMES: dict[str, tuple[Family, str | None]] = {
    "rsassa_pkcs1v15": ("rsa_pkcs1v15", None),  # plain rsaEncryption (RFC 5754 §3.2)
    "rsassa_pss": ("rsa_pss", None),  # hash comes from the parameters (RFC 4056 §2)
    "ecdsa": ("ecdsa", None),
    "ec_public_key": ("ecdsa", None),
    "ed25519": ("ed25519", None),
    **{f"{h}_rsa": ("rsa_pkcs1v15", h) for h in _HASHES},
    **{f"{h}_ecdsa": ("ecdsa", h) for h in _HASHES if h not in ("sha512_224", "sha512_256")},
}


class AlgorithmNotSupported(Exception):
    """The signature uses an algorithm or key this module cannot check (not a bad signature)."""


@dataclass(frozen=True)
class SignatureScheme:
    """How one signature value is checked."""

    name: str  # e.g. "sha256_rsa", "rsassa_pss", "sha256_ecdsa", "ed25519"
    family: Family
    hash_algorithm: str | None  # None for PureEdDSA, which hashes nothing itself
    mgf1_hash: str | None = None  # RSASSA-PSS only
    salt_length: int | None = None  # RSASSA-PSS only


def algorithm_name(signature_algorithm: algos.SignedDigestAlgorithm) -> str:
    """asn1crypto's name of a signature algorithm, ours for OIDs it does not name, else the OID."""
    oid: core.ObjectIdentifier = signature_algorithm["algorithm"]
    return _EXTRA_NAMES.get(oid.dotted, oid.native)  # type: ignore[no-any-return]


def signature_scheme(
    signature_algorithm: algos.SignedDigestAlgorithm, digest_algorithm: str
) -> SignatureScheme:
    """The scheme a SignerInfo's signatureAlgorithm declares.

    Interop decision 3 (manifest "Interop decisions" 3, dss-1419): the hash of the signature is
    the one the signatureAlgorithm names (sha512WithRSAEncryption -> SHA-512) and, for PSS, the
    one in its parameters; the SignerInfo's digestAlgorithm is used only when the
    signatureAlgorithm names no hash (rsaEncryption, RFC 5754 §3.2; plain ECDSA). This is
    DSS/BouncyCastle's reading: a signature must verify under the algorithm it declares.
    OpenSSL 3 always hashes with digestAlgorithm and so disagrees on such files.
    """
    name = algorithm_name(signature_algorithm)
    if name not in _SCHEMES:
        raise AlgorithmNotSupported(f"signature algorithm {name} is not supported")
    family, named_hash = _SCHEMES[name]
    if family == "ed25519":
        # RFC 8419 §3.1: PureEdDSA signs the message itself; digestAlgorithm only serves the
        # message-digest attribute (SHA-512 per RFC 8419 §3.1, any supported one accepted).
        return SignatureScheme(name, family, None)
    if family == "rsa_pss":
        return _pss_scheme(name, signature_algorithm)
    hash_algorithm = named_hash or digest_algorithm
    _require_hash(hash_algorithm)
    return SignatureScheme(name, family, hash_algorithm)


def _pss_scheme(name: str, signature_algorithm: algos.SignedDigestAlgorithm) -> SignatureScheme:
    """RSASSA-PSS parameters (RFC 4056 §3; absent fields take the RFC 4055 §3.1 defaults)."""
    params = signature_algorithm["parameters"]
    if not isinstance(params, algos.RSASSAPSSParams):
        params = algos.RSASSAPSSParams()  # absent parameters: all defaults (SHA-1, MGF1-SHA-1, 20)
    hash_algorithm = params["hash_algorithm"]["algorithm"].native
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise AlgorithmNotSupported(
            f"PSS mask generation {mgf['algorithm'].native} is not supported"
        )
    mgf1_hash = mgf["parameters"]["algorithm"].native
    if params["trailer_field"].native != "trailer_field_bc":
        raise AlgorithmNotSupported("PSS trailer field other than 0xBC is not supported")
    _require_hash(hash_algorithm)
    _require_hash(mgf1_hash)
    return SignatureScheme(name, "rsa_pss", hash_algorithm, mgf1_hash, params["salt_length"].native)


def _require_hash(name: str) -> None:
    if name not in SUPPORTED_DIGESTS:
        raise AlgorithmNotSupported(f"hash algorithm {name} is not supported")


def load_public_key(public_key_info: keys.PublicKeyInfo) -> PublicKeyTypes:
    """A ``cryptography`` public key from a certificate's SubjectPublicKeyInfo."""
    try:
        return load_der_public_key(public_key_info.dump())
    except (ValueError, UnsupportedAlgorithm) as exc:
        kind = public_key_info["algorithm"]["algorithm"].native
        raise AlgorithmNotSupported(
            f"the signer's {kind} public key cannot be used ({exc})"
        ) from exc


def verify_signature(
    public_key: PublicKeyTypes,
    scheme: SignatureScheme,
    signature: bytes,
    *,
    message: bytes | None = None,
    digest: bytes | None = None,
) -> bool:
    """Whether ``signature`` verifies over ``message`` (or over a precomputed ``digest`` of it).

    ``digest`` must be made with ``scheme.hash_algorithm``; PureEdDSA needs ``message``.
    A key that does not fit the scheme (an EC key with an RSA algorithm ...) does not verify.
    """
    if scheme.family == "ed25519":
        if message is None:
            raise ValueError("Ed25519 (PureEdDSA) needs the message itself, not a digest")
        if not isinstance(public_key, ed25519.Ed25519PublicKey):
            return False
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
    assert scheme.hash_algorithm is not None
    if digest is None:
        if message is None:
            raise ValueError("either message or digest is needed")
        digest = digest_bytes(scheme.hash_algorithm, message)
    prehashed = utils.Prehashed(_HASHES[scheme.hash_algorithm]())
    try:
        if scheme.family == "ecdsa":
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                return False
            public_key.verify(signature, digest, ec.ECDSA(prehashed))
            return True
        if not isinstance(public_key, rsa.RSAPublicKey):
            return False
        if scheme.family == "rsa_pss":
            assert scheme.mgf1_hash is not None and scheme.salt_length is not None
            pss = padding.PSS(padding.MGF1(_HASHES[scheme.mgf1_hash]()), scheme.salt_length)
            public_key.verify(signature, digest, pss, prehashed)
            return True
        public_key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        return True
    except InvalidSignature:
        if scheme.family == "rsa_pkcs1v15":
            assert isinstance(public_key, rsa.RSAPublicKey)
            return _digest_info_matches(public_key, signature, scheme.hash_algorithm, digest)
        return False
    except (ValueError, UnsupportedAlgorithm):
        return False  # e.g. a salt length longer than the key allows


def _digest_info_matches(
    public_key: rsa.RSAPublicKey, signature: bytes, hash_algorithm: str, digest: bytes
) -> bool:
    """Lenient PKCS#1 v1.5 check, after the strict one failed.

    Interop decision 2 (manifest "Interop decisions" 2, cades-broken-sig-tst*): some signers
    encode the DigestInfo's AlgorithmIdentifier without the NULL parameters. RFC 5754 §2 and
    RFC 4055 §2.1 require accepting SHA-2 identifiers with absent as well as NULL parameters;
    BouncyCastle/DSS accept such signatures, OpenSSL and the strict verify do not. So: recover
    the DigestInfo (RFC 8017 §9.2) and compare algorithm and digest, accepting only absent or
    NULL parameters.
    """
    try:
        recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
        digest_info = algos.DigestInfo.load(recovered, strict=True)
        algorithm = digest_info["digest_algorithm"]
        parameters = algorithm["parameters"]
        if not isinstance(parameters, core.Void | core.Null):
            return False
        return algorithm["algorithm"].native == hash_algorithm and hmac.compare_digest(
            digest_info["digest"].native, digest
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
