"""What a signature carries, read once from its bytes: certificates, revocation values,
time-stamp tokens (with what each covers) and the CAdES level, per signer.

Validation, the offline verifier, the archive time-stamp checks, the references index and the
enhancement pipeline all read these facts from here, so they cannot disagree (one fact, one
place). Nothing here raises for what it cannot read: a malformed item is left out and described
in ``problems``; only input that is no SignedData at all raises :class:`SignatureRejected`.

Sources (EN 319 122-1 §5.5.1, §6.3; RFC 5652 §5.1; RFC 5940 §4.1):

- SignedData.certificates and SignedData.crls (CRLs, and OCSP responses as
  OtherRevocationInfoFormat id-ri-ocsp-response or id-pkix-ocsp-basic);
- the certificate-values and revocation-values unsigned attributes (EN 319 122-1 A.1.3, A.1.4);
- the time-stamp tokens in the unsigned attributes, and what *they* carry (their SignedData and
  their own unsigned attributes, including the tokens there: two levels deep, as DSS reads them).

Content-time-stamps (a signed attribute) are listed with the time-stamps; what they carry is
not collected (they are not validated by sigarchive).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from asn1crypto import cms, crl, ocsp, x509

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.asn1 import oids
from sigarchive.signatures.asn1.ber import CONTEXT, read_tlv, split_tlvs
from sigarchive.signatures.asn1.parts import (
    RawAttribute,
    signed_data_parts,
    signer_info_parts,
    unsigned_attribute_oids,
)
from sigarchive.signatures.cms import ASN1_ERRORS, find_signer_certificate
from sigarchive.signatures.timestamps.tokens import TimestampToken, parse_timestamp_token

__all__ = [
    "CarriedCertificate",
    "CarriedRevocation",
    "CarriedTimestamp",
    "Inventory",
    "SignerInventory",
    "Source",
    "TimestampKind",
    "read_inventory",
    "read_signer",
    "signature_level",
]

#: Time-stamp tokens inside time-stamp tokens are read this many levels deep.
_TOKEN_DEPTH = 2


class TimestampKind(StrEnum):
    """Which time-stamp attribute a token comes from."""

    SIGNATURE = "signature"  # signature-time-stamp, EN 319 122-1 §5.3
    CONTENT = "content"  # content-time-stamp, EN 319 122-1 §5.2.8
    ESC = "esc"  # CAdES-C-time-stamp, EN 319 122-1 A.1.5
    CERTS_CRLS = "certs-crls"  # time-stamped-certs-crls-references, EN 319 122-1 A.1.5
    ARCHIVE_V1 = "archive-v1"  # archive-time-stamp, TS 101 733 V1.x
    ARCHIVE_V2 = "archive-v2"  # archive-time-stamp-v2, TS 101 733 §6.4.1 / Annex K
    ARCHIVE_V3 = "archive-v3"  # archive-time-stamp-v3, EN 319 122-1 §5.5.3

    @property
    def archival(self) -> bool:
        return self in (
            TimestampKind.ARCHIVE_V1,
            TimestampKind.ARCHIVE_V2,
            TimestampKind.ARCHIVE_V3,
        )

    @property
    def covers(self) -> str:
        """What the token's imprint covers."""
        return _COVERS[self]


_KIND_OF: dict[str, TimestampKind] = {
    oids.SIGNATURE_TIME_STAMP: TimestampKind.SIGNATURE,
    oids.CONTENT_TIME_STAMP: TimestampKind.CONTENT,
    oids.ESC_TIME_STAMP: TimestampKind.ESC,
    oids.CERTS_CRLS_TIME_STAMP: TimestampKind.CERTS_CRLS,
    oids.ATS_V1: TimestampKind.ARCHIVE_V1,
    oids.ATS_V2: TimestampKind.ARCHIVE_V2,
    oids.ATS_V3: TimestampKind.ARCHIVE_V3,
}

_ARCHIVAL = "the signed content, the signature, its validation data and earlier unsigned attributes"
_COVERS: dict[TimestampKind, str] = {
    TimestampKind.SIGNATURE: "the signature value",
    TimestampKind.CONTENT: "the signed content",
    TimestampKind.ESC: "the signature value, signature-time-stamp and complete references",
    TimestampKind.CERTS_CRLS: "the complete certificate and revocation references",
    TimestampKind.ARCHIVE_V1: _ARCHIVAL,
    TimestampKind.ARCHIVE_V2: _ARCHIVAL,
    TimestampKind.ARCHIVE_V3: _ARCHIVAL + " (through its ats-hash-index)",
}


