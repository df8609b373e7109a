"""GET /api/user/storages."""

from __future__ import annotations

from fastapi import APIRouter

from sigarchive.api.deps import CurrentUser, ServicesDep
from sigarchive.api.schemas import Envelope, IdName
from sigarchive.archive.accounts import list_storages

router = APIRouter(prefix="/api/user", tags=["user"])


@router.get("/storages", response_model=Envelope[list[IdName]])
def storages(user: CurrentUser, services: ServicesDep) -> Envelope[list[IdName]]:
    """The storages this user may upload into and read from."""
    with services.db.session() as session:
        rows = list_storages(session, user.storage_ids)
        return Envelope(data=[IdName(id=s.id, name=s.name) for s in rows])
