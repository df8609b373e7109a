"""Independent checks of what the archive outputs: OpenSSL verifies every signature and token."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

from asn1crypto import cms

from sigarchive.signatures.asn1.oids import ATS_V3 as ARCHIVE_TIME_STAMP_V3
from sigarchive.signatures.asn1.oids import SIGNATURE_TIME_STAMP
from sigarchive.signatures.ats import (
    ats_v3_message_imprint_input,
    signature_timestamp_imprint_input,
)

ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"


def unsigned_values(signer_info: cms.SignerInfo, oid: str) -> list[bytes]:
    attributes = signer_info["unsigned_attrs"]
    if not isinstance(attributes, cms.CMSAttributes):
        return []
    return [
        value.dump()
        for attribute in attributes
        if attribute["type"].dotted == oid
        for value in attribute["values"]
    ]


def openssl_cms_verify(signature: bytes, document: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sig, doc = Path(tmp, "s.p7s"), Path(tmp, "doc")
        sig.write_bytes(signature)
        args = [
            "openssl",
            "cms",
            "-verify",
            "-noverify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(sig),
            "-out",
            "/dev/null",
        ]
        if document is not None:
            doc.write_bytes(document)
            args += ["-content", str(doc)]
        subprocess.run(args, check=True, capture_output=True)


def openssl_ts_verify(token: bytes, data: bytes, ca_file: Path) -> None:
    """`openssl ts -verify` of a token against the data it claims to cover."""
    with tempfile.TemporaryDirectory() as tmp:
        tok, dat = Path(tmp, "t.tst"), Path(tmp, "data")
        tok.write_bytes(token)
        dat.write_bytes(data)
        result = subprocess.run(
            [
                "openssl",
                "ts",
                "-verify",
                "-token_in",
                "-in",
                str(tok),
                "-data",
                str(dat),
                "-CAfile",
                str(ca_file),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def check_archived_signature(
    signature: bytes, document: bytes, ca_file: Path, *, detached: bool = True
) -> tuple[int, int]:
    """OpenSSL accepts the signature and every token against what it covers.

    Returns (signature time-stamps, archive time-stamps) of the first signer.
    """
    openssl_cms_verify(signature, document if detached else None)
    signed_data = cms.ContentInfo.load(signature)["content"]
    counts = []
    for signer_info in signed_data["signer_infos"]:
        sig_tsts = unsigned_values(signer_info, SIGNATURE_TIME_STAMP)
        for token in sig_tsts:
            openssl_ts_verify(token, signature_timestamp_imprint_input(signer_info), ca_file)
        archive_tsts = unsigned_values(signer_info, ARCHIVE_TIME_STAMP_V3)
        for token in archive_tsts:
            token_info = cms.ContentInfo.load(token)["content"]["signer_infos"][0]
            [index] = unsigned_values(token_info, ATS_HASH_INDEX_V3)
            tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
            algorithm = tst_info.parsed["message_imprint"]["hash_algorithm"]["algorithm"].native

            content_digest = hashlib.new(algorithm, document).digest()
            data = ats_v3_message_imprint_input(signed_data, signer_info, content_digest, index)
            openssl_ts_verify(token, data, ca_file)
        counts.append((len(sig_tsts), len(archive_tsts)))
    return counts[0]
