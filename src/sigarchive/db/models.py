"""Tables of the archive (SQLAlchemy 2 declarative). Schema changes go through Alembic.

The same tables serve SQLite (embedded default) and PostgreSQL (at scale); nothing here is
dialect-specific except the BIGINT/INTEGER variant SQLite needs for auto-increment keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Storage(Base):
    """A named partition of the archive (хранилище)."""

    __tablename__ = "storages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Policy: documents uploaded here are always retained (as if UseArchiveCa=true).
    require_retention: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Document storage plugin for retained documents when the upload names none
    #: (None: the database).
    document_plugin: Mapped[str | None] = mapped_column(String(200))


class User(Base):
    """An API client (source system). Only the SHA-256 of its random token is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: An operator: sees every storage in the metadata tree and the server-level nodes.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    storages: Mapped[list[Storage]] = relationship(secondary="user_storages", lazy="selectin")


class UserStorage(Base):
    """Grant of a storage to a user."""

    __tablename__ = "user_storages"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    storage_id: Mapped[int] = mapped_column(
        ForeignKey("storages.id", ondelete="CASCADE"), primary_key=True
    )


class Container(Base):
    """One signed document with its signatures, addressed by a UUID."""

    __tablename__ = "containers"
    __table_args__ = (
        Index("ix_containers_storage_created", "storage_id", "created_at"),
        Index("ix_containers_status_due", "status", "next_attempt_at"),
        # metadata statistics (index-only aggregates) and the fixity check's walk
        Index(
            "ix_containers_totals",
            "storage_id",
            "status",
            "save_type",
            "use_archive_ca",
            "document_size",
        ),
        Index("ix_containers_retained", "use_archive_ca", "id"),
        # the end-of-storage sweep, run every worker round: Temporary containers by status
        # and ArchiveDate, so it never scans the table
        Index("ix_containers_storage_end", "save_type", "status", "archive_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storages.id"), index=True)
    source_system_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(1000))
    structure_name: Mapped[str | None] = mapped_column(String(2000))
    save_type: Mapped[int] = mapped_column(SmallInteger)
    archive_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    use_archive_ca: Mapped[bool] = mapped_column(Boolean, default=False)
    archive_ca_plugin: Mapped[str | None] = mapped_column(String(200))
    document_type: Mapped[str] = mapped_column(String(255))
    document_size: Mapped[int] = mapped_column(BigInteger)
    #: {"sha256": "<base64>", ...}: every digest of the document computed so far.
    document_digests: Mapped[dict[str, str]] = mapped_column(JSON)
    #: Where the retained document lives (None when only signatures and digests are kept).
    document_location: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[int] = mapped_column(SmallInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signature_update_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Work leasing (see workers/): who holds the container and until when.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    storage: Mapped[Storage] = relationship(lazy="joined")
    source_system: Mapped[User] = relationship(lazy="joined")
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="container",
        order_by="Signature.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class Signature(Base):
    """One uploaded CMS signature and its current (augmented) form."""

    __tablename__ = "signatures"
    __table_args__ = (Index("ix_signatures_storage_level", "storage_id", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    container_id: Mapped[str] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    #: The container's storage, copied for per-storage statistics (set on insert).
    storage_id: Mapped[int | None] = mapped_column(Integer)
    #: Exactly the bytes that were uploaded; never changed.
    original: Mapped[bytes] = mapped_column(LargeBinary)
    #: The newest augmented form (CAdES-T ... CAdES-A); None until enhanced.
    enhanced: Mapped[bytes | None] = mapped_column(LargeBinary)
    digest_algorithm: Mapped[str] = mapped_column(String(32))
    document_digest: Mapped[bytes] = mapped_column(LargeBinary)
    is_attached: Mapped[bool] = mapped_column(Boolean)
    level: Mapped[str] = mapped_column(String(16))
    signer_subject: Mapped[str | None] = mapped_column(Text)
    signing_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The latest validation report (ETSI EN 319 102-1 vocabulary), JSON.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    container: Mapped[Container] = relationship(back_populates="signatures")


@event.listens_for(Signature, "before_insert")
def _signature_storage(_mapper: Any, _connection: Any, signature: Signature) -> None:
    if signature.storage_id is None and signature.container is not None:
        signature.storage_id = signature.container.storage_id


class AuditEvent(Base):
    """One action of the system, with who did it and from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_time", "action", "occurred_at"),
        Index("ix_audit_events_user_time", "user_id", "occurred_at"),
        Index("ix_audit_events_container_time", "container_id", "occurred_at"),
        Index("ix_audit_events_storage_time", "storage_id", "occurred_at"),
        Index("ix_audit_events_user_name_time", "user_name", "occurred_at"),
        Index("ix_audit_events_seq", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_name: Mapped[str | None] = mapped_column(String(200))
    remote_ip: Mapped[str | None] = mapped_column(String(64))
    container_id: Mapped[str | None] = mapped_column(String(36))
    storage_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Hash chain (``records/audit.py``): position, previous entry's hash, own hash.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class TrustAnchor(Base):
    """A certificate the validation trusts as the root of a path (EN 319 102-1 trust anchor)."""

    __tablename__ = "trust_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    #: "configured" (by an operator) or "development" (the embedded development PKI).
    source: Mapped[str] = mapped_column(String(32), default="configured")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Problem(Base):
    """Something an operator must look at: a failing enhancement, an unreachable TSA, …"""

    __tablename__ = "problems"
    __table_args__ = (
        Index("ix_problems_kind_open", "kind", "resolved_at"),
        Index("ix_problems_container", "container_id", "kind"),
        Index("ix_problems_storage_open", "storage_id", "resolved_at", "kind"),
        Index("ix_problems_certificate", "certificate_sha256", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    container_id: Mapped[str | None] = mapped_column(String(36))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The container's storage (None for archive-wide problems such as an expiring TSA).
    storage_id: Mapped[int | None] = mapped_column(Integer)
    #: The certificate concerned (expiry reports).
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Who resolved it (a user name, or the system when the cause went away).
    resolved_by: Mapped[str | None] = mapped_column(String(200))


class StoredDocument(Base):
    """A document kept in the database by the built-in ``database`` storage plugin."""

    __tablename__ = "stored_documents"

    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set once every chunk is written; until then the document is not served.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DocumentChunk(Base):
    """Up to 1 MiB of a stored document, in order of ``seq``."""

    __tablename__ = "document_chunks"

    location: Mapped[str] = mapped_column(
        ForeignKey("stored_documents.location", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PostEnhancementTask(Base):
    """A post-enhancement plugin still to be run for a container (retried until it succeeds).

    Claimed with a lease like containers are (see ``archive/leases.py``).
    """

    __tablename__ = "post_enhancement_tasks"
    __table_args__ = (
        UniqueConstraint("container_id", "plugin"),
        Index("ix_post_enhancement_tasks_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    container_id: Mapped[str] = mapped_column(ForeignKey("containers.id", ondelete="CASCADE"))
    plugin: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
