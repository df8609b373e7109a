"""Revocation values for a certificate: its path, OCSP responses and CRLs, fetched online.

CAdES-LT (EN 319 122-1 §5.5.2) embeds everything needed to validate a signature offline
later: the certificates of the path and, for each one but the trust anchor, an OCSP
response or CRL. This module gathers them the way a verifier would: pyhanko-certvalidator
builds the path to one of the given trust anchors and checks revocation, fetching from the
certificates' own AIA OCSP (RFC 5280 §4.2.2.1) and CRL distribution point (§4.2.1.13) URLs,
and everything it fetched is returned as DER, ready to embed.

Missing or unreachable revocation sources never raise: preservation must not be blocked by
a CA that no longer answers (SPEC §3); the result says ``indeterminate`` and why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

RevocationStatus = Literal["good", "revoked", "indeterminate"]


@dataclass(frozen=True)
class RevocationValues:
    """What was found for one certificate (DER throughout)."""

    status: RevocationStatus
    #: The certificate path, end entity first; the trust anchor last (when a path was built).
    certificates: tuple[bytes, ...]
    ocsp_responses: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    #: Why the status is not ``good`` (empty when it is).
    problems: tuple[str, ...] = ()


async def async_collect_revocation(
    certificate: x509.Certificate,
    *,
    trust_roots: Iterable[x509.Certificate],
    other_certs: Iterable[x509.Certificate] = (),
    moment: dt.datetime | None = None,
    timeout: float = 10.0,
    fetcher_backend: FetcherBackend | None = None,
) -> RevocationValues:
    """Build ``certificate``'s path to ``trust_roots`` and fetch its revocation values.

    ``other_certs`` are intermediates known already (e.g. from the SignedData); missing ones
    are fetched from AIA caIssuers. ``moment`` is the validation time (default: now).
    """
    others = list(other_certs)
    context = ValidationContext(
        trust_roots=list(trust_roots),
        other_certs=others,
        moment=moment,
        allow_fetching=True,
        # soft-fail: an unreachable responder is recorded, not fatal (SPEC §3).
        revocation_mode="soft-fail",
        fetcher_backend=fetcher_backend or RequestsFetcherBackend(per_request_timeout=timeout),
    )
    validator = CertificateValidator(certificate, others, validation_context=context)
    status: RevocationStatus = "good"
    path_certs: list[x509.Certificate] = []
    problems: list[str] = []
    try:
        path = await validator.async_validate_path()
        path_certs = list(path.iter_certs(include_root=True))
    except RevokedError as exc:
        status = "revoked"
        problems.append(str(exc))
        path_certs = list(exc.original_path.iter_certs(include_root=True))
    except PathValidationError as exc:
        status = "indeterminate"
        problems.append(str(exc))
        path_certs = list(exc.original_path.iter_certs(include_root=True))
    except (PathBuildingError, ValidationError) as exc:
        status = "indeterminate"
        problems.append(f"no path to a trust anchor: {exc}")
    finally:
        await context.aclose()  # type: ignore[no-untyped-call]
    problems.extend(str(exc) for exc in context.soft_fail_exceptions)
    if problems and status == "good":
        status = "indeterminate"
    path_certs.reverse()  # iter_certs goes from the root to the end entity
    return RevocationValues(
        status=status,
        certificates=tuple(bytes(cert.dump()) for cert in path_certs),
        ocsp_responses=tuple(bytes(response.dump()) for response in context.ocsps),
        crls=tuple(bytes(crl.dump()) for crl in context.crls),
        problems=tuple(problems),
    )


def collect_revocation(
    certificate: x509.Certificate,
    *,
    trust_roots: Iterable[x509.Certificate],
    other_certs: Iterable[x509.Certificate] = (),
    moment: dt.datetime | None = None,
    timeout: float = 10.0,
) -> RevocationValues:
    """Synchronous :func:`async_collect_revocation` (not from inside a running event loop)."""
    return asyncio.run(
        async_collect_revocation(
            certificate,
            trust_roots=trust_roots,
            other_certs=other_certs,
            moment=moment,
            timeout=timeout,
        )
    )
