"""The metadata repository below HTTP: the audit chain under concurrent writers, the 0004
backfill, third-party facets, the shared scheduler, certificate expiry, paths."""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from sigarchive.archive import accounts
from sigarchive.archive.leases import Lease, release
from sigarchive.archive.renewal import Renewal, renew_dependents
from sigarchive.db.engine import Database, alembic_config
from sigarchive.db.metadata_models import (
    CertificateRecord,
    CertificateReference,
    ContentPlacement,
    StatisticsSnapshot,
)
from sigarchive.db.models import AuditEvent, Container, Problem, Signature, utcnow
from sigarchive.errors import NotFound
from sigarchive.metadata import content, problem_reports, references
from sigarchive.metadata.configuration import ConfigurationStore
from sigarchive.metadata.facets import FacetRegistry
from sigarchive.metadata.maintenance import Maintenance
from sigarchive.metadata.repository import build_repository
from sigarchive.metadata.tree import Page, Viewer, join_path, split_path
from sigarchive.records import audit as audit_chain
from sigarchive.records.audit import Actor, record
from tests.conftest import database_url_for
from tests.support.signing import make_signature

SYSTEM = Actor.system("tests")


def test_audit_chain_stays_whole_under_concurrent_writers(database: Database) -> None:
    """Two engines (as two processes would have) x 4 threads, some transactions rolled back:
    every committed entry is chained exactly once, in one line."""
    other = Database(database.engine.url.render_as_string(hide_password=False))
    committed = 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(db: Database, worker: int) -> None:
        nonlocal committed
        try:
            for n in range(15):
                try:
                    with db.session() as session:
                        record(session, "test.write", SYSTEM, details={"w": worker, "n": n})
                        record(session, "test.write", SYSTEM, details={"w": worker, "n": -n})
                        if n % 5 == 4:
                            raise RuntimeError("roll back")
                except RuntimeError:
                    continue
                with lock:
                    committed += 2
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(db, i)) for i, db in enumerate([database, other] * 4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert not errors, errors
    report = audit_chain.verify(database, batch=7)
    assert report.intact, report.to_json()
    assert report.entries == report.head_seq == committed == 8 * 12 * 2
    with database.session() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(1, committed + 1))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_chains_and_places_what_exists(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database_url_for(backend, tmp_path, request)
    command.upgrade(alembic_config(url), "0003")
    db = Database(url)
    try:
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO storages (id, name, created_at) VALUES (1, 's', :t)"),
                {"t": utcnow().replace(tzinfo=None)},
            )
            connection.execute(
                text(
                    "INSERT INTO users (id, name, token_sha256, created_at) "
                    "VALUES (1, 'u', 'x', :t)"
                ),
                {"t": utcnow().replace(tzinfo=None)},
            )
            for n, structure in enumerate(["A/B", None, "A"]):
                connection.execute(
                    text(
                        "INSERT INTO containers (id, storage_id, source_system_id, name, "
                        "structure_name, save_type, use_archive_ca, document_type, "
                        "document_size, document_digests, status, created_at, modified_at, "
                        "attempts) VALUES (:id, 1, 1, :name, :structure, 2, false, "
                        "'text/plain', 1, '{}', 4, :t, :t, 0)"
                    ),
                    {
                        "id": f"00000000-0000-0000-0000-00000000000{n}",
                        "name": f"c{n}",
                        "structure": structure,
                        "t": utcnow().replace(tzinfo=None),
                    },
                )
            connection.execute(
                text(
                    "INSERT INTO signatures (container_id, position, original, digest_algorithm,"
                    " document_digest, is_attached, level) VALUES "
                    "('00000000-0000-0000-0000-000000000000', 0, :b, 'sha256', :b, false, 'B-B')"
                ),
                {"b": b"x"},
            )
            for n in range(5):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (occurred_at, action, outcome, user_name, "
                        "storage_id, details) VALUES (:t, 'legacy', 'ok', 'old', 1, :d)"
                    ),
                    {"t": utcnow().replace(tzinfo=None), "d": f'{{"n": {n}}}'},
                )
        db.migrate()
        report = audit_chain.verify(db)
        assert report.intact and report.entries == 5, report.to_json()
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(ContentPlacement)) == 3
            assert session.scalar(select(Signature.storage_id)) == 1
            record(session, "after.migration", SYSTEM)
            connection = session.connection()
            deep = content.find_node(connection, 1, ["A", "B", "c0"])
            assert deep is not None
            assert content.node_path(connection, deep) == ["A", "B", "c0"]
        assert audit_chain.verify(db).entries == 6
        command.downgrade(alembic_config(url), "0003")  # and back, data kept
        db.migrate()
        assert audit_chain.verify(db).intact
    finally:
        db.dispose()


