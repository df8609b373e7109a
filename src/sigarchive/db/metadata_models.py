"""Tables of the metadata repository (SPEC §6; the seed's Archiva content model).

The tree (``metadata/tree.py``) is the interface; these tables are how it is stored: every
facet has typed, indexed columns, never meaning hidden in strings (EXAMPLES.md: what Archiva's
users suffered). Containers, signatures, audit events and problems stay in ``models.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sigarchive.db.models import Base, BigId, UTCDateTime, utcnow


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, typed (``__table__`` is typed as a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


#: ``audit_chain_head.last_hash`` before the first entry.
GENESIS_HASH = "0" * 64


class AuditChainHead(Base):
    """The one row every audit append locks: the last sequence number and entry hash."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentNode(Base):
    """One segment of the content tree: a structure path element or a container name.

    ``parent_id`` 0 is the storage's ``content`` node. A node may be both a structure (it has
    child nodes) and a container name (containers are placed on it), as the same segment can
    be both (``Dept/X`` and a container named ``X`` in ``Dept``). Segments are found by their
    SHA-256 so that long names never exceed an index entry.
    """

    __tablename__ = "content_nodes"
    __table_args__ = (
        UniqueConstraint("storage_id", "parent_id", "segment_sha256"),
        Index("ix_content_nodes_children", "storage_id", "parent_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storages.id", ondelete="CASCADE"))
    parent_id: Mapped[int] = mapped_column(BigInteger)
    segment: Mapped[str] = mapped_column(Text)
    segment_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentPlacement(Base):
    """Where a container hangs in the content tree (its container-name node)."""

    __tablename__ = "content_placements"
    __table_args__ = (Index("ix_content_placements_node", "node_id", "container_id"),)

    container_id: Mapped[str] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[int] = mapped_column(BigInteger)
    storage_id: Mapped[int] = mapped_column(Integer)


class CertificateRecord(Base):
    """A certificate some container depends on (signer, chain, TSA, OCSP responder)."""

    __tablename__ = "certificates"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    serial_number: Mapped[str] = mapped_column(String(100))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    is_ca: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateReference(Base):
    """Container → certificate it depends on: the inverse of the dependency (seed §References)."""

    __tablename__ = "certificate_references"
    __table_args__ = (
        UniqueConstraint("certificate_sha256", "container_id", "reference_type"),
        Index("ix_certificate_references_storage", "storage_id", "certificate_sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_sha256: Mapped[str] = mapped_column(String(64))
    container_id: Mapped[str] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), index=True
    )
    storage_id: Mapped[int] = mapped_column(Integer)
    #: signer | chain | tsa | revocation
    reference_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatisticsSnapshot(Base):
    """Totals of one storage (or of the whole archive: ``storage_id`` None) at a moment."""

    __tablename__ = "statistics_snapshots"
    __table_args__ = (Index("ix_statistics_snapshots_scope_time", "storage_id", "scan_start_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    storage_id: Mapped[int | None] = mapped_column(Integer)
    #: scheduled | manual
    trigger: Mapped[str] = mapped_column(String(16))
    scan_start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    scan_end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    total_container_count: Mapped[int] = mapped_column(BigInteger)
    total_document_count: Mapped[int] = mapped_column(BigInteger)
    total_document_bytes: Mapped[int] = mapped_column(BigInteger)
    total_signature_count: Mapped[int] = mapped_column(BigInteger)
    #: {"<status number>": n}, {"<save type number>": n}, {"<level>": n}
    containers_by_status: Mapped[dict[str, int]] = mapped_column(JSON)
    containers_by_save_type: Mapped[dict[str, int]] = mapped_column(JSON)
    signatures_by_level: Mapped[dict[str, int]] = mapped_column(JSON)


class PeriodicTask(Base):
    """A scheduled task shared by every process: whoever moves ``next_run_at`` runs it."""

    __tablename__ = "periodic_tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Where a task that works in batches stopped (e.g. the fixity check's last container).
    cursor: Mapped[str | None] = mapped_column(String(200))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ConfigurationState(Base):
    """The configuration file's content as last applied, so each change is audited once."""

    __tablename__ = "configuration_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
