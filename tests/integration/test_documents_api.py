"""The seed's client API over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms
from sqlalchemy import func, select

from sigarchive.db.models import AuditEvent, Container
from tests.conftest import Tenant
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature

DOCUMENT = "Договор поставки № 17\nподписан обеими сторонами.\n".encode()


def upload(
    client: httpx.Client,
    storage_id: int,
    document: bytes,
    signatures: list[bytes],
    *,
    fields: dict[str, str] | None = None,
    content_type: str = "text/plain",
) -> httpx.Response:
    data = {"ContainerName": "MyContainer", "StorageId": str(storage_id), "SaveType": "Permanent"}
    data.update(fields or {})
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("Content", ("document.txt", document, content_type))
    ]
    files += [("Signs", (f"s{i}.sig", s, "application/sig")) for i, s in enumerate(signatures)]
    return client.post("/api/document/content", data=data, files=files)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errorCode"] is None and body["errorDescription"] is None
    return body["data"]


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["data"] is None
    assert body["errorCode"] == code, body
    assert body["errorDescription"]
    return body


def same_signer(signature: bytes) -> bytes:
    """What augmentation never changes: the first signer's signed attributes and value."""
    signer = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    return bytes(signer["signed_attrs"].dump() + signer["signature"].dump())


def container_count(archive: ArchiveServer, storage_id: int) -> int:
    with archive.db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Container)
                .where(Container.storage_id == storage_id)
            )
            or 0
        )


def spool_is_empty(archive: ArchiveServer) -> bool:
    spool = archive.data_dir / "spool"
    return not any(spool.iterdir()) if spool.exists() else True


def test_detached_upload_then_details_status_and_signatures(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    signature = make_signature(DOCUMENT, key="rsa")
    second = make_signature(DOCUMENT, key="ec-p256", digest="sha384")
    container_id = ok(upload(tenant.client, tenant.storage_id, DOCUMENT, [signature, second]))
    assert uuid.UUID(container_id)

    details = ok(tenant.client.get(f"/api/document/{container_id}"))
    assert details["id"] == container_id
    assert details["name"] == "MyContainer"
    assert details["storage"]["id"] == tenant.storage_id
    assert details["sourceSystem"]["name"].startswith("user-")
    # the uploaded signatures, or (once the in-process worker got to them) their CAdES-A forms
    assert [same_signer(base64.b64decode(s)) for s in details["signatures"]] == [
        same_signer(signature),
        same_signer(second),
    ]
    # `hashes`: the document digest per signature, with that signature's algorithm
    assert details["hashes"] == [
        base64.b64encode(hashlib.sha256(DOCUMENT).digest()).decode(),
        base64.b64encode(hashlib.sha384(DOCUMENT).digest()).decode(),
    ]
    assert details["documentType"] == "text/plain"
    assert details["saveType"] == 2
    assert details["archiveUntilDate"] is None
    assert details["isArchived"] is True
    assert details["useArchiveCa"] is False
    created = datetime.fromisoformat(details["createDate"])
    assert created.tzinfo is not None
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)

    status = ok(tenant.client.get(f"/api/document/{container_id}/status"))
    assert status in (1, 2, 4)  # received, being enhanced by the in-process worker, archived

    response = tenant.client.get(f"/api/document/{container_id}/sign")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "filename=signatures.zip" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert bundle.namelist() == ["signature-1.p7s", "signature-2.p7s"]
        downloaded = [bundle.read(n) for n in bundle.namelist()]
    assert [same_signer(s) for s in downloaded] == [same_signer(signature), same_signer(second)]


@pytest.mark.parametrize("key", ["rsa", "rsa-pss", "ec-p256", "ec-p384", "ec-p521", "ed25519"])
def test_every_required_algorithm_is_accepted(tenant: Tenant, key: str) -> None:
    signature = make_signature(DOCUMENT, key=key, digest="sha512" if key == "ed25519" else "sha256")
    ok(upload(tenant.client, tenant.storage_id, DOCUMENT, [signature]))


def test_attached_signature_alone_in_content(archive: ArchiveServer, tenant: Tenant) -> None:
    attached = make_signature(DOCUMENT, key="rsa", detached=False, ber=True)
    response = tenant.client.post(
        "/api/document/content",
        data={
            "ContainerName": "attached",
            "StorageId": str(tenant.storage_id),
            "SaveType": "2",
            "UseArchiveCa": "true",
        },
        files={"Content": ("signed.p7m", attached, "application/octet-stream")},
    )
    container_id = ok(response)
    details = ok(tenant.client.get(f"/api/document/{container_id}"))
    assert details["hashes"] == [base64.b64encode(hashlib.sha256(DOCUMENT).digest()).decode()]
    assert details["documentType"] == "text/plain"  # sniffed from the encapsulated content
    assert details["isAvailable"] is True
    with archive.db.session() as session:
        container = session.get(Container, container_id)
        assert container is not None and container.document_location is not None
        assert container.document_location == f"database:{container_id}"  # the seed's default
    assert tenant.client.get(f"/api/document/{container_id}/content").content == DOCUMENT


