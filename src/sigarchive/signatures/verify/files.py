"""Reading the files an auditor gives ``sigarchive verify``: the signature and trust anchors."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from asn1crypto import pem, x509

from sigarchive.errors import InvalidInput


def load_certificates(data: bytes, origin: str) -> list[x509.Certificate]:
    """Certificates from PEM (one or several) or DER bytes; ``origin`` names them in errors."""
    try:
        if pem.detect(data):
            return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
        certificate = x509.Certificate.load(data)
        certificate.native  # noqa: B018 - parse fully now, not later
        return [certificate]
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{origin} is not an X.509 certificate (PEM or DER): {exc}", code="InvalidCertificate"
        ) from exc


def load_trust_roots(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Trust anchors from PEM (one or several certificates) or DER files."""
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