class Source(StrEnum):
    """Where an item sits (in the signature itself, or inside one of its time-stamp tokens)."""

    SIGNED_DATA = "signed-data"  # SignedData.certificates / crls
    CERTIFICATE_VALUES = "certificate-values"
    REVOCATION_VALUES = "revocation-values"


@dataclass(frozen=True)
class CarriedCertificate:
    """A certificate the signature carries. ``depth`` 0: in the signature's own SignedData or
    unsigned attributes; 1: inside one of its time-stamp tokens; 2: inside a token's token."""

    certificate: x509.Certificate = field(repr=False)
    source: Source
    depth: int

    @property
    def encoded(self) -> bytes:
        """The certificate as stored."""
        der: bytes = self.certificate.dump()
        return der


@dataclass(frozen=True)
class CarriedRevocation:
    """A CRL or an OCSP response the signature carries, as stored.

    ``encoded`` is a CertificateList, an OCSPResponse, or (``basic``: from revocation-values or
    under id-pkix-ocsp-basic) a BasicOCSPResponse.
    """

    kind: Literal["crl", "ocsp"]
    encoded: bytes = field(repr=False)
    basic: bool
    source: Source
    depth: int

    def ocsp_response(self) -> ocsp.OCSPResponse:
        """The full OCSPResponse (a BasicOCSPResponse wrapped in a successful one, RFC 6960
        §4.2.1); ``ValueError`` and friends if malformed."""
        if not self.basic:
            return ocsp.OCSPResponse.load(self.encoded)
        return ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {
                    "response_type": "basic_ocsp_response",
                    "response": ocsp.BasicOCSPResponse.load(self.encoded),
                },
            }
        )

    def basic_response(self) -> ocsp.BasicOCSPResponse:
        """The BasicOCSPResponse inside."""
        if self.basic:
            return ocsp.BasicOCSPResponse.load(self.encoded)
        parsed: ocsp.BasicOCSPResponse = ocsp.OCSPResponse.load(self.encoded)["response_bytes"][
            "response"
        ].parsed
        return parsed


@dataclass(frozen=True)
class CarriedTimestamp:
    """A time-stamp token of a signer (``token`` None: not a readable token, see ``problem``)."""

    kind: TimestampKind
    #: Position of the attribute among the signed (content) or unsigned attributes, and of the
    #: token among the attribute's values.
    attribute_position: int
    value_position: int
    #: 0: an attribute of the signer; 1: of a time-stamp token's SignerInfo; ...
    depth: int
    encoded: bytes = field(repr=False)
    token: TimestampToken | None = field(repr=False)
    problem: str | None = None

    @property
    def covers(self) -> str:
        return self.kind.covers


@dataclass(frozen=True)
class SignerInventory:
    """What one SignerInfo carries, and its level."""

    index: int
    signer_info: cms.SignerInfo = field(repr=False)
    #: B-B | B-T | B-LT | B-LTA (EN 319 122-1 §6), or "unknown".
    level: str
    #: The certificate the SignerInfo's identifier names, among those at depth 0.
    signer_certificate: x509.Certificate | None = field(repr=False)
    certificates: tuple[CarriedCertificate, ...] = field(repr=False)
    revocations: tuple[CarriedRevocation, ...] = field(repr=False)
    #: In stored order, depth-first (a token's own time-stamps follow it).
    timestamps: tuple[CarriedTimestamp, ...]
    problems: tuple[str, ...] = ()

    def tokens(self, *kinds: TimestampKind, depth: int = 0) -> list[TimestampToken]:
        """The readable tokens of these kinds (all kinds when none given) at ``depth``."""
        return [
            t.token
            for t in self.timestamps
            if t.token is not None and t.depth == depth and (not kinds or t.kind in kinds)
        ]

    def archive_tokens(self) -> list[TimestampToken]:
        """The readable archive time-stamp tokens (v2 and v3) of the signer."""
        return self.tokens(TimestampKind.ARCHIVE_V2, TimestampKind.ARCHIVE_V3)


@dataclass(frozen=True)
class Inventory:
    """What a CMS SignedData carries, signer by signer."""

    signed_data: cms.SignedData = field(repr=False)
    signers: tuple[SignerInventory, ...]

    def certificates(self) -> Iterator[x509.Certificate]:
        """Every certificate carried, each DER once, in the order met."""
        seen: set[bytes] = set()
        for signer in self.signers:
            for carried in signer.certificates:
                if carried.encoded not in seen:
                    seen.add(carried.encoded)
                    yield carried.certificate