WEATHER = """
from sigarchive.metadata.tree import Node


class WeatherFacet:
    id = "weather"
    name = "Weather at upload"
    properties = ()

    def node(self, context, rest):
        return context.node(rest, "facet", {"sunny": True, "scope": context.storage_id})


def broken():
    raise RuntimeError("this plugin is broken")
"""


def test_a_third_party_facet_is_found_by_its_entry_point(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "weather_facet-1.0.dist-info").mkdir(parents=True)
    (site / "weather_facet.py").write_text(WEATHER)
    (site / "weather_facet-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: weather-facet\nVersion: 1.0\n"
    )
    (site / "weather_facet-1.0.dist-info" / "entry_points.txt").write_text(
        "[sigarchive.metadata_facets]\n"
        "weather = weather_facet:WeatherFacet\n"
        "broken = weather_facet:broken\n"
    )
    monkeypatch.syspath_prepend(str(site))
    repository = build_repository(database, tmp_path / "data")
    assert [facet.id for facet in repository.facets] == [
        "audit",
        "statistics",
        "problems",
        "weather",
    ]
    found = repository.node(Viewer.operator(), SYSTEM, ["server", "facets", "weather"], Page())
    assert found.properties == {"sunny": True, "scope": None}
    with pytest.raises(ValueError, match="already registered"):
        FacetRegistry(list(repository.facets)).register(repository.facets.get("audit"))
    with pytest.raises(NotFound):
        repository.facets.get("nope")


def _storage_with_container(db: Database, retained_location: str | None = None) -> str:
    container_id = str(uuid.uuid4())
    with db.session() as session:
        storage = accounts.create_storage(session, f"s-{uuid.uuid4().hex[:6]}", SYSTEM)
        user, _token = accounts.create_user(
            session, f"u-{uuid.uuid4().hex[:6]}", [storage.id], SYSTEM
        )
        digest = base64.b64encode(hashlib.sha256(b"doc").digest()).decode()
        session.add(
            Container(
                id=container_id,
                storage_id=storage.id,
                source_system_id=user.id,
                name="c",
                save_type=2,
                use_archive_ca=retained_location is not None,
                document_type="text/plain",
                document_size=3,
                document_digests={"sha256": digest},
                document_location=retained_location,
                status=4,
            )
        )
    return container_id


def test_scheduled_tasks_run_once_whatever_the_number_of_processes(
    database: Database, tmp_path: Path
) -> None:
    container_id = _storage_with_container(database, retained_location="doc")
    (tmp_path / "doc").write_bytes(b"doc")
    opened: list[str] = []

    def opener(location: str):  # type: ignore[no-untyped-def]
        opened.append(location)
        return (tmp_path / location).open("rb")

    configuration = ConfigurationStore(tmp_path / "config.json", database)
    first = Maintenance(database, configuration, opener)
    second = Maintenance(database, ConfigurationStore(tmp_path / "config.json", database), opener)
    done = [first.run_due(), second.run_due()]
    assert sorted(name for result in done for name in result) == [
        "certificate-expiry",
        "fixity-check",
        "statistics-snapshot",
    ]
    assert opened == ["doc"]
    with database.session() as session:
        snapshots = list(session.scalars(select(StatisticsSnapshot)))
        assert {s.trigger for s in snapshots} == {"scheduled"}
        archive_wide = [s for s in snapshots if s.storage_id is None]
        assert len(archive_wide) == 1 and archive_wide[0].total_container_count >= 1
        assert session.scalar(select(Problem).where(Problem.container_id == container_id)) is None
    # not due again before its interval
    first._not_before.clear()
    assert first.run_due() == {}


