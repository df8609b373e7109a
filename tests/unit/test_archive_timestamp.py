"""Archive-time-stamp-v3 core: the two test vectors of ATS-V3-NOTES §2.5, byte for byte, and
the building blocks (raw BER reader, ats-hash-index parsing and building, tokens)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms, core

from sigarchive.errors import SignatureRejected
from sigarchive.signatures.asn1.ber import (
    der_tlv,
    octet_string_value,
    read_tlv,
    split_tlvs,
    to_der,
)
from sigarchive.signatures.asn1.oids import (
    ATS_HASH_INDEX_OIDS,
    ATS_HASH_INDEX_V3,
    ATS_V3,
    CERTIFICATE_VALUES,
    COUNTER_SIGNATURE,
    REVOCATION_VALUES,
    SIGNATURE_POLICY_STORE,
    SIGNATURE_TIME_STAMP,
)
from sigarchive.signatures.asn1.parts import (
    RawAttribute,
    encode_attribute,
    raw_attributes,
    signed_data_parts,
    signer_info_parts,
)
from sigarchive.signatures.asn1.schema import RevocationValues, register_cades_attributes
from sigarchive.signatures.ats import (
    AtsKind,
    ImprintEncoding,
    MalformedHashIndex,
    ats_hash_index_attribute,
    ats_v3_message_imprint_input,
    build_ats_hash_index_v3,
    parse_ats_hash_index,
    prepare_ats_v3,
    signature_timestamp_imprint_input,
    verify_archive_timestamps,
    verify_signature_timestamps,
)
from sigarchive.signatures.timestamps.tokens import parse_timestamp_token, verify_token
from tests.support.corpus import require_corpus


def cades(*parts: str) -> Path:
    return require_corpus("dss", "cades", *parts)


def load(*parts: str) -> tuple[cms.SignedData, cms.SignerInfo]:
    signed_data = cms.ContentInfo.load(cades(*parts).read_bytes())["content"]
    return signed_data, signed_data["signer_infos"][0]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def index_value(token_raw: bytes) -> tuple[bytes, int]:
    token = parse_timestamp_token(token_raw)
    [attribute] = [a for a in token.unsigned_attributes if a.oid in ATS_HASH_INDEX_OIDS]
    return attribute.values[0], ATS_HASH_INDEX_OIDS[attribute.oid]


def ats_values(signer_info: cms.SignerInfo) -> list[bytes]:
    return [
        v
        for a in signer_info_parts(signer_info).unsigned_attributes
        if a.oid == ATS_V3
        for v in a.values
    ]


# --- ATS-V3-NOTES §2.5 test vectors ----------------------------------------------------------


def vector_items(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, content: bytes, index: bytes
) -> list[bytes]:
    """The §5.5.3 items, taken apart as the notes list them."""
    si = signer_info_parts(signer_info)
    assert si.signed_attrs is not None
    return [
        signed_data_parts(signed_data).e_content_type,
        sha256(content),
        si.version,
        si.sid,
        si.digest_algorithm,
        si.signed_attrs,
        si.signature_algorithm,
        si.signature.encoded,
        index,
    ]


def test_vector_1_cades_lta_detached_idx_v3() -> None:
    signed_data, signer_info = load("dss-2011", "cades-lta-detached.pkcs7")
    content = cades("dss-2011", "hello-world.txt").read_bytes()
    [ats] = ats_values(signer_info)
    token = parse_timestamp_token(ats)
    assert token.gen_time.isoformat() == "2020-03-26T09:44:44+00:00"
    index, version = index_value(ats)
    assert version == 3

    items = vector_items(signed_data, signer_info, content, index)
    assert [len(i) for i in items] == [11, 32, 3, 84, 15, 303, 15, 260, 296]
    prefixes = [
        "06092a864886f70d010701",
        "a591a6d40bf420404a011733",
        "020101",
        "3052304d3110300e",
        "300d060960864801",
        "a082012b30180609",
        "300d06092a864886",
        "0482010022ff108e",
        "30820124300b0609608648016503040201",
    ]
    for item, prefix in zip(items, prefixes, strict=True):
        assert item.hex().startswith(prefix)

    data = ats_v3_message_imprint_input(signed_data, signer_info, sha256(content), index)
    assert data == b"".join(items)
    assert len(data) == 1019
    expected = "468196b8837f3664efc002be795e18b85c2eec317a55b01de1267037aed5f0c3"
    assert sha256(data).hex() == expected
    assert token.message_imprint.hex() == expected


def test_vector_2_cades_double_lta_first_ats_idx_v1_without_algorithm() -> None:
    signed_data, signer_info = load("CAdESDoubleLTA.p7m")
    first = min(ats_values(signer_info), key=lambda v: parse_timestamp_token(v).gen_time)
    token = parse_timestamp_token(first)
    assert token.gen_time.isoformat() == "2019-05-28T15:23:51+00:00"
    index, version = index_value(first)
    assert version == 1
    assert index.hex().startswith("3081d230660420")
    assert parse_ats_hash_index(index, version).algorithm_explicit is False

    content = signed_data_parts(signed_data).e_content
    assert content is not None
    items = vector_items(signed_data, signer_info, content, index)
    assert [len(i) for i in items] == [11, 32, 3, 84, 15, 303, 15, 260, 213]
    data = ats_v3_message_imprint_input(signed_data, signer_info, sha256(content), index)
    assert len(data) == 936
    expected = "87c9f6e64688a0f29bd9cf3691d003708276ef583c000cafd9ddca78dbcabe2d"
    assert sha256(data).hex() == expected == token.message_imprint.hex()


# --- raw BER reader -------------------------------------------------------------------------


def test_read_tlv_indefinite_and_nested() -> None:
    # SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" }, NULL }
    data = bytes.fromhex("3080 2480 04026162 040163 0000 0500 0000".replace(" ", ""))
    tlv = read_tlv(data)
    end = tlv.end
    assert end == len(data) and tlv.indefinite and tlv.encoded == data
    octets, null = tlv.children()
    assert octets.constructed and octet_string_value(octets) == b"abc"
    assert null.encoded == b"\x05\x00"
    assert to_der(data) == bytes.fromhex("3007040361626305 00".replace(" ", ""))


def test_read_tlv_multibyte_tag_and_long_length() -> None:
    content = b"\x00" * 300
    data = b"\x9f\x81\x00\x82\x01\x2c" + content  # [128] primitive, 2-byte length
    tlv = read_tlv(data)
    end = tlv.end
    assert (tlv.tag_class, tlv.tag, end, tlv.content) == (2, 128, len(data), content)
    assert to_der(data) == data


@pytest.mark.parametrize("bad", ["30", "3005020101", "3080020101", "0480"])
def test_read_tlv_rejects_truncated(bad: str) -> None:
    with pytest.raises(ValueError):
        read_tlv(bytes.fromhex(bad))


def test_to_der_sorts_sets_and_outer_set_of() -> None:
    unsorted = bytes.fromhex("3106040162040161")
    assert to_der(unsorted) == bytes.fromhex("3106040161040162")
    signed_attrs = bytes.fromhex("a006040162040161")
    assert to_der(signed_attrs) == signed_attrs
    assert to_der(signed_attrs, sort_outer_set=True) == bytes.fromhex("a006040161040162")


def test_encode_attribute_and_raw_attributes_round_trip() -> None:
    encoded = encode_attribute(CERTIFICATE_VALUES, [b"\x04\x01b", b"\x04\x01a"])
    [attribute] = raw_attributes(encoded)
    assert attribute == RawAttribute(
        oid=CERTIFICATE_VALUES,
        type_tlv=core.ObjectIdentifier(CERTIFICATE_VALUES).dump(),
        values=(b"\x04\x01a", b"\x04\x01b"),  # DER SET OF order (X.690 §11.6)
        encoded=encoded,
        position=0,
    )


# --- registration -----------------------------------------------------------------------------


def test_registration_is_idempotent_and_names_resolve() -> None:
    register_cades_attributes()
    register_cades_attributes()
    assert cms.CMSAttributeType(ATS_V3).native == "archive_time_stamp_v3"
    assert cms.CMSAttributeType("ats_hash_index_v3").dotted == ATS_HASH_INDEX_V3
    assert cms.CMSAttributeType(SIGNATURE_POLICY_STORE).native == "signature_policy_store"


def test_revocation_values_use_explicit_tags() -> None:
    _, signer_info = load("Signature-C-A-XL-1.p7m")
    [attribute] = [
        a for a in signer_info_parts(signer_info).unsigned_attributes if a.oid == REVOCATION_VALUES
    ]
    values = RevocationValues.load(attribute.values[0])
    assert len(values["crl_vals"]) == 3
    assert values["crl_vals"][0]["tbs_cert_list"]["issuer"].native is not None
    # asn1crypto now types the attribute values of a parsed SignerInfo too
    typed = [a for a in signer_info["unsigned_attrs"] if a["type"].native == "revocation_values"]
    assert isinstance(typed[0]["values"][0], RevocationValues)


# --- ats-hash-index ---------------------------------------------------------------------------

_H = [bytes([n]) * 32 for n in range(3)]


def _seq(*members: bytes) -> bytes:
    return der_tlv(0x30, b"".join(members))


def _list(*entries: bytes) -> bytes:
    return _seq(*(der_tlv(0x04, e) for e in entries))


def test_parse_index_with_and_without_algorithm() -> None:
    lists = (_list(_H[0]), _list(), _list(_H[1], _H[2]))
    short = parse_ats_hash_index(_seq(*lists), 1)
    assert (short.algorithm, short.algorithm_explicit, short.size) == ("sha256", False, 3)
    sha512 = bytes.fromhex("300d06096086480165030402030500")
    full = parse_ats_hash_index(_seq(sha512, *lists), 3)
    assert (full.algorithm, full.algorithm_explicit) == ("sha512", True)
    assert (full.certificates, full.crls, full.unsigned_attrs) == ((_H[0],), (), (_H[1], _H[2]))


@pytest.mark.parametrize(
    "value",
    [
        _seq(bytes.fromhex("300906052b0e03021a0500")),  # only an AlgorithmIdentifier (dss1956)
        _seq(_list(), _list()),  # two members
        _seq(_list(), _list(), _seq(der_tlv(0x02, b"\x01"))),  # not OCTET STRINGs
        _seq(_list(), _list(), _list(), _list()),  # 4 members, first not an algorithm
        _seq(
            bytes.fromhex("300b06092a864886f70d010105"), _list(), _list(), _list()
        ),  # not a digest
        _seq(_list(), _list(), _list()) + b"\x00",  # trailing bytes
    ],
)
def test_parse_index_rejects_malformed(value: bytes) -> None:
    with pytest.raises(MalformedHashIndex):
        parse_ats_hash_index(value, 3)


# --- building = verifying -------------------------------------------------------------------


def without_archive_timestamps(path: tuple[str, ...]) -> tuple[cms.SignedData, cms.SignerInfo]:
    """The signature as it was before its first archive-time-stamp-v3 (DER files only)."""
    content_info = read_tlv(cades(*path).read_bytes())
    signed_data = content_info.children()[1].children()[0]
    members = signed_data.children()
    signer = members[-1].children()[0].children()
    attributes = raw_attributes(signer[-1].content)
    kept = b"".join(a.encoded for a in attributes if a.oid not in (ATS_V3, SIGNATURE_POLICY_STORE))
    signer_der = _seq(*(m.encoded for m in signer[:-1]), der_tlv(0xA1, kept))
    rebuilt = _seq(*(m.encoded for m in members[:-1]), der_tlv(0x31, signer_der))
    loaded = cms.SignedData.load(rebuilt)
    return loaded, loaded["signer_infos"][0]


@pytest.mark.parametrize(
    "path",
    [("dss-2011", "cades-lta-detached.pkcs7"), ("counterSignedLTA.p7s",)],
)
def test_built_index_has_the_entries_dss_wrote(path: tuple[str, ...]) -> None:
    """Same entries as the idx v3 DSS wrote; the order differs only because Bouncy Castle
    re-sorted SignedData.certificates as a DER SET after building its index."""
    _, original = load(*path)
    [ats] = ats_values(original)
    theirs = parse_ats_hash_index(*index_value(ats))
    signed_data, signer_info = without_archive_timestamps(path)
    ours = parse_ats_hash_index(
        build_ats_hash_index_v3(signed_data, signer_info, "sha256").dump(), 3
    )
    # same algorithm encoding (SHA-256 without parameters) and size as DSS's
    assert ours.algorithm_explicit and len(ours.encoded) == len(theirs.encoded)
    for name in ("certificates", "crls", "unsigned_attrs"):
        assert sorted(getattr(ours, name)) == sorted(getattr(theirs, name)), name


def test_prepare_ats_v3_imprint_is_the_verifier_input() -> None:
    signed_data, signer_info = without_archive_timestamps(("dss-2011", "cades-lta-detached.pkcs7"))
    digest = hashlib.sha512(b"Hello World").digest()
    prepared = prepare_ats_v3(signed_data, signer_info, digest, "sha512")
    index = parse_ats_hash_index(prepared.index_der, 3)
    assert prepared.index_der.startswith(bytes.fromhex("3082"))
    assert index.algorithm == "sha512" and index.size == 5 + 2 + 1
    # SHA-512 AlgorithmIdentifier written without parameters (RFC 5754 §2)
    assert bytes.fromhex("300b0609608648016503040203") in prepared.index_der
    data = ats_v3_message_imprint_input(signed_data, signer_info, digest, prepared.index_der)
    assert prepared.imprint == hashlib.sha512(data).digest()
    attribute = ats_hash_index_attribute(prepared.index)
    assert raw_attributes(attribute)[0].values == (prepared.index_der,)
    assert raw_attributes(attribute)[0].oid == ATS_HASH_INDEX_V3


def test_prepare_ats_v3_refuses_a_digest_of_the_wrong_size() -> None:
    signed_data, signer_info = load("dss-2011", "cades-lta-detached.pkcs7")
    with pytest.raises(ValueError):
        prepare_ats_v3(signed_data, signer_info, sha256(b"x"), "sha512")
    with pytest.raises(SignatureRejected):
        prepare_ats_v3(signed_data, signer_info, b"", "md5")


def test_end_to_end_with_the_dev_tsa(tmp_path: Path) -> None:
    """A new ATSv3 built by the augmentation code verifies here, next to DSS's."""
    from sigarchive.devpki import DevTsa
    from sigarchive.devpki.pki import ensure_dev_pki
    from sigarchive.signatures.augment import add_archive_timestamp_v3

    tsa = DevTsa.from_pki(ensure_dev_pki(tmp_path, port=8089))
    raw = cades("dss-2011", "cades-lta-detached.pkcs7").read_bytes()
    content = cades("dss-2011", "hello-world.txt").read_bytes()

    def digest_for(alg: str) -> bytes:
        return hashlib.new(alg, content).digest()

    augmented = add_archive_timestamp_v3(raw, digest_for, tsa, algorithm="sha512")
    signed_data = cms.ContentInfo.load(augmented)["content"]
    checks = verify_archive_timestamps(signed_data, signed_data["signer_infos"][0], digest_for)
    assert [c.kind for c in checks] == [AtsKind.V3, AtsKind.V3]
    old, new = checks
    assert old.ok and old.index is not None and old.index.ok
    assert new.imprint_ok and new.signature_ok and new.hash_algorithm == "sha512"
    assert new.index is not None and new.index.ok and new.index.version == 3
    # the new index covers the old ATSv3 and the signature-time-stamp
    assert {oid for _, oid in new.index.covered_attributes} == {ATS_V3, SIGNATURE_TIME_STAMP}