def read_inventory(signature: bytes | cms.SignedData) -> Inventory:
    """The inventory of a CMS ContentInfo (bytes) or SignedData; ``SignatureRejected`` if it
    holds no SignedData."""
    if isinstance(signature, cms.SignedData):
        signed_data = signature
    else:
        try:
            info = cms.ContentInfo.load(signature)
            if info["content_type"].dotted != oids.ID_SIGNED_DATA:
                raise ValueError("the ContentInfo does not hold a SignedData")
            signed_data = info["content"]
            signed_data["signer_infos"]
        except ASN1_ERRORS as exc:
            raise SignatureRejected(f"Not a CMS SignedData: {exc}", code="NotCms") from exc
    try:
        signer_infos = list(signed_data["signer_infos"])
    except ASN1_ERRORS as exc:
        raise SignatureRejected(f"Malformed SignedData: {exc}", code="NotCms") from exc
    return Inventory(
        signed_data,
        tuple(read_signer(signed_data, si, index) for index, si in enumerate(signer_infos)),
    )


def read_signer(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, index: int = 0
) -> SignerInventory:
    """The inventory of one SignerInfo of ``signed_data`` (a counter-signer's too)."""
    reader = _Reader()
    try:
        reader.signed_data(signed_data, 0)
    except SignatureRejected as exc:
        reader.problems.append(exc.description)
    try:
        parts = signer_info_parts(signer_info)
        reader.content_timestamps(parts.signed_attributes)
        reader.attributes(parts.unsigned_attributes, 0)
    except (SignatureRejected, ValueError, IndexError) as exc:
        reader.problems.append(str(exc))
    depth_zero = [c.certificate for c in reader.certificates if c.depth == 0]
    try:
        signer_certificate = find_signer_certificate(signer_info["sid"], depth_zero)
    except ASN1_ERRORS:
        signer_certificate = None
    return SignerInventory(
        index=index,
        signer_info=signer_info,
        level=signature_level(signed_data, signer_info),
        signer_certificate=signer_certificate,
        certificates=tuple(reader.certificates),
        revocations=tuple(reader.revocations),
        timestamps=tuple(reader.timestamps),
        problems=tuple(reader.problems),
    )


