"""Offline verification of a CMS/CAdES signature file: what ``sigarchive verify`` reports.

An auditor runs this years later, without the archive and without network access. For every
signer it checks, and reports separately:

- the signature value and the message-digest (RFC 5652 §5.4, §11.2; EN 319 102-1 §5.2.7
  "cryptographic verification"), with :mod:`.cms`;
- every signature-time-stamp (EN 319 122-1 §5.3) and archive time-stamp — v3 with its
  ats-hash-index (EN 319 122-1 §5.5.3, §5.5.2), v2 (TS 101 733 Annex K; EN 319 122-1 Annex
  A.2.4); the old v1 is reported as unsupported — with :mod:`.archive_timestamp`;
- counter-signatures (RFC 5652 §11.4) and their signature-time-stamps.

Verdicts, worst wins (signer, then file):

- ``PASSED``: everything intact;
- ``WARNINGS``: everything intact, but e.g. ats-hash-index entries that match nothing now
  (EN 319 122-1 §5.5.2 consistency; a warning, as in DSS's default policy);
- ``INDETERMINATE``: something could not be checked (detached content not given:
  SIGNED_DATA_NOT_FOUND; signer certificate absent; unsupported algorithm or archive
  time-stamp v1) — EN 319 102-1 §5.1.3 main indication INDETERMINATE;
- ``FAILED``: something is broken — a signature value (SIG_CRYPTO_FAILURE), a message digest
  or a time-stamp imprint (HASH_FAILURE), a missing or malformed ats-hash-index, a structure
  that is not what the standard requires (FORMAT_FAILURE) — EN 319 102-1 TOTAL-FAILED.

Not verified here, and said so in the report: content-time-stamps, CAdES-C time-stamps and
evidence records (ETSI TS 119 122-3; these give WARNINGS, so an ER never passes unchecked).
Trust (certificate paths, revocation) is not judged unless trust anchors are given, in which
case :func:`sigarchive.signatures.validation.validate_signature` runs offline
(``fetch_revocation=False``) and its EN 319 102-1 indication joins the verdict.
A detached document is hashed as a stream (:func:`.digests.digest_file`), never loaded whole.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, x509

from sigarchive.errors import ExitCode, InvalidInput, SignatureRejected
from sigarchive.signatures import cms as cms_core
from sigarchive.signatures.archive_timestamp import (
    ArchiveTimestampCheck,
    AtsKind,
    HashIndexCheck,
    SignatureTimestampCheck,
    signer_info_parts,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.attributes import (
    ATS_V3,
    CERTS_CRLS_TIME_STAMP,
    CONTENT_TIME_STAMP,
    COUNTER_SIGNATURE,
    ESC_TIME_STAMP,
    raw_attributes,
    split_tlvs,
)
from sigarchive.signatures.digests import CHUNK_SIZE, digest_bytes, digest_file
from sigarchive.signatures.levels import signature_level
from sigarchive.signatures.tokens import parse_timestamp_token

__all__ = [
    "CounterSignatureReport",
    "Finding",
    "IndexReport",
    "SignerReport",
    "TimestampReport",
    "Verdict",
    "VerificationReport",
    "load_trust_roots",
    "read_signature",
    "verify_file",
]

# EN 319 102-1 §5.1.3 sub-indications, and the archive_timestamp module's own codes.
HASH_FAILURE = "HASH_FAILURE"
SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
FORMAT_FAILURE = "FORMAT_FAILURE"
SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
ATS_HASH_INDEX_MISSING = "ATS_HASH_INDEX_MISSING"
ATS_HASH_INDEX_MALFORMED = "ATS_HASH_INDEX_MALFORMED"
ATS_V1_UNSUPPORTED = "ATS_V1_UNSUPPORTED"
EVIDENCE_RECORD_NOT_CHECKED = "EVIDENCE_RECORD_NOT_CHECKED"

#: ETSI TS 119 122-3 evidence-record attributes (RFC 4998 evidence records inside CAdES).
INTERNAL_EVIDENCE_RECORD = "1.2.840.113549.1.9.16.2.49"
EXTERNAL_EVIDENCE_RECORD = "1.2.840.113549.1.9.16.2.50"


class Verdict(StrEnum):
    """Outcome of a check, a signer or a file; declared from best to worst."""

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


def _worst(verdicts: Iterable[Verdict]) -> Verdict:
    return max(verdicts, key=lambda v: v.rank, default=Verdict.PASSED)


#: cms.SignerCheck failure codes -> (verdict, EN 319 102-1 sub-indication).
_SIGNER_CODES: dict[str, tuple[Verdict, str]] = {
    cms_core.DIGEST_MISMATCH: (Verdict.FAILED, HASH_FAILURE),
    cms_core.SIGNATURE_FAILED: (Verdict.FAILED, SIG_CRYPTO_FAILURE),
    cms_core.INVALID_SIGNED_ATTRS: (Verdict.FAILED, FORMAT_FAILURE),
    cms_core.MALFORMED: (Verdict.FAILED, FORMAT_FAILURE),
    cms_core.CERT_NOT_FOUND: (Verdict.INDETERMINATE, NO_SIGNING_CERTIFICATE_FOUND),
    cms_core.UNSUPPORTED_ALGORITHM: (Verdict.INDETERMINATE, CRYPTO_CONSTRAINTS_FAILURE_NO_POE),
    cms_core.UNSUPPORTED_SIGNATURE: (Verdict.INDETERMINATE, SIGNED_DATA_NOT_FOUND),
}

#: Time-stamp failure codes that prove something broken (EN 319 102-1 TOTAL-FAILED).
_BROKEN_TIMESTAMP = frozenset(
    {
        HASH_FAILURE,
        SIG_CRYPTO_FAILURE,
        FORMAT_FAILURE,
        ATS_HASH_INDEX_MISSING,
        ATS_HASH_INDEX_MALFORMED,
    }
)
#: Attributes this verifier does not check: listed in the report so that PASSED never claims them.
_UNCHECKED_UNSIGNED = {
    ESC_TIME_STAMP: "CAdES-C-time-stamp",
    CERTS_CRLS_TIME_STAMP: "time-stamped-certs-crls-references",
    INTERNAL_EVIDENCE_RECORD: "internal-evidence-record",
    EXTERNAL_EVIDENCE_RECORD: "external-evidence-record",
}
_EVIDENCE_RECORDS = frozenset({INTERNAL_EVIDENCE_RECORD, EXTERNAL_EVIDENCE_RECORD})

#: Time-stamp findings that do not touch integrity (RFC 3161 §2.3 EKU of the TSA certificate).
_WARNING_TIMESTAMP = frozenset({CHAIN_CONSTRAINTS_FAILURE})

# ---------------------------------------------------------------------------------------------
# Results


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


# ---------------------------------------------------------------------------------------------
# The signed content


class _Content:
    """H(signed content) on demand: eContent, a detached document hashed as a stream, or none.

    Digests are cached; :meth:`digest` raises ``LookupError`` when the content is not available,
    which :mod:`.archive_timestamp` reports as SIGNED_DATA_NOT_FOUND.
    """

    def __init__(self, parsed: cms_core.ParsedSignature, document: Path | None) -> None:
        self._e_content = parsed.encapsulated_content
        # An attached signature is verified against its eContent; a given document is only
        # compared with it (see _compare_document).
        self.document = document if parsed.encapsulated_content is None else None
        self._digests: dict[str, bytes] = {}

    @property
    def available(self) -> bool:
        return self._e_content is not None or self.document is not None

    def prefetch(self, algorithms: Iterable[str]) -> None:
        """Hash the document once for all these algorithms (one pass over a big file)."""
        wanted = set(algorithms) - set(self._digests)
        if self.document is not None and wanted:
            self._digests.update(_digest_document(self.document, wanted))

    def digest(self, algorithm: str) -> bytes:
        if algorithm not in self._digests:
            if self._e_content is not None:
                self._digests[algorithm] = digest_bytes(algorithm, self._e_content)
            elif self.document is not None:
                self.prefetch([algorithm])
            else:
                raise LookupError("detached signature and no document given (--content)")
        return self._digests[algorithm]

    def chunks(self) -> Iterator[bytes]:
        """The detached document in chunks (archive-time-stamp-v2 hashes the content itself)."""
        if self.document is None:
            raise LookupError("no detached document given")
        with self.document.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk


def _digest_document(path: Path, algorithms: Iterable[str]) -> dict[str, bytes]:
    try:
        return digest_file(path, algorithms)
    except OSError as exc:
        raise InvalidInput(
            f"The document {path} cannot be read: {exc.strerror or exc}", code="UnreadableInput"
        ) from exc


def _archive_token_algorithms(signer_infos: Sequence[cms.SignerInfo]) -> set[str]:
    """Hash algorithms of the archive-time-stamp-v3 tokens: the document is hashed with these."""
    found: set[str] = set()
    for signer_info in signer_infos:
        try:
            attributes = signer_info_parts(signer_info).unsigned_attributes
        except (SignatureRejected, ValueError):
            continue
        for attribute in attributes:
            if attribute.oid != ATS_V3:
                continue
            for value in attribute.values:
                try:
                    found.add(parse_timestamp_token(value).hash_algorithm)
                except SignatureRejected:
                    continue
    return found


# ---------------------------------------------------------------------------------------------
# Verification


def verify_file(
    signature: bytes,
    content: Path | None,
    *,
    trust_roots: Sequence[x509.Certificate] | None = None,
) -> VerificationReport:
    """Verify every signer of ``signature`` (DER/BER CMS SignedData), offline.

    ``content`` is the detached document (hashed as a stream); for an attached signature it is
    optional and, when given, must be the encapsulated content. ``trust_roots`` (optional) adds
    EN 319 102-1 path validation without fetching anything. Raises :class:`SignatureRejected`
    (an :class:`InvalidInput`) only for input that is not a CMS SignedData; every other finding
    is in the report.
    """
    parsed = cms_core.parse_signature(signature)
    signed_data = parsed.signed_data
    signer_infos = list(signed_data["signer_infos"])
    source = _Content(parsed, content)
    if source.document is not None:
        source.prefetch(parsed.required_digest_algorithms | _archive_token_algorithms(signer_infos))

    file_findings: list[Finding] = []
    if content is not None and parsed.is_attached:
        file_findings.extend(_compare_document(parsed, content))

    certificates = cms_core.certificates_of(signed_data)
    signers = tuple(
        _verify_signer(parsed, signer_info, index, certificates, source)
        for index, signer_info in enumerate(signer_infos)
    )
    if trust_roots is not None:
        signers = tuple(_with_validation(signature, s, source, trust_roots) for s in signers)
    verdict = _worst([*(f.verdict for f in file_findings), *(s.verdict for s in signers)])
    return VerificationReport(
        signature_sha256=hashlib.sha256(signature).hexdigest(),
        signature_size=len(signature),
        attached=parsed.is_attached,
        content_type=signed_data["encap_content_info"]["content_type"].dotted,
        content=str(content) if content is not None else None,
        signers=signers,
        findings=tuple(file_findings),
        verdict=verdict,
        trust_checked=trust_roots is not None,
    )


def _compare_document(parsed: cms_core.ParsedSignature, document: Path) -> list[Finding]:
    """An attached signature and a document given anyway: is it the encapsulated one?"""
    assert parsed.encapsulated_content is not None
    given = _digest_document(document, ["sha256"])["sha256"]
    if given == digest_bytes("sha256", parsed.encapsulated_content):
        return []
    return [
        Finding(
            Verdict.FAILED,
            HASH_FAILURE,
            "signed document",
            f"the document given ({document}) is not the content the signature carries "
            "(attached signatures are verified against their encapsulated content)",
        )
    ]


def _claimed_digest(signer_info: cms.SignerInfo) -> bytes:
    """The message-digest signed attribute's value (b"" when there is none)."""
    try:
        for attribute in signer_info["signed_attrs"]:
            if attribute["type"].native == "message_digest":
                return bytes(attribute["values"][0].native)
    except (ValueError, TypeError, KeyError, IndexError):
        pass
    return b""


