"""Streaming multipart/form-data reader for uploads.

FastAPI's ``UploadFile`` spools a whole upload to a temporary file before the handler runs
(written twice, hashed afterwards). Here the request body is fed straight into
python-multipart's streaming parser: the document part is hashed and written to the spool in
1 MiB batches in a worker thread, so memory stays flat whatever the document size, and an
oversized document is refused as soon as it crosses the limit.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from sigarchive.errors import ArchiveError, InvalidInput, PayloadTooLarge
from sigarchive.signatures import MultiDigester

DOCUMENT_FIELD = "Content"
SIGNATURE_FIELD = "Signs"
MAX_TEXT_FIELD = 64 * 1024
MAX_PARTS = 1000
FLUSH_BYTES = 1024 * 1024
#: Digest computed while the document streams in; others are computed later only if needed.
STREAMED_DIGEST = "sha256"


@dataclass
class SpooledDocument:
    """The document part, written to a spool file and hashed on the way."""

    path: Path
    size: int
    digests: dict[str, bytes]
    content_type: str | None
    filename: str | None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class UploadForm:
    """Everything an upload carried."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    signatures: list[bytes] = field(default_factory=list)
    document: SpooledDocument | None = None

    def first(self, name: str) -> str | None:
        """The first value of a text field; empty values count as absent (Swagger sends them)."""
        for value in self.fields.get(name, []):
            if value.strip():
                return value.strip()
        return None

    def discard(self) -> None:
        if self.document is not None:
            self.document.discard()


class _DocumentSink:
    """The document part: buffered, then hashed and written in 1 MiB batches off the loop."""

    def __init__(self, spool_dir: Path, content_type: str | None, filename: str | None) -> None:
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=spool_dir)
        self.file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.content_type = content_type
        self.filename = filename
        self.digester = MultiDigester([STREAMED_DIGEST])
        self.buffer = bytearray()
        self.ended = False

    def _write(self, batch: bytearray) -> None:
        self.digester.update(batch)
        self.file.write(batch)

    def _finish(self, batch: bytearray) -> None:
        self._write(batch)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    async def flush(self) -> None:
        """Write what is buffered (all of it once the part has ended)."""
        if not self.ended and len(self.buffer) < FLUSH_BYTES:
            return
        batch, self.buffer = self.buffer, bytearray()  # hand the buffer over, no copy
        await anyio.to_thread.run_sync(self._finish if self.ended else self._write, batch)

    def result(self) -> SpooledDocument:
        return SpooledDocument(
            self.path, self.digester.size, self.digester.digests(), self.content_type, self.filename
        )

    def abort(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


async def read_upload(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    spool_dir: Path,
    max_document_bytes: int,
    max_signature_bytes: int,
    max_signatures: int,
) -> UploadForm:
    """Read a multipart upload from ``body``; the document goes to a spool file.

    Raises :class:`InvalidInput` for malformed bodies and :class:`PayloadTooLarge` for parts
    over their limits. On any error nothing is left in the spool.
    """
    mime, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidInput(
            "The upload must be multipart/form-data with a boundary", code="InvalidMultipart"
        )

    form = UploadForm()
    errors: list[ArchiveError] = []
    sink: _DocumentSink | None = None
    # Per-part state, reset by on_part_begin.
    headers: dict[str, str] = {}
    header_field = bytearray()
    header_value = bytearray()
    name: str | None = None
    filename: str | None = None
    value = bytearray()
    parts = 0

    def fail(error: ArchiveError) -> None:
        if not errors:
            errors.append(error)

    def on_part_begin() -> None:
        nonlocal name, filename, parts
        parts += 1
        if parts > MAX_PARTS:
            fail(InvalidInput("Too many form fields", code="InvalidMultipart"))
        headers.clear()
        value.clear()
        name = filename = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_field.decode("latin-1").lower()] = header_value.decode("utf-8", "replace")
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal name, filename, sink
        disposition, params = parse_options_header(headers.get("content-disposition", ""))
        if disposition != b"form-data" or b"name" not in params:
            fail(
                InvalidInput(
                    "A form part has no name in its Content-Disposition", code="InvalidMultipart"
                )
            )
            return
        name = params[b"name"].decode("utf-8", "replace")
        if b"filename" in params:
            filename = params[b"filename"].decode("utf-8", "replace")
        if name == DOCUMENT_FIELD:
            if sink is not None:
                fail(InvalidInput("Content was sent twice", code="InvalidMultipart"))
                return
            sink = _DocumentSink(spool_dir, headers.get("content-type"), filename)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if errors or name is None:
            return
        if name == DOCUMENT_FIELD and sink is not None and not sink.ended:
            if sink.digester.size + len(sink.buffer) + (end - start) > max_document_bytes:
                fail(
                    PayloadTooLarge(
                        f"The document exceeds the maximum size of {max_document_bytes} bytes"
                    )
                )
                return
            sink.buffer += memoryview(data)[start:end]  # no intermediate slice copy
            return
        limit = max_signature_bytes if name == SIGNATURE_FIELD else MAX_TEXT_FIELD
        if len(value) + (end - start) > limit:
            what = "A signature" if name == SIGNATURE_FIELD else f"Field {name!r}"
            fail(PayloadTooLarge(f"{what} exceeds the maximum size of {limit} bytes"))
            return
        value.extend(data[start:end])

    def on_part_end() -> None:
        if errors or name is None:
            return
        if name == DOCUMENT_FIELD and sink is not None and not sink.ended:
            sink.ended = True
            return
        try:
            _collect(form, name, filename, bytes(value), max_signatures)
        except ArchiveError as error:
            fail(error)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise InvalidInput(
                    f"Malformed multipart body: {exc}", code="InvalidMultipart"
                ) from exc
            if errors:
                raise errors[0]
            if sink is not None and form.document is None:
                await sink.flush()
                if sink.ended:
                    form.document = sink.result()
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise InvalidInput(f"Malformed multipart body: {exc}", code="InvalidMultipart") from exc
        if errors:
            raise errors[0]
        if parts == 0:
            raise InvalidInput("The multipart body has no parts", code="InvalidMultipart")
        if sink is not None and form.document is None:
            raise InvalidInput(
                "The multipart body ended inside the Content part", code="InvalidMultipart"
            )
    except BaseException:
        if sink is not None:
            await anyio.to_thread.run_sync(sink.abort)
        raise
    return form


def _collect(
    form: UploadForm, name: str, filename: str | None, data: bytes, max_signatures: int
) -> None:
    if name == SIGNATURE_FIELD:
        if filename is None and not data.strip():
            return  # an empty Signs value, as Swagger's "Send empty value" sends
        if len(form.signatures) >= max_signatures:
            raise InvalidInput(
                f"At most {max_signatures} signatures per upload", code="TooManySignatures"
            )
        form.signatures.append(data)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"Field {name!r} is not UTF-8 text", code="InvalidField") from exc
    form.fields.setdefault(name, []).append(text)


#: Spool files of uploads interrupted by a crash are removed after this long, never sooner:
#: another API process may be streaming into the same spool right now.
SPOOL_MAX_AGE_SECONDS = 86400.0


def sweep_spool(spool_dir: Path, max_age_seconds: float = SPOOL_MAX_AGE_SECONDS) -> int:
    """Remove abandoned spool files (uploads never acknowledged); returns how many."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in spool_dir.glob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
