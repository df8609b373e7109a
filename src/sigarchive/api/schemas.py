"""Request and response bodies of the client API, with the seed's field names and casing."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """Every JSON response: ``data`` on success, ``errorCode``/``errorDescription`` on error."""

    data: T | None = None
    errorCode: str | None = None
    errorDescription: str | None = None


class IdName(BaseModel):
    id: int
    name: str


class SearchFiltersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    storageIds: list[int] | None = None
    name: str | None = None
    sourceSystemId: int | None = None
    status: int | None = None
    isArchived: bool | None = None


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: SearchFiltersBody | None = None
    pageSize: int = Field(default=10, ge=1, le=1000)
    page: int = Field(default=1, ge=1)


class DocumentSummary(BaseModel):
    id: str
    name: str
    status: int
    isArchived: bool


class SearchResult(BaseModel):
    documents: list[DocumentSummary]
    totalRecords: int


class DocumentDetails(BaseModel):
    storage: IdName
    sourceSystem: IdName
    hashes: list[str]
    signatures: list[str]
    isToBeSigned: bool
    useArchiveCa: bool
    documentType: str
    saveType: int
    structureName: str | None
    modifiedDate: datetime
    isCreateDate: datetime
    createDate: datetime
    signatureUpdateDate: datetime | None
    archiveUntilDate: datetime | None
    isAvailable: bool
    id: str
    name: str
    status: int
    isArchived: bool


class StatusEntry(BaseModel):
    id: int
    code: str
    name: str
    nameRu: str
    nameEn: str