def _has_signed_attrs(signer_info: cms.SignerInfo) -> bool:
    return not isinstance(signer_info["signed_attrs"], core.Void)


def _signer_findings(check: cms_core.SignerCheck) -> list[Finding]:
    """EN 319 102-1 §5.2.7: the message digest and the signature value, each reported."""
    if check.failure_code is None:
        return []
    verdict, code = _SIGNER_CODES.get(check.failure_code, (Verdict.FAILED, FORMAT_FAILURE))
    reason = check.failure_reason or check.failure_code
    if check.failure_code != cms_core.DIGEST_MISMATCH:
        return [Finding(verdict, code, "signature value", reason)]
    findings = [Finding(verdict, code, "message digest", reason)]
    if not check.signature_ok:  # cms reports the digest first; say the rest too
        if check.signer_certificate is None:
            findings.append(
                Finding(
                    Verdict.INDETERMINATE,
                    NO_SIGNING_CERTIFICATE_FOUND,
                    "signature value",
                    "the signer's certificate is not in the signature",
                )
            )
        else:
            findings.append(
                Finding(
                    Verdict.FAILED,
                    SIG_CRYPTO_FAILURE,
                    "signature value",
                    "the signature value does not verify either",
                )
            )
    return findings


def _verify_signer(
    parsed: cms_core.ParsedSignature,
    signer_info: cms.SignerInfo,
    index: int,
    certificates: Sequence[x509.Certificate],
    source: _Content,
) -> SignerReport:
    """Signature value, message digest (EN 319 102-1 §5.2.7), time-stamps, counter-signatures."""
    signed_data = parsed.signed_data
    content_type = signed_data["encap_content_info"]["content_type"].dotted
    findings: list[Finding] = []
    message_digest_ok: bool | None
    signature_ok: bool | None
    if source.available:
        check = cms_core.check_signer_info(
            signer_info,
            certificates,
            source.digest,
            index,
            content_type=content_type,
            content=parsed.encapsulated_content,
        )
        message_digest_ok = check.message_digest_ok
        signature_ok = check.signature_ok
    elif _has_signed_attrs(signer_info):
        # No content: check everything but the message digest, by taking the signed claim
        # as the content digest. The digest itself stays unchecked (SIGNED_DATA_NOT_FOUND).
        claimed = _claimed_digest(signer_info)
        check = cms_core.check_signer_info(
            signer_info, certificates, lambda _alg: claimed, index, content_type=content_type
        )
        message_digest_ok, signature_ok = None, check.signature_ok
    else:
        check = cms_core.check_signer_info(
            signer_info, certificates, lambda _alg: b"", index, content_type=content_type
        )
        check = replace(
            check,
            signature_ok=False,
            failure_code=cms_core.UNSUPPORTED_SIGNATURE,
            failure_reason="signed without signed attributes, the signature covers the "
            "detached content itself: give it with --content",
        )
        message_digest_ok, signature_ok = None, None
    findings.extend(_signer_findings(check))

    timestamps = _timestamps(signed_data, signer_info, source)
    findings.extend(_timestamp_findings(timestamps))
    counter_signatures = tuple(
        _counter_signatures(signed_data, signer_info, certificates, str(index + 1))
    )
    for counter in counter_signatures:
        if counter.failure_code is not None:
            findings.append(
                Finding(
                    counter.verdict,
                    counter.failure_code,
                    f"counter-signature {counter.path}",
                    counter.failure_reason or counter.failure_code,
                )
            )
        findings.extend(
            _timestamp_findings(counter.timestamps, f"counter-signature {counter.path}")
        )
    not_checked = _not_checked(signer_info)
    for name, oid in not_checked:
        if oid in _EVIDENCE_RECORDS:
            findings.append(
                Finding(
                    Verdict.WARNINGS,
                    EVIDENCE_RECORD_NOT_CHECKED,
                    name,
                    "evidence records (ETSI TS 119 122-3, RFC 4998) are not verified here",
                )
            )
    if not source.available:
        findings.append(
            Finding(
                Verdict.INDETERMINATE,
                SIGNED_DATA_NOT_FOUND,
                "message digest",
                "not checked: the signature is detached and no document was given (--content)",
            )
        )
    return SignerReport(
        index=index,
        subject=check.signer_subject,
        level=_level(signer_info),
        digest_algorithm=check.digest_algorithm,
        signature_algorithm=check.signature_algorithm,
        signing_time=check.signing_time,
        signature_ok=signature_ok,
        message_digest_ok=message_digest_ok,
        signed_attrs_encoding=check.signed_attrs_encoding,
        timestamps=timestamps,
        counter_signatures=counter_signatures,
        findings=tuple(findings),
        verdict=_worst(f.verdict for f in findings),
        not_checked=tuple(name for name, _ in not_checked),
    )


