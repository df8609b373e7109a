"""Enhancement throughput: containers/s from upload to archived (CAdES-A), with the bare cost
of the cryptography that work needs, measured in the same run, so the ratio shows our overhead.

A real `sigarchive serve` (SQLite, development PKI, in-process workers) enhances N containers,
each with one RSA-2048 signature by the development PKI's signer (so OCSP is fetched from the
development responder over loopback). The bare cost per container is one RSA signature
verification plus two RFC 3161 tokens (signature time-stamp, archive time-stamp) signed by the
same TSA key in-process. Run: `.venv/bin/python bench/bench_enhance.py [--containers 100]
[--workers 2]`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.server import ArchiveServer  # noqa: E402
from tests.support.signing import sign_with  # noqa: E402

from sigarchive.devpki.pki import ensure_dev_pki  # noqa: E402
from sigarchive.devpki.services import DevTsa  # noqa: E402
from sigarchive.signatures.cms import parse_signature, verify_against_document  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="worker loops in the server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sigarchive-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = ArchiveServer(data_dir, f"sqlite:///{data_dir / 'sigarchive.sqlite3'}",
                               extra_env={"SIGARCHIVE_WORKERS": str(args.workers),
                                          "SIGARCHIVE_POLL_INTERVAL": "0.05"})
        server.start()
        try:
            storage_id = server.create_storage("bench")
            token = server.create_user(storage_id)
            pki = ensure_dev_pki(data_dir / "devpki", port=1)  # already created by serve
            documents = [f"document {n}\n".encode() * 50 for n in range(args.containers)]
            signatures = [sign_with(d, pki.signer.cert_path, pki.signer.key_path)
                          for d in documents]
            with httpx.Client(base_url=server.base_url, timeout=120,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                start = time.perf_counter()
                ids = []
                for document, signature in zip(documents, signatures, strict=True):
                    response = client.post(
                        "/api/document/content",
                        data={"ContainerName": "bench", "StorageId": str(storage_id),
                              "SaveType": "Permanent"},
                        files=[("Content", ("d.txt", document, "text/plain")),
                               ("Signs", ("d.sig", signature, "application/sig"))])
                    response.raise_for_status()
                    ids.append(response.json()["data"])
                uploaded = time.perf_counter() - start
                pending = set(ids)
                while pending:
                    found = client.post("/api/document/search", json={
                        "filters": {"status": 4}, "pageSize": 1000}).json()["data"]
                    pending -= {d["id"] for d in found["documents"]}
                    time.sleep(0.05)
                elapsed = time.perf_counter() - start
        finally:
            server.stop()

        # the bare cryptography of one container, in-process, same machine, same run
        tsa = DevTsa.from_pki(pki)
        start = time.perf_counter()
        for document, signature in zip(documents, signatures, strict=True):
            parsed = parse_signature(signature)
            verify_against_document(parsed, {"sha256": hashlib.sha256(document).digest()})
            tsa.timestamp(hashlib.sha256(signature).digest(), "sha256")
            tsa.timestamp(hashlib.sha256(document).digest(), "sha256")
        bare = time.perf_counter() - start

    n = args.containers
    print(f"{n} containers, {args.workers} worker loop(s), SQLite, development PKI on loopback")
    print(f"  upload:                 {n / uploaded:7.1f} containers/s")
    print(f"  upload -> archived:     {n / elapsed:7.1f} containers/s ({elapsed:.1f} s)")
    print(f"  bare crypto (verify + 2 TSA tokens): {n / bare:7.1f} containers/s")
    print(f"  overhead ratio:         {(elapsed / n) / (bare / n):7.1f}x the bare cryptography")


if __name__ == "__main__":
    main()
