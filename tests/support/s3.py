"""An S3-compatible server on loopback for tests: moto's server mode in a subprocess.

A subprocess (rather than moto's in-process thread) can be killed and started again on the
same port, which is how the tests restart "the S3 server" in the middle of an upload. moto
keeps everything in memory; its ``buckets`` are created before it serves its first request
(``moto_s3.py``), so after a restart they are there again, as a real server's would be —
but objects and unfinished multipart uploads are gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.support.postgres import free_port

ACCESS_KEY = "sigarchive-test"
SECRET_KEY = "sigarchive-test-secret"
REGION = "us-east-1"


@dataclass
class MotoServer:
    log_dir: Path
    buckets: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / "moto.log").open("ab")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("moto_s3.py")),
                "--port",
                str(self.port),
                *(f"--bucket={bucket}" for bucket in self.buckets),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("moto server exited")
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """Stop at once (SIGKILL): connections in flight are cut, all state is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def parameters(self, bucket: str, **extra: str) -> dict[str, str]:
        """The s3 plugin's Parameters for a bucket of this server."""
        return {
            "EndpointUrl": self.endpoint,
            "Bucket": bucket,
            "Region": REGION,
            "AccessKeyId": ACCESS_KEY,
            "SecretAccessKey": SECRET_KEY,
            **extra,
        }
