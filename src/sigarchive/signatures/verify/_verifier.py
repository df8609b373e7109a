"""The offline verifier: every signer of a signature file, checked and reported."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from asn1crypto import cms, core, x509

from sigarchive.errors import SignatureRejected
from sigarchive.signatures import cms as cms_core
from sigarchive.signatures.asn1.oids import (
    CERTS_CRLS_TIME_STAMP,
    CONTENT_TIME_STAMP,
    COUNTER_SIGNATURE,
    ESC_TIME_STAMP,
    EXTERNAL_EVIDENCE_RECORD,
    INTERNAL_EVIDENCE_RECORD,
)
from sigarchive.signatures.asn1.parts import signer_info_parts
from sigarchive.signatures.ats import (
    verify_signature_timestamps,
)
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.indications import FindingCode, SubIndication, Verdict
from sigarchive.signatures.inventory import (
    Inventory,
    SignerInventory,
    TimestampKind,
    read_inventory,
)
from sigarchive.signatures.verify._content import Content, digest_document
from sigarchive.signatures.verify._timestamps import (
    malformed_timestamps,
    signer_timestamps,
    timestamp_findings,
    timestamp_report,
)
from sigarchive.signatures.verify.report import (
    CounterSignatureReport,
    Finding,
    SignerReport,
    VerificationReport,
    worst,
)

#: cms.SignerCheck failure codes -> (verdict, EN 319 102-1 sub-indication).
_SIGNER_CODES: dict[str, tuple[Verdict, str]] = {
    cms_core.DIGEST_MISMATCH: (Verdict.FAILED, SubIndication.HASH_FAILURE),
    cms_core.SIGNATURE_FAILED: (Verdict.FAILED, SubIndication.SIG_CRYPTO_FAILURE),
    cms_core.INVALID_SIGNED_ATTRS: (Verdict.FAILED, SubIndication.FORMAT_FAILURE),
    cms_core.MALFORMED: (Verdict.FAILED, SubIndication.FORMAT_FAILURE),
    cms_core.CERT_NOT_FOUND: (Verdict.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND),
    cms_core.UNSUPPORTED_ALGORITHM: (
        Verdict.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ),
    cms_core.UNSUPPORTED_SIGNATURE: (Verdict.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND),
}


#: Attributes this verifier does not check: listed in the report so that PASSED never claims them.
_UNCHECKED_UNSIGNED = {
    ESC_TIME_STAMP: "CAdES-C-time-stamp",
    CERTS_CRLS_TIME_STAMP: "time-stamped-certs-crls-references",
    INTERNAL_EVIDENCE_RECORD: "internal-evidence-record",
    EXTERNAL_EVIDENCE_RECORD: "external-evidence-record",
}


_EVIDENCE_RECORDS = frozenset({INTERNAL_EVIDENCE_RECORD, EXTERNAL_EVIDENCE_RECORD})


def _archive_token_algorithms(inventory: Inventory) -> set[str]:
    """Hash algorithms of the archive-time-stamp-v3 tokens: the document is hashed with these."""
    return {
        token.hash_algorithm
        for signer in inventory.signers
        for token in signer.tokens(TimestampKind.ARCHIVE_V3)
    }


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
    inventory = read_inventory(signed_data)
    source = Content(parsed, content)
    if source.document is not None:
        source.prefetch(parsed.required_digest_algorithms | _archive_token_algorithms(inventory))

    file_findings: list[Finding] = []
    if content is not None and parsed.is_attached:
        file_findings.extend(_compare_document(parsed, content))

    certificates = cms_core.certificates_of(signed_data)
    signers = tuple(
        _verify_signer(parsed, signer, certificates, source) for signer in inventory.signers
    )
    if trust_roots is not None:
        signers = tuple(_with_validation(signature, s, source, trust_roots) for s in signers)
    verdict = worst([*(f.verdict for f in file_findings), *(s.verdict for s in signers)])
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
    given = digest_document(document, ["sha256"])["sha256"]
    if given == digest_bytes("sha256", parsed.encapsulated_content):
        return []
    return [
        Finding(
            Verdict.FAILED,
            SubIndication.HASH_FAILURE,
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
    verdict, code = _SIGNER_CODES.get(
        check.failure_code, (Verdict.FAILED, SubIndication.FORMAT_FAILURE)
    )
    reason = check.failure_reason or check.failure_code
    if check.failure_code != cms_core.DIGEST_MISMATCH:
        return [Finding(verdict, code, "signature value", reason)]
    findings = [Finding(verdict, code, "message digest", reason)]
    if not check.signature_ok:  # cms reports the digest first; say the rest too
        if check.signer_certificate is None:
            findings.append(
                Finding(
                    Verdict.INDETERMINATE,
                    SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                    "signature value",
                    "the signer's certificate is not in the signature",
                )
            )
        else:
            findings.append(
                Finding(
                    Verdict.FAILED,
                    SubIndication.SIG_CRYPTO_FAILURE,
                    "signature value",
                    "the signature value does not verify either",
                )
            )
    return findings


def _verify_signer(
    parsed: cms_core.ParsedSignature,
    inventory: SignerInventory,
    certificates: Sequence[x509.Certificate],
    source: Content,
) -> SignerReport:
    """Signature value, message digest (EN 319 102-1 §5.2.7), time-stamps, counter-signatures."""
    signer_info, index = inventory.signer_info, inventory.index
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

    timestamps = signer_timestamps(signed_data, inventory, source)
    findings.extend(timestamp_findings(timestamps))
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
        findings.extend(timestamp_findings(counter.timestamps, f"counter-signature {counter.path}"))
    not_checked = _not_checked(signer_info)
    for name, oid in not_checked:
        if oid in _EVIDENCE_RECORDS:
            findings.append(
                Finding(
                    Verdict.WARNINGS,
                    FindingCode.EVIDENCE_RECORD_NOT_CHECKED,
                    name,
                    "evidence records (ETSI TS 119 122-3, RFC 4998) are not verified here",
                )
            )
    if not source.available:
        findings.append(
            Finding(
                Verdict.INDETERMINATE,
                SubIndication.SIGNED_DATA_NOT_FOUND,
                "message digest",
                "not checked: the signature is detached and no document was given (--content)",
            )
        )
    return SignerReport(
        index=index,
        subject=check.signer_subject,
        level=inventory.level,
        digest_algorithm=check.digest_algorithm,
        signature_algorithm=check.signature_algorithm,
        signing_time=check.signing_time,
        signature_ok=signature_ok,
        message_digest_ok=message_digest_ok,
        signed_attrs_encoding=check.signed_attrs_encoding,
        timestamps=timestamps,
        counter_signatures=counter_signatures,
        findings=tuple(findings),
        verdict=worst(f.verdict for f in findings),
        not_checked=tuple(name for name, _ in not_checked),
    )


def _not_checked(signer_info: cms.SignerInfo) -> list[tuple[str, str]]:
    """(name, OID) of each attribute present that this verifier does not verify."""
    found: list[tuple[str, str]] = []
    try:
        parts = signer_info_parts(signer_info)
        if any(a.oid == CONTENT_TIME_STAMP for a in parts.signed_attributes):
            found.append(("content-time-stamp", CONTENT_TIME_STAMP))
        for attribute in parts.unsigned_attributes:
            if attribute.oid in _UNCHECKED_UNSIGNED:
                found.append((_UNCHECKED_UNSIGNED[attribute.oid], attribute.oid))
    except (SignatureRejected, ValueError, IndexError):
        pass
    return found


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
                    here,
                    None,
                    False,
                    Verdict.FAILED,
                    SubIndication.FORMAT_FAILURE,
                    f"malformed: {exc}",
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
                    check.failure_code, (Verdict.FAILED, SubIndication.FORMAT_FAILURE)
                )
            try:
                stamps = tuple(
                    timestamp_report(c) for c in verify_signature_timestamps(signed_data, counter)
                )
            except SignatureRejected as exc:
                stamps = (malformed_timestamps(exc.description),)
            verdict = worst([verdict, *(s.verdict for s in stamps)])
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


def _with_validation(
    signature: bytes,
    signer: SignerReport,
    source: Content,
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
    verdict = Verdict.of(report.indication)
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
        verdict=worst([signer.verdict, verdict]),
    )
