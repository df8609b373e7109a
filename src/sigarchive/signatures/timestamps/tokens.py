"""RFC 3161 time-stamp tokens: parsing and technical verification.

A token is a ContentInfo holding a SignedData whose eContentType is id-ct-TSTInfo and which
is signed by exactly one TSA (RFC 3161 §2.4.2). :func:`parse_timestamp_token` raises only for
something that is not such a token; :func:`verify_token` never raises for a bad one, it reports
each check in a :class:`TokenCheck`. Trust (path to an anchor, revocation) is not decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import cms, tsp, x509

from sigarchive.errors import ArchiveError, SignatureRejected
from sigarchive.signatures.asn1.ber import CONTEXT, octet_string_value, read_tlv, split_tlvs
from sigarchive.signatures.asn1.oids import (
    ID_CT_TST_INFO,
    ID_SIGNED_DATA,
    SIGNING_CERTIFICATE,
    SIGNING_CERTIFICATE_V2,
)
from sigarchive.signatures.asn1.parts import RawAttribute, signer_info_parts
from sigarchive.signatures.cms import check_signer_info, sid_matches
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.indications import SubIndication

__all__ = [
    "EssCertRef",
    "TimestampToken",
    "TokenCheck",
    "parse_timestamp_token",
    "verify_token",
]


@dataclass(frozen=True)
class EssCertRef:
    """One ESSCertID (RFC 2634 §5.4.1, SHA-1) or ESSCertIDv2 (RFC 5035 §4) of a token."""

    version: int
    hash_algorithm: str
    cert_hash: bytes
    issuer_serial: tsp.IssuerSerial | None = field(compare=False, repr=False)

    def matches(self, certificate: x509.Certificate) -> bool:
        """Does this reference name ``certificate`` (hash, and issuer/serial when present)?"""
        try:
            if digest_bytes(self.hash_algorithm, certificate.dump()) != self.cert_hash:
                return False
        except ArchiveError:
            return False
        if self.issuer_serial is None:
            return True
        try:
            if self.issuer_serial["serial_number"].native != certificate.serial_number:
                return False
            return any(
                name.name == "directory_name" and name.chosen == certificate.issuer
                for name in self.issuer_serial["issuer"]
            )
        except (ValueError, TypeError, KeyError):
            return False


@dataclass(frozen=True)
class TimestampToken:
    """A parsed RFC 3161 TimeStampToken; ``raw`` is its encoding as stored."""

    raw: bytes
    gen_time: datetime
    hash_algorithm: str
    message_imprint: bytes
    serial_number: int
    policy: str
    nonce: int | None
    #: The eContent octets (the DER TSTInfo the TSA signed).
    tst_info_octets: bytes = field(repr=False)
    content_info: cms.ContentInfo = field(compare=False, repr=False)
    signed_data: cms.SignedData = field(compare=False, repr=False)
    signer_info: cms.SignerInfo = field(compare=False, repr=False)
    tst_info: tsp.TSTInfo = field(compare=False, repr=False)
    certificates: tuple[x509.Certificate, ...] = field(compare=False, repr=False)
    #: ESS signing-certificate(-v2) references, v2 first; empty if the attribute is absent.
    signing_certificate_refs: tuple[EssCertRef, ...] = field(compare=False, repr=False)
    #: The TSA certificate found among ``certificates`` (ESS reference, else signer identifier).
    signer_certificate: x509.Certificate | None = field(compare=False, repr=False)

    @property
    def unsigned_attributes(self) -> tuple[RawAttribute, ...]:
        """The unsigned attributes of the TSA's SignerInfo, as stored (e.g. an ats-hash-index)."""
        return signer_info_parts(self.signer_info).unsigned_attributes

    def certificate_encodings(self) -> tuple[bytes, ...]:
        """Every CertificateChoices of the token's SignedData, as stored."""
        for part in split_tlvs(self.signed_data.contents):
            if part.is_a(CONTEXT, 0):
                return tuple(child.encoded for child in part.children())
        return ()


def _invalid(reason: str) -> SignatureRejected:
    return SignatureRejected(
        f"Not a valid RFC 3161 time-stamp token: {reason}", code="InvalidTimestampToken"
    )


