"""What ``sigarchive verify`` reports: findings, time-stamps, signers and the file, each with its
:class:`~sigarchive.signatures.indications.Verdict`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigarchive.errors import ExitCode
from sigarchive.signatures.ats import (
    HashIndexCheck,
)
from sigarchive.signatures.indications import Verdict


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    return max(verdicts, key=lambda v: v.rank, default=Verdict.PASSED)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Finding:
    """One reason a verdict is not PASSED."""

    verdict: Verdict
    code: str
    #: What it is about: "signature value", "archive-time-stamp-v3 of 2019-05-28 15:23:51Z" ...
    subject: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.verdict.value} {self.code} — {self.subject}: {self.message}"


@dataclass(frozen=True)
class IndexReport:
    """An ats-hash-index and its consistency with the signature now (EN 319 122-1 §5.5.2)."""

    version: int
    algorithm: str
    certificates: int
    crls: int
    unsigned_attrs: int
    certificates_not_found: int
    certificates_outside: int
    crls_not_found: int
    crls_outside: int
    unsigned_attrs_not_found: int
    messages: tuple[str, ...]

    @classmethod
    def of(cls, check: HashIndexCheck) -> IndexReport:
        return cls(
            version=check.version,
            algorithm=check.algorithm,
            certificates=check.certificates,
            crls=check.crls,
            unsigned_attrs=check.unsigned_attrs,
            certificates_not_found=len(check.certificates_not_found),
            certificates_outside=len(check.certificates_outside),
            crls_not_found=len(check.crls_not_found),
            crls_outside=len(check.crls_outside),
            unsigned_attrs_not_found=len(check.unsigned_attrs_not_found),
            messages=check.messages,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "algorithm": self.algorithm,
            "certificates": self.certificates,
            "crls": self.crls,
            "unsigned_attrs": self.unsigned_attrs,
            "certificates_not_found": self.certificates_not_found,
            "certificates_outside": self.certificates_outside,
            "crls_not_found": self.crls_not_found,
            "crls_outside": self.crls_outside,
            "unsigned_attrs_not_found": self.unsigned_attrs_not_found,
            "messages": list(self.messages),
        }

    def summary(self) -> str:
        return (
            f"index v{self.version}: {self.certificates} certs, {self.crls} crls, "
            f"{self.unsigned_attrs} attrs"
        )


@dataclass(frozen=True)
class TimestampReport:
    """One signature- or archive-time-stamp."""

    #: "signature-time-stamp", "archive-time-stamp-v3", "archive-time-stamp-v2",
    #: "archive-time-stamp-v1".
    kind: str
    gen_time: datetime | None
    tsa: str | None
    hash_algorithm: str | None
    #: messageImprint equals the recomputed one (None: could not be computed).
    imprint_ok: bool | None
    #: Which input variant matched (archive time-stamps: "as-stored", "der", "v2.2.1" ...).
    imprint_encoding: str | None
    #: The TSA's CMS signature over the TSTInfo verifies (None: no token to check).
    token_signature_ok: bool | None
    index: IndexReport | None
    verdict: Verdict
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        when = self.gen_time.strftime("%Y-%m-%d %H:%M:%SZ") if self.gen_time else "unknown time"
        return f"{self.kind} of {when}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "gen_time": _iso(self.gen_time),
            "tsa": self.tsa,
            "hash_algorithm": self.hash_algorithm,
            "imprint_ok": self.imprint_ok,
            "imprint_encoding": self.imprint_encoding,
            "token_signature_ok": self.token_signature_ok,
            "index": self.index.to_json() if self.index is not None else None,
            "verdict": self.verdict.value,
            "failure_code": self.failure_code,
            "failure_reason": self.failure_reason,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class CounterSignatureReport:
    """A counter-signature (RFC 5652 §11.4) over its parent's signature value."""

    #: "1", "1.2" (counter-signature 2 of counter-signature 1) ...
    path: str
    subject: str | None
    signature_ok: bool
    verdict: Verdict
    failure_code: str | None
    failure_reason: str | None
    timestamps: tuple[TimestampReport, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "subject": self.subject,
            "signature_ok": self.signature_ok,
            "verdict": self.verdict.value,
            "failure_code": self.failure_code,
            "failure_reason": self.failure_reason,
            "timestamps": [t.to_json() for t in self.timestamps],
        }


@dataclass(frozen=True)
class SignerReport:
    """Everything checked for one SignerInfo, and its verdict."""

    index: int
    subject: str | None
    level: str
    digest_algorithm: str
    signature_algorithm: str
    #: The claimed signing-time signed attribute (not a proof of time).
    signing_time: datetime | None
    #: None: not checked (e.g. detached content not given and no signed attributes).
    signature_ok: bool | None
    #: None: not checked (detached content not given).
    message_digest_ok: bool | None
    signed_attrs_encoding: str
    #: Signature-time-stamps and archive time-stamps, oldest first.
    timestamps: tuple[TimestampReport, ...]
    counter_signatures: tuple[CounterSignatureReport, ...]
    findings: tuple[Finding, ...]
    verdict: Verdict
    #: Attributes present but not verified here (content-time-stamp, CAdES-C time-stamps,
    #: evidence records): informational, except evidence records (a WARNINGS finding).
    not_checked: tuple[str, ...] = ()
    #: EN 319 102-1 report (validation.SignatureReport.to_json()) when trust anchors were given.
    validation: dict[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "subject": self.subject,
            "level": self.level,
            "digest_algorithm": self.digest_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "signing_time": _iso(self.signing_time),
            "signature_ok": self.signature_ok,
            "message_digest_ok": self.message_digest_ok,
            "signed_attrs_encoding": self.signed_attrs_encoding,
            "timestamps": [t.to_json() for t in self.timestamps],
            "counter_signatures": [c.to_json() for c in self.counter_signatures],
            "findings": [f.to_json() for f in self.findings],
            "verdict": self.verdict.value,
            "not_checked": list(self.not_checked),
            "validation": self.validation,
        }


@dataclass(frozen=True)
class VerificationReport:
    """The verification of one signature file."""

    signature_sha256: str
    signature_size: int
    attached: bool
    content_type: str
    #: The detached document given (as given), if any.
    content: str | None
    signers: tuple[SignerReport, ...]
    #: Findings about the file as a whole (e.g. a given document that is not the eContent).
    findings: tuple[Finding, ...]
    verdict: Verdict
    trust_checked: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return self.findings + tuple(f for s in self.signers for f in s.findings)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (datetimes as ISO 8601)."""
        return {
            "verdict": self.verdict.value,
            "signature_sha256": self.signature_sha256,
            "signature_size": self.signature_size,
            "attached": self.attached,
            "content_type": self.content_type,
            "content": self.content,
            "trust_checked": self.trust_checked,
            "findings": [f.to_json() for f in self.findings],
            "signers": [s.to_json() for s in self.signers],
        }
