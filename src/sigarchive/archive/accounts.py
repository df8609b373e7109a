"""Storages, users (source systems) and their grants; bearer-token authentication."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sigarchive.db.engine import Database
from sigarchive.db.models import Storage, User
from sigarchive.errors import Conflict, InvalidInput, NotFound, Unauthorized
from sigarchive.records.audit import Actor, record

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is a safe at-rest form (no KDF needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    name: str
    storage_ids: frozenset[int]
    #: An operator (``sigarchive user create --admin``): reads every storage's metadata and
    #: the server-level nodes, changes configuration. Container access still needs grants.
    is_admin: bool = False


def create_storage(session: Session, name: str, actor: Actor) -> Storage:
    name = name.strip()
    if not name:
        raise InvalidInput("A storage needs a non-empty name", code="InvalidName")
    if session.scalar(select(Storage).where(Storage.name == name)) is not None:
        raise Conflict(f"A storage named {name!r} already exists", code="StorageExists")
    storage = Storage(name=name)
    session.add(storage)
    session.flush()
    record(session, "storage.create", actor, storage_id=storage.id, details={"name": name})
    return storage


def create_user(
    session: Session, name: str, storage_ids: list[int], actor: Actor, *, is_admin: bool = False
) -> tuple[User, str]:
    """Create a user granted ``storage_ids``; returns it with its token (shown only once)."""
    name = name.strip()
    if not name:
        raise InvalidInput("A user needs a non-empty name", code="InvalidName")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"A user named {name!r} already exists", code="UserExists")
    storages = [_storage(session, storage_id) for storage_id in dict.fromkeys(storage_ids)]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    user = User(name=name, token_sha256=hash_token(token), storages=storages, is_admin=is_admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(f"A user named {name!r} already exists", code="UserExists") from exc
    record(
        session,
        "user.create",
        actor,
        details={
            "user": name,
            "userId": user.id,
            "storages": [s.id for s in storages],
            "admin": is_admin,
        },
    )
    return user, token


def grant(session: Session, user_name: str, storage_id: int, actor: Actor) -> None:
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise NotFound(f"No user named {user_name!r}", code="UserNotFound")
    storage = _storage(session, storage_id)
    if storage not in user.storages:
        user.storages.append(storage)
    record(session, "user.grant", actor, storage_id=storage_id, details={"user": user_name})


def authenticate(session: Session, token: str) -> AuthenticatedUser:
    user = session.scalar(select(User).where(User.token_sha256 == hash_token(token)))
    if user is None:
        raise Unauthorized("Unknown API token", code="InvalidToken")
    return AuthenticatedUser(
        user.id, user.name, frozenset(s.id for s in user.storages), is_admin=user.is_admin
    )


def list_storages(session: Session, storage_ids: frozenset[int] | None = None) -> list[Storage]:
    query = select(Storage).order_by(Storage.id)
    if storage_ids is not None:
        query = query.where(Storage.id.in_(storage_ids))
    return list(session.scalars(query))


def granted_storages(db: Database, storage_ids: frozenset[int]) -> list[tuple[int, str]]:
    """(id, name) of the storages a user may upload into and read from, by id."""
    with db.session() as session:
        return [(s.id, s.name) for s in list_storages(session, storage_ids)]


def _storage(session: Session, storage_id: int) -> Storage:
    storage = session.get(Storage, storage_id)
    if storage is None:
        raise NotFound(f"No storage with id {storage_id}", code="StorageNotFound")
    return storage
