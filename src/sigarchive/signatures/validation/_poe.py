"""Time-stamps along the time slide (EN 319 102-1 §5.6.2.3, §5.6.3): each valid one is a proof
of existence (POE) for what it covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms

from sigarchive.errors import ArchiveError
from sigarchive.signatures.ats import (
    ArchiveTimestampCheck,
    SignatureTimestampCheck,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.indications import Indication, RevocationStatus, SubIndication
from sigarchive.signatures.inventory import SignerInventory
from sigarchive.signatures.timestamps.tokens import TimestampToken, TokenCheck
from sigarchive.signatures.validation._paths import PathOutcome, Paths
from sigarchive.signatures.validation.report import TimestampSummary

ContentDigestFor = Callable[[str], bytes]


@dataclass(frozen=True)
class _Stamp:
    """A signature- or archive-time-stamp check, whatever its kind."""

    kind: str
    token: TimestampToken | None
    token_check: TokenCheck | None
    gen_time: datetime | None
    imprint_ok: bool | None
    technically_ok: bool
    failure_code: str | None
    failure_reason: str | None

    @classmethod
    def of_signature(cls, check: SignatureTimestampCheck) -> _Stamp:
        return cls(
            "signature",
            check.token,
            check.token_check,
            check.gen_time,
            check.imprint_ok,
            check.ok,
            check.failure_code,
            check.failure_reason,
        )

    @classmethod
    def of_archive(cls, check: ArchiveTimestampCheck) -> _Stamp:
        return cls(
            f"archive-{check.kind.value}",
            check.token,
            check.token_check,
            check.gen_time,
            check.imprint_ok,
            check.ok,
            check.failure_code,
            check.failure_reason,
        )


async def _check_stamp(stamp: _Stamp, paths: Paths, moment: datetime) -> _StampResult:
    """A time-stamp is valid when intact and its TSA path validates at ``moment``
    (EN 319 102-1 §5.4, time-stamp validation building block)."""
    tsa = stamp.token_check.signer_certificate if stamp.token_check is not None else None
    signature_ok = stamp.token_check is not None and stamp.token_check.signature_ok
    outcome: PathOutcome | None = None
    indication: Indication
    sub: str | None
    problem: str | None
    if not stamp.technically_ok:
        code = stamp.failure_code or SubIndication.HASH_FAILURE
        broken = code in (
            SubIndication.HASH_FAILURE,
            SubIndication.SIG_CRYPTO_FAILURE,
            SubIndication.FORMAT_FAILURE,
        )
        indication, sub, revocation = (
            (Indication.TOTAL_FAILED if broken else Indication.INDETERMINATE),
            code,
            RevocationStatus.NOT_CHECKED,
        )
        problem = stamp.failure_reason or "the time-stamp token is not intact"
    elif tsa is None:  # cannot happen for a technically valid token; kept for the type checker
        indication, sub, revocation = (
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            RevocationStatus.NOT_CHECKED,
        )
        problem = "the TSA certificate was not found"
    else:
        outcome = await paths.validate(tsa, moment)
        indication, sub, revocation = outcome.indication, outcome.sub_indication, outcome.revocation
        problem = "; ".join(outcome.messages) or None
    summary = TimestampSummary(
        kind=stamp.kind,
        gen_time=stamp.gen_time,
        tsa_subject=tsa.subject.human_friendly if tsa is not None else None,
        tsa_certificate_not_after=tsa.not_valid_after if tsa is not None else None,
        imprint_ok=stamp.imprint_ok,
        signature_ok=signature_ok,
        indication=indication,
        sub_indication=sub,
        revocation=revocation,
        validated_at=moment if outcome is not None else None,
        problem=problem,
    )
    return _StampResult(summary, outcome is not None and outcome.network_failure)


@dataclass(frozen=True)
class _StampResult:
    summary: TimestampSummary
    network_failure: bool


async def check_stamps(
    signed_data: cms.SignedData,
    inventory: SignerInventory,
    content_digest_for: ContentDigestFor,
    paths: Paths,
    validation_time: datetime,
) -> tuple[list[_StampResult], list[_StampResult], datetime | None, list[str]]:
    """Check every time-stamp along the time slide (EN 319 102-1 §5.6.2.3, §5.6.3).

    Returns the signature-time-stamp results, the archive ones, the earliest POE of the
    signature (None: no valid time-stamp), and problems met while reading them.
    """
    problems: list[str] = []
    try:
        signer_info = inventory.signer_info
        signature_stamps = [
            _Stamp.of_signature(c)
            for c in verify_signature_timestamps(signed_data, signer_info, inventory=inventory)
        ]
        archive_stamps = [
            _Stamp.of_archive(c)
            for c in verify_archive_timestamps(
                signed_data, signer_info, content_digest_for, inventory=inventory
            )
        ]
    except ArchiveError as exc:  # a SignedData/SignerInfo its parsers cannot split
        return [], [], None, [f"the time-stamps could not be read: {exc}"]

    # Newest archive time-stamp first, at the validation time; each valid one gives a POE at
    # its genTime for everything it covers, older archive time-stamps included.
    poe = validation_time
    archive_results: list[_StampResult] = []
    for stamp in reversed(archive_stamps):
        result = await _check_stamp(stamp, paths, poe)
        archive_results.append(result)
        if result.summary.valid and stamp.gen_time is not None:
            poe = min(poe, stamp.gen_time)
    archive_results.reverse()

    signature_results = [await _check_stamp(s, paths, poe) for s in signature_stamps]
    proofs = [
        r.summary.gen_time
        for r in signature_results + archive_results
        if r.summary.valid and r.summary.gen_time is not None
    ]
    return signature_results, archive_results, min(proofs) if proofs else None, problems