def signature_level(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> str:
    """``B-B``, ``B-T``, ``B-LT`` or ``B-LTA`` for one signer (ETSI EN 319 122-1 §6).

    B-T adds a signature-time-stamp; B-LT adds the validation material — certificate-values and
    revocation-values (TS 101 733 XL style) or, for the baseline form (EN 319 122-1 §6.3),
    revocation data in SignedData.crls; B-LTA adds archive time-stamps (the older TS 101 733
    archive-time-stamp-v2 and v1 count as archival too). "unknown" for a SignerInfo whose
    unsigned attributes cannot be read.
    """
    try:
        found = {a.oid for a in signer_info_parts(signer_info).unsigned_attributes}
    except (SignatureRejected, ValueError, IndexError):
        try:
            found = set(unsigned_attribute_oids(signer_info))
        except ASN1_ERRORS:
            return "unknown"
    if found & oids.ARCHIVE_TIME_STAMPS:
        return "B-LTA"
    if oids.SIGNATURE_TIME_STAMP not in found:
        return "B-B"
    if oids.CERTIFICATE_VALUES in found and oids.REVOCATION_VALUES in found:
        return "B-LT"
    try:
        if signed_data_parts(signed_data).revocation_choices:
            return "B-LT"
    except SignatureRejected:
        pass
    return "B-T"


class _Reader:
    """Collects, in the order met, what one signer carries."""

    def __init__(self) -> None:
        self.certificates: list[CarriedCertificate] = []
        self.revocations: list[CarriedRevocation] = []
        self.timestamps: list[CarriedTimestamp] = []
        self.problems: list[str] = []

    def certificate(self, encoded: bytes, source: Source, depth: int) -> None:
        if encoded[:1] != b"\x30":  # CertificateChoices: only plain X.509 certificates
            return
        try:
            certificate = x509.Certificate.load(encoded)
            _ = certificate.subject, certificate.serial_number  # parse now, not later
        except ASN1_ERRORS as exc:
            self.problems.append(f"an embedded certificate is malformed ({exc})")
            return
        self.certificates.append(CarriedCertificate(certificate, source, depth))

    def crl(self, encoded: bytes, source: Source, depth: int) -> None:
        try:
            _ = crl.CertificateList.load(encoded)["tbs_cert_list"]["this_update"].native
        except ASN1_ERRORS as exc:
            self.problems.append(f"an embedded CRL is malformed ({exc})")
            return
        self.revocations.append(CarriedRevocation("crl", encoded, False, source, depth))

    def ocsp(self, encoded: bytes, *, basic: bool, source: Source, depth: int) -> None:
        carried = CarriedRevocation("ocsp", encoded, basic, source, depth)
        try:
            response = carried.ocsp_response()
            if response["response_status"].native != "successful":
                return  # RFC 6960 §4.2.1: no status information in it
            _ = response.basic_ocsp_response["tbs_response_data"]["responses"].native
        except (*ASN1_ERRORS, AttributeError) as exc:
            self.problems.append(f"an embedded OCSP response is malformed ({exc})")
            return
        self.revocations.append(carried)

    def signed_data(self, signed_data: cms.SignedData, depth: int) -> None:
        """SignedData.certificates and crls (RFC 5652 §10.2.1, RFC 5940 §4.1)."""
        parts = signed_data_parts(signed_data)
        for encoding in parts.certificate_choices:
            self.certificate(encoding, Source.SIGNED_DATA, depth)
        for choice in parts.revocation_choices:
            try:
                if choice[:1] == b"\x30":
                    self.crl(choice, Source.SIGNED_DATA, depth)
                elif choice[:1] == b"\xa1":
                    oid_tlv, value = split_tlvs(read_tlv(choice).content)
                    oid = cms.OtherRevInfoFormatId.load(oid_tlv.encoded).dotted
                    if oid in oids.OCSP_REVOCATION_FORMATS:
                        basic = oid == oids.ID_PKIX_OCSP_BASIC
                        self.ocsp(
                            value.encoded, basic=basic, source=Source.SIGNED_DATA, depth=depth
                        )
            except (ValueError, IndexError) as exc:
                self.problems.append(f"an embedded revocation value is malformed ({exc})")

    def content_timestamps(self, attributes: Iterable[RawAttribute]) -> None:
        for attribute in attributes:
            if attribute.oid == oids.CONTENT_TIME_STAMP:
                for n, value in enumerate(attribute.values):
                    self._token(TimestampKind.CONTENT, attribute.position, n, value, 0)

    def attributes(self, attributes: Iterable[RawAttribute], depth: int) -> None:
        """certificate-values / revocation-values (EN 319 122-1 A.1.3, A.1.4) and tokens."""
        for attribute in attributes:
            kind = _KIND_OF.get(attribute.oid)
            for n, value in enumerate(attribute.values):
                if kind is not None:
                    token = self._token(kind, attribute.position, n, value, depth)
                    if token is not None and depth < _TOKEN_DEPTH:
                        self._inside(token, depth + 1)
                    continue
                try:
                    if attribute.oid == oids.CERTIFICATE_VALUES:
                        for element in read_tlv(value).children():
                            self.certificate(element.encoded, Source.CERTIFICATE_VALUES, depth)
                    elif attribute.oid == oids.REVOCATION_VALUES:
                        self._revocation_values(value, depth)
                except (ValueError, IndexError) as exc:
                    self.problems.append(f"a {attribute.oid} attribute is malformed ({exc})")

    def _revocation_values(self, value: bytes, depth: int) -> None:
        """RevocationValues: crlVals [0], ocspVals [1] (EN 319 122-1 A.1.4)."""
        for member in read_tlv(value).children():
            listed = member.children()[0].children() if member.constructed else []
            if member.is_a(CONTEXT, 0):
                for element in listed:
                    self.crl(element.encoded, Source.REVOCATION_VALUES, depth)
            elif member.is_a(CONTEXT, 1):
                for element in listed:
                    self.ocsp(
                        element.encoded, basic=True, source=Source.REVOCATION_VALUES, depth=depth
                    )

    def _token(
        self, kind: TimestampKind, position: int, n: int, value: bytes, depth: int
    ) -> TimestampToken | None:
        try:
            token = parse_timestamp_token(value)
        except SignatureRejected as exc:
            self.timestamps.append(
                CarriedTimestamp(kind, position, n, depth, value, None, exc.description)
            )
            return None
        self.timestamps.append(CarriedTimestamp(kind, position, n, depth, value, token))
        return token

    def _inside(self, token: TimestampToken, depth: int) -> None:
        """What a token carries: its SignedData's certificates and crls, its unsigned
        attributes (DSS puts validation data and the ats-hash-index there)."""
        try:
            self.signed_data(token.signed_data, depth)
            if depth < _TOKEN_DEPTH:
                self.attributes(token.unsigned_attributes, depth)
            else:
                self.attributes(
                    (a for a in token.unsigned_attributes if a.oid not in _KIND_OF), depth
                )
        except (SignatureRejected, ValueError, IndexError) as exc:
            self.problems.append(f"a time-stamp token's content is malformed ({exc})")