def test_certificates_nearing_expiry_are_reported_once(database: Database) -> None:
    container_id = _storage_with_container(database)
    sha = "ab" * 32
    with database.session() as session:
        session.add(
            CertificateRecord(
                sha256=sha,
                subject="CN=Some TSA",
                issuer="CN=CA",
                serial_number="1",
                not_before=utcnow() - timedelta(days=3000),
                not_after=utcnow() + timedelta(days=10),
            )
        )
        session.flush()
        session.add(
            CertificateReference(
                certificate_sha256=sha,
                container_id=container_id,
                storage_id=1,
                reference_type="tsa",
            )
        )
    with database.session() as session:
        assert problem_reports.check_certificate_expiry(session, timedelta(days=5)) == 0
        assert problem_reports.check_certificate_expiry(session, timedelta(days=30)) == 1
    with database.session() as session:
        [problem] = session.scalars(select(Problem).where(Problem.certificate_sha256 == sha))
        assert problem.kind == "tsa-certificate-expiring" and "CN=Some TSA" in problem.message
        problem.resolved_at = utcnow()
    with database.session() as session:
        assert problem_reports.check_certificate_expiry(session, timedelta(days=30)) == 0


@dataclass
class _RecordingEnhancer:
    db: Database
    renewed: list[str] = field(default_factory=list)

    def renew(self, lease: Lease, threshold: datetime) -> None:
        self.renewed.append(lease.container_id)
        with self.db.session() as session:  # what Enhancer._finish releases
            release(session, lease)


def test_renewal_by_certificate_takes_the_dependents_from_the_references(
    database: Database,
) -> None:
    """``sigarchive renew --certificate``: every archived container depending on the
    certificate (in the storages asked for), none other; not-yet-archived ones are left to
    their first enhancement."""
    first = _storage_with_container(database)
    second = _storage_with_container(database)
    pending = _storage_with_container(database)
    unrelated = _storage_with_container(database)
    sha = "cd" * 32
    with database.session() as session:
        session.get(Container, pending).status = 1  # type: ignore[union-attr]
        for container_id in (first, second, pending):
            container = session.get(Container, container_id)
            assert container is not None
            session.add(
                CertificateReference(
                    certificate_sha256=sha,
                    container_id=container_id,
                    storage_id=container.storage_id,
                    reference_type="tsa",
                )
            )
        second_storage = session.get(Container, second).storage_id  # type: ignore[union-attr]
        session.add(
            CertificateReference(
                certificate_sha256="ef" * 32,
                container_id=unrelated,
                storage_id=1,
                reference_type="tsa",
            )
        )
    enhancer = _RecordingEnhancer(database)
    renewal = Renewal(database, enhancer, timedelta(seconds=60))
    assert renew_dependents(renewal, sha) == (2, 0)
    assert sorted(enhancer.renewed) == sorted([first, second])
    enhancer.renewed.clear()
    assert renew_dependents(renewal, sha, storage_ids=[second_storage]) == (1, 0)
    assert enhancer.renewed == [second]


def test_dependencies_of_a_plain_signature() -> None:
    found = references.dependencies(make_signature(b"document", key="ec-p256"))
    kinds = {d.reference_type for d in found}
    assert "signer" in kinds
    signer = next(d for d in found if d.reference_type == "signer")
    assert "signer" in signer.certificate.subject.human_friendly
    assert references.dependencies(b"not a signature") == []


def test_paths_and_structure_segments() -> None:
    assert split_path("repositories/1/content/a%2Fb/100%25") == [
        "repositories",
        "1",
        "content",
        "a/b",
        "100%",
    ]
    assert join_path(["a/b", "100%", "Отдел"]) == "a%2Fb/100%25/Отдел"
    assert split_path(join_path(["x%2Fy"])) == ["x%2Fy"]
    assert content.structure_segments(" /Dept// Sub /") == ["Dept", "Sub"]
    assert content.container_segments(None, "  ") == [content.UNNAMED]
    with pytest.raises(Exception, match="pageSize"):
        Page(0)
