"""Document digests computed as streams.

Documents can be gigabytes: they are hashed in chunks, never loaded whole. Algorithm names
are asn1crypto's ``DigestAlgorithmId`` names (``sha256``, ``sha3_256`` ...), which for every
algorithm we accept are also ``hashlib`` names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

from sigarchive.errors import SignatureRejected

CHUNK_SIZE = 1024 * 1024

#: Digest algorithms accepted for document and attribute digests (RFC 5754, RFC 8702 for SHA-3).
SUPPORTED_DIGESTS: frozenset[str] = frozenset(
    {
        "sha1",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "sha512_224",
        "sha512_256",
        "sha3_224",
        "sha3_256",
        "sha3_384",
        "sha3_512",
    }
)


def new_hash(algorithm: str) -> hashlib._Hash:
    """A fresh hashlib object for an asn1crypto digest algorithm name."""
    if algorithm not in SUPPORTED_DIGESTS:
        raise SignatureRejected(
            f"Digest algorithm {algorithm!r} is not supported", code="UnsupportedAlgorithm"
        )
    return hashlib.new(algorithm)


def digest_bytes(algorithm: str, data: bytes) -> bytes:
    """Digest of an in-memory value (attributes, tokens, small contents)."""
    h = new_hash(algorithm)
    h.update(data)
    return h.digest()


class MultiDigester:
    """Feeds the same stream to several hash functions at once."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self._hashes = {name: new_hash(name) for name in sorted(set(algorithms))}
        self.size = 0

    def update(self, chunk: bytes | bytearray) -> None:
        self.size += len(chunk)
        for h in self._hashes.values():
            h.update(chunk)

    def digests(self) -> dict[str, bytes]:
        return {name: h.digest() for name, h in self._hashes.items()}


def digest_stream(stream: BinaryIO, algorithms: Iterable[str]) -> dict[str, bytes]:
    """Digests of everything left in ``stream``, read in 1 MiB chunks."""
    digester = MultiDigester(algorithms)
    while chunk := stream.read(CHUNK_SIZE):
        digester.update(chunk)
    return digester.digests()


def digest_file(path: Path, algorithms: Iterable[str]) -> dict[str, bytes]:
    """Digests of a file on disk, streamed."""
    with path.open("rb") as stream:
        return digest_stream(stream, algorithms)


def missing(have: Mapping[str, bytes], need: Iterable[str]) -> set[str]:
    """The algorithms of ``need`` that ``have`` lacks."""
    return {name for name in need if name not in have}
