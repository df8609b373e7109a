"""signature-time-stamps (EN 319 122-1 §5.3; RFC 3161 Appendix A): they cover the value octets of
the SignerInfo's ``signature`` field.
"""

from __future__ import annotations

from asn1crypto import cms

from sigarchive.signatures.asn1.parts import (
    signer_info_parts,
)
from sigarchive.signatures.ats.results import SignatureTimestampCheck, outer_certificates
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.indications import SubIndication
from sigarchive.signatures.inventory import SignerInventory, TimestampKind, read_signer
from sigarchive.signatures.timestamps.tokens import verify_token


def signature_timestamp_imprint_input(signer_info: cms.SignerInfo) -> bytes:
    """What a signature-time-stamp covers: the signature value octets (EN 319 122-1 §5.3)."""
    return signer_info_parts(signer_info).signature_value


def verify_signature_timestamps(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    *,
    inventory: SignerInventory | None = None,
) -> list[SignatureTimestampCheck]:
    """Verify every signature-time-stamp of ``signer_info`` (EN 319 122-1 §5.3), oldest first.

    A value that is not a TimeStampToken (e.g. one wrapped in an OCTET STRING) is reported as
    FORMAT_FAILURE. ``inventory`` is the signer's, when the caller has it already.
    """
    si = signer_info_parts(signer_info)
    if inventory is None:
        inventory = read_signer(signed_data, signer_info)
    certificates = outer_certificates(inventory)
    signature_value = si.signature_value
    checks: list[SignatureTimestampCheck] = []
    for stamp in inventory.timestamps:
        if stamp.kind is not TimestampKind.SIGNATURE or stamp.depth:
            continue
        token = stamp.token
        if token is None:
            checks.append(
                SignatureTimestampCheck(
                    attribute_position=stamp.attribute_position,
                    value_position=stamp.value_position,
                    token=None,
                    gen_time=None,
                    hash_algorithm=None,
                    imprint_ok=None,
                    token_check=None,
                    failure_code=SubIndication.FORMAT_FAILURE,
                    failure_reason=stamp.problem,
                )
            )
            continue
        token_check = verify_token(
            token,
            lambda alg: digest_bytes(alg, signature_value),
            extra_certificates=certificates,
        )
        checks.append(
            SignatureTimestampCheck(
                attribute_position=stamp.attribute_position,
                value_position=stamp.value_position,
                token=token,
                gen_time=token.gen_time,
                hash_algorithm=token.hash_algorithm,
                imprint_ok=token_check.imprint_ok,
                token_check=token_check,
                failure_code=token_check.failure_code,
                failure_reason=token_check.failure_reason,
                warnings=token_check.warnings,
            )
        )
    return sorted(
        checks,
        key=lambda c: (c.gen_time is None, c.gen_time, c.attribute_position, c.value_position),
    )
