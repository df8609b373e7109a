"""A large document through the S3 document storage plugin, end to end over loopback HTTP.

A real `sigarchive serve` (SQLite) with an `s3` plugin pointed at moto's S3 server (a
subprocess on loopback): upload of a 1 GiB document with UseArchiveCa=true and
ArchiveCaPluginName=s3 (streamed to the spool, verified, multipart-uploaded to S3), wait until
archived, then GET /api/document/{id}/content streamed back and hashed. Prints MB/s of each
step and the server's peak resident memory (VmHWM from /proc/<pid>/status) before and after:
flat memory means the document never sat whole in the server.

Run: `.venv/bin/python bench/bench_s3.py [--mib 1024]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from tests.support.s3 import MotoServer  # noqa: E402
from tests.support.server import ArchiveServer  # noqa: E402
from tests.support.signing import sign_file  # noqa: E402

from bench_upload import make_large_file, multipart_stream, peak_rss_mib  # noqa: E402

BUCKET = "sigarchive-bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024, help="document size in MiB")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sigarchive-bench-s3-") as tmp:
        work = Path(tmp)
        moto = MotoServer(work / "moto").start()
        server: ArchiveServer | None = None
        try:
            moto.create_bucket(BUCKET)
            config = work / "plugin-config.json"
            entry = {
                "IsEnabled": True,
                "PluginName": "s3",
                "AssemblyName": "s3",
                "Parameters": moto.parameters(BUCKET, Prefix="bench/"),
            }
            config.write_text(json.dumps({"Plugins": {"DocumentStorage": [entry]}}))
            data_dir = work / "data"
            data_dir.mkdir()
            server = ArchiveServer(
                data_dir,
                f"sqlite:///{data_dir / 'sigarchive.sqlite3'}",
                extra_env={"SIGARCHIVE_PLUGIN_CONFIG": str(config)},
            ).start()
            assert server.process is not None
            pid = server.process.pid
            storage_id = server.create_storage("bench")
            headers = {"Authorization": f"Bearer {server.create_user(storage_id)}"}

            document = work / "large.bin"
            make_large_file(document, args.mib)
            signature = work / "large.sig"
            signature.write_bytes(sign_file(document, key="rsa"))
            size_mb = document.stat().st_size / 1e6
            expected = hashlib.sha256(document.read_bytes()).hexdigest() if args.mib <= 64 else None
            if expected is None:
                digest = hashlib.sha256()
                with document.open("rb") as stream:
                    while chunk := stream.read(8 * 1024 * 1024):
                        digest.update(chunk)
                expected = digest.hexdigest()

            rss_start = peak_rss_mib(pid)
            boundary = "sigarchive-bench-s3"
            fields = {
                "ContainerName": "large",
                "StorageId": str(storage_id),
                "SaveType": "Permanent",
                "UseArchiveCa": "true",
                "ArchiveCaPluginName": "s3",
            }
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=3600) as client:
                start = time.perf_counter()
                response = client.post(
                    "/api/document/content",
                    content=multipart_stream(
                        boundary,
                        fields,
                        [("Signs", "large.sig", signature), ("Content", "large.bin", document)],
                    ),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                uploaded = time.perf_counter() - start
                response.raise_for_status()
                container_id = response.json()["data"]
                rss_upload = peak_rss_mib(pid)

                start = time.perf_counter()
                while client.get(f"/api/document/{container_id}/status").json()["data"] != 4:
                    time.sleep(0.2)
                archived = time.perf_counter() - start

                start = time.perf_counter()
                digest = hashlib.sha256()
                received = 0
                with client.stream("GET", f"/api/document/{container_id}/content") as stream:
                    stream.raise_for_status()
                    for chunk in stream.iter_bytes(1024 * 1024):
                        digest.update(chunk)
                        received += len(chunk)
                downloaded = time.perf_counter() - start
            assert received == document.stat().st_size and digest.hexdigest() == expected
            rss_end = peak_rss_mib(pid)

            print(f"S3 plugin (moto on loopback), {args.mib} MiB document, detached RSA signature:")
            print(f"  upload → stored in S3: {size_mb / uploaded:.0f} MB/s ({uploaded:.1f} s)")
            print(f"  then archived (CAdES-A) in {archived:.1f} s")
            print(
                f"  /content download from S3: {size_mb / downloaded:.0f} MB/s "
                f"({downloaded:.1f} s), sha256 matches"
            )
            print(
                f"  server peak RSS: {rss_start:.0f} MiB at start, {rss_upload:.0f} MiB after "
                f"upload, {rss_end:.0f} MiB after download"
            )
            # the ceiling: the same file straight from boto3 to the same server
            start = time.perf_counter()
            moto.client().upload_file(str(document), BUCKET, "direct/large.bin")
            direct = time.perf_counter() - start
            print(
                f"  for comparison, boto3 upload_file of the same file to the same moto "
                f"server: {size_mb / direct:.0f} MB/s ({direct:.1f} s)"
            )
        finally:
            if server is not None:
                server.stop()
            moto.stop()


if __name__ == "__main__":
    main()
