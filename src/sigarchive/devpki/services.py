"""HTTP services of the development PKI: RFC 3161 TSA, RFC 6960 OCSP responder, CRL.

:class:`DevTsa` and :class:`DevOcspResponder` are protocol cores without I/O (bytes in,
bytes out, never raising on bad input); :func:`create_app` wraps them in a Starlette app;
:class:`BackgroundServer` runs any ASGI app with uvicorn in a thread on a loopback port and
:class:`DevPkiServer` puts the three together for the server process and for tests.

Speed: keys and certificates are parsed once and every constant part of a token (signer
identifier, ESS signing-certificate-v2 attribute, certificate) is encoded once, so a token
costs one RSA signature plus a little asn1crypto work (see ``bench/bench_tsa.py``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn
from asn1crypto import algos, cms, core, ocsp, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sigarchive.devpki.pki import (
    DevCredential,
    DevPki,
    PrivateKey,
    Revocation,
    build_crl,
    ensure_dev_pki,
    stored_endpoint,
)
from sigarchive.errors import ServiceUnavailable
from sigarchive.signatures import SUPPORTED_DIGESTS
from sigarchive.signatures.timestamps.protocol import (
    TIMESTAMP_QUERY,
    TIMESTAMP_REPLY,
    TimeStampResp,
)

log = logging.getLogger("sigarchive.devpki")

OCSP_REQUEST = "application/ocsp-request"  # RFC 6960 Appendix C.1
OCSP_RESPONSE = "application/ocsp-response"  # RFC 6960 Appendix C.2
PKIX_CRL = "application/pkix-crl"  # RFC 2585 §4.2
PKIX_CERT = "application/pkix-cert"  # RFC 2585 §4.1

#: Largest TSA or OCSP request read; real ones are well under 1 KiB.
MAX_REQUEST_SIZE = 64 * 1024

#: Imprint algorithms the dev TSA accepts: the archive's, except SHA-1 (too weak to stamp).
TSA_DIGESTS: frozenset[str] = SUPPORTED_DIGESTS - {"sha1"}

OCSP_VALIDITY = dt.timedelta(days=1)
CRL_REFRESH = dt.timedelta(hours=1)

_Signer = Callable[[bytes], bytes]


def _signing_function(key: PrivateKey) -> tuple[str, str, _Signer]:
    """(digest algorithm, asn1crypto signature algorithm, sign(data)) for a private key."""
    if isinstance(key, rsa.RSAPrivateKey):
        return (
            "sha256",
            "sha256_rsa",
            lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256", "sha256_ecdsa", lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))
    # RFC 8419 §3: Ed25519 in CMS signs with SHA-512 as the message digest algorithm.
    return "sha512", "ed25519", key.sign


# ----------------------------------------------------------------------------- TSA


class SerialNumbers:
    """Unique TSTInfo serial numbers (RFC 3161 §2.4.2), also across processes.

    ``microseconds since 1970 << 64 | random per-process tag << 32 | counter``: a counter
    keeps them unique within a process even if the clock stands still or steps back, the
    random tag (re-drawn after ``fork``) across processes. About 115 bits, under the 160
    that requesters must handle.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._tag = 0
        self._counter = 0

    def next(self) -> int:
        with self._lock:
            if os.getpid() != self._pid:
                self._pid = os.getpid()
                self._tag = secrets.randbits(32)
                self._counter = 0
            self._counter = (self._counter + 1) & 0xFFFFFFFF
            return (time.time_ns() // 1000) << 64 | self._tag << 32 | self._counter


class DevTsa:
    """An RFC 3161 time-stamping authority in memory.

    :meth:`respond` answers a DER TimeStampReq with a DER TimeStampResp and never raises;
    :meth:`timestamp` makes it a :class:`~sigarchive.signatures.timestamps.TimeStamper`
    too (no HTTP), handy for tests. Thread-safe.
    """

    def __init__(
        self,
        credential: DevCredential,
        *,
        policy: str,
        accuracy_seconds: int = 1,
        digests: frozenset[str] = TSA_DIGESTS,
    ) -> None:
        cert = credential.certificate
        self.policy = policy
        self.digests = digests
        self._digest_algorithm, self._signature_algorithm, self._sign = _signing_function(
            credential.private_key
        )
        self._serials = SerialNumbers()
        # Constant parts, encoded once and re-loaded (lazily, cheaply) for every token.
        self._cert_der = credential.der
        self._sid_der = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": cert.issuer, "serial_number": cert.serial_number},
        ).dump()
        self._tsa_name_der = x509.GeneralName(name="directory_name", value=cert.subject).dump()
        self._policy_der = core.ObjectIdentifier(policy).dump()
        self._accuracy_der = tsp.Accuracy({"seconds": accuracy_seconds}).dump()
        self._content_type_der = cms.CMSAttribute(
            {"type": "content_type", "values": ["tst_info"]}
        ).dump()
        digest_algorithm = algos.DigestAlgorithm({"algorithm": self._digest_algorithm})
        self._digest_algorithm_der = digest_algorithm.dump()
        self._digest_algorithms_der = cms.DigestAlgorithms([digest_algorithm]).dump()
        self._signature_algorithm_der = algos.SignedDigestAlgorithm(
            {"algorithm": self._signature_algorithm}
        ).dump()
        self._certificates_der = cms.CertificateSet([cert]).dump()
        # RFC 5816 §2.2.1 / RFC 5035 §5.4: ESS signing-certificate-v2 identifies the TSA
        # certificate by its SHA-256 hash (the default, hence hashAlgorithm omitted) and
        # issuer/serial.
        self._ess_der = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(self._cert_der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        x509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        ).dump()

    @classmethod
    def from_pki(cls, pki: DevPki) -> DevTsa:
        return cls(pki.tsa, policy=pki.tsa_policy)

    # -- TimeStamper

    def timestamp(self, digest: bytes, algorithm: str) -> bytes:
        """A TimeStampToken (DER) over ``digest``, without HTTP and without a nonce."""
        if algorithm not in self.digests or len(digest) != hashlib.new(algorithm).digest_size:
            raise ValueError(f"cannot time-stamp a {len(digest)}-byte {algorithm} digest")
        imprint = tsp.MessageImprint(
            {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}
        )
        return self._token(imprint, nonce=None, cert_req=True)

    # -- protocol

    def respond(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq; a rejection for anything bad."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            _ = request.native  # parse everything now: garbage must fail here
        except Exception as exc:  # asn1crypto raises many types on garbage
            return self.rejection("bad_data_format", f"not a DER TimeStampReq: {exc}")

        # RFC 3161 §2.4.1 / §2.4.2: version 1; known hash algorithm with a digest of its size;
        # requested policy must be ours; no extension is recognised, so any is refused.
        if request["version"].native != "v1":
            return self.rejection("bad_request", "TimeStampReq version must be 1")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in self.digests:
            return self.rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
        if len(imprint["hashed_message"].native) != hashlib.new(algorithm).digest_size:
            return self.rejection("bad_data_format", f"wrong length for a {algorithm} digest")
        policy = request["req_policy"]
        if policy.native is not None and policy.dotted != self.policy:
            return self.rejection("unaccepted_policy", f"only policy {self.policy} is offered")
        if request["extensions"].native:
            return self.rejection("unaccepted_extensions", "no extension is supported")

        try:
            token = self._token(
                tsp.MessageImprint.load(imprint.dump()),
                nonce=request["nonce"].native,
                cert_req=bool(request["cert_req"].native),
            )
            return bytes(
                TimeStampResp(
                    {
                        "status": {"status": "granted"},
                        "time_stamp_token": cms.ContentInfo.load(token),
                    }
                ).dump()
            )
        except Exception:  # never a 500: the client gets systemFailure
            log.exception("development TSA failed to sign")
            return self.rejection("system_failure", "the TSA failed to sign")

    def rejection(self, failure: str, message: str) -> bytes:
        """A TimeStampResp with status rejection and one PKIFailureInfo bit (§2.4.2)."""
        return bytes(
            TimeStampResp(
                {
                    "status": {
                        "status": "rejection",
                        "status_string": [message[:200]],
                        "fail_info": tsp.PKIFailureInfo({failure}),
                    }
                }
            ).dump()
        )

    def _token(self, imprint: tsp.MessageImprint, *, nonce: int | None, cert_req: bool) -> bytes:
        """DER TimeStampToken. Each layer is dumped once and re-loaded lazily into the next:
        asn1crypto then copies bytes instead of re-encoding (and deep-copying) whole trees."""
        # genTime in UTC (§2.4.2), to the millisecond; asn1crypto drops trailing zeros of the
        # fraction as DER and §2.4.2 require.
        now = dt.datetime.now(dt.UTC)
        tst_fields: dict[str, object] = {
            "version": "v1",
            "policy": core.ObjectIdentifier.load(self._policy_der),
            "message_imprint": imprint,
            "serial_number": self._serials.next(),
            "gen_time": now.replace(microsecond=now.microsecond // 1000 * 1000),
            "accuracy": tsp.Accuracy.load(self._accuracy_der),
            "tsa": x509.GeneralName.load(self._tsa_name_der),
        }
        if nonce is not None:
            tst_fields["nonce"] = nonce  # §2.4.2: MUST echo the request's nonce
        tst_der = tsp.TSTInfo(tst_fields).dump()

        # RFC 5652 §5.3/§11: content-type (id-ct-TSTInfo, RFC 3161 §2.4.2) and message-digest,
        # plus ESS signing-certificate-v2. §5.4: the signature covers the DER of the
        # SET OF attributes, which is what CMSAttributes.dump() gives.
        signed_attrs_der = cms.CMSAttributes(
            [
                cms.CMSAttribute.load(self._content_type_der),
                cms.CMSAttribute(
                    {
                        "type": "message_digest",
                        "values": [hashlib.new(self._digest_algorithm, tst_der).digest()],
                    }
                ),
                cms.CMSAttribute.load(self._ess_der),
            ]
        ).dump()
        signer_info_der = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": algos.DigestAlgorithm.load(self._digest_algorithm_der),
                "signed_attrs": cms.CMSAttributes.load(signed_attrs_der),
                "signature_algorithm": algos.SignedDigestAlgorithm.load(
                    self._signature_algorithm_der
                ),
                "signature": self._sign(signed_attrs_der),
            }
        ).dump()
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": cms.DigestAlgorithms.load(self._digest_algorithms_der),
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_der),
            },
            "signer_infos": cms.SignerInfos([cms.SignerInfo.load(signer_info_der)]),
        }
        if cert_req:
            # §2.4.1: with certReq the TSA certificate named by the ESS attribute MUST be there.
            signed_data["certificates"] = cms.CertificateSet.load(self._certificates_der)
        signed_data_der = cms.SignedData(signed_data).dump()
        return bytes(
            cms.ContentInfo(
                {"content_type": "signed_data", "content": cms.SignedData.load(signed_data_der)}
            ).dump()
        )


