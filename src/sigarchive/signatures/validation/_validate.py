"""The validation of one signer (EN 319 102-1 §5.3-§5.6)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeAlias

from asn1crypto import cms, x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import FetchLimits

from sigarchive.errors import ArchiveError, InvalidInput
from sigarchive.signatures import cms as cms_core
from sigarchive.signatures.indications import Indication, RevocationStatus, SubIndication
from sigarchive.signatures.inventory import SignerInventory, read_signer
from sigarchive.signatures.validation._paths import Embedded, Paths
from sigarchive.signatures.validation._poe import ContentDigestFor, check_stamps
from sigarchive.signatures.validation.fetching import FetchFailure, http_session, logging_fetchers
from sigarchive.signatures.validation.report import (
    SignatureReport,
    TimestampSummary,
    ValidationMaterial,
)

log = logging.getLogger("sigarchive.signatures.validation")


#: Bounds on the fetching one validation may cause (URLs come from the certificates checked).
FETCH_LIMITS = FetchLimits(max_requests=64, max_cert_requests=16, max_aia_urls_per_object=4)


#: Failure code of a signer whose signed content digest the caller could not give.
_CONTENT_NOT_FOUND = "SignedContentNotFound"


#: cms.py failure codes -> (indication, sub-indication, reason) (EN 319 102-1 §5.2.7, §5.2.8).
_SIGNER_FAILURES: dict[str, tuple[Indication, SubIndication, str]] = {
    cms_core.DIGEST_MISMATCH: (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "BadSignature"),
    cms_core.SIGNATURE_FAILED: (
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CRYPTO_FAILURE,
        "BadSignature",
    ),
    cms_core.INVALID_SIGNED_ATTRS: (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        "BadSignature",
    ),
    cms_core.MALFORMED: (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "BadSignature"),
    cms_core.CERT_NOT_FOUND: (
        Indication.INDETERMINATE,
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        "SignerNotFound",
    ),
    cms_core.UNSUPPORTED_ALGORITHM: (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        "UnsupportedAlgorithm",
    ),
    cms_core.UNSUPPORTED_SIGNATURE: (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
        "UnsupportedSignature",
    ),
    _CONTENT_NOT_FOUND: (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
        "ContentNotFound",
    ),
}


TrustRoot: TypeAlias = "x509.Certificate | crypto_x509.Certificate"


def validate_signature(
    signature: bytes,
    signer_index: int,
    content_digest_for: ContentDigestFor,
    *,
    trust_roots: Sequence[TrustRoot],
    validation_time: datetime | None = None,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> tuple[SignatureReport, ValidationMaterial]:
    """Validate signer ``signer_index`` of a CMS/CAdES ``signature`` (EN 319 102-1 §5.3-§5.6).

    ``content_digest_for(algorithm)`` is the digest of the signed content (the detached
    document, or eContent) for an asn1crypto algorithm name; it may raise ``LookupError`` for
    one it does not have. ``trust_roots`` are the only trust anchors (none: nothing is
    trusted). ``validation_time`` defaults to now. With ``fetch_revocation=False`` nothing is
    fetched: only the material inside the signature is used. ``timeout`` bounds each request.

    Returns the report and the material for CAdES-LT. Raises only :class:`SignatureRejected`
    (not a CMS SignedData) or :class:`InvalidInput` (no such signer). Synchronous wrapper of
    :func:`async_validate_signature`; do not call it from a running event loop.
    """
    return asyncio.run(
        async_validate_signature(
            signature,
            signer_index,
            content_digest_for,
            trust_roots=trust_roots,
            validation_time=validation_time,
            fetch_revocation=fetch_revocation,
            timeout=timeout,
        )
    )


async def async_validate_signature(
    signature: bytes,
    signer_index: int,
    content_digest_for: ContentDigestFor,
    *,
    trust_roots: Sequence[TrustRoot],
    validation_time: datetime | None = None,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> tuple[SignatureReport, ValidationMaterial]:
    """:func:`validate_signature` for asynchronous callers."""
    if validation_time is None:
        validation_time = datetime.now(UTC)
    elif validation_time.utcoffset() is None:
        raise ValueError("validation_time must be timezone-aware")
    parsed = cms_core.parse_signature(signature)
    signed_data = parsed.signed_data
    signer_infos = list(signed_data["signer_infos"])
    if not 0 <= signer_index < len(signer_infos):
        raise InvalidInput(
            f"The signature has {len(signer_infos)} signer(s); there is no signer {signer_index}.",
            code="NoSuchSigner",
        )
    signer_info = signer_infos[signer_index]
    inventory = read_signer(signed_data, signer_info, signer_index)
    run = _Run(signer_index, signed_data, inventory, validation_time)
    own = Embedded.of(inventory, with_timestamps=False)

    # EN 319 102-1 §5.2.7 / §5.2.8: the signature value and the message digest.
    check = _check_signer(parsed, signer_index, signer_info, own.certificates, content_digest_for)
    run.signer_check = check
    if check.failure_code is not None:
        indication, sub, reason = _SIGNER_FAILURES.get(
            check.failure_code,
            (Indication.INDETERMINATE, SubIndication.FORMAT_FAILURE, "BadSignature"),
        )
        run.messages.append(check.failure_reason or check.failure_code)
        return run.report(indication, sub, (reason,)), ValidationMaterial((), (), ())
    signer = check.signer_certificate
    assert signer is not None  # a verified signature has its certificate

    session = http_session() if fetch_revocation else None
    backend = (
        AIOHttpFetcherBackend(session, per_request_timeout=timeout, limits=FETCH_LIMITS)
        if session is not None
        else None
    )
    failures: list[FetchFailure] = []
    fetchers = logging_fetchers(backend.get_fetchers(), failures) if backend else None
    try:
        return await _validate_with_paths(
            run, signer, trust_roots, fetchers, failures, content_digest_for
        )
    finally:
        if session is not None:
            await session.close()


async def _validate_with_paths(
    run: _Run,
    signer: x509.Certificate,
    trust_roots: Sequence[TrustRoot],
    fetchers: Fetchers | None,
    failures: list[FetchFailure],
    content_digest_for: ContentDigestFor,
) -> tuple[SignatureReport, ValidationMaterial]:
    # Certificates inside time-stamp tokens help build any path (EN 319 122-1 §5.5.3).
    embedded = Embedded.of(run.inventory, with_timestamps=True)
    run.messages.extend(embedded.problems)
    paths = Paths([_asn1_certificate(r) for r in trust_roots], embedded, fetchers, failures)

    signature_stamps, archive_stamps, poe, problems = await check_stamps(
        run.signed_data, run.inventory, content_digest_for, paths, run.validation_time
    )
    run.messages.extend(problems)
    run.timestamps = tuple(r.summary for r in signature_stamps + archive_stamps)
    run.best_signature_time = poe or run.validation_time

    # EN 319 102-1 §5.5 / §5.6.2.1: the signer's path at the best signature time.
    outcome = await paths.validate(signer, run.best_signature_time)
    run.chain = outcome.chain(signer)
    run.revocation = outcome.revocation
    run.messages.extend(outcome.messages)
    indication, sub, reasons = outcome.indication, outcome.sub_indication, list(outcome.reasons)
    if outcome.leaf_revoked_at is not None:
        claimed = run.signer_check.signing_time if run.signer_check else None
        if claimed is not None and outcome.leaf_revoked_at <= claimed:
            # EN 319 102-1 §5.2.6.4: revoked before the time the signer claims to have signed.
            indication, sub = Indication.TOTAL_FAILED, SubIndication.REVOKED
    elif outcome.leaf_not_yet_valid and poe is not None:
        # EN 319 102-1 §5.5.4: proven to exist before the signing certificate was issued.
        indication, sub = Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID
    elif outcome.passed and not _key_usage_allows_signing(signer):
        indication, sub = Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE
        reasons.append("KeyUsageMismatch")
        run.messages.append(
            "the signer's certificate allows neither digitalSignature nor nonRepudiation "
            "(RFC 5280 §4.2.1.3)"
        )

    if signature_stamps and not any(r.summary.valid for r in signature_stamps):
        reasons.append("NoValidSignatureTimestamp")
    if archive_stamps and not archive_stamps[-1].summary.valid:
        reasons.append("NoValidArchiveTimestamp")
    for result in signature_stamps + archive_stamps:
        if not result.summary.valid and result.summary.problem:
            run.messages.append(f"{result.summary.kind} time-stamp: {result.summary.problem}")
    run.revocation_unavailable = outcome.network_failure or any(
        r.network_failure for r in signature_stamps + archive_stamps
    )

    material = paths.material(
        sorted(r.dump() for r in fetchers.ocsp_fetcher.fetched_responses()) if fetchers else (),
        sorted(c.dump() for c in fetchers.crl_fetcher.fetched_crls()) if fetchers else (),
    )
    material.certificates = {signer.dump(): None, **material.certificates}
    return run.report(indication, sub, tuple(reasons)), material.freeze()


def _check_signer(
    parsed: cms_core.ParsedSignature,
    index: int,
    signer_info: cms.SignerInfo,
    certificates: Sequence[x509.Certificate],
    content_digest_for: ContentDigestFor,
) -> cms_core.SignerCheck:
    try:
        return cms_core.check_signer_info(
            signer_info,
            certificates,
            content_digest_for,
            index,
            content_type=parsed.signed_data["encap_content_info"]["content_type"].native,
            content=parsed.encapsulated_content,
        )
    except (LookupError, ArchiveError) as exc:
        # EN 319 102-1 §5.2.8: the signed data object cannot be obtained.
        return cms_core.SignerCheck(
            index=index,
            signer_certificate=cms_core.find_signer_certificate(signer_info["sid"], certificates),
            signer_subject=None,
            digest_algorithm=signer_info["digest_algorithm"]["algorithm"].native,
            signature_algorithm="unknown",
            signing_time=None,
            signed_attrs_encoding="none",
            message_digest_ok=False,
            signature_ok=False,
            failure_code=_CONTENT_NOT_FOUND,
            failure_reason=f"the digest of the signed content is not available: {exc}",
        )


def _asn1_certificate(root: TrustRoot) -> x509.Certificate:
    if isinstance(root, crypto_x509.Certificate):
        return x509.Certificate.load(root.public_bytes(Encoding.DER))
    return root


def _key_usage_allows_signing(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.3: without the extension any use is allowed."""
    usage = certificate.key_usage_value
    if usage is None:
        return True
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


