"""One level per signature: upload (ingest), ``sigarchive verify`` and validation agree.

The level is read from the bytes once (:mod:`sigarchive.signatures.inventory`), always with the
SignedData, whose crls make a baseline B-LT (EN 319 122-1 §6.3).
"""

from __future__ import annotations

import pytest

from sigarchive.signatures import parse_signature, read_inventory, signature_level, verify_file
from tests.support.corpus import corpus_root, require_corpus
from tests.unit.test_corpus_cms import EXPECTATIONS

ACCEPTED = sorted(name for name, expect in EXPECTATIONS.items() if expect.refused is None)


@pytest.mark.parametrize("name", ACCEPTED)
def test_upload_level_is_what_verify_prints(name: str) -> None:
    signature = require_corpus("dss", name).read_bytes()
    content = EXPECTATIONS[name].content
    parsed = parse_signature(signature)
    signed_data = parsed.signed_data
    # what ingest stores for the container's signature
    at_upload = signature_level(signed_data, signed_data["signer_infos"][0])
    report = verify_file(signature, corpus_root() / "dss" / content if content else None)
    printed = [signer["level"] for signer in report.to_json()["signers"]]
    assert printed[0] == at_upload
    assert printed == [s.level for s in read_inventory(signature).signers]


def test_baseline_lt_by_signed_data_crls() -> None:
    """Defect 1: B-LT at upload, and no longer B-T in ``sigarchive verify``."""
    signature = require_corpus("dss", "cades", "Signature-CBp-LT-2.p7m").read_bytes()
    [signer] = verify_file(signature, None).to_json()["signers"]
    assert signer["level"] == "B-LT"
