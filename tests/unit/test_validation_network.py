"""Revocation fetching honours the environment's proxy settings (trust_env).

The tests rely on it to keep every fetch on loopback (conftest points HTTP(S)_PROXY at a
closed loopback port); deployments behind a proxy rely on it to reach OCSP/CRL at all.
"""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import pytest
from asn1crypto import cms

from sigarchive.signatures.cms import parse_signature
from sigarchive.signatures.validation import validate_signature
from tests.support.corpus import require_corpus


def test_fetches_for_internet_urls_go_through_the_configured_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signature = require_corpus("dss", "cades", "cades-t-duplicated-sigtst.p7m").read_bytes()
    content = parse_signature(signature).encapsulated_content or b""
    certificates = [c.chosen for c in cms.ContentInfo.load(signature)["content"]["certificates"]]
    # trusting its CA lets validation reach the revocation step, which fetches OCSP/CRL from
    # the URLs in the certificates (internet hosts of the DSS test PKI)
    roots = [c for c in certificates if c.ca]
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    report, _material = validate_signature(
        signature,
        0,
        lambda algorithm: hashlib.new(algorithm, content).digest(),
        trust_roots=roots,
        fetch_revocation=True,
        timeout=3,
        # inside the certificates' validity, so the path is checked, revocation included
        validation_time=max(
            c["tbs_certificate"]["validity"]["not_before"].native for c in certificates
        ),
    )
    assert report.revocation_unavailable  # it tried, through the closed loopback proxy
    assert not [host for host in looked_up if host not in {"127.0.0.1", "localhost", "::1"}]
