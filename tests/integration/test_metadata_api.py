"""The metadata repository (SPEC §6) over real HTTP, on SQLite and on PostgreSQL: the tree's
sections, the facets, references, configuration, audit tampering, the fixity check."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asn1crypto import cms
from sqlalchemy import delete, insert, select, update

from sigarchive.archive import accounts
from sigarchive.db.models import AuditEvent, Container
from sigarchive.records.audit import Actor
from tests.conftest import Tenant, database_url_for
from tests.integration.test_documents_api import DOCUMENT, ok, refused, upload, wait_for_status
from tests.support.server import ArchiveServer
from tests.support.signing import make_signature


@pytest.fixture
def operator(archive: ArchiveServer) -> Iterator[httpx.Client]:
    """A client authenticated as an operator (``user create --admin``)."""
    with archive.db.session() as session:
        _user, token = accounts.create_user(
            session, f"ops-{uuid.uuid4().hex[:8]}", [], Actor.system("tests"), is_admin=True
        )
    with archive.client(token) as client:
        yield client


def node(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    data: dict[str, Any] = ok(client.get(f"/api/metadata/{quote(path)}", params=params))
    return data


def child_names(data: dict[str, Any]) -> list[str]:
    return [child["name"] for child in data["children"]]


def archived_container(
    tenant: Tenant,
    *,
    name: str = "Contract",
    structure: str | None = None,
    retain: bool = False,
    plugin: str | None = None,
) -> str:
    fields = {"ContainerName": name, "UseArchiveCa": "true" if retain else "false"}
    if plugin is not None:
        fields["ArchiveCaPluginName"] = plugin
    if structure is not None:
        fields["StructureName"] = structure
    container_id: str = ok(
        upload(
            tenant.client, tenant.storage_id, DOCUMENT, [make_signature(DOCUMENT)], fields=fields
        )
    )
    wait_for_status(tenant.client, container_id)
    return container_id


def all_children(client: httpx.Client, path: str, page_size: int) -> list[str]:
    names: list[str] = []
    cursor = None
    for _ in range(50):
        params: dict[str, Any] = {"pageSize": page_size}
        if cursor:
            params["cursor"] = cursor
        data = node(client, path, **params)
        assert len(data["children"]) <= page_size
        names += child_names(data)
        cursor = data["nextCursor"]
        if cursor is None:
            return names
    raise AssertionError("pagination does not end")


# ---- the tree: visibility, content, pagination ----------------------------------------------


def test_a_user_sees_only_its_storages(
    archive: ArchiveServer, tenant: Tenant, operator: httpx.Client
) -> None:
    other = archive.create_storage()
    root = node(tenant.client, "")
    assert child_names(root) == ["repositories"]  # no server node for a plain user
    assert child_names(node(tenant.client, "repositories")) == [str(tenant.storage_id)]
    storage = node(tenant.client, f"repositories/{tenant.storage_id}")
    assert storage["properties"]["id"] == tenant.storage_id
    assert child_names(storage) == ["config", "content", "facets", "references"]
    for path in (f"repositories/{other}", f"repositories/{other}/facets/audit", "repositories/x"):
        refused(tenant.client.get(f"/api/metadata/{path}"), 404, "StorageNotFound")
    refused(tenant.client.get("/api/metadata/server"), 403, "AdminOnly")
    refused(tenant.client.get(f"/api/statistics/{other}"), 404, "StorageNotFound")
    refused(tenant.client.get("/api/metadata/nowhere"), 404, "NodeNotFound")
    refused(tenant.client.get("/api/metadata", params={"pageSize": 0}), 400, "InvalidInput")
    refused(
        tenant.client.get("/api/metadata/repositories", params={"cursor": "%%%"}),
        400,
        "InvalidCursor",
    )

    assert "server" in child_names(node(operator, ""))
    everything = all_children(operator, "repositories", page_size=2)
    assert {str(tenant.storage_id), str(other)} <= set(everything)
    assert len(everything) == len(set(everything))


def test_content_section_container_document_and_signatures(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    name = "Договор 1/2"  # a name with a slash stays one segment
    container_id = archived_container(tenant, name=name, structure="/Отдел//Sub/", retain=True)
    base = f"repositories/{tenant.storage_id}/content"
    assert "Отдел" in child_names(node(tenant.client, base))
    assert child_names(node(tenant.client, f"{base}/Отдел")) == ["Sub"]
    folder = node(tenant.client, f"{base}/Отдел/Sub")
    assert folder["type"] == "folder" and child_names(folder) == [name]
    assert folder["children"][0]["path"] == f"{base}/Отдел/Sub/Договор 1%2F2"

    container_path = f"{base}/Отдел/Sub/Договор 1%2F2/{container_id}"
    container = node(tenant.client, container_path)
    props = container["properties"]
    assert container["type"] == "container"
    assert props["container.id"] == container_id and props["name"] == name
    assert props["status"] == 4 and props["statusName"] == "Archived"
    assert props["saveType"] == "Permanent" and props["structureName"] == "/Отдел//Sub/"
    assert datetime.fromisoformat(props["created"]) <= datetime.fromisoformat(props["updated"])
    assert child_names(container) == ["document", "signature-1"]

    document = node(tenant.client, f"{container_path}/document")["properties"]
    assert document["size"] == len(DOCUMENT)
    assert document["sha256"] == ok_b64(hashlib.sha256(DOCUMENT).digest())
    assert document["retained"] is True and document["location"]
    assert document["fileCreated"] and document["fileLastModified"]
    assert "data" not in document  # the seed: the document's bytes are not in the metadata

    signature = node(tenant.client, f"{container_path}/signature-1")["properties"]
    assert signature["level"] == "B-LTA"
    assert "rsa-signer" in signature["signer"]
    assert signature["signingTime"]
    assert len(signature["signatureTimeStamps"]) == 1
    assert len(signature["archiveTimeStamps"]) == 1
    assert signature["timeStampAuthorities"]
    assert datetime.fromisoformat(signature["expires"]) > datetime.now(UTC)
    assert signature["indication"] == ["INDETERMINATE"]  # the test CA is not a trust anchor

    refused(
        tenant.client.get(f"/api/metadata/{quote(container_path)}/signature-9"), 404, "NodeNotFound"
    )
    refused(tenant.client.get(f"/api/metadata/{base}/Отдел/{container_id}"), 404, "NodeNotFound")


def ok_b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_children_are_paginated(tenant: Tenant) -> None:
    ids = {
        ok(
            upload(
                tenant.client,
                tenant.storage_id,
                DOCUMENT,
                [make_signature(DOCUMENT)],
                fields={"ContainerName": "Same", "StructureName": "Paged"},
            )
        )
        for _ in range(3)
    }
    path = f"repositories/{tenant.storage_id}/content/Paged/Same"
    listed = all_children(tenant.client, path, page_size=2)
    assert sorted(listed) == sorted(ids)


def test_cli_metadata_path(archive: ArchiveServer, tenant: Tenant) -> None:
    result = archive.cli("metadata", f"repositories/{tenant.storage_id}", "--json")
    data = json.loads(result.stdout)
    assert data["type"] == "repository" and data["properties"]["id"] == tenant.storage_id
    text = archive.cli("metadata", f"repositories/{tenant.storage_id}").stdout
    assert "content/" in text and f"id={tenant.storage_id}" in text


# ---- audit facet, filtered queries, tampering -----------------------------------------------


def test_audit_facet_and_filtered_query(
    archive: ArchiveServer, tenant: Tenant, operator: httpx.Client
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    container_id = archived_container(tenant)
    ok(tenant.client.get(f"/api/document/{container_id}"))

    events = ok(tenant.client.get("/api/audit", params={"containerId": container_id}))["events"]
    actions = [e["action"] for e in events]
    assert {"document.upload", "document.details", "signature.enhancement"} <= set(actions)
    upload_event = next(e for e in events if e["action"] == "document.upload")
    assert upload_event["user"].startswith("user-") and upload_event["remoteIP"] == "127.0.0.1"
    assert upload_event["seq"] and len(upload_event["entryHash"]) == 64
    times = [e["occurredAt"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first

    by_action = ok(
        tenant.client.get(
            "/api/audit",
            params={"action": "document.upload", "from": started.isoformat(), "pageSize": 1},
        )
    )
    assert [e["action"] for e in by_action["events"]] == ["document.upload"]
    assert by_action["events"][0]["container.id"] == container_id
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    empty = ok(tenant.client.get("/api/audit", params={"from": future}))
    assert empty == {"events": [], "nextCursor": None}
    user = upload_event["user"]
    mine = ok(tenant.client.get("/api/audit", params={"user": user, "pageSize": 2}))
    assert mine["nextCursor"] and all(e["user"] == user for e in mine["events"])
    following = ok(
        tenant.client.get(
            "/api/audit", params={"user": user, "pageSize": 2, "cursor": mine["nextCursor"]}
        )
    )
    assert not {e["id"] for e in following["events"]} & {e["id"] for e in mine["events"]}
    refused(
        tenant.client.get("/api/audit", params={"from": "2026-01-01T00:00"}), 400, "InvalidDate"
    )

    # another tenant sees nothing of this storage; an operator sees it
    stranger = archive.create_user(archive.create_storage())
    with archive.client(stranger) as client:
        assert ok(client.get("/api/audit", params={"containerId": container_id}))["events"] == []
        assert ok(client.get("/api/audit", params={"storageId": tenant.storage_id}))["events"] == []
    assert ok(operator.get("/api/audit", params={"containerId": container_id}))["events"]

    # the same entries in the tree, stored by time: facets/audit/YYYY/MM/DD/HHMMSS.mmm-<id>
    moment = datetime.fromisoformat(upload_event["occurredAt"]).astimezone(UTC)
    facet = f"repositories/{tenant.storage_id}/facets/audit"
    assert f"{moment:%Y}" in child_names(node(tenant.client, facet))
    assert f"{moment:%m}" in child_names(node(tenant.client, f"{facet}/{moment:%Y}"))
    day = f"{facet}/{moment:%Y/%m/%d}"
    entries = all_children(tenant.client, day, page_size=5)
    leaf = next(name for name in entries if name.endswith(f"-{upload_event['id']}"))
    assert leaf.startswith(f"{moment:%H%M%S}.")
    entry = node(tenant.client, f"{day}/{leaf}")["properties"]
    assert entry["action"] == "document.upload" and entry["remoteIP"] == "127.0.0.1"
    assert entry["container.id"] == container_id and entry["user"] == user


def test_tampering_with_the_audit_trail_is_detected(
    archive: ArchiveServer, tenant: Tenant, operator: httpx.Client
) -> None:
    archived_container(tenant)
    assert archive.cli("audit", "verify").returncode == 0
    with archive.db.session() as session:
        victims = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.storage_id == tenant.storage_id)
                .order_by(AuditEvent.seq)
                .limit(2)
            )
        )
        session.expunge_all()
    altered, removed = victims
    columns = {c.key: getattr(removed, c.key) for c in AuditEvent.__table__.columns}
    with archive.db.session() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == altered.id).values(user_name="mallory")
        )
        session.execute(delete(AuditEvent).where(AuditEvent.id == removed.id))
    try:
        result = archive.cli("audit", "verify", "--json", check=False)
        assert result.returncode == 1, result.stdout
        report = json.loads(result.stdout)
        assert not report["intact"]
        reasons = {(b["seq"], b["reason"].split(" (")[0]) for b in report["breaks"]}
        assert (altered.seq, "the entry was altered") in reasons
        assert any(seq == removed.seq and "missing" in why for seq, why in reasons)
        over_http = ok(operator.get("/api/audit/verify"))
        assert over_http["intact"] is False
        refused(tenant.client.get("/api/audit/verify"), 403, "AdminOnly")
    finally:  # put the trail back as it was: the chain is whole again
        with archive.db.session() as session:
            session.execute(
                update(AuditEvent)
                .where(AuditEvent.id == altered.id)
                .values(user_name=altered.user_name)
            )
            session.execute(insert(AuditEvent).values(**columns))
    assert archive.cli("audit", "verify").returncode == 0


# ---- statistics, problems, references, fixity -----------------------------------------------


def test_statistics_live_totals_and_snapshots(archive: ArchiveServer, tenant: Tenant) -> None:
    archived_container(tenant, retain=True)
    archived_container(tenant)
    live = ok(tenant.client.get(f"/api/statistics/{tenant.storage_id}"))
    assert live["totalContainerCount"] == 2
    assert live["containersByStatus"] == {"4": 2}
    assert live["containersBySaveType"] == {"2": 2}
    assert live["totalDocumentCount"] == 1 and live["totalDocumentBytes"] == len(DOCUMENT)
    assert live["totalSignatureCount"] == 2 and live["signaturesByLevel"] == {"B-LTA": 2}

    facet = f"repositories/{tenant.storage_id}/facets/statistics"
    assert node(tenant.client, facet)["properties"]["totalContainerCount"] == 2
    snapshot = ok(tenant.client.post(f"/api/statistics/{tenant.storage_id}/snapshots"))
    assert snapshot["trigger"] == "manual" and snapshot["totalContainerCount"] == 2
    start = datetime.fromisoformat(snapshot["scanStartTime"])
    assert datetime.fromisoformat(snapshot["scanEndTime"]) >= start
    day = f"{facet}/{start.astimezone(UTC):%Y/%m/%d}"
    leaf = next(
        n for n in child_names(node(tenant.client, day)) if n.endswith(f"-{snapshot['id']}")
    )
    stored = node(tenant.client, f"{day}/{leaf}")["properties"]
    assert stored["scanStartTime"] == snapshot["scanStartTime"]
    assert stored["signaturesByLevel"] == {"B-LTA": 2}


def test_problem_reports_listed_filtered_and_resolved(
    archive: ArchiveServer, tenant: Tenant
) -> None:
    container_id = archived_container(tenant)
    # the development CA is not a trust anchor: the signature is INDETERMINATE
    found = ok(tenant.client.get("/api/problems", params={"containerId": container_id}))
    [problem] = found["problems"]
    assert problem["problem"] == "signature-indeterminate" and problem["severity"] == "warning"
    assert problem["resolved"] is None and problem["storage.id"] == tenant.storage_id
    assert (
        ok(
            tenant.client.get(
                "/api/problems", params={"containerId": container_id, "kind": "fixity-mismatch"}
            )
        )["problems"]
        == []
    )
    facet = node(tenant.client, f"repositories/{tenant.storage_id}/facets/problems")
    assert facet["properties"]["openByKind"]["signature-indeterminate"] >= 1
    assert str(problem["id"]) in child_names(facet)

    stranger = archive.create_user(archive.create_storage())
    with archive.client(stranger) as client:
        assert (
            ok(client.get("/api/problems", params={"containerId": container_id}))["problems"] == []
        )
        refused(client.post(f"/api/problems/{problem['id']}/resolve"), 404, "ProblemNotFound")

    resolved = ok(tenant.client.post(f"/api/problems/{problem['id']}/resolve"))
    assert resolved["resolved"] and resolved["resolvedBy"].startswith("user-")
    still_open = ok(
        tenant.client.get("/api/problems", params={"containerId": container_id, "open": "true"})
    )
    assert still_open["problems"] == []
    leaf = node(tenant.client, f"repositories/{tenant.storage_id}/facets/problems/{problem['id']}")
    assert leaf["properties"]["resolved"] == resolved["resolved"]
    audit = ok(tenant.client.get("/api/audit", params={"action": "problem.resolve"}))
    assert audit["events"][0]["details"]["problemId"] == problem["id"]


def test_references_answer_which_containers_depend_on_a_certificate(
    archive: ArchiveServer, tenant: Tenant, operator: httpx.Client
) -> None:
    container_id = archived_container(tenant)
    section = f"repositories/{tenant.storage_id}/references"
    certificates = all_children(tenant.client, section, page_size=2)
    roles: dict[str, list[str]] = {}
    for sha256 in certificates:
        answer = ok(tenant.client.get(f"/api/references/certificate/{sha256}"))
        assert answer["certificate"]["sha256"] == sha256
        [entry] = [c for c in answer["containers"] if c["id"] == container_id]
        roles[sha256] = entry["referenceTypes"]
        assert entry["storageId"] == tenant.storage_id and entry["status"] == 4
    kinds = {kind for types in roles.values() for kind in types}
    assert kinds == {"signer", "chain", "tsa", "revocation"}
    tsa = next(sha for sha, types in roles.items() if "tsa" in types)

    leaf = node(tenant.client, f"{section}/{tsa}/references/{container_id}")
    assert leaf["properties"]["referenceType"] == ["tsa"]
    assert leaf["properties"]["container.path"].endswith(f"/Contract/{container_id}")
    cert = node(tenant.client, f"{section}/{tsa}")["properties"]
    assert "TSA" in cert["subject"] and cert["notAfter"]

    # another tenant does not learn about containers it cannot see
    stranger = archive.create_user(archive.create_storage())
    with archive.client(stranger) as client:
        assert ok(client.get(f"/api/references/certificate/{tsa}"))["containers"] == []
    assert any(
        c["id"] == container_id
        for c in ok(
            operator.get(
                f"/api/references/certificate/{tsa}",
                params={"referenceType": "tsa", "pageSize": 1000},
            )
        )["containers"]
    )
    refused(tenant.client.get("/api/references/certificate/xyz"), 400, "InvalidCertificateHash")

    # the command line renews by certificate (its selection: tests/unit/test_metadata.py)
    nobody = "0" * 64
    result = archive.cli("renew", "--certificate", nobody, "--storage", str(tenant.storage_id))
    assert result.stdout.strip().splitlines()[-1] == "0"


@pytest.fixture(params=["sqlite", "postgresql"])
def idle_archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArchiveServer]:
    """An archive without background workers: nothing but the upload itself writes."""
    server = ArchiveServer(
        tmp_path,
        database_url_for(request.param, tmp_path, request),
        extra_env={"SIGARCHIVE_WORKERS": "0"},
    ).start()
    yield server
    server.stop()


def test_references_of_the_signer_are_there_right_after_the_upload(
    idle_archive: ArchiveServer,
) -> None:
    """The signer and its chain are known at upload: indexed in the upload's transaction,
    before (and without) any enhancement."""
    storage_id = idle_archive.create_storage("idle")
    signature = make_signature(DOCUMENT)
    [carried] = cms.ContentInfo.load(signature)["content"]["certificates"]
    signer = hashlib.sha256(carried.chosen.dump()).hexdigest()
    with idle_archive.client(idle_archive.create_user(storage_id)) as client:
        container_id = ok(upload(client, storage_id, DOCUMENT, [signature]))
        answer = ok(client.get(f"/api/references/certificate/{signer}"))
        [entry] = answer["containers"]
        assert entry["id"] == container_id and entry["status"] == 1
        assert entry["referenceTypes"] == ["signer"]
        section = f"repositories/{storage_id}/references"
        assert child_names(node(client, section)) == [signer]
        leaf = node(client, f"{section}/{signer}/references/{container_id}")
        assert leaf["properties"]["referenceType"] == ["signer"]


def test_fixity_check_flags_an_altered_document(archive: ArchiveServer, tenant: Tenant) -> None:
    # kept as a file (the built-in ``local`` storage): <data>/documents/<location>
    container_id = archived_container(tenant, retain=True, plugin="local")
    with archive.db.session() as session:
        container = session.get(Container, container_id)
        assert container is not None and container.document_location is not None
        location = container.document_location
    assert location.startswith("local:")
    path = archive.data_dir / "documents" / location.removeprefix("local:")
    original = path.read_bytes()
    assert original == DOCUMENT
    assert archive.cli("fixity", "--container", container_id).returncode == 0
    path.write_bytes(original.replace(b"17", b"71"))  # same size, other bytes
    try:
        result = archive.cli("fixity", "--container", container_id, check=False)
        assert result.returncode == 1 and container_id in result.stdout
        [problem] = ok(
            tenant.client.get(
                "/api/problems",
                params={"containerId": container_id, "kind": "fixity-mismatch", "open": "true"},
            )
        )["problems"]
        assert problem["severity"] == "critical" and location in problem["message"]
        events = ok(
            tenant.client.get(
                "/api/audit", params={"containerId": container_id, "action": "fixity.check"}
            )
        )["events"]
        assert events[0]["outcome"] == "mismatch"
    finally:
        path.write_bytes(original)
    assert archive.cli("fixity", "--container", container_id).returncode == 0
    assert (
        ok(
            tenant.client.get(
                "/api/problems",
                params={"containerId": container_id, "kind": "fixity-mismatch", "open": "true"},
            )
        )["problems"]
        == []
    )


# ---- configuration --------------------------------------------------------------------------


def test_configuration_round_trip_through_api_and_file(
    archive: ArchiveServer, tenant: Tenant, operator: httpx.Client
) -> None:
    config_file = archive.data_dir / "config" / "sigarchive-config.json"
    storage_path = f"repositories/{tenant.storage_id}/config"
    before = node(tenant.client, storage_path)["properties"]
    assert before["id"] == tenant.storage_id and before["description"] == ""

    # API write → file (and audited)
    written = ok(
        operator.put(
            f"/api/metadata/{storage_path}",
            json={"properties": {"description": "Отдел кадров", "renewalMarginDays": 30}},
        )
    )
    assert written["properties"]["description"] == "Отдел кадров"
    on_disk = json.loads(config_file.read_text())
    assert on_disk["storages"][str(tenant.storage_id)]["description"] == "Отдел кадров"
    assert on_disk["storages"][str(tenant.storage_id)]["renewalMarginDays"] == 30
    change = ok(
        operator.get(
            "/api/audit",
            params={"action": "configuration.change", "storageId": tenant.storage_id},
        )
    )["events"][0]
    assert change["user"] == operator_name(operator, archive)
    changes = change["details"]["changes"]
    assert changes[f"storages.{tenant.storage_id}.description"] == [None, "Отдел кадров"]
    assert changes[f"storages.{tenant.storage_id}.renewalMarginDays"] == [None, 30]

    # the retention policy is kept in the database, and shadowed to the file
    assert before["requireRetention"] is False and before["documentPlugin"] == "database"
    policy = ok(
        operator.put(
            f"/api/metadata/{storage_path}", json={"properties": {"requireRetention": True}}
        )
    )
    assert policy["properties"]["requireRetention"] is True
    assert json.loads(config_file.read_text())["storages"][str(tenant.storage_id)][
        "requireRetention"
    ]
    retention = ok(
        operator.get(
            "/api/audit", params={"action": "storage.retention", "storageId": tenant.storage_id}
        )
    )["events"]
    assert retention[0]["details"]["requireRetention"] is True
    refused(
        operator.put(
            f"/api/metadata/{storage_path}", json={"properties": {"documentPlugin": "nope"}}
        ),
        400,
        "UnknownPlugin",
    )

    refused(
        tenant.client.put(f"/api/metadata/{storage_path}", json={"properties": {"x": 1}}),
        403,
        "AdminOnly",
    )
    refused(
        operator.put(f"/api/metadata/{storage_path}", json={"properties": {"nope": 1}}),
        400,
        "InvalidConfiguration",
    )
    refused(
        operator.put(f"/api/metadata/{storage_path}", json={"properties": {"name": "x"}}),
        400,
        "ReadOnlyProperty",
    )
    refused(
        operator.put(
            f"/api/metadata/repositories/{tenant.storage_id}", json={"properties": {"a": 1}}
        ),
        400,
        "NodeNotWritable",
    )

    # file edit → API read, without a restart (and audited once, as the file's change)
    server = node(operator, "server/config")["properties"]
    original_batch = server["fixityCheckBatchSize"]
    data = json.loads(config_file.read_text())
    data["server"]["fixityCheckBatchSize"] = original_batch + 7
    data["storages"][str(tenant.storage_id)]["description"] = "edited by hand"
    config_file.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    try:
        assert node(operator, "server/config")["properties"]["fixityCheckBatchSize"] == (
            original_batch + 7
        )
        assert node(tenant.client, storage_path)["properties"]["description"] == "edited by hand"
        edits = ok(
            operator.get(
                "/api/audit", params={"action": "configuration.change", "user": "config-file"}
            )
        )["events"]
        latest = edits[0]["details"]["changes"]
        assert latest["server.fixityCheckBatchSize"] == [original_batch, original_batch + 7]

        # a broken file is reported and the last valid configuration stays in force
        config_file.write_text("{ not json")
        broken = node(operator, "server/config")["properties"]
        assert broken["fileError"] and broken["fixityCheckBatchSize"] == original_batch + 7
        assert ok(
            operator.get("/api/problems", params={"kind": "configuration-invalid", "open": "true"})
        )["problems"]
        refused(
            operator.put(
                "/api/metadata/server/config", json={"properties": {"fixityCheckBatchSize": 3}}
            ),
            400,
            "ConfigurationFileInvalid",
        )
    finally:
        data["server"]["fixityCheckBatchSize"] = original_batch
        config_file.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    deadline = time.monotonic() + 5
    while node(operator, "server/config")["properties"]["fileError"] is not None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (
        ok(operator.get("/api/problems", params={"kind": "configuration-invalid", "open": "true"}))[
            "problems"
        ]
        == []
    )


def operator_name(client: httpx.Client, archive: ArchiveServer) -> str:
    token = client.headers["Authorization"].split()[-1]
    with archive.db.session() as session:
        return accounts.authenticate(session, token).name
