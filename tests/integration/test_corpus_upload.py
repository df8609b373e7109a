"""Signatures made by other tools (corpus/dss) uploaded through the API, as a user would.

The expectations are the signature core's (tests/unit/test_corpus_cms.py, from MANIFEST.md and
our interop decisions): accepted ones become containers, refused ones get their 400 code.
"""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.integration.test_documents_api import ok, refused, upload
from tests.support.corpus import corpus_root, require_corpus
from tests.unit.test_corpus_cms import EXPECTATIONS


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_corpus_signature_upload(tenant: Tenant, name: str) -> None:
    expect = EXPECTATIONS[name]
    signature = require_corpus("dss", name).read_bytes()
    if expect.content is not None:
        document = (corpus_root() / "dss" / expect.content).read_bytes()
        response = upload(
            tenant.client,
            tenant.storage_id,
            document,
            [signature],
            content_type="application/octet-stream",
        )
    else:  # attached: the signature alone in Content
        response = upload(
            tenant.client, tenant.storage_id, signature, [], content_type="application/octet-stream"
        )
    if expect.refused is None:
        container_id = ok(response)
        details = ok(tenant.client.get(f"/api/document/{container_id}"))
        assert len(details["signatures"]) == 1
    else:
        refused(response, 400, expect.refused)
