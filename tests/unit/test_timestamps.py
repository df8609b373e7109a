"""The RFC 3161 client against real TSAs on loopback: ours and OpenSSL's."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import cms, tsp

from sigarchive.devpki import DevPkiServer, DevTsa
from sigarchive.devpki.pki import DevPki
from sigarchive.errors import InvalidInput, ServiceUnavailable
from sigarchive.signatures.timestamps import TimeStamper, TsaRejected, TsaUnavailable
from sigarchive.signatures.timestamps.http_client import HttpTimeStamper
from sigarchive.signatures.timestamps.protocol import (
    TIMESTAMP_QUERY,
    TimeStampResp,
    TsaFailure,
    build_request,
    check_response,
    token_info,
)
from tests.support.openssl_tsa import OPENSSL_TSA_POLICY, OpenSslTsa

DATA = b"a document worth archiving"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPki]:
    server = DevPkiServer(tmp_path_factory.mktemp("devpki"), port=0)
    yield server.start()
    server.stop()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback URL where nothing listens: the port is bound but never accepts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://localhost:{sock.getsockname()[1]}/tsa"
    sock.close()


def openssl_verifies(token: bytes, digest: bytes, pki: DevPki, tmp_path: Path) -> None:
    token_file = tmp_path / "token.tst"
    token_file.write_bytes(token)
    result = subprocess.run(
        [
            "openssl", "ts", "-verify", "-digest", digest.hex(), "-in", str(token_file),
            "-token_in", "-CAfile", str(pki.root.cert_path), "-untrusted", str(pki.tsa.cert_path),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )  # fmt: skip
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def rejection_of(body: bytes) -> tuple[str, set[str]]:
    status = TimeStampResp.load(body)["status"]
    return status["status"].native, set(status["fail_info"].native or ())


# ----------------------------------------------------------------------------- our TSA


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "sha3_256"])
def test_token_from_our_tsa_verifies_with_openssl(
    pki: DevPki, tmp_path: Path, algorithm: str
) -> None:
    digest = hashlib.new(algorithm, DATA).digest()
    with HttpTimeStamper([pki.tsa_url]) as stamper:
        token = stamper.timestamp(digest, algorithm)
    openssl_verifies(token, digest, pki, tmp_path)


def test_token_contents(pki: DevPki) -> None:
    digest = hashlib.sha256(DATA).digest()
    with HttpTimeStamper([pki.tsa_url]) as stamper:
        tokens = [stamper.timestamp(digest, "sha256") for _ in range(3)]
    infos = [token_info(token) for token in tokens]
    assert len({info["serial_number"].native for info in infos}) == 3
    assert all(info["nonce"].native for info in infos)
    info = infos[0]
    assert info["policy"].dotted == pki.tsa_policy
    assert info["accuracy"]["seconds"].native == 1
    assert info["gen_time"].native.utcoffset().total_seconds() == 0

    signed_data = cms.ContentInfo.load(tokens[0])["content"]
    # certReq was true: the TSA certificate is included (RFC 3161 §2.4.1).
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [pki.tsa.der]
    attrs = {a["type"].native: a for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert attrs["content_type"]["values"][0].native == "tst_info"
    # RFC 5816: ESS signing-certificate-v2 with the SHA-256 of the TSA certificate.
    ess = attrs["signing_certificate_v2"]["values"][0]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(pki.tsa.der).digest()


def test_in_process_tsa_is_a_time_stamper(pki: DevPki, tmp_path: Path) -> None:
    stamper: TimeStamper = DevTsa.from_pki(pki)
    digest = hashlib.sha384(DATA).digest()
    token = stamper.timestamp(digest, "sha384")
    assert token_info(token)["nonce"].native is None
    openssl_verifies(token, digest, pki, tmp_path)
    tsa = DevTsa.from_pki(pki)
    serials = {
        token_info(tsa.timestamp(digest, "sha384"))["serial_number"].native for _ in range(200)
    }
    assert len(serials) == 200


def test_bad_requests_get_a_rejection_not_an_error(pki: DevPki) -> None:
    digest = hashlib.sha256(DATA).digest()
    headers = {"Content-Type": TIMESTAMP_QUERY}
    good = build_request(digest, "sha256", nonce=1).dump()
    foreign_policy = build_request(digest, "sha256", nonce=1, policy="1.2.3.4").dump()
    sha1 = build_request(hashlib.sha1(DATA).digest(), "sha1", nonce=1).dump()
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (b"not DER at all", headers, "bad_data_format"),
        (b"\x30\x80\x00\x00", headers, "bad_data_format"),
        (good, {"Content-Type": "text/plain"}, "bad_request"),
        (foreign_policy, headers, "unaccepted_policy"),
        (sha1, headers, "bad_alg"),
        (b"\x00" * 70_000, headers, "bad_request"),
    ]
    for body, request_headers, failure in cases:
        response = httpx.post(pki.tsa_url, content=body, headers=request_headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/timestamp-reply"
        assert rejection_of(response.content) == ("rejection", {failure})

    # A well-formed request of the wrong digest length is caught by the TSA too.
    request = build_request(digest, "sha256", nonce=1)
    request["message_imprint"]["hashed_message"] = digest[:20]
    reply = httpx.post(pki.tsa_url, content=request.dump(), headers=headers).content
    assert rejection_of(reply) == ("rejection", {"bad_data_format"})


def test_responses_not_answering_the_request_are_refused(pki: DevPki) -> None:
    tsa = DevTsa.from_pki(pki)
    digest = hashlib.sha256(DATA).digest()
    asked = build_request(digest, "sha256", nonce=1234)
    answer = tsa.respond(asked.dump())
    assert token_info(check_response(answer, asked))["nonce"].native == 1234
    with pytest.raises(TsaFailure, match="nonce"):
        check_response(answer, build_request(digest, "sha256", nonce=4321))
    with pytest.raises(TsaFailure, match="imprint"):
        check_response(answer, build_request(bytes(32), "sha256", nonce=1234))
    with pytest.raises(TsaFailure, match="not a TimeStampResp"):
        check_response(b"<html>", asked)


def test_invalid_digests_fail_before_any_network(dead_url: str) -> None:
    stamper = HttpTimeStamper([dead_url], retries=5, backoff=10)
    with pytest.raises(InvalidInput):
        stamper.timestamp(b"short", "sha256")
    with pytest.raises(InvalidInput):
        stamper.timestamp(bytes(16), "md5")


# ----------------------------------------------------------------------------- failover


def test_failover_to_the_second_tsa(pki: DevPki, dead_url: str, tmp_path: Path) -> None:
    sleeps: list[float] = []
    digest = hashlib.sha256(DATA).digest()
    with HttpTimeStamper([dead_url, pki.tsa_url], timeout=2, sleep=sleeps.append) as stamper:
        token = stamper.timestamp(digest, "sha256")
    assert sleeps == []  # failover within the first round, no back-off
    openssl_verifies(token, digest, pki, tmp_path)


def test_all_dead_raises_service_unavailable_after_backing_off(dead_url: str) -> None:
    sleeps: list[float] = []
    other_dead = dead_url.replace("/tsa", "/other")
    stamper = HttpTimeStamper(
        [dead_url, other_dead], timeout=0.5, retries=2, backoff=0.01, sleep=sleeps.append
    )
    with pytest.raises(TsaUnavailable) as raised:
        stamper.timestamp(hashlib.sha256(DATA).digest(), "sha256")
    assert isinstance(raised.value, ServiceUnavailable) and raised.value.code == "TsaUnavailable"
    assert len(sleeps) == 2 and 0.01 <= sleeps[0] < sleeps[1] <= 0.0221  # exponential
    assert dead_url in raised.value.description and other_dead in raised.value.description


def test_refusals_are_not_retried(pki: DevPki) -> None:
    sleeps: list[float] = []
    stamper = HttpTimeStamper(
        [pki.tsa_url, f"{pki.base_url}/no-such-tsa"], retries=3, sleep=sleeps.append
    )
    with pytest.raises(TsaRejected) as raised:
        stamper.timestamp(hashlib.sha1(DATA).digest(), "sha1")  # our TSA refuses SHA-1
    assert raised.value.code == "TsaRejected" and "bad_alg" in raised.value.description
    assert sleeps == []
    with pytest.raises(TsaRejected, match="unaccepted_policy"):
        HttpTimeStamper([pki.tsa_url], policy="1.2.3.4").timestamp(bytes(32), "sha256")


def test_shared_client_and_auth_are_used(pki: DevPki) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [seen.append]}) as client:
        stamper = HttpTimeStamper([pki.tsa_url], client=client, auth=("archive", "secret"))
        stamper.timestamp(bytes(32), "sha256")
        stamper.close()  # not ours to close
        assert not client.is_closed
    assert seen[0].headers["content-type"] == TIMESTAMP_QUERY
    assert seen[0].headers["authorization"].startswith("Basic ")


# ----------------------------------------------------------------------------- interop


def test_token_from_openssl_tsa(pki: DevPki, tmp_path: Path) -> None:
    digest = hashlib.sha512(DATA).digest()
    other = OpenSslTsa(pki.tsa.cert_path, pki.tsa.key_path, tmp_path / "openssl-tsa")
    with other, HttpTimeStamper([other.url]) as stamper:
        token = stamper.timestamp(digest, "sha512")
    info = token_info(token)
    assert info["policy"].dotted == OPENSSL_TSA_POLICY
    assert isinstance(info, tsp.TSTInfo) and info["nonce"].native
    openssl_verifies(token, digest, pki, tmp_path)
