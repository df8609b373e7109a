"""OCSP answers are reused across validations while fresh (RFC 5019 §6 caching)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sigarchive.devpki import BackgroundServer, create_app
from sigarchive.devpki.pki import ensure_dev_pki
from sigarchive.signatures.validation import fetching, validate_signature
from tests.support.postgres import free_port
from tests.support.signing import sign_with


def test_the_same_certificate_is_asked_about_once_while_its_answer_is_fresh(
    tmp_path: Path,
) -> None:
    pki = ensure_dev_pki(tmp_path / "pki", port=free_port())
    ocsp_requests: list[str] = []
    app = create_app(pki)

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ocsp"):
            ocsp_requests.append(scope["path"])
        await app(scope, receive, send)

    fetching._OCSP_CACHE.clear()
    documents = [b"first", b"second"]
    with BackgroundServer(counting, port=pki.port):
        for document in documents:
            signature = sign_with(document, pki.signer.cert_path, pki.signer.key_path)
            report, material = validate_signature(
                signature,
                0,
                lambda algorithm, d=document: hashlib.new(algorithm, d).digest(),
                trust_roots=[pki.root.certificate],
            )
            assert report.indication == "TOTAL-PASSED", report.messages
            assert material.ocsp_responses  # a cached answer still travels into B-LT
    assert len(ocsp_requests) == 1
    fetching._OCSP_CACHE.clear()
