"""The CMS signature core: parse uploaded signatures and verify them cryptographically.

RFC 5652 (CMS) SignedData, detached or attached, DER or BER. This module checks signature values
and message digests only; certificate paths, trust, validity periods and revocation belong to
another layer (an expired certificate is no reason to refuse here). It knows nothing of HTTP or
SQL and never re-encodes what it parsed except for the one documented fallback of interop
decision 1 (:func:`_signed_attrs_variants`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from asn1crypto import cms, core, parser, pem, tsp, x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.algorithms import (
    AlgorithmNotSupported,
    SignatureScheme,
    algorithm_name,
    load_public_key,
    signature_scheme,
    verify_signature,
)
from sigarchive.signatures.asn1.ber import to_der
from sigarchive.signatures.digests import SUPPORTED_DIGESTS, digest_bytes

#: What asn1crypto raises on malformed input (it parses lazily, so also on first access).
ASN1_ERRORS = (ValueError, TypeError, OverflowError, KeyError)

# Failure codes a SignerCheck can carry (verify_against_document raises them unchanged).
DIGEST_MISMATCH = "DocumentDigestMismatch"
SIGNATURE_FAILED = "SignatureVerificationFailed"
CERT_NOT_FOUND = "SignerCertificateNotFound"
UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm"
UNSUPPORTED_SIGNATURE = "UnsupportedSignature"
INVALID_SIGNED_ATTRS = "InvalidSignedAttributes"
MALFORMED = "MalformedSignature"
COUNTER_SIGNATURE_FAILED = "CounterSignatureVerificationFailed"

#: Failures that prove a signature wrong, as opposed to "cannot be checked here".
_BROKEN = frozenset({DIGEST_MISMATCH, SIGNATURE_FAILED, INVALID_SIGNED_ATTRS, MALFORMED})


class _RawEncapsulatedContentInfo(cms.EncapsulatedContentInfo):  # type: ignore[misc]
    """eContent kept as its OCTET STRING octets whatever eContentType says (RFC 5652 §5.2).

    asn1crypto would parse an eContent of type id-signedData as a SignedData and fail on a
    conformant OCTET STRING (``cades-bes-signeddata-enveloping.p7m``).
    """

    _oid_specs: ClassVar[dict[str, type]] = {}


class _SignedData(cms.SignedData):  # type: ignore[misc]
    """SignedData whose encapContentInfo is always CMS-shaped (see above)."""

    def _encap_content_info_spec(self) -> type:
        return _RawEncapsulatedContentInfo

    _spec_callbacks: ClassVar[dict[str, Callable[[Any], type]]] = {
        "encap_content_info": _encap_content_info_spec
    }


class _ContentInfo(cms.ContentInfo):  # type: ignore[misc]
    _oid_specs: ClassVar[dict[str, type]] = {"signed_data": _SignedData}


@dataclass(frozen=True)
class ParsedSignature:
    """An uploaded CMS SignedData, parsed but not yet verified."""

    raw: bytes  # exactly the uploaded bytes
    signed_data: cms.SignedData
    is_attached: bool  # eContent present
    encapsulated_content: bytes | None  # eContent octets (constructed: segments concatenated)
    required_digest_algorithms: frozenset[str]  # the document must be hashed with each of these


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


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature whose every signer (and counter-signer) verified against the document."""

    parsed: ParsedSignature
    signers: tuple[SignerCheck, ...]  # top-level signers only
    digest_algorithm: str  # first signer's digestAlgorithm
    document_digest: bytes  # the document digest with that algorithm


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_signature(raw: bytes) -> ParsedSignature:
    """Parse a DER or BER CMS ContentInfo holding a SignedData (RFC 5652 §3, §5.1).

    Raises :class:`SignatureRejected` with code ``SignatureIsBase64``, ``NotCms``, ``NoSigners``
    or ``UnsupportedAlgorithm`` (a digest algorithm the document cannot be hashed with).
    """
    if not raw:
        raise SignatureRejected("The signature file is empty.", code="NotCms")
    try:
        info = _ContentInfo.load(raw, strict=True)  # strict: trailing bytes are an error
        content_type = info["content_type"].native
    except ASN1_ERRORS as exc:
        _refuse_text(raw)
        raise SignatureRejected(
            f"The signature is not a DER/BER-encoded CMS structure ({_first_line(exc)}).",
            code="NotCms",
        ) from exc
    if content_type != "signed_data":
        raise SignatureRejected(
            f"The file is a CMS {content_type} structure, not a SignedData signature.",
            code="NotCms",
        )
    try:
        signed_data: cms.SignedData = info["content"]
        e_content = signed_data["encap_content_info"]["content"]
        content = None if isinstance(e_content, core.Void) else bytes(e_content)
        signer_infos = list(signed_data["signer_infos"])
        required = frozenset(_required_digests(si, i) for i, si in enumerate(signer_infos))
    except ASN1_ERRORS as exc:
        raise SignatureRejected(
            f"The CMS SignedData is malformed ({_first_line(exc)}).", code="NotCms"
        ) from exc
    if not signer_infos:
        raise SignatureRejected(
            "The CMS SignedData contains no signer (no SignerInfo): there is nothing to verify.",
            code="NoSigners",
        )
    return ParsedSignature(
        raw=raw,
        signed_data=signed_data,
        is_attached=content is not None,
        encapsulated_content=content,
        required_digest_algorithms=frozenset().union(*required),
    )


