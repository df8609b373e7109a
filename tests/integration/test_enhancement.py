"""Upload → CAdES-A → renewal, end to end against the real server and its development PKI."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
from asn1crypto import cms

from tests.conftest import Tenant
from tests.integration.test_documents_api import DOCUMENT, ok, upload, wait_for_status
from tests.support.cades_checks import check_archived_signature
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature

ARCHIVED = 4


def downloaded_signatures(client: httpx.Client, container_id: str) -> list[bytes]:
    response = client.get(f"/api/document/{container_id}/sign")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        return [bundle.read(name) for name in bundle.namelist()]


def devpki_root(archive: ArchiveServer):
    return archive.data_dir / "devpki" / "root.pem"


def test_upload_becomes_cades_a_that_openssl_accepts(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    signatures = [make_signature(DOCUMENT, key="rsa"), make_signature(DOCUMENT, key="ec-p256")]
    container_id = ok(upload(tenant.client, tenant.storage_id, DOCUMENT, signatures))
    details = wait_for_status(tenant.client, container_id)
    assert details["signatureUpdateDate"] is not None
    assert datetime.fromisoformat(details["signatureUpdateDate"]) > datetime.now(UTC)
    archived = downloaded_signatures(tenant.client, container_id)
    assert len(archived) == 2
    for original, enhanced in zip(signatures, archived, strict=True):
        assert enhanced != original
        original_si = cms.ContentInfo.load(original)["content"]["signer_infos"][0]
        enhanced_si = cms.ContentInfo.load(enhanced)["content"]["signer_infos"][0]
        # nothing already present is re-encoded (EN 319 122-1: attributes are added)
        assert enhanced_si["signed_attrs"].dump() == original_si["signed_attrs"].dump()
        assert enhanced_si["signature"].dump() == original_si["signature"].dump()
        assert check_archived_signature(enhanced, DOCUMENT, devpki_root(archive)) == (1, 1)

    report = ok(tenant.client.get(f"/api/document/{container_id}/report"))
    assert [s["level"] for s in report["signatures"]] == ["B-LTA", "B-LTA"]
    for entry in report["signatures"]:
        [signer] = entry["validation"]["signers"]
        # signed by a test CA nobody configured as trusted: archived, but not "passed"
        assert signer["indication"] == "INDETERMINATE"
        assert signer["sub_indication"]


def test_development_pki_is_announced(tenant: Tenant) -> None:
    system = ok(tenant.client.get("/api/dictionary/system"))
    assert system["developmentPki"] is True
    assert "DEVELOPMENT" in system["warning"]


def test_renew_adds_a_new_archive_timestamp_over_the_old(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    container_id = ok(
        upload(tenant.client, tenant.storage_id, DOCUMENT, [make_signature(DOCUMENT, key="rsa")])
    )
    wait_for_status(tenant.client, container_id)
    [before] = downloaded_signatures(tenant.client, container_id)
    due_before = (datetime.now(UTC) + timedelta(days=365 * 30)).date().isoformat()
    result = archive.cli("renew", "--due-before", due_before)
    assert int(result.stdout.strip().splitlines()[-1]) >= 1
    [after] = downloaded_signatures(tenant.client, container_id)
    assert after.startswith(before[:2])
    assert check_archived_signature(after, DOCUMENT, devpki_root(archive)) == (1, 2)
