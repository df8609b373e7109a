"""Checking one SignerInfo (RFC 5652 §5.4, §5.6), and the one signer-certificate matcher."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, core, parser, tsp, x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sigarchive.signatures.algorithms import (
    AlgorithmNotSupported,
    SignatureScheme,
    algorithm_name,
    load_public_key,
    signature_scheme,
    verify_signature,
)
from sigarchive.signatures.asn1.ber import to_der
from sigarchive.signatures.cms.codes import (
    ASN1_ERRORS,
    CERT_NOT_FOUND,
    DIGEST_MISMATCH,
    INVALID_SIGNED_ATTRS,
    MALFORMED,
    SIGNATURE_FAILED,
    UNSUPPORTED_ALGORITHM,
    UNSUPPORTED_SIGNATURE,
)
from sigarchive.signatures.digests import SUPPORTED_DIGESTS


@dataclass(frozen=True)
class SignerCheck:
    """Result of checking one SignerInfo; never raised, only returned."""

    index: int
    signer_certificate: x509.Certificate | None
    signer_subject: str | None
    digest_algorithm: str
    signature_algorithm: str  # e.g. "sha256_rsa", "rsassa_pss", "sha256_ecdsa", "ed25519"
    signing_time: datetime | None
    signed_attrs_encoding: str  # "der" | "as-stored" | "der-sorted" | "none"
    message_digest_ok: bool
    signature_ok: bool
    failure_code: str | None  # None when both ok
    failure_reason: str | None


def check_signer_info(
    signer_info: cms.SignerInfo,
    certificates: Sequence[x509.Certificate],
    content_digest: Callable[[str], bytes],
    index: int = 0,
    *,
    content_type: str | None = None,
    content: bytes | None = None,
) -> SignerCheck:
    """Check one SignerInfo (RFC 5652 §5.4, §5.6); returns flags, never raises for bad input.

    ``content_digest(alg)`` is the digest of the signed content: the document, a time-stamp
    token's TSTInfo eContent, or for a counter-signature the countersigned SignerInfo's signature
    value octets (RFC 5652 §11.4). ``content_type`` (asn1crypto name or dotted OID), when given,
    must equal the content-type signed attribute (RFC 5652 §11.1): pass the eContentType; leave
    it None for counter-signatures, which have no content-type attribute.
    ``content`` (optional) is the content itself, needed only for Ed25519 without signed
    attributes.
    """
    check = _SignerChecker(signer_info, certificates, content_digest, index)
    try:
        return check.run(content_type, content)
    except ASN1_ERRORS as exc:
        return check.result(False, False, MALFORMED, f"the SignerInfo is malformed ({exc})")


class _CannotCheck(Exception):
    """The signature value cannot be checked (no certificate, unsupported algorithm)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _SignerChecker:
    """One check_signer_info call, split into steps."""

    def __init__(
        self,
        signer_info: cms.SignerInfo,
        certificates: Sequence[x509.Certificate],
        content_digest: Callable[[str], bytes],
        index: int,
    ) -> None:
        self.signer_info = signer_info
        self.content_digest = content_digest
        self.index = index
        self.certificate: x509.Certificate | None = None
        self.digest_algorithm = "unknown"
        self.signature_algorithm = "unknown"
        self.signing_time: datetime | None = None
        self.encoding = "none"
        self.certificates = certificates

    def result(
        self, md_ok: bool, sig_ok: bool, code: str | None, reason: str | None
    ) -> SignerCheck:
        subject = None
        if self.certificate is not None:
            try:
                subject = self.certificate.subject.human_friendly
            except ASN1_ERRORS:
                subject = None
        return SignerCheck(
            index=self.index,
            signer_certificate=self.certificate,
            signer_subject=subject,
            digest_algorithm=self.digest_algorithm,
            signature_algorithm=self.signature_algorithm,
            signing_time=self.signing_time,
            signed_attrs_encoding=self.encoding,
            message_digest_ok=md_ok,
            signature_ok=sig_ok,
            failure_code=code,
            failure_reason=reason,
        )

    def run(self, content_type: str | None, content: bytes | None) -> SignerCheck:
        si = self.signer_info
        self.digest_algorithm = si["digest_algorithm"]["algorithm"].native
        self.signature_algorithm = algorithm_name(si["signature_algorithm"])
        self.certificate = find_signer_certificate(si["sid"], self.certificates)
        if self.digest_algorithm not in SUPPORTED_DIGESTS:
            return self.result(
                False,
                False,
                UNSUPPORTED_ALGORITHM,
                f"the digest algorithm {self.digest_algorithm} is not supported",
            )
        if not has_signed_attrs(si):
            return self._run_without_signed_attrs(content)

        attrs = _attributes_by_type(si["signed_attrs"])
        self.signing_time = _signing_time(attrs)
        problem = _signed_attrs_problem(attrs, content_type)
        if problem is not None:
            return self.result(False, False, INVALID_SIGNED_ATTRS, problem)
        expected = self.content_digest(self.digest_algorithm)
        md_ok = hmac.compare_digest(attrs["message_digest"][0]["values"][0].native, expected)
        code, reason = self._verify_signed_attrs()
        if not md_ok:
            return self.result(
                False,
                code is None,
                DIGEST_MISMATCH,
                f"the {self.digest_algorithm} digest of the signed content does not match the "
                "message-digest signed attribute: the signature was made for different content",
            )
        return self.result(True, code is None, code, reason)

    def _verify_signed_attrs(self) -> tuple[str | None, str | None]:
        """Verify the signature value over the signed attributes; (failure code, reason)."""
        try:
            scheme, key = self._prepare()
        except _CannotCheck as exc:
            return exc.code, exc.reason
        signature = self.signer_info["signature"].native
        variants = _signed_attrs_variants(self.signer_info["signed_attrs"])
        stored, first = next(variants)
        self.encoding = first
        if verify_signature(key, scheme, signature, message=stored):
            return None, None
        for encoded, label in variants:
            if verify_signature(key, scheme, signature, message=encoded):
                self.encoding = label
                return None, None
        return SIGNATURE_FAILED, self._bad_signature_reason(scheme)

    def _run_without_signed_attrs(self, content: bytes | None) -> SignerCheck:
        """RFC 5652 §5.4: no signed attributes, the signature covers the content itself."""
        try:
            scheme, key = self._prepare()
        except _CannotCheck as exc:
            return self.result(False, False, exc.code, exc.reason)
        signature = self.signer_info["signature"].native
        if scheme.hash_algorithm is None:  # PureEdDSA signs the whole content
            if content is None:
                return self.result(
                    False,
                    False,
                    UNSUPPORTED_SIGNATURE,
                    "an Ed25519 signature without signed attributes over detached content "
                    "cannot be checked from a digest of the document",
                )
            ok = verify_signature(key, scheme, signature, message=content)
        else:
            digest = self.content_digest(scheme.hash_algorithm)
            ok = verify_signature(key, scheme, signature, digest=digest)
        if ok:
            return self.result(True, True, None, None)
        return self.result(
            False,
            False,
            SIGNATURE_FAILED,
            "the signature (made without signed attributes, directly over the content) does "
            "not verify: either the content is not the signed one or the signature is corrupt",
        )

    def _prepare(self) -> tuple[SignatureScheme, PublicKeyTypes]:
        """Scheme and public key; raises :class:`_CannotCheck` when there are none."""
        if self.certificate is None:
            raise _CannotCheck(
                CERT_NOT_FOUND,
                f"the signer's certificate ({_describe_sid(self.signer_info['sid'])}) is not "
                "included in the signature, so its signature value cannot be verified",
            )
        try:
            scheme = signature_scheme(
                self.signer_info["signature_algorithm"], self.digest_algorithm
            )
            key = load_public_key(self.certificate.public_key)
        except AlgorithmNotSupported as exc:
            raise _CannotCheck(UNSUPPORTED_ALGORITHM, str(exc)) from exc
        return scheme, key

    def _bad_signature_reason(self, scheme: SignatureScheme) -> str:
        declared = self.signature_algorithm
        if scheme.hash_algorithm not in (None, self.digest_algorithm):
            declared += f" (hash {scheme.hash_algorithm}, digestAlgorithm {self.digest_algorithm})"
        return (
            f"the signature value does not verify with the signer's public key under the "
            f"algorithm it declares, {declared}: the signature is corrupt or was altered"
        )


