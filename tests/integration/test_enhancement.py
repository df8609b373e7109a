"""Upload → CAdES-A → renewal, end to end against the real server and its development PKI."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asn1crypto import cms

from tests.conftest import Tenant
from tests.integration.test_documents_api import DOCUMENT, ok, upload, wait_for_status
from tests.support.cades_checks import check_archived_signature
from tests.support.pki import throwaway_pki
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature, sign_with

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
    archive: ArchiveServer, tenant: Tenant, tmp_path: Path
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
    # what an auditor runs years later, offline
    signature_file, document_file = tmp_path / "renewed.p7s", tmp_path / "document.txt"
    signature_file.write_bytes(after)
    document_file.write_bytes(DOCUMENT)
    verified = archive.cli("verify", str(signature_file), "--content", str(document_file), "--json")
    assert json.loads(verified.stdout)["verdict"] == "PASSED", verified.stdout


def test_a_signer_of_a_trusted_ca_passes_with_its_ocsp_answer_embedded(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    devpki = archive.data_dir / "devpki"
    signature = sign_with(DOCUMENT, devpki / "signer.pem", devpki / "signer.key")
    container_id = ok(upload(tenant.client, tenant.storage_id, DOCUMENT, [signature]))
    wait_for_status(tenant.client, container_id)
    report = ok(tenant.client.get(f"/api/document/{container_id}/report"))
    [signer] = report["signatures"][0]["validation"]["signers"]
    assert signer["indication"] == "TOTAL-PASSED", signer
    assert signer["revocation"] == "good"
    [archived] = downloaded_signatures(tenant.client, container_id)
    signed_data = cms.ContentInfo.load(archived)["content"]
    embedded = [choice.chosen for choice in signed_data["crls"]]
    # B-LT: the OCSP response the validation used travels inside the signature (RFC 5940)
    assert any(isinstance(item, cms.OtherRevocationInfoFormat) for item in embedded)
    assert check_archived_signature(archived, DOCUMENT, devpki_root(archive)) == (1, 1)


def test_temporary_container_leaves_archival_storage_at_its_archive_date(
    tenant: Tenant,
) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    container_id = ok(
        upload(
            tenant.client,
            tenant.storage_id,
            DOCUMENT,
            [make_signature(DOCUMENT)],
            fields={"SaveType": "Temporary", "ArchiveDate": soon},
        )
    )
    details = wait_for_status(tenant.client, container_id, status=5, timeout=60)
    assert details["isArchived"] is False
    ended = ok(tenant.client.post("/api/document/search", json={"filters": {"isArchived": False}}))
    assert [d["id"] for d in ended["documents"]] == [container_id]
    permanent = ok(
        tenant.client.post("/api/document/search", json={"filters": {"isArchived": True}})
    )
    assert container_id not in [d["id"] for d in permanent["documents"]]


def test_trust_anchors_are_managed_from_the_command_line(
    archive: ArchiveServer, tmp_path: Path
) -> None:
    root = throwaway_pki().root_cert_path
    added = archive.cli("trust", "add", str(root))
    digest = added.stdout.strip().splitlines()[-1]
    assert len(digest) == 64
    listing = archive.cli("trust", "list").stdout
    assert digest[:16] in listing and "development" in listing
    archive.cli("trust", "remove", digest[:12])
    assert digest[:16] not in archive.cli("trust", "list").stdout
    garbage = tmp_path / "not-a-cert.pem"
    garbage.write_text("hello")
    result = archive.cli("trust", "add", str(garbage), check=False)
    assert result.returncode == 2 and "InvalidCertificate" in result.stderr
