"""The configuration section: server-level and per-storage settings, shadowed to a file.

The seed's Configuration section: configuration "should be shadowed to a file on the file
system for easy editing and pre-configuration outside the server", "loaded on the fly", and
"access and modify all configuration through the same interfaces". Here:

- the file ``<data>/config/sigarchive-config.json`` holds ``{"server": {…}, "storages":
  {"<id>": {…}}}``; it is created with the defaults on first use, and an operator may edit it
  (or write it before the first start);
- every read checks the file's stat (mtime, size, inode) and reloads it when it changed, so an
  edit is picked up without a restart; an invalid file is reported (problem
  ``configuration-invalid``) and the last valid content stays in force;
- the tree nodes ``server/config`` and ``repositories/<id>/config`` read and write it; a write
  re-reads the file under an exclusive lock, validates, and replaces the file atomically;
- every change is audited once (``configuration.change``, with each changed key's old and new
  value): by the API user who made it, or as ``config-file`` when an edit of the file is first
  noticed. ``configuration_state`` remembers the content last audited; the process that moves
  it (under the row/database lock) is the one that audits, so several processes noticing the
  same edit record it once;
- storage settings the archive keeps in ``storages`` columns (``requireRetention``,
  ``documentPlugin``) are read from the database and written to it; the file shadows them, and
  an edit of one of them in the file is applied to the database when noticed.

Process settings (database URL, TSA URLs …) stay in ``Settings`` (environment / TOML) and are
read once at start.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.metadata_models import ConfigurationState, table_of
from sigarchive.db.models import Storage, utcnow
from sigarchive.errors import InvalidInput, NotFound
from sigarchive.plugins.config import DATABASE
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

log = logging.getLogger("sigarchive.configuration")

FILE_ACTOR = Actor.system("config-file")
INVALID_PROBLEM = "configuration-invalid"


class ServerConfig(BaseModel):
    """Server-level settings (the ``server/config`` node)."""

    model_config = ConfigDict(extra="forbid")

    #: Seconds between scheduled statistics snapshots of every storage.
    statisticsSnapshotIntervalSeconds: int = Field(default=86400, ge=60)
    #: Seconds between two batches of the fixity check.
    fixityCheckIntervalSeconds: int = Field(default=600, ge=1)
    #: Retained documents re-read per batch (and at most this many bytes).
    fixityCheckBatchSize: int = Field(default=50, ge=1, le=10000)
    fixityCheckBatchBytes: int = Field(default=1024**3, ge=1)
    #: Seconds between two looks for certificates nearing expiry.
    certificateExpiryCheckIntervalSeconds: int = Field(default=86400, ge=60)
    #: Report certificates (signer, chain, TSA, OCSP) expiring within this many days.
    certificateExpiryWarningDays: int = Field(default=90, ge=1, le=36500)


class StorageConfig(BaseModel):
    """Per-storage settings (the ``repositories/<id>/config`` node)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=2000)
    #: Renew archive time-stamps this many days before the TSA certificate expires
    #: (None: the server's ``renewal_margin_days``).
    renewalMarginDays: int | None = Field(default=None, ge=0, le=36500)
    #: Retention policy (kept in ``storages``): retain every document uploaded here.
    requireRetention: bool | None = None
    #: Retention policy: document storage plugin when an upload names none ("database").
    documentPlugin: str | None = Field(default=None, max_length=200)


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig)
    storages: dict[str, StorageConfig] = Field(default_factory=dict)


