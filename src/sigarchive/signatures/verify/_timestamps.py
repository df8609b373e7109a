"""The time-stamps of a signer, verified and turned into :class:`TimestampReport` s and findings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from asn1crypto import cms

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.ats import (
    ArchiveTimestampCheck,
    AtsKind,
    SignatureTimestampCheck,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.indications import FindingCode, SubIndication, Verdict
from sigarchive.signatures.inventory import (
    SignerInventory,
)
from sigarchive.signatures.verify._content import Content
from sigarchive.signatures.verify.report import Finding, IndexReport, TimestampReport

#: Time-stamp failure codes that prove something broken (EN 319 102-1 TOTAL-FAILED).
_BROKEN_TIMESTAMP = frozenset(
    {
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.FORMAT_FAILURE,
        FindingCode.ATS_HASH_INDEX_MISSING,
        FindingCode.ATS_HASH_INDEX_MALFORMED,
    }
)


#: Time-stamp findings that do not touch integrity (RFC 3161 §2.3 EKU of the TSA certificate).
_WARNING_TIMESTAMP = frozenset({SubIndication.CHAIN_CONSTRAINTS_FAILURE})


def signer_timestamps(
    signed_data: cms.SignedData, inventory: SignerInventory, source: Content
) -> tuple[TimestampReport, ...]:
    """Every time-stamp of the signer, oldest first (genTime; archive ones keep their
    genTime/index-size order, ATS-V3-NOTES §4.7)."""
    try:
        signature_stamps = verify_signature_timestamps(
            signed_data, inventory.signer_info, inventory=inventory
        )
        archive_stamps = verify_archive_timestamps(
            signed_data,
            inventory.signer_info,
            source.digest,
            detached_content=source.chunks if source.document is not None else None,
            inventory=inventory,
        )
    except SignatureRejected as exc:  # a SignerInfo too malformed to split
        return (malformed_timestamps(exc.description),)
    reports = [timestamp_report(c) for c in signature_stamps]
    reports += [timestamp_report(c) for c in archive_stamps]
    # Stable: ties keep signature-time-stamps first and the archive module's order.
    reports.sort(key=lambda r: (r.gen_time is None, r.gen_time or datetime.min))
    return tuple(reports)


def malformed_timestamps(reason: str) -> TimestampReport:
    return TimestampReport(
        kind="unsigned attributes",
        gen_time=None,
        tsa=None,
        hash_algorithm=None,
        imprint_ok=None,
        imprint_encoding=None,
        token_signature_ok=None,
        index=None,
        verdict=Verdict.FAILED,
        failure_code=SubIndication.FORMAT_FAILURE,
        failure_reason=reason,
    )


_KIND_NAMES = {
    AtsKind.V3: "archive-time-stamp-v3",
    AtsKind.V2: "archive-time-stamp-v2",
    AtsKind.V1: "archive-time-stamp-v1",
}


def _tsa_name(check: SignatureTimestampCheck | ArchiveTimestampCheck) -> str | None:
    """The TSA certificate's subject, else the TSTInfo tsa field."""
    token_check = check.token_check
    certificate = token_check.signer_certificate if token_check is not None else None
    token = check.token
    if certificate is None and token is not None:
        certificate = token.signer_certificate
    try:
        if certificate is not None:
            return str(certificate.subject.human_friendly)
        if token is not None and token.tst_info["tsa"].native is not None:
            return str(token.tst_info["tsa"].chosen.human_friendly)
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


def _timestamp_verdict(code: str | None, imprint_ok: bool | None, warnings: bool) -> Verdict:
    if imprint_ok is False or code in _BROKEN_TIMESTAMP:
        return Verdict.FAILED
    if code in _WARNING_TIMESTAMP and imprint_ok:
        return Verdict.WARNINGS
    if code is not None or imprint_ok is not True:
        return Verdict.INDETERMINATE
    return Verdict.WARNINGS if warnings else Verdict.PASSED


def timestamp_report(check: SignatureTimestampCheck | ArchiveTimestampCheck) -> TimestampReport:
    if isinstance(check, ArchiveTimestampCheck):
        kind = _KIND_NAMES[check.kind]
        encoding = check.imprint_encoding
        index = IndexReport.of(check.index) if check.index is not None else None
    else:
        kind, encoding, index = "signature-time-stamp", None, None
    code, reason = check.failure_code, check.failure_reason
    if code == FindingCode.ATS_V1_UNSUPPORTED:
        reason = (
            "archive-time-stamp (v1, TS 101 733 V1.x, 1.2.840.113549.1.9.16.2.27) is not "
            "supported: its imprint is not checked"
        )
    warnings = check.warnings
    if code in _WARNING_TIMESTAMP and reason:
        warnings = (*warnings, reason)
    token_check = check.token_check
    return TimestampReport(
        kind=kind,
        gen_time=check.gen_time,
        tsa=_tsa_name(check),
        hash_algorithm=check.hash_algorithm,
        imprint_ok=check.imprint_ok,
        imprint_encoding=encoding,
        token_signature_ok=token_check.signature_ok if token_check is not None else None,
        index=index,
        verdict=_timestamp_verdict(code, check.imprint_ok, bool(warnings)),
        failure_code=code,
        failure_reason=reason,
        warnings=warnings,
    )


def timestamp_findings(
    timestamps: Iterable[TimestampReport], owner: str | None = None
) -> list[Finding]:
    findings = []
    for stamp in timestamps:
        subject = f"{owner}: {stamp.label}" if owner else stamp.label
        if stamp.verdict in (Verdict.FAILED, Verdict.INDETERMINATE):
            fallback = (
                SubIndication.HASH_FAILURE
                if stamp.imprint_ok is False
                else SubIndication.SIGNED_DATA_NOT_FOUND
            )
            code = stamp.failure_code or fallback
            reason = stamp.failure_reason or "the messageImprint could not be checked"
            findings.append(Finding(stamp.verdict, code, subject, reason))
        elif stamp.verdict is Verdict.WARNINGS:
            index_messages = stamp.index.messages if stamp.index is not None else ()
            for warning in stamp.warnings:
                if warning in index_messages:
                    code = FindingCode.ATS_HASH_INDEX_INCONSISTENT  # EN 319 122-1 §5.5.2; a warning
                else:
                    code = stamp.failure_code or FindingCode.TIMESTAMP_WARNING
                findings.append(Finding(Verdict.WARNINGS, code, subject, warning))
    return findings
