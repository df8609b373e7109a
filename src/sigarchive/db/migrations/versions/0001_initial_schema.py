"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:58:14.732637
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sigarchive.db.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", sigarchive.db.models.UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=True),
        sa.Column("remote_ip", sa.String(length=64), nullable=True),
        sa.Column("container_id", sa.String(length=36), nullable=True),
        sa.Column("storage_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_action_time", ["action", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_container_time", ["container_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index("ix_audit_events_user_time", ["user_id", "occurred_at"], unique=False)

    op.create_table(
        "storages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sigarchive.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storages")),
        sa.UniqueConstraint("name", name=op.f("uq_storages_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sigarchive.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_users_token_sha256")),
    )
    op.create_table(
        "containers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("storage_id", sa.Integer(), nullable=False),
        sa.Column("source_system_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("structure_name", sa.String(length=2000), nullable=True),
        sa.Column("save_type", sa.SmallInteger(), nullable=False),
        sa.Column("archive_until", sigarchive.db.models.UTCDateTime(), nullable=True),
        sa.Column("use_archive_ca", sa.Boolean(), nullable=False),
        sa.Column("archive_ca_plugin", sa.String(length=200), nullable=True),
        sa.Column("document_type", sa.String(length=255), nullable=False),
        sa.Column("document_size", sa.BigInteger(), nullable=False),
        sa.Column("document_digests", sa.JSON(), nullable=False),
        sa.Column("document_location", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sigarchive.db.models.UTCDateTime(), nullable=False),
        sa.Column("modified_at", sigarchive.db.models.UTCDateTime(), nullable=False),
        sa.Column("signature_update_date", sigarchive.db.models.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sigarchive.db.models.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sigarchive.db.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_system_id"], ["users.id"], name=op.f("fk_containers_source_system_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["storage_id"], ["storages.id"], name=op.f("fk_containers_storage_id_storages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
    )
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_containers_source_system_id"), ["source_system_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_containers_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_containers_status_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_containers_storage_created", ["storage_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_containers_storage_id"), ["storage_id"], unique=False)

    op.create_table(
        "user_storages",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("storage_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["storage_id"],
            ["storages.id"],
            name=op.f("fk_user_storages_storage_id_storages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_storages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "storage_id", name=op.f("pk_user_storages")),
    )
    op.create_table(
        "signatures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("container_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("enhanced", sa.LargeBinary(), nullable=True),
        sa.Column("digest_algorithm", sa.String(length=32), nullable=False),
        sa.Column("document_digest", sa.LargeBinary(), nullable=False),
        sa.Column("is_attached", sa.Boolean(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("signer_subject", sa.Text(), nullable=True),
        sa.Column("signing_time", sigarchive.db.models.UTCDateTime(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_signatures_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signatures_container_id"), ["container_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signatures_container_id"))

    op.drop_table("signatures")
    op.drop_table("user_storages")
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_containers_storage_id"))
        batch_op.drop_index("ix_containers_storage_created")
        batch_op.drop_index("ix_containers_status_due")
        batch_op.drop_index(batch_op.f("ix_containers_status"))
        batch_op.drop_index(batch_op.f("ix_containers_source_system_id"))

    op.drop_table("containers")
    op.drop_table("users")
    op.drop_table("storages")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_user_time")
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index("ix_audit_events_container_time")
        batch_op.drop_index("ix_audit_events_action_time")

    op.drop_table("audit_events")
