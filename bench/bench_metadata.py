"""The metadata repository at scale: 1,000,000 containers on SQLite and on PostgreSQL.

Loads (bulk: executemany on SQLite, COPY on PostgreSQL) N containers in 10 storages with one
signature each, 2 audit entries per container plus reads (hash-chained like the live
system's), and 3-4 certificate references per container (10,000 signers, 10 CAs, 3 TSAs, 3
OCSP responders). Then prints the latency of

- a filtered audit query (one action, one day, newest 100),
- an audit query by container and by user,
- a statistics read (live totals of one storage: containers by status and save type,
  documents, bytes, signatures by level),
- a references query (the first 100 containers depending on a TSA certificate, and all that
  depend on one signer certificate),

each with its query plan (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN (ANALYZE,
BUFFERS)``) to show that an index answers it and no query reads the whole table.

    .venv/bin/python bench/bench_metadata.py [--containers 1000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.postgres import PostgresServer  # noqa: E402

from sigarchive.db.engine import Database  # noqa: E402
from sigarchive.db.metadata_models import GENESIS_HASH  # noqa: E402
from sigarchive.metadata import audit_log, references, statistics  # noqa: E402
from sigarchive.metadata.tree import Page, Viewer  # noqa: E402
from sigarchive.records import audit as audit_chain  # noqa: E402

STORAGES = 10
SIGNERS = 10_000
CAS = 10
TSAS = 3
OCSPS = 3
LEVELS = ["B-LTA"] * 90 + ["B-LT"] * 4 + ["B-T"] * 3 + ["B-B"] * 3
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
BATCH = 50_000


def cert_sha(kind: str, n: int) -> str:
    return hashlib.sha256(f"{kind}-{n}".encode()).hexdigest()


def container_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# ---- generated rows -------------------------------------------------------------------------


def container_rows(count: int) -> Iterator[tuple[Any, ...]]:
    for n in range(count):
        created = naive(START + SPAN * n / count)
        retained = n % 4 == 0
        yield (
            container_id(n),
            n % STORAGES + 1,
            n % STORAGES + 1,
            f"Contract {n}",
            f"Dept {n % 50}/Unit {n % 7}",
            1 if n % 3 == 0 else 2,
            naive(START + SPAN * 10) if n % 3 == 0 else None,
            retained,
            "application/pdf",
            10_000 + n % 100_000,
            json.dumps({"sha256": "AAAA"}),
            f"local:{container_id(n)[:2]}/{container_id(n)}" if retained else None,
            4 if n % 20 else (3 if n % 40 else 1),
            created,
            created,
            0,
        )


CONTAINER_COLUMNS = (
    "id, storage_id, source_system_id, name, structure_name, save_type, archive_until, "
    "use_archive_ca, document_type, document_size, document_digests, document_location, "
    "status, created_at, modified_at, attempts"
)


def signature_rows(count: int) -> Iterator[tuple[Any, ...]]:
    for n in range(count):
        yield (
            container_id(n),
            0,
            b"\x30\x00",
            "sha256",
            b"\x00" * 32,
            False,
            LEVELS[n % len(LEVELS)],
            n % STORAGES + 1,
        )


SIGNATURE_COLUMNS = (
    "container_id, position, original, digest_algorithm, document_digest, is_attached, "
    "level, storage_id"
)
AUDIT_COLUMNS = (
    "occurred_at, action, outcome, user_id, user_name, remote_ip, container_id, storage_id, "
    "details, seq, prev_hash, entry_hash"
)


def audit_batches(count: int) -> Iterator[list[tuple[Any, ...]]]:
    """Upload and enhancement of every container, plus a details read for every other one;
    chained exactly as ``records.audit.record`` does."""
    seq, last = 0, GENESIS_HASH
    batch: list[dict[str, Any]] = []

    def flush() -> list[tuple[Any, ...]]:
        nonlocal seq, last
        seq, last = audit_chain.chain_rows(batch, seq, last)
        rows = [
            (
                naive(r["occurred_at"]),
                r["action"],
                r["outcome"],
                r["user_id"],
                r["user_name"],
                r["remote_ip"],
                r["container_id"],
                r["storage_id"],
                json.dumps(r["details"]) if r["details"] is not None else None,
                r["seq"],
                r["prev_hash"],
                r["entry_hash"],
            )
            for r in batch
        ]
        batch.clear()
        return rows

    for n in range(count):
        at = START + SPAN * n / count
        storage = n % STORAGES + 1
        events = [
            ("document.upload", storage, f"user-{storage}", at),
            ("signature.enhancement", None, "signature-updater", at + timedelta(seconds=2)),
        ]
        if n % 2 == 0:
            events.append(
                ("document.details", storage, f"user-{storage}", at + timedelta(minutes=5))
            )
        for action, user_id, user_name, moment in events:
            batch.append(
                {
                    "occurred_at": moment,
                    "action": action,
                    "outcome": "ok",
                    "user_id": user_id,
                    "user_name": user_name,
                    "remote_ip": "10.0.0.1" if user_id else None,
                    "container_id": container_id(n),
                    "storage_id": storage,
                    "details": {"n": n} if action == "document.upload" else None,
                }
            )
        if len(batch) >= BATCH:
            yield flush()
    if batch:
        yield flush()
    head.update(seq=seq, last=last)


head: dict[str, Any] = {}


def reference_rows(count: int) -> Iterator[tuple[Any, ...]]:
    now = naive(datetime.now(UTC))
    for n in range(count):
        cid, storage = container_id(n), n % STORAGES + 1
        yield (cert_sha("signer", n % SIGNERS), cid, storage, "signer", now)
        yield (cert_sha("ca", n % CAS), cid, storage, "chain", now)
        yield (cert_sha("tsa", n % TSAS), cid, storage, "tsa", now)
        if n % 10 == 0:
            yield (cert_sha("ocsp", n % OCSPS), cid, storage, "revocation", now)


def certificate_rows() -> Iterator[tuple[Any, ...]]:
    now = naive(datetime.now(UTC))
    for kind, count in (("signer", SIGNERS), ("ca", CAS), ("tsa", TSAS), ("ocsp", OCSPS)):
        for n in range(count):
            yield (
                cert_sha(kind, n),
                f"CN={kind} {n}",
                "CN=CA",
                format(n, "x"),
                now - timedelta(days=100),
                now + timedelta(days=100 + n),
                kind == "ca",
                now,
            )


# ---- loading --------------------------------------------------------------------------------


def chunks(rows: Iterator[tuple[Any, ...]], size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(db: Database, count: int) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = db.is_postgresql

        def put(table: str, columns: str, batches: Iterator[list[tuple[Any, ...]]]) -> None:
            started = time.perf_counter()
            total = 0
            for batch in batches:
                if postgres:
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" * len(columns.split(",")))
                    cursor.executemany(
                        f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                        [tuple(_sqlite(v) for v in row) for row in batch],
                    )
                raw.commit()
                total += len(batch)
            print(
                f"  loaded {total:>9,} {table} in {time.perf_counter() - started:6.1f} s",
                flush=True,
            )

        if not postgres:
            cursor.execute("PRAGMA synchronous=OFF")
        now = naive(datetime.now(UTC))
        put(
            "storages",
            "id, name, created_at, require_retention",
            iter([[(s, f"storage {s}", now, False) for s in range(1, STORAGES + 1)]]),
        )
        put(
            "users",
            "id, name, token_sha256, created_at, is_admin",
            iter([[(s, f"user-{s}", f"{s:064x}", now, False) for s in range(1, STORAGES + 1)]]),
        )
        put("containers", CONTAINER_COLUMNS, chunks(container_rows(count)))
        put("signatures", SIGNATURE_COLUMNS, chunks(signature_rows(count)))
        put("audit_events", AUDIT_COLUMNS, audit_batches(count))
        cursor.execute(
            "UPDATE audit_chain_head SET seq = %s, last_hash = %s"
            if postgres
            else "UPDATE audit_chain_head SET seq = ?, last_hash = ?",
            (head["seq"], head["last"]),
        )
        put(
            "certificates",
            "sha256, subject, issuer, serial_number, not_before, not_after, is_ca, first_seen_at",
            chunks(certificate_rows()),
        )
        put(
            "certificate_references",
            "certificate_sha256, container_id, storage_id, reference_type, created_at",
            chunks(reference_rows(count)),
        )
        raw.commit()
        started = time.perf_counter()
        if postgres:
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
        raw.commit()
        print(f"  ANALYZE in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        raw.close()


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# ---- measuring ------------------------------------------------------------------------------


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with parameters) run inside the block, as sent to the driver."""
    seen: list[tuple[str, Any]] = []

    def hook(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)


