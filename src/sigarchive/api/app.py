"""The FastAPI application: routers, error envelope, lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sigarchive import __version__
from sigarchive.api.multipart import sweep_spool
from sigarchive.api.routes import dictionary, documents, metadata, user
from sigarchive.config import Settings
from sigarchive.errors import ArchiveError
from sigarchive.runtime import ArchiveRuntime

log = logging.getLogger("sigarchive.api")


def envelope_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"data": None, "errorCode": code, "errorDescription": description},
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is opened and migrated when it starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ArchiveRuntime.open(settings, serve_devpki=True)
        app.state.runtime = runtime
        if removed := sweep_spool(settings.spool_dir):
            log.info("removed %d abandoned upload spool file(s)", removed)
        try:
            if settings.workers > 0:
                runtime.start_workers(settings.workers)
            yield
        finally:
            runtime.close()

    app = FastAPI(
        title="sigarchive",
        version=__version__,
        description="Long-term archive for electronically signed documents (CAdES-A).",
        docs_url="/swagger",
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.exception_handler(ArchiveError)
    async def _archive_error(_request: Request, exc: ArchiveError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("%s", exc)
        return envelope_error(exc.http_status, exc.code, exc.description)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}"
            for error in exc.errors()
        )
        return envelope_error(400, "InvalidInput", problems or "Invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized"}.get(
            exc.status_code, "HttpError"
        )
        return envelope_error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return envelope_error(500, "InternalError", "Internal server error")

    app.include_router(documents.router)
    app.include_router(dictionary.router)
    app.include_router(user.router)
    app.include_router(metadata.router)
    return app
