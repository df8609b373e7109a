"""CAdES augmentation B → T → LT → A (ETSI EN 319 122-1), by splicing bytes.

Every function takes the CMS bytes and returns new CMS bytes. Nothing that exists is
re-encoded: asn1crypto would re-sort SET OF members and turn BER into DER on ``dump()``,
which changes what earlier time-stamps covered (EN 319 122-1 §5.5.3 hashes fields "in their
binary encoded form without any modification") and can break the signatures themselves.
Instead the output is assembled from the stored elements (located by offset with
:func:`~.asn1.ber.read_tlv`, joined once at the end); only these are written new:

- appended unsigned attributes, at the END of ``unsignedAttrs`` (a ``[1]`` is created if
  absent). Physical order ≠ DER SET OF order is valid BER and is what EN 319 122-1 readers
  (DSS) accept; the signature does not cover unsigned attributes (RFC 5652 §5.3);
- appended ``SignedData.certificates`` / ``crls`` entries (``[0]`` / ``[1]`` created, in
  their RFC 5652 §5.1 place, if absent), an appended ``digestAlgorithms`` entry, and
  ``SignedData.version`` raised to 5 when an OtherRevocationInfoFormat is added (§5.1);
- the identifier and length octets of every enclosing element.

BER: an enclosing element with an indefinite length keeps it (its content is spliced and the
end-of-contents octets written back), one with a definite length gets the new minimal length.
Keeping the form, rather than converting the envelopes to definite lengths, changes the fewest
bytes: an indefinite envelope needs no length at all, and unchanged elements keep their bytes
wherever they sit, so a BER file stays BER and every hash an existing time-stamp covers
(signature value, signedAttrs, certificates, CRLs, attribute values, eContent, and for an
archive-time-stamp-v2 the certificates/crls elements as stored) is unchanged.

Building an archive-time-stamp-v3 uses :func:`.ats.prepare_ats_v3`, the code
the verifier uses too.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core

from sigarchive.errors import InvalidInput, SignatureRejected
from sigarchive.signatures.asn1.ber import (
    CONTEXT,
    UNIVERSAL,
    Chunk,
    Tlv,
    appended,
    der_tlv,
    octet_string_value,
    read_tlv,
    to_der,
    wrap,
)
from sigarchive.signatures.asn1.oids import (
    ATS_V1,
    ATS_V2,
    ATS_V3,
    ID_PKIX_OCSP_BASIC,
    ID_RI_OCSP_RESPONSE,
    ID_SIGNED_DATA,
    SIGNATURE_TIME_STAMP,
)
from sigarchive.signatures.asn1.parts import encode_attribute, signer_info_parts
from sigarchive.signatures.ats import (
    ats_hash_index_attribute,
    prepare_ats_v3,
    signature_timestamp_imprint_input,
)
from sigarchive.signatures.digests import digest_bytes, new_hash
from sigarchive.signatures.inventory import read_inventory
from sigarchive.signatures.timestamps import TimeStamper, TsaUnavailable
from sigarchive.signatures.timestamps.tokens import parse_timestamp_token

__all__ = [
    "add_archive_timestamp_v3",
    "add_signature_timestamp",
    "add_validation_data",
]

_SEQUENCE, _SET, _INTEGER, _ENUMERATED, _OID = 16, 17, 2, 10, 6


def _whole(data: bytes, what: str) -> Tlv:
    """``data`` as exactly one BER element; :class:`InvalidInput` otherwise."""
    try:
        element = read_tlv(data)
    except (ValueError, IndexError) as exc:
        raise InvalidInput(f"{what} is not BER: {exc}", code="InvalidValidationData") from exc
    if element.end != len(data):
        raise InvalidInput(f"{what} has trailing bytes", code="InvalidValidationData")
    return element


def _oid(encoded: bytes) -> str:
    dotted: str = core.ObjectIdentifier.load(encoded).dotted
    return dotted


@dataclass(frozen=True)
class _SignedDataTlvs:
    """A ContentInfo holding a SignedData (RFC 5652 §3, §5.1), every part as stored."""

    content_info: Tlv
    content_type: Tlv
    explicit: Tlv  # the [0] EXPLICIT around the SignedData
    signed_data: Tlv
    #: version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    members: tuple[Tlv, ...]

    @classmethod
    def parse(cls, data: bytes) -> _SignedDataTlvs:
        """Split ``data``; :class:`SignatureRejected` (``NotCms``) if it is no SignedData."""
        try:
            content_info = read_tlv(data)
            if content_info.end != len(data):
                raise ValueError("trailing bytes after the ContentInfo")
            content_type, explicit = content_info.children()
            if _oid(content_type.encoded) != ID_SIGNED_DATA or not explicit.is_a(CONTEXT, 0):
                raise ValueError("the ContentInfo does not hold a SignedData")
            (signed_data,) = explicit.children()
            members = tuple(signed_data.children())
            optional = members[3:-1]
            if (
                len(members) < 4
                or not members[0].is_a(UNIVERSAL, _INTEGER)
                or not members[1].is_a(UNIVERSAL, _SET)
                or not members[2].is_a(UNIVERSAL, _SEQUENCE)
                or not members[-1].is_a(UNIVERSAL, _SET)
                or [(m.tag_class, m.tag) for m in optional]
                not in ([], [(CONTEXT, 0)], [(CONTEXT, 1)], [(CONTEXT, 0), (CONTEXT, 1)])
            ):
                raise ValueError("the SignedData members are not those of RFC 5652 §5.1")
        except (ValueError, IndexError) as exc:
            raise SignatureRejected(f"Malformed CMS SignedData: {exc}", code="NotCms") from exc
        return cls(content_info, content_type, explicit, signed_data, members)

    def position(self, tag: int) -> int | None:
        """Index in :attr:`members` of ``[tag]`` (0 certificates, 1 crls), if present."""
        for n in range(3, len(self.members) - 1):
            if self.members[n].is_a(CONTEXT, tag):
                return n
        return None

    @property
    def signers(self) -> list[Tlv]:
        return self.members[-1].children()

    def stored_members(self) -> list[list[Chunk]]:
        return [[m.view] for m in self.members]

    def emit(self, members: Sequence[Sequence[Chunk]]) -> bytes:
        """The ContentInfo with the SignedData members replaced by ``members``."""
        signed_data = wrap(self.signed_data, [c for member in members for c in member])
        explicit = wrap(self.explicit, signed_data)
        return b"".join(wrap(self.content_info, [self.content_type.view, *explicit]))

    def with_signer(self, index: int, signer: Sequence[Chunk]) -> bytes:
        """The ContentInfo with SignerInfo number ``index`` replaced."""
        signers: list[Chunk] = []
        for n, stored in enumerate(self.signers):
            signers.extend(signer if n == index else [stored.view])
        members = self.stored_members()
        members[-1] = wrap(self.members[-1], signers)
        return self.emit(members)


def _append_unsigned(signer: Tlv, attributes: Sequence[bytes]) -> list[Chunk]:
    """A SignerInfo with ``attributes`` appended to its unsignedAttrs (RFC 5652 §5.3)."""
    parts = signer.children()
    if len(parts) < 5:
        raise SignatureRejected("Malformed SignerInfo: too few members", code="NotCms")
    fields: list[Chunk] = [p.view for p in parts]
    if parts[-1].is_a(CONTEXT, 1):
        fields[-1:] = appended(parts[-1], attributes)
    else:
        fields.append(der_tlv(0xA1, b"".join(attributes)))
    return wrap(signer, fields)


def _unsigned_oids(signer: Tlv) -> set[str]:
    info = signer_info_parts(cms.SignerInfo.load(signer.encoded))
    return {a.oid for a in info.unsigned_attributes}


# --- B-T: signature-time-stamp ---------------------------------------------------------------


def _checked_token(token: bytes, algorithm: str, digest: bytes) -> bytes:
    """``token`` if it time-stamps ``digest`` with ``algorithm`` (RFC 3161 §2.4.2)."""
    try:
        parsed = parse_timestamp_token(token)
    except SignatureRejected as exc:
        raise TsaUnavailable(f"the TSA's answer is unusable: {exc.description}") from exc
    if parsed.hash_algorithm != algorithm or parsed.message_imprint != digest:
        raise TsaUnavailable("the TSA's token does not time-stamp the requested imprint")
    return token


def add_signature_timestamp(
    signature: bytes, timestamper: TimeStamper, *, algorithm: str = "sha256"
) -> bytes:
    """Give every SignerInfo without a signature-time-stamp one (EN 319 122-1 §5.3).

    The imprint is ``algorithm`` over the signature value octets; signers that already have a
    signature-time-stamp are left as they are, and ``signature`` itself is returned when
    nothing had to be added.
    """
    new_hash(algorithm)
    current = signature
    count = len(_SignedDataTlvs.parse(current).signers)
    for index in range(count):
        parsed = _SignedDataTlvs.parse(current)
        signer = parsed.signers[index]
        if SIGNATURE_TIME_STAMP in _unsigned_oids(signer):
            continue
        value = signature_timestamp_imprint_input(cms.SignerInfo.load(signer.encoded))
        digest = digest_bytes(algorithm, value)
        token = _checked_token(timestamper.timestamp(digest, algorithm), algorithm, digest)
        attribute = encode_attribute(SIGNATURE_TIME_STAMP, [token])
        current = parsed.with_signer(index, _append_unsigned(signer, [attribute]))
    return current


# --- B-LT: validation data in SignedData.certificates / crls ----------------------------------


#: Larger encodings (big CRLs) are compared as stored only: re-encoding them in Python is slow.
_DER_COMPARE_LIMIT = 64 * 1024


def _known(encodings: Iterable[bytes]) -> set[bytes]:
    """SHA-256 of each encoding as stored and of its DER form (to spot the same object)."""
    found: set[bytes] = set()
    for encoding in encodings:
        found.add(hashlib.sha256(encoding).digest())
        if len(encoding) <= _DER_COMPARE_LIMIT:
            with contextlib.suppress(ValueError, IndexError):
                found.add(hashlib.sha256(to_der(encoding)).digest())
    return found


def _ocsp_forms(response: bytes) -> tuple[bytes, bytes]:
    """(full OCSPResponse, BasicOCSPResponse) of an OCSP response given either way.

    A BasicOCSPResponse is wrapped into an OCSPResponse with status successful (RFC 6960
    §4.2.1), because RFC 5940 §4.1 id-ri-ocsp-response carries the full response.
    """
    tlv = _whole(response, "an OCSP response")
    try:
        children = tlv.children()
        if children[0].is_a(UNIVERSAL, _ENUMERATED):
            if bytes(children[0].content_view) != b"\x00" or len(children) != 2:
                raise InvalidInput(
                    "the OCSP response is not 'successful' (RFC 6960 §4.2.1): it holds no "
                    "revocation information",
                    code="InvalidValidationData",
                )
            response_type, octets = children[1].children()[0].children()
            if _oid(response_type.encoded) != ID_PKIX_OCSP_BASIC:
                raise InvalidInput(
                    "the OCSP response is not a BasicOCSPResponse", code="InvalidValidationData"
                )
            return response, octet_string_value(octets)
        if children[0].is_a(UNIVERSAL, _SEQUENCE):
            response_bytes = der_tlv(
                0x30, core.ObjectIdentifier(ID_PKIX_OCSP_BASIC).dump() + der_tlv(0x04, response)
            )
            return der_tlv(0x30, b"\x0a\x01\x00" + der_tlv(0xA0, response_bytes)), response
    except (ValueError, IndexError) as exc:
        raise InvalidInput(f"malformed OCSP response: {exc}", code="InvalidValidationData") from exc
    raise InvalidInput("not an OCSP response", code="InvalidValidationData")


def _revocation_encodings(choices: Iterable[Tlv]) -> list[bytes]:
    """Every encoding a stored RevocationInfoChoice may be recognised by (CRL, OCSP forms)."""
    found: list[bytes] = []
    for choice in choices:
        found.append(choice.encoded)
        if not choice.is_a(CONTEXT, 1):
            continue
        with contextlib.suppress(ValueError, IndexError, InvalidInput):
            other_format, info = choice.children()
            found.append(info.encoded)
            if _oid(other_format.encoded) in (ID_RI_OCSP_RESPONSE, ID_PKIX_OCSP_BASIC):
                found.extend(_ocsp_forms(info.encoded))
    return found


@dataclass
class _Candidates:
    """Validation data to add, each item with the SHA-256 keys it is recognised by."""

    certificates: list[tuple[bytes, set[bytes]]]
    #: CertificateList elements and [1] OtherRevocationInfoFormat elements (OCSP).
    crls: list[tuple[bytes, set[bytes]]]


def _candidates(
    certificates: Sequence[bytes], crls: Sequence[bytes], ocsp_responses: Sequence[bytes]
) -> _Candidates:
    found = _Candidates([], [])
    for certificate in certificates:
        if not _whole(certificate, "a certificate").is_a(UNIVERSAL, _SEQUENCE):
            raise InvalidInput("a certificate is not a SEQUENCE", code="InvalidValidationData")
        found.certificates.append((certificate, _known([certificate])))
    for crl in crls:
        if not _whole(crl, "a CRL").is_a(UNIVERSAL, _SEQUENCE):
            raise InvalidInput("a CRL is not a SEQUENCE", code="InvalidValidationData")
        found.crls.append((crl, _known([crl])))
    for response in ocsp_responses:
        full, basic = _ocsp_forms(response)
        # RFC 5940 §4.1: [1] OtherRevocationInfoFormat { id-ri-ocsp-response, OCSPResponse }.
        element = der_tlv(0xA1, core.ObjectIdentifier(ID_RI_OCSP_RESPONSE).dump() + full)
        found.crls.append((element, _known([full, basic])))
    return found


def _stored(parsed: _SignedDataTlvs) -> tuple[set[bytes], set[bytes]]:
    """Keys of the certificates and of the revocation data a SignedData holds."""
    cert_field, crl_field = parsed.position(0), parsed.position(1)
    certs = parsed.members[cert_field].children() if cert_field is not None else []
    crls = parsed.members[crl_field].children() if crl_field is not None else []
    return _known(c.encoded for c in certs), _known(_revocation_encodings(crls))


def _missing(
    items: list[tuple[bytes, set[bytes]]], known: set[bytes]
) -> list[tuple[bytes, set[bytes]]]:
    """The items whose keys are not ``known`` (duplicates among ``items`` dropped too)."""
    known = set(known)
    kept = []
    for element, keys in items:
        if not keys & known:
            kept.append((element, keys))
            known |= keys
    return kept


def _with_material(parsed: _SignedDataTlvs, new: _Candidates) -> bytes:
    """The ContentInfo with ``new`` appended to certificates / crls (RFC 5652 §5.1)."""
    members = parsed.stored_members()
    cert_field, crl_field = parsed.position(0), parsed.position(1)
    crls = [element for element, _ in new.crls]
    certificates = [element for element, _ in new.certificates]
    if crls:
        if crl_field is not None:
            members[crl_field] = appended(parsed.members[crl_field], crls)
        else:  # [1] crls goes right before signerInfos
            members.insert(len(members) - 1, [der_tlv(0xA1, b"".join(crls))])
    if certificates:
        if cert_field is not None:
            members[cert_field] = appended(parsed.members[cert_field], certificates)
        else:  # [0] certificates goes right after encapContentInfo
            members.insert(3, [der_tlv(0xA0, b"".join(certificates))])
    if any(element[:1] == b"\xa1" for element in crls):
        # RFC 5652 §5.1: with an "other" RevocationInfoChoice the version MUST be 5. Nothing
        # signed or time-stamped covers SignedData.version.
        version = int.from_bytes(parsed.members[0].content_view, "big", signed=True)
        if version < 5:
            members[0] = [b"\x02\x01\x05"]
    return parsed.emit(members)


def add_validation_data(
    signature: bytes,
    *,
    certificates: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    ocsp_responses: Sequence[bytes] = (),
) -> bytes:
    """Add validation data for B-LT (EN 319 122-1 §5.5.3 step 1, §6.3 baseline B-LT).

    Certificates go to SignedData.certificates, CRLs to SignedData.crls, OCSP responses (a
    full OCSPResponse, or a BasicOCSPResponse which is wrapped) to SignedData.crls as
    OtherRevocationInfoFormat id-ri-ocsp-response (RFC 5940 §4.1). What is already there
    (same DER, compared by SHA-256) is skipped; new entries are appended after the stored ones.

    When a SignerInfo carries an archive-time-stamp-v2 or an archive-time-stamp (v1), those
    hash SignedData.certificates and crls as they are (TS 101 733 Annex K), so the root
    SignedData is left alone and the data goes into the SignedData of the newest archive
    time-stamp token instead (EN 319 122-1 §5.5.3, as DSS does; see ATS-V3-NOTES §5.2).
    Returns ``signature`` itself when nothing is new.
    """
    parsed = _SignedDataTlvs.parse(signature)
    wanted = _candidates(certificates, crls, ocsp_responses)
    known_certs, known_crls = _stored(parsed)
    new = _Candidates(_missing(wanted.certificates, known_certs), _missing(wanted.crls, known_crls))
    if not new.certificates and not new.crls:
        return signature
    if any(_unsigned_oids(s) & {ATS_V1, ATS_V2} for s in parsed.signers):
        return _add_to_newest_archive_token(parsed, signature, new)
    return _with_material(parsed, new)


def _add_to_newest_archive_token(
    parsed: _SignedDataTlvs, signature: bytes, new: _Candidates
) -> bytes:
    """The ATSv2 case of :func:`add_validation_data`: extend the newest archive token."""
    newest: tuple[datetime, int, int, int] | None = None  # genTime, signer, attribute, value
    for signer_inventory in read_inventory(signature).signers:
        for stamp in signer_inventory.timestamps:
            if stamp.token is None or stamp.depth or not stamp.kind.archival:
                continue
            gen_time = stamp.token.gen_time
            if newest is None or gen_time >= newest[0]:
                where = (signer_inventory.index, stamp.attribute_position, stamp.value_position)
                newest = (gen_time, *where)
    if newest is None:  # no readable token: those time-stamps are broken anyway
        return _with_material(parsed, new)
    _, s, position, v = newest
    signer = parsed.signers[s]
    parts = signer.children()
    unsigned = parts[-1]
    attributes = unsigned.children()
    attribute_type, values_set = attributes[position].children()
    values = values_set.children()
    token = _SignedDataTlvs.parse(values[v].encoded)
    known_certs, known_crls = _stored(token)
    new = _Candidates(_missing(new.certificates, known_certs), _missing(new.crls, known_crls))
    if not new.certificates and not new.crls:
        return signature
    new_values: list[Chunk] = [x.view for x in values]
    new_values[v] = _with_material(token, new)
    new_attributes: list[Chunk] = [a.view for a in attributes]
    new_attributes[position : position + 1] = wrap(
        attributes[position], [attribute_type.view, *wrap(values_set, new_values)]
    )
    fields: list[Chunk] = [p.view for p in parts[:-1]]
    fields.extend(wrap(unsigned, new_attributes))
    return parsed.with_signer(s, wrap(signer, fields))


# --- B-LTA: archive-time-stamp-v3 -------------------------------------------------------------


def _with_digest_algorithm(parsed: _SignedDataTlvs, algorithm: str) -> bytes:
    """The ContentInfo with ``algorithm`` in SignedData.digestAlgorithms (EN 319 122-1 §5.5.3)."""
    oid = algos.DigestAlgorithmId(algorithm)
    wanted = oid.dotted
    digest_algorithms = parsed.members[1]
    for identifier in digest_algorithms.children():
        with contextlib.suppress(ValueError, IndexError):
            if _oid(identifier.children()[0].encoded) == wanted:
                return parsed.content_info.buffer
    members = parsed.stored_members()
    # RFC 5754 §2: SHA-2 AlgorithmIdentifiers are generated with absent parameters.
    members[1] = appended(digest_algorithms, [der_tlv(0x30, oid.dump())])
    return parsed.emit(members)


def _content_digest(
    parsed: _SignedDataTlvs, content_digest_for: Callable[[str], bytes] | None, algorithm: str
) -> bytes:
    """H(signed content) for EN 319 122-1 §5.5.3 b): from the caller, or from eContent."""
    if content_digest_for is not None:
        return content_digest_for(algorithm)
    encap = parsed.members[2].children()
    if len(encap) < 2 or not encap[1].is_a(CONTEXT, 0):
        raise InvalidInput(
            "the signature is detached: the document's digest is needed for an "
            "archive-time-stamp-v3 (EN 319 122-1 §5.5.3 b)",
            code="DocumentRequired",
        )
    h = new_hash(algorithm)
    pending = encap[1].children()[:1]  # the eContent OCTET STRING, BER segments hashed in order
    while pending:
        element = pending.pop(0)
        if element.constructed:
            pending[:0] = element.children()
        else:
            h.update(element.content_view)
    return h.digest()


def add_archive_timestamp_v3(
    signature: bytes,
    content_digest_for: Callable[[str], bytes] | None,
    timestamper: TimeStamper,
    *,
    algorithm: str = "sha256",
) -> bytes:
    """Add an archive-time-stamp-v3 to every SignerInfo (EN 319 122-1 §5.5.3, §5.5.2).

    For each signer: the ats-hash-index-v3 over the current SignedData.certificates, crls and
    the signer's unsigned attributes, and the imprint, come from
    :func:`.ats.prepare_ats_v3`; the TSA's token gets the index as an unsigned
    attribute of its SignerInfo (outside the TSA's signature; protected by the imprint) and is
    appended to the signer's unsignedAttrs. ``algorithm`` is added to
    SignedData.digestAlgorithms if missing. ``content_digest_for(alg)`` gives H(signed content)
    (the detached document); None computes it from eContent. Also used for renewal: add the
    newest time-stamp's validation data first, then call this again.
    """
    new_hash(algorithm)
    parsed = _SignedDataTlvs.parse(signature)
    content_digest = _content_digest(parsed, content_digest_for, algorithm)
    current = _with_digest_algorithm(parsed, algorithm)
    for index in range(len(parsed.signers)):
        parsed = _SignedDataTlvs.parse(current)
        signer = parsed.signers[index]
        prepared = prepare_ats_v3(
            cms.SignedData.load(parsed.signed_data.encoded),
            cms.SignerInfo.load(signer.encoded),
            content_digest,
            algorithm,
        )
        token = _checked_token(
            timestamper.timestamp(prepared.imprint, algorithm), algorithm, prepared.imprint
        )
        stamped = _SignedDataTlvs.parse(token)
        if len(stamped.signers) != 1:
            raise TsaUnavailable("the TSA's token does not have exactly one SignerInfo")
        index_attribute = ats_hash_index_attribute(prepared.index_der)
        token = stamped.with_signer(0, _append_unsigned(stamped.signers[0], [index_attribute]))
        attribute = encode_attribute(ATS_V3, [token])
        current = parsed.with_signer(index, _append_unsigned(signer, [attribute]))
    return current