def _ess_refs(signer_info: cms.SignerInfo) -> tuple[EssCertRef, ...]:
    # The signedAttrs [0] after digestAlgorithm: a subjectKeyIdentifier SID is a [0] too.
    try:
        signed = signer_info_parts(signer_info).signed_attributes
    except SignatureRejected as exc:  # reported as InvalidTimestampToken by the caller
        raise ValueError(exc.description) from exc
    refs: list[EssCertRef] = []
    # signing-certificate-v2 first (RFC 5816 §2.2.1 lets a TSA use it instead of v1).
    attributes = sorted(
        (a for a in signed if a.oid in (SIGNING_CERTIFICATE_V2, SIGNING_CERTIFICATE)),
        key=lambda a: a.oid != SIGNING_CERTIFICATE_V2,
    )
    for attribute in attributes:
        v2 = attribute.oid == SIGNING_CERTIFICATE_V2
        for value in attribute.values:
            try:
                spec = tsp.SigningCertificateV2 if v2 else tsp.SigningCertificate
                for cid in spec.load(value)["certs"]:
                    issuer_serial = cid["issuer_serial"]
                    refs.append(
                        EssCertRef(
                            version=2 if v2 else 1,
                            # ESSCertID (v1) is always SHA-1 (RFC 2634 §5.4.1)
                            hash_algorithm=cid["hash_algorithm"]["algorithm"].native
                            if v2
                            else "sha1",
                            cert_hash=cid["cert_hash"].native,
                            issuer_serial=issuer_serial if issuer_serial.native else None,
                        )
                    )
            except (ValueError, TypeError, KeyError):
                continue  # unusable reference: reported as a signing-certificate failure
    return tuple(refs)


def _find_signer_certificate(
    sid: cms.SignerIdentifier,
    refs: Sequence[EssCertRef],
    certificates: Sequence[x509.Certificate],
) -> x509.Certificate | None:
    """The first ESSCertID names the signing certificate (RFC 2634 §5.4, RFC 5035 §3)."""
    by_sid = [c for c in certificates if sid_matches(sid, c)]
    if refs:
        by_ref = [c for c in certificates if refs[0].matches(c)]
        both = [c for c in by_ref if c in by_sid]
        if both:
            return both[0]
        if by_ref and not by_sid:
            return by_ref[0]
    return by_sid[0] if by_sid else None