# --- DER retry (notes §2.1) -------------------------------------------------------------------


def test_imprint_retry_with_der_sorted_signed_attributes() -> None:
    """An ATSv3 made by a DER-re-encoding tool over signedAttrs stored out of DER order."""
    content_info = read_tlv(cades("dss-2011", "cades-lta-detached.pkcs7").read_bytes())
    members = content_info.children()[1].children()[0].children()
    signer = members[-1].children()[0].children()
    signed_attrs = signer[3]
    assert signed_attrs.first_byte == 0xA0
    shuffled = der_tlv(0xA0, b"".join(a.encoded for a in reversed(signed_attrs.children())))
    signer_der = _seq(*(m.encoded for m in signer[:3]), shuffled, *(m.encoded for m in signer[4:]))
    signed_data = cms.SignedData.load(
        _seq(*(m.encoded for m in members[:-1]), der_tlv(0x31, signer_der))
    )
    content = cades("dss-2011", "hello-world.txt").read_bytes()

    [check] = verify_archive_timestamps(
        signed_data, signed_data["signer_infos"][0], lambda alg: hashlib.new(alg, content).digest()
    )
    assert check.imprint_ok and check.imprint_encoding == ImprintEncoding.DER.value
    assert check.failure_code is None


# --- signature time-stamps and tokens -------------------------------------------------------