class _Run:
    """What is known so far about one signer; becomes the report."""

    def __init__(
        self,
        signer_index: int,
        signed_data: cms.SignedData,
        inventory: SignerInventory,
        validation_time: datetime,
    ) -> None:
        self.signer_index = signer_index
        self.signed_data = signed_data
        self.inventory = inventory
        self.validation_time = validation_time
        self.signer_check: cms_core.SignerCheck | None = None
        self.best_signature_time: datetime | None = None
        self.chain: tuple[str, ...] = ()
        self.timestamps: tuple[TimestampSummary, ...] = ()
        self.revocation = RevocationStatus.NOT_CHECKED
        self.revocation_unavailable = False
        self.messages: list[str] = []

    def report(
        self, indication: Indication, sub: SubIndication | None, reasons: tuple[str, ...]
    ) -> SignatureReport:
        check = self.signer_check
        certificate = check.signer_certificate if check is not None else None
        subject = certificate.subject.human_friendly if certificate is not None else None
        return SignatureReport(
            signer_index=self.signer_index,
            indication=indication,
            sub_indication=None if indication == Indication.TOTAL_PASSED else sub,
            reasons=tuple(dict.fromkeys(reasons)),
            signer_subject=subject,
            signer_certificate_sha256=(
                hashlib.sha256(certificate.dump()).hexdigest() if certificate is not None else None
            ),
            claimed_signing_time=check.signing_time if check is not None else None,
            best_signature_time=self.best_signature_time,
            level=self.inventory.level,
            chain=self.chain or ((subject,) if subject else ()),
            timestamps=self.timestamps,
            revocation=self.revocation,
            validation_time=self.validation_time,
            revocation_unavailable=self.revocation_unavailable,
            messages=tuple(dict.fromkeys(self.messages)),
        )