def parse_timestamp_token(data: bytes) -> TimestampToken:
    """Parse a TimeStampToken (RFC 3161 §2.4.2); raise ``InvalidTimestampToken`` if it is none."""
    try:
        outer = read_tlv(data)
        if outer.end != len(data):
            raise _invalid("trailing bytes after the token")
        if outer.tag_class != 0 or outer.tag != 16:
            raise _invalid("not a ContentInfo SEQUENCE")
        content_info = cms.ContentInfo.load(data)
        if content_info["content_type"].dotted != ID_SIGNED_DATA:
            raise _invalid("ContentInfo does not hold a SignedData")
        signed_data = content_info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].dotted != ID_CT_TST_INFO:
            raise _invalid("eContentType is not id-ct-TSTInfo")
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise _invalid(f"{len(signer_infos)} SignerInfos, RFC 3161 §2.4.2 requires exactly one")
        econtent = split_tlvs(encap.contents)
        if len(econtent) != 2:
            raise _invalid("no eContent")
        octets = octet_string_value(split_tlvs(econtent[1].content)[0])
        tst_info = tsp.TSTInfo.load(octets)
        imprint = tst_info["message_imprint"]
        signer_info = signer_infos[0]
        certificates = tuple(
            choice.chosen
            for choice in (signed_data["certificates"] or [])
            if choice.name == "certificate"
        )
        refs = _ess_refs(signer_info)
        nonce = tst_info["nonce"].native
        return TimestampToken(
            raw=data,
            gen_time=tst_info["gen_time"].native,
            hash_algorithm=imprint["hash_algorithm"]["algorithm"].native,
            message_imprint=imprint["hashed_message"].native,
            serial_number=tst_info["serial_number"].native,
            policy=tst_info["policy"].dotted,
            nonce=nonce,
            tst_info_octets=octets,
            content_info=content_info,
            signed_data=signed_data,
            signer_info=signer_info,
            tst_info=tst_info,
            certificates=certificates,
            signing_certificate_refs=refs,
            signer_certificate=_find_signer_certificate(signer_info["sid"], refs, certificates),
        )
    except SignatureRejected:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise _invalid(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


@dataclass(frozen=True)
class TokenCheck:
    """What :func:`verify_token` found; ``failure_code`` uses ETSI EN 319 102-1 sub-indications."""

    #: messageImprint equals the hash of the time-stamped data (None: data not given).
    imprint_ok: bool | None
    #: message-digest signed attribute equals the hash of the TSTInfo.
    message_digest_ok: bool
    #: The TSA's signature value verifies with the signer certificate.
    signature_ok: bool
    signer_certificate: x509.Certificate | None = field(compare=False, repr=False)
    #: ESS signing-certificate(-v2) present and naming the signer certificate (RFC 5816 §2.2.1).
    signing_certificate_ok: bool
    #: The signer certificate has extendedKeyUsage id-kp-timeStamping (RFC 3161 §2.3).
    time_stamping_eku: bool
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Technically valid: every check passed (an unknown imprint counts as not passed)."""
        return self.failure_code is None and self.imprint_ok is True


def _eku_findings(certificate: x509.Certificate) -> tuple[bool, list[str]]:
    """RFC 3161 §2.3: exactly one EKU extension, critical, with only id-kp-timeStamping."""
    warnings: list[str] = []
    extensions = [
        ext
        for ext in certificate["tbs_certificate"]["extensions"]
        if ext["extn_id"].native == "extended_key_usage"
    ]
    if not extensions:
        return False, warnings
    purposes = set(extensions[0]["extn_value"].parsed.native)
    if "time_stamping" not in purposes:
        return False, warnings
    if not extensions[0]["critical"].native:
        warnings.append("the TSA certificate's extendedKeyUsage is not critical (RFC 3161 §2.3)")
    if purposes != {"time_stamping"}:
        warnings.append("the TSA certificate has key purposes besides timeStamping (RFC 3161 §2.3)")
    return True, warnings


def verify_token(
    token: TimestampToken,
    data_digest: bytes | Callable[[str], bytes] | None,
    *,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> TokenCheck:
    """Check a token technically, without raising for a bad one.

    ``data_digest`` is the hash of the time-stamped data computed with the token's own
    ``hash_algorithm``, or a function giving it for an algorithm name (which may raise
    ``LookupError`` when the data is missing: reported as SIGNED_DATA_NOT_FOUND), or None to
    leave the imprint unchecked. ``extra_certificates`` are searched for the TSA certificate
    when the token does not carry it (e.g. SignedData.certificates of the enclosing signature).
    """
    warnings: list[str] = []
    imprint_ok: bool | None = None
    imprint_reason: str | None = None
    try:
        expected = data_digest(token.hash_algorithm) if callable(data_digest) else data_digest
        if expected is not None:
            imprint_ok = expected == token.message_imprint
    except ArchiveError as exc:
        imprint_reason = exc.description
    except LookupError as exc:
        imprint_reason = f"time-stamped data not available: {exc}"

    known = {c.dump() for c in token.certificates}
    pool = list(token.certificates) + [c for c in extra_certificates if c.dump() not in known]
    # RFC 5652 §11.1: the content-type signed attribute must be id-ct-TSTInfo.
    check = check_signer_info(
        token.signer_info,
        pool,
        lambda alg: digest_bytes(alg, token.tst_info_octets),
        content_type=token.signed_data["encap_content_info"]["content_type"].native,
    )
    signer = check.signer_certificate or token.signer_certificate

    refs = token.signing_certificate_refs
    # RFC 2634 §5.4 / RFC 5035 §3: the first reference names the signing certificate.
    ess_target_missing = bool(refs) and not any(refs[0].matches(c) for c in pool)
    if signer is None:
        ess_ok = False
        ess_reason = "the TSA certificate was not found"
    elif not refs:
        ess_ok = False
        ess_reason = "no usable ESS signing-certificate(-v2) attribute (RFC 3161 §2.4.2, RFC 5816)"
    elif refs[0].matches(signer):
        ess_ok, ess_reason = True, None
    else:
        ess_ok = False
        ess_reason = "the ESS signing-certificate reference does not match the TSA certificate"
    eku_ok, eku_warnings = _eku_findings(signer) if signer is not None else (False, [])
    warnings.extend(eku_warnings)

    code: str | None = None
    reason: str | None = None
    if imprint_ok is False:
        code, reason = (
            SubIndication.HASH_FAILURE,
            "the messageImprint does not match the time-stamped data",
        )
    elif not check.message_digest_ok:
        code, reason = (
            SubIndication.HASH_FAILURE,
            "the token's message-digest does not match its TSTInfo",
        )
    elif signer is None:
        code, reason = (
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the TSA certificate was not found",
        )
    elif ess_target_missing:
        code = SubIndication.NO_SIGNING_CERTIFICATE_FOUND
        reason = "the ESS signing-certificate reference names a certificate that is not available"
    elif not check.signature_ok:
        code = SubIndication.SIG_CRYPTO_FAILURE
        reason = check.failure_reason or "the TSA's signature does not verify"
    elif not ess_ok:
        code, reason = SubIndication.NO_SIGNING_CERTIFICATE_FOUND, ess_reason
    elif not eku_ok:
        code = SubIndication.CHAIN_CONSTRAINTS_FAILURE
        reason = "the TSA certificate lacks extendedKeyUsage timeStamping (RFC 3161 §2.3)"
    elif imprint_reason is not None:
        code, reason = SubIndication.SIGNED_DATA_NOT_FOUND, imprint_reason
    return TokenCheck(
        imprint_ok=imprint_ok,
        message_digest_ok=check.message_digest_ok,
        signature_ok=check.signature_ok,
        signer_certificate=signer,
        signing_certificate_ok=ess_ok,
        time_stamping_eku=eku_ok,
        failure_code=code,
        failure_reason=reason,
        warnings=tuple(warnings),
    )
