"""The one BER reader and DER writer of the signature core (X.690 §8.1, §10, §11).

Archive time-stamps hash encodings *as stored* (ETSI EN 319 122-1 §5.5.3: "without any
modification"), and asn1crypto re-encodes indefinite lengths and re-sorts SET OF members on
``dump()``. So the stored BER bytes are read here: :func:`read_tlv` locates an element by
offsets inside its buffer and copies nothing until asked (an attached multi-megabyte document
is walked without copying it at every level). The writer side builds definite-length elements,
splices new content into stored envelopes keeping their length form (:func:`wrap`), and
re-encodes BER as DER (:func:`to_der`) for the tolerant retries that accept the DER
re-encodings other tools (Bouncy Castle / DSS, OpenSSL-signed files verified by BC) hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "Chunk",
    "Tlv",
    "append_children",
    "appended",
    "der_length",
    "der_sorted",
    "der_tlv",
    "iter_tlvs",
    "octet_string_value",
    "read_tlv",
    "rewrap",
    "split_tlvs",
    "to_der",
    "wrap",
]

UNIVERSAL, CONTEXT = 0, 2

#: A piece of output: new bytes, or a zero-copy view of stored bytes.
Chunk = bytes | memoryview


@dataclass(frozen=True, slots=True)
class Tlv:
    """One BER element inside ``buffer``, located by offsets (X.690 §8.1); nothing is copied."""

    buffer: bytes
    start: int
    content_start: int
    #: End of the content octets (an indefinite length's end-of-contents excluded).
    content_end: int
    end: int
    identifier_length: int
    tag_class: int
    constructed: bool
    tag: int
    indefinite: bool

    @property
    def first_byte(self) -> int:
        return self.buffer[self.start]

    @property
    def header_length(self) -> int:
        """Identifier and length octets."""
        return self.content_start - self.start

    @property
    def identifier(self) -> bytes:
        """The identifier octets as stored (X.690 §8.1.2)."""
        return self.buffer[self.start : self.start + self.identifier_length]

    @property
    def encoded(self) -> bytes:
        """The whole element as stored (a copy)."""
        return self.buffer[self.start : self.end]

    @property
    def content(self) -> bytes:
        """The content octets as stored (a copy; without an indefinite length's end-of-contents)."""
        return self.buffer[self.content_start : self.content_end]

    @property
    def view(self) -> memoryview:
        """The whole element as stored, without copying."""
        return memoryview(self.buffer)[self.start : self.end]

    @property
    def content_view(self) -> memoryview:
        """The content octets as stored, without copying."""
        return memoryview(self.buffer)[self.content_start : self.content_end]

    def is_a(self, tag_class: int, tag: int) -> bool:
        return self.tag_class == tag_class and self.tag == tag

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        found = []
        position = self.content_start
        while position < self.content_end:
            child = read_tlv(self.buffer, position, self.content_end)
            found.append(child)
            position = child.end
        return found


def read_tlv(buffer: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """The BER element at ``offset``, which must end by ``limit``; ``ValueError`` if malformed."""
    limit = len(buffer) if limit is None else limit
    if offset >= limit:
        raise ValueError("truncated BER element")
    first = buffer[offset]
    position = offset + 1
    tag = first & 0x1F
    if tag == 0x1F:  # high tag number form, X.690 §8.1.2.4
        tag = 0
        while True:
            if position >= limit:
                raise ValueError("truncated BER tag")
            octet = buffer[position]
            position += 1
            tag = (tag << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
    identifier_length = position - offset
    if position >= limit:
        raise ValueError("truncated BER length")
    constructed = bool(first & 0x20)
    length_octet = buffer[position]
    position += 1
    if length_octet == 0x80:  # indefinite, X.690 §8.1.3.6
        if not constructed:
            raise ValueError("indefinite length on a primitive element")
        cursor = position
        while True:
            if cursor + 2 > limit:
                raise ValueError("end-of-contents missing")
            if buffer[cursor] == 0 and buffer[cursor + 1] == 0:
                break
            cursor = read_tlv(buffer, cursor, limit).end
        return Tlv(
            buffer, offset, position, cursor, cursor + 2, identifier_length,
            first >> 6, constructed, tag, True,
        )  # fmt: skip
    if length_octet > 0x80:
        count = length_octet & 0x7F
        if count > 8 or position + count > limit:
            raise ValueError("bad BER length")
        length = int.from_bytes(buffer[position : position + count], "big")
        position += count
    else:
        length = length_octet
    end = position + length
    if end > limit:
        raise ValueError("BER element longer than its container")
    return Tlv(
        buffer, offset, position, end, end, identifier_length, first >> 6, constructed, tag, False
    )


def iter_tlvs(data: bytes) -> Iterator[Tlv]:
    """The consecutive elements that make up ``data`` (e.g. a constructed element's content)."""
    position = 0
    while position < len(data):
        tlv = read_tlv(data, position)
        position = tlv.end
        yield tlv


def split_tlvs(data: bytes) -> list[Tlv]:
    """:func:`iter_tlvs` as a list."""
    return list(iter_tlvs(data))


def octet_string_value(tlv: Tlv) -> bytes:
    """An OCTET STRING value; a constructed (BER) one has its segments joined (X.690 §8.7)."""
    if not tlv.constructed:
        return tlv.content
    return b"".join(octet_string_value(child) for child in tlv.children())


# --- DER writing ---------------------------------------------------------------------------


def der_length(length: int) -> bytes:
    """A definite, minimal length (X.690 §10.1)."""
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _identifier(tag_class: int, constructed: bool, tag: int) -> bytes:
    first = (tag_class << 6) | (0x20 if constructed else 0)
    if tag < 0x1F:
        return bytes([first | tag])
    groups = []
    while True:
        groups.append(tag & 0x7F)
        tag >>= 7
        if not tag:
            break
    tail = [g | 0x80 for g in reversed(groups[1:])] + [groups[0]]
    return bytes([first | 0x1F, *tail])


def der_tlv(identifier: int | bytes, content: bytes) -> bytes:
    """An element with a definite length; ``identifier`` is the identifier octet(s)."""
    ident = bytes([identifier]) if isinstance(identifier, int) else identifier
    return ident + der_length(len(content)) + content


# Universal string types whose constructed (BER) form DER turns primitive (X.690 §10.2, §8.21).
_STRING_TAGS = frozenset({4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30})


def der_sorted(encodings: list[bytes]) -> list[bytes]:
    """SET OF order (X.690 §11.6): octet-wise, the shorter padded with trailing zeros."""
    width = max((len(e) for e in encodings), default=0)
    return sorted(encodings, key=lambda e: e.ljust(width, b"\x00"))


def to_der(encoded: bytes, *, sort_outer_set: bool = False) -> bytes:
    """Schema-less DER re-encoding of one BER element, the way Bouncy Castle's DER output does it.

    Definite minimal lengths (X.690 §10.1), constructed strings made primitive (§10.2),
    universal SET members sorted by their encodings (§11.6). Values are not interpreted, so an
    explicitly encoded DEFAULT stays as it is (as in Bouncy Castle, unlike asn1crypto's typed
    re-encoding), and an implicitly tagged SET OF is not sorted unless ``sort_outer_set`` asks
    for the outermost element's children (``[0] IMPLICIT SET OF Attribute``, i.e. signedAttrs).
    Used only for tolerant retries; ``ValueError`` for input that is not BER.
    """
    return _to_der(read_tlv(encoded), sort_children=sort_outer_set)


def _to_der(tlv: Tlv, *, sort_children: bool = False) -> bytes:
    ident = _identifier(tlv.tag_class, tlv.constructed, tlv.tag)
    if not tlv.constructed:
        return ident + der_length(tlv.content_end - tlv.content_start) + tlv.content
    if tlv.tag_class == UNIVERSAL and tlv.tag in _STRING_TAGS:
        value = octet_string_value(tlv)
        return _identifier(0, False, tlv.tag) + der_length(len(value)) + value
    if tlv.tag_class == UNIVERSAL and tlv.tag == 3:
        parts = [child.content for child in tlv.children()]
        unused = parts[-1][:1] if parts else b"\x00"
        value = unused + b"".join(p[1:] for p in parts)
        return b"\x03" + der_length(len(value)) + value
    children = [_to_der(child) for child in tlv.children()]
    if sort_children or (tlv.tag_class == UNIVERSAL and tlv.tag == 17):
        children = der_sorted(children)
    content = b"".join(children)
    return ident + der_length(len(content)) + content


# --- Splicing: stored envelopes around new content ------------------------------------------


def _size(chunks: Iterable[Chunk]) -> int:
    return sum(len(c) for c in chunks)


def wrap(element: Tlv, content: Sequence[Chunk]) -> list[Chunk]:
    """``element`` around new content: same identifier octets, same length form.

    An indefinite length stays indefinite (content, then end-of-contents, X.690 §8.1.5); a
    definite one becomes the minimal length of the new content (X.690 §8.1.3).
    """
    if element.indefinite:
        return [element.identifier + b"\x80", *content, b"\x00\x00"]
    return [element.identifier + der_length(_size(content)), *content]


def appended(element: Tlv, children: Sequence[Chunk]) -> list[Chunk]:
    """``element`` (constructed) with ``children`` after its stored content."""
    return wrap(element, [element.content_view, *children])


def rewrap(element: Tlv, content: bytes) -> bytes:
    """:func:`wrap` as bytes."""
    return b"".join(wrap(element, [content]))


def append_children(element: Tlv, children: Iterable[bytes]) -> bytes:
    """:func:`appended` as bytes."""
    return b"".join(appended(element, list(children)))