def test_signature_timestamp_imprint_input_is_the_signature_value() -> None:
    _, signer_info = load("CAdESDoubleLTA.p7m")
    assert signature_timestamp_imprint_input(signer_info) == signer_info["signature"].native


def test_octet_string_wrapped_token_is_reported_not_raised() -> None:
    signed_data, signer_info = load("Signature-C-DE_CRY-3.p7m")
    [check] = verify_signature_timestamps(signed_data, signer_info)
    assert check.token is None and check.failure_code == "FORMAT_FAILURE"
    assert not check.ok
    [attribute] = [
        a
        for a in signer_info_parts(signer_info).unsigned_attributes
        if a.oid == SIGNATURE_TIME_STAMP
    ]
    with pytest.raises(SignatureRejected) as raised:
        parse_timestamp_token(attribute.values[0])
    assert raised.value.code == "InvalidTimestampToken"


@pytest.mark.parametrize("data", [b"", b"\x30\x00", b"\x30\x03\x02\x01\x01", b"junk"])
def test_unparseable_token_raises_invalid_timestamp_token(data: bytes) -> None:
    with pytest.raises(SignatureRejected) as raised:
        parse_timestamp_token(data)
    assert raised.value.code == "InvalidTimestampToken"


def test_a_signed_data_that_is_not_a_token_is_refused() -> None:
    """A CAdES signature is a SignedData too, but its eContentType is not id-ct-TSTInfo."""
    with pytest.raises(SignatureRejected):
        parse_timestamp_token(cades("CAdESDoubleLTA.p7m").read_bytes())


