"""GET /api/user/storages."""

from __future__ import annotations

from fastapi import APIRouter

from sigarchive.api.deps import CurrentUser, ServicesDep
from sigarchive.api.schemas import Envelope, IdName
from sigarchive.archive.accounts import granted_storages

router = APIRouter(prefix="/api/user", tags=["user"])


@router.get("/storages", response_model=Envelope[list[IdName]])
def storages(user: CurrentUser, services: ServicesDep) -> Envelope[list[IdName]]:
    """The storages this user may upload into and read from."""
    rows = granted_storages(services.db, user.storage_ids)
    return Envelope(data=[IdName(id=id_, name=name) for id_, name in rows])