def _not_checked(signer_info: cms.SignerInfo) -> list[tuple[str, str]]:
    """(name, OID) of each attribute present that this verifier does not verify."""
    found: list[tuple[str, str]] = []
    try:
        parts = signer_info_parts(signer_info)
        if parts.signed_attrs is not None:
            signed = raw_attributes(split_tlvs(parts.signed_attrs)[0].content)
            if any(a.oid == CONTENT_TIME_STAMP for a in signed):
                found.append(("content-time-stamp", CONTENT_TIME_STAMP))
        for attribute in parts.unsigned_attributes:
            if attribute.oid in _UNCHECKED_UNSIGNED:
                found.append((_UNCHECKED_UNSIGNED[attribute.oid], attribute.oid))
    except (SignatureRejected, ValueError, IndexError):
        pass
    return found


def _level(signer_info: cms.SignerInfo) -> str:
    try:
        return signature_level(signer_info)
    except (ValueError, TypeError, KeyError):
        return "unknown"


def _timestamps(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, source: _Content
) -> tuple[TimestampReport, ...]:
    """Every time-stamp of the signer, oldest first (genTime; archive ones keep their
    genTime/index-size order, ATS-V3-NOTES §4.7)."""
    try:
        signature_stamps = verify_signature_timestamps(signed_data, signer_info)
        archive_stamps = verify_archive_timestamps(
            signed_data,
            signer_info,
            source.digest,
            detached_content=source.chunks if source.document is not None else None,
        )
    except SignatureRejected as exc:  # a SignerInfo too malformed to split
        return (_malformed_timestamps(exc.description),)
    reports = [_timestamp_report(c) for c in signature_stamps]
    reports += [_timestamp_report(c) for c in archive_stamps]
    # Stable: ties keep signature-time-stamps first and the archive module's order.
    reports.sort(key=lambda r: (r.gen_time is None, r.gen_time or datetime.min))
    return tuple(reports)


