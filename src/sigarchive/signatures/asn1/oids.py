"""Every object identifier the signature core compares, each defined once (dotted form).

Attribute types are always compared by dotted OID, never by asn1crypto name (names depend on
which library registered an OID first).
"""

from __future__ import annotations

# --- CMS content types (RFC 5652 §5.1; RFC 3161 §2.4.2) --------------------------------------

#: id-signedData, RFC 5652 §5.1.
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
#: id-ct-TSTInfo, RFC 3161 §2.4.2.
ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"

# --- Revocation information formats ---------------------------------------------------------

#: OtherRevocationInfoFormat for a full OCSPResponse, RFC 5940 §4.1.
ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
#: id-pkix-ocsp-basic, RFC 6960 §4.2.1 (responseType of a BasicOCSPResponse; some tools also
#: use it as OtherRevocationInfoFormat).
ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"
#: id-pkix-ocsp-response (Bouncy Castle's OCSPObjectIdentifiers), DSS's fallback format OID.
ID_PKIX_OCSP_RESPONSE = "1.3.6.1.5.5.7.48.1.4"

# --- Signed and unsigned attribute types ----------------------------------------------------

#: RFC 5652 §11.4.
COUNTER_SIGNATURE = "1.2.840.113549.1.9.6"
#: RFC 2634 §5.4 (ESS signing-certificate) and RFC 5035 §3 (signing-certificate-v2).
SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
#: signature-time-stamp, RFC 3161 Appendix A; EN 319 122-1 §5.3.
SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"
#: content-time-stamp, EN 319 122-1 §5.2.8.
CONTENT_TIME_STAMP = "1.2.840.113549.1.9.16.2.20"
#: complete-certificate-references / complete-revocation-references, EN 319 122-1 Annex A.1.1/A.1.2.
COMPLETE_CERTIFICATE_REFS = "1.2.840.113549.1.9.16.2.21"
COMPLETE_REVOCATION_REFS = "1.2.840.113549.1.9.16.2.22"
#: certificate-values / revocation-values, EN 319 122-1 Annex A.1.3/A.1.4 (TS 101 733 §6.3.3/6.3.4).
CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"
REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
#: CAdES-C-time-stamp (escTimeStamp) and time-stamped-certs-crls-references, EN 319 122-1 A.1.5.
ESC_TIME_STAMP = "1.2.840.113549.1.9.16.2.25"
CERTS_CRLS_TIME_STAMP = "1.2.840.113549.1.9.16.2.26"
#: archive-time-stamp (v1, TS 101 733 V1.x), archive-time-stamp-v2 (TS 101 733 §6.4.1, Annex K;
#: EN 319 122-1 Annex A.2.4) and archive-time-stamp-v3 (EN 319 122-1 §5.5.3).
ATS_V1 = "1.2.840.113549.1.9.16.2.27"
ATS_V2 = "1.2.840.113549.1.9.16.2.48"
ATS_V3 = "0.4.0.1733.2.4"
#: ATSHashIndex (TS 101 733 V2.2.1 §6.4.2), ats-hash-index-v2 (EN 319 122-1 V1.0.0),
#: ats-hash-index-v3 (EN 319 122-1 §5.5.2).
ATS_HASH_INDEX_V1 = "0.4.0.1733.2.5"
ATS_HASH_INDEX_V2 = "0.4.0.19122.1.4"
ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
#: signature-policy-store, EN 319 122-1 §5.2.10.
SIGNATURE_POLICY_STORE = "0.4.0.19122.1.3"
#: ETSI TS 119 122-3 evidence-record attributes (RFC 4998 evidence records inside CAdES).
INTERNAL_EVIDENCE_RECORD = "1.2.840.113549.1.9.16.2.49"
EXTERNAL_EVIDENCE_RECORD = "1.2.840.113549.1.9.16.2.50"

#: Attributes sigarchive only carries through (EN 319 122-1 §5.2, TS 101 733 §5.10, §6.2).
SIGNATURE_POLICY_IDENTIFIER = "1.2.840.113549.1.9.16.2.15"
COMMITMENT_TYPE = "1.2.840.113549.1.9.16.2.16"
SIGNER_LOCATION = "1.2.840.113549.1.9.16.2.17"
SIGNER_ATTRIBUTES = "1.2.840.113549.1.9.16.2.18"
CONTENT_HINTS = "1.2.840.113549.1.9.16.2.4"
CONTENT_IDENTIFIER = "1.2.840.113549.1.9.16.2.7"
CONTENT_REFERENCE = "1.2.840.113549.1.9.16.2.10"
ATTRIBUTE_CERTIFICATE_REFS = "1.2.840.113549.1.9.16.2.44"
ATTRIBUTE_REVOCATION_REFS = "1.2.840.113549.1.9.16.2.45"
MIME_TYPE = "0.4.0.1733.2.1"
SIGNER_ATTRIBUTES_V2 = "0.4.0.19122.1.1"

# --- Groups ---------------------------------------------------------------------------------

#: Index attribute OID → index version.
ATS_HASH_INDEX_OIDS: dict[str, int] = {
    ATS_HASH_INDEX_V1: 1,
    ATS_HASH_INDEX_V2: 2,
    ATS_HASH_INDEX_V3: 3,
}

#: Archive time-stamp attributes of every version.
ARCHIVE_TIME_STAMPS: frozenset[str] = frozenset({ATS_V1, ATS_V2, ATS_V3})

#: Unsigned attributes whose values are RFC 3161 TimeStampTokens.
TIME_STAMP_ATTRIBUTE_OIDS: frozenset[str] = frozenset(
    {
        SIGNATURE_TIME_STAMP,
        CONTENT_TIME_STAMP,
        ESC_TIME_STAMP,
        CERTS_CRLS_TIME_STAMP,
        ATS_V1,
        ATS_V2,
        ATS_V3,
    }
)

#: OtherRevocationInfoFormat identifiers under which an OCSP response may be stored.
OCSP_REVOCATION_FORMATS: frozenset[str] = frozenset({ID_RI_OCSP_RESPONSE, ID_PKIX_OCSP_BASIC})
