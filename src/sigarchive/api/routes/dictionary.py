"""GET /api/dictionary/*: stable numbers and their names."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sigarchive import __version__
from sigarchive.api.deps import CurrentUser, ServicesDep
from sigarchive.api.schemas import Envelope, IdName, StatusEntry
from sigarchive.domain import STATUS_NAMES, SaveType
from sigarchive.runtime import DEV_WARNING

router = APIRouter(prefix="/api/dictionary", tags=["dictionary"])


def _prefers_english(request: Request) -> bool:
    language = request.headers.get("accept-language", "").strip().lower()
    return language.startswith("en")


@router.get("/statuses", response_model=Envelope[list[StatusEntry]])
def statuses(request: Request, _user: CurrentUser) -> Envelope[list[StatusEntry]]:
    """Container status numbers with Russian and English names (`name` follows Accept-Language,
    Russian by default as in the original product)."""
    english = _prefers_english(request)
    return Envelope(
        data=[
            StatusEntry(
                id=int(entry.status),
                code=entry.code,
                name=entry.name_en if english else entry.name_ru,
                nameRu=entry.name_ru,
                nameEn=entry.name_en,
            )
            for entry in STATUS_NAMES
        ]
    )


@router.get("/system", response_model=Envelope[dict[str, Any]])
def system(services: ServicesDep, _user: CurrentUser) -> Envelope[dict[str, Any]]:
    """What this archive runs on; says loudly when the development PKI is in use."""
    return Envelope(
        data={
            "version": __version__,
            "database": services.db.engine.dialect.name,
            "tsaUrls": services.tsa_urls,
            "developmentPki": services.development_pki,
            "warning": DEV_WARNING if services.development_pki else None,
        }
    )


@router.get("/saveTypes", response_model=Envelope[list[IdName]])
def save_types(_user: CurrentUser) -> Envelope[list[IdName]]:
    """Save type numbers accepted by SaveType (the names are accepted too)."""
    return Envelope(data=[IdName(id=int(member), name=member.api_name) for member in SaveType])