#: StorageConfig fields whose truth is the storage's retention policy in ``storages``
#: (field → column), changed through :func:`set_storage_retention`.
DATABASE_FIELDS = {"requireRetention": "require_retention", "documentPlugin": "document_plugin"}
#: Read-only properties of a storage's config node.
READ_ONLY_STORAGE = ("id", "name", "created", "uri")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{"server.x": [old, new], …}`` for every key whose value differs."""
    before, after = _flatten(old), _flatten(new)
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def _dump(config: ConfigFile) -> bytes:
    data = config.model_dump(mode="json", exclude_none=False)
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


@dataclass(frozen=True)
class _Loaded:
    stat: tuple[int, int, int]
    config: ConfigFile


class ConfigurationStore:
    """The configuration file, re-read when it changes; writes go through :meth:`update`."""

    def __init__(
        self, path: Path, db: Database, known_plugins: Callable[[], list[str]] | None = None
    ) -> None:
        self.path = path
        self.db = db
        #: Names of the configured document storage plugins (``documentPlugin`` must be one).
        self.known_plugins = known_plugins or (lambda: [])
        self._lock = threading.RLock()
        self._loaded: _Loaded | None = None
        self._bad_stat: tuple[int, int, int] | None = None
        #: SHA-256 of the file content in force, and (that, error) as last observed.
        self._raw_sha = ""
        self._observed: tuple[str, str | None] | None = None
        #: Why the file on disk is not in force (None when it is).
        self.error: str | None = None

    # ---- reading ------------------------------------------------------------------------

    def current(self) -> ConfigFile:
        """The configuration in force, re-read first if the file changed.

        Only reads the file: safe to call inside any transaction. What a change means for
        the database (audit, database-backed fields, problems) is done by :meth:`observe`.
        """
        with self._lock:
            stat = self._stat()
            if stat is None:
                self._create_default()
                stat = self._stat()
            if self._loaded is not None and stat == self._loaded.stat:
                return self._loaded.config
            if stat is not None and stat == self._bad_stat and self._loaded is not None:
                return self._loaded.config
            return self._reload()

    def observe(self) -> None:
        """Record what changed in the file since it was last observed by any process: audit
        it once, apply database-backed fields, raise or resolve ``configuration-invalid``.
        Call it outside other transactions (the maintenance thread, configuration reads)."""
        with self._lock:
            self.current()
            if self._observed == (self._raw_sha, self.error):
                return
            with self.db.session() as session:
                if self.error is not None:
                    problems.report(
                        session, INVALID_PROBLEM, f"{self.path}: {self.error}", severity="error"
                    )
                else:
                    assert self._loaded is not None
                    old = self._lock_state(session)
                    if old is None or old.get("_sha256") != self._raw_sha:
                        config = self._loaded.config
                        self._apply_file_database_fields(session, old, config)
                        self._set_state(session, config, self._raw_sha)
                        self._audit(session, FILE_ACTOR, "file", old, config, None)
                    problems.resolve_open(session, INVALID_PROBLEM, resolved_by="config-file")
            self._observed = (self._raw_sha, self.error)

    def server(self) -> ServerConfig:
        return self.current().server

    def storage(self, storage_id: int) -> StorageConfig:
        return self.current().storages.get(str(storage_id)) or StorageConfig()

    def renewal_margin(self, storage_id: int) -> timedelta | None:
        """The storage's renewal margin if configured (used by enhancement)."""
        days = self.storage(storage_id).renewalMarginDays
        return timedelta(days=days) if days is not None else None

    def storage_properties(self, session: Session, storage: Storage) -> dict[str, Any]:
        """The ``repositories/<id>/config`` node: file settings, database-backed ones from
        the database, and read-only facts."""
        properties: dict[str, Any] = {
            "id": storage.id,
            "name": storage.name,
            "created": storage.created_at.isoformat(),
            "uri": f"repositories/{storage.id}",
        }
        properties.update(self.storage(storage.id).model_dump())
        properties["requireRetention"] = storage.require_retention
        properties["documentPlugin"] = storage.document_plugin or DATABASE
        return properties

    def server_properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.server().model_dump()
        properties["file"] = str(self.path)
        properties["fileError"] = self.error
        return properties

    # ---- writing ------------------------------------------------------------------------

    def update_server(self, actor: Actor, changes: Mapping[str, Any]) -> ServerConfig:
        def change(config: dict[str, Any]) -> None:
            config["server"] = {**config["server"], **changes}

        return self._update(actor, change, None, changes).server

    def update_storage(
        self, actor: Actor, storage_id: int, changes: Mapping[str, Any]
    ) -> StorageConfig:
        read_only = set(changes) & set(READ_ONLY_STORAGE)
        if read_only:
            raise InvalidInput(
                f"{', '.join(sorted(read_only))} cannot be changed through the configuration",
                code="ReadOnlyProperty",
            )

        def change(config: dict[str, Any]) -> None:
            storages = config.setdefault("storages", {})
            storages[str(storage_id)] = {**storages.get(str(storage_id), {}), **changes}

        with self.db.session() as session:
            if session.get(Storage, storage_id) is None:
                raise NotFound(f"No storage with id {storage_id}", code="StorageNotFound")
        return self._update(actor, change, storage_id, changes).storages[str(storage_id)]

    def _update(
        self,
        actor: Actor,
        change: Any,
        storage_id: int | None,
        changes: Mapping[str, Any],
    ) -> ConfigFile:
        if not changes:
            raise InvalidInput("No properties to change", code="NothingToChange")
        with self._lock, self._file_lock():
            self.observe()  # notice (and audit) an operator's edit before applying ours
            if self.error is not None:
                raise InvalidInput(
                    f"The configuration file {self.path} is invalid, fix it first: {self.error}",
                    code="ConfigurationFileInvalid",
                )
            assert self._loaded is not None
            data = self._loaded.config.model_dump(mode="json")
            change(data)
            try:
                config = ConfigFile.model_validate(data)
            except ValidationError as exc:
                raise InvalidInput(_describe(exc), code="InvalidConfiguration") from exc
            payload = _dump(config)
            with self.db.session() as session:
                old = self._lock_state(session)
                if storage_id is not None:
                    self._apply_database_fields(
                        session, actor, storage_id, config.storages[str(storage_id)], changes
                    )
                self._write_file(payload)
                self._set_state(session, config, _sha(payload))
                self._audit(session, actor, "api", old, config, storage_id)
            self._loaded = _Loaded(self._stat() or (0, 0, 0), config)
            self._raw_sha = _sha(payload)
            self._observed = (self._raw_sha, None)
            return config

    # ---- internals ----------------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / f".{self.path.name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write_file(self, payload: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        with partial.open("wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, self.path)

    def _create_default(self) -> None:
        with self._file_lock():
            if self.path.exists():
                return
            self._write_file(_dump(ConfigFile()))

    def _reload(self) -> ConfigFile:
        stat = self._stat()
        try:
            raw = self.path.read_bytes()
            config = ConfigFile.model_validate(json.loads(raw.decode("utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
            message = _describe(exc) if isinstance(exc, ValidationError) else str(exc)
            if self.error != message:
                log.error(
                    "configuration file %s is invalid, keeping the last valid: %s",
                    self.path,
                    message,
                )
            self.error = message
            self._bad_stat = stat
            if self._loaded is None:  # nothing valid yet: the defaults are in force
                self._loaded = _Loaded((0, 0, 0), ConfigFile())
            return self._loaded.config
        self.error = None
        self._bad_stat = None
        self._raw_sha = _sha(raw)
        self._loaded = _Loaded(stat or (0, 0, 0), config)
        return config

    def _lock_state(self, session: Session) -> dict[str, Any] | None:
        """Take the state row's lock (PostgreSQL row lock / SQLite write lock) and return the
        content last audited, with its hash under ``_sha256``; None before the first."""
        table = table_of(ConfigurationState)
        touched = (
            session.connection()
            .execute(update(table).where(table.c.id == 1).values(id=table.c.id))
            .rowcount
        )
        if not touched:
            return None
        state = session.get(ConfigurationState, 1, populate_existing=True)
        assert state is not None
        return {**state.content, "_sha256": state.sha256}

    def _set_state(self, session: Session, config: ConfigFile, sha256: str) -> None:
        content = config.model_dump(mode="json")
        state = session.get(ConfigurationState, 1)
        if state is None:
            session.execute(
                insert(table_of(ConfigurationState)).values(
                    id=1, sha256=sha256, content=content, changed_at=utcnow()
                )
            )
        else:
            state.sha256 = sha256
            state.content = content
            state.changed_at = utcnow()

    def _audit(
        self,
        session: Session,
        actor: Actor,
        source: str,
        old: dict[str, Any] | None,
        new: ConfigFile,
        storage_id: int | None,
    ) -> None:
        previous = {k: v for k, v in (old or {}).items() if k != "_sha256"}
        changes = diff(previous, new.model_dump(mode="json"))
        if not changes:
            return
        record(
            session,
            "configuration.change",
            actor,
            storage_id=storage_id,
            details={"source": source, "file": str(self.path), "changes": changes},
        )

    def _apply_database_fields(
        self,
        session: Session,
        actor: Actor,
        storage_id: int,
        settings: StorageConfig,
        fields: Iterable[str],
    ) -> None:
        """Set the retention policy fields named in ``fields`` (validated and audited as
        ``storage.retention`` by the Archive CA subsystem's own function)."""
        wanted = [f for f in fields if f in DATABASE_FIELDS]
        if not wanted:
            return
        set_storage_retention(
            session,
            storage_id,
            actor,
            require=settings.requireRetention if "requireRetention" in wanted else None,
            plugin=settings.documentPlugin if "documentPlugin" in wanted else None,
            known_plugins=self.known_plugins(),
        )

    def _apply_file_database_fields(
        self, session: Session, old: dict[str, Any] | None, config: ConfigFile
    ) -> None:
        """Apply retention fields an operator changed in the file (only those: a value changed
        elsewhere, e.g. by ``sigarchive storage retention``, is not overwritten by a stale
        file). A value the archive refuses (an unknown plugin) is reported, not applied."""
        before = (old or {}).get("storages", {})
        for key, settings in config.storages.items():
            if not key.isdigit() or session.get(Storage, int(key)) is None:
                continue
            changed = [
                field
                for field in DATABASE_FIELDS
                if getattr(settings, field) is not None
                and before.get(key, {}).get(field) != getattr(settings, field)
            ]
            plugin = settings.documentPlugin
            known = {DATABASE, "", *self.known_plugins()}
            if "documentPlugin" in changed and plugin is not None and plugin.strip() not in known:
                changed.remove("documentPlugin")
                problems.report(
                    session,
                    INVALID_PROBLEM,
                    f"{self.path}: storages.{key}.documentPlugin: no document storage plugin "
                    f"named {plugin!r} (not applied)",
                    severity="error",
                )
            self._apply_database_fields(session, FILE_ACTOR, int(key), settings, changed)


def set_storage_retention(
    session: Session,
    storage_id: int,
    actor: Actor,
    *,
    require: bool | None = None,
    plugin: str | None = None,
    known_plugins: Iterable[str] = (),
) -> Storage:
    """A storage's retention policy: whether every document is retained, and where by default
    (``plugin`` "" or "database": the database). Audited as ``storage.retention``."""
    storage = session.get(Storage, storage_id)
    if storage is None:
        raise NotFound(f"Storage {storage_id} not found", code="StorageNotFound")
    if require is not None:
        storage.require_retention = require
    if plugin is not None:
        name = plugin.strip()
        if name in ("", DATABASE):
            storage.document_plugin = None
        elif name not in set(known_plugins):
            raise InvalidInput(
                f"No document storage plugin named {name!r} in plugin-config.json",
                code="UnknownPlugin",
            )
        else:
            storage.document_plugin = name
    record(
        session,
        "storage.retention",
        actor,
        storage_id=storage.id,
        details={
            "requireRetention": storage.require_retention,
            "documentPlugin": storage.document_plugin or DATABASE,
        },
    )
    return storage


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}"
        for error in exc.errors()
    )