def sid_matches(sid: cms.SignerIdentifier, certificate: x509.Certificate) -> bool:
    """Does the SignerIdentifier name ``certificate`` (RFC 5652 §5.3)? Never raises.

    The one signer-certificate matcher of the archive (signers, counter-signers, TSAs).
    issuerAndSerialNumber matches issuer name and serial number; subjectKeyIdentifier matches
    the certificate's SKI extension or, when it has none, the SHA-1 of its public key
    (RFC 5280 §4.2.1.2 method 1).
    """
    try:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            return bool(
                certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer == wanted["issuer"]
            )
        key_id = sid.chosen.native
        if not key_id:
            return False
        if certificate.key_identifier is not None:
            return bool(key_id == certificate.key_identifier)
        return bool(key_id == certificate.public_key.sha1)
    except ASN1_ERRORS:
        return False  # a malformed certificate names nobody


def find_signer_certificate(
    sid: cms.SignerIdentifier, certificates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The first of ``certificates`` the SignerIdentifier names (:func:`sid_matches`), or None."""
    return next((c for c in certificates if sid_matches(sid, c)), None)


def _describe_sid(sid: cms.SignerIdentifier) -> str:
    try:
        if sid.name == "issuer_and_serial_number":
            chosen = sid.chosen
            return (
                f"issuer {chosen['issuer'].human_friendly}, "
                f"serial number {chosen['serial_number'].native:x}"
            )
        key_id = sid.chosen.native
        return f"subject key identifier {key_id.hex()}" if key_id else "an empty key identifier"
    except ASN1_ERRORS:
        return "malformed signer identifier"


def has_signed_attrs(signer_info: cms.SignerInfo) -> bool:
    return not isinstance(signer_info["signed_attrs"], core.Void)


def _attributes_by_type(attributes: cms.CMSAttributes) -> dict[str, list[cms.CMSAttribute]]:
    by_type: dict[str, list[cms.CMSAttribute]] = {}
    for attribute in attributes:
        by_type.setdefault(attribute["type"].native, []).append(attribute)
    return by_type


def _signed_attrs_problem(
    attrs: dict[str, list[cms.CMSAttribute]], content_type: str | None
) -> str | None:
    """Why the signed attributes break RFC 5652 §5.3/§11.1/§11.2, or None."""
    for name in ("message_digest", "content_type"):
        found = attrs.get(name, [])
        # RFC 5652 §11.1, §11.2: single-valued, and §5.3: at most one instance.
        if len(found) > 1 or any(len(a["values"]) != 1 for a in found):
            return f"the {name.replace('_', '-')} signed attribute must appear once with one value"
    if "message_digest" not in attrs:
        return "the message-digest signed attribute is missing (RFC 5652 §5.3)"
    if content_type is not None:
        if "content_type" not in attrs:
            return "the content-type signed attribute is missing (RFC 5652 §5.3)"
        signed = attrs["content_type"][0]["values"][0]
        if signed.dotted != _content_type_oid(content_type):
            return (
                f"the content-type signed attribute ({signed.native}) differs from the signed "
                f"content's type ({content_type}) (RFC 5652 §5.6)"
            )
    return None


def _content_type_oid(content_type: str) -> str:
    """Dotted OID of a content type given by asn1crypto name or as an OID.

    asn1crypto's name maps grow as modules register names (``tst_info`` only exists once
    asn1crypto.tsp is imported), so OIDs are compared, never names.
    """
    if content_type[:1].isdigit():
        return content_type
    assert tsp  # imported for its side effect: it names id-ct-TSTInfo "tst_info"
    names: dict[str, str] = {name: oid for oid, name in cms.ContentType._map.items()}
    return names.get(content_type, content_type)


def _signing_time(attrs: dict[str, list[cms.CMSAttribute]]) -> datetime | None:
    """The signing-time attribute (RFC 5652 §11.3), UTCTime or GeneralizedTime.

    Interop decision 5: RFC 5652 requires UTCTime for 1950-2049, but GeneralizedTime is read as
    well (``Signature-CBp-B-1.p7m``); the attribute is informational, never a reason to refuse.
    """
    try:
        value = attrs["signing_time"][0]["values"][0].native
    except (*ASN1_ERRORS, IndexError):
        return None
    return value if isinstance(value, datetime) else None


def _signed_attrs_variants(signed_attrs: cms.CMSAttributes) -> Iterator[tuple[bytes, str]]:
    """Encodings of the signed attributes to verify the signature over, in order of preference.

    RFC 5652 §5.4: the signature covers the DER encoding of the SET OF attributes (tag 0x31,
    not the IMPLICIT [0] of the SignerInfo). Interop decision 1 (manifest "Interop decisions" 1):
    OpenSSL verifies over the attributes as stored, BouncyCastle/DSS over their DER re-encoding
    (SET OF members sorted, X.690 §11.6). Each tool accepts files the other refuses
    (``CAdES_A_DETACHED.csig`` and ``Signature-C-DE_CRY-4.p7m`` were signed as stored in non-DER
    order, ``BER_reordered_prova.txt.p7m`` over the sorted form), so both are tried: first the
    stored bytes ("der" when they already are DER, else "as-stored"), then "der-sorted".
    The re-encoding works on a copy of the bytes; the parsed structure is never touched.
    """
    stored = parser.emit(0, 1, 17, signed_attrs.contents)  # universal, constructed, SET
    try:
        der = to_der(stored)
    except (ValueError, RecursionError):
        der = stored  # cannot re-encode: only the stored form can be checked
    yield stored, "der" if der == stored else "as-stored"
    if der != stored:
        yield der, "der-sorted"