def _required_digests(signer_info: cms.SignerInfo, index: int) -> frozenset[str]:
    """Digests of the document that checking this signer needs (and a parse of its fields)."""
    signer_info["sid"].chosen  # noqa: B018 - parse now so that malformed input is NotCms
    signer_info["signature"].native  # noqa: B018
    digest = signer_info["digest_algorithm"]["algorithm"].native
    if digest not in SUPPORTED_DIGESTS:
        raise SignatureRejected(
            f"Signer {index + 1} uses the digest algorithm {digest}, which is not supported "
            f"(supported: {', '.join(sorted(SUPPORTED_DIGESTS))}).",
            code=UNSUPPORTED_ALGORITHM,
        )
    if _has_signed_attrs(signer_info):
        return frozenset({digest})
    # Without signed attributes the signature covers the content itself (RFC 5652 §5.4), so the
    # document is also needed under the signature's own hash (interop decision 3).
    try:
        scheme = signature_scheme(signer_info["signature_algorithm"], digest)
    except AlgorithmNotSupported:
        return frozenset({digest})  # reported by verify_against_document
    return frozenset({digest, scheme.hash_algorithm or digest})


_BASE64_START = re.compile(rb"[A-Za-z0-9+/=\s]*\Z")


def _refuse_text(raw: bytes) -> None:
    """Raise ``SignatureIsBase64`` when ``raw`` is base64 or PEM text of a CMS structure."""
    if raw.lstrip()[:11] == b"-----BEGIN ":
        try:
            kind, _, der = pem.unarmor(raw.strip())
        except ASN1_ERRORS:
            return
        if _is_content_info(der):
            raise SignatureRejected(
                f"The signature is PEM text ('{kind}'), not binary CMS. This API does not accept "
                "base64/PEM: upload the DER (binary) signature file.",
                code="SignatureIsBase64",
            )
        return
    if not _BASE64_START.match(raw[:64]):
        return
    try:
        der = base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        return
    if _is_content_info(der):
        raise SignatureRejected(
            "The signature is base64 text, not binary CMS. This API does not accept base64: "
            "decode it and upload the DER (binary) signature file.",
            code="SignatureIsBase64",
        )


def _is_content_info(der: bytes) -> bool:
    try:
        return bool(cms.ContentInfo.load(der, strict=True)["content_type"].native)
    except ASN1_ERRORS:
        return False


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Checking one SignerInfo


