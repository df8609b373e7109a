"""metadata repository: audit hash chain, content tree, references, statistics, configuration

Existing audit entries are chained in id order, existing containers placed in the content
tree, and signatures and problems get their container's storage.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:31:23.972156
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "certificates",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("serial_number", sa.String(length=100), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("is_ca", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_certificates")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_not_after"), ["not_after"], unique=False)

    op.create_table(
        "configuration_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration_state")),
    )
    op.create_table(
        "periodic_tasks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_tasks")),
    )
    op.create_table(
        "statistics_snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("storage_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scan_start_time", sa.DateTime(), nullable=False),
        sa.Column("scan_end_time", sa.DateTime(), nullable=False),
        sa.Column("total_container_count", sa.BigInteger(), nullable=False),
        sa.Column("total_document_count", sa.BigInteger(), nullable=False),
        sa.Column("total_document_bytes", sa.BigInteger(), nullable=False),
        sa.Column("total_signature_count", sa.BigInteger(), nullable=False),
        sa.Column("containers_by_status", sa.JSON(), nullable=False),
        sa.Column("containers_by_save_type", sa.JSON(), nullable=False),
        sa.Column("signatures_by_level", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_snapshots")),
    )
    with op.batch_alter_table("statistics_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statistics_snapshots_scope_time", ["storage_id", "scan_start_time"], unique=False
        )

    op.create_table(
        "content_nodes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("storage_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("segment_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["storage_id"],
            ["storages.id"],
            name=op.f("fk_content_nodes_storage_id_storages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_nodes")),
        sa.UniqueConstraint(
            "storage_id",
            "parent_id",
            "segment_sha256",
            name=op.f("uq_content_nodes_storage_id_parent_id_segment_sha256"),
        ),
    )
    with op.batch_alter_table("content_nodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_content_nodes_children", ["storage_id", "parent_id", "id"], unique=False
        )

    op.create_table(
        "certificate_references",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("container_id", sa.String(length=36), nullable=False),
        sa.Column("storage_id", sa.Integer(), nullable=False),
        sa.Column("reference_type", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_certificate_references_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_references")),
        sa.UniqueConstraint(
            "certificate_sha256",
            "container_id",
            "reference_type",
            name=op.f("uq_certificate_references_certificate_sha256_container_id_reference_type"),
        ),
    )
    with op.batch_alter_table("certificate_references", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_references_container_id"), ["container_id"], unique=False
        )
        batch_op.create_index(
            "ix_certificate_references_storage", ["storage_id", "certificate_sha256"], unique=False
        )

    op.create_table(
        "content_placements",
        sa.Column("container_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_content_placements_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("container_id", name=op.f("pk_content_placements")),
    )
    with op.batch_alter_table("content_placements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_content_placements_node", ["node_id", "container_id"], unique=False
        )

    # Columns and indexes of existing tables are added in place (SQLite's ALTER TABLE ADD
    # COLUMN): batch mode would copy each table and, with foreign keys on, cannot drop
    # ``users``/``containers`` while other tables refer to them.
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("entry_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_events_storage_time", "audit_events", ["storage_id", "occurred_at"])
    op.create_index("ix_audit_events_user_name_time", "audit_events", ["user_name", "occurred_at"])
    op.create_index("ix_containers_retained", "containers", ["use_archive_ca", "id"])
    op.create_index(
        "ix_containers_totals",
        "containers",
        ["storage_id", "status", "save_type", "use_archive_ca", "document_size"],
    )
    op.add_column("problems", sa.Column("storage_id", sa.Integer(), nullable=True))
    op.add_column("problems", sa.Column("certificate_sha256", sa.String(length=64), nullable=True))
    op.add_column("problems", sa.Column("resolved_by", sa.String(length=200), nullable=True))
    op.create_index("ix_problems_certificate", "problems", ["certificate_sha256", "kind"])
    op.create_index("ix_problems_storage_open", "problems", ["storage_id", "resolved_at", "kind"])
    op.add_column("signatures", sa.Column("storage_id", sa.Integer(), nullable=True))
    op.create_index("ix_signatures_storage_level", "signatures", ["storage_id", "level"])
    op.add_column(
        "users", sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False)
    )

    _backfill()


BATCH = 2000


def _backfill() -> None:
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE signatures SET storage_id = "
            "(SELECT storage_id FROM containers WHERE containers.id = signatures.container_id)"
        )
    )
    connection.execute(
        sa.text(
            "UPDATE problems SET storage_id = "
            "(SELECT storage_id FROM containers WHERE containers.id = problems.container_id) "
            "WHERE container_id IS NOT NULL"
        )
    )
    _chain_existing_audit_entries(connection)
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    _place_existing_containers(connection)


def _chain_existing_audit_entries(connection: sa.Connection) -> None:
    plain = ("id", "action", "outcome", "user_id", "user_name", "remote_ip", "container_id")
    events = sa.table(
        "audit_events",
        *(sa.column(name) for name in plain),
        sa.column("occurred_at", sa.DateTime()),  # naive UTC, as stored
        sa.column("storage_id"),
        sa.column("details", sa.JSON()),
        sa.column("seq"),
        sa.column("prev_hash"),
        sa.column("entry_hash"),
    )
    seq, last = 0, GENESIS_HASH
    after = 0
    while True:
        rows = [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(BATCH)
            )
        ]
        if not rows:
            break
        seq, last = _chain_rows(rows, seq, last)
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("row_id"))
            .values(
                seq=sa.bindparam("new_seq"),
                prev_hash=sa.bindparam("new_prev"),
                entry_hash=sa.bindparam("new_hash"),
            ),
            [
                {
                    "row_id": r["id"],
                    "new_seq": r["seq"],
                    "new_prev": r["prev_hash"],
                    "new_hash": r["entry_hash"],
                }
                for r in rows
            ],
        )
        after = rows[-1]["id"]
    head = sa.table(
        "audit_chain_head",
        sa.column("id"),
        sa.column("seq"),
        sa.column("last_hash"),
        sa.column("updated_at", sa.DateTime()),
    )
    connection.execute(
        head.insert().values(id=1, seq=seq, last_hash=last, updated_at=_utcnow_naive())
    )


def _place_existing_containers(connection: sa.Connection) -> None:
    containers = sa.table(
        "containers",
        sa.column("id"),
        sa.column("storage_id"),
        sa.column("structure_name"),
        sa.column("name"),
    )
    after = ""
    while True:
        rows = list(
            connection.execute(
                sa.select(containers)
                .where(containers.c.id > after)
                .order_by(containers.c.id)
                .limit(BATCH)
            )
        )
        if not rows:
            break
        for row in rows:
            _place(connection, row.id, row.storage_id, row.structure_name, row.name)
        after = rows[-1].id


# ---- frozen copies of the code this migration was written with ----------------------------
# (records/audit.py's chain, version 1, and metadata/content.py's placement as of 0004; a
# migration never imports live code, so it stays what it was when it ran)

GENESIS_HASH = "0" * 64
CHAIN_VERSION = 1
ROOT = 0
UNNAMED = "(unnamed)"


def _utcnow_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _entry_hash(values: dict[str, Any], seq: int, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of an entry (``occurred_at`` naive UTC, as stored)."""
    moment = values["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [
        CHAIN_VERSION,
        seq,
        prev_hash,
        moment,
        values["action"],
        values["outcome"],
        values["user_id"],
        values["user_name"],
        values["remote_ip"],
        values["container_id"],
        values["storage_id"],
        values["details"],
    ]
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chain_rows(rows: list[dict[str, Any]], seq: int, prev_hash: str) -> tuple[int, str]:
    for values in rows:
        seq += 1
        values["seq"] = seq
        values["prev_hash"] = prev_hash
        prev_hash = _entry_hash(values, seq, prev_hash)
        values["entry_hash"] = prev_hash
    return seq, prev_hash


