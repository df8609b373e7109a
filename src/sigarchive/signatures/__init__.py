"""The signature core: CMS/CAdES bytes in, frozen results out; no SQL, no web framework.

This is its public surface, what the archive, the metadata, the plugins and the CLI use. The
sub-packages hold the plumbing: :mod:`.asn1` (OIDs, schema, BER, raw parts), :mod:`.cms`,
:mod:`.inventory`, :mod:`.indications`, :mod:`.timestamps` (the HTTP client apart, in
:mod:`.timestamps.http_client`), :mod:`.ats`, :mod:`.augment`, :mod:`.validation`,
:mod:`.verify`.
"""

from sigarchive.signatures import augment
from sigarchive.signatures.asn1.oids import ATS_V2, ATS_V3, SIGNATURE_TIME_STAMP
from sigarchive.signatures.cms import (
    ParsedSignature,
    SignerCheck,
    VerifiedSignature,
    find_signer_certificate,
    parse_signature,
    sid_matches,
    verify_against_document,
)
from sigarchive.signatures.digests import (
    SUPPORTED_DIGESTS,
    MultiDigester,
    digest_bytes,
    digest_file,
    missing,
)
from sigarchive.signatures.indications import (
    FindingCode,
    Indication,
    RevocationStatus,
    SubIndication,
    Verdict,
)
from sigarchive.signatures.inventory import (
    CarriedCertificate,
    CarriedRevocation,
    CarriedTimestamp,
    Inventory,
    SignerInventory,
    TimestampKind,
    read_inventory,
    signature_level,
)
from sigarchive.signatures.timestamps import TimeStamper, TsaRejected, TsaUnavailable
from sigarchive.signatures.timestamps.tokens import TimestampToken, parse_timestamp_token
from sigarchive.signatures.validation import (
    SignatureReport,
    TimestampSummary,
    ValidationMaterial,
    validate_signature,
)
from sigarchive.signatures.verify import (
    Finding,
    TimestampReport,
    VerificationReport,
    load_certificates,
    load_trust_roots,
    read_signature,
    verify_file,
)

__all__ = [
    "ATS_V2",
    "ATS_V3",
    "SIGNATURE_TIME_STAMP",
    "SUPPORTED_DIGESTS",
    "CarriedCertificate",
    "CarriedRevocation",
    "CarriedTimestamp",
    "Finding",
    "FindingCode",
    "Indication",
    "Inventory",
    "MultiDigester",
    "ParsedSignature",
    "RevocationStatus",
    "SignatureReport",
    "SignerCheck",
    "SignerInventory",
    "SubIndication",
    "TimeStamper",
    "TimestampKind",
    "TimestampReport",
    "TimestampSummary",
    "TimestampToken",
    "TsaRejected",
    "TsaUnavailable",
    "ValidationMaterial",
    "Verdict",
    "VerificationReport",
    "VerifiedSignature",
    "augment",
    "digest_bytes",
    "digest_file",
    "find_signer_certificate",
    "load_certificates",
    "load_trust_roots",
    "missing",
    "parse_signature",
    "parse_timestamp_token",
    "read_inventory",
    "read_signature",
    "sid_matches",
    "signature_level",
    "validate_signature",
    "verify_against_document",
    "verify_file",
]
