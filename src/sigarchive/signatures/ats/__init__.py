"""Signature time-stamps and archive time-stamps of CAdES signatures (ETSI EN 319 122-1).

What is hashed:

- signature-time-stamp (EN 319 122-1 §5.3; RFC 3161 Appendix A): the value octets of the
  SignerInfo's ``signature`` field (:mod:`.signature`);
- archive-time-stamp-v3 (EN 319 122-1 §5.5.3) with its ats-hash-index (§5.5.2): eContentType,
  H(content), six SignerInfo fields and the index value, all "in their binary encoded form
  without any modification" — we hash the bytes as stored (:mod:`..asn1.parts` reads them),
  and when verifying retry with the DER re-encoding Bouncy Castle based tools (DSS) hash
  (:mod:`.v3`, :mod:`.hash_index`);
- archive-time-stamp-v2 (ETSI TS 101 733 V2.2.1 §6.4.1 and Annex K; EN 319 122-1 Annex A.2.4):
  verified only, for archives made by other tools, in both the V2.2.1 and the V1.8.3 variant
  (:mod:`.v2`).

Building a new archive-time-stamp-v3 uses the very functions that verify one
(:func:`prepare_ats_v3`): the imprint sent to the TSA is :func:`ats_v3_message_imprint_input`
hashed, and the index goes into the token's unsigned attributes (:func:`ats_hash_index_attribute`).

Nothing here raises for a bad time-stamp: every finding is reported in a frozen result, with
ETSI EN 319 102-1 sub-indications as failure codes where one fits. Time-stamps are returned in
chronological order (genTime, then index size), never in their physical order, which other
tools do not keep chronological. The tokens come from the signer's inventory
(:mod:`sigarchive.signatures.inventory`).
"""

from sigarchive.signatures.asn1.parts import ImprintEncoding
from sigarchive.signatures.ats.archive import verify_archive_timestamps
from sigarchive.signatures.ats.hash_index import (
    AtsHashIndex,
    HashIndexCheck,
    MalformedHashIndex,
    ats_hash_index_attribute,
    build_ats_hash_index_v3,
    parse_ats_hash_index,
)
from sigarchive.signatures.ats.results import (
    ArchiveTimestampCheck,
    AtsKind,
    SignatureTimestampCheck,
)
from sigarchive.signatures.ats.signature import (
    signature_timestamp_imprint_input,
    verify_signature_timestamps,
)
from sigarchive.signatures.ats.v3 import PreparedAtsV3, ats_v3_message_imprint_input, prepare_ats_v3

__all__ = [
    "ArchiveTimestampCheck",
    "AtsHashIndex",
    "AtsKind",
    "HashIndexCheck",
    "ImprintEncoding",
    "MalformedHashIndex",
    "PreparedAtsV3",
    "SignatureTimestampCheck",
    "ats_hash_index_attribute",
    "ats_v3_message_imprint_input",
    "build_ats_hash_index_v3",
    "parse_ats_hash_index",
    "prepare_ats_v3",
    "signature_timestamp_imprint_input",
    "verify_archive_timestamps",
    "verify_signature_timestamps",
]