def _malformed_timestamps(reason: str) -> TimestampReport:
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
        failure_code=FORMAT_FAILURE,
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


def _timestamp_report(check: SignatureTimestampCheck | ArchiveTimestampCheck) -> TimestampReport:
    if isinstance(check, ArchiveTimestampCheck):
        kind = _KIND_NAMES[check.kind]
        encoding = check.imprint_encoding
        index = IndexReport.of(check.index) if check.index is not None else None
    else:
        kind, encoding, index = "signature-time-stamp", None, None
    code, reason = check.failure_code, check.failure_reason
    if code == ATS_V1_UNSUPPORTED:
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


def _timestamp_findings(
    timestamps: Iterable[TimestampReport], owner: str | None = None
) -> list[Finding]:
    findings = []
    for stamp in timestamps:
        subject = f"{owner}: {stamp.label}" if owner else stamp.label
        if stamp.verdict in (Verdict.FAILED, Verdict.INDETERMINATE):
            fallback = HASH_FAILURE if stamp.imprint_ok is False else SIGNED_DATA_NOT_FOUND
            code = stamp.failure_code or fallback
            reason = stamp.failure_reason or "the messageImprint could not be checked"
            findings.append(Finding(stamp.verdict, code, subject, reason))
        elif stamp.verdict is Verdict.WARNINGS:
            index_messages = stamp.index.messages if stamp.index is not None else ()
            for warning in stamp.warnings:
                if warning in index_messages:
                    code = "ATS_HASH_INDEX_INCONSISTENT"  # EN 319 122-1 §5.5.2; a warning
                else:
                    code = stamp.failure_code or "TIMESTAMP_WARNING"
                findings.append(Finding(Verdict.WARNINGS, code, subject, warning))
    return findings


