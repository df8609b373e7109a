"""document storage plugins: documents in the database, post-enhancement tasks, storage policy

Locations written before plugins existed (files under <data>/documents) get the name of the
built-in storage that now serves them: "ab/<id>" becomes "local:ab/<id>".

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:28:24.351538
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_documents",
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("location", name=op.f("pk_stored_documents")),
    )
    op.create_table(
        "document_chunks",
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location"],
            ["stored_documents.location"],
            name=op.f("fk_document_chunks_location_stored_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location", "seq", name=op.f("pk_document_chunks")),
    )
    op.create_table(
        "post_enhancement_tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("container_id", sa.String(length=36), nullable=False),
        sa.Column("plugin", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_post_enhancement_tasks_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_enhancement_tasks")),
        sa.UniqueConstraint(
            "container_id", "plugin", name=op.f("uq_post_enhancement_tasks_container_id_plugin")
        ),
    )
    with op.batch_alter_table("post_enhancement_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_post_enhancement_tasks_due", ["due_at"], unique=False)

    with op.batch_alter_table("storages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_retention", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("document_plugin", sa.String(length=200), nullable=True))

    op.execute(
        "UPDATE containers SET document_location = 'local:' || document_location "
        "WHERE document_location IS NOT NULL AND document_location NOT LIKE '%:%'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE containers SET document_location = substr(document_location, 7) "
        "WHERE document_location LIKE 'local:%'"
    )
    with op.batch_alter_table("storages", schema=None) as batch_op:
        batch_op.drop_column("document_plugin")
        batch_op.drop_column("require_retention")

    with op.batch_alter_table("post_enhancement_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_post_enhancement_tasks_due")

    op.drop_table("post_enhancement_tasks")
    op.drop_table("document_chunks")
    op.drop_table("stored_documents")
