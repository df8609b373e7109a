"""Upload throughput of a real `sigarchive serve` (SQLite, filesystem) over loopback HTTP.

Prints: containers/s for small documents (sequential and with concurrent clients), and for a
large document (1 GiB by default) MB/s with the server's peak resident memory, read from
/proc/<pid>/status (VmHWM) before and after. Run with `make bench` or
`.venv/bin/python bench/bench_upload.py [--large-mib 1024] [--small 300]`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.server import ArchiveServer  # noqa: E402
from tests.support.signing import make_signature, sign_file  # noqa: E402


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def upload_small(client: httpx.Client, storage_id: int, document: bytes, signature: bytes) -> None:
    response = client.post(
        "/api/document/content",
        data={"ContainerName": "bench", "StorageId": str(storage_id), "SaveType": "Permanent"},
        files=[("Content", ("doc.txt", document, "text/plain")),
               ("Signs", ("doc.sig", signature, "application/sig"))],
    )
    response.raise_for_status()


def make_large_file(path: Path, mib: int) -> None:
    block = hashlib.sha512(b"sigarchive").digest() * (1024 * 1024 // 64)
    with path.open("wb") as stream:
        for n in range(mib):
            stream.write(n.to_bytes(8, "big") + block[8:])


def multipart_stream(boundary: str, fields: dict[str, str], files: list[tuple[str, str, Path]]
                     ) -> Iterator[bytes]:
    for name, value in fields.items():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
               f"{value}\r\n").encode()
    for name, filename, path in files:
        yield (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        with path.open("rb") as stream:
            while chunk := stream.read(4 * 1024 * 1024):
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=300, help="small uploads to time")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--large-mib", type=int, default=1024, help="size of the large document")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sigarchive-bench-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        # workers off: this measures ingest alone (bench_enhance.py measures enhancement)
        server = ArchiveServer(data_dir, f"sqlite:///{data_dir / 'sigarchive.sqlite3'}",
                               extra_env={"SIGARCHIVE_WORKERS": "0"})
        data_dir.mkdir()
        server.start()
        assert server.process is not None
        try:
            storage_id = server.create_storage("bench")
            token = server.create_user(storage_id)
            headers = {"Authorization": f"Bearer {token}"}
            document = b"A small signed document, about a kilobyte long. " * 20
            signature = make_signature(document, key="rsa")
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=600) as client:
                for _ in range(10):
                    upload_small(client, storage_id, document, signature)
                start = time.perf_counter()
                for _ in range(args.small):
                    upload_small(client, storage_id, document, signature)
                sequential = args.small / (time.perf_counter() - start)
            def worker(count: int) -> None:
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=600) as c:
                    for _ in range(count):
                        upload_small(c, storage_id, document, signature)
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(worker, [args.small // args.clients] * args.clients))
            concurrent_rate = (args.small // args.clients * args.clients) / (
                time.perf_counter() - start)
            print(f"small documents ({len(document)} B, 1 RSA-2048 signature): "
                  f"{sequential:.0f} containers/s sequential, "
                  f"{concurrent_rate:.0f} containers/s with {args.clients} clients")

            large = work / "large.bin"
            make_large_file(large, args.large_mib)
            large_sig = work / "large.sig"
            large_sig.write_bytes(sign_file(large, key="rsa"))
            rss_before = peak_rss_mib(server.process.pid)
            boundary = "sigarchive-bench-boundary"
            fields = {"ContainerName": "large", "StorageId": str(storage_id),
                      "SaveType": "Permanent", "UseArchiveCa": "true"}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=3600) as client:
                start = time.perf_counter()
                response = client.post(
                    "/api/document/content",
                    content=multipart_stream(boundary, fields, [
                        ("Signs", "large.sig", large_sig), ("Content", "large.bin", large)]),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                elapsed = time.perf_counter() - start
            response.raise_for_status()
            size_mb = large.stat().st_size / 1e6
            print(f"large document ({args.large_mib} MiB, detached signature, retained): "
                  f"{size_mb / elapsed:.0f} MB/s ({elapsed:.1f} s); server peak RSS "
                  f"{rss_before:.0f} MiB before, {peak_rss_mib(server.process.pid):.0f} MiB after")
            start = time.perf_counter()
            subprocess.run(["openssl", "dgst", "-sha256", str(large)], capture_output=True,
                           check=True)
            print(f"for comparison, openssl dgst -sha256 on the same file: "
                  f"{size_mb / (time.perf_counter() - start):.0f} MB/s "
                  f"(cores: {os.cpu_count()})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