def _counter_signatures(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    certificates: Sequence[x509.Certificate],
    path: str,
    depth: int = 0,
) -> Iterator[CounterSignatureReport]:
    """Counter-signatures of ``signer_info`` (RFC 5652 §11.4), recursively, as stored."""
    try:
        parts = signer_info_parts(signer_info)
        attributes = parts.unsigned_attributes
        countersigned = parts.signature_value
    except (SignatureRejected, ValueError):
        return
    number = 0
    for attribute in attributes:
        if attribute.oid != COUNTER_SIGNATURE:
            continue
        for value in attribute.values:
            number += 1
            here = f"{path}.{number}"
            try:
                counter = cms.SignerInfo.load(value)
                counter.native  # noqa: B018 - parse now, report malformed input here
            except (ValueError, TypeError, KeyError) as exc:
                yield CounterSignatureReport(
                    here, None, False, Verdict.FAILED, FORMAT_FAILURE, f"malformed: {exc}"
                )
                continue
            check = cms_core.check_signer_info(
                counter,
                certificates,
                lambda alg: digest_bytes(alg, countersigned),
                number - 1,
                content=countersigned,
            )
            verdict, code = Verdict.PASSED, None
            if check.failure_code is not None:
                verdict, code = _SIGNER_CODES.get(
                    check.failure_code, (Verdict.FAILED, FORMAT_FAILURE)
                )
            try:
                stamps = tuple(
                    _timestamp_report(c) for c in verify_signature_timestamps(signed_data, counter)
                )
            except SignatureRejected as exc:
                stamps = (_malformed_timestamps(exc.description),)
            verdict = _worst([verdict, *(s.verdict for s in stamps)])
            yield CounterSignatureReport(
                path=here,
                subject=check.signer_subject,
                signature_ok=check.signature_ok,
                verdict=verdict,
                failure_code=code,
                failure_reason=check.failure_reason,
                timestamps=stamps,
            )
            if depth < 8:
                yield from _counter_signatures(signed_data, counter, certificates, here, depth + 1)


