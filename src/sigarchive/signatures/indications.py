"""The vocabulary of results: ETSI EN 319 102-1 indications and sub-indications, sigarchive's
own finding codes, revocation statuses, and the verifier's :class:`Verdict`.

Every value is the string the JSON reports, the HTTP API and the problem records carry (they
are :class:`~enum.StrEnum` members, so they compare and serialise as those strings).
"""

from __future__ import annotations

from enum import StrEnum

from sigarchive.errors import ExitCode

__all__ = ["FindingCode", "Indication", "RevocationStatus", "SubIndication", "Verdict"]


class Indication(StrEnum):
    """EN 319 102-1 §5.1.3, Table 5: the main indications."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    """EN 319 102-1 §5.1.3, Table 6: the sub-indications sigarchive uses."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"


class FindingCode(StrEnum):
    """sigarchive's own codes, where no EN 319 102-1 sub-indication fits."""

    #: No ats-hash-index in an archive-time-stamp-v3 (EN 319 122-1 §5.5.2), or more than one.
    ATS_HASH_INDEX_MISSING = "ATS_HASH_INDEX_MISSING"
    ATS_HASH_INDEX_MALFORMED = "ATS_HASH_INDEX_MALFORMED"
    #: Index entries that match nothing now (a warning, as in DSS's default policy).
    ATS_HASH_INDEX_INCONSISTENT = "ATS_HASH_INDEX_INCONSISTENT"
    #: archive-time-stamp (v1, TS 101 733 V1.x): not verified.
    ATS_V1_UNSUPPORTED = "ATS_V1_UNSUPPORTED"
    #: ETSI TS 119 122-3 evidence records: not verified.
    EVIDENCE_RECORD_NOT_CHECKED = "EVIDENCE_RECORD_NOT_CHECKED"
    TIMESTAMP_WARNING = "TIMESTAMP_WARNING"


class RevocationStatus(StrEnum):
    """Revocation status of a certificate path, as the validation report states it."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"
    NOT_CHECKED = "not-checked"


class Verdict(StrEnum):
    """Outcome of a check, a signer or a file (``sigarchive verify``); best to worst."""

    PASSED = "PASSED"
    WARNINGS = "WARNINGS"
    INDETERMINATE = "INDETERMINATE"
    FAILED = "FAILED"

    @property
    def rank(self) -> int:
        return list(Verdict).index(self)

    @property
    def exit_code(self) -> ExitCode:
        """The CLI exit code of this verdict (unreadable input is ExitCode.INVALID_INPUT)."""
        return {
            Verdict.FAILED: ExitCode.FAILED,
            Verdict.INDETERMINATE: ExitCode.INDETERMINATE,
        }.get(self, ExitCode.OK)

    @classmethod
    def of(cls, indication: str) -> Verdict:
        """The verdict an EN 319 102-1 indication imposes."""
        if indication == Indication.TOTAL_PASSED:
            return cls.PASSED
        if indication == Indication.TOTAL_FAILED:
            return cls.FAILED
        return cls.INDETERMINATE
