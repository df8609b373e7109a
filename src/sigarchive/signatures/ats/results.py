"""What the time-stamp checks return: frozen results, with EN 319 102-1 sub-indications as
failure codes where one fits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from asn1crypto import x509

from sigarchive.errors import ArchiveError
from sigarchive.signatures.ats.hash_index import HashIndexCheck
from sigarchive.signatures.inventory import (
    CarriedTimestamp,
    SignerInventory,
)
from sigarchive.signatures.timestamps.tokens import TimestampToken, TokenCheck

ContentDigestFor = Callable[[str], bytes]


ContentChunks = Callable[[], Iterable[bytes]]


class AtsKind(StrEnum):
    """Which archive time-stamp attribute."""

    V3 = "v3"  # archive-time-stamp-v3, EN 319 122-1 §5.5.3
    V2 = "v2"  # archive-time-stamp-v2, TS 101 733 §6.4.1 / Annex K
    V1 = "v1"  # archive-time-stamp (TS 101 733 V1.x), not supported


@dataclass(frozen=True)
class ArchiveTimestampCheck:
    """The verification of one archive time-stamp of a signer."""

    kind: AtsKind
    #: Position of the attribute in unsignedAttrs, and of the token among its values.
    attribute_position: int
    value_position: int
    token: TimestampToken | None = field(compare=False, repr=False)
    gen_time: datetime | None
    hash_algorithm: str | None
    #: The messageImprint equals the recomputed one (None: could not be computed).
    imprint_ok: bool | None
    #: Which input variant matched (ImprintEncoding for v3, "v2.2.1"/"v1.8.3" ± "der" for v2).
    imprint_encoding: str | None
    token_check: TokenCheck | None = field(repr=False)
    #: ats-hash-index version found in the token (None: no index).
    index_version: int | None
    index: HashIndexCheck | None
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def signature_ok(self) -> bool:
        """The token's own CMS signature verifies."""
        return self.token_check is not None and self.token_check.signature_ok

    @property
    def index_present(self) -> bool:
        return self.index_version is not None

    @property
    def ok(self) -> bool:
        """Imprint intact and token technically valid (index inconsistency is only a warning)."""
        return self.failure_code is None and self.imprint_ok is True


@dataclass(frozen=True)
class SignatureTimestampCheck:
    """The verification of one signature-time-stamp (EN 319 122-1 §5.3)."""

    attribute_position: int
    value_position: int
    token: TimestampToken | None = field(compare=False, repr=False)
    gen_time: datetime | None
    hash_algorithm: str | None
    imprint_ok: bool | None
    token_check: TokenCheck | None = field(repr=False)
    failure_code: str | None
    failure_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure_code is None and self.imprint_ok is True


@dataclass
class Outcome:
    """What the kind-specific imprint and index checks found (assembled into a result)."""

    imprint_ok: bool | None = None
    imprint_encoding: str | None = None
    index_version: int | None = None
    index: HashIndexCheck | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    def fail(self, code: str, reason: str | None) -> None:
        if self.failure_code is None:
            self.failure_code, self.failure_reason = code, reason


def digest_or_reason(
    content_digest_for: ContentDigestFor, algorithm: str
) -> tuple[bytes | None, str | None]:
    try:
        return content_digest_for(algorithm), None
    except ArchiveError as exc:
        return None, exc.description
    except LookupError as exc:
        return None, f"signed content not available: {exc}"


def outer_certificates(inventory: SignerInventory) -> list[x509.Certificate]:
    """Certificates a token may rely on when it does not carry its TSA's certificate: those of
    SignedData.certificates and certificate-values."""
    return [c.certificate for c in inventory.certificates if c.depth == 0]


def token_or_problem(stamp: CarriedTimestamp) -> TimestampToken | str:
    """The parsed token, or why the attribute value is none."""
    return stamp.token if stamp.token is not None else str(stamp.problem)
