"""The two plugin kinds and what they are given (SPEC §5; the seed's C# interfaces).

- :class:`DocumentStoragePlugin` is the seed's ``IDocumentStoragePlugin`` (``Initialize``,
  ``Save(Container) -> Result<string>``, ``Get(string) -> Result<Document>``,
  ``Delete(string) -> Result``), with streams instead of the seed's whole-file ``byte[] Raw``:
  documents may be gigabytes.
- :class:`PostEnhancementPlugin` is the seed's ``ISanConnectorPlugin`` (``Initialize``,
  ``ProcessAsync(Container) -> Task<Result>``), called after every enhancement and renewal.

A plugin class is built with no arguments, then ``initialize(parameters)`` gets the entry's
``Parameters`` from ``plugin-config.json`` with case-insensitive keys (the seed wraps them in
``StringComparer.InvariantCultureIgnoreCase``). A plugin never raises to the archive: it
returns :class:`~sigarchive.plugins.result.Result`. The archive wraps every call anyway, so
an exception is turned into a failure and never stops a worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, runtime_checkable

from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.errors import InvalidInput
from sigarchive.plugins.result import Result

CHUNK_SIZE = 1024 * 1024


class PluginConfigError(InvalidInput):
    """``plugin-config.json`` or a plugin's parameters are wrong: the archive refuses to start."""

    code = "PluginConfigInvalid"


class Parameters(Mapping[str, str]):
    """An entry's ``Parameters``: string values, keys compared case-insensitively."""

    def __init__(self, values: Mapping[str, str] | None = None, *, entry: str = "") -> None:
        self._values: dict[str, tuple[str, str]] = {}
        self.entry = entry
        for key, value in (values or {}).items():
            folded = key.casefold()
            if folded in self._values:
                raise PluginConfigError(
                    f"{entry}: Parameters has both {self._values[folded][0]!r} and {key!r} "
                    "(keys are case-insensitive)"
                )
            self._values[folded] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._values[key.casefold()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Parameters({dict(self.items())!r})"

    def require(self, key: str) -> str:
        """A parameter that must be present and non-empty."""
        value = self.get(key, "").strip()
        if not value:
            raise PluginConfigError(f"{self.entry or 'plugin'}: parameter {key!r} is required")
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        text = self.get(key, "").strip()
        if not text:
            return default
        try:
            number = int(text)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise PluginConfigError(
                f"{self.entry or 'plugin'}: parameter {key!r} must be an integer >= {minimum}, "
                f"not {text!r}"
            )
        return number


class ReadableStream(Protocol):
    """What a document stream must offer: ``read(n)`` until it returns ``b""``, ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class Document:
    """A document as a binary stream (the seed's ``Document``, whose ``Raw`` was a byte array).

    Whoever receives a ``Document`` reads it and closes it (it is a context manager).
    ``size`` is the length in bytes when known.
    """

    stream: ReadableStream
    size: int | None = None

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The rest of the stream in pieces of at most ``chunk_size`` bytes."""
        while chunk := self.stream.read(chunk_size):
            yield chunk

    def rewind(self) -> bool:
        """Go back to the start if the stream can (a plugin retrying a save); False if not."""
        seekable = getattr(self.stream, "seekable", None)
        if seekable is None or not seekable():
            return False
        self.stream.seek(0)  # type: ignore[attr-defined]
        return True

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> Document:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class SignatureInfo:
    """One signature as the plugin sees it (the seed's ``Signature``: ``Raw``, ``Expires``)."""

    raw: bytes
    #: When the signature stops being provable unless renewed: the not-after of the newest
    #: archive time-stamp's TSA certificate (CAdES-A), else of the signer's certificate.
    expires: datetime | None
    #: CAdES level, e.g. ``B-LTA``.
    level: str


@dataclass(frozen=True)
class ContainerInfo:
    """The container handed to a plugin (the seed's ``Container`` model).

    ``document`` is set only for :meth:`DocumentStoragePlugin.save`: the stream to store.
    """

    id: str
    name: str
    status: ContainerStatus
    save_type: SaveType
    storage_id: int
    storage_name: str
    structure_name: str | None
    document_type: str
    document_size: int
    #: Digests of the document known so far, e.g. ``{"sha256": b"..."}``.
    digests: Mapping[str, bytes] = field(default_factory=dict)
    signatures: tuple[SignatureInfo, ...] = ()
    document: Document | None = None


@runtime_checkable
class DocumentStoragePlugin(Protocol):
    """External document storage for the Archive CA subsystem (``IDocumentStoragePlugin``).

    - ``save`` stores ``container.document`` (read it to the end; do not close it) and returns
      the location to give ``get`` and ``delete`` later. A failed save leaves nothing readable
      behind under that location.
    - ``get`` returns the document as a stream the archive reads and closes.
    - ``delete`` removes it; deleting what is already gone should succeed, so a retried
      deletion converges.
    """

    def initialize(self, parameters: Mapping[str, str]) -> None: ...

    def save(self, container: ContainerInfo) -> Result[str]: ...

    def get(self, location: str) -> Result[Document]: ...

    def delete(self, location: str) -> Result[None]: ...


@runtime_checkable
class PostEnhancementPlugin(Protocol):
    """Processing after every enhancement and renewal (``ISanConnectorPlugin``).

    ``process`` is given the container with its current status and signatures; a failure is
    recorded as a problem and the call is retried later. It never changes the container.
    """

    def initialize(self, parameters: Mapping[str, str]) -> None: ...

    async def process(self, container: ContainerInfo) -> Result[None]: ...
