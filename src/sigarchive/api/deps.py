"""FastAPI dependencies: services, the authenticated user, the audit actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sigarchive.archive.accounts import AuthenticatedUser, authenticate
from sigarchive.errors import Unauthorized
from sigarchive.metadata.tree import Viewer
from sigarchive.records.audit import Actor
from sigarchive.runtime import ArchiveRuntime

_bearer = HTTPBearer(auto_error=False, description="API token from `sigarchive user create`")


def get_runtime(request: Request) -> ArchiveRuntime:
    runtime: ArchiveRuntime = request.app.state.runtime
    return runtime


ServicesDep = Annotated[ArchiveRuntime, Depends(get_runtime)]


def get_current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AuthenticatedUser:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Send 'Authorization: Bearer <token>'", code="MissingToken")
    with services.db.session() as session:
        return authenticate(session, credentials.credentials)


CurrentUser = Annotated[AuthenticatedUser, Depends(get_current_user)]


def get_actor(request: Request, user: CurrentUser) -> Actor:
    return Actor(user.id, user.name, request.client.host if request.client else None)


CurrentActor = Annotated[Actor, Depends(get_actor)]


def get_viewer(user: CurrentUser) -> Viewer:
    """The caller as a reader of the metadata tree (operators see every storage)."""
    return Viewer(user.id, user.name, user.is_admin, user.storage_ids)


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]