_NODES = sa.table(
    "content_nodes",
    sa.column("id"),
    sa.column("storage_id"),
    sa.column("parent_id"),
    sa.column("segment"),
    sa.column("segment_sha256"),
    sa.column("created_at", sa.DateTime()),
)
_PLACEMENTS = sa.table(
    "content_placements", sa.column("container_id"), sa.column("node_id"), sa.column("storage_id")
)


def _segments(structure_name: str | None, name: str) -> list[str]:
    parts = [p.strip() for p in structure_name.split("/") if p.strip()] if structure_name else []
    return [*parts, name.strip() or UNNAMED]


def _place(
    connection: sa.Connection,
    container_id: str,
    storage_id: int,
    structure_name: str | None,
    name: str,
) -> None:
    parent = ROOT
    for segment in _segments(structure_name, name):
        key = hashlib.sha256(segment.encode("utf-8")).hexdigest()
        lookup = sa.select(_NODES.c.id).where(
            _NODES.c.storage_id == storage_id,
            _NODES.c.parent_id == parent,
            _NODES.c.segment_sha256 == key,
        )
        found = connection.scalar(lookup)
        if found is None:
            values = {
                "storage_id": storage_id,
                "parent_id": parent,
                "segment": segment,
                "segment_sha256": key,
                "created_at": _utcnow_naive(),
            }
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            connection.execute(dialect.insert(_NODES).values(values).on_conflict_do_nothing())
            found = connection.scalar(lookup)
        assert found is not None
        parent = int(found)
    connection.execute(
        _PLACEMENTS.insert().values(
            container_id=container_id, node_id=parent, storage_id=storage_id
        )
    )


def downgrade() -> None:
    op.drop_column("users", "is_admin")
    op.drop_index("ix_signatures_storage_level", table_name="signatures")
    op.drop_column("signatures", "storage_id")
    op.drop_index("ix_problems_storage_open", table_name="problems")
    op.drop_index("ix_problems_certificate", table_name="problems")
    op.drop_column("problems", "resolved_by")
    op.drop_column("problems", "certificate_sha256")
    op.drop_column("problems", "storage_id")
    op.drop_index("ix_containers_totals", table_name="containers")
    op.drop_index("ix_containers_retained", table_name="containers")
    op.drop_index("ix_audit_events_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_user_name_time", table_name="audit_events")
    op.drop_index("ix_audit_events_storage_time", table_name="audit_events")
    op.drop_column("audit_events", "entry_hash")
    op.drop_column("audit_events", "prev_hash")
    op.drop_column("audit_events", "seq")

    with op.batch_alter_table("content_placements", schema=None) as batch_op:
        batch_op.drop_index("ix_content_placements_node")

    op.drop_table("content_placements")
    with op.batch_alter_table("certificate_references", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_references_storage")
        batch_op.drop_index(batch_op.f("ix_certificate_references_container_id"))

    op.drop_table("certificate_references")
    with op.batch_alter_table("content_nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_content_nodes_children")

    op.drop_table("content_nodes")
    with op.batch_alter_table("statistics_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_statistics_snapshots_scope_time")

    op.drop_table("statistics_snapshots")
    op.drop_table("periodic_tasks")
    op.drop_table("configuration_state")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_not_after"))

    op.drop_table("certificates")
    op.drop_table("audit_chain_head")