def measure(db: Database, title: str, run: Callable[[Any], int], repeat: int = 15) -> None:
    timings = []
    rows = 0
    with db.session() as session:
        run(session)  # warm the caches once
        for _ in range(repeat):
            started = time.perf_counter()
            rows = run(session)
            timings.append((time.perf_counter() - started) * 1000)
        with captured(db) as seen:
            run(session)
    print(
        f"\n{title}: {rows} rows; median {stats.median(timings):.2f} ms, "
        f"min {min(timings):.2f} ms, max {max(timings):.2f} ms"
    )
    with db.engine.connect() as connection:
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            prefix = (
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                if db.is_postgresql
                else "EXPLAIN QUERY PLAN "
            )
            plan = connection.exec_driver_sql(prefix + statement, parameters).fetchall()
            lines = [str(row[-1]) for row in plan]
            print("    " + statement.split("\n")[0][:110].replace("\n", " ") + " …")
            for line in lines:
                print(f"      {line}")


def queries(db: Database, count: int) -> None:
    admin = Viewer.operator("bench")
    user = Viewer(1, "user-1", False, frozenset({1}))
    day = START + SPAN / 2
    tsa = cert_sha("tsa", 0)
    signer = cert_sha("signer", 42)

    def audit_by_action(session: Any) -> int:
        query = audit_log.audit_query(
            admin,
            audit_log.AuditFilters(
                since=day, until=day + timedelta(days=1), action="document.details"
            ),
        )
        query, _ = audit_log.page_of(query, Page(100))
        return len(list(session.scalars(query)))

    def audit_by_container(session: Any) -> int:
        query = audit_log.audit_query(
            user, audit_log.AuditFilters(container_id=container_id(count // 2 // 10 * 10))
        )
        query, _ = audit_log.page_of(query, Page(100))
        return len(list(session.scalars(query)))

    def audit_by_user(session: Any) -> int:
        query = audit_log.audit_query(
            admin, audit_log.AuditFilters(user="user-3", since=day, until=day + timedelta(hours=6))
        )
        query, _ = audit_log.page_of(query, Page(100))
        return len(list(session.scalars(query)))

    def statistics_read(session: Any) -> int:
        totals = statistics.live_totals(session, 1)
        return totals.containers

    def references_tsa(session: Any) -> int:
        return len(references.referrers(session, tsa, storage_ids=None, after=None, limit=100))

    def references_signer(session: Any) -> int:
        return len(references.referrers(session, signer, storage_ids=[3], after=None, limit=100))

    measure(db, "audit: action=document.details, one day, newest 100", audit_by_action)
    measure(db, "audit: one container (as its storage's user)", audit_by_container)
    measure(db, "audit: user=user-3, six hours, newest 100", audit_by_user)
    measure(
        db,
        f"statistics: live totals of storage 1 ({count // STORAGES:,} containers)",
        statistics_read,
    )
    measure(db, "references: first 100 containers depending on a TSA certificate", references_tsa)
    measure(db, "references: containers of storage 3 depending on one signer", references_signer)


def run(backend: str, count: int, verify: bool) -> None:
    print(f"\n=== {backend}: {count:,} containers ===", flush=True)
    with tempfile.TemporaryDirectory(prefix="sigarchive-bench-") as directory:
        server = PostgresServer.start() if backend == "postgresql" else None
        try:
            url = (
                server.create_database()
                if server
                else f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
            )
            db = Database(url)
            db.migrate()
            load(db, count)
            with db.engine.connect() as connection:
                for table in ("containers", "signatures", "audit_events", "certificate_references"):
                    n = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    print(f"  {table}: {n:,} rows")
            queries(db, count)
            if verify:
                started = time.perf_counter()
                report = audit_chain.verify(db, batch=20_000)
                print(
                    f"\naudit verify: {report.entries:,} entries, intact={report.intact}, "
                    f"{time.perf_counter() - started:.1f} s"
                )
            db.dispose()
        finally:
            if server is not None:
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--verify", action="store_true", help="also time `audit verify`")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend, args.containers, args.verify)


if __name__ == "__main__":
    main()