# ----------------------------------------------------------------------------- OCSP


class DevOcspResponder:
    """An RFC 6960 OCSP responder for the certificates issued by one CA, in memory.

    Signs with a delegated responder certificate (§4.2.2.2). A certificate of that CA is
    ``good`` unless listed in ``revocations``; entries for another issuer are ``unknown``,
    and a request with none of ours gets ``unauthorized`` (§2.3).
    """

    def __init__(
        self,
        issuer: DevCredential,
        responder: DevCredential,
        revocations: Mapping[int, Revocation] | None = None,
        *,
        validity: dt.timedelta = OCSP_VALIDITY,
    ) -> None:
        self._issuer_name_der = issuer.certificate.subject.dump()
        self._issuer_key_bits = bytes(issuer.certificate.public_key["public_key"])
        self._issuer_hashes: dict[str, tuple[bytes, bytes]] = {}
        self._revocations = dict(revocations or {})
        self._validity = validity
        self._responder_cert_der = responder.der
        # §4.2.1: KeyHash is the SHA-1 hash of the responder's public key bit string.
        self._responder_key_hash = hashlib.sha1(
            bytes(responder.certificate.public_key["public_key"])
        ).digest()
        _, self._signature_algorithm, self._sign = _signing_function(responder.private_key)

    @classmethod
    def from_pki(cls, pki: DevPki) -> DevOcspResponder:
        return cls(pki.root, pki.ocsp, pki.revocations)

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse for a DER OCSPRequest; never raises."""
        try:
            request = ocsp.OCSPRequest.load(request_der, strict=True)
            _ = request.native
            tbs = request["tbs_request"]
            entries = list(tbs["request_list"])
            if not entries:
                raise ValueError("empty requestList")
        except Exception:  # asn1crypto raises many types on garbage
            return self.error("malformed_request")
        try:
            return self._answer(tbs, entries)
        except Exception:
            log.exception("development OCSP responder failed")
            return self.error("internal_error")

    def _answer(self, tbs: ocsp.TBSRequest, entries: list[ocsp.Request]) -> bytes:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        responses = []
        ours = 0
        for entry in entries:
            cert_id = entry["req_cert"]
            status = self._status(cert_id)
            ours += status.name != "unknown"
            responses.append(
                {
                    "cert_id": ocsp.CertId.load(cert_id.dump()),
                    "cert_status": status,
                    "this_update": now,
                    "next_update": now + self._validity,
                }
            )
        if not ours:
            return self.error("unauthorized")
        response_data: dict[str, object] = {
            "responder_id": ocsp.ResponderId(name="by_key", value=self._responder_key_hash),
            "produced_at": now,
            "responses": responses,
        }
        # §4.4.1 (and RFC 8954): a nonce in the request is echoed in the response.
        for extension in tbs["request_extensions"] or []:
            if extension["extn_id"].native == "nonce":
                response_data["response_extensions"] = [
                    {"extn_id": "nonce", "extn_value": extension["extn_value"].native}
                ]
        tbs_response = ocsp.ResponseData(response_data)
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs_response,
                "signature_algorithm": {"algorithm": self._signature_algorithm},
                "signature": self._sign(tbs_response.dump()),
                "certs": [x509.Certificate.load(self._responder_cert_der)],
            }
        )
        return bytes(
            ocsp.OCSPResponse(
                {
                    "response_status": "successful",
                    "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
                }
            ).dump()
        )

    def _status(self, cert_id: ocsp.CertId) -> ocsp.CertStatus:
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        try:
            name_hash, key_hash = self._hashes(algorithm)
        except ValueError:
            return ocsp.CertStatus(name="unknown", value=core.Null())
        if (
            cert_id["issuer_name_hash"].native != name_hash
            or cert_id["issuer_key_hash"].native != key_hash
        ):
            return ocsp.CertStatus(name="unknown", value=core.Null())
        revocation = self._revocations.get(cert_id["serial_number"].native)
        if revocation is None:
            return ocsp.CertStatus(name="good", value=core.Null())
        revoked: dict[str, object] = {"revocation_time": revocation.revoked_at}
        if revocation.reason.name != "unspecified":
            revoked["revocation_reason"] = revocation.reason.name
        return ocsp.CertStatus(name="revoked", value=revoked)

    def _hashes(self, algorithm: str) -> tuple[bytes, bytes]:
        # §4.1.1: issuerNameHash and issuerKeyHash use the request's hash algorithm.
        if algorithm not in self._issuer_hashes:
            if algorithm not in SUPPORTED_DIGESTS:
                raise ValueError(algorithm)
            self._issuer_hashes[algorithm] = (
                hashlib.new(algorithm, self._issuer_name_der).digest(),
                hashlib.new(algorithm, self._issuer_key_bits).digest(),
            )
        return self._issuer_hashes[algorithm]

    @staticmethod
    def error(status: str) -> bytes:
        """An unsuccessful OCSPResponse (``malformed_request``, ``unauthorized`` ...)."""
        # §4.2.1: an unsuccessful OCSPResponse has no responseBytes.
        return bytes(ocsp.OCSPResponse({"response_status": status}).dump())


# ----------------------------------------------------------------------------- HTTP app


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
