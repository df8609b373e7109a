"""Throughput of the development TSA: in-process, and over loopback HTTP with HttpTimeStamper.

Prints tokens/s for ``DevTsa.timestamp`` (no I/O), ``DevTsa.respond`` (parse a request and
answer it, what the HTTP endpoint does), and ``HttpTimeStamper`` against the served TSA,
sequentially and with concurrent clients. Run with
`.venv/bin/python bench/bench_tsa.py [--seconds 3] [--clients 4]`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sigarchive.devpki import DevPkiServer, DevTsa
from sigarchive.signatures.timestamps.http_client import HttpTimeStamper
from sigarchive.signatures.timestamps.protocol import build_request, new_nonce


def rate(seconds: float, action: Callable[[], object]) -> float:
    """Calls per second of ``action`` over about ``seconds``."""
    action()  # warm up
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            action()
        count += 20
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    digest = hashlib.sha256(b"bench").digest()

    with tempfile.TemporaryDirectory() as tmp, DevPkiServer(Path(tmp), port=0) as pki:
        tsa = DevTsa.from_pki(pki)
        stamped = rate(args.seconds, lambda: tsa.timestamp(digest, "sha256"))
        print(f"in-process DevTsa.timestamp : {stamped:7.0f} tokens/s")

        def answer() -> bytes:
            return tsa.respond(bytes(build_request(digest, "sha256", nonce=new_nonce()).dump()))

        print(f"in-process DevTsa.respond   : {rate(args.seconds, answer):7.0f} tokens/s")

        with HttpTimeStamper([pki.tsa_url]) as stamper:
            sequential = rate(args.seconds, lambda: stamper.timestamp(digest, "sha256"))
            print(f"HTTP, 1 client              : {sequential:7.0f} tokens/s")

            per_client = 200
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                start = time.perf_counter()
                futures = [
                    pool.submit(
                        lambda: [stamper.timestamp(digest, "sha256") for _ in range(per_client)]
                    )
                    for _ in range(args.clients)
                ]
                for future in futures:
                    future.result()
                concurrent_rate = args.clients * per_client / (time.perf_counter() - start)
            print(f"HTTP, {args.clients} clients (threads)  : {concurrent_rate:7.0f} tokens/s")


if __name__ == "__main__":
    main()