def test_seed_curl_command_works_as_written(
    archive: ArchiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    (tmp_path / "document.txt").write_bytes(DOCUMENT)
    (tmp_path / "xlt1-detached.sig").write_bytes(make_signature(DOCUMENT, key="rsa"))
    (tmp_path / "a-detached.sig").write_bytes(make_signature(DOCUMENT, key="ec-p256"))
    archive_date = (datetime.now(UTC) + timedelta(days=400)).strftime("%d.%m.%Y")
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            f"{archive.base_url}/api/document/content",
            "-H",
            "accept: text/plain",
            "-H",
            "Content-Type: multipart/form-data",
            "-H",
            f"Authorization: Bearer {tenant.token}",
            "-F",
            "ContainerName=MyContainer",
            "-F",
            f"ArchiveDate={archive_date}",
            "-F",
            f"StorageId={tenant.storage_id}",
            "-F",
            "Signs=@xlt1-detached.sig;type=application/sig",
            "-F",
            "Signs=@a-detached.sig;type=application/sig",
            "-F",
            "SaveType=Temporary",
            "-F",
            "Content=@document.txt;type=text/plain",
            "-F",
            "UseArchiveCa=false",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    body = httpx.Response(200, content=result.stdout).json()
    assert body["errorCode"] is None, body
    details = ok(tenant.client.get(f"/api/document/{body['data']}"))
    assert details["saveType"] == 1
    assert details["archiveUntilDate"].startswith(
        datetime.strptime(archive_date, "%d.%m.%Y").strftime("%Y-%m-%d")
    )
    assert len(details["signatures"]) == 2


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("flipped-signature", 400, "SignatureVerificationFailed"),
        ("other-document", 400, "DocumentDigestMismatch"),
        ("base64-signature", 400, "SignatureIsBase64"),
        ("not-cms", 400, "NotCms"),
        ("attached-missing-content", 400, "NoSignatures"),
        ("no-storage-id", 400, "StorageIdRequired"),
        ("bad-storage-id", 400, "InvalidStorageId"),
        ("no-save-type", 400, "SaveTypeRequired"),
        ("bad-save-type", 400, "InvalidSaveType"),
        ("no-name", 400, "ContainerNameRequired"),
        ("temporary-without-date", 400, "ArchiveDateRequired"),
        ("temporary-in-the-past", 400, "ArchiveDateInPast"),
        ("bad-date", 400, "InvalidArchiveDate"),
        ("bad-bool", 400, "InvalidField"),
        ("no-content", 400, "ContentRequired"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(
    archive: ArchiveServer, tenant: Tenant, case: str, status: int, code: str
) -> None:
    good = make_signature(DOCUMENT, key="rsa")
    signatures = [good]
    fields: dict[str, str] = {}
    document = DOCUMENT
    if case == "flipped-signature":
        broken = bytearray(good)
        broken[-10] ^= 0x01  # inside the signature value, the last field of a SignerInfo
        signatures = [bytes(broken)]
    elif case == "other-document":
        document = DOCUMENT + b"tampered"
    elif case == "base64-signature":
        signatures = [base64.b64encode(good)]
    elif case == "not-cms":
        signatures = [b"\x30\x03\x02\x01\x01garbage"]
    elif case == "attached-missing-content":
        signatures = []
    elif case == "no-storage-id":
        fields["StorageId"] = ""
    elif case == "bad-storage-id":
        fields["StorageId"] = "four"
    elif case == "no-save-type":
        fields["SaveType"] = ""
    elif case == "bad-save-type":
        fields["SaveType"] = "Forever"
    elif case == "no-name":
        fields["ContainerName"] = ""
    elif case == "temporary-without-date":
        fields["SaveType"] = "Temporary"
    elif case == "temporary-in-the-past":
        fields.update(SaveType="Temporary", ArchiveDate="21.07.2023")
    elif case == "bad-date":
        fields.update(SaveType="Temporary", ArchiveDate="31.02.2031")
    elif case == "bad-bool":
        fields["UseArchiveCa"] = "maybe"
    elif case == "no-content":
        document = b""
    before = container_count(archive, tenant.storage_id)
    refused(
        upload(tenant.client, tenant.storage_id, document, signatures, fields=fields), status, code
    )
    assert container_count(archive, tenant.storage_id) == before
    assert spool_is_empty(archive)


def test_malformed_bodies_get_clear_errors(tenant: Tenant) -> None:
    refused(
        tenant.client.post("/api/document/content", json={"Content": "x"}), 400, "InvalidMultipart"
    )
    refused(
        tenant.client.post(
            "/api/document/content",
            content=b'--xyz\r\nContent-Disposition: form-data; name="Content"\r\n\r\nabc',
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        ),
        400,
        "InvalidMultipart",
    )
    refused(
        tenant.client.post(
            "/api/document/search",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "InvalidInput",
    )
    refused(tenant.client.post("/api/document/search", json={"pageSize": 0}), 400, "InvalidInput")


def test_authentication_is_required(archive: ArchiveServer) -> None:
    with archive.client() as anonymous:
        refused(anonymous.get("/api/user/storages"), 401, "MissingToken")
        refused(anonymous.post("/api/document/search", json={}), 401, "MissingToken")
    with archive.client("not-a-token") as stranger:
        refused(stranger.get("/api/dictionary/statuses"), 401, "InvalidToken")
        refused(
            stranger.post("/api/document/content", files={"Content": ("a", b"a")}),
            401,
            "InvalidToken",
        )


def test_users_see_only_their_storages(archive: ArchiveServer, tenant: Tenant) -> None:
    container_id = ok(
        upload(tenant.client, tenant.storage_id, DOCUMENT, [make_signature(DOCUMENT)])
    )
    other_storage = archive.create_storage()
    other_token = archive.create_user(other_storage)
    with archive.client(other_token) as other:
        assert ok(other.get("/api/user/storages")) == [
            {"id": other_storage, "name": ok(other.get("/api/user/storages"))[0]["name"]}
        ]
        for path in ("", "/status", "/sign"):
            refused(other.get(f"/api/document/{container_id}{path}"), 404, "ContainerNotFound")
    with archive.db.session() as session:  # the refused reads are audited too
        refusals = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.container_id == container_id, AuditEvent.outcome == "not-found"
            )
        ).all()
    assert sorted(refusals) == ["document.details", "document.sign", "document.status"]
    with archive.client(other_token) as other:
        found = ok(
            other.post(
                "/api/document/search", json={"filters": {"storageIds": [tenant.storage_id]}}
            )
        )
        assert found == {"documents": [], "totalRecords": 0}
        assert container_id not in {
            d["id"] for d in ok(other.post("/api/document/search", json={}))["documents"]
        }
        refused(
            upload(other, tenant.storage_id, DOCUMENT, [make_signature(DOCUMENT)]),
            403,
            "StorageForbidden",
        )
        refused(
            upload(other, 999_999, DOCUMENT, [make_signature(DOCUMENT)]), 403, "StorageForbidden"
        )
    refused(tenant.client.get(f"/api/document/{uuid.uuid4()}"), 404, "ContainerNotFound")


def test_search_filters_pages_and_orders_newest_first(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    signature = make_signature(DOCUMENT)
    ids = [
        ok(
            upload(
                tenant.client,
                tenant.storage_id,
                DOCUMENT,
                [signature],
                fields={"ContainerName": f"invoice-{n}"},
            )
        )
        for n in range(3)
    ]
    other = ok(
        upload(
            tenant.client,
            tenant.storage_id,
            DOCUMENT,
            [signature],
            fields={"ContainerName": "contract_%"},
        )
    )
    everything = ok(tenant.client.post("/api/document/search", json={}))
    assert everything["totalRecords"] == 4
    assert [d["id"] for d in everything["documents"]] == [other, *reversed(ids)]

    page = ok(
        tenant.client.post(
            "/api/document/search", json={"filters": {"name": "invoice"}, "pageSize": 2, "page": 2}
        )
    )
    assert page["totalRecords"] == 3
    assert [d["id"] for d in page["documents"]] == [ids[0]]
    assert set(page["documents"][0]) == {"id", "name", "status", "isArchived"}
    assert page["documents"][0]["name"] == "invoice-0"
    # LIKE wildcards in the name filter are literal
    literal = ok(tenant.client.post("/api/document/search", json={"filters": {"name": "_%"}}))
    assert [d["id"] for d in literal["documents"]] == [other]

    for container_id in [*ids, other]:  # the in-process worker archives them
        wait_for_status(tenant.client, container_id)
    status = 4
    assert (
        ok(tenant.client.post("/api/document/search", json={"filters": {"status": status}}))[
            "totalRecords"
        ]
        == 4
    )
    assert (
        ok(tenant.client.post("/api/document/search", json={"filters": {"status": 99}}))[
            "totalRecords"
        ]
        == 0
    )
    assert (
        ok(tenant.client.post("/api/document/search", json={"filters": {"isArchived": False}}))[
            "totalRecords"
        ]
        == 0
    )
    mine = ok(
        tenant.client.post(
            "/api/document/search", json={"filters": {"storageIds": [tenant.storage_id]}}
        )
    )
    assert mine["totalRecords"] == 4
    with archive.db.session() as session:
        uploader = session.get(Container, ids[0])
        assert uploader is not None
        source_system_id = uploader.source_system_id
    by_user = ok(
        tenant.client.post(
            "/api/document/search", json={"filters": {"sourceSystemId": source_system_id}}
        )
    )
    assert by_user["totalRecords"] == 4
    assert (
        ok(
            tenant.client.post(
                "/api/document/search",
                json={"filters": {"sourceSystemId": source_system_id + 1000}},
            )
        )["totalRecords"]
        == 0
    )


def wait_for_status(
    client: httpx.Client, container_id: str, status: int = 4, timeout: float = 60
) -> dict[str, Any]:
    """Poll the details until the container reaches ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        details: dict[str, Any] = ok(client.get(f"/api/document/{container_id}"))
        if details["status"] == status:
            return details
        assert time.monotonic() < deadline, f"still status {details['status']}: {details}"
        time.sleep(0.2)


def test_save_type_and_archive_date_forms(tenant: Tenant) -> None:
    signature = make_signature(DOCUMENT)
    future = datetime.now(UTC) + timedelta(days=30)
    for save_type, archive_date in [
        ("1", future.strftime("%d.%m.%Y")),
        ("temporary", future.isoformat()),
        ("Temporary", future.strftime("%Y-%m-%d")),
    ]:
        container_id = ok(
            upload(
                tenant.client,
                tenant.storage_id,
                DOCUMENT,
                [signature],
                fields={"SaveType": save_type, "ArchiveDate": archive_date},
            )
        )
        details = ok(tenant.client.get(f"/api/document/{container_id}"))
        assert details["saveType"] == 1
        assert details["archiveUntilDate"][:10] == future.strftime("%Y-%m-%d")


def test_document_type_is_declared_or_sniffed(tenant: Tenant) -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"
    container_id = ok(
        upload(
            tenant.client,
            tenant.storage_id,
            pdf,
            [make_signature(pdf)],
            content_type="application/octet-stream",
        )
    )
    assert (
        ok(tenant.client.get(f"/api/document/{container_id}"))["documentType"] == "application/pdf"
    )


def test_dictionary_and_storages(tenant: Tenant) -> None:
    statuses = ok(tenant.client.get("/api/dictionary/statuses"))
    by_id = {entry["id"]: entry for entry in statuses}
    assert by_id[4]["nameRu"] == "Архивное хранение"
    assert by_id[4]["nameEn"] == "Archived"
    assert by_id[4]["name"] == "Архивное хранение"
    english = ok(
        tenant.client.get("/api/dictionary/statuses", headers={"Accept-Language": "en-GB"})
    )
    assert {e["id"]: e["name"] for e in english}[4] == "Archived"
    storages = ok(tenant.client.get("/api/user/storages"))
    assert [s["id"] for s in storages] == [tenant.storage_id]


def test_every_action_is_audited_with_user_and_address(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    container_id = ok(
        upload(tenant.client, tenant.storage_id, DOCUMENT, [make_signature(DOCUMENT)])
    )
    tenant.client.get(f"/api/document/{container_id}")
    tenant.client.get(f"/api/document/{container_id}/status")
    tenant.client.get(f"/api/document/{container_id}/sign")
    tenant.client.post("/api/document/search", json={"filters": {"name": "x"}})
    upload(tenant.client, tenant.storage_id, DOCUMENT + b"!", [make_signature(DOCUMENT)])
    with archive.db.session() as session:
        container = session.get(Container, container_id)
        assert container is not None
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.user_id == container.source_system_id)
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.action, e.outcome, e.container_id) for e in events] == [
        ("document.upload", "ok", container_id),
        ("document.details", "ok", container_id),
        ("document.status", "ok", container_id),
        ("document.sign", "ok", container_id),
        ("document.search", "ok", None),
        ("document.upload", "refused", None),
    ]
    assert all(e.remote_ip == "127.0.0.1" and e.user_name for e in events)
    assert events[-1].details is not None
    assert events[-1].details["errorCode"] == "DocumentDigestMismatch"


def test_swagger_is_served(archive: ArchiveServer) -> None:
    with archive.client() as anonymous:
        assert anonymous.get("/swagger").status_code == 200
        schema = anonymous.get("/openapi.json").json()
    upload_body = schema["paths"]["/api/document/content"]["post"]["requestBody"]
    fields = upload_body["content"]["multipart/form-data"]["schema"]["properties"]
    assert {
        "Content",
        "Signs",
        "StorageId",
        "SaveType",
        "ContainerName",
        "ArchiveDate",
        "UseArchiveCa",
        "ArchiveCaPluginName",
        "StructureName",
    } <= set(fields)
