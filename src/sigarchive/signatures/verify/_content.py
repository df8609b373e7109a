"""The signed content for the verifier: eContent, or a detached document hashed as a stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sigarchive.errors import InvalidInput
from sigarchive.signatures import cms as cms_core
from sigarchive.signatures.digests import CHUNK_SIZE, digest_bytes, digest_file


class Content:
    """H(signed content) on demand: eContent, a detached document hashed as a stream, or none.

    Digests are cached; :meth:`digest` raises ``LookupError`` when the content is not available,
    which :mod:`..ats` reports as SIGNED_DATA_NOT_FOUND.
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
            self._digests.update(digest_document(self.document, wanted))

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


def digest_document(path: Path, algorithms: Iterable[str]) -> dict[str, bytes]:
    try:
        return digest_file(path, algorithms)
    except OSError as exc:
        raise InvalidInput(
            f"The document {path} cannot be read: {exc.strerror or exc}", code="UnreadableInput"
        ) from exc
