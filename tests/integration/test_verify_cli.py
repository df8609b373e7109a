"""``sigarchive verify`` run as a real command, on corpus files and on our own B-LTA output.

Exit codes: 0 PASSED/WARNINGS, 1 FAILED, 2 unreadable input, 3 INDETERMINATE.
Nothing here reaches the network: the TSA runs in-process (DevTsa) and the CLI fetches nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding

from sigarchive.devpki import DevTsa
from sigarchive.devpki.pki import DevPki, build_crl, ensure_dev_pki
from sigarchive.signatures import augment as cades
from sigarchive.signatures.asn1.oids import ATS_V3
from sigarchive.signatures.asn1.parts import signer_info_parts
from sigarchive.signatures.digests import digest_bytes
from sigarchive.signatures.timestamps.tokens import parse_timestamp_token
from tests.support.corpus import require_corpus
from tests.support.pki import throwaway_pki
from tests.support.signing import make_signature

DOCUMENT = b"An archived contract.\n" * 100


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


def sigarchive_verify(*args: str | Path, stdin: bytes | None = None) -> Run:
    completed = subprocess.run(
        [sys.executable, "-m", "sigarchive", "verify", *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return Run(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def corpus(*parts: str) -> Path:
    return require_corpus("dss", "cades", *parts)


# --- corpus files -------------------------------------------------------------------------------


def test_valid_b_lta_passes() -> None:
    run = sigarchive_verify(corpus("CAdESDoubleLTA.p7m"))
    assert run.code == 0, run.stdout + run.stderr
    assert "Verdict: PASSED" in run.stdout
    assert "ATSv3" in run.stdout


def test_copied_archive_time_stamp_fails() -> None:
    run = sigarchive_verify(corpus("cades-lta-copied-atst.p7m"))
    assert run.code == 1, run.stdout + run.stderr
    assert "ATS_HASH_INDEX_MISSING" in run.stdout
    assert "Verdict: FAILED" in run.stdout


def test_json_report_parses() -> None:
    run = sigarchive_verify(corpus("cades-ats-v3-wrong-cert.p7m"), "--json")
    assert run.code == 0, run.stderr  # index inconsistencies are warnings
    report = run.json()
    assert report["verdict"] == "WARNINGS"
    [signer] = report["signers"]
    assert [t["kind"] for t in signer["timestamps"]] == [
        "signature-time-stamp",
        "archive-time-stamp-v3",
    ]
    assert signer["timestamps"][1]["index"]["certificates_not_found"] == 1


def test_signature_from_stdin() -> None:
    run = sigarchive_verify("-", "--json", stdin=corpus("CAdESDoubleLTA.p7m").read_bytes())
    assert run.code == 0, run.stderr
    assert run.json()["verdict"] == "PASSED"


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "garbage.p7s"
    path.write_bytes(b"this is not a signature\n")
    run = sigarchive_verify(path)
    assert run.code == 2, run.stdout + run.stderr
    assert "NotCms" in run.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    assert sigarchive_verify(tmp_path / "absent.p7s").code == 2


def test_detached_without_content_says_signed_data_not_found() -> None:
    signature = corpus("dss-2011", "cades-lta-detached.pkcs7")
    run = sigarchive_verify(signature)
    assert run.code == 3, run.stdout + run.stderr
    assert "SIGNED_DATA_NOT_FOUND" in run.stdout
    assert "--content" in run.stdout
    with_content = sigarchive_verify(
        signature, "--content", corpus("dss-2011", "hello-world.txt"), "--json"
    )
    assert with_content.code == 0, with_content.stderr
    assert with_content.json()["verdict"] == "PASSED"


# --- our own augmentation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("devpki"), port=8999)


@pytest.fixture(scope="module")
def renewed_lta(dev_pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A detached B-LTA made by sigarchive.signatures.augment, renewed once."""
    tsa = DevTsa.from_pki(dev_pki)
    directory = tmp_path_factory.mktemp("lta")
    document = directory / "contract.txt"
    document.write_bytes(DOCUMENT)

    def digest_for(algorithm: str) -> bytes:
        return digest_bytes(algorithm, DOCUMENT)

    signature = cades.add_signature_timestamp(make_signature(DOCUMENT), tsa)
    signature = cades.add_validation_data(
        signature,
        certificates=[
            dev_pki.tsa.der,
            dev_pki.root.der,
            throwaway_pki().root_cert.public_bytes(Encoding.DER),
        ],
        crls=[build_crl(dev_pki)],
    )
    signature = cades.add_archive_timestamp_v3(signature, digest_for, tsa)
    # Renewal (EN 319 122-1 §5.5.3): validation data for the newest ATS, then a new ATSv3.
    signature = cades.add_validation_data(signature, certificates=[dev_pki.tsa.der])
    signature = cades.add_archive_timestamp_v3(signature, digest_for, tsa, algorithm="sha512")
    path = directory / "contract.txt.p7s"
    path.write_bytes(signature)
    return path, document


