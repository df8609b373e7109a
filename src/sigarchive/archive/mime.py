"""The MIME type of an uploaded document: the client's word, else a look at its first bytes."""

from __future__ import annotations

import mimetypes

GENERIC = {"", "application/octet-stream", "binary/octet-stream", "multipart/form-data"}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"<?xml", "application/xml"),
    (b"{\\rtf", "application/rtf"),
)


def document_type(declared: str | None, filename: str | None, head: bytes) -> str:
    """Pick the MIME type: declared by the client, else sniffed, else from the file name."""
    declared_type = (declared or "").split(";", 1)[0].strip().lower()
    if declared_type not in GENERIC:
        return declared_type
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    guessed, _ = mimetypes.guess_type(filename or "")
    if guessed:
        return guessed
    if head and _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        if exc.start < len(head) - 4:
            return False
    return b"\x00" not in head