def certificates_of(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates of SignedData.certificates (other certificate formats skipped)."""
    certificates = signed_data["certificates"]
    if isinstance(certificates, core.Void):
        return []
    return [c.chosen for c in certificates if c.name == "certificate"]


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
        if not _has_signed_attrs(si):
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


def _has_signed_attrs(signer_info: cms.SignerInfo) -> bool:
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


# ---------------------------------------------------------------------------------------------
# Verifying a whole signature against a document


def verify_against_document(
    parsed: ParsedSignature, document_digests: Mapping[str, bytes]
) -> VerifiedSignature:
    """Verify every signer and counter-signer of ``parsed`` against the document.

    ``document_digests`` maps each of ``parsed.required_digest_algorithms`` to the document's
    digest (for an attached signature: of ``parsed.encapsulated_content``). Raises
    :class:`SignatureRejected` with the failing signer's code (``DocumentDigestMismatch``,
    ``SignatureVerificationFailed``, ``SignerCertificateNotFound``, ``UnsupportedAlgorithm`` ...)
    or ``CounterSignatureVerificationFailed``.
    """
    missing = parsed.required_digest_algorithms - set(document_digests)
    if missing:
        raise ValueError(f"document digests missing for {sorted(missing)}")
    signed_data = parsed.signed_data
    certificates = certificates_of(signed_data)
    content_type = signed_data["encap_content_info"]["content_type"].dotted
    signer_infos = list(signed_data["signer_infos"])
    checks = []
    for index, signer_info in enumerate(signer_infos):
        check = check_signer_info(
            signer_info,
            certificates,
            document_digests.__getitem__,
            index,
            content_type=content_type,
            content=parsed.encapsulated_content,
        )
        if check.failure_code is not None:
            who = _who(check, f"Signer {index + 1} of {len(signer_infos)}")
            raise SignatureRejected(f"{who}: {check.failure_reason}.", code=check.failure_code)
        _verify_counter_signatures(signer_info, certificates, f"signer {index + 1}")
        checks.append(check)
    first = checks[0].digest_algorithm
    return VerifiedSignature(parsed, tuple(checks), first, document_digests[first])


def _verify_counter_signatures(
    signer_info: cms.SignerInfo, certificates: Sequence[x509.Certificate], path: str
) -> None:
    """Check the counter-signatures of ``signer_info`` recursively (RFC 5652 §11.4).

    Reject when one is proven wrong; a counter-signer whose certificate is absent or whose
    algorithm is unsupported cannot be checked here and is left to the validation report.
    Other unsigned attributes are not parsed at all (``Signature-C-DE_CRY-3.p7m`` wraps its
    time-stamp token in a non-conformant OCTET STRING).
    """
    unsigned = signer_info["unsigned_attrs"]
    if isinstance(unsigned, core.Void):
        return
    try:
        counter_signers = [
            cs
            for attribute in unsigned
            if attribute["type"].native == "counter_signature"
            for cs in attribute["values"]
        ]
        countersigned = signer_info["signature"].native
    except ASN1_ERRORS as exc:
        raise SignatureRejected(
            f"The counter-signature of {path} is malformed ({_first_line(exc)}).",
            code=COUNTER_SIGNATURE_FAILED,
        ) from exc
    for number, counter_signer in enumerate(counter_signers, start=1):
        where = f"counter-signature {number} of {path}"
        check = check_signer_info(
            counter_signer,
            certificates,
            lambda algorithm: digest_bytes(algorithm, countersigned),
            number - 1,
            content=countersigned,
        )
        if check.failure_code in _BROKEN:
            who = _who(check, where[0].upper() + where[1:])
            raise SignatureRejected(
                f"{who}: {check.failure_reason}.", code=COUNTER_SIGNATURE_FAILED
            )
        _verify_counter_signatures(counter_signer, certificates, where)


def _who(check: SignerCheck, label: str) -> str:
    return f"{label} ({check.signer_subject})" if check.signer_subject else label