def test_own_renewed_lta_passes(renewed_lta: tuple[Path, Path]) -> None:
    signature, document = renewed_lta
    run = sigarchive_verify(signature, "--content", document, "--json")
    assert run.code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["verdict"] == "PASSED", report
    [signer] = report["signers"]
    assert signer["level"] == "B-LTA"
    kinds = [t["kind"] for t in signer["timestamps"]]
    assert kinds == ["signature-time-stamp", "archive-time-stamp-v3", "archive-time-stamp-v3"]
    first, second = signer["timestamps"][1:]
    assert first["index"]["unsigned_attrs"] == 1  # the signature-time-stamp
    assert second["index"]["unsigned_attrs"] == 2  # ... and the first ATSv3 (renewal)
    assert second["hash_algorithm"] == "sha512"
    assert all(t["imprint_encoding"] == "as-stored" for t in (first, second))
    readable = sigarchive_verify(signature, "--content", document)
    assert readable.code == 0 and "Verdict: PASSED" in readable.stdout


def _flip_in_last_archive_token_signature(signature: bytes) -> bytes:
    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    archive = [a for a in signer_info_parts(signer_info).unsigned_attributes if a.oid == ATS_V3]
    token = parse_timestamp_token(archive[-1].values[-1])
    value = bytes(token.signer_info["signature"].native)
    assert signature.count(value) == 1
    at = signature.index(value) + len(value) // 2
    return signature[:at] + bytes([signature[at] ^ 0x01]) + signature[at + 1 :]


def test_flipped_byte_in_the_last_archive_token_fails(
    renewed_lta: tuple[Path, Path], tmp_path: Path
) -> None:
    signature, document = renewed_lta
    broken = tmp_path / "broken.p7s"
    broken.write_bytes(_flip_in_last_archive_token_signature(signature.read_bytes()))
    run = sigarchive_verify(broken, "--content", document, "--json")
    assert run.code == 1, run.stdout + run.stderr
    report = run.json()
    assert report["verdict"] == "FAILED"
    stamps = report["signers"][0]["timestamps"]
    assert [t["verdict"] for t in stamps] == ["PASSED", "PASSED", "FAILED"]
    last = stamps[-1]
    assert last["imprint_ok"] is True  # what it time-stamps is intact ...
    assert last["token_signature_ok"] is False  # ... the TSA's signature is not
    assert last["failure_code"] == "SIG_CRYPTO_FAILURE"
    codes = {f["code"] for f in report["signers"][0]["findings"]}
    assert codes == {"SIG_CRYPTO_FAILURE"}


def test_trust_anchors_add_offline_path_validation(
    renewed_lta: tuple[Path, Path], dev_pki: DevPki, tmp_path: Path
) -> None:
    """--trust (repeatable, PEM or DER) runs EN 319 102-1 validation offline; its indication
    joins the verdict. Nothing is fetched, so the signer's missing revocation data leaves it
    undecided."""
    signature, document = renewed_lta
    dev_root = tmp_path / "dev-root.der"
    dev_root.write_bytes(dev_pki.root.der)
    signer_root = throwaway_pki().root_cert_path
    run = sigarchive_verify(
        signature, "--content", document, "--trust", signer_root, "--trust", dev_root, "--json"
    )
    report = run.json()
    assert report["trust_checked"] is True
    validation = report["signers"][0]["validation"]
    expected = {"TOTAL-PASSED": 0, "INDETERMINATE": 3, "TOTAL-FAILED": 1}
    assert run.code == expected[validation["indication"]], run.stderr
    assert validation["indication"] == "INDETERMINATE"
    assert report["verdict"] == "INDETERMINATE"
    # the technical checks are unchanged
    assert [t["verdict"] for t in report["signers"][0]["timestamps"]] == ["PASSED"] * 3
