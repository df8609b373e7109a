"""asn1crypto schema classes for the CAdES attributes, and their registration.

asn1crypto knows none of the CAdES long-term attributes. They are registered here through its
documented extension points (``cms.CMSAttributeType._map`` and ``cms.CMSAttribute._oid_specs``),
idempotently, on import. An OID another library (pyHanko) registered first keeps that library's
name and value spec; our code always compares attribute types by dotted OID, never by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto import algos, cms, core, crl, ocsp, x509
from asn1crypto import tsp as _tsp  # noqa: F401  (registers signing-certificate(-v2), TSTInfo)

from sigarchive.signatures.asn1 import oids

# --- ASN.1 types (TS 101 733 Annex A "ExplicitSyntax88" module: explicit tags) -------------


class CertificateValues(core.SequenceOf):  # type: ignore[misc]
    """CertificateValues ::= SEQUENCE OF Certificate (EN 319 122-1 A.1.3)."""

    _child_spec = x509.Certificate


class CertificateLists(core.SequenceOf):  # type: ignore[misc]
    _child_spec = crl.CertificateList


class BasicOCSPResponses(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ocsp.BasicOCSPResponse


class OtherRevVals(core.Sequence):  # type: ignore[misc]
    """OtherRevVals ::= SEQUENCE { otherRevValType OID, otherRevVals ANY }."""

    _fields: ClassVar[list[Any]] = [
        ("other_rev_val_type", core.ObjectIdentifier),
        ("other_rev_vals", core.Any),
    ]


class RevocationValues(core.Sequence):  # type: ignore[misc]
    """RevocationValues (EN 319 122-1 A.1.4): crlVals [0], ocspVals [1], otherRevVals [2]."""

    _fields: ClassVar[list[Any]] = [
        ("crl_vals", CertificateLists, {"explicit": 0, "optional": True}),
        ("ocsp_vals", BasicOCSPResponses, {"explicit": 1, "optional": True}),
        ("other_rev_vals", OtherRevVals, {"explicit": 2, "optional": True}),
    ]


class OtherHashAlgAndValue(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("hash_algorithm", algos.DigestAlgorithm),
        ("hash_value", core.OctetString),
    ]


class OtherHash(core.Choice):  # type: ignore[misc]
    """OtherHash ::= CHOICE { sha1Hash OCTET STRING, otherHash OtherHashAlgAndValue }."""

    _alternatives: ClassVar[list[Any]] = [
        ("sha1_hash", core.OctetString),
        ("other_hash", OtherHashAlgAndValue),
    ]


class OtherCertID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("other_cert_hash", OtherHash),
        ("issuer_serial", cms.IssuerSerial, {"optional": True}),
    ]


class CompleteCertificateRefs(core.SequenceOf):  # type: ignore[misc]
    """CompleteCertificateRefs ::= SEQUENCE OF OtherCertID (EN 319 122-1 A.1.1)."""

    _child_spec = OtherCertID


class CrlIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crlissuer", x509.Name),
        ("crl_issued_time", core.UTCTime),
        ("crl_number", core.Integer, {"optional": True}),
    ]


class CrlValidatedID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crl_hash", OtherHash),
        ("crl_identifier", CrlIdentifier, {"optional": True}),
    ]


class CrlValidatedIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = CrlValidatedID


class CRLListID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("crls", CrlValidatedIDs)]


class OcspIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("ocsp_responder_id", ocsp.ResponderId),
        ("produced_at", core.GeneralizedTime),
    ]


class OcspResponsesID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("ocsp_identifier", OcspIdentifier),
        ("ocsp_rep_hash", OtherHash, {"optional": True}),
    ]


class OcspResponsesIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = OcspResponsesID


class OcspListID(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("ocsp_responses", OcspResponsesIDs)]


class OtherRevRefs(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("other_rev_ref_type", core.ObjectIdentifier),
        ("other_rev_refs", core.Any),
    ]


class CrlOcspRef(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("crlids", CRLListID, {"explicit": 0, "optional": True}),
        ("ocspids", OcspListID, {"explicit": 1, "optional": True}),
        ("other_rev", OtherRevRefs, {"explicit": 2, "optional": True}),
    ]


class CompleteRevocationRefs(core.SequenceOf):  # type: ignore[misc]
    """CompleteRevocationRefs ::= SEQUENCE OF CrlOcspRef (EN 319 122-1 A.1.2)."""

    _child_spec = CrlOcspRef


class SequenceOfOctetString(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class ATSHashIndexV3(core.Sequence):  # type: ignore[misc]
    """ATSHashIndexV3 as sigarchive writes it: the algorithm always explicit (EN 319 122-1 §5.5.2).

    Only used to *build* an index. Reading goes through
    :func:`sigarchive.signatures.ats.hash_index.parse_ats_hash_index`, because the algorithm
    may be omitted (DEFAULT sha256) and asn1crypto matches optional members by tag, which
    cannot tell an AlgorithmIdentifier from a SEQUENCE OF OCTET STRING.
    """

    _fields: ClassVar[list[Any]] = [
        ("hash_ind_algorithm", algos.DigestAlgorithm),
        ("certificates_hash_index", SequenceOfOctetString),
        ("crls_hash_index", SequenceOfOctetString),
        ("unsigned_attrs_values_hash_index", SequenceOfOctetString),
    ]


class SPDocSpecification(core.Choice):  # type: ignore[misc]
    _alternatives: ClassVar[list[Any]] = [
        ("oid", core.ObjectIdentifier),
        ("uri", core.IA5String),
    ]


class SignaturePolicyDocument(core.Choice):  # type: ignore[misc]
    _alternatives: ClassVar[list[Any]] = [
        ("sig_policy_encoded", core.OctetString),
        ("sig_policy_local_uri", core.IA5String),
    ]


class SignaturePolicyStore(core.Sequence):  # type: ignore[misc]
    """SignaturePolicyStore (EN 319 122-1 §5.2.10)."""

    _fields: ClassVar[list[Any]] = [
        ("sp_doc_spec", SPDocSpecification),
        ("sp_document", SignaturePolicyDocument),
    ]


def _set_of(spec: type[core.Asn1Value]) -> type[core.SetOf]:
    """A ``SET OF spec`` class, the shape of ``Attribute.attrValues`` (RFC 5652 §5.3)."""
    return type(f"SetOf{spec.__name__}", (core.SetOf,), {"_child_spec": spec})


# Value specs are deliberately Any for the index attributes (parsed by hand, see above) and
# for attributes we only carry through, so that a third-party oddity in them cannot make
# asn1crypto raise when someone asks for ``.native`` of a whole SignerInfo.
_REGISTRATIONS: tuple[tuple[str, str, type[core.Asn1Value]], ...] = (
    (oids.CONTENT_TIME_STAMP, "content_time_stamp", cms.ContentInfo),
    (oids.SIGNATURE_POLICY_IDENTIFIER, "signature_policy_identifier", core.Any),
    (oids.COMMITMENT_TYPE, "commitment_type", core.Any),
    (oids.SIGNER_LOCATION, "signer_location", core.Any),
    (oids.SIGNER_ATTRIBUTES, "signer_attributes", core.Any),
    (oids.CONTENT_HINTS, "content_hints", core.Any),
    (oids.CONTENT_IDENTIFIER, "content_identifier", core.Any),
    (oids.CONTENT_REFERENCE, "content_reference", core.Any),
    (oids.COMPLETE_CERTIFICATE_REFS, "complete_certificate_references", CompleteCertificateRefs),
    (oids.COMPLETE_REVOCATION_REFS, "complete_revocation_references", CompleteRevocationRefs),
    (oids.CERTIFICATE_VALUES, "certificate_values", CertificateValues),
    (oids.REVOCATION_VALUES, "revocation_values", RevocationValues),
    (oids.ESC_TIME_STAMP, "esc_time_stamp", cms.ContentInfo),
    (oids.CERTS_CRLS_TIME_STAMP, "certs_crls_time_stamp", cms.ContentInfo),
    (oids.ATS_V1, "archive_time_stamp_v1", cms.ContentInfo),
    (oids.ATTRIBUTE_CERTIFICATE_REFS, "attribute_certificate_references", core.Any),
    (oids.ATTRIBUTE_REVOCATION_REFS, "attribute_revocation_references", core.Any),
    (oids.ATS_V2, "archive_time_stamp_v2", cms.ContentInfo),
    (oids.INTERNAL_EVIDENCE_RECORD, "internal_evidence_record", core.Any),
    (oids.EXTERNAL_EVIDENCE_RECORD, "external_evidence_record", core.Any),
    (oids.MIME_TYPE, "mime_type", core.Any),
    (oids.ATS_V3, "archive_time_stamp_v3", cms.ContentInfo),
    (oids.ATS_HASH_INDEX_V1, "ats_hash_index", core.Any),
    (oids.SIGNER_ATTRIBUTES_V2, "signer_attributes_v2", core.Any),
    (oids.SIGNATURE_POLICY_STORE, "signature_policy_store", SignaturePolicyStore),
    (oids.ATS_HASH_INDEX_V2, "ats_hash_index_v2", core.Any),
    (oids.ATS_HASH_INDEX_V3, "ats_hash_index_v3", core.Any),
)


def register_cades_attributes() -> None:
    """Teach asn1crypto the CAdES attribute OIDs; safe to call any number of times.

    An OID that is already known (asn1crypto itself, pyHanko, or an earlier call) keeps its
    name, and a name that already has a value spec keeps it.
    """
    type_map: dict[str, str] = cms.CMSAttributeType._map
    specs: dict[str, Any] = cms.CMSAttribute._oid_specs
    for oid, name, spec in _REGISTRATIONS:
        known = type_map.setdefault(oid, name)
        if known not in specs:
            specs[known] = _set_of(spec)
    # asn1crypto builds its name → OID map once, when the class is first used: rebuild it so
    # the new names resolve even if an attribute type was used before this module loaded.
    cms.CMSAttributeType._reverse_map = {name: oid for oid, name in type_map.items()}


register_cades_attributes()