def test_verify_token_fields() -> None:
    _, signer_info = load("CAdESDoubleLTA.p7m")
    [sig_tst] = [
        a
        for a in signer_info_parts(signer_info).unsigned_attributes
        if a.oid == SIGNATURE_TIME_STAMP
    ]
    token = parse_timestamp_token(sig_tst.values[0])
    assert token.signer_certificate is not None
    assert token.signing_certificate_refs[0].matches(token.signer_certificate)
    value = signature_timestamp_imprint_input(signer_info)
    digest = hashlib.new(token.hash_algorithm, value).digest()

    good = verify_token(token, digest)
    assert good.ok and good.signature_ok and good.message_digest_ok
    assert good.signing_certificate_ok and good.time_stamping_eku
    assert verify_token(token, lambda alg: hashlib.new(alg, value).digest()).ok

    bad = verify_token(token, b"\x00" * len(digest))
    assert (bad.imprint_ok, bad.failure_code) == (False, "HASH_FAILURE")
    assert bad.signature_ok  # reported separately

    unchecked = verify_token(token, None)
    assert unchecked.imprint_ok is None and unchecked.failure_code is None and not unchecked.ok

    def missing(alg: str) -> bytes:
        raise LookupError("no document")

    assert verify_token(token, missing).failure_code == "SIGNED_DATA_NOT_FOUND"


