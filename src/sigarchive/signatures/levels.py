"""The CAdES level a signature has reached, read from its unsigned attributes.

ETSI EN 319 122-1 §6 (baseline levels): B-T adds a signature-time-stamp; B-LT adds the
validation material (certificate-values / revocation-values, or the same data in
SignedData.certificates/crls); B-LTA adds archive time-stamps. Older TS 101 733 forms
(archive-time-stamp-v2) count as archival too.
"""

from __future__ import annotations

from asn1crypto import cms, core

SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"
CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"
REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
ARCHIVE_TIME_STAMP_V1 = "1.2.840.113549.1.9.16.2.27"
ARCHIVE_TIME_STAMP_V2 = "1.2.840.113549.1.9.16.2.48"
ARCHIVE_TIME_STAMP_V3 = "0.4.0.1733.2.4"

ARCHIVE_TIME_STAMPS = frozenset(
    {ARCHIVE_TIME_STAMP_V1, ARCHIVE_TIME_STAMP_V2, ARCHIVE_TIME_STAMP_V3}
)


def unsigned_attribute_oids(signer_info: cms.SignerInfo) -> list[str]:
    """OIDs of the unsigned attributes, in physical order (values are not parsed)."""
    attrs = signer_info["unsigned_attrs"]
    if isinstance(attrs, core.Void):  # the optional field is absent
        return []
    return [attr["type"].dotted for attr in attrs]


def signature_level(signer_info: cms.SignerInfo, signed_data: cms.SignedData | None = None) -> str:
    """``B-B``, ``B-T``, ``B-LT`` or ``B-LTA`` for one signer.

    B-LT is recognised from certificate-/revocation-values attributes (TS 101 733 XL style)
    or, for the baseline form (EN 319 122-1 §6.3), from revocation data in SignedData.crls —
    which needs ``signed_data``.
    """
    oids = set(unsigned_attribute_oids(signer_info))
    if oids & ARCHIVE_TIME_STAMPS:
        return "B-LTA"
    if SIGNATURE_TIME_STAMP not in oids:
        return "B-B"
    if CERTIFICATE_VALUES in oids and REVOCATION_VALUES in oids:
        return "B-LT"
    if (
        signed_data is not None
        and not isinstance(signed_data["crls"], core.Void)
        and len(signed_data["crls"])
    ):
        return "B-LT"
    return "B-T"
