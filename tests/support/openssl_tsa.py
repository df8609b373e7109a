"""A time-stamping authority that is not ours, for interoperability tests: ``openssl ts``.

A tiny stdlib HTTP server on loopback (a free port, in a thread) pipes every request body
to ``openssl ts -reply`` and sends back what OpenSSL answers, RFC 3161 §3.4 style:

    with OpenSslTsa(cert_path, key_path, tmp_path) as tsa:
        HttpTimeStamper([tsa.url]).timestamp(digest, "sha256")

The signer certificate must be fit for a TSA (critical EKU timeStamping, RFC 3161 §2.3);
the development PKI's ``tsa.pem``/``tsa.key`` are.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

#: Policy OID of this TSA (UUID arc 2.25, distinct from the development TSA's).
OPENSSL_TSA_POLICY = "2.25.109751750925562693632918810587905173901"

_CONFIG = """\
# Generated for tests/support/openssl_tsa.py -- see `man openssl-ts`.
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = {cert}
signer_key = {key}
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
clock_precision_digits = 3
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class OpenSslTsa:
    """``openssl ts -reply`` behind HTTP on 127.0.0.1 (a free port)."""

    def __init__(self, signer_cert: Path, signer_key: Path, workdir: Path) -> None:
        self.signer_cert = signer_cert
        self.signer_key = signer_key
        self.workdir = workdir
        self.config = workdir / "openssl-tsa.cnf"
        self._lock = threading.Lock()  # the serial file is not safe for concurrent replies
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("not started")
        return f"http://localhost:{self._server.server_address[1]}/tsa"

    def reply(self, query: bytes) -> bytes:
        """The TimeStampResp OpenSSL makes for a DER TimeStampReq."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            query_file, reply_file = Path(tmp, "query.tsq"), Path(tmp, "reply.tsr")
            query_file.write_bytes(query)
            subprocess.run(
                [
                    "openssl", "ts", "-reply", "-config", str(self.config),
                    "-queryfile", str(query_file), "-signer", str(self.signer_cert),
                    "-inkey", str(self.signer_key), "-out", str(reply_file),
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
            return reply_file.read_bytes()

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tsaserial").write_text("01\n")
        self.config.write_text(
            _CONFIG.format(
                dir=self.workdir,
                cert=self.signer_cert,
                key=self.signer_key,
                policy=OPENSSL_TSA_POLICY,
            )
        )
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    status, body, media_type = 200, tsa.reply(query), "application/timestamp-reply"
                except subprocess.CalledProcessError as exc:
                    status, body, media_type = 500, exc.stderr, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="openssl-tsa", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
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