def test_detached_without_content_reports_signed_data_not_found() -> None:
    signed_data, signer_info = load("dss-2011", "cades-lta-detached.pkcs7")
    [check] = verify_archive_timestamps(signed_data, signer_info)
    assert check.imprint_ok is None and check.failure_code == "SIGNED_DATA_NOT_FOUND"
    assert check.signature_ok and check.index is not None and check.index.ok

    signed_data, signer_info = load("dss-2011", "cades-tstv2-detached.p7s")
    [v2] = verify_archive_timestamps(signed_data, signer_info)
    assert v2.kind is AtsKind.V2 and v2.failure_code == "SIGNED_DATA_NOT_FOUND"


def test_counter_signature_is_covered_by_the_ats_index() -> None:
    signed_data, signer_info = load("counterSignedLTA.p7s")
    [check] = verify_archive_timestamps(signed_data, signer_info)
    assert check.ok and check.index is not None and check.index.ok
    assert COUNTER_SIGNATURE in {oid for _, oid in check.index.covered_attributes}


def test_split_tlvs_of_signer_info_matches_asn1crypto() -> None:
    _, signer_info = load("Signature-C-HU_POL-3.p7m")  # BER, indefinite lengths
    parts = split_tlvs(signer_info.contents)
    assert [p.first_byte for p in parts] == [0x02, 0x30, 0x30, 0xA0, 0x30, 0x04, 0xA1]
    assert signer_info_parts(signer_info).signature_value == signer_info["signature"].native