# ---------------------------------------------------------------------------------------------
# Optional: EN 319 102-1 validation against given trust anchors, offline


#: validation.SignatureReport indication -> verdict it imposes.
_INDICATIONS = {"TOTAL-PASSED": Verdict.PASSED, "TOTAL-FAILED": Verdict.FAILED}


def _with_validation(
    signature: bytes,
    signer: SignerReport,
    source: _Content,
    trust_roots: Sequence[x509.Certificate],
) -> SignerReport:
    """Add the EN 319 102-1 validation (offline: embedded revocation data only) to ``signer``."""
    from sigarchive.signatures.validation import validate_signature

    report, _material = validate_signature(
        signature,
        signer.index,
        source.digest,
        trust_roots=trust_roots,
        fetch_revocation=False,
    )
    verdict = _INDICATIONS.get(report.indication, Verdict.INDETERMINATE)
    findings = list(signer.findings)
    if verdict is not Verdict.PASSED:
        findings.append(
            Finding(
                verdict,
                report.sub_indication or report.indication,
                "validation (EN 319 102-1)",
                "; ".join(report.messages or report.reasons) or report.indication,
            )
        )
    return replace(
        signer,
        validation=report.to_json(),
        findings=tuple(findings),
        verdict=_worst([signer.verdict, verdict]),
    )


def load_trust_roots(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Trust anchors from PEM (one or several certificates) or DER files."""
    from sigarchive.archive.trust import load_certificates

    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"{path} cannot be read: {exc.strerror or exc}", code="UnreadableInput"
            ) from exc
        roots.extend(load_certificates(data, str(path)))
    return roots


def read_signature(source: str) -> bytes:
    """The signature file's bytes; ``-`` reads standard input."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"The signature {source} cannot be read: {exc.strerror or exc}",
            code="UnreadableInput",
        ) from exc
