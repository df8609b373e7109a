"""Serving the development PKI: the Starlette app for ``/tsa``, ``/ocsp``, ``/crl``, ``/ca.crt``,
:class:`BackgroundServer` (any ASGI app with uvicorn in a thread on a loopback port) and
:class:`DevPkiServer`, which puts them together for the server process and for tests.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sigarchive.devpki.ocsp import DevOcspResponder
from sigarchive.devpki.pki import (
    DevPki,
    build_crl,
    ensure_dev_pki,
    stored_endpoint,
)
from sigarchive.devpki.tsa import DevTsa
from sigarchive.errors import ServiceUnavailable
from sigarchive.signatures.timestamps.protocol import TIMESTAMP_QUERY, TIMESTAMP_REPLY

log = logging.getLogger("sigarchive.devpki")

OCSP_REQUEST = "application/ocsp-request"  # RFC 6960 Appendix C.1
OCSP_RESPONSE = "application/ocsp-response"  # RFC 6960 Appendix C.2
PKIX_CRL = "application/pkix-crl"  # RFC 2585 §4.2
PKIX_CERT = "application/pkix-cert"  # RFC 2585 §4.1

#: Largest TSA or OCSP request read; real ones are well under 1 KiB.
MAX_REQUEST_SIZE = 64 * 1024

CRL_REFRESH = dt.timedelta(hours=1)


class _CrlCache:
    """The root's CRL, re-signed every :data:`CRL_REFRESH`."""

    def __init__(self, pki: DevPki) -> None:
        self._pki = pki
        self._lock = threading.Lock()
        self._der = b""
        self._made = dt.datetime.min.replace(tzinfo=dt.UTC)

    def get(self) -> bytes:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if now - self._made > CRL_REFRESH:
                self._der = build_crl(self._pki, now=now)
                self._made = now
            return self._der


async def _read_body(request: Request) -> bytes | None:
    """The request body, or ``None`` if it exceeds :data:`MAX_REQUEST_SIZE`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_SIZE:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def create_app(
    pki: DevPki,
    *,
    tsa: DevTsa | None = None,
    ocsp_responder: DevOcspResponder | None = None,
) -> Starlette:
    """The Starlette app serving ``/tsa``, ``/ocsp``, ``/crl`` and ``/ca.crt`` for ``pki``."""
    tsa = tsa or DevTsa.from_pki(pki)
    responder = ocsp_responder or DevOcspResponder.from_pki(pki)
    crls = _CrlCache(pki)
    root_der = pki.root.der

    async def tsa_endpoint(request: Request) -> Response:
        # RFC 3161 §3.4: application/timestamp-query in, application/timestamp-reply out;
        # problems are answered with a rejection TimeStampResp, not an HTTP error.
        if _media_type(request) not in (TIMESTAMP_QUERY, "application/timestamp-request"):
            reply = tsa.rejection("bad_request", f"Content-Type must be {TIMESTAMP_QUERY}")
        elif (body := await _read_body(request)) is None:
            reply = tsa.rejection("bad_request", "request too large")
        else:
            reply = tsa.respond(body)
        return Response(reply, media_type=TIMESTAMP_REPLY)

    async def ocsp_post(request: Request) -> Response:
        body = await _read_body(request)
        reply = (
            responder.respond(body) if body is not None else responder.error("malformed_request")
        )
        return Response(reply, media_type=OCSP_RESPONSE)

    async def ocsp_get(request: Request) -> Response:
        # RFC 6960 Appendix A.1: GET {url}/{url-encoding of base64 of the DER OCSPRequest}.
        encoded = str(request.path_params["encoded"])
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            body = b""
        return Response(responder.respond(body), media_type=OCSP_RESPONSE)

    async def crl_endpoint(request: Request) -> Response:
        return Response(crls.get(), media_type=PKIX_CRL)

    async def ca_endpoint(request: Request) -> Response:
        return Response(root_der, media_type=PKIX_CERT)

    async def index(request: Request) -> Response:
        return PlainTextResponse(
            "sigarchive DEVELOPMENT PKI -- NOT FOR PRODUCTION\n"
            "POST /tsa (RFC 3161), POST /ocsp and GET /ocsp/{base64} (RFC 6960), "
            "GET /crl, GET /ca.crt\n"
        )

    return Starlette(
        routes=[
            Route("/", index),
            Route("/tsa", tsa_endpoint, methods=["POST"]),
            Route("/ocsp", ocsp_post, methods=["POST"]),
            Route("/ocsp/{encoded:path}", ocsp_get, methods=["GET"]),
            Route("/crl", crl_endpoint, methods=["GET"]),
            Route("/ca.crt", ca_endpoint, methods=["GET"]),
        ]
    )


# ----------------------------------------------------------------------------- serving


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0 = a free port), ready for uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceUnavailable(
            f"cannot listen on {host}:{port}: {exc}", code="PortUnavailable"
        ) from exc
    return sock


class BackgroundServer:
    """Runs an ASGI app with uvicorn in a daemon thread (``start()`` / ``stop()``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._sock = sock
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked when started with port 0)."""
        if self._sock is None:
            raise RuntimeError("not started")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        if self._sock is None:
            self._sock = bind_socket(self._host, self._port)
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        sock = self._sock
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"asgi-{self.port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServiceUnavailable(
                    f"server on port {sock.getsockname()[1]} did not start", code="PortUnavailable"
                )
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DevPkiServer:
    """The development PKI of ``directory``, created if needed, served on loopback.

    ``port`` is used when the PKI is created (0 = a free one); afterwards the port stored
    with the PKI is used, since its certificates point there. ``host`` is the name put in
    the certificates' URLs, ``bind`` the loopback address listened on.
    """

    def __init__(
        self,
        directory: Path,
        *,
        host: str = "localhost",
        port: int = 0,
        bind: str = "127.0.0.1",
    ) -> None:
        self.directory = directory
        self._host = host
        self._port = port
        self._bind = bind
        self._pki: DevPki | None = None
        self._server: BackgroundServer | None = None

    @property
    def pki(self) -> DevPki:
        if self._pki is None:
            raise RuntimeError("not started")
        return self._pki

    def start(self) -> DevPki:
        stored = stored_endpoint(self.directory)
        sock = bind_socket(self._bind, stored[1] if stored else self._port)
        try:
            pki = ensure_dev_pki(self.directory, self._host, port=sock.getsockname()[1])
            if pki.port != sock.getsockname()[1]:  # another process created it meanwhile
                sock.close()
                sock = bind_socket(self._bind, pki.port)
            server = BackgroundServer(create_app(pki), host=self._bind, sock=sock).start()
        except BaseException:
            sock.close()
            raise
        self._pki, self._server = pki, server
        log.warning(
            "DEVELOPMENT PKI serving TSA %s, OCSP %s and CRL %s -- NOT FOR PRODUCTION: its "
            "time-stamps and revocation answers prove nothing; configure real TSAs and trust "
            "anchors for production (root: %s)",
            pki.tsa_url,
            pki.ocsp_url,
            pki.crl_url,
            pki.root.cert_path,
        )
        return pki

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> DevPki:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
